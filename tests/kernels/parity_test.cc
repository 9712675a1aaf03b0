// The parity suite: every backend (cpu, cuda) in every training precision (f32, f16, bf16) runs every
// operation on random inputs with fixed seeds, against one plain double-precision reference written here.
// Inputs are first rounded to the element type, as the backend sees them; the reference then computes
// exactly in double, modelling only the roundings the contract of kernels/backend.h names.
//
// Tolerance: |got - ref| <= atol + |ref| * eps(type) * factor, with eps = 2^-23 (f32), 2^-10 (f16), 2^-7
// (bf16) of the stored result. Each test states its factor; they are small and come from the operation:
// sqrt(k) for a k-term fp32 sum (a GEMM's dot products, a row's statistics), 2 for one rounding of a result
// that went through a libm function or a rounded constant. atol covers fp32 arithmetic on intermediate
// values (eps32 = 2^-23 times the size of the terms), which is what cancellation exposes.
//
// The cuda cases skip themselves (GTEST_SKIP) where MakeBackend(kCuda) fails: no device, or no CUDA build.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "base/rng.h"
#include "kernels/backend.h"
#include "kernels/element.h"
#include "kernels/philox.h"
#include "tests/kernels/kernels_test_util.h"

namespace hpo::kernels {
namespace {

const double kEps32 = std::ldexp(1.0, -23);

constexpr Activation kActivations[] = {Activation::kIdentity, Activation::kRelu, Activation::kGelu,
                                       Activation::kTanh, Activation::kSilu};

class ParityTest : public ::testing::TestWithParam<std::tuple<BackendKind, DType>> {
 protected:
  void SetUp() override {
    auto made = MakeBackend(kind(), BackendOptions{});
    if (!made.ok())
      GTEST_SKIP() << BackendKindName(kind()) << " backend unavailable: " << made.status().ToString();
    backend_ = std::move(*made);
  }

  BackendKind kind() const { return std::get<0>(GetParam()); }
  DType dt() const { return std::get<1>(GetParam()); }
  double eps() const { return ktest::Eps(dt()); }

  Buffer Make(DType dtype, const std::vector<double>& values) {
    return ktest::Make(*backend_, dtype, values);
  }
  Buffer Zeros(DType dtype, size_t n) { return ktest::Zeros(*backend_, dtype, n); }
  std::vector<double> Get(ConstView view) { return ktest::Get(*backend_, view); }
  std::vector<double> Random(size_t n, uint64_t seed, double scale = 1.0) {
    return ktest::RandomValues(dt(), n, seed, scale);
  }

  std::unique_ptr<Backend> backend_;
};

// Expects |got[i] - ref[i]| <= tol[i] for every i; reports the first few failures only.
void ExpectClose(const std::vector<double>& got, const std::vector<double>& ref,
                 const std::vector<double>& tol, const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  int failures = 0;
  for (size_t i = 0; i < got.size() && failures < 5; ++i) {
    const bool ok = std::fabs(got[i] - ref[i]) <= tol[i];
    EXPECT_TRUE(ok) << what << " [" << i << "]: got " << got[i] << ", reference " << ref[i] << ", tolerance "
                    << tol[i];
    if (!ok) ++failures;
  }
}

// The same with tolerance atol + |ref| * rel.
void ExpectClose(const std::vector<double>& got, const std::vector<double>& ref, double atol, double rel,
                 const std::string& what) {
  std::vector<double> tol(ref.size());
  for (size_t i = 0; i < ref.size(); ++i) tol[i] = atol + std::fabs(ref[i]) * rel;
  ExpectClose(got, ref, tol, what);
}

// --- GEMM ---

TEST_P(ParityTest, GemmAllTransposesBetaZeroAndOne) {
  const int m = 33, n = 17, k = 65;
  const double alpha = 0.75;
  std::vector<DType> c_types = {dt()};
  if (IsHalf(dt())) c_types.push_back(DType::kF32);
  const std::vector<double> a = Random(m * k, 1), b = Random(k * n, 2);
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (DType c_type : c_types) {
        for (double beta : {0.0, 1.0}) {
          const std::vector<double> c0 = ktest::RandomValues(c_type, m * n, 3);
          Buffer ab = Make(dt(), a), bb = Make(dt(), b), cb = Make(c_type, c0);
          ASSERT_TRUE(backend_
                          ->Gemm(ta ? Transpose::kYes : Transpose::kNo, tb ? Transpose::kYes : Transpose::kNo,
                                 m, n, k, alpha, ab.view(), bb.view(), beta, cb.view())
                          .ok());
          std::vector<double> ref(m * n), tol(m * n);
          for (int i = 0; i < m; ++i) {
            for (int j = 0; j < n; ++j) {
              double sum = 0, magnitude = 0;
              for (int p = 0; p < k; ++p) {
                const double av = ta ? a[p * m + i] : a[i * k + p];
                const double bv = tb ? b[j * k + p] : b[p * n + j];
                sum += av * bv;
                magnitude += std::fabs(av * bv);
              }
              const double c_old = c0[i * n + j];
              ref[i * n + j] = alpha * sum + beta * c_old;
              // fp32 accumulation of k terms (factor sqrt(k)), then one rounding into C (factor 2).
              tol[i * n + j] =
                  std::sqrt(static_cast<double>(k)) * kEps32 * (alpha * magnitude + std::fabs(beta * c_old)) +
                  2 * ktest::Eps(c_type) * std::fabs(ref[i * n + j]);
            }
          }
          ExpectClose(Get(cb.view()), ref, tol,
                      std::string("Gemm ta ") + (ta ? "T" : "N") + " tb " + (tb ? "T" : "N") + " c " +
                          std::string(DTypeName(c_type)) + " beta " + std::to_string(beta));
        }
      }
    }
  }
}

