// End to end: the real hpo-coordinator (--http on a free port) and hpo-worker as processes, a synthetic
// zdt1 study run to completion, and Debian's headless Chromium on the dashboard, driven over the DevTools
// protocol. The page must show what the coordinator holds, and follow it live: one point per completed
// trial, the front highlighted exactly as GetParetoFront has it, the counts, hover and sorting. /metrics
// must agree with the study, and gRPC server reflection must list hpo's services.
//
// Chromium is required (deploy/install-deps.sh installs it): without it these tests fail, saying so.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hpo/v1/service.grpc.pb.h"
#include "tests/fault/process.h"
#include "tests/integration/browser.h"
#include "tests/testing/http_client.h"
#include "tests/testing/temp_dir.h"

namespace hpo {
namespace {

using namespace std::chrono_literals;
using fault::Process;
using fault::ReadFile;
using fault::WaitFor;
using testing::Browser;
using testing::HttpClient;

constexpr uint32_t kTrials = 40;
constexpr char kToken[] = "dashboard-test-token-0123456789";

std::string BinPath(const std::string& name) { return std::string(HPO_BIN_DIR) + "/" + name; }

// What the page shows of one study, read from its DOM.
constexpr char kReadStudyPage[] = R"JS(({
  state: document.getElementById('study-state').textContent,
  completed: Number(document.getElementById('trial-count').dataset.completed || -1),
  progressCompleted: Number(document.getElementById('progress').dataset.completed || -1),
  points: [...document.querySelectorAll('#front-plot circle.trial')].map(c => Number(c.dataset.trialId)),
  front: [...document.querySelectorAll('#front-plot circle.trial.front')].map(c => Number(c.dataset.trialId)),
  frontLine: document.querySelectorAll('#front-plot path.front-line').length,
  rows: document.querySelectorAll('#trials-table tbody tr').length,
  xLabel: (document.querySelector('#front-plot .x-label') || {}).textContent || '',
  yLabel: (document.querySelector('#front-plot .y-label') || {}).textContent || '',
}))JS";

std::vector<double> Numbers(const google::protobuf::Value& list) {
  std::vector<double> out;
  for (const auto& v : list.list_value().values()) out.push_back(v.number_value());
  return out;
}

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }

  void TearDown() override {
    browser_.reset();
    for (Process* p : {worker_.get(), coordinator_.get()}) {
      if (p != nullptr && p->running()) {
        p->Signal(SIGTERM);
        p->Wait(10s);
      }
    }
  }

  void StartCoordinator(const std::vector<std::string>& env = {}) {
    coordinator_ = std::make_unique<Process>(
        std::vector<std::string>{BinPath("hpo-coordinator"), "--listen", "127.0.0.1:0", "--port-file",
                                 dir_.File("port"), "--http", "127.0.0.1:0", "--http-port-file",
                                 dir_.File("http_port"), "--db", dir_.File("hpo.db"), "--heartbeat-ms",
                                 "200"},
        dir_.File("coordinator.log"), env);
    ASSERT_TRUE(coordinator_->running()) << coordinator_->error();
    ASSERT_TRUE(WaitFor([&] { return !ReadFile(dir_.File("http_port")).empty(); }, 15s))
        << coordinator_->Log();
    grpc_port_ = std::stoi(ReadFile(dir_.File("port")));
    http_port_ = std::stoi(ReadFile(dir_.File("http_port")));
    auto channel =
        grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_), grpc::InsecureChannelCredentials());
    channel_ = channel;
    stub_ = v1::StudyService::NewStub(channel);
  }

  void StartWorker() {
    worker_ = std::make_unique<Process>(std::vector<std::string>{BinPath("hpo-worker"), "--coordinator",
                                                                 "127.0.0.1:" + std::to_string(grpc_port_),
                                                                 "--slots", "2", "--wait-ms", "500"},
                                        dir_.File("worker.log"), token_env_);
    ASSERT_TRUE(worker_->running()) << worker_->error();
  }

  void Authorize(grpc::ClientContext* context) {
    if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
  }

  uint64_t CreateStudy() {
    v1::CreateStudyRequest request;
    const auto parsed = google::protobuf::util::JsonStringToMessage(R"({
        "name": "dashboard zdt1",
        "objectives": [{"name": "f1", "direction": "MINIMIZE"}, {"name": "f2", "direction": "MINIMIZE"}],
        "algorithm": {"nsga2": {"population": 10}},
        "budget": {"max_trials": )" + std::to_string(kTrials) +
                                                                        R"(, "max_parallel": 2},
        "task": {"synthetic": {"function": "zdt1", "dims": 4}},
        "seed": 17})",
                                                                    request.mutable_spec());
    EXPECT_TRUE(parsed.ok());
    grpc::ClientContext context;
    Authorize(&context);
    v1::Study study;
    const grpc::Status status = stub_->CreateStudy(&context, request, &study);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return study.id();
  }

  v1::Study GetStudy(uint64_t id) {
    grpc::ClientContext context;
    Authorize(&context);
    v1::GetStudyRequest request;
    request.set_study_id(id);
    v1::Study study;
    EXPECT_TRUE(stub_->GetStudy(&context, request, &study).ok());
    return study;
  }

  // An external (ask/tell) study from its spec's JSON, and a worker registered to run its trials here.
  v1::Study CreateExternalStudy(const std::string& spec_json) {
    v1::CreateStudyRequest request;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(spec_json, request.mutable_spec()).ok());
    grpc::ClientContext context;
    Authorize(&context);
    v1::Study study;
    const grpc::Status status = stub_->CreateStudy(&context, request, &study);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return study;
  }
  uint64_t RegisterWorker(const std::string& name) {
    workers_ = v1::WorkerService::NewStub(channel_);
    grpc::ClientContext context;
    Authorize(&context);
    v1::RegisterWorkerRequest request;
    request.set_name(name);
    request.set_slots(1);
    v1::RegisterWorkerResponse registered;
    EXPECT_TRUE(workers_->RegisterWorker(&context, request, &registered).ok());
    return registered.worker_id();
  }
  // The next trial of `study` for `worker` (no trial when none came within 5 s).
  v1::AcquireTrialResponse Acquire(uint64_t worker, uint64_t study) {
    grpc::ClientContext context;
    Authorize(&context);
    v1::AcquireTrialRequest request;
    request.set_worker_id(worker);
    request.set_study_id(study);
    request.set_wait_ms(5000);
    v1::AcquireTrialResponse trial;
    EXPECT_TRUE(workers_->AcquireTrial(&context, request, &trial).ok());
    return trial;
  }
  // Reports `metrics` at `step` of an acquired trial; whether the pruner stops it.
  bool Report(uint64_t worker, const v1::AcquireTrialResponse& trial, uint64_t step,
              const std::map<std::string, double>& metrics) {
    grpc::ClientContext context;
    Authorize(&context);
    v1::ReportProgressRequest request;
    request.set_worker_id(worker);
    request.set_trial_id(trial.trial().id());
    request.set_lease_token(trial.lease().token());
    request.set_step(step);
    for (const auto& [name, value] : metrics) (*request.mutable_metrics())[name] = value;
    v1::ReportProgressResponse response;
    EXPECT_TRUE(workers_->ReportProgress(&context, request, &response).ok());
    return response.should_prune();
  }
  void Complete(uint64_t worker, const v1::AcquireTrialResponse& trial,
                const std::map<std::string, double>& metrics) {
    grpc::ClientContext context;
    Authorize(&context);
    v1::CompleteTrialRequest request;
    request.set_worker_id(worker);
    request.set_trial_id(trial.trial().id());
    request.set_lease_token(trial.lease().token());
    for (const auto& [name, value] : metrics) (*request.mutable_metrics())[name] = value;
    v1::CompleteTrialResponse response;
    EXPECT_TRUE(workers_->CompleteTrial(&context, request, &response).ok());
  }

  std::unique_ptr<Browser> OpenBrowser(const std::string& path) {
    const std::string chromium = testing::FindChromium();
    if (chromium.empty()) {
      ADD_FAILURE()
          << "Chromium is not installed: the dashboard's browser test needs it (deploy/install-deps.sh "
             "installs the Debian package chromium; or set HPO_CHROMIUM to a Chromium binary)";
      return nullptr;
    }
    std::string error;
    auto browser = Browser::Launch(chromium, "http://127.0.0.1:" + std::to_string(http_port_) + path,
                                   dir_.path(), &error);
    EXPECT_NE(browser, nullptr) << error;
    return browser;
  }

  // Waits until the page's boolean `expression` holds; fails the test with what the page shows if not.
  void WaitForPage(const std::string& expression, std::chrono::milliseconds limit) {
    std::string error;
    if (browser_->WaitUntil(expression, limit, &error)) return;
    std::string shown;
    const auto body = browser_->Evaluate("document.body.innerText.slice(0, 2000)", &shown);
    ADD_FAILURE() << "the page never showed " << expression << "\n"
                  << error << "\n"
                  << (body ? body->string_value() : shown) << "\ncoordinator:\n"
                  << coordinator_->Log();
  }

  google::protobuf::Value Evaluate(const std::string& expression) {
    std::string error;
    auto value = browser_->Evaluate(expression, &error);
    EXPECT_TRUE(value.has_value()) << error;
    return value.value_or(google::protobuf::Value());
  }

  hpo::testing::TempDir dir_;
  std::unique_ptr<Process> coordinator_;
  std::unique_ptr<Process> worker_;
  std::unique_ptr<Browser> browser_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::StudyService::Stub> stub_;
  std::unique_ptr<v1::WorkerService::Stub> workers_;  // RegisterWorker's
  std::string token_;
  std::vector<std::string> token_env_;
  int grpc_port_ = 0;
  int http_port_ = 0;
};

