// The dashboard's routes over a real Core on a temporary database, without sockets: the page and its
// assets, the JSON API (studies, one study with its hypervolume, trials, the front), errors that name
// what is wrong, the token on the API and /metrics only, the Host check, and the /metrics text.
#include "coordinator/dashboard_api.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"

namespace hpo::coordinator {
namespace {

google::protobuf::Value ParseJson(const std::string& text) {
  google::protobuf::Value value;
  const auto status = google::protobuf::util::JsonStringToMessage(text, &value);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << text;
  return value;
}

const google::protobuf::Value& Field(const google::protobuf::Value& object, const std::string& name) {
  static const google::protobuf::Value kNull;
  const auto& fields = object.struct_value().fields();
  const auto it = fields.find(name);
  EXPECT_NE(it, fields.end()) << "no field " << name;
  return it == fields.end() ? kNull : it->second;
}

std::string Header(const HttpResponse& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

class DashboardApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto store = storage::Store::Open(dir_.File("hpo.db"));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    auto core = Core::Open(store_.get(), CoreOptions{});
    ASSERT_TRUE(core.ok()) << core.status().ToString();
    core_ = std::move(*core);
  }
  void TearDown() override {
    core_.reset();
    store_.reset();
  }

  // A study of four trials completed with the given (f1, f2), both minimised: (1,4), (2,2), (3,3), (4,1)
  // by default, whose front is the first, second and fourth.
  uint64_t RunStudy(const std::vector<std::pair<double, double>>& results = {
                        {1, 4}, {2, 2}, {3, 3}, {4, 1}}) {
    v1::StudySpec spec;
    spec.set_name("dash \"quoted\"");
    spec.set_seed(3);
    spec.mutable_task()->mutable_synthetic()->set_function("zdt1");
    spec.mutable_task()->mutable_synthetic()->set_dims(2);
    for (const char* name : {"f1", "f2"}) spec.add_objectives()->set_name(name);
    spec.mutable_budget()->set_max_trials(std::max<uint32_t>(1, static_cast<uint32_t>(results.size())));
    auto study = core_->CreateStudy(spec);
    EXPECT_TRUE(study.ok()) << study.status().ToString();
    v1::RegisterWorkerRequest worker;
    worker.set_name("w");
    worker.set_slots(1);
    const uint64_t worker_id = core_->RegisterWorker(worker)->worker_id();
    for (const auto& [f1, f2] : results) {
      auto acquired = core_->TryAcquire(worker_id);
      EXPECT_TRUE(acquired.ok() && acquired->has_value());
      if (!acquired.ok() || !acquired->has_value()) break;
      v1::CompleteTrialRequest done;
      done.set_worker_id(worker_id);
      done.set_trial_id((*acquired)->trial().id());
      done.set_lease_token((*acquired)->lease().token());
      (*done.mutable_metrics())["f1"] = f1;
      (*done.mutable_metrics())["f2"] = f2;
      trial_ids_.push_back((*acquired)->trial().id());
      EXPECT_TRUE(core_->CompleteTrial(done).ok());
    }
    return study->id();
  }

  HttpResponse Get(DashboardApi& api, const std::string& target, const std::string& authorization = "",
                   const std::string& host = "127.0.0.1:8080") {
    return api.Handle(HttpRequest{"GET", target, host, authorization});
  }

