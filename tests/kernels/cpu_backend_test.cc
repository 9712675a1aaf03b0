// Tests kernels/cpu_backend.cc: every op against a plain reference loop (tolerance atol + |ref| * eps),
// and argument checking.
#include "kernels/cpu_backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "base/rng.h"
#include "kernels/element.h"

namespace hpo::kernels {
namespace {

class CpuBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = CpuBackend::Create(BackendOptions{});
    ASSERT_TRUE(backend.ok()) << backend.status().ToString();
    backend_ = std::move(*backend);
  }

  template <typename T>
  Buffer Make(const std::vector<T>& host) {
    auto buffer = backend_->Allocate(host.size(), DTypeOf<T>());
    EXPECT_TRUE(buffer.ok());
    EXPECT_TRUE(backend_->Upload(std::span<const T>(host), buffer->view()).ok());
    return std::move(*buffer);
  }

  template <typename T>
  std::vector<T> Get(const Buffer& buffer) {
    std::vector<T> host(buffer.size());
    EXPECT_TRUE(backend_->Download(buffer.view(), std::span<T>(host)).ok());
    return host;
  }

  template <typename T>
  static std::vector<T> Random(size_t n, uint64_t seed, double scale = 1.0) {
    Rng rng(seed);
    std::vector<T> v(n);
    for (auto& x : v) x = static_cast<T>(scale * rng.Normal());
    return v;
  }

  std::unique_ptr<CpuBackend> backend_;
};

template <typename T>
std::vector<double> NaiveGemm(bool ta, bool tb, int m, int n, int k, double alpha, const std::vector<T>& a,
                              const std::vector<T>& b, double beta, const std::vector<T>& c) {
  std::vector<double> out(static_cast<size_t>(m) * n);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double sum = 0;
      for (int p = 0; p < k; ++p) {
        const double av = ta ? a[static_cast<size_t>(p) * m + i] : a[static_cast<size_t>(i) * k + p];
        const double bv = tb ? b[static_cast<size_t>(j) * k + p] : b[static_cast<size_t>(p) * n + j];
        sum += av * bv;
      }
      out[static_cast<size_t>(i) * n + j] = alpha * sum + beta * c[static_cast<size_t>(i) * n + j];
    }
  }
  return out;
}

template <typename T>
void CheckGemmAllTransposes(CpuBackendTest* test_fixture, CpuBackend& backend, double eps) {
  (void)test_fixture;
  const int m = 7, n = 5, k = 13;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      Rng rng(17 + 2 * ta + tb);
      std::vector<T> a(m * k), b(k * n), c(m * n);
      for (auto& x : a) x = static_cast<T>(rng.Normal());
      for (auto& x : b) x = static_cast<T>(rng.Normal());
      for (auto& x : c) x = static_cast<T>(rng.Normal());
      const double alpha = 0.75, beta = -0.5;
      const auto ref = NaiveGemm(ta, tb, m, n, k, alpha, a, b, beta, c);
      auto ab = backend.Allocate(a.size(), DTypeOf<T>());
      auto bb = backend.Allocate(b.size(), DTypeOf<T>());
      auto cb = backend.Allocate(c.size(), DTypeOf<T>());
      ASSERT_TRUE(ab.ok() && bb.ok() && cb.ok());
      ASSERT_TRUE(backend.Upload(std::span<const T>(a), ab->view()).ok());
      ASSERT_TRUE(backend.Upload(std::span<const T>(b), bb->view()).ok());
      ASSERT_TRUE(backend.Upload(std::span<const T>(c), cb->view()).ok());
      ASSERT_TRUE(backend
                      .Gemm(ta ? Transpose::kYes : Transpose::kNo, tb ? Transpose::kYes : Transpose::kNo, m,
                            n, k, alpha, ab->view(), bb->view(), beta, cb->view())
                      .ok());
      std::vector<T> got(c.size());
      ASSERT_TRUE(backend.Download(cb->view(), std::span<T>(got)).ok());
      for (size_t i = 0; i < got.size(); ++i) {
        // k products of O(1) terms: atol scales with k.
        EXPECT_NEAR(got[i], ref[i], k * eps + std::fabs(ref[i]) * eps)
            << "ta " << ta << " tb " << tb << " i " << i;
      }
    }
  }
}

