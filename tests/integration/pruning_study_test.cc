// Integration: early stopping through the real daemons. hpo-coordinator on a fresh database and one
// hpo-worker with two slots run a builtin study on Fashion-MNIST (9 epochs on 20,000 images, the learning
// rate searched over four decades) with an ASHA pruner (max_resource 9, reduction factor 3: rungs at
// epochs 1 and 3). hpo-train prints a progress line per epoch, the worker relays it, the coordinator's
// pruner judges it and, for a trial ranked out at a rung, ends it PRUNED and answers should_prune; the
// worker then kills the trainer. The study must end with pruned trials whose last step is below 9 and
// whose metrics are those they last reported, completed trials that ran all 9 epochs, and every pruned
// trainer gone (as /proc sees it) within a second of the decision (the trial's finished_ms).
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hpo/v1/service.grpc.pb.h"
#include "tests/fault/process.h"

namespace hpo {
namespace {

using namespace std::chrono_literals;
using fault::Process;
using fault::ReadFile;
using fault::WaitFor;

constexpr int kTrials = 8;
constexpr uint64_t kEpochs = 9;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Watches /proc for hpo-train processes, by their --seed (each trial's own), from a thread of its own:
// when each was first and last seen alive (not a zombie), in Unix ms.
class TrainerWatch {
 public:
  struct Seen {
    int64_t first_ms = 0;
    int64_t last_ms = 0;
  };

  TrainerWatch() : thread_([this] { Loop(); }) {}
  ~TrainerWatch() {
    done_ = true;
    thread_.join();
  }

  std::map<uint64_t, Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  void Loop() {
    while (!done_) {
      Scan();
      std::this_thread::sleep_for(10ms);
    }
  }

  void Scan() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
      const std::string pid = entry.path().filename().string();
      if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream cmdline_file(entry.path() / "cmdline");
      std::string cmdline((std::istreambuf_iterator<char>(cmdline_file)), std::istreambuf_iterator<char>());
      std::vector<std::string> argv;
      std::istringstream args(cmdline);
      for (std::string arg; std::getline(args, arg, '\0');) argv.push_back(arg);
      if (argv.empty() || argv[0].size() < 10 ||
          argv[0].compare(argv[0].size() - 10, 10, "/hpo-train") != 0) {
        continue;
      }
      uint64_t seed = 0;
      bool has_seed = false;
      for (const std::string& arg : argv) {
        if (arg.rfind("--seed=", 0) == 0) {
          seed = std::stoull(arg.substr(7));
          has_seed = true;
        }
      }
      std::ifstream stat_file(entry.path() / "stat");
      std::string stat;
      std::getline(stat_file, stat);
      const size_t paren = stat.rfind(')');
      if (!has_seed || paren == std::string::npos || paren + 2 >= stat.size()) continue;
      const char state = stat[paren + 2];
      if (state == 'Z' || state == 'X') continue;  // ended; not yet reaped
      const int64_t now = NowMs();
      std::lock_guard<std::mutex> lock(mu_);
      Seen& seen = seen_[seed];
      if (seen.first_ms == 0) seen.first_ms = now;
      seen.last_ms = now;
    }
  }

  std::atomic<bool> done_{false};
  std::mutex mu_;
  std::map<uint64_t, Seen> seen_;  // GUARDED_BY(mu_)
  std::thread thread_;             // last: starts once the rest is ready
};

class PruningStudyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("hpo_pruning_study_" + std::to_string(getpid()));
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

  std::string Logs() const {
    return "== coordinator.log\n" + ReadFile(File("coordinator.log")) + "== worker.log\n" +
           ReadFile(File("worker.log"));
  }

  std::filesystem::path dir_;
  std::vector<std::unique_ptr<Process>> processes_;
};

