#include "problems/classic.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <set>

namespace hpo::problems {
namespace {

using std::numbers::pi;

ScalarProblem Make(int number, size_t dims = kClassicDims, std::optional<uint64_t> shift_seed = std::nullopt,
                   std::optional<uint64_t> noise_seed = std::nullopt) {
  Result<ScalarProblem> problem = MakeClassic(number, dims, shift_seed, noise_seed);
  EXPECT_TRUE(problem.ok()) << problem.status().ToString();
  return std::move(problem).value();
}

double At(const ScalarProblem& p, double value) {
  const std::vector<double> x(p.dims, value);
  return p.evaluate(x);
}

// Absolute tolerance for f* (F8's f* is a rounded irrational; every other f* is 0 and reached exactly).
double Tolerance(const ScalarProblem& p) { return p.number == 8 ? 1e-9 * std::fabs(p.optimum_value) : 0.0; }

TEST(ClassicTest, ValidatesArguments) {
  for (int bad : {0, 14, -1}) {
    const Status s = MakeClassic(bad, 30, std::nullopt).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("classic.number"), std::string::npos) << s.message();
  }
  for (size_t bad : {size_t{0}, size_t{1}, kMaxClassicDims + 1}) {
    const Status s = MakeClassic(1, bad, std::nullopt).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("classic.dims"), std::string::npos) << s.message();
  }
}

TEST(ClassicTest, BoxesNamesAndOptimaAsInThePaper) {
  const struct {
    const char* name;
    double bound, optimum;
  } kCases[kNumClassic] = {{"f1_sphere", 100, 0},         {"f2_schwefel_2_22", 10, 0},
                           {"f3_schwefel_1_2", 100, 0},   {"f4_schwefel_2_21", 100, 0},
                           {"f5_rosenbrock", 30, 1},      {"f6_step", 100, 0},
                           {"f7_quartic_noise", 1.28, 0}, {"f8_schwefel_2_26", 500, 420.9687463599820},
                           {"f9_rastrigin", 5.12, 0},     {"f10_ackley", 32, 0},
                           {"f11_griewank", 600, 0},      {"f12_penalized_1", 50, -1},
                           {"f13_penalized_2", 50, 1}};
  for (int n = 1; n <= kNumClassic; ++n) {
    SCOPED_TRACE(n);
    const ScalarProblem p = Make(n);
    EXPECT_EQ(p.name, kCases[n - 1].name);
    EXPECT_EQ(p.number, n);
    EXPECT_EQ(p.dims, 30u);
    EXPECT_EQ(p.lower, -kCases[n - 1].bound);
    EXPECT_EQ(p.upper, kCases[n - 1].bound);
    ASSERT_EQ(p.optimum.size(), 30u);
    for (double v : p.optimum) EXPECT_NEAR(v, kCases[n - 1].optimum, 1e-12);
    EXPECT_EQ(p.shift, std::vector<double>(30, 0.0));
    EXPECT_EQ(p.optimum_value, n == 8 ? -418.9828872724337 * 30 : 0.0);
  }
  EXPECT_NEAR(Make(8, 7).optimum_value, -418.98288727243371 * 7, 1e-9);
}

TEST(ClassicTest, OptimumValueAtOptimumShiftedAndUnshifted) {
  for (size_t dims : {size_t{2}, size_t{10}, size_t{30}}) {
    for (int n = 1; n <= kNumClassic; ++n) {
      for (std::optional<uint64_t> seed :
           {std::optional<uint64_t>(), std::optional<uint64_t>(7), std::optional<uint64_t>(123456789)}) {
        SCOPED_TRACE(testing::Message() << "F" << n << " d=" << dims << " shifted=" << seed.has_value());
        const ScalarProblem p = Make(n, dims, seed);
        EXPECT_NEAR(p.evaluate(p.optimum), p.optimum_value, Tolerance(p));
        if (n != 8) {
          EXPECT_EQ(p.evaluate(p.optimum), p.optimum_value);
        }
        // Nearby points are worse (F6's optimum is a whole cell: step out of it).
        std::vector<double> x = p.optimum;
        x[dims - 1] += n == 6 ? 0.75 : 1e-3 * (p.upper - p.lower);
        EXPECT_GT(p.evaluate(x), p.optimum_value);
      }
    }
  }
}

