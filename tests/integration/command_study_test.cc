// Integration: a whole study of a command task through the real daemons. hpo-coordinator on a fresh
// database and two hpo-worker processes started in the source tree (so that the study's relative
// "examples/train_mlp.py" resolves as the README says), one labelled pool=mlp and one not. The study is
// examples/command-mlp.json, run by the interpreter it names, with a small budget and training subset and
// a worker_selector for the labelled worker. Every trial must complete on that worker with the validation
// accuracy (the objective; the test accuracy only beside it) and latency from the script's last line, its
// per-epoch progress stored, and the unlabelled worker must have run nothing. A command that fails names
// the full path of the executable that ran in its trial's error.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "hpo/v1/service.grpc.pb.h"
#include "tests/fault/process.h"
#include "tests/testing/sqlite_rows.h"

namespace hpo {
namespace {

using namespace std::chrono_literals;
using fault::Process;
using fault::ReadFile;
using fault::WaitFor;

constexpr int kTrials = 4;
constexpr int kEpochs = 2;

// Whether `python` imports numpy.
bool ImportsNumpy(const std::string& python) {
  const std::string probe = "'" + python + "' -c 'import numpy' >/dev/null 2>&1";
  return std::system(probe.c_str()) == 0;
}

// The file the shell finds for `name` on this process's PATH (`command -v`), which the workers inherit;
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

// The id of the worker registered under `name`, read from the database; 0 when there is none.
uint64_t WorkerId(const std::string& db_path, const std::string& name) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return 0;
  sqlite3_stmt* stmt = nullptr;
  uint64_t id = 0;
  if (sqlite3_prepare_v2(db, "SELECT id FROM workers WHERE name = ?", -1, &stmt, nullptr) == SQLITE_OK) {
    sqlite3_bind_text(stmt, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(stmt) == SQLITE_ROW) id = static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return id;
}

class CommandStudyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("hpo_command_study_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    for (auto& p : processes_) {
      if (p->running()) p->Signal(SIGTERM);
    }
    for (auto& p : processes_) (void)p->Wait(10s);
    processes_.clear();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  std::string File(const std::string& name) const { return (dir_ / name).string(); }

  Process* Start(const std::vector<std::string>& argv, const std::string& log) {
    processes_.push_back(std::make_unique<Process>(argv, File(log)));
    EXPECT_TRUE(processes_.back()->running()) << processes_.back()->error();
    return processes_.back().get();
  }

  // hpo-worker named `name`, run from the source tree with `labels` (--label each).
  void StartWorker(const std::string& name, const std::vector<std::string>& labels) {
    std::string command = "cd '" HPO_SOURCE_DIR "' && exec '" HPO_BIN_DIR "/hpo-worker' --coordinator " +
                          address_ + " --name " + name + " --slots 2 --wait-ms 500";
    for (const std::string& label : labels) command += " --label " + label;
    Start({"/bin/sh", "-c", command}, name + ".log");
  }

  // hpo-coordinator on the database `db`, on a free port that becomes address_.
  void StartCoordinator(const std::string& db) {
    Start({HPO_BIN_DIR "/hpo-coordinator", "--listen", "127.0.0.1:0", "--port-file", File("port"), "--db", db,
           "--heartbeat-ms", "500"},
          "coordinator.log");
    ASSERT_TRUE(WaitFor([&] { return !ReadFile(File("port")).empty(); }, 15s)) << Logs();
    address_ = "127.0.0.1:" + ReadFile(File("port"));
    while (!address_.empty() && (address_.back() == '\n' || address_.back() == ' ')) address_.pop_back();
  }

  // Polls `study` until it is no longer running (true) or `limit` passes (false).
  static bool WaitForEnd(v1::StudyService::Stub& studies, v1::Study& study, std::chrono::seconds limit) {
    return WaitFor(
        [&] {
          grpc::ClientContext context;
          v1::GetStudyRequest request;
          request.set_study_id(study.id());
          return studies.GetStudy(&context, request, &study).ok() && study.state() != v1::STUDY_RUNNING;
        },
        limit);
  }

  std::string Logs() const {
    std::string all;
    for (const char* log : {"coordinator.log", "labelled.log", "unlabelled.log"}) {
      all += std::string("== ") + log + "\n" + ReadFile(File(log));
    }
    return all;
  }

