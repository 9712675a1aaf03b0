// Tests trainer/loss_scaler.cc: the state machine step by step (overflow halves, skips and resets the
// clean count; growth exactly after growth_interval clean steps; the floor and the cap), disabled mode,
// and refused options naming the field.
#include "trainer/loss_scaler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace hpo::trainer {

namespace {

LossScaler MakeScaler(const LossScalerOptions& options) {
  Result<LossScaler> scaler = LossScaler::Create(options);
  EXPECT_TRUE(scaler.ok()) << scaler.status().ToString();
  return *scaler;
}

TEST(LossScalerTest, DefaultsMatchTheDesign) {
  const LossScaler scaler = MakeScaler(LossScalerOptions{});
  EXPECT_TRUE(scaler.enabled());
  EXPECT_EQ(scaler.scale(), 65536.0);
  EXPECT_EQ(scaler.inverse_scale(), 1.0 / 65536.0);
  EXPECT_EQ(scaler.clean_steps(), 0);
  EXPECT_EQ(scaler.skipped_steps(), 0);
  const LossScalerOptions defaults;
  EXPECT_EQ(defaults.growth_interval, 2000);
  EXPECT_EQ(defaults.growth_factor, 2.0);
  EXPECT_EQ(defaults.backoff_factor, 0.5);
  EXPECT_EQ(defaults.min_scale, 1.0);
  EXPECT_EQ(defaults.max_scale, 16777216.0);
}

TEST(LossScalerTest, OverflowHalvesSkipsAndResetsTheCleanCount) {
  LossScaler scaler = MakeScaler(LossScalerOptions{});
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(scaler.Update(false));
  EXPECT_EQ(scaler.clean_steps(), 5);
  EXPECT_EQ(scaler.scale(), 65536.0);

  EXPECT_FALSE(scaler.Update(true));
  EXPECT_EQ(scaler.scale(), 32768.0);
  EXPECT_EQ(scaler.clean_steps(), 0);
  EXPECT_EQ(scaler.skipped_steps(), 1);

  EXPECT_FALSE(scaler.Update(true));
  EXPECT_EQ(scaler.scale(), 16384.0);
  EXPECT_EQ(scaler.skipped_steps(), 2);

  EXPECT_TRUE(scaler.Update(false));
  EXPECT_EQ(scaler.scale(), 16384.0);
  EXPECT_EQ(scaler.clean_steps(), 1);
  EXPECT_EQ(scaler.skipped_steps(), 2);
}

TEST(LossScalerTest, GrowsExactlyAfterGrowthIntervalCleanSteps) {
  LossScaler scaler = MakeScaler(LossScalerOptions{});
  for (int i = 1; i < 2000; ++i) {
    ASSERT_TRUE(scaler.Update(false));
    ASSERT_EQ(scaler.scale(), 65536.0) << "grew early at step " << i;
    ASSERT_EQ(scaler.clean_steps(), i);
  }
  EXPECT_TRUE(scaler.Update(false));  // the 2,000th clean step
  EXPECT_EQ(scaler.scale(), 131072.0);
  EXPECT_EQ(scaler.clean_steps(), 0);

  // An overflow one step short of the next growth restarts the count.
  for (int i = 0; i < 1999; ++i) scaler.Update(false);
  EXPECT_EQ(scaler.clean_steps(), 1999);
  EXPECT_FALSE(scaler.Update(true));
  EXPECT_EQ(scaler.scale(), 65536.0);
  for (int i = 0; i < 1999; ++i) scaler.Update(false);
  EXPECT_EQ(scaler.scale(), 65536.0);
  scaler.Update(false);
  EXPECT_EQ(scaler.scale(), 131072.0);
  EXPECT_EQ(scaler.skipped_steps(), 1);
}

TEST(LossScalerTest, FloorAndCap) {
  LossScalerOptions options;
  options.initial_scale = 4;
  options.min_scale = 1;
  options.max_scale = 16;
  options.growth_interval = 3;
  LossScaler scaler = MakeScaler(options);

  EXPECT_FALSE(scaler.Update(true));
  EXPECT_EQ(scaler.scale(), 2.0);
  EXPECT_FALSE(scaler.Update(true));
  EXPECT_EQ(scaler.scale(), 1.0);
  EXPECT_FALSE(scaler.Update(true));  // still skipped at the floor
  EXPECT_EQ(scaler.scale(), 1.0);
  EXPECT_EQ(scaler.skipped_steps(), 3);

  const double expected[] = {2, 4, 8, 16, 16, 16};
  for (const double scale : expected) {
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(scaler.Update(false));
    EXPECT_EQ(scaler.scale(), scale);
    EXPECT_EQ(scaler.clean_steps(), 0);
  }
}

TEST(LossScalerTest, FloorAndCapClampNonPowerOfTwoProducts) {
  LossScalerOptions options;
  options.initial_scale = 3;
  options.min_scale = 2;
  options.max_scale = 5;
  options.growth_interval = 1;
  LossScaler scaler = MakeScaler(options);
  scaler.Update(true);
  EXPECT_EQ(scaler.scale(), 2.0);  // 1.5 clamped to the floor
  scaler.Update(false);
  EXPECT_EQ(scaler.scale(), 4.0);
  scaler.Update(false);
  EXPECT_EQ(scaler.scale(), 5.0);  // 8 clamped to the cap
}

TEST(LossScalerTest, DisabledKeepsScaleOneAndSkipsOnlyNonFiniteSteps) {
  LossScalerOptions options;
  options.enabled = false;
  options.growth_interval = 2;
  LossScaler scaler = MakeScaler(options);
  EXPECT_FALSE(scaler.enabled());
  EXPECT_EQ(scaler.scale(), 1.0);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(scaler.Update(false));
  EXPECT_EQ(scaler.scale(), 1.0);
  EXPECT_EQ(scaler.clean_steps(), 0);
  EXPECT_FALSE(scaler.Update(true));
  EXPECT_EQ(scaler.scale(), 1.0);
  EXPECT_EQ(scaler.skipped_steps(), 1);
  EXPECT_TRUE(scaler.Update(false));
}

void ExpectRefused(const LossScalerOptions& options, const std::string& field) {
  const Result<LossScaler> scaler = LossScaler::Create(options);
  ASSERT_FALSE(scaler.ok()) << field;
  EXPECT_EQ(scaler.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(scaler.status().message().find(field), std::string::npos) << scaler.status().message();
}

TEST(LossScalerTest, InvalidOptionsAreRefusedNamingTheField) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const LossScalerOptions good;

  for (const double v : {0.0, -1.0, inf, nan}) {
    LossScalerOptions o = good;
    o.min_scale = v;
    ExpectRefused(o, "min_scale");
  }
  for (const double v : {0.5, inf, nan}) {  // 0.5 < min_scale
    LossScalerOptions o = good;
    o.max_scale = v;
    ExpectRefused(o, "max_scale");
  }
  for (const double v : {0.5, 3e7, inf, nan}) {
    LossScalerOptions o = good;
    o.initial_scale = v;
    ExpectRefused(o, "initial_scale");
  }
  for (const int v : {0, -5}) {
    LossScalerOptions o = good;
    o.growth_interval = v;
    ExpectRefused(o, "growth_interval");
  }
  for (const double v : {1.0, 0.5, inf, nan}) {
    LossScalerOptions o = good;
    o.growth_factor = v;
    ExpectRefused(o, "growth_factor");
  }
  for (const double v : {0.0, 1.0, -0.5, 2.0, nan}) {
    LossScalerOptions o = good;
    o.backoff_factor = v;
    ExpectRefused(o, "backoff_factor");
  }
  LossScalerOptions disabled = good;  // validated in disabled mode too
  disabled.enabled = false;
  disabled.growth_interval = 0;
  ExpectRefused(disabled, "growth_interval");
}

}  // namespace
}  // namespace hpo::trainer
