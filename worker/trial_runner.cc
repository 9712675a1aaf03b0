#include "worker/trial_runner.h"

#include <google/protobuf/struct.pb.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "base/strings.h"
#include "problems/problem.h"

namespace hpo::worker {
namespace {

constexpr size_t kMaxErrorChars = 500;
// How much of a failed command's stderr its error keeps: the last lines, up to this many bytes.
constexpr size_t kMaxStderrTail = 1'000;
constexpr size_t kMaxStderrLines = 10;
constexpr double kTwoTo63 = 9223372036854775808.0;

Status CheckName(const std::string& name, std::string_view what) {
  if (name.empty()) return InvalidArgumentError(std::string(what) + " with an empty name");
  if (name.find('=') != std::string::npos || name.find_first_of(" \t\n") != std::string::npos) {
    return InvalidArgumentError(std::string(what) + " \"" + name + "\": name has '=' or white space");
  }
  return Status::Ok();
}

Result<std::string> ParamText(const std::string& name, const v1::ParamValue& value) {
  switch (value.kind_case()) {
    case v1::ParamValue::kDoubleValue:
      if (!std::isfinite(value.double_value())) {
        return InvalidArgumentError("parameter " + name + ": value is not finite");
      }
      return FormatDouble(value.double_value());
    case v1::ParamValue::kIntValue:
      return std::to_string(value.int_value());
    case v1::ParamValue::kStringValue:
      return value.string_value();
    case v1::ParamValue::KIND_NOT_SET:
      break;
  }
  return InvalidArgumentError("parameter " + name + " has no value");
}

Result<std::string> FixedText(const std::string& name, const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kNumberValue: {
      const double v = value.number_value();
      if (!std::isfinite(v)) return InvalidArgumentError("fixed value " + name + " is not finite");
      if (std::trunc(v) == v && std::fabs(v) < kTwoTo63) return std::to_string(static_cast<int64_t>(v));
      return FormatDouble(v);
    }
    case google::protobuf::Value::kStringValue:
      return value.string_value();
    case google::protobuf::Value::kBoolValue:
      return std::string(value.bool_value() ? "true" : "false");
    default:
      break;
  }
  return InvalidArgumentError("fixed value " + name + ": only numbers, strings and booleans are supported");
}

// The last non-empty line of `text`, at most kMaxErrorChars long; "" when there is none.
std::string LastLine(std::string_view text) {
  const std::string_view line = FindLastLine(text, [](std::string_view l) { return !l.empty(); });
  if (line.size() <= kMaxErrorChars) return std::string(line);
  return std::string(line.substr(0, kMaxErrorChars - 3)) + "...";
}

// "<prefix><i + 1>", e.g. x1. (Built with append: GCC 12 warns falsely (-Wrestrict) on
// "x" + std::to_string(...).)
std::string IndexedName(char prefix, size_t i) {
  std::string name(1, prefix);
  name += std::to_string(i + 1);
  return name;
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The last lines of `text` (at most kMaxStderrLines, kMaxStderrTail bytes), trimmed, empty ones left
// out, joined by " | " so that the error stays one line; "" when there are none.
std::string StderrTail(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t bytes = 0;
  while (!text.empty() && lines.size() < kMaxStderrLines) {
    const size_t newline = text.rfind('\n');
    const std::string_view line = Trim(newline == std::string_view::npos ? text : text.substr(newline + 1));
    text = newline == std::string_view::npos ? std::string_view() : text.substr(0, newline);
    if (line.empty()) continue;
    if (bytes + line.size() > kMaxStderrTail) {
      if (lines.empty()) lines.push_back(line.substr(line.size() - kMaxStderrTail));  // its end is the news
      break;
    }
    bytes += line.size();
    lines.push_back(line);
  }
  std::string tail;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (!tail.empty()) tail += " | ";
    tail += *it;
  }
  return tail;
}

// How a command task is named in its errors: `program` (argv[0], or the full path of the executable that
// ran), and the script's base name when argv[1] names one (e.g. "/usr/bin/python3 train_mlp.py").
std::string CommandName(const v1::CommandTask& task, const std::string& program) {
  std::string name = program;
  if (task.argv_size() > 1 && !task.argv(1).empty() && task.argv(1)[0] != '-') {
    name += " " + BaseName(task.argv(1));
  }
  return name;
}

std::string SignalText(int sig) {
  const char* name = strsignal(sig);
  return std::to_string(sig) + (name != nullptr ? " (" + std::string(name) + ")" : "");
}

TrialOutcome Failed(std::string error, double elapsed_s = 0.0) {
  TrialOutcome outcome;
  outcome.kind = TrialOutcome::Kind::kFailed;
  outcome.error = std::move(error);
  outcome.elapsed_s = elapsed_s;
  return outcome;
}

TrialOutcome Stopped(double elapsed_s) {
  TrialOutcome outcome;
  outcome.kind = TrialOutcome::Kind::kStopped;
  outcome.elapsed_s = elapsed_s;
  return outcome;
}

// "PROGRAM left N process(es) running when it ended (a (1), b (2)); killed", for ChildResult::stragglers;
// "" when there were none. At most a few are named.
std::string StragglerWarning(const std::string& program, const std::vector<std::string>& stragglers) {
  constexpr size_t kMaxNamed = 5;
  if (stragglers.empty()) return "";
  std::string names;
  for (size_t i = 0; i < stragglers.size() && i < kMaxNamed; ++i)
    names += (i == 0 ? "" : ", ") + stragglers[i];
  if (stragglers.size() > kMaxNamed) names += ", ...";
  return program + " left " + std::to_string(stragglers.size()) +
         (stragglers.size() == 1 ? " process" : " processes") + " running when it ended (" + names +
         "); killed";
}

// The error for a last line of stdout too long to have been kept whole (it began before the captured
// tail) that ends like a JSON object: it was meant as the metrics line. nullopt otherwise.
std::optional<std::string> OverlongMetricsLine(const ChildResult& result) {
  if (!result.out_truncated || result.out_last_line_bytes <= result.out.size()) return std::nullopt;
  const std::string_view tail = Trim(result.out);
  if (tail.empty() || tail.back() != '}') return std::nullopt;
  return MetricsLineTooLarge(result.out_last_line_bytes);
}

// Fails `outcome` when one of `objectives` is not among its metrics.
void CheckObjectives(const google::protobuf::RepeatedPtrField<v1::Objective>& objectives,
                     const std::string& program, TrialOutcome* outcome) {
  for (const v1::Objective& objective : objectives) {
    if (outcome->metrics.metrics.count(objective.name()) != 0) continue;
    std::string reported;
    for (const auto& [name, value] : outcome->metrics.metrics) {
      reported += (reported.empty() ? "" : ", ") + name;
    }
    *outcome = Failed(program + " reported no metric \"" + objective.name() +
                          "\" (reported: " + (reported.empty() ? "none" : reported) + ")",
                      outcome->elapsed_s);
    return;
  }
}

}  // namespace

