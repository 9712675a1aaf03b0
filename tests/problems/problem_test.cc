#include "problems/problem.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "problems/classic.h"

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
  ASSERT_EQ(ProblemNames().size(), std::size(kCases) + kNumClassic);  // and the classic functions
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

TEST(ProblemTest, ClassicFunctionsAreOneObjectiveProblems) {
  auto shifted = MakeProblem("f9_rastrigin", 10, 42);
  ASSERT_TRUE(shifted.ok()) << shifted.status().ToString();
  EXPECT_EQ(shifted->num_objectives, 1u);
  EXPECT_EQ(shifted->dims, 10u);
  EXPECT_EQ(shifted->lower[3], -5.12);
  auto classic = MakeClassic(9, 10, 42);
  ASSERT_TRUE(classic.ok());
  EXPECT_EQ(shifted->evaluate(classic->optimum), std::vector<double>{0.0});
  EXPECT_GT(shifted->evaluate(std::vector<double>(10, 0.0))[0], 1.0);  // the origin is not the optimum
  EXPECT_EQ(MakeProblem("f1_sphere", 0)->dims, kClassicDims);
  auto refused = MakeProblem("zdt1", 30, 7);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("zdt1"), std::string::npos);
  EXPECT_FALSE(MakeProblem("f14_nothing", 30).ok());
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

using Points = std::vector<std::vector<double>>;

Points Front(const std::string& name, size_t n) {
  Result<Points> front = SampleTrueFront(name, n);
  EXPECT_TRUE(front.ok()) << front.status().ToString();
  return front.ok() ? std::move(front).value() : Points{};
}

double Zdt3H(double f) { return 1.0 - std::sqrt(f) - f * std::sin(10.0 * pi * f); }

TEST(TrueFrontTest, TwoObjectiveFrontsFollowTheirCurves) {
  // ZDT6's least f1, in closed form (problem.h); the often quoted 0.2807753191 is a numerical
  // estimate 3e-10 above it.
  const double zdt6_x = std::atan(9.0 * pi) / (6.0 * pi);
  const double zdt6_min = 1.0 - std::exp(-4.0 * zdt6_x) * std::pow(std::sin(6.0 * pi * zdt6_x), 6);
  EXPECT_NEAR(zdt6_min, 0.2807753191, 5e-10);
  const struct {
    const char* name;
    double lo, hi;
    double (*f2)(double);
  } kCases[] = {
      {"zdt1", 0, 1, [](double f) { return 1.0 - std::sqrt(f); }},
      {"zdt4", 0, 1, [](double f) { return 1.0 - std::sqrt(f); }},
      {"zdt2", 0, 1, [](double f) { return 1.0 - f * f; }},
      {"zdt6", zdt6_min, 1, [](double f) { return 1.0 - f * f; }},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    const Points front = Front(c.name, 101);
    ASSERT_EQ(front.size(), 101u);
    EXPECT_EQ(front.front()[0], c.lo);
    EXPECT_EQ(front.back()[0], c.hi);
    for (size_t i = 0; i < front.size(); ++i) {
      ASSERT_EQ(front[i].size(), 2u);
      EXPECT_NEAR(front[i][0], c.lo + (c.hi - c.lo) * static_cast<double>(i) / 100.0, 1e-15);
      EXPECT_DOUBLE_EQ(front[i][1], c.f2(front[i][0]));
      if (i > 0) {
        EXPECT_GT(front[i][0], front[i - 1][0]);  // strictly: no point dominates another
        EXPECT_LT(front[i][1], front[i - 1][1]);
      }
    }
    EXPECT_EQ(Front(c.name, 2).size(), 2u);
  }
  // ZDT6's least f1 is reached by the problem itself at x1 = atan(9 pi) / (6 pi), and nowhere lower.
  const Problem zdt6 = Make("zdt6");
  EXPECT_NEAR(zdt6.evaluate(Point(zdt6, zdt6_x, 0.0))[0], zdt6_min, 1e-15);
  for (int i = 0; i <= 100000; ++i) {
    ASSERT_GE(zdt6.evaluate(Point(zdt6, i / 100000.0, 0.0))[0], zdt6_min - 1e-15);
  }
}