  hpo::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Core> core_;
  std::vector<uint64_t> trial_ids_;
};

TEST_F(DashboardApiTest, ServesThePageAndItsAssetsFromTheBinary) {
  DashboardApi api(core_.get(), nullptr, nullptr);
  const HttpResponse page = Get(api, "/");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("<script src=\"/app.js\""), std::string::npos);
  EXPECT_NE(page.body.find("id=\"front-plot\""), std::string::npos);
  EXPECT_EQ(Get(api, "/index.html").body, page.body);
  // Nothing from elsewhere: the policy lets the page load only what this server serves.
  EXPECT_NE(Header(page, "Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(page.body.find("http://"), std::string::npos);
  EXPECT_EQ(page.body.find("https://"), std::string::npos);

  const HttpResponse js = Get(api, "/app.js");
  ASSERT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_NE(js.body.find("class: onFront ? 'trial front' : infeasible ? 'trial infeasible' : 'trial'"),
            std::string::npos);
  const HttpResponse css = Get(api, "/style.css");
  ASSERT_EQ(css.status, 200);
  EXPECT_EQ(css.content_type, "text/css; charset=utf-8");
  EXPECT_EQ(Header(css, "X-Content-Type-Options"), "nosniff");

  const HttpResponse health = Get(api, "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
}

TEST_F(DashboardApiTest, AnswersUnknownPathsAndMethodsWithJsonErrors) {
  DashboardApi api(core_.get(), nullptr, nullptr);
  const HttpResponse missing = Get(api, "/nothing/here");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.content_type, "application/json");
  EXPECT_EQ(Field(ParseJson(missing.body), "error").string_value(), "no such path: /nothing/here");
  EXPECT_EQ(Get(api, "/api/v1/studiesX").status, 404);
  EXPECT_EQ(Get(api, "/app.js/").status, 404);

  const HttpResponse post = api.Handle(HttpRequest{"POST", "/api/v1/studies", "", ""});
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(Header(post, "Allow"), "GET, HEAD");
  EXPECT_EQ(api.Handle(HttpRequest{"HEAD", "/", "", ""}).status, 200);  // the server drops the body
}

TEST_F(DashboardApiTest, BadStudyIdsAre400AndUnknownOnes404NamingTheId) {
  DashboardApi api(core_.get(), nullptr, nullptr);
  for (const char* bad : {"abc", "0", "-1", "1.5", "18446744073709551616", ""}) {
    SCOPED_TRACE(bad);
    const HttpResponse response = Get(api, std::string("/api/v1/studies/") + bad);
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(Field(ParseJson(response.body), "error").string_value(),
              std::string("study id: \"") + bad + "\" is not a positive integer");
  }
  for (const char* what : {"", "/trials", "/front"}) {
    SCOPED_TRACE(what);
    const HttpResponse response = Get(api, std::string("/api/v1/studies/42") + what);
    EXPECT_EQ(response.status, 404);
    EXPECT_EQ(Field(ParseJson(response.body), "error").string_value(), "study 42 not found");
  }
  const uint64_t id = RunStudy();
  const HttpResponse other = Get(api, "/api/v1/studies/" + std::to_string(id) + "/params");
  EXPECT_EQ(other.status, 404);
  EXPECT_NE(Field(ParseJson(other.body), "error").string_value().find("/trials, /front and /analysis"),
            std::string::npos);
}

TEST_F(DashboardApiTest, ListsStudiesWithCountsAndState) {
  DashboardApi api(core_.get(), nullptr, nullptr);
  EXPECT_EQ(Get(api, "/api/v1/studies").body, "{\"studies\":[]}\n");
  const uint64_t id = RunStudy();
  const HttpResponse response = Get(api, "/api/v1/studies");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(Header(response, "Cache-Control"), "no-store");
  const auto studies = Field(ParseJson(response.body), "studies").list_value();
  ASSERT_EQ(studies.values_size(), 1);
  const auto& study = studies.values(0);
  EXPECT_EQ(Field(study, "id").number_value(), static_cast<double>(id));
  EXPECT_EQ(Field(study, "name").string_value(), "dash \"quoted\"");
  EXPECT_EQ(Field(study, "state").string_value(), "completed");
  EXPECT_EQ(Field(Field(study, "counts"), "completed").number_value(), 4);
  EXPECT_EQ(Field(Field(study, "counts"), "running").number_value(), 0);
  EXPECT_EQ(Field(study, "max_trials").number_value(), 4);
  EXPECT_EQ(Field(study, "algorithm").string_value(), "gp");
  EXPECT_EQ(Field(study, "task").string_value(), "synthetic");
  const auto& objectives = Field(study, "objectives").list_value();
  ASSERT_EQ(objectives.values_size(), 2);
  EXPECT_EQ(Field(objectives.values(1), "name").string_value(), "f2");
  EXPECT_EQ(Field(objectives.values(1), "direction").string_value(), "minimize");
}

TEST_F(DashboardApiTest, OneStudyCarriesItsSpecAndTheHypervolumeOfItsFront) {
  DashboardApi api(core_.get(), nullptr, nullptr);
  const uint64_t id = RunStudy();
  const HttpResponse response = Get(api, "/api/v1/studies/" + std::to_string(id));
  ASSERT_EQ(response.status, 200) << response.body;
  const auto study = ParseJson(response.body);
  EXPECT_EQ(Field(Field(study, "spec"), "name").string_value(), "dash \"quoted\"");
  EXPECT_EQ(Field(Field(Field(Field(study, "spec"), "task"), "synthetic"), "function").string_value(),
            "zdt1");
  // Reference (4 + 0.3, 4 + 0.3); the front (1,4), (2,2), (4,1) dominates 0.3 + 4.6 + 0.99.
  const auto& hv = Field(study, "hypervolume");
  EXPECT_NEAR(Field(hv, "value").number_value(), 5.89, 1e-12);
  EXPECT_NEAR(Field(hv, "reference").list_value().values(0).number_value(), 4.3, 1e-12);
  EXPECT_NEAR(Field(hv, "reference").list_value().values(1).number_value(), 4.3, 1e-12);
  EXPECT_EQ(Field(hv, "completed").number_value(), 4);
  EXPECT_EQ(Field(hv, "rule").string_value(), "worst + 10% of range");
  // The same numbers as the Core's GetParetoFront, which the gRPC API (and so hpoctl) answers with.
  const auto core_front = core_->GetParetoFront(id);
  ASSERT_TRUE(core_front.ok());
  EXPECT_EQ(Field(hv, "value").number_value(), core_front->hypervolume());
  EXPECT_EQ(Field(hv, "reference").list_value().values(0).number_value(), core_front->reference_point(0));
  // The front's own route carries it too.
  const auto front = ParseJson(Get(api, "/api/v1/studies/" + std::to_string(id) + "/front").body);
  EXPECT_EQ(Field(Field(front, "hypervolume"), "value").number_value(), core_front->hypervolume());
}

TEST_F(DashboardApiTest, TheCoresFrontTakesAGivenReferencePointOrRefusesABadOne) {
  const uint64_t id = RunStudy();
  const std::vector<double> given = {5, 5};
  const auto front = core_->GetParetoFront(id, false, given);
  ASSERT_TRUE(front.ok()) << front.status().ToString();
  // (1,4), (2,2), (4,1) within (5,5), in vertical strips: 1 * 1 + 2 * 3 + 1 * 4.
  EXPECT_EQ(front->hypervolume(), 11);
  EXPECT_EQ(front->reference_rule(), "given");
  EXPECT_EQ(std::vector<double>(front->reference_point().begin(), front->reference_point().end()), given);
  const std::vector<double> short_point = {5};
  const auto refused = core_->GetParetoFront(id, false, short_point);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(), "reference_point: 1 values for the study's 2 objectives");
}

TEST_F(DashboardApiTest, AStudyWithNoCompletedTrialHasNoHypervolume) {
  DashboardApi api(core_.get(), nullptr, nullptr);
  const uint64_t id = RunStudy({});
  const auto study = ParseJson(Get(api, "/api/v1/studies/" + std::to_string(id)).body);
  EXPECT_TRUE(Field(study, "hypervolume").has_null_value());
}

TEST_F(DashboardApiTest, TrialsAndFrontAgreeWithTheCore) {
  DashboardApi api(core_.get(), nullptr, nullptr);
  const uint64_t id = RunStudy();
  const std::string base = "/api/v1/studies/" + std::to_string(id);

  const auto trials = Field(ParseJson(Get(api, base + "/trials").body), "trials").list_value();
  ASSERT_EQ(trials.values_size(), 4);
  for (int i = 0; i < 4; ++i) {
    const auto& t = trials.values(i);
    EXPECT_EQ(Field(t, "id").number_value(), static_cast<double>(trial_ids_[i]));
    EXPECT_EQ(Field(t, "number").number_value(), i);
    EXPECT_EQ(Field(t, "state").string_value(), "completed");
    EXPECT_EQ(Field(t, "attempt").number_value(), 1);
    EXPECT_EQ(Field(t, "params").struct_value().fields_size(), 2);  // x1, x2
    EXPECT_TRUE(Field(Field(t, "params"), "x1").has_number_value());
    EXPECT_EQ(Field(Field(t, "metrics"), "f1").number_value(), i + 1);
  }

  const auto core_front = core_->GetParetoFront(id);
  ASSERT_TRUE(core_front.ok());
  std::vector<double> expected;
  for (const auto& t : core_front->trials()) expected.push_back(static_cast<double>(t.id()));
  ASSERT_EQ(expected,
            (std::vector<double>{static_cast<double>(trial_ids_[0]), static_cast<double>(trial_ids_[1]),
                                 static_cast<double>(trial_ids_[3])}));
  const auto front = ParseJson(Get(api, base + "/front").body);
  std::vector<double> ids;
  for (const auto& v : Field(front, "trial_ids").list_value().values()) ids.push_back(v.number_value());
  EXPECT_EQ(ids, expected);
  EXPECT_EQ(Field(front, "trials").list_value().values_size(), 3);
  EXPECT_EQ(Field(Field(front, "objectives").list_value().values(0), "name").string_value(), "f1");
}

// The page's incremental poll: /trials?updated_since=<cursor> answers only the trials written since that
// cursor (none when nothing changed), each with its step history when asked (&history=1); a bad cursor is
// refused naming it.
TEST_F(DashboardApiTest, TrialsSinceACursorAreOnlyTheChangedOnes) {
  DashboardApi api(core_.get(), nullptr, nullptr);
  v1::StudySpec spec;
  spec.set_name("incremental");
  spec.set_seed(4);
  spec.mutable_task()->mutable_synthetic()->set_function("zdt1");
  spec.mutable_task()->mutable_synthetic()->set_dims(2);
  for (const char* name : {"f1", "f2"}) spec.add_objectives()->set_name(name);
  spec.mutable_budget()->set_max_trials(5);
  spec.mutable_budget()->set_max_parallel(1);
  auto study = core_->CreateStudy(spec);
  ASSERT_TRUE(study.ok()) << study.status().ToString();
  v1::RegisterWorkerRequest worker;
  worker.set_name("w");
  worker.set_slots(1);
  const uint64_t worker_id = core_->RegisterWorker(worker)->worker_id();
  const auto acquire = [&] {
    auto acquired = core_->TryAcquire(worker_id);
    EXPECT_TRUE(acquired.ok() && acquired->has_value());
    return **acquired;
  };
  const auto complete = [&](const v1::AcquireTrialResponse& a, double f) {
    v1::CompleteTrialRequest done;
    done.set_worker_id(worker_id);
    done.set_trial_id(a.trial().id());
    done.set_lease_token(a.lease().token());
    (*done.mutable_metrics())["f1"] = f;
    (*done.mutable_metrics())["f2"] = 1 - f;
    EXPECT_TRUE(core_->CompleteTrial(done).ok());
  };
  complete(acquire(), 0.25);
  complete(acquire(), 0.5);
  const std::string base = "/api/v1/studies/" + std::to_string(study->id()) + "/trials";

  const auto first = ParseJson(Get(api, base).body);
  const double cursor = Field(first, "cursor").number_value();
  EXPECT_GT(cursor, 0);
  const int initial = Field(first, "trials").list_value().values_size();
  EXPECT_GE(initial, 2);
  const std::string since = base + "?updated_since=" + std::to_string(static_cast<uint64_t>(cursor));
  const auto unchanged = ParseJson(Get(api, since).body);
  EXPECT_EQ(Field(unchanged, "trials").list_value().values_size(), 0);
  EXPECT_EQ(Field(unchanged, "cursor").number_value(), cursor);

  // A third trial is handed out and reports two steps: only it comes back, with its history.
  const v1::AcquireTrialResponse third = acquire();
  for (uint64_t step = 1; step <= 2; ++step) {
    v1::ReportProgressRequest progress;
    progress.set_worker_id(worker_id);
    progress.set_trial_id(third.trial().id());
    progress.set_lease_token(third.lease().token());
    progress.set_step(step);
    (*progress.mutable_metrics())["f1"] = 1.0 / static_cast<double>(step);
    ASSERT_TRUE(core_->ReportProgress(progress).ok());
  }
  const auto changed = ParseJson(Get(api, since + "&history=1").body);
  const auto& trials = Field(changed, "trials").list_value();
  ASSERT_EQ(trials.values_size(), 1);
  EXPECT_EQ(Field(trials.values(0), "id").number_value(), static_cast<double>(third.trial().id()));
  EXPECT_EQ(Field(trials.values(0), "state").string_value(), "running");
  const auto& history = Field(trials.values(0), "history").list_value();
  ASSERT_EQ(history.values_size(), 2);
  EXPECT_EQ(Field(history.values(1), "step").number_value(), 2);
  EXPECT_EQ(Field(Field(history.values(1), "metrics"), "f1").number_value(), 0.5);
  EXPECT_GT(Field(changed, "cursor").number_value(), cursor);
  // Without history=1 there is no history field.
  const auto plain = ParseJson(Get(api, since).body);
  EXPECT_FALSE(Field(plain, "trials").list_value().values(0).struct_value().fields().contains("history"));

  const HttpResponse bad = Get(api, base + "?updated_since=-3");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(Field(ParseJson(bad.body), "error").string_value().find("updated_since"), std::string::npos);
  const HttpResponse bad_history = Get(api, base + "?history=yes");
  EXPECT_EQ(bad_history.status, 400);
  EXPECT_NE(Field(ParseJson(bad_history.body), "error").string_value().find("history"), std::string::npos);
}

// /analysis is AnalyzeStudy's answer: the importances per objective and the front, as the Core computes
// them.
TEST_F(DashboardApiTest, AnalysisAgreesWithTheCore) {
  DashboardApi api(core_.get(), nullptr, nullptr);
  const uint64_t id = RunStudy();
  auto core_analysis = core_->AnalyzeStudy(id);
  ASSERT_TRUE(core_analysis.ok()) << core_analysis.status().ToString();
  const HttpResponse response = Get(api, "/api/v1/studies/" + std::to_string(id) + "/analysis");
  ASSERT_EQ(response.status, 200) << response.body;
  const auto json = ParseJson(response.body);
  EXPECT_EQ(Field(json, "method").string_value(), "fanova (random forest, 64 trees)");
  const auto& importance = Field(json, "importance").list_value();
  ASSERT_EQ(importance.values_size(), 2);
  for (int k = 0; k < 2; ++k) {
    const auto& parameters = Field(importance.values(k), "parameters").list_value();
    ASSERT_EQ(parameters.values_size(), core_analysis->importance(k).parameters_size());
    for (int i = 0; i < parameters.values_size(); ++i) {
      EXPECT_EQ(Field(parameters.values(i), "parameter").string_value(),
                core_analysis->importance(k).parameters(i).parameter());
      EXPECT_DOUBLE_EQ(Field(parameters.values(i), "importance").number_value(),
                       core_analysis->importance(k).parameters(i).importance());
    }
  }
  const auto& front = Field(json, "front");
  std::vector<double> ids;
  for (const auto& t : Field(front, "trials").list_value().values())
    ids.push_back(Field(t, "id").number_value());
  EXPECT_EQ(ids, (std::vector<double>{static_cast<double>(trial_ids_[0]), static_cast<double>(trial_ids_[1]),
                                      static_cast<double>(trial_ids_[3])}));
  // Best f1 is trial 0's 1, best f2 trial 3's 1.
  EXPECT_EQ(Field(front, "best").list_value().values(0).number_value(), 1);
  EXPECT_EQ(Field(front, "best_trial_ids").list_value().values(1).number_value(),
            static_cast<double>(trial_ids_[3]));
  // The hypervolume as the study page reports it, and its history ends there.
  const auto study = ParseJson(Get(api, "/api/v1/studies/" + std::to_string(id)).body);
  const double hv = Field(Field(study, "hypervolume"), "value").number_value();
  EXPECT_DOUBLE_EQ(Field(front, "hypervolume").number_value(), hv);
  const auto& history = Field(front, "history").list_value();
  ASSERT_EQ(history.values_size(), 4);
  EXPECT_DOUBLE_EQ(history.values(3).list_value().values(1).number_value(), hv);
  EXPECT_EQ(Get(api, "/api/v1/studies/999/analysis").status, 404);
}

TEST_F(DashboardApiTest, WithATokenTheApiAndMetricsNeedItAndThePageDoesNot) {
  const TokenAuth auth("s3cret-token");
  DashboardApi api(core_.get(), &auth, nullptr);
  for (const char* open : {"/", "/app.js", "/style.css", "/healthz"})
    EXPECT_EQ(Get(api, open).status, 200) << open;

  for (const char* closed : {"/api/v1/studies", "/api/v1/studies/1", "/metrics", "/api/v1/nothing"}) {
    SCOPED_TRACE(closed);
    const HttpResponse refused = Get(api, closed);
    EXPECT_EQ(refused.status, 401);
    EXPECT_EQ(Header(refused, "WWW-Authenticate"), "Bearer realm=\"hpo\"");
    EXPECT_NE(Field(ParseJson(refused.body), "error").string_value().find("?token="), std::string::npos);
  }
  EXPECT_EQ(Get(api, "/api/v1/studies", "Bearer s3cret-token").status, 200);
  EXPECT_EQ(Get(api, "/api/v1/studies", "bearer s3cret-token").status, 200);
  EXPECT_EQ(Get(api, "/metrics", "Bearer s3cret-token").status, 200);
  EXPECT_EQ(Get(api, "/api/v1/studies?token=s3cret-token").status, 200);
  EXPECT_EQ(Get(api, "/api/v1/studies?a=1&token=s3cret%2Dtoken").status, 200);  // percent-encoded
  const HttpResponse wrong = Get(api, "/api/v1/studies?token=guess");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(Field(ParseJson(wrong.body), "error").string_value(), "invalid bearer token");
  EXPECT_EQ(Get(api, "/api/v1/studies", "Bearer guess").status, 401);
  EXPECT_EQ(Get(api, "/api/v1/studies", "Basic czNjcmV0").status, 401);
}

TEST_F(DashboardApiTest, TheReadTokenMayReadAndTheWorkerTokenIsRefused) {
  const TokenAuth auth(
      AuthTokens{"user-token-0123456789", "worker-token-0123456789", "read-token-0123456789"});
  DashboardApi api(core_.get(), &auth, nullptr);
  for (const char* path : {"/api/v1/studies", "/metrics"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(Get(api, path, "Bearer user-token-0123456789").status, 200);
    EXPECT_EQ(Get(api, path, "Bearer read-token-0123456789").status, 200);
    const HttpResponse refused = Get(api, path, "Bearer worker-token-0123456789");
    EXPECT_EQ(refused.status, 403);
    EXPECT_NE(Field(ParseJson(refused.body), "error").string_value().find("the worker token may not call"),
              std::string::npos)
        << refused.body;
  }
}

TEST_F(DashboardApiTest, OnLoopbackOnlyLocalhostAndAddressHostsAreServed) {
  DashboardApi guarded(core_.get(), nullptr, nullptr);
  for (const char* host : {"127.0.0.1:8080", "localhost:8080", "localhost", "[::1]:8080", "10.1.2.3", ""}) {
    EXPECT_EQ(Get(guarded, "/api/v1/studies", "", host).status, 200) << host;
  }
  const HttpResponse rebound = Get(guarded, "/api/v1/studies", "", "attacker.example:8080");
  EXPECT_EQ(rebound.status, 403);
  EXPECT_NE(Field(ParseJson(rebound.body), "error").string_value().find("attacker.example"),
            std::string::npos);

  DashboardOptions open;
  open.loopback_only = false;
  DashboardApi named(core_.get(), nullptr, nullptr, open);
  EXPECT_EQ(Get(named, "/api/v1/studies", "", "hpo.internal:8080").status, 200);
}

TEST_F(DashboardApiTest, MetricsReportTheStudyTheWorkersAndTheCommits) {
  RpcMetrics rpcs;
  rpcs.Record("/hpo.v1.StudyService/GetStudy", 5, 0.001);
  DashboardApi api(core_.get(), nullptr, &rpcs);
  const uint64_t id = RunStudy();
  const HttpResponse response = Get(api, "/metrics");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = response.body;
  const std::string study = std::to_string(id);
  for (const std::string& line : std::vector<std::string>{
           "hpo_studies{state=\"completed\"} 1\n",
           "hpo_trials{state=\"completed\"} 4\n",
           "hpo_study_trials{study_id=\"" + study + "\",state=\"completed\"} 4\n",
           "hpo_study_trials{study_id=\"" + study + "\",state=\"failed\"} 0\n",
           "hpo_study_max_trials{study_id=\"" + study + "\"} 4\n",
           "hpo_leases_held 0\n",
           "hpo_workers_registered 1\n",
           "hpo_worker_registrations_total 1\n",
           "grpc_server_handled_total{grpc_service=\"hpo.v1.StudyService\",grpc_method=\"GetStudy\","
           "grpc_code=\"NOT_FOUND\"} 1\n",
           "grpc_server_handling_seconds_count{grpc_service=\"hpo.v1.StudyService\",grpc_method=\"GetStudy\"}"
           " 1\n",
           "# TYPE hpo_commit_seconds histogram\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\nin\n" << text;
  }
  // Every committed group was timed: the histogram's count is the number of groups.
  const GroupCommitStats commits = core_->commit_stats();
  EXPECT_GT(commits.groups, 0u);
  EXPECT_EQ(commits.commit_seconds.count(), commits.groups);
  EXPECT_NE(text.find("hpo_commit_seconds_count " + std::to_string(commits.groups) + "\n"),
            std::string::npos);
  EXPECT_NE(text.find("hpo_commit_groups_total " + std::to_string(commits.groups) + "\n"), std::string::npos);
  // The HTTP requests answered before this one are counted by status.
  Get(api, "/nope");
  EXPECT_NE(Get(api, "/metrics").body.find("hpo_http_requests_total{code=\"404\"} 1\n"), std::string::npos);
}

TEST(RenderMetricsTest, SumsTrialStatesOverStudiesAndCountsLeases) {
  CoordinatorMetrics metrics;
  for (uint64_t id : {1, 2}) {
    v1::Study study;
    study.set_id(id);
    study.set_state(id == 1 ? v1::STUDY_RUNNING : v1::STUDY_CANCELLED);
    study.mutable_counts()->set_running(3 * id);
    study.mutable_counts()->set_completed(10 * id);
    study.mutable_spec()->mutable_budget()->set_max_trials(50);
    metrics.studies.push_back(study);
  }
  metrics.registered_workers = 7;
  metrics.live_workers = 5;
  const std::string text = RenderMetrics(metrics);
  for (const std::string& line : std::vector<std::string>{
           "# HELP hpo_trials Trials of every study by state.\n# TYPE hpo_trials gauge\n",
           "hpo_trials{state=\"running\"} 9\n",
           "hpo_trials{state=\"completed\"} 30\n",
           "hpo_studies{state=\"running\"} 1\n",
           "hpo_studies{state=\"cancelled\"} 1\n",
           "hpo_studies{state=\"completed\"} 0\n",
           "hpo_study_trials{study_id=\"2\",state=\"running\"} 6\n",
           "hpo_leases_held 9\n",
           "# TYPE hpo_workers_registered gauge\nhpo_workers_registered 5\n",
           "# TYPE hpo_worker_registrations_total counter\nhpo_worker_registrations_total 7\n",
           "hpo_commit_seconds_bucket{le=\"+Inf\"} 0\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\nin\n" << text;
  }
}

TEST(HypervolumeJsonTest, IsTheCoreAnswersHypervolumeReferencePointAndRule) {
  v1::GetParetoFrontResponse front;
  EXPECT_EQ(HypervolumeJson(front), "null");  // an empty front has none
  front.set_hypervolume(0.142);
  front.add_reference_point(0.79);
  front.add_reference_point(3.2);
  front.set_reference_rule("worst + 10% of range");
  front.set_considered_trials(3);
  EXPECT_EQ(HypervolumeJson(front),
            "{\"value\":0.142,\"reference\":[0.79,3.2],\"rule\":\"worst + 10% of range\",\"completed\":3}");
}

TEST(DashboardJsonTest, TrialsCarryTypedParamsSortedMetricsAndProgress) {
  v1::Trial t;
  t.set_id(12);
  t.set_number(3);
  t.set_state(v1::TRIAL_RUNNING);
  (*t.mutable_params())["lr"].set_double_value(0.001);
  (*t.mutable_params())["width"].set_int_value(64);
  (*t.mutable_params())["act"].set_string_value("re\"lu");
  (*t.mutable_metrics())["b"] = 2;
  (*t.mutable_metrics())["a"] = 1.5;
  t.mutable_progress()->set_step(4);
  (*t.mutable_progress()->mutable_metrics())["loss"] = 0.25;
  t.mutable_progress()->set_reported_ms(99);
  EXPECT_EQ(TrialJson(t),
            "{\"id\":12,\"number\":3,\"state\":\"running\",\"params\":{\"act\":\"re\\\"lu\",\"lr\":0.001,"
            "\"width\":64},\"metrics\":{\"a\":1.5,\"b\":2},\"worker_id\":0,\"device\":\"\",\"attempt\":0,"
            "\"created_ms\":0,\"started_ms\":0,\"finished_ms\":0,\"error\":\"\",\"violated\":[],\"progress\":"
            "{\"step\":4,"
            "\"metrics\":{\"loss\":0.25},\"reported_ms\":99}}");
  t.add_violated("latency_ms <= 2");
  EXPECT_NE(TrialJson(t).find(",\"violated\":[\"latency_ms <= 2\"],"), std::string::npos);
}

// GET /api/v1/workers lists the workers with their state; a study no live worker can run says why.
TEST_F(DashboardApiTest, WorkersAreListedAndAStudyWithoutOneSaysItWaits) {
  DashboardApi api(core_.get(), nullptr, nullptr);
  const google::protobuf::Value empty = ParseJson(Get(api, "/api/v1/workers").body);
  EXPECT_EQ(Field(empty, "workers").list_value().values_size(), 0);
  EXPECT_EQ(Field(empty, "lost_after_ms").number_value(), 10'000);

  v1::StudySpec spec;
  spec.set_name("waits");
  spec.mutable_task()->mutable_synthetic()->set_function("zdt1");
  spec.mutable_task()->mutable_synthetic()->set_dims(2);
  for (const char* name : {"f1", "f2"}) spec.add_objectives()->set_name(name);
  spec.mutable_budget()->set_max_trials(2);
  (*spec.mutable_worker_selector())["gpu"] = "H100";
  auto study = core_->CreateStudy(spec);
  ASSERT_TRUE(study.ok()) << study.status().ToString();
  const std::string path = "/api/v1/studies/" + std::to_string(study->id());
  EXPECT_EQ(Field(ParseJson(Get(api, path).body), "waiting").string_value(),
            "no live worker matches selector gpu=H100");

  v1::RegisterWorkerRequest worker;
  worker.set_name("node \"a\"");
  worker.set_slots(2);
  worker.set_device("cpu");
  (*worker.mutable_labels())["gpu"] = "H100";
  const uint64_t id = core_->RegisterWorker(worker)->worker_id();
  ASSERT_TRUE(core_->TryAcquire(id).ok());
  EXPECT_EQ(Field(ParseJson(Get(api, path).body), "waiting").string_value(), "");

  const HttpResponse response = Get(api, "/api/v1/workers");
  ASSERT_EQ(response.status, 200);
  const google::protobuf::Value listed = ParseJson(response.body);
  ASSERT_EQ(Field(listed, "workers").list_value().values_size(), 1);
  const google::protobuf::Value& w = Field(listed, "workers").list_value().values(0);
  EXPECT_EQ(Field(w, "id").number_value(), static_cast<double>(id));
  EXPECT_EQ(Field(w, "name").string_value(), "node \"a\"");
  EXPECT_EQ(Field(w, "state").string_value(), "live");
  EXPECT_EQ(Field(w, "slots").number_value(), 2);
  EXPECT_EQ(Field(w, "slots_in_use").number_value(), 1);
  EXPECT_GT(Field(w, "last_heartbeat_ms").number_value(), 0);
  EXPECT_EQ(Field(Field(w, "labels"), "gpu").string_value(), "H100");
  EXPECT_EQ(Field(Field(w, "labels"), "device").string_value(), "cpu");
  EXPECT_EQ(Get(api, "/api/v1/workers?all=1").status, 200);
  EXPECT_EQ(Get(api, "/api/v1/workers?all=maybe").status, 400);
}

}  // namespace
}  // namespace hpo::coordinator
