// NSGA-II (Deb, Pratap, Agarwal, Meyarivan, "A fast and elitist multiobjective genetic algorithm:
// NSGA-II", IEEE Transactions on Evolutionary Computation 6(2), 182-197, 2002) on the unit cube, behind
// the ask/tell Optimizer interface, with Deb's constrained domination (section VI of the paper).
//
// Not thread-safe (see optimizer.h); the caller owns the returned optimizer.
//
// The algorithm. A parent population P of at most `population` individuals, each with its objectives
// (minimised) and constraint violation, is ranked by constrained non-dominated sorting:
//   - a feasible point (violation 0) beats an infeasible one;
//   - of two infeasible points the one with the lower violation wins (equal violations tie);
//   - of two feasible points Pareto dominance decides.
// So the feasible points take the first fronts by Pareto sorting (pareto.h), and the infeasible ones the
// fronts after them, one front per distinct violation, lowest first. Within a front, crowding distance
// (pareto.h) measures how isolated a point is.
//   Mating: binary tournaments with the crowded-comparison operator: the lower rank wins, then the larger
// crowding distance, then a fair coin. The contestants are drawn in pairs from a random permutation of
// P, renewed when used up (so, as in Deb's code, each parent enters two tournaments per generation). Two
// winners give two children by SBX (probability crossover_prob, eta_c), then each child's genes are
// mutated by polynomial mutation (probability mutation_prob per gene, eta_m). In short (variation.h has
// the bounded forms in full): SBX recombines each gene with probability 1/2 into
//   c1,2 = ((y1 + y2) -/+ betaq (y2 - y1)) / 2,  betaq = (2u)^(1/(eta_c+1)) for u <= 1/2,
//                                                 (1 / (2 - 2u))^(1/(eta_c+1)) otherwise,
// with the spread shrunk near a bound so that children stay in [0, 1]; PM moves a gene by
//   deltaq = (2u)^(1/(eta_m+1)) - 1 for u <= 1/2,  1 - (2 - 2u)^(1/(eta_m+1)) otherwise,
// likewise bounded, then clamps it to [0, 1].
//   Survival ((mu + lambda)): the parents and the new results together are ranked as above; whole
// fronts are kept while they fit, and the front that does not fit is cut down by crowding distance
// (PruneByCrowding in pareto.h; ties keep the earlier point: parents before children, children by id).
// Two ways (`pruning`):
//   kOnce (the paper): the crowding distances of the front are computed once and the largest kept;
//   kIterative (default; Kukkonen and Deb, CEC 2006): the point of least crowding distance is removed one
//     at a time and the distances it touched are updated, so that two close points far from the rest do
//     not both survive; on ZDT1-6 and DTLZ2 it ends with a larger hypervolume. O(M K log K) for a front
//     of K.
// The two agree whenever one point goes. Copies of a point (equal objectives, frequent with discrete and
// categorical parameters) are crowded as one point: the earliest copy holds the point's distance and
// the others have 0, so they go first and no copy holds a second slot at an extreme (pareto.h). Rank and
// crowding distance of the survivors are then computed afresh for the next tournaments.
//
// Modes.
//   kGenerational (the paper): generation 0 is `population` points of a Latin hypercube (each gene's
// [0, 1] cut into `population` equal strata, one point per stratum, a random point within it). Ask hands
// out the current generation's candidates and returns fewer than asked (possibly none) once they are all
// out: the generation barrier. When every candidate of the generation is told (a TellFailed one counts
// as told and takes no part in survival), survival runs over the parents and the results (taken in id
// order, so the result does not depend on the order of the tells) and the next generation of
// `population` children is bred at once. If no individual has ever been told successfully, the next
// generation is a fresh Latin hypercube.
//   kSteadyState: while fewer than `population` results exist, Ask hands out the Latin hypercube of
// generation 0 and, beyond it, uniform random points; from then on each Ask(n) breeds n children from the
// current parents. Each Tell adds its result to P and, when P exceeds `population`, runs (mu + 1)
// survival: the worst point (last front, least crowding distance, the newest on a tie) is dropped. No
// caller ever waits for a straggler: Ask(n) always returns n candidates. A Tell is incremental: the new
// point's rank is one more than the highest rank of the parents that dominate it, only the parents it
// dominates can move to later fronts, and each front keeps its crowding distances up to date as points
// come and go (CrowdedFront in pareto.h); ranks and distances are exactly those a sort from scratch gives.
//
// Complexity, N = population, M = objectives, D = dims, K = a front's size: a generational survival sorts
// 2N points, O(N log N) for M = 2 (O(N log^2 N) for 3, see pareto.h) plus O(M N log N) for crowding;
// breeding a child is O(D). Generational: O(N log N + N D) per generation, i.e. per N evaluations. Steady
// state: O(N M) per Tell to compare the new point with every parent, plus O(M K) for the fronts it
// changes, plus O(S (S + N) M) when it dominates S parents (a sort from scratch, O(M N log N), when that
// is cheaper).
// Memory O(N (D + M)). Save is O(N (D + M)) bytes of text.
//
// Elite() is the parent population P (in generational mode: as of the last generation's survival), best
// first: by rank, then by crowding distance, largest first, then in P's order.
//
// State and determinism: Save writes the options (except the seed, which no longer matters), the
// counters, the parents, the results of the current generation, the outstanding candidates, the
// candidates not yet asked and the random generator, every number exactly (hexadecimal floating
// point). Load(Save()) continues exactly as an uninterrupted run. Load refuses bytes that are not such a
// state (DATA_LOSS) and a state saved with any other option (INVALID_ARGUMENT), changing nothing.
#ifndef HPO_SEARCH_NSGA2_H_
#define HPO_SEARCH_NSGA2_H_

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "search/optimizer.h"
#include "search/pareto.h"

