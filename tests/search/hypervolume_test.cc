#include "search/hypervolume.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>

#include "base/rng.h"
#include "problems/problem.h"
#include "search/pareto.h"

namespace hpo::search {
namespace {

using Points = std::vector<std::vector<double>>;
using Algo = HypervolumeAlgorithm;

double Hv(const Points& points, const std::vector<double>& ref, Algo algorithm = Algo::kAuto) {
  const Result<HypervolumeResult> result = Hypervolume(points, ref, algorithm);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? result->value : std::numeric_limits<double>::quiet_NaN();
}

// Brute force on the grid that the points' coordinates and the reference cut space into: a cell is
// dominated when some point is <= its lower corner. Exact up to rounding; O((N+1)^M N M).
double GridHv(const Points& points, const std::vector<double>& ref) {
  const size_t m = ref.size();
  Points inside;
  for (const auto& p : points) {
    bool in = true;
    for (size_t c = 0; c < m; ++c) in = in && p[c] < ref[c];
    if (in) inside.push_back(p);
  }
  std::vector<std::vector<double>> cuts(m);
  for (size_t c = 0; c < m; ++c) {
    for (const auto& p : inside) cuts[c].push_back(p[c]);
    cuts[c].push_back(ref[c]);
    std::sort(cuts[c].begin(), cuts[c].end());
    cuts[c].erase(std::unique(cuts[c].begin(), cuts[c].end()), cuts[c].end());
  }
  std::vector<size_t> cell(m, 0);
  double total = 0.0;
  while (true) {
    bool valid = true;
    for (size_t c = 0; c < m; ++c) valid = valid && cell[c] + 1 < cuts[c].size();
    if (valid) {
      const bool dominated = std::any_of(inside.begin(), inside.end(), [&](const std::vector<double>& p) {
        for (size_t c = 0; c < m; ++c) {
          if (p[c] > cuts[c][cell[c]]) return false;
        }
        return true;
      });
      if (dominated) {
        double volume = 1.0;
        for (size_t c = 0; c < m; ++c) volume *= cuts[c][cell[c] + 1] - cuts[c][cell[c]];
        total += volume;
      }
    }
    size_t c = 0;
    while (c < m && ++cell[c] >= cuts[c].size()) cell[c++] = 0;
    if (c == m) break;
  }
  return total;
}

// Inclusion-exclusion over all non-empty subsets: sum (-1)^(|S|+1) vol(box of the max over S).
double InclusionExclusionHv(const Points& points, const std::vector<double>& ref) {
  const size_t n = points.size(), m = ref.size();
  double total = 0.0;
  for (uint64_t mask = 1; mask < (uint64_t{1} << n); ++mask) {
    std::vector<double> corner(m, -std::numeric_limits<double>::infinity());
    for (size_t i = 0; i < n; ++i) {
      if (mask >> i & 1) {
        for (size_t c = 0; c < m; ++c) corner[c] = std::max(corner[c], points[i][c]);
      }
    }
    double volume = 1.0;
    for (size_t c = 0; c < m; ++c) volume *= std::max(0.0, ref[c] - corner[c]);
    total += (std::popcount(mask) % 2 == 1 ? 1.0 : -1.0) * volume;
  }
  return total;
}

// Slicing reference (HSO without its tricks), independent of the library's code: cut along the last
// objective; each slab's cross-section is the (M-1)-D hypervolume of the points below it.
double SlicingHv(Points points, const std::vector<double>& ref, size_t m) {
  std::erase_if(points, [&](const std::vector<double>& p) {
    for (size_t c = 0; c < m; ++c) {
      if (p[c] >= ref[c]) return true;
    }
    return false;
  });
  if (points.empty()) return 0.0;
  if (m == 1) {
    double best = ref[0];
    for (const auto& p : points) best = std::min(best, p[0]);
    return ref[0] - best;
  }
  std::sort(points.begin(), points.end(), [m](const auto& a, const auto& b) { return a[m - 1] < b[m - 1]; });
  double total = 0.0;
  Points below;
  for (size_t i = 0; i < points.size(); ++i) {
    below.push_back(points[i]);
    const double top = i + 1 < points.size() ? points[i + 1][m - 1] : ref[m - 1];
    if (top > points[i][m - 1]) total += (top - points[i][m - 1]) * SlicingHv(below, ref, m - 1);
  }
  return total;
}

// n points, m objectives: "cube" uniform on [0, 1)^m, "sphere" on the unit sphere's positive orthant
// (mutually non-dominated), "grid" on {0, 0.25, ..., 1}^m (ties and duplicates everywhere).
Points RandomPoints(Rng& rng, size_t n, size_t m, const std::string& kind) {
  Points points(n, std::vector<double>(m));
  for (auto& p : points) {
    double norm = 0.0;
    for (double& v : p) {
      if (kind == "cube") {
        v = rng.Uniform01();
      } else if (kind == "grid") {
        v = 0.25 * static_cast<double>(rng.UniformInt(5));
      } else {
        v = std::fabs(rng.Normal());
        norm += v * v;
      }
    }
    if (kind == "sphere") {
      for (double& v : p) v /= std::sqrt(norm);
    }
  }
  return points;
}

double RelativeError(double a, double b) { return std::fabs(a - b) / std::max(1e-300, std::fabs(b)); }

TEST(HypervolumeTest, HandWorkedTwoD) {
  const std::vector<double> ref = {4, 4};
  // Staircase: (1,3) covers 3 x 1, (2,2) adds 2 x 1, (3,1) adds 1 x 1.
  Points points = {{1, 3}, {2, 2}, {3, 1}};
  EXPECT_DOUBLE_EQ(Hv(points, ref), 6.0);
  // A dominated point, a duplicate, points on or beyond the reference and one far left change nothing
  // but the last.
  points.insert(points.end(), {{3, 3}, {2, 2}, {4, 0}, {0, 4}, {5, -1}});
  const Result<HypervolumeResult> result = Hypervolume(points, ref);
  ASSERT_TRUE(result.ok());
  EXPECT_DOUBLE_EQ(result->value, 6.0);
  EXPECT_EQ(result->algorithm, Algo::kSweep2d);
  EXPECT_EQ(result->points_inside, 5u);
  EXPECT_DOUBLE_EQ(Hv({{0.5, 3.5}}, ref), 3.5 * 0.5);
  // Negative coordinates are ordinary numbers.
  EXPECT_DOUBLE_EQ(Hv({{-1, -1}}, {1, 0}), 2.0);
}

TEST(HypervolumeTest, HandWorkedThreeD) {
  const std::vector<double> ref = {2, 2, 2};
  EXPECT_DOUBLE_EQ(Hv({{1, 1, 1}}, ref), 1.0);
  // Three slabs 2 x 2 x 1: 3 * 4 - 3 * 2 (pairwise overlaps 2 x 1 x 1) + 1 (the unit cube) = 7.
  Points points = {{0, 0, 1}, {0, 1, 0}, {1, 0, 0}};
  EXPECT_DOUBLE_EQ(Hv(points, ref), 7.0);
  points.insert(points.end(), {{1, 1, 1}, {0, 1, 0}, {1, 0, 1}, {2, 0, 0}, {0, 0, 3}});
  const Result<HypervolumeResult> result = Hypervolume(points, ref);
  ASSERT_TRUE(result.ok());
  EXPECT_DOUBLE_EQ(result->value, 7.0);
  EXPECT_EQ(result->algorithm, Algo::kSweep3d);
  EXPECT_EQ(result->points_inside, 6u);
  // Boxes 3 x 2 x 1 and 1 x 2 x 3 overlapping in 1 x 2 x 1.
  EXPECT_DOUBLE_EQ(Hv({{1, 2, 3}, {3, 2, 1}}, {4, 4, 4}), 10.0);
  // Points sharing a z (the sweep's ties), one of them dominated: the staircase (1,2), (3,1) covers
  // 3 x 2 + 1 x 1 over a z extent of 3.
  EXPECT_DOUBLE_EQ(Hv({{1, 2, 1}, {3, 1, 1}, {2, 2, 1}}, {4, 4, 4}), 3 * (3 * 2 + 1 * 1));
}

TEST(HypervolumeTest, HandWorkedOtherDimensions) {
  const Result<HypervolumeResult> one = Hypervolume({{3}, {1}, {2}, {7}}, std::vector<double>{5});
  ASSERT_TRUE(one.ok());
  EXPECT_DOUBLE_EQ(one->value, 4.0);
  EXPECT_EQ(one->algorithm, Algo::kLength1d);
  EXPECT_DOUBLE_EQ(Hv({{0, 0, 0, 0}}, {1, 2, 3, 4}), 24.0);
  // 8 + 8 - 4.
  const Result<HypervolumeResult> four =
      Hypervolume({{1, 0, 0, 0}, {0, 1, 0, 0}}, std::vector<double>(4, 2.0));
  ASSERT_TRUE(four.ok());
  EXPECT_DOUBLE_EQ(four->value, 12.0);
  EXPECT_EQ(four->algorithm, Algo::kWfg);
  // The 5-D corners e_i of the unit cube inside [0, 2]^5: inclusion-exclusion by hand,
  // sum_k (-1)^(k+1) C(5, k) 2^(5-k) = 5*16 - 10*8 + 10*4 - 5*2 + 1 = 31.
  Points corners(5, std::vector<double>(5, 0.0));
  for (size_t i = 0; i < 5; ++i) corners[i][i] = 1.0;
  EXPECT_DOUBLE_EQ(Hv(corners, std::vector<double>(5, 2.0)), 31.0);
  corners.push_back({1, 1, 0, 0, 0});  // dominated
  corners.push_back(corners[2]);       // a duplicate
  EXPECT_DOUBLE_EQ(Hv(corners, std::vector<double>(5, 2.0)), 31.0);
}

TEST(HypervolumeTest, NothingInside) {
  for (size_t m = 1; m <= 5; ++m) {
    SCOPED_TRACE(m);
    const std::vector<double> ref(m, 1.0);
    const Result<HypervolumeResult> empty = Hypervolume({}, ref);
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(empty->value, 0.0);
    EXPECT_EQ(empty->points_inside, 0u);
    EXPECT_NE(empty->algorithm, Algo::kAuto);
    // On the reference's boundary in one objective: no strict domination.
    std::vector<double> on(m, 0.0);
    on[m - 1] = 1.0;
    const Result<HypervolumeResult> outside = Hypervolume({on, std::vector<double>(m, 3.0)}, ref);
    ASSERT_TRUE(outside.ok());
    EXPECT_EQ(outside->value, 0.0);
    EXPECT_EQ(outside->points_inside, 0u);
  }
}

TEST(HypervolumeTest, RefusesBadInput) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> ref = {1, 1};
  struct Case {
    Points points;
    std::vector<double> ref;
    Algo algorithm;
    const char* message;
  };
  const Case cases[] = {
      {{{0, 0}}, {}, Algo::kAuto, "reference is empty"},
      {{{0, 0}}, {1, nan}, Algo::kAuto, "reference[1]"},
      {{{0, 0}}, {inf, 1}, Algo::kAuto, "reference[0]"},
      {{{0, 0}, {0, 0, 0}}, ref, Algo::kAuto, "points[1] has 3"},
      {{{0}}, ref, Algo::kAuto, "points[0] has 1"},
      {{{0, 0}, {0, nan}}, ref, Algo::kAuto, "points[1][1]"},
      {{{-inf, 0}}, ref, Algo::kAuto, "points[0][0]"},
      {{{0, 0}}, ref, Algo::kSweep3d, "sweep_3d"},
      {{{0, 0, 0}}, {1, 1, 1}, Algo::kSweep2d, "sweep_2d"},
      {{{0}}, {1}, Algo::kWfg, "wfg"},
      {{{0, 0}}, ref, Algo::kLength1d, "length_1d"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    const Result<HypervolumeResult> result = Hypervolume(c.points, c.ref, c.algorithm);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(result.status().message().find(c.message), std::string::npos) << result.status().message();
  }
}

TEST(HypervolumeTest, MatchesBruteForceOnSmallRandomSets) {
  Rng rng(20240601);
  for (size_t m = 2; m <= 5; ++m) {
    for (const char* kind : {"cube", "sphere", "grid"}) {
      for (int trial = 0; trial < 12; ++trial) {
        SCOPED_TRACE(std::to_string(m) + " " + kind + " " + std::to_string(trial));
        const size_t n = 1 + rng.UniformInt(m >= 5 ? 8 : 11);
        const Points points = RandomPoints(rng, n, m, kind);
        std::vector<double> ref(m);
        for (double& r : ref) r = 0.8 + 0.4 * rng.Uniform01();  // some points fall outside
        const double grid = GridHv(points, ref);
        EXPECT_LT(RelativeError(InclusionExclusionHv(points, ref), grid), 1e-9);  // the references agree
        EXPECT_LT(RelativeError(Hv(points, ref), grid), 1e-12) << grid;
        EXPECT_LT(RelativeError(Hv(points, ref, Algo::kWfg), grid), 1e-12) << grid;
      }
    }
  }
}

TEST(HypervolumeTest, MatchesSlicingOnLargerRandomSets) {
  // Large enough for real limit sets at every WFG level, ties (grid) included.
  Rng rng(7);
  const struct { size_t m, n; } kSizes[] = {{2, 300}, {3, 150}, {4, 60}, {5, 28}, {6, 14}, {7, 10}, {8, 8}};
  for (const auto& [m, n] : kSizes) {
    for (const char* kind : {"cube", "sphere", "grid"}) {
      SCOPED_TRACE(std::to_string(m) + " " + kind);
      const Points points = RandomPoints(rng, n, m, kind);
      const std::vector<double> ref(m, 1.1);
      const double slicing = SlicingHv(points, ref, m);
      EXPECT_LT(RelativeError(Hv(points, ref), slicing), 1e-12) << slicing;
      EXPECT_LT(RelativeError(Hv(points, ref, Algo::kWfg), slicing), 1e-12) << slicing;
    }
  }
}

TEST(HypervolumeTest, AlgorithmsAgreeWhereTheyOverlap) {
  Rng rng(99);
  for (const char* kind : {"cube", "sphere", "grid"}) {
    for (size_t m : {2, 3}) {
      SCOPED_TRACE(std::to_string(m) + " " + kind);
      const Points points = RandomPoints(rng, m == 2 ? 2000 : 600, m, kind);
      std::vector<double> ref(m, 1.1);
      const double sweep = Hv(points, ref, m == 2 ? Algo::kSweep2d : Algo::kSweep3d);
      // WFG slicing the last objective, then the next sweep down.
      EXPECT_LT(RelativeError(Hv(points, ref, Algo::kWfg), sweep), 1e-12);
      // Lifted by a constant extra objective 0.3 below a reference of 1.5: the volume times 1.2,
      // through the next algorithm up (3-D sweep, WFG).
      Points lifted = points;
      for (auto& p : lifted) p.push_back(0.3);
      ref.push_back(1.5);
      EXPECT_LT(RelativeError(Hv(lifted, ref), sweep * 1.2), 1e-12);
      EXPECT_LT(RelativeError(Hv(lifted, ref, Algo::kWfg), sweep * 1.2), 1e-12);
      // Lifted twice (4-D or 5-D WFG with its limit-set filtering).
      for (auto& p : lifted) p.push_back(0.5);
      ref.push_back(1.0);
      EXPECT_LT(RelativeError(Hv(lifted, ref), sweep * 1.2 * 0.5), 1e-12);
    }
  }
}

TEST(HypervolumeTest, InvariantUnderOrderDominatedPointsAndDuplicates) {
  Rng rng(3);
  for (size_t m = 2; m <= 5; ++m) {
    SCOPED_TRACE(m);
    Points points = RandomPoints(rng, m <= 3 ? 500 : 120, m, "sphere");
    const std::vector<double> ref(m, 1.1);
    const double base = Hv(points, ref);
    const size_t n = points.size();
    for (size_t i = 0; i < n; i += 3) {
      points.push_back(points[i]);  // duplicate
      std::vector<double> worse = points[i];
      worse[rng.UniformInt(m)] += 0.05;  // dominated
      points.push_back(worse);
    }
    for (size_t i = points.size(); i > 1; --i) std::swap(points[i - 1], points[rng.UniformInt(i)]);
    EXPECT_LT(RelativeError(Hv(points, ref), base), 1e-12);
    // Sorting the front away leaves the same volume.
    Points front;
    for (size_t i : ParetoFrontIndices(points)) front.push_back(points[i]);
    EXPECT_LT(RelativeError(Hv(front, ref), base), 1e-12);
  }
}

TEST(HypervolumeTest, ExactTrueFrontValuesMatchDenseSamples) {
  // The sampled front's volume approaches the analytic one from below, the gap shrinking with the
  // spacing (2-D: ~ spacing / 2 times the front's extent; 3-D lattices: ~ 1 / H).
  const struct {
    const char* name;
    size_t n;
    double analytic;  // at r = 1.1, as documented in problem.h
    double gap;       // an upper bound on analytic - sampled at this n
  } kCases[] = {
      {"zdt1", 20001, 0.8766666667, 3e-5},  {"zdt2", 20001, 0.5433333333, 3e-5},
      {"zdt3", 20001, 1.3317629087, 2e-5},  {"zdt4", 20001, 0.8766666667, 3e-5},
      {"zdt6", 20001, 0.5078775147, 2e-5},  {"dtlz1", 20301, 1.3101666667, 4e-4},
      {"dtlz2", 20301, 0.8074012244, 5e-3},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    const Result<double> analytic = problems::TrueFrontHypervolume(c.name);
    ASSERT_TRUE(analytic.ok());
    EXPECT_NEAR(*analytic, c.analytic, 1e-10);
    const Result<Points> front = problems::SampleTrueFront(c.name, c.n);
    ASSERT_TRUE(front.ok());
    // Every sampled point is on the front: none dominates another.
    EXPECT_EQ(ParetoFrontIndices(*front).size(), front->size());
    const std::vector<double> ref(front->at(0).size(), 1.1);
    const double sampled = Hv(*front, ref);
    EXPECT_LT(sampled, *analytic);
    EXPECT_GT(sampled, *analytic - c.gap);
    // The gap is first order in the spacing, so Richardson's extrapolation from a coarser sample
    // (4 times the spacing in 2-D; H = 99 instead of 200 in 3-D) must land on the analytic value, far
    // closer than either sample: the samples converge to it, not to something near it.
    const bool two = front->at(0).size() == 2;
    const Result<Points> coarse = problems::SampleTrueFront(c.name, (c.n - 1) / 4 + 1);
    ASSERT_TRUE(coarse.ok());
    ASSERT_EQ(coarse->size(), two ? 5001u : 5050u);
    const double fine_steps = two ? 4.0 : 200.0, coarse_steps = two ? 1.0 : 99.0;
    const double extrapolated =
        (fine_steps * sampled - coarse_steps * Hv(*coarse, ref)) / (fine_steps - coarse_steps);
    EXPECT_NEAR(extrapolated, *analytic, two ? 3e-7 : 6e-5);
  }
}

}  // namespace
}  // namespace hpo::search

