#include "search/space.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <set>
#include <string_view>

#include "base/strings.h"

namespace hpo::search {
namespace {

// Int bounds stay where every integer of a range, log scale included, has a gene of its own (log ints
// lose integers near 2^48, where a value's share of [0, 1] gets thinner than the doubles near 1).
constexpr double kMaxIntBound = 0x1p40;
// A float grid has at most this many points, so that its index fits a double exactly.
constexpr double kMaxFloatGridPoints = 0x1p52;
// A stepped float within this many steps of a grid point is on it.
constexpr double kGridTolerance = 1e-9;

// x clamped to [0, 1]; NaN reads as 0.
double Clamp01(double x) { return x >= 0.0 ? std::min(x, 1.0) : 0.0; }

// The grid of a stepped float or an int: n values, low + k * step for k < n - 1, then high.
struct Grid {
  int64_t n = 1;
  double step = 0;
};

Grid FloatGrid(const ParamSpec& p) {
  const double r = (p.high - p.low) / p.step;
  int64_t n = static_cast<int64_t>(std::ceil(r - kGridTolerance)) + 1;
  if (n >= 2 && p.low + static_cast<double>(n - 2) * p.step >= p.high) --n;  // no duplicate top point
  return {n, p.step};
}

Grid IntGrid(const ParamSpec& p) {
  const int64_t low = static_cast<int64_t>(p.low), high = static_cast<int64_t>(p.high);
  const int64_t step = p.step == 0 ? 1 : static_cast<int64_t>(p.step);
  const int64_t span = high - low;
  return {span / step + 1 + (span % step != 0 ? 1 : 0), static_cast<double>(step)};
}

bool HasGrid(const ParamSpec& p) { return p.kind == ParamKind::kInt ? !p.log : p.step > 0; }

Grid GridOf(const ParamSpec& p) { return p.kind == ParamKind::kInt ? IntGrid(p) : FloatGrid(p); }

// Index of the equal share of [0, 1] that x falls in, out of n.
int64_t Share(double x, int64_t n) {
  return std::min(static_cast<int64_t>(Clamp01(x) * static_cast<double>(n)), n - 1);
}

double GridValue(const ParamSpec& p, const Grid& g, int64_t k) {
  if (k >= g.n - 1) return p.high;
  return std::min(p.low + static_cast<double>(k) * g.step, p.high);
}

// The numeric value of gene x for a kFloat or kInt parameter (an int as an exact double).
double DecodeNumber(const ParamSpec& p, double x) {
  x = Clamp01(x);
  if (HasGrid(p)) {
    const Grid g = GridOf(p);
    return GridValue(p, g, Share(x, g.n));
  }
  if (p.kind == ParamKind::kInt) {  // log int
    const double v = std::exp(std::lerp(std::log(p.low - 0.5), std::log(p.high + 0.5), x));
    return std::clamp(std::round(v), p.low, p.high);
  }
  if (x == 0.0) return p.low;
  if (x == 1.0) return p.high;
  const double v =
      p.log ? std::exp(std::lerp(std::log(p.low), std::log(p.high), x)) : std::lerp(p.low, p.high, x);
  return std::clamp(v, p.low, p.high);
}

// A gene that DecodeNumber maps to v, starting from `guess`. DecodeNumber is non-decreasing in x, and
// the doubles of [0, 1] are ordered like their bit patterns, so bisection on the bits finds the first x
// that reaches v. When no x gives v exactly, the x whose value is nearest.
double InvertNumber(const ParamSpec& p, double v, double guess) {
  guess = Clamp01(guess);
  if (DecodeNumber(p, guess) == v) return guess;
  uint64_t lo = 0, hi = std::bit_cast<uint64_t>(1.0);
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (DecodeNumber(p, std::bit_cast<double>(mid)) >= v) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  const double x = std::bit_cast<double>(lo);
  if (lo == 0 || DecodeNumber(p, x) == v) return x;
  const double below = std::bit_cast<double>(lo - 1);
  return v - DecodeNumber(p, below) <= DecodeNumber(p, x) - v ? below : x;
}

// The analytic gene of a numeric value, a close first guess for InvertNumber.
double GuessGene(const ParamSpec& p, double v) {
  if (p.kind == ParamKind::kInt && p.log) {
    const double lo = std::log(p.low - 0.5), hi = std::log(p.high + 0.5);
    const double centre = 0.5 * (std::log(v - 0.5) + std::log(v + 0.5));  // of v's share in log space
    return (centre - lo) / (hi - lo);
  }
  if (p.high == p.low) return 0.5;
  if (p.log) return (std::log(v) - std::log(p.low)) / (std::log(p.high) - std::log(p.low));
  return (v - p.low) / (p.high - p.low);
}

std::string Num(double v) { return FormatValue(v); }

// What is wrong with a kFloat or kInt parameter, or "" when nothing is.
std::string NumericProblem(const ParamSpec& p) {
  const bool is_int = p.kind == ParamKind::kInt;
  const double step = is_int && p.step == 1 ? 0 : p.step;  // an int step of 1 is no step
  if (!std::isfinite(p.low) || !std::isfinite(p.high)) {
    return "bounds must be finite, got low " + Num(p.low) + ", high " + Num(p.high);
  }
  if (p.low > p.high) return "low " + Num(p.low) + " > high " + Num(p.high);
  if (is_int) {
    for (const double bound : {p.low, p.high}) {
      if (bound != std::trunc(bound)) return "int bound " + Num(bound) + " is not an integer";
      if (std::abs(bound) > kMaxIntBound) return "int bound " + Num(bound) + " outside [-2^40, 2^40]";
    }
  }
  if (!std::isfinite(p.step) || p.step < 0) return "step must be finite and >= 0, got " + Num(p.step);
  if (is_int && p.step != std::trunc(p.step)) return "int step " + Num(p.step) + " is not an integer";
  if (p.log) {
    if (p.low <= 0) return "log scale needs low > 0, got low " + Num(p.low);
    if (step != 0) return "log scale cannot have a step, got step " + Num(step);
    return "";
  }
  if (step == 0) return "";
  const double span = p.high - p.low;
  if (step > span * (1 + kGridTolerance)) return "step " + Num(step) + " larger than high - low " + Num(span);
  if (!is_int && span / step > kMaxFloatGridPoints) {
    return "step " + Num(step) + " too small: more than 2^52 grid points";
  }
  return "";
}

std::string CategoricalProblem(const ParamSpec& p) {
  if (p.choices.empty()) return "choices are empty";
  std::set<std::string_view> seen;
  for (const std::string& c : p.choices) {
    if (!seen.insert(c).second) return "duplicate choice \"" + c + "\"";
  }
  return "";
}

// Index of the first parameter named `name`, or params.size() when there is none.
size_t FindParam(const std::vector<ParamSpec>& params, const std::string& name) {
  for (size_t j = 0; j < params.size(); ++j) {
    if (params[j].name == name) return j;
  }
  return params.size();
}

// What is wrong with the parent and parent_values of params[i], or "" when nothing is. Names before i
// are unique (checked first), so the parent found is the only earlier parameter of that name.
std::string ParentProblem(const std::vector<ParamSpec>& params, size_t i) {
  const ParamSpec& p = params[i];
  if (p.parent.empty()) return p.parent_values.empty() ? "" : "parent_values given without a parent";
  const std::string parent = "parent \"" + p.parent + "\"";
  const size_t j = FindParam(params, p.parent);
  if (j == params.size()) return parent + " is not a parameter";
  if (j == i) return parent + " is the parameter itself";
  if (j > i) return parent + " must come before it (it is parameters[" + std::to_string(j) + "])";
  const ParamSpec& q = params[j];
  if (q.kind != ParamKind::kCategorical) return parent + " is not categorical";
  if (p.parent_values.empty()) return "parent_values are empty";
  std::set<std::string_view> seen;
  for (const std::string& v : p.parent_values) {
    if (!seen.insert(v).second) return "duplicate parent value \"" + v + "\"";
    if (std::find(q.choices.begin(), q.choices.end(), v) == q.choices.end()) {
      return "parent value \"" + v + "\" is not one of the choices of " + parent;
    }
  }
  return "";
}

// "parameters[i] (name)", the start of every message about one parameter.
std::string Label(size_t i, const ParamSpec& p) {
  return "parameters[" + std::to_string(i) + "] (" + p.name + ")";
}

// The gene of value v for parameter p, or what is wrong with v.
Result<double> EncodeOne(const ParamSpec& p, const Value& value) {
  if (p.kind == ParamKind::kCategorical) {
    const std::string* s = std::get_if<std::string>(&value);
    if (s == nullptr) return InvalidArgumentError("categorical needs a string value");
    const auto it = std::find(p.choices.begin(), p.choices.end(), *s);
    if (it == p.choices.end()) return InvalidArgumentError("value \"" + *s + "\" is not one of the choices");
    const double n = static_cast<double>(p.choices.size());
    return (static_cast<double>(it - p.choices.begin()) + 0.5) / n;
  }
  double v = 0;
  if (p.kind == ParamKind::kInt) {
    const int64_t* i = std::get_if<int64_t>(&value);
    if (i == nullptr) return InvalidArgumentError("int needs an integer value");
    v = static_cast<double>(*i);
  } else {
    const double* d = std::get_if<double>(&value);
    if (d == nullptr) return InvalidArgumentError("float needs a double value");
    v = *d;
  }
  if (!std::isfinite(v)) return InvalidArgumentError("value " + Num(v) + " is not finite");
  if (v < p.low || v > p.high) {
    return InvalidArgumentError("value " + Num(v) + " outside [" + Num(p.low) + ", " + Num(p.high) + "]");
  }
  if (!HasGrid(p)) return InvertNumber(p, v, GuessGene(p, v));
  const Grid g = GridOf(p);
  int64_t k = std::clamp<int64_t>(std::llround((v - p.low) / g.step), 0, g.n - 1);
  if (std::abs(v - p.high) <= kGridTolerance * g.step) k = g.n - 1;
  if (std::abs(GridValue(p, g, k) - v) > kGridTolerance * g.step) {
    return InvalidArgumentError("value " + Num(v) + " is not on the grid " + Num(p.low) + " + k * " +
                                Num(g.step) + " (or high)");
  }
  return InvertNumber(p, GridValue(p, g, k), (static_cast<double>(k) + 0.5) / static_cast<double>(g.n));
}

}  // namespace

std::string FormatValue(const Value& value) {
  if (const double* d = std::get_if<double>(&value)) return FormatDouble(*d);
  if (const int64_t* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  return std::get<std::string>(value);
}

Result<SearchSpace> SearchSpace::Create(std::vector<ParamSpec> params) {
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamSpec& p = params[i];
    std::string problem;
    if (p.name.empty()) problem = "name is empty";
    for (size_t j = 0; j < i && problem.empty(); ++j) {
      if (params[j].name == p.name) problem = "duplicate name (also parameters[" + std::to_string(j) + "])";
    }
    if (problem.empty())
      problem = p.kind == ParamKind::kCategorical ? CategoricalProblem(p) : NumericProblem(p);
    if (problem.empty()) problem = ParentProblem(params, i);
    if (!problem.empty()) return InvalidArgumentError(Label(i, p) + ": " + problem);
  }
  std::vector<size_t> parents(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    parents[i] = params[i].parent.empty() ? i : FindParam(params, params[i].parent);
  }
  return SearchSpace(std::move(params), std::move(parents));
}

std::vector<Value> SearchSpace::Decode(std::span<const double> x) const {
  assert(x.size() == params_.size());
  std::vector<Value> values;
  values.reserve(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamSpec& p = params_[i];
    const double gene = i < x.size() ? x[i] : 0.0;
    switch (p.kind) {
      case ParamKind::kCategorical:
        values.emplace_back(p.choices[Share(gene, static_cast<int64_t>(p.choices.size()))]);
        break;
      case ParamKind::kInt:
        values.emplace_back(static_cast<int64_t>(DecodeNumber(p, gene)));
        break;
      case ParamKind::kFloat:
        values.emplace_back(DecodeNumber(p, gene));
        break;
    }
  }
  return values;
}

Result<std::vector<double>> SearchSpace::Encode(const std::vector<Value>& values) const {
  if (values.size() != params_.size()) {
    return InvalidArgumentError("expected " + std::to_string(params_.size()) + " values, got " +
                                std::to_string(values.size()));
  }
  std::vector<double> x(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    Result<double> gene = EncodeOne(params_[i], values[i]);
    if (!gene.ok()) return gene.status().WithPrefix(Label(i, params_[i]));
    x[i] = *gene;
  }
  return x;
}

std::vector<bool> SearchSpace::Active(const std::vector<Value>& values) const {
  assert(values.size() == params_.size());
  std::vector<bool> active(params_.size(), true);
  for (size_t i = 0; i < params_.size(); ++i) {
    const size_t j = parents_[i];  // j < i: the parent's entry is already final
    if (j == i) continue;
    const std::string* value = j < values.size() ? std::get_if<std::string>(&values[j]) : nullptr;
    const std::vector<std::string>& allowed = params_[i].parent_values;
    active[i] =
        active[j] && value != nullptr && std::find(allowed.begin(), allowed.end(), *value) != allowed.end();
  }
  return active;
}

}  // namespace hpo::search
