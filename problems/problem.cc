#include "problems/problem.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <limits>
#include <numbers>
#include <string_view>

#include "problems/classic.h"

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

// ---- True fronts ----

// ZDT3's front function h(f) = 1 - sqrt(f) - f sin(10 pi f), its derivative and antiderivative.
double Zdt3H(double f) { return 1.0 - std::sqrt(f) - f * std::sin(10.0 * pi * f); }

double Zdt3HPrime(double f) {
  return -0.5 / std::sqrt(f) - std::sin(10.0 * pi * f) - 10.0 * pi * f * std::cos(10.0 * pi * f);
}

double Zdt3HIntegral(double f) {  // d/df = Zdt3H(f)
  const double a = 10.0 * pi;
  return f - (2.0 / 3.0) * f * std::sqrt(f) - std::sin(a * f) / (a * a) + f * std::cos(a * f) / a;
}

// The x in [lo, hi] where the continuous `fn` changes sign (fn(lo) and fn(hi) of opposite signs or
// zero), to the last bit.
template <typename Fn>
double Bisect(Fn fn, double lo, double hi) {
  const bool lo_negative = fn(lo) < 0.0;
  while (true) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) return mid;
    (fn(mid) < 0.0) == lo_negative ? lo = mid : hi = mid;
  }
}

struct Piece {
  double a, b;  // f1 from a (excluded but for the first piece) to b (included)
};

// ZDT3's front: the pieces [a_k, b_k] of [0, 1] where h is below its value at every smaller f1.
// Each ends at a local minimum of h whose value is below all earlier ones; the next starts where h,
// falling from the local maximum before that minimum, crosses the best value so far.
std::vector<Piece> ComputeZdt3Pieces() {
  // Stationary points of h from a grid fine enough to separate them (h' has ~10 roots on (0, 1]).
  constexpr int kGrid = 4096;
  struct Stationary {
    double f;
    bool minimum;
  };
  std::vector<Stationary> stationary;
  for (int i = 1; i < kGrid; ++i) {
    const double lo = static_cast<double>(i) / kGrid, hi = static_cast<double>(i + 1) / kGrid;
    const double dlo = Zdt3HPrime(lo), dhi = Zdt3HPrime(hi);
    if ((dlo < 0.0) != (dhi < 0.0)) stationary.push_back({Bisect(Zdt3HPrime, lo, hi), dlo < 0.0});
  }
  if (Zdt3HPrime(1.0) < 0.0) stationary.push_back({1.0, true});  // h still falling at the bound
  std::vector<Piece> pieces;
  double best = std::numeric_limits<double>::infinity();
  double last_maximum = 0.0;
  for (const Stationary& s : stationary) {
    if (!s.minimum) {
      last_maximum = s.f;
      continue;
    }
    const double value = Zdt3H(s.f);
    if (value >= best) continue;
    const double a =
        pieces.empty() ? 0.0 : Bisect([best](double f) { return Zdt3H(f) - best; }, last_maximum, s.f);
    pieces.push_back({a, s.f});
    best = value;
  }
  return pieces;
}

const std::vector<Piece>& Zdt3Pieces() {
  static const std::vector<Piece> pieces = ComputeZdt3Pieces();
  return pieces;
}

// ZDT6's least f1 = 1 - exp(-4 x) sin^6(6 pi x): where d/dx (-4 x + 6 ln sin(6 pi x)) = 0 on the
// first hump, cot(6 pi x) = 1 / (9 pi).
double Zdt6MinF1() {
  const double x = std::atan(9.0 * pi) / (6.0 * pi);
  return 1.0 - std::exp(-4.0 * x) * std::pow(std::sin(6.0 * pi * x), 6);
}

// f1 = i / (n - 1) over [lo, hi], both ends exact. REQUIRES: n >= 2.
double Spaced(double lo, double hi, size_t i, size_t n) {
  if (i + 1 == n) return hi;
  return lo + (hi - lo) * (static_cast<double>(i) / static_cast<double>(n - 1));
}

