// The training step of trainer::Train, timed on its own: Model::ForwardBackward (an MLP's, or any model's)
// and trainer::Optimizer::Step (AdamW) on random inputs already in backend memory in the compute type, and
// for fp16 the loss scaling of the trainer (Backend::GradientStats every step, trainer::LossScaler, the
// step skipped on overflow).
//
// Free function; it uses the backend exclusively while it runs.
#ifndef HPO_BENCH_TRAINER_STEP_BENCH_H_
#define HPO_BENCH_TRAINER_STEP_BENCH_H_

#include <cstdint>

#include "base/status.h"
#include "kernels/backend.h"
#include "trainer/mlp.h"
#include "trainer/model.h"
#include "trainer/precision.h"

namespace hpo::bench {

struct StepTimingOptions {
  int warmup_steps = 10;       // untimed steps first (they also size the blocks)
  int blocks = 7;              // timed blocks; the median is reported
  double block_seconds = 0.3;  // steps per block: about this long, at least 3
  uint64_t seed = 0;           // the model's initialisation and the random inputs
};

struct StepRun {
  double samples_per_s = 0;  // batch x steps / block wall time, median block
  double step_ms = 0;        // the median block's wall time per step
  double cpu_per_wall = 0;   // process CPU seconds (getrusage) per wall second over all timed blocks
  int64_t steps = 0;         // timed steps
  int64_t skipped = 0;       // timed and warm-up steps skipped on fp16 overflow
};

// Times training steps of an MLP `config` at `batch` examples in `precision` with AdamW (lr 1e-3,
// weight decay 0.01), on standard normal inputs. Wall time: the steady clock around each block and a
// Synchronize.
Result<StepRun> TimeTrainingStep(kernels::Backend& backend, const trainer::MlpConfig& config,
                                 trainer::Precision precision, int64_t batch,
                                 const StepTimingOptions& options);

// The same for any model (built on `backend` in ComputeType(precision), e.g. a trainer::Cnn, Vit or Lm):
// steps on inputs x (`batch` rows in model.input_dtype(), in backend memory) and labels y (batch x
// model.outputs_per_row(), kI32). options.seed is not used: the model and the inputs are the caller's.
// The model's parameters change (they are trained).
Result<StepRun> TimeModelSteps(kernels::Backend& backend, trainer::Model& model, kernels::ConstView x,
                               kernels::ConstView y, int64_t batch, trainer::Precision precision,
                               const StepTimingOptions& options);

}  // namespace hpo::bench

#endif  // HPO_BENCH_TRAINER_STEP_BENCH_H_
