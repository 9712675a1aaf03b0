#include "worker/metrics_line.h"

#include <gtest/gtest.h>

namespace hpo::worker {
namespace {

TEST(MetricsLineTest, ExtractsNumbersAndDevice) {
  const Result<TrialMetrics> m = ParseMetricsLine(
      R"json({"accuracy":0.85,"test_accuracy":0.84,"loss":0.4,"latency_ms":0.05,"params":203530,)json"
      R"json("train_time_s":3.1,"device":"cpu: Xeon (2 threads)"})json"
      "\n");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->device, "cpu: Xeon (2 threads)");
  ASSERT_EQ(m->metrics.size(), 6u);
  EXPECT_DOUBLE_EQ(m->metrics.at("accuracy"), 0.85);
  EXPECT_DOUBLE_EQ(m->metrics.at("test_accuracy"), 0.84);
  EXPECT_DOUBLE_EQ(m->metrics.at("loss"), 0.4);
  EXPECT_DOUBLE_EQ(m->metrics.at("latency_ms"), 0.05);
  EXPECT_DOUBLE_EQ(m->metrics.at("params"), 203530.0);
  EXPECT_DOUBLE_EQ(m->metrics.at("train_time_s"), 3.1);
}

TEST(MetricsLineTest, LastJsonLineWinsAndOtherLinesAreIgnored) {
  const Result<TrialMetrics> m = ParseMetricsLine(
      "loading data\n"
      "{\"accuracy\": 0.1, \"device\": \"old\"}\n"
      "epoch 1: loss 0.5 {not a metrics line\n"
      "  {\"accuracy\": 0.9, \"loss\": -2.5e-3}  \r\n"
      "done\n"
      "\n");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->device, "");
  ASSERT_EQ(m->metrics.size(), 2u);
  EXPECT_DOUBLE_EQ(m->metrics.at("accuracy"), 0.9);
  EXPECT_DOUBLE_EQ(m->metrics.at("loss"), -2.5e-3);
}

TEST(MetricsLineTest, NonNumberFieldsAreIgnored) {
  const Result<TrialMetrics> m =
      ParseMetricsLine(R"({"a":1,"note":"hi","ok":true,"nothing":null,"list":[1,2],"obj":{"b":2}})");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->metrics.size(), 1u);
  EXPECT_DOUBLE_EQ(m->metrics.at("a"), 1.0);
}

TEST(MetricsLineTest, EmptyObjectHasNoMetrics) {
  const Result<TrialMetrics> m = ParseMetricsLine("{}");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(m->metrics.empty());
}

TEST(MetricsLineTest, NoJsonLineIsNotFound) {
  EXPECT_EQ(ParseMetricsLine("").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ParseMetricsLine("hello\nworld\n[1, 2]\n").status().code(), StatusCode::kNotFound);
}

TEST(MetricsLineTest, GarbageIsRejected) {
  const Result<TrialMetrics> m = ParseMetricsLine("{\"a\": 1}\n{not json at all}\n");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m.status().message().find('\n'), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("not valid JSON"), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("{not json at all}"), std::string::npos) << m.status().message();
  for (const char* line : {R"({"a" 1})", R"({"a": 1} {"b": 2})", R"({"a": 0x10})", R"({"a": .5})", "{{}"}) {
    EXPECT_EQ(ParseMetricsLine(line).status().code(), StatusCode::kInvalidArgument) << line;
  }
}

TEST(MetricsLineTest, NonFiniteIsRejected) {
  for (const char* line :
       {R"({"loss": NaN})", R"({"loss": nan})", R"({"loss": "NaN"})", R"({"loss": "Infinity"})",
        R"({"loss": "-Infinity"})", R"({"loss": 1e999})", R"({"loss": -1e999})"}) {
    const Result<TrialMetrics> m = ParseMetricsLine(line);
    EXPECT_FALSE(m.ok()) << line;
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument) << line << ": " << m.status().ToString();
  }
}

