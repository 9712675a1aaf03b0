// Pareto tools: dominance, the non-dominated set, non-dominated sorting into fronts, crowding distance and
// the pruning of a front by it (Deb, Pratap, Agarwal, Meyarivan, "A fast and elitist multiobjective
// genetic algorithm: NSGA-II", IEEE TEVC 6(2), 2002). Free functions on points, each point a vector of
// objectives, all minimised; every point of one call has the same number of objectives.
//
// The free functions are pure: thread-safe, no state; they read the caller's points and return new
// values. CrowdedFront is a plain value (see there).
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

// Crowding distance (Deb et al. 2002), the measure of how isolated a point is within its front. For each
// objective the front's distinct points are ordered by that objective; the two extremes get infinity and
// every other point adds (next - previous) / (max - min) of its neighbours in that order. Precisely:
//   - Copies (points equal in every objective) are crowded as one point: the copy with the least index
//     (key, for CrowdedFront) gets the distance the point has in the front without its copies, and every
//     other copy 0. A copy adds nothing to the spread of a front: survival drops it first, a tournament
//     prefers the original, and of two copies of an extreme only one holds the extreme's infinity.
//   - Ties in one objective between distinct points are ordered by the whole point, lexicographically,
//     so that the distances never depend on the order of the points (only which copy holds its group's
//     distance does).
//   - An objective that is constant over the front adds nothing and makes no point extreme (no 0/0);
//     non-finite increments (infinite objectives) are skipped. A front of one distinct point gives that
//     point infinity (an extreme) and its copies 0.
// CrowdingDistance, CrowdedFront and PruneByCrowding below are one implementation of this definition.

// Crowding distance of each point of `front` (indices into points; usually one front), in front's order,
// as defined above. Points with a NaN get 0 and take no part. O(M K log K) for a front of K points.
// REQUIRES: every index < points.size(); no index twice.
std::vector<double> CrowdingDistance(const std::vector<std::vector<double>>& points,
                                     std::span<const size_t> front);

// How survival cuts a front that does not fit down to the points it keeps (NSGA-II's last front).
enum class CrowdingPruning {
  // Kukkonen and Deb, "Improved pruning of non-dominated solutions based on crowding distance for
  // bi-objective optimization problems", CEC 2006: the point of least crowding distance is removed one at
  // a time, and the distances of the points it touched are updated before the next removal, so that two
  // close points far from the rest do not both survive.
  kIterative,
  // The 2002 paper: the distances are computed once and the largest kept.
  kOnce,
};

// The indices (ascending) of the `keep` points of `front` left after pruning as `pruning` says; ties in
// crowding distance keep the lower index (the higher goes first). The two prunings agree whenever one
// point goes. All of front when keep >= its size. kIterative is O(M K log K), kOnce O(M K log K).
// REQUIRES: as CrowdingDistance; no NaN in the front's points.
std::vector<size_t> PruneByCrowding(const std::vector<std::vector<double>>& points,
                                    std::span<const size_t> front, size_t keep, CrowdingPruning pruning);

// A set of points (usually one front) whose crowding distances are kept up to date as members come and
// go, each change recomputing only the distances it touches: for a steady-state search, which adds and
// removes one point at a time, and for iterative pruning. The distances are exactly those of
// CrowdingDistance for the same points, whatever the order of the changes that led to them.
//
// Each member has a key, chosen by the caller and unique among the members (an index into the caller's
// points); among copies, the least key holds the group's distance. The members' objectives are copied.
// For each objective the members are kept in a doubly linked list in the order defined above.
//
// A plain value; not thread-safe. K = members, M = objectives; "copies" below = the copies of the
// point concerned (usually none).
class CrowdedFront {
 public:
  explicit CrowdedFront(size_t num_objectives);
  // The points points[front[k]], each under the key front[k]. O(M K log K).
  // REQUIRES: as CrowdingDistance; no NaN in those points.
  CrowdedFront(const std::vector<std::vector<double>>& points, std::span<const size_t> front);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Adds a member. O(M K) (the place in each objective's order is found by a walk).
  // REQUIRES: key is no member's; objectives.size() == num_objectives; no NaN.
  void Insert(size_t key, std::span<const double> objectives);
  // Removes a member. O(K) to find the key, then O(M + copies) unless the set's range in some objective
  // changes, which recomputes every distance, O(M K). REQUIRES: key is a member's.
  void Erase(size_t key);
  // Every key greater than `key` decreases by one (the caller removed entry `key` from a list the keys
  // index). O(K). REQUIRES: key is no member's.
  void ShiftKeysAbove(size_t key);

  // The key of the member a survival drops first: the least distance, the greatest key on a tie. O(K).
  // REQUIRES: !empty().
  size_t MostCrowded() const;
  // Calls visit(key, distance) for every member, in no particular order. O(K).
  template <typename Visit>
  void ForEach(Visit&& visit) const {
    for (size_t slot = 0; slot < key_.size(); ++slot) {
      if (key_[slot] != kNone) visit(key_[slot], distance_[slot]);
    }
  }
  // The distance of each of `keys`, in their order. O(K log K). REQUIRES: every key a member's.
  std::vector<double> Distances(std::span<const size_t> keys) const;

  // Removes members as PruneByCrowding prunes a front until `keep` are left; returns the remaining keys,
  // ascending.
  std::vector<size_t> Prune(size_t keep, CrowdingPruning pruning);

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  double Value(size_t slot, size_t m) const { return values_[slot * num_objectives_ + m]; }
  bool Same(size_t a, size_t b) const;
  // The order of objective m: by value, then the whole point lexicographically, then the key.
  bool Before(size_t a, size_t b, size_t m) const;
  double Range(size_t m) const;
  bool IsFirstCopy(size_t slot) const;
  size_t FirstOfGroup(size_t slot, size_t m) const;
  double ComputeDistance(size_t slot) const;
  void Link(size_t slot, size_t m, size_t before);  // into objective m's list, in front of `before`
  void Unlink(size_t slot, size_t m);
  size_t NewSlot(size_t key);
  size_t SlotOf(size_t key) const;
  // Recomputes the distance of `slot` (or of every member) and notes it in changed_.
  void Recompute(size_t slot);
  void RecomputeAll();
  // Updates the distances after `slot` was linked into every order.
  void AfterInsert(size_t slot);
  void EraseSlot(size_t slot);

  size_t num_objectives_;
  size_t size_ = 0;
  size_t distinct_ = 0;                           // groups of copies
  std::vector<size_t> key_;                       // per slot; kNone = a free slot
  std::vector<double> values_;                    // slot * num_objectives_ + m
  std::vector<double> distance_;                  // per slot
  std::vector<size_t> free_;                      // free slots
  std::vector<size_t> head_, tail_;               // per objective: the first and last slot of its order
  std::vector<std::vector<size_t>> prev_, next_;  // [m][slot]: the neighbours in objective m's order
  std::vector<size_t> changed_;  // slots whose distance the last change recomputed (for Prune)
};

}  // namespace hpo::search

#endif  // HPO_SEARCH_PARETO_H_
