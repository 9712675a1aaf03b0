#include "trainer/mlp.h"

#include <cmath>
#include <string>
#include <utility>

#include "base/rng.h"

namespace hpo::trainer {

using kernels::Activation;
using kernels::ConstView;
using kernels::DType;
using kernels::Transpose;
using kernels::View;

namespace {

constexpr uint64_t kInitStream = 1;  // DeriveSeed stream of the parameter initialisation

}  // namespace

int64_t MlpParamCount(const MlpConfig& config) {
  int64_t total = 0;
  int64_t fan_in = config.input_dim;
  for (int l = 0; l < config.hidden_layers; ++l) {
    total += fan_in * config.width + config.width;
    fan_in = config.width;
  }
  return total + fan_in * config.classes + config.classes;
}

Result<Mlp> Mlp::Create(kernels::Backend& backend, const MlpConfig& config, DType dtype, int64_t max_rows,
                        uint64_t seed) {
  if (config.input_dim < 1 || config.hidden_layers < 0 || config.hidden_layers > 64 || config.width < 1 ||
      config.classes < 2) {
    return InvalidArgumentError("Mlp: bad shape: input_dim " + std::to_string(config.input_dim) +
                                ", hidden_layers " + std::to_string(config.hidden_layers) + ", width " +
                                std::to_string(config.width) + ", classes " + std::to_string(config.classes));
  }
  if (dtype != DType::kF32 && dtype != DType::kF64) {
    return InvalidArgumentError("Mlp: element type " + std::string(kernels::DTypeName(dtype)) +
                                " is not supported (f32, f64)");
  }
  if (max_rows < 1)
    return InvalidArgumentError("Mlp: max_rows " + std::to_string(max_rows) + " must be >= 1");

  Mlp mlp(backend, config, dtype, max_rows);
  size_t offset = 0;
  for (int l = 0; l < mlp.NumLayers(); ++l) {
    const int64_t fan_in = mlp.FanIn(l), fan_out = mlp.FanOut(l);
    ParamInfo w{std::string("w") + std::to_string(l),
                offset,
                static_cast<size_t>(fan_in * fan_out),
                fan_in,
                fan_out,
                false};
    offset += w.count;
    ParamInfo b{std::string("b") + std::to_string(l), offset, static_cast<size_t>(fan_out), 1, fan_out, true};
    offset += b.count;
    mlp.layout_.push_back(std::move(w));
    mlp.layout_.push_back(std::move(b));
  }
  HPO_ASSIGN_OR_RETURN(mlp.params_, backend.Allocate(offset, dtype));
  HPO_ASSIGN_OR_RETURN(mlp.grads_, backend.Allocate(offset, dtype));
  const auto hidden_size = static_cast<size_t>(max_rows * config.width);
  for (int l = 0; l < config.hidden_layers; ++l) {
    HPO_ASSIGN_OR_RETURN(kernels::Buffer pre, backend.Allocate(hidden_size, dtype));
    HPO_ASSIGN_OR_RETURN(kernels::Buffer post, backend.Allocate(hidden_size, dtype));
    mlp.pre_.push_back(std::move(pre));
    mlp.post_.push_back(std::move(post));
  }
  const auto logits_size = static_cast<size_t>(max_rows * config.classes);
  HPO_ASSIGN_OR_RETURN(mlp.logits_, backend.Allocate(logits_size, dtype));
  HPO_ASSIGN_OR_RETURN(mlp.dlogits_, backend.Allocate(logits_size, dtype));
  if (config.hidden_layers > 0) {
    HPO_ASSIGN_OR_RETURN(mlp.grad_a_, backend.Allocate(hidden_size, dtype));
    HPO_ASSIGN_OR_RETURN(mlp.grad_b_, backend.Allocate(hidden_size, dtype));
  }
  HPO_RETURN_IF_ERROR(mlp.InitParams(seed));
  return mlp;
}

Status Mlp::InitParams(uint64_t seed) {
  Rng rng(DeriveSeed(seed, kInitStream));
  std::vector<double> values(params_.size(), 0.0);
  for (int l = 0; l < NumLayers(); ++l) {
    const ParamInfo& w = layout_[2 * l];
    const double fan_in = static_cast<double>(w.rows), fan_out = static_cast<double>(w.cols);
    const bool hidden = l < config_.hidden_layers;
    const bool he = hidden && config_.activation != Activation::kTanh;
    const double stddev = he ? std::sqrt(2.0 / fan_in) : std::sqrt(2.0 / (fan_in + fan_out));
    for (size_t i = 0; i < w.count; ++i) values[w.offset + i] = stddev * rng.Normal();
    // Biases (layout_[2 * l + 1]) stay 0.
  }
  if (dtype_ == DType::kF64) return backend_->Upload(std::span<const double>(values), params_.view());
  const std::vector<float> floats(values.begin(), values.end());
  return backend_->Upload(std::span<const float>(floats), params_.view());
}

ConstView Mlp::LayerInput(int layer, ConstView x, int64_t rows) const {
  if (layer == 0) return x;
  return post_[layer - 1].Sub(0, static_cast<size_t>(rows * config_.width));
}

Status Mlp::Forward(ConstView x, int64_t rows) {
  if (rows < 1 || rows > max_rows_) {
    return InvalidArgumentError("Mlp::Forward: rows " + std::to_string(rows) + " outside [1, " +
                                std::to_string(max_rows_) + "]");
  }
  kernels::Backend& b = *backend_;
  for (int l = 0; l < NumLayers(); ++l) {
    const ParamInfo& w = layout_[2 * l];
    const ParamInfo& bias = layout_[2 * l + 1];
    const int64_t fan_in = FanIn(l), fan_out = FanOut(l);
    const bool hidden = l < config_.hidden_layers;
    const auto out_size = static_cast<size_t>(rows * fan_out);
    View z = hidden ? pre_[l].Sub(0, out_size) : logits_.Sub(0, out_size);
    View y = hidden ? post_[l].Sub(0, out_size) : z;
    HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kNo, Transpose::kNo, rows, fan_out, fan_in, 1.0,
                               LayerInput(l, x, rows), params_.Sub(w.offset, w.count), 0.0, z));
    HPO_RETURN_IF_ERROR(b.BiasActivationForward(hidden ? config_.activation : Activation::kIdentity, rows,
                                                fan_out, params_.Sub(bias.offset, bias.count), z, y));
  }
  return Status::Ok();
}