TEST_F(DashboardTest, PageFollowsAStudyLiveAndShowsItsFrontAsTheCoordinatorHasIt) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  const uint64_t id = CreateStudy();
  ASSERT_GT(id, 0u);

  // Opened before any worker runs: the study is running with nothing done.
  browser_ = OpenBrowser("/#/studies/" + std::to_string(id));
  ASSERT_NE(browser_, nullptr);
  WaitForPage("document.body.dataset.ready === 'true' && !document.getElementById('study-view').hidden", 30s);
  auto page = Evaluate(kReadStudyPage);
  EXPECT_EQ(page.struct_value().fields().at("state").string_value(), "running");
  EXPECT_EQ(page.struct_value().fields().at("completed").number_value(), 0);
  EXPECT_TRUE(page.struct_value().fields().at("points").list_value().values().empty());
  EXPECT_EQ(Evaluate("document.getElementById('plot-empty').hidden").bool_value(), false);

  // The page polls: as the worker runs the study, the page shows it to the end without a reload.
  ASSERT_NO_FATAL_FAILURE(StartWorker());
  WaitForPage(
      "document.getElementById('study-state').textContent === 'completed' && "
      "document.querySelectorAll('#front-plot circle.trial').length === " +
          std::to_string(kTrials),
      60s);
  const v1::Study study = GetStudy(id);
  ASSERT_EQ(study.state(), v1::STUDY_COMPLETED);
  ASSERT_EQ(study.counts().completed(), kTrials);

  // One point per completed trial, each once; the highlighted ones are exactly GetParetoFront's.
  v1::ListTrialsResponse trials;
  {
    grpc::ClientContext context;
    v1::ListTrialsRequest request;
    request.set_study_id(id);
    ASSERT_TRUE(stub_->ListTrials(&context, request, &trials).ok());
  }
  std::set<double> completed;
  for (const auto& t : trials.trials()) {
    if (t.state() == v1::TRIAL_COMPLETED) completed.insert(static_cast<double>(t.id()));
  }
  v1::GetParetoFrontResponse front;
  {
    grpc::ClientContext context;
    v1::GetParetoFrontRequest request;
    request.set_study_id(id);
    ASSERT_TRUE(stub_->GetParetoFront(&context, request, &front).ok());
  }
  std::set<double> front_ids;
  for (const auto& t : front.trials()) front_ids.insert(static_cast<double>(t.id()));
  ASSERT_FALSE(front_ids.empty());

  // The page asks for the trials changed since its last answer: one more refresh (as when the tab is shown
  // again) asks with the cursor of the last answer, gets no trial back, and still shows them all.
  const std::string resources =
      "performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/trials?'))"
      ".map(n => Number(new URL(n).searchParams.get('updated_since')))";
  const int asked = Evaluate(resources).list_value().values_size();
  ASSERT_GE(asked, 1);
  EXPECT_EQ(Evaluate(resources).list_value().values(0).number_value(), 0);
  Evaluate("document.dispatchEvent(new Event('visibilitychange')); true");
  WaitForPage("(" + resources + ").length > " + std::to_string(asked) + " && (" + resources + ").pop() > 0",
              10s);
  WaitForPage("document.querySelectorAll('#front-plot circle.trial').length === " + std::to_string(kTrials),
              5s);

  page = Evaluate(kReadStudyPage);
  const auto& shown = page.struct_value().fields();
  const std::vector<double> points = Numbers(shown.at("points"));
  EXPECT_EQ(points.size(), completed.size());
  EXPECT_EQ(std::set<double>(points.begin(), points.end()), completed);
  const std::vector<double> highlighted = Numbers(shown.at("front"));
  EXPECT_EQ(highlighted.size(), front_ids.size());
  EXPECT_EQ(std::set<double>(highlighted.begin(), highlighted.end()), front_ids);
  EXPECT_EQ(shown.at("frontLine").number_value(), 1);
  EXPECT_EQ(shown.at("completed").number_value(), kTrials);
  EXPECT_EQ(shown.at("progressCompleted").number_value(), kTrials);
  EXPECT_EQ(shown.at("rows").number_value(), trials.trials_size());
  EXPECT_EQ(shown.at("xLabel").string_value(), "f1 (minimize, ← better)");
  EXPECT_EQ(shown.at("yLabel").string_value(), "f2 (minimize, ↓ better)");

  // Hover over a point of the front: the tooltip shows that trial's parameters and metrics.
  const uint64_t hovered = front.trials(0).id();
  const auto tooltip = Evaluate(
      "(() => { const c = document.querySelector('#front-plot circle.trial[data-trial-id=\"" +
      std::to_string(hovered) +
      "\"]'); const r = c.getBoundingClientRect();"
      " c.dispatchEvent(new MouseEvent('mouseenter', {clientX: r.x + 2, clientY: r.y + 2}));"
      " const t = document.getElementById('tooltip'); return {hidden: t.hidden, text: t.innerText}; })()");
  const auto& tip = tooltip.struct_value().fields();
  EXPECT_FALSE(tip.at("hidden").bool_value());
  const std::string text = tip.at("text").string_value();
  EXPECT_NE(text.find("trial " + std::to_string(front.trials(0).number())), std::string::npos) << text;
  EXPECT_NE(text.find("on the front"), std::string::npos) << text;
  for (const char* name : {"f1", "f2", "x1", "x4"})
    EXPECT_NE(text.find(name), std::string::npos) << name << text;

  // Clicking the f2 header sorts the table by f2, best first; clicking again reverses it. Ties keep the
  // trials' order by number either way, as the page breaks them. Each click re-renders the table at once;
  // the whole order is compared, with the header's aria-sort saying which way it is sorted.
  const auto click_f2 = [&] {
    const auto table = Evaluate(
        "(() => { document.querySelector('#trials-table th[data-key=\"m:f2\"]').click();"
        " return {sort: document.querySelector('#trials-table th[data-key=\"m:f2\"]')"
        ".getAttribute('aria-sort'), ids: [...document.querySelectorAll('#trials-table tbody tr')]"
        ".map((r) => Number(r.dataset.trialId))}; })()");
    return std::make_pair(table.struct_value().fields().at("sort").string_value(),
                          Numbers(table.struct_value().fields().at("ids")));
  };
  std::vector<const v1::Trial*> by_f2;
  for (const v1::Trial& t : trials.trials()) by_f2.push_back(&t);
  const auto order = [&](bool ascending) {
    std::vector<const v1::Trial*> sorted = by_f2;
    std::stable_sort(sorted.begin(), sorted.end(), [&](const v1::Trial* a, const v1::Trial* b) {
      const double fa = a->metrics().at("f2"), fb = b->metrics().at("f2");
      if (fa != fb) return ascending ? fa < fb : fa > fb;
      return a->number() < b->number();
    });
    std::vector<double> ids;
    for (const v1::Trial* t : sorted) ids.push_back(static_cast<double>(t->id()));
    return ids;
  };
  const auto ascending = click_f2();
  EXPECT_EQ(ascending.first, "ascending");
  EXPECT_EQ(ascending.second, order(true));
  const auto descending = click_f2();
  EXPECT_EQ(descending.first, "descending");
  EXPECT_EQ(descending.second, order(false));

  // The list of studies shows it, completed.
  std::string error;
  ASSERT_TRUE(browser_->Evaluate("window.location.hash = '#/'", &error).has_value()) << error;
  WaitForPage(
      "document.querySelector('#studies-table tr[data-study-id=\"" + std::to_string(id) + "\"]') !== null",
      15s);
  EXPECT_EQ(Evaluate("document.querySelector('#studies-table tr[data-study-id=\"" + std::to_string(id) +
                     "\"] .badge').textContent")
                .string_value(),
            "completed");
}

