// Vit: the vision-transformer family of Model (trainer/model.h; Dosovitskiy et al. 2021): an image
// classifier that cuts each image into patch_size x patch_size patches, embeds each as a token, runs the
// transformer blocks of trainer/transformer.h over the tokens (no mask: every token sees every other,
// or those within the sliding window), averages the tokens and classifies the average linearly.
//
//   tokens = patches(x) Wp + bp               (Im2Col with window = stride = patch_size; pixels beyond the
//                                              last whole patch are dropped, as a strided convolution does)
//   tokens += position                        learned: a parameter table; sinusoidal: the fixed table of
//                                              Vaswani et al.; rope and alibi: inside attention instead
//   logits = mean_t(blocks(tokens)) Wh + bh
//
// Precision, parameters and initialisation as the other families; the patch embedding, the position table
// and the head are normal with std 0.02 (the position table is an embedding: never decayed).
//
// Not thread-safe. Holds a non-owning pointer to the backend, which must outlive the Vit.
#ifndef HPO_TRAINER_VIT_H_
#define HPO_TRAINER_VIT_H_

#include <cstdint>

#include "base/status.h"
#include "kernels/backend.h"
#include "trainer/families.h"
#include "trainer/model.h"
#include "trainer/transformer.h"

namespace hpo::trainer {

struct VitConfig {
  int64_t height = 28;
  int64_t width = 28;
  int64_t channels = 1;
  int64_t classes = 10;    // >= 2
  int64_t patch_size = 4;  // in [1, min(height, width)]
  PositionKind position = PositionKind::kLearned;
  // d_model, layers, heads, kv_heads, ffn_hidden, window, norm, post_norm, ffn and dropout; causal, rope
  // and alibi are set from `position` (and never causal).
  TransformerConfig transformer;
};

class Vit final : public Model {
 public:
  // Allocates parameters and workspace for up to max_rows images per call and initialises the parameters
  // from `seed`. INVALID_ARGUMENT for a bad shape (naming it) or dtype; RESOURCE_EXHAUSTED when the
  // backend is out of memory.
  static Result<Vit> Create(kernels::Backend& backend, const VitConfig& config, kernels::DType dtype,
                            int64_t max_rows, uint64_t seed);

  Vit(Vit&&) = default;
  Vit& operator=(Vit&&) = default;

  const VitConfig& config() const { return config_; }
  // Tokens per image: (height / patch_size) x (width / patch_size), rounded down.
  int64_t tokens() const { return tokens_; }

  Status Forward(kernels::ConstView x, int64_t rows) override;
  kernels::ConstView logits() const override { return logits_.view(); }
  using Model::ForwardBackward;
  Status ForwardBackward(kernels::ConstView x, kernels::ConstView labels, int64_t rows,
                         const kernels::LossOptions& loss_options, uint64_t step,
                         kernels::View loss) override;

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  Vit(kernels::Backend& backend, const VitConfig& config, int64_t max_rows)
      : Model(backend, max_rows), config_(config), stack_(config.transformer) {}

  Status Build(kernels::DType dtype, uint64_t seed);
  Status ForwardPass(kernels::ConstView x, int64_t rows, bool training, uint64_t step);

  VitConfig config_;
  TransformerStack stack_;
  kernels::Conv2dShape patches_;
  int64_t tokens_ = 0;
  uint64_t dropout_seed_ = 0;
  size_t patch_w_ = kNone, patch_b_ = kNone, pos_ = kNone, head_w_ = kNone, head_b_ = kNone;
  kernels::Buffer cols_;      // max_rows * tokens x patch pixels
  kernels::Buffer embedded_;  // max_rows * tokens x d_model: the stack's input
  kernels::Buffer sinusoid_;  // tokens x d_model (sinusoidal positions)
  kernels::Buffer pooled_;    // max_rows x d_model
  kernels::Buffer logits_;    // max_rows x classes
  kernels::Buffer dlogits_;
  kernels::Buffer dpooled_;  // max_rows x d_model
  kernels::Buffer dtokens_;  // max_rows * tokens x d_model
};

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_VIT_H_
