#include "coordinator/dashboard_api.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>

#include "base/log.h"
#include "base/strings.h"
#include "coordinator/dashboard_assets.h"
#include "coordinator/spec.h"
#include "proto/state_names.h"

namespace hpo::coordinator {
namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kApiPrefix = "/api/v1/studies";

// The page loads only what the coordinator serves; nothing inline, nothing from elsewhere.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

std::string Number(double value) { return std::isfinite(value) ? FormatDouble(value) : "null"; }

using v1::StudyStateName;
using v1::TrialStateName;

std::string_view AlgorithmName(const v1::Algorithm& algorithm) {
  switch (algorithm.kind_case()) {
    case v1::Algorithm::kNsga2:
      return "nsga2";
    case v1::Algorithm::kWoa:
      return "woa";
    case v1::Algorithm::kGp:
      return "gp";
    default:
      return "random";
  }
}

std::string_view TaskName(const v1::Task& task) {
  switch (task.kind_case()) {
    case v1::Task::kBuiltin:
      return "builtin";
    case v1::Task::kSynthetic:
      return "synthetic";
    case v1::Task::kCommand:
      return "command";
    case v1::Task::kExternal:
      return "external";
    default:
      return "none";
  }
}

std::string ObjectivesJson(const google::protobuf::RepeatedPtrField<v1::Objective>& objectives) {
  std::string json = "[";
  for (int i = 0; i < objectives.size(); ++i) {
    if (i > 0) json += ',';
    json += "{\"name\":" + JsonQuote(objectives[i].name()) + ",\"direction\":\"" +
            (objectives[i].direction() == v1::MAXIMIZE ? "maximize" : "minimize") + "\"}";
  }
  return json + "]";
}

std::string MetricsJson(const google::protobuf::Map<std::string, double>& metrics) {
  // Sorted by name, so that the same trial always reads the same.
  std::map<std::string, double> sorted(metrics.begin(), metrics.end());
  std::string json = "{";
  for (const auto& [name, value] : sorted) {
    if (json.size() > 1) json += ',';
    json += JsonQuote(name) + ':' + Number(value);
  }
  return json + "}";
}

std::string ParamValueJson(const v1::ParamValue& value) {
  switch (value.kind_case()) {
    case v1::ParamValue::kDoubleValue:
      return Number(value.double_value());
    case v1::ParamValue::kIntValue:
      return std::to_string(value.int_value());
    case v1::ParamValue::kStringValue:
      return JsonQuote(value.string_value());
    default:
      return "null";
  }
}

HttpResponse Json(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.content_type = std::string(kJson);
  response.body = std::move(body);
  response.body += '\n';
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

HttpResponse JsonError(int status, const std::string& message) {
  return Json(status, "{\"error\":" + JsonQuote(message) + "}");
}

int HttpStatusOf(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

HttpResponse ErrorOf(const Status& status) { return JsonError(HttpStatusOf(status), status.message()); }

// "%41" -> "A", "+" -> " " (query strings); a bad escape is kept as it is.
std::string UrlDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size()) {
      int byte = 0;
      const auto [end, error] = std::from_chars(text.data() + i + 1, text.data() + i + 3, byte, 16);
      if (error == std::errc() && end == text.data() + i + 3) {
        out += static_cast<char>(byte);
        i += 2;
      } else {
        out += '%';
      }
    } else {
      out += text[i];
    }
  }
  return out;
}

// The value of query parameter `name` in `query` ("a=1&token=x"), decoded; nullopt when absent.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (UrlDecode(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? std::string() : UrlDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// True for a Host header naming localhost or an IP address (with or without a port), or for none.
bool IsLocalOrAddressHost(std::string_view host) {
  if (host.empty()) return true;         // HTTP/1.0
  if (host.front() == '[') return true;  // an IPv6 literal
  const std::string_view name = host.substr(0, host.find(':'));
  if (name == "localhost") return true;
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

// A study id from the path: a positive decimal integer.
Result<uint64_t> ParseStudyId(std::string_view text) {
  uint64_t id = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || id == 0) {
    return InvalidArgumentError("study id: \"" + std::string(text) + "\" is not a positive integer");
  }
  return id;
}

}  // namespace

