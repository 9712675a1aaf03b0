#include "problems/classic.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <memory>
#include <numbers>

#include "base/rng.h"

namespace hpo::problems {
namespace {

using std::numbers::pi;

// sin(π·t) and cos(π·t), exact at the integers (and half-integers for cos) where the functions below
// have their optima, so that f(optimum) is exactly 0 rather than ~1e-32.
double SinPi(double t) {
  const double n = std::nearbyint(t);
  const double s = std::sin(pi * (t - n));  // t - n is exact: |t - n| <= 0.5
  return std::fmod(n, 2.0) == 0.0 ? s : -s;
}

double CosPi(double t) {
  const double n = std::nearbyint(t);
  const double c = std::cos(pi * (t - n));
  return std::fmod(n, 2.0) == 0.0 ? c : -c;
}

// F1 sphere: Σ x_i^2. Box [-100, 100].
double Sphere(std::span<const double> x) {
  double sum = 0.0;
  for (double v : x) sum += v * v;
  return sum;
}

// F2 Schwefel 2.22: Σ |x_i| + Π |x_i|. Box [-10, 10].
double Schwefel222(std::span<const double> x) {
  double sum = 0.0, product = 1.0;
  for (double v : x) {
    sum += std::fabs(v);
    product *= std::fabs(v);
  }
  return sum + product;
}

// F3 Schwefel 1.2: Σ_i (Σ_{j<=i} x_j)^2. Box [-100, 100]. O(d) by the running sum.
double Schwefel12(std::span<const double> x) {
  double sum = 0.0, prefix = 0.0;
  for (double v : x) {
    prefix += v;
    sum += prefix * prefix;
  }
  return sum;
}

// F4 Schwefel 2.21: max_i |x_i|. Box [-100, 100].
double Schwefel221(std::span<const double> x) {
  double largest = 0.0;
  for (double v : x) largest = std::max(largest, std::fabs(v));
  return largest;
}

// F5 Rosenbrock: Σ_{i<d} 100 (x_{i+1} - x_i^2)^2 + (x_i - 1)^2. Box [-30, 30], optimum at 1.
double Rosenbrock(std::span<const double> x) {
  double sum = 0.0;
  for (size_t i = 0; i + 1 < x.size(); ++i) {
    const double a = x[i + 1] - x[i] * x[i];
    const double b = x[i] - 1.0;
    sum += 100.0 * a * a + b * b;
  }
  return sum;
}

// F6 step: Σ floor(x_i + 0.5)^2. Box [-100, 100], minimal on [-0.5, 0.5)^d.
double Step(std::span<const double> x) {
  double sum = 0.0;
  for (double v : x) {
    const double k = std::floor(v + 0.5);
    sum += k * k;
  }
  return sum;
}

// F7 quartic, noise-free part: Σ i·x_i^4 (i from 1). Box [-1.28, 1.28].
double Quartic(std::span<const double> x) {
  double sum = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double v2 = x[i] * x[i];
    sum += static_cast<double>(i + 1) * v2 * v2;
  }
  return sum;
}

// F8 Schwefel 2.26: Σ -x_i·sin(sqrt|x_i|). Box [-500, 500], optimum at 420.9687... per coordinate.
// Outside the box, reflected back and penalised (see classic.h).
constexpr double kSchwefelBound = 500.0;
constexpr double kSchwefelArg = 420.96874635998202731;     // root of sin√x + (√x/2)·cos√x = 0
constexpr double kSchwefelValue = -418.98288727243370627;  // per coordinate, at kSchwefelArg

double Schwefel226(std::span<const double> x) {
  const double penalty_scale = 1.0 / (1e4 * static_cast<double>(x.size()));
  double sum = 0.0;
  for (double v : x) {
    double z = v, penalty = 0.0;
    if (std::fabs(v) > kSchwefelBound) {
      // Reflect at ±500: a triangle wave of period 2000 through [-500, 500].
      const double period = 4.0 * kSchwefelBound;
      double t = std::fmod(v + kSchwefelBound, period);
      if (t < 0) t += period;
      z = (t <= 2.0 * kSchwefelBound ? t : period - t) - kSchwefelBound;
      const double excess = std::fabs(v) - kSchwefelBound;
      penalty = excess * excess * penalty_scale;
    }
    sum += -z * std::sin(std::sqrt(std::fabs(z))) + penalty;
  }
  return sum;
}

// F9 Rastrigin: Σ x_i^2 - 10 cos(2π x_i) + 10. Box [-5.12, 5.12].
double Rastrigin(std::span<const double> x) {
  double sum = 0.0;
  for (double v : x) sum += v * v + 10.0 * (1.0 - CosPi(2.0 * v));
  return sum;
}

// F10 Ackley: -20 exp(-0.2 sqrt(Σ x_i^2 / d)) - exp(Σ cos(2π x_i) / d) + 20 + e. Box [-32, 32].
// Written as -20 expm1(..) - e·expm1(Σ cos / d - 1) so that it is exactly 0 at the optimum.
double Ackley(std::span<const double> x) {
  const double n = static_cast<double>(x.size());
  double squares = 0.0, cosines = 0.0;
  for (double v : x) {
    squares += v * v;
    cosines += CosPi(2.0 * v);
  }
  return -20.0 * std::expm1(-0.2 * std::sqrt(squares / n)) - std::numbers::e * std::expm1(cosines / n - 1.0);
}

// F11 Griewank: Σ x_i^2 / 4000 - Π cos(x_i / sqrt(i)) + 1. Box [-600, 600].
double Griewank(std::span<const double> x) {
  double sum = 0.0, product = 1.0;
  for (size_t i = 0; i < x.size(); ++i) {
    sum += x[i] * x[i];
    product *= std::cos(x[i] / std::sqrt(static_cast<double>(i + 1)));
  }
  return (1.0 - product) + sum / 4000.0;
}

// The penalty u(x, a, k, m) of F12 and F13: k (|x| - a)^m outside [-a, a], 0 inside.
double PenaltyU(double x, double a, double k, int m) {
  if (x > a) return k * std::pow(x - a, m);
  if (x < -a) return k * std::pow(-x - a, m);
  return 0.0;
}

// F12 penalized 1: π/d {10 sin^2(π y_1) + Σ_{i<d} (y_i - 1)^2 [1 + 10 sin^2(π y_{i+1})] + (y_d - 1)^2}
// + Σ u(x_i, 10, 100, 4), y_i = 1 + (x_i + 1) / 4. Box [-50, 50], optimum at -1.
double Penalized1(std::span<const double> x) {
  const size_t n = x.size();
  auto y = [&](size_t i) { return 1.0 + (x[i] + 1.0) / 4.0; };
  const double s1 = SinPi(y(0));
  double sum = 10.0 * s1 * s1;
  for (size_t i = 0; i + 1 < n; ++i) {
    const double s = SinPi(y(i + 1));
    sum += (y(i) - 1.0) * (y(i) - 1.0) * (1.0 + 10.0 * s * s);
  }
  sum += (y(n - 1) - 1.0) * (y(n - 1) - 1.0);
  double penalty = 0.0;
  for (double v : x) penalty += PenaltyU(v, 10.0, 100.0, 4);
  return pi / static_cast<double>(n) * sum + penalty;
}

// F13 penalized 2: 0.1 {sin^2(3π x_1) + Σ_{i<d} (x_i - 1)^2 [1 + sin^2(3π x_{i+1})]
// + (x_d - 1)^2 [1 + sin^2(2π x_d)]} + Σ u(x_i, 5, 100, 4). Box [-50, 50], optimum at 1.
double Penalized2(std::span<const double> x) {
  const size_t n = x.size();
  const double s1 = SinPi(3.0 * x[0]);
  double sum = s1 * s1;
  for (size_t i = 0; i + 1 < n; ++i) {
    const double s = SinPi(3.0 * x[i + 1]);
    sum += (x[i] - 1.0) * (x[i] - 1.0) * (1.0 + s * s);
  }
  const double sn = SinPi(2.0 * x[n - 1]);
  sum += (x[n - 1] - 1.0) * (x[n - 1] - 1.0) * (1.0 + sn * sn);
  double penalty = 0.0;
  for (double v : x) penalty += PenaltyU(v, 5.0, 100.0, 4);
  return 0.1 * sum + penalty;
}

struct Definition {
  const char* name;
  double bound;    // box [-bound, bound]
  double optimum;  // x*_j, the same for every coordinate
  double value;    // f* per coordinate (F8) or in total (0)
  bool per_coordinate_value;
  double (*evaluate)(std::span<const double>);
};

constexpr Definition kDefinitions[kNumClassic] = {
    {"f1_sphere", 100.0, 0.0, 0.0, false, Sphere},
    {"f2_schwefel_2_22", 10.0, 0.0, 0.0, false, Schwefel222},
    {"f3_schwefel_1_2", 100.0, 0.0, 0.0, false, Schwefel12},
    {"f4_schwefel_2_21", 100.0, 0.0, 0.0, false, Schwefel221},
    {"f5_rosenbrock", 30.0, 1.0, 0.0, false, Rosenbrock},
    {"f6_step", 100.0, 0.0, 0.0, false, Step},
    {"f7_quartic_noise", 1.28, 0.0, 0.0, false, Quartic},
    {"f8_schwefel_2_26", kSchwefelBound, kSchwefelArg, kSchwefelValue, true, Schwefel226},
    {"f9_rastrigin", 5.12, 0.0, 0.0, false, Rastrigin},
    {"f10_ackley", 32.0, 0.0, 0.0, false, Ackley},
    {"f11_griewank", 600.0, 0.0, 0.0, false, Griewank},
    {"f12_penalized_1", 50.0, -1.0, 0.0, false, Penalized1},
    {"f13_penalized_2", 50.0, 1.0, 0.0, false, Penalized2},
};

// The new optimum's coordinates: centre ± u·width, u uniform on [0.15, 0.35], on a 2^-16 grid.
constexpr double kShiftMin = 0.15, kShiftMax = 0.35, kShiftGrid = 65536.0;

std::vector<double> DrawShiftedOptimum(const Definition& def, size_t dims, uint64_t seed) {
  Rng rng(seed);
  const double width = 2.0 * def.bound;
  std::vector<double> o(dims);
  for (double& v : o) {
    const double magnitude = rng.Uniform(kShiftMin, kShiftMax) * width;
    const double signed_offset = rng.Uniform01() < 0.5 ? -magnitude : magnitude;
    v = std::nearbyint(signed_offset * kShiftGrid) / kShiftGrid;
  }
  return o;
}

}  // namespace