Status Mlp::ForwardBackward(ConstView x, ConstView labels, int64_t rows, View loss) {
  HPO_RETURN_IF_ERROR(Forward(x, rows));
  kernels::Backend& b = *backend_;
  const auto logits_size = static_cast<size_t>(rows * config_.classes);
  HPO_RETURN_IF_ERROR(b.SoftmaxCrossEntropy(rows, config_.classes, logits_.Sub(0, logits_size), labels, loss,
                                            dlogits_.Sub(0, logits_size)));
  // dcur: the gradient with respect to the current layer's output, then (in place) its pre-activation.
  View dcur = dlogits_.Sub(0, logits_size);
  bool next_is_a = true;
  for (int l = NumLayers() - 1; l >= 0; --l) {
    const ParamInfo& w = layout_[2 * l];
    const ParamInfo& bias = layout_[2 * l + 1];
    const int64_t fan_in = FanIn(l), fan_out = FanOut(l);
    const bool hidden = l < config_.hidden_layers;
    const auto out_size = static_cast<size_t>(rows * fan_out);
    ConstView z = hidden ? pre_[l].Sub(0, out_size) : logits_.Sub(0, out_size);
    HPO_RETURN_IF_ERROR(b.BiasActivationBackward(hidden ? config_.activation : Activation::kIdentity, rows,
                                                 fan_out, z, dcur, dcur,
                                                 grads_.Sub(bias.offset, bias.count)));
    // dW = input^T dz.
    HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kYes, Transpose::kNo, fan_in, fan_out, rows, 1.0,
                               LayerInput(l, x, rows), dcur, 0.0, grads_.Sub(w.offset, w.count)));
    if (l > 0) {
      // d input = dz W^T, the previous layer's output gradient.
      kernels::Buffer& next = next_is_a ? grad_a_ : grad_b_;
      View dprev = next.Sub(0, static_cast<size_t>(rows * fan_in));
      HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kNo, Transpose::kYes, rows, fan_in, fan_out, 1.0, dcur,
                                 params_.Sub(w.offset, w.count), 0.0, dprev));
      dcur = dprev;
      next_is_a = !next_is_a;
    }
  }
  return Status::Ok();
}

}  // namespace hpo::trainer
