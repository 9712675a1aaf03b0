// Model: a classifier the trainer trains, whatever its family (trainer/mlp.h today). The training loop
// (train.cc), the optimizer, the gradient checks and the latency probe see only this: the parameters in one
// ParamSet (master, gradients, half compute copy, layout), a forward pass to logits, and a training pass
// (forward with dropout drawn for the step, softmax cross-entropy, backward into grads()). So every family
// shares the precision semantics (fp32 masters, half compute copies, loss scaling), the loop, the
// optimizers, the schedules, the checks and the probe.
//
// Inputs are rows x input_dim in input_dtype(), in backend memory (an image is its pixels in NHWC order, a
// text sequence its byte values); the labels kI32, outputs_per_row() per example. A family allocates its
// activations for up to max_rows() examples when it is created, so a pass allocates nothing.
//
// Not thread-safe. Holds a non-owning pointer to the backend, which must outlive the model.
#ifndef HPO_TRAINER_MODEL_H_
#define HPO_TRAINER_MODEL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "kernels/backend.h"
#include "trainer/param_set.h"
#include "trainer/params.h"

namespace hpo::trainer {

// The DeriveSeed streams of a model's initialisation and of its dropout masks (2 is the trainer's
// shuffling).
inline constexpr uint64_t kInitStream = 1;
inline constexpr uint64_t kDropoutStream = 3;

// OK for the element types a model computes in (kF32, kF64, kF16, kBF16); otherwise INVALID_ARGUMENT
// "<who>: element type X is not supported (f32, f64, f16, bf16)".
inline Status CheckModelDtype(std::string_view who, kernels::DType dtype) {
  if (dtype == kernels::DType::kF32 || dtype == kernels::DType::kF64 || dtype == kernels::DType::kF16 ||
      dtype == kernels::DType::kBF16) {
    return Status::Ok();
  }
  std::string message(who);
  message += ": element type ";
  message += kernels::DTypeName(dtype);
  message += " is not supported (f32, f64, f16, bf16)";
  return InvalidArgumentError(std::move(message));
}

class Model {
 public:
  virtual ~Model() = default;
  Model(Model&&) = default;
  Model& operator=(Model&&) = default;

  // The type of activations and of the GEMM inputs.
  kernels::DType dtype() const { return params_.dtype(); }
  // The type of the master parameters and the gradients.
  kernels::DType master_dtype() const { return params_.master_dtype(); }
  int64_t max_rows() const { return max_rows_; }
  int64_t ParamCount() const { return static_cast<int64_t>(params_.size()); }

  // Where each parameter tensor sits in params(), grads() and compute_params(), in the family's order.
  const std::vector<ParamInfo>& layout() const { return params_.layout(); }
  kernels::View params() { return params_.params(); }
  kernels::ConstView params() const { return params_.params(); }
  kernels::View grads() { return params_.grads(); }
  kernels::ConstView grads() const { return params_.grads(); }
  // The half copy of the parameters the passes read, or an empty view when dtype() is the master type.
  kernels::View compute_params() { return params_.compute(); }
  // Copies the master parameters into the compute copy (rounding); OK at once without a copy.
  Status SyncComputeParams() { return params_.SyncCompute(); }

  // The element type of the inputs: dtype() for images and features, kI32 for token ids (the language
  // model).
  virtual kernels::DType input_dtype() const { return dtype(); }
  // Outputs (rows of logits, and labels) per example: 1 for a classifier, seq_len for the language model,
  // which predicts every next token.
  virtual int64_t outputs_per_row() const { return 1; }

  // Logits of `rows` examples x into logits(), in inference mode (no dropout).
  // REQUIRES: 1 <= rows <= max_rows() (INVALID_ARGUMENT otherwise).
  virtual Status Forward(kernels::ConstView x, int64_t rows) = 0;
  // After Forward: rows * outputs_per_row() x classes logits in dtype() (the leading ones are valid).
  virtual kernels::ConstView logits() const = 0;

  // One training pass: forward (dropout drawn for `step`), softmax cross-entropy against `labels` and
  // backward. loss[0] (backend memory, master_dtype()) = the mean cross-entropy over the rows (with label
  // smoothing); grads() = its gradient with respect to params(), times loss_options.grad_scale.
  virtual Status ForwardBackward(kernels::ConstView x, kernels::ConstView labels, int64_t rows,
                                 const kernels::LossOptions& loss_options, uint64_t step,
                                 kernels::View loss) = 0;
  // The same with no label smoothing, no scaling and step 0.
  Status ForwardBackward(kernels::ConstView x, kernels::ConstView labels, int64_t rows, kernels::View loss) {
    return ForwardBackward(x, labels, rows, kernels::LossOptions{}, 0, loss);
  }

 protected:
  Model(kernels::Backend& backend, int64_t max_rows) : backend_(&backend), max_rows_(max_rows) {}

  kernels::Backend* backend_;
  int64_t max_rows_;
  ParamSet params_;
};

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_MODEL_H_