Result<ScalarProblem> MakeClassic(int number, size_t dims, std::optional<uint64_t> shift_seed,
                                  std::optional<uint64_t> noise_seed) {
  if (number < 1 || number > kNumClassic) {
    return InvalidArgumentError("classic.number: " + std::to_string(number) + " is outside 1.." +
                                std::to_string(kNumClassic));
  }
  if (dims < 2 || dims > kMaxClassicDims) {
    return InvalidArgumentError("classic.dims: " + std::to_string(dims) + " is outside [2, " +
                                std::to_string(kMaxClassicDims) + "]");
  }
  const Definition& def = kDefinitions[number - 1];
  ScalarProblem problem;
  problem.name = def.name;
  problem.number = number;
  problem.dims = dims;
  problem.lower = -def.bound;
  problem.upper = def.bound;
  problem.optimum_value = def.per_coordinate_value ? def.value * static_cast<double>(dims) : def.value;
  problem.optimum.assign(dims, def.optimum);
  problem.shift.assign(dims, 0.0);
  if (shift_seed.has_value()) {
    problem.name += "_shifted";
    problem.optimum = DrawShiftedOptimum(def, dims, *shift_seed);
    for (size_t j = 0; j < dims; ++j) problem.shift[j] = problem.optimum[j] - def.optimum;
  }

  std::shared_ptr<Rng> noise;
  if (number == 7 && noise_seed.has_value()) noise = std::make_shared<Rng>(*noise_seed);
  problem.evaluate = [f = def.evaluate, shift = problem.shift, shifted = shift_seed.has_value(),
                      noise](std::span<const double> x) {
    assert(x.size() == shift.size());
    double value;
    if (shifted) {
      std::vector<double> z(x.size());
      for (size_t j = 0; j < x.size(); ++j) z[j] = x[j] - shift[j];
      value = f(z);
    } else {
      value = f(x);
    }
    if (noise) value += noise->Uniform01();
    return value;
  };
  return problem;
}

std::vector<double> FromUnitCube(const ScalarProblem& problem, std::span<const double> u) {
  assert(u.size() == problem.dims);
  std::vector<double> x(u.size());
  const double width = problem.upper - problem.lower;
  for (size_t j = 0; j < u.size(); ++j) {
    x[j] = std::clamp(problem.lower + width * u[j], problem.lower, problem.upper);
  }
  return x;
}

}  // namespace hpo::problems
