#include "search/ehvi.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>

namespace hpo::search {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Psi(t) = integral_{-inf}^{t} Phi((z - mu) / sd) dz; with sd 0, max(t - mu, 0).
double Psi(double t, double mu, double sd) {
  if (t == -kInf) return 0.0;
  if (sd <= 0.0) return std::max(t - mu, 0.0);
  const double u = (t - mu) / sd;
  const double cdf = 0.5 * std::erfc(-u / std::numbers::sqrt2);
  const double pdf = std::exp(-0.5 * u * u) / std::sqrt(2.0 * std::numbers::pi);
  return std::max((t - mu) * cdf + sd * pdf, 0.0);
}

// -infinity, the distinct values below `limit`, ascending, then `limit`.
std::vector<double> Edges(std::vector<double> values, double limit) {
  std::erase_if(values, [limit](double v) { return !(v < limit); });
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  values.insert(values.begin(), -kInf);
  values.push_back(limit);
  return values;
}

}  // namespace

Result<EhviFront> EhviFront::Create(const std::vector<std::vector<double>>& points,
                                    std::span<const double> reference) {
  const size_t m = reference.size();
  if (m < 1 || m > 3) {
    return InvalidArgumentError("ehvi: " + std::to_string(m) + " objectives; exact EHVI takes 1 to 3");
  }
  for (double r : reference) {
    if (!std::isfinite(r)) return InvalidArgumentError("ehvi: the reference point is not finite");
  }
  std::vector<std::vector<double>> inside;
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i].size() != m) {
      return InvalidArgumentError("ehvi: point " + std::to_string(i) + " has " +
                                  std::to_string(points[i].size()) + " objectives, the reference " +
                                  std::to_string(m));
    }
    bool in = true;
    for (size_t d = 0; d < m; ++d) {
      if (!std::isfinite(points[i][d])) {
        return InvalidArgumentError("ehvi: point " + std::to_string(i) + " is not finite");
      }
      in = in && points[i][d] < reference[d];
    }
    if (in) inside.push_back(points[i]);
  }
  EhviFront front;
  front.reference_.assign(reference.begin(), reference.end());
  front.front_size_ = inside.size();
  if (m == 1) {
    front.top_.assign(1, reference[0]);
    for (const auto& p : inside) front.top_[0] = std::min(front.top_[0], p[0]);
    return front;
  }
  std::vector<double> first, second;
  for (const auto& p : inside) {
    first.push_back(p[0]);
    second.push_back(p[1]);
  }
  front.edges1_ = Edges(first, reference[0]);
  const size_t cells1 = front.edges1_.size() - 1;
  if (m == 2) {
    front.top_.assign(cells1, reference[1]);
    for (size_t i = 0; i < cells1; ++i) {
      for (const auto& p : inside) {
        if (p[0] <= front.edges1_[i]) front.top_[i] = std::min(front.top_[i], p[1]);
      }
    }
    return front;
  }
  front.edges2_ = Edges(second, reference[1]);
  const size_t cells2 = front.edges2_.size() - 1;
  front.top_.assign(cells1 * cells2, reference[2]);
  for (size_t i = 0; i < cells1; ++i) {
    for (size_t j = 0; j < cells2; ++j) {
      double& top = front.top_[i * cells2 + j];
      for (const auto& p : inside) {
        if (p[0] <= front.edges1_[i] && p[1] <= front.edges2_[j]) top = std::min(top, p[2]);
      }
    }
  }
  return front;
}

double EhviFront::Evaluate(std::span<const double> mean, std::span<const double> sd) const {
  if (reference_.size() == 1) return Psi(top_[0], mean[0], sd[0]);  // expected improvement
  const size_t cells1 = edges1_.size() - 1;
  // Psi_1 at every edge: the width factor of each column of cells.
  double previous = Psi(edges1_[0], mean[0], sd[0]);
  double total = 0.0;
  if (reference_.size() == 2) {
    for (size_t i = 0; i < cells1; ++i) {
      const double next = Psi(edges1_[i + 1], mean[0], sd[0]);
      const double width = next - previous;
      previous = next;
      if (width > 0.0) total += width * Psi(top_[i], mean[1], sd[1]);
    }
    return std::max(total, 0.0);
  }
  const size_t cells2 = edges2_.size() - 1;
  thread_local std::vector<double> depth;
  depth.resize(cells2);
  double lower = Psi(edges2_[0], mean[1], sd[1]);
  for (size_t j = 0; j < cells2; ++j) {
    const double upper = Psi(edges2_[j + 1], mean[1], sd[1]);
    depth[j] = upper - lower;
    lower = upper;
  }
  for (size_t i = 0; i < cells1; ++i) {
    const double next = Psi(edges1_[i + 1], mean[0], sd[0]);
    const double width = next - previous;
    previous = next;
    if (width <= 0.0) continue;
    double column = 0.0;
    for (size_t j = 0; j < cells2; ++j) {
      if (depth[j] > 0.0) column += depth[j] * Psi(top_[i * cells2 + j], mean[2], sd[2]);
    }
    total += width * column;
  }
  return std::max(total, 0.0);
}

double EhviFront::Improvement(std::span<const double> y) const {
  const std::vector<double> zero(y.size(), 0.0);
  return Evaluate(y, zero);
}

}  // namespace hpo::search
