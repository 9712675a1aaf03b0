// Tests trainer/schedule.cc: each schedule's rate at hand-computed steps, the warm-up length, and the
// argument checks.
#include "trainer/schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace hpo::trainer {
namespace {

TEST(ScheduleTest, ConstantIsConstant) {
  auto s = LrSchedule::Create(ScheduleKind::kConstant, 0.1, 10, 0.3);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->warmup_steps(), 0);
  for (int64_t t : {-1, 0, 5, 9, 100}) EXPECT_EQ(s->At(t), 0.1);
}

TEST(ScheduleTest, CosineDecaysFromThePeak) {
  auto s = LrSchedule::Create(ScheduleKind::kCosine, 2.0, 4, 0.5);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->warmup_steps(), 0);  // cosine ignores the warm-up fraction
  EXPECT_DOUBLE_EQ(s->At(0), 2.0);
  EXPECT_DOUBLE_EQ(s->At(1), 1.0 + std::cos(std::numbers::pi / 4));
  EXPECT_DOUBLE_EQ(s->At(2), 1.0);
  EXPECT_DOUBLE_EQ(s->At(3), 1.0 + std::cos(3 * std::numbers::pi / 4));
  EXPECT_GT(s->At(3), 0.0);
  EXPECT_EQ(s->At(4), s->At(3));  // past the end: the last rate
}

TEST(ScheduleTest, WarmupThenCosine) {
  auto s = LrSchedule::Create(ScheduleKind::kWarmupCosine, 1.0, 10, 0.25);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->warmup_steps(), 3);  // ceil(2.5)
  EXPECT_DOUBLE_EQ(s->At(0), 1.0 / 3);
  EXPECT_DOUBLE_EQ(s->At(1), 2.0 / 3);
  EXPECT_DOUBLE_EQ(s->At(2), 1.0);
  EXPECT_DOUBLE_EQ(s->At(3), 1.0);  // cosine from the peak over the remaining 7 steps
  EXPECT_DOUBLE_EQ(s->At(6), 0.5 * (1 + std::cos(std::numbers::pi * 3 / 7)));
  for (int64_t t = 3; t < 9; ++t) EXPECT_GT(s->At(t), s->At(t + 1)) << t;
  // One step in all: no room for warm-up.
  auto one = LrSchedule::Create(ScheduleKind::kWarmupCosine, 1.0, 1, 0.4);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->warmup_steps(), 0);
  EXPECT_EQ(one->At(0), 1.0);
}

TEST(ScheduleTest, RejectsBadArguments) {
  EXPECT_EQ(LrSchedule::Create(ScheduleKind::kConstant, 0, 10, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(LrSchedule::Create(ScheduleKind::kConstant, NAN, 10, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(LrSchedule::Create(ScheduleKind::kCosine, 0.1, 0, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(LrSchedule::Create(ScheduleKind::kWarmupCosine, 0.1, 10, 1.0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ScheduleKindName(ScheduleKind::kWarmupCosine), "warmup_cosine");
}

}  // namespace
}  // namespace hpo::trainer
