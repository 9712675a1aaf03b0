// Cnn: the convolution-network family of Model (trainer/model.h): an image classifier of stages of
// convolution blocks, then global average pooling and a linear classifier, with its forward pass, softmax
// cross-entropy loss and backward pass on a kernels::Backend, in fp32, fp16, bf16 or (for the gradient
// checks) fp64.
//
// Input: NHWC images (height x width x channels per example, the rows of x). Stage s (0-based) has
// stage_channels[s] channels and `blocks` blocks. Every stage after the first halves the resolution at its
// start: a 2x2 max pool (stride 2) before its first block, or (stride_downsample) stride 2 in the first
// block's convolutions. One block, from its input h:
//   c = conv(h)            kernel_size x kernel_size, padding kernel_size / 2, stride 1 or 2; with
//                          depthwise (every block but the network's first): a per-channel window (kernels'
//                          DepthwiseConv2d) then a 1x1 convolution to the block's channels
//   n = batch_norm(c)      (with batch_norm: batch statistics in training, running averages in inference,
//                          as PyTorch's BatchNorm2d with momentum 0.1, eps 1e-5); otherwise n = c + bias
//   out = act(n)  (+ h, or + a 1x1 projection of h (with bias, the block's stride) where the shape changes,
//                  with residual)
// Head: logits = dropout(features) W + b, the features being the last block's output flattened (the
// default: a small network keeps where things are), or averaged over its pixels (global_pool: fewer
// parameters, the usual head of deep networks).
//
// A convolution is Im2Col + Gemm (kernels/backend.h) over groups of images whose patch matrix fits a fixed
// budget (kColsBudget elements), so its scratch memory does not grow with the batch; the backward pass
// recomputes the patch matrices instead of keeping them. A 1x1 convolution with stride 1 is a plain GEMM.
//
// Precision, parameters and initialisation as Mlp (trainer/mlp.h): fp32 masters, half compute copies, weight
// gradients from GEMMs with half inputs and fp32 outputs. Weights He-normal (std sqrt(2 / fan_in), fan_in =
// the window's inputs), the classifier Glorot-normal; biases and shifts 0, gains 1. The running statistics
// of batch norm are state, not parameters (not in params(), never decayed or optimised).
//
// Not thread-safe. Holds a non-owning pointer to the backend, which must outlive the Cnn.
#ifndef HPO_TRAINER_CNN_H_
#define HPO_TRAINER_CNN_H_

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "kernels/backend.h"
#include "trainer/model.h"

namespace hpo::trainer {

struct CnnConfig {
  // The input images.
  int64_t height = 28;
  int64_t width = 28;
  int64_t channels = 1;
  int64_t classes = 10;  // >= 2
  // One entry per stage (1 to 4), each in [1, 4096].
  std::vector<int64_t> stage_channels = {32, 64};
  int blocks = 1;       // per stage, in [1, 16]
  int kernel_size = 3;  // odd, in [1, 7]
  bool stride_downsample = false;
  bool batch_norm = true;
  bool depthwise = false;
  bool residual = false;
  kernels::Activation activation = kernels::Activation::kRelu;
  double dropout = 0.0;  // in [0, 1), before the classifier
  bool global_pool = false;
};

class Cnn final : public Model {
 public:
  static constexpr double kBatchNormEps = 1e-5;  // PyTorch's BatchNorm2d defaults
  static constexpr double kBatchNormMomentum = 0.1;
  // Elements of the patch-matrix scratch: 1 MiB in fp32, so that a group's patches stay in cache between
  // Im2Col and the GEMM (a 16 MiB budget trained 20% slower).
  static constexpr int64_t kColsBudget = int64_t{1} << 18;

  // Allocates parameters, state and workspace for up to max_rows images per call and initialises the
  // parameters from `seed`. INVALID_ARGUMENT for a bad shape (naming it: e.g. an image that a stage would
  // shrink below 1 x 1) or dtype; RESOURCE_EXHAUSTED when the backend is out of memory.
  static Result<Cnn> Create(kernels::Backend& backend, const CnnConfig& config, kernels::DType dtype,
                            int64_t max_rows, uint64_t seed);

  Cnn(Cnn&&) = default;
  Cnn& operator=(Cnn&&) = default;

