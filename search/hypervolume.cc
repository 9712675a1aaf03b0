#include "search/hypervolume.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory_resource>
#include <numeric>
#include <string>

// Measured (Release, one core of the 2-core development machine, best of 5 runs; 4-D/5-D at 50,000
// one run), seconds, for N points: "sphere" uniform on the unit sphere's positive orthant and
// "simplex" uniform on sum f = 1 (both mutually non-dominated, as pagmo2's bench draws them), "cube"
// uniform in [0, 1]^M; reference 1.1 in every objective:
//   M  algorithm    N       sphere    simplex   cube
//   2  sweep_2d     1,000   0.00003   0.00003   0.00003
//                  10,000   0.00076   0.00092   0.00079   (pagmo2: about 0.002)
//                  50,000   0.0054    0.0057    0.0058
//   3  sweep_3d     1,000   0.00011   0.00014   0.00004
//                  10,000   0.0025    0.0020    0.0010    (pagmo2: about 0.005)
//                  50,000   0.012     0.012     0.0056
//   4  wfg          1,000   0.0070    0.0066    0.00006
//                  10,000   0.29      0.26      0.0017
//                  50,000   4.6       6.1       0.0092
//   5  wfg          1,000   0.020     0.021     0.00026
//                  10,000   0.75      0.79      0.0040    (pagmo2's WFG: about 6.7)
//                  50,000   17.9      16.7      0.016

namespace hpo::search {
namespace {

// All points below are stored flat: n points of d coordinates, row-major, every coordinate strictly
// below the reference's (the front door drops the rest). "Sorted by coordinate c" means non-decreasing
// in c, ties in any order.

// 1 objective: the dominated length is ref - min.
double Length1d(const double* points, size_t n, const double* ref) {
  double best = ref[0];
  for (size_t i = 0; i < n; ++i) best = std::min(best, points[i]);
  return ref[0] - best;
}

// 2 objectives, points sorted by y (coordinate 1). Sweep upward in y keeping the smallest x seen:
// every earlier point's box reaches ref_y, so above the current y the union covers [best_x, ref_x];
// a point with x < best_x adds the rectangle (best_x - x) * (ref_y - y). Dominated points and
// duplicates add nothing. O(N) after the sort.
double Sweep2dSortedByY(const double* points, size_t n, size_t stride, const double* ref) {
  double best_x = ref[0];
  double area = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double x = points[i * stride];
    if (x < best_x) {
      area += (best_x - x) * (ref[1] - points[i * stride + 1]);
      best_x = x;
    }
  }
  return area;
}

// Computes hypervolumes with reusable scratch space: one instance per call of the front door.
class Computer {
 public:
  explicit Computer(const double* ref, size_t dims) : ref_(ref), levels_(dims + 1) {}

  // Any number of objectives d >= 1, points (stride d) sorted by coordinate d-1.
  double Solve(const double* points, size_t n, size_t d) {
    if (n == 0) return 0.0;
    if (n == 1) return BoxVolume(points, d);
    if (n == 2) {  // inclusion-exclusion
      double both = 1.0;
      for (size_t c = 0; c < d; ++c) both *= ref_[c] - std::max(points[c], points[d + c]);
      return std::max(0.0, BoxVolume(points, d) + BoxVolume(points + d, d) - both);
    }
    switch (d) {
      case 1:
        return Length1d(points, n, ref_);
      case 2:
        return Sweep2dSortedByY(points, n, 2, ref_);
      case 3:
        return Sweep3dSortedByZ(points, n, 3);
      default:
        return WfgLevel(points, n, d);
    }
  }