  std::filesystem::path dir_;
  std::string address_;
  std::vector<std::unique_ptr<Process>> processes_;
};

TEST_F(CommandStudyTest, TrainMlpStudyCompletesOnTheSelectedWorkerWithProgress) {
  ASSERT_TRUE(std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))
      << "needs Fashion-MNIST (dataset-fashion-mnist)";

  const std::string db = File("hpo.db");
  ASSERT_NO_FATAL_FAILURE(StartCoordinator(db));
  StartWorker("labelled", {"pool=mlp", "team=vision"});
  StartWorker("unlabelled", {});
  ASSERT_TRUE(WaitFor([&] { return WorkerId(db, "labelled") != 0 && WorkerId(db, "unlabelled") != 0; }, 15s))
      << Logs();
  const uint64_t labelled = WorkerId(db, "labelled");
  const uint64_t unlabelled = WorkerId(db, "unlabelled");

  // The example study, smaller: 4 trials of 2 epochs on 3000 images, for workers in pool=mlp only.
  v1::CreateStudyRequest create;
  const std::string json = ReadFile(HPO_SOURCE_DIR "/examples/command-mlp.json");
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, create.mutable_spec()).ok()) << json;
  v1::StudySpec& spec = *create.mutable_spec();
  spec.mutable_budget()->set_max_trials(kTrials);
  spec.mutable_budget()->set_max_parallel(2);
  // It optimises the validation accuracy, never the test accuracy.
  ASSERT_EQ(spec.objectives_size(), 2);
  EXPECT_EQ(spec.objectives(0).name(), "val_accuracy");
  EXPECT_EQ(spec.objectives(0).direction(), v1::MAXIMIZE);
  EXPECT_EQ(spec.objectives(1).name(), "latency_ms");
  v1::CommandTask& task = *spec.mutable_task()->mutable_command();
  // It names the interpreter it needs (a python3 earlier on a PATH may lack numpy).
  const std::string python = task.argv(0);
  ASSERT_EQ(python, "/usr/bin/python3");
  ASSERT_TRUE(ImportsNumpy(python)) << python << " cannot import numpy (deploy/install-deps.sh installs "
                                    << "python3-numpy)";
  ASSERT_EQ(task.argv(1), "examples/train_mlp.py");  // relative: the worker runs in the source tree
  task.clear_argv();
  for (const std::string& arg :
       {python, std::string("examples/train_mlp.py"), "--epochs=" + std::to_string(kEpochs),
        std::string("--train-limit=3000"), std::string("--test-limit=2000")}) {
    task.add_argv(arg);
  }
  task.set_timeout_s(120);
  (*spec.mutable_worker_selector())["pool"] = "mlp";

  auto channel = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  auto studies = v1::StudyService::NewStub(channel);
  v1::Study study;
  {
    grpc::ClientContext context;
    const grpc::Status status = studies->CreateStudy(&context, create, &study);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitForEnd(*studies, study, 90s)) << Logs();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 60.0);
  EXPECT_EQ(study.state(), v1::STUDY_COMPLETED) << Logs();
  EXPECT_EQ(study.counts().completed(), static_cast<uint32_t>(kTrials)) << Logs();

  v1::ListTrialsResponse trials;
  {
    grpc::ClientContext context;
    v1::ListTrialsRequest request;
    request.set_study_id(study.id());
    ASSERT_TRUE(studies->ListTrials(&context, request, &trials).ok());
  }
  ASSERT_EQ(trials.trials_size(), kTrials);
  for (const v1::Trial& t : trials.trials()) {
    SCOPED_TRACE("trial #" + std::to_string(t.number()) + ": " + t.error());
    EXPECT_EQ(t.state(), v1::TRIAL_COMPLETED);
    EXPECT_EQ(t.worker_id(), labelled);
    EXPECT_NE(t.worker_id(), unlabelled);
    // Fashion-MNIST after 2 epochs on 2,700 images: well above chance (0.1), below perfect.
    EXPECT_GT(t.metrics().at("val_accuracy"), 0.5);
    EXPECT_LE(t.metrics().at("val_accuracy"), 1.0);
    EXPECT_GT(t.metrics().at("test_accuracy"), 0.5);  // reported beside it
    EXPECT_LE(t.metrics().at("test_accuracy"), 1.0);
    EXPECT_EQ(t.metrics().count("accuracy"), 0u);
    EXPECT_GT(t.metrics().at("latency_ms"), 0.0);
    EXPECT_LT(t.metrics().at("latency_ms"), 50.0);
    EXPECT_GT(t.metrics().at("params"), 0.0);
    EXPECT_NE(t.device(), "");  // the worker's device: the script names none
    // The progress of its last epoch, kept once it ended.
    ASSERT_TRUE(t.has_progress());
    EXPECT_EQ(t.progress().step(), static_cast<uint64_t>(kEpochs));
    EXPECT_GT(t.progress().metrics().at("loss"), 0.0);
    EXPECT_GT(t.progress().metrics().at("val_accuracy"), 0.3);
    // The objective is the last epoch's validation accuracy, the same number.
    EXPECT_EQ(t.metrics().at("val_accuracy"), t.progress().metrics().at("val_accuracy"));
    EXPECT_GE(t.progress().reported_ms(), t.started_ms());
    EXPECT_LE(t.progress().reported_ms(), t.finished_ms());
    // Its parameters reached the script: each was one of the study's.
    EXPECT_EQ(t.params().size(), 5u);
    EXPECT_GE(t.params().at("hidden").int_value(), 16);
  }
  // The labels were sent and stored with the worker.
  EXPECT_NE(ReadFile(File("labelled.log")).find("labels pool=mlp,team=vision"), std::string::npos) << Logs();
  EXPECT_EQ(hpo::testing::CountRows(db, "worker_labels WHERE worker_id = " + std::to_string(labelled)), 2);
  EXPECT_EQ(hpo::testing::CountRows(db, "worker_labels WHERE worker_id = " + std::to_string(unlabelled)), 0);
}

}  // namespace
}  // namespace hpo

