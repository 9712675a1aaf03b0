#include "search/pareto.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
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

// `indices` ordered lexicographically by (f1, f2), ties by index. REQUIRES: no NaN.
std::vector<size_t> LexOrder(const Points& points, std::vector<size_t> indices) {
  std::sort(indices.begin(), indices.end(), [&](size_t a, size_t b) {
    if (points[a][0] != points[b][0]) return points[a][0] < points[b][0];
    if (points[a][1] != points[b][1]) return points[a][1] < points[b][1];
    return a < b;
  });
  return indices;
}

// Rank of each of `finite` (points without NaN, 2 objectives), O(N log N). In lexicographic order every
// dominator of p comes before p, and within a front f2 never increases, so each front is summed up by
// its last point and those last f2 values never decrease from front to front. p joins the first front
// whose last f2 is > p's (no member can dominate p), or the front just before it when that front's last
// point is identical to p (identical points do not dominate each other).
void Rank2D(const Points& points, const std::vector<size_t>& finite, std::vector<size_t>& rank) {
  std::vector<size_t> last;  // last point of each front
  for (size_t p : LexOrder(points, finite)) {
    const double f2 = points[p][1];
    size_t front =
        std::partition_point(last.begin(), last.end(), [&](size_t q) { return points[q][1] <= f2; }) -
        last.begin();
    if (front > 0 && points[last[front - 1]] == points[p]) --front;
    if (front == last.size()) {
      last.push_back(p);
    } else {
      last[front] = p;
    }
    rank[p] = front;
  }
}

// Deb's fast non-dominated sort of `finite`, O(M N^2) time and O(N^2) memory.
void RankDeb(const Points& points, const std::vector<size_t>& finite, std::vector<size_t>& rank) {
  const size_t n = finite.size();
  std::vector<std::vector<size_t>> dominated(n);  // positions in finite that each one dominates
  std::vector<size_t> dominator_count(n, 0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      if (Dominates(points[finite[i]], points[finite[j]])) {
        dominated[i].push_back(j);
        ++dominator_count[j];
      } else if (Dominates(points[finite[j]], points[finite[i]])) {
        dominated[j].push_back(i);
        ++dominator_count[i];
      }
    }
  }
  std::vector<size_t> current;
  for (size_t i = 0; i < n; ++i) {
    if (dominator_count[i] == 0) current.push_back(i);
  }
  for (size_t front = 0; !current.empty(); ++front) {
    std::vector<size_t> next;
    for (size_t i : current) {
      rank[finite[i]] = front;
      for (size_t j : dominated[i]) {
        if (--dominator_count[j] == 0) next.push_back(j);
      }
    }
    current = std::move(next);
  }
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
  std::vector<bool> on_front(points.size(), false);
  if (points[split.finite[0]].size() == 2) {
    // Sweep in lexicographic order: p is dominated iff an earlier, non-identical point has f2 <= p's.
    const std::vector<size_t> order = LexOrder(points, split.finite);
    double best_f2 = 0;  // least f2 of the points before the current group of identical ones
    for (size_t begin = 0, end = 0; begin < order.size(); begin = end) {
      while (end < order.size() && points[order[end]] == points[order[begin]]) ++end;
      const double f2 = points[order[begin]][1];
      const bool dominated = begin > 0 && best_f2 <= f2;
      for (size_t k = begin; k < end; ++k) on_front[order[k]] = !dominated;
      best_f2 = begin == 0 ? f2 : std::min(best_f2, f2);
    }
  } else {
    for (size_t p : split.finite) {
      on_front[p] = std::none_of(split.finite.begin(), split.finite.end(),
                                 [&](size_t q) { return Dominates(points[q], points[p]); });
    }
  }
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
  if (!split.finite.empty()) {
    if (points[split.finite[0]].size() == 2) {
      Rank2D(points, split.finite, sorting.rank);
    } else {
      RankDeb(points, split.finite, sorting.rank);
    }
  }
  size_t num_fronts = 0;
  for (size_t i : split.finite) num_fronts = std::max(num_fronts, sorting.rank[i] + 1);
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