namespace hpo::search {

struct Nsga2Options {
  OptimizerOptions base;    // dims >= 1, num_objectives >= 1, seed
  size_t population = 100;  // parents kept; also the generation size. In [4, 1'000'000]
  enum class Mode { kGenerational, kSteadyState } mode = Mode::kGenerational;
  double crossover_prob = 0.9;  // probability that a pair is recombined by SBX; in [0, 1]
  double eta_c = 20;            // SBX distribution index; finite, >= 0
  double eta_m = 20;            // polynomial mutation distribution index; finite, >= 0
  double mutation_prob = 0;     // per-gene mutation probability in [0, 1]; 0 = 1 / dims
  CrowdingPruning pruning = CrowdingPruning::kIterative;  // pareto.h; kOnce: exactly the 2002 paper
};

// An NSGA-II optimizer. INVALID_ARGUMENT naming the first bad field ("nsga2.population: must be at
// least 4") when an option is out of its range above.
Result<std::unique_ptr<Optimizer>> MakeNsga2(const Nsga2Options& options);

// The building blocks, exposed for tests and for other algorithms.

// Deb's constrained non-dominated sorting of points with objectives `objectives[i]` (all of one size)
// and violations `violations[i]` (0 = feasible): fronts as in pareto.h, with the feasible points' Pareto
// fronts first and then one front per distinct violation, lowest first.
// REQUIRES: objectives.size() == violations.size(); violations finite and >= 0.
NondominatedSorting ConstrainedNondominatedSort(const std::vector<std::vector<double>>& objectives,
                                                std::span<const double> violations);

// The indices (ascending) of the `count` points NSGA-II's survival keeps: whole fronts of the
// constrained sorting while they fit, then members of the next front by crowding distance, pruned as
// `pruning` says (PruneByCrowding; ties: the lower index stays). All of them when count >= the number of
// points. REQUIRES: as ConstrainedNondominatedSort; objectives not NaN.
std::vector<size_t> SelectSurvivors(const std::vector<std::vector<double>>& objectives,
                                    std::span<const double> violations, size_t count,
                                    CrowdingPruning pruning = CrowdingPruning::kIterative);

}  // namespace hpo::search

#endif  // HPO_SEARCH_NSGA2_H_