TEST(TrueFrontTest, Zdt3HasFiveNondominatedPieces) {
  const Points front = Front("zdt3", 20000);
  ASSERT_EQ(front.size(), 20000u);
  // Sorted by f1 with f2 strictly falling: mutually non-dominated; and on the curve.
  for (size_t i = 0; i < front.size(); ++i) {
    EXPECT_DOUBLE_EQ(front[i][1], Zdt3H(front[i][0]));
    if (i > 0) {
      ASSERT_GT(front[i][0], front[i - 1][0]);
      ASSERT_LT(front[i][1], front[i - 1][1]);
    }
  }
  // The pieces' ends (pymoo's and jMetal's published values) are sampled exactly; the starts are
  // approached from inside.
  const double kEnds[] = {0.0830015349, 0.2577623634, 0.4538821041, 0.6525117038, 0.8518328654};
  const double kStarts[] = {0.0, 0.1822287280, 0.4093136748, 0.6183967944, 0.8233317983};
  std::vector<size_t> gaps;
  for (size_t i = 1; i < front.size(); ++i) {
    if (front[i][0] - front[i - 1][0] > 0.01) gaps.push_back(i);
  }
  ASSERT_EQ(gaps.size(), 4u);
  EXPECT_EQ(front.front()[0], 0.0);
  for (size_t k = 0; k < 4; ++k) {
    EXPECT_NEAR(front[gaps[k] - 1][0], kEnds[k], 1e-10);
    EXPECT_GT(front[gaps[k]][0], kStarts[k + 1]);
    EXPECT_LT(front[gaps[k]][0], kStarts[k + 1] + 1e-4);
  }
  EXPECT_NEAR(front.back()[0], kEnds[4], 1e-10);
  // A piece start is where h comes back down to the previous piece's end value.
  for (size_t k = 1; k < 5; ++k) EXPECT_NEAR(Zdt3H(kStarts[k]), Zdt3H(kEnds[k - 1]), 1e-8);
  // The problem reaches each front point with the tail at 0.
  const Problem zdt3 = Make("zdt3");
  for (size_t i = 0; i < front.size(); i += 997) {
    const std::vector<double> f = zdt3.evaluate(Point(zdt3, front[i][0], 0.0));
    EXPECT_NEAR(f[1], front[i][1], 1e-14);
  }
  // Small samples stay on the front.
  for (size_t n : {2, 3, 7}) {
    const Points small = Front("zdt3", n);
    ASSERT_EQ(small.size(), n);
    for (size_t i = 1; i < n; ++i) EXPECT_LT(small[i][1], small[i - 1][1]);
  }
}

TEST(TrueFrontTest, ThreeObjectiveFrontsAreLattices) {
  // (H + 1)(H + 2) / 2 points for the largest H that fits.
  EXPECT_EQ(Front("dtlz1", 3).size(), 3u);    // H = 1
  EXPECT_EQ(Front("dtlz1", 5).size(), 3u);    // H = 1
  EXPECT_EQ(Front("dtlz1", 6).size(), 6u);    // H = 2
  EXPECT_EQ(Front("dtlz2", 9).size(), 6u);    // H = 2
  EXPECT_EQ(Front("dtlz2", 10).size(), 10u);  // H = 3
  EXPECT_EQ(Front("dtlz2", 5151).size(), 5151u);
  for (const Points& front : {Front("dtlz1", 5151), Front("dtlz2", 5151)}) {
    const bool simplex = front == Front("dtlz1", 5151);
    for (const auto& f : front) {
      ASSERT_EQ(f.size(), 3u);
      for (double v : f) EXPECT_GE(v, 0.0);
      if (simplex) {
        EXPECT_NEAR(f[0] + f[1] + f[2], 0.5, 1e-15);
      } else {
        EXPECT_NEAR(f[0] * f[0] + f[1] * f[1] + f[2] * f[2], 1.0, 1e-15);
      }
    }
    Points sorted = front;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());  // all distinct
  }
  // Corners and the centre of the H = 3 lattice.
  const Points d1 = Front("dtlz1", 10);
  EXPECT_NE(std::find(d1.begin(), d1.end(), std::vector<double>{0.5, 0, 0}), d1.end());
  EXPECT_NE(std::find(d1.begin(), d1.end(), std::vector<double>{0, 0, 0.5}), d1.end());
  const double third = 0.5 / 3.0;
  EXPECT_TRUE(std::any_of(d1.begin(), d1.end(), [&](const std::vector<double>& f) {
    return std::fabs(f[0] - third) < 1e-15 && std::fabs(f[1] - third) < 1e-15;
  }));
}