// --- Bias + activation ---

TEST_P(ParityTest, BiasActivationForwardBackwardEveryActivation) {
  struct Shape {
    int rows, cols;
  };
  for (const Shape shape : {Shape{9, 37}, Shape{2, 1100}}) {
    const int rows = shape.rows, cols = shape.cols;
    const size_t size = static_cast<size_t>(rows) * cols;
    const std::vector<double> z0 = Random(size, 10, 2.0), bias = Random(cols, 11), dy = Random(size, 12);
    for (Activation act : kActivations) {
      const std::string what =
          std::string(ActivationName(act)) + " " + std::to_string(rows) + "x" + std::to_string(cols);
      Buffer z = Make(dt(), z0), y = Zeros(dt(), size), b = Make(dt(), bias), dyb = Make(dt(), dy),
             dz = Zeros(dt(), size), dbias = Zeros(AccumulationType(dt()), cols);
      ASSERT_TRUE(backend_->BiasActivationForward(act, rows, cols, b.view(), z.view(), y.view()).ok());
      const std::vector<double> z_got = Get(z.view());
      std::vector<double> z_ref(size), y_ref(size), y_tol(size);
      for (size_t i = 0; i < size; ++i) {
        z_ref[i] = ktest::RoundTo(dt(), z0[i] + bias[i % cols]);
        // y = act of the stored z; fp32 libm error with cancellation near zero crossings (atol), then one
        // rounding (factor 2).
        y_ref[i] = Activate(act, z_got[i]);
        y_tol[i] = 4 * kEps32 * (1 + std::fabs(z_got[i])) + 2 * eps() * std::fabs(y_ref[i]);
      }
      ExpectClose(z_got, z_ref, 0, eps(), what + " z");
      ExpectClose(Get(y.view()), y_ref, y_tol, what + " y");

      ASSERT_TRUE(
          backend_->BiasActivationBackward(act, rows, cols, z.view(), dyb.view(), dz.view(), dbias.view())
              .ok());
      std::vector<double> dz_ref(size), dz_tol(size), db_ref(cols, 0), db_tol(cols, 0);
      for (size_t i = 0; i < size; ++i) {
        dz_ref[i] = dy[i] * ActivateDerivative(act, z_got[i]);
        const double float_error = 4 * kEps32 * (1 + std::fabs(z_got[i])) * std::fabs(dy[i]);
        dz_tol[i] = float_error + 2 * eps() * std::fabs(dz_ref[i]);
        db_ref[i % cols] += dz_ref[i];
        // dbias sums the unrounded fp32 products over the rows (factor rows on the fp32 error).
        db_tol[i % cols] += float_error + rows * kEps32 * std::fabs(dz_ref[i]);
      }
      ExpectClose(Get(dz.view()), dz_ref, dz_tol, what + " dz");
      ExpectClose(Get(dbias.view()), db_ref, db_tol, what + " dbias");
    }
  }
}

// --- Softmax cross-entropy ---

TEST_P(ParityTest, SoftmaxCrossEntropyWithLabelSmoothingAndGradScale) {
  struct Case {
    int rows, cols;
    LossOptions options;
  };
  for (const Case& c : {Case{13, 10, LossOptions{.label_smoothing = 0.1, .grad_scale = 1024}},
                        Case{3, 37, LossOptions{.label_smoothing = 0.0, .grad_scale = 1.0}},
                        Case{5, 7, LossOptions{.label_smoothing = 0.5, .grad_scale = 0.25}}}) {
    const std::string what = "rows " + std::to_string(c.rows) + " cols " + std::to_string(c.cols) + " eps " +
                             std::to_string(c.options.label_smoothing);
    const std::vector<double> logits = Random(c.rows * c.cols, 20 + c.cols, 3.0);
    Rng rng(30 + c.cols);
    std::vector<double> labels(c.rows);
    for (double& l : labels) l = static_cast<double>(rng.UniformInt(static_cast<uint64_t>(c.cols)));
    Buffer lb = Make(dt(), logits), lab = Make(DType::kI32, labels), loss = Zeros(AccumulationType(dt()), 1),
           dl = Zeros(dt(), logits.size());
    ASSERT_TRUE(
        backend_
            ->SoftmaxCrossEntropy(c.options, c.rows, c.cols, lb.view(), lab.view(), loss.view(), dl.view())
            .ok());
    const double e = c.options.label_smoothing, scale = c.options.grad_scale / c.rows;
    double loss_ref = 0;
    std::vector<double> grad_ref(logits.size()), grad_tol(logits.size());
    for (int r = 0; r < c.rows; ++r) {
      const double* x = &logits[static_cast<size_t>(r) * c.cols];
      const auto label = static_cast<int>(labels[r]);
      const double max = *std::max_element(x, x + c.cols);
      double sum_exp = 0, sum_x = 0;
      for (int j = 0; j < c.cols; ++j) {
        sum_exp += std::exp(x[j] - max);
        sum_x += x[j];
      }
      loss_ref += max + std::log(sum_exp) - (1 - e) * x[label] - e / c.cols * sum_x;
      for (int j = 0; j < c.cols; ++j) {
        const double t = (j == label ? 1 - e : 0) + e / c.cols;
        const size_t i = static_cast<size_t>(r) * c.cols + j;
        grad_ref[i] = scale * (std::exp(x[j] - max) / sum_exp - t);
        // fp32 softmax (a few ulps of each term, cancellation against t), then one rounding (factor 2).
        grad_tol[i] = 8 * kEps32 * scale + 2 * eps() * std::fabs(grad_ref[i]);
      }
    }
    loss_ref /= c.rows;
    // fp32 sums over the row and over the rows (factor sqrt(rows * cols)), of terms of size ~|logits|.
    const double loss_tol =
        8 * kEps32 * std::sqrt(static_cast<double>(c.rows * c.cols)) * (3 + std::fabs(loss_ref));
    ExpectClose(Get(loss.view()), {loss_ref}, {loss_tol}, what + " loss");
    ExpectClose(Get(dl.view()), grad_ref, grad_tol, what + " dlogits");
    // Without dlogits only the loss is written.
    Buffer loss2 = Zeros(AccumulationType(dt()), 1);
    ASSERT_TRUE(
        backend_->SoftmaxCrossEntropy(c.options, c.rows, c.cols, lb.view(), lab.view(), loss2.view(), View())
            .ok());
    ExpectClose(Get(loss2.view()), {loss_ref}, {loss_tol}, what + " loss without gradient");
  }
}