std::string HypervolumeJson(const v1::GetParetoFrontResponse& front) {
  if (!front.has_hypervolume()) return "null";
  std::string json = "{\"value\":" + Number(front.hypervolume()) + ",\"reference\":[";
  for (int k = 0; k < front.reference_point_size(); ++k) {
    if (k > 0) json += ',';
    json += Number(front.reference_point(k));
  }
  return json + "],\"rule\":" + JsonQuote(front.reference_rule()) +
         ",\"completed\":" + std::to_string(front.considered_trials()) + "}";
}

std::string StudySummaryJson(const v1::Study& study) {
  const v1::StudySpec& spec = study.spec();
  const v1::TrialCounts& c = study.counts();
  std::string json = "{\"id\":" + std::to_string(study.id()) + ",\"name\":" + JsonQuote(spec.name()) +
                     ",\"state\":\"" + std::string(StudyStateName(study.state())) +
                     "\",\"created_ms\":" + std::to_string(study.created_ms()) +
                     ",\"finished_ms\":" + std::to_string(study.finished_ms());
  json += ",\"counts\":{\"pending\":" + std::to_string(c.pending()) +
          ",\"running\":" + std::to_string(c.running()) + ",\"completed\":" + std::to_string(c.completed()) +
          ",\"failed\":" + std::to_string(c.failed()) + ",\"cancelled\":" + std::to_string(c.cancelled()) +
          ",\"pruned\":" + std::to_string(c.pruned()) + "}";
  // Why a study failed fast (budget.max_failed_trials); empty otherwise.
  json += ",\"error\":" + JsonQuote(study.error());
  // Why a running study cannot go on ("no live worker matches selector gpu=H100"); empty otherwise.
  json += ",\"waiting\":" + JsonQuote(study.waiting());
  json += ",\"first_trial_started_ms\":" + std::to_string(study.first_trial_started_ms()) +
          ",\"compute_ms\":" + std::to_string(study.compute_ms());
  json += ",\"max_trials\":" + std::to_string(spec.budget().max_trials()) +
          ",\"max_parallel\":" + std::to_string(spec.budget().max_parallel());
  json += ",\"objectives\":" + ObjectivesJson(spec.objectives());
  json += ",\"algorithm\":\"" + std::string(AlgorithmName(spec.algorithm())) + "\",\"task\":\"" +
          std::string(TaskName(spec.task())) + "\"}";
  return json;
}

std::string TrialJson(const v1::Trial& trial, bool history) {
  std::string json = "{\"id\":" + std::to_string(trial.id()) +
                     ",\"number\":" + std::to_string(trial.number()) + ",\"state\":\"" +
                     std::string(TrialStateName(trial.state())) + "\"";
  std::map<std::string, const v1::ParamValue*> params;
  for (const auto& [name, value] : trial.params()) params[name] = &value;
  json += ",\"params\":{";
  bool first = true;
  for (const auto& [name, value] : params) {
    if (!first) json += ',';
    first = false;
    json += JsonQuote(name) + ':' + ParamValueJson(*value);
  }
  json += "},\"metrics\":" + MetricsJson(trial.metrics());
  json += ",\"worker_id\":" + std::to_string(trial.worker_id()) + ",\"device\":" + JsonQuote(trial.device()) +
          ",\"attempt\":" + std::to_string(trial.attempt()) +
          ",\"created_ms\":" + std::to_string(trial.created_ms()) +
          ",\"started_ms\":" + std::to_string(trial.started_ms()) +
          ",\"finished_ms\":" + std::to_string(trial.finished_ms()) +
          ",\"error\":" + JsonQuote(trial.error());
  // The constraints a completed trial breaks (empty: feasible, or the study has none).
  json += ",\"violated\":[";
  for (int i = 0; i < trial.violated_size(); ++i) json += (i > 0 ? "," : "") + JsonQuote(trial.violated(i));
  json += ']';
  if (trial.has_progress()) {
    json += ",\"progress\":{\"step\":" + std::to_string(trial.progress().step()) +
            ",\"metrics\":" + MetricsJson(trial.progress().metrics()) +
            ",\"reported_ms\":" + std::to_string(trial.progress().reported_ms()) + "}";
  } else {
    json += ",\"progress\":null";
  }
  if (history) {
    json += ",\"history\":[";
    for (int i = 0; i < trial.history().steps_size(); ++i) {
      const v1::TrialProgress& step = trial.history().steps(i);
      json += (i > 0 ? ",{\"step\":" : "{\"step\":") + std::to_string(step.step()) +
              ",\"metrics\":" + MetricsJson(step.metrics()) + "}";
    }
    json += ']';
  }
  return json + "}";
}

