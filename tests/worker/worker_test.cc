// The Worker against a fake WorkerService on an in-process gRPC channel (no sockets, no coordinator).
#include "worker/worker.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace hpo::worker {
namespace {

using std::chrono::milliseconds;

// A scripted coordinator: hands out the queued assignments and records what the worker says.
class FakeCoordinator final : public v1::WorkerService::Service {
 public:
  grpc::Status RegisterWorker(grpc::ServerContext* context, const v1::RegisterWorkerRequest* request,
                              v1::RegisterWorkerResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    registrations_.push_back(*request);
    auto auth = context->client_metadata().find("authorization");
    if (auth != context->client_metadata().end()) {
      authorization_ = std::string(auth->second.data(), auth->second.size());
    }
    response->set_worker_id(7 + registrations_.size() - 1);
    response->set_heartbeat_ms(30);
    return grpc::Status::OK;
  }

  grpc::Status AcquireTrial(grpc::ServerContext* context, const v1::AcquireTrialRequest* request,
                            v1::AcquireTrialResponse* response) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++acquires_;
    acquired_by_.insert(request->worker_id());
    if (!hold_polls_) return grpc::Status::OK;
    if (acquire_error_.has_value()) {
      const grpc::Status error = *acquire_error_;
      if (acquire_error_once_) acquire_error_.reset();
      return error;
    }
    const auto deadline = std::chrono::steady_clock::now() + milliseconds(request->wait_ms());
    while (queue_.empty() && !context->IsCancelled() && std::chrono::steady_clock::now() < deadline) {
      cv_.wait_for(lock, milliseconds(10));
    }
    if (!queue_.empty()) {
      *response = queue_.front();
      queue_.pop_front();
    }
    return grpc::Status::OK;
  }

  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const v1::Lease& lease : request->leases()) {
      leases_seen_.insert(lease.token());
      if (stop_.count(lease.trial_id()) != 0) response->add_stop_trial_ids(lease.trial_id());
      *response->add_renewed() = lease;
    }
    return grpc::Status::OK;
  }

  grpc::Status CompleteTrial(grpc::ServerContext*, const v1::CompleteTrialRequest* request,
                             v1::CompleteTrialResponse*) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++complete_calls_;
    if (report_errors_.size() > 0) {
      const grpc::Status error = report_errors_.front();
      report_errors_.pop_front();
      return error;
    }
    completed_.push_back(*request);
    return grpc::Status::OK;
  }

  grpc::Status FailTrial(grpc::ServerContext*, const v1::FailTrialRequest* request,
                         v1::FailTrialResponse*) override {
    std::lock_guard<std::mutex> lock(mu_);
    failed_.push_back(*request);
    return grpc::Status::OK;
  }

  grpc::Status ReleaseTrial(grpc::ServerContext*, const v1::ReleaseTrialRequest* request,
                            v1::ReleaseTrialResponse*) override {
    std::lock_guard<std::mutex> lock(mu_);
    released_.push_back(*request);
    return grpc::Status::OK;
  }

  grpc::Status ReportProgress(grpc::ServerContext*, const v1::ReportProgressRequest* request,
                              v1::ReportProgressResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    progress_.push_back(*request);
    progress_before_result_.push_back(completed_.empty() && failed_.empty());
    if (progress_error_.has_value()) return *progress_error_;
    if (prune_from_step_.has_value() && request->step() >= *prune_from_step_) {
      response->set_should_prune(true);
      response->set_reason("pruned at step " + std::to_string(request->step()) +
                           ": asha: below the best 1/3 at rung 0");
      pruned_[request->trial_id()] = std::chrono::steady_clock::now();
    }
    return grpc::Status::OK;
  }

  void Enqueue(v1::AcquireTrialResponse assignment) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(assignment));
    cv_.notify_all();
  }
  template <typename F>
  auto With(F f) {
    std::lock_guard<std::mutex> lock(mu_);
    return f(*this);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::AcquireTrialResponse> queue_;
  std::vector<v1::RegisterWorkerRequest> registrations_;
  std::string authorization_;
  int acquires_ = 0;
  std::set<uint64_t> acquired_by_;
  std::optional<grpc::Status> acquire_error_;
  bool acquire_error_once_ = true;
  bool hold_polls_ = true;  // false: every AcquireTrial answers "no trial" at once
  std::set<uint64_t> stop_;
  std::set<std::string> leases_seen_;
  std::deque<grpc::Status> report_errors_;
  int complete_calls_ = 0;
  std::vector<v1::CompleteTrialRequest> completed_;
  std::vector<v1::FailTrialRequest> failed_;
  std::vector<v1::ReleaseTrialRequest> released_;
  std::vector<v1::ReportProgressRequest> progress_;
  std::vector<bool> progress_before_result_;    // per progress report: no result had come yet
  std::optional<grpc::Status> progress_error_;  // every ReportProgress is answered this
  std::optional<uint64_t> prune_from_step_;     // a report of this step or later is answered should_prune
  std::map<uint64_t, std::chrono::steady_clock::time_point> pruned_;  // trial id -> when it was pruned
};

