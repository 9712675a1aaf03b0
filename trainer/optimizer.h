// Optimizer: updates a model's flat fp32 master parameters from its gradients, one backend call per
// parameter tensor, and (mixed precision) writes the rounded half copy of the parameters in the same
// pass. Two kinds: SGD with momentum (L2 weight decay added to the gradient, optionally Nesterov, as
// PyTorch's SGD) and AdamW (decoupled weight decay, as PyTorch's AdamW); the per-element equations are in
// kernels/element.h. Weight decay applies to weight matrices only, never to biases or layer-norm gains.
//
// The learning rate and a gradient scale (1 / loss scale, times the clipping factor) are arguments of
// each Step, so that the schedule, the loss scaler and clipping drive them.
// Not thread-safe. Holds non-owning views of the parameters and gradients (their buffers and the backend
// must outlive the optimizer) and owns its state buffers (velocity; first and second moments).
#ifndef HPO_TRAINER_OPTIMIZER_H_
#define HPO_TRAINER_OPTIMIZER_H_

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "kernels/backend.h"
#include "trainer/params.h"

namespace hpo::trainer {

enum class OptimizerKind { kSgd, kAdamW };

// "sgd", "adamw" (the values of the optimizer knob).
std::string_view OptimizerKindName(OptimizerKind kind);

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kAdamW;
  double weight_decay = 0.0;  // >= 0
  double momentum = 0.9;      // SGD only, in [0, 1)
  bool nesterov = false;      // SGD only
  double beta1 = 0.9;         // AdamW only
  double beta2 = 0.999;       // AdamW only
  double eps = 1e-8;          // AdamW only
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // An optimizer over `params` with gradients `grads` (same size and floating-point type), split into
  // tensors by `layout`; `compute_copy` (empty, or of params' size) receives the updated parameters
  // rounded to its type. INVALID_ARGUMENT for bad options or a layout that does not fit the buffers.
  static Result<std::unique_ptr<Optimizer>> Create(kernels::Backend& backend, const OptimizerOptions& options,
                                                   kernels::View params, kernels::ConstView grads,
                                                   std::vector<ParamInfo> layout,
                                                   kernels::View compute_copy = kernels::View());

  // Applies one update with learning rate lr to every parameter from the current gradients times
  // grad_scale.
  virtual Status Step(double lr, double grad_scale = 1.0) = 0;

  // Steps taken so far.
  virtual int64_t steps() const = 0;
};

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_OPTIMIZER_H_
