#include "search/pareto.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

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

std::vector<double> CrowdingDistance(const Points& points, std::span<const size_t> front) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<double> distance(front.size(), 0.0);
  std::vector<size_t> order;  // positions in front of the points without NaN
  for (size_t k = 0; k < front.size(); ++k) {
    assert(front[k] < points.size());
    if (!HasNan(points[front[k]])) order.push_back(k);
  }
  if (order.size() == 1) distance[order[0]] = kInf;
  if (order.size() <= 1) return distance;
  const size_t num_objectives = points[front[order[0]]].size();
  for (size_t m = 0; m < num_objectives; ++m) {
    auto value = [&](size_t k) { return points[front[k]][m]; };
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return value(a) != value(b) ? value(a) < value(b) : a < b; });
    const double range = value(order.back()) - value(order.front());
    if (!(range > 0)) continue;  // constant (or -inf..-inf, inf..inf): no extremes, no 0/0
    distance[order.front()] = kInf;
    distance[order.back()] = kInf;
    for (size_t k = 1; k + 1 < order.size(); ++k) {
      const double increment = (value(order[k + 1]) - value(order[k - 1])) / range;
      if (std::isfinite(increment)) distance[order[k]] += increment;
    }
  }
  return distance;
}

}  // namespace hpo::search
