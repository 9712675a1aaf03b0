// Tests the CPU backend (kernels/cpu_*.cc) beyond the shared parity suite: fp32 / fp64 ops against plain
// reference loops (tolerance atol + |ref| * eps), and the fp16 / bf16 paths bit for bit against the fp32
// element math between kernels/half.h loads and stores; in-place forms, Fill of every type, thread counts.
#include "kernels/cpu_backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "base/rng.h"
#include "kernels/element.h"
#include "kernels/half.h"
#include "kernels/philox.h"
#include "tests/kernels/kernels_test_util.h"

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
  for (Activation act :
       {Activation::kIdentity, Activation::kRelu, Activation::kGelu, Activation::kTanh, Activation::kSilu}) {
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
  ASSERT_TRUE(backend_
                  ->SoftmaxCrossEntropy(LossOptions{}, 2, 2, logits.view(), labels.view(), loss.view(),
                                        dlogits.view())
                  .ok());
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
  ASSERT_TRUE(backend_
                  ->SoftmaxCrossEntropy(LossOptions{}, rows, cols, logits.view(), labels.view(), loss.view(),
                                        dlogits.view())
                  .ok());
  const auto grad = Get<double>(dlogits);
  auto loss_at = [&](const std::vector<double>& v) {
    EXPECT_TRUE(backend_->Upload(std::span<const double>(v), logits.view()).ok());
    EXPECT_TRUE(backend_
                    ->SoftmaxCrossEntropy(LossOptions{}, rows, cols, logits.view(), labels.view(),
                                          loss.view(), View())
                    .ok());
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
  ASSERT_TRUE(backend_
                  ->SoftmaxCrossEntropy(LossOptions{}, rows, cols, logits_f.view(), labels.view(),
                                        loss_f.view(), dlogits_f.view())
                  .ok());
  const auto grad_f = Get<float>(dlogits_f);
  for (size_t i = 0; i < grad.size(); ++i) EXPECT_NEAR(grad_f[i], grad[i], 1e-6);
  EXPECT_NEAR(Get<float>(loss_f)[0], loss_at(x), 1e-5);
}

TEST_F(CpuBackendTest, SoftmaxCrossEntropyRejectsBadLabels) {
  Buffer logits = Make<float>({0, 0, 0, 0});
  Buffer labels = Make<int32_t>({0, 2});
  Buffer loss = Make<float>({0});
  const Status s =
      backend_->SoftmaxCrossEntropy(LossOptions{}, 2, 2, logits.view(), labels.view(), loss.view(), View());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("label 2 of row 1"), std::string::npos) << s.message();
  Buffer float_labels = Make<float>({0, 1});
  EXPECT_EQ(
      backend_
          ->SoftmaxCrossEntropy(LossOptions{}, 2, 2, logits.view(), float_labels.view(), loss.view(), View())
          .code(),
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
    const SgdHyper hyper{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true};
    ASSERT_TRUE(backend_->SgdMomentumUpdate(hyper, 0.5, w.view(), gb.view(), v.view(), View()).ok());
    const auto w1 = Get<float>(w), v1 = Get<float>(v);
    for (size_t i = 0; i < w0.size(); ++i) {
      float we = w0[i], ve = s0[i];
      SgdMomentumElement(SgdCoeffs<float>{0.05f, 0.9f, 1e-3f, 0.5f, true}, we, g[i], ve);
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
    // grad_scale 1/4 on 4 g: the same step as on g.
    std::vector<float> g4 = g;
    for (auto& x : g4) x *= 4;
    Buffer g4b = Make<float>(g4);
    ASSERT_TRUE(backend_->AdamWUpdate(hyper, 3, 0.25, w.view(), g4b.view(), m.view(), v.view(), View()).ok());
    const auto w1 = Get<float>(w);
    const double wd = static_cast<double>(w0[0]) * (1 - 1e-2 * 0.1);
    const double md = 0.9 * s0[0] + 0.1 * g[0];
    const double vd = 0.999 * v0[0] + 0.001 * static_cast<double>(g[0]) * g[0];
    const double expected =
        wd - 1e-2 * (md / (1 - 0.729)) / (std::sqrt(vd / (1 - std::pow(0.999, 3))) + 1e-8);
    EXPECT_NEAR(w1[0], expected, 1e-6);
    for (size_t i = 0; i < w0.size(); ++i) {
      float we = w0[i], me = s0[i], ve = v0[i];
      AdamWElement(MakeAdamWCoeffs<float>(hyper, 3, 0.25), we, g4[i], me, ve);
      EXPECT_EQ(w1[i], we) << i;
    }
  }
}

// --- Half storage: the fp32 element math between exact loads and round-to-nearest-even stores ---

std::vector<uint16_t> Bits16(Backend& backend, ConstView view) {
  const std::vector<uint8_t> bytes = ktest::GetBytes(backend, view);
  std::vector<uint16_t> bits(view.size);
  if (!bits.empty()) std::memcpy(bits.data(), bytes.data(), bytes.size());
  return bits;
}

uint16_t Encode(DType dtype, float f) {
  return dtype == DType::kF16 ? FloatToHalfBits(f) : FloatToBf16Bits(f);
}
float Decode(DType dtype, uint16_t bits) { return static_cast<float>(ktest::DecodeBits(dtype, bits)); }

float BackwardElement(Activation act, float z, float dy) {
  switch (act) {
    case Activation::kRelu:
      return ActivateBackward<Activation::kRelu>(z, dy);
    case Activation::kGelu:
      return ActivateBackward<Activation::kGelu>(z, dy);
    case Activation::kTanh:
      return ActivateBackward<Activation::kTanh>(z, dy);
    case Activation::kSilu:
      return ActivateBackward<Activation::kSilu>(z, dy);
    case Activation::kIdentity:
      break;
  }
  return ActivateBackward<Activation::kIdentity>(z, dy);
}

class CpuHalfTest : public CpuBackendTest, public ::testing::WithParamInterface<DType> {};

TEST_P(CpuHalfTest, BiasActivationIsBitExact) {
  const DType dt = GetParam();
  const int rows = 3, cols = 2500;  // rows longer than one tile
  const size_t n = static_cast<size_t>(rows) * cols;
  const std::vector<double> z = ktest::RandomValues(dt, n, 5, 2.0), bias = ktest::RandomValues(dt, cols, 6),
                            dy = ktest::RandomValues(dt, n, 7);
  for (Activation act :
       {Activation::kIdentity, Activation::kRelu, Activation::kGelu, Activation::kTanh, Activation::kSilu}) {
    Buffer zb = ktest::Make(*backend_, dt, z), yb = ktest::Zeros(*backend_, dt, n),
           bb = ktest::Make(*backend_, dt, bias), dyb = ktest::Make(*backend_, dt, dy),
           dbias = ktest::Zeros(*backend_, DType::kF32, cols);
    ASSERT_TRUE(backend_->BiasActivationForward(act, rows, cols, bb.view(), zb.view(), yb.view()).ok());
    const std::vector<uint16_t> z_bits = Bits16(*backend_, zb.view()), y_bits = Bits16(*backend_, yb.view());
    ASSERT_TRUE(
        backend_->BiasActivationBackward(act, rows, cols, zb.view(), dyb.view(), dyb.view(), dbias.view())
            .ok());
    const std::vector<uint16_t> dz_bits = Bits16(*backend_, dyb.view());
    std::vector<float> dbias_expected(cols, 0.0f);
    for (size_t i = 0; i < n; ++i) {
      const size_t c = i % cols;
      const uint16_t z_expected = Encode(dt, static_cast<float>(z[i]) + static_cast<float>(bias[c]));
      ASSERT_EQ(z_bits[i], z_expected) << ActivationName(act) << " " << i;
      const float zf = Decode(dt, z_expected);
      ASSERT_EQ(y_bits[i], Encode(dt, Activate(act, zf))) << ActivationName(act) << " " << i;
      const float dz = BackwardElement(act, zf, static_cast<float>(dy[i]));
      ASSERT_EQ(dz_bits[i], Encode(dt, dz)) << ActivationName(act) << " " << i;
      dbias_expected[c] += dz;  // row by row, from the unrounded products
    }
    const std::vector<double> dbias_got = ktest::Get(*backend_, dbias.view());
    for (int c = 0; c < cols; ++c)
      ASSERT_EQ(dbias_got[c], dbias_expected[c]) << ActivationName(act) << " " << c;
  }
}

// A half GEMM computes its fp32 product once and rounds it once into a half C. fp16 operands are widened and
// multiplied by the fp32 GEMM, so the product is that GEMM's bit for bit; bf16 operands may go to oneDNN's
// bf16 GEMM (exact products, fp32 sums in its own order), so there the product is the fp32 GEMM's within
// the error of an fp32 sum of k terms.
TEST_P(CpuHalfTest, GemmIsAFloatGemmOfTheWidenedOperandsRoundedOnce) {
  const DType dt = GetParam();
  const int m = 19, n = 23, k = 37;
  const std::vector<double> a = ktest::RandomValues(dt, m * k, 11), b = ktest::RandomValues(dt, k * n, 12),
                            c0 = ktest::RandomValues(dt, m * n, 13);
  for (double beta : {0.0, 1.0}) {
    Buffer ah = ktest::Make(*backend_, dt, a), bh = ktest::Make(*backend_, dt, b),
           ch = ktest::Make(*backend_, dt, c0);
    Buffer af = ktest::Make(*backend_, DType::kF32, a), bf = ktest::Make(*backend_, DType::kF32, b),
           cf = ktest::Make(*backend_, DType::kF32, c0), c32 = ktest::Make(*backend_, DType::kF32, c0);
    ASSERT_TRUE(
        backend_->Gemm(Transpose::kYes, Transpose::kNo, m, n, k, 0.5, ah.view(), bh.view(), beta, ch.view())
            .ok());
    ASSERT_TRUE(
        backend_->Gemm(Transpose::kYes, Transpose::kNo, m, n, k, 0.5, ah.view(), bh.view(), beta, c32.view())
            .ok());
    ASSERT_TRUE(
        backend_->Gemm(Transpose::kYes, Transpose::kNo, m, n, k, 0.5, af.view(), bf.view(), beta, cf.view())
            .ok());
    const std::vector<double> want = ktest::Get(*backend_, cf.view()),
                              product = ktest::Get(*backend_, c32.view());
    if (dt == DType::kF16) {
      EXPECT_EQ(product, want) << "beta " << beta;
    } else {
      for (int i = 0; i < m; ++i) {
        for (int j = 0; j < n; ++j) {
          double magnitude = std::fabs(beta * c0[i * n + j]);
          for (int p = 0; p < k; ++p) magnitude += 0.5 * std::fabs(a[p * m + i] * b[p * n + j]);
          ASSERT_NEAR(product[i * n + j], want[i * n + j], 2 * k * 0x1p-24 * magnitude)
              << "beta " << beta << " (" << i << ", " << j << ")";
        }
      }
    }
    const std::vector<uint16_t> got = Bits16(*backend_, ch.view());
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], Encode(dt, static_cast<float>(product[i]))) << "beta " << beta << " i " << i;
    }
  }
}

