// Random search: every gene uniform on [0, 1) from an hpo::Rng seeded with the options' seed. Tells only
// close candidates; the search itself learns nothing from them. The baseline every algorithm must beat.
//
// Not thread-safe (see optimizer.h); the caller owns the returned optimizer.
#ifndef HPO_SEARCH_RANDOM_SEARCH_H_
#define HPO_SEARCH_RANDOM_SEARCH_H_

#include <memory>

#include "base/status.h"
#include "search/optimizer.h"

namespace hpo::search {

// A random search over options.dims genes. INVALID_ARGUMENT when dims or num_objectives is 0.
// Ask(n) always returns exactly n candidates.
Result<std::unique_ptr<Optimizer>> MakeRandomSearch(const OptimizerOptions& options);

}  // namespace hpo::search

#endif  // HPO_SEARCH_RANDOM_SEARCH_H_
