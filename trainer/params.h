// ParamInfo: where one parameter tensor of a model lives inside the model's flat parameter buffer (and,
// at the same offsets, its gradient buffer, its compute copy and an optimizer's state buffers). Plain
// value type.
#ifndef HPO_TRAINER_PARAMS_H_
#define HPO_TRAINER_PARAMS_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace hpo::trainer {

enum class ParamKind {
  kWeight,     // a weight matrix: the only kind weight decay applies to
  kBias,       // a layer's bias
  kNormGain,   // a layer norm's gamma (initialised to 1)
  kNormShift,  // a layer norm's beta
  kEmbedding,  // a token or position embedding table (not decayed, as in GPT-2 and ViT)
};

struct ParamInfo {
  std::string name;   // the family's name for it, e.g. "w0", "s1b1.gamma", "l0.wq", "tok_emb"
  size_t offset = 0;  // in elements, into the flat buffers
  size_t count = 0;   // rows * cols
  int64_t rows = 0;   // weights: fan-in; vectors: 1
  int64_t cols = 0;   // fan-out
  ParamKind kind = ParamKind::kWeight;

  bool decays() const { return kind == ParamKind::kWeight; }
};

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_PARAMS_H_