TEST_F(PruningStudyTest, AshaPrunesBuiltinTrialsAndTheirTrainersAreGoneWithinASecond) {
  ASSERT_TRUE(std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))
      << "needs Fashion-MNIST (dataset-fashion-mnist)";
  Start({HPO_BIN_DIR "/hpo-coordinator", "--listen", "127.0.0.1:0", "--port-file", File("port"), "--db",
         File("hpo.db"), "--heartbeat-ms", "500"},
        "coordinator.log");
  ASSERT_TRUE(WaitFor([&] { return !ReadFile(File("port")).empty(); }, 15s)) << Logs();
  std::string address = "127.0.0.1:" + ReadFile(File("port"));
  while (address.back() == '\n' || address.back() == ' ') address.pop_back();
  TrainerWatch watch;
  Process* worker = Start({HPO_BIN_DIR "/hpo-worker", "--coordinator", address, "--name", "pruner", "--slots",
                           "2", "--threads", "1", "--wait-ms", "200"},
                          "worker.log");

  v1::CreateStudyRequest create;
  const std::string spec = R"({
    "name": "asha-fmnist",
    "parameters": [{"name": "lr", "float": {"low": 1e-5, "high": 0.1, "log": true}}],
    "objectives": [{"name": "accuracy", "direction": "MAXIMIZE"}],
    "algorithm": {"random": {}},
    "budget": {"max_trials": 8, "max_parallel": 2},
    "task": {"builtin": {"fixed": {"epochs": 9, "hidden_layers": 2, "width": 256}, "train_limit": 20000}},
    "pruner": {"asha": {"max_resource": 9, "reduction_factor": 3}},
    "seed": 4
  })";
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(spec, create.mutable_spec()).ok());
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto studies = v1::StudyService::NewStub(channel);
  v1::Study study;
  {
    grpc::ClientContext context;
    const grpc::Status status = studies->CreateStudy(&context, create, &study);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        grpc::ClientContext context;
        v1::GetStudyRequest request;
        request.set_study_id(study.id());
        return studies->GetStudy(&context, request, &study).ok() && study.state() != v1::STUDY_RUNNING;
      },
      240s))
      << Logs();
  std::this_thread::sleep_for(1500ms);  // /proc watched for a while after the last decision
  const std::map<uint64_t, TrainerWatch::Seen> seen = watch.seen();

  EXPECT_EQ(study.state(), v1::STUDY_COMPLETED) << Logs();
  const v1::TrialCounts& counts = study.counts();
  EXPECT_EQ(counts.completed() + counts.pruned(), static_cast<uint32_t>(kTrials)) << Logs();
  EXPECT_EQ(counts.failed(), 0u) << Logs();
  EXPECT_GE(counts.pruned(), 1u) << Logs();
  EXPECT_GE(counts.completed(), 1u) << Logs();  // the first trial at each rung always goes on

  v1::ListTrialsResponse trials;
  {
    grpc::ClientContext context;
    v1::ListTrialsRequest request;
    request.set_study_id(study.id());
    ASSERT_TRUE(studies->ListTrials(&context, request, &trials).ok());
  }
  ASSERT_EQ(trials.trials_size(), kTrials);
  int pruned = 0;
  for (const v1::Trial& t : trials.trials()) {
    SCOPED_TRACE("trial #" + std::to_string(t.number()) + " (lr " +
                 std::to_string(t.params().at("lr").double_value()) + "): " + t.error());
    ASSERT_TRUE(t.has_progress());
    ASSERT_EQ(t.progress().metrics().count("accuracy"), 1u);
    // Its trainer ran, and is gone now.
    ASSERT_EQ(seen.count(t.seed()), 1u) << "no hpo-train process seen for seed " << t.seed();
    const TrainerWatch::Seen& process = seen.at(t.seed());
    EXPECT_LT(process.last_ms, NowMs() - 1000);
    if (t.state() == v1::TRIAL_COMPLETED) {
      // All 9 epochs; the result is the metrics line, not a progress line.
      EXPECT_EQ(t.progress().step(), kEpochs);
      EXPECT_EQ(t.metrics().count("test_accuracy"), 1u);
      EXPECT_EQ(t.metrics().at("accuracy"), t.progress().metrics().at("accuracy"));  // the last epoch's
      EXPECT_GT(t.metrics().at("latency_ms"), 0.0);
      continue;
    }
    ASSERT_EQ(t.state(), v1::TRIAL_PRUNED);
    ++pruned;
    // Stopped below the full budget, with the metrics it last reported.
    const uint64_t step = t.progress().step();
    EXPECT_GE(step, 1u);
    EXPECT_LT(step, kEpochs);
    EXPECT_EQ(t.error().rfind("pruned at step " + std::to_string(step) + ": asha: rung ", 0), 0u);
    EXPECT_EQ(t.metrics().at("accuracy"), t.progress().metrics().at("accuracy"));
    EXPECT_EQ(t.metrics().count("test_accuracy"), 0u);
    EXPECT_GT(t.metrics().at("latency_ms"), 0.0);  // reported once, with the first epoch, carried on
    EXPECT_GT(t.finished_ms(), 0);
    // The trainer was running when it was pruned and was gone within a second of the decision.
    EXPECT_LT(process.first_ms, t.finished_ms());
    EXPECT_LT(process.last_ms, t.finished_ms() + 1000)
        << "hpo-train of a pruned trial still ran " << (process.last_ms - t.finished_ms()) << " ms after";
    std::printf("trial #%u pruned at step %llu: hpo-train last seen %lld ms after the decision\n", t.number(),
                static_cast<unsigned long long>(step),
                static_cast<long long>(process.last_ms - t.finished_ms()));
  }
  EXPECT_EQ(pruned, static_cast<int>(counts.pruned()));

  // The worker said so for each, reported nothing for them, and lost nothing.
  worker->Signal(SIGTERM);
  ASSERT_TRUE(worker->Wait(15s).has_value());
  const std::string log = ReadFile(File("worker.log"));
  size_t lines = 0;
  for (size_t at = log.find(") pruned at step "); at != std::string::npos;
       at = log.find(") pruned at step ", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, counts.pruned()) << log;
  EXPECT_NE(
      log.find(": " + std::to_string(counts.pruned()) +
               " trial(s) pruned at the coordinator's word, nothing reported\nworker 1: stopped (" +
               std::to_string(counts.completed()) + " completed, 0 failed, 0 stopped, 0 released, 0 lost)"),
      std::string::npos)
      << log;
}

}  // namespace
}  // namespace hpo
