#include "search/variation.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace hpo::search {
namespace {

// Parents closer than this are copied, as in Deb's code (the spread factor would divide by ~0).
constexpr double kSbxMinDistance = 1e-14;

// Deb's bounded spread factor for room `room` (distance from the nearer parent to the bound) on the side
// away from the other parent, with the random number u shared by both children.
double SbxSpread(double room, double distance, double u, double eta_c) {
  const double beta = 1.0 + 2.0 * room / distance;
  const double alpha = 2.0 - std::pow(beta, -(eta_c + 1.0));
  const double exponent = 1.0 / (eta_c + 1.0);
  return u <= 1.0 / alpha ? std::pow(u * alpha, exponent) : std::pow(1.0 / (2.0 - u * alpha), exponent);
}

}  // namespace

SbxChildren SbxCrossover(std::span<const double> parent1, std::span<const double> parent2, double eta_c,
                         double crossover_prob, Rng& rng) {
  assert(parent1.size() == parent2.size());
  SbxChildren children{std::vector<double>(parent1.begin(), parent1.end()),
                       std::vector<double>(parent2.begin(), parent2.end())};
  if (!(rng.Uniform01() < crossover_prob)) return children;
  for (size_t i = 0; i < parent1.size(); ++i) {
    if (!(rng.Uniform01() < kSbxGeneProb)) continue;
    const double y1 = std::min(parent1[i], parent2[i]);
    const double y2 = std::max(parent1[i], parent2[i]);
    const double distance = y2 - y1;
    if (!(distance > kSbxMinDistance)) continue;
    const double u = rng.Uniform01();
    const double c1 = 0.5 * ((y1 + y2) - SbxSpread(y1, distance, u, eta_c) * distance);
    const double c2 = 0.5 * ((y1 + y2) + SbxSpread(1.0 - y2, distance, u, eta_c) * distance);
    const bool swap = rng.Uniform01() < 0.5;
    children.first[i] = std::clamp(swap ? c2 : c1, 0.0, 1.0);
    children.second[i] = std::clamp(swap ? c1 : c2, 0.0, 1.0);
  }
  return children;
}

void PolynomialMutation(std::span<double> x, double eta_m, double mutation_prob, Rng& rng) {
  const double exponent = 1.0 / (eta_m + 1.0);
  for (double& y : x) {
    if (!(rng.Uniform01() < mutation_prob)) continue;
    const double u = rng.Uniform01();
    double deltaq;
    if (u <= 0.5) {
      const double value = 2.0 * u + (1.0 - 2.0 * u) * std::pow(1.0 - y, eta_m + 1.0);
      deltaq = std::pow(value, exponent) - 1.0;
    } else {
      const double value = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * std::pow(y, eta_m + 1.0);
      deltaq = 1.0 - std::pow(value, exponent);
    }
    y = std::clamp(y + deltaq, 0.0, 1.0);
  }
}

}  // namespace hpo::search