TEST(ClassicTest, KnownValuesAtKnownPoints) {
  EXPECT_DOUBLE_EQ(At(Make(1), 1.0), 30.0);
  EXPECT_DOUBLE_EQ(At(Make(1), -2.0), 120.0);
  EXPECT_DOUBLE_EQ(At(Make(2), 1.0), 31.0);
  EXPECT_DOUBLE_EQ(At(Make(2), -2.0), 60.0 + std::pow(2.0, 30));
  EXPECT_DOUBLE_EQ(At(Make(3), 1.0), 9455.0);  // Σ i^2, i = 1..30
  {
    const ScalarProblem p = Make(4);
    std::vector<double> x(30);
    for (size_t i = 0; i < 30; ++i) x[i] = (i % 2 ? -1.0 : 1.0) * static_cast<double>(i + 1);
    EXPECT_DOUBLE_EQ(p.evaluate(x), 30.0);
  }
  EXPECT_DOUBLE_EQ(At(Make(5), 0.0), 29.0);
  EXPECT_DOUBLE_EQ(At(Make(5), 2.0), 29.0 * (100.0 * 4.0 + 1.0));
  EXPECT_DOUBLE_EQ(At(Make(6), 0.49), 0.0);
  EXPECT_DOUBLE_EQ(At(Make(6), -0.5), 0.0);
  EXPECT_DOUBLE_EQ(At(Make(6), 0.5), 30.0);
  EXPECT_DOUBLE_EQ(At(Make(6), -1.6), 120.0);
  EXPECT_DOUBLE_EQ(At(Make(7), 1.0), 465.0);  // Σ i
  EXPECT_DOUBLE_EQ(At(Make(8), 0.0), 0.0);
  EXPECT_NEAR(At(Make(8), 500.0), -30.0 * 500.0 * std::sin(std::sqrt(500.0)), 1e-9);
  EXPECT_NEAR(At(Make(8), -100.0), 30.0 * 100.0 * std::sin(10.0), 1e-9);
  EXPECT_DOUBLE_EQ(At(Make(9), 0.5), 30.0 * 20.25);
  EXPECT_NEAR(At(Make(9), 1.0), 30.0, 1e-12);
  EXPECT_NEAR(At(Make(10), 1.0), 20.0 * (1.0 - std::exp(-0.2)), 1e-12);
  EXPECT_NEAR(At(Make(10), 0.5), 20.0 * (1.0 - std::exp(-0.1)) + std::numbers::e - std::exp(-1.0), 1e-12);
  {
    const ScalarProblem p = Make(11);
    std::vector<double> x(30);
    for (size_t i = 0; i < 30; ++i) x[i] = pi * std::sqrt(static_cast<double>(i + 1));  // every cos = -1
    EXPECT_NEAR(p.evaluate(x), pi * pi * 465.0 / 4000.0, 1e-12);
    EXPECT_NEAR(At(p, 0.0), 0.0, 0.0);
  }
  // F12 at 0: y = 1.25, sin^2(1.25π) = 1/2: π/30 (5 + 29·(1/16)·6 + 1/16).
  EXPECT_NEAR(At(Make(12), 0.0), pi / 30.0 * (5.0 + 29.0 * 6.0 / 16.0 + 1.0 / 16.0), 1e-12);
  // F12 at 11 in one coordinate adds u = 100·1^4 to the rest at -1 (0).
  {
    const ScalarProblem p = Make(12, 2);
    const std::vector<double> x = {-1.0, 11.0};  // y = (1, 4): π/2·(0 + 0 + 9) + 100
    EXPECT_NEAR(p.evaluate(x), pi / 2.0 * 9.0 + 100.0, 1e-12);
  }
  EXPECT_NEAR(At(Make(13), 0.0), 3.0, 1e-12);  // 0.1 (0 + 29·1·1 + 1·1)
  {
    const ScalarProblem p = Make(13, 2);
    const std::vector<double> x = {1.0, -7.0};  // 0.1·(0 + 0·.. + 64·(1 + 0)) + 100·2^4
    EXPECT_NEAR(p.evaluate(x), 6.4 + 1600.0, 1e-9);
  }
}

TEST(ClassicTest, SchwefelOutsideItsBoxIsReflectedAndPenalised) {
  const ScalarProblem p = Make(8, 2);
  // 600 reflects at 500 to 400 and pays 100^2 / (10^4·2); -1300 reflects at -500 to 300, pays 800^2 / 2e4.
  EXPECT_NEAR(p.evaluate(std::vector<double>{600.0, 0.0}), -400.0 * std::sin(20.0) + 0.5, 1e-9);
  EXPECT_NEAR(p.evaluate(std::vector<double>{-1300.0, 0.0}), -300.0 * std::sin(std::sqrt(300.0)) + 32.0,
              1e-9);
  // The reflected copy of the optimum is not a second optimum.
  const std::vector<double> mirror = {1000.0 - 420.9687463599820, 1000.0 - 420.9687463599820};
  EXPECT_GT(p.evaluate(mirror), p.optimum_value);
}

