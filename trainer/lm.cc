#include "trainer/lm.h"

#include <string>
#include <utility>
#include <vector>

#include "base/rng.h"

namespace hpo::trainer {

using kernels::Activation;
using kernels::ConstView;
using kernels::DType;
using kernels::Transpose;
using kernels::View;

namespace {

size_t Size(int64_t n) { return static_cast<size_t>(n); }

}  // namespace

Result<Lm> Lm::Create(kernels::Backend& backend, const LmConfig& config, DType dtype, int64_t max_rows,
                      uint64_t seed) {
  const auto bad = [](const std::string& what) { return InvalidArgumentError("Lm: " + what); };
  if (config.vocab < 2 || config.seq_len < 1) {
    return bad("vocab " + std::to_string(config.vocab) + " must be >= 2 and seq_len " +
               std::to_string(config.seq_len) + " >= 1");
  }
  HPO_RETURN_IF_ERROR(CheckModelDtype("Lm", dtype));
  if (max_rows < 1) return bad("max_rows " + std::to_string(max_rows) + " must be >= 1");
  LmConfig shaped = config;
  shaped.transformer.causal = true;
  shaped.transformer.rope = config.position == PositionKind::kRope;
  shaped.transformer.alibi = config.position == PositionKind::kAlibi;
  HPO_RETURN_IF_ERROR(CheckTransformerConfig(shaped.transformer, "Lm"));
  Lm lm(backend, shaped, max_rows);
  HPO_RETURN_IF_ERROR(lm.Build(dtype, seed));
  return lm;
}

Status Lm::Build(DType dtype, uint64_t seed) {
  const int64_t d = config_.transformer.d_model, t = config_.seq_len;
  tok_ = params_.Add("tok_emb", config_.vocab, d, ParamKind::kEmbedding);
  if (config_.position == PositionKind::kLearned) pos_ = params_.Add("pos_emb", t, d, ParamKind::kEmbedding);
  stack_.AddParams(params_);
  head_w_ = params_.Add("head.w", d, config_.vocab, ParamKind::kWeight);
  head_b_ = params_.Add("head.b", 1, config_.vocab, ParamKind::kBias);
  HPO_RETURN_IF_ERROR(params_.Allocate(*backend_, dtype));

  kernels::Backend& b = *backend_;
  const int64_t tokens = max_rows_ * t;
  HPO_RETURN_IF_ERROR(stack_.Allocate(b, dtype, tokens));
  HPO_RETURN_IF_ERROR(stack_.AllocateCache(t));
  HPO_ASSIGN_OR_RETURN(embedded_, b.Allocate(Size(tokens * d), dtype));
  HPO_ASSIGN_OR_RETURN(dout_, b.Allocate(Size(tokens * d), dtype));
  HPO_ASSIGN_OR_RETURN(logits_, b.Allocate(Size(tokens * config_.vocab), dtype));
  HPO_ASSIGN_OR_RETURN(dlogits_, b.Allocate(Size(tokens * config_.vocab), dtype));
  if (config_.position == PositionKind::kSinusoidal) {
    const std::vector<double> table = SinusoidalPositions(t, d);
    HPO_ASSIGN_OR_RETURN(kernels::Buffer wide, b.Allocate(table.size(), DType::kF64));
    HPO_RETURN_IF_ERROR(b.Upload(std::span<const double>(table), wide.view()));
    HPO_ASSIGN_OR_RETURN(sinusoid_, b.Allocate(table.size(), dtype));
    HPO_RETURN_IF_ERROR(b.Cast(wide.view(), sinusoid_.view()));
  }

  dropout_seed_ = DeriveSeed(seed, kDropoutStream);
  Rng rng(DeriveSeed(seed, kInitStream));
  std::vector<double> values(params_.size(), 0.0);
  // The embedding tables as PyTorch's nn.Embedding (std 1, the scale of a sinusoidal table), the head as
  // the blocks' weights.
  FillNormal(params_.info(tok_), 1.0, rng, values);
  if (pos_ != kNone) FillNormal(params_.info(pos_), 1.0, rng, values);
  FillNormal(params_.info(head_w_), TransformerStack::kInitStd, rng, values);
  stack_.InitValues(params_, rng, values);
  return params_.Initialize(values);
}

Status Lm::Run(ConstView tokens, int64_t batch, int64_t len, int64_t pos_offset, bool training, uint64_t step,
               bool use_cache) {
  kernels::Backend& b = *backend_;
  const int64_t d = config_.transformer.d_model, rows = batch * len;
  const View embedded = embedded_.Sub(0, Size(rows * d));
  HPO_RETURN_IF_ERROR(
      b.EmbeddingForward(rows, config_.vocab, d, tokens, params_.Weights(params_.info(tok_)), embedded));
  // Positions [pos_offset, pos_offset + len) of the table, the same for every sequence: a bias over rows
  // of len x d_model.
  const ConstView table = pos_ != kNone ? params_.Weights(params_.info(pos_)) : ConstView(sinusoid_.view());
  if (table.size > 0) {
    HPO_RETURN_IF_ERROR(b.BiasActivationForward(Activation::kIdentity, batch, len * d,
                                                table.Sub(Size(pos_offset * d), Size(len * d)), embedded,
                                                embedded));
  }
  HPO_RETURN_IF_ERROR(
      stack_.Forward(params_, embedded, batch, len, pos_offset, training, dropout_seed_, step, use_cache));
  const View logits = logits_.Sub(0, Size(rows * config_.vocab));
  HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kNo, Transpose::kNo, rows, config_.vocab, d, 1.0, stack_.output(),
                             params_.Weights(params_.info(head_w_)), 0.0, logits));
  return b.BiasActivationForward(Activation::kIdentity, rows, config_.vocab,
                                 params_.Weights(params_.info(head_b_)), logits, logits);
}

