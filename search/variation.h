// Variation operators of real-coded genetic algorithms on the unit cube: simulated binary crossover
// (SBX; Deb and Agrawal, "Simulated binary crossover for continuous search space", Complex Systems 9,
// 1995) and polynomial mutation (PM; Deb and Goyal 1996), both in the bounded forms of Deb's NSGA-II
// reference code (nsga2 v1.1, crossover.c and mutation.c; the "highly disruptive" PM), with the
// variable bounds fixed to [0, 1]. Every child gene is in [0, 1].
//
// Free functions: thread-safe as long as each thread passes its own Rng. They take every random number
// from the Rng given, so a seed fixes their results. O(dims) time each.
//
// SBX, for each gene with probability 1/2 (kSbxGeneProb), where the parents differ by more than 1e-14:
// with y1 < y2 the parents' genes, u uniform on [0, 1), eta = eta_c,
//   beta  = 1 + 2 (y1 - 0) / (y2 - y1)             (room below, for c1)
//   alpha = 2 - beta^-(eta + 1)
//   betaq = (u alpha)^(1 / (eta + 1))              if u <= 1 / alpha
//         = (1 / (2 - u alpha))^(1 / (eta + 1))    otherwise
//   c1    = ((y1 + y2) - betaq (y2 - y1)) / 2
// and the same with beta = 1 + 2 (1 - y2) / (y2 - y1) (room above) and the same u for
//   c2    = ((y1 + y2) + betaq (y2 - y1)) / 2,
// each clamped to [0, 1]; then c1 and c2 go to the two children in random order. Far from the bounds
// beta^-(eta+1) vanishes, both betaq are equal and the children are symmetric about the parents' mean;
// near a bound the spread on that side shrinks so that the child stays inside. Other genes are copied.
//
// PM, for each gene with probability mutation_prob: with y the gene, u uniform on [0, 1), eta = eta_m,
//   deltaq = (2u + (1 - 2u) (1 - y)^(eta + 1))^(1 / (eta + 1)) - 1                   if u <= 1/2
//          = 1 - (2(1 - u) + 2(u - 1/2) y^(eta + 1))^(1 / (eta + 1))                  otherwise
//   y'     = clamp(y + deltaq, 0, 1).
// deltaq is in [-y, 1 - y]: u = 0 gives 0, u -> 1 gives 1, and larger eta keeps y' nearer y.
#ifndef HPO_SEARCH_VARIATION_H_
#define HPO_SEARCH_VARIATION_H_

#include <span>
#include <vector>

#include "base/rng.h"

namespace hpo::search {

// The probability that SBX recombines one gene (when it recombines the pair at all).
inline constexpr double kSbxGeneProb = 0.5;

struct SbxChildren {
  std::vector<double> first;   // size dims, each gene in [0, 1]
  std::vector<double> second;  // size dims, each gene in [0, 1]
};

// With probability crossover_prob, the SBX children of the two parents (see above); otherwise copies of
// them (first = parent1, second = parent2). crossover_prob 0 never recombines, 1 always does.
// REQUIRES: parent1.size() == parent2.size(), genes in [0, 1], eta_c >= 0, crossover_prob in [0, 1].
SbxChildren SbxCrossover(std::span<const double> parent1, std::span<const double> parent2, double eta_c,
                         double crossover_prob, Rng& rng);

// Mutates each gene of x independently with probability mutation_prob by polynomial mutation (see
// above); mutation_prob 0 changes nothing, 1 mutates every gene.
// REQUIRES: genes in [0, 1], eta_m >= 0, mutation_prob in [0, 1].
void PolynomialMutation(std::span<double> x, double eta_m, double mutation_prob, Rng& rng);

}  // namespace hpo::search

#endif  // HPO_SEARCH_VARIATION_H_
