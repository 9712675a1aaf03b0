#include "search/gp.h"

#include <LBFGSB.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <numbers>

#include "base/rng.h"

namespace hpo::search {
namespace {

constexpr double kSqrt5 = 2.2360679774997896964;
// Bounds of theta (natural logs): lengthscales on [0,1]-features, the signal and noise variances of
// standardised targets.
constexpr double kMinLogLengthscale = -5.3;  // 0.005
constexpr double kMaxLogLengthscale = 4.6;   // 100
constexpr double kMinLogSignal = -3.0;       // 0.05
constexpr double kMaxLogSignal = 3.0;        // 20
constexpr double kMinLogNoise = -13.8;       // 1e-6
constexpr double kMaxLogNoise = 0.7;         // 2
// The lengthscale prior's standard deviation (Hvarfner et al. 2024).
constexpr double kPriorSd = 1.7320508075688772;  // sqrt(3)

double PriorMean(size_t features) {
  return std::numbers::sqrt2 + 0.5 * std::log(static_cast<double>(std::max<size_t>(features, 1)));
}

Status CheckData(const std::vector<std::vector<double>>& x, std::span<const double> y) {
  if (x.empty()) return InvalidArgumentError("gaussian process: no points");
  if (x.size() != y.size()) {
    return InvalidArgumentError("gaussian process: " + std::to_string(x.size()) + " points but " +
                                std::to_string(y.size()) + " targets");
  }
  const size_t d = x.front().size();
  if (d == 0) return InvalidArgumentError("gaussian process: points have no features");
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].size() != d) {
      return InvalidArgumentError("gaussian process: point " + std::to_string(i) + " has " +
                                  std::to_string(x[i].size()) + " features, point 0 has " +
                                  std::to_string(d));
    }
    for (double v : x[i]) {
      if (!std::isfinite(v))
        return InvalidArgumentError("gaussian process: point " + std::to_string(i) + " is not finite");
    }
    if (!std::isfinite(y[i]))
      return InvalidArgumentError("gaussian process: target " + std::to_string(i) + " is not finite");
  }
  return Status::Ok();
}

Eigen::MatrixXd ToMatrix(const std::vector<std::vector<double>>& rows) {
  Eigen::MatrixXd m(rows.size(), rows.empty() ? 0 : rows.front().size());
  for (size_t i = 0; i < rows.size(); ++i) {
    for (size_t j = 0; j < rows[i].size(); ++j)
      m(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = rows[i][j];
  }
  return m;
}

Eigen::VectorXd ThetaOf(const GpHyperparameters& h) {
  const auto d = static_cast<Eigen::Index>(h.log_lengthscales.size());
  Eigen::VectorXd theta(d + 2);
  for (Eigen::Index i = 0; i < d; ++i) theta(i) = h.log_lengthscales[static_cast<size_t>(i)];
  theta(d) = h.log_signal;
  theta(d + 1) = h.log_noise;
  return theta;
}

GpHyperparameters HyperOf(const Eigen::VectorXd& theta) {
  GpHyperparameters h;
  const Eigen::Index d = theta.size() - 2;
  h.log_lengthscales.assign(theta.data(), theta.data() + d);
  h.log_signal = theta(d);
  h.log_noise = theta(d + 1);
  return h;
}

// The MAP objective to minimise: -(log likelihood + log prior of the lengthscales). Remembers the best
// point it was called at, so that an optimiser that gives up (LBFGS++ throws when a line search fails)
// still leaves its best.
class NegativeLogPosterior {
 public:
  NegativeLogPosterior(const Eigen::MatrixXd& x, const Eigen::VectorXd& z)
      : x_(x), z_(z), prior_mean_(PriorMean(static_cast<size_t>(x.cols()))) {}

  double operator()(const Eigen::VectorXd& theta, Eigen::VectorXd& gradient) {
    double value = -GaussianProcess::LogMarginalLikelihood(x_, z_, theta, &gradient);
    gradient = -gradient;
    for (Eigen::Index d = 0; d < x_.cols(); ++d) {
      const double u = (theta(d) - prior_mean_) / kPriorSd;
      value += 0.5 * u * u;
      gradient(d) += u / kPriorSd;
    }
    if (!std::isfinite(value)) {
      gradient.setZero();
      return std::numeric_limits<double>::max();
    }
    if (value < best_value_) {
      best_value_ = value;
      best_ = theta;
    }
    return value;
  }

  double best_value() const { return best_value_; }
  const Eigen::VectorXd& best() const { return best_; }

 private:
  const Eigen::MatrixXd& x_;
  const Eigen::VectorXd& z_;
  const double prior_mean_;
  double best_value_ = std::numeric_limits<double>::infinity();
  Eigen::VectorXd best_;
};

GpHyperparameters DefaultHyper(size_t features) {
  GpHyperparameters h;
  h.log_lengthscales.assign(features, PriorMean(features));
  h.log_signal = 0.0;
  h.log_noise = -6.0;
  return h;
}

}  // namespace

