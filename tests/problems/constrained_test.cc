#include "problems/constrained.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

namespace hpo::problems {
namespace {

using std::numbers::pi;

Problem Tnk() {
  Result<Problem> problem = MakeConstrainedProblem("tnk");
  EXPECT_TRUE(problem.ok()) << problem.status().ToString();
  return std::move(problem).value();
}

TEST(ConstrainedProblemTest, TnkShape) {
  const Problem p = Tnk();
  EXPECT_EQ(p.name, "tnk");
  EXPECT_EQ(p.dims, 2u);
  EXPECT_EQ(p.num_objectives, 2u);
  EXPECT_EQ(p.num_constraints, 2u);
  EXPECT_EQ(p.lower, std::vector<double>({0.0, 0.0}));
  EXPECT_EQ(p.upper, std::vector<double>({pi, pi}));
  const std::vector<double> x = {0.7, 2.5};
  EXPECT_EQ(p.evaluate(x), x);  // f = (x1, x2)
  EXPECT_EQ(ConstrainedProblemNames(), std::vector<std::string>({"tnk"}));
}

TEST(ConstrainedProblemTest, TnkConstraintValues) {
  const Problem p = Tnk();
  struct Case {
    double x1, x2, g1, g2;
  };
  // g1 = -(x1^2 + x2^2 - 1 - 0.1 cos(16 atan2(x1, x2))), g2 = (x1 - 1/2)^2 + (x2 - 1/2)^2 - 1/2.
  const Case kCases[] = {
      {1.0, 1.0, -0.9, 0.0},                             // atan = pi/4: cos(4 pi) = 1; on the g2 circle
      {1.0, 0.0, 0.1, 0.0},                              // x2 = 0: atan = pi/2, cos(8 pi) = 1
      {0.0, 0.0, 1.1, 0.0},                              // atan2(0, 0) = 0
      {0.0, 1.0, 0.1, 0.0},                              // atan = 0
      {0.5, 0.5, 0.5 + 0.1 * std::cos(4.0 * pi), -0.5},  // the g2 circle's centre
      {3.0, 3.0, -(18.0 - 1.0 - 0.1), 12.0},             // far outside the g2 circle
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(testing::Message() << "x = (" << c.x1 << ", " << c.x2 << ")");
    const std::vector<double> g = p.constraints(std::vector<double>{c.x1, c.x2});
    ASSERT_EQ(g.size(), 2u);
    EXPECT_NEAR(g[0], c.g1, 1e-12);
    EXPECT_NEAR(g[1], c.g2, 1e-12);
  }
  // Continuous at x2 = 0: no division by zero, the limit of atan(x1 / x2).
  const double at_zero = p.constraints(std::vector<double>{0.8, 0.0})[0];
  const double near_zero = p.constraints(std::vector<double>{0.8, 1e-9})[0];
  EXPECT_TRUE(std::isfinite(at_zero));
  EXPECT_NEAR(at_zero, near_zero, 1e-6);
  EXPECT_NEAR(at_zero, -(0.64 - 1.0 - 0.1), 1e-12);
}

TEST(ConstrainedProblemTest, UnknownNamesAndUnconstrainedProblems) {
  const Result<Problem> unknown = MakeConstrainedProblem("zdt1");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("tnk"), std::string::npos);
  const Result<Problem> zdt1 = MakeProblem("zdt1", 10);
  ASSERT_TRUE(zdt1.ok());
  EXPECT_EQ(zdt1->num_constraints, 0u);
  EXPECT_FALSE(static_cast<bool>(zdt1->constraints));
}

TEST(ConstrainedProblemTest, TnkHypervolumeRejectsBadReferences) {
  for (double r : {std::nan(""), std::numeric_limits<double>::infinity(), 0.0, 1000.0}) {
    const Result<double> hv = TnkTrueFrontHypervolume(r);
    ASSERT_FALSE(hv.ok()) << r;
    EXPECT_EQ(hv.status().code(), StatusCode::kInvalidArgument);
  }
}

// The hypervolume at (r, r) of the feasible points of the grid {i h} x {j h} over [0, r]^2, feasibility
// from the problem's own constraints: a lower bound of the true front's hypervolume that converges to it
// as h shrinks, computed without the polar form of the boundary. In each column only the lowest feasible
// point matters (it dominates the ones above it).
double GridHypervolume(const Problem& p, double r, int cells) {
  const double h = r / cells;
  std::vector<std::pair<double, double>> lowest;
  for (int i = 0; i <= cells; ++i) {
    for (int j = 0; j <= cells; ++j) {
      const std::vector<double> x = {i * h, j * h};
      const std::vector<double> g = p.constraints(x);
      if (g[0] <= 0.0 && g[1] <= 0.0) {
        lowest.push_back({x[0], x[1]});
        break;
      }
    }
  }
  double hv = 0.0, best = r;  // columns come in ascending x1
  for (const auto& [a, b] : lowest) {
    if (a < r && b < best) {
      hv += (r - a) * (best - b);
      best = b;
    }
  }
  return hv;
}

TEST(ConstrainedProblemTest, TnkTrueFrontHypervolumeMatchesAGrid) {
  const Result<TnkHypervolumeBounds> bounds = TnkTrueFrontHypervolumeBounds(kTnkReference);
  ASSERT_TRUE(bounds.ok()) << bounds.status().ToString();
  // The accuracy the header states: the bounds bracket the value within 6.7e-7.
  EXPECT_GT(bounds->upper, bounds->lower);
  EXPECT_LT(bounds->upper - bounds->lower, 7e-7);
  const Result<double> hv = TnkTrueFrontHypervolume();
  ASSERT_TRUE(hv.ok());
  EXPECT_DOUBLE_EQ(*hv, 0.5 * (bounds->lower + bounds->upper));
  EXPECT_NEAR(*hv, 0.6550618, 1e-7);  // the figure the header quotes

  // A grid of the box: a lower bound (its points are feasible) that closes in as the grid is refined.
  const Problem p = Tnk();
  const double coarse = GridHypervolume(p, kTnkReference, 600);
  const double fine = GridHypervolume(p, kTnkReference, 2400);
  EXPECT_LE(coarse, bounds->upper);
  EXPECT_LE(fine, bounds->upper);
  EXPECT_NEAR(coarse, 0.652364, 1e-6);
  EXPECT_NEAR(fine, 0.654346, 1e-6);
  // Converging on our value from below (0.0027, then 0.0007 short: about the step, 0.002 and 0.0005,
  // times the front's extent).
  EXPECT_LT(*hv - fine, (*hv - coarse) / 2.0);
  EXPECT_GT(*hv - fine, 0.0);
  EXPECT_LT(*hv - fine, 1e-3);
}

TEST(ConstrainedProblemTest, TnkHypervolumeGrowsByTheStripsOfALargerReference) {
  // For r >= every front coordinate, going from r to s adds the two strips and the corner square:
  // (s - r)(r - m1) + (s - r)(r - m2) + (s - r)^2, with m1 (m2) the front's least x1 (x2), equal by the
  // problem's symmetry. So HV(s) - HV(r) is affine in nothing but m: solve it from two references, and
  // the third must agree.
  const double r = 1.2, s = 1.5, t = 2.0;
  const double hr = *TnkTrueFrontHypervolume(r), hs = *TnkTrueFrontHypervolume(s),
               ht = *TnkTrueFrontHypervolume(t);
  const double m = r - ((hs - hr) / (s - r) - (s - r)) / 2.0;
  EXPECT_GT(m, 0.0);
  EXPECT_LT(m, 0.1);
  EXPECT_NEAR(ht - hr, 2.0 * (t - r) * (r - m) + (t - r) * (t - r), 1e-5);
}

}  // namespace
}  // namespace hpo::problems
