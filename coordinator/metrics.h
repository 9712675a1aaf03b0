// Metrics: what the coordinator measures for Prometheus, and the text it is scraped as.
//
// - RpcMetrics: every gRPC call's count by method and status code and its latency histogram by method,
//   fed by the server interceptor MakeRpcMetricsInterceptorFactory() (so the services need not know).
// - PrometheusText: the text exposition format 0.0.4 (# HELP, # TYPE, samples; histograms as cumulative
//   _bucket series with `le`, _sum and _count).
//
// RpcMetrics is thread-safe; the interceptor factory holds a non-owning pointer to it, which must
// outlive the gRPC server. PrometheusText is a value for one thread at a time.
#ifndef HPO_COORDINATOR_METRICS_H_
#define HPO_COORDINATOR_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coordinator/histogram.h"

namespace hpo::coordinator {

class RpcMetrics {
 public:
  struct MethodStats {
    std::map<std::string, uint64_t> calls_by_code;  // "OK", "NOT_FOUND", ... -> calls
    Histogram seconds{LatencyBucketsSeconds()};
  };

  // Counts one call of `method` ("/hpo.v1.StudyService/GetStudy") that ended with `code` after `seconds`.
  void Record(std::string_view method, int code, double seconds);
  // Every method seen so far, by its full name.
  std::map<std::string, MethodStats> Snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, MethodStats, std::less<>> methods_;  // GUARDED_BY(mu_)
};

// The interceptor that feeds `metrics`: each call is timed from its creation to the status sent (a call
// that ends without one, e.g. cancelled by its client, counts as CANCELLED). REQUIRES: `metrics`
// outlives the server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcMetricsInterceptorFactory(
    RpcMetrics* metrics);

// "OK", "CANCELLED", ..., "UNAUTHENTICATED" for gRPC status code `code`; "UNKNOWN" for others.
std::string_view GrpcCodeName(int code);

class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  // Starts a metric family: its # HELP and # TYPE lines. `type` is "counter", "gauge" or "histogram".
  void Family(std::string_view name, std::string_view type, std::string_view help);
  // One sample line: name{labels} value.
  void Sample(std::string_view name, const Labels& labels, double value);
  // A histogram's samples: name_bucket{labels,le=...} (cumulative, +Inf last), name_sum and name_count.
  void HistogramSamples(std::string_view name, const Labels& labels, const Histogram& histogram);

  const std::string& text() const { return text_; }

  // A label value as the format writes it: backslash, double quote and newline escaped.
  static std::string EscapeLabelValue(std::string_view value);
  // A sample value: shortest round-trip decimal, "+Inf", "-Inf" or "NaN".
  static std::string FormatValue(double value);

 private:
  std::string text_;
};

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_METRICS_H_