  // 3 objectives, points (stride `stride`, coordinates 0..2 used) sorted by z (coordinate 2).
  //
  // Beume et al. 2009: sweep upward in z. Between two consecutive z values the slice of the dominated
  // region is the 2-D region A dominated by the points seen so far, projected on (x, y): its area is
  // kept up to date in a balanced tree (std::map, x -> y) holding the 2-D staircase (the projections no
  // other seen projection weakly dominates: x ascending, y strictly descending). Then
  //   V = sum_i area(A_i) * (z_{i+1} - z_i),  z_n = ref_z.
  // Inserting (x, y): if the staircase point at or left of x has y' <= y, nothing changes. Otherwise
  // the points it dominates (x_k >= x, y_k >= y; a contiguous run) leave, and the area grows by
  //   (right_x - x) * (ref_y - y) - [area the run and its left neighbour covered over [x, right_x)],
  // right_x being the x of the first point after the run (ref_x if none). Each point enters and leaves
  // once: O(N log N).
  double Sweep3dSortedByZ(const double* points, size_t n, size_t stride) {
    std::pmr::map<double, double> stair(&pool_);
    const double ref_x = ref_[0], ref_y = ref_[1];
    double area = 0.0, volume = 0.0;
    for (size_t i = 0; i < n; ++i) {
      const double* p = points + i * stride;
      if (i > 0) volume += area * (p[2] - points[(i - 1) * stride + 2]);
      const double x = p[0], y = p[1];
      auto it = stair.upper_bound(x);  // first with key > x
      auto first = it;
      if (it != stair.begin()) {
        auto left = std::prev(it);
        if (left->second <= y) continue;  // weakly dominated in 2-D
        if (left->first == x) first = left;
      }
      double cover_x = x;
      double cover_y = first == stair.begin() ? ref_y : std::prev(first)->second;
      double covered = 0.0;
      auto last = first;
      for (; last != stair.end() && last->second >= y; ++last) {
        covered += (last->first - cover_x) * (ref_y - cover_y);
        cover_x = last->first;
        cover_y = last->second;
      }
      const double right_x = last == stair.end() ? ref_x : last->first;
      covered += (right_x - cover_x) * (ref_y - cover_y);
      area += (right_x - x) * (ref_y - y) - covered;
      stair.erase(first, last);
      stair.emplace_hint(last, x, y);
    }
    volume += area * (ref_[2] - points[(n - 1) * stride + 2]);
    return volume;
  }

  // One level of WFG for d objectives, points (stride d) sorted by coordinate d-1 (the one sliced
  // away here). With p_0..p_{n-1} in that order, the region is cut into slabs by the last objective:
  //   HV_d(P) = sum_i (ref_{d-1} - p_i[d-1]) * ExclHV_{d-1}(p_i | p_0..p_{i-1}),
  //   ExclHV_{d-1}(p | S) = prod_{c<d-1} (ref_c - p[c]) - HV_{d-1}(nds(limit(p, S))),
  //   limit(p, S) = { max(p, q) over coordinates 0..d-2 : q in S }.
  // The earlier points are no worse in the last objective, so every max(p, q) shares p's last
  // coordinate and the exclusive volume factors into a slab: WFG's limit set with its dimension
  // reduction by slicing. nds keeps the non-dominated limit points, which WFG shows to be few: that is
  // what makes it fast.
  //
  // Two refinements, neither changing the value. (1) max(p, .) is monotone, so a q whose projection
  // on coordinates 0..d-2 is weakly dominated by another earlier point's projection adds nothing to
  // limit(p, S): the level keeps F, the non-dominated projections of p_0..p_{i-1}, updated as the sweep
  // goes (O(|F| d) per point), and builds limit sets from F alone; a p whose projection F weakly
  // dominates has exclusive volume 0. (2) F is kept in the order of coordinate d-2, so each limit set
  // arrives sorted for the next level; for d-1 <= 3 the sweeps handle dominated points themselves and
  // nds is skipped. REQUIRES: d >= 2.
  double WfgLevel(const double* points, size_t n, size_t d) {
    const size_t m = d - 1;  // objectives of the limit sets
    Level& level = levels_[d];
    level.front.clear();
    level.limit.resize(n * m);
    level.dead.resize(n);
    double total = 0.0;
    for (size_t i = 0; i < n; ++i) {
      const double* p = points + i * d;
      if (FrontDominates(points, d, p, level)) continue;  // exclusive volume 0
      double exclusive = BoxVolume(p, m);
      if (!level.front.empty()) {
        const size_t count = BuildLimitSet(points, d, p, level);
        if (count > 0) exclusive = std::max(0.0, exclusive - Solve(level.limit.data(), count, m));
      }
      total += (ref_[m] - p[m]) * exclusive;
      AddToFront(points, d, i, level);
    }
    return total;
  }

