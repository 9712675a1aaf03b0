// The 13 classic single-objective test functions F1-F13 of the whale optimization paper (Mirjalili and
// Lewis, "The whale optimization algorithm", Advances in Engineering Software 95, 2016, Tables 1-3), the
// same as Yao, Liu and Lin, "Evolutionary programming made faster", IEEE TEVC 3(2), 1999: F1-F7
// unimodal, F8-F13 multimodal, d = 30 by default, each on its textbook box [lower, upper]^d. Each also
// comes shifted: the optimum moved to a seeded random point of the box, away from both the origin and
// the centre of the box, so that an algorithm biased toward either gains nothing (Kudela, "A critical
// problem in benchmarking and analysis of evolutionary computation methods", Nature Machine Intelligence
// 4, 2022).
//
// A ScalarProblem is a plain value: copy it freely. Its `evaluate` is a pure function (thread-safe)
// except for F7 built with a noise seed: that one draws its noise from an hpo::Rng it owns, shared by all
// copies of the problem, so it must be called from one thread at a time and its values depend on the
// order of the calls.
//
// Shifted form: f_shifted(x) = f(x - s), the box unchanged, the optimum value unchanged, the optimum at
// x* + s. The shift is drawn per coordinate: the new optimum o_j = c ± u_j·W with c the box's centre
// (the origin for all 13), W its width, u_j uniform on [0.15, 0.35] and the sign fair, then rounded to a
// multiple of 2^-16 (so that (x* + s) - s == x* exactly where x* is 0 or ±1). So o_j is at least 15% of
// the width from the centre (and the origin) and at least 15% from either bound. Two functions need care:
//   - F8 (Schwefel 2.26): its optimum 420.9687... lies near the upper bound, so x - s leaves [-500, 500]
//     for much of the box, where -z·sin(sqrt|z|) goes below the optimum. Outside [-500, 500] each
//     coordinate is reflected back into the box and pays (|z| - 500)^2 / (10^4·d), as the CEC 2014
//     modified Schwefel function does; inside the box F8 is the textbook function, so the unshifted F8
//     is unchanged and the shifted one keeps f* as its unique minimum.
//   - F12, F13 (penalized): their penalty u(z, a, 100, 4) is free on |z| <= a (10, 5); since |s_j| <= 36
//     the penalty-free box [s - a, s + a] stays inside [-50, 50].
#ifndef HPO_PROBLEMS_CLASSIC_H_
#define HPO_PROBLEMS_CLASSIC_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace hpo::problems {

inline constexpr int kNumClassic = 13;      // F1 .. F13
inline constexpr size_t kClassicDims = 30;  // the paper's d
inline constexpr size_t kMaxClassicDims = 10'000;

struct ScalarProblem {
  std::string name;  // "f1_sphere", ..., with "_shifted" appended for the shifted form
  int number = 0;    // 1 .. 13
  size_t dims = 0;
  double lower = 0.0;  // the box: lower <= x[j] <= upper for every j
  double upper = 0.0;
  double optimum_value = 0.0;   // f*, the global minimum (of the noise-free part for F7)
  std::vector<double> optimum;  // a point where f* is reached, inside the box; size dims
  std::vector<double> shift;    // s; all 0 for the unshifted form; size dims
  // f(x), minimised. REQUIRES: x.size() == dims. Defined on all of R^d; callers keep x in the box.
  std::function<double(std::span<const double> x)> evaluate;
};

// F`number` with `dims` variables; shifted when shift_seed is set (the same seed gives the same shift).
// noise_seed matters for F7 only: unset, F7 is the noise-free quartic Σ i·x_i^4; set, F7 adds a uniform
// [0, 1) draw from an hpo::Rng(noise_seed) owned by the problem, as in the paper (see above for threads).
// Known values: the optimum is at 0 (shifted: at s) except F5 and F13 (1), F8 (420.9687463599820) and
// F12 (-1); f* = 0 except F8, f* = -418.9828872724337·d. F6's minimum is a whole cell,
// [-0.5, 0.5)^d (+ s); `optimum` holds its centre.
// INVALID_ARGUMENT naming the field for a number outside 1..13 or dims outside [2, kMaxClassicDims].
Result<ScalarProblem> MakeClassic(int number, size_t dims = kClassicDims,
                                  std::optional<uint64_t> shift_seed = std::nullopt,
                                  std::optional<uint64_t> noise_seed = std::nullopt);

// The point of the box at unit-cube coordinates u: lower + (upper - lower)·u_j per coordinate, so that an
// optimizer on [0, 1]^d can search the problem. REQUIRES: u.size() == problem.dims.
std::vector<double> FromUnitCube(const ScalarProblem& problem, std::span<const double> u);

}  // namespace hpo::problems

#endif  // HPO_PROBLEMS_CLASSIC_H_
