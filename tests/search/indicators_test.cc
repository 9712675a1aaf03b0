#include "search/indicators.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "base/rng.h"

namespace hpo::search {
namespace {

using Points = std::vector<std::vector<double>>;

double IgdPlusOf(const Points& points, const Points& front) {
  const Result<double> value = IgdPlus(points, front);
  EXPECT_TRUE(value.ok()) << value.status().ToString();
  return value.ok() ? *value : std::nan("");
}

double IgdOf(const Points& points, const Points& front) {
  const Result<double> value = Igd(points, front);
  EXPECT_TRUE(value.ok()) << value.status().ToString();
  return value.ok() ? *value : std::nan("");
}

TEST(IndicatorsTest, ZeroForTheFrontItself) {
  const Points front = {{0, 1}, {0.25, 0.5}, {0.5, 0.25}, {1, 0}};
  EXPECT_EQ(IgdPlusOf(front, front), 0.0);
  EXPECT_EQ(IgdOf(front, front), 0.0);
  // IGD+ is also 0 for a set that dominates every reference point; IGD is not.
  const Points better = {{-1, -1}};
  EXPECT_EQ(IgdPlusOf(better, front), 0.0);
  EXPECT_GT(IgdOf(better, front), 1.0);
}

TEST(IndicatorsTest, HandWorkedTwoD) {
  const Points front = {{0, 1}, {1, 0}};
  // One point (1, 1): from (0, 1) it is worse by 1 in f1 only, from (1, 0) by 1 in f2 only.
  EXPECT_DOUBLE_EQ(IgdPlusOf({{1, 1}}, front), 1.0);
  EXPECT_DOUBLE_EQ(IgdOf({{1, 1}}, front), 1.0);
  // (0.5, 0.5): d+ = 0.5 to each (worse in one objective, better in the other); d = sqrt(0.5).
  EXPECT_DOUBLE_EQ(IgdPlusOf({{0.5, 0.5}}, front), 0.5);
  EXPECT_DOUBLE_EQ(IgdOf({{0.5, 0.5}}, front), std::sqrt(0.5));
  // Two points, each nearest to one reference point: (0, 1.5) is 0.5 above (0, 1); (2, 0) is 1 right
  // of (1, 0). Means: (0.5 + 1) / 2.
  EXPECT_DOUBLE_EQ(IgdPlusOf({{0, 1.5}, {2, 0}}, front), 0.75);
  EXPECT_DOUBLE_EQ(IgdOf({{0, 1.5}, {2, 0}}, front), 0.75);
  // (3, 4) from (0, 0): d+ = d = 5 (worse in both).
  EXPECT_DOUBLE_EQ(IgdPlusOf({{3, 4}}, {{0, 0}}), 5.0);
  // (3, -4) from (0, 0): d+ = 3 (the better objective does not count), d = 5.
  EXPECT_DOUBLE_EQ(IgdPlusOf({{3, -4}}, {{0, 0}}), 3.0);
  EXPECT_DOUBLE_EQ(IgdOf({{3, -4}}, {{0, 0}}), 5.0);
}

TEST(IndicatorsTest, HandWorkedThreeD) {
  const Points front = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
  // (1, 1, 1): d+ to each corner = sqrt(0 + 1 + 1).
  EXPECT_DOUBLE_EQ(IgdPlusOf({{1, 1, 1}}, front), std::sqrt(2.0));
  // Adding (1, 0, 0) itself zeroes that reference point's term: (0 + 1 + 1) / 3 with d+((0,1,0),
  // (1,0,0)) = 1 as (1,0,0) is worse by 1 in f1 only.
  EXPECT_DOUBLE_EQ(IgdPlusOf({{1, 1, 1}, {1, 0, 0}}, front), 2.0 / 3.0);
}

TEST(IndicatorsTest, WeakParetoComplianceOnRandomSets) {
  // Worsening a set (moving every point up in some objective) never lowers IGD+.
  Rng rng(11);
  Points front;
  for (int i = 0; i <= 50; ++i) front.push_back({i / 50.0, 1.0 - std::sqrt(i / 50.0)});
  for (int trial = 0; trial < 50; ++trial) {
    Points set(10, std::vector<double>(2));
    for (auto& p : set) p = {rng.Uniform01(), rng.Uniform01()};
    Points worse = set;
    for (auto& p : worse) p[rng.UniformInt(2)] += rng.Uniform01();
    EXPECT_LE(IgdPlusOf(set, front), IgdPlusOf(worse, front));
  }
}

TEST(IndicatorsTest, RefusesBadInput) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Points front = {{0, 1}, {1, 0}};
  struct Case {
    Points points, front;
    const char* message;
  };
  const Case cases[] = {
      {{{0, 0}}, {}, "reference_front is empty"},
      {{}, front, "points is empty"},
      {{{0, 0}}, {{}}, "no objectives"},
      {{{0, 0, 0}}, front, "points[0] has 3"},
      {{{0, 0}}, {{0, 1}, {1}}, "reference_front[1] has 1"},
      {{{0, nan}}, front, "points[0][1]"},
      {{{0, 0}}, {{0, std::numeric_limits<double>::infinity()}}, "reference_front[0][1]"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    for (const Result<double>& r : {IgdPlus(c.points, c.front), Igd(c.points, c.front)}) {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(r.status().message().find(c.message), std::string::npos) << r.status().message();
    }
  }
}

}  // namespace
}  // namespace hpo::search
