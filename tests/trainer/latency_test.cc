// Tests trainer/latency.cc: warm-up and sample counts, the median, error propagation.
#include "trainer/latency.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "kernels/cpu_backend.h"

namespace hpo::trainer {
namespace {

class LatencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = kernels::CpuBackend::Create(kernels::BackendOptions{});
    ASSERT_TRUE(backend.ok());
    backend_ = std::move(*backend);
  }
  std::unique_ptr<kernels::CpuBackend> backend_;
};

TEST_F(LatencyTest, CountsWarmupAndSamples) {
  int calls = 0;
  auto count = [&] {
    ++calls;
    return Status::Ok();
  };
  // No time budget: exactly min_samples after the warm-up.
  auto stats =
      MeasureLatency(*backend_, count, {.warmup = 5, .min_samples = 7, .max_samples = 50, .max_seconds = 0});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->samples, 7);
  EXPECT_EQ(calls, 12);
  // A large time budget: capped at max_samples.
  calls = 0;
  stats = MeasureLatency(*backend_, count,
                         {.warmup = 0, .min_samples = 1, .max_samples = 30, .max_seconds = 100});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->samples, 30);
  EXPECT_EQ(calls, 30);
  EXPECT_LE(stats->min_ms, stats->p50_ms);
  EXPECT_LE(stats->p50_ms, stats->max_ms);
}

TEST_F(LatencyTest, MedianOfSleeps) {
  auto sleep = [] {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return Status::Ok();
  };
  auto stats =
      MeasureLatency(*backend_, sleep, {.warmup = 1, .min_samples = 5, .max_samples = 5, .max_seconds = 0});
  ASSERT_TRUE(stats.ok());
  EXPECT_GE(stats->p50_ms, 2.0);
  EXPECT_LT(stats->p50_ms, 200.0);
}

TEST_F(LatencyTest, StopsOnTheTimeBudget) {
  auto sleep = [] {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return Status::Ok();
  };
  auto stats = MeasureLatency(*backend_, sleep,
                              {.warmup = 0, .min_samples = 2, .max_samples = 1000, .max_seconds = 0.05});
  ASSERT_TRUE(stats.ok());
  EXPECT_GE(stats->samples, 2);
  EXPECT_LE(stats->samples, 11);
}

TEST_F(LatencyTest, PropagatesErrorsAndRejectsBadOptions) {
  auto fail = [] { return InternalError("boom"); };
  EXPECT_EQ(MeasureLatency(*backend_, fail).status().message(), "boom");
  auto ok = [] { return Status::Ok(); };
  EXPECT_EQ(MeasureLatency(*backend_, ok, {.min_samples = 0}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(MeasureLatency(*backend_, ok, {.min_samples = 5, .max_samples = 4}).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hpo::trainer