bool WaitFor(const std::function<bool()>& condition, milliseconds timeout = milliseconds(10'000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return condition();
}

v1::AcquireTrialResponse SyntheticAssignment(uint64_t trial_id, double x1) {
  v1::AcquireTrialResponse a;
  a.mutable_trial()->set_id(trial_id);
  a.mutable_trial()->set_study_id(1);
  a.mutable_trial()->set_number(static_cast<uint32_t>(trial_id));
  (*a.mutable_trial()->mutable_params())["x1"].set_double_value(x1);
  (*a.mutable_trial()->mutable_params())["x2"].set_double_value(0.0);
  a.mutable_lease()->set_trial_id(trial_id);
  a.mutable_lease()->set_token("token-" + std::to_string(trial_id));
  a.mutable_task()->mutable_synthetic()->set_function("zdt1");
  a.mutable_task()->mutable_synthetic()->set_dims(2);
  a.add_objectives()->set_name("f1");
  a.add_objectives()->set_name("f2");
  return a;
}

v1::AcquireTrialResponse SleepingAssignment(uint64_t trial_id) {
  v1::AcquireTrialResponse a;
  a.mutable_trial()->set_id(trial_id);
  a.mutable_lease()->set_trial_id(trial_id);
  a.mutable_lease()->set_token("token-" + std::to_string(trial_id));
  a.mutable_task()->mutable_builtin();
  return a;
}

// A command task running `script` with /bin/sh; its objective is "accuracy".
v1::AcquireTrialResponse CommandAssignment(uint64_t trial_id, const std::string& script) {
  v1::AcquireTrialResponse a;
  a.mutable_trial()->set_id(trial_id);
  a.mutable_trial()->set_study_id(2);
  a.mutable_lease()->set_trial_id(trial_id);
  a.mutable_lease()->set_token("token-" + std::to_string(trial_id));
  v1::CommandTask* task = a.mutable_task()->mutable_command();
  task->add_argv("/bin/sh");
  task->add_argv("-c");
  task->add_argv(script);
  task->set_timeout_s(60);
  v1::Objective* o = a.add_objectives();
  o->set_name("accuracy");
  o->set_direction(v1::MAXIMIZE);
  return a;
}

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    char dir[] = "/tmp/hpo_worker_test_XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    trainer_ = dir_ + "/hpo-train";
    std::ofstream(trainer_) << "#!/bin/sh\nexec sleep 30\n";
    chmod(trainer_.c_str(), 0755);
    options_.name = "test-worker";
    options_.wait_ms = 100;
    options_.initial_backoff = milliseconds(10);
    options_.max_backoff = milliseconds(50);
    options_.train_binary = trainer_;
    options_.kill_grace = milliseconds(1000);
    options_.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(log_mu_);
      log_.push_back(line);
    };
  }
  void TearDown() override {
    if (worker_ != nullptr) (void)StopWorker();
    server_->Shutdown(std::chrono::system_clock::now() + milliseconds(100));
    std::filesystem::remove_all(dir_);
  }

  void StartWorker() {
    worker_ = std::make_unique<Worker>(server_->InProcessChannel(grpc::ChannelArguments()), options_);
    thread_ = std::thread([this] { status_ = worker_->Run(); });
  }
  Status StopWorker() {
    worker_->Stop();
    thread_.join();
    worker_.reset();
    return status_;
  }
  std::string Logged() {
    std::lock_guard<std::mutex> lock(log_mu_);
    std::string all;
    for (const std::string& line : log_) all += line + "\n";
    return all;
  }

  FakeCoordinator fake_;
  std::unique_ptr<grpc::Server> server_;
  std::string dir_;
  std::string trainer_;
  WorkerOptions options_;
  std::unique_ptr<Worker> worker_;
  std::thread thread_;
  Status status_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

