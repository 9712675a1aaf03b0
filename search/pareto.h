// Pareto tools: dominance, the non-dominated set, non-dominated sorting into fronts and crowding
// distance (Deb, Pratap, Agarwal, Meyarivan, "A fast and elitist multiobjective genetic algorithm:
// NSGA-II", IEEE TEVC 6(2), 2002). Free functions on points, each point a vector of objectives, all
// minimised; every point of one call has the same number of objectives.
//
// Pure functions: thread-safe, no state; they read the caller's points and return new values.
//
// NaN: a point with a NaN in any objective is dominated by every point without one, and two such points
// do not dominate each other. So NaN points are on the first front only when every point has a NaN,
// and otherwise all share the last front. Infinities compare as numbers.
#ifndef HPO_SEARCH_PARETO_H_
#define HPO_SEARCH_PARETO_H_

#include <cstddef>
#include <span>
#include <vector>

namespace hpo::search {

// True when a is no worse than b in every objective and better in at least one (see NaN above).
// REQUIRES: a.size() == b.size().
bool Dominates(std::span<const double> a, std::span<const double> b);

// Indices of the points no other point dominates, ascending. Identical points do not dominate each other,
// so duplicates on the front are all kept. O(N log N) for 2 objectives (one sweep in lexicographic
// order), O(N log N) for 3 (a sweep over a 2-D staircase), and for 4 or more a lexicographic sweep that
// compares each point with the front found so far only: O(M N K) for a front of K points. Memory O(N).
std::vector<size_t> ParetoFrontIndices(const std::vector<std::vector<double>>& points);

struct NondominatedSorting {
  // fronts[0] is the Pareto front, fronts[1] the front of what remains, ...; each front's indices
  // ascending. Every index appears in exactly one front; no front is empty.
  std::vector<std::vector<size_t>> fronts;
  // rank[i] = the front that point i is in; size N.
  std::vector<size_t> rank;
};

// The points sorted into fronts. All three algorithms process the points in lexicographic order, so that
// every dominator of a point comes before it, and put each point into the first front none of whose
// members dominates it, found by binary search over the fronts (a point dominated by a member of front
// k is dominated by a member of every front before k). Memory O(N) throughout, no dominance lists.
//   2 objectives: a front is summed up by its last point; O(N log N) (Jensen 2003, Fang et al. 2008).
//   3 objectives: a front is summed up by the 2-D staircase of its members' (f2, f3), an ordered map;
//     testing a front is one O(log N) lookup, so O(N log^2 N) in all.
//   4 or more (and 1): ENS-BS (Zhang, Tian, Cheng, Jin, "An efficient approach to nondominated
//     sorting for evolutionary multiobjective optimization", IEEE TEVC 19(2), 2015): a front is tested
//     by comparing with its members, newest first, stopping at the first dominator. O(M N^2) in the
//     worst case (all on one front), far fewer comparisons on typical sets.
// Deb's fast non-dominated sort (O(M N^2) time, O(N^2) memory) is not used.
NondominatedSorting NondominatedSort(const std::vector<std::vector<double>>& points);

// Crowding distance of each point of `front` (indices into points; usually one front), in front's
// order: for each objective, the front is ordered by that objective; its two extremes get infinity,
// every other point adds (next - previous) / (max - min). An objective that is constant over the front
// adds nothing and makes no point extreme (no 0/0), so all-identical points get 0. Points with a NaN
// get 0 and take no part; non-finite increments (infinite objectives) are skipped.
// REQUIRES: every index < points.size().
std::vector<double> CrowdingDistance(const std::vector<std::vector<double>>& points,
                                     std::span<const size_t> front);

}  // namespace hpo::search

#endif  // HPO_SEARCH_PARETO_H_