TEST_P(CpuHalfTest, AxpyDropoutAndCastAreBitExact) {
  const DType dt = GetParam();
  const size_t n = 3001;  // several tiles and a tail
  const std::vector<double> x = ktest::RandomValues(dt, n, 21), y = ktest::RandomValues(dt, n, 22);
  Buffer xb = ktest::Make(*backend_, dt, x), yb = ktest::Make(*backend_, dt, y);
  ASSERT_TRUE(backend_->Axpy(-0.75, xb.view(), yb.view()).ok());
  std::vector<uint16_t> got = Bits16(*backend_, yb.view());
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(got[i], Encode(dt, static_cast<float>(y[i]) + -0.75f * static_cast<float>(x[i]))) << i;
  }
  const double p = 0.25;
  ASSERT_TRUE(backend_->Dropout(p, 99, 3, xb.view(), yb.view()).ok());
  got = Bits16(*backend_, yb.view());
  const uint32_t threshold = DropoutThreshold(p);
  const auto scale = static_cast<float>(1.0 / (1.0 - p));
  for (size_t i = 0; i < n; ++i) {
    const bool keep = DropoutKeep(99, 3, i, threshold);
    ASSERT_EQ(got[i], keep ? Encode(dt, static_cast<float>(x[i]) * scale) : uint16_t{0}) << i;
  }
  // fp32 -> half rounds each value once.
  const std::vector<double> wide = ktest::RandomValues(DType::kF32, n, 23, 100.0);
  Buffer wb = ktest::Make(*backend_, DType::kF32, wide);
  ASSERT_TRUE(backend_->Cast(wb.view(), xb.view()).ok());
  got = Bits16(*backend_, xb.view());
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(got[i], Encode(dt, static_cast<float>(wide[i]))) << i;
}