std::vector<std::vector<double>> SampleCurve(double lo, double hi, double (*f2)(double), size_t n) {
  std::vector<std::vector<double>> front(n);
  for (size_t i = 0; i < n; ++i) {
    const double f1 = Spaced(lo, hi, i, n);
    front[i] = {f1, f2(f1)};
  }
  return front;
}

std::vector<std::vector<double>> SampleZdt3(size_t n) {
  const std::vector<Piece>& pieces = Zdt3Pieces();
  double length = 0.0;
  for (const Piece& p : pieces) length += p.b - p.a;
  // Largest-remainder shares of n, proportional to each piece's length.
  std::vector<size_t> count(pieces.size());
  std::vector<std::pair<double, size_t>> remainder;
  size_t given = 0;
  for (size_t k = 0; k < pieces.size(); ++k) {
    const double share = static_cast<double>(n) * (pieces[k].b - pieces[k].a) / length;
    count[k] = static_cast<size_t>(share);
    given += count[k];
    remainder.push_back({share - static_cast<double>(count[k]), k});
  }
  std::sort(remainder.begin(), remainder.end(), std::greater<>());
  for (size_t r = 0; given < n; ++r, ++given) ++count[remainder[r % remainder.size()].second];
  std::vector<std::vector<double>> front;
  front.reserve(n);
  for (size_t k = 0; k < pieces.size(); ++k) {
    const Piece& p = pieces[k];
    for (size_t j = 0; j < count[k]; ++j) {
      // The first piece from a_1 = 0 to b_1, both included; the others (a_k, b_k].
      const double f1 = k == 0 ? (count[k] == 1 ? p.a : Spaced(p.a, p.b, j, count[k]))
                               : Spaced(p.a, p.b, j + 1, count[k] + 1);
      front.push_back({f1, Zdt3H(f1)});
    }
  }
  return front;
}

// The Das-Dennis lattice on the simplex sum = 1 with the most points not above n. REQUIRES: n >= 3.
std::vector<std::vector<double>> SimplexLattice(size_t n) {
  size_t h = 1;
  while ((h + 2) * (h + 3) / 2 <= n) ++h;
  std::vector<std::vector<double>> points;
  points.reserve((h + 1) * (h + 2) / 2);
  const double scale = static_cast<double>(h);
  for (size_t i = 0; i <= h; ++i) {
    for (size_t j = 0; i + j <= h; ++j) {
      points.push_back({static_cast<double>(i) / scale, static_cast<double>(j) / scale,
                        static_cast<double>(h - i - j) / scale});
    }
  }
  return points;
}

double OneMinusSqrt(double f) { return 1.0 - std::sqrt(f); }
double OneMinusSquare(double f) { return 1.0 - f * f; }

const Definition* FindDefinition(const std::string& name) {
  for (const Definition& def : kDefinitions) {
    if (name == def.name) return &def;
  }
  return nullptr;
}

Status UnknownProblem(const std::string& name) {
  std::string known;
  for (const Definition& def : kDefinitions) known += (known.empty() ? "" : ", ") + std::string(def.name);
  return InvalidArgumentError("unknown problem \"" + name + "\" (known: " + known + ")");
}

}  // namespace

Result<std::vector<std::vector<double>>> SampleTrueFront(const std::string& name, size_t n) {
  const Definition* def = FindDefinition(name);
  if (def == nullptr) return UnknownProblem(name);
  const size_t least = def->num_objectives;
  if (n < least || n > kMaxTrueFrontPoints) {
    return InvalidArgumentError("problem " + name + ": true front of " + std::to_string(n) +
                                " points, outside [" + std::to_string(least) + ", " +
                                std::to_string(kMaxTrueFrontPoints) + "]");
  }
  const std::string_view which = def->name;
  if (which == "zdt1" || which == "zdt4") return SampleCurve(0.0, 1.0, OneMinusSqrt, n);
  if (which == "zdt2") return SampleCurve(0.0, 1.0, OneMinusSquare, n);
  if (which == "zdt3") return SampleZdt3(n);
  if (which == "zdt6") return SampleCurve(Zdt6MinF1(), 1.0, OneMinusSquare, n);
  std::vector<std::vector<double>> points = SimplexLattice(n);
  for (std::vector<double>& p : points) {
    if (which == "dtlz1") {
      for (double& v : p) v *= 0.5;
    } else {
      const double norm = std::sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]);
      for (double& v : p) v /= norm;  // norm >= 1/sqrt(3): the lattice points sum to 1
    }
  }
  return points;
}

