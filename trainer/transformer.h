// TransformerStack: the blocks that the vision transformer (trainer/vit.h) and the language model
// (trainer/lm.h) share, with their forward and backward passes and a KV cache for decoding, on a
// kernels::Backend. The model owns the ParamSet; the stack adds its tensors to it, then reads and writes
// them by index.
//
// Input x and output are rows x d_model, rows = batch * len tokens ([batch, len, d_model]). Layer l, from
// its input x (pre-norm, the default; post-norm moves each norm after its residual sum):
//   pre:  h = x + drop(attn(norm1(x)));  out = h + drop(ffn(norm2(h)))     (and norm_f(out) after the last)
//   post: h = norm1(x + drop(attn(x)));  out = norm2(h + drop(ffn(h)))
//   attn(a) = o Wo + bo with o = attention(q, k, v), q = a Wq + bq (heads x head_dim), k = a Wk + bk and
//             v = a Wv + bv (kv_heads x head_dim); rotary positions on q and k (rope); causal and sliding
//             window masks and ALiBi biases as kernels::AttentionShape says
//   ffn(a)  = gelu(a W1 + b1) W2 + b2, or swiglu: (silu(g) * u) W2 + b2 with [g u] = a W1 + b1
//   norm    = LayerNorm (gain and shift) or RMSNorm (gain), eps 1e-5
// Dropout (training only) is inverted and drawn from the seed, the step and the layer.
//
// Precision as the other families (trainer/mlp.h): activations and GEMM inputs in the model's dtype,
// master parameters and gradients in its accumulation type. Initialisation: weights normal with std 0.02
// (GPT-2, ViT), biases and shifts 0, gains 1.
//
// KV cache: with a cache allocated (batch 1), Forward with use_cache writes the new tokens' keys and
// values (after RoPE) into rows [pos_offset, pos_offset + len) of each layer's cache and attends over
// rows [0, pos_offset + len): a prompt is one call at pos_offset 0 (prefill), each next token one call of
// len 1 at its position (decode), and the outputs equal those of one full forward pass.
//
// Not thread-safe. Holds a non-owning pointer to the backend, which must outlive the stack.
#ifndef HPO_TRAINER_TRANSFORMER_H_
#define HPO_TRAINER_TRANSFORMER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/rng.h"
#include "base/status.h"
#include "kernels/backend.h"
#include "trainer/families.h"
#include "trainer/param_set.h"

namespace hpo::trainer {

struct TransformerConfig {
  int64_t d_model = 64;
  int layers = 4;
  int64_t heads = 4;
  int64_t kv_heads = 4;      // divides heads
  int64_t ffn_hidden = 256;  // the feed-forward width (per half of SwiGLU's doubled projection)
  bool causal = false;
  int64_t window = 0;  // 0: full attention
  bool rope = false;
  bool alibi = false;
  double rope_base = 10000;
  NormKind norm = NormKind::kLayerNorm;
  bool post_norm = false;
  FfnKind ffn = FfnKind::kGelu;
  double dropout = 0.0;

  int64_t head_dim() const { return d_model / heads; }
};

// Checks a TransformerConfig: dimensions >= 1, heads dividing d_model, kv_heads dividing heads, a head
// size within kernels::kMaxAttentionHeadDim (and even with rope), dropout in [0, 1). INVALID_ARGUMENT
// naming the offender, prefixed by `who`.
Status CheckTransformerConfig(const TransformerConfig& config, const std::string& who);

// Sets the values of tensor `info` (layout offsets into `values`) to normal draws of standard deviation
// `std`.
void FillNormal(const ParamInfo& info, double std, Rng& rng, std::vector<double>& values);

// The fixed position table of Vaswani et al. 2017: len x d values, row p holding sin(p / 10000^(2i/d)) at
// column 2i and cos(p / 10000^(2i/d)) at column 2i + 1.
std::vector<double> SinusoidalPositions(int64_t len, int64_t d);

class TransformerStack {
 public:
  static constexpr double kNormEps = 1e-5;
  static constexpr double kInitStd = 0.02;

  TransformerStack() = default;
  explicit TransformerStack(const TransformerConfig& config) : config_(config) {}
  TransformerStack(TransformerStack&&) = default;
  TransformerStack& operator=(TransformerStack&&) = default;

  const TransformerConfig& config() const { return config_; }

