// Gaussian-process regression (Rasmussen and Williams, "Gaussian Processes for Machine Learning", MIT
// Press 2006, chapters 2 and 5): the surrogate of the model-based sampler (gp_sampler.h), one process per
// objective or constraint, on feature vectors in [0, 1]^D.
//
// The model. y = f(x) + e with f ~ GP(0, k), e ~ N(0, noise), the targets standardised first (mean 0,
// variance 1; the prediction is mapped back). The kernel is Matern 5/2 with one lengthscale per feature
// (automatic relevance determination):
//   k(x, x') = s2 (1 + sqrt(5) r + 5/3 r^2) exp(-sqrt(5) r),   r^2 = sum_d (x_d - x'_d)^2 / l_d^2.
// With K = k(X, X) + noise I = L L^T (Cholesky, Eigen's LLT) and alpha = K^-1 y:
//   mean(x*) = k*^T alpha,   var(x*) = s2 - |L^-1 k*|^2 (latent f; clamped at 1e-12 s2),
//   log p(y | theta) = -1/2 y^T alpha - sum_i log L_ii - n/2 log 2 pi,
//   d log p / d theta_j = 1/2 tr((alpha alpha^T - K^-1) dK/dtheta_j).
// theta = (log l_1..log l_D, log s2, log noise), fitted by maximum a posteriori: the log likelihood plus
// a log-normal prior on each lengthscale, log l ~ N(sqrt(2) + log(D)/2, 3) (Hvarfner, Hellsten, Nardi,
// "Vanilla Bayesian optimization performs great in high dimensions", ICML 2024: the prior's scale grows
// with sqrt(D), so that a 10-feature model does not start out believing every feature matters), by
// L-BFGS-B (LBFGS++, Debian's liblbfgspp-dev) inside bounds, from several starts; the best optimum wins.
// The noise term is fitted (bounded below by 1e-6 of the standardised variance), so that a noisy metric
// such as a measured latency is smoothed rather than interpolated.
//
// Costs, n points of D features: a fit is O(n^3 + n^2 D) per likelihood evaluation (about 50 per start);
// a prediction O(n D) for the mean and O(n^2) for the variance per point.
//
// A fitted model is an immutable value: Predict may be called from any number of threads at once.
#ifndef HPO_SEARCH_GP_H_
#define HPO_SEARCH_GP_H_

#include <Eigen/Dense>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"

namespace hpo::search {

// The kernel's hyperparameters, in log space: log_lengthscales (one per feature), log signal variance,
// log noise variance (both of the standardised targets).
struct GpHyperparameters {
  std::vector<double> log_lengthscales;
  double log_signal = 0.0;
  double log_noise = -6.0;
};

struct GpFitOptions {
  size_t restarts = 2;         // starts drawn from the prior, besides the default and the warm start
  bool default_start = true;   // start from the prior's mode too (always, when there is no warm start)
  size_t max_iterations = 40;  // L-BFGS-B iterations per start
  uint64_t seed = 0;           // the random starts
  // A start to try first (e.g. the last fit's optimum); ignored when its size does not match.
  const GpHyperparameters* warm_start = nullptr;
};

struct GpPrediction {
  double mean = 0.0;      // of f(x), in the targets' units
  double variance = 0.0;  // of f(x) (without the noise), in the targets' units squared; > 0
};

class GaussianProcess {
 public:
  // A model of y over the rows of x (n points of D features each, in [0, 1]), hyperparameters fitted as
  // above. INVALID_ARGUMENT for no points, rows of different sizes, sizes of x and y that differ, or
  // values that are not finite. A fit that fails numerically falls back to the default
  // hyperparameters with more noise (a Cholesky that cannot fail), so a finite input always gives a model.
  static Result<GaussianProcess> Fit(const std::vector<std::vector<double>>& x, std::span<const double> y,
                                     const GpFitOptions& options);

  // The model with these hyperparameters, no fitting. INVALID_ARGUMENT as Fit, and for hyperparameters
  // whose lengthscale count is not D.
  static Result<GaussianProcess> WithHyperparameters(const std::vector<std::vector<double>>& x,
                                                     std::span<const double> y, const GpHyperparameters& h);

  // The same hyperparameters and standardisation, conditioned on more points (the kriging believer:
  // pending points with their predicted means as observations). REQUIRES: rows of D features.
  GaussianProcess Condition(const std::vector<std::vector<double>>& x, std::span<const double> y) const;

  GpPrediction Predict(std::span<const double> x) const;
  // The predictions at the rows of `points` (m x D), computed together (faster than m calls).
  std::vector<GpPrediction> PredictMany(const Eigen::MatrixXd& points) const;

  const GpHyperparameters& hyperparameters() const { return hyper_; }
  size_t size() const { return static_cast<size_t>(x_.rows()); }
  size_t features() const { return static_cast<size_t>(x_.cols()); }

  // The objective of the fit at theta (= log lengthscales, log s2, log noise): the log marginal
  // likelihood of the standardised targets, and its gradient; without the prior. For tests.
  static double LogMarginalLikelihood(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                                      const Eigen::VectorXd& theta, Eigen::VectorXd* gradient);

 private:
  GaussianProcess() = default;
  // Factorises K for the current x_, z_ (standardised targets) and hyper_; false when K is not
  // positive definite.
  bool Factorise();

  Eigen::MatrixXd x_;  // n x D
  Eigen::VectorXd z_;  // standardised targets
  double y_mean_ = 0.0, y_scale_ = 1.0;
  GpHyperparameters hyper_;
  Eigen::VectorXd inverse_lengthscales_;
  Eigen::MatrixXd lower_;  // L, K = L L^T
  Eigen::VectorXd alpha_;  // K^-1 z
};

// The Matern 5/2 kernel matrix between the rows of a (n x D) and b (m x D) with the given inverse
// lengthscales and signal variance.
Eigen::MatrixXd Matern52(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b,
                         const Eigen::VectorXd& inverse_lengthscales, double signal);

}  // namespace hpo::search

#endif  // HPO_SEARCH_GP_H_
