#include "trainer/vit.h"

#include <algorithm>
#include <cmath>
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

Result<Vit> Vit::Create(kernels::Backend& backend, const VitConfig& config, DType dtype, int64_t max_rows,
                        uint64_t seed) {
  const auto bad = [](const std::string& what) { return InvalidArgumentError("Vit: " + what); };
  if (config.height < 1 || config.width < 1 || config.channels < 1) {
    return bad("bad image shape " + std::to_string(config.height) + "x" + std::to_string(config.width) + "x" +
               std::to_string(config.channels));
  }
  if (config.classes < 2) return bad("classes " + std::to_string(config.classes) + " must be >= 2");
  if (config.patch_size < 1 || config.patch_size > std::min(config.height, config.width)) {
    return bad("patch_size " + std::to_string(config.patch_size) + " does not fit a " +
               std::to_string(config.height) + "x" + std::to_string(config.width) + " image");
  }
  HPO_RETURN_IF_ERROR(CheckModelDtype("Vit", dtype));
  if (max_rows < 1) return bad("max_rows " + std::to_string(max_rows) + " must be >= 1");
  VitConfig shaped = config;
  shaped.transformer.causal = false;
  shaped.transformer.rope = config.position == PositionKind::kRope;
  shaped.transformer.alibi = config.position == PositionKind::kAlibi;
  HPO_RETURN_IF_ERROR(CheckTransformerConfig(shaped.transformer, "Vit"));
  Vit vit(backend, shaped, max_rows);
  HPO_RETURN_IF_ERROR(vit.Build(dtype, seed));
  return vit;
}

Status Vit::Build(DType dtype, uint64_t seed) {
  const int64_t p = config_.patch_size, d = config_.transformer.d_model;
  patches_ = kernels::Conv2dShape{.batch = 1,
                                  .height = config_.height,
                                  .width = config_.width,
                                  .channels = config_.channels,
                                  .kernel_h = p,
                                  .kernel_w = p,
                                  .stride_h = p,
                                  .stride_w = p,
                                  .pad_h = 0,
                                  .pad_w = 0};
  tokens_ = patches_.out_height() * patches_.out_width();
  patch_w_ = params_.Add("patch.w", patches_.patch_size(), d, ParamKind::kWeight);
  patch_b_ = params_.Add("patch.b", 1, d, ParamKind::kBias);
  if (config_.position == PositionKind::kLearned) {
    pos_ = params_.Add("pos_emb", tokens_, d, ParamKind::kEmbedding);
  }
  stack_.AddParams(params_);
  head_w_ = params_.Add("head.w", d, config_.classes, ParamKind::kWeight);
  head_b_ = params_.Add("head.b", 1, config_.classes, ParamKind::kBias);
  HPO_RETURN_IF_ERROR(params_.Allocate(*backend_, dtype));

  kernels::Backend& b = *backend_;
  const int64_t rows = max_rows_, tokens = rows * tokens_;
  HPO_RETURN_IF_ERROR(stack_.Allocate(b, dtype, tokens));
  HPO_ASSIGN_OR_RETURN(cols_, b.Allocate(Size(tokens * patches_.patch_size()), dtype));
  HPO_ASSIGN_OR_RETURN(embedded_, b.Allocate(Size(tokens * d), dtype));
  HPO_ASSIGN_OR_RETURN(dtokens_, b.Allocate(Size(tokens * d), dtype));
  HPO_ASSIGN_OR_RETURN(pooled_, b.Allocate(Size(rows * d), dtype));
  HPO_ASSIGN_OR_RETURN(dpooled_, b.Allocate(Size(rows * d), dtype));
  HPO_ASSIGN_OR_RETURN(logits_, b.Allocate(Size(rows * config_.classes), dtype));
  HPO_ASSIGN_OR_RETURN(dlogits_, b.Allocate(Size(rows * config_.classes), dtype));
  if (config_.position == PositionKind::kSinusoidal) {
    const std::vector<double> table = SinusoidalPositions(tokens_, d);
    HPO_ASSIGN_OR_RETURN(kernels::Buffer wide, b.Allocate(table.size(), DType::kF64));
    HPO_RETURN_IF_ERROR(b.Upload(std::span<const double>(table), wide.view()));
    HPO_ASSIGN_OR_RETURN(sinusoid_, b.Allocate(table.size(), dtype));
    HPO_RETURN_IF_ERROR(b.Cast(wide.view(), sinusoid_.view()));
  }

  dropout_seed_ = DeriveSeed(seed, kDropoutStream);
  Rng rng(DeriveSeed(seed, kInitStream));
  std::vector<double> values(params_.size(), 0.0);
  // The patch embedding as PyTorch initialises a layer (std 1 / sqrt(fan_in)), so that tokens have about
  // the scale of the pixels (and of a sinusoidal table); the position table and the head as timm's ViT.
  const ParamInfo& patch = params_.info(patch_w_);
  FillNormal(patch, 1.0 / std::sqrt(static_cast<double>(patch.rows)), rng, values);
  if (pos_ != kNone) FillNormal(params_.info(pos_), TransformerStack::kInitStd, rng, values);
  FillNormal(params_.info(head_w_), TransformerStack::kInitStd, rng, values);
  stack_.InitValues(params_, rng, values);
  return params_.Initialize(values);
}

