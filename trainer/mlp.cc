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

int64_t MlpParamCount(const MlpConfig& config) {
  int64_t total = 0;
  int64_t fan_in = config.input_dim;
  for (int l = 0; l < config.hidden_layers; ++l) {
    total += fan_in * config.width + config.width;
    if (config.layer_norm) total += 2 * config.width;
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
  if (!(config.dropout >= 0 && config.dropout < 1)) {
    return InvalidArgumentError("Mlp: dropout " + std::to_string(config.dropout) + " is outside [0, 1)");
  }
  HPO_RETURN_IF_ERROR(CheckModelDtype("Mlp", dtype));
  if (max_rows < 1)
    return InvalidArgumentError("Mlp: max_rows " + std::to_string(max_rows) + " must be >= 1");

  Mlp mlp(backend, config, max_rows);
  mlp.dropout_seed_ = DeriveSeed(seed, kDropoutStream);
  for (int l = 0; l < mlp.NumLayers(); ++l) {
    const int64_t fan_in = mlp.FanIn(l), fan_out = mlp.FanOut(l);
    const std::string index = std::to_string(l);
    mlp.params_.Add("w" + index, fan_in, fan_out, ParamKind::kWeight);
    mlp.params_.Add("b" + index, 1, fan_out, ParamKind::kBias);
    if (config.layer_norm && l < config.hidden_layers) {
      mlp.params_.Add("g" + index, 1, fan_out, ParamKind::kNormGain);
      mlp.params_.Add("beta" + index, 1, fan_out, ParamKind::kNormShift);
    }
  }
  // Pointers into the layout, which no longer changes (moving the Mlp moves the vector's heap block along).
  const std::vector<ParamInfo>& layout = mlp.params_.layout();
  for (size_t i = 0; i < layout.size();) {
    LayerParams layer{&layout[i], &layout[i + 1]};
    i += 2;
    if (i < layout.size() && layout[i].kind == ParamKind::kNormGain) {
      layer.gamma = &layout[i];
      layer.beta = &layout[i + 1];
      i += 2;
    }
    mlp.layers_.push_back(layer);
  }
  HPO_RETURN_IF_ERROR(mlp.params_.Allocate(backend, dtype));
  const DType master = kernels::AccumulationType(dtype);
  const auto hidden_size = static_cast<size_t>(max_rows * config.width);
  for (int l = 0; l < config.hidden_layers; ++l) {
    HPO_ASSIGN_OR_RETURN(kernels::Buffer pre, backend.Allocate(hidden_size, dtype));
    HPO_ASSIGN_OR_RETURN(kernels::Buffer post, backend.Allocate(hidden_size, dtype));
    mlp.pre_.push_back(std::move(pre));
    mlp.post_.push_back(std::move(post));
    if (config.layer_norm) {
      HPO_ASSIGN_OR_RETURN(kernels::Buffer norm, backend.Allocate(hidden_size, dtype));
      HPO_ASSIGN_OR_RETURN(kernels::Buffer mean, backend.Allocate(static_cast<size_t>(max_rows), master));
      HPO_ASSIGN_OR_RETURN(kernels::Buffer rstd, backend.Allocate(static_cast<size_t>(max_rows), master));
      mlp.norm_.push_back(std::move(norm));
      mlp.mean_.push_back(std::move(mean));
      mlp.rstd_.push_back(std::move(rstd));
    }
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
    const LayerParams& layer = layers_[static_cast<size_t>(l)];
    const ParamInfo& w = *layer.w;
    const double fan_in = static_cast<double>(w.rows), fan_out = static_cast<double>(w.cols);
    const bool hidden = l < config_.hidden_layers;
    const bool he = hidden && config_.activation != Activation::kTanh;
    const double stddev = he ? std::sqrt(2.0 / fan_in) : std::sqrt(2.0 / (fan_in + fan_out));
    for (size_t i = 0; i < w.count; ++i) values[w.offset + i] = stddev * rng.Normal();
    if (layer.gamma != nullptr) {
      for (size_t i = 0; i < layer.gamma->count; ++i) values[layer.gamma->offset + i] = 1.0;
    }
    // Biases and shifts stay 0.
  }
  return params_.Initialize(values);
}

ConstView Mlp::LayerInput(int layer, ConstView x, int64_t rows) const {
  if (layer == 0) return x;
  return post_[layer - 1].Sub(0, static_cast<size_t>(rows * config_.width));
}

Status Mlp::Forward(ConstView x, int64_t rows) { return ForwardPass(x, rows, /*training=*/false, 0); }

Status Mlp::ForwardPass(ConstView x, int64_t rows, bool training, uint64_t step) {
  if (rows < 1 || rows > max_rows_) {
    return InvalidArgumentError("Mlp::Forward: rows " + std::to_string(rows) + " outside [1, " +
                                std::to_string(max_rows_) + "]");
  }
  kernels::Backend& b = *backend_;
  for (int l = 0; l < NumLayers(); ++l) {
    const LayerParams& layer = layers_[static_cast<size_t>(l)];
    const int64_t fan_in = FanIn(l), fan_out = FanOut(l);
    const bool hidden = l < config_.hidden_layers;
    const auto out_size = static_cast<size_t>(rows * fan_out);
    const ConstView input = LayerInput(l, x, rows);
    View z = hidden ? pre_[l].Sub(0, out_size) : logits_.Sub(0, out_size);
    HPO_RETURN_IF_ERROR(
        b.Gemm(Transpose::kNo, Transpose::kNo, rows, fan_out, fan_in, 1.0, input, Weights(*layer.w), 0.0, z));
    if (!hidden) {
      HPO_RETURN_IF_ERROR(
          b.BiasActivationForward(Activation::kIdentity, rows, fan_out, Weights(*layer.b), z, z));
      break;
    }
    View out = post_[l].Sub(0, out_size);
    if (config_.layer_norm) {
      View n = norm_[l].Sub(0, out_size);
      HPO_RETURN_IF_ERROR(
          b.BiasActivationForward(Activation::kIdentity, rows, fan_out, Weights(*layer.b), z, z));
      HPO_RETURN_IF_ERROR(b.LayerNormForward(
          rows, fan_out, kLayerNormEps, z, Weights(*layer.gamma), Weights(*layer.beta), n,
          mean_[l].Sub(0, static_cast<size_t>(rows)), rstd_[l].Sub(0, static_cast<size_t>(rows))));
      HPO_RETURN_IF_ERROR(b.BiasActivationForward(config_.activation, rows, fan_out, ConstView(), n, out));
    } else {
      HPO_RETURN_IF_ERROR(
          b.BiasActivationForward(config_.activation, rows, fan_out, Weights(*layer.b), z, out));
    }
    if (training && config_.dropout > 0) {
      HPO_RETURN_IF_ERROR(b.Dropout(config_.dropout, dropout_seed_, DropoutStream(step, l), out, out));
    }
    if (HasResidual(l)) HPO_RETURN_IF_ERROR(b.Axpy(1.0, input, out));
  }
  return Status::Ok();
}

Status Mlp::ForwardBackward(ConstView x, ConstView labels, int64_t rows,
                            const kernels::LossOptions& loss_options, uint64_t step, View loss) {
  HPO_RETURN_IF_ERROR(ForwardPass(x, rows, /*training=*/true, step));
  kernels::Backend& b = *backend_;
  const auto logits_size = static_cast<size_t>(rows * config_.classes);
  HPO_RETURN_IF_ERROR(b.SoftmaxCrossEntropy(loss_options, rows, config_.classes, logits_.Sub(0, logits_size),
                                            labels, loss, dlogits_.Sub(0, logits_size)));
  // dcur: the gradient with respect to the current layer's output, then (in place) its pre-activation.
  View dcur = dlogits_.Sub(0, logits_size);
  bool next_is_a = true;
  for (int l = NumLayers() - 1; l >= 0; --l) {
    const LayerParams& layer = layers_[static_cast<size_t>(l)];
    const int64_t fan_in = FanIn(l), fan_out = FanOut(l);
    const bool hidden = l < config_.hidden_layers;
    const auto out_size = static_cast<size_t>(rows * fan_out);
    const ConstView input = LayerInput(l, x, rows);
    kernels::Buffer& next = next_is_a ? grad_a_ : grad_b_;
    View dprev = l > 0 ? next.Sub(0, static_cast<size_t>(rows * fan_in)) : View();
    const bool residual = HasResidual(l);
    // The residual path carries dcur to the input unchanged; the GEMM below adds the layer's path to it.
    if (residual && l > 0) HPO_RETURN_IF_ERROR(b.Cast(dcur, dprev));
    View dbias = params_.Grad(*layer.b);
    if (!hidden) {
      HPO_RETURN_IF_ERROR(b.BiasActivationBackward(Activation::kIdentity, rows, fan_out,
                                                   logits_.Sub(0, out_size), dcur, dcur, dbias));
    } else {
      if (config_.dropout > 0) {
        HPO_RETURN_IF_ERROR(b.Dropout(config_.dropout, dropout_seed_, DropoutStream(step, l), dcur, dcur));
      }
      const ConstView z = pre_[l].Sub(0, out_size);
      if (config_.layer_norm) {
        HPO_RETURN_IF_ERROR(b.BiasActivationBackward(config_.activation, rows, fan_out,
                                                     norm_[l].Sub(0, out_size), dcur, dcur, View()));
        HPO_RETURN_IF_ERROR(b.LayerNormBackward(rows, fan_out, z, Weights(*layer.gamma),
                                                mean_[l].Sub(0, static_cast<size_t>(rows)),
                                                rstd_[l].Sub(0, static_cast<size_t>(rows)), dcur, dcur,
                                                params_.Grad(*layer.gamma), params_.Grad(*layer.beta)));
        HPO_RETURN_IF_ERROR(
            b.BiasActivationBackward(Activation::kIdentity, rows, fan_out, z, dcur, dcur, dbias));
      } else {
        HPO_RETURN_IF_ERROR(
            b.BiasActivationBackward(config_.activation, rows, fan_out, z, dcur, dcur, dbias));
      }
    }
    // dW = input^T dz.
    HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kYes, Transpose::kNo, fan_in, fan_out, rows, 1.0, input, dcur, 0.0,
                               params_.Grad(*layer.w)));
    if (l > 0) {
      // d input = dz W^T (+ the residual path), the previous layer's output gradient.
      HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kNo, Transpose::kYes, rows, fan_in, fan_out, 1.0, dcur,
                                 Weights(*layer.w), residual ? 1.0 : 0.0, dprev));
      dcur = dprev;
      next_is_a = !next_is_a;
    }
  }
  return Status::Ok();
}

}  // namespace hpo::trainer