Status Lm::Forward(ConstView x, int64_t rows) {
  if (rows < 1 || rows > max_rows_) {
    return InvalidArgumentError("Lm::Forward: rows " + std::to_string(rows) + " outside [1, " +
                                std::to_string(max_rows_) + "]");
  }
  return Run(x, rows, config_.seq_len, 0, /*training=*/false, 0, /*use_cache=*/false);
}

Status Lm::ForwardBackward(ConstView x, ConstView labels, int64_t rows,
                           const kernels::LossOptions& loss_options, uint64_t step, View loss) {
  if (rows < 1 || rows > max_rows_) {
    return InvalidArgumentError("Lm::ForwardBackward: rows " + std::to_string(rows) + " outside [1, " +
                                std::to_string(max_rows_) + "]");
  }
  const int64_t t = config_.seq_len, tokens = rows * t, d = config_.transformer.d_model,
                vocab = config_.vocab;
  HPO_RETURN_IF_ERROR(Run(x, rows, t, 0, /*training=*/true, step, /*use_cache=*/false));
  kernels::Backend& b = *backend_;
  const View dlogits = dlogits_.Sub(0, Size(tokens * vocab));
  HPO_RETURN_IF_ERROR(b.SoftmaxCrossEntropy(loss_options, tokens, vocab, logits_.Sub(0, Size(tokens * vocab)),
                                            labels, loss, dlogits));
  HPO_RETURN_IF_ERROR(b.BiasActivationBackward(Activation::kIdentity, tokens, vocab, dlogits, dlogits,
                                               dlogits, params_.Grad(params_.info(head_b_))));
  HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kYes, Transpose::kNo, d, vocab, tokens, 1.0, stack_.output(), dlogits,
                             0.0, params_.Grad(params_.info(head_w_))));
  const View dout = dout_.Sub(0, Size(tokens * d));
  HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kNo, Transpose::kYes, tokens, d, vocab, 1.0, dlogits,
                             params_.Weights(params_.info(head_w_)), 0.0, dout));
  HPO_RETURN_IF_ERROR(
      stack_.Backward(params_, embedded_.Sub(0, Size(tokens * d)), dout, dout, dropout_seed_, step));
  if (pos_ != kNone) {
    HPO_RETURN_IF_ERROR(b.BiasActivationBackward(Activation::kIdentity, rows, t * d, dout, dout, dout,
                                                 params_.Grad(params_.info(pos_))));
  }
  return b.EmbeddingBackward(tokens, vocab, d, x, dout, params_.Grad(params_.info(tok_)));
}

Status Lm::Prefill(ConstView tokens, int64_t len) {
  if (len < 1 || len > config_.seq_len) {
    return InvalidArgumentError("Lm::Prefill: a prompt of " + std::to_string(len) + " tokens; 1 to " +
                                std::to_string(config_.seq_len) + " fit the context");
  }
  HPO_RETURN_IF_ERROR(Run(tokens, 1, len, 0, /*training=*/false, 0, /*use_cache=*/true));
  cached_ = len;
  return Status::Ok();
}

Status Lm::DecodeStep(ConstView token, int64_t pos) {
  if (pos < 1 || pos >= config_.seq_len || pos > cached_) {
    return InvalidArgumentError("Lm::DecodeStep: position " + std::to_string(pos) + " with " +
                                std::to_string(cached_) + " positions cached and a context of " +
                                std::to_string(config_.seq_len));
  }
  HPO_RETURN_IF_ERROR(Run(token, 1, 1, pos, /*training=*/false, 0, /*use_cache=*/true));
  cached_ = pos + 1;
  return Status::Ok();
}

}  // namespace hpo::trainer