TEST_F(WorkerTest, RegistersAndCompletesSyntheticTrials) {
  options_.slots = 2;
  options_.device = "test device";
  options_.auth_token = "secret";
  StartWorker();
  fake_.Enqueue(SyntheticAssignment(1, 0.25));
  fake_.Enqueue(SyntheticAssignment(2, 1.0));
  ASSERT_TRUE(WaitFor([&] { return fake_.With([](auto& f) { return f.completed_.size() == 2; }); }));
  EXPECT_EQ(worker_->worker_id(), 7u);
  EXPECT_TRUE(StopWorker().ok()) << status_.ToString();

  std::lock_guard<std::mutex> lock(fake_.mu_);
  ASSERT_EQ(fake_.registrations_.size(), 1u);
  EXPECT_EQ(fake_.registrations_[0].name(), "test-worker");
  EXPECT_EQ(fake_.registrations_[0].slots(), 2u);
  EXPECT_EQ(fake_.registrations_[0].device(), "test device");
  EXPECT_EQ(fake_.authorization_, "Bearer secret");
  std::map<uint64_t, v1::CompleteTrialRequest> by_id;
  for (const auto& c : fake_.completed_) by_id[c.trial_id()] = c;
  ASSERT_EQ(by_id.size(), 2u);
  EXPECT_EQ(by_id[1].worker_id(), 7u);
  EXPECT_EQ(by_id[1].lease_token(), "token-1");
  EXPECT_EQ(by_id[1].device(), "synthetic");
  EXPECT_DOUBLE_EQ(by_id[1].metrics().at("f1"), 0.25);
  EXPECT_DOUBLE_EQ(by_id[1].metrics().at("f2"), 0.5);
  EXPECT_DOUBLE_EQ(by_id[2].metrics().at("f1"), 1.0);
  EXPECT_DOUBLE_EQ(by_id[2].metrics().at("f2"), 0.0);
  EXPECT_TRUE(fake_.failed_.empty());
  EXPECT_NE(Logged().find("worker 7: trial 1 (study 1 #1) completed in"), std::string::npos) << Logged();
}

TEST_F(WorkerTest, BadParamsFailTheTrial) {
  StartWorker();
  v1::AcquireTrialResponse bad = SyntheticAssignment(3, 0.5);
  (*bad.mutable_trial()->mutable_params())["x1"].set_double_value(2.0);
  fake_.Enqueue(bad);
  ASSERT_TRUE(WaitFor([&] { return fake_.With([](auto& f) { return f.failed_.size() == 1; }); }));
  EXPECT_TRUE(StopWorker().ok());
  std::lock_guard<std::mutex> lock(fake_.mu_);
  EXPECT_EQ(fake_.failed_[0].trial_id(), 3u);
  EXPECT_EQ(fake_.failed_[0].lease_token(), "token-3");
  EXPECT_NE(fake_.failed_[0].error().find("x1 = 2 outside [0, 1]"), std::string::npos)
      << fake_.failed_[0].error();
}

TEST_F(WorkerTest, ReportIsRetriedOverTransportErrors) {
  fake_.report_errors_ = {grpc::Status(grpc::StatusCode::UNAVAILABLE, "blip"),
                          grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "slow")};
  StartWorker();
  fake_.Enqueue(SyntheticAssignment(4, 0.5));
  ASSERT_TRUE(WaitFor([&] { return fake_.With([](auto& f) { return f.completed_.size() == 1; }); }));
  const WorkerStats stats = worker_->stats();
  EXPECT_TRUE(StopWorker().ok());
  EXPECT_EQ(fake_.With([](auto& f) { return f.complete_calls_; }), 3);
  EXPECT_EQ(stats.completed, 1u);
  EXPECT_EQ(stats.lost, 0u);
}

TEST_F(WorkerTest, AResultTheCoordinatorRefusesFailsTheTrialWithItsReason) {
  fake_.report_errors_ = {
      grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "metrics: at most 100 values, got 101")};
  StartWorker();
  fake_.Enqueue(SyntheticAssignment(6, 0.5));
  ASSERT_TRUE(WaitFor([&] { return worker_->stats().failed == 1; }));
  EXPECT_EQ(worker_->stats().completed, 0u);
  EXPECT_TRUE(StopWorker().ok());
  EXPECT_NE(Logged().find("result refused by the coordinator: failed"), std::string::npos) << Logged();
  std::lock_guard<std::mutex> lock(fake_.mu_);
  EXPECT_EQ(fake_.complete_calls_, 1);  // not sent again
  EXPECT_TRUE(fake_.completed_.empty());
  EXPECT_EQ(fake_.failed_[0].trial_id(), 6u);
  EXPECT_EQ(fake_.failed_[0].error(),
            "the coordinator refused the trial's result: metrics: at most 100 values, got 101");
}