namespace hpo {
namespace {

TEST_F(CommandStudyTest, ACommandThatAlwaysExitsOneFailsTheStudyFast) {
  // budget.max_failed_trials 3 of 50: the study ends FAILED after three failures, not fifty, its error
  // gives the last reasons, and what was left of the budget is cancelled.
  const std::string db = File("hpo.db");
  ASSERT_NO_FATAL_FAILURE(StartCoordinator(db));
  StartWorker("labelled", {});

  v1::CreateStudyRequest create;
  v1::StudySpec& spec = *create.mutable_spec();
  spec.set_name("always-fails");
  v1::Parameter* p = spec.add_parameters();
  p->set_name("x");
  p->mutable_float_()->set_high(1);
  v1::Objective* o = spec.add_objectives();
  o->set_name("loss");
  o->set_direction(v1::MINIMIZE);
  spec.mutable_budget()->set_max_trials(50);
  spec.mutable_budget()->set_max_parallel(1);
  spec.mutable_budget()->set_max_failed_trials(3);
  // A bare name: the worker finds it on its PATH, and each failure names the file that ran.
  for (const char* arg : {"sh", "-c", "echo cannot start >&2; exit 1"}) {
    spec.mutable_task()->mutable_command()->add_argv(arg);
  }
  const std::string sh = ShellLookup("sh");
  ASSERT_EQ(sh.rfind('/', 0), 0u) << "no sh on PATH: " << sh;
  auto channel = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  auto studies = v1::StudyService::NewStub(channel);
  v1::Study study;
  {
    grpc::ClientContext context;
    const grpc::Status status = studies->CreateStudy(&context, create, &study);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_TRUE(WaitForEnd(*studies, study, 60s)) << Logs();
  EXPECT_EQ(study.state(), v1::STUDY_FAILED) << Logs();
  EXPECT_EQ(study.counts().failed(), 3u);
  EXPECT_EQ(study.counts().completed(), 0u);
  EXPECT_LE(study.counts().failed() + study.counts().cancelled(), 4u);  // nothing ran past the limit
  EXPECT_NE(study.error().find("3 trials failed (budget.max_failed_trials 3)"), std::string::npos)
      << study.error();
  EXPECT_NE(study.error().find("exited with status 1"), std::string::npos) << study.error();
  EXPECT_NE(study.error().find("cannot start"), std::string::npos) << study.error();

  v1::ListTrialsResponse trials;
  {
    grpc::ClientContext context;
    v1::ListTrialsRequest request;
    request.set_study_id(study.id());
    ASSERT_TRUE(studies->ListTrials(&context, request, &trials).ok());
  }
  int failed = 0;
  for (const v1::Trial& t : trials.trials()) {
    if (t.state() != v1::TRIAL_FAILED) continue;
    ++failed;
    EXPECT_EQ(t.error(), sh + " exited with status 1; stderr: cannot start");
  }
  EXPECT_EQ(failed, 3);
}

}  // namespace
}  // namespace hpo
