// Lm: the language-model family of Model (trainer/model.h): a causal byte-level transformer that predicts
// each next byte of a text, with a KV cache for decoding one token at a time.
//
//   x = tok_emb[tokens] (+ pos_emb[positions] learned, or the sinusoidal table; rope and alibi act inside
//       attention instead)
//   logits = blocks(x) Wh + bh           (trainer/transformer.h, causal; vocab = 256 bytes)
// A row of the model is one sequence of seq_len tokens (kI32 byte values); its labels are the seq_len next
// bytes, and the loss is the mean cross-entropy over every token of the batch (in nats: bits per byte is
// loss / ln 2).
//
// Decoding (batch 1): Prefill runs a prompt through the blocks and fills the KV cache; each DecodeStep
// runs one token at the next position against the cache. Their logits equal those of Forward over the
// whole sequence, position by position.
//
// Precision, parameters and initialisation as the other families; the embedding tables and the head are
// normal with std 0.02 (the tables are embeddings: never decayed).
//
// Not thread-safe. Holds a non-owning pointer to the backend, which must outlive the Lm.
#ifndef HPO_TRAINER_LM_H_
#define HPO_TRAINER_LM_H_

#include <cstdint>

#include "base/status.h"
#include "kernels/backend.h"
#include "trainer/families.h"
#include "trainer/model.h"
#include "trainer/transformer.h"

namespace hpo::trainer {

struct LmConfig {
  int64_t vocab = 256;
  int64_t seq_len = 128;
  PositionKind position = PositionKind::kLearned;
  // d_model, layers, heads, kv_heads, ffn_hidden, window, norm, post_norm, ffn and dropout; causal is
  // always set, rope and alibi from `position`.
  TransformerConfig transformer;
};

class Lm final : public Model {
 public:
  // Allocates parameters and workspace for up to max_rows sequences per call (and a KV cache of seq_len
  // positions) and initialises the parameters from `seed`. INVALID_ARGUMENT for a bad shape or dtype;
  // RESOURCE_EXHAUSTED when the backend is out of memory.
  static Result<Lm> Create(kernels::Backend& backend, const LmConfig& config, kernels::DType dtype,
                           int64_t max_rows, uint64_t seed);

  Lm(Lm&&) = default;
  Lm& operator=(Lm&&) = default;

  const LmConfig& config() const { return config_; }
  kernels::DType input_dtype() const override { return kernels::DType::kI32; }
  int64_t outputs_per_row() const override { return config_.seq_len; }

  // x: rows x seq_len tokens (kI32); logits: rows * seq_len x vocab.
  Status Forward(kernels::ConstView x, int64_t rows) override;
  kernels::ConstView logits() const override { return logits_.view(); }
  using Model::ForwardBackward;
  // labels: rows * seq_len next tokens (kI32).
  Status ForwardBackward(kernels::ConstView x, kernels::ConstView labels, int64_t rows,
                         const kernels::LossOptions& loss_options, uint64_t step,
                         kernels::View loss) override;

  // The prompt's `len` tokens (kI32, 1 <= len <= seq_len) at positions [0, len): fills the KV cache; logits()
  // holds len x vocab logits.
  Status Prefill(kernels::ConstView tokens, int64_t len);
  // One token (kI32) at position pos (1 <= pos < seq_len, after a Prefill or DecodeStep that reached pos):
  // logits() holds its 1 x vocab logits.
  Status DecodeStep(kernels::ConstView token, int64_t pos);

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  Lm(kernels::Backend& backend, const LmConfig& config, int64_t max_rows)
      : Model(backend, max_rows), config_(config), stack_(config.transformer) {}

  Status Build(kernels::DType dtype, uint64_t seed);
  // The stack's output for `batch` sequences of `len` tokens at positions [pos_offset, pos_offset + len).
  Status Run(kernels::ConstView tokens, int64_t batch, int64_t len, int64_t pos_offset, bool training,
             uint64_t step, bool use_cache);

  LmConfig config_;
  TransformerStack stack_;
  uint64_t dropout_seed_ = 0;
  size_t tok_ = kNone, pos_ = kNone, head_w_ = kNone, head_b_ = kNone;
  int64_t cached_ = 0;        // positions held by the KV cache
  kernels::Buffer embedded_;  // max_rows * seq_len x d_model: the stack's input
  kernels::Buffer sinusoid_;  // seq_len x d_model (sinusoidal positions)
  kernels::Buffer logits_;    // max_rows * seq_len x vocab
  kernels::Buffer dlogits_;
  kernels::Buffer dout_;  // max_rows * seq_len x d_model
};

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_LM_H_
