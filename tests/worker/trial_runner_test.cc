#include "worker/trial_runner.h"

#include <google/protobuf/struct.pb.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include "tests/testing/spec_builders.h"

namespace hpo::worker {
namespace {

using std::chrono::milliseconds;

v1::ParamValue Double(double v) { return testing::DoubleValue(v); }
v1::ParamValue Int(int64_t v) { return testing::IntValue(v); }
v1::ParamValue String(const std::string& v) { return testing::StringValue(v); }

// ---- argv ----

TEST(BuildTrainArgsTest, ParamsThenFixedThenWorkerFlags) {
  v1::Trial trial;
  trial.set_seed(42);
  (*trial.mutable_params())["lr"] = Double(0.001);
  (*trial.mutable_params())["batch_size"] = Int(64);
  (*trial.mutable_params())["activation"] = String("relu");
  (*trial.mutable_params())["dropout"] = Double(0.1 + 0.2);
  (*trial.mutable_params())["width"] = Double(3.0);
  (*trial.mutable_params())["wd"] = Double(1e-5);
  (*trial.mutable_params())["shift"] = Int(-3);
  v1::BuiltinTask task;
  auto& fixed = *task.mutable_fixed()->mutable_fields();
  fixed["epochs"].set_number_value(1);
  fixed["momentum"].set_number_value(0.9);
  fixed["optimizer"].set_string_value("adamw");
  fixed["amp"].set_bool_value(true);
  fixed["bias"].set_number_value(-4.0);
  fixed["huge"].set_number_value(1e20);
  task.set_train_limit(1000);
  RunnerOptions options;
  options.threads = 4;
  options.data_dir = "/data/fashion mnist";

  const Result<std::vector<std::string>> args = BuildTrainArgs(trial, task, options);
  ASSERT_TRUE(args.ok()) << args.status().ToString();
  const std::vector<std::string> expected = {"--activation=relu",
                                             "--batch_size=64",
                                             "--dropout=0.30000000000000004",
                                             "--lr=0.001",
                                             "--shift=-3",
                                             "--wd=1e-05",
                                             "--width=3",
                                             "--amp=true",
                                             "--bias=-4",
                                             "--epochs=1",
                                             "--huge=1e+20",
                                             "--momentum=0.9",
                                             "--optimizer=adamw",
                                             "--seed=42",
                                             "--train-limit=1000",
                                             "--threads=4",
                                             "--data-dir=/data/fashion mnist"};
  EXPECT_EQ(*args, expected);
}

TEST(BuildTrainArgsTest, UsersOwnDataBecomesTheTrainersDataFlags) {
  v1::Trial trial;
  trial.set_seed(3);
  v1::BuiltinTask task;
  v1::NpyData& npy = *task.mutable_npy();
  npy.set_train_images("/data/x train.npy");
  npy.set_train_labels("/data/y.npy");
  npy.set_layout("nchw");
  npy.set_validation_fraction(0.2);
  Result<std::vector<std::string>> args = BuildTrainArgs(trial, task, RunnerOptions());
  ASSERT_TRUE(args.ok()) << args.status().ToString();
  EXPECT_EQ(*args, (std::vector<std::string>{"--seed=3", "--train-images=/data/x train.npy",
                                             "--train-labels=/data/y.npy", "--image-layout=nchw",
                                             "--validation-fraction=0.2", "--threads=1"}));
  npy.set_test_images("/data/tx.npy");
  npy.set_test_labels("/data/ty.npy");
  npy.clear_layout();
  npy.set_validation_fraction(0);
  args = BuildTrainArgs(trial, task, RunnerOptions());
  ASSERT_TRUE(args.ok()) << args.status().ToString();
  EXPECT_EQ(*args, (std::vector<std::string>{"--seed=3", "--train-images=/data/x train.npy",
                                             "--train-labels=/data/y.npy", "--test-images=/data/tx.npy",
                                             "--test-labels=/data/ty.npy", "--threads=1"}));
}

TEST(BuildTrainArgsTest, IdxFilesAndTextBecomeTheTrainersDataFlags) {
  v1::Trial trial;
  trial.set_seed(5);
  v1::BuiltinTask task;
  v1::IdxData& idx = *task.mutable_idx();
  idx.set_train_images("/data/train-images-idx3-ubyte.gz");
  idx.set_train_labels("/data/train-labels-idx1-ubyte.gz");
  idx.set_test_images("/data/t10k-images-idx3-ubyte.gz");
  idx.set_test_labels("/data/t10k-labels-idx1-ubyte.gz");
  idx.set_validation_fraction(0.125);
  Result<std::vector<std::string>> args = BuildTrainArgs(trial, task, RunnerOptions());
  ASSERT_TRUE(args.ok()) << args.status().ToString();
  EXPECT_EQ(*args, (std::vector<std::string>{"--seed=5", "--train-images=/data/train-images-idx3-ubyte.gz",
                                             "--train-labels=/data/train-labels-idx1-ubyte.gz",
                                             "--test-images=/data/t10k-images-idx3-ubyte.gz",
                                             "--test-labels=/data/t10k-labels-idx1-ubyte.gz",
                                             "--validation-fraction=0.125", "--threads=1"}));

  task.Clear();
  v1::TextData& text = *task.mutable_text();
  text.set_path("/usr/include/sqlite3.h");
  text.set_test_fraction(0.05);
  task.set_train_limit(100000);
  RunnerOptions options;
  options.data_dir = "/srv/fmnist";
  args = BuildTrainArgs(trial, task, options);
  ASSERT_TRUE(args.ok()) << args.status().ToString();
  EXPECT_EQ(*args, (std::vector<std::string>{"--seed=5", "--train-limit=100000",
                                             "--text-file=/usr/include/sqlite3.h", "--test-fraction=0.05",
                                             "--threads=1", "--data-dir=/srv/fmnist"}));
  // A fixed value of the same name wins, as for every default.
  (*task.mutable_fixed()->mutable_fields())["text-file"].set_string_value("/other.txt");
  args = BuildTrainArgs(trial, task, options);
  ASSERT_TRUE(args.ok()) << args.status().ToString();
  EXPECT_EQ(std::count(args->begin(), args->end(), "--text-file=/other.txt"), 1);
  EXPECT_EQ(std::count(args->begin(), args->end(), "--text-file=/usr/include/sqlite3.h"), 0);
}

TEST(BuildTrainArgsTest, DoublesRoundTrip) {
  v1::BuiltinTask task;
  for (const double v : {0.1, 1.0 / 3.0, 6.02214076e23, 5e-324, -0.0009765625, 123456789.125}) {
    v1::Trial trial;
    (*trial.mutable_params())["v"] = Double(v);
    const Result<std::vector<std::string>> args = BuildTrainArgs(trial, task, RunnerOptions());
    ASSERT_TRUE(args.ok());
    const std::string& flag = args->front();
    ASSERT_EQ(flag.rfind("--v=", 0), 0u);
    EXPECT_EQ(std::strtod(flag.c_str() + 4, nullptr), v) << flag;
  }
}

TEST(BuildTrainArgsTest, MinimalTrialGetsSeedAndThreads) {
  v1::Trial trial;
  trial.set_seed(18446744073709551615ull);
  const Result<std::vector<std::string>> args = BuildTrainArgs(trial, v1::BuiltinTask(), RunnerOptions());
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(*args, (std::vector<std::string>{"--seed=18446744073709551615", "--threads=1"}));
}

TEST(BuildTrainArgsTest, GivenSeedIsNotOverridden) {
  v1::Trial trial;
  trial.set_seed(7);
  (*trial.mutable_params())["seed"] = Int(3);
  Result<std::vector<std::string>> args = BuildTrainArgs(trial, v1::BuiltinTask(), RunnerOptions());
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(*args, (std::vector<std::string>{"--seed=3", "--threads=1"}));

  v1::Trial plain;
  plain.set_seed(7);
  v1::BuiltinTask task;
  (*task.mutable_fixed()->mutable_fields())["seed"].set_number_value(11);
  (*task.mutable_fixed()->mutable_fields())["threads"].set_number_value(2);
  args = BuildTrainArgs(plain, task, RunnerOptions());
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(*args, (std::vector<std::string>{"--seed=11", "--threads=2"}));
}

TEST(BuildTrainArgsTest, SearchedValueWinsOverFixed) {
  v1::Trial trial;
  (*trial.mutable_params())["epochs"] = Int(3);
  v1::BuiltinTask task;
  (*task.mutable_fixed()->mutable_fields())["epochs"].set_number_value(1);
  const Result<std::vector<std::string>> args = BuildTrainArgs(trial, task, RunnerOptions());
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(*args, (std::vector<std::string>{"--epochs=3", "--seed=0", "--threads=1"}));
}

TEST(BuildTrainArgsTest, RejectsBadValuesNamingThem) {
  {
    v1::Trial trial;
    (*trial.mutable_params())["lr"] = Double(std::numeric_limits<double>::quiet_NaN());
    const Status s = BuildTrainArgs(trial, v1::BuiltinTask(), RunnerOptions()).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("lr"), std::string::npos) << s.message();
  }
  {
    v1::Trial trial;
    (*trial.mutable_params())["unset"] = v1::ParamValue();
    const Status s = BuildTrainArgs(trial, v1::BuiltinTask(), RunnerOptions()).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("unset"), std::string::npos) << s.message();
  }
  {
    v1::Trial trial;
    (*trial.mutable_params())["a=b"] = Int(1);
    EXPECT_EQ(BuildTrainArgs(trial, v1::BuiltinTask(), RunnerOptions()).status().code(),
              StatusCode::kInvalidArgument);
  }
  for (int kind = 0; kind < 3; ++kind) {
    v1::BuiltinTask task;
    google::protobuf::Value& v = (*task.mutable_fixed()->mutable_fields())["layers"];
    if (kind == 0) v.set_null_value(google::protobuf::NULL_VALUE);
    if (kind == 1) v.mutable_list_value()->add_values()->set_number_value(1);
    if (kind == 2) v.mutable_struct_value();
    const Status s = BuildTrainArgs(v1::Trial(), task, RunnerOptions()).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("layers"), std::string::npos) << s.message();
  }
}