TEST_F(CpuBackendTest, GemmFloatAllTransposesMatchNaive) {
  CheckGemmAllTransposes<float>(this, *backend_, 4 * std::numeric_limits<float>::epsilon());
}

TEST_F(CpuBackendTest, GemmDoubleAllTransposesMatchNaive) {
  CheckGemmAllTransposes<double>(this, *backend_, 4 * std::numeric_limits<double>::epsilon());
}

TEST_F(CpuBackendTest, GemmBetaZeroIgnoresOldContents) {
  Buffer a = Make<float>({1, 2, 3, 4});  // 2 x 2
  Buffer b = Make<float>({1, 0, 0, 1});
  Buffer c = Make<float>({std::numeric_limits<float>::quiet_NaN(), 9, 9, 9});
  ASSERT_TRUE(
      backend_->Gemm(Transpose::kNo, Transpose::kNo, 2, 2, 2, 1.0, a.view(), b.view(), 0.0, c.view()).ok());
  EXPECT_EQ(Get<float>(c), (std::vector<float>{1, 2, 3, 4}));
}

TEST_F(CpuBackendTest, GemmRejectsBadArguments) {
  Buffer a = Make<float>(std::vector<float>(6));
  Buffer b = Make<float>(std::vector<float>(6));
  Buffer c = Make<float>(std::vector<float>(4));
  Buffer d = Make<double>(std::vector<double>(6));
  Buffer i = Make<int32_t>(std::vector<int32_t>(6));
  // a too small for m=2, k=4.
  Status s = backend_->Gemm(Transpose::kNo, Transpose::kNo, 2, 2, 4, 1, a.view(), b.view(), 0, c.view());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("a holds 6 elements, needs 8"), std::string::npos) << s.message();
  // Mixed element types.
  s = backend_->Gemm(Transpose::kNo, Transpose::kNo, 2, 2, 3, 1, d.view(), b.view(), 0, c.view());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  // Integer output.
  s = backend_->Gemm(Transpose::kNo, Transpose::kNo, 2, 3, 1, 1, i.view(), i.view(), 0, i.view());
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  // Negative dimension.
  s = backend_->Gemm(Transpose::kNo, Transpose::kNo, -1, 2, 3, 1, a.view(), b.view(), 0, c.view());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  // An out-of-range Sub is empty, and rejected (release builds; debug builds assert before).
#ifdef NDEBUG
  s = backend_->Gemm(Transpose::kNo, Transpose::kNo, 2, 2, 3, 1, a.Sub(4, 6), b.view(), 0, c.view());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
#endif
}