Result<std::vector<std::string>> BuildTrainArgs(const v1::Trial& trial, const v1::BuiltinTask& task,
                                                const RunnerOptions& options) {
  std::vector<std::string> args;
  std::set<std::string> given;
  const std::map<std::string, v1::ParamValue> params(trial.params().begin(), trial.params().end());
  for (const auto& [name, value] : params) {
    HPO_RETURN_IF_ERROR(CheckName(name, "parameter"));
    HPO_ASSIGN_OR_RETURN(std::string text, ParamText(name, value));
    args.push_back("--" + name + "=" + text);
    given.insert(name);
  }
  const std::map<std::string, google::protobuf::Value> fixed(task.fixed().fields().begin(),
                                                             task.fixed().fields().end());
  for (const auto& [name, value] : fixed) {
    HPO_RETURN_IF_ERROR(CheckName(name, "fixed value"));
    if (given.count(name) != 0) continue;  // the searched value wins
    HPO_ASSIGN_OR_RETURN(std::string text, FixedText(name, value));
    args.push_back("--" + name + "=" + text);
    given.insert(name);
  }
  auto add_default = [&](const std::string& name, const std::string& text) {
    if (given.count(name) == 0) args.push_back("--" + name + "=" + text);
  };
  add_default("seed", std::to_string(trial.seed()));
  if (task.train_limit() > 0) add_default("train-limit", std::to_string(task.train_limit()));
  // The user's own data (the coordinator lets through at most one source).
  const auto add_fractions = [&](double validation_fraction, double test_fraction) {
    if (validation_fraction > 0) add_default("validation-fraction", FormatDouble(validation_fraction));
    if (test_fraction > 0) add_default("test-fraction", FormatDouble(test_fraction));
  };
  const auto add_examples = [&](const auto& data) {
    add_default("train-images", data.train_images());
    add_default("train-labels", data.train_labels());
    if (!data.test_images().empty()) add_default("test-images", data.test_images());
    if (!data.test_labels().empty()) add_default("test-labels", data.test_labels());
  };
  if (task.has_npy()) {
    add_examples(task.npy());
    if (!task.npy().layout().empty()) add_default("image-layout", task.npy().layout());
    add_fractions(task.npy().validation_fraction(), task.npy().test_fraction());
  } else if (task.has_idx()) {
    add_examples(task.idx());
    add_fractions(task.idx().validation_fraction(), task.idx().test_fraction());
  } else if (task.has_text()) {
    add_default("text-file", task.text().path());
    add_fractions(task.text().validation_fraction(), task.text().test_fraction());
  }
  add_default("threads", std::to_string(options.threads));
  if (!options.data_dir.empty()) add_default("data-dir", options.data_dir);
  return args;
}