Result<double> TrueFrontHypervolume(const std::string& name, double reference) {
  const Definition* def = FindDefinition(name);
  if (def == nullptr) return UnknownProblem(name);
  if (!std::isfinite(reference) || reference < 1.0) {
    return InvalidArgumentError("problem " + name + ": reference " + std::to_string(reference) +
                                " must be finite and >= 1 (the true fronts lie in [0, 1]^M)");
  }
  const double r = reference;
  const std::string_view which = def->name;
  if (which == "zdt1" || which == "zdt4") return r * r - 1.0 / 3.0;
  if (which == "zdt2") return r * r - 2.0 / 3.0;
  if (which == "zdt6") {
    const double m = Zdt6MinF1();
    return r * (r - m) - (1.0 - m) + (1.0 - m * m * m) / 3.0;
  }
  if (which == "zdt3") {
    // Area under the attainment curve over f1 in [0, r]: h on each piece, then flat at h(b_k) up to
    // the next piece (or r).
    const std::vector<Piece>& pieces = Zdt3Pieces();
    double under = 0.0;
    for (size_t k = 0; k < pieces.size(); ++k) {
      const double next = k + 1 < pieces.size() ? pieces[k + 1].a : r;
      under += Zdt3HIntegral(pieces[k].b) - Zdt3HIntegral(pieces[k].a);
      under += Zdt3H(pieces[k].b) * (next - pieces[k].b);
    }
    return r * r - under;
  }
  if (which == "dtlz1") return r * r * r - 1.0 / 48.0;
  return r * r * r - pi / 6.0;  // dtlz2
}

namespace {

// A classic single-objective function as a one-objective Problem, or nullopt for another name.
std::optional<Result<Problem>> MakeClassicProblem(const std::string& name, size_t dims,
                                                  std::optional<uint64_t> shift_seed) {
  for (int number = 1; number <= kNumClassic; ++number) {
    auto probe = MakeClassic(number, kClassicDims);
    if (!probe.ok() || probe->name != name) continue;
    auto classic = MakeClassic(number, dims == 0 ? kClassicDims : dims, shift_seed);
    if (!classic.ok())
      return Result<Problem>(InvalidArgumentError("problem " + name + ": " + classic.status().message()));
    Problem problem;
    problem.name = name;
    problem.dims = classic->dims;
    problem.num_objectives = 1;
    problem.lower.assign(classic->dims, classic->lower);
    problem.upper.assign(classic->dims, classic->upper);
    problem.evaluate = [f = classic->evaluate](std::span<const double> x) {
      return std::vector<double>{f(x)};
    };
    return Result<Problem>(std::move(problem));
  }
  return std::nullopt;
}

}  // namespace

Result<Problem> MakeProblem(const std::string& name, size_t dims, std::optional<uint64_t> shift_seed) {
  if (auto classic = MakeClassicProblem(name, dims, shift_seed)) return std::move(*classic);
  if (shift_seed.has_value()) {
    return InvalidArgumentError("problem " + name +
                                ": only the classic single-objective functions have a shifted form");
  }
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
  return UnknownProblem(name);
}

std::vector<std::string> ProblemNames() {
  std::vector<std::string> names;
  for (const Definition& def : kDefinitions) names.push_back(def.name);
  for (int number = 1; number <= kNumClassic; ++number) {
    auto classic = MakeClassic(number, kClassicDims);
    if (classic.ok()) names.push_back(classic->name);
  }
  return names;
}

}  // namespace hpo::problems
