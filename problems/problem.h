// Benchmark problems: the ZDT (Zitzler, Deb, Thiele 2000) and DTLZ (Deb, Thiele, Laumanns, Zitzler 2002)
// test functions, with their textbook boxes, for the synthetic task and for search-quality tests
// (constrained problems, such as TNK, are in constrained.h).
//
// A Problem is a plain value: copy it freely. Its `evaluate` (and `constraints`) is a pure function (no
// state, no randomness), safe to call from any number of threads at once. This library depends on hpo_base
// only, so that the worker can evaluate problems without linking the search engine.
#ifndef HPO_PROBLEMS_PROBLEM_H_
#define HPO_PROBLEMS_PROBLEM_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace hpo::problems {

// The largest number of variables MakeProblem accepts.
inline constexpr size_t kMaxProblemDims = 10'000;

struct Problem {
  std::string name;
  size_t dims = 0;            // number of variables
  size_t num_objectives = 0;  // size of what `evaluate` returns
  std::vector<double> lower;  // box of each variable: lower[i] <= x[i] <= upper[i]; size dims
  std::vector<double> upper;
  // The objectives, all minimised. REQUIRES: x.size() == dims and x inside the box.
  std::function<std::vector<double>(std::span<const double> x)> evaluate;
  // Constraints: none for MakeProblem's problems; constrained.h's set both fields. `constraints(x)`
  // returns num_constraints values g_j(x), constraint j holding iff g_j(x) <= 0; empty (no function)
  // when num_constraints is 0. REQUIRES: as for `evaluate`.
  size_t num_constraints = 0;
  std::function<std::vector<double>(std::span<const double> x)> constraints;
};

// The problem called `name` with `dims` variables; dims 0 = the usual size.
//   zdt1, zdt2, zdt3: 2 objectives, x in [0,1]^n, usual n 30, n >= 2.
//   zdt4: 2 objectives, x1 in [0,1], x2..xn in [-5,5], usual n 10, n >= 2.
//   zdt6: 2 objectives, x in [0,1]^n, usual n 10, n >= 2.
//   dtlz1: 3 objectives, x in [0,1]^n, usual n 7 (k = 5), n >= 3.
//   dtlz2: 3 objectives, x in [0,1]^n, usual n 12 (k = 10), n >= 3.
//   f1_sphere .. f13_penalized_2 (problems/classic.h): 1 objective, usual n 30, n >= 2; with
//   `shift_seed` the shifted form (the optimum moved to a seeded point inside the box).
// On failure INVALID_ARGUMENT naming the problem: an unknown name, a dims below the minimum or above
// kMaxProblemDims, or a shift_seed for a problem that has no shifted form.
Result<Problem> MakeProblem(const std::string& name, size_t dims,
                            std::optional<uint64_t> shift_seed = std::nullopt);

// The names MakeProblem accepts, in the order above (the classic functions last).
std::vector<std::string> ProblemNames();

// The true Pareto fronts, in objective space (each problem's front is where its distance function g
// is at its optimum; the same for every dims):
//   zdt1, zdt4: f2 = 1 - sqrt(f1), f1 in [0, 1].
//   zdt2:       f2 = 1 - f1^2,     f1 in [0, 1].
//   zdt3:       f2 = h(f1) = 1 - sqrt(f1) - f1 sin(10 pi f1), only where no smaller f1 has a smaller or
//               equal h: five disconnected pieces [a_k, b_k] with b_k a local minimum of h and
//               h(a_k) = h(b_{k-1}) (a_k itself excluded for k >= 2: b_{k-1} weakly dominates it).
//               The ends are found numerically to the last bit (bisection): f1 in [0, 0.0830015349],
//               (0.1822287280, 0.2577623634], (0.4093136748, 0.4538821041],
//               (0.6183967944, 0.6525117038], (0.8233317983, 0.8518328654].
//   zdt6:       f2 = 1 - f1^2, f1 in [f1_min, 1], f1_min = 1 - exp(-4 x*) sin^6(6 pi x*) with
//               x* = atan(9 pi) / (6 pi) (where f1(x1) = 1 - exp(-4 x1) sin^6(6 pi x1) is least):
//               f1_min = 0.28077531881537 (the often quoted 0.2807753191 is a numerical estimate).
//   dtlz1:      the simplex f1 + f2 + f3 = 0.5, f >= 0.
//   dtlz2:      the unit sphere's positive octant, |f| = 1, f >= 0.

// The most points SampleTrueFront returns.
inline constexpr size_t kMaxTrueFrontPoints = 10'000'000;

// n points of the true front of problem `name`, mutually non-dominated (all distinct), spread evenly:
//   2 objectives: exactly n points, f1 evenly spaced over the front's f1 range, both ends included
//     (zdt3: over the union of its pieces, each piece getting a share of points proportional to its
//     length; the open end a_k of a piece is never sampled).
//   3 objectives: the simplex lattice of Das and Dennis (1998): the points (i, j, k) / H with
//     i + j + k = H, for the largest H >= 1 with (H + 1)(H + 2) / 2 <= n points; dtlz1 scales them by
//     0.5, dtlz2 normalises them to length 1. So more than n/2 and at most n points.
// On failure INVALID_ARGUMENT naming the problem: an unknown name, n < 2 (2 objectives), n < 3
// (3 objectives) or n > kMaxTrueFrontPoints.
Result<std::vector<std::vector<double>>> SampleTrueFront(const std::string& name, size_t n);

// The reference point at which the (and pagmo2's) figures are quoted: 1.1 in every objective.
inline constexpr double kTrueFrontReference = 1.1;

// The exact hypervolume of problem `name`'s true front for the reference point (r, ..., r), all
// objectives minimised. Every front lies in [0, 1]^M, so for r >= 1:
//   zdt1, zdt4: r^2 - 1/3            (r = 1.1: 0.8766666667)
//   zdt2:       r^2 - 2/3            (r = 1.1: 0.5433333333)
//   zdt3:       r^2 - [sum_k integral_{a_k}^{b_k} h + sum_k h(b_k) (a_{k+1} - b_k)], a_6 = r, with
//               the antiderivative f - (2/3) f^1.5 - sin(10 pi f) / (10 pi)^2 + f cos(10 pi f) / (10 pi)
//                                    (r = 1.1: 1.3317629087)
//   zdt6:       r (r - m) - (1 - m) + (1 - m^3) / 3, m = f1_min   (r = 1.1: 0.5078775147)
//   dtlz1:      r^3 - 1/48 (the simplex's corner 0.5^3 / 6)        (r = 1.1: 1.3101666667)
//   dtlz2:      r^3 - pi/6 (the unit ball's octant)                (r = 1.1: 0.8074012244)
// On failure INVALID_ARGUMENT: an unknown name, or r < 1 or not finite.
Result<double> TrueFrontHypervolume(const std::string& name, double reference = kTrueFrontReference);

}  // namespace hpo::problems

#endif  // HPO_PROBLEMS_PROBLEM_H_
