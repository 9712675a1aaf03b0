// Mlp: the multilayer perceptron family of Model (trainer/model.h): a classifier input_dim -> (width x
// hidden_layers, activation) -> classes, with its forward pass, softmax cross-entropy loss and backward
// pass on a kernels::Backend, in fp32, fp16, bf16 or (for the gradient checks) fp64.
//
// Hidden layer l, from its input h (x for l = 0, the previous layer's output otherwise):
//   z = h W_l + b_l                                   (W_l stored fan_in x fan_out, row-major)
//   n = layer_norm(z; gamma_l, beta_l)                (with layer_norm; otherwise n = z)
//   a = dropout(act(n))                               (dropout in training only; inverted, kernels/philox.h)
//   out = a + h                                       (with residual, when h has the layer's width)
// and the output layer computes logits = h W + b. Without layer norm, bias and activation are one fused
// backend call.
//
// Precision: the master parameters and gradients are AccumulationType(dtype) (fp32 for the half types);
// activations, their gradients and the GEMM inputs are `dtype`. For a half dtype the model keeps a compute
// copy of the parameters in that type: the optimizer writes it with every update (w_copy), and
// SyncComputeParams() refreshes it after the master parameters were changed otherwise. Weight gradients
// come from GEMMs with half inputs and an fp32 output, bias and gain gradients from fp32 column sums.
//
// Parameters and gradients live in the model's ParamSet (layout() says where each tensor is); activations
// and scratch are allocated once for up to max_rows examples, so a step allocates nothing.
// Initialisation from the seed: hidden weights He-normal (std sqrt(2 / fan_in)) for relu, gelu and silu,
// Glorot-normal (std sqrt(2 / (fan_in + fan_out))) for tanh; output weights Glorot-normal; biases and
// shifts 0, gains 1. Dropout masks derive from the seed and the step, so a fixed seed repeats.
//
// Not thread-safe. Holds a non-owning pointer to the backend, which must outlive the Mlp.
#ifndef HPO_TRAINER_MLP_H_
#define HPO_TRAINER_MLP_H_

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "kernels/backend.h"
#include "trainer/model.h"
#include "trainer/params.h"

namespace hpo::trainer {

struct MlpConfig {
  int64_t input_dim = 784;
  int hidden_layers = 2;  // in [0, 64]
  int64_t width = 256;    // >= 1
  kernels::Activation activation = kernels::Activation::kRelu;
  int64_t classes = 10;  // >= 2
  bool layer_norm = false;
  bool residual = false;
  double dropout = 0.0;  // in [0, 1)
};

// Number of trainable parameters of an MLP of this shape.
int64_t MlpParamCount(const MlpConfig& config);

class Mlp final : public Model {
 public:
  static constexpr double kLayerNormEps = 1e-5;  // PyTorch's nn.LayerNorm default

  // Allocates parameters, gradients and workspace for up to max_rows examples per call and initialises
  // the parameters from `seed`. INVALID_ARGUMENT for a bad shape or dtype (kF32, kF64, kF16, kBF16),
  // RESOURCE_EXHAUSTED when the backend is out of memory.
  static Result<Mlp> Create(kernels::Backend& backend, const MlpConfig& config, kernels::DType dtype,
                            int64_t max_rows, uint64_t seed);

  Mlp(Mlp&&) = default;
  Mlp& operator=(Mlp&&) = default;

  const MlpConfig& config() const { return config_; }

  Status Forward(kernels::ConstView x, int64_t rows) override;
  kernels::ConstView logits() const override { return logits_.view(); }
  using Model::ForwardBackward;
  Status ForwardBackward(kernels::ConstView x, kernels::ConstView labels, int64_t rows,
                         const kernels::LossOptions& loss_options, uint64_t step,
                         kernels::View loss) override;

 private:
  Mlp(kernels::Backend& backend, const MlpConfig& config, int64_t max_rows)
      : Model(backend, max_rows), config_(config) {}

  // The tensors of one layer in layout().
  struct LayerParams {
    const ParamInfo* w = nullptr;
    const ParamInfo* b = nullptr;
    const ParamInfo* gamma = nullptr;  // with layer norm, hidden layers only
    const ParamInfo* beta = nullptr;
  };

  int NumLayers() const { return config_.hidden_layers + 1; }
  int64_t FanIn(int layer) const { return layer == 0 ? config_.input_dim : config_.width; }
  int64_t FanOut(int layer) const { return layer == config_.hidden_layers ? config_.classes : config_.width; }
  bool HasResidual(int layer) const {
    return config_.residual && layer < config_.hidden_layers && FanIn(layer) == config_.width;
  }
  Status InitParams(uint64_t seed);
  // The parameters the passes read: the compute copy, or the master parameters.
  kernels::ConstView Weights(const ParamInfo& info) const { return params_.Weights(info); }
  // Input of layer `layer`: x for layer 0, the previous hidden layer's output otherwise.
  kernels::ConstView LayerInput(int layer, kernels::ConstView x, int64_t rows) const;
  Status ForwardPass(kernels::ConstView x, int64_t rows, bool training, uint64_t step);
  uint64_t DropoutStream(uint64_t step, int layer) const { return step * 64 + static_cast<uint64_t>(layer); }

  MlpConfig config_;
  uint64_t dropout_seed_ = 0;
  std::vector<LayerParams> layers_;
  std::vector<kernels::Buffer> pre_;   // per hidden layer: z (max_rows x width)
  std::vector<kernels::Buffer> norm_;  // per hidden layer with layer norm: n
  std::vector<kernels::Buffer> mean_;  // per hidden layer with layer norm: row means (master_dtype())
  std::vector<kernels::Buffer> rstd_;  // ... and reciprocal standard deviations
  std::vector<kernels::Buffer> post_;  // per hidden layer: the layer's output
  kernels::Buffer logits_;             // max_rows x classes
  kernels::Buffer dlogits_;
  kernels::Buffer grad_a_;  // max_rows x width, ping-pong gradient scratch
  kernels::Buffer grad_b_;
};

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_MLP_H_
