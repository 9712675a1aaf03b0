// Examples: what one training run reads from a Datasets, one example at a time, whatever the family:
// labelled feature vectors (images in NHWC order) with one label each, or windows of a text with one label
// (the next byte) per token. The training loop (train.cc) stages examples through this and never looks at
// the data's kind.
//
// A text split of n bytes holds (n - 1) / seq_len windows: window w's tokens are bytes [w seq_len,
// (w + 1) seq_len) and its labels the bytes one further on, so every byte but the first is predicted once.
//
// Immutable after Create; refers to the Datasets, which must outlive it. Thread-safe for reading.
#ifndef HPO_TRAINER_EXAMPLES_H_
#define HPO_TRAINER_EXAMPLES_H_

#include <cstdint>

#include "base/status.h"
#include "trainer/dataset.h"

namespace hpo::trainer {

enum class SplitId { kTrain, kValidation, kTest };

class Examples {
 public:
  // Labelled examples (seq_len 0) or text windows of seq_len tokens (data.is_text()); train_limit (0: all)
  // caps the training examples. INVALID_ARGUMENT naming the split when a split is empty, is inconsistent
  // (CheckSplit), or, for text, holds fewer than seq_len + 1 bytes; INVALID_ARGUMENT when the data has
  // fewer than 2 classes.
  static Result<Examples> Create(const Datasets& data, int64_t seq_len, int64_t train_limit);

  // Whether the inputs are token ids (int32) rather than float features.
  bool tokens() const { return seq_len_ > 0; }
  // Inputs per example, and labels per example.
  int64_t dim() const { return dim_; }
  int64_t outputs() const { return tokens() ? seq_len_ : 1; }
  int64_t classes() const { return data_->classes; }
  int64_t count(SplitId split) const;

  // Writes example `index` of `split` at row `row` of the staging arrays: dim() features into
  // features[row * dim()] (float inputs) or dim() tokens into tokens[row * dim()] (token inputs), and
  // outputs() labels into labels[row * outputs()]. REQUIRES: index < count(split).
  void Fill(SplitId split, int64_t index, int64_t row, float* features, int32_t* tokens,
            int32_t* labels) const;

 private:
  Examples(const Datasets& data, int64_t seq_len) : data_(&data), seq_len_(seq_len) {}

  const Datasets* data_;
  int64_t seq_len_ = 0;
  int64_t dim_ = 0;
  int64_t train_count_ = 0;
};

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_EXAMPLES_H_