  // Adds the stack's tensors to `params` (before its Allocate), names prefixed "l<layer>.".
  void AddParams(ParamSet& params);
  // Writes the stack's initial values into `values` (one per parameter of the ParamSet, layout order).
  void InitValues(const ParamSet& params, Rng& rng, std::vector<double>& values) const;
  // Allocates activations for up to max_rows tokens (after the ParamSet's Allocate).
  Status Allocate(kernels::Backend& backend, kernels::DType dtype, int64_t max_rows);
  // Allocates a KV cache of max_len positions for batch 1.
  Status AllocateCache(int64_t max_len);

  // The output of `batch` sequences of `len` tokens x (rows x d_model, rows = batch * len <= max_rows),
  // into output() (valid until the next Forward). Tokens sit at positions pos_offset + t. use_cache: batch
  // 1, and the cache holds the keys and values of positions [0, pos_offset).
  Status Forward(const ParamSet& params, kernels::ConstView x, int64_t batch, int64_t len, int64_t pos_offset,
                 bool training, uint64_t dropout_seed, uint64_t step, bool use_cache = false);
  kernels::ConstView output() const { return output_; }

  // Backward of the last training Forward (no cache): adds nothing, overwrites the stack's gradients in
  // `params` and writes dx (rows x d_model; empty: not needed). dout (the gradient of output(), rows x
  // d_model) is overwritten.
  Status Backward(ParamSet& params, kernels::ConstView x, kernels::View dout, kernels::View dx,
                  uint64_t dropout_seed, uint64_t step);

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  struct Norm {
    size_t gamma = kNone, beta = kNone;  // beta: layer norm only
    kernels::Buffer mean, rstd;          // per row; mean: layer norm only
  };
  struct Layer {
    Norm norm1, norm2;
    size_t wq = kNone, bq = kNone, wk = kNone, bk = kNone, wv = kNone, bv = kNone, wo = kNone, bo = kNone;
    size_t w1 = kNone, b1 = kNone, w2 = kNone, b2 = kNone;
    kernels::Buffer a1;  // pre-norm: norm1(x), the attention's input
    kernels::Buffer q, k, v, o, lse;
    kernels::Buffer s1;  // post-norm: x + attn (norm1's input)
    kernels::Buffer h;   // the feed-forward sub-layer's residual input
    kernels::Buffer a2;  // pre-norm: norm2(h), the feed-forward's input
    kernels::Buffer f_pre, f_act;
    kernels::Buffer s2;   // post-norm: h + ffn (norm2's input)
    kernels::Buffer out;  // the layer's output
    kernels::Buffer k_cache, v_cache;
  };

  void AddNorm(ParamSet& params, const std::string& name, Norm& norm) const;
  Status NormForward(const ParamSet& params, Norm& norm, int64_t rows, kernels::ConstView x, kernels::View y);
  // sum = in + branch (a sub-layer's residual), and with post-norm out = norm(sum); with pre-norm sum is the
  // output (out is sum).
  Status AddResidual(const ParamSet& params, Norm& norm, int64_t rows, kernels::ConstView in,
                     kernels::ConstView branch, kernels::View sum, kernels::View out);
  // dx (may be dy) from dy.
  Status NormBackward(ParamSet& params, Norm& norm, int64_t rows, kernels::ConstView x, kernels::ConstView dy,
                      kernels::View dx);
  int64_t q_width() const { return config_.heads * config_.head_dim(); }
  int64_t kv_width() const { return config_.kv_heads * config_.head_dim(); }
  int64_t ffn_width() const {
    return config_.ffn == FfnKind::kSwiGlu ? 2 * config_.ffn_hidden : config_.ffn_hidden;
  }
  kernels::AttentionShape Shape(int64_t batch, int64_t len, int64_t kv_len, int64_t pos_offset) const;
  uint64_t DropoutStream(uint64_t step, int layer, int sublayer) const {
    return step * 256 + static_cast<uint64_t>(2 * layer + sublayer);
  }
  // y = x W + b (rows x cols out of rows x fan_in).
  Status Linear(const ParamSet& params, size_t w, size_t b, int64_t rows, kernels::ConstView x,
                kernels::View y);

  TransformerConfig config_;
  kernels::Backend* backend_ = nullptr;
  int64_t max_rows_ = 0;
  int64_t cache_len_ = 0;
  std::vector<Layer> layers_;
  Norm final_norm_;                         // pre-norm only
  kernels::Buffer final_;                   // pre-norm: norm_f(the last layer's output)
  int64_t rows_ = 0, batch_ = 0, len_ = 0;  // of the last Forward
  kernels::ConstView output_;
  // Scratch for up to max_rows tokens.
  kernels::Buffer tmp_d_, tmp_d2_, da_, tmp_f_, tmp_f2_, dq_, dk_, dv_;
};

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_TRANSFORMER_H_
