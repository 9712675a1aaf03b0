// Gradient checks of the backward operations in double precision (kF64 on the CPU backend): each analytic
// gradient against central differences of the backend's own forward operation, with a scalar objective
// L = sum_i w_i f_i for fixed random weights w. Step h = 1e-5 keeps the truncation error (h^2 f''' / 6) and
// the cancellation error (2^-52 |L| / h) both near 1e-10; the relative error
// |analytic - numeric| / max(|analytic|, |numeric|, 1e-2) must stay below 1e-6.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/rng.h"
#include "kernels/backend.h"
#include "tests/kernels/kernels_test_util.h"

namespace hpo::kernels {
namespace {

constexpr DType kF64 = DType::kF64;

class GradientCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = MakeBackend(BackendKind::kCpu, BackendOptions{});
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    backend_ = std::move(*made);
  }

  Buffer Make(const std::vector<double>& v) { return ktest::Make(*backend_, kF64, v); }
  Buffer Zeros(size_t n) { return ktest::Zeros(*backend_, kF64, n); }
  std::vector<double> Get(ConstView v) { return ktest::Get(*backend_, v); }

  std::unique_ptr<Backend> backend_;
};

using ktest::CheckAgainstFiniteDifferences;
using ktest::Dot;

// Normal values kept at least `gap` away from zero (ReLU's kink).
std::vector<double> AwayFromZero(size_t n, uint64_t seed, double scale, double gap) {
  std::vector<double> v = ktest::RandomValues(kF64, n, seed, scale);
  for (double& x : v) {
    if (std::fabs(x) < gap) x = x < 0 ? -gap : gap;
  }
  return v;
}

TEST_F(GradientCheckTest, BiasActivationBackwardEveryActivation) {
  const int rows = 4, cols = 5;
  const size_t size = rows * cols;
  const std::vector<double> z0 = AwayFromZero(size, 1, 1.5, 0.05),
                            bias = ktest::RandomValues(kF64, cols, 2, 0.01),
                            w = ktest::RandomValues(kF64, size, 3);
  for (Activation act :
       {Activation::kIdentity, Activation::kRelu, Activation::kGelu, Activation::kTanh, Activation::kSilu}) {
    const std::string name(ActivationName(act));
    // L(z, bias) = sum w * act(z + bias), through the forward op.
    auto objective = [&](const std::vector<double>& z, const std::vector<double>& b) {
      Buffer zb = Make(z), bb = Make(b), y = Zeros(size);
      EXPECT_TRUE(backend_->BiasActivationForward(act, rows, cols, bb.view(), zb.view(), y.view()).ok());
      return Dot(w, Get(y.view()));
    };
    // Analytic: dz = w * act'(z + bias) at the pre-activation, dbias = column sums.
    Buffer zb = Make(z0), bb = Make(bias), y = Zeros(size), dy = Make(w), dz = Zeros(size),
           dbias = Zeros(cols);
    ASSERT_TRUE(backend_->BiasActivationForward(act, rows, cols, bb.view(), zb.view(), y.view()).ok());
    ASSERT_TRUE(
        backend_->BiasActivationBackward(act, rows, cols, zb.view(), dy.view(), dz.view(), dbias.view())
            .ok());
    CheckAgainstFiniteDifferences(
        name + " dz", z0, [&](const std::vector<double>& z) { return objective(z, bias); }, Get(dz.view()));
    CheckAgainstFiniteDifferences(
        name + " dbias", bias, [&](const std::vector<double>& b) { return objective(z0, b); },
        Get(dbias.view()));
  }
}

TEST_F(GradientCheckTest, LayerNormBackward) {
  const int rows = 3, cols = 7;
  const size_t size = rows * cols;
  const double eps = 1e-5;
  const std::vector<double> x0 = ktest::RandomValues(kF64, size, 10, 2.0),
                            w = ktest::RandomValues(kF64, size, 11);
  std::vector<double> gamma0 = ktest::RandomValues(kF64, cols, 12, 0.3),
                      beta0 = ktest::RandomValues(kF64, cols, 13);
  for (double& g : gamma0) g += 1;
  // L = sum w * layer_norm(x; gamma, beta).
  auto objective = [&](const std::vector<double>& x, const std::vector<double>& gamma,
                       const std::vector<double>& beta) {
    Buffer xb = Make(x), gb = Make(gamma), bb = Make(beta), y = Zeros(size), mean = Zeros(rows),
           rstd = Zeros(rows);
    EXPECT_TRUE(backend_
                    ->LayerNormForward(rows, cols, eps, xb.view(), gb.view(), bb.view(), y.view(),
                                       mean.view(), rstd.view())
                    .ok());
    return Dot(w, Get(y.view()));
  };
  Buffer xb = Make(x0), gb = Make(gamma0), bb = Make(beta0), y = Zeros(size), mean = Zeros(rows),
         rstd = Zeros(rows);
  ASSERT_TRUE(backend_
                  ->LayerNormForward(rows, cols, eps, xb.view(), gb.view(), bb.view(), y.view(), mean.view(),
                                     rstd.view())
                  .ok());
  Buffer dy = Make(w), dx = Zeros(size), dgamma = Zeros(cols), dbeta = Zeros(cols);
  ASSERT_TRUE(backend_
                  ->LayerNormBackward(rows, cols, xb.view(), gb.view(), mean.view(), rstd.view(), dy.view(),
                                      dx.view(), dgamma.view(), dbeta.view())
                  .ok());
  CheckAgainstFiniteDifferences(
      "dx", x0, [&](const std::vector<double>& x) { return objective(x, gamma0, beta0); }, Get(dx.view()));
  CheckAgainstFiniteDifferences(
      "dgamma", gamma0, [&](const std::vector<double>& g) { return objective(x0, g, beta0); },
      Get(dgamma.view()));
  CheckAgainstFiniteDifferences(
      "dbeta", beta0, [&](const std::vector<double>& b) { return objective(x0, gamma0, b); },
      Get(dbeta.view()));
}

