#include "trainer/latency.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace hpo::trainer {

Result<LatencyStats> MeasureLatency(kernels::Backend& backend, const std::function<Status()>& run_once,
                                    const LatencyOptions& options) {
  if (options.warmup < 0 || options.min_samples < 1 || options.max_samples < options.min_samples ||
      !(options.max_seconds >= 0)) {
    return InvalidArgumentError(
        "latency: bad options (warmup >= 0, 1 <= min_samples <= max_samples, "
        "max_seconds >= 0)");
  }
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < options.warmup; ++i) {
    HPO_RETURN_IF_ERROR(run_once());
    HPO_RETURN_IF_ERROR(backend.Synchronize());
  }
  std::vector<double> samples_ms;
  samples_ms.reserve(static_cast<size_t>(options.max_samples));
  double total_s = 0;
  while (static_cast<int>(samples_ms.size()) < options.max_samples &&
         (static_cast<int>(samples_ms.size()) < options.min_samples || total_s < options.max_seconds)) {
    const Clock::time_point start = Clock::now();
    HPO_RETURN_IF_ERROR(run_once());
    HPO_RETURN_IF_ERROR(backend.Synchronize());
    const std::chrono::duration<double> elapsed = Clock::now() - start;
    samples_ms.push_back(elapsed.count() * 1e3);
    total_s += elapsed.count();
  }
  std::sort(samples_ms.begin(), samples_ms.end());
  const size_t n = samples_ms.size();
  LatencyStats stats;
  stats.samples = static_cast<int>(n);
  stats.min_ms = samples_ms.front();
  stats.max_ms = samples_ms.back();
  stats.p50_ms = n % 2 == 1 ? samples_ms[n / 2] : 0.5 * (samples_ms[n / 2 - 1] + samples_ms[n / 2]);
  return stats;
}

}  // namespace hpo::trainer