std::string AnalysisJson(const v1::AnalyzeStudyResponse& analysis) {
  const auto numbers = [](const auto& values) {
    std::string json = "[";
    for (int i = 0; i < values.size(); ++i) {
      if (i > 0) json += ',';
      json += Number(static_cast<double>(values[i]));
    }
    json += ']';
    return json;
  };
  std::string json = "{\"method\":" + JsonQuote(analysis.method()) +
                     ",\"objectives\":" + ObjectivesJson(analysis.objectives()) + ",\"importance\":[";
  for (int k = 0; k < analysis.importance_size(); ++k) {
    const v1::ObjectiveImportance& objective = analysis.importance(k);
    json += (k > 0 ? ",{\"objective\":" : "{\"objective\":") + JsonQuote(objective.objective()) +
            ",\"trials\":" + std::to_string(objective.trials()) + ",\"parameters\":[";
    for (int i = 0; i < objective.parameters_size(); ++i) {
      const v1::ParameterImportance& p = objective.parameters(i);
      json += (i > 0 ? ",{\"parameter\":" : "{\"parameter\":") + JsonQuote(p.parameter()) +
              ",\"importance\":" + Number(p.importance()) + ",\"stddev\":" + Number(p.stddev()) + "}";
    }
    json += "]}";
  }
  const v1::FrontSummary& front = analysis.front();
  json += "],\"front\":{\"trials\":[";
  for (int i = 0; i < front.trials_size(); ++i) {
    const v1::FrontTrialSummary& t = front.trials(i);
    json += (i > 0 ? ",{\"id\":" : "{\"id\":") + std::to_string(t.trial_id()) +
            ",\"number\":" + std::to_string(t.number()) + ",\"objectives\":" + numbers(t.objectives()) + "}";
  }
  json += "],\"hypervolume\":" + Number(front.hypervolume()) +
          ",\"reference\":" + numbers(front.reference()) + ",\"best\":" + numbers(front.best()) +
          ",\"best_trial_ids\":[";
  for (int k = 0; k < front.best_trial_ids_size(); ++k) {
    json += (k > 0 ? "," : "") + std::to_string(front.best_trial_ids(k));
  }
  json += "],\"completed\":" + std::to_string(front.completed()) +
          ",\"infeasible\":" + std::to_string(front.infeasible()) + ",\"history\":[";
  for (int i = 0; i < front.history_size(); ++i) {
    json += (i > 0 ? ",[" : "[") + std::to_string(front.history(i).number()) + "," +
            Number(front.history(i).hypervolume()) + "]";
  }
  return json + "]}}";
}

