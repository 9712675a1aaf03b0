#include "problems/problem.h"

#include <cassert>
#include <cmath>
#include <numbers>

namespace hpo::problems {
namespace {

using std::numbers::pi;

// ZDT (Zitzler, Deb, Thiele, "Comparison of multiobjective evolutionary algorithms: empirical results",
// Evolutionary Computation 8(2), 2000): f1 = f1(x1), g = g(x2..xn), f2 = g * h(f1, g).
double MeanTail(std::span<const double> x) {
  double sum = 0.0;
  for (size_t i = 1; i < x.size(); ++i) sum += x[i];
  return sum / static_cast<double>(x.size() - 1);
}

std::vector<double> Zdt1(std::span<const double> x) {
  const double f1 = x[0];
  const double g = 1.0 + 9.0 * MeanTail(x);
  return {f1, g * (1.0 - std::sqrt(f1 / g))};
}

std::vector<double> Zdt2(std::span<const double> x) {
  const double f1 = x[0];
  const double g = 1.0 + 9.0 * MeanTail(x);
  return {f1, g * (1.0 - (f1 / g) * (f1 / g))};
}

std::vector<double> Zdt3(std::span<const double> x) {
  const double f1 = x[0];
  const double g = 1.0 + 9.0 * MeanTail(x);
  return {f1, g * (1.0 - std::sqrt(f1 / g) - (f1 / g) * std::sin(10.0 * pi * f1))};
}

std::vector<double> Zdt4(std::span<const double> x) {
  const double f1 = x[0];
  double g = 1.0 + 10.0 * static_cast<double>(x.size() - 1);
  for (size_t i = 1; i < x.size(); ++i) g += x[i] * x[i] - 10.0 * std::cos(4.0 * pi * x[i]);
  return {f1, g * (1.0 - std::sqrt(f1 / g))};
}

std::vector<double> Zdt6(std::span<const double> x) {
  const double f1 = 1.0 - std::exp(-4.0 * x[0]) * std::pow(std::sin(6.0 * pi * x[0]), 6);
  const double g = 1.0 + 9.0 * std::pow(MeanTail(x), 0.25);
  return {f1, g * (1.0 - (f1 / g) * (f1 / g))};
}

// DTLZ (Deb, Thiele, Laumanns, Zitzler, "Scalable multi-objective optimization test problems", CEC 2002)
// with M = 3 objectives: x1, x2 place the point on the front, x3..xn (the k "distance" variables) set g.
constexpr size_t kDtlzObjectives = 3;

std::vector<double> Dtlz1(std::span<const double> x) {
  const size_t k = x.size() - (kDtlzObjectives - 1);
  double g = static_cast<double>(k);
  for (size_t i = kDtlzObjectives - 1; i < x.size(); ++i) {
    g += (x[i] - 0.5) * (x[i] - 0.5) - std::cos(20.0 * pi * (x[i] - 0.5));
  }
  g *= 100.0;
  const double s = 0.5 * (1.0 + g);
  return {s * x[0] * x[1], s * x[0] * (1.0 - x[1]), s * (1.0 - x[0])};
}

std::vector<double> Dtlz2(std::span<const double> x) {
  double g = 0.0;
  for (size_t i = kDtlzObjectives - 1; i < x.size(); ++i) g += (x[i] - 0.5) * (x[i] - 0.5);
  const double s = 1.0 + g;
  const double a = x[0] * pi / 2.0;
  const double b = x[1] * pi / 2.0;
  return {s * std::cos(a) * std::cos(b), s * std::cos(a) * std::sin(b), s * std::sin(a)};
}

struct Definition {
  const char* name;
  size_t usual_dims;
  size_t min_dims;
  size_t num_objectives;
  double tail_lower;  // box of x2..xn (x1 is always in [0, 1])
  double tail_upper;
  std::vector<double> (*evaluate)(std::span<const double>);
};

constexpr Definition kDefinitions[] = {
    {"zdt1", 30, 2, 2, 0.0, 1.0, Zdt1},   {"zdt2", 30, 2, 2, 0.0, 1.0, Zdt2},
    {"zdt3", 30, 2, 2, 0.0, 1.0, Zdt3},   {"zdt4", 10, 2, 2, -5.0, 5.0, Zdt4},
    {"zdt6", 10, 2, 2, 0.0, 1.0, Zdt6},   {"dtlz1", 7, 3, 3, 0.0, 1.0, Dtlz1},
    {"dtlz2", 12, 3, 3, 0.0, 1.0, Dtlz2},
};

}  // namespace

Result<Problem> MakeProblem(const std::string& name, size_t dims) {
  for (const Definition& def : kDefinitions) {
    if (name != def.name) continue;
    if (dims == 0) dims = def.usual_dims;
    if (dims < def.min_dims || dims > kMaxProblemDims) {
      return InvalidArgumentError("problem " + name + ": dims " + std::to_string(dims) + " outside [" +
                                  std::to_string(def.min_dims) + ", " + std::to_string(kMaxProblemDims) +
                                  "]");
    }
    Problem problem;
    problem.name = name;
    problem.dims = dims;
    problem.num_objectives = def.num_objectives;
    problem.lower.assign(dims, def.tail_lower);
    problem.upper.assign(dims, def.tail_upper);
    problem.lower[0] = 0.0;
    problem.upper[0] = 1.0;
    problem.evaluate = [f = def.evaluate, dims](std::span<const double> x) {
      assert(x.size() == dims);
      (void)dims;
      return f(x);
    };
    return problem;
  }
  std::string known;
  for (const std::string& n : ProblemNames()) known += (known.empty() ? "" : ", ") + n;
  return InvalidArgumentError("unknown problem \"" + name + "\" (known: " + known + ")");
}

std::vector<std::string> ProblemNames() {
  std::vector<std::string> names;
  for (const Definition& def : kDefinitions) names.push_back(def.name);
  return names;
}

}  // namespace hpo::problems