namespace hpo::search {
namespace {

TEST(WorstPlusTenthReference, IsTheWorstValuePlusATenthOfTheRangePerObjective) {
  // f1 over [1, 4], f2 over [-3, 2]: 4 + 0.3 and 2 + 0.5.
  const auto reference = WorstPlusTenthReference({{1, 2}, {4, -3}, {2, 0}});
  ASSERT_TRUE(reference.ok()) << reference.status().ToString();
  EXPECT_EQ(*reference, (std::vector<double>{4.3, 2.5}));
  // The hypervolume over it of the same points: every point lies strictly inside.
  auto hv = Hypervolume({{1, 2}, {4, -3}, {2, 0}}, *reference);
  ASSERT_TRUE(hv.ok());
  EXPECT_EQ(hv->points_inside, 3u);
}

TEST(WorstPlusTenthReference, AnObjectiveWithoutRangeTakesATenthOfItsValueOrOne) {
  const auto reference = WorstPlusTenthReference({{5, 0, -2}});
  ASSERT_TRUE(reference.ok());
  EXPECT_DOUBLE_EQ((*reference)[0], 5.5);
  EXPECT_DOUBLE_EQ((*reference)[1], 1.0);
  EXPECT_DOUBLE_EQ((*reference)[2], -1.8);
}

TEST(WorstPlusTenthReference, OnceEachObjectiveHasARangeItOnlyMovesOutwardAndTheHypervolumeNeverDrops) {
  Rng rng(17);
  Points points;
  double last = 0;
  std::vector<double> last_reference;
  for (int i = 0; i < 200; ++i) {
    points.push_back({rng.Uniform01() * (1 + i), rng.Uniform01() - 0.01 * i, rng.Uniform01()});
    const auto reference = WorstPlusTenthReference(points);
    ASSERT_TRUE(reference.ok());
    const double hv = Hv(points, *reference);
    if (i >= 2) {  // once every objective has a range (the first point alone takes a tenth of its value)
      for (size_t c = 0; c < last_reference.size(); ++c) EXPECT_GE((*reference)[c], last_reference[c]);
      EXPECT_GE(hv, last * (1 - 1e-12)) << "after point " << i;  // equal up to the order of the sums
    }
    last = hv;
    last_reference = *reference;
  }
}

TEST(WorstPlusTenthReference, RefusesWhatItCannotBoundAndSaysWhy) {
  EXPECT_EQ(WorstPlusTenthReference({}).status().message(), "reference point: no points");
  EXPECT_EQ(WorstPlusTenthReference({{1, 2}, {1}}).status().message(),
            "reference point: points[1] has 1 values, points[0] 2");
  EXPECT_EQ(WorstPlusTenthReference({{1, std::nan("")}}).status().message(),
            "reference point: points[0][1] is not finite");
  const double big = std::numeric_limits<double>::max();
  EXPECT_EQ(WorstPlusTenthReference({{-big}, {big}}).status().message(),
            "reference point: objective 0 overflows");
}

}  // namespace
}  // namespace hpo::search