TEST_F(GradientCheckTest, SoftmaxCrossEntropyWithLabelSmoothing) {
  const int rows = 4, cols = 6;
  const std::vector<double> logits0 = ktest::RandomValues(kF64, rows * cols, 20, 3.0);
  Buffer labels = ktest::Make(*backend_, DType::kI32, {5, 0, 2, 2});
  for (double smoothing : {0.0, 0.1, 0.6}) {
    const LossOptions options{.label_smoothing = smoothing, .grad_scale = 1.0};
    auto objective = [&](const std::vector<double>& logits) {
      Buffer lb = Make(logits), loss = Zeros(1);
      EXPECT_TRUE(
          backend_->SoftmaxCrossEntropy(options, rows, cols, lb.view(), labels.view(), loss.view(), View())
              .ok());
      return Get(loss.view())[0];
    };
    Buffer lb = Make(logits0), loss = Zeros(1), dlogits = Zeros(rows * cols);
    ASSERT_TRUE(
        backend_
            ->SoftmaxCrossEntropy(options, rows, cols, lb.view(), labels.view(), loss.view(), dlogits.view())
            .ok());
    const std::vector<double> grad = Get(dlogits.view());
    CheckAgainstFiniteDifferences("smoothing " + std::to_string(smoothing), logits0, objective, grad);
    // grad_scale multiplies the gradient and leaves the loss alone.
    Buffer loss3 = Zeros(1), dlogits3 = Zeros(rows * cols);
    ASSERT_TRUE(backend_
                    ->SoftmaxCrossEntropy(LossOptions{.label_smoothing = smoothing, .grad_scale = 3.0}, rows,
                                          cols, lb.view(), labels.view(), loss3.view(), dlogits3.view())
                    .ok());
    EXPECT_EQ(Get(loss3.view()), Get(loss.view()));
    const std::vector<double> grad3 = Get(dlogits3.view());
    for (size_t i = 0; i < grad.size(); ++i) EXPECT_NEAR(grad3[i], 3 * grad[i], 1e-15) << i;
  }
}

TEST_F(GradientCheckTest, DropoutBackwardIsTheSameCallOnTheGradient) {
  const size_t n = 23;
  const double p = 0.4;
  const std::vector<double> x0 = ktest::RandomValues(kF64, n, 30), w = ktest::RandomValues(kF64, n, 31);
  auto objective = [&](const std::vector<double>& x) {
    Buffer xb = Make(x), y = Zeros(n);
    EXPECT_TRUE(backend_->Dropout(p, 5, 9, xb.view(), y.view()).ok());
    return Dot(w, Get(y.view()));
  };
  Buffer dy = Make(w), dx = Zeros(n);
  ASSERT_TRUE(backend_->Dropout(p, 5, 9, dy.view(), dx.view()).ok());
  const std::vector<double> grad = Get(dx.view());
  CheckAgainstFiniteDifferences("dropout dx", x0, objective, grad);
  // Not vacuous: some elements are dropped, some kept.
  EXPECT_NE(std::count(grad.begin(), grad.end(), 0.0), 0);
  EXPECT_NE(std::count(grad.begin(), grad.end(), 0.0), static_cast<long>(n));
}

TEST_F(GradientCheckTest, Axpy) {
  const size_t n = 11;
  const double alpha = -1.3;
  const std::vector<double> x0 = ktest::RandomValues(kF64, n, 40), y0 = ktest::RandomValues(kF64, n, 41),
                            w = ktest::RandomValues(kF64, n, 42);
  // L = sum w * (y + alpha x): dL/dx = alpha w, dL/dy = w.
  auto objective = [&](const std::vector<double>& x, const std::vector<double>& y) {
    Buffer xb = Make(x), yb = Make(y);
    EXPECT_TRUE(backend_->Axpy(alpha, xb.view(), yb.view()).ok());
    return Dot(w, Get(yb.view()));
  };
  std::vector<double> dx(n);
  for (size_t i = 0; i < n; ++i) dx[i] = alpha * w[i];
  CheckAgainstFiniteDifferences(
      "axpy dx", x0, [&](const std::vector<double>& x) { return objective(x, y0); }, dx);
  CheckAgainstFiniteDifferences(
      "axpy dy", y0, [&](const std::vector<double>& y) { return objective(x0, y); }, w);
}

}  // namespace
}  // namespace hpo::kernels
