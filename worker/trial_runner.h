// TrialRunner: turns one handed-out trial (an AcquireTrialResponse) into an outcome: its metrics and
// device, an error, or "stopped". A synthetic task is evaluated in process (hpo_problems); a builtin task
// runs the trainer (`hpo-train`) as a child process (ChildProcess) with the trial's parameters as
// `--NAME=VALUE` flags and reads its metrics line (ParseFinalMetricsLine: its per-epoch progress lines are
// never the result); a command task runs the user's program the same way (BuildCommandArgv,
// BuildCommandEnv) and kills it past its timeout. Both pass on their progress lines (ParseProgressLine)
// as they come.
//
// Thread-safety: Run() is called once, by one thread; Stop() may be called from any thread at any time
// (before, during or after Run()). The runner owns its child process. The free functions are pure.
#ifndef HPO_WORKER_TRIAL_RUNNER_H_
#define HPO_WORKER_TRIAL_RUNNER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
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
  // The user each trial's process runs as (ChildOptions::run_as). Default: none, the worker's user.
  std::optional<RunAs> run_as;
  // The device a command task's metrics were measured on when its metrics line names none (the
  // worker's device). Default "".
  std::string device;
  // Called with each progress line of a builtin or command task as it is printed, on the thread that
  // runs Run().
  // It must return quickly (the program's output waits meanwhile). Default: none.
  std::function<void(const ProgressLine&)> on_progress;
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
  // What the user should hear of a run that still counts, e.g. "train.sh left 1 process running when it
  // ended (sleep (4242)); killed". For a failed trial it is also at the end of `error`. "" when none.
  std::string warning;
  double elapsed_s = 0.0;
};

// The trainer's arguments (without argv[0]) for `trial` of a builtin task, in this order:
//   --NAME=VALUE for each trial parameter, by name (a double with the shortest text that reads back to
//     the same double, an int as an integer, a string as is);
//   --NAME=VALUE for each entry of task.fixed not also a trial parameter, by name (an integral number
//     as an integer, e.g. 1 and not 1.0, other numbers like doubles above; strings as is; true/false);
//   then, each unless a parameter or fixed entry of that name is given: --seed=<trial.seed>,
//   --train-limit=<n> (only when task.train_limit > 0), the user's own data (task.npy or task.idx:
//   --train-images, --train-labels, --test-images and --test-labels when given, npy's --image-layout when
//   given; task.text: --text-file; either: --validation-fraction and --test-fraction when above 0),
//   --threads=<options.threads>, --data-dir=<options.data_dir> (only when not empty).
// INVALID_ARGUMENT naming the parameter for: an empty name or one containing '=', a value that is not
// set or not finite, a fixed value that is null, a list or an object.
Result<std::vector<std::string>> BuildTrainArgs(const v1::Trial& trial, const v1::BuiltinTask& task,
                                                const RunnerOptions& options);

// The text of a parameter's value for a command task, as in its argv and (numbers) in HPO_PARAMS: an int
// as an integer; a double as Python's repr writes it (shortest round trip, "0.001", "1e-05", and "3.0"
// rather than "3", so that it reads back as a float); a string as is. INVALID_ARGUMENT naming the
// parameter for a value that is not set or not finite.
Result<std::string> CommandValueText(const std::string& name, const v1::ParamValue& value);

// HPO_PARAMS: the trial's parameters as one JSON object, by name, e.g.
// {"activation":"relu","hidden":128,"lr":0.003}. Errors as CommandValueText.
Result<std::string> ParamsJson(const v1::Trial& trial);

// A command task's argv: task.argv, then --NAME=VALUE (CommandValueText) for each trial parameter, by
// name. INVALID_ARGUMENT for an empty argv or a parameter named as BuildTrainArgs refuses.
Result<std::vector<std::string>> BuildCommandArgv(const v1::Trial& trial, const v1::CommandTask& task);

// A command task's environment on top of the worker's, each name once, in name order: task.env, then
// `extra` (the slot's, e.g. CUDA_VISIBLE_DEVICES, which wins over the task's), then HPO_PARAMS
// (ParamsJson), HPO_TRIAL_ID, HPO_STUDY_ID and HPO_SEED (which win over both).
Result<std::vector<std::pair<std::string, std::string>>> BuildCommandEnv(
    const v1::Trial& trial, const v1::CommandTask& task,
    const std::vector<std::pair<std::string, std::string>>& extra);

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
  // (device "synthetic" for a synthetic task, else the metrics line's device, or for a command task
  // options.device when its line names none) only when every one of assignment.objectives is among the
  // metrics. A command task's argv[0] is resolved here first (a bare name on the worker's PATH); every
  // reason its trial fails with names the program as the full path of the executable that ran, and the
  // script's base name when argv[1] names one ("/usr/bin/python3 train_mlp.py exited with status 1;
  // stderr: ... No module named 'numpy'"). It fails when it could not start (not found on PATH, with the
  // PATH searched; a relative path, with the working directory it is relative to), it ran past
  // task.timeout_s ("timed out after N s"), it was killed by a signal, it exited non-zero ("exited with
  // status N"), each with the tail of its stderr, or it printed no metrics, or its metrics line is longer
  // than kMaxMetricsLineBytes ("metrics line too large (N bytes, limit M)", the same for the trainer).
  // Processes the program left running in its process group are killed when it ends, whatever the outcome,
  // and named in the outcome's warning. It is kStopped only when Stop() kept the trial from starting, or
  // signalled the trainer while it ran and the trainer did not then exit 0 with a metrics line. A run that
  // ended before Stop() could act on it (a trainer that had already exited, or a synthetic task, which is
  // evaluated at once) keeps its outcome.
  TrialOutcome Run(const v1::AcquireTrialResponse& assignment);

  // Stops the trial: kills the child (SIGTERM to its process group, SIGKILL after `grace`, by default
  // options.kill_grace) or keeps it from starting. Returns at once; Run() then returns kStopped, unless
  // the run had already ended. A second call may shorten the grace, never lengthen it.
  void Stop(std::optional<std::chrono::milliseconds> grace = std::nullopt);

 private:
  TrialOutcome RunBuiltin(const v1::Trial& trial, const v1::BuiltinTask& task);
  // Sets *program_name to how the outcome names the program: the full path of the executable that ran
  // (ResolveExecutable), with the script's base name after it (e.g. "/usr/bin/python3 train_mlp.py").
  TrialOutcome RunCommand(const v1::Trial& trial, const v1::CommandTask& task, std::string* program_name);
  // Starts `argv` as the trial's child and waits for it to end. Sets *result and returns nullopt when it
  // ran to an end; otherwise the outcome (stopped before it started, failed to start, a system error).
  std::optional<TrialOutcome> RunChild(const std::vector<std::string>& argv, ChildOptions child_options,
                                       const std::string& program, ChildResult* result);
  // Passes the child's progress lines to options_.on_progress, when set.
  void SetProgressCallback(ChildOptions* child_options) const;
  bool stop_requested();

  const RunnerOptions options_;
  std::string warning_;  // set by RunChild (on Run()'s thread), for the outcome
  std::mutex mu_;
  bool stop_requested_ = false;          // GUARDED_BY(mu_)
  std::unique_ptr<ChildProcess> child_;  // GUARDED_BY(mu_) (the pointer; ChildProcess is thread-safe)
};

}  // namespace hpo::worker

#endif  // HPO_WORKER_TRIAL_RUNNER_H_