TEST_P(ParityTest, CountCorrectUsesTheFirstMaximumOfTheStoredLogits) {
  const int rows = 200, cols = 7;
  // Coarse values so that rounding to the element type produces ties.
  const std::vector<double> logits = Random(rows * cols, 40, 0.05);
  Rng rng(41);
  std::vector<double> labels(rows);
  for (double& l : labels) l = static_cast<double>(rng.UniformInt(cols));
  int64_t expected = 0;
  for (int r = 0; r < rows; ++r) {
    const double* x = &logits[static_cast<size_t>(r) * cols];
    expected += (std::max_element(x, x + cols) - x) == static_cast<int64_t>(labels[r]);
  }
  Buffer lb = Make(dt(), logits), lab = Make(DType::kI32, labels);
  Result<int64_t> correct = backend_->CountCorrect(rows, cols, lb.view(), lab.view());
  ASSERT_TRUE(correct.ok()) << correct.status().ToString();
  EXPECT_EQ(*correct, expected);
}

// --- Dropout ---

TEST_P(ParityTest, DropoutDropsTheElementsPhiloxNames) {
  const size_t n = 1003;  // not a multiple of 4
  const double p = 0.3;
  const uint64_t seed = 0x1234'5678'9abc'def0ULL, stream = 5;
  const std::vector<double> x = Random(n, 50), dy = Random(n, 51);
  Buffer xb = Make(dt(), x), yb = Zeros(dt(), n), dyb = Make(dt(), dy);
  ASSERT_TRUE(backend_->Dropout(p, seed, stream, xb.view(), yb.view()).ok());
  // The backward pass: the same call on the gradient, in place.
  ASSERT_TRUE(backend_->Dropout(p, seed, stream, dyb.view(), dyb.view()).ok());
  const std::vector<double> y = Get(yb.view()), dx = Get(dyb.view());
  const uint32_t threshold = DropoutThreshold(p);
  std::vector<double> y_ref(n), dx_ref(n);
  for (size_t i = 0; i < n; ++i) {
    const bool keep = DropoutKeep(seed, stream, i, threshold);
    y_ref[i] = keep ? x[i] / (1 - p) : 0.0;
    dx_ref[i] = keep ? dy[i] / (1 - p) : 0.0;
    if (!keep) {
      ASSERT_EQ(y[i], 0.0) << i;
      ASSERT_EQ(dx[i], 0.0) << i;
    } else {
      ASSERT_NE(y[i], 0.0) << i;
    }
  }
  // The scale 1 / (1 - p) as an fp32 constant, then one rounding (factor 2).
  ExpectClose(y, y_ref, 0, 2 * eps() + kEps32, "dropout y");
  ExpectClose(dx, dx_ref, 0, 2 * eps() + kEps32, "dropout dx");
  // p == 0 copies.
  ASSERT_TRUE(backend_->Dropout(0.0, seed, stream, xb.view(), yb.view()).ok());
  EXPECT_EQ(Get(yb.view()), x);
}

TEST_P(ParityTest, DropoutRateIsWithinFourSigmaOfP) {
  const size_t n = 1'000'000;
  const double p = 0.2;
  Buffer x = Zeros(dt(), n);
  ASSERT_TRUE(backend_->Fill(x.view(), 1.0).ok());
  ASSERT_TRUE(backend_->Dropout(p, 77, 1, x.view(), x.view()).ok());
  const std::vector<double> y = Get(x.view());
  const auto dropped = static_cast<double>(std::count(y.begin(), y.end(), 0.0));
  const double sigma = std::sqrt(n * p * (1 - p));
  EXPECT_LE(std::fabs(dropped - n * p), 4 * sigma) << dropped << " of " << n;
  // And exactly the elements the reference mask drops.
  size_t expected = 0;
  const uint32_t threshold = DropoutThreshold(p);
  for (size_t i = 0; i < n; ++i) expected += DropoutKeep(77, 1, i, threshold) ? 0 : 1;
  EXPECT_EQ(static_cast<size_t>(dropped), expected);
}

