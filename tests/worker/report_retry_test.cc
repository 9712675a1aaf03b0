// A finished result survives a coordinator whose disk refuses its commits: an in-process coordinator on
// a real SQLite file whose writes are made to fail as a full disk's do (tests/testing/fault_vfs.h), and an
// in-process worker over loopback gRPC. The worker's CompleteTrial / FailTrial is answered UNAVAILABLE
// (never INTERNAL), the worker keeps the result and retries it past report_timeout while its lease is
// renewed, and once the disk takes writes again the result lands: stored once, on the first attempt,
// never re-run.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "coordinator/server.h"
#include "hpo/v1/service.grpc.pb.h"
#include "tests/testing/fault_vfs.h"
#include "tests/testing/temp_dir.h"
#include "worker/worker.h"

namespace hpo {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Waits for `done` (polling), up to `limit`; returns its last answer.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class ReportRetryTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(storage::testing::InstallFaultVfs());  // before the coordinator opens its database
    ASSERT_FALSE(dir_.path().empty());
    coordinator::ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.db_path = dir_.File("hpo.db");
    options.heartbeat_ms = 200;
    auto server = coordinator::Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    address_ = "127.0.0.1:" + std::to_string(server_->port());
    stub_ = v1::StudyService::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    storage::testing::SetWriteFault(SQLITE_OK);
    if (worker_) worker_->Stop();
    if (worker_thread_.joinable()) worker_thread_.join();
    worker_.reset();
    if (server_) server_->Shutdown();
    server_.reset();
  }

  void StartWorker() {
    worker::WorkerOptions options;
    options.name = "retrying-worker";
    options.wait_ms = 200;
    // Short, so that retries outliving it show that the lease, not this, keeps the result.
    options.report_timeout = 500ms;
    options.initial_backoff = 50ms;
    options.max_backoff = 200ms;
    options.log = [this](const std::string& line) {
      std::lock_guard lock(mu_);
      log_.push_back(line);
    };
    worker_ = std::make_unique<worker::Worker>(
        worker::MakeWorkerChannel(address_, grpc::InsecureChannelCredentials()), options);
    worker_thread_ = std::thread([this] {
      const Status status = worker_->Run();
      EXPECT_TRUE(status.ok()) << status.ToString();
    });
  }

  // The first worker log line holding every one of `parts`, or "".
  std::string LogLine(const std::vector<std::string>& parts) {
    std::lock_guard lock(mu_);
    for (const std::string& line : log_) {
      bool all = true;
      for (const std::string& part : parts) all = all && line.find(part) != std::string::npos;
      if (all) return line;
    }
    return "";
  }

  std::vector<v1::Trial> Trials(uint64_t study_id) {
    grpc::ClientContext context;
    v1::ListTrialsRequest request;
    request.set_study_id(study_id);
    v1::ListTrialsResponse response;
    const grpc::Status status = stub_->ListTrials(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.trials().begin(), response.trials().end()};
  }

  hpo::testing::TempDir dir_;
  std::string address_;
  std::unique_ptr<coordinator::Server> server_;
  std::unique_ptr<v1::StudyService::Stub> stub_;
  std::unique_ptr<worker::Worker> worker_;
  std::thread worker_thread_;
  std::mutex mu_;
  std::vector<std::string> log_;  // GUARDED_BY(mu_)
};

TEST_P(ReportRetryTest, ResultRefusedByAFullDiskIsRetriedUntilItLandsOnceNeverReRun) {
  const bool complete = GetParam();
  const std::string go = dir_.File("go");
  // The trial waits for the test's word, so that the disk fills between its start and its result.
  const std::string script = "while [ ! -e " + go + " ]; do sleep 0.02; done; " +
                             (complete ? std::string("echo '{\"f\": 1.5}'") : "echo 'no luck' >&2; exit 3");
  v1::CreateStudyRequest request;
  v1::StudySpec& spec = *request.mutable_spec();
  spec.set_name("full disk");
  spec.set_seed(1);
  v1::Parameter& x = *spec.add_parameters();
  x.set_name("x");
  x.mutable_float_()->set_low(0);
  x.mutable_float_()->set_high(1);
  spec.add_objectives()->set_name("f");
  spec.mutable_objectives(0)->set_direction(v1::MINIMIZE);
  spec.mutable_budget()->set_max_trials(1);
  spec.mutable_budget()->set_max_parallel(1);
  spec.mutable_budget()->set_lease_seconds(30);
  for (const char* arg : {"/bin/sh", "-c"}) spec.mutable_task()->mutable_command()->add_argv(arg);
  spec.mutable_task()->mutable_command()->add_argv(script);
  v1::Study study;
  {
    grpc::ClientContext context;
    const grpc::Status created = stub_->CreateStudy(&context, request, &study);
    ASSERT_TRUE(created.ok()) << created.error_message();
  }
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return !LogLine({"started on slot"}).empty(); }, 20s));

  storage::testing::SetWriteFault(SQLITE_FULL);
  { std::ofstream(go).put('\n'); }
  const char* rpc = complete ? "CompleteTrial" : "FailTrial";
  ASSERT_TRUE(WaitFor([&] { return !LogLine({rpc, "retrying"}).empty(); }, 20s));
  const auto first_refusal = Clock::now();
  const std::string refused = LogLine({rpc, "retrying"});
  EXPECT_NE(refused.find("UNAVAILABLE"), std::string::npos) << refused;
  EXPECT_NE(refused.find("database or disk is full"), std::string::npos) << refused;
  EXPECT_EQ(refused.find("INTERNAL"), std::string::npos) << refused;

  // The disk stays full past report_timeout (500 ms): the lease, renewed by heartbeats, keeps the result.
  const long failed_writes = storage::testing::FailedWrites();
  ASSERT_TRUE(WaitFor(
      [&] {
        return Clock::now() - first_refusal > 1500ms && storage::testing::FailedWrites() > failed_writes + 3;
      },
      20s));
  EXPECT_EQ(LogLine({"dropped"}), "");
  EXPECT_EQ(LogLine({"not delivered"}), "");
  EXPECT_EQ(worker_->stats().lost, 0u);
  {
    const std::vector<v1::Trial> trials = Trials(study.id());
    ASSERT_EQ(trials.size(), 1u);
    EXPECT_EQ(trials[0].state(), v1::TRIAL_RUNNING);
  }

  storage::testing::SetWriteFault(SQLITE_OK);
  const v1::TrialState want = complete ? v1::TRIAL_COMPLETED : v1::TRIAL_FAILED;
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::vector<v1::Trial> trials = Trials(study.id());
        return !trials.empty() && trials[0].state() == want;
      },
      20s));
  const std::vector<v1::Trial> trials = Trials(study.id());
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0].attempt(), 1u) << "the trial was run again";
  if (complete) {
    EXPECT_EQ(trials[0].metrics().at("f"), 1.5);
  } else {
    EXPECT_NE(trials[0].error().find("no luck"), std::string::npos) << trials[0].error();
  }
  ASSERT_TRUE(WaitFor([&] { return worker_->stats().completed + worker_->stats().failed == 1; }, 5s));
  EXPECT_EQ(worker_->stats().lost, 0u);
}

INSTANTIATE_TEST_SUITE_P(CompleteAndFail, ReportRetryTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return std::string(param.param ? "CompleteTrial" : "FailTrial");
                         });

}  // namespace
}  // namespace hpo