TEST_F(WorkerTest, LostLeaseDropsTheResult) {
  fake_.report_errors_ = {grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "stale lease")};
  StartWorker();
  fake_.Enqueue(SyntheticAssignment(5, 0.5));
  ASSERT_TRUE(WaitFor([&] { return worker_->stats().lost == 1; }));
  EXPECT_TRUE(StopWorker().ok());
  EXPECT_EQ(fake_.With([](auto& f) { return f.complete_calls_; }), 1);
  EXPECT_NE(Logged().find("lease is lost"), std::string::npos) << Logged();
}

TEST_F(WorkerTest, HeartbeatStopKillsTheTrialAndReportsNothing) {
  fake_.stop_.insert(6);
  StartWorker();
  const auto start = std::chrono::steady_clock::now();
  fake_.Enqueue(SleepingAssignment(6));
  ASSERT_TRUE(WaitFor([&] { return worker_->stats().stopped == 1; }));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(StopWorker().ok());
  std::lock_guard<std::mutex> lock(fake_.mu_);
  EXPECT_EQ(fake_.leases_seen_.count("token-6"), 1u);
  EXPECT_EQ(fake_.complete_calls_, 0);
  EXPECT_TRUE(fake_.failed_.empty());
}

TEST_F(WorkerTest, StopReleasesRunningTrials) {
  options_.slots = 2;
  StartWorker();
  fake_.Enqueue(SleepingAssignment(8));
  fake_.Enqueue(SleepingAssignment(9));
  ASSERT_TRUE(WaitFor([&] { return fake_.With([](auto& f) { return f.leases_seen_.size() == 2; }); }));
  const auto start = std::chrono::steady_clock::now();
  worker_->Stop();
  thread_.join();
  EXPECT_TRUE(status_.ok()) << status_.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  EXPECT_EQ(worker_->stats().released, 2u);
  EXPECT_EQ(worker_->stats().failed, 0u);
  worker_.reset();
  std::lock_guard<std::mutex> lock(fake_.mu_);
  EXPECT_TRUE(fake_.failed_.empty());
  ASSERT_EQ(fake_.released_.size(), 2u);
  for (const auto& r : fake_.released_) {
    EXPECT_EQ(r.reason(), "worker stopped");
    EXPECT_EQ(r.lease_token(), "token-" + std::to_string(r.trial_id()));
  }
  std::set<uint64_t> ids = {fake_.released_[0].trial_id(), fake_.released_[1].trial_id()};
  EXPECT_EQ(ids, (std::set<uint64_t>{8, 9}));
}

TEST_F(WorkerTest, StopInterruptsTheLongPoll) {
  options_.wait_ms = 30'000;
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return fake_.With([](auto& f) { return f.acquires_ > 0; }); }));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(StopWorker().ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(WorkerTest, UnknownWorkerRegistersAgain) {
  fake_.acquire_error_ = grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown worker 7");
  StartWorker();
  fake_.Enqueue(SyntheticAssignment(10, 0.5));
  ASSERT_TRUE(WaitFor([&] { return fake_.With([](auto& f) { return f.completed_.size() == 1; }); }));
  EXPECT_EQ(worker_->worker_id(), 8u);
  EXPECT_TRUE(StopWorker().ok());
  std::lock_guard<std::mutex> lock(fake_.mu_);
  EXPECT_EQ(fake_.registrations_.size(), 2u);
  EXPECT_EQ(fake_.completed_[0].worker_id(), 8u);
}

TEST_F(WorkerTest, UnauthenticatedIsFatal) {
  fake_.acquire_error_ = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "bad token");
  StartWorker();
  thread_.join();
  EXPECT_EQ(status_.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(status_.message().find("bad token"), std::string::npos);
  worker_.reset();
}

TEST_F(WorkerTest, TransientAcquireErrorsAreRetried) {
  fake_.acquire_error_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting");
  StartWorker();
  fake_.Enqueue(SyntheticAssignment(11, 0.5));
  ASSERT_TRUE(WaitFor([&] { return fake_.With([](auto& f) { return f.completed_.size() == 1; }); }));
  EXPECT_TRUE(StopWorker().ok());
  const std::string log = Logged();
  EXPECT_NE(log.find("AcquireTrial failed (UNAVAILABLE: restarting); retrying"), std::string::npos) << log;
  EXPECT_NE(log.find("coordinator reachable again"), std::string::npos) << log;
}

TEST_F(WorkerTest, EarlyEmptyAnswersDoNotSpin) {
  fake_.hold_polls_ = false;
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return fake_.With([](auto& f) { return f.acquires_ > 0; }); }));
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_TRUE(StopWorker().ok());
  // A 100 ms pause after each: about 5 polls in 500 ms, where a spin makes thousands.
  EXPECT_LE(fake_.With([](auto& f) { return f.acquires_; }), 10);
}