std::string RenderMetrics(const CoordinatorMetrics& metrics) {
  PrometheusText out;
  using Labels = PrometheusText::Labels;
  static constexpr std::pair<v1::StudyState, std::string_view> kStudyStates[] = {
      {v1::STUDY_RUNNING, "running"},
      {v1::STUDY_COMPLETED, "completed"},
      {v1::STUDY_FAILED, "failed"},
      {v1::STUDY_CANCELLED, "cancelled"}};
  std::map<v1::StudyState, uint64_t> studies_by_state;
  v1::TrialCounts total;
  for (const v1::Study& study : metrics.studies) {
    ++studies_by_state[study.state()];
    const v1::TrialCounts& c = study.counts();
    total.set_pending(total.pending() + c.pending());
    total.set_running(total.running() + c.running());
    total.set_completed(total.completed() + c.completed());
    total.set_failed(total.failed() + c.failed());
    total.set_cancelled(total.cancelled() + c.cancelled());
    total.set_pruned(total.pruned() + c.pruned());
  }
  const auto by_trial_state = [](const v1::TrialCounts& c) {
    return std::vector<std::pair<std::string, uint32_t>>{
        {"pending", c.pending()}, {"running", c.running()},     {"completed", c.completed()},
        {"failed", c.failed()},   {"cancelled", c.cancelled()}, {"pruned", c.pruned()}};
  };

  out.Family("hpo_studies", "gauge", "Studies by state.");
  for (const auto& [state, name] : kStudyStates) {
    out.Sample("hpo_studies", {{"state", std::string(name)}}, static_cast<double>(studies_by_state[state]));
  }
  out.Family("hpo_trials", "gauge", "Trials of every study by state.");
  for (const auto& [state, n] : by_trial_state(total)) out.Sample("hpo_trials", {{"state", state}}, n);
  out.Family("hpo_study_trials", "gauge", "Trials of one study by state.");
  for (const v1::Study& study : metrics.studies) {
    for (const auto& [state, n] : by_trial_state(study.counts())) {
      out.Sample("hpo_study_trials", {{"study_id", std::to_string(study.id())}, {"state", state}}, n);
    }
  }
  out.Family("hpo_study_max_trials", "gauge", "A study's budget of trials (budget.max_trials).");
  for (const v1::Study& study : metrics.studies) {
    out.Sample("hpo_study_max_trials", {{"study_id", std::to_string(study.id())}},
               study.spec().budget().max_trials());
  }
  out.Family("hpo_leases_held", "gauge", "Trials running under a worker's lease.");
  out.Sample("hpo_leases_held", {}, total.running());
  out.Family("hpo_workers_registered", "gauge", "Workers live now (heard from within the lost timeout).");
  out.Sample("hpo_workers_registered", {}, static_cast<double>(metrics.live_workers));
  out.Family("hpo_worker_registrations_total", "counter", "Worker registrations this database has stored.");
  out.Sample("hpo_worker_registrations_total", {}, static_cast<double>(metrics.registered_workers));

  out.Family("hpo_commit_groups_total", "counter", "SQLite transactions of the group committer.");
  out.Sample("hpo_commit_groups_total", {}, static_cast<double>(metrics.commits.groups));
  out.Family("hpo_commit_changes_total", "counter", "Operations' change sets committed in those groups.");
  out.Sample("hpo_commit_changes_total", {}, static_cast<double>(metrics.commits.changes));
  out.Family("hpo_commit_seconds", "histogram", "Time to write and commit one group.");
  out.HistogramSamples("hpo_commit_seconds", {}, metrics.commits.commit_seconds);
  out.Family("hpo_commit_group_size", "histogram", "Change sets per committed group.");
  out.HistogramSamples("hpo_commit_group_size", {}, metrics.commits.group_sizes);

  // The names and labels of go-grpc-prometheus, so that existing gRPC dashboards read them.
  const auto split = [](const std::string& method) {
    const std::string_view full = std::string_view(method).substr(method.starts_with('/') ? 1 : 0);
    const size_t slash = full.rfind('/');
    if (slash == std::string_view::npos)
      return Labels{{"grpc_service", ""}, {"grpc_method", std::string(full)}};
    return Labels{{"grpc_service", std::string(full.substr(0, slash))},
                  {"grpc_method", std::string(full.substr(slash + 1))}};
  };
  out.Family("grpc_server_handled_total", "counter", "gRPC calls completed, by method and status code.");
  for (const auto& [method, stats] : metrics.rpcs) {
    for (const auto& [code, n] : stats.calls_by_code) {
      Labels labels = split(method);
      labels.emplace_back("grpc_code", code);
      out.Sample("grpc_server_handled_total", labels, static_cast<double>(n));
    }
  }
  out.Family("grpc_server_handling_seconds", "histogram",
             "gRPC call latency, from arrival to status (a long poll includes its wait).");
  for (const auto& [method, stats] : metrics.rpcs) {
    out.HistogramSamples("grpc_server_handling_seconds", split(method), stats.seconds);
  }
  out.Family("hpo_http_requests_total", "counter", "HTTP requests answered, by status code.");
  for (const auto& [code, n] : metrics.http_requests) {
    out.Sample("hpo_http_requests_total", {{"code", std::to_string(code)}}, static_cast<double>(n));
  }
  return out.text();
}

DashboardApi::DashboardApi(Core* core, const TokenAuth* auth, const RpcMetrics* rpc_metrics,
                           DashboardOptions options)
    : core_(core), auth_(auth), rpc_metrics_(rpc_metrics), options_(options) {}

HttpResponse DashboardApi::Handle(const HttpRequest& request) {
  HttpResponse response = Route(request);
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  if (log::Enabled(log::Level::kDebug)) {
    // The path only: the query may hold the token.
    log::Debug("http request",
               {{"method", request.method},
                {"path", std::string_view(request.target).substr(0, request.target.find('?'))},
                {"status", response.status}});
  }
  std::lock_guard lock(mu_);
  ++requests_by_status_[response.status];
  return response;
}

