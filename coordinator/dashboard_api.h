// DashboardApi: what the coordinator answers over HTTP (coordinator/http_server.h): the dashboard's page
// and assets (built into the binary), its JSON API, Prometheus's /metrics and a /healthz probe.
//
//   GET /                                  the page (index.html; app.js and style.css beside it)
//   GET /healthz                           "ok" (open: for probes)
//   GET /metrics                           Prometheus text format 0.0.4 (RenderMetrics)
//   GET /api/v1/studies                    {"studies": [summary, ...]}
//   GET /api/v1/studies/{id}               summary + "spec" (the study file's JSON) + "hypervolume"
//   GET /api/v1/studies/{id}/trials        {"trials": [trial, ...], "cursor": n} by number
//       ?updated_since=n                   only the trials changed after cursor n (an earlier answer's)
//       &history=1                         each trial with "history": [{"step", "metrics"}, ...]
//   GET /api/v1/studies/{id}/front         {"objectives": [...], "trial_ids": [...], "trials": [...],
//                                           "hypervolume": ...}
//   GET /api/v1/studies/{id}/analysis      AnalyzeStudy's answer (AnalysisJson)
//   GET /api/v1/workers                    {"lost_after_ms": N, "workers": [worker, ...]} (WorkersJson)
//
// Everything is read through the Core's read API (ListStudies, GetStudy, ListTrials, GetParetoFront,
// AnalyzeStudy, ListWorkers).
// Errors are JSON {"error": "..."} naming what is wrong: 400 for an id that is not a positive integer,
// 404 for an unknown study or path, 405 for a method other than GET or HEAD, 401 without the token, 403
// for the worker token (it may call WorkerService only).
//
// Security. With a token (TokenAuth), /api/ and /metrics need the user or the read-only token
// (Access::kRead), as "Authorization: Bearer <token>" or as the query parameter ?token=<token> (the page
// takes it from its own address once, keeps it in the tab's sessionStorage, and sends it as the header); the
// page, its assets and /healthz are open, as they hold no study data. Prometheus sends the header (scrape
// config `authorization: {credentials_file: ..}`). When the server listens on loopback only
// (options.loopback_only), a request whose Host is neither "localhost" nor an IP address is refused 403, so
// that a web page elsewhere cannot read the API through DNS rebinding.
//
// Thread-safe. The Core, the TokenAuth and the RpcMetrics must outlive it.
#ifndef HPO_COORDINATOR_DASHBOARD_API_H_
#define HPO_COORDINATOR_DASHBOARD_API_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/auth.h"
#include "coordinator/core.h"
#include "coordinator/group_commit.h"
#include "coordinator/http_server.h"
#include "coordinator/metrics.h"
#include "hpo/v1/study.pb.h"

namespace hpo::coordinator {

struct DashboardOptions {
  // Refuse requests whose Host header is neither "localhost" nor an IP address (see above). Default on:
  // set it off when the HTTP address is reachable from other machines by name.
  bool loopback_only = true;
};

// What /metrics reports, gathered at scrape time.
struct CoordinatorMetrics {
  std::vector<v1::Study> studies;   // with their trial counts
  uint64_t registered_workers = 0;  // registrations ever stored
  uint64_t live_workers = 0;        // workers live now
  GroupCommitStats commits;
  std::map<std::string, RpcMetrics::MethodStats> rpcs;  // by full method name
  std::map<int, uint64_t> http_requests;                // by status code
};

// The Prometheus text (format 0.0.4) of `metrics`: hpo_studies{state}, hpo_trials{state},
// hpo_study_trials{study_id,state}, hpo_study_max_trials{study_id}, hpo_leases_held,
// hpo_workers_registered (live workers), hpo_worker_registrations_total, hpo_commit_groups_total,
// hpo_commit_changes_total, hpo_commit_seconds and hpo_commit_group_size (histograms),
// grpc_server_handled_total{grpc_service,grpc_method,grpc_code},
// grpc_server_handling_seconds{grpc_service,grpc_method} (histogram), hpo_http_requests_total{code}.
std::string RenderMetrics(const CoordinatorMetrics& metrics);

// The front's hypervolume as the API shows it, from the Core's GetParetoFront answer (one computation
// for every client, coordinator/front_hypervolume.h): {"value": 5.89, "reference": [4.3, 4.3], "rule":
// "worst + 10% of range", "completed": 4} (the reference point in the objectives' own units and
// directions; "completed": the completed trials the front is taken from), or null while the front is
// empty.
std::string HypervolumeJson(const v1::GetParetoFrontResponse& front);

// JSON of the API (see the class comment for where each appears).
std::string StudySummaryJson(const v1::Study& study);
// With `history`, the trial's step history too ("history": [{"step": 1, "metrics": {...}}, ...]).
std::string TrialJson(const v1::Trial& trial, bool history = false);
// {"lost_after_ms": N, "workers": [{"id", "name", "device", "labels": {...}, "slots", "slots_in_use",
// "registered_ms", "last_heartbeat_ms", "state": "live" | "lost"}, ...]}
std::string WorkersJson(const v1::ListWorkersResponse& workers);
// {"method", "objectives": [...], "importance": [{"objective", "trials", "parameters": [{"parameter",
// "importance", "stddev"}, ...]}, ...], "front": {"trials": [{"id", "number", "objectives": [...]}, ...],
// "hypervolume", "reference", "best", "best_trial_ids", "completed", "infeasible", "history": [[number,
// hypervolume], ...]}}: the fields of v1::AnalyzeStudyResponse, numbers as numbers.
std::string AnalysisJson(const v1::AnalyzeStudyResponse& analysis);

class DashboardApi {
 public:
  // `auth` and `rpc_metrics` may be null: no token check; no gRPC series in /metrics.
  DashboardApi(Core* core, const TokenAuth* auth, const RpcMetrics* rpc_metrics,
               DashboardOptions options = {});

  // Answers one request (the HttpServer's handler).
  HttpResponse Handle(const HttpRequest& request);

 private:
  HttpResponse Route(const HttpRequest& request);
  HttpResponse Studies();
  HttpResponse Study(uint64_t id);
  HttpResponse Trials(uint64_t id, std::string_view query);
  HttpResponse Analysis(uint64_t id);
  HttpResponse Front(uint64_t id);
  HttpResponse Workers(std::string_view query);
  HttpResponse Metrics();

  Core* const core_;
  const TokenAuth* const auth_;
  const RpcMetrics* const rpc_metrics_;
  const DashboardOptions options_;
  std::mutex mu_;
  std::map<int, uint64_t> requests_by_status_;  // GUARDED_BY(mu_)
};

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_DASHBOARD_API_H_
