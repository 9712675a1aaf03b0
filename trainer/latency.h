// MeasureLatency: how long one piece of device work takes, as robust statistics over repeated runs
// (median and 99th percentile; the latency objective is the median of a batch-1 forward pass, DESIGN.md).
// Each run is timed by Backend::TimeMs: CUDA events on a GPU, the steady clock around the work and a
// Synchronize on the CPU. Untimed warm-up runs come first.
//
// Stateless function: thread-safe as far as `run_once` and the backend are.
#ifndef HPO_TRAINER_LATENCY_H_
#define HPO_TRAINER_LATENCY_H_

#include <functional>

#include "base/status.h"
#include "kernels/backend.h"

namespace hpo::trainer {

struct LatencyOptions {
  int warmup = 50;            // untimed runs first
  int min_samples = 200;      // timed runs at least ...
  int max_samples = 2000;     // ... and at most this many,
  double max_seconds = 0.25;  // stopping once the timed runs took this long (after min_samples)
};

// Percentiles interpolate linearly between order statistics, at rank (n - 1) p / 100 (numpy's default).
struct LatencyStats {
  double p50_ms = 0;  // median (mean of the middle two for an even count)
  double p99_ms = 0;
  double min_ms = 0;
  double max_ms = 0;
  int samples = 0;
};

// Times `run_once` with backend.TimeMs. Returns the first error either reports; INVALID_ARGUMENT for
// options out of range (warmup < 0, min_samples < 1, max_samples < min_samples, max_seconds < 0).
Result<LatencyStats> MeasureLatency(kernels::Backend& backend, const std::function<Status()>& run_once,
                                    const LatencyOptions& options = {});

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_LATENCY_H_