TEST_F(DashboardTest, MetricsAgreeWithTheStudyAndReflectionListsTheServices) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  const uint64_t id = CreateStudy();
  ASSERT_NO_FATAL_FAILURE(StartWorker());
  ASSERT_TRUE(WaitFor([&] { return GetStudy(id).state() != v1::STUDY_RUNNING; }, 60s)) << worker_->Log();
  ASSERT_EQ(GetStudy(id).counts().completed(), kTrials);

  HttpClient http(http_port_);
  const std::string n = std::to_string(kTrials);
  // The gRPC counters count a call once its answer is sent, which may be after the study's state changed:
  // wait until the last CompleteTrial is counted.
  const std::string last_complete =
      "grpc_server_handled_total{grpc_service=\"hpo.v1.WorkerService\",grpc_method=\"CompleteTrial\","
      "grpc_code=\"OK\"} " +
      n + "\n";
  EXPECT_TRUE(
      WaitFor([&] { return http.Get("/metrics").body.find(last_complete) != std::string::npos; }, 15s));
  const auto metrics = http.Get("/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.error;
  EXPECT_EQ(metrics.headers.at("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string study = std::to_string(id);
  for (const std::string& line : std::vector<std::string>{
           "hpo_study_trials{study_id=\"" + study + "\",state=\"completed\"} " + n + "\n",
           "hpo_study_trials{study_id=\"" + study + "\",state=\"running\"} 0\n",
           "hpo_trials{state=\"completed\"} " + n + "\n",
           "hpo_studies{state=\"completed\"} 1\n",
           "hpo_leases_held 0\n",
           "hpo_workers_registered 1\n",
           "grpc_server_handled_total{grpc_service=\"hpo.v1.StudyService\",grpc_method=\"CreateStudy\","
           "grpc_code=\"OK\"} 1\n",
           "grpc_server_handled_total{grpc_service=\"hpo.v1.WorkerService\",grpc_method=\"CompleteTrial\","
           "grpc_code=\"OK\"} " +
               n + "\n",
           "grpc_server_handled_total{grpc_service=\"hpo.v1.WorkerService\",grpc_method=\"RegisterWorker\","
           "grpc_code=\"OK\"} 1\n",
           "grpc_server_handling_seconds_count{grpc_service=\"hpo.v1.WorkerService\",grpc_method="
           "\"CompleteTrial\"} " +
               n + "\n",
       }) {
    EXPECT_NE(metrics.body.find(line), std::string::npos) << line << "\nin\n" << metrics.body;
  }
  EXPECT_NE(metrics.body.find("hpo_commit_seconds_count "), std::string::npos);
  EXPECT_NE(metrics.body.find("hpo_commit_group_size_bucket{le=\"+Inf\"} "), std::string::npos);

  // The JSON API agrees too.
  const auto summary = http.Get("/api/v1/studies/" + study);
  ASSERT_EQ(summary.status, 200);
  EXPECT_NE(summary.body.find("\"completed\":" + n + ","), std::string::npos) << summary.body;
  EXPECT_NE(summary.body.find("\"hypervolume\":{\"value\":"), std::string::npos) << summary.body;

  // Server reflection: list_services (field 7 of ServerReflectionRequest, empty) over the raw stream.
  grpc::GenericStub generic(channel_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  grpc::CompletionQueue cq;
  auto call =
      generic.PrepareCall(&context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag = nullptr;
  bool ok = false;
  const auto step = [&](intptr_t want) {
    ASSERT_TRUE(cq.Next(&tag, &ok));
    ASSERT_EQ(reinterpret_cast<intptr_t>(tag), want);
    ASSERT_TRUE(ok);
  };
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_NO_FATAL_FAILURE(step(1));
  const std::string list_services("\x3a\x00", 2);
  grpc::Slice slice(list_services.data(), list_services.size());
  grpc::ByteBuffer request(&slice, 1);
  call->Write(request, reinterpret_cast<void*>(2));
  ASSERT_NO_FATAL_FAILURE(step(2));
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(3));
  ASSERT_NO_FATAL_FAILURE(step(3));
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  for (const char* service : {"hpo.v1.StudyService", "hpo.v1.WorkerService", "grpc.health.v1.Health"}) {
    EXPECT_NE(bytes.find(service), std::string::npos) << service;
  }
  call->WritesDone(reinterpret_cast<void*>(4));
  ASSERT_NO_FATAL_FAILURE(step(4));
  grpc::Status finished;
  call->Finish(&finished, reinterpret_cast<void*>(5));
  ASSERT_NO_FATAL_FAILURE(step(5));
  EXPECT_TRUE(finished.ok()) << finished.error_message();
}

TEST_F(DashboardTest, WithATokenThePageAsksForItThenKeepsItOutOfTheAddress) {
  token_ = kToken;
  token_env_ = {std::string("HPO_TOKEN=") + kToken};
  ASSERT_NO_FATAL_FAILURE(StartCoordinator(token_env_));
  const uint64_t id = CreateStudy();
  ASSERT_GT(id, 0u);

  HttpClient http(http_port_);
  EXPECT_EQ(http.Get("/metrics").status, 401);
  EXPECT_EQ(http.Get("/api/v1/studies").status, 401);
  EXPECT_EQ(http.Get("/metrics", {{"Authorization", std::string("Bearer ") + kToken}}).status, 200);
  EXPECT_EQ(http.Get("/").status, 200);  // the page itself holds no study data

  // Without the token the page shows its form; given the token, it lists the study.
  browser_ = OpenBrowser("/");
  ASSERT_NE(browser_, nullptr);
  WaitForPage("!document.getElementById('token-form').hidden", 30s);
  std::string error;
  ASSERT_TRUE(browser_
                  ->Evaluate(std::string("document.getElementById('token-input').value = '") + kToken +
                                 "'; document.getElementById('token-form').requestSubmit(); true",
                             &error)
                  .has_value())
      << error;
  WaitForPage(
      "document.querySelector('#studies-table tr[data-study-id=\"" + std::to_string(id) + "\"]') !== null",
      15s);

  // Opened as /?token=..., the page takes the token and drops it from the address.
  ASSERT_TRUE(browser_
                  ->Evaluate("sessionStorage.clear(); window.location.href = '/?token=" +
                                 std::string(kToken) + "#/studies/" + std::to_string(id) + "'; true",
                             &error)
                  .has_value())
      << error;
  WaitForPage(
      "document.body.dataset.ready === 'true' && !document.getElementById('study-view').hidden && "
      "document.getElementById('study-state').textContent === 'running'",
      30s);
  EXPECT_EQ(Evaluate("window.location.search").string_value(), "");
  EXPECT_EQ(Evaluate("window.location.hash").string_value(), "#/studies/" + std::to_string(id));
  EXPECT_EQ(Evaluate("sessionStorage.getItem('hpo-token')").string_value(), kToken);
}

TEST_F(DashboardTest, PrunedTrialsAreDoneInTheirOwnColourNotFailed) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  // An ask/tell study with ASHA over 9 steps, driven here: trials of quality 0.9, 0.1, 0.2 and 0.95 in
  // turn, each reporting its quality at every step. At rung 0 (step 1) the second and third rank below
  // the best of 2 and 3 and are pruned; the others complete.
  v1::Study study = CreateExternalStudy(R"({
      "name": "dashboard asha",
      "parameters": [{"name": "x", "float": {"low": 0, "high": 1}}],
      "objectives": [{"name": "quality", "direction": "MAXIMIZE"}],
      "algorithm": {"random": {}},
      "budget": {"max_trials": 4, "max_parallel": 1},
      "task": {"external": {}},
      "pruner": {"asha": {"max_resource": 9}},
      "seed": 2})");
  const uint64_t worker = RegisterWorker("dashboard-test");
  int pruned = 0;
  for (const double quality : {0.9, 0.1, 0.2, 0.95}) {
    const v1::AcquireTrialResponse trial = Acquire(worker, study.id());
    ASSERT_TRUE(trial.has_trial());
    bool stopped = false;
    for (uint64_t step = 1; step <= 9 && !stopped; ++step)
      stopped = Report(worker, trial, step, {{"quality", quality}});
    if (stopped) {
      ++pruned;
      continue;
    }
    Complete(worker, trial, {{"quality", quality}});
  }
  ASSERT_EQ(pruned, 2);
  study = GetStudy(study.id());
  ASSERT_EQ(study.state(), v1::STUDY_COMPLETED);
  ASSERT_EQ(study.counts().pruned(), 2u);

  browser_ = OpenBrowser("/#/studies/" + std::to_string(study.id()));
  ASSERT_NE(browser_, nullptr);
  WaitForPage(
      "document.body.dataset.ready === 'true' && !document.getElementById('study-view').hidden && "
      "document.querySelectorAll('#trials-table tbody tr').length === 4",
      30s);
  // Counted as done, beside the completed ones, and named.
  EXPECT_EQ(Evaluate("document.getElementById('trial-count').textContent").string_value(),
            "4 of 4 trials done");
  EXPECT_EQ(Evaluate("document.getElementById('trial-count').dataset.pruned").string_value(), "2");
  EXPECT_EQ(Evaluate("document.getElementById('progress-detail').textContent").string_value(),
            "(2 completed, 2 pruned, 0 failed, 0 running)");
  EXPECT_EQ(Evaluate("document.querySelector('#progress .segment.pruned').style.width").string_value(),
            "50%");
  // Each pruned row has a "pruned" badge in amber: not the failed red, not the completed green.
  const auto badges = Evaluate(
      "[...document.querySelectorAll('#trials-table tbody tr[data-state=\"pruned\"] .badge')].map(b => "
      "b.textContent + ' ' + getComputedStyle(b).backgroundColor)");
  ASSERT_EQ(badges.list_value().values_size(), 2);
  for (const auto& badge : badges.list_value().values()) {
    EXPECT_EQ(badge.string_value(), "pruned rgb(240, 140, 0)");
  }
  EXPECT_EQ(Evaluate("getComputedStyle(document.querySelector('#progress .segment.pruned')).backgroundColor")
                .string_value(),
            "rgb(240, 140, 0)");
}

// The Workers card on the studies page (coordinator/dashboard/workers.js) lists the worker live with its
// slots, and a study's page says it waits while no live worker can run it, and stops saying so once one
// can.
TEST_F(DashboardTest, WorkersAreListedAndAStudyWithoutOneSaysItWaits) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  const uint64_t id = CreateStudy();
  ASSERT_GT(id, 0u);
  browser_ = OpenBrowser("/#/studies/" + std::to_string(id));
  ASSERT_NE(browser_, nullptr);
  WaitForPage("document.body.dataset.ready === 'true' && !document.getElementById('study-view').hidden", 30s);
  WaitForPage(
      "!!document.getElementById('study-waiting') && !document.getElementById('study-waiting').hidden", 15s);
  EXPECT_EQ(Evaluate("document.getElementById('study-waiting').textContent").string_value(),
            "waiting: no live worker");

  ASSERT_NO_FATAL_FAILURE(StartWorker());
  WaitForPage("document.getElementById('study-waiting').hidden", 30s);
  std::string error;
  ASSERT_TRUE(browser_->Evaluate("window.location.hash = '#/'; true", &error).has_value()) << error;
  WaitForPage("document.querySelector('#workers-table tr[data-state=\"live\"]') !== null", 15s);
  const auto row = Evaluate(
      "[...document.querySelectorAll('#workers-table tbody tr')].map(r => [...r.cells].map(c => "
      "c.textContent))");
  ASSERT_EQ(row.list_value().values_size(), 1);
  const auto& cells = row.list_value().values(0).list_value().values();
  ASSERT_EQ(cells.size(), 7);
  EXPECT_EQ(cells[2].string_value(), "live");
  EXPECT_EQ(cells[5].string_value().substr(cells[5].string_value().size() - 4), " / 2");
  EXPECT_NE(
      Evaluate("document.getElementById('workers-note').textContent").string_value().find("1 live of 1"),
      std::string::npos);
}