TEST(TrueFrontTest, ExactHypervolumes) {
  const double zdt6_min =
      1.0 - std::exp(-4.0 * std::atan(9.0 * pi) / (6.0 * pi)) * std::pow(std::sin(std::atan(9.0 * pi)), 6);
  const struct {
    const char* name;
    double at_1_1;  // r = 1.1: the documented values
    double formula_at_2;
  } kCases[] = {
      {"zdt1", 0.8766666667, 4.0 - 1.0 / 3.0},
      {"zdt2", 0.5433333333, 4.0 - 2.0 / 3.0},
      {"zdt4", 0.8766666667, 4.0 - 1.0 / 3.0},
      {"zdt6", 0.5078775147, 2.0 * (2.0 - zdt6_min) - (1.0 - zdt6_min) + (1.0 - std::pow(zdt6_min, 3)) / 3.0},
      {"dtlz1", 1.3101666667, 8.0 - 1.0 / 48.0},
      {"dtlz2", 0.8074012244, 8.0 - pi / 6.0},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    const Result<double> hv = TrueFrontHypervolume(c.name);
    ASSERT_TRUE(hv.ok());
    EXPECT_NEAR(*hv, c.at_1_1, 5e-11);
    EXPECT_DOUBLE_EQ(*TrueFrontHypervolume(c.name, 2.0), c.formula_at_2);
  }
  EXPECT_DOUBLE_EQ(*TrueFrontHypervolume("zdt1", 1.1), 1.21 - 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(*TrueFrontHypervolume("dtlz2", 1.1), 1.331 - pi / 6.0);
  // ZDT3 against a midpoint rule on the attainment curve (the running minimum of h), 2e6 cells.
  for (double r : {1.0, 1.1, 1.5}) {
    SCOPED_TRACE(r);
    const int cells = 2'000'000;
    double under = 0.0, best = 1.0;
    for (int i = 0; i < cells; ++i) {
      const double f = (i + 0.5) * r / cells;
      if (f <= 1.0) best = std::min(best, Zdt3H(f));
      under += best * r / cells;
    }
    EXPECT_NEAR(*TrueFrontHypervolume("zdt3", r), r * r - under, 2e-6);
  }
  EXPECT_NEAR(*TrueFrontHypervolume("zdt3"), 1.3317629087, 5e-11);
}

TEST(TrueFrontTest, RefusesBadArguments) {
  for (const auto& [name, n] : std::vector<std::pair<std::string, size_t>>{
           {"zdt5", 10}, {"zdt1", 1}, {"zdt3", 0}, {"dtlz1", 2}, {"dtlz2", kMaxTrueFrontPoints + 1}}) {
    SCOPED_TRACE(name + " " + std::to_string(n));
    const Result<Points> front = SampleTrueFront(name, n);
    ASSERT_FALSE(front.ok());
    EXPECT_EQ(front.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(front.status().message().find(name), std::string::npos);
  }
  for (double r : {0.99, -1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    EXPECT_EQ(TrueFrontHypervolume("zdt1", r).status().code(), StatusCode::kInvalidArgument) << r;
  }
  EXPECT_EQ(TrueFrontHypervolume("nope").status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(TrueFrontHypervolume("zdt1", 1.0).ok());
}

}  // namespace
}  // namespace hpo::problems