Eigen::MatrixXd Matern52(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b,
                         const Eigen::VectorXd& inverse_lengthscales, double signal) {
  const Eigen::MatrixXd sa = a * inverse_lengthscales.asDiagonal();
  const Eigen::MatrixXd sb = b * inverse_lengthscales.asDiagonal();
  const Eigen::VectorXd na = sa.rowwise().squaredNorm();
  const Eigen::VectorXd nb = sb.rowwise().squaredNorm();
  Eigen::MatrixXd k = (-2.0 * sa) * sb.transpose();
  k.colwise() += na;
  k.rowwise() += nb.transpose();
  return k.unaryExpr([signal](double r2) {
    const double r = std::sqrt(std::max(r2, 0.0));
    return signal * (1.0 + kSqrt5 * r + (5.0 / 3.0) * r * r) * std::exp(-kSqrt5 * r);
  });
}

double GaussianProcess::LogMarginalLikelihood(const Eigen::MatrixXd& x, const Eigen::VectorXd& z,
                                              const Eigen::VectorXd& theta, Eigen::VectorXd* gradient) {
  const Eigen::Index n = x.rows(), d = x.cols();
  const Eigen::VectorXd inverse = (-theta.head(d)).array().exp();
  const double signal = std::exp(theta(d)), noise = std::exp(theta(d + 1));
  Eigen::MatrixXd kf = Matern52(x, x, inverse, signal);
  Eigen::MatrixXd k = kf;
  k.diagonal().array() += noise;
  const Eigen::LLT<Eigen::MatrixXd> llt(k);
  if (llt.info() != Eigen::Success) {
    if (gradient != nullptr) gradient->setZero(theta.size());
    return -std::numeric_limits<double>::infinity();
  }
  const Eigen::VectorXd alpha = llt.solve(z);
  const Eigen::MatrixXd lower = llt.matrixL();
  const double value = -0.5 * z.dot(alpha) - lower.diagonal().array().log().sum() -
                       0.5 * static_cast<double>(n) * std::log(2.0 * std::numbers::pi);
  if (gradient == nullptr) return value;
  // W = alpha alpha^T - K^-1; d log p / d theta_j = 1/2 sum_ij W_ij dK_ij / d theta_j.
  Eigen::MatrixXd w = -llt.solve(Eigen::MatrixXd::Identity(n, n));
  w.noalias() += alpha * alpha.transpose();
  gradient->resize(theta.size());
  // dK/d log s2 = K_f; dK/d log noise = noise I.
  (*gradient)(d) = 0.5 * (w.array() * kf.array()).sum();
  (*gradient)(d + 1) = 0.5 * noise * w.trace();
  // dK_ij/d log l_c = s2 5/3 (1 + sqrt5 r) exp(-sqrt5 r) (x_ic - x_jc)^2 / l_c^2. With
  // G_ij = W_ij s2 5/3 (1 + sqrt5 r) exp(-sqrt5 r):  sum_ij G_ij (x_ic - x_jc)^2 =
  // 2 sum_i x_ic^2 (G 1)_i - 2 (X^T G X)_cc.
  const Eigen::MatrixXd sx = x * inverse.asDiagonal();
  const Eigen::VectorXd norms = sx.rowwise().squaredNorm();
  Eigen::MatrixXd g = (-2.0 * sx) * sx.transpose();
  g.colwise() += norms;
  g.rowwise() += norms.transpose();
  g = g.unaryExpr([signal](double r2) {
         const double r = std::sqrt(std::max(r2, 0.0));
         return signal * (5.0 / 3.0) * (1.0 + kSqrt5 * r) * std::exp(-kSqrt5 * r);
       }).cwiseProduct(w);
  const Eigen::VectorXd row_sums = g.rowwise().sum();
  const Eigen::VectorXd squares = x.array().square().matrix().transpose() * row_sums;
  const Eigen::MatrixXd gx = g * x;
  for (Eigen::Index c = 0; c < d; ++c) {
    const double sum = 2.0 * squares(c) - 2.0 * x.col(c).dot(gx.col(c));
    (*gradient)(c) = 0.5 * sum * inverse(c) * inverse(c);
  }
  return value;
}

