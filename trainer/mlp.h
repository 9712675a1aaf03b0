// Mlp: a multilayer perceptron classifier input_dim -> (width x hidden_layers, activation) -> classes,
// with its forward pass, softmax cross-entropy loss and backward pass on a kernels::Backend.
//
// Layer l computes z = x W_l + b_l (W_l stored fan_in x fan_out, row-major) and, for hidden layers,
// h = act(z), fused in one backend call. Parameters and gradients live in one flat backend buffer each
// (layout() says where each tensor is); activations and scratch are allocated once for up to max_rows
// examples, so a training step allocates nothing. The element type is a constructor argument: kF32 for
// training; kF64 runs the same code in double precision (the gradient checks use it). Mixed precision
// will add compute types here.
//
// Initialisation from the seed: hidden weights He-normal (std sqrt(2 / fan_in)) for relu and gelu,
// Glorot-normal (std sqrt(2 / (fan_in + fan_out))) for tanh; output weights Glorot-normal; biases 0.
//
// Not thread-safe. Holds a non-owning pointer to the backend, which must outlive the Mlp.
#ifndef HPO_TRAINER_MLP_H_
#define HPO_TRAINER_MLP_H_

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "kernels/backend.h"
#include "trainer/params.h"

namespace hpo::trainer {

struct MlpConfig {
  int64_t input_dim = 784;
  int hidden_layers = 2;  // >= 0
  int64_t width = 256;    // >= 1
  kernels::Activation activation = kernels::Activation::kRelu;
  int64_t classes = 10;  // >= 2
};

// Number of trainable parameters of an MLP of this shape.
int64_t MlpParamCount(const MlpConfig& config);

class Mlp {
 public:
  // Allocates parameters, gradients and workspace for up to max_rows examples per call and initialises
  // the parameters from `seed`. INVALID_ARGUMENT for a bad shape or dtype (kF32, kF64),
  // RESOURCE_EXHAUSTED when the backend is out of memory.
  static Result<Mlp> Create(kernels::Backend& backend, const MlpConfig& config, kernels::DType dtype,
                            int64_t max_rows, uint64_t seed);

  Mlp(Mlp&&) = default;
  Mlp& operator=(Mlp&&) = default;

  const MlpConfig& config() const { return config_; }
  kernels::DType dtype() const { return dtype_; }
  int64_t max_rows() const { return max_rows_; }
  int64_t ParamCount() const { return static_cast<int64_t>(params_.size()); }

  // Where each parameter tensor sits in params() and grads(): w0, b0, w1, b1, ..., output layer last.
  const std::vector<ParamInfo>& layout() const { return layout_; }
  kernels::View params() { return params_.view(); }
  kernels::ConstView params() const { return params_.view(); }
  kernels::View grads() { return grads_.view(); }
  kernels::ConstView grads() const { return grads_.view(); }

  // Logits of `rows` examples x (rows x input_dim, backend memory, dtype()) into logits().
  // REQUIRES: 1 <= rows <= max_rows (INVALID_ARGUMENT otherwise).
  Status Forward(kernels::ConstView x, int64_t rows);

  // After Forward: rows x classes logits (the first rows * classes elements are valid).
  kernels::ConstView logits() const { return logits_.view(); }

  // Forward, softmax cross-entropy against `labels` (kI32) and backward: loss[0] (backend memory,
  // dtype()) = mean cross-entropy over the rows; grads() = its gradient with respect to params().
  Status ForwardBackward(kernels::ConstView x, kernels::ConstView labels, int64_t rows, kernels::View loss);

 private:
  Mlp(kernels::Backend& backend, const MlpConfig& config, kernels::DType dtype, int64_t max_rows)
      : backend_(&backend), config_(config), dtype_(dtype), max_rows_(max_rows) {}

  int NumLayers() const { return config_.hidden_layers + 1; }
  int64_t FanIn(int layer) const { return layer == 0 ? config_.input_dim : config_.width; }
  int64_t FanOut(int layer) const { return layer == config_.hidden_layers ? config_.classes : config_.width; }
  Status InitParams(uint64_t seed);
  // Input of layer `layer`: x for layer 0, the previous hidden layer's output otherwise.
  kernels::ConstView LayerInput(int layer, kernels::ConstView x, int64_t rows) const;

  kernels::Backend* backend_;
  MlpConfig config_;
  kernels::DType dtype_;
  int64_t max_rows_;
  std::vector<ParamInfo> layout_;  // 2 per layer: weight, bias
  kernels::Buffer params_;
  kernels::Buffer grads_;
  std::vector<kernels::Buffer> pre_;   // per hidden layer: z (max_rows x width)
  std::vector<kernels::Buffer> post_;  // per hidden layer: act(z)
  kernels::Buffer logits_;             // max_rows x classes
  kernels::Buffer dlogits_;
  kernels::Buffer grad_a_;  // max_rows x width, ping-pong gradient scratch
  kernels::Buffer grad_b_;
};

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_MLP_H_