 private:
  struct Level {
    std::vector<uint32_t> front;      // F: see WfgLevel, by coordinate d-2
    std::vector<double> limit;        // the limit set, stride d-1
    std::vector<char> dead;           // limit points found dominated by a later one (ties in d-2 only)
    std::vector<uint32_t> check;      // the order in which BuildLimitSet tries the kept limit points
    std::vector<double> scratch;      // limit points of F's members tied with p in d-2, stride d-1
    std::vector<uint64_t> by_volume;  // those, by their boxes' volumes (see BuildLimitSetN)
  };

  double BoxVolume(const double* p, size_t d) const {
    double volume = 1.0;
    for (size_t c = 0; c < d; ++c) volume *= ref_[c] - p[c];
    return volume;
  }

  // True when a <= b in coordinates 0..m-1.
  // Branch-free: in the limit-set filters the outcome of each comparison is unpredictable.
  static bool WeaklyDominates(const double* a, const double* b, size_t m) {
    bool all = true;
    for (size_t c = 0; c < m; ++c) all &= a[c] <= b[c];
    return all;
  }

  // True when a member of level.front weakly dominates p on coordinates 0..d-2.
  static bool FrontDominates(const double* points, size_t d, const double* p, const Level& level) {
    for (const uint32_t f : level.front) {
      if (WeaklyDominates(points + size_t{f} * d, p, d - 1)) return true;
    }
    return false;
  }

  // Adds point i's projection (coordinates 0..d-2) to level.front, dropping the members it weakly
  // dominates. REQUIRES: !FrontDominates(point i).
  static void AddToFront(const double* points, size_t d, size_t i, Level& level) {
    const size_t m = d - 1;
    const double* p = points + i * d;
    std::vector<uint32_t>& front = level.front;
    size_t kept = 0;
    for (const uint32_t f : front) {
      if (!WeaklyDominates(p, points + size_t{f} * d, m)) front[kept++] = f;
    }
    front.resize(kept);
    const auto at = std::upper_bound(front.begin(), front.end(), p[m - 1],
                                     [&](double v, uint32_t f) { return v < points[size_t{f} * d + m - 1]; });
    front.insert(at, static_cast<uint32_t>(i));
  }

  // WeaklyDominates with the count known at compile time where kM > 0 (unrolled).
  template <size_t kM>
  static bool WeaklyDominatesN(const double* a, const double* b, size_t m) {
    if constexpr (kM == 0) {
      return WeaklyDominates(a, b, m);
    } else {
      bool all = true;
      for (size_t c = 0; c < kM; ++c) all &= a[c] <= b[c];
      return all;
    }
  }

  // limit(p, F) into level.limit in the order of coordinate d-2, only its non-dominated
  // points (one of each duplicate) when the next level is WFG. Returns how many.
  size_t BuildLimitSet(const double* points, size_t d, const double* p, Level& level) const {
    switch (d - 1) {  // the filter's inner loops unrolled for the usual sizes
      case 4:
        return BuildLimitSetN<4>(points, d, p, level);
      case 5:
        return BuildLimitSetN<5>(points, d, p, level);
      case 6:
        return BuildLimitSetN<6>(points, d, p, level);
      default:
        return BuildLimitSetN<0>(points, d, p, level);
    }
  }

