// LossScaler: dynamic loss scaling for fp16 training (Micikevicius et al. 2018, "Mixed Precision
// Training", sec. 3.2; the schedule of PyTorch's GradScaler). The loss is multiplied by scale() before the
// backward pass so that small gradients survive in fp16; the fp32 master gradients are divided by it
// again before the optimizer step. After each backward pass the caller reports whether any gradient was
// inf or NaN:
//   overflow:  the step is skipped, scale <- max(scale * backoff_factor, min_scale), clean count <- 0;
//   clean:     the step is applied, clean count += 1; when it reaches growth_interval,
//              scale <- min(scale * growth_factor, max_scale) and clean count <- 0.
// Powers of two for every factor and bound (the defaults) keep scaling and unscaling exact.
//
// Disabled mode (options.enabled = false; for bf16 and fp32, which need no scaling): scale() is always 1
// and never changes, clean_steps() stays 0, and a step whose gradients are non-finite is still skipped
// (Update returns false and skipped_steps() counts it), so one bad batch never poisons the master
// weights; whether the run has diverged is for the caller to decide from the loss.
//
// A plain value: copyable, no allocation, not thread-safe (one scaler per trial, used by its loop).
#ifndef HPO_TRAINER_LOSS_SCALER_H_
#define HPO_TRAINER_LOSS_SCALER_H_

#include <cstdint>

#include "base/status.h"

namespace hpo::trainer {

struct LossScalerOptions {
  bool enabled = true;           // false: constant scale 1 (bf16, fp32)
  double initial_scale = 65536;  // 2^16; finite, in [min_scale, max_scale]
  int growth_interval = 2000;    // clean steps before the scale grows; >= 1
  double growth_factor = 2;      // finite, > 1
  double backoff_factor = 0.5;   // in (0, 1)
  double min_scale = 1;          // the floor; finite, > 0
  double max_scale = 16777216;   // 2^24, the cap; finite, >= min_scale
};

class LossScaler {
 public:
  // A scaler at options.initial_scale (1 when disabled) with no steps taken, or InvalidArgument naming
  // the offending field. The numeric fields are validated in disabled mode too.
  static Result<LossScaler> Create(const LossScalerOptions& options);

  // The factor to multiply the loss by in the next backward pass.
  double scale() const { return scale_; }
  // 1 / scale(): the factor to multiply the gradients by before the optimizer step.
  double inverse_scale() const { return 1.0 / scale_; }
  bool enabled() const { return options_.enabled; }

  // Records the outcome of one backward pass and updates the scale as described above. Returns true when
  // the optimizer step should be applied (no overflow), false when it must be skipped.
  bool Update(bool found_overflow);

  // Steps skipped because of an overflow, since creation.
  int64_t skipped_steps() const { return skipped_steps_; }
  // Clean steps since the last overflow or the last growth of the scale (always 0 when disabled).
  int clean_steps() const { return clean_steps_; }

 private:
  explicit LossScaler(const LossScalerOptions& options);

  LossScalerOptions options_;
  double scale_;
  int clean_steps_ = 0;
  int64_t skipped_steps_ = 0;
};

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_LOSS_SCALER_H_
