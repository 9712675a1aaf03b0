// TrialRunner: turns one handed-out trial (an AcquireTrialResponse) into an outcome: its metrics and
// device, an error, or "stopped". A synthetic task is evaluated in process (hpo_problems); a builtin task
// runs the trainer (`hpo-train`) as a child process (ChildProcess) with the trial's parameters as
// `--NAME=VALUE` flags and reads its metrics line (ParseMetricsLine).
//
// Thread-safety: Run() is called once, by one thread; Stop() may be called from any thread at any time
// (before, during or after Run()). The runner owns its child process. The free functions are pure.
#ifndef HPO_WORKER_TRIAL_RUNNER_H_
#define HPO_WORKER_TRIAL_RUNNER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "hpo/v1/service.pb.h"
#include "worker/child_process.h"
#include "worker/metrics_line.h"

namespace hpo::worker {

struct RunnerOptions {
  // Path of the trainer executable. Default "" (builtin trials then fail with a clear error).
  std::string train_binary;
  // Passed as --data-dir when not empty. Default "".
  std::string data_dir;
  // Passed as --threads. Default 1.
  uint32_t threads = 1;
  // Between SIGTERM and SIGKILL when a running child is stopped. Default 5 s.
  std::chrono::milliseconds kill_grace{5000};
  // Extra environment for the child (e.g. CUDA_VISIBLE_DEVICES of the slot). Default none.
  std::vector<std::pair<std::string, std::string>> env;
};

struct TrialOutcome {
  enum class Kind {
    kCompleted,  // `metrics` holds the result
    kFailed,     // `error` says why, in words for the user
    kStopped,    // Stop() killed the trial or kept it from starting: nothing is to be reported
  };
  Kind kind = Kind::kFailed;
  TrialMetrics metrics;
  std::string error;
  double elapsed_s = 0.0;
};

// The trainer's arguments (without argv[0]) for `trial` of a builtin task, in this order:
//   --NAME=VALUE for each trial parameter, by name (a double with the shortest text that reads back to
//     the same double, an int as an integer, a string as is);
//   --NAME=VALUE for each entry of task.fixed not also a trial parameter, by name (an integral number
//     as an integer, e.g. 1 and not 1.0, other numbers like doubles above; strings as is; true/false);
//   then, each unless a parameter or fixed entry of that name is given: --seed=<trial.seed>,
//   --train-limit=<n> (only when task.train_limit > 0), --threads=<options.threads>,
//   --data-dir=<options.data_dir> (only when not empty).
// INVALID_ARGUMENT naming the parameter for: an empty name or one containing '=', a value that is not
// set or not finite, a fixed value that is null, a list or an object.
Result<std::vector<std::string>> BuildTrainArgs(const v1::Trial& trial, const v1::BuiltinTask& task,
                                                const RunnerOptions& options);

// Evaluates a synthetic trial: the parameters x1..x{dims} (double or int values) of the problem
// task.function with task.dims variables (0: the problem's usual size) give the metrics f1..fM.
// INVALID_ARGUMENT for an unknown problem, a missing, extra, non-numeric or out-of-box parameter, or a
// non-finite result.
Result<TrialMetrics> EvaluateSynthetic(const v1::Trial& trial, const v1::SyntheticTask& task);

class TrialRunner {
 public:
  explicit TrialRunner(RunnerOptions options);
  ~TrialRunner();
  TrialRunner(const TrialRunner&) = delete;
  TrialRunner& operator=(const TrialRunner&) = delete;

  // Runs `assignment`'s trial and blocks until it ends. The outcome is kCompleted with the metrics
  // (device "synthetic" for a synthetic task, else the metrics line's device) only when every one of
  // assignment.objectives is among the metrics. It is kStopped only when Stop() kept the trial from
  // starting, or signalled the trainer while it ran and the trainer did not then exit 0 with a metrics
  // line. A run that ended before Stop() could act on it (a trainer that had already exited, or a
  // synthetic task, which is evaluated at once) keeps its outcome.
  TrialOutcome Run(const v1::AcquireTrialResponse& assignment);

  // Stops the trial: kills the child (SIGTERM to its process group, SIGKILL after kill_grace) or keeps
  // it from starting. Returns at once; Run() then returns kStopped, unless the run had already ended.
  void Stop();

 private:
  TrialOutcome RunBuiltin(const v1::Trial& trial, const v1::BuiltinTask& task);
  bool stop_requested();

  const RunnerOptions options_;
  std::mutex mu_;
  bool stop_requested_ = false;          // GUARDED_BY(mu_)
  std::unique_ptr<ChildProcess> child_;  // GUARDED_BY(mu_) (the pointer; ChildProcess is thread-safe)
};

}  // namespace hpo::worker

#endif  // HPO_WORKER_TRIAL_RUNNER_H_