Result<std::string> CommandValueText(const std::string& name, const v1::ParamValue& value) {
  if (value.kind_case() != v1::ParamValue::kDoubleValue) return ParamText(name, value);
  if (!std::isfinite(value.double_value())) {
    return InvalidArgumentError("parameter " + name + ": value is not finite");
  }
  std::string text = FormatDouble(value.double_value(), DoubleLayout::kPython);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

Result<std::string> ParamsJson(const v1::Trial& trial) {
  const std::map<std::string, v1::ParamValue> params(trial.params().begin(), trial.params().end());
  std::string json = "{";
  for (const auto& [name, value] : params) {
    HPO_ASSIGN_OR_RETURN(std::string text, CommandValueText(name, value));
    if (json.size() > 1) json += ",";
    json +=
        JsonQuote(name) + ":" + (value.kind_case() == v1::ParamValue::kStringValue ? JsonQuote(text) : text);
  }
  return json + "}";
}

Result<std::vector<std::string>> BuildCommandArgv(const v1::Trial& trial, const v1::CommandTask& task) {
  if (task.argv().empty() || task.argv(0).empty()) return InvalidArgumentError("the command's argv is empty");
  std::vector<std::string> argv(task.argv().begin(), task.argv().end());
  const std::map<std::string, v1::ParamValue> params(trial.params().begin(), trial.params().end());
  for (const auto& [name, value] : params) {
    HPO_RETURN_IF_ERROR(CheckName(name, "parameter"));
    HPO_ASSIGN_OR_RETURN(std::string text, CommandValueText(name, value));
    argv.push_back("--" + name + "=" + text);
  }
  return argv;
}

Result<std::vector<std::pair<std::string, std::string>>> BuildCommandEnv(
    const v1::Trial& trial, const v1::CommandTask& task,
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::map<std::string, std::string> env(task.env().begin(), task.env().end());
  for (const auto& [name, value] : extra) env[name] = value;
  HPO_ASSIGN_OR_RETURN(env["HPO_PARAMS"], ParamsJson(trial));
  env["HPO_TRIAL_ID"] = std::to_string(trial.id());
  env["HPO_STUDY_ID"] = std::to_string(trial.study_id());
  env["HPO_SEED"] = std::to_string(trial.seed());
  return std::vector<std::pair<std::string, std::string>>(env.begin(), env.end());
}

Result<TrialMetrics> EvaluateSynthetic(const v1::Trial& trial, const v1::SyntheticTask& task) {
  HPO_ASSIGN_OR_RETURN(
      const problems::Problem problem,
      problems::MakeProblem(
          task.function(), task.dims(),
          task.has_shift_seed() ? std::optional<uint64_t>(task.shift_seed()) : std::nullopt));
  const std::string range = problem.name + " takes x1..x" + std::to_string(problem.dims);
  std::vector<double> x(problem.dims);
  for (size_t i = 0; i < problem.dims; ++i) {
    const std::string name = IndexedName('x', i);
    const auto it = trial.params().find(name);
    if (it == trial.params().end()) {
      return InvalidArgumentError("missing parameter " + name + " (" + range + ")");
    }
    const v1::ParamValue& value = it->second;
    if (value.kind_case() == v1::ParamValue::kDoubleValue) {
      x[i] = value.double_value();
    } else if (value.kind_case() == v1::ParamValue::kIntValue) {
      x[i] = static_cast<double>(value.int_value());
    } else {
      return InvalidArgumentError("parameter " + name + " is not a number");
    }
    if (!(x[i] >= problem.lower[i] && x[i] <= problem.upper[i])) {
      return InvalidArgumentError("parameter " + name + " = " + FormatDouble(x[i]) + " outside [" +
                                  FormatDouble(problem.lower[i]) + ", " + FormatDouble(problem.upper[i]) +
                                  "] of " + problem.name);
    }
  }
  if (trial.params().size() != problem.dims) {
    for (const auto& [name, value] : trial.params()) {
      bool known = false;
      for (size_t i = 0; i < problem.dims && !known; ++i) known = name == IndexedName('x', i);
      if (!known) return InvalidArgumentError("unexpected parameter " + name + " (" + range + ")");
    }
  }
  const std::vector<double> f = problem.evaluate(x);
  TrialMetrics result;
  result.device = "synthetic";
  for (size_t m = 0; m < f.size(); ++m) {
    const std::string name = IndexedName('f', m);
    if (!std::isfinite(f[m])) {
      return InvalidArgumentError(problem.name + ": objective " + name + " is not finite");
    }
    result.metrics[name] = f[m];
  }
  return result;
}

TrialRunner::TrialRunner(RunnerOptions options) : options_(std::move(options)) {}

TrialRunner::~TrialRunner() = default;

void TrialRunner::Stop(std::optional<std::chrono::milliseconds> grace) {
  std::lock_guard<std::mutex> lock(mu_);
  stop_requested_ = true;
  if (child_ != nullptr) child_->Kill(grace.value_or(options_.kill_grace));
}

bool TrialRunner::stop_requested() {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_requested_;
}

TrialOutcome TrialRunner::Run(const v1::AcquireTrialResponse& assignment) {
  const v1::Trial& trial = assignment.trial();
  const auto start = std::chrono::steady_clock::now();
  TrialOutcome outcome;
  std::string program = "synthetic task";
  switch (assignment.task().kind_case()) {
    case v1::Task::kSynthetic: {
      // Evaluated in a moment and not interruptible: only a Stop() that came first keeps it from running.
      if (stop_requested()) return Stopped(0.0);
      Result<TrialMetrics> metrics = EvaluateSynthetic(trial, assignment.task().synthetic());
      if (metrics.ok()) {
        outcome.kind = TrialOutcome::Kind::kCompleted;
        outcome.metrics = std::move(metrics).value();
      } else {
        outcome = Failed(metrics.status().message());
      }
      outcome.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      break;
    }
    case v1::Task::kBuiltin:
      program = BaseName(options_.train_binary);
      outcome = RunBuiltin(trial, assignment.task().builtin());
      break;
    case v1::Task::kCommand:
      outcome = RunCommand(trial, assignment.task().command(), &program);
      break;
    case v1::Task::kExternal:
      outcome =
          Failed("an external task's trials are evaluated by the client that asks for them, not by a worker");
      break;
    case v1::Task::KIND_NOT_SET:
      outcome = Failed("the trial came without a task (builtin, synthetic or command)");
      break;
  }
  // A Stop() that came too late to kill anything leaves the outcome as it is: a finished run counts.
  if (outcome.kind == TrialOutcome::Kind::kCompleted) {
    CheckObjectives(assignment.objectives(), program, &outcome);
  }
  if (!warning_.empty()) {
    outcome.warning = warning_;
    if (outcome.kind == TrialOutcome::Kind::kFailed) outcome.error += "; " + warning_;
  }
  return outcome;
}

std::optional<TrialOutcome> TrialRunner::RunChild(const std::vector<std::string>& argv,
                                                  ChildOptions child_options, const std::string& program,
                                                  ChildResult* result) {
  ChildProcess* child = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_requested_) return Stopped(0.0);
    Result<std::unique_ptr<ChildProcess>> started = ChildProcess::Start(argv, child_options);
    if (!started.ok()) return Failed(started.status().message());
    child_ = std::move(started).value();
    child = child_.get();
  }
  Result<ChildResult> waited = child->Wait();
  {
    std::lock_guard<std::mutex> lock(mu_);
    child_.reset();
  }
  if (!waited.ok()) return Failed(program + ": " + waited.status().message());
  *result = std::move(waited).value();
  warning_ = StragglerWarning(program, result->stragglers);
  return std::nullopt;
}