TEST_F(CpuBackendTest, AllocateIsZeroFilledAndRoundTrips) {
  auto buffer = backend_->Allocate(1000, DType::kF32);
  ASSERT_TRUE(buffer.ok());
  EXPECT_EQ(buffer->size(), 1000u);
  for (float x : Get<float>(*buffer)) ASSERT_EQ(x, 0.0f);
  const std::vector<float> host = Random<float>(1000, 3);
  ASSERT_TRUE(backend_->Upload(std::span<const float>(host), buffer->view()).ok());
  EXPECT_EQ(Get<float>(*buffer), host);
  // Wrong element type and too-small destinations are refused.
  const std::vector<double> doubles(10);
  EXPECT_EQ(backend_->Upload(std::span<const double>(doubles), buffer->view()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(backend_->Upload(std::span<const float>(host), buffer->Sub(0, 10)).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(backend_->Fill(buffer->Sub(10, 5), 2.5).ok());
  const auto filled = Get<float>(*buffer);
  EXPECT_EQ(filled[9], host[9]);
  EXPECT_EQ(filled[10], 2.5f);
  EXPECT_EQ(filled[14], 2.5f);
  EXPECT_EQ(filled[15], host[15]);
  // Moving a buffer transfers ownership.
  Buffer moved = std::move(*buffer);
  EXPECT_EQ(moved.size(), 1000u);
  EXPECT_EQ(buffer->size(), 0u);
}

template <typename T>
void CheckBiasActivation(CpuBackendTest& t, CpuBackend& backend, Activation act, double eps) {
  (void)t;
  const int rows = 5, cols = 9;
  Rng rng(static_cast<uint64_t>(act) + 100);
  std::vector<T> z(rows * cols), bias(cols), dy(rows * cols);
  for (auto& x : z) x = static_cast<T>(2 * rng.Normal());
  for (auto& x : bias) x = static_cast<T>(rng.Normal());
  for (auto& x : dy) x = static_cast<T>(rng.Normal());
  auto zb = backend.Allocate(z.size(), DTypeOf<T>());
  auto yb = backend.Allocate(z.size(), DTypeOf<T>());
  auto bb = backend.Allocate(cols, DTypeOf<T>());
  auto dyb = backend.Allocate(z.size(), DTypeOf<T>());
  auto dbb = backend.Allocate(cols, DTypeOf<T>());
  ASSERT_TRUE(zb.ok() && yb.ok() && bb.ok() && dyb.ok() && dbb.ok());
  ASSERT_TRUE(backend.Upload(std::span<const T>(z), zb->view()).ok());
  ASSERT_TRUE(backend.Upload(std::span<const T>(bias), bb->view()).ok());
  ASSERT_TRUE(backend.Upload(std::span<const T>(dy), dyb->view()).ok());
  ASSERT_TRUE(backend.BiasActivationForward(act, rows, cols, bb->view(), zb->view(), yb->view()).ok());
  std::vector<T> z_out(z.size()), y_out(z.size());
  ASSERT_TRUE(backend.Download(zb->view(), std::span<T>(z_out)).ok());
  ASSERT_TRUE(backend.Download(yb->view(), std::span<T>(y_out)).ok());
  std::vector<double> db_ref(cols, 0.0), dz_ref(z.size());
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const size_t i = static_cast<size_t>(r) * cols + c;
      const double pre = static_cast<double>(z[i]) + static_cast<double>(bias[c]);
      EXPECT_NEAR(z_out[i], pre, eps * (1 + std::fabs(pre)));
      const double y = Activate(act, pre);
      EXPECT_NEAR(y_out[i], y, 4 * eps * (1 + std::fabs(y))) << "activation " << static_cast<int>(act);
      dz_ref[i] = static_cast<double>(dy[i]) * ActivateDerivative(act, static_cast<double>(z_out[i]));
      db_ref[c] += dz_ref[i];
    }
  }
  // Backward in place (dz aliases dy), with the bias gradient.
  ASSERT_TRUE(
      backend.BiasActivationBackward(act, rows, cols, zb->view(), dyb->view(), dyb->view(), dbb->view())
          .ok());
  std::vector<T> dz_out(z.size()), db_out(cols);
  ASSERT_TRUE(backend.Download(dyb->view(), std::span<T>(dz_out)).ok());
  ASSERT_TRUE(backend.Download(dbb->view(), std::span<T>(db_out)).ok());
  for (size_t i = 0; i < dz_out.size(); ++i)
    EXPECT_NEAR(dz_out[i], dz_ref[i], 8 * eps * (1 + std::fabs(dz_ref[i])));
  for (int c = 0; c < cols; ++c)
    EXPECT_NEAR(db_out[c], db_ref[c], rows * 8 * eps * (1 + std::fabs(db_ref[c])));
}

TEST_F(CpuBackendTest, BiasActivationForwardBackwardMatchReference) {
  for (Activation act : {Activation::kIdentity, Activation::kRelu, Activation::kGelu, Activation::kTanh}) {
    CheckBiasActivation<float>(*this, *backend_, act, std::numeric_limits<float>::epsilon());
    CheckBiasActivation<double>(*this, *backend_, act, std::numeric_limits<double>::epsilon());
  }
}

TEST_F(CpuBackendTest, BiasActivationWithoutBiasInPlace) {
  Buffer z = Make<float>({-1, 2, -3, 4});
  ASSERT_TRUE(backend_->BiasActivationForward(Activation::kRelu, 2, 2, ConstView(), z.view(), z.view()).ok());
  EXPECT_EQ(Get<float>(z), (std::vector<float>{0, 2, 0, 4}));
  Buffer small = Make<float>({1});
  EXPECT_EQ(backend_->BiasActivationForward(Activation::kRelu, 2, 2, small.view(), z.view(), z.view()).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(CpuBackendTest, SoftmaxCrossEntropyKnownValues) {
  // Row 0: equal logits over 2 classes: loss ln 2, softmax 0.5/0.5. Row 1: logits (0, ln 3): p = (1/4, 3/4).
  Buffer logits = Make<double>({0.0, 0.0, 0.0, std::log(3.0)});
  Buffer labels = Make<int32_t>({0, 1});
  Buffer loss = Make<double>({0.0});
  Buffer dlogits = Make<double>(std::vector<double>(4));
  ASSERT_TRUE(
      backend_->SoftmaxCrossEntropy(2, 2, logits.view(), labels.view(), loss.view(), dlogits.view()).ok());
  EXPECT_NEAR(Get<double>(loss)[0], (std::log(2.0) - std::log(0.75)) / 2, 1e-15);
  const auto d = Get<double>(dlogits);
  EXPECT_NEAR(d[0], (0.5 - 1) / 2, 1e-15);
  EXPECT_NEAR(d[1], 0.5 / 2, 1e-15);
  EXPECT_NEAR(d[2], 0.25 / 2, 1e-15);
  EXPECT_NEAR(d[3], (0.75 - 1) / 2, 1e-15);
}

TEST_F(CpuBackendTest, SoftmaxCrossEntropyGradientMatchesFiniteDifferences) {
  const int rows = 4, cols = 6;
  std::vector<double> x = Random<double>(rows * cols, 9, 3.0);
  Buffer logits = Make<double>(x);
  Buffer labels = Make<int32_t>({5, 0, 2, 2});
  Buffer loss = Make<double>({0.0});
  Buffer dlogits = Make<double>(std::vector<double>(rows * cols));
  ASSERT_TRUE(
      backend_->SoftmaxCrossEntropy(rows, cols, logits.view(), labels.view(), loss.view(), dlogits.view())
          .ok());
  const auto grad = Get<double>(dlogits);
  auto loss_at = [&](const std::vector<double>& v) {
    EXPECT_TRUE(backend_->Upload(std::span<const double>(v), logits.view()).ok());
    EXPECT_TRUE(
        backend_->SoftmaxCrossEntropy(rows, cols, logits.view(), labels.view(), loss.view(), View()).ok());
    return Get<double>(loss)[0];
  };
  for (size_t i = 0; i < x.size(); ++i) {
    std::vector<double> plus = x, minus = x;
    plus[i] += 1e-6;
    minus[i] -= 1e-6;
    const double fd = (loss_at(plus) - loss_at(minus)) / 2e-6;
    EXPECT_NEAR(grad[i], fd, 1e-8) << i;
  }
  // The float path agrees with the double path.
  std::vector<float> xf(x.begin(), x.end());
  Buffer logits_f = Make<float>(xf);
  Buffer loss_f = Make<float>({0.0f});
  Buffer dlogits_f = Make<float>(std::vector<float>(rows * cols));
  ASSERT_TRUE(
      backend_
          ->SoftmaxCrossEntropy(rows, cols, logits_f.view(), labels.view(), loss_f.view(), dlogits_f.view())
          .ok());
  const auto grad_f = Get<float>(dlogits_f);
  for (size_t i = 0; i < grad.size(); ++i) EXPECT_NEAR(grad_f[i], grad[i], 1e-6);
  EXPECT_NEAR(Get<float>(loss_f)[0], loss_at(x), 1e-5);
}

TEST_F(CpuBackendTest, SoftmaxCrossEntropyRejectsBadLabels) {
  Buffer logits = Make<float>({0, 0, 0, 0});
  Buffer labels = Make<int32_t>({0, 2});
  Buffer loss = Make<float>({0});
  const Status s = backend_->SoftmaxCrossEntropy(2, 2, logits.view(), labels.view(), loss.view(), View());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("label 2 of row 1"), std::string::npos) << s.message();
  Buffer float_labels = Make<float>({0, 1});
  EXPECT_EQ(
      backend_->SoftmaxCrossEntropy(2, 2, logits.view(), float_labels.view(), loss.view(), View()).code(),
      StatusCode::kInvalidArgument);
}

TEST_F(CpuBackendTest, CountCorrectUsesFirstMaximum) {
  Buffer logits = Make<float>({0.1f, 0.9f, 0.0f,    // argmax 1
                               0.5f, 0.5f, 0.2f,    // tie: first maximum, 0
                               -1.0f, -2.0f, 3.0f,  // 2
                               1.0f, 0.0f, 0.0f});  // 0
  Buffer labels = Make<int32_t>({1, 1, 2, 2});
  auto correct = backend_->CountCorrect(4, 3, logits.view(), labels.view());
  ASSERT_TRUE(correct.ok());
  EXPECT_EQ(*correct, 2);
}

TEST_F(CpuBackendTest, OptimizerUpdatesMatchElementMath) {
  const std::vector<float> w0 = Random<float>(37, 1), g = Random<float>(37, 2),
                           s0 = Random<float>(37, 3, 0.1);
  // SGD momentum.
  {
    Buffer w = Make<float>(w0), gb = Make<float>(g), v = Make<float>(s0);
    const SgdHyper hyper{0.05, 0.9, 1e-3};
    ASSERT_TRUE(backend_->SgdMomentumUpdate(hyper, w.view(), gb.view(), v.view()).ok());
    const auto w1 = Get<float>(w), v1 = Get<float>(v);
    for (size_t i = 0; i < w0.size(); ++i) {
      float we = w0[i], ve = s0[i];
      SgdMomentumElement(SgdCoeffs<float>{0.05f, 0.9f, 1e-3f}, we, g[i], ve);
      EXPECT_EQ(w1[i], we);
      EXPECT_EQ(v1[i], ve);
    }
  }
  // AdamW at step 3, hand-checked on element 0 in double.
  {
    std::vector<float> v0 = s0;
    for (auto& x : v0) x = x * x;
    Buffer w = Make<float>(w0), gb = Make<float>(g), m = Make<float>(s0), v = Make<float>(v0);
    const AdamWHyper hyper{1e-2, 0.9, 0.999, 1e-8, 0.1};
    ASSERT_TRUE(backend_->AdamWUpdate(hyper, 3, w.view(), gb.view(), m.view(), v.view()).ok());
    const auto w1 = Get<float>(w);
    const double wd = static_cast<double>(w0[0]) * (1 - 1e-2 * 0.1);
    const double md = 0.9 * s0[0] + 0.1 * g[0];
    const double vd = 0.999 * v0[0] + 0.001 * static_cast<double>(g[0]) * g[0];
    const double expected =
        wd - 1e-2 * (md / (1 - 0.729)) / (std::sqrt(vd / (1 - std::pow(0.999, 3))) + 1e-8);
    EXPECT_NEAR(w1[0], expected, 1e-6);
    EXPECT_EQ(backend_->AdamWUpdate(hyper, 0, w.view(), gb.view(), m.view(), v.view()).code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(backend_->AdamWUpdate(hyper, 1, w.view(), gb.Sub(0, 3), m.view(), v.view()).code(),
              StatusCode::kInvalidArgument);
  }
}

TEST_F(CpuBackendTest, DeviceNameSaysCpuAndThreads) {
  const std::string name = backend_->DeviceName();
  EXPECT_EQ(name.rfind("cpu: ", 0), 0u) << name;
  EXPECT_NE(name.find("(1 thread)"), std::string::npos) << name;
  EXPECT_EQ(backend_->kind(), BackendKind::kCpu);
  EXPECT_TRUE(backend_->Synchronize().ok());
}

TEST(CpuBackendCreateTest, RejectsBadThreadCounts) {
  EXPECT_EQ(CpuBackend::Create(BackendOptions{.threads = 0}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CpuBackend::Create(BackendOptions{.threads = -3}).status().code(), StatusCode::kInvalidArgument);
  auto two = CpuBackend::Create(BackendOptions{.threads = 2});
  ASSERT_TRUE(two.ok());
  EXPECT_NE((*two)->DeviceName().find("(2 threads)"), std::string::npos);
  // Back to one thread for the rest of the process.
  ASSERT_TRUE(CpuBackend::Create(BackendOptions{}).ok());
}

}  // namespace
}  // namespace hpo::kernels