// The study's analysis views, each plotting exactly the API's numbers: an ask/tell study with a log-scaled
// float, an int, a categorical and a conditional parameter, two objectives, and ASHA pruning some trials.
// The loss depends on lr alone and the latency on width (and act), so importance ranks them first.
// The test leaves a screenshot of the page: $HPO_DASHBOARD_SCREENSHOT names where (docs/dashboard-study.png
// in the README is one), else the test's directory.
TEST_F(DashboardTest, AnalysisViewsPlotTheApisNumbers) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  v1::Study study = CreateExternalStudy(R"({
      "name": "dashboard views",
      "parameters": [
        {"name": "lr", "float": {"low": 0.0001, "high": 0.1, "log": true}},
        {"name": "width", "int": {"low": 16, "high": 256}},
        {"name": "act", "categorical": {"choices": ["relu", "gelu", "tanh"]}},
        {"name": "slope", "float": {"low": 0.0, "high": 0.3},
         "condition": {"parent": "act", "values": ["relu"]}}],
      "objectives": [{"name": "loss", "direction": "MINIMIZE"}, {"name": "latency_ms", "direction": "MINIMIZE"}],
      "algorithm": {"random": {}},
      "budget": {"max_trials": 60, "max_parallel": 1},
      "task": {"external": {}},
      "pruner": {"asha": {"max_resource": 6, "min_resource": 2}},
      "seed": 8})");
  const uint64_t worker = RegisterWorker("views-test");
  for (int i = 0; i < 60; ++i) {
    const v1::AcquireTrialResponse trial = Acquire(worker, study.id());
    ASSERT_TRUE(trial.has_trial());
    const auto& params = trial.trial().params();
    const double loss = std::pow(std::log10(params.at("lr").double_value()) + 2.5, 2) + 0.1;
    const double latency = static_cast<double>(params.at("width").int_value()) / 100.0 +
                           (params.at("act").string_value() == "tanh" ? 0.5 : 0.0);
    bool stopped = false;
    for (uint64_t step = 1; step <= 6 && !stopped; ++step) {
      // multi-objective ASHA ranks by both
      stopped = Report(worker, trial, step,
                       {{"loss", loss * (1.0 + 1.0 / static_cast<double>(step))}, {"latency_ms", latency}});
    }
    if (stopped) continue;
    Complete(worker, trial, {{"loss", loss}, {"latency_ms", latency}});
  }
  study = GetStudy(study.id());
  ASSERT_EQ(study.state(), v1::STUDY_COMPLETED);
  ASSERT_GT(study.counts().pruned(), 0u);
  ASSERT_GE(study.counts().completed(), 12u);

  // What the coordinator holds, over gRPC.
  v1::ListTrialsResponse trials;
  {
    grpc::ClientContext context;
    v1::ListTrialsRequest request;
    request.set_study_id(study.id());
    request.set_include_history(true);
    ASSERT_TRUE(stub_->ListTrials(&context, request, &trials).ok());
  }
  v1::AnalyzeStudyResponse analysis;
  {
    grpc::ClientContext context;
    v1::AnalyzeStudyRequest request;
    request.set_study_id(study.id());
    ASSERT_TRUE(stub_->AnalyzeStudy(&context, request, &analysis).ok());
  }
  ASSERT_EQ(analysis.importance_size(), 2);
  EXPECT_EQ(analysis.importance(0).parameters(0).parameter(), "lr");
  EXPECT_EQ(analysis.importance(1).parameters(0).parameter(), "width");
  std::set<double> front_ids;
  for (const auto& t : analysis.front().trials()) front_ids.insert(static_cast<double>(t.trial_id()));

  browser_ = OpenBrowser("/#/studies/" + std::to_string(study.id()));
  ASSERT_NE(browser_, nullptr);
  WaitForPage(
      "document.querySelectorAll('#importance-plots rect.importance-bar').length === 8 && "
      "document.querySelectorAll('#parallel-plot path.pc-line').length === " +
          std::to_string(study.counts().completed()),
      30s);

  // History: one point per finished trial at its number and value; the best-so-far line over the
  // completed ones; the hypervolume trial by trial as AnalyzeStudy has it.
  std::map<double, std::pair<double, double>> finished;  // id -> (number, loss)
  std::vector<std::pair<double, double>> best;
  for (const v1::Trial& t : trials.trials()) {
    if (t.state() != v1::TRIAL_COMPLETED && t.state() != v1::TRIAL_PRUNED) continue;
    finished[static_cast<double>(t.id())] = {t.number(), t.metrics().at("loss")};
    if (t.state() != v1::TRIAL_COMPLETED) continue;
    const double v = t.metrics().at("loss");
    best.emplace_back(t.number(), best.empty() ? v : std::min(v, best.back().second));
  }
  const auto history = Evaluate(
      "[...document.querySelectorAll('#history-plot circle.history-point')].map(c => "
      "[Number(c.dataset.trialId), "
      "Number(c.dataset.number), Number(c.dataset.value)])");
  std::map<double, std::pair<double, double>> plotted;
  for (const auto& p : history.list_value().values()) {
    const auto& v = p.list_value().values();
    plotted[v[0].number_value()] = {v[1].number_value(), v[2].number_value()};
  }
  EXPECT_EQ(plotted, finished);
  google::protobuf::ListValue best_line;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(
          Evaluate("document.querySelector('#history-plot path.best-line').dataset.points").string_value(),
          &best_line)
          .ok());
  ASSERT_EQ(best_line.values_size(), static_cast<int>(best.size()));
  for (size_t i = 0; i < best.size(); ++i) {
    EXPECT_EQ(best_line.values(static_cast<int>(i)).list_value().values(0).number_value(), best[i].first);
    EXPECT_EQ(best_line.values(static_cast<int>(i)).list_value().values(1).number_value(), best[i].second);
  }
  const auto hv = Evaluate(
      "[...document.querySelectorAll('#hv-plot circle.hv-point')].map(c => [Number(c.dataset.number), "
      "Number(c.dataset.value)])");
  ASSERT_EQ(hv.list_value().values_size(), analysis.front().history_size());
  for (int i = 0; i < analysis.front().history_size(); ++i) {
    EXPECT_EQ(hv.list_value().values(i).list_value().values(0).number_value(),
              analysis.front().history(i).number());
    EXPECT_DOUBLE_EQ(hv.list_value().values(i).list_value().values(1).number_value(),
                     analysis.front().history(i).hypervolume());
  }

  // Importance: every bar is AnalyzeStudy's number, in its order.
  const auto bars = Evaluate(
      "[...document.querySelectorAll('#importance-plots rect.importance-bar')].map(b => "
      "[b.dataset.objective, "
      "b.dataset.parameter, Number(b.dataset.importance)])");
  int bar = 0;
  for (const auto& objective : analysis.importance()) {
    for (const auto& p : objective.parameters()) {
      const auto& shown = bars.list_value().values(bar++).list_value().values();
      EXPECT_EQ(shown[0].string_value(), objective.objective());
      EXPECT_EQ(shown[1].string_value(), p.parameter());
      EXPECT_DOUBLE_EQ(shown[2].number_value(), p.importance());
    }
  }

  // Slices: one plot per parameter, in the spec's order; lr's points are the completed trials' (lr,
  // loss); slope's only those of trials where it is active (act = relu).
  EXPECT_EQ(Evaluate("[...document.querySelectorAll('#slice-plots svg.slice-plot')].map(s => "
                     "s.dataset.parameter).join(',')")
                .string_value(),
            "lr,width,act,slope");
  const auto slice_points = [&](const std::string& param) {
    const auto points =
        Evaluate("[...document.querySelectorAll('#slice-plots circle.slice-point[data-parameter=\"" + param +
                 "\"]')].map(c => [Number(c.dataset.trialId), c.dataset.x, Number(c.dataset.y)])");
    std::map<double, std::pair<std::string, double>> out;
    for (const auto& p : points.list_value().values()) {
      const auto& v = p.list_value().values();
      out[v[0].number_value()] = {v[1].string_value(), v[2].number_value()};
    }
    return out;
  };
  std::map<double, std::pair<std::string, double>> lr_expected, slope_expected;
  for (const v1::Trial& t : trials.trials()) {
    if (t.state() != v1::TRIAL_COMPLETED) continue;
    const double id = static_cast<double>(t.id());
    lr_expected[id] = {"", t.metrics().at("loss")};
    if (t.params().contains("slope")) slope_expected[id] = {"", t.metrics().at("loss")};
  }
  auto lr_points = slice_points("lr");
  ASSERT_EQ(lr_points.size(), lr_expected.size());
  for (const v1::Trial& t : trials.trials()) {
    if (t.state() != v1::TRIAL_COMPLETED) continue;
    const auto& shown = lr_points.at(static_cast<double>(t.id()));
    EXPECT_DOUBLE_EQ(std::stod(shown.first), t.params().at("lr").double_value());
    EXPECT_EQ(shown.second, t.metrics().at("loss"));
  }
  auto slope_points = slice_points("slope");
  EXPECT_EQ(slope_points.size(), slope_expected.size());
  for (const auto& [id, value] : slope_expected) EXPECT_TRUE(slope_points.contains(id)) << id;

  // Parallel coordinates: one line per completed trial, the front's highlighted; brushing loss keeps
  // exactly the trials in the range, in the plot and in the table.
  const auto pc_front = Evaluate(
      "[...document.querySelectorAll('#parallel-plot path.pc-line.front')].map(p => "
      "Number(p.dataset.trialId))");
  std::set<double> pc_front_ids;
  for (const auto& v : pc_front.list_value().values()) pc_front_ids.insert(v.number_value());
  EXPECT_EQ(pc_front_ids, front_ids);
  std::vector<double> losses;
  for (const v1::Trial& t : trials.trials()) {
    if (t.state() == v1::TRIAL_COMPLETED) losses.push_back(t.metrics().at("loss"));
  }
  std::sort(losses.begin(), losses.end());
  const double low = losses[losses.size() / 4], high = losses[losses.size() / 2];
  std::set<double> in_range;
  for (const v1::Trial& t : trials.trials()) {
    if (t.state() == v1::TRIAL_COMPLETED && t.metrics().at("loss") >= low && t.metrics().at("loss") <= high)
      in_range.insert(static_cast<double>(t.id()));
  }
  const auto brushed = Evaluate("hpoBrush('m:loss', " + FormatDouble(low) + ", " + FormatDouble(high) + ")");
  std::set<double> brushed_ids;
  for (const auto& v : brushed.list_value().values()) brushed_ids.insert(v.number_value());
  EXPECT_EQ(brushed_ids, in_range);
  const auto table_ids = [&] {
    const auto ids = Evaluate(
        "[...document.querySelectorAll('#trials-table tbody tr')].map(r => Number(r.dataset.trialId))");
    std::set<double> out;
    for (const auto& v : ids.list_value().values()) out.insert(v.number_value());
    return out;
  };
  EXPECT_EQ(table_ids(), in_range);
  Evaluate("hpoBrush('m:loss', null)");
  EXPECT_EQ(table_ids().size(), static_cast<size_t>(trials.trials_size()));
  // A drag with the pointer along the loss axis, from its top to its middle, brushes that range: the
  // trials left, in the plot and in the table, are exactly those whose loss lies in it.
  const auto dragged = Evaluate(R"JS((() => {
    const hit = document.querySelector('#parallel-plot g.pc-axis[data-key="m:loss"] rect.pc-hit');
    const r = hit.getBoundingClientRect();
    const x = r.x + r.width / 2;
    hit.dispatchEvent(new PointerEvent('pointerdown', {clientX: x, clientY: r.y + 1, bubbles: true}));
    window.dispatchEvent(new PointerEvent('pointermove', {clientX: x, clientY: r.y + r.height / 2}));
    window.dispatchEvent(new PointerEvent('pointerup', {clientX: x, clientY: r.y + r.height / 2}));
    const b = document.querySelector('#parallel-plot rect.pc-brush[data-key="m:loss"]');
    return {low: Number(b.dataset.low), high: Number(b.dataset.high),
      ids: [...document.querySelectorAll('#parallel-plot path.pc-line:not(.dimmed)')]
          .map(p => Number(p.dataset.trialId))};
  })())JS");
  const auto& drag = dragged.struct_value().fields();
  const double drag_low = drag.at("low").number_value(), drag_high = drag.at("high").number_value();
  EXPECT_LT(drag_low, drag_high);
  std::set<double> in_drag;
  for (const v1::Trial& t : trials.trials()) {
    const double v = t.state() == v1::TRIAL_COMPLETED ? t.metrics().at("loss") : -1;
    if (t.state() == v1::TRIAL_COMPLETED && v >= drag_low && v <= drag_high)
      in_drag.insert(static_cast<double>(t.id()));
  }
  std::set<double> dragged_ids;
  for (const auto& v : drag.at("ids").list_value().values()) dragged_ids.insert(v.number_value());
  EXPECT_EQ(dragged_ids, in_drag);
  EXPECT_EQ(table_ids(), in_drag);
  Evaluate("document.getElementById('parallel-clear').click(); true");
  EXPECT_EQ(table_ids().size(), static_cast<size_t>(trials.trials_size()));

  // Learning curves: each trial's reported steps, pruned ones marked.
  const auto curves = Evaluate(
      "[...document.querySelectorAll('#curves-plot path.curve')].map(p => [Number(p.dataset.trialId), "
      "p.dataset.state, p.dataset.points])");
  std::map<double, std::pair<std::string, std::string>> shown_curves;
  for (const auto& c : curves.list_value().values()) {
    const auto& v = c.list_value().values();
    shown_curves[v[0].number_value()] = {v[1].string_value(), v[2].string_value()};
  }
  ASSERT_EQ(shown_curves.size(), static_cast<size_t>(trials.trials_size()));
  int pruned_curves = 0;
  for (const v1::Trial& t : trials.trials()) {
    const auto& [state, points_json] = shown_curves.at(static_cast<double>(t.id()));
    google::protobuf::ListValue points;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(points_json, &points).ok());
    ASSERT_EQ(points.values_size(), t.history().steps_size());
    for (int i = 0; i < points.values_size(); ++i) {
      EXPECT_EQ(points.values(i).list_value().values(0).number_value(), t.history().steps(i).step());
      EXPECT_EQ(points.values(i).list_value().values(1).number_value(),
                t.history().steps(i).metrics().at("loss"));
    }
    if (t.state() == v1::TRIAL_PRUNED) {
      EXPECT_EQ(state, "pruned");
      ++pruned_curves;
    }
  }
  EXPECT_EQ(pruned_curves, static_cast<int>(study.counts().pruned()));

  // The trials table: parameters in the spec's order before the metrics; filters by state, the front and
  // a parameter range; numbers sort as numbers.
  EXPECT_EQ(Evaluate("[...document.querySelectorAll('#trials-table thead th')].slice(0, 10).map(h => "
                     "h.dataset.key).join(',')")
                .string_value(),
            "number,id,state,front,p:lr,p:width,p:act,p:slope,m:loss,m:latency_ms");
  const auto set_filter = [&](const std::string& id, const std::string& value) {
    Evaluate("(() => { const e = document.getElementById('" + id + "'); const v = '" + value +
             "'; if (e.type === 'checkbox') e.checked = v === 'true'; else e.value = v; e.dispatchEvent(new "
             "Event(e.type === 'checkbox' ? 'change' : 'input'));"
             " return true; })()");
  };
  set_filter("filter-state", "pruned");
  EXPECT_EQ(table_ids().size(), study.counts().pruned());
  set_filter("filter-state", "");
  set_filter("filter-front", "true");
  EXPECT_EQ(table_ids(), front_ids);
  set_filter("filter-front", "false");
  set_filter("filter-param", "width");
  set_filter("filter-min", "64");
  set_filter("filter-max", "128");
  std::set<double> width_range;
  for (const v1::Trial& t : trials.trials()) {
    const int64_t w = t.params().at("width").int_value();
    if (w >= 64 && w <= 128) width_range.insert(static_cast<double>(t.id()));
  }
  EXPECT_EQ(table_ids(), width_range);
  set_filter("filter-param", "");
  set_filter("filter-min", "");
  set_filter("filter-max", "");
  const auto widths = Evaluate(
      "(() => { document.querySelector('#trials-table th[data-key=\"p:width\"]').click();"
      " const col = [...document.querySelectorAll('#trials-table thead th')].findIndex(h => h.dataset.key "
      "=== 'p:width');"
      " return [...document.querySelectorAll('#trials-table tbody tr')].map(r => "
      "Number(r.children[col].textContent)); })()");
  std::vector<double> sorted_widths;
  for (const auto& v : widths.list_value().values()) sorted_widths.push_back(v.number_value());
  ASSERT_EQ(sorted_widths.size(), static_cast<size_t>(trials.trials_size()));
  EXPECT_TRUE(std::is_sorted(sorted_widths.begin(), sorted_widths.end()));

  // The screenshot the README shows.
  const char* target = std::getenv("HPO_DASHBOARD_SCREENSHOT");
  const std::string png = target != nullptr && *target != '\0' ? target : dir_.File("dashboard-study.png");
  std::string error;
  Evaluate(
      "document.querySelector('#trials-table th[data-key=\"number\"]').click(); window.scrollTo(0, 0); true");
  ASSERT_TRUE(browser_->Screenshot(png, 1280, &error)) << error;
  EXPECT_EQ(ReadFile(png).substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

}  // namespace
}  // namespace hpo
