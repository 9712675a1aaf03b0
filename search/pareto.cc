#include "search/pareto.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <queue>
#include <utility>

namespace hpo::search {
namespace {

using Points = std::vector<std::vector<double>>;

bool HasNan(std::span<const double> p) {
  return std::any_of(p.begin(), p.end(), [](double v) { return std::isnan(v); });
}

// The indices of points split by whether they hold a NaN, each ascending.
struct Split {
  std::vector<size_t> finite;  // no NaN (infinities allowed)
  std::vector<size_t> nan;
};

Split SplitNan(const Points& points) {
  Split split;
  for (size_t i = 0; i < points.size(); ++i) (HasNan(points[i]) ? split.nan : split.finite).push_back(i);
  return split;
}

// The points without NaN in lexicographic order (all objectives, ties by index), copied into one flat
// array so that the sweeps below read memory in order. Positions are 0..size()-1 in that order.
// REQUIRES: at least one objective.
class LexTable {
 public:
  LexTable(const Points& points, const std::vector<size_t>& finite)
      : m_(points[finite[0]].size()), index_(finite) {
    std::sort(index_.begin(), index_.end(), [&](size_t a, size_t b) {
      const std::vector<double>& pa = points[a];
      const std::vector<double>& pb = points[b];
      for (size_t m = 0; m < m_; ++m) {
        if (pa[m] != pb[m]) return pa[m] < pb[m];
      }
      return a < b;
    });
    values_.reserve(index_.size() * m_);
    for (size_t i : index_) values_.insert(values_.end(), points[i].begin(), points[i].end());
  }

  size_t size() const { return index_.size(); }
  // The index into the caller's points of the point at position pos.
  size_t index(size_t pos) const { return index_[pos]; }
  double value(size_t pos, size_t m) const { return values_[pos * m_ + m]; }

  bool Same(size_t a, size_t b) const {
    return std::equal(&values_[a * m_], &values_[a * m_] + m_, &values_[b * m_]);
  }

  // True when the point at position a dominates the one at b. REQUIRES: a < b, so that a's first
  // objective is <= b's and a dominates b iff it is <= in every other objective and not identical.
  bool DominatesLater(size_t a, size_t b) const {
    const double* x = &values_[a * m_];
    const double* y = &values_[b * m_];
    bool same = x[0] == y[0];
    for (size_t m = 1; m < m_; ++m) {
      if (x[m] > y[m]) return false;
      same = same && x[m] == y[m];
    }
    return !same;
  }

 private:
  size_t m_;                    // objectives
  std::vector<size_t> index_;   // position -> index into the caller's points
  std::vector<double> values_;  // position * m_ + objective
};

// Rank of each position, 2 objectives, O(N log N). In lexicographic order every dominator of p comes
// before p, and within a front f2 never increases, so each front is summed up by its last point and
// those last f2 values never decrease from front to front. p joins the first front whose last f2 is > p's
// (no member can dominate p), or the front just before it when that front's last point is identical to
// p (identical points do not dominate each other).
std::vector<size_t> Rank2D(const LexTable& table) {
  std::vector<size_t> rank(table.size());
  std::vector<size_t> last;  // last position of each front
  for (size_t p = 0; p < table.size(); ++p) {
    const double f2 = table.value(p, 1);
    size_t front =
        std::partition_point(last.begin(), last.end(), [&](size_t q) { return table.value(q, 1) <= f2; }) -
        last.begin();
    if (front > 0 && table.Same(last[front - 1], p)) --front;
    if (front == last.size()) {
      last.push_back(p);
    } else {
      last[front] = p;
    }
    rank[p] = front;
  }
  return rank;
}

// A set of 3-objective points that do not dominate each other (a front), visited in lexicographic order,
// summed up for dominance tests by the 2-D staircase of their (f2, f3): the members whose (f2, f3) no
// other member weakly dominates, keyed by f2, so f3 strictly falls as f2 rises.
//
// Why (f2, f3) suffices: every member q came before the tested point p, so q.f1 <= p.f1, and q dominates
// p iff q.f2 <= p.f2, q.f3 <= p.f3 and q is not identical to p. A member off the staircase is weakly
// beaten in (f2, f3) by one on it (with a larger f1, so visited later); anything it dominates, that one
// dominates too, except a copy of itself, which is then a copy of a member and not dominated by the
// front at all (a front holds no two members with the same (f2, f3) and different f1).
class Staircase3D {
 public:
  explicit Staircase3D(const LexTable& table) : table_(&table) {}