// ---- synthetic ----

v1::Trial ZdtTrial(const std::vector<double>& x) {
  v1::Trial trial;
  for (size_t i = 0; i < x.size(); ++i) {
    std::string name = "x";
    name += std::to_string(i + 1);
    (*trial.mutable_params())[name] = Double(x[i]);
  }
  return trial;
}

TEST(EvaluateSyntheticTest, Zdt1TextbookValues) {
  v1::SyntheticTask task;
  task.set_function("zdt1");
  task.set_dims(3);
  // On the front (g = 1): f2 = 1 - sqrt(f1).
  Result<TrialMetrics> m = EvaluateSynthetic(ZdtTrial({0.25, 0.0, 0.0}), task);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->device, "synthetic");
  ASSERT_EQ(m->metrics.size(), 2u);
  EXPECT_DOUBLE_EQ(m->metrics.at("f1"), 0.25);
  EXPECT_DOUBLE_EQ(m->metrics.at("f2"), 0.5);
  // Off the front: g = 1 + 9 * mean(x2..xn) = 5.5, f2 = g * (1 - sqrt(f1 / g)).
  m = EvaluateSynthetic(ZdtTrial({0.25, 0.5, 0.5}), task);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_DOUBLE_EQ(m->metrics.at("f1"), 0.25);
  EXPECT_DOUBLE_EQ(m->metrics.at("f2"), 5.5 * (1.0 - std::sqrt(0.25 / 5.5)));
}

