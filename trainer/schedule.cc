#include "trainer/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

namespace hpo::trainer {

std::string_view ScheduleKindName(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::kConstant:
      return "constant";
    case ScheduleKind::kCosine:
      return "cosine";
    case ScheduleKind::kWarmupCosine:
      return "warmup_cosine";
  }
  return "?";
}

Result<LrSchedule> LrSchedule::Create(ScheduleKind kind, double lr, int64_t total_steps,
                                      double warmup_fraction) {
  if (!(lr > 0) || !std::isfinite(lr)) return InvalidArgumentError("schedule: lr must be finite and > 0");
  if (total_steps < 1) {
    return InvalidArgumentError("schedule: total_steps " + std::to_string(total_steps) + " must be >= 1");
  }
  if (!(warmup_fraction >= 0 && warmup_fraction < 1)) {
    return InvalidArgumentError("schedule: warmup_fraction must be in [0, 1)");
  }
  int64_t warmup = 0;
  if (kind == ScheduleKind::kWarmupCosine) {
    warmup = static_cast<int64_t>(std::ceil(warmup_fraction * static_cast<double>(total_steps)));
    warmup = std::min(warmup, total_steps - 1);
  }
  return LrSchedule(kind, lr, total_steps, warmup);
}

double LrSchedule::At(int64_t t) const {
  t = std::clamp<int64_t>(t, 0, total_steps_ - 1);
  switch (kind_) {
    case ScheduleKind::kConstant:
      return lr_;
    case ScheduleKind::kCosine:
    case ScheduleKind::kWarmupCosine: {
      if (t < warmup_steps_) return lr_ * static_cast<double>(t + 1) / static_cast<double>(warmup_steps_);
      const double progress =
          static_cast<double>(t - warmup_steps_) / static_cast<double>(total_steps_ - warmup_steps_);
      return lr_ * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
    }
  }
  return lr_;
}

}  // namespace hpo::trainer
