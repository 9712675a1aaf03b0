// Random search: every gene uniform on [0, 1) from an hpo::Rng seeded with the options' seed,
// optionally after a Latin hypercube start. Tells only close candidates; the search itself learns
// nothing from them. The baseline every algorithm must beat.
//
// Latin hypercube start (McKay, Beckman, Conover 1979): with latin_hypercube = n >= 1, candidates
// 0..n-1 (the first n asked, over any number of Ask calls) form one design: in every dimension the
// n strata [s/n, (s+1)/n) hold exactly one of them each (floor(x * n) == s, exactly), the strata
// matched to candidates by an independent uniform random permutation per dimension and each gene
// uniform inside its stratum. The design comes from its own generator, seeded with
// DeriveSeed(seed, kLatinHypercubeStream); candidates from n on are plain uniform draws from the main
// generator, which the design does not touch (so a search with a start asks, after the start, what
// one without it asks from its first candidate on).
//
// Not thread-safe (see optimizer.h); the caller owns the returned optimizer.
//
// State format (Save), text, version 2 (version 1, without the latin_hypercube line and meaning no
// start, still loads; Save always writes version 2):
//   hpo.random_search v2
//   dims <dims> objectives <num_objectives>
//   latin_hypercube <n> <design seed>
//   next_id <id>
//   outstanding <count> <id> ... (ascending)
//   rng <Rng::Save text to the end>
// The design is not stored: Load rebuilds it from n and its seed, bit for bit.
#ifndef HPO_SEARCH_RANDOM_SEARCH_H_
#define HPO_SEARCH_RANDOM_SEARCH_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/status.h"
#include "search/optimizer.h"

namespace hpo::search {

// The stream of the options' seed that the Latin hypercube design draws from (see DeriveSeed).
inline constexpr uint64_t kLatinHypercubeStream = 0x4c48'5331;  // "LHS1"

// The largest design, in genes (latin_hypercube * dims), a random search accepts: 32 MiB of doubles.
inline constexpr size_t kMaxLatinHypercubeGenes = size_t{1} << 22;

struct RandomSearchOptions {
  OptimizerOptions base;       // dims, num_objectives, seed; as for every optimizer
  size_t latin_hypercube = 0;  // size of the Latin hypercube start; 0 = none (all uniform)
};

// A random search over options.base.dims genes. INVALID_ARGUMENT when dims or num_objectives is 0,
// or latin_hypercube * dims > kMaxLatinHypercubeGenes. Ask(n) always returns exactly n candidates.
Result<std::unique_ptr<Optimizer>> MakeRandomSearch(const RandomSearchOptions& options);

// The same with no Latin hypercube start: MakeRandomSearch({.base = options}).
Result<std::unique_ptr<Optimizer>> MakeRandomSearch(const OptimizerOptions& options);

}  // namespace hpo::search

#endif  // HPO_SEARCH_RANDOM_SEARCH_H_
