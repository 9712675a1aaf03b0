// Integration: an in-process coordinator and two in-process workers over loopback gRPC, on a real
// SQLite file. A 20-trial synthetic study runs to completion and GetParetoFront must equal a
// brute-force front over the trials as stored; bad specs are refused over the wire with the field named
// and nothing stored.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "coordinator/server.h"
#include "hpo/v1/service.grpc.pb.h"
#include "tests/testing/sqlite_rows.h"
#include "tests/testing/temp_dir.h"
#include "worker/worker.h"

namespace hpo {
namespace {

using namespace std::chrono_literals;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    db_path_ = dir_.File("hpo.db");
    coordinator::ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.db_path = db_path_;
    options.heartbeat_ms = 200;
    auto server = coordinator::Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    address_ = "127.0.0.1:" + std::to_string(server_->port());
    stub_ = v1::StudyService::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    for (auto& w : workers_) w->Stop();
    for (auto& t : worker_threads_) t.join();
    workers_.clear();
    if (server_) server_->Shutdown();
    server_.reset();
  }

  void StartWorkers(int n, uint32_t slots) {
    for (int i = 0; i < n; ++i) {
      worker::WorkerOptions options;
      options.name = "test-worker-" + std::to_string(i);
      options.slots = slots;
      options.wait_ms = 500;
      options.log = [](const std::string&) {};
      auto channel = worker::MakeWorkerChannel(address_, grpc::InsecureChannelCredentials());
      workers_.push_back(std::make_unique<worker::Worker>(channel, options));
      worker::Worker* w = workers_.back().get();
      worker_threads_.emplace_back([w] {
        const Status status = w->Run();
        EXPECT_TRUE(status.ok()) << status.ToString();
      });
    }
  }

  grpc::Status Create(const std::string& json, v1::Study* study) {
    v1::CreateStudyRequest request;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, request.mutable_spec()).ok()) << json;
    grpc::ClientContext context;
    return stub_->CreateStudy(&context, request, study);
  }

  v1::Study WaitDone(uint64_t id, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    v1::Study study;
    while (std::chrono::steady_clock::now() < deadline) {
      grpc::ClientContext context;
      v1::GetStudyRequest request;
      request.set_study_id(id);
      EXPECT_TRUE(stub_->GetStudy(&context, request, &study).ok());
      if (study.state() != v1::STUDY_RUNNING) break;
      std::this_thread::sleep_for(50ms);
    }
    return study;
  }

  int64_t CountRows(const std::string& table) { return hpo::testing::CountRows(db_path_, table); }

  hpo::testing::TempDir dir_;
  std::string db_path_;
  std::string address_;
  std::unique_ptr<coordinator::Server> server_;
  std::unique_ptr<v1::StudyService::Stub> stub_;
  std::vector<std::unique_ptr<worker::Worker>> workers_;
  std::vector<std::thread> worker_threads_;
};

// The stored completed trials of `study`: number -> (f1, f2), read with plain SQL.
std::map<uint32_t, std::pair<double, double>> StoredObjectives(const std::string& db_path, uint64_t study) {
  std::map<uint32_t, std::pair<double, double>> out;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  const char* sql =
      "SELECT t.number, a.value, b.value FROM trials t "
      "JOIN trial_metrics a ON a.trial_id = t.id AND a.name = 'f1' "
      "JOIN trial_metrics b ON b.trial_id = t.id AND b.name = 'f2' "
      "WHERE t.study_id = ? AND t.state = 3";
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK);
  sqlite3_bind_int64(stmt, 1, static_cast<int64_t>(study));
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    out[static_cast<uint32_t>(sqlite3_column_int64(stmt, 0))] = {sqlite3_column_double(stmt, 1),
                                                                 sqlite3_column_double(stmt, 2)};
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

