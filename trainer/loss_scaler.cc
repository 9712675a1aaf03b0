#include "trainer/loss_scaler.h"

#include <algorithm>
#include <cmath>

namespace hpo::trainer {

Result<LossScaler> LossScaler::Create(const LossScalerOptions& options) {
  if (!(std::isfinite(options.min_scale) && options.min_scale > 0)) {
    return InvalidArgumentError("loss scaler: min_scale must be finite and > 0");
  }
  if (!(std::isfinite(options.max_scale) && options.max_scale >= options.min_scale)) {
    return InvalidArgumentError("loss scaler: max_scale must be finite and >= min_scale");
  }
  if (!(options.initial_scale >= options.min_scale && options.initial_scale <= options.max_scale)) {
    return InvalidArgumentError("loss scaler: initial_scale must be in [min_scale, max_scale]");
  }
  if (options.growth_interval < 1) {
    return InvalidArgumentError("loss scaler: growth_interval must be >= 1");
  }
  if (!(std::isfinite(options.growth_factor) && options.growth_factor > 1)) {
    return InvalidArgumentError("loss scaler: growth_factor must be finite and > 1");
  }
  if (!(options.backoff_factor > 0 && options.backoff_factor < 1)) {
    return InvalidArgumentError("loss scaler: backoff_factor must be in (0, 1)");
  }
  return LossScaler(options);
}

LossScaler::LossScaler(const LossScalerOptions& options)
    : options_(options), scale_(options.enabled ? options.initial_scale : 1.0) {}

bool LossScaler::Update(bool found_overflow) {
  if (found_overflow) {
    ++skipped_steps_;
    clean_steps_ = 0;
    if (options_.enabled) scale_ = std::max(scale_ * options_.backoff_factor, options_.min_scale);
    return false;
  }
  if (!options_.enabled) return true;
  if (++clean_steps_ >= options_.growth_interval) {
    scale_ = std::min(scale_ * options_.growth_factor, options_.max_scale);
    clean_steps_ = 0;
  }
  return true;
}

}  // namespace hpo::trainer