TEST(ClassicTest, ShiftIsSeededInsideAndAwayFromOriginAndCentre) {
  std::set<std::vector<double>> shifts;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    for (int n = 1; n <= kNumClassic; ++n) {
      SCOPED_TRACE(testing::Message() << "F" << n << " seed " << seed);
      const ScalarProblem p = Make(n, 30, seed);
      const ScalarProblem again = Make(n, 30, seed);
      EXPECT_EQ(p.shift, again.shift);
      EXPECT_EQ(p.optimum, again.optimum);
      EXPECT_EQ(p.name, Make(n).name + "_shifted");
      const double width = p.upper - p.lower, centre = 0.5 * (p.lower + p.upper);
      for (size_t j = 0; j < p.dims; ++j) {
        const double o = p.optimum[j];
        EXPECT_GE(std::fabs(o - centre), 0.15 * width - 1e-4);
        EXPECT_GE(std::fabs(o), 0.15 * width - 1e-4);  // the origin (= centre for all 13)
        EXPECT_GE(o - p.lower, 0.15 * width - 1e-4);
        EXPECT_GE(p.upper - o, 0.15 * width - 1e-4);
        EXPECT_DOUBLE_EQ(p.shift[j], o - Make(n).optimum[j]);
        // F12, F13: the penalty-free box [s - a, s + a] stays inside [-50, 50].
        if (n == 12 || n == 13) {
          EXPECT_LE(std::fabs(p.shift[j]) + (n == 12 ? 10.0 : 5.0), 50.0);
        }
      }
      if (n == 1) shifts.insert(p.shift);
    }
  }
  EXPECT_EQ(shifts.size(), 20u);
  // Both signs and a spread of magnitudes occur.
  const ScalarProblem p = Make(1, 1000, 3);
  size_t positive = 0;
  double smallest = 1e9, largest = 0;
  for (double o : p.optimum) {
    positive += o > 0;
    smallest = std::min(smallest, std::fabs(o));
    largest = std::max(largest, std::fabs(o));
  }
  EXPECT_NEAR(static_cast<double>(positive), 500.0, 60.0);
  EXPECT_LT(smallest, 31.0);
  EXPECT_GT(largest, 69.0);
}

TEST(ClassicTest, ShiftedIsTheUnshiftedFunctionMoved) {
  for (int n = 1; n <= kNumClassic; ++n) {
    SCOPED_TRACE(n);
    const ScalarProblem base = Make(n, 10);
    const ScalarProblem shifted = Make(n, 10, 99);
    for (int k = 0; k < 20; ++k) {
      std::vector<double> z(10), x(10);
      for (size_t j = 0; j < 10; ++j) {
        z[j] = base.lower + (base.upper - base.lower) * std::fmod(0.123 * (k + 1) * (j + 3), 1.0);
        x[j] = z[j] + shifted.shift[j];
      }
      EXPECT_NEAR(shifted.evaluate(x), base.evaluate(z), 1e-9 * (1.0 + std::fabs(base.evaluate(z))));
    }
  }
}

TEST(ClassicTest, ShiftedSchwefelHasNoPointBelowItsOptimum) {
  // A fine grid over the whole 2-D box: the reflection keeps f* the minimum even where x - s leaves
  // [-500, 500].
  for (uint64_t seed : {1, 2, 3, 4}) {
    const ScalarProblem p = Make(8, 2, seed);
    double lowest = 1e300;
    for (int a = 0; a <= 1000; a += 2) {
      for (int b = 0; b <= 1000; b += 2) {
        const std::vector<double> x = {-500.0 + a, -500.0 + b};
        lowest = std::min(lowest, p.evaluate(x));
      }
    }
    EXPECT_GE(lowest, p.optimum_value);
    EXPECT_LT(lowest, p.optimum_value + 2.0);  // the grid passes within 1 of the optimum
  }
}

TEST(ClassicTest, QuarticNoiseIsSeededUniformAndOff) {
  const ScalarProblem quiet = Make(7, 30, std::nullopt, std::nullopt);
  EXPECT_EQ(At(quiet, 0.0), 0.0);
  EXPECT_EQ(At(quiet, 0.0), 0.0);
  const ScalarProblem a = Make(7, 30, std::nullopt, 5), b = Make(7, 30, std::nullopt, 5);
  double sum = 0.0, lowest = 1.0, highest = 0.0;
  for (int k = 0; k < 2000; ++k) {
    const double v = At(a, 1.0) - 465.0;
    EXPECT_EQ(v + 465.0, At(b, 1.0));  // same seed, same noise
    EXPECT_GE(v, 0.0);
    EXPECT_LT(v, 1.0 + 1e-12);
    sum += v;
    lowest = std::min(lowest, v);
    highest = std::max(highest, v);
  }
  EXPECT_NEAR(sum / 2000.0, 0.5, 0.03);
  EXPECT_LT(lowest, 0.01);
  EXPECT_GT(highest, 0.99);
  // Other functions ignore the noise seed.
  EXPECT_EQ(At(Make(1, 30, std::nullopt, 5), 0.0), 0.0);
}

TEST(ClassicTest, FromUnitCubeMapsTheBox) {
  const ScalarProblem p = Make(10, 3);
  const std::vector<double> u = {0.0, 0.5, 1.0};
  EXPECT_EQ(FromUnitCube(p, u), (std::vector<double>{-32.0, 0.0, 32.0}));
}

}  // namespace
}  // namespace hpo::problems