TEST_P(CpuHalfTest, OptimizerWritesTheRoundedCopy) {
  const DType dt = GetParam();
  const size_t n = 2500;
  const std::vector<double> w0 = ktest::RandomValues(DType::kF32, n, 31),
                            g = ktest::RandomValues(DType::kF32, n, 32);
  Buffer w = ktest::Make(*backend_, DType::kF32, w0), gb = ktest::Make(*backend_, DType::kF32, g),
         v = ktest::Zeros(*backend_, DType::kF32, n), m = ktest::Zeros(*backend_, DType::kF32, n),
         copy = ktest::Zeros(*backend_, dt, n);
  ASSERT_TRUE(backend_->SgdMomentumUpdate(SgdHyper{}, 1.0, w.view(), gb.view(), v.view(), copy.view()).ok());
  std::vector<double> w1 = ktest::Get(*backend_, w.view());
  std::vector<uint16_t> bits = Bits16(*backend_, copy.view());
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(bits[i], Encode(dt, static_cast<float>(w1[i]))) << i;
  ASSERT_TRUE(
      backend_->AdamWUpdate(AdamWHyper{}, 1, 1.0, w.view(), gb.view(), m.view(), v.view(), copy.view()).ok());
  w1 = ktest::Get(*backend_, w.view());
  bits = Bits16(*backend_, copy.view());
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(bits[i], Encode(dt, static_cast<float>(w1[i]))) << i;
}