HttpResponse DashboardApi::Route(const HttpRequest& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse response = JsonError(405, "method " + request.method + ": only GET and HEAD are served");
    response.headers.emplace_back("Allow", "GET, HEAD");
    return response;
  }
  if (options_.loopback_only && !IsLocalOrAddressHost(request.host)) {
    return JsonError(403,
                     "host \"" + request.host +
                         "\": this coordinator serves HTTP on loopback and answers requests for localhost "
                         "or an IP address only");
  }
  const std::string_view target = request.target;
  const size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query = question == std::string_view::npos ? "" : target.substr(question + 1);

  if (path == "/healthz")
    return HttpResponse{200, "text/plain; charset=utf-8", "ok\n", {{"Cache-Control", "no-store"}}};
  const DashboardAsset* asset = FindDashboardAsset(path == "/" ? "/index.html" : path);
  if (asset != nullptr) {
    HttpResponse response{200, std::string(asset->content_type), std::string(asset->body), {}};
    response.headers.emplace_back("Cache-Control", "no-cache");
    response.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
    return response;
  }
  if (!path.starts_with("/api/") && path != "/metrics")
    return JsonError(404, "no such path: " + std::string(path));

  if (auth_ != nullptr && auth_->enabled()) {
    std::vector<std::string_view> values;
    std::string from_query;
    if (!request.authorization.empty()) {
      values.push_back(request.authorization);
    } else if (auto token = QueryParam(query, "token")) {
      from_query = "Bearer " + *token;
      values.push_back(from_query);
    }
    const Status allowed =
        auth_->CheckAuthorization(values, Access::kRead, "the HTTP API (" + std::string(path) + ")");
    if (allowed.code() == StatusCode::kPermissionDenied) return JsonError(403, allowed.message());
    if (!allowed.ok()) {
      HttpResponse response = JsonError(
          401, values.empty()
                   ? "this coordinator requires its token: send \"Authorization: Bearer <token>\" or "
                     "add ?token=<token> to the address"
                   : allowed.message());
      response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"hpo\"");
      return response;
    }
  }
  if (path == "/metrics") return Metrics();
  if (path == "/api/v1/workers") return Workers(query);

  // /api/v1/studies[/{id}[/trials|/front]]
  if (path != kApiPrefix && !path.starts_with(std::string(kApiPrefix) + "/")) {
    return JsonError(404, "no such path: " + std::string(path));
  }
  std::string_view rest = path.substr(kApiPrefix.size());
  if (rest.empty()) return Studies();
  rest.remove_prefix(1);  // the '/'
  const size_t slash = rest.find('/');
  auto id = ParseStudyId(rest.substr(0, slash));
  if (!id.ok()) return ErrorOf(id.status());
  if (slash == std::string_view::npos) return Study(*id);
  const std::string_view what = rest.substr(slash + 1);
  if (what == "trials") return Trials(*id, query);
  if (what == "front") return Front(*id);
  if (what == "analysis") return Analysis(*id);
  return JsonError(404,
                   "no such path: " + std::string(path) + " (a study has /trials, /front and /analysis)");
}

HttpResponse DashboardApi::Studies() {
  auto studies = core_->ListStudies();
  if (!studies.ok()) return ErrorOf(studies.status());
  std::string json = "{\"studies\":[";
  for (size_t i = 0; i < studies->size(); ++i) {
    if (i > 0) json += ',';
    json += StudySummaryJson((*studies)[i]);
  }
  return Json(200, json + "]}");
}

HttpResponse DashboardApi::Study(uint64_t id) {
  auto study = core_->GetStudy(id);
  if (!study.ok()) return ErrorOf(study.status());
  auto front = core_->GetParetoFront(id);
  if (!front.ok()) return ErrorOf(front.status());
  std::string json = StudySummaryJson(*study);
  json.pop_back();  // the summary's closing brace
  std::string spec;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(study->spec(), &spec, print).ok()) spec = "null";
  json += ",\"spec\":" + spec;
  json += ",\"hypervolume\":" + HypervolumeJson(*front);
  return Json(200, json + "}");
}

