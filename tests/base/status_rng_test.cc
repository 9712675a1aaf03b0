#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "base/clock.h"
#include "base/rng.h"
#include "base/status.h"

namespace hpo {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError("x: " + std::to_string(x) + " is odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  HPO_ASSIGN_OR_RETURN(int half, Half(x));
  HPO_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(StatusTest, CarriesCodeAndMessage) {
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().ToString(), "OK");
  const Status s = NotFoundError("study 3 not found");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "NOT_FOUND: study 3 not found");
  EXPECT_EQ(s.WithPrefix("get").message(), "get: study 3 not found");
}

TEST(StatusTest, ResultPropagates) {
  EXPECT_EQ(*Quarter(12), 3);
  const auto bad = Quarter(6);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "x: 3 is odd");
}

TEST(RngTest, SameSeedSameStreamAndSaveLoadContinues) {
  Rng a(42), b(42);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.Next(), b.Next());
  (void)a.Normal();  // leaves a spare normal in the state
  Rng c(1);
  ASSERT_TRUE(c.Load(a.Save()).ok());
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(a.Normal(), c.Normal());
    ASSERT_EQ(a.UniformInt(17), c.UniformInt(17));
  }
  EXPECT_FALSE(c.Load("garbage").ok());
}

TEST(RngTest, DistributionsHaveTheirMoments) {
  Rng rng(7);
  const int n = 200000;
  double sum = 0, sum_sq = 0, usum = 0;
  std::vector<int> counts(5, 0);
  for (int i = 0; i < n; ++i) {
    const double z = rng.Normal();
    sum += z;
    sum_sq += z * z;
    const double u = rng.Uniform01();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    usum += u;
    ++counts[rng.UniformInt(5)];
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sum_sq / n, 1.0, 0.02);
  EXPECT_NEAR(usum / n, 0.5, 0.005);
  for (int c : counts) EXPECT_NEAR(c, n / 5, n / 100);
}

TEST(RngTest, DerivedSeedsDiffer) {
  std::set<uint64_t> seeds;
  for (uint64_t t = 0; t < 1000; ++t) seeds.insert(DeriveSeed(1, t));
  EXPECT_EQ(seeds.size(), 1000u);
  EXPECT_NE(DeriveSeed(1, 0), DeriveSeed(2, 0));
}

TEST(ClockTest, FakeClockMovesWhenTold) {
  FakeClock clock(100);
  EXPECT_EQ(clock.NowMs(), 100);
  clock.AdvanceMs(50);
  EXPECT_EQ(clock.NowMs(), 150);
  EXPECT_GT(SystemClock::Default()->NowMs(), 1'600'000'000'000);
}

}  // namespace
}  // namespace hpo