Status Vit::Forward(ConstView x, int64_t rows) { return ForwardPass(x, rows, /*training=*/false, 0); }

Status Vit::ForwardPass(ConstView x, int64_t rows, bool training, uint64_t step) {
  if (rows < 1 || rows > max_rows_) {
    return InvalidArgumentError("Vit::Forward: rows " + std::to_string(rows) + " outside [1, " +
                                std::to_string(max_rows_) + "]");
  }
  kernels::Backend& b = *backend_;
  const int64_t d = config_.transformer.d_model, tokens = rows * tokens_;
  kernels::Conv2dShape s = patches_;
  s.batch = rows;
  const View cols = cols_.Sub(0, Size(tokens * s.patch_size()));
  HPO_RETURN_IF_ERROR(b.Im2Col(s, x, cols));
  const View embedded = embedded_.Sub(0, Size(tokens * d));
  HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kNo, Transpose::kNo, tokens, d, s.patch_size(), 1.0, cols,
                             params_.Weights(params_.info(patch_w_)), 0.0, embedded));
  HPO_RETURN_IF_ERROR(b.BiasActivationForward(Activation::kIdentity, tokens, d,
                                              params_.Weights(params_.info(patch_b_)), embedded, embedded));
  // The position table repeats per image: a bias over rows of tokens x d_model.
  if (pos_ != kNone) {
    HPO_RETURN_IF_ERROR(b.BiasActivationForward(Activation::kIdentity, rows, tokens_ * d,
                                                params_.Weights(params_.info(pos_)), embedded, embedded));
  } else if (sinusoid_.size() > 0) {
    HPO_RETURN_IF_ERROR(b.BiasActivationForward(Activation::kIdentity, rows, tokens_ * d, sinusoid_.view(),
                                                embedded, embedded));
  }
  HPO_RETURN_IF_ERROR(stack_.Forward(params_, embedded, rows, tokens_, 0, training, dropout_seed_, step));
  const View pooled = pooled_.Sub(0, Size(rows * d));
  HPO_RETURN_IF_ERROR(b.GlobalAvgPoolForward(rows, tokens_, d, stack_.output(), pooled));
  const View logits = logits_.Sub(0, Size(rows * config_.classes));
  HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kNo, Transpose::kNo, rows, config_.classes, d, 1.0, pooled,
                             params_.Weights(params_.info(head_w_)), 0.0, logits));
  return b.BiasActivationForward(Activation::kIdentity, rows, config_.classes,
                                 params_.Weights(params_.info(head_b_)), logits, logits);
}

Status Vit::ForwardBackward(ConstView x, ConstView labels, int64_t rows,
                            const kernels::LossOptions& loss_options, uint64_t step, View loss) {
  HPO_RETURN_IF_ERROR(ForwardPass(x, rows, /*training=*/true, step));
  kernels::Backend& b = *backend_;
  const int64_t d = config_.transformer.d_model, classes = config_.classes, tokens = rows * tokens_;
  const View dlogits = dlogits_.Sub(0, Size(rows * classes));
  HPO_RETURN_IF_ERROR(b.SoftmaxCrossEntropy(loss_options, rows, classes, logits_.Sub(0, Size(rows * classes)),
                                            labels, loss, dlogits));
  HPO_RETURN_IF_ERROR(b.BiasActivationBackward(Activation::kIdentity, rows, classes, dlogits, dlogits,
                                               dlogits, params_.Grad(params_.info(head_b_))));
  const ConstView pooled = pooled_.Sub(0, Size(rows * d));
  HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kYes, Transpose::kNo, d, classes, rows, 1.0, pooled, dlogits, 0.0,
                             params_.Grad(params_.info(head_w_))));
  const View dpooled = dpooled_.Sub(0, Size(rows * d));
  HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kNo, Transpose::kYes, rows, d, classes, 1.0, dlogits,
                             params_.Weights(params_.info(head_w_)), 0.0, dpooled));
  const View dtokens = dtokens_.Sub(0, Size(tokens * d));
  HPO_RETURN_IF_ERROR(b.GlobalAvgPoolBackward(rows, tokens_, d, dpooled, dtokens));
  HPO_RETURN_IF_ERROR(
      stack_.Backward(params_, embedded_.Sub(0, Size(tokens * d)), dtokens, dtokens, dropout_seed_, step));
  if (pos_ != kNone) {
    HPO_RETURN_IF_ERROR(b.BiasActivationBackward(Activation::kIdentity, rows, tokens_ * d, dtokens, dtokens,
                                                 dtokens, params_.Grad(params_.info(pos_))));
  }
  HPO_RETURN_IF_ERROR(b.BiasActivationBackward(Activation::kIdentity, tokens, d, dtokens, dtokens, dtokens,
                                               params_.Grad(params_.info(patch_b_))));
  kernels::Conv2dShape s = patches_;
  s.batch = rows;
  return b.Gemm(Transpose::kYes, Transpose::kNo, s.patch_size(), d, tokens, 1.0,
                cols_.Sub(0, Size(tokens * s.patch_size())), dtokens, 0.0,
                params_.Grad(params_.info(patch_w_)));
}

}  // namespace hpo::trainer