HttpResponse DashboardApi::Trials(uint64_t id, std::string_view query) {
  TrialQuery trial_query;
  if (auto since = QueryParam(query, "updated_since")) {
    const auto [end, error] =
        std::from_chars(since->data(), since->data() + since->size(), trial_query.updated_since);
    if (since->empty() || error != std::errc() || end != since->data() + since->size()) {
      return JsonError(400, "updated_since: \"" + *since + "\" is not a cursor (a non-negative integer)");
    }
  }
  if (auto history = QueryParam(query, "history")) {
    if (*history != "0" && *history != "1") {
      return JsonError(400, "history: \"" + *history + "\" is neither 0 nor 1");
    }
    trial_query.include_history = *history == "1";
  }
  auto page = core_->ListTrials(id, trial_query);
  if (!page.ok()) return ErrorOf(page.status());
  std::string json = "{\"trials\":[";
  for (size_t i = 0; i < page->trials.size(); ++i) {
    if (i > 0) json += ',';
    json += TrialJson(page->trials[i], trial_query.include_history);
  }
  return Json(200, json + "],\"cursor\":" + std::to_string(page->cursor) + "}");
}

HttpResponse DashboardApi::Analysis(uint64_t id) {
  auto analysis = core_->AnalyzeStudy(id);
  if (!analysis.ok()) return ErrorOf(analysis.status());
  return Json(200, AnalysisJson(*analysis));
}

HttpResponse DashboardApi::Front(uint64_t id) {
  auto front = core_->GetParetoFront(id);
  if (!front.ok()) return ErrorOf(front.status());
  std::string ids = "[";
  std::string trials = "[";
  for (int i = 0; i < front->trials_size(); ++i) {
    if (i > 0) {
      ids += ',';
      trials += ',';
    }
    ids += std::to_string(front->trials(i).id());
    trials += TrialJson(front->trials(i));
  }
  return Json(200, "{\"objectives\":" + ObjectivesJson(front->objectives()) + ",\"trial_ids\":" + ids +
                       "],\"trials\":" + trials + "],\"hypervolume\":" + HypervolumeJson(*front) + "}");
}

std::string WorkersJson(const v1::ListWorkersResponse& workers) {
  std::string json = "{\"lost_after_ms\":" + std::to_string(workers.lost_after_ms()) + ",\"workers\":[";
  for (int i = 0; i < workers.workers_size(); ++i) {
    const v1::WorkerInfo& w = workers.workers(i);
    if (i > 0) json += ',';
    json += "{\"id\":" + std::to_string(w.id()) + ",\"name\":" + JsonQuote(w.name()) +
            ",\"device\":" + JsonQuote(w.device()) + ",\"labels\":{";
    const std::map<std::string, std::string> labels(w.labels().begin(), w.labels().end());
    for (auto it = labels.begin(); it != labels.end(); ++it) {
      if (it != labels.begin()) json += ',';
      json += JsonQuote(it->first);
      json += ':';
      json += JsonQuote(it->second);
    }
    json += "},\"slots\":" + std::to_string(w.slots()) +
            ",\"slots_in_use\":" + std::to_string(w.slots_in_use()) +
            ",\"registered_ms\":" + std::to_string(w.registered_ms()) +
            ",\"last_heartbeat_ms\":" + std::to_string(w.last_heartbeat_ms()) + ",\"state\":\"" +
            (w.state() == v1::WORKER_LIVE ? "live" : "lost") + "\"}";
  }
  return json + "]}";
}

HttpResponse DashboardApi::Workers(std::string_view query) {
  const std::optional<std::string> all = QueryParam(query, "all");
  if (all && *all != "0" && *all != "1" && *all != "true" && *all != "false") {
    return JsonError(400, "all: expected 0, 1, true or false, got \"" + *all + "\"");
  }
  return Json(200, WorkersJson(core_->ListWorkers(all && (*all == "1" || *all == "true"))));
}

HttpResponse DashboardApi::Metrics() {
  CoordinatorMetrics metrics;
  auto studies = core_->ListStudies();
  if (!studies.ok()) return ErrorOf(studies.status());
  metrics.studies = std::move(*studies);
  metrics.registered_workers = core_->RegisteredWorkers();
  metrics.live_workers = core_->LiveWorkers();
  metrics.commits = core_->commit_stats();
  if (rpc_metrics_ != nullptr) metrics.rpcs = rpc_metrics_->Snapshot();
  {
    std::lock_guard lock(mu_);
    metrics.http_requests = requests_by_status_;
  }
  HttpResponse response{200, std::string(kPrometheusText), RenderMetrics(metrics), {}};
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

}  // namespace hpo::coordinator
