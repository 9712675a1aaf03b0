#include "problems/problem.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace hpo::problems {
namespace {

using std::numbers::pi;

Problem Make(const std::string& name, size_t dims = 0) {
  Result<Problem> problem = MakeProblem(name, dims);
  EXPECT_TRUE(problem.ok()) << problem.status().ToString();
  return std::move(problem).value();
}

// x1 = `first`, every other variable `rest`.
std::vector<double> Point(const Problem& p, double first, double rest) {
  std::vector<double> x(p.dims, rest);
  x[0] = first;
  return x;
}

TEST(ProblemTest, UsualSizesAndBoxes) {
  const struct {
    const char* name;
    size_t dims, objectives;
    double tail_lower, tail_upper;
  } kCases[] = {{"zdt1", 30, 2, 0, 1}, {"zdt2", 30, 2, 0, 1}, {"zdt3", 30, 2, 0, 1}, {"zdt4", 10, 2, -5, 5},
                {"zdt6", 10, 2, 0, 1}, {"dtlz1", 7, 3, 0, 1}, {"dtlz2", 12, 3, 0, 1}};
  ASSERT_EQ(ProblemNames().size(), std::size(kCases));
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    const Problem p = Make(c.name);
    EXPECT_EQ(p.name, c.name);
    EXPECT_EQ(p.dims, c.dims);
    EXPECT_EQ(p.num_objectives, c.objectives);
    ASSERT_EQ(p.lower.size(), c.dims);
    ASSERT_EQ(p.upper.size(), c.dims);
    EXPECT_EQ(p.lower[0], 0.0);
    EXPECT_EQ(p.upper[0], 1.0);
    for (size_t i = 1; i < c.dims; ++i) {
      EXPECT_EQ(p.lower[i], c.tail_lower);
      EXPECT_EQ(p.upper[i], c.tail_upper);
    }
    EXPECT_EQ(p.evaluate(Point(p, 0.3, 0.4)).size(), c.objectives);
  }
}

TEST(ProblemTest, ExplicitDims) {
  EXPECT_EQ(Make("zdt1", 2).dims, 2u);
  EXPECT_EQ(Make("dtlz2", 3).dims, 3u);
  EXPECT_EQ(Make("zdt4", 100).lower.size(), 100u);
}

TEST(ProblemTest, RefusesUnknownNamesAndBadDims) {
  for (const auto& [name, dims] :
       std::vector<std::pair<std::string, size_t>>{{"zdt5", 0},
                                                   {"ZDT1", 0},
                                                   {"", 0},
                                                   {"zdt1", 1},
                                                   {"zdt6", 1},
                                                   {"dtlz1", 2},
                                                   {"dtlz2", 1},
                                                   {"zdt1", kMaxProblemDims + 1}}) {
    SCOPED_TRACE(name + " " + std::to_string(dims));
    const Result<Problem> p = MakeProblem(name, dims);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find(name.empty() ? "\"\"" : name), std::string::npos)
        << p.status().message();
  }
}

TEST(ProblemTest, ZdtOnTheTrueFront) {
  // With g = 1 (tail at its optimum) f2 = h(f1): the textbook fronts.
  for (double f1 : {0.0, 0.04, 0.25, 0.5, 0.81, 1.0}) {
    SCOPED_TRACE(f1);
    std::vector<double> f = Make("zdt1").evaluate(Point(Make("zdt1"), f1, 0.0));
    EXPECT_DOUBLE_EQ(f[0], f1);
    EXPECT_NEAR(f[1], 1.0 - std::sqrt(f1), 1e-15);
    f = Make("zdt2").evaluate(Point(Make("zdt2"), f1, 0.0));
    EXPECT_NEAR(f[1], 1.0 - f1 * f1, 1e-15);
    f = Make("zdt3").evaluate(Point(Make("zdt3"), f1, 0.0));
    EXPECT_NEAR(f[1], 1.0 - std::sqrt(f1) - f1 * std::sin(10 * pi * f1), 1e-14);
    f = Make("zdt4").evaluate(Point(Make("zdt4"), f1, 0.0));
    EXPECT_DOUBLE_EQ(f[0], f1);
    EXPECT_NEAR(f[1], 1.0 - std::sqrt(f1), 1e-13);
  }
}

TEST(ProblemTest, ZdtOffTheFront) {
  // zdt1 with the tail at 1: g = 10, f2 = 10 (1 - sqrt(f1 / 10)).
  std::vector<double> f = Make("zdt1").evaluate(Point(Make("zdt1"), 0.4, 1.0));
  EXPECT_DOUBLE_EQ(f[0], 0.4);
  EXPECT_NEAR(f[1], 10.0 * (1.0 - std::sqrt(0.04)), 1e-13);  // = 8
  EXPECT_NEAR(f[1], 8.0, 1e-13);
  // zdt2 with 3 variables, tail (0.5, 1): g = 1 + 9 * 0.75 = 7.75; f2 = 7.75 (1 - (0.5 / 7.75)^2).
  f = Make("zdt2", 3).evaluate(std::vector<double>{0.5, 0.5, 1.0});
  EXPECT_NEAR(f[1], 7.75 * (1.0 - (0.5 / 7.75) * (0.5 / 7.75)), 1e-13);
  // zdt4 with the tail at 5: each term is 25 - 10 cos(20 pi) = 15, so g = 1 + 90 + 9 * 15 = 226.
  f = Make("zdt4").evaluate(Point(Make("zdt4"), 0.0, 5.0));
  EXPECT_NEAR(f[1], 226.0, 1e-10);
  // zdt4 with the tail at 0.5: cos(2 pi) = 1 again, each term 0.25 - 10, g = 1 + 90 - 87.75 = 3.25.
  f = Make("zdt4").evaluate(Point(Make("zdt4"), 0.25, 0.5));
  EXPECT_NEAR(f[1], 3.25 * (1.0 - std::sqrt(0.25 / 3.25)), 1e-12);
}