  // BuildLimitSet for limit sets of kM objectives (kM = 0: any, d - 1).
  //
  // The filter, for m = d - 1 >= 4. F is in the order of coordinate m-1, so its members q with
  // q[m-1] <= p[m-1] come first, and all their limit points share l[m-1] = p[m-1]: for them that
  // order says nothing. They are filtered in the order of their boxes' volumes, largest first: a
  // point that weakly dominates another has a box at least as large, so (up to rounding, which can
  // only leave a dominated point in, harmless to the next level) only a kept point can dominate a new
  // one, and the large boxes that dominate most arrivals are kept first. The later members have
  // strictly larger l[m-1] than all these and arrive non-decreasing in it: again only a kept point can
  // dominate the new one, except within a tie in m-1, where the new one may dominate kept ones. The
  // kept points are tried most recently successful first (move to front).
  template <size_t kM>
  size_t BuildLimitSetN(const double* points, size_t d, const double* p, Level& level) const {
    constexpr size_t kLeading = kM > 0 ? kM - 1 : 0;  // unrolled count of coordinates 0..m-2
    const size_t m = kM > 0 ? kM : d - 1;
    double* limit = level.limit.data();
    const std::vector<uint32_t>& front = level.front;
    auto limit_point = [&](uint32_t j, double* l) {
      const double* q = points + size_t{j} * d;
      for (size_t c = 0; c < m; ++c) l[c] = std::max(p[c], q[c]);
    };
    if (m < 4) {  // no filter: the sweeps below take dominated points
      for (size_t t = 0; t < front.size(); ++t) limit_point(front[t], limit + t * m);
      return front.size();
    }
    level.check.clear();
    size_t count = 0;
    // Whether some kept point weakly dominates l in 0..m-2; moves the one that does to the front.
    auto kept_dominates = [&](const double* l) {
      for (size_t t = 0; t < level.check.size(); ++t) {
        if (WeaklyDominatesN<kLeading>(limit + size_t{level.check[t]} * m, l, m - 1)) {
          std::rotate(level.check.begin(), level.check.begin() + t, level.check.begin() + t + 1);
          return true;
        }
      }
      return false;
    };

    // The members with q[m-1] <= p[m-1], by their limit boxes' volumes, largest first.
    const size_t ties = static_cast<size_t>(
        std::upper_bound(front.begin(), front.end(), p[m - 1],
                         [&](double v, uint32_t f) { return v < points[size_t{f} * d + m - 1]; }) -
        front.begin());
    // Sort keys: the volume's bits (a positive double orders as its bit pattern) with the low 32
    // replaced by the member's position, ascending order reversed. Dropping those mantissa bits only
    // merges volumes equal to 1 part in 2^20, whose order then does not matter (see above).
    level.scratch.resize(ties * m);
    level.by_volume.resize(ties);
    for (size_t t = 0; t < ties; ++t) {
      double* l = level.scratch.data() + t * m;
      limit_point(front[t], l);
      const uint64_t volume_bits = std::bit_cast<uint64_t>(BoxVolume(l, m - 1));
      level.by_volume[t] = ~((volume_bits & ~uint64_t{0xffff'ffff}) | (uint64_t{0xffff'ffff} - t));
    }
    std::sort(level.by_volume.begin(), level.by_volume.end());
    for (const uint64_t key : level.by_volume) {
      const uint32_t t = uint32_t{0xffff'ffff} - static_cast<uint32_t>(~key & 0xffff'ffff);
      const double* l = level.scratch.data() + size_t{t} * m;
      if (kept_dominates(l)) continue;
      std::memcpy(limit + count * m, l, m * sizeof(double));
      level.check.push_back(static_cast<uint32_t>(count++));
    }

    // The others, in F's order.
    bool any_dead = false;
    std::fill(level.dead.begin(), level.dead.begin() + static_cast<std::ptrdiff_t>(count), 0);
    for (size_t t = ties; t < front.size(); ++t) {
      double* l = limit + count * m;
      limit_point(front[t], l);
      if (count > 0 && limit[(count - 1) * m + m - 1] == l[m - 1]) {
        // A tie in m-1 with the last kept point(s): test both ways.
        bool dominated = false;
        for (size_t c = 0; c < level.check.size();) {
          const uint32_t k = level.check[c];
          const double* kept = limit + size_t{k} * m;
          if (WeaklyDominatesN<kLeading>(kept, l, m - 1)) {  // kept[m-1] <= l[m-1]
            dominated = true;
            break;
          }
          if (kept[m - 1] == l[m - 1] && WeaklyDominatesN<kM>(l, kept, m)) {
            level.dead[k] = 1;
            any_dead = true;
            level.check.erase(level.check.begin() + static_cast<std::ptrdiff_t>(c));
          } else {
            ++c;
          }
        }
        if (dominated) continue;
      } else if (kept_dominates(l)) {
        continue;
      }
      level.dead[count] = 0;
      level.check.push_back(static_cast<uint32_t>(count++));
    }
    if (any_dead) {
      size_t kept = 0;
      for (size_t k = 0; k < count; ++k) {
        if (level.dead[k]) continue;
        if (kept != k) std::memmove(limit + kept * m, limit + k * m, m * sizeof(double));
        ++kept;
      }
      count = kept;
    }
    return count;
  }