void TrialRunner::SetProgressCallback(ChildOptions* child_options) const {
  if (!options_.on_progress) return;
  child_options->on_stdout_line = [this](std::string_view line) {
    if (std::optional<ProgressLine> progress = ParseProgressLine(line)) options_.on_progress(*progress);
  };
}

TrialOutcome TrialRunner::RunBuiltin(const v1::Trial& trial, const v1::BuiltinTask& task) {
  if (options_.train_binary.empty()) return Failed("this worker has no trainer binary (--train-binary)");
  const std::string program = BaseName(options_.train_binary);
  Result<std::vector<std::string>> args = BuildTrainArgs(trial, task, options_);
  if (!args.ok()) return Failed(args.status().message());
  std::vector<std::string> argv;
  argv.reserve(args->size() + 1);
  argv.push_back(options_.train_binary);
  for (std::string& arg : *args) argv.push_back(std::move(arg));

  ChildOptions child_options;
  child_options.env = options_.env;
  child_options.run_as = options_.run_as;
  SetProgressCallback(&child_options);
  ChildResult result;
  if (std::optional<TrialOutcome> ended = RunChild(argv, std::move(child_options), program, &result)) {
    return *ended;
  }
  // `killed`: Stop() signalled the child while it ran. It is stopped unless it still exited 0 with a
  // metrics line (a trainer that finishes its run on SIGTERM): a result is never thrown away.
  if (result.killed && !result.Succeeded()) return Stopped(result.elapsed_s);
  const std::string last_err = LastLine(result.err);
  if (!result.exited) {
    return Failed(program + " killed by signal " + SignalText(result.term_signal) +
                      (last_err.empty() ? "" : "; stderr: " + last_err),
                  result.elapsed_s);
  }
  if (result.exit_code != 0) {
    return Failed(
        last_err.empty() ? program + " exited with status " + std::to_string(result.exit_code) : last_err,
        result.elapsed_s);
  }
  if (std::optional<std::string> overlong = OverlongMetricsLine(result)) {
    return Failed(program + " printed bad metrics: " + *overlong, result.elapsed_s);
  }
  Result<TrialMetrics> metrics = ParseFinalMetricsLine(result.out);
  if (!metrics.ok()) {
    if (result.killed) return Stopped(result.elapsed_s);
    if (metrics.status().code() == StatusCode::kNotFound) {
      return Failed(program + " printed no metrics", result.elapsed_s);
    }
    return Failed(program + " printed bad metrics: " + metrics.status().message(), result.elapsed_s);
  }
  TrialOutcome outcome;
  outcome.kind = TrialOutcome::Kind::kCompleted;
  outcome.metrics = std::move(metrics).value();
  outcome.elapsed_s = result.elapsed_s;
  return outcome;
}