TEST(FinalMetricsLineTest, ProgressLinesAreNeverTheResult) {
  // hpo-train's output: a progress line per epoch (the first with the latency), then the metrics line.
  const std::string trainer =
      "{\"step\":1,\"accuracy\":0.5,\"loss\":1.5,\"latency_ms\":0.01,\"params\":100}\n"
      "{\"step\":2,\"accuracy\":0.75,\"loss\":0.5}\n"
      "{\"accuracy\":0.75,\"test_accuracy\":0.7,\"loss\":0.5,\"latency_ms\":0.01,\"device\":\"cpu: x\"}\n";
  Result<TrialMetrics> m = ParseFinalMetricsLine(trainer);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->metrics,
            (std::map<std::string, double>{
                {"accuracy", 0.75}, {"latency_ms", 0.01}, {"loss", 0.5}, {"test_accuracy", 0.7}}));
  EXPECT_EQ(m->device, "cpu: x");
  // A progress line after the metrics line does not replace it (ParseMetricsLine would take it).
  m = ParseFinalMetricsLine(trainer + "{\"step\":3,\"accuracy\":0.1}\n");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->metrics.at("accuracy"), 0.75);
  EXPECT_EQ(ParseMetricsLine(trainer + "{\"step\":3,\"accuracy\":0.1}\n")->metrics.at("accuracy"), 0.1);
  // Progress lines alone are no result.
  EXPECT_EQ(
      ParseFinalMetricsLine("{\"step\":1,\"accuracy\":0.5}\n{\"step\":2,\"accuracy\":0.6}\n").status().code(),
      StatusCode::kNotFound);
  // A bad last line that is not progress is still an error, as with ParseMetricsLine.
  EXPECT_EQ(ParseFinalMetricsLine("{\"step\":1}\n{\"accuracy\": }\n").status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ProgressLineTest, AJsonObjectWithAWholeStepIsProgress) {
  const std::optional<ProgressLine> p =
      ParseProgressLine(R"(  {"step": 3, "loss": 0.41, "accuracy": 0.8, "phase": "train", "bad": NaN} )");
  // NaN is not JSON: the whole line is not a JSON object, so not progress.
  EXPECT_FALSE(p.has_value());
  const std::optional<ProgressLine> q =
      ParseProgressLine(R"(  {"step": 3, "loss": 0.41, "accuracy": 0.8, "phase": "train", "big": 1e999} )");
  EXPECT_FALSE(q.has_value());  // 1e999 is out of double's range: refused by the parser
  const std::optional<ProgressLine> r =
      ParseProgressLine(R"(  {"step": 3, "loss": 0.41, "accuracy": 0.8, "phase": "train", "ok": true})");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->step, 3u);
  EXPECT_EQ(r->metrics, (std::map<std::string, double>{{"accuracy", 0.8}, {"loss", 0.41}}));
  const std::optional<ProgressLine> big = ParseProgressLine(R"({"step": 9007199254740992})");
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->step, 9007199254740992u);
  EXPECT_TRUE(big->metrics.empty());
}

TEST(ProgressLineTest, OtherLinesAreNot) {
  for (const char* line :
       {"", "step 3", R"({"accuracy": 0.8})", R"({"step": "3"})", R"({"step": -1})", R"({"step": 1.5})",
        R"({"step": 1e300})", R"({"step": 3)", R"(["step", 3])", R"({"steps": 3})", R"({"step": null})"}) {
    EXPECT_FALSE(ParseProgressLine(line).has_value()) << line;
  }
}

// A metrics line of `bytes` bytes: {"accuracy":0.5,"pad":"xx...x"}.
std::string LineOfSize(size_t bytes) {
  const std::string head = R"({"accuracy":0.5,"pad":")";
  const std::string tail = R"("})";
  return head + std::string(bytes - head.size() - tail.size(), 'x') + tail;
}

TEST(MetricsLineTest, ALineUpToTheLimitIsReadAndALongerOneIsRefusedSayingHowLong) {
  const Result<TrialMetrics> at_limit = ParseMetricsLine("log\n" + LineOfSize(kMaxMetricsLineBytes) + "\n");
  ASSERT_TRUE(at_limit.ok()) << at_limit.status().ToString();
  EXPECT_DOUBLE_EQ(at_limit->metrics.at("accuracy"), 0.5);

  const size_t over = kMaxMetricsLineBytes + 1;
  for (const auto& parse : {ParseMetricsLine, ParseFinalMetricsLine}) {
    const Result<TrialMetrics> m = parse(LineOfSize(over) + "\n");
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(m.status().message(), "metrics line too large (1048577 bytes, limit 1048576)");
  }
  EXPECT_FALSE(ParseProgressLine(R"({"step":1,"pad":")" + std::string(over, 'x') + R"("})").has_value());
}

}  // namespace
}  // namespace hpo::worker