TEST(EvaluateSyntheticTest, IntValuesAndUsualDims) {
  v1::SyntheticTask task;
  task.set_function("zdt1");  // dims 0: 30 variables
  std::vector<double> x(30, 0.0);
  v1::Trial trial = ZdtTrial(x);
  (*trial.mutable_params())["x1"] = Int(1);
  const Result<TrialMetrics> m = EvaluateSynthetic(trial, task);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_DOUBLE_EQ(m->metrics.at("f1"), 1.0);
  EXPECT_DOUBLE_EQ(m->metrics.at("f2"), 0.0);
}

TEST(EvaluateSyntheticTest, BadParamsAreRejectedClearly) {
  v1::SyntheticTask task;
  task.set_function("zdt1");
  task.set_dims(3);
  auto message = [&](const v1::Trial& trial) {
    const Result<TrialMetrics> m = EvaluateSynthetic(trial, task);
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
    return m.status().message();
  };
  EXPECT_NE(message(ZdtTrial({0.5, 0.5})).find("missing parameter x3"), std::string::npos);
  EXPECT_NE(message(ZdtTrial({1.5, 0.5, 0.5})).find("x1 = 1.5 outside [0, 1]"), std::string::npos);
  v1::Trial extra = ZdtTrial({0.5, 0.5, 0.5});
  (*extra.mutable_params())["x0"] = Double(0.5);
  EXPECT_NE(message(extra).find("unexpected parameter x0"), std::string::npos);
  v1::Trial text = ZdtTrial({0.5, 0.5, 0.5});
  (*text.mutable_params())["x2"] = String("0.5");
  EXPECT_NE(message(text).find("x2 is not a number"), std::string::npos);
  task.set_function("nope");
  EXPECT_NE(message(ZdtTrial({0.5, 0.5, 0.5})).find("unknown problem"), std::string::npos);
}