// --- Layer norm ---

TEST_P(ParityTest, LayerNormForwardBackward) {
  const int rows = 6, cols = 50;
  const double ln_eps = 1e-5;
  const size_t size = static_cast<size_t>(rows) * cols;
  std::vector<double> x = Random(size, 60, 2.0), gamma = Random(cols, 61, 0.2), beta = Random(cols, 62, 0.1);
  for (double& v : x) v = ktest::RoundTo(dt(), v + 0.5);
  for (double& v : gamma) v = ktest::RoundTo(dt(), v + 1.0);
  const std::vector<double> dy = Random(size, 63);
  const DType acc = AccumulationType(dt());
  Buffer xb = Make(dt(), x), gb = Make(dt(), gamma), bb = Make(dt(), beta), yb = Zeros(dt(), size),
         mean = Zeros(acc, rows), rstd = Zeros(acc, rows);
  ASSERT_TRUE(backend_
                  ->LayerNormForward(rows, cols, ln_eps, xb.view(), gb.view(), bb.view(), yb.view(),
                                     mean.view(), rstd.view())
                  .ok());
  const double sqrt_cols = std::sqrt(static_cast<double>(cols));
  std::vector<double> mean_ref(rows), rstd_ref(rows), y_ref(size), y_tol(size);
  for (int r = 0; r < rows; ++r) {
    const double* xr = &x[static_cast<size_t>(r) * cols];
    double sum = 0;
    for (int c = 0; c < cols; ++c) sum += xr[c];
    mean_ref[r] = sum / cols;
    double var = 0;
    for (int c = 0; c < cols; ++c) var += (xr[c] - mean_ref[r]) * (xr[c] - mean_ref[r]);
    var /= cols;
    rstd_ref[r] = 1 / std::sqrt(var + ln_eps);
    for (int c = 0; c < cols; ++c) {
      const size_t i = static_cast<size_t>(r) * cols + c;
      const double xhat = (xr[c] - mean_ref[r]) * rstd_ref[r];
      y_ref[i] = xhat * gamma[c] + beta[c];
      // fp32 statistics over the row (factor sqrt(cols)), then one rounding (factor 2).
      y_tol[i] = 8 * kEps32 * sqrt_cols * (1 + std::fabs(xhat * gamma[c])) + 2 * eps() * std::fabs(y_ref[i]);
    }
  }
  ExpectClose(Get(mean.view()), mean_ref, 8 * kEps32 * sqrt_cols * 3, 0, "mean");
  ExpectClose(Get(rstd.view()), rstd_ref, 0, 8 * kEps32 * sqrt_cols, "rstd");
  ExpectClose(Get(yb.view()), y_ref, y_tol, "layer norm y");

  // Backward, from the statistics as the backend stored them.
  const std::vector<double> mu = Get(mean.view()), rs = Get(rstd.view());
  Buffer dyb = Make(dt(), dy), dx = Zeros(dt(), size), dgamma = Zeros(acc, cols), dbeta = Zeros(acc, cols);
  ASSERT_TRUE(backend_
                  ->LayerNormBackward(rows, cols, xb.view(), gb.view(), mean.view(), rstd.view(), dyb.view(),
                                      dx.view(), dgamma.view(), dbeta.view())
                  .ok());
  std::vector<double> dx_ref(size), dx_tol(size), dg_ref(cols, 0), db_ref(cols, 0), dg_tol(cols, 0),
      db_tol(cols, 0);
  for (int r = 0; r < rows; ++r) {
    double mean_g = 0, mean_gx = 0, magnitude = 0;
    for (int c = 0; c < cols; ++c) {
      const size_t i = static_cast<size_t>(r) * cols + c;
      const double xhat = (x[i] - mu[r]) * rs[r];
      mean_g += dy[i] * gamma[c];
      mean_gx += dy[i] * gamma[c] * xhat;
      magnitude += std::fabs(dy[i] * gamma[c]) * (1 + std::fabs(xhat));
      dg_ref[c] += dy[i] * xhat;
      db_ref[c] += dy[i];
      dg_tol[c] += 8 * kEps32 * std::fabs(dy[i]) * (1 + std::fabs(xhat));
      db_tol[c] += 8 * kEps32 * std::fabs(dy[i]);
    }
    mean_g /= cols;
    mean_gx /= cols;
    magnitude /= cols;
    for (int c = 0; c < cols; ++c) {
      const size_t i = static_cast<size_t>(r) * cols + c;
      const double xhat = (x[i] - mu[r]) * rs[r];
      dx_ref[i] = rs[r] * (dy[i] * gamma[c] - mean_g - xhat * mean_gx);
      // fp32 row means (factor sqrt(cols)) under cancellation, then one rounding (factor 2).
      dx_tol[i] =
          8 * kEps32 * sqrt_cols * rs[r] * (std::fabs(dy[i] * gamma[c]) + magnitude * (1 + std::fabs(xhat))) +
          2 * eps() * std::fabs(dx_ref[i]);
    }
  }
  ExpectClose(Get(dx.view()), dx_ref, dx_tol, "layer norm dx");
  ExpectClose(Get(dgamma.view()), dg_ref, dg_tol, "layer norm dgamma");
  ExpectClose(Get(dbeta.view()), db_ref, db_tol, "layer norm dbeta");
}