TrialOutcome TrialRunner::RunCommand(const v1::Trial& trial, const v1::CommandTask& task,
                                     std::string* program_name) {
  *program_name = task.argv().empty() ? "command" : CommandName(task, task.argv(0));
  Result<std::vector<std::string>> argv = BuildCommandArgv(trial, task);
  if (!argv.ok()) return Failed(argv.status().message());
  Result<std::vector<std::pair<std::string, std::string>>> env = BuildCommandEnv(trial, task, options_.env);
  if (!env.ok()) return Failed(env.status().message());
  // The file that runs, found here (on the worker's PATH for a bare name) so that every word about the
  // run names it in full: a python3 without numpy earlier on PATH than the one meant shows at once.
  Result<std::string> executable = ResolveExecutable(task.argv(0), /*search_path=*/true);
  if (!executable.ok()) return Failed(executable.status().message());
  const std::string program = CommandName(task, *executable);
  *program_name = program;

  ChildOptions child_options;
  child_options.env = std::move(env).value();
  child_options.executable = *executable;
  child_options.timeout = std::chrono::seconds(task.timeout_s());
  child_options.timeout_grace = options_.kill_grace;
  child_options.run_as = options_.run_as;
  SetProgressCallback(&child_options);
  ChildResult result;
  if (std::optional<TrialOutcome> ended = RunChild(*argv, std::move(child_options), program, &result)) {
    if (ended->kind == TrialOutcome::Kind::kFailed && task.argv(0).find('/') != std::string::npos &&
        task.argv(0)[0] != '/') {
      std::error_code ec;
      ended->error +=
          " (relative to the worker's working directory " + std::filesystem::current_path(ec).string() + ")";
    }
    return *ended;
  }
  if (result.killed && !result.Succeeded()) return Stopped(result.elapsed_s);
  std::string stderr_tail = StderrTail(result.err);
  if (!stderr_tail.empty()) stderr_tail = "; stderr: " + stderr_tail;
  if (result.timed_out) {
    return Failed(program + " timed out after " + std::to_string(task.timeout_s()) +
                      " s (task.command.timeout_s) and was killed" + stderr_tail,
                  result.elapsed_s);
  }
  if (!result.exited) {
    return Failed(program + " killed by signal " + SignalText(result.term_signal) + stderr_tail,
                  result.elapsed_s);
  }
  if (result.exit_code != 0) {
    return Failed(program + " exited with status " + std::to_string(result.exit_code) + stderr_tail,
                  result.elapsed_s);
  }
  if (std::optional<std::string> overlong = OverlongMetricsLine(result)) {
    return Failed(program + " printed bad metrics: " + *overlong, result.elapsed_s);
  }
  Result<TrialMetrics> metrics = ParseMetricsLine(result.out);
  if (!metrics.ok()) {
    if (result.killed) return Stopped(result.elapsed_s);
    if (metrics.status().code() == StatusCode::kNotFound) {
      return Failed(program + " printed no metrics (no line of its stdout is a JSON object)" + stderr_tail,
                    result.elapsed_s);
    }
    return Failed(program + " printed bad metrics: " + metrics.status().message(), result.elapsed_s);
  }
  TrialOutcome outcome;
  outcome.kind = TrialOutcome::Kind::kCompleted;
  outcome.metrics = std::move(metrics).value();
  if (outcome.metrics.device.empty()) outcome.metrics.device = options_.device;
  outcome.elapsed_s = result.elapsed_s;
  return outcome;
}

}  // namespace hpo::worker