// ---- TrialRunner on a fake trainer ----

// A temporary directory holding a shell script called hpo-train.
class FakeTrainer {
 public:
  explicit FakeTrainer(const std::string& body) {
    char dir[] = "/tmp/hpo_worker_test_XXXXXX";
    EXPECT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/hpo-train";
    std::ofstream(path_) << "#!/bin/sh\n" << body << "\n";
    chmod(path_.c_str(), 0755);
  }
  ~FakeTrainer() { std::filesystem::remove_all(dir_); }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

v1::AcquireTrialResponse BuiltinAssignment() {
  v1::AcquireTrialResponse a;
  a.mutable_trial()->set_id(12);
  a.mutable_trial()->set_seed(5);
  (*a.mutable_trial()->mutable_params())["lr"] = Double(0.01);
  (*a.mutable_task()->mutable_builtin()->mutable_fixed()->mutable_fields())["epochs"].set_number_value(2);
  a.mutable_lease()->set_token("tok");
  v1::Objective* o = a.add_objectives();
  o->set_name("accuracy");
  o->set_direction(v1::MAXIMIZE);
  return a;
}

TrialOutcome RunWith(const std::string& script,
                     const v1::AcquireTrialResponse& assignment = BuiltinAssignment()) {
  FakeTrainer trainer(script);
  RunnerOptions options;
  options.train_binary = trainer.path();
  options.threads = 3;
  TrialRunner runner(options);
  return runner.Run(assignment);
}

TEST(TrialRunnerTest, CompletesWithTheLastMetricsLine) {
  // The device echoes the argv the trainer was given.
  const TrialOutcome outcome = RunWith(
      "echo 'loading'; echo '{\"accuracy\": 0.1}'; echo 'progress' >&2\n"
      "echo \"{\\\"accuracy\\\": 0.85, \\\"latency_ms\\\": 0.05, \\\"device\\\": \\\"$*\\\"}\"");
  ASSERT_EQ(outcome.kind, TrialOutcome::Kind::kCompleted) << outcome.error;
  EXPECT_EQ(outcome.metrics.device, "--lr=0.01 --epochs=2 --seed=5 --threads=3");
  ASSERT_EQ(outcome.metrics.metrics.size(), 2u);
  EXPECT_DOUBLE_EQ(outcome.metrics.metrics.at("accuracy"), 0.85);
  EXPECT_DOUBLE_EQ(outcome.metrics.metrics.at("latency_ms"), 0.05);
  EXPECT_GT(outcome.elapsed_s, 0.0);
}

TEST(TrialRunnerTest, TrainerErrorIsItsLastStderrLine) {
  const TrialOutcome outcome =
      RunWith("echo 'epoch 1' >&2; echo 'hpo-train: unknown knob --lr' >&2; echo '' >&2; exit 1");
  EXPECT_EQ(outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(outcome.error, "hpo-train: unknown knob --lr");
}

TEST(TrialRunnerTest, LongStderrLineIsTrimmed) {
  const TrialOutcome outcome = RunWith("head -c 5000 /dev/zero | tr '\\000' x >&2; exit 1");
  EXPECT_EQ(outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(outcome.error.size(), 500u);
  EXPECT_EQ(outcome.error.substr(497), "...");
}

TEST(TrialRunnerTest, SilentFailureGivesTheExitStatus) {
  const TrialOutcome outcome = RunWith("exit 7");
  EXPECT_EQ(outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(outcome.error, "hpo-train exited with status 7");
}

TEST(TrialRunnerTest, DeathBySignalIsReported) {
  const TrialOutcome outcome = RunWith("echo 'allocating' >&2; kill -KILL $$");
  EXPECT_EQ(outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(outcome.error.rfind("hpo-train killed by signal 9", 0), 0u) << outcome.error;
  EXPECT_NE(outcome.error.find("allocating"), std::string::npos) << outcome.error;
}

TEST(TrialRunnerTest, NoMetricsLineFails) {
  const TrialOutcome outcome = RunWith("echo 'all good'");
  EXPECT_EQ(outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(outcome.error, "hpo-train printed no metrics");
}

TEST(TrialRunnerTest, BadMetricsLineFails) {
  const TrialOutcome outcome = RunWith("echo '{\"accuracy\": nan}'");
  EXPECT_EQ(outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(outcome.error.rfind("hpo-train printed bad metrics", 0), 0u) << outcome.error;
}

TEST(TrialRunnerTest, MissingObjectiveFails) {
  const TrialOutcome outcome = RunWith("echo '{\"loss\": 0.3}'");
  EXPECT_EQ(outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_EQ(outcome.error, "hpo-train reported no metric \"accuracy\" (reported: loss)");
}

TEST(TrialRunnerTest, MissingTrainerFails) {
  RunnerOptions options;
  options.train_binary = "/nonexistent/hpo-train";
  TrialRunner runner(options);
  const TrialOutcome outcome = runner.Run(BuiltinAssignment());
  EXPECT_EQ(outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_NE(outcome.error.find("cannot start /nonexistent/hpo-train"), std::string::npos) << outcome.error;
}

TEST(TrialRunnerTest, StopKillsTheTrainer) {
  FakeTrainer trainer("sleep 30");
  RunnerOptions options;
  options.train_binary = trainer.path();
  options.kill_grace = milliseconds(2000);
  TrialRunner runner(options);
  std::thread stopper([&runner] {
    std::this_thread::sleep_for(milliseconds(200));
    runner.Stop();
  });
  const auto start = std::chrono::steady_clock::now();
  const TrialOutcome outcome = runner.Run(BuiltinAssignment());
  stopper.join();
  EXPECT_EQ(outcome.kind, TrialOutcome::Kind::kStopped);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(TrialRunnerTest, TrainerProgressLinesArePassedOnAndNeverTheResult) {
  FakeTrainer trainer(
      "echo '{\"step\": 1, \"accuracy\": 0.5, \"latency_ms\": 0.25}'; echo 'epoch 1' >&2\n"
      "echo '{\"step\": 2, \"accuracy\": 0.625}'\n"
      "echo '{\"accuracy\": 0.625, \"latency_ms\": 0.25}'\n"
      "echo '{\"step\": 3, \"accuracy\": 0.1}'");
  RunnerOptions options;
  options.train_binary = trainer.path();
  std::vector<ProgressLine> lines;
  options.on_progress = [&lines](const ProgressLine& line) { lines.push_back(line); };
  TrialRunner runner(options);
  const TrialOutcome outcome = runner.Run(BuiltinAssignment());
  ASSERT_EQ(outcome.kind, TrialOutcome::Kind::kCompleted) << outcome.error;
  // The metrics line, not the progress line printed after it.
  EXPECT_EQ(outcome.metrics.metrics,
            (std::map<std::string, double>{{"accuracy", 0.625}, {"latency_ms", 0.25}}));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].step, 1u);
  EXPECT_EQ(lines[0].metrics, (std::map<std::string, double>{{"accuracy", 0.5}, {"latency_ms", 0.25}}));
  EXPECT_EQ(lines[1].step, 2u);
  EXPECT_EQ(lines[1].metrics, (std::map<std::string, double>{{"accuracy", 0.625}}));
  EXPECT_EQ(lines[2].step, 3u);
}

TEST(TrialRunnerTest, StopWithAShortGraceKillsATrainerThatIgnoresSigterm) {
  FakeTrainer trainer("trap '' TERM; while true; do sleep 0.05; done");
  RunnerOptions options;
  options.train_binary = trainer.path();
  options.kill_grace = milliseconds(30'000);  // not this one
  TrialRunner runner(options);
  std::thread stopper([&runner] {
    std::this_thread::sleep_for(milliseconds(200));
    runner.Stop(milliseconds(5'000));
    runner.Stop(milliseconds(100));  // only shortens
    runner.Stop(milliseconds(20'000));
  });
  const auto start = std::chrono::steady_clock::now();
  const TrialOutcome outcome = runner.Run(BuiltinAssignment());
  const auto took = std::chrono::steady_clock::now() - start;
  stopper.join();
  EXPECT_EQ(outcome.kind, TrialOutcome::Kind::kStopped);
  // 200 ms to the stop, 100 ms of grace, and the 50 ms polls of the child's pipes.
  EXPECT_LT(took, milliseconds(1'000));
}

TEST(TrialRunnerTest, StopBeforeRunStartsNothing) {
  RunnerOptions options;
  options.train_binary = "/nonexistent/hpo-train";
  TrialRunner runner(options);
  runner.Stop();
  EXPECT_EQ(runner.Run(BuiltinAssignment()).kind, TrialOutcome::Kind::kStopped);
}

// Runs `script` as the trainer and calls Stop() `stop_after` into the run.
TrialOutcome RunAndStop(const std::string& script, milliseconds stop_after) {
  FakeTrainer trainer(script);
  RunnerOptions options;
  options.train_binary = trainer.path();
  options.kill_grace = milliseconds(2000);
  TrialRunner runner(options);
  std::thread stopper([&runner, stop_after] {
    std::this_thread::sleep_for(stop_after);
    runner.Stop();
  });
  TrialOutcome outcome = runner.Run(BuiltinAssignment());
  stopper.join();
  return outcome;
}

TEST(TrialRunnerTest, StopAfterTheTrainerExitedKeepsTheResult) {
  // The trainer exits at once; a grandchild holds its output open for 1 s, so Run() is still reading
  // (the child reaped) when Stop() comes.
  const TrialOutcome outcome = RunAndStop("echo '{\"accuracy\": 0.9}'; sleep 1 &", milliseconds(250));
  ASSERT_EQ(outcome.kind, TrialOutcome::Kind::kCompleted) << outcome.error;
  EXPECT_DOUBLE_EQ(outcome.metrics.metrics.at("accuracy"), 0.9);
}

TEST(TrialRunnerTest, TrainerThatFinishesOnSigtermKeepsItsResult) {
  const TrialOutcome outcome =
      RunAndStop("trap 'echo \"{\\\"accuracy\\\": 0.7}\"; exit 0' TERM; sleep 30 & wait", milliseconds(250));
  ASSERT_EQ(outcome.kind, TrialOutcome::Kind::kCompleted) << outcome.error;
  EXPECT_DOUBLE_EQ(outcome.metrics.metrics.at("accuracy"), 0.7);
}

TEST(TrialRunnerTest, TrainerThatExitsQuietlyOnSigtermIsStopped) {
  const TrialOutcome outcome = RunAndStop("trap 'exit 0' TERM; sleep 30 & wait", milliseconds(250));
  EXPECT_EQ(outcome.kind, TrialOutcome::Kind::kStopped) << outcome.error;
}

TEST(TrialRunnerTest, StopBeforeASyntheticRunStartsNothing) {
  v1::AcquireTrialResponse a;
  a.mutable_task()->mutable_synthetic()->set_function("zdt1");
  a.mutable_task()->mutable_synthetic()->set_dims(2);
  *a.mutable_trial() = ZdtTrial({0.36, 0.0});
  a.add_objectives()->set_name("f1");
  TrialRunner runner{RunnerOptions()};
  runner.Stop();
  EXPECT_EQ(runner.Run(a).kind, TrialOutcome::Kind::kStopped);
}

TEST(TrialRunnerTest, SyntheticTaskRunsInProcess) {
  v1::AcquireTrialResponse a;
  a.mutable_task()->mutable_synthetic()->set_function("zdt1");
  a.mutable_task()->mutable_synthetic()->set_dims(2);
  *a.mutable_trial() = ZdtTrial({0.36, 0.0});
  a.add_objectives()->set_name("f1");
  a.add_objectives()->set_name("f2");
  TrialRunner runner{RunnerOptions()};
  const TrialOutcome outcome = runner.Run(a);
  ASSERT_EQ(outcome.kind, TrialOutcome::Kind::kCompleted) << outcome.error;
  EXPECT_EQ(outcome.metrics.device, "synthetic");
  EXPECT_DOUBLE_EQ(outcome.metrics.metrics.at("f1"), 0.36);
  EXPECT_DOUBLE_EQ(outcome.metrics.metrics.at("f2"), 0.4);

  (*a.mutable_trial()->mutable_params())["x2"] = Double(-1.0);
  TrialRunner bad{RunnerOptions()};
  const TrialOutcome failed = bad.Run(a);
  EXPECT_EQ(failed.kind, TrialOutcome::Kind::kFailed);
  EXPECT_NE(failed.error.find("x2"), std::string::npos) << failed.error;
}

TEST(TrialRunnerTest, TasklessTrialFails) {
  TrialRunner runner{RunnerOptions()};
  const TrialOutcome outcome = runner.Run(v1::AcquireTrialResponse());
  EXPECT_EQ(outcome.kind, TrialOutcome::Kind::kFailed);
  EXPECT_FALSE(outcome.error.empty());
}

}  // namespace
}  // namespace hpo::worker
