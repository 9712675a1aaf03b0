// Latency probe: the p50 wall time of one operation (for a trial: a batch-1 forward pass on the trial's
// backend), measured on the steady clock after a warm-up, with a Synchronize after each run so that
// asynchronous devices are timed to completion.
//
// Stateless function: thread-safe as far as `run_once` and the backend are.
#ifndef HPO_TRAINER_LATENCY_H_
#define HPO_TRAINER_LATENCY_H_

#include <functional>

#include "base/status.h"
#include "kernels/backend.h"

namespace hpo::trainer {

struct LatencyOptions {
  int warmup = 20;           // untimed runs first
  int min_samples = 10;      // timed runs at least ...
  int max_samples = 200;     // ... and at most this many,
  double max_seconds = 0.2;  // stopping once the timed runs took this long (after min_samples)
};

struct LatencyStats {
  double p50_ms = 0;  // median (mean of the middle two for an even count)
  double min_ms = 0;
  double max_ms = 0;
  int samples = 0;
};

// Times `run_once` + backend.Synchronize(). Returns the first error either reports; INVALID_ARGUMENT for
// options out of range (warmup < 0, min_samples < 1, max_samples < min_samples, max_seconds < 0).
Result<LatencyStats> MeasureLatency(kernels::Backend& backend, const std::function<Status()>& run_once,
                                    const LatencyOptions& options = {});

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_LATENCY_H_