TEST_F(ServiceTest, SyntheticStudyRunsToCompletionAndFrontMatchesBruteForce) {
  StartWorkers(2, 2);
  v1::Study study;
  const grpc::Status created = Create(R"({
      "name": "zdt1 over grpc",
      "objectives": [{"name": "f1"}, {"name": "f2"}],
      "budget": {"max_trials": 20, "max_parallel": 4},
      "task": {"synthetic": {"function": "zdt1", "dims": 30}},
      "seed": 5})",
                                      &study);
  ASSERT_TRUE(created.ok()) << created.error_message();
  EXPECT_EQ(study.spec().parameters_size(), 30);

  const v1::Study done = WaitDone(study.id(), 60s);
  ASSERT_EQ(done.state(), v1::STUDY_COMPLETED);
  EXPECT_EQ(done.counts().completed(), 20u);
  EXPECT_EQ(done.counts().failed(), 0u);

  const auto stored = StoredObjectives(db_path_, study.id());
  ASSERT_EQ(stored.size(), 20u);
  std::set<uint32_t> expected;
  for (const auto& [n, p] : stored) {
    bool dominated = false;
    for (const auto& [m, q] : stored) {
      dominated |= q.first <= p.first && q.second <= p.second && (q.first < p.first || q.second < p.second);
    }
    if (!dominated) expected.insert(n);
    // zdt1: f1 = x1 in [0, 1], f2 >= 1 - sqrt(f1) (g >= 1).
    EXPECT_GE(p.first, 0.0);
    EXPECT_LE(p.first, 1.0);
    EXPECT_GE(p.second, 1.0 - std::sqrt(p.first) - 1e-12);
  }

  grpc::ClientContext context;
  v1::GetParetoFrontRequest request;
  request.set_study_id(study.id());
  v1::GetParetoFrontResponse front;
  ASSERT_TRUE(stub_->GetParetoFront(&context, request, &front).ok());
  std::set<uint32_t> got;
  for (const v1::Trial& t : front.trials()) {
    got.insert(t.number());
    EXPECT_EQ(t.metrics().at("f1"), stored.at(t.number()).first);
    EXPECT_EQ(t.device(), "synthetic");
  }
  EXPECT_EQ(got, expected);
  EXPECT_FALSE(got.empty());
  // Sorted by f1, best first.
  for (int i = 1; i < front.trials_size(); ++i) {
    EXPECT_LE(front.trials(i - 1).metrics().at("f1"), front.trials(i).metrics().at("f1"));
  }
}

// Every algorithm runs through the whole service, generational barriers included, to the end of its
// budget, with the optimizer state committed with each result.
TEST_F(ServiceTest, EachAlgorithmRunsAStudyToCompletion) {
  StartWorkers(2, 2);
  const std::vector<std::string> studies = {
      R"({"objectives": [{"name": "f1"}, {"name": "f2"}], "budget": {"max_trials": 40, "max_parallel": 4},
          "algorithm": {"nsga2": {"population": 8, "mode": "GENERATIONAL"}},
          "task": {"synthetic": {"function": "zdt1", "dims": 6}}, "seed": 1})",
      R"({"objectives": [{"name": "f1"}, {"name": "f2"}], "budget": {"max_trials": 40, "max_parallel": 4},
          "algorithm": {"nsga2": {"population": 8}},
          "task": {"synthetic": {"function": "zdt2", "dims": 6}}, "seed": 2})",
      R"({"objectives": [{"name": "f1"}], "budget": {"max_trials": 60, "max_parallel": 3},
          "algorithm": {"woa": {"population": 6}},
          "task": {"synthetic": {"function": "f1_sphere", "dims": 5, "shift_seed": 9}}, "seed": 3})",
      R"({"objectives": [{"name": "f1"}], "budget": {"max_trials": 30},
          "algorithm": {"random": {"latin_hypercube": 10}},
          "task": {"synthetic": {"function": "f9_rastrigin", "dims": 3}}, "seed": 4})",
  };
  std::vector<uint64_t> ids;
  for (const std::string& json : studies) {
    v1::Study study;
    const grpc::Status created = Create(json, &study);
    ASSERT_TRUE(created.ok()) << created.error_message();
    ids.push_back(study.id());
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    const v1::Study done = WaitDone(ids[i], 60s);
    EXPECT_EQ(done.state(), v1::STUDY_COMPLETED) << studies[i];
    EXPECT_EQ(done.counts().completed(), done.spec().budget().max_trials()) << studies[i];
  }
}