TEST(ProblemTest, Zdt6) {
  const Problem p = Make("zdt6");
  // x1 = 0: sin(0) = 0 so f1 = 1; with the tail 0, g = 1 and f2 = 0.
  std::vector<double> f = p.evaluate(Point(p, 0.0, 0.0));
  EXPECT_DOUBLE_EQ(f[0], 1.0);
  EXPECT_NEAR(f[1], 0.0, 1e-15);
  // x1 = 1/12: sin(pi/2) = 1 so f1 = 1 - exp(-1/3); tail 1: g = 1 + 9 = 10.
  f = p.evaluate(Point(p, 1.0 / 12.0, 1.0));
  const double f1 = 1.0 - std::exp(-1.0 / 3.0);
  EXPECT_NEAR(f[0], f1, 1e-15);
  EXPECT_NEAR(f[1], 10.0 * (1.0 - (f1 / 10.0) * (f1 / 10.0)), 1e-13);
  // Tail 1/16: g = 1 + 9 * (1/16)^0.25 = 5.5.
  f = p.evaluate(Point(p, 1.0 / 12.0, 1.0 / 16.0));
  EXPECT_NEAR(f[1], 5.5 * (1.0 - (f1 / 5.5) * (f1 / 5.5)), 1e-13);
}

TEST(ProblemTest, Dtlz1) {
  const Problem p = Make("dtlz1");
  // Tail 0.5: g = 100 (5 + 5 * (0 - 1)) = 0, and the objectives sum to 0.5 (the linear front).
  std::vector<double> f = p.evaluate(Point(p, 0.5, 0.5));
  EXPECT_NEAR(f[0], 0.125, 1e-15);
  EXPECT_NEAR(f[1], 0.125, 1e-15);
  EXPECT_NEAR(f[2], 0.25, 1e-15);
  f = p.evaluate(std::vector<double>{0.2, 0.7, 0.5, 0.5, 0.5, 0.5, 0.5});
  EXPECT_NEAR(f[0], 0.5 * 0.2 * 0.7, 1e-15);
  EXPECT_NEAR(f[1], 0.5 * 0.2 * 0.3, 1e-15);
  EXPECT_NEAR(f[2], 0.5 * 0.8, 1e-15);
  EXPECT_NEAR(f[0] + f[1] + f[2], 0.5, 1e-15);
  // Tail 0: each term is 0.25 - cos(-10 pi) = -0.75, g = 100 (5 - 3.75) = 125, scale 0.5 * 126 = 63.
  // Tail 1 gives the same g; x1 = x2 = 1 puts everything on f1.
  f = p.evaluate(Point(p, 1.0, 1.0));
  EXPECT_NEAR(f[0], 63.0, 1e-9);
  EXPECT_NEAR(f[1], 0.0, 1e-9);
  EXPECT_NEAR(f[2], 0.0, 1e-9);
  f = p.evaluate(std::vector<double>{0.5, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0});
  EXPECT_NEAR(f[0], 63.0 * 0.5, 1e-9);
  EXPECT_NEAR(f[1], 0.0, 1e-9);
  EXPECT_NEAR(f[2], 63.0 * 0.5, 1e-9);
}

TEST(ProblemTest, Dtlz2) {
  const Problem p = Make("dtlz2");
  // Tail 0.5: g = 0, the front is the unit sphere's positive octant.
  std::vector<double> f = p.evaluate(Point(p, 0.5, 0.5));
  EXPECT_NEAR(f[0], 0.5, 1e-15);
  EXPECT_NEAR(f[1], 0.5, 1e-15);
  EXPECT_NEAR(f[2], std::sqrt(0.5), 1e-15);
  for (double x1 : {0.0, 0.1, 0.6, 1.0}) {
    for (double x2 : {0.0, 0.3, 1.0}) {
      std::vector<double> x(12, 0.5);
      x[0] = x1;
      x[1] = x2;
      f = p.evaluate(x);
      EXPECT_NEAR(f[0] * f[0] + f[1] * f[1] + f[2] * f[2], 1.0, 1e-14);
    }
  }
  // Tail 0 or 1: g = 10 * 0.25 = 2.5, radius 3.5; x1 = 1 puts everything on f3.
  f = p.evaluate(Point(p, 1.0, 0.0));
  EXPECT_NEAR(f[0], 0.0, 1e-14);
  EXPECT_NEAR(f[1], 0.0, 1e-14);
  EXPECT_NEAR(f[2], 3.5, 1e-14);
  f = p.evaluate(std::vector<double>{0.0, 0.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  EXPECT_NEAR(f[0], 3.5, 1e-14);
  EXPECT_NEAR(f[1], 0.0, 1e-14);
  EXPECT_NEAR(f[2], 0.0, 1e-14);
}

TEST(ProblemTest, ProblemIsACopyableValue) {
  Problem copy;
  {
    const Problem p = Make("zdt1", 2);
    copy = p;
  }
  const std::vector<double> f = copy.evaluate(std::vector<double>{0.25, 0.0});
  EXPECT_DOUBLE_EQ(f[1], 0.5);
}

}  // namespace
}  // namespace hpo::problems
