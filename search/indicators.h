// Distance-based quality indicators of a set of points (objective vectors, all minimised) against a
// reference front (usually a dense sample of the true Pareto front, see problems/problem.h):
//   IGD  (inverted generational distance; Coello and Reyes Sierra 2004): the mean over the reference
//        points z of the Euclidean distance to the nearest point a of the set;
//   IGD+ (Ishibuchi, Masuda, Tanigaki, Nojima, "Modified distance calculation in generational distance
//        and inverted generational distance", EMO 2015): the same mean with the modified distance
//          d+(z, a) = sqrt( sum_i max(a_i - z_i, 0)^2 ),
//        which counts only how far a is worse than z. IGD+ is weakly Pareto compliant (a set that
//        dominates another never scores worse); IGD is not.
// Lower is better; 0 when every reference point is matched (IGD+: weakly dominated) by some point.
// Both cost O(|Z| |A| M) time and O(1) extra memory.
//
// Pure functions: thread-safe, no state.
#ifndef HPO_SEARCH_INDICATORS_H_
#define HPO_SEARCH_INDICATORS_H_

#include <vector>

#include "base/status.h"

namespace hpo::search {

// IGD+ of `points` against `reference_front`. On failure INVALID_ARGUMENT naming the offending value:
// an empty reference front or set of points, points of a size other than reference_front[0].size()
// (or of size 0), or a NaN or infinite coordinate.
Result<double> IgdPlus(const std::vector<std::vector<double>>& points,
                       const std::vector<std::vector<double>>& reference_front);

// IGD of `points` against `reference_front`; the same failures as IgdPlus.
Result<double> Igd(const std::vector<std::vector<double>>& points,
                   const std::vector<std::vector<double>>& reference_front);

}  // namespace hpo::search

#endif  // HPO_SEARCH_INDICATORS_H_