  const double* ref_;
  std::vector<Level> levels_;                    // levels_[d]: scratch of the WFG level with d objectives
  std::pmr::unsynchronized_pool_resource pool_;  // the 3-D staircase's nodes
};

// The rows of `flat` (stride d) reordered lexicographically from the last coordinate to the first.
// Any weak dominator of a point then comes before it.
void SortRows(std::vector<double>& flat, size_t d) {
  const size_t n = flat.size() / d;
  auto sort_fixed = [&]<size_t D>() {
    std::vector<std::array<double, D>> rows(n);
    std::memcpy(rows.data(), flat.data(), flat.size() * sizeof(double));
    std::sort(rows.begin(), rows.end(), [](const std::array<double, D>& a, const std::array<double, D>& b) {
      for (size_t c = D; c-- > 0;) {
        if (a[c] != b[c]) return a[c] < b[c];
      }
      return false;
    });
    std::memcpy(flat.data(), rows.data(), flat.size() * sizeof(double));
  };
  switch (d) {
    case 1:
      std::sort(flat.begin(), flat.end());
      return;
    case 2:
      sort_fixed.template operator()<2>();
      return;
    case 3:
      sort_fixed.template operator()<3>();
      return;
    default:
      break;
  }
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    for (size_t c = d; c-- > 0;) {
      const double x = flat[size_t{a} * d + c], y = flat[size_t{b} * d + c];
      if (x != y) return x < y;
    }
    return false;
  });
  std::vector<double> sorted(flat.size());
  for (size_t k = 0; k < n; ++k) {
    std::memcpy(&sorted[k * d], &flat[size_t{order[k]} * d], d * sizeof(double));
  }
  flat.swap(sorted);
}

}  // namespace

std::string_view HypervolumeAlgorithmName(HypervolumeAlgorithm algorithm) {
  switch (algorithm) {
    case HypervolumeAlgorithm::kAuto:
      return "auto";
    case HypervolumeAlgorithm::kLength1d:
      return "length_1d";
    case HypervolumeAlgorithm::kSweep2d:
      return "sweep_2d";
    case HypervolumeAlgorithm::kSweep3d:
      return "sweep_3d";
    case HypervolumeAlgorithm::kWfg:
      return "wfg";
  }
  return "unknown";
}