// --- Convolution networks: Col2Im, pooling, batch norm ---

TEST_P(ParityTest, Col2ImAndPoolingMatchTheReference) {
  const Conv2dShape s{.batch = 2,
                      .height = 9,
                      .width = 7,
                      .channels = 5,
                      .kernel_h = 3,
                      .kernel_w = 3,
                      .stride_h = 2,
                      .stride_w = 2,
                      .pad_h = 1,
                      .pad_w = 1};
  const int64_t oh_n = s.out_height(), ow_n = s.out_width(), ch = s.channels, patch = s.patch_size();
  const size_t in = static_cast<size_t>(s.input_size()),
               cols_size = static_cast<size_t>(s.out_pixels() * patch);
  const std::vector<double> x = Random(in, 70), cols = Random(cols_size, 71);
  // Col2Im: sums of at most 4 terms (stride 2 over a 3 x 3 window) in fp32, rounded once.
  Buffer cb = Make(dt(), cols), back = Zeros(dt(), in);
  ASSERT_TRUE(backend_->Col2Im(s, cb.view(), back.view()).ok());
  std::vector<double> ref(in, 0.0), magnitude(in, 0.0);
  for (int64_t r = 0; r < s.out_pixels(); ++r) {
    const int64_t ow = r % ow_n, oh = (r / ow_n) % oh_n, n = r / (ow_n * oh_n);
    for (int64_t kh = 0; kh < 3; ++kh) {
      for (int64_t kw = 0; kw < 3; ++kw) {
        const int64_t h = oh * 2 - 1 + kh, w = ow * 2 - 1 + kw;
        if (h < 0 || h >= s.height || w < 0 || w >= s.width) continue;
        for (int64_t c = 0; c < ch; ++c) {
          const auto i = static_cast<size_t>(((n * s.height + h) * s.width + w) * ch + c);
          const double v = cols[static_cast<size_t>(r * patch + (kh * 3 + kw) * ch + c)];
          ref[i] += v;
          magnitude[i] += std::fabs(v);
        }
      }
    }
  }
  std::vector<double> tol(in);
  for (size_t i = 0; i < in; ++i) tol[i] = 4 * kEps32 * magnitude[i] + 2 * eps() * std::fabs(ref[i]);
  ExpectClose(Get(back.view()), ref, tol, "col2im");

  // Max pooling: the values themselves, exactly.
  const size_t out = static_cast<size_t>(s.out_pixels() * ch);
  Buffer xb = Make(dt(), x), y = Zeros(dt(), out), argmax = Zeros(DType::kI32, out);
  ASSERT_TRUE(backend_->MaxPool2dForward(s, xb.view(), y.view(), argmax.view()).ok());
  const std::vector<double> yv = Get(y.view()), av = Get(argmax.view());
  for (size_t i = 0; i < out; ++i) {
    ASSERT_EQ(yv[i], x[static_cast<size_t>(av[i])]) << i;
    const int64_t c = static_cast<int64_t>(i) % ch, r = static_cast<int64_t>(i) / ch;
    const int64_t ow = r % ow_n, oh = (r / ow_n) % oh_n, n = r / (ow_n * oh_n);
    double best = -INFINITY;
    for (int64_t h = std::max<int64_t>(0, oh * 2 - 1); h < std::min<int64_t>(s.height, oh * 2 + 2); ++h) {
      for (int64_t w = std::max<int64_t>(0, ow * 2 - 1); w < std::min<int64_t>(s.width, ow * 2 + 2); ++w) {
        best = std::max(best, x[static_cast<size_t>(((n * s.height + h) * s.width + w) * ch + c)]);
      }
    }
    ASSERT_EQ(yv[i], best) << i;
  }

  // Global average pool over the 63 pixels: an fp32 sum, then one rounding.
  const int64_t pixels = s.height * s.width;
  Buffer avg = Zeros(dt(), static_cast<size_t>(s.batch * ch));
  ASSERT_TRUE(backend_->GlobalAvgPoolForward(s.batch, pixels, ch, xb.view(), avg.view()).ok());
  std::vector<double> avg_ref(static_cast<size_t>(s.batch * ch), 0.0), avg_tol(avg_ref.size(), 0.0);
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t c = 0; c < ch; ++c) {
      double sum = 0, abs_sum = 0;
      for (int64_t p = 0; p < pixels; ++p) {
        sum += x[static_cast<size_t>((n * pixels + p) * ch + c)];
        abs_sum += std::fabs(x[static_cast<size_t>((n * pixels + p) * ch + c)]);
      }
      const auto i = static_cast<size_t>(n * ch + c);
      avg_ref[i] = sum / pixels;
      avg_tol[i] = 8 * kEps32 * std::sqrt(static_cast<double>(pixels)) * abs_sum / pixels +
                   2 * eps() * std::fabs(avg_ref[i]);
    }
  }
  ExpectClose(Get(avg.view()), avg_ref, avg_tol, "global avg pool");
}