bool GaussianProcess::Factorise() {
  const Eigen::Index d = x_.cols();
  inverse_lengthscales_.resize(d);
  for (Eigen::Index i = 0; i < d; ++i) {
    inverse_lengthscales_(i) = std::exp(-hyper_.log_lengthscales[static_cast<size_t>(i)]);
  }
  Eigen::MatrixXd k = Matern52(x_, x_, inverse_lengthscales_, std::exp(hyper_.log_signal));
  k.diagonal().array() += std::exp(hyper_.log_noise);
  const Eigen::LLT<Eigen::MatrixXd> llt(k);
  if (llt.info() != Eigen::Success) return false;
  lower_ = llt.matrixL();
  alpha_ = llt.solve(z_);
  return alpha_.allFinite();
}

Result<GaussianProcess> GaussianProcess::WithHyperparameters(const std::vector<std::vector<double>>& x,
                                                             std::span<const double> y,
                                                             const GpHyperparameters& h) {
  HPO_RETURN_IF_ERROR(CheckData(x, y));
  if (h.log_lengthscales.size() != x.front().size()) {
    return InvalidArgumentError("gaussian process: " + std::to_string(h.log_lengthscales.size()) +
                                " lengthscales for " + std::to_string(x.front().size()) + " features");
  }
  GaussianProcess gp;
  gp.x_ = ToMatrix(x);
  const auto n = static_cast<Eigen::Index>(y.size());
  const Eigen::VectorXd raw = Eigen::Map<const Eigen::VectorXd>(y.data(), n);
  gp.y_mean_ = raw.mean();
  const double variance = (raw.array() - gp.y_mean_).square().sum() / static_cast<double>(n);
  gp.y_scale_ = variance > 1e-24 ? std::sqrt(variance) : 1.0;
  gp.z_ = (raw.array() - gp.y_mean_) / gp.y_scale_;
  gp.hyper_ = h;
  // Should K not factorise (duplicates with next to no noise), more noise makes it so.
  while (!gp.Factorise()) {
    if (gp.hyper_.log_noise >= kMaxLogNoise) {
      return InternalError("gaussian process: the kernel matrix does not factorise even with noise");
    }
    gp.hyper_.log_noise = std::min(kMaxLogNoise, gp.hyper_.log_noise + 2.0);
  }
  return gp;
}