TEST_F(WorkerTest, EmptyErrorMessageBecomesTheCodeName) {
  fake_.acquire_error_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "");
  StartWorker();
  fake_.Enqueue(SyntheticAssignment(12, 0.5));
  ASSERT_TRUE(WaitFor([&] { return fake_.With([](auto& f) { return f.completed_.size() == 1; }); }));
  EXPECT_TRUE(StopWorker().ok());
  const std::string log = Logged();
  EXPECT_NE(log.find("AcquireTrial failed (UNAVAILABLE: UNAVAILABLE); retrying"), std::string::npos) << log;
}

TEST(WorkerRegisterTest, GivesUpWhenTheCoordinatorIsUnreachable) {
  WorkerOptions options;
  options.register_timeout = milliseconds(400);
  options.initial_backoff = milliseconds(20);
  options.max_backoff = milliseconds(100);
  options.log = [](const std::string&) {};
  // Port 1 on loopback: nothing listens there.
  Worker worker(MakeWorkerChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()), options);
  const auto start = std::chrono::steady_clock::now();
  const Status status = worker.Run();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  EXPECT_NE(status.message().find("coordinator unreachable"), std::string::npos) << status.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(worker.worker_id(), 0u);
}

TEST(WorkerRegisterTest, StopDuringRegistrationReturnsOkAndSaysSo) {
  WorkerOptions options;
  options.register_timeout = milliseconds(60'000);
  options.name = "w9";
  std::mutex mu;
  std::vector<std::string> lines;
  options.log = [&](const std::string& line) {
    std::lock_guard<std::mutex> lock(mu);
    lines.push_back(line);
  };
  Worker worker(MakeWorkerChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()), options);
  std::thread stopper([&worker] {
    std::this_thread::sleep_for(milliseconds(200));
    worker.Stop();
  });
  const auto start = std::chrono::steady_clock::now();
  const Status status = worker.Run();
  stopper.join();
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // The summary line all the same, in the form scripts read.
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(),
            "worker w9: never registered; stopped (0 completed, 0 failed, 0 stopped, 0 released, 0 lost)");
}

TEST(WorkerRegisterTest, BadOptionsAreRejected) {
  WorkerOptions options;
  options.slots = 0;
  Worker worker(MakeWorkerChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()), options);
  EXPECT_EQ(worker.Run().code(), StatusCode::kInvalidArgument);
}

TEST(WorkerRegisterTest, WaitMsBelowTheMinimumIsRejected) {
  for (uint32_t wait_ms : {0u, 1u, 99u}) {
    WorkerOptions options;
    options.wait_ms = wait_ms;
    options.log = [](const std::string&) {};
    Worker worker(MakeWorkerChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()), options);
    const Status status = worker.Run();
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << wait_ms;
    EXPECT_NE(status.message().find("wait_ms"), std::string::npos) << status.message();
  }
}

TEST(ParseLabelFlagsTest, NameValuePairs) {
  auto labels = ParseLabelFlags({"gpu=H100", "zone=eu-west=1", "empty="});
  ASSERT_TRUE(labels.ok()) << labels.status().ToString();
  EXPECT_EQ(*labels,
            (std::map<std::string, std::string>{{"empty", ""}, {"gpu", "H100"}, {"zone", "eu-west=1"}}));
  EXPECT_EQ(ParseLabelFlags({"gpu"}).status().message(),
            "--label \"gpu\": give NAME=VALUE, e.g. --label gpu=H100");
  EXPECT_EQ(ParseLabelFlags({"=H100"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseLabelFlags({"gpu=a", "gpu=b"}).status().message(),
            "--label \"gpu=b\": label gpu given twice");
}

TEST_F(WorkerTest, LabelsAreSentAtRegistration) {
  options_.device = "cpu: test";
  options_.labels = {{"gpu", "H100"}, {"zone", "a"}};
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return worker_->worker_id() != 0; }));
  EXPECT_TRUE(StopWorker().ok());
  std::lock_guard<std::mutex> lock(fake_.mu_);
  ASSERT_EQ(fake_.registrations_.size(), 1u);
  const auto& labels = fake_.registrations_[0].labels();
  const std::map<std::string, std::string> sent(labels.begin(), labels.end());
  EXPECT_EQ(sent, (std::map<std::string, std::string>{{"gpu", "H100"}, {"zone", "a"}}));
  EXPECT_EQ(fake_.registrations_[0].device(), "cpu: test");
}