TEST_P(ParityTest, BatchNormForwardBackward) {
  const int rows = 100, cols = 7;  // four column chunks of rows
  const double bn_eps = 1e-5, momentum = 0.1;
  const size_t size = static_cast<size_t>(rows) * cols;
  std::vector<double> x = Random(size, 80, 2.0), gamma = Random(cols, 81, 0.2), beta = Random(cols, 82, 0.1);
  for (double& v : x) v = ktest::RoundTo(dt(), v + 0.5);
  for (double& v : gamma) v = ktest::RoundTo(dt(), v + 1.0);
  const std::vector<double> dy = Random(size, 83);
  const DType acc = AccumulationType(dt());
  Buffer xb = Make(dt(), x), gb = Make(dt(), gamma), bb = Make(dt(), beta), yb = Zeros(dt(), size),
         mean = Zeros(acc, cols), rstd = Zeros(acc, cols),
         running_mean = Make(acc, std::vector<double>(cols, 0.5)),
         running_var = Make(acc, std::vector<double>(cols, 2.0));
  ASSERT_TRUE(backend_
                  ->BatchNormForward(rows, cols, bn_eps, momentum, xb.view(), gb.view(), bb.view(), yb.view(),
                                     mean.view(), rstd.view(), running_mean.view(), running_var.view())
                  .ok());
  const double sqrt_rows = std::sqrt(static_cast<double>(rows));
  std::vector<double> mean_ref(cols, 0), var_ref(cols, 0), rstd_ref(cols), rm_ref(cols), rv_ref(cols),
      y_ref(size), y_tol(size);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) mean_ref[c] += x[static_cast<size_t>(r) * cols + c] / rows;
  }
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c)
      var_ref[c] += std::pow(x[static_cast<size_t>(r) * cols + c] - mean_ref[c], 2);
  }
  for (int c = 0; c < cols; ++c) {
    rstd_ref[c] = 1 / std::sqrt(var_ref[c] / rows + bn_eps);
    rm_ref[c] = (1 - momentum) * 0.5 + momentum * mean_ref[c];
    rv_ref[c] = (1 - momentum) * 2.0 + momentum * var_ref[c] / (rows - 1);
  }
  for (size_t i = 0; i < size; ++i) {
    const size_t c = i % cols;
    const double xhat = (x[i] - mean_ref[c]) * rstd_ref[c];
    y_ref[i] = xhat * gamma[c] + beta[c];
    // fp32 column statistics (factor sqrt(rows)), then one rounding (factor 2).
    y_tol[i] = 8 * kEps32 * sqrt_rows * (1 + std::fabs(xhat * gamma[c])) + 2 * eps() * std::fabs(y_ref[i]);
  }
  ExpectClose(Get(mean.view()), mean_ref, 8 * kEps32 * sqrt_rows * 3, 0, "bn mean");
  ExpectClose(Get(rstd.view()), rstd_ref, 0, 8 * kEps32 * sqrt_rows, "bn rstd");
  ExpectClose(Get(running_mean.view()), rm_ref, 8 * kEps32 * sqrt_rows * 3, 8 * kEps32, "bn running_mean");
  ExpectClose(Get(running_var.view()), rv_ref, 0, 8 * kEps32 * sqrt_rows, "bn running_var");
  ExpectClose(Get(yb.view()), y_ref, y_tol, "bn y");

  // Backward, from the statistics as the backend stored them.
  const std::vector<double> mu = Get(mean.view()), rs = Get(rstd.view());
  Buffer dyb = Make(dt(), dy), dx = Zeros(dt(), size), dgamma = Zeros(acc, cols), dbeta = Zeros(acc, cols);
  ASSERT_TRUE(backend_
                  ->BatchNormBackward(rows, cols, xb.view(), gb.view(), mean.view(), rstd.view(), dyb.view(),
                                      dx.view(), dgamma.view(), dbeta.view())
                  .ok());
  std::vector<double> dg_ref(cols, 0), db_ref(cols, 0), dg_tol(cols, 0), db_tol(cols, 0), magnitude(cols, 0);
  for (size_t i = 0; i < size; ++i) {
    const size_t c = i % cols;
    const double xhat = (x[i] - mu[c]) * rs[c];
    dg_ref[c] += dy[i] * xhat;
    db_ref[c] += dy[i];
    dg_tol[c] += 8 * kEps32 * std::fabs(dy[i]) * (1 + std::fabs(xhat));
    db_tol[c] += 8 * kEps32 * std::fabs(dy[i]);
    magnitude[c] += std::fabs(dy[i]) * (1 + std::fabs(xhat)) / rows;
  }
  std::vector<double> dx_ref(size), dx_tol(size);
  for (size_t i = 0; i < size; ++i) {
    const size_t c = i % cols;
    const double xhat = (x[i] - mu[c]) * rs[c];
    dx_ref[i] = gamma[c] * rs[c] * (dy[i] - db_ref[c] / rows - xhat * dg_ref[c] / rows);
    // fp32 column means (factor sqrt(rows)) under cancellation, then one rounding (factor 2).
    dx_tol[i] = 8 * kEps32 * sqrt_rows * std::fabs(gamma[c]) * rs[c] *
                    (std::fabs(dy[i]) + magnitude[c] * (1 + std::fabs(xhat))) +
                2 * eps() * std::fabs(dx_ref[i]);
  }
  ExpectClose(Get(dx.view()), dx_ref, dx_tol, "bn dx");
  ExpectClose(Get(dgamma.view()), dg_ref, dg_tol, "bn dgamma");
  ExpectClose(Get(dbeta.view()), db_ref, db_tol, "bn dbeta");
}

