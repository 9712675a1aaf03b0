#include "search/ehvi.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "base/rng.h"
#include "search/hypervolume.h"

namespace hpo::search {
namespace {

double Hv(const std::vector<std::vector<double>>& points, const std::vector<double>& reference) {
  return Hypervolume(points, reference).value().value;
}

double ImprovementByHypervolume(std::vector<std::vector<double>> front, const std::vector<double>& y,
                                const std::vector<double>& reference) {
  const double before = Hv(front, reference);
  front.push_back(y);
  return Hv(front, reference) - before;
}

struct MonteCarlo {
  double mean = 0, standard_error = 0;
};

MonteCarlo MonteCarloEhvi(const std::vector<std::vector<double>>& front, const std::vector<double>& mean,
                          const std::vector<double>& sd, const std::vector<double>& reference, int samples) {
  Rng rng(11);
  double sum = 0, sum2 = 0;
  const double before = Hv(front, reference);
  std::vector<std::vector<double>> with = front;
  with.emplace_back(mean.size());
  for (int s = 0; s < samples; ++s) {
    for (size_t d = 0; d < mean.size(); ++d) with.back()[d] = mean[d] + sd[d] * rng.Normal();
    const double v = Hv(with, reference) - before;
    sum += v;
    sum2 += v * v;
  }
  const double n = samples, m = sum / n;
  return {m, std::sqrt(std::max(sum2 / n - m * m, 0.0) / n)};
}

TEST(EhviTest, TwoObjectivesMatchMonteCarlo) {
  const std::vector<std::vector<double>> front = {{1, 3}, {2, 2}, {3, 1}, {2.5, 2.5}};  // one dominated
  const std::vector<double> reference = {4, 4};
  Result<EhviFront> ehvi = EhviFront::Create(front, reference);
  ASSERT_TRUE(ehvi.ok()) << ehvi.status().ToString();
  EXPECT_EQ(ehvi->front_size(), 4u);
  for (const auto& [mean, sd] :
       std::vector<std::pair<std::vector<double>, std::vector<double>>>{{{1.5, 1.5}, {0.5, 0.7}},
                                                                        {{3.5, 0.5}, {1.0, 0.3}},
                                                                        {{0.2, 4.5}, {0.4, 1.2}},
                                                                        {{2, 2}, {0.05, 0.05}}}) {
    const MonteCarlo mc = MonteCarloEhvi(front, mean, sd, reference, 40'000);
    EXPECT_NEAR(ehvi->Evaluate(mean, sd), mc.mean, 4 * mc.standard_error + 1e-9)
        << "mean " << mean[0] << "," << mean[1];
  }
}

TEST(EhviTest, ThreeObjectivesMatchMonteCarlo) {
  const std::vector<std::vector<double>> front = {{1, 2, 3}, {3, 1, 2}, {2, 3, 1}, {2, 2, 2}};
  const std::vector<double> reference = {4, 4, 4};
  Result<EhviFront> ehvi = EhviFront::Create(front, reference);
  ASSERT_TRUE(ehvi.ok());
  for (const auto& [mean, sd] : std::vector<std::pair<std::vector<double>, std::vector<double>>>{
           {{1.5, 1.5, 1.5}, {0.5, 0.7, 0.6}}, {{3, 3, 0.5}, {0.4, 0.4, 0.4}}}) {
    const MonteCarlo mc = MonteCarloEhvi(front, mean, sd, reference, 30'000);
    EXPECT_NEAR(ehvi->Evaluate(mean, sd), mc.mean, 4 * mc.standard_error + 1e-9);
  }
}

TEST(EhviTest, WithoutUncertaintyItIsTheExactImprovement) {
  Rng rng(3);
  for (size_t m : {2u, 3u}) {
    std::vector<std::vector<double>> front;
    for (int i = 0; i < 12; ++i) {
      std::vector<double> p(m);
      for (double& v : p) v = rng.Uniform01();
      front.push_back(p);
    }
    const std::vector<double> reference(m, 1.1);
    Result<EhviFront> ehvi = EhviFront::Create(front, reference);
    ASSERT_TRUE(ehvi.ok());
    for (int k = 0; k < 50; ++k) {
      std::vector<double> y(m);
      for (double& v : y) v = rng.Uniform(-0.1, 1.2);
      EXPECT_NEAR(ehvi->Improvement(y), ImprovementByHypervolume(front, y, reference), 1e-12);
    }
  }
}

TEST(EhviTest, OneObjectiveIsExpectedImprovement) {
  Result<EhviFront> ehvi = EhviFront::Create({{1.0}, {2.0}}, std::vector<double>{5.0});
  ASSERT_TRUE(ehvi.ok());
  // EI of N(1, 1) below the best 1: sd * phi(0) = 0.3989...
  EXPECT_NEAR(ehvi->Evaluate(std::vector<double>{1.0}, std::vector<double>{1.0}), 0.3989422804, 1e-9);
  EXPECT_NEAR(ehvi->Improvement(std::vector<double>{0.25}), 0.75, 1e-12);
}

TEST(EhviTest, EmptyFrontIsTheBoxToTheReference) {
  Result<EhviFront> ehvi = EhviFront::Create({{5, 5}}, std::vector<double>{4, 4});  // outside: dropped
  ASSERT_TRUE(ehvi.ok());
  EXPECT_EQ(ehvi->front_size(), 0u);
  EXPECT_NEAR(ehvi->Improvement(std::vector<double>{1, 2}), 6.0, 1e-12);
}

TEST(EhviTest, RefusesBadInput) {
  EXPECT_EQ(EhviFront::Create({}, std::vector<double>{1, 1, 1, 1}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(EhviFront::Create({{1, 2, 3}}, std::vector<double>{4, 4}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(EhviFront::Create({{1, NAN}}, std::vector<double>{4, 4}).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hpo::search