TEST_F(ServiceTest, BadSpecsAreRefusedNamingTheFieldAndStoreNothing) {
  const std::string good = R"({"name": "x", "parameters": [
      {"name": "lr", "float": {"low": 0.001, "high": 0.01, "log": true}},
      {"name": "activation", "categorical": {"choices": ["relu", "gelu"]}}],
    "objectives": [{"name": "accuracy"}], "budget": {"max_trials": 2},
    "task": {"builtin": {}}})";
  struct Case {
    std::string from, to, field;
  };
  const std::vector<Case> cases = {
      {R"("name": "lr")", R"("name": "learning_rate")", "parameters[0] (learning_rate)"},
      {R"("low": 0.001, "high": 0.01)", R"("low": 0.01, "high": 0.001)", "parameters[0] (lr)"},
      {R"(["relu", "gelu"])", "[]", "parameters[1] (activation)"},
      {R"("low": 0.001)", R"("low": -1)", "parameters[0] (lr)"},
      {R"({"name": "accuracy"})", R"({"name": "acuracy"})", "objectives[0] (acuracy)"},
      {R"("name": "x")", R"("name": "x\u0007")", "name: holds a control character"},
      {R"("name": "lr")", R"("name": "l r")", "parameters[0].name"},
      {R"(["relu", "gelu"]})", R"(["relu", "gelu"]}, "condition": {"parent": "lr", "values": ["relu"]})",
       "parameters[1] (activation).condition.parent"},
      {R"("budget": {)", R"("algorithm": {"nsga2": {"population": 2}}, "budget": {)",
       "algorithm.nsga2.population"},
      {R"({"builtin": {}})", R"({"builtin": {"train_limit": 60000}})", "task.builtin.train_limit"},
  };
  for (const Case& c : cases) {
    std::string json = good;
    json.replace(json.find(c.from), c.from.size(), c.to);
    v1::Study study;
    const grpc::Status status = Create(json, &study);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << json;
    EXPECT_NE(status.error_message().find(c.field), std::string::npos) << status.error_message();
  }
  {
    // A field this coordinator does not know (a newer client's) is refused, not stored unobeyed.
    v1::CreateStudyRequest request;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(good, request.mutable_spec()).ok());
    v1::Parameter* lr = request.mutable_spec()->mutable_parameters(0);
    lr->GetReflection()->MutableUnknownFields(lr)->AddVarint(99, 1);
    grpc::ClientContext context;
    v1::Study study;
    const grpc::Status status = stub_->CreateStudy(&context, request, &study);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("parameters[0].<field 99>"), std::string::npos)
        << status.error_message();
  }
  EXPECT_EQ(CountRows("studies"), 0);
  EXPECT_EQ(CountRows("trials"), 0);
  v1::Study study;
  EXPECT_TRUE(Create(good, &study).ok());
  EXPECT_EQ(CountRows("studies"), 1);

  grpc::ClientContext context;
  v1::GetStudyRequest missing;
  missing.set_study_id(999);
  v1::Study none;
  EXPECT_EQ(stub_->GetStudy(&context, missing, &none).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServiceTest, StartFailsCleanlyOnABusyPortOrABadDatabase) {
  coordinator::ServerOptions options;
  options.listen_address = address_;  // taken by the fixture's server
  options.db_path = dir_.File("other.db");
  auto busy = coordinator::Server::Start(options);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(busy.status().message().find(address_), std::string::npos);

  { std::ofstream(dir_.File("notes.txt")) << "not a database"; }
  options.listen_address = "127.0.0.1:0";
  options.db_path = dir_.File("notes.txt");
  auto bad = coordinator::Server::Start(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kDataLoss);
}