  // True when a member dominates position p. REQUIRES: p after every member.
  bool Dominates(size_t p) const {
    auto it = steps_.upper_bound(table_->value(p, 1));  // the last step with f2 <= p's: the least f3
    if (it == steps_.begin()) return false;
    --it;
    return table_->value(it->second, 2) <= table_->value(p, 2) && !table_->Same(it->second, p);
  }

  // Adds position p. REQUIRES: !Dominates(p), p after every member.
  void Insert(size_t p) {
    auto it = steps_.lower_bound(table_->value(p, 1));
    if (it != steps_.end() && table_->Same(it->second, p)) return;  // a copy: already represented
    while (it != steps_.end() && table_->value(it->second, 2) >= table_->value(p, 2)) it = steps_.erase(it);
    steps_.emplace_hint(it, table_->value(p, 1), p);
  }

 private:
  const LexTable* table_;
  std::map<double, size_t> steps_;  // f2 -> the position of the member with that f2
};

// Rank of each position, 3 objectives: binary search over the fronts' staircases. O(N log^2 N) time,
// O(N) memory.
std::vector<size_t> Rank3D(const LexTable& table) {
  std::vector<size_t> rank(table.size());
  std::vector<Staircase3D> fronts;
  for (size_t p = 0; p < table.size(); ++p) {
    // The fronts that dominate p are a prefix (see NondominatedSort in the header).
    const size_t front = std::partition_point(fronts.begin(), fronts.end(),
                                              [&](const Staircase3D& s) { return s.Dominates(p); }) -
                         fronts.begin();
    if (front == fronts.size()) fronts.emplace_back(table);
    fronts[front].Insert(p);
    rank[p] = front;
  }
  return rank;
}

// True when a member of `front` (positions, in the order they joined) dominates position p, which comes
// after all of them; newest first, as those are nearest to p in lexicographic order.
bool FrontDominates(const LexTable& table, const std::vector<size_t>& front, size_t p) {
  return std::any_of(front.rbegin(), front.rend(), [&](size_t q) { return table.DominatesLater(q, p); });
}

// Rank of each position, any number of objectives: ENS-BS (Zhang et al. 2015), binary search over the
// fronts, each tested member by member. O(M N^2) worst case, O(N) memory.
std::vector<size_t> RankEns(const LexTable& table) {
  std::vector<size_t> rank(table.size());
  std::vector<std::vector<size_t>> fronts;
  for (size_t p = 0; p < table.size(); ++p) {
    const size_t front =
        std::partition_point(fronts.begin(), fronts.end(),
                             [&](const std::vector<size_t>& f) { return FrontDominates(table, f, p); }) -
        fronts.begin();
    if (front == fronts.size()) fronts.emplace_back();
    fronts[front].push_back(p);
    rank[p] = front;
  }
  return rank;
}

// Whether each position is on the first front.
std::vector<bool> FirstFront(const LexTable& table, size_t num_objectives) {
  std::vector<bool> on_front(table.size(), false);
  if (num_objectives == 2) {
    // p is dominated iff an earlier, non-identical point has f2 <= p's.
    double best_f2 = 0;  // least f2 of the points before the current group of identical ones
    for (size_t begin = 0, end = 0; begin < table.size(); begin = end) {
      while (end < table.size() && table.Same(end, begin)) ++end;
      const double f2 = table.value(begin, 1);
      const bool dominated = begin > 0 && best_f2 <= f2;
      for (size_t k = begin; k < end; ++k) on_front[k] = !dominated;
      best_f2 = begin == 0 ? f2 : std::min(best_f2, f2);
    }
  } else if (num_objectives == 3) {
    Staircase3D front(table);  // the first staircase of Rank3D
    for (size_t p = 0; p < table.size(); ++p) {
      if (front.Dominates(p)) continue;
      front.Insert(p);
      on_front[p] = true;
    }
  } else {
    // A dominated point is dominated by a member of the front, which comes before it.
    std::vector<size_t> front;
    for (size_t p = 0; p < table.size(); ++p) {
      if (FrontDominates(table, front, p)) continue;
      front.push_back(p);
      on_front[p] = true;
    }
  }
  return on_front;
}

}  // namespace

bool Dominates(std::span<const double> a, std::span<const double> b) {
  assert(a.size() == b.size());
  const bool a_nan = HasNan(a), b_nan = HasNan(b);
  if (a_nan || b_nan) return !a_nan && b_nan;
  bool better = false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] > b[i]) return false;
    if (a[i] < b[i]) better = true;
  }
  return better;
}