TEST_F(WorkerTest, CommandProgressIsRelayedAtMostOncePerIntervalAndTheLastBeforeTheResult) {
  options_.progress_interval = milliseconds(100);
  options_.device = "cpu: test";
  StartWorker();
  // 40 step lines over about 0.6 s, then the metrics line.
  fake_.Enqueue(
      CommandAssignment(5,
                        "i=1; while [ $i -le 40 ]; do echo \"{\\\"step\\\": $i, \\\"loss\\\": $i.5}\"; "
                        "sleep 0.015; i=$((i+1)); done; echo '{\"accuracy\": 0.75}'"));
  ASSERT_TRUE(WaitFor([&] { return fake_.With([](auto& f) { return f.completed_.size() == 1; }); }))
      << Logged();
  const uint64_t acknowledged = worker_->stats().progress;
  EXPECT_TRUE(StopWorker().ok());
  std::lock_guard<std::mutex> lock(fake_.mu_);
  EXPECT_EQ(fake_.completed_[0].metrics().at("accuracy"), 0.75);
  EXPECT_EQ(fake_.completed_[0].device(), "cpu: test");
  const auto& progress = fake_.progress_;
  // At most one per 100 ms over ~0.6 s (plus the last), yet more than one: throttled, not batched.
  ASSERT_GE(progress.size(), 2u);
  EXPECT_LE(progress.size(), 12u);
  uint64_t last_step = 0;
  for (size_t i = 0; i < progress.size(); ++i) {
    EXPECT_EQ(progress[i].worker_id(), 7u);
    EXPECT_EQ(progress[i].trial_id(), 5u);
    EXPECT_EQ(progress[i].lease_token(), "token-5");
    EXPECT_GT(progress[i].step(), last_step);
    EXPECT_EQ(progress[i].metrics().at("loss"), static_cast<double>(progress[i].step()) + 0.5);
    EXPECT_TRUE(fake_.progress_before_result_[i]) << "progress " << i << " came after the result";
    last_step = progress[i].step();
  }
  EXPECT_EQ(last_step, 40u);  // the last line is always sent
  EXPECT_EQ(acknowledged, progress.size());
}

TEST_F(WorkerTest, RefusedProgressStopsTheRelayButNotTheTrial) {
  options_.progress_interval = milliseconds(10);
  fake_.progress_error_ = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "lease not held");
  StartWorker();
  fake_.Enqueue(CommandAssignment(
      6, "for i in 1 2 3 4 5 6; do echo \"{\\\"step\\\": $i}\"; sleep 0.05; done; echo '{\"accuracy\": 1}'"));
  ASSERT_TRUE(WaitFor([&] { return fake_.With([](auto& f) { return f.completed_.size() == 1; }); }))
      << Logged();
  EXPECT_TRUE(StopWorker().ok());
  EXPECT_EQ(fake_.With([](auto& f) { return f.progress_.size(); }), 1u);
  EXPECT_NE(Logged().find("ReportProgress refused"), std::string::npos) << Logged();
}

// Whether process group `pgid` has no live process left (/proc/<pid>/stat). A zombie counts as gone: it
// has ended, and an orphan's waits for whoever reaps orphans here, which may take a while.
bool GroupGone(pid_t pgid) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;  // not a process, or it has just gone
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so read after the last ')'.
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(stat.substr(paren + 1));
    char state = 0;
    pid_t ppid = 0, group = 0;
    fields >> state >> ppid >> group;
    if (group == pgid && state != 'Z' && state != 'X') return false;
  }
  return true;
}

