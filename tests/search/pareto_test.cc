#include "search/pareto.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "base/rng.h"

namespace hpo::search {
namespace {

using Points = std::vector<std::vector<double>>;
using Indices = std::vector<size_t>;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

// The definition, O(N^2): points nothing dominates.
Indices BruteFront(const Points& points) {
  Indices front;
  for (size_t i = 0; i < points.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < points.size() && !dominated; ++j) dominated = Dominates(points[j], points[i]);
    if (!dominated) front.push_back(i);
  }
  return front;
}

// The definition of the sorting: peel off the front of what remains, again and again.
std::vector<Indices> BruteFronts(const Points& points) {
  std::vector<Indices> fronts;
  std::vector<bool> taken(points.size(), false);
  for (size_t left = points.size(); left > 0;) {
    Indices front;
    for (size_t i = 0; i < points.size(); ++i) {
      if (taken[i]) continue;
      bool dominated = false;
      for (size_t j = 0; j < points.size() && !dominated; ++j) {
        dominated = !taken[j] && Dominates(points[j], points[i]);
      }
      if (!dominated) front.push_back(i);
    }
    for (size_t i : front) taken[i] = true;
    left -= front.size();
    fronts.push_back(front);
  }
  return fronts;
}

TEST(ParetoTest, Dominates) {
  using V = std::vector<double>;
  EXPECT_TRUE(Dominates(V{1, 2}, V{2, 3}));
  EXPECT_TRUE(Dominates(V{1, 2}, V{1, 3}));
  EXPECT_FALSE(Dominates(V{1, 2}, V{1, 2}));  // identical: neither
  EXPECT_FALSE(Dominates(V{1, 3}, V{2, 2}));
  EXPECT_FALSE(Dominates(V{2, 3}, V{1, 2}));
  EXPECT_TRUE(Dominates(V{0, 0, 0}, V{0, 0, 1}));
  EXPECT_TRUE(Dominates(V{1e300, 1}, V{kInf, 1}));
  EXPECT_TRUE(Dominates(V{kInf, kInf}, V{kNan, 0}));  // NaN is dominated by anything without NaN
  EXPECT_FALSE(Dominates(V{kNan, 0}, V{kInf, kInf}));
  EXPECT_FALSE(Dominates(V{kNan, 0}, V{kNan, 1}));
}

TEST(ParetoTest, HandMadeFronts) {
  // (1,5) (2,3) (4,1) are a front; (3,4) is dominated by (2,3); (5,5) by all; (2,3) twice: both kept.
  const Points points = {{3, 4}, {1, 5}, {2, 3}, {5, 5}, {4, 1}, {2, 3}};
  EXPECT_EQ(ParetoFrontIndices(points), (Indices{1, 2, 4, 5}));
  const NondominatedSorting sorting = NondominatedSort(points);
  EXPECT_EQ(sorting.fronts, (std::vector<Indices>{{1, 2, 4, 5}, {0}, {3}}));
  EXPECT_EQ(sorting.rank, (Indices{1, 0, 0, 2, 0, 0}));

  // Ties in one objective: (1,2) dominates (1,3) and (2,2); (0,9) stays.
  const Points ties = {{1, 3}, {2, 2}, {1, 2}, {0, 9}, {2, 2}};
  EXPECT_EQ(ParetoFrontIndices(ties), (Indices{2, 3}));
  EXPECT_EQ(NondominatedSort(ties).fronts, (std::vector<Indices>{{2, 3}, {0, 1, 4}}));

  // A constant objective: only the least of the other one survives (both copies of it).
  const Points constant = {{3, 7}, {1, 7}, {2, 7}, {1, 7}};
  EXPECT_EQ(ParetoFrontIndices(constant), (Indices{1, 3}));
  EXPECT_EQ(NondominatedSort(constant).fronts, (std::vector<Indices>{{1, 3}, {2}, {0}}));

  // Three objectives.
  const Points three = {{1, 2, 3}, {3, 2, 1}, {2, 2, 2}, {2, 3, 3}, {1, 2, 3}, {4, 4, 4}};
  EXPECT_EQ(ParetoFrontIndices(three), (Indices{0, 1, 2, 4}));
  EXPECT_EQ(NondominatedSort(three).fronts, (std::vector<Indices>{{0, 1, 2, 4}, {3}, {5}}));
}

TEST(ParetoTest, EmptyAndSingle) {
  EXPECT_TRUE(ParetoFrontIndices({}).empty());
  EXPECT_TRUE(NondominatedSort({}).fronts.empty());
  EXPECT_EQ(ParetoFrontIndices({{1, 1}}), (Indices{0}));
  EXPECT_EQ(NondominatedSort({{1, 1, 1}}).rank, (Indices{0}));
}

TEST(ParetoTest, NanPointsComeLast) {
  for (const Points& points : {Points{{kNan, 0}, {1, 1}, {0, kNan}, {2, 0}, {3, 3}},
                               Points{{kNan, 0, 0}, {1, 1, 1}, {0, kNan, 0}, {2, 0, 1}, {3, 3, 3}}}) {
    EXPECT_EQ(ParetoFrontIndices(points), (Indices{1, 3}));
    EXPECT_EQ(NondominatedSort(points).fronts, (std::vector<Indices>{{1, 3}, {4}, {0, 2}}));
  }
  const Points all_nan = {{kNan, 0}, {0, kNan}};
  EXPECT_EQ(ParetoFrontIndices(all_nan), (Indices{0, 1}));
  EXPECT_EQ(NondominatedSort(all_nan).fronts, (std::vector<Indices>{{0, 1}}));
}

TEST(ParetoTest, InfinitiesCompareAsNumbers) {
  const Points points = {{kInf, 0}, {0, kInf}, {kInf, kInf}, {1, 1}};
  EXPECT_EQ(ParetoFrontIndices(points), (Indices{0, 1, 3}));
  EXPECT_EQ(NondominatedSort(points).fronts, (std::vector<Indices>{{0, 1, 3}, {2}}));
}

// Random sets against the definitions, in 2 and 3 objectives, continuous and on a small integer grid
// (many ties and duplicates).
TEST(ParetoTest, MatchesBruteForceOnRandomSets) {
  Rng rng(2024);
  for (int set = 0; set < 3000; ++set) {
    const size_t num_objectives = 2 + set % 2;
    const bool grid = set % 4 >= 2;
    const size_t n = 1 + rng.UniformInt(60);
    Points points(n, std::vector<double>(num_objectives));
    for (auto& p : points) {
      for (double& v : p) v = grid ? static_cast<double>(rng.UniformInt(5)) : rng.Uniform01();
      if (set % 50 == 0 && rng.UniformInt(10) == 0) p[0] = kNan;
    }
    SCOPED_TRACE("set " + std::to_string(set));
    ASSERT_EQ(ParetoFrontIndices(points), BruteFront(points));
    const NondominatedSorting sorting = NondominatedSort(points);
    const std::vector<Indices> expected = BruteFronts(points);
    ASSERT_EQ(sorting.fronts, expected);
    for (size_t f = 0; f < expected.size(); ++f) {
      for (size_t i : expected[f]) ASSERT_EQ(sorting.rank[i], f);
    }
  }
}

TEST(ParetoTest, CrowdingDistanceHandWorked) {
  // Ranges 6 and 6. (1,3): (4-0)/6 + (6-1)/6 = 1.5. (4,1): (6-1)/6 + (3-0)/6 = 4/3.
  const Points points = {{4, 1}, {0, 6}, {9, 9}, {1, 3}, {6, 0}};
  const std::vector<double> d = CrowdingDistance(points, Indices{0, 1, 3, 4});
  ASSERT_EQ(d.size(), 4u);
  EXPECT_DOUBLE_EQ(d[0], 4.0 / 3.0);
  EXPECT_EQ(d[1], kInf);
  EXPECT_DOUBLE_EQ(d[2], 1.5);
  EXPECT_EQ(d[3], kInf);
}

TEST(ParetoTest, CrowdingDistanceConstantObjectiveHasNoNan) {
  // f2 constant: only f1 counts; ranges 4.
  const Points points = {{0, 5}, {1, 5}, {4, 5}, {2, 5}};
  const std::vector<double> d = CrowdingDistance(points, Indices{0, 1, 2, 3});
  EXPECT_EQ(d[0], kInf);
  EXPECT_DOUBLE_EQ(d[1], 0.5);  // (2 - 0) / 4
  EXPECT_EQ(d[2], kInf);
  EXPECT_DOUBLE_EQ(d[3], 0.75);  // (4 - 1) / 4
  // All identical: nothing to spread, all 0.
  const Points same = {{1, 1, 1}, {1, 1, 1}, {1, 1, 1}};
  EXPECT_EQ(CrowdingDistance(same, Indices{0, 1, 2}), (std::vector<double>{0, 0, 0}));
  // One point alone is an extreme; two distinct points are both extremes.
  EXPECT_EQ(CrowdingDistance(points, Indices{2}), (std::vector<double>{kInf}));
  EXPECT_EQ(CrowdingDistance(points, Indices{0, 2}), (std::vector<double>{kInf, kInf}));
  EXPECT_TRUE(CrowdingDistance(points, Indices{}).empty());
}

TEST(ParetoTest, CrowdingDistanceWithInfinitiesAndNan) {
  const Points points = {{0, kInf}, {1, 2}, {2, 1}, {kInf, 0}, {kNan, 0}};
  const std::vector<double> d = CrowdingDistance(points, Indices{0, 1, 2, 3, 4});
  for (double v : d) EXPECT_FALSE(std::isnan(v));
  EXPECT_EQ(d[0], kInf);
  EXPECT_EQ(d[3], kInf);
  EXPECT_EQ(d[4], 0.0);
  // (1,2): f1 neighbours 0 and 2 over an infinite range, f2 neighbours 1 and inf: both skipped or 0.
  EXPECT_EQ(d[1], 0.0);
  EXPECT_EQ(d[2], 0.0);
}

TEST(ParetoTest, CrowdingDistanceNeverNanOnRandomGrids) {
  Rng rng(5);
  for (int set = 0; set < 500; ++set) {
    Points points(1 + rng.UniformInt(20), std::vector<double>(3));
    for (auto& p : points) {
      for (double& v : p) v = static_cast<double>(rng.UniformInt(3));
    }
    for (const Indices& front : NondominatedSort(points).fronts) {
      for (double v : CrowdingDistance(points, front)) ASSERT_GE(v, 0.0);  // false for NaN
    }
  }
}

}  // namespace
}  // namespace hpo::search