std::vector<size_t> ParetoFrontIndices(const Points& points) {
  const Split split = SplitNan(points);
  if (split.finite.empty()) return split.nan;
  const size_t num_objectives = points[split.finite[0]].size();
  if (num_objectives == 0) return split.finite;  // all identical
  const LexTable table(points, split.finite);
  const std::vector<bool> on_table_front = FirstFront(table, num_objectives);
  std::vector<bool> on_front(points.size(), false);
  for (size_t p = 0; p < table.size(); ++p) on_front[table.index(p)] = on_table_front[p];
  std::vector<size_t> front;
  for (size_t i = 0; i < points.size(); ++i) {
    if (on_front[i]) front.push_back(i);
  }
  return front;
}

NondominatedSorting NondominatedSort(const Points& points) {
  NondominatedSorting sorting;
  sorting.rank.assign(points.size(), 0);
  const Split split = SplitNan(points);
  size_t num_fronts = split.finite.empty() ? 0 : 1;
  if (!split.finite.empty() && !points[split.finite[0]].empty()) {
    const LexTable table(points, split.finite);
    std::vector<size_t> rank;
    switch (points[split.finite[0]].size()) {
      case 2:
        rank = Rank2D(table);
        break;
      case 3:
        rank = Rank3D(table);
        break;
      default:
        rank = RankEns(table);
        break;
    }
    for (size_t p = 0; p < table.size(); ++p) {
      sorting.rank[table.index(p)] = rank[p];
      num_fronts = std::max(num_fronts, rank[p] + 1);
    }
  }
  for (size_t i : split.nan) sorting.rank[i] = num_fronts;
  if (!split.nan.empty()) ++num_fronts;
  sorting.fronts.resize(num_fronts);
  for (size_t i = 0; i < points.size(); ++i) sorting.fronts[sorting.rank[i]].push_back(i);
  return sorting;
}

// Crowding distance: CrowdedFront is the one implementation; CrowdingDistance and PruneByCrowding build
// one and read it.

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The indices of `front` whose points hold no NaN, in front's order.
std::vector<size_t> WithoutNan(const Points& points, std::span<const size_t> front) {
  std::vector<size_t> finite;
  finite.reserve(front.size());
  for (size_t i : front) {
    assert(i < points.size());
    if (!HasNan(points[i])) finite.push_back(i);
  }
  return finite;
}

}  // namespace

CrowdedFront::CrowdedFront(size_t num_objectives)
    : num_objectives_(num_objectives),
      head_(num_objectives, kNone),
      tail_(num_objectives, kNone),
      prev_(num_objectives),
      next_(num_objectives) {
  assert(num_objectives >= 1);
}