// --- Axpy, Cast, Fill ---

TEST_P(ParityTest, Axpy) {
  const size_t n = 1003;
  const double alpha = -0.7;
  const std::vector<double> x = Random(n, 70), y0 = Random(n, 71);
  Buffer xb = Make(dt(), x), yb = Make(dt(), y0);
  // A larger y: only the first x.size() elements change.
  Buffer big = Make(dt(), Random(n + 5, 72));
  const std::vector<double> big0 = Get(big.view());
  ASSERT_TRUE(backend_->Axpy(alpha, xb.view(), yb.view()).ok());
  ASSERT_TRUE(backend_->Axpy(alpha, xb.view(), big.view()).ok());
  std::vector<double> ref(n), tol(n);
  for (size_t i = 0; i < n; ++i) {
    ref[i] = y0[i] + alpha * x[i];
    // fp32 arithmetic (alpha is an fp32 constant), then one rounding (factor 2).
    tol[i] = 2 * kEps32 * (std::fabs(y0[i]) + std::fabs(alpha * x[i])) + 2 * eps() * std::fabs(ref[i]);
  }
  ExpectClose(Get(yb.view()), ref, tol, "axpy");
  const std::vector<double> big1 = Get(big.view());
  for (size_t i = n; i < n + 5; ++i) EXPECT_EQ(big1[i], big0[i]) << i;
}

TEST_P(ParityTest, CastRoundsOnceToNearestEven) {
  const size_t n = 777;
  // f32 -> dt and back.
  const std::vector<double> wide = ktest::RandomValues(DType::kF32, n, 80, 50.0);
  Buffer w32 = Make(DType::kF32, wide), h = Zeros(dt(), n), back = Zeros(DType::kF32, n);
  ASSERT_TRUE(backend_->Cast(w32.view(), h.view()).ok());
  ASSERT_TRUE(backend_->Cast(h.view(), back.view()).ok());
  EXPECT_EQ(Get(h.view()), ktest::RoundAll(dt(), wide));
  EXPECT_EQ(Get(back.view()), ktest::RoundAll(dt(), wide));
  // f64 -> dt: one rounding from double (no detour through a rounded float), including values just past a
  // midpoint of the target type, overflow and underflow.
  Rng rng(81);
  std::vector<double> doubles(n);
  for (double& d : doubles) d = rng.Normal() * 10;
  const double specials[] = {1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40),
                             -(1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40)),
                             1.0 + std::ldexp(1.0, -24) + std::ldexp(1.0, -60),
                             1e6,
                             -1e40,
                             std::ldexp(1.0, -30),
                             65519.999,
                             std::ldexp(1.0, -25) * (1 + std::ldexp(1.0, -40)),
                             0.0,
                             -0.0};
  std::copy(std::begin(specials), std::end(specials), doubles.begin());
  Buffer d64 = Make(DType::kF64, doubles), hd = Zeros(dt(), n), d64_back = Zeros(DType::kF64, n);
  ASSERT_TRUE(backend_->Cast(d64.view(), hd.view()).ok());
  const std::vector<double> want = ktest::RoundAll(dt(), doubles);
  const std::vector<double> got = Get(hd.view());
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(got[i], want[i]) << "element " << i << " = " << doubles[i];
    EXPECT_EQ(std::signbit(got[i]), std::signbit(want[i])) << i;
  }
  ASSERT_TRUE(backend_->Cast(hd.view(), d64_back.view()).ok());
  EXPECT_EQ(Get(d64_back.view()), want);
  // Same type: a copy.
  Buffer copy = Zeros(dt(), n);
  ASSERT_TRUE(backend_->Cast(hd.view(), copy.view()).ok());
  EXPECT_EQ(ktest::GetBytes(*backend_, copy.view()), ktest::GetBytes(*backend_, hd.view()));
}

TEST_P(ParityTest, FillRoundsTheValue) {
  Buffer b = Zeros(dt(), 100);
  ASSERT_TRUE(backend_->Fill(b.Sub(10, 80), 0.1).ok());
  const std::vector<double> got = Get(b.view());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i], i >= 10 && i < 90 ? ktest::RoundTo(dt(), 0.1) : 0.0) << i;
  }
}

// --- Gradient statistics ---

