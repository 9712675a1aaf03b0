// Constrained benchmark problems with a known Pareto front, for search-quality runs of the optimizers
// that handle constraints (NSGA-II's constrained domination, the model-based sampler's feasibility
// model). A problem here is a problems::Problem (problem.h) whose `num_constraints` and `constraints`
// are set: constraint j holds at x iff constraints(x)[j] <= 0.
//
// Kept apart from MakeProblem and ProblemNames (problem.h) on purpose: those name the synthetic task's
// functions, which report objectives only, and a constrained problem there would lose its constraints.
//
// Plain values and pure functions: thread-safe, no shared state. Depends on hpo_base only.
#ifndef HPO_PROBLEMS_CONSTRAINED_H_
#define HPO_PROBLEMS_CONSTRAINED_H_

#include <string>
#include <vector>

#include "base/status.h"
#include "problems/problem.h"

namespace hpo::problems {

// The problem called `name`, with its constraints:
//   tnk (Tanaka, Watanabe, Furukawa, Tanino, "GA-based decision support system for multicriteria
//     optimization", IEEE SMC 1995): 2 variables x1, x2 in [0, pi], 2 objectives f = (x1, x2),
//     2 constraints
//       g1 = -(x1^2 + x2^2 - 1 - 0.1 cos(16 atan(x1 / x2))) <= 0   (outside a wavy unit circle)
//       g2 = (x1 - 0.5)^2 + (x2 - 0.5)^2 - 0.5 <= 0                (inside a circle around (1/2, 1/2))
//     where atan(x1 / x2) is taken as atan2(x1, x2): pi/2 at x2 = 0 < x1 (its limit, so g1 is
//     continuous there) and 0 at x1 = x2 = 0 (an infeasible point either way: g1 = 1.1).
// On failure INVALID_ARGUMENT naming the known problems.
Result<Problem> MakeConstrainedProblem(const std::string& name);

// The names MakeConstrainedProblem accepts: {"tnk"}.
std::vector<std::string> ConstrainedProblemNames();

// The reference point at which TNK's figures are quoted: 1.2 in both objectives.
inline constexpr double kTnkReference = 1.2;

// The hypervolume of TNK's true front for the reference point (r, r), both objectives minimised.
//
// The front is the non-dominated part of the feasible region: the part of the wavy circle g1 = 0 that
// lies inside the g2 circle, less the dents of the wave that other feasible points dominate (so it is
// disconnected). Every feasible point is weakly dominated by a point of that curve, so the front's
// hypervolume is the feasible region's. It is computed from the curve in polar form,
//   (x1, x2) = rho(t) (sin t, cos t),  rho(t) = sqrt(1 + 0.1 cos 16t),  t in [0, pi/2]
// (atan2(x1, x2) = t, so g1 = 0 up to rounding), at 2^20 + 1 evenly spaced t plus the ends of each
// arc inside the g2 circle (where g2 changes sign between two samples, found by bisection to the last
// bit, on the feasible side). The sampled points are feasible, so the hypervolume `lower` of their
// staircase is a lower bound; the staircase through the corners (min(p_i, p_i+1)) of consecutive
// points of an arc gives `upper`, an upper bound (the curve between two close samples stays in their
// bounding box, up to O(dt^2) at a turning point of x1(t) or x2(t)). TnkTrueFrontHypervolume is
// (lower + upper) / 2. At r = 1.2: lower = 0.65506147, upper = 0.65506214 (upper - lower = 6.7e-7,
// the same at any r >= 1.05), so the answer, 0.6550618, is within 3.4e-7 of the true value.
// Independent estimates, feasibility taken from `constraints` alone (no polar form): the hypervolume of
// the feasible points of a 2,400 x 2,400 grid of [0, 1.2]^2 is 0.654346 (a lower bound, checked by
// tests/problems/constrained_test.cc); 160,000 columns, each's lowest feasible point found by a scan and
// bisection, give 0.6550469, also from below.
// Each call costs about 0.2 s (two sorts of up to 10^6 points).
// On failure INVALID_ARGUMENT: r not finite or outside [0.1, 100].
struct TnkHypervolumeBounds {
  double lower = 0.0;
  double upper = 0.0;
};
Result<TnkHypervolumeBounds> TnkTrueFrontHypervolumeBounds(double reference = kTnkReference);
Result<double> TnkTrueFrontHypervolume(double reference = kTnkReference);

}  // namespace hpo::problems

#endif  // HPO_PROBLEMS_CONSTRAINED_H_