CrowdedFront::CrowdedFront(const Points& points, std::span<const size_t> front)
    : CrowdedFront(front.empty() ? 1 : points[front[0]].size()) {
  const size_t k = front.size();
  key_.assign(front.begin(), front.end());
  values_.reserve(k * num_objectives_);
  for (size_t i : front) {
    assert(points[i].size() == num_objectives_ && !HasNan(points[i]));
    values_.insert(values_.end(), points[i].begin(), points[i].end());
  }
  distance_.assign(k, 0.0);
  size_ = k;
  std::vector<size_t> order(k);
  for (size_t m = 0; m < num_objectives_; ++m) {
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return Before(a, b, m); });
    prev_[m].assign(k, kNone);
    next_[m].assign(k, kNone);
    for (size_t slot : order) Link(slot, m, kNone);
  }
  for (size_t slot = 0; slot < k; ++slot) distinct_ += IsFirstCopy(slot) ? 1 : 0;
  RecomputeAll();
}

bool CrowdedFront::Same(size_t a, size_t b) const {
  return std::equal(&values_[a * num_objectives_], &values_[a * num_objectives_] + num_objectives_,
                    &values_[b * num_objectives_]);
}

bool CrowdedFront::Before(size_t a, size_t b, size_t m) const {
  if (Value(a, m) != Value(b, m)) return Value(a, m) < Value(b, m);
  for (size_t j = 0; j < num_objectives_; ++j) {
    if (Value(a, j) != Value(b, j)) return Value(a, j) < Value(b, j);
  }
  return key_[a] < key_[b];
}

double CrowdedFront::Range(size_t m) const { return Value(tail_[m], m) - Value(head_[m], m); }

// Copies are neighbours in every order, the least key first; so in objective 0's.
bool CrowdedFront::IsFirstCopy(size_t slot) const {
  const size_t before = prev_[0][slot];
  return before == kNone || !Same(before, slot);
}

size_t CrowdedFront::FirstOfGroup(size_t slot, size_t m) const {
  while (prev_[m][slot] != kNone && Same(prev_[m][slot], slot)) slot = prev_[m][slot];
  return slot;
}

double CrowdedFront::ComputeDistance(size_t slot) const {
  if (!IsFirstCopy(slot)) return 0.0;
  if (distinct_ == 1) return kInf;
  double distance = 0.0;
  for (size_t m = 0; m < num_objectives_; ++m) {
    const double range = Range(m);
    if (!(range > 0)) continue;  // constant (or -inf..-inf, inf..inf): no extremes, no 0/0
    size_t last = slot;          // of the group; slot is its first in every order
    while (next_[m][last] != kNone && Same(next_[m][last], slot)) last = next_[m][last];
    const size_t before = prev_[m][slot], after = next_[m][last];
    if (before == kNone || after == kNone) return kInf;
    const double increment = (Value(after, m) - Value(before, m)) / range;
    if (std::isfinite(increment)) distance += increment;
  }
  return distance;
}

void CrowdedFront::Link(size_t slot, size_t m, size_t before) {
  const size_t after = before == kNone ? tail_[m] : prev_[m][before];
  prev_[m][slot] = after;
  next_[m][slot] = before;
  (after == kNone ? head_[m] : next_[m][after]) = slot;
  (before == kNone ? tail_[m] : prev_[m][before]) = slot;
}

void CrowdedFront::Unlink(size_t slot, size_t m) {
  const size_t before = prev_[m][slot], after = next_[m][slot];
  (before == kNone ? head_[m] : next_[m][before]) = after;
  (after == kNone ? tail_[m] : prev_[m][after]) = before;
}

size_t CrowdedFront::NewSlot(size_t key) {
  size_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = key_.size();
    key_.push_back(kNone);
    values_.resize(values_.size() + num_objectives_);
    distance_.push_back(0.0);
    for (size_t m = 0; m < num_objectives_; ++m) {
      prev_[m].push_back(kNone);
      next_[m].push_back(kNone);
    }
  }
  key_[slot] = key;
  return slot;
}

