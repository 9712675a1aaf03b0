// WorkerService over loopback gRPC on an in-process Server: long polls of workers with different labels
// and of a client naming its study, ReportProgress and labels over the wire.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>
#include <string>

#include "coordinator/server.h"
#include "hpo/v1/service.grpc.pb.h"
#include "tests/testing/temp_dir.h"

namespace hpo::coordinator {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class WorkerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.db_path = dir_.File("hpo.db");
    options.heartbeat_ms = 200;
    auto server = Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                       grpc::InsecureChannelCredentials());
    workers_ = v1::WorkerService::NewStub(channel);
    studies_ = v1::StudyService::NewStub(channel);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  uint64_t Register(const std::map<std::string, std::string>& labels) {
    v1::RegisterWorkerRequest request;
    request.set_name("w");
    request.set_slots(1);
    request.mutable_labels()->insert(labels.begin(), labels.end());
    v1::RegisterWorkerResponse response;
    grpc::ClientContext context;
    const grpc::Status status = workers_->RegisterWorker(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.worker_id();
  }

  // An AcquireTrial long poll, answered on another thread.
  struct Poll {
    grpc::Status status;
    v1::AcquireTrialResponse response;
    double seconds = 0;
  };
  std::future<Poll> Acquire(uint64_t worker, uint64_t study, uint32_t wait_ms) {
    return std::async(std::launch::async, [this, worker, study, wait_ms] {
      v1::AcquireTrialRequest request;
      request.set_worker_id(worker);
      request.set_study_id(study);
      request.set_wait_ms(wait_ms);
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(wait_ms) + 10s);
      Poll poll;
      const auto start = Clock::now();
      poll.status = workers_->AcquireTrial(&context, request, &poll.response);
      poll.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      return poll;
    });
  }

  uint64_t Create(const std::string& json) {
    v1::CreateStudyRequest request;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, request.mutable_spec()).ok()) << json;
    v1::Study study;
    grpc::ClientContext context;
    const grpc::Status status = studies_->CreateStudy(&context, request, &study);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return study.id();
  }

  hpo::testing::TempDir dir_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<v1::WorkerService::Stub> workers_;
  std::unique_ptr<v1::StudyService::Stub> studies_;
};

constexpr char kSelecting[] = R"({"name": "h100 only", "objectives": [{"name": "f1"}, {"name": "f2"}],
  "budget": {"max_trials": 2}, "task": {"synthetic": {"function": "zdt1", "dims": 3}},
  "worker_selector": {"gpu": "H100"}})";

constexpr char kExternal[] = R"({"name": "ask/tell", "parameters": [{"name": "x", "float": {"high": 1}}],
  "objectives": [{"name": "loss", "direction": "MINIMIZE"}],
  "budget": {"max_trials": 3}, "task": {"external": {}}})";

// A parked poll that gets nothing because of its labels does not keep a poll parked behind it, whose
// labels match, from getting the trial the moment it appears.
TEST_F(WorkerServiceTest, AParkedPollWithTheLabelGetsTheTrialPastOneWithout) {
  const uint64_t plain = Register({});
  const uint64_t h100 = Register({{"gpu", "H100"}});
  auto without = Acquire(plain, 0, 1'500);
  std::this_thread::sleep_for(200ms);  // parked first
  auto with = Acquire(h100, 0, 1'500);
  std::this_thread::sleep_for(200ms);
  Create(kSelecting);
  const Poll got = with.get();
  ASSERT_TRUE(got.status.ok()) << got.status.error_message();
  ASSERT_TRUE(got.response.has_trial());
  EXPECT_EQ(got.response.trial().worker_id(), h100);
  EXPECT_LT(got.seconds, 1.0);  // answered when the study came, not at the end of the wait
  const Poll none = without.get();
  ASSERT_TRUE(none.status.ok()) << none.status.error_message();
  EXPECT_FALSE(none.response.has_trial());
  EXPECT_GT(none.seconds, 1.2);
}

TEST_F(WorkerServiceTest, AnExternalStudysTrialsGoOnlyToAPollNamingIt) {
  const uint64_t daemon = Register({});
  const uint64_t client = Register({});
  auto any = Acquire(daemon, 0, 1'000);
  std::this_thread::sleep_for(200ms);
  const uint64_t study = Create(kExternal);
  const Poll named = Acquire(client, study, 1'500).get();
  ASSERT_TRUE(named.status.ok()) << named.status.error_message();
  ASSERT_TRUE(named.response.has_trial());
  EXPECT_TRUE(named.response.task().has_external());
  EXPECT_LT(named.seconds, 1.0);
  const Poll daemons = any.get();
  EXPECT_TRUE(daemons.status.ok());
  EXPECT_FALSE(daemons.response.has_trial());

  const Poll unknown = Acquire(client, 4242, 100).get();
  EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(unknown.status.error_message().find("study 4242"), std::string::npos);

  // ReportProgress: stored under the lease, refused under another token.
  v1::ReportProgressRequest progress;
  progress.set_worker_id(client);
  progress.set_trial_id(named.response.trial().id());
  progress.set_lease_token(named.response.lease().token());
  progress.set_step(3);
  (*progress.mutable_metrics())["loss"] = 0.41;
  v1::ReportProgressResponse ack;
  {
    grpc::ClientContext context;
    const grpc::Status status = workers_->ReportProgress(&context, progress, &ack);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  v1::ListTrialsRequest list;
  list.set_study_id(study);
  v1::ListTrialsResponse trials;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(studies_->ListTrials(&context, list, &trials).ok());
  }
  ASSERT_EQ(trials.trials_size(), 1);
  EXPECT_EQ(trials.trials(0).progress().step(), 3u);
  EXPECT_EQ(trials.trials(0).progress().metrics().at("loss"), 0.41);
  EXPECT_GT(trials.trials(0).progress().reported_ms(), 0);

  progress.set_lease_token("0123456789abcdef0123456789abcdef");
  progress.set_step(4);
  {
    grpc::ClientContext context;
    const grpc::Status status = workers_->ReportProgress(&context, progress, &ack);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  }
}

TEST_F(WorkerServiceTest, BadLabelsAreRefusedNamingThem) {
  v1::RegisterWorkerRequest request;
  request.set_name("w");
  request.set_slots(1);
  (*request.mutable_labels())["gpu"] = "H100\n";
  v1::RegisterWorkerResponse response;
  grpc::ClientContext context;
  const grpc::Status status = workers_->RegisterWorker(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("labels: value of \"gpu\" holds a control character", 0), 0u)
      << status.error_message();
}

}  // namespace
}  // namespace hpo::coordinator
