// How users' own data is split, shared by the readers of example arrays (.npy, IDX) and of text: the
// file's LAST validation share is the validation split, the test share before it the test split (when
// the test split is held out of the file), and the rest, or its first train_limit, the training split.
// Internal to hpo_trainer (the public API is trainer/dataset.h). Stateless functions: thread-safe.
#ifndef HPO_TRAINER_DATA_SPLIT_H_
#define HPO_TRAINER_DATA_SPLIT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace hpo::trainer {

// A file's units (examples or bytes) in file order: [0, train) train, [available, available + test) test,
// [available + test, total) validation.
struct SplitSizes {
  int64_t train = 0;
  int64_t available = 0;  // units before the held-out splits; train <= available
  int64_t test = 0;       // 0 when the test split comes from elsewhere
  int64_t validation = 0;
};

// The fractions of a source ("npy data", "text data"): validation_fraction in (0, 1), and unless
// `test_held_out` is false test_fraction in (0, 1) as well, together below 1. INVALID_ARGUMENT
// "<source>: validation_fraction V and test_fraction T must each be in (0, 1) and together below 1".
Status CheckFractions(std::string_view source, double validation_fraction, double test_fraction,
                      bool test_held_out);

// The splits of `total` units of `path` (named in messages, with `unit`: "examples", "bytes"), each
// split at least `minimum` units, train_limit 0 (all) or at most what is left (and at least `minimum`).
// REQUIRES: CheckFractions passed. INVALID_ARGUMENT when a split would be too small, OUT_OF_RANGE for a
// train_limit out of range.
Result<SplitSizes> SizeSplits(const std::string& path, int64_t total, std::string_view unit, int64_t minimum,
                              double validation_fraction, double test_fraction, bool test_held_out,
                              int64_t train_limit);

// OUT_OF_RANGE "train_limit: N is out of range [0, available] (0: all...)" unless train_limit is 0 or in
// [minimum, available].
Status CheckTrainLimit(int64_t train_limit, int64_t available, int64_t minimum = 1);

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_DATA_SPLIT_H_