Result<HypervolumeResult> Hypervolume(const std::vector<std::vector<double>>& points,
                                      std::span<const double> reference, HypervolumeAlgorithm algorithm) {
  const size_t d = reference.size();
  if (d == 0) return InvalidArgumentError("hypervolume: reference is empty");
  for (size_t c = 0; c < d; ++c) {
    if (!std::isfinite(reference[c])) {
      return InvalidArgumentError("hypervolume: reference[" + std::to_string(c) + "] is not finite");
    }
  }
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i].size() != d) {
      return InvalidArgumentError("hypervolume: points[" + std::to_string(i) + "] has " +
                                  std::to_string(points[i].size()) + " objectives, the reference " +
                                  std::to_string(d));
    }
    for (size_t c = 0; c < d; ++c) {
      if (!std::isfinite(points[i][c])) {
        return InvalidArgumentError("hypervolume: points[" + std::to_string(i) + "][" + std::to_string(c) +
                                    "] is not finite");
      }
    }
  }
  if (points.size() > UINT32_MAX) return InvalidArgumentError("hypervolume: more than 2^32 - 1 points");
  HypervolumeAlgorithm chosen = algorithm;
  if (algorithm == HypervolumeAlgorithm::kAuto) {
    chosen = d == 1   ? HypervolumeAlgorithm::kLength1d
             : d == 2 ? HypervolumeAlgorithm::kSweep2d
             : d == 3 ? HypervolumeAlgorithm::kSweep3d
                      : HypervolumeAlgorithm::kWfg;
  }
  const bool applies = (chosen == HypervolumeAlgorithm::kLength1d && d == 1) ||
                       (chosen == HypervolumeAlgorithm::kSweep2d && d == 2) ||
                       (chosen == HypervolumeAlgorithm::kSweep3d && d == 3) ||
                       (chosen == HypervolumeAlgorithm::kWfg && d >= 2);
  if (!applies) {
    return InvalidArgumentError("hypervolume: algorithm " + std::string(HypervolumeAlgorithmName(chosen)) +
                                " does not apply to " + std::to_string(d) + " objectives");
  }

  HypervolumeResult result;
  result.algorithm = chosen;
  std::vector<double> flat;
  flat.reserve(points.size() * d);
  for (const std::vector<double>& p : points) {
    bool inside = true;
    for (size_t c = 0; c < d && inside; ++c) inside = p[c] < reference[c];
    if (inside) flat.insert(flat.end(), p.begin(), p.end());
  }
  const size_t n = flat.size() / d;
  result.points_inside = n;
  if (n == 0) return result;

  SortRows(flat, d);
  Computer computer(reference.data(), d);
  switch (chosen) {
    case HypervolumeAlgorithm::kLength1d:
      result.value = Length1d(flat.data(), n, reference.data());
      break;
    case HypervolumeAlgorithm::kSweep2d:
      result.value = Sweep2dSortedByY(flat.data(), n, 2, reference.data());
      break;
    case HypervolumeAlgorithm::kSweep3d:
      result.value = computer.Sweep3dSortedByZ(flat.data(), n, 3);
      break;
    case HypervolumeAlgorithm::kWfg:
      // No filter first: in the lexicographic order a point's weak dominators come before it, so the
      // WFG level finds it dominated through F at no extra cost.
      result.value = computer.WfgLevel(flat.data(), n, d);
      break;
    case HypervolumeAlgorithm::kAuto:
      break;
  }
  return result;
}

Result<std::vector<double>> WorstPlusTenthReference(const std::vector<std::vector<double>>& points) {
  if (points.empty()) return InvalidArgumentError("reference point: no points");
  const size_t d = points.front().size();
  if (d == 0) return InvalidArgumentError("reference point: points[0] is empty");
  std::vector<double> best = points.front();
  std::vector<double> worst = points.front();
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i].size() != d) {
      return InvalidArgumentError("reference point: points[" + std::to_string(i) + "] has " +
                                  std::to_string(points[i].size()) + " values, points[0] " +
                                  std::to_string(d));
    }
    for (size_t c = 0; c < d; ++c) {
      const double v = points[i][c];
      if (!std::isfinite(v)) {
        return InvalidArgumentError("reference point: points[" + std::to_string(i) + "][" +
                                    std::to_string(c) + "] is not finite");
      }
      best[c] = std::min(best[c], v);
      worst[c] = std::max(worst[c], v);
    }
  }
  std::vector<double> reference(d);
  for (size_t c = 0; c < d; ++c) {
    const double range = worst[c] - best[c];  // may overflow to inf for values near the double limit
    const double margin = range > 0 ? 0.1 * range : (worst[c] != 0 ? 0.1 * std::fabs(worst[c]) : 1.0);
    reference[c] = worst[c] + margin;
    if (!std::isfinite(reference[c])) {
      return InvalidArgumentError("reference point: objective " + std::to_string(c) + " overflows");
    }
  }
  return reference;
}

}  // namespace hpo::search
