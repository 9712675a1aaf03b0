// Whale optimization: the original algorithm (Mirjalili and Lewis, "The whale optimization algorithm",
// Advances in Engineering Software 95, 2016) and an improved one (IWOA) with three switchable additions
// — an inertia weight, a hybrid Lévy-flight / DE step, an adaptive shrink factor — as an ask/tell
// Optimizer on the unit cube, single-objective (num_objectives == 1: the leader is the best point so far)
// and multi-objective (an external non-dominated archive, bounded and truncated by crowding distance, from
// which each whale draws its leader by a binary tournament on crowding). Constraints by Deb's rules.
//
// The improved updates are translation-invariant: every random coefficient multiplies a difference of two
// points, never a position, so that moving the optimum moves the search with it. The original's
// encircling step X* - A·|C·X* - X| multiplies a raw position by C, so its step size, and how precisely it
// closes in, depend on where the optimum lies relative to the coordinate origin (on the cube: the lower
// bound of every parameter); it is kept, exactly, only as the `kOriginal` reference. search/README.md
// writes out every update equation of both, and the measurements.
//
// Ask/tell: WOA is iteration-synchronous. Each phase proposes one candidate per whale — the initial
// population (a Latin hypercube), then per iteration the whales' moves and, with hybrid search, one trial
// per whale (so 2N evaluations per iteration) — and Ask returns fewer than asked (possibly none) once a
// phase's candidates are all out: the next phase starts when every one of them is told or told failed.
// Every whale takes its move (a failed one stays where it was); a trial replaces its whale when better
// (one objective) or only offers itself to the archive (several); a failed trial is dropped. The updates
// depend on which whale a result belongs to, never on the order of the tells. Elite() is the archive, or
// the best point for one objective. Cost per iteration: O(N·d) for the moves and trials, plus O(N·K·M) for
// the archive's update and O(N·M·K·log K) for its truncation with several objectives (K = archive_size).
//
// Not thread-safe (see optimizer.h); the caller owns the returned optimizer.
#ifndef HPO_SEARCH_WOA_H_
#define HPO_SEARCH_WOA_H_

#include <cstddef>
#include <memory>

#include "base/status.h"
#include "search/optimizer.h"

namespace hpo::search {

struct WoaOptions {
  enum class Variant {
    kOriginal,  // the paper's update, with its bias toward the origin: the reference, not for use
    kImproved,  // translation-invariant updates (search/README.md)
  };

  OptimizerOptions base;                 // dims, num_objectives, seed
  Variant variant = Variant::kImproved;  // the update's form; the switches below work with either
  bool inertia_weight = true;            // w(t) = 0.9 - 0.8·t/T on the leader term
  bool hybrid_search = true;             // one Lévy-flight or DE/rand/1/bin trial per whale per iteration
  bool adaptive_shrink = true;           // a(t) follows the swarm's diversity instead of 2 - 2t/T alone
  size_t population = 30;                // whales N; >= 2, >= 4 with hybrid_search (DE needs 3 others)
  size_t max_iterations = 500;           // T of a(t) and w(t), >= 1; past T the search goes on at t = T
  size_t archive_size = 100;             // multi-objective archive bound, >= 1 (unused for one objective)
  double spiral_b = 1.0;                 // b of the spiral e^{bl}·cos(2πl); finite, > 0
  double de_f = 0.5;                     // DE scale factor F; in (0, 2]
  double de_cr = 0.9;                    // DE binomial crossover rate CR; in [0, 1]
  double levy_beta = 1.5;                // Lévy index β (Mantegna's method); in [0.3, 1.99]
  double levy_scale = 1.0;               // Lévy step size α (times a difference of whales); (0, 1e6]
  double levy_share = 0.5;               // Lévy flights' share of the trials (the rest DE); [0, 1]

  // The paper's WOA: kOriginal with every improvement off, the other fields at their defaults.
  static WoaOptions Original(const OptimizerOptions& base);
};

// A whale optimizer. INVALID_ARGUMENT naming the field ("woa.population: ...") for any option out of the
// ranges above (dims and num_objectives >= 1 as for every optimizer). Load accepts only a state saved by a
// whale optimizer with the same options (the seed aside: the saved generator replaces it); otherwise
// INVALID_ARGUMENT naming the first option that differs.
Result<std::unique_ptr<Optimizer>> MakeWoa(const WoaOptions& options);

// The iterations T that `budget` evaluations allow: the first population, then population candidates an
// iteration, twice that with hybrid search (one trial per whale). At least 1.
size_t WoaIterationsForBudget(size_t budget, size_t population, bool hybrid_search);

}  // namespace hpo::search

#endif  // HPO_SEARCH_WOA_H_
