#include "trainer/latency.h"

#include <algorithm>
#include <vector>

namespace hpo::trainer {
namespace {

// The p-th percentile of sorted values (interpolating between order statistics).
double Percentile(const std::vector<double>& sorted, double p) {
  const double rank = static_cast<double>(sorted.size() - 1) * p / 100.0;
  const auto lo = static_cast<size_t>(rank);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

}  // namespace

Result<LatencyStats> MeasureLatency(kernels::Backend& backend, const std::function<Status()>& run_once,
                                    const LatencyOptions& options) {
  if (options.warmup < 0 || options.min_samples < 1 || options.max_samples < options.min_samples ||
      !(options.max_seconds >= 0)) {
    return InvalidArgumentError(
        "latency: bad options (warmup >= 0, 1 <= min_samples <= max_samples, "
        "max_seconds >= 0)");
  }
  for (int i = 0; i < options.warmup; ++i) {
    HPO_RETURN_IF_ERROR(backend.TimeMs(run_once).status());
  }
  std::vector<double> samples_ms;
  samples_ms.reserve(static_cast<size_t>(options.max_samples));
  double total_s = 0;
  while (static_cast<int>(samples_ms.size()) < options.max_samples &&
         (static_cast<int>(samples_ms.size()) < options.min_samples || total_s < options.max_seconds)) {
    HPO_ASSIGN_OR_RETURN(const double ms, backend.TimeMs(run_once));
    samples_ms.push_back(ms);
    total_s += ms / 1e3;
  }
  std::sort(samples_ms.begin(), samples_ms.end());
  const size_t n = samples_ms.size();
  LatencyStats stats;
  stats.samples = static_cast<int>(n);
  stats.min_ms = samples_ms.front();
  stats.max_ms = samples_ms.back();
  stats.p50_ms = n % 2 == 1 ? samples_ms[n / 2] : 0.5 * (samples_ms[n / 2 - 1] + samples_ms[n / 2]);
  stats.p99_ms = Percentile(samples_ms, 99);
  return stats;
}

}  // namespace hpo::trainer