size_t CrowdedFront::SlotOf(size_t key) const {
  const auto it = std::find(key_.begin(), key_.end(), key);
  assert(it != key_.end());
  return static_cast<size_t>(it - key_.begin());
}

void CrowdedFront::Recompute(size_t slot) {
  distance_[slot] = ComputeDistance(slot);
  changed_.push_back(slot);
}

void CrowdedFront::RecomputeAll() {
  for (size_t slot = 0; slot < key_.size(); ++slot) {
    if (key_[slot] != kNone) Recompute(slot);
  }
}

void CrowdedFront::Insert(size_t key, std::span<const double> objectives) {
  assert(objectives.size() == num_objectives_);
  changed_.clear();
  const size_t slot = NewSlot(key);
  std::copy(objectives.begin(), objectives.end(), values_.begin() + slot * num_objectives_);
  ++size_;
  for (size_t m = 0; m < num_objectives_; ++m) {
    size_t at = head_[m];
    while (at != kNone && Before(at, slot, m)) at = next_[m][at];
    Link(slot, m, at);
  }
  AfterInsert(slot);
}

void CrowdedFront::AfterInsert(size_t slot) {
  const size_t before = prev_[0][slot], after = next_[0][slot];
  if ((before != kNone && Same(before, slot)) || (after != kNone && Same(after, slot))) {
    // A copy: only the group's first copy can change (to this one, taking the group's distance).
    Recompute(slot);
    if (IsFirstCopy(slot)) Recompute(after);
    return;
  }
  ++distinct_;
  bool extreme = distinct_ <= 2;  // then every point is an extreme
  for (size_t m = 0; m < num_objectives_; ++m) extreme = extreme || head_[m] == slot || tail_[m] == slot;
  if (extreme) {  // a range may have changed
    RecomputeAll();
    return;
  }
  // Otherwise only the groups next to it in some order have a new neighbour.
  Recompute(slot);
  for (size_t m = 0; m < num_objectives_; ++m) {
    Recompute(FirstOfGroup(prev_[m][slot], m));
    Recompute(next_[m][slot]);  // slot is a group of its own, so this is the next group's first
  }
}

void CrowdedFront::Erase(size_t key) { EraseSlot(SlotOf(key)); }

void CrowdedFront::EraseSlot(size_t slot) {
  changed_.clear();
  const size_t before = prev_[0][slot], after = next_[0][slot];
  const bool first = before == kNone || !Same(before, slot);
  const bool copies = !first || (after != kNone && Same(after, slot));
  bool extreme = false;
  for (size_t m = 0; m < num_objectives_; ++m) {
    extreme = extreme || head_[m] == slot || tail_[m] == slot;
    Unlink(slot, m);
  }
  key_[slot] = kNone;
  free_.push_back(slot);
  --size_;
  if (copies) {
    // The group stays, with the same neighbours; when its first copy goes, the next one holds its distance.
    if (first) Recompute(after);
    return;
  }
  --distinct_;
  if (size_ == 0) return;
  if (extreme || distinct_ == 1) {  // a range may have changed, or one point is left
    RecomputeAll();
    return;
  }
  // The groups next to it in some order have new neighbours (the links of slot still name them).
  for (size_t m = 0; m < num_objectives_; ++m) {
    Recompute(FirstOfGroup(prev_[m][slot], m));
    Recompute(next_[m][slot]);
  }
}

void CrowdedFront::ShiftKeysAbove(size_t key) {
  for (size_t& k : key_) {
    if (k != kNone && k > key) --k;
  }
}

size_t CrowdedFront::MostCrowded() const {
  assert(size_ > 0);
  size_t best = kNone;
  for (size_t slot = 0; slot < key_.size(); ++slot) {
    if (key_[slot] == kNone) continue;
    if (best == kNone || distance_[slot] < distance_[best] ||
        (distance_[slot] == distance_[best] && key_[slot] > key_[best])) {
      best = slot;
    }
  }
  return key_[best];
}