// The pid written to `path` (0 while there is none).
pid_t ReadPid(const std::string& path) {
  std::ifstream in(path);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

TEST_F(WorkerTest, PrunedCommandTrialIsKilledWithinASecondAndNothingMoreIsReported) {
  options_.progress_interval = milliseconds(10);
  options_.kill_grace = milliseconds(30'000);  // not what a prune waits for
  fake_.prune_from_step_ = 3;
  StartWorker();
  // Writes its pid (it leads its process group), ignores SIGTERM, and prints a step line every 50 ms
  // for 30 s, then a result: only SIGKILL after stop_grace ends it early.
  const std::string pid_file = dir_ + "/pid";
  fake_.Enqueue(CommandAssignment(11, "echo $$ > " + pid_file +
                                          "; trap '' TERM; i=1; while [ $i -le 600 ]; do echo "
                                          "\"{\\\"step\\\": $i, \\\"accuracy\\\": 0.$i}\"; "
                                          "sleep 0.05; i=$((i+1)); done; echo '{\"accuracy\": 0.9}'"));
  ASSERT_TRUE(WaitFor([&] { return fake_.With([](auto& f) { return f.pruned_.count(11) == 1; }); }))
      << Logged();
  const auto pruned_at = fake_.With([](auto& f) { return f.pruned_.at(11); });
  const pid_t pid = ReadPid(pid_file);
  ASSERT_GT(pid, 0);
  // The whole process group is gone within a second of the answer, and the slot is free.
  ASSERT_TRUE(WaitFor([&] { return GroupGone(pid); }, milliseconds(2'000)));
  const auto gone_after = std::chrono::steady_clock::now() - pruned_at;
  EXPECT_LT(gone_after, milliseconds(1'000));
  ASSERT_TRUE(WaitFor([&] { return worker_->stats().pruned == 1; }, milliseconds(2'000))) << Logged();
  EXPECT_LT(std::chrono::steady_clock::now() - pruned_at, milliseconds(1'000));
  fake_.Enqueue(SyntheticAssignment(12, 0.5));  // the next trial runs on the freed slot
  ASSERT_TRUE(WaitFor([&] { return fake_.With([](auto& f) { return f.completed_.size() == 1; }); }));
  std::this_thread::sleep_for(milliseconds(200));  // room for anything that should not come
  const WorkerStats stats = worker_->stats();
  EXPECT_TRUE(StopWorker().ok());

  EXPECT_EQ(stats.pruned, 1u);
  EXPECT_EQ(stats.stopped, 0u);
  EXPECT_EQ(stats.failed, 0u);
  std::lock_guard<std::mutex> lock(fake_.mu_);
  ASSERT_EQ(fake_.completed_.size(), 1u);
  EXPECT_EQ(fake_.completed_[0].trial_id(), 12u);  // nothing for trial 11
  EXPECT_TRUE(fake_.failed_.empty());
  EXPECT_TRUE(fake_.released_.empty());
  // Steps 1 and 2 were answered as usual and the trial ran on; the report that pruned it was the last.
  ASSERT_GE(fake_.progress_.size(), 2u);
  EXPECT_EQ(fake_.progress_.back().step(), 3u);
  for (size_t i = 0; i + 1 < fake_.progress_.size(); ++i) EXPECT_LT(fake_.progress_[i].step(), 3u);
  EXPECT_NE(Logged().find("trial 11 (study 2 #0) pruned at step 3: asha: below the best 1/3 at rung 0"),
            std::string::npos)
      << Logged();
  EXPECT_NE(Logged().find("trial 11 (study 2 #0) pruned: stopped after"), std::string::npos) << Logged();
}

TEST_F(WorkerTest, BuiltinProgressIsRelayedAndAPrunedTrainerIsKilled) {
  options_.progress_interval = milliseconds(10);
  fake_.prune_from_step_ = 2;
  // The trainer prints an epoch line every 100 ms; SIGTERM ends it as it ends hpo-train.
  std::ofstream(trainer_)
      << "#!/bin/sh\necho $$ > " << dir_ << "/pid\n"
      << "i=1; while [ $i -le 300 ]; do echo \"{\\\"step\\\": $i, \\\"accuracy\\\": 0.5}\"; "
         "sleep 0.1; i=$((i+1)); done; echo '{\"accuracy\": 0.9}'\n";
  StartWorker();
  v1::AcquireTrialResponse assignment = SleepingAssignment(13);
  assignment.add_objectives()->set_name("accuracy");
  fake_.Enqueue(assignment);
  ASSERT_TRUE(WaitFor([&] { return worker_->stats().pruned == 1; })) << Logged();
  const auto stopped_after =
      std::chrono::steady_clock::now() - fake_.With([](auto& f) { return f.pruned_.at(13); });
  EXPECT_LT(stopped_after, milliseconds(1'000));
  EXPECT_TRUE(GroupGone(ReadPid(dir_ + "/pid")));
  EXPECT_TRUE(StopWorker().ok());
  std::lock_guard<std::mutex> lock(fake_.mu_);
  ASSERT_EQ(fake_.progress_.size(), 2u);
  EXPECT_EQ(fake_.progress_[0].step(), 1u);
  EXPECT_EQ(fake_.progress_[0].lease_token(), "token-13");
  EXPECT_EQ(fake_.progress_[0].metrics().at("accuracy"), 0.5);
  EXPECT_EQ(fake_.progress_[1].step(), 2u);
  EXPECT_EQ(fake_.complete_calls_, 0);
  EXPECT_TRUE(fake_.failed_.empty());
  EXPECT_TRUE(fake_.released_.empty());
}

TEST_F(WorkerTest, APruneAnsweredToTheLastProgressOfAFinishedRunDropsItsResult) {
  // A long interval holds step 2 back until the run has ended; it goes before the result, and its
  // answer prunes the trial: the coordinator has it as PRUNED, so no CompleteTrial follows.
  options_.progress_interval = milliseconds(10'000);
  fake_.prune_from_step_ = 2;
  StartWorker();
  fake_.Enqueue(CommandAssignment(
      14,
      "echo '{\"step\": 1, \"accuracy\": 0.5}'; sleep 0.2; echo '{\"step\": 2, \"accuracy\": 0.5}'; "
      "echo '{\"accuracy\": 0.5}'"));
  ASSERT_TRUE(WaitFor([&] { return worker_->stats().pruned == 1; })) << Logged();
  EXPECT_TRUE(StopWorker().ok());
  std::lock_guard<std::mutex> lock(fake_.mu_);
  ASSERT_EQ(fake_.progress_.size(), 2u);
  EXPECT_EQ(fake_.progress_[1].step(), 2u);
  EXPECT_EQ(fake_.complete_calls_, 0);
  EXPECT_TRUE(fake_.failed_.empty());
}

TEST_F(WorkerTest, HeartbeatStopKillsATrialThatIgnoresSigtermAfterTheShortGrace) {
  options_.kill_grace = milliseconds(30'000);  // a stop at the coordinator's word does not wait for it
  std::ofstream(trainer_) << "#!/bin/sh\ntrap '' TERM\nwhile true; do sleep 0.05; done\n";
  fake_.stop_.insert(15);
  StartWorker();
  const auto start = std::chrono::steady_clock::now();
  fake_.Enqueue(SleepingAssignment(15));
  ASSERT_TRUE(WaitFor([&] { return worker_->stats().stopped == 1; }, milliseconds(5'000))) << Logged();
  // The first heartbeat (30 ms) names it; then 300 ms of grace.
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2'000));
  EXPECT_TRUE(StopWorker().ok());
  EXPECT_EQ(fake_.With([](auto& f) { return f.complete_calls_; }), 0);
}

TEST_F(WorkerTest, ALineThatReplacesAPendingOneKeepsTheMetricsOnlyThatOneHad) {
  // The first line goes at once; 2 and 3 wait out the interval, and 3 replaces 2 but keeps its latency
  // (which hpo-train reports once), as the coordinator carries a metric forward.
  options_.progress_interval = milliseconds(10'000);
  StartWorker();
  fake_.Enqueue(CommandAssignment(
      16,
      "echo '{\"step\": 1, \"loss\": 3}'; sleep 0.2; echo '{\"step\": 2, \"loss\": 2, \"latency_ms\": 0.5}'; "
      "echo '{\"step\": 3, \"loss\": 1}'; echo '{\"accuracy\": 0.5}'"));
  ASSERT_TRUE(WaitFor([&] { return fake_.With([](auto& f) { return f.completed_.size() == 1; }); }))
      << Logged();
  EXPECT_TRUE(StopWorker().ok());
  std::lock_guard<std::mutex> lock(fake_.mu_);
  ASSERT_EQ(fake_.progress_.size(), 2u);
  EXPECT_EQ(fake_.progress_[0].step(), 1u);
  EXPECT_EQ(fake_.progress_[1].step(), 3u);
  const std::map<std::string, double> metrics(fake_.progress_[1].metrics().begin(),
                                              fake_.progress_[1].metrics().end());
  EXPECT_EQ(metrics, (std::map<std::string, double>{{"latency_ms", 0.5}, {"loss", 1.0}}));
}

}  // namespace
}  // namespace hpo::worker
