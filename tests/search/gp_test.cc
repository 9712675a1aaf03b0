#include "search/gp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "base/rng.h"

namespace hpo::search {
namespace {

// Matern 5/2 at distance r, written out.
double Matern(double r, double signal) {
  return signal * (1 + std::sqrt(5.0) * r + 5.0 / 3.0 * r * r) * std::exp(-std::sqrt(5.0) * r);
}

TEST(GaussianProcessTest, PosteriorMatchesAHandComputedTwoPointCase) {
  // Two points on one feature, y = (3, 1): standardised z = (1, -1) (mean 2, scale 1).
  const std::vector<std::vector<double>> x = {{0.0}, {1.0}};
  const std::vector<double> y = {3.0, 1.0};
  const double l = 0.5, signal = 1.3, noise = 0.01;
  GpHyperparameters h;
  h.log_lengthscales = {std::log(l)};
  h.log_signal = std::log(signal);
  h.log_noise = std::log(noise);
  Result<GaussianProcess> gp = GaussianProcess::WithHyperparameters(x, y, h);
  ASSERT_TRUE(gp.ok()) << gp.status().ToString();

  // K = [[a, c], [c, a]], K^-1 = [[a, -c], [-c, a]] / (a^2 - c^2).
  const double a = signal + noise, c = Matern(1.0 / l, signal), det = a * a - c * c;
  const double alpha1 = (a * 1 - c * -1) / det, alpha2 = (-c * 1 + a * -1) / det;
  for (double at : {0.25, 0.5, 0.9, 1.7}) {
    const double k1 = Matern(at / l, signal), k2 = Matern(std::abs(at - 1.0) / l, signal);
    const double mean = 2.0 + (k1 * alpha1 + k2 * alpha2);
    const double quad = (a * k1 * k1 - 2 * c * k1 * k2 + a * k2 * k2) / det;
    const double variance = signal - quad;
    const GpPrediction p = gp->Predict(std::vector<double>{at});
    EXPECT_NEAR(p.mean, mean, 1e-10) << "at " << at;
    EXPECT_NEAR(p.variance, variance, 1e-10) << "at " << at;
  }
  // At a training point with little noise the mean is close to the observation and the variance small.
  const GpPrediction at0 = gp->Predict(std::vector<double>{0.0});
  EXPECT_NEAR(at0.mean, 3.0, 0.02);
  EXPECT_LT(at0.variance, 0.02);
}

TEST(GaussianProcessTest, LikelihoodGradientMatchesFiniteDifferences) {
  Rng rng(7);
  const Eigen::Index n = 12, d = 3;
  Eigen::MatrixXd x(n, d);
  Eigen::VectorXd z(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < d; ++j) x(i, j) = rng.Uniform01();
    z(i) = std::sin(3 * x(i, 0)) + x(i, 1) * x(i, 2) + 0.05 * rng.Normal();
  }
  z = (z.array() - z.mean()).matrix();
  for (int trial = 0; trial < 4; ++trial) {
    Eigen::VectorXd theta(d + 2);
    for (Eigen::Index j = 0; j < d; ++j) theta(j) = rng.Uniform(-1.5, 1.0);
    theta(d) = rng.Uniform(-0.5, 0.5);
    theta(d + 1) = rng.Uniform(-6.0, -2.0);
    Eigen::VectorXd gradient;
    const double value = GaussianProcess::LogMarginalLikelihood(x, z, theta, &gradient);
    ASSERT_TRUE(std::isfinite(value));
    for (Eigen::Index j = 0; j < theta.size(); ++j) {
      const double h = 1e-6;
      Eigen::VectorXd plus = theta, minus = theta;
      plus(j) += h;
      minus(j) -= h;
      const double numeric = (GaussianProcess::LogMarginalLikelihood(x, z, plus, nullptr) -
                              GaussianProcess::LogMarginalLikelihood(x, z, minus, nullptr)) /
                             (2 * h);
      EXPECT_NEAR(gradient(j), numeric, 1e-5 * std::max(1.0, std::abs(numeric))) << "theta " << j;
    }
  }
}

TEST(GaussianProcessTest, FitLearnsRelevanceAndNoise) {
  // y depends on feature 0 only, with noise of sd 0.1: the fitted lengthscale of feature 0 is much
  // shorter than feature 1's, and the fitted noise is near 0.01 (in y's units).
  Rng rng(3);
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (int i = 0; i < 60; ++i) {
    x.push_back({rng.Uniform01(), rng.Uniform01()});
    y.push_back(std::sin(6 * x.back()[0]) + 0.1 * rng.Normal());
  }
  Result<GaussianProcess> gp = GaussianProcess::Fit(x, y, {.restarts = 2, .seed = 1});
  ASSERT_TRUE(gp.ok()) << gp.status().ToString();
  const GpHyperparameters& h = gp->hyperparameters();
  EXPECT_LT(h.log_lengthscales[0] + 1.5, h.log_lengthscales[1]);
  double var = 0, mean = 0;
  for (double v : y) mean += v / static_cast<double>(y.size());
  for (double v : y) var += (v - mean) * (v - mean) / static_cast<double>(y.size());
  const double noise = std::exp(h.log_noise) * var;
  EXPECT_GT(noise, 0.003);
  EXPECT_LT(noise, 0.03);
  // And it predicts the function between the points.
  for (double at : {0.1, 0.35, 0.6, 0.85}) {
    EXPECT_NEAR(gp->Predict(std::vector<double>{at, 0.5}).mean, std::sin(6 * at), 0.15) << at;
  }
}

TEST(GaussianProcessTest, ConditioningOnAPointAtItsMeanKeepsTheMeanAndShrinksTheVariance) {
  Rng rng(5);
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (int i = 0; i < 10; ++i) {
    x.push_back({rng.Uniform01()});
    y.push_back(x.back()[0] * x.back()[0]);
  }
  Result<GaussianProcess> gp = GaussianProcess::Fit(x, y, {.seed = 2});
  ASSERT_TRUE(gp.ok());
  const std::vector<double> at = {0.55};
  const GpPrediction before = gp->Predict(at);
  const GaussianProcess believed = gp->Condition({at}, std::vector<double>{before.mean});
  const GpPrediction after = believed.Predict(at);
  EXPECT_NEAR(after.mean, before.mean, 1e-6);
  EXPECT_LT(after.variance, 0.1 * before.variance + 1e-9);
  EXPECT_EQ(believed.size(), gp->size() + 1);
}

TEST(GaussianProcessTest, RefusesBadData) {
  EXPECT_EQ(GaussianProcess::Fit({}, {}, {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(GaussianProcess::Fit({{0.1}, {0.2, 0.3}}, std::vector<double>{1, 2}, {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(GaussianProcess::Fit({{0.1}}, std::vector<double>{NAN}, {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(GaussianProcess::Fit({{0.1}}, std::vector<double>{1, 2}, {}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(GaussianProcessTest, DuplicatePointsStillFit) {
  const std::vector<std::vector<double>> x = {{0.5}, {0.5}, {0.5}, {0.2}};
  const std::vector<double> y = {1.0, 1.1, 0.9, 0.0};
  Result<GaussianProcess> gp = GaussianProcess::Fit(x, y, {.seed = 1});
  ASSERT_TRUE(gp.ok()) << gp.status().ToString();
  EXPECT_NEAR(gp->Predict(std::vector<double>{0.5}).mean, 1.0, 0.1);
}

}  // namespace
}  // namespace hpo::search