Result<GaussianProcess> GaussianProcess::Fit(const std::vector<std::vector<double>>& x,
                                             std::span<const double> y, const GpFitOptions& options) {
  HPO_RETURN_IF_ERROR(CheckData(x, y));
  const size_t features = x.front().size();
  // The standardised targets the likelihood is of (WithHyperparameters standardises the same way).
  HPO_ASSIGN_OR_RETURN(GaussianProcess standardised, WithHyperparameters(x, y, DefaultHyper(features)));
  const Eigen::MatrixXd& xm = standardised.x_;
  const Eigen::VectorXd& z = standardised.z_;
  const auto dims = static_cast<Eigen::Index>(features);

  std::vector<Eigen::VectorXd> starts;
  if (options.warm_start != nullptr && options.warm_start->log_lengthscales.size() == features) {
    starts.push_back(ThetaOf(*options.warm_start));
  }
  if (options.default_start || starts.empty()) starts.push_back(ThetaOf(DefaultHyper(features)));
  Rng rng(options.seed);
  for (size_t r = 0; r < options.restarts; ++r) {
    GpHyperparameters h = DefaultHyper(features);
    for (double& l : h.log_lengthscales) l += kPriorSd * rng.Normal();
    h.log_signal = rng.Uniform(-1.0, 1.0);
    h.log_noise = rng.Uniform(-12.0, -2.0);
    starts.push_back(ThetaOf(h));
  }
  Eigen::VectorXd lower(dims + 2), upper(dims + 2);
  lower.head(dims).setConstant(kMinLogLengthscale);
  upper.head(dims).setConstant(kMaxLogLengthscale);
  lower(dims) = kMinLogSignal;
  upper(dims) = kMaxLogSignal;
  lower(dims + 1) = kMinLogNoise;
  upper(dims + 1) = kMaxLogNoise;

  LBFGSpp::LBFGSBParam<double> param;
  param.max_iterations = static_cast<int>(options.max_iterations);
  param.epsilon = 1e-5;
  param.max_linesearch = 30;
  double best_value = std::numeric_limits<double>::infinity();
  Eigen::VectorXd best = starts.front();
  for (Eigen::VectorXd theta : starts) {
    theta = theta.cwiseMax(lower).cwiseMin(upper);
    NegativeLogPosterior objective(xm, z);
    try {
      LBFGSpp::LBFGSBSolver<double> solver(param);
      double value = 0.0;
      solver.minimize(objective, theta, value, lower, upper);
    } catch (const std::exception&) {
      // A failed line search ends this start; the best point it reached still counts.
    }
    if (objective.best_value() < best_value) {
      best_value = objective.best_value();
      best = objective.best();
    }
  }
  return WithHyperparameters(x, y, HyperOf(best));
}

GaussianProcess GaussianProcess::Condition(const std::vector<std::vector<double>>& x,
                                           std::span<const double> y) const {
  GaussianProcess gp = *this;
  if (x.empty()) return gp;
  const Eigen::Index n = x_.rows(), m = static_cast<Eigen::Index>(x.size());
  gp.x_.conservativeResize(n + m, Eigen::NoChange);
  gp.z_.conservativeResize(n + m);
  for (Eigen::Index i = 0; i < m; ++i) {
    for (Eigen::Index j = 0; j < x_.cols(); ++j)
      gp.x_(n + i, j) = x[static_cast<size_t>(i)][static_cast<size_t>(j)];
    gp.z_(n + i) = (y[static_cast<size_t>(i)] - y_mean_) / y_scale_;
  }
  while (!gp.Factorise() && gp.hyper_.log_noise < kMaxLogNoise) {
    gp.hyper_.log_noise = std::min(kMaxLogNoise, gp.hyper_.log_noise + 2.0);
  }
  return gp;
}

std::vector<GpPrediction> GaussianProcess::PredictMany(const Eigen::MatrixXd& points) const {
  const double signal = std::exp(hyper_.log_signal);
  const Eigen::MatrixXd ks = Matern52(points, x_, inverse_lengthscales_, signal);  // m x n
  const Eigen::VectorXd mean = ks * alpha_;
  const Eigen::MatrixXd v = lower_.triangularView<Eigen::Lower>().solve(ks.transpose());  // n x m
  const Eigen::VectorXd reduction = v.colwise().squaredNorm().transpose();
  std::vector<GpPrediction> out(static_cast<size_t>(points.rows()));
  for (Eigen::Index i = 0; i < points.rows(); ++i) {
    const double var = std::max(signal - reduction(i), 1e-12 * signal);
    out[static_cast<size_t>(i)] = {mean(i) * y_scale_ + y_mean_, var * y_scale_ * y_scale_};
  }
  return out;
}

GpPrediction GaussianProcess::Predict(std::span<const double> x) const {
  Eigen::MatrixXd point(1, static_cast<Eigen::Index>(x.size()));
  for (size_t j = 0; j < x.size(); ++j) point(0, static_cast<Eigen::Index>(j)) = x[j];
  return PredictMany(point).front();
}

}  // namespace hpo::search