TEST_F(ServiceTest, LongPollAnswersWhenWorkArrives) {
  auto worker_stub =
      v1::WorkerService::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  v1::RegisterWorkerResponse registered;
  {
    grpc::ClientContext context;
    v1::RegisterWorkerRequest request;
    request.set_name("poller");
    request.set_slots(1);
    ASSERT_TRUE(worker_stub->RegisterWorker(&context, request, &registered).ok());
  }
  // Nothing to do: the poll waits its full time and answers with no trial.
  {
    grpc::ClientContext context;
    v1::AcquireTrialRequest request;
    request.set_worker_id(registered.worker_id());
    request.set_wait_ms(300);
    v1::AcquireTrialResponse response;
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(worker_stub->AcquireTrial(&context, request, &response).ok());
    EXPECT_FALSE(response.has_trial());
    EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
  }
  // A study submitted while the poll waits is handed out long before the wait runs out.
  std::thread submit([&] {
    std::this_thread::sleep_for(300ms);
    v1::Study study;
    EXPECT_TRUE(Create(R"({"objectives": [{"name": "f1"}], "budget": {"max_trials": 1},
                           "task": {"synthetic": {"function": "zdt2", "dims": 5}}})",
                       &study)
                    .ok());
  });
  grpc::ClientContext context;
  v1::AcquireTrialRequest request;
  request.set_worker_id(registered.worker_id());
  request.set_wait_ms(20'000);
  v1::AcquireTrialResponse response;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(worker_stub->AcquireTrial(&context, request, &response).ok());
  submit.join();
  EXPECT_TRUE(response.has_trial());
  EXPECT_EQ(response.trial().params().size(), 5u);
  EXPECT_FALSE(response.lease().token().empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

// ListTrials with updated_since answers exactly the trials written since the cursor it gave (a trial
// handed out and reporting progress, not the finished ones), and AnalyzeStudy over the wire ranks the
// parameter each objective depends on first, with a front summary equal to GetParetoFront's.
TEST_F(ServiceTest, ListTrialsSinceACursorAndAnalyzeStudy) {
  v1::Study study;
  ASSERT_TRUE(Create(R"({
      "name": "ask/tell for analysis",
      "parameters": [
        {"name": "lr", "float": {"low": 0.0001, "high": 0.1, "log": true}},
        {"name": "width", "int": {"low": 16, "high": 256}},
        {"name": "act", "categorical": {"choices": ["relu", "gelu", "tanh"]}},
        {"name": "slope", "float": {"low": 0.0, "high": 1.0},
         "condition": {"parent": "act", "values": ["relu"]}}],
      "objectives": [{"name": "loss", "direction": "MINIMIZE"}, {"name": "latency_ms", "direction": "MINIMIZE"}],
      "algorithm": {"random": {}},
      "budget": {"max_trials": 40, "max_parallel": 1},
      "task": {"external": {}},
      "seed": 21})",
                     &study)
                  .ok());
  auto worker_stub =
      v1::WorkerService::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  v1::RegisterWorkerResponse registered;
  {
    grpc::ClientContext context;
    v1::RegisterWorkerRequest request;
    request.set_name("ask-tell");
    request.set_slots(1);
    ASSERT_TRUE(worker_stub->RegisterWorker(&context, request, &registered).ok());
  }
  // Asks for one trial, reports one step of progress, and (unless `finish` is false) completes it.
  const auto run_one = [&](bool finish) -> v1::AcquireTrialResponse {
    v1::AcquireTrialResponse acquired;
    grpc::ClientContext context;
    v1::AcquireTrialRequest request;
    request.set_worker_id(registered.worker_id());
    request.set_study_id(study.id());
    request.set_wait_ms(5000);
    EXPECT_TRUE(worker_stub->AcquireTrial(&context, request, &acquired).ok());
    EXPECT_TRUE(acquired.has_trial());
    const auto& params = acquired.trial().params();
    const double loss = std::pow(std::log10(params.at("lr").double_value()) + 2.5, 2);
    const double latency = static_cast<double>(params.at("width").int_value()) / 100.0;
    v1::ReportProgressRequest progress;
    progress.set_worker_id(registered.worker_id());
    progress.set_trial_id(acquired.trial().id());
    progress.set_lease_token(acquired.lease().token());
    progress.set_step(1);
    (*progress.mutable_metrics())["loss"] = 2 * loss;
    v1::ReportProgressResponse progressed;
    grpc::ClientContext progress_context;
    EXPECT_TRUE(worker_stub->ReportProgress(&progress_context, progress, &progressed).ok());
    if (!finish) return acquired;
    v1::CompleteTrialRequest done;
    done.set_worker_id(registered.worker_id());
    done.set_trial_id(acquired.trial().id());
    done.set_lease_token(acquired.lease().token());
    (*done.mutable_metrics())["loss"] = loss;
    (*done.mutable_metrics())["latency_ms"] = latency;
    v1::CompleteTrialResponse completed;
    grpc::ClientContext done_context;
    EXPECT_TRUE(worker_stub->CompleteTrial(&done_context, done, &completed).ok());
    return acquired;
  };
  const auto list = [&](uint64_t since, bool history) {
    grpc::ClientContext context;
    v1::ListTrialsRequest request;
    request.set_study_id(study.id());
    request.set_updated_since(since);
    request.set_include_history(history);
    v1::ListTrialsResponse response;
    EXPECT_TRUE(stub_->ListTrials(&context, request, &response).ok());
    return response;
  };

  for (int i = 0; i < 10; ++i) run_one(true);
  const v1::ListTrialsResponse all = list(0, false);
  ASSERT_GE(all.trials_size(), 10);
  EXPECT_GT(all.cursor(), 0u);
  EXPECT_FALSE(all.trials(0).has_history());
  EXPECT_EQ(list(all.cursor(), false).trials_size(), 0);

  const v1::AcquireTrialResponse running = run_one(false);
  const v1::ListTrialsResponse changed = list(all.cursor(), true);
  ASSERT_EQ(changed.trials_size(), 1);
  EXPECT_EQ(changed.trials(0).id(), running.trial().id());
  EXPECT_EQ(changed.trials(0).state(), v1::TRIAL_RUNNING);
  ASSERT_EQ(changed.trials(0).history().steps_size(), 1);
  EXPECT_EQ(changed.trials(0).history().steps(0).step(), 1u);
  EXPECT_GT(changed.cursor(), all.cursor());
  EXPECT_EQ(list(changed.cursor(), false).trials_size(), 0);
  {
    v1::CompleteTrialRequest done;
    done.set_worker_id(registered.worker_id());
    done.set_trial_id(running.trial().id());
    done.set_lease_token(running.lease().token());
    (*done.mutable_metrics())["loss"] = 1.0;
    (*done.mutable_metrics())["latency_ms"] = 1.0;
    v1::CompleteTrialResponse completed;
    grpc::ClientContext context;
    ASSERT_TRUE(worker_stub->CompleteTrial(&context, done, &completed).ok());
  }
  for (int i = 0; i < 29; ++i) run_one(true);
  ASSERT_EQ(WaitDone(study.id(), 10s).state(), v1::STUDY_COMPLETED);

  grpc::ClientContext context;
  v1::AnalyzeStudyRequest request;
  request.set_study_id(study.id());
  v1::AnalyzeStudyResponse analysis;
  ASSERT_TRUE(stub_->AnalyzeStudy(&context, request, &analysis).ok());
  ASSERT_EQ(analysis.importance_size(), 2);
  EXPECT_EQ(analysis.importance(0).objective(), "loss");
  EXPECT_EQ(analysis.importance(0).trials(), 40u);
  ASSERT_EQ(analysis.importance(0).parameters_size(), 4);
  EXPECT_EQ(analysis.importance(0).parameters(0).parameter(), "lr");
  EXPECT_GT(analysis.importance(0).parameters(0).importance(), 0.5);
  EXPECT_EQ(analysis.importance(1).parameters(0).parameter(), "width");
  EXPECT_GT(analysis.importance(1).parameters(0).importance(), 0.5);
  double sum = 0.0;
  for (const auto& p : analysis.importance(1).parameters()) sum += p.importance();
  EXPECT_NEAR(sum, 1.0, 1e-9);

  grpc::ClientContext front_context;
  v1::GetParetoFrontRequest front_request;
  front_request.set_study_id(study.id());
  v1::GetParetoFrontResponse front;
  ASSERT_TRUE(stub_->GetParetoFront(&front_context, front_request, &front).ok());
  ASSERT_EQ(analysis.front().trials_size(), front.trials_size());
  for (int i = 0; i < front.trials_size(); ++i) {
    EXPECT_EQ(analysis.front().trials(i).trial_id(), front.trials(i).id());
    EXPECT_EQ(analysis.front().trials(i).objectives(0), front.trials(i).metrics().at("loss"));
  }
  EXPECT_EQ(analysis.front().completed(), 40u);
  ASSERT_EQ(analysis.front().history_size(), 40);
  EXPECT_EQ(analysis.front().history(39).hypervolume(), analysis.front().hypervolume());
  EXPECT_GT(analysis.front().hypervolume(), 0.0);
  for (int i = 1; i < 40; ++i) {
    EXPECT_GE(analysis.front().history(i).hypervolume(), analysis.front().history(i - 1).hypervolume());
  }
  // An unknown study is NOT_FOUND; too many trees INVALID_ARGUMENT naming them.
  grpc::ClientContext missing_context;
  request.set_study_id(study.id() + 100);
  EXPECT_EQ(stub_->AnalyzeStudy(&missing_context, request, &analysis).error_code(),
            grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext trees_context;
  request.set_study_id(study.id());
  request.set_trees(5000);
  const grpc::Status too_many = stub_->AnalyzeStudy(&trees_context, request, &analysis);
  EXPECT_EQ(too_many.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(too_many.error_message().find("trees"), std::string::npos);
}

}  // namespace
}  // namespace hpo