TEST_P(ParityTest, GradientStatsSumsFiniteSquaresAndFindsInfAndNan) {
  const size_t n = 5003;
  const std::vector<double> g = Random(n, 90);
  Buffer gb = Make(dt(), g);
  double ref = 0;
  for (double v : g) ref += v * v;
  // An fp32 sum of n squares (factor sqrt(n)).
  const double tol = 4 * kEps32 * std::sqrt(static_cast<double>(n)) * ref;
  Result<GradStats> stats = backend_->GradientStats(gb.view());
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_TRUE(stats->finite);
  EXPECT_NEAR(stats->sum_squares, ref, tol);
  // An infinity: not finite; the sum covers the finite elements.
  ASSERT_TRUE(backend_->Fill(gb.Sub(17, 1), INFINITY).ok());
  stats = backend_->GradientStats(gb.view());
  ASSERT_TRUE(stats.ok());
  EXPECT_FALSE(stats->finite);
  EXPECT_NEAR(stats->sum_squares, ref - g[17] * g[17], tol);
  // A NaN alone is caught too.
  Buffer nan = Make(dt(), g);
  ASSERT_TRUE(backend_->Fill(nan.Sub(4000, 1), NAN).ok());
  stats = backend_->GradientStats(nan.view());
  ASSERT_TRUE(stats.ok());
  EXPECT_FALSE(stats->finite);
  EXPECT_NEAR(stats->sum_squares, ref - g[4000] * g[4000], tol);
  // And -inf in the last element (the tail of any vector loop).
  Buffer last = Make(dt(), g);
  ASSERT_TRUE(backend_->Fill(last.Sub(n - 1, 1), -INFINITY).ok());
  stats = backend_->GradientStats(last.view());
  ASSERT_TRUE(stats.ok());
  EXPECT_FALSE(stats->finite);
  // Squares accumulate in fp32: 60000^2 overflows fp16 but not the sum.
  const double big = ktest::RoundTo(dt(), 60000.0);
  Buffer large = Make(dt(), {big, -big, 1.0});
  stats = backend_->GradientStats(large.view());
  ASSERT_TRUE(stats.ok());
  EXPECT_TRUE(stats->finite);
  EXPECT_NEAR(stats->sum_squares, 2 * big * big + 1, 4 * kEps32 * 2 * big * big);
}

// --- Optimizers ---

TEST_P(ParityTest, SgdMomentumClassicalAndNesterovWithHalfCopy) {
  const size_t n = 1003;
  const double loss_scale = 1024;
  for (bool nesterov : {false, true}) {
    const SgdHyper hyper{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-2, .nesterov = nesterov};
    std::vector<double> w = ktest::RandomValues(DType::kF32, n, 100),
                        v = ktest::RandomValues(DType::kF32, n, 101, 0.1);
    Buffer wb = Make(DType::kF32, w), vb = Make(DType::kF32, v), copy = Zeros(dt(), n);
    for (int step = 0; step < 2; ++step) {
      const std::vector<double> g = ktest::RandomValues(DType::kF32, n, 102 + step, loss_scale);
      Buffer gb = Make(DType::kF32, g);
      ASSERT_TRUE(
          backend_->SgdMomentumUpdate(hyper, 1 / loss_scale, wb.view(), gb.view(), vb.view(), copy.view())
              .ok());
      const SgdCoeffs<double> c = MakeSgdCoeffs<double>(hyper, 1 / loss_scale);
      for (size_t i = 0; i < n; ++i) SgdMomentumElement(c, w[i], g[i], v[i]);
    }
    const std::vector<double> w_got = Get(wb.view());
    const std::string what = nesterov ? "nesterov" : "classical";
    // fp32 element math on O(1) values: a few ulps.
    ExpectClose(w_got, w, 8 * kEps32, 8 * kEps32, what + " w");
    ExpectClose(Get(vb.view()), v, 8 * kEps32, 8 * kEps32, what + " velocity");
    // The copy is the new w rounded, exactly.
    EXPECT_EQ(Get(copy.view()), ktest::RoundAll(dt(), w_got)) << what;
  }
}

TEST_P(ParityTest, AdamWWithHalfCopy) {
  const size_t n = 1003;
  const AdamWHyper hyper{.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.1};
  std::vector<double> w = ktest::RandomValues(DType::kF32, n, 110), m(n, 0.0), v(n, 0.0);
  Buffer wb = Make(DType::kF32, w), mb = Zeros(DType::kF32, n), vb = Zeros(DType::kF32, n),
         copy = Zeros(dt(), n);
  for (int64_t step = 1; step <= 3; ++step) {
    const double grad_scale = step == 2 ? 0.5 : 1.0;
    const std::vector<double> g = ktest::RandomValues(DType::kF32, n, 111 + static_cast<uint64_t>(step));
    Buffer gb = Make(DType::kF32, g);
    ASSERT_TRUE(
        backend_
            ->AdamWUpdate(hyper, step, grad_scale, wb.view(), gb.view(), mb.view(), vb.view(), copy.view())
            .ok());
    const AdamWCoeffs<double> c = MakeAdamWCoeffs<double>(hyper, step, grad_scale);
    for (size_t i = 0; i < n; ++i) AdamWElement(c, w[i], g[i], m[i], v[i]);
  }
  const std::vector<double> w_got = Get(wb.view());
  // fp32 element math; the update m / (sqrt(v) + eps) is O(1) times lr.
  ExpectClose(w_got, w, 16 * kEps32, 8 * kEps32, "adamw w");
  ExpectClose(Get(mb.view()), m, 8 * kEps32, 8 * kEps32, "adamw m");
  ExpectClose(Get(vb.view()), v, 8 * kEps32, 8 * kEps32, "adamw v");
  EXPECT_EQ(Get(copy.view()), ktest::RoundAll(dt(), w_got));
}

INSTANTIATE_TEST_SUITE_P(Backends, ParityTest,
                         ::testing::Combine(::testing::Values(BackendKind::kCpu, BackendKind::kCuda),
                                            ::testing::Values(DType::kF32, DType::kF16, DType::kBF16)),
                         [](const ::testing::TestParamInfo<std::tuple<BackendKind, DType>>& param_info) {
                           return std::string(BackendKindName(std::get<0>(param_info.param))) + "_" +
                                  std::string(DTypeName(std::get<1>(param_info.param)));
                         });

}  // namespace
}  // namespace hpo::kernels
