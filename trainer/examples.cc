#include "trainer/examples.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace hpo::trainer {
namespace {

const std::vector<uint8_t>& Text(const Datasets& data, SplitId split) {
  return split == SplitId::kTrain        ? data.text.train
         : split == SplitId::kValidation ? data.text.validation
                                         : data.text.test;
}

const Split& Labelled(const Datasets& data, SplitId split) {
  return split == SplitId::kTrain ? data.train : split == SplitId::kValidation ? data.validation : data.test;
}

int64_t Windows(const std::vector<uint8_t>& bytes, int64_t seq_len) {
  return bytes.empty() ? 0 : (static_cast<int64_t>(bytes.size()) - 1) / seq_len;
}

}  // namespace

Result<Examples> Examples::Create(const Datasets& data, int64_t seq_len, int64_t train_limit) {
  if (data.classes < 2) return InvalidArgumentError("the dataset needs at least 2 classes");
  Examples examples(data, seq_len);
  if (seq_len > 0) {
    const char* names[] = {"training", "validation", "test"};
    for (const SplitId split : {SplitId::kTrain, SplitId::kValidation, SplitId::kTest}) {
      const auto& bytes = Text(data, split);
      if (Windows(bytes, seq_len) < 1) {
        return InvalidArgumentError("the " + std::string(names[static_cast<int>(split)]) + " text holds " +
                                    std::to_string(bytes.size()) + " bytes; seq_len " +
                                    std::to_string(seq_len) + " needs at least " +
                                    std::to_string(seq_len + 1));
      }
    }
    examples.dim_ = seq_len;
  } else {
    examples.dim_ = data.train.dim;
    HPO_RETURN_IF_ERROR(CheckSplit(data.train, examples.dim_, data.classes, "train"));
    HPO_RETURN_IF_ERROR(CheckSplit(data.validation, examples.dim_, data.classes, "validation"));
    HPO_RETURN_IF_ERROR(CheckSplit(data.test, examples.dim_, data.classes, "test"));
    if (data.train.count < 1) return InvalidArgumentError("the training set is empty");
    if (data.validation.count < 1 || data.test.count < 1) {
      return InvalidArgumentError("the validation and test sets must not be empty");
    }
  }
  const int64_t all = seq_len > 0 ? Windows(data.text.train, seq_len) : data.train.count;
  examples.train_count_ = train_limit > 0 ? std::min(train_limit, all) : all;
  return examples;
}

int64_t Examples::count(SplitId split) const {
  if (split == SplitId::kTrain) return train_count_;
  return tokens() ? Windows(Text(*data_, split), seq_len_) : Labelled(*data_, split).count;
}

void Examples::Fill(SplitId split, int64_t index, int64_t row, float* features, int32_t* tokens,
                    int32_t* labels) const {
  if (this->tokens()) {
    const uint8_t* bytes = Text(*data_, split).data() + index * seq_len_;
    for (int64_t t = 0; t < seq_len_; ++t) {
      tokens[row * seq_len_ + t] = bytes[t];
      labels[row * seq_len_ + t] = bytes[t + 1];
    }
    return;
  }
  const Split& s = Labelled(*data_, split);
  std::memcpy(features + row * dim_, s.Example(index), sizeof(float) * static_cast<size_t>(dim_));
  labels[row] = s.labels[static_cast<size_t>(index)];
}

}  // namespace hpo::trainer
