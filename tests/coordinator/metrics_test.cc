// Histograms, the per-method RPC counts, and the Prometheus text format they are written in.
#include "coordinator/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "coordinator/histogram.h"

namespace hpo::coordinator {
namespace {

TEST(HistogramTest, AValueOnABoundCountsInThatBucketAndLargerOnesInTheLast) {
  Histogram h({1, 2, 4});
  for (double v : {0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 100.0}) h.Observe(v);
  EXPECT_EQ(h.counts(), (std::vector<uint64_t>{2, 2, 2, 1}));
  EXPECT_EQ(h.count(), 7u);
  EXPECT_DOUBLE_EQ(h.sum(), 112.0);
}

TEST(HistogramTest, StandardBucketsAscend) {
  for (const auto* bounds : {&LatencyBucketsSeconds(), &SizeBuckets()}) {
    ASSERT_FALSE(bounds->empty());
    for (size_t i = 1; i < bounds->size(); ++i) EXPECT_LT((*bounds)[i - 1], (*bounds)[i]);
  }
}

TEST(RpcMetricsTest, CountsCallsByMethodAndCodeAndTimesThem) {
  RpcMetrics metrics;
  metrics.Record("/hpo.v1.StudyService/GetStudy", 0, 0.002);
  metrics.Record("/hpo.v1.StudyService/GetStudy", 5, 0.003);
  metrics.Record("/hpo.v1.StudyService/GetStudy", 5, 0.004);
  metrics.Record("/hpo.v1.WorkerService/AcquireTrial", 0, 4.5);
  const auto snapshot = metrics.Snapshot();
  ASSERT_EQ(snapshot.size(), 2u);
  const auto& get = snapshot.at("/hpo.v1.StudyService/GetStudy");
  EXPECT_EQ(get.calls_by_code.at("OK"), 1u);
  EXPECT_EQ(get.calls_by_code.at("NOT_FOUND"), 2u);
  EXPECT_EQ(get.seconds.count(), 3u);
  EXPECT_NEAR(get.seconds.sum(), 0.009, 1e-12);
  EXPECT_EQ(snapshot.at("/hpo.v1.WorkerService/AcquireTrial").seconds.count(), 1u);
}

TEST(RpcMetricsTest, NamesEveryGrpcCode) {
  EXPECT_EQ(GrpcCodeName(0), "OK");
  EXPECT_EQ(GrpcCodeName(3), "INVALID_ARGUMENT");
  EXPECT_EQ(GrpcCodeName(9), "FAILED_PRECONDITION");
  EXPECT_EQ(GrpcCodeName(16), "UNAUTHENTICATED");
  EXPECT_EQ(GrpcCodeName(17), "UNKNOWN");
  EXPECT_EQ(GrpcCodeName(-1), "UNKNOWN");
}

TEST(PrometheusTextTest, WritesFamiliesSamplesAndEscapedLabels) {
  PrometheusText out;
  out.Family("hpo_x", "gauge", "A help text with a \\ and a\nnewline.");
  out.Sample("hpo_x", {}, 3);
  out.Sample("hpo_x", {{"name", "a \"quoted\" \\ name\n"}, {"k", "v"}}, 0.25);
  out.Sample("hpo_x", {{"k", "inf"}}, INFINITY);
  out.Sample("hpo_x", {{"k", "nan"}}, std::nan(""));
  EXPECT_EQ(out.text(),
            "# HELP hpo_x A help text with a \\\\ and a\\nnewline.\n"
            "# TYPE hpo_x gauge\n"
            "hpo_x 3\n"
            "hpo_x{name=\"a \\\"quoted\\\" \\\\ name\\n\",k=\"v\"} 0.25\n"
            "hpo_x{k=\"inf\"} +Inf\n"
            "hpo_x{k=\"nan\"} NaN\n");
}

TEST(PrometheusTextTest, WritesHistogramsWithCumulativeBuckets) {
  Histogram h({0.1, 1});
  for (double v : {0.05, 0.5, 0.7, 2.0}) h.Observe(v);
  PrometheusText out;
  out.HistogramSamples("hpo_t_seconds", {{"m", "Get"}}, h);
  EXPECT_EQ(out.text(),
            "hpo_t_seconds_bucket{m=\"Get\",le=\"0.1\"} 1\n"
            "hpo_t_seconds_bucket{m=\"Get\",le=\"1\"} 3\n"
            "hpo_t_seconds_bucket{m=\"Get\",le=\"+Inf\"} 4\n"
            "hpo_t_seconds_sum{m=\"Get\"} 3.25\n"
            "hpo_t_seconds_count{m=\"Get\"} 4\n");
}

}  // namespace
}  // namespace hpo::coordinator