  const CnnConfig& config() const { return config_; }

  Status Forward(kernels::ConstView x, int64_t rows) override;
  kernels::ConstView logits() const override { return logits_.view(); }
  using Model::ForwardBackward;
  Status ForwardBackward(kernels::ConstView x, kernels::ConstView labels, int64_t rows,
                         const kernels::LossOptions& loss_options, uint64_t step,
                         kernels::View loss) override;

  // The running mean and variance of every batch norm, in order (for tests).
  std::vector<kernels::ConstView> RunningStats() const;

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  // One step of the network: a max pool, or a convolution block.
  struct Unit {
    bool pool = false;
    // The window of the main convolution (or the pool) on one image; batch is set per call.
    kernels::Conv2dShape shape;
    int64_t out_h = 0, out_w = 0, out_c = 0;
    bool depthwise = false;
    bool project = false;  // residual through a 1x1 projection
    kernels::Conv2dShape project_shape;
    // Indices into layout() (kNone where absent).
    size_t w = kNone;   // the convolution's weights (the depthwise window's with depthwise)
    size_t pw = kNone;  // depthwise: the 1x1 convolution's weights
    size_t b = kNone;   // without batch norm
    size_t gamma = kNone, beta = kNone;
    size_t proj_w = kNone, proj_b = kNone;
    // Activations for up to max_rows images.
    kernels::Buffer dw_out;  // depthwise: the per-channel window's output (in_c channels)
    kernels::Buffer z;       // the convolution's output
    kernels::Buffer n;       // batch norm's output
    kernels::Buffer out;     // the unit's output
    kernels::Buffer argmax;  // pool
    kernels::Buffer mean, rstd, running_mean, running_var;  // batch norm (master type)

    int64_t in_size() const { return shape.height * shape.width * shape.channels; }
    int64_t out_size() const { return out_h * out_w * out_c; }
  };

  Cnn(kernels::Backend& backend, const CnnConfig& config, int64_t max_rows)
      : Model(backend, max_rows), config_(config) {}

  Status Build(kernels::DType dtype);
  Status InitParams(uint64_t seed);
  kernels::ConstView Weights(size_t index) const { return params_.Weights(params_.info(index)); }
  kernels::View Grad(size_t index) { return params_.Grad(params_.info(index)); }
  kernels::ConstView UnitInput(size_t u, kernels::ConstView x, int64_t rows) const;
  Status ForwardPass(kernels::ConstView x, int64_t rows, bool training, uint64_t step);
  Status ConvForward(Unit& unit, kernels::ConstView in, int64_t rows, bool training);
  // The backward pass of unit `unit` from dout (which it may overwrite) into dx (empty: not needed).
  Status ConvBackward(Unit& unit, kernels::ConstView in, int64_t rows, kernels::View dout, kernels::View dx);
  // y = conv(x) for a dense window of `shape` with weights w (patch x out_c), over groups of images.
  Status Convolve(const kernels::Conv2dShape& shape, int64_t rows, int64_t out_c, kernels::ConstView x,
                  kernels::ConstView w, kernels::View y);
  // dw (+)= the weight gradient and, unless dx is empty, dx = the input gradient of that convolution.
  Status ConvolveBackward(const kernels::Conv2dShape& shape, int64_t rows, int64_t out_c,
                          kernels::ConstView x, kernels::ConstView w, kernels::ConstView dy, kernels::View dw,
                          kernels::View dx);
  uint64_t DropoutStream(uint64_t step) const { return step * 64 + 63; }

  CnnConfig config_;
  uint64_t dropout_seed_ = 0;
  std::vector<Unit> units_;
  int64_t features_ = 0;  // the classifier's inputs per image
  size_t head_w_ = kNone, head_b_ = kNone;
  kernels::Buffer cols_;    // patch-matrix scratch (kColsBudget elements, or one image's)
  kernels::Buffer pooled_;  // max_rows x features_
  kernels::Buffer logits_;  // max_rows x classes
  kernels::Buffer dlogits_;
  kernels::Buffer grad_a_;  // ping-pong gradients, max_rows x the largest activation
  kernels::Buffer grad_b_;
  kernels::Buffer scratch_;  // the same size: residual and depthwise intermediates
  kernels::Buffer scratch2_;
};

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_CNN_H_