std::vector<double> CrowdedFront::Distances(std::span<const size_t> keys) const {
  std::vector<std::pair<size_t, size_t>> slots;  // (key, slot), by key
  slots.reserve(size_);
  for (size_t slot = 0; slot < key_.size(); ++slot) {
    if (key_[slot] != kNone) slots.emplace_back(key_[slot], slot);
  }
  std::sort(slots.begin(), slots.end());
  std::vector<double> distances;
  distances.reserve(keys.size());
  for (size_t key : keys) {
    const auto it = std::lower_bound(slots.begin(), slots.end(), std::make_pair(key, size_t{0}));
    assert(it != slots.end() && it->first == key);
    distances.push_back(distance_[it->second]);
  }
  return distances;
}

std::vector<size_t> CrowdedFront::Prune(size_t keep, CrowdingPruning pruning) {
  struct Entry {
    double distance;
    size_t key, slot;
    uint64_t version;
  };
  // The top is the next to go: the least distance, the greatest key on a tie.
  auto goes_later = [](const Entry& a, const Entry& b) {
    return a.distance != b.distance ? a.distance > b.distance : a.key < b.key;
  };
  std::vector<Entry> entries;
  std::vector<uint64_t> version(key_.size(), 0);
  for (size_t slot = 0; slot < key_.size(); ++slot) {
    if (key_[slot] != kNone) entries.push_back({distance_[slot], key_[slot], slot, 0});
  }
  if (pruning == CrowdingPruning::kOnce) {
    // The distances as they are now decide; the first size() - keep in that order go.
    std::sort(entries.begin(), entries.end(),
              [&](const Entry& a, const Entry& b) { return goes_later(b, a); });
    for (size_t i = 0; size_ > keep; ++i) EraseSlot(entries[i].slot);
  } else {
    std::priority_queue<Entry, std::vector<Entry>, decltype(goes_later)> queue(goes_later,
                                                                               std::move(entries));
    while (size_ > keep) {
      const Entry top = queue.top();
      queue.pop();
      if (top.version != version[top.slot]) continue;  // stale
      EraseSlot(top.slot);
      ++version[top.slot];
      for (size_t slot : changed_) {
        if (key_[slot] == kNone) continue;
        queue.push({distance_[slot], key_[slot], slot, ++version[slot]});
      }
    }
  }
  std::vector<size_t> kept;
  kept.reserve(size_);
  for (size_t key : key_) {
    if (key != kNone) kept.push_back(key);
  }
  std::sort(kept.begin(), kept.end());
  return kept;
}

std::vector<double> CrowdingDistance(const Points& points, std::span<const size_t> front) {
  std::vector<double> distance(front.size(), 0.0);
  const std::vector<size_t> finite = WithoutNan(points, front);
  if (finite.empty()) return distance;
  std::vector<double> finite_distance;
  if (points[finite[0]].empty()) {
    // No objectives: every point is a copy of the one with the least index.
    const size_t first = *std::min_element(finite.begin(), finite.end());
    for (size_t i : finite) finite_distance.push_back(i == first ? kInf : 0.0);
  } else {
    finite_distance = CrowdedFront(points, finite).Distances(finite);
  }
  for (size_t k = 0, j = 0; k < front.size(); ++k) {
    if (j < finite.size() && front[k] == finite[j]) distance[k] = finite_distance[j++];
  }
  return distance;
}

std::vector<size_t> PruneByCrowding(const Points& points, std::span<const size_t> front, size_t keep,
                                    CrowdingPruning pruning) {
  if (front.empty()) return {};
  if (points[front[0]].empty()) {  // no objectives: all copies; the least indices stay
    std::vector<size_t> kept(front.begin(), front.end());
    std::sort(kept.begin(), kept.end());
    kept.resize(std::min(keep, kept.size()));
    return kept;
  }
  return CrowdedFront(points, front).Prune(keep, pruning);
}

}  // namespace hpo::search