INSTANTIATE_TEST_SUITE_P(Halves, CpuHalfTest, ::testing::Values(DType::kF16, DType::kBF16),
                         [](const ::testing::TestParamInfo<DType>& param_info) {
                           return std::string(DTypeName(param_info.param));
                         });

TEST_F(CpuBackendTest, LayerNormBackwardInPlaceEqualsOutOfPlace) {
  const int rows = 4, cols = 33;
  for (DType dt : {DType::kF32, DType::kF16}) {
    const std::vector<double> x = ktest::RandomValues(dt, rows * cols, 41),
                              gamma = ktest::RandomValues(dt, cols, 42),
                              dy = ktest::RandomValues(dt, rows * cols, 43);
    Buffer xb = ktest::Make(*backend_, dt, x), gb = ktest::Make(*backend_, dt, gamma),
           bb = ktest::Zeros(*backend_, dt, cols), yb = ktest::Zeros(*backend_, dt, rows * cols),
           mean = ktest::Zeros(*backend_, DType::kF32, rows),
           rstd = ktest::Zeros(*backend_, DType::kF32, rows);
    ASSERT_TRUE(backend_
                    ->LayerNormForward(rows, cols, 1e-5, xb.view(), gb.view(), bb.view(), yb.view(),
                                       mean.view(), rstd.view())
                    .ok());
    Buffer dyb = ktest::Make(*backend_, dt, dy), dx = ktest::Zeros(*backend_, dt, rows * cols),
           dg1 = ktest::Zeros(*backend_, DType::kF32, cols), db1 = ktest::Zeros(*backend_, DType::kF32, cols),
           dg2 = ktest::Zeros(*backend_, DType::kF32, cols), db2 = ktest::Zeros(*backend_, DType::kF32, cols);
    ASSERT_TRUE(backend_
                    ->LayerNormBackward(rows, cols, xb.view(), gb.view(), mean.view(), rstd.view(),
                                        dyb.view(), dx.view(), dg1.view(), db1.view())
                    .ok());
    ASSERT_TRUE(backend_
                    ->LayerNormBackward(rows, cols, xb.view(), gb.view(), mean.view(), rstd.view(),
                                        dyb.view(), dyb.view(), dg2.view(), db2.view())
                    .ok());
    EXPECT_EQ(ktest::GetBytes(*backend_, dyb.view()), ktest::GetBytes(*backend_, dx.view()));
    EXPECT_EQ(ktest::GetBytes(*backend_, dg1.view()), ktest::GetBytes(*backend_, dg2.view()));
    EXPECT_EQ(ktest::GetBytes(*backend_, db1.view()), ktest::GetBytes(*backend_, db2.view()));
  }
}

