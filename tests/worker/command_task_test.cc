// A command task: the user's own program run per trial (worker/trial_runner.h). Its argv and
// environment, then real runs of small shell scripts: parameters as arguments and HPO_PARAMS, metrics
// from the last JSON line, progress lines passed on as they are printed, the timeout, a non-zero exit and
// a death by signal failing the trial with their reason, and a Stop().
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/testing/process_state.h"
#include "tests/testing/spec_builders.h"
#include "worker/trial_runner.h"

namespace hpo::worker {
namespace {

using std::chrono::milliseconds;

v1::ParamValue Double(double v) { return testing::DoubleValue(v); }
v1::ParamValue Int(int64_t v) { return testing::IntValue(v); }
v1::ParamValue String(const std::string& v) { return testing::StringValue(v); }

v1::Trial MlpTrial() {
  v1::Trial trial;
  trial.set_id(41);
  trial.set_study_id(3);
  trial.set_seed(987654321);
  (*trial.mutable_params())["lr"] = Double(0.003);
  (*trial.mutable_params())["hidden"] = Int(128);
  (*trial.mutable_params())["activation"] = String("re\"lu");
  (*trial.mutable_params())["dropout"] = Double(0.0);
  (*trial.mutable_params())["wd"] = Double(1e-5);
  return trial;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The file the shell finds for `name` on PATH (`command -v`), an oracle apart from ResolveExecutable;
// "" when there is none.
std::string ShellLookup(const std::string& name) {
  std::string found;
  if (FILE* out = popen(("command -v '" + name + "'").c_str(), "r")) {
    char buffer[4096];
    while (fgets(buffer, sizeof buffer, out) != nullptr) found += buffer;
    pclose(out);
  }
  while (!found.empty() && found.back() == '\n') found.pop_back();
  return found;
}

// How failures name the test scripts' program: the full path of the `sh` that runs them.
std::string Sh() {
  static const std::string sh = ShellLookup("sh") + " train.sh";
  return sh;
}

// Sets PATH for its lifetime, then puts the old value back.
class ScopedPath {
 public:
  explicit ScopedPath(const std::string& path) {
    const char* old = std::getenv("PATH");
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv("PATH", path.c_str(), 1);
  }
  ~ScopedPath() {
    if (had_) {
      setenv("PATH", old_.c_str(), 1);
    } else {
      unsetenv("PATH");
    }
  }
  ScopedPath(const ScopedPath&) = delete;
  ScopedPath& operator=(const ScopedPath&) = delete;

 private:
  bool had_ = false;
  std::string old_;
};

// Polls until `pid` no longer runs; whether that happened within `limit`.
bool EndsWithin(pid_t pid, milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (testing::ProcessRunning(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

// ---- argv and environment ----

TEST(CommandArgsTest, ValuesReadBackAsTheirKind) {
  EXPECT_EQ(*CommandValueText("a", Double(3.0)), "3.0");
  EXPECT_EQ(*CommandValueText("a", Double(0.1 + 0.2)), "0.30000000000000004");
  EXPECT_EQ(*CommandValueText("a", Double(1e-5)), "1e-05");
  EXPECT_EQ(*CommandValueText("a", Double(-2.5e16)), "-2.5e+16");
  EXPECT_EQ(*CommandValueText("a", Int(-7)), "-7");
  EXPECT_EQ(*CommandValueText("a", String("relu")), "relu");
  const Result<std::string> nan = CommandValueText("lr", Double(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_EQ(nan.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(nan.status().message(), "parameter lr: value is not finite");
}

TEST(CommandArgsTest, ParametersFollowTheArgvByName) {
  v1::CommandTask task;
  task.add_argv("python3");
  task.add_argv("examples/train_mlp.py");
  task.add_argv("--epochs=2");
  const Result<std::vector<std::string>> argv = BuildCommandArgv(MlpTrial(), task);
  ASSERT_TRUE(argv.ok()) << argv.status().ToString();
  EXPECT_EQ(*argv,
            (std::vector<std::string>{"python3", "examples/train_mlp.py", "--epochs=2", "--activation=re\"lu",
                                      "--dropout=0.0", "--hidden=128", "--lr=0.003", "--wd=1e-05"}));
  EXPECT_FALSE(BuildCommandArgv(MlpTrial(), v1::CommandTask()).ok());
}

TEST(CommandArgsTest, HpoParamsIsOneJsonObject) {
  EXPECT_EQ(*ParamsJson(MlpTrial()),
            R"({"activation":"re\"lu","dropout":0.0,"hidden":128,"lr":0.003,"wd":1e-05})");
  EXPECT_EQ(*ParamsJson(v1::Trial()), "{}");
}

TEST(CommandArgsTest, EnvironmentLayersTaskThenSlotThenHpo) {
  v1::CommandTask task;
  (*task.mutable_env())["OMP_NUM_THREADS"] = "2";
  (*task.mutable_env())["CUDA_VISIBLE_DEVICES"] = "7";
  const auto env = BuildCommandEnv(MlpTrial(), task, {{"CUDA_VISIBLE_DEVICES", "1"}});
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"CUDA_VISIBLE_DEVICES", "1"},  // the slot's GPU wins over the task's
      {"HPO_PARAMS", *ParamsJson(MlpTrial())},
      {"HPO_SEED", "987654321"},
      {"HPO_STUDY_ID", "3"},
      {"HPO_TRIAL_ID", "41"},
      {"OMP_NUM_THREADS", "2"}};
  EXPECT_EQ(*env, expected);
}

// ---- real runs ----

// A temporary directory holding the script `train.sh`, run as ["sh", "<dir>/train.sh", "--fixed"].
class Script {
 public:
  explicit Script(const std::string& body) {
    char dir[] = "/tmp/hpo_command_test_XXXXXX";
    EXPECT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    std::ofstream(dir_ + "/train.sh") << "cd \"$(dirname \"$0\")\"\n" << body << "\n";
  }
  ~Script() { std::filesystem::remove_all(dir_); }
  std::string File(const std::string& name) const { return dir_ + "/" + name; }

  v1::AcquireTrialResponse Assignment(uint32_t timeout_s = 0) const {
    v1::AcquireTrialResponse a;
    *a.mutable_trial() = MlpTrial();
    v1::CommandTask* task = a.mutable_task()->mutable_command();
    task->add_argv("sh");  // a name: looked up on PATH
    task->add_argv(File("train.sh"));
    task->add_argv("--fixed");
    task->set_timeout_s(timeout_s);
    (*task->mutable_env())["MY_SETTING"] = "on";
    a.mutable_lease()->set_token("tok");
    v1::Objective* o = a.add_objectives();
    o->set_name("accuracy");
    o->set_direction(v1::MAXIMIZE);
    return a;
  }

 private:
  std::string dir_;
};

// Runs a TrialRunner and records the progress lines it passes on.
struct CommandRun {
  explicit CommandRun(const v1::AcquireTrialResponse& assignment, const std::string& device = "cpu: test") {
    RunnerOptions options;
    options.device = device;
    options.kill_grace = milliseconds(200);
    options.on_progress = [this](const ProgressLine& line) { progress.push_back(line); };
    TrialRunner runner(options);
    const auto start = std::chrono::steady_clock::now();
    outcome = runner.Run(assignment);
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  TrialOutcome outcome;
  std::vector<ProgressLine> progress;
  double seconds = 0;
};

TEST(CommandTaskTest, GetsParametersAsArgumentsAndInHpoParams) {
  Script script(
      "printf '%s\\n' \"$@\" > args.txt\n"
      "printf '%s' \"$HPO_PARAMS\" > params.txt\n"
      "echo \"$HPO_TRIAL_ID $HPO_STUDY_ID $HPO_SEED $MY_SETTING ${HPO_TOKEN:-no-token}\" > ids.txt\n"
      "echo '{\"accuracy\": 0.5}'");
  const CommandRun run(script.Assignment());
  ASSERT_EQ(run.outcome.kind, TrialOutcome::Kind::kCompleted) << run.outcome.error;
  EXPECT_EQ(ReadFile(script.File("args.txt")),
            "--fixed\n--activation=re\"lu\n--dropout=0.0\n--hidden=128\n--lr=0.003\n--wd=1e-05\n");
  EXPECT_EQ(ReadFile(script.File("params.txt")),
            R"({"activation":"re\"lu","dropout":0.0,"hidden":128,"lr":0.003,"wd":1e-05})");
  EXPECT_EQ(ReadFile(script.File("ids.txt")), "41 3 987654321 on no-token\n");
}

TEST(CommandTaskTest, MetricsComeFromTheLastJsonLineAndStepLinesAreProgress) {
  Script script(
      "echo 'loading data'\n"
      "echo '{\"step\": 1, \"loss\": 0.9, \"note\": \"warm-up\"}'\n"
      "echo '{\"step\": 2, \"loss\": 0.5, \"accuracy\": 0.7}'\n"
      "echo '{\"step\": 2.5, \"loss\": 0.4}'\n"  // not a whole step: no progress
      "echo '{\"accuracy\": 0.1}'\n"
      "echo '  {\"step\": 3, \"loss\": 0.25}'\n"
      "echo '{\"accuracy\": 0.875, \"latency_ms\": 0.125}'\n"
      "echo 'bye'");
  const CommandRun run(script.Assignment());
  ASSERT_EQ(run.outcome.kind, TrialOutcome::Kind::kCompleted) << run.outcome.error;
  EXPECT_EQ(run.outcome.metrics.metrics,
            (std::map<std::string, double>{{"accuracy", 0.875}, {"latency_ms", 0.125}}));
  EXPECT_EQ(run.outcome.metrics.device, "cpu: test");  // the worker's, as the line names none
  ASSERT_EQ(run.progress.size(), 3u);
  EXPECT_EQ(run.progress[0].step, 1u);
  EXPECT_EQ(run.progress[0].metrics, (std::map<std::string, double>{{"loss", 0.9}}));
  EXPECT_EQ(run.progress[1].step, 2u);
  EXPECT_EQ(run.progress[1].metrics, (std::map<std::string, double>{{"accuracy", 0.7}, {"loss", 0.5}}));
  EXPECT_EQ(run.progress[2].step, 3u);
  EXPECT_EQ(run.progress[2].metrics.at("loss"), 0.25);
}

TEST(CommandTaskTest, ProgressArrivesWhileTheProgramRuns) {
  // The script waits for the test to see step 1 before it goes on: progress is not read at the end.
  Script script(
      "echo '{\"step\": 1, \"loss\": 0.5}'\n"
      "while [ ! -e go ]; do sleep 0.02; done\n"
      "echo '{\"accuracy\": 0.5}'");
  RunnerOptions options;
  options.on_progress = [&](const ProgressLine& line) {
    if (line.step == 1) std::ofstream(script.File("go")) << "go";
  };
  TrialRunner runner(options);
  const TrialOutcome outcome = runner.Run(script.Assignment(10));
  EXPECT_EQ(outcome.kind, TrialOutcome::Kind::kCompleted) << outcome.error;
}

TEST(CommandTaskTest, TheLineNamesItsDevice) {
  Script script("echo '{\"accuracy\": 0.5, \"device\": \"cuda: H100\"}'");
  const CommandRun run(script.Assignment());
  ASSERT_EQ(run.outcome.kind, TrialOutcome::Kind::kCompleted) << run.outcome.error;
  EXPECT_EQ(run.outcome.metrics.device, "cuda: H100");
}

TEST(CommandTaskTest, TimeoutKillsTheProcessGroupAndFailsTheTrial) {
  // A grandchild in the background holds the pipes too: it dies with its group.
  Script script(
      "sleep 30 & echo $! > grandchild.pid\n"
      "echo '{\"step\": 1, \"loss\": 0.5}'\n"
      "echo 'still training' >&2\n"
      "sleep 30\n"
      "echo '{\"accuracy\": 0.5}'");
  const CommandRun run(script.Assignment(1));
  ASSERT_EQ(run.outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(run.outcome.error,
            Sh() + " timed out after 1 s (task.command.timeout_s) and was killed; stderr: still training");
  EXPECT_GE(run.seconds, 1.0);
  EXPECT_LT(run.seconds, 5.0);
  EXPECT_EQ(run.progress.size(), 1u);  // what came before the timeout was passed on
  const pid_t grandchild = std::stoi(ReadFile(script.File("grandchild.pid")));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_FALSE(testing::ProcessRunning(grandchild)) << "the background sleep outlived the trial";
}

TEST(CommandTaskTest, NonZeroExitFailsWithTheStatusAndTheTailOfStderr) {
  Script script(
      "for i in $(seq 1 30); do echo \"line $i\" >&2; done\n"
      "echo 'Traceback (most recent call last):' >&2\n"
      "echo '' >&2\n"
      "echo 'ValueError: lr must be positive' >&2\n"
      "echo '{\"accuracy\": 0.5}'\n"
      "exit 3");
  const CommandRun run(script.Assignment());
  ASSERT_EQ(run.outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(run.outcome.error,
            Sh() + " exited with status 3; stderr: line 23 | line 24 | line 25 | line 26 | line 27 | " +
                "line 28 | line 29 | line 30 | Traceback (most recent call last): | ValueError: lr must be "
                "positive");
}

TEST(CommandTaskTest, SilentNonZeroExitGivesTheStatusAlone) {
  Script script("exit 2");
  const CommandRun run(script.Assignment());
  EXPECT_EQ(run.outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(run.outcome.error, Sh() + " exited with status 2");
}

TEST(CommandTaskTest, DeathBySignalFails) {
  Script script("echo 'out of memory' >&2; kill -9 $$");
  const CommandRun run(script.Assignment());
  EXPECT_EQ(run.outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(run.outcome.error.rfind(Sh() + " killed by signal 9", 0), 0u) << run.outcome.error;
  EXPECT_NE(run.outcome.error.find("stderr: out of memory"), std::string::npos) << run.outcome.error;
}

TEST(CommandTaskTest, NoMetricsOrAMissingObjectiveFails) {
  Script none("echo 'done, but I forgot to print my metrics'");
  CommandRun run(none.Assignment());
  EXPECT_EQ(run.outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(run.outcome.error, Sh() + " printed no metrics (no line of its stdout is a JSON object)");

  Script other("echo '{\"acc\": 0.5}'");
  run = CommandRun(other.Assignment());
  EXPECT_EQ(run.outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(run.outcome.error, Sh() + " reported no metric \"accuracy\" (reported: acc)");
}

TEST(CommandTaskTest, AProgramThatCannotStartFailsSayingWhy) {
  Script script("");
  v1::AcquireTrialResponse missing = script.Assignment();
  missing.mutable_task()->mutable_command()->set_argv(0, "no-such-program-hpo");
  CommandRun run(missing);
  EXPECT_EQ(run.outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(run.outcome.error,
            "cannot start no-such-program-hpo: not found on PATH (" + std::string(std::getenv("PATH")) + ")");

  v1::AcquireTrialResponse relative = script.Assignment();
  relative.mutable_task()->mutable_command()->set_argv(0, "bin/train");
  run = CommandRun(relative);
  EXPECT_EQ(run.outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(run.outcome.error,
            "cannot start bin/train: No such file or directory (relative to the worker's working directory " +
                std::filesystem::current_path().string() + ")");
}

TEST(CommandTaskTest, AFailureNamesTheFullPathOfTheExecutableThatRan) {
  // A python3 without numpy first on the worker's PATH (a pyenv shim, say), standing in for the one the
  // study meant: the failure says which one ran.
  Script script("");
  const std::string bin = script.File("bin");
  std::filesystem::create_directories(bin);
  std::ofstream(bin + "/python3") << "#!/bin/sh\n"
                                  << "echo 'Traceback (most recent call last):' >&2\n"
                                  << "echo \"ModuleNotFoundError: No module named 'numpy'\" >&2\n"
                                  << "exit 1\n";
  ASSERT_EQ(chmod((bin + "/python3").c_str(), 0755), 0);
  const ScopedPath path(bin + ":" + std::getenv("PATH"));
  v1::AcquireTrialResponse a = script.Assignment();
  a.mutable_task()->mutable_command()->set_argv(0, "python3");
  a.mutable_task()->mutable_command()->set_argv(1, "examples/train_mlp.py");
  const CommandRun run(a);
  ASSERT_EQ(run.outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(run.outcome.error, bin + "/python3 train_mlp.py exited with status 1; stderr: Traceback (most " +
                                   "recent call last): | ModuleNotFoundError: No module named 'numpy'");

  // A relative argv[0] is named from the root: the worker's working directory before it.
  const std::string relative =
      std::filesystem::relative(bin + "/python3", std::filesystem::current_path()).string();
  a.mutable_task()->mutable_command()->set_argv(0, "./" + relative);
  const CommandRun by_path(a);
  ASSERT_EQ(by_path.outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(by_path.outcome.error.rfind(std::filesystem::current_path().string() + "/" + relative +
                                            " train_mlp.py exited with status 1",
                                        0),
            0u)
      << by_path.outcome.error;
}

TEST(CommandTaskTest, RelativePathsResolveAgainstTheWorkersWorkingDirectory) {
  Script script("echo '{\"accuracy\": 0.25}'");
  v1::AcquireTrialResponse a = script.Assignment();
  const std::string relative =
      std::filesystem::relative(script.File("train.sh"), std::filesystem::current_path()).string();
  a.mutable_task()->mutable_command()->set_argv(1, relative);
  const CommandRun run(a);
  ASSERT_EQ(run.outcome.kind, TrialOutcome::Kind::kCompleted) << run.outcome.error;
  EXPECT_EQ(run.outcome.metrics.metrics.at("accuracy"), 0.25);
}

TEST(CommandTaskTest, StopKillsTheProgram) {
  Script script("echo '{\"step\": 1}'; sleep 30; echo '{\"accuracy\": 1}'");
  RunnerOptions options;
  options.kill_grace = milliseconds(200);
  TrialRunner runner(options);
  std::thread stopper([&] {
    std::this_thread::sleep_for(milliseconds(300));
    runner.Stop();
  });
  const auto start = std::chrono::steady_clock::now();
  const TrialOutcome outcome = runner.Run(script.Assignment(60));
  stopper.join();
  EXPECT_EQ(outcome.kind, TrialOutcome::Kind::kStopped) << outcome.error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(CommandTaskTest, ABackgroundChildOfACommandThatSucceedsIsKilledAndReported) {
  Script script(
      "sleep 60 & echo $! > background.pid\n"
      "echo '{\"accuracy\": 0.5}'");
  const CommandRun run(script.Assignment());
  ASSERT_EQ(run.outcome.kind, TrialOutcome::Kind::kCompleted) << run.outcome.error;
  EXPECT_DOUBLE_EQ(run.outcome.metrics.metrics.at("accuracy"), 0.5);
  EXPECT_LT(run.seconds, 5.0);
  const pid_t background = std::stoi(ReadFile(script.File("background.pid")));
  // It is named "sleep", or "sh" when the background shell had not yet exec'd sleep.
  const std::string warning = run.outcome.warning;
  const std::string head = Sh() + " left 1 process running when it ended (";
  const std::string tail = " (" + std::to_string(background) + ")); killed";
  EXPECT_EQ(warning.substr(0, head.size()), head) << warning;
  ASSERT_GE(warning.size(), tail.size());
  EXPECT_EQ(warning.substr(warning.size() - tail.size()), tail) << warning;
  EXPECT_TRUE(EndsWithin(background, milliseconds(2000))) << "the background sleep outlived the trial";
}

TEST(CommandTaskTest, AFailedCommandsStragglersAreNamedInItsError) {
  Script script(
      "sleep 60 & echo $! > background.pid\n"
      "sleep 60 &\n"
      "exit 4");
  const CommandRun run(script.Assignment());
  ASSERT_EQ(run.outcome.kind, TrialOutcome::Kind::kFailed);
  const pid_t background = std::stoi(ReadFile(script.File("background.pid")));
  EXPECT_EQ(run.outcome.error.rfind(
                Sh() + " exited with status 4; " + Sh() + " left 2 processes running when it ended (", 0),
            0u)
      << run.outcome.error;
  EXPECT_NE(run.outcome.error.find(" (" + std::to_string(background) + ")"), std::string::npos)
      << run.outcome.error;
  EXPECT_EQ(run.outcome.error.substr(run.outcome.error.size() - 8), "; killed");
  EXPECT_TRUE(EndsWithin(background, milliseconds(2000)));
}

TEST(CommandTaskTest, AStoppedCommandLeavesNoStragglerWarning) {
  Script script("sleep 60 & sleep 60");
  RunnerOptions options;
  options.kill_grace = milliseconds(200);
  TrialRunner runner(options);
  std::thread stopper([&runner] {
    std::this_thread::sleep_for(milliseconds(200));
    runner.Stop();
  });
  const TrialOutcome outcome = runner.Run(script.Assignment());
  stopper.join();
  EXPECT_EQ(outcome.kind, TrialOutcome::Kind::kStopped);
  EXPECT_EQ(outcome.warning, "");
}

// A metrics line of `bytes` bytes printed by the shell: {"accuracy":0.5,"pad":"xx...x"}.
std::string PrintLineOfSize(size_t bytes) {
  return "printf '{\"accuracy\":0.5,\"pad\":\"'\n"
         "head -c " +
         std::to_string(bytes - 25) +
         " /dev/zero | tr '\\000' x\n"
         "printf '\"}\\n'";
}

TEST(CommandTaskTest, AMetricsLineTooLargeFailsTheTrialAtOnceSayingSo) {
  Script script(PrintLineOfSize(2'000'000));
  const CommandRun run(script.Assignment());
  ASSERT_EQ(run.outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(run.outcome.error, Sh() + " printed bad metrics: metrics line too large (2000000 bytes, limit " +
                                   std::to_string(kMaxMetricsLineBytes) + ")");
}

TEST(CommandTaskTest, AMetricsLineLongerThanTheCapturedOutputIsTooLargeToo) {
  // 12 MB: more than the 8 MiB of stdout kept, so the line is never seen whole.
  Script script(PrintLineOfSize(12'000'000));
  const CommandRun run(script.Assignment());
  ASSERT_EQ(run.outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(run.outcome.error, Sh() + " printed bad metrics: metrics line too large (12000000 bytes, limit " +
                                   std::to_string(kMaxMetricsLineBytes) + ")");
}

TEST(CommandTaskTest, AnExternalTaskIsNotAWorkersToRun) {
  v1::AcquireTrialResponse a;
  a.mutable_task()->mutable_external();
  TrialRunner runner{RunnerOptions()};
  const TrialOutcome outcome = runner.Run(a);
  EXPECT_EQ(outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_NE(outcome.error.find("evaluated by the client"), std::string::npos) << outcome.error;
}

}  // namespace
}  // namespace hpo::worker
