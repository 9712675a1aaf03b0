// Hypervolume: the volume of objective space that a set of points dominates, bounded by a reference
// point (Zitzler and Thiele 1998), all objectives minimised. One front door, Hypervolume(), picks the
// algorithm by the number of objectives:
//   1: the length ref - min, O(N);
//   2: sort and sweep, O(N log N);
//   3: the sweep over the third objective with a balanced tree of the 2-D staircase, O(N log N)
//      (Beume, Fonseca, Lopez-Ibanez, Paquete, Vahrenhold, "On the complexity of computing the
//      hypervolume indicator", IEEE TEVC 13(5), 2009);
//   4 or more: WFG (While, Bradstreet, Barone, "A fast way of calculating exact hypervolumes",
//      IEEE TEVC 16(1), 2012), exact, whose recursion hands the 3-objective level to the sweep above.
// The exact update equations are in hypervolume.cc beside each algorithm.
//
// Points that do not strictly dominate the reference point (some objective >= the reference's)
// contribute nothing and are dropped first; dominated points and duplicates are allowed and change
// nothing. The input is validated (see Hypervolume()).
//
// Pure functions: thread-safe, no shared state; they read the caller's points and return new values.
#ifndef HPO_SEARCH_HYPERVOLUME_H_
#define HPO_SEARCH_HYPERVOLUME_H_

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace hpo::search {

enum class HypervolumeAlgorithm {
  kAuto,      // a request only: pick by the number of objectives (see above)
  kLength1d,  // 1 objective: ref - min
  kSweep2d,   // 2 objectives
  kSweep3d,   // 3 objectives
  kWfg,       // 2 or more objectives: at least one level of WFG slicing; the levels below slice on
              // until 3 objectives remain, which kSweep3d finishes (2 or 1 when asked for 3 or 2)
};

// "auto", "length_1d", "sweep_2d", "sweep_3d" or "wfg".
std::string_view HypervolumeAlgorithmName(HypervolumeAlgorithm algorithm);

struct HypervolumeResult {
  double value = 0.0;  // the hypervolume; 0 when no point strictly dominates the reference
  HypervolumeAlgorithm algorithm = HypervolumeAlgorithm::kAuto;  // the algorithm that ran; never kAuto
  size_t points_inside = 0;  // how many points strictly dominate the reference (before any filtering
                             // of dominated points or duplicates)
};

// The hypervolume that `points` dominate, bounded by `reference`. `algorithm` forces one algorithm
// (for tests and benchmarks; all are exact); kAuto picks by the number of objectives.
// On success the result; an empty set of points (or none inside the reference) gives 0.
// On failure INVALID_ARGUMENT, naming the offending value: an empty reference, a point whose size is
// not reference.size(), a NaN or infinite coordinate in a point or in the reference, or an algorithm
// that does not apply to reference.size() objectives (kSweep2d needs 2, kSweep3d 3, kWfg >= 2).
// Costs: O(N M) to validate and filter, then O(N log N) for M <= 3; WFG is exponential in M in the
// worst case and fast in practice: 10,000 mutually non-dominated points take about 0.3 s in 4-D and
// 0.8 s in 5-D (the table at the top of hypervolume.cc). Memory O(N M).
Result<HypervolumeResult> Hypervolume(const std::vector<std::vector<double>>& points,
                                      std::span<const double> reference,
                                      HypervolumeAlgorithm algorithm = HypervolumeAlgorithm::kAuto);

// The rule by which hpo picks the reference point of a front's hypervolume when the user names none
// (docs/hypervolume.md), in the words the API and every client show: per objective, the worst value seen
// plus a tenth of the range seen.
inline constexpr std::string_view kWorstPlusTenthRule = "worst + 10% of range";

// The reference point of kWorstPlusTenthRule for `points` (all minimised; in practice every completed
// trial the front is taken from): per objective k, worst_k + (worst_k - best_k) / 10, where worst_k is the
// largest value and best_k the smallest; when they are equal, worst_k + |worst_k| / 10, or worst_k + 1
// when worst_k is 0. Every point thus lies strictly inside it. Once the points differ in every objective,
// adding points only moves it outward, so the hypervolume of a growing set over it never decreases.
// On failure INVALID_ARGUMENT: no points, a point of size 0 or of another size than the first, a
// coordinate that is not finite, or a reference that overflows to infinity.
Result<std::vector<double>> WorstPlusTenthReference(const std::vector<std::vector<double>>& points);

}  // namespace hpo::search

#endif  // HPO_SEARCH_HYPERVOLUME_H_