TEST_F(CpuBackendTest, GemmWithEmptySumScalesC) {
  Buffer a = Make<float>({1}), b = Make<float>({1});
  Buffer c = Make<float>({1, 2, std::numeric_limits<float>::quiet_NaN(), 4});
  ASSERT_TRUE(
      backend_->Gemm(Transpose::kNo, Transpose::kNo, 2, 2, 0, 1.0, a.view(), b.view(), 0.0, c.view()).ok());
  EXPECT_EQ(Get<float>(c), (std::vector<float>{0, 0, 0, 0}));
  c = Make<float>({1, 2, 3, 4});
  ASSERT_TRUE(
      backend_->Gemm(Transpose::kNo, Transpose::kNo, 2, 2, 0, 1.0, a.view(), b.view(), -2.0, c.view()).ok());
  EXPECT_EQ(Get<float>(c), (std::vector<float>{-2, -4, -6, -8}));
}

TEST_F(CpuBackendTest, FillEveryType) {
  Buffer i = Make<int32_t>(std::vector<int32_t>(3));
  ASSERT_TRUE(backend_->Fill(i.view(), -2.5).ok());  // to nearest, ties to even
  EXPECT_EQ(Get<int32_t>(i), (std::vector<int32_t>{-2, -2, -2}));
  Buffer d = Make<double>(std::vector<double>(2));
  ASSERT_TRUE(backend_->Fill(d.view(), 0.1).ok());
  EXPECT_EQ(Get<double>(d), (std::vector<double>{0.1, 0.1}));
  for (DType dt : {DType::kF16, DType::kBF16}) {
    Buffer h = ktest::Zeros(*backend_, dt, 5);
    // 1 + 2^-11 + 2^-30 is just above the fp16 midpoint 1 + 2^-11 (and above bf16's too): one rounding
    // goes up; a detour through float (1 + 2^-11 exactly, a tie) would go down to 1.
    const double value = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -30);
    ASSERT_TRUE(backend_->Fill(h.Sub(1, 3), value).ok());
    const std::vector<double> got = ktest::Get(*backend_, h.view());
    const double want = dt == DType::kF16 ? 1.0 + std::ldexp(1.0, -10) : 1.0;
    EXPECT_EQ(got, (std::vector<double>{0, want, want, want, 0})) << DTypeName(dt);
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
}

