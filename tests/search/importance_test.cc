#include "search/importance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "base/rng.h"

namespace hpo::search {
namespace {

double Sum(const ImportanceResult& r) {
  double s = 0.0;
  for (const auto& f : r.features) s += f.importance;
  return s;
}

// Five numeric parameters; the objective depends on the third alone (plus a little noise): it ranks
// first, with nearly all the variance.
TEST(FanovaImportanceTest, RanksTheOneParameterThatMattersFirst) {
  std::vector<ImportanceFeature> features;
  for (const char* name : {"x0", "x1", "x2", "x3", "x4"}) features.push_back({name});
  Rng rng(3);
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (int i = 0; i < 120; ++i) {
    std::vector<double> row(5);
    for (double& v : row) v = rng.Uniform01();
    y.push_back(std::sin(6.0 * row[2]) + 0.01 * rng.Normal());
    x.push_back(row);
  }
  auto result = FanovaImportance(features, x, y, 11);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->trees_used, 64u);
  EXPECT_NEAR(Sum(*result), 1.0, 1e-12);
  EXPECT_GT(result->features[2].importance, 0.9);
  for (int d : {0, 1, 3, 4}) EXPECT_LT(result->features[d].importance, 0.05) << d;
  // Same seed, same numbers; another seed, close.
  auto again = FanovaImportance(features, x, y, 11);
  ASSERT_TRUE(again.ok());
  for (int d = 0; d < 5; ++d) EXPECT_EQ(again->features[d].importance, result->features[d].importance);
  auto other = FanovaImportance(features, x, y, 12);
  ASSERT_TRUE(other.ok());
  EXPECT_NEAR(other->features[2].importance, result->features[2].importance, 0.05);
}

// An additive function: each main effect's share is its variance's share. f = 2 a + b on [0,1]^2 (a and b
// uniform): var(2a) = 4/12, var(b) = 1/12, so a explains 0.8 and b 0.2, which a forest on a grid gets
// close to.
TEST(FanovaImportanceTest, AdditiveFunctionSplitsVarianceByMainEffects) {
  std::vector<ImportanceFeature> features = {{"a"}, {"b"}};
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (int i = 0; i < 20; ++i) {
    for (int j = 0; j < 20; ++j) {
      const double a = (i + 0.5) / 20.0;
      const double b = (j + 0.5) / 20.0;
      x.push_back({a, b});
      y.push_back(2.0 * a + b);
    }
  }
  auto result = FanovaImportance(features, x, y, 5, {.trees = 16});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_NEAR(result->features[0].importance, 0.8, 0.03);
  EXPECT_NEAR(result->features[1].importance, 0.2, 0.03);
}

// A categorical parameter that decides the objective, beside a numeric one that does not; and a
// conditional numeric parameter, active for one choice only, whose value matters there.
TEST(FanovaImportanceTest, CategoricalAndConditionalParameters) {
  std::vector<ImportanceFeature> features = {{"optimizer", 3}, {"noise"}, {"momentum", 0, 2.0 / 3.0}};
  Rng rng(9);
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (int i = 0; i < 150; ++i) {
    const auto choice = static_cast<double>(rng.UniformInt(3));
    const double noise = rng.Uniform01();
    const double momentum = choice == 1.0 ? rng.Uniform01() : kInactive;
    x.push_back({choice, noise, momentum});
    const double base = choice == 0.0 ? 0.0 : choice == 1.0 ? 5.0 : 10.0;
    y.push_back(base + (choice == 1.0 ? 0.5 * momentum : 0.0) + 0.001 * noise);
  }
  auto result = FanovaImportance(features, x, y, 1);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_GT(result->features[0].importance, result->features[2].importance);
  EXPECT_GT(result->features[2].importance, result->features[1].importance);
  EXPECT_GT(result->features[0].importance, 0.5);
  EXPECT_LT(result->features[1].importance, 0.01);
}

TEST(FanovaImportanceTest, ConstantTargetGivesZeroImportance) {
  std::vector<ImportanceFeature> features = {{"a"}, {"b"}};
  auto result = FanovaImportance(features, {{0.1, 0.2}, {0.3, 0.9}, {0.5, 0.5}}, {1.0, 1.0, 1.0}, 0);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->trees_used, 0u);
  EXPECT_EQ(result->features[0].importance, 0.0);
  EXPECT_EQ(result->features[1].importance, 0.0);
}

TEST(FanovaImportanceTest, BadInputIsRefusedNamingIt) {
  std::vector<ImportanceFeature> features = {{"lr"}, {"act", 2}};
  const auto message = [&](const std::vector<std::vector<double>>& x, const std::vector<double>& y,
                           ImportanceOptions options = {}) {
    auto r = FanovaImportance(features, x, y, 0, options);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    return r.status().message();
  };
  EXPECT_NE(message({{0.5, 0.0}}, {1.0}).find("at least 2 samples"), std::string::npos);
  EXPECT_NE(message({{0.5, 0.0}, {1.5, 1.0}}, {1.0, 2.0}).find("feature lr"), std::string::npos);
  EXPECT_NE(message({{0.5, 0.0}, {0.5, 2.0}}, {1.0, 2.0}).find("feature act"), std::string::npos);
  EXPECT_NE(message({{0.5, 0.0}, {kInactive, 1.0}}, {1.0, 2.0}).find("no inactive mass"), std::string::npos);
  EXPECT_NE(message({{0.5, 0.0}, {0.5}}, {1.0, 2.0}).find("x[1] has 1 values"), std::string::npos);
  EXPECT_NE(message({{0.5, 0.0}, {0.5, 1.0}}, {1.0, NAN}).find("y[1]"), std::string::npos);
  EXPECT_NE(message({{0.5, 0.0}, {0.5, 1.0}}, {1.0, 2.0}, {.trees = 0}).find("trees"), std::string::npos);
}

}  // namespace
}  // namespace hpo::search
