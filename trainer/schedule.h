// Learning-rate schedules (the `schedule` knob), as functions of the optimizer step:
//   constant:       lr_t = lr
//   cosine:         lr_t = lr * (1 + cos(pi * t / T)) / 2                       (Loshchilov & Hutter 2017,
//                                                                                 SGDR, one cycle, no
//                                                                                 restart)
//   warmup_cosine:  lr_t = lr * (t + 1) / W                          for t < W   (Goyal et al. 2017)
//                   lr_t = lr * (1 + cos(pi * (t - W) / (T - W))) / 2 otherwise
// for step t in [0, T) of T optimizer steps in all, with W = ceil(warmup_fraction * T) warm-up steps
// (at most T - 1). The cosine ends at lr / 2 * (1 + cos(pi (T-1)/T)) > 0 on the last step, never 0.
//
// A plain value: thread-safe to read.
#ifndef HPO_TRAINER_SCHEDULE_H_
#define HPO_TRAINER_SCHEDULE_H_

#include <cstdint>
#include <string_view>

#include "base/status.h"

namespace hpo::trainer {

enum class ScheduleKind { kConstant, kCosine, kWarmupCosine };

// "constant", "cosine", "warmup_cosine" (the values of the schedule knob).
std::string_view ScheduleKindName(ScheduleKind kind);

class LrSchedule {
 public:
  // INVALID_ARGUMENT unless lr > 0 and finite, total_steps >= 1 and warmup_fraction in [0, 1).
  static Result<LrSchedule> Create(ScheduleKind kind, double lr, int64_t total_steps, double warmup_fraction);

  // The learning rate of optimizer step t (0-based); steps past the end get the last step's rate.
  double At(int64_t t) const;

  int64_t warmup_steps() const { return warmup_steps_; }
  int64_t total_steps() const { return total_steps_; }

 private:
  LrSchedule(ScheduleKind kind, double lr, int64_t total_steps, int64_t warmup_steps)
      : kind_(kind), lr_(lr), total_steps_(total_steps), warmup_steps_(warmup_steps) {}

  ScheduleKind kind_;
  double lr_;
  int64_t total_steps_;
  int64_t warmup_steps_;
};

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_SCHEDULE_H_