// GEMMs large enough to be split over the pool (by columns when n >= m, by rows otherwise; 3 threads make
// an uneven cut; 32.8 MFLOP, above the threshold of every path) match the exact product in every type,
// transpose and C type, and repeat bit for bit.
TEST(CpuBackendThreadsTest, SplitGemmsMatchNaiveAndRepeat) {
  auto made = CpuBackend::Create(BackendOptions{.threads = 3});
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  CpuBackend& backend = **made;
  struct Shape {
    int m, n, k;
  };
  for (const Shape shape : {Shape{64, 160, 1600}, Shape{160, 64, 1600}}) {
    const int m = shape.m, n = shape.n, k = shape.k;
    for (DType dt : {DType::kF32, DType::kF64, DType::kF16, DType::kBF16}) {
      const double unit = dt == DType::kF64 ? 0x1p-53 : 0x1p-24;  // of the accumulation
      const std::vector<double> a = ktest::RandomValues(dt, static_cast<size_t>(m) * k, 21),
                                b = ktest::RandomValues(dt, static_cast<size_t>(k) * n, 22);
      Buffer ab = ktest::Make(backend, dt, a), bb = ktest::Make(backend, dt, b);
      std::vector<DType> c_types = {dt};
      if (IsHalf(dt)) c_types.push_back(DType::kF32);
      for (bool ta : {false, true}) {
        for (bool tb : {false, true}) {
          std::vector<double> sum(static_cast<size_t>(m) * n), magnitude(sum.size());
          for (int i = 0; i < m; ++i) {
            for (int j = 0; j < n; ++j) {
              for (int p = 0; p < k; ++p) {
                const double av = ta ? a[p * m + i] : a[i * k + p];
                const double bv = tb ? b[j * k + p] : b[p * n + j];
                sum[i * n + j] += av * bv;
                magnitude[i * n + j] += std::fabs(av * bv);
              }
            }
          }
          for (DType c_type : c_types) {
            for (double beta : {0.0, 1.0}) {
              const std::string what = std::string(DTypeName(dt)) + " c " + std::string(DTypeName(c_type)) +
                                       " ta " + std::to_string(ta) + " tb " + std::to_string(tb) + " beta " +
                                       std::to_string(beta) + " " + std::to_string(m) + "x" +
                                       std::to_string(n);
              const std::vector<double> c0 = ktest::RandomValues(c_type, sum.size(), 23);
              std::vector<double> first;
              for (int run = 0; run < 2; ++run) {
                Buffer cb = ktest::Make(backend, c_type, c0);
                ASSERT_TRUE(backend
                                .Gemm(ta ? Transpose::kYes : Transpose::kNo,
                                      tb ? Transpose::kYes : Transpose::kNo, m, n, k, 0.5, ab.view(),
                                      bb.view(), beta, cb.view())
                                .ok());
                const std::vector<double> got = ktest::Get(backend, cb.view());
                if (run == 1) {
                  EXPECT_EQ(got, first) << what;
                  continue;
                }
                first = got;
                for (size_t i = 0; i < got.size(); ++i) {
                  const double ref = 0.5 * sum[i] + beta * c0[i];
                  const double bound = k * unit * (0.5 * magnitude[i] + std::fabs(beta * c0[i])) +
                                       2 * ktest::Eps(c_type) * std::fabs(ref);
                  ASSERT_NEAR(got[i], ref, bound) << what << " [" << i << "]";
                }
              }
            }
          }
        }
      }
    }
  }
}

