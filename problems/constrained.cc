#include "problems/constrained.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numbers>
#include <span>
#include <utility>

namespace hpo::problems {
namespace {

using std::numbers::pi;

constexpr size_t kTnkDims = 2;

// TNK's constraint values (see the header); g_j <= 0 holds.
std::vector<double> TnkConstraints(std::span<const double> x) {
  const double g1 = -(x[0] * x[0] + x[1] * x[1] - 1.0 - 0.1 * std::cos(16.0 * std::atan2(x[0], x[1])));
  const double g2 = (x[0] - 0.5) * (x[0] - 0.5) + (x[1] - 0.5) * (x[1] - 0.5) - 0.5;
  return {g1, g2};
}

using Point2 = std::pair<double, double>;

// The hypervolume of `points` for the reference (r, r), both minimised: sort by the first objective
// and sweep, adding the slab each point adds below the best second objective so far. Points outside
// the reference box add nothing. Reorders `points`.
double Hypervolume2(std::vector<Point2>& points, double r) {
  std::sort(points.begin(), points.end());
  double hv = 0.0;
  double best = r;
  for (const auto& [a, b] : points) {
    if (a >= r) break;
    if (b < best) {
      hv += (r - a) * (best - b);
      best = b;
    }
  }
  return hv;
}

// The point of the curve g1 = 0 at polar angle t (measured from the x2 axis): atan2(x1, x2) = t.
Point2 TnkBoundary(double t) {
  const double rho = std::sqrt(1.0 + 0.1 * std::cos(16.0 * t));
  return {rho * std::sin(t), rho * std::cos(t)};
}

double TnkG2(const Point2& p) {
  return (p.first - 0.5) * (p.first - 0.5) + (p.second - 0.5) * (p.second - 0.5) - 0.5;
}

// The t in [lo, hi] where g2 along the curve changes sign, to the last bit, returned on its feasible
// side (g2 <= 0). REQUIRES: exactly one of g2(lo), g2(hi) is <= 0.
double TnkArcEnd(double lo, double hi) {
  const bool lo_feasible = TnkG2(TnkBoundary(lo)) <= 0.0;
  while (true) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    ((TnkG2(TnkBoundary(mid)) <= 0.0) == lo_feasible ? lo : hi) = mid;
  }
  return lo_feasible ? lo : hi;
}

}  // namespace

Result<Problem> MakeConstrainedProblem(const std::string& name) {
  if (name != "tnk") {
    return InvalidArgumentError("unknown constrained problem \"" + name + "\" (known: tnk)");
  }
  Problem problem;
  problem.name = name;
  problem.dims = kTnkDims;
  problem.num_objectives = 2;
  problem.lower.assign(kTnkDims, 0.0);
  problem.upper.assign(kTnkDims, pi);
  problem.evaluate = [](std::span<const double> x) {
    assert(x.size() == kTnkDims);
    return std::vector<double>{x[0], x[1]};
  };
  problem.num_constraints = 2;
  problem.constraints = [](std::span<const double> x) {
    assert(x.size() == kTnkDims);
    return TnkConstraints(x);
  };
  return problem;
}

std::vector<std::string> ConstrainedProblemNames() { return {"tnk"}; }

Result<TnkHypervolumeBounds> TnkTrueFrontHypervolumeBounds(double reference) {
  if (!std::isfinite(reference) || reference < 0.1 || reference > 100.0) {
    return InvalidArgumentError("problem tnk: reference " + std::to_string(reference) +
                                " must be finite and in [0.1, 100]");
  }
  constexpr size_t kIntervals = size_t{1} << 20;
  const double step = (pi / 2.0) / static_cast<double>(kIntervals);
  std::vector<Point2> samples;  // feasible points of the curve: the lower bound's staircase
  std::vector<Point2> corners;  // corners of consecutive points of one arc: the upper bound's
  samples.reserve(kIntervals / 2);
  corners.reserve(kIntervals / 2);
  auto add = [&](const Point2& p, bool continues_arc) {
    if (continues_arc) {
      const Point2& last = samples.back();
      corners.push_back({std::min(last.first, p.first), std::min(last.second, p.second)});
    }
    samples.push_back(p);
  };
  bool previous_feasible = false;
  double previous_t = 0.0;
  for (size_t i = 0; i <= kIntervals; ++i) {
    const double t = i == kIntervals ? pi / 2.0 : static_cast<double>(i) * step;
    const Point2 p = TnkBoundary(t);
    const bool feasible = TnkG2(p) <= 0.0;
    if (i > 0 && feasible != previous_feasible) {  // an arc starts or ends between the two samples
      add(TnkBoundary(TnkArcEnd(previous_t, t)), previous_feasible);
    }
    if (feasible) add(p, /*continues_arc=*/i > 0);  // i > 0: the sample before it or the arc's start
    previous_feasible = feasible;
    previous_t = t;
  }
  TnkHypervolumeBounds bounds;
  for (const Point2& p : samples) corners.push_back(p);
  bounds.lower = Hypervolume2(samples, reference);
  bounds.upper = Hypervolume2(corners, reference);
  return bounds;
}

Result<double> TnkTrueFrontHypervolume(double reference) {
  HPO_ASSIGN_OR_RETURN(const TnkHypervolumeBounds bounds, TnkTrueFrontHypervolumeBounds(reference));
  return 0.5 * (bounds.lower + bounds.upper);
}

}  // namespace hpo::problems