// Element-wise operations long enough to be split over the pool (AdamW and SGD with their rounded copies,
// casts) give, on 3 threads, exactly the results of one thread.
TEST(CpuBackendThreadsTest, SplitElementWiseOperationsEqualOneThread) {
  auto one = CpuBackend::Create(BackendOptions{.threads = 1});
  auto three = CpuBackend::Create(BackendOptions{.threads = 3});
  ASSERT_TRUE(one.ok() && three.ok());
  const size_t n = 5 * 65536 + 123;  // uneven over 3 threads, with a partial last tile
  const std::vector<double> w0 = ktest::RandomValues(DType::kF32, n, 31),
                            g = ktest::RandomValues(DType::kF32, n, 32),
                            s0 = ktest::RandomValues(DType::kF32, n, 33);
  std::vector<double> v0 = s0;
  for (double& x : v0) x = x * x;
  for (DType copy_type : {DType::kBF16, DType::kF16}) {
    std::vector<std::vector<double>> results[2];
    for (int b = 0; b < 2; ++b) {
      CpuBackend& backend = b == 0 ? **one : **three;
      Buffer w = ktest::Make(backend, DType::kF32, w0), gb = ktest::Make(backend, DType::kF32, g),
             m = ktest::Make(backend, DType::kF32, s0), v = ktest::Make(backend, DType::kF32, v0),
             copy = ktest::Make(backend, copy_type, std::vector<double>(n)),
             cast = ktest::Make(backend, copy_type, std::vector<double>(n)),
             back = ktest::Make(backend, DType::kF32, std::vector<double>(n));
      const AdamWHyper adamw{1e-2, 0.9, 0.999, 1e-8, 0.1};
      ASSERT_TRUE(
          backend.AdamWUpdate(adamw, 2, 0.5, w.view(), gb.view(), m.view(), v.view(), copy.view()).ok());
      const SgdHyper sgd{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true};
      ASSERT_TRUE(backend.SgdMomentumUpdate(sgd, 1.0, w.view(), gb.view(), m.view(), View()).ok());
      ASSERT_TRUE(backend.Cast(w.view(), cast.view()).ok());
      ASSERT_TRUE(backend.Cast(cast.view(), back.view()).ok());
      for (const Buffer* buffer : {&w, &m, &v, &copy, &cast, &back})
        results[b].push_back(ktest::Get(backend, buffer->view()));
    }
    for (size_t r = 0; r < results[0].size(); ++r)
      EXPECT_EQ(results[0][r], results[1][r]) << DTypeName(copy_type) << " result " << r;
    EXPECT_NE(results[0][0], w0);  // the weights did move
  }
}

// The loss splits its rows over the pool and sums their losses in row order: 1 and 3 threads agree to the
// bit, for the loss and every logit gradient, with and without label smoothing.
TEST(CpuBackendThreadsTest, SplitSoftmaxCrossEntropyEqualsOneThread) {
  auto one = CpuBackend::Create(BackendOptions{.threads = 1});
  auto three = CpuBackend::Create(BackendOptions{.threads = 3});
  ASSERT_TRUE(one.ok() && three.ok());
  constexpr int64_t kRows = 4099, kCols = 256;  // uneven over 3 threads
  const std::vector<double> logits = ktest::RandomValues(DType::kF32, static_cast<size_t>(kRows * kCols), 41);
  std::vector<double> labels(static_cast<size_t>(kRows));
  for (size_t r = 0; r < labels.size(); ++r) labels[r] = static_cast<double>((r * 37) % kCols);
  for (DType dtype : {DType::kF32, DType::kBF16}) {
    for (double smoothing : {0.0, 0.1}) {
      std::vector<std::vector<double>> results[2];
      for (int b = 0; b < 2; ++b) {
        CpuBackend& backend = b == 0 ? **one : **three;
        Buffer x = ktest::Make(backend, dtype, logits), y = ktest::Make(backend, DType::kI32, labels),
               loss = ktest::Make(backend, DType::kF32, std::vector<double>(1)),
               eval = ktest::Make(backend, DType::kF32, std::vector<double>(1)),
               d = ktest::Make(backend, dtype, std::vector<double>(logits.size()));
        const LossOptions options{smoothing, 2.0};
        ASSERT_TRUE(
            backend.SoftmaxCrossEntropy(options, kRows, kCols, x.view(), y.view(), loss.view(), d.view())
                .ok());
        ASSERT_TRUE(
            backend.SoftmaxCrossEntropy(options, kRows, kCols, x.view(), y.view(), eval.view(), View()).ok());
        for (const Buffer* buffer : {&loss, &eval, &d})
          results[b].push_back(ktest::Get(backend, buffer->view()));
      }
      for (size_t r = 0; r < results[0].size(); ++r)
        EXPECT_EQ(results[0][r], results[1][r])
            << DTypeName(dtype) << " smoothing " << smoothing << " result " << r;
      EXPECT_GT(results[0][0][0], 1.0);  // about log(256) for random logits
    }
  }
}

}  // namespace
}  // namespace hpo::kernels
