// Tests the convolution-network operations of kernels/backend.h on the CPU backend (kernels/cpu_conv.cc and
// their checks in kernels/backend_checks.cc): Im2Col + Gemm against a direct fp64 convolution, Col2Im as
// Im2Col's adjoint, every backward pass against central differences in fp64 (as gradient_check_test.cc),
// batch norm's statistics and running averages against hand-computed values, the half types against the
// fp32 computation rounded once, and INVALID_ARGUMENT for bad arguments. The CUDA backend's agreement with
// these is in cuda_backend_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "base/rng.h"
#include "kernels/backend.h"
#include "tests/kernels/kernels_test_util.h"

namespace hpo::kernels {
namespace {

constexpr DType kF32 = DType::kF32, kF64 = DType::kF64, kF16 = DType::kF16, kBF16 = DType::kBF16,
                kI32 = DType::kI32;

using ConvTest = ktest::CpuTest;

using ktest::CheckAgainstFiniteDifferences;
using ktest::Dot;

size_t Size(int64_t n) { return static_cast<size_t>(n); }

Conv2dShape Shape(int64_t batch, int64_t height, int64_t width, int64_t channels, int64_t kernel,
                  int64_t stride, int64_t pad) {
  return ktest::MakeShape(batch, height, width, channels, kernel, kernel, stride, pad);
}

using ktest::Describe;

// x[n, h, w, c], or 0 in the padding.
double At(const Conv2dShape& s, const std::vector<double>& x, int64_t n, int64_t h, int64_t w, int64_t c) {
  if (h < 0 || h >= s.height || w < 0 || w >= s.width) return 0;
  return x[Size(((n * s.height + h) * s.width + w) * s.channels + c)];
}

// The direct convolution: y[(n, oh, ow), o] = sum_{kh, kw, c} x[n, oh*sh - ph + kh, ow*sw - pw + kw, c]
// weights[(kh * kw_n + kw) * C + c, o], in fp64.
std::vector<double> DirectConvolution(const Conv2dShape& s, const std::vector<double>& x,
                                      const std::vector<double>& weights, int64_t out_channels) {
  const int64_t oh_n = s.out_height(), ow_n = s.out_width();
  std::vector<double> y(Size(s.out_pixels() * out_channels), 0.0);
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        for (int64_t o = 0; o < out_channels; ++o) {
          double sum = 0;
          for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
            for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
              for (int64_t c = 0; c < s.channels; ++c) {
                sum += At(s, x, n, oh * s.stride_h - s.pad_h + kh, ow * s.stride_w - s.pad_w + kw, c) *
                       weights[Size(((kh * s.kernel_w + kw) * s.channels + c) * out_channels + o)];
              }
            }
          }
          y[Size(((n * oh_n + oh) * ow_n + ow) * out_channels + o)] = sum;
        }
      }
    }
  }
  return y;
}

// --- Im2Col, Col2Im and the convolution built on them ---

TEST_F(ConvTest, Im2ColThenGemmIsTheDirectConvolution) {
  const int64_t out_channels = 4;
  for (int64_t kernel : {3, 5}) {
    for (int64_t stride : {1, 2}) {
      for (int64_t pad : {0, 1, 2}) {
        for (int64_t channels : {1, 3}) {
          const Conv2dShape s = Shape(2, 7, 6, channels, kernel, stride, pad);
          if (s.out_height() < 1 || s.out_width() < 1) continue;
          const std::vector<double> x = ktest::RandomValues(kF64, Size(s.input_size()), 1),
                                    w = ktest::RandomValues(kF64, Size(s.patch_size() * out_channels), 2);
          Buffer xb = Make(x), wb = Make(w), cols = Zeros(Size(s.out_pixels() * s.patch_size())),
                 y = Zeros(Size(s.out_pixels() * out_channels));
          ASSERT_TRUE(backend_->Im2Col(s, xb.view(), cols.view()).ok()) << Describe(s);
          ASSERT_TRUE(backend_
                          ->Gemm(Transpose::kNo, Transpose::kNo, s.out_pixels(), out_channels, s.patch_size(),
                                 1.0, cols.view(), wb.view(), 0.0, y.view())
                          .ok());
          const std::vector<double> got = Get(y.view()), ref = DirectConvolution(s, x, w, out_channels);
          ASSERT_EQ(got.size(), ref.size());
          for (size_t i = 0; i < ref.size(); ++i) {
            ASSERT_NEAR(got[i], ref[i], 1e-12 * (1 + std::fabs(ref[i]))) << Describe(s) << " [" << i << "]";
          }
        }
      }
    }
  }
}

TEST_F(ConvTest, Im2ColCopiesEveryTypeBitForBitWithZerosInThePadding) {
  const Conv2dShape s = Shape(2, 5, 4, 3, 3, 2, 1);
  for (DType dt : {kF32, kF64, kF16, kBF16}) {
    const std::vector<double> x = ktest::RandomValues(dt, Size(s.input_size()), 3);
    Buffer xb = Make(dt, x), cols = Make(dt, std::vector<double>(Size(s.out_pixels() * s.patch_size()), 7.0));
    ASSERT_TRUE(backend_->Im2Col(s, xb.view(), cols.view()).ok());
    const std::vector<double> got = Get(cols.view());
    for (int64_t r = 0; r < s.out_pixels(); ++r) {
      const int64_t ow = r % s.out_width(), oh = (r / s.out_width()) % s.out_height(),
                    n = r / (s.out_width() * s.out_height());
      for (int64_t kh = 0; kh < 3; ++kh) {
        for (int64_t kw = 0; kw < 3; ++kw) {
          for (int64_t c = 0; c < s.channels; ++c) {
            const double want = At(s, x, n, oh * 2 - 1 + kh, ow * 2 - 1 + kw, c);
            ASSERT_EQ(got[Size(r * s.patch_size() + (kh * 3 + kw) * s.channels + c)], want)
                << DTypeName(dt) << " row " << r;
          }
        }
      }
    }
  }
}

TEST_F(ConvTest, Col2ImIsTheAdjointOfIm2Col) {
  for (const Conv2dShape& s : {Shape(2, 7, 6, 3, 3, 1, 1), Shape(2, 7, 6, 1, 5, 2, 2),
                               Shape(2, 8, 8, 3, 3, 2, 0), Shape(1, 5, 5, 2, 2, 3, 1)}) {
    const size_t cols_size = Size(s.out_pixels() * s.patch_size());
    const std::vector<double> x = ktest::RandomValues(kF64, Size(s.input_size()), 4),
                              c = ktest::RandomValues(kF64, cols_size, 5);
    Buffer xb = Make(x), cb = Make(c), im2col = Zeros(cols_size),
           col2im = Make(std::vector<double>(Size(s.input_size()), 3.0));  // overwritten
    ASSERT_TRUE(backend_->Im2Col(s, xb.view(), im2col.view()).ok());
    ASSERT_TRUE(backend_->Col2Im(s, cb.view(), col2im.view()).ok());
    const double lhs = Dot(Get(im2col.view()), c), rhs = Dot(x, Get(col2im.view()));
    EXPECT_NEAR(lhs, rhs, 1e-12 * (1 + std::fabs(lhs))) << Describe(s);
  }
}

// L = sum w * conv(x, W): dW = cols^T dy, dx = Col2Im(dy W^T).
TEST_F(ConvTest, ConvolutionGradientsThroughIm2ColGemmCol2ImMatchFiniteDifferences) {
  const Conv2dShape s = Shape(2, 5, 4, 2, 3, 2, 1);
  const int64_t oc = 3, m = s.out_pixels(), k = s.patch_size();
  const std::vector<double> x0 = ktest::RandomValues(kF64, Size(s.input_size()), 6),
                            w0 = ktest::RandomValues(kF64, Size(k * oc), 7),
                            weights = ktest::RandomValues(kF64, Size(m * oc), 8);
  auto forward = [&](const std::vector<double>& x, const std::vector<double>& w) {
    Buffer xb = Make(x), wb = Make(w), cols = Zeros(Size(m * k)), y = Zeros(Size(m * oc));
    EXPECT_TRUE(backend_->Im2Col(s, xb.view(), cols.view()).ok());
    EXPECT_TRUE(
        backend_->Gemm(Transpose::kNo, Transpose::kNo, m, oc, k, 1.0, cols.view(), wb.view(), 0.0, y.view())
            .ok());
    return Dot(weights, Get(y.view()));
  };
  Buffer xb = Make(x0), wb = Make(w0), cols = Zeros(Size(m * k)), dy = Make(weights),
         dw = Zeros(Size(k * oc)), dcols = Zeros(Size(m * k)), dx = Zeros(Size(s.input_size()));
  ASSERT_TRUE(backend_->Im2Col(s, xb.view(), cols.view()).ok());
  ASSERT_TRUE(
      backend_->Gemm(Transpose::kYes, Transpose::kNo, k, oc, m, 1.0, cols.view(), dy.view(), 0.0, dw.view())
          .ok());
  ASSERT_TRUE(
      backend_->Gemm(Transpose::kNo, Transpose::kYes, m, k, oc, 1.0, dy.view(), wb.view(), 0.0, dcols.view())
          .ok());
  ASSERT_TRUE(backend_->Col2Im(s, dcols.view(), dx.view()).ok());
  CheckAgainstFiniteDifferences(
      "conv dx", x0, [&](const std::vector<double>& x) { return forward(x, w0); }, Get(dx.view()));
  CheckAgainstFiniteDifferences(
      "conv dW", w0, [&](const std::vector<double>& w) { return forward(x0, w); }, Get(dw.view()));
}

// --- Max pooling ---

// Distinct values at least 0.05 apart (so that a finite-difference step never changes a window's maximum),
// shuffled.
std::vector<double> DistinctValues(size_t n, uint64_t seed) {
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = -1.0 + 0.05 * static_cast<double>(i);
  Rng rng(seed);
  for (size_t i = n; i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(rng.UniformInt(i))]);
  return v;
}

TEST_F(ConvTest, MaxPoolForwardPicksTheFirstMaximumAndNeverThePadding) {
  // Every value equal: the first pixel of each window inside the image wins.
  const Conv2dShape s = Shape(1, 4, 4, 2, 3, 2, 1);
  const size_t out = Size(s.out_pixels() * s.channels);
  Buffer x = Make(std::vector<double>(Size(s.input_size()), -2.0)), y = Zeros(out), argmax = Zeros(kI32, out);
  ASSERT_TRUE(backend_->MaxPool2dForward(s, x.view(), y.view(), argmax.view()).ok());
  const std::vector<double> yv = Get(y.view()), av = Get(argmax.view());
  for (int64_t oh = 0; oh < s.out_height(); ++oh) {
    for (int64_t ow = 0; ow < s.out_width(); ++ow) {
      for (int64_t c = 0; c < s.channels; ++c) {
        const size_t i = Size((oh * s.out_width() + ow) * s.channels + c);
        EXPECT_EQ(yv[i], -2.0) << "padding (0) was chosen at " << i;
        const int64_t h = std::max<int64_t>(0, oh * 2 - 1), w = std::max<int64_t>(0, ow * 2 - 1);
        EXPECT_EQ(av[i], static_cast<double>((h * s.width + w) * s.channels + c)) << i;
      }
    }
  }
}

TEST_F(ConvTest, MaxPoolMatchesAReferenceAndItsBackwardMatchesFiniteDifferences) {
  const Conv2dShape s = Shape(2, 5, 6, 3, 3, 2, 1);  // overlapping windows
  const size_t in = Size(s.input_size()), out = Size(s.out_pixels() * s.channels);
  const std::vector<double> x0 = DistinctValues(in, 9), weights = ktest::RandomValues(kF64, out, 10);
  auto forward = [&](const std::vector<double>& x, std::vector<double>* argmax) {
    Buffer xb = Make(x), y = Zeros(out), a = Zeros(kI32, out);
    EXPECT_TRUE(backend_->MaxPool2dForward(s, xb.view(), y.view(), a.view()).ok());
    if (argmax != nullptr) *argmax = Get(a.view());
    return Get(y.view());
  };
  std::vector<double> argmax;
  const std::vector<double> y = forward(x0, &argmax);
  for (int64_t r = 0; r < s.out_pixels(); ++r) {
    const int64_t ow = r % s.out_width(), oh = (r / s.out_width()) % s.out_height(),
                  n = r / (s.out_width() * s.out_height());
    for (int64_t c = 0; c < s.channels; ++c) {
      double best = -INFINITY;
      int64_t best_at = -1;
      for (int64_t h = oh * 2 - 1; h < oh * 2 + 2; ++h) {
        for (int64_t w = ow * 2 - 1; w < ow * 2 + 2; ++w) {
          if (h < 0 || h >= s.height || w < 0 || w >= s.width) continue;
          const int64_t at = ((n * s.height + h) * s.width + w) * s.channels + c;
          if (x0[Size(at)] > best) best = x0[Size(at)], best_at = at;
        }
      }
      EXPECT_EQ(y[Size(r * s.channels + c)], best);
      EXPECT_EQ(argmax[Size(r * s.channels + c)], static_cast<double>(best_at));
    }
  }
  Buffer dy = Make(weights), a = Make(kI32, argmax), dx = Make(std::vector<double>(in, 5.0));
  ASSERT_TRUE(backend_->MaxPool2dBackward(s, dy.view(), a.view(), dx.view()).ok());
  CheckAgainstFiniteDifferences(
      "max pool dx", x0, [&](const std::vector<double>& x) { return Dot(weights, forward(x, nullptr)); },
      Get(dx.view()));
}

TEST_F(ConvTest, MaxPoolPropagatesNaN) {
  const Conv2dShape s = Shape(1, 2, 2, 1, 2, 1, 0);
  Buffer x = Make({1.0, NAN, 3.0, NAN}), y = Zeros(1), argmax = Zeros(kI32, 1);
  ASSERT_TRUE(backend_->MaxPool2dForward(s, x.view(), y.view(), argmax.view()).ok());
  EXPECT_TRUE(std::isnan(Get(y.view())[0]));
  EXPECT_EQ(Get(argmax.view())[0], 1.0);  // the first NaN
}

// --- Global average pooling ---

TEST_F(ConvTest, GlobalAvgPoolIsTheMeanAndItsBackwardMatchesFiniteDifferences) {
  const int64_t batch = 3, pixels = 5, channels = 4;
  const size_t in = Size(batch * pixels * channels), out = Size(batch * channels);
  const std::vector<double> x0 = ktest::RandomValues(kF64, in, 11),
                            weights = ktest::RandomValues(kF64, out, 12);
  auto forward = [&](const std::vector<double>& x) {
    Buffer xb = Make(x), y = Zeros(out);
    EXPECT_TRUE(backend_->GlobalAvgPoolForward(batch, pixels, channels, xb.view(), y.view()).ok());
    return Get(y.view());
  };
  const std::vector<double> y = forward(x0);
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t c = 0; c < channels; ++c) {
      double sum = 0;
      for (int64_t p = 0; p < pixels; ++p) sum += x0[Size((n * pixels + p) * channels + c)];
      EXPECT_NEAR(y[Size(n * channels + c)], sum / pixels, 1e-15);
    }
  }
  Buffer dy = Make(weights), dx = Make(std::vector<double>(in, 9.0));
  ASSERT_TRUE(backend_->GlobalAvgPoolBackward(batch, pixels, channels, dy.view(), dx.view()).ok());
  CheckAgainstFiniteDifferences(
      "avg pool dx", x0, [&](const std::vector<double>& x) { return Dot(weights, forward(x)); },
      Get(dx.view()));
}

// --- Batch normalisation ---

struct BatchNormOut {
  std::vector<double> y, mean, rstd;
};

class BatchNormTest : public ConvTest {
 protected:
  BatchNormOut Forward(int64_t rows, int64_t cols, const std::vector<double>& x,
                       const std::vector<double>& gamma, const std::vector<double>& beta) {
    Buffer xb = Make(x), gb = Make(gamma), bb = Make(beta), y = Zeros(Size(rows * cols)),
           mean = Zeros(Size(cols)), rstd = Zeros(Size(cols));
    EXPECT_TRUE(backend_
                    ->BatchNormForward(rows, cols, kEps, 0.1, xb.view(), gb.view(), bb.view(), y.view(),
                                       mean.view(), rstd.view(), View{}, View{})
                    .ok());
    return BatchNormOut{Get(y.view()), Get(mean.view()), Get(rstd.view())};
  }

  static constexpr double kEps = 1e-5;
};

TEST_F(BatchNormTest, ForwardNormalisesEachColumn) {
  const int64_t rows = 37, cols = 5;  // more than one chunk of 32 rows
  std::vector<double> x = ktest::RandomValues(kF64, Size(rows * cols), 13, 3.0);
  for (size_t i = 0; i < x.size(); ++i) x[i] += static_cast<double>(i % Size(cols));  // column offsets
  const BatchNormOut out =
      Forward(rows, cols, x, std::vector<double>(Size(cols), 1.0), std::vector<double>(Size(cols), 0.0));
  for (int64_t c = 0; c < cols; ++c) {
    double mean = 0, var = 0, x_mean = 0;
    for (int64_t r = 0; r < rows; ++r) {
      mean += out.y[Size(r * cols + c)];
      x_mean += x[Size(r * cols + c)];
    }
    mean /= rows;
    x_mean /= rows;
    for (int64_t r = 0; r < rows; ++r) var += std::pow(out.y[Size(r * cols + c)] - mean, 2);
    var /= rows;
    EXPECT_NEAR(mean, 0.0, 1e-12) << c;
    EXPECT_NEAR(var, 1.0, 1e-4) << c;  // var / (var + eps)
    EXPECT_NEAR(out.mean[Size(c)], x_mean, 1e-12) << c;
  }
}

TEST_F(BatchNormTest, BackwardMatchesFiniteDifferences) {
  const int64_t rows = 6, cols = 3;
  const std::vector<double> x0 = ktest::RandomValues(kF64, Size(rows * cols), 14, 2.0),
                            weights = ktest::RandomValues(kF64, Size(rows * cols), 15);
  std::vector<double> gamma0 = ktest::RandomValues(kF64, Size(cols), 16, 0.3),
                      beta0 = ktest::RandomValues(kF64, Size(cols), 17);
  for (double& g : gamma0) g += 1;
  auto objective = [&](const std::vector<double>& x, const std::vector<double>& g,
                       const std::vector<double>& b) { return Dot(weights, Forward(rows, cols, x, g, b).y); };
  Buffer xb = Make(x0), gb = Make(gamma0), bb = Make(beta0), y = Zeros(Size(rows * cols)),
         mean = Zeros(Size(cols)), rstd = Zeros(Size(cols));
  ASSERT_TRUE(backend_
                  ->BatchNormForward(rows, cols, kEps, 0.1, xb.view(), gb.view(), bb.view(), y.view(),
                                     mean.view(), rstd.view(), View{}, View{})
                  .ok());
  Buffer dy = Make(weights), dx = Zeros(Size(rows * cols)), dgamma = Zeros(Size(cols)),
         dbeta = Zeros(Size(cols));
  ASSERT_TRUE(backend_
                  ->BatchNormBackward(rows, cols, xb.view(), gb.view(), mean.view(), rstd.view(), dy.view(),
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
  // In place (dx = dy) gives the same.
  const std::vector<double> dx_out = Get(dx.view());
  ASSERT_TRUE(backend_
                  ->BatchNormBackward(rows, cols, xb.view(), gb.view(), mean.view(), rstd.view(), dy.view(),
                                      dy.view(), dgamma.view(), dbeta.view())
                  .ok());
  EXPECT_EQ(Get(dy.view()), dx_out);
}

TEST_F(BatchNormTest, RunningStatisticsFollowPyTorchAndInferenceUsesThem) {
  // Two columns of four rows, by hand: column 0 = {1, 2, 3, 6} (mean 3, unbiased var 14/3), column 1 =
  // {0, 0, 4, 4} (mean 2, unbiased var 16/3); then {2, 2, 2, 2} (mean 2, var 0) and {-1, 1, -1, 1} (mean 0,
  // unbiased var 4/3).
  const int64_t rows = 4, cols = 2;
  const double momentum = 0.25;
  Buffer running_mean = Make({0.5, -1.0}), running_var = Make({1.0, 2.0}), gamma = Make({1.0, 1.0}),
         beta = Make({0.0, 0.0}), y = Zeros(8), mean = Zeros(2), rstd = Zeros(2);
  Buffer first = Make({1, 0, 2, 0, 3, 4, 6, 4}), second = Make({2, -1, 2, 1, 2, -1, 2, 1});
  for (const Buffer* x : {&first, &second}) {
    ASSERT_TRUE(backend_
                    ->BatchNormForward(rows, cols, kEps, momentum, x->view(), gamma.view(), beta.view(),
                                       y.view(), mean.view(), rstd.view(), running_mean.view(),
                                       running_var.view())
                    .ok());
  }
  const double rm0 = 0.75 * (0.75 * 0.5 + 0.25 * 3) + 0.25 * 2,
               rm1 = 0.75 * (0.75 * -1.0 + 0.25 * 2) + 0.25 * 0;
  const double rv0 = 0.75 * (0.75 * 1.0 + 0.25 * 14.0 / 3) + 0.25 * 0,
               rv1 = 0.75 * (0.75 * 2.0 + 0.25 * 16.0 / 3) + 0.25 * 4.0 / 3;
  const std::vector<double> rm = Get(running_mean.view()), rv = Get(running_var.view());
  EXPECT_NEAR(rm[0], rm0, 1e-15);
  EXPECT_NEAR(rm[1], rm1, 1e-15);
  EXPECT_NEAR(rv[0], rv0, 1e-14);
  EXPECT_NEAR(rv[1], rv1, 1e-14);
  // The batch statistics of the second call: biased variance in rstd.
  EXPECT_EQ(Get(mean.view()), (std::vector<double>{2.0, 0.0}));
  EXPECT_NEAR(Get(rstd.view())[1], 1 / std::sqrt(1.0 + kEps), 1e-15);

  // Inference normalises with the running statistics (in place here), not the batch's.
  const std::vector<double> x = {1.0, 2.0, -3.0, 0.5};
  const std::vector<double> g = {2.0, 0.5}, b = {0.25, -1.0};
  Buffer xb = Make(x), gb = Make(g), bb = Make(b);
  ASSERT_TRUE(backend_
                  ->BatchNormInference(2, cols, kEps, xb.view(), gb.view(), bb.view(), running_mean.view(),
                                       running_var.view(), xb.view())
                  .ok());
  const std::vector<double> got = Get(xb.view());
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t c = i % 2;
    EXPECT_NEAR(got[i], (x[i] - rm[c]) / std::sqrt(rv[c] + kEps) * g[c] + b[c], 1e-14) << i;
  }

  // Empty running views are skipped; only running_mean given updates only it.
  Buffer rm_only = Make({0.0, 0.0});
  ASSERT_TRUE(backend_
                  ->BatchNormForward(rows, cols, kEps, 1.0, first.view(), gamma.view(), beta.view(), y.view(),
                                     mean.view(), rstd.view(), rm_only.view(), View{})
                  .ok());
  EXPECT_EQ(Get(rm_only.view()), (std::vector<double>{3.0, 2.0}));  // momentum 1: the batch mean
}

// --- Half types: the fp32 computation on the same (exactly widened) values, rounded once ---

class ConvHalfTest : public ConvTest, public ::testing::WithParamInterface<DType> {
 protected:
  // The values of `half` outputs equal the fp32 outputs rounded once to the half type.
  void ExpectRoundedOnce(const std::vector<double>& half, const std::vector<double>& f32,
                         const std::string& what) {
    ASSERT_EQ(half.size(), f32.size()) << what;
    for (size_t i = 0; i < half.size(); ++i) {
      ASSERT_EQ(half[i], ktest::RoundTo(GetParam(), f32[i])) << what << " [" << i << "]";
    }
  }
};

TEST_P(ConvHalfTest, EveryOperationIsTheFp32ComputationRoundedOnce) {
  const DType dt = GetParam();
  const Conv2dShape s = Shape(2, 6, 5, 3, 3, 2, 1);
  const size_t in = Size(s.input_size()), cols_size = Size(s.out_pixels() * s.patch_size()),
               out = Size(s.out_pixels() * s.channels);
  // Inputs representable in the half type, so that both runs see the same values.
  const std::vector<double> x = ktest::RandomValues(dt, in, 20), c = ktest::RandomValues(dt, cols_size, 21),
                            dy = ktest::RandomValues(dt, out, 22);
  std::vector<std::vector<double>> results[2];  // [0] half, [1] f32
  const DType types[2] = {dt, kF32};
  for (int t = 0; t < 2; ++t) {
    const DType type = types[t];
    auto& r = results[t];
    Buffer xb = Make(type, x), cb = Make(type, c), dyb = Make(type, dy), col2im = Zeros(type, in),
           y = Zeros(type, out), argmax = Zeros(kI32, out), dx = Zeros(type, in);
    ASSERT_TRUE(backend_->Col2Im(s, cb.view(), col2im.view()).ok());
    r.push_back(Get(col2im.view()));
    ASSERT_TRUE(backend_->MaxPool2dForward(s, xb.view(), y.view(), argmax.view()).ok());
    r.push_back(Get(y.view()));
    r.push_back(Get(argmax.view()));
    ASSERT_TRUE(backend_->MaxPool2dBackward(s, dyb.view(), argmax.view(), dx.view()).ok());
    r.push_back(Get(dx.view()));
    // Global average pool over x as batch x (H*W) x C.
    const int64_t pixels = s.height * s.width;
    Buffer pooled = Zeros(type, Size(s.batch * s.channels)), pool_dx = Zeros(type, in);
    ASSERT_TRUE(backend_->GlobalAvgPoolForward(s.batch, pixels, s.channels, xb.view(), pooled.view()).ok());
    r.push_back(Get(pooled.view()));
    ASSERT_TRUE(
        backend_->GlobalAvgPoolBackward(s.batch, pixels, s.channels, pooled.view(), pool_dx.view()).ok());
    r.push_back(Get(pool_dx.view()));
  }
  const char* names[] = {"col2im",      "max pool y", "max pool argmax",
                         "max pool dx", "avg pool y", "avg pool dx"};
  for (size_t i = 0; i < results[0].size(); ++i) {
    if (i == 2) {
      EXPECT_EQ(results[0][i], results[1][i]) << names[i];
    } else if (i == 5) {
      // The backward's input was each run's own (rounded) pooled output; compare from the half one.
      continue;
    } else {
      ExpectRoundedOnce(results[0][i], results[1][i], names[i]);
    }
  }
  // Avg pool backward from the same dy in both types.
  {
    const int64_t pixels = s.height * s.width;
    const std::vector<double> g = ktest::RandomValues(dt, Size(s.batch * s.channels), 23);
    std::vector<double> got[2];
    for (int t = 0; t < 2; ++t) {
      Buffer gb = Make(types[t], g), dx = Zeros(types[t], in);
      ASSERT_TRUE(backend_->GlobalAvgPoolBackward(s.batch, pixels, s.channels, gb.view(), dx.view()).ok());
      got[t] = Get(dx.view());
    }
    ExpectRoundedOnce(got[0], got[1], "avg pool dx");
  }
}

TEST_P(ConvHalfTest, BatchNormIsTheFp32ComputationRoundedOnce) {
  const DType dt = GetParam();
  const int64_t rows = 70, cols = 6;  // three chunks of rows
  const size_t size = Size(rows * cols);
  std::vector<double> x = ktest::RandomValues(dt, size, 30, 2.0),
                      gamma = ktest::RandomValues(dt, Size(cols), 31),
                      beta = ktest::RandomValues(dt, Size(cols), 32), dy = ktest::RandomValues(dt, size, 33);
  std::vector<std::vector<double>> results[2];
  const DType types[2] = {dt, kF32};
  for (int t = 0; t < 2; ++t) {
    const DType type = types[t];
    auto& r = results[t];
    Buffer xb = Make(type, x), gb = Make(type, gamma), bb = Make(type, beta), dyb = Make(type, dy),
           y = Zeros(type, size), mean = Zeros(kF32, Size(cols)), rstd = Zeros(kF32, Size(cols)),
           running_mean = Make(kF32, std::vector<double>(Size(cols), 0.0)),
           running_var = Make(kF32, std::vector<double>(Size(cols), 1.0)), dx = Zeros(type, size),
           dgamma = Zeros(kF32, Size(cols)), dbeta = Zeros(kF32, Size(cols)), inference = Zeros(type, size);
    ASSERT_TRUE(backend_
                    ->BatchNormForward(rows, cols, 1e-5, 0.1, xb.view(), gb.view(), bb.view(), y.view(),
                                       mean.view(), rstd.view(), running_mean.view(), running_var.view())
                    .ok());
    ASSERT_TRUE(backend_
                    ->BatchNormBackward(rows, cols, xb.view(), gb.view(), mean.view(), rstd.view(),
                                        dyb.view(), dx.view(), dgamma.view(), dbeta.view())
                    .ok());
    ASSERT_TRUE(backend_
                    ->BatchNormInference(rows, cols, 1e-5, xb.view(), gb.view(), bb.view(),
                                         running_mean.view(), running_var.view(), inference.view())
                    .ok());
    for (const Buffer* b :
         {&y, &dx, &inference, &mean, &rstd, &running_mean, &running_var, &dgamma, &dbeta}) {
      r.push_back(Get(b->view()));
    }
  }
  ExpectRoundedOnce(results[0][0], results[1][0], "batch norm y");
  ExpectRoundedOnce(results[0][1], results[1][1], "batch norm dx");
  ExpectRoundedOnce(results[0][2], results[1][2], "batch norm inference y");
  // The fp32 statistics and parameter gradients are the fp32 run's bit for bit.
  for (size_t i = 3; i < results[0].size(); ++i)
    EXPECT_EQ(results[0][i], results[1][i]) << "fp32 output " << i;
}

INSTANTIATE_TEST_SUITE_P(Halves, ConvHalfTest, ::testing::Values(kF16, kBF16), ktest::DTypeParamName);

// --- Threads: the CPU backend splits by whole pixels or images, so its thread count changes no bit ---

TEST(ConvThreadsTest, ThreadCountChangesNoResult) {
  const Conv2dShape s = Shape(8, 32, 32, 16, 5, 1, 2);  // large enough to split over 4 threads
  const size_t in = Size(s.input_size()), cols_size = Size(s.out_pixels() * s.patch_size()),
               pooled = Size(s.out_pixels() * s.channels);
  ktest::ExpectSameBytesOnOneAndFourThreads([&](Backend& b) {
    std::vector<std::vector<uint8_t>> results;
    for (DType dt : {kF32, kBF16}) {
      Buffer x = ktest::Make(b, dt, ktest::RandomValues(dt, in, 50)), cols = ktest::Zeros(b, dt, cols_size),
             back = ktest::Zeros(b, dt, in), y = ktest::Zeros(b, dt, pooled),
             argmax = ktest::Zeros(b, kI32, pooled), dx = ktest::Zeros(b, dt, in),
             avg = ktest::Zeros(b, dt, Size(s.batch * s.channels)), avg_dx = ktest::Zeros(b, dt, in);
      const Conv2dShape pool = Shape(8, 32, 32, 16, 3, 2, 1);
      EXPECT_TRUE(b.Im2Col(s, x.view(), cols.view()).ok());
      EXPECT_TRUE(b.Col2Im(s, cols.view(), back.view()).ok());
      EXPECT_TRUE(b.MaxPool2dForward(pool, x.view(), y.view(), argmax.view()).ok());
      EXPECT_TRUE(b.MaxPool2dBackward(pool, y.view(), argmax.view(), dx.view()).ok());
      EXPECT_TRUE(b.GlobalAvgPoolForward(s.batch, 32 * 32, s.channels, x.view(), avg.view()).ok());
      EXPECT_TRUE(b.GlobalAvgPoolBackward(s.batch, 32 * 32, s.channels, avg.view(), avg_dx.view()).ok());
      for (const Buffer* buffer : {&cols, &back, &y, &argmax, &dx, &avg, &avg_dx}) {
        results.push_back(ktest::GetBytes(b, buffer->view()));
      }
    }
    return results;
  });
}

// Batch and layer norm split their rows and the chunks of their column sums over the pool, and the
// activations their rows (the bias gradient alone sums on one thread): the thread count changes no bit.
TEST(ConvThreadsTest, NormsAndActivationsChangeNoBitWithTheThreadCount) {
  constexpr int64_t kRows = 8 * 32 * 32, kCols = 16;  // large enough to split over 4 threads
  const size_t n = Size(kRows * kCols), c = Size(kCols);
  ktest::ExpectSameBytesOnOneAndFourThreads([&](Backend& b) {
    std::vector<std::vector<uint8_t>> results;
    for (DType dt : {kF32, kBF16}) {
      Buffer x = ktest::Make(b, dt, ktest::RandomValues(dt, n, 51)),
             dy = ktest::Make(b, dt, ktest::RandomValues(dt, n, 52)),
             gamma = ktest::Make(b, dt, ktest::RandomValues(dt, c, 53)),
             beta = ktest::Make(b, dt, ktest::RandomValues(dt, c, 54)), y = ktest::Zeros(b, dt, n),
             mean = ktest::Zeros(b, kF32, c), rstd = ktest::Zeros(b, kF32, c),
             running_mean = ktest::Zeros(b, kF32, c),
             running_var = ktest::Make(b, kF32, std::vector<double>(c, 1.0)), dx = ktest::Zeros(b, dt, n),
             dgamma = ktest::Zeros(b, kF32, c), dbeta = ktest::Zeros(b, kF32, c),
             inference = ktest::Zeros(b, dt, n), z = ktest::Make(b, dt, ktest::RandomValues(dt, n, 55)),
             act = ktest::Zeros(b, dt, n), dz = ktest::Zeros(b, dt, n), dz_bias = ktest::Zeros(b, dt, n),
             bias = ktest::Make(b, dt, ktest::RandomValues(dt, c, 56)), dbias = ktest::Zeros(b, kF32, c);
      EXPECT_TRUE(b.BatchNormForward(kRows, kCols, 1e-5, 0.1, x.view(), gamma.view(), beta.view(), y.view(),
                                     mean.view(), rstd.view(), running_mean.view(), running_var.view())
                      .ok());
      EXPECT_TRUE(b.BatchNormBackward(kRows, kCols, x.view(), gamma.view(), mean.view(), rstd.view(),
                                      dy.view(), dx.view(), dgamma.view(), dbeta.view())
                      .ok());
      EXPECT_TRUE(b.BatchNormInference(kRows, kCols, 1e-5, x.view(), gamma.view(), beta.view(),
                                       running_mean.view(), running_var.view(), inference.view())
                      .ok());
      EXPECT_TRUE(
          b.BiasActivationForward(Activation::kGelu, kRows, kCols, bias.view(), z.view(), act.view()).ok());
      EXPECT_TRUE(
          b.BiasActivationBackward(Activation::kGelu, kRows, kCols, z.view(), dy.view(), dz.view(), View())
              .ok());
      EXPECT_TRUE(b.BiasActivationBackward(Activation::kSilu, kRows, kCols, z.view(), dy.view(),
                                           dz_bias.view(), dbias.view())
                      .ok());
      for (const Buffer* buffer : {&y, &mean, &rstd, &running_mean, &running_var, &dx, &dgamma, &dbeta,
                                   &inference, &z, &act, &dz, &dz_bias, &dbias}) {
        results.push_back(ktest::GetBytes(b, buffer->view()));
      }
    }
    return results;
  });
}

// --- Bad arguments: INVALID_ARGUMENT naming the operation and the argument, nothing touched ---

TEST_F(ConvTest, Im2ColAndCol2ImRejectBadShapesTypesAndSizes) {
  const Conv2dShape s = Shape(2, 5, 4, 3, 3, 1, 1);
  const size_t in = Size(s.input_size()), cols_size = Size(s.out_pixels() * s.patch_size());
  Buffer x = Make(kF32, std::vector<double>(in, 1.0)), cols = Make(kF32, std::vector<double>(cols_size, 2.0));
  Buffer x16 = Make(kF16, std::vector<double>(in, 1.0)),
         small = Make(kF32, std::vector<double>(cols_size - 1, 2.0));
  Buffer labels = Zeros(kI32, in);
  Conv2dShape bad = s;
  bad.batch = 0;
  EXPECT_INVALID(backend_->Im2Col(bad, x.view(), cols.view()), "Im2Col: shape.batch = 0");
  bad = s;
  bad.channels = -3;
  EXPECT_INVALID(backend_->Im2Col(bad, x.view(), cols.view()), "Im2Col: shape.channels = -3");
  bad = s;
  bad.stride_w = 0;
  EXPECT_INVALID(backend_->Col2Im(bad, cols.view(), x.view()), "Col2Im: shape.stride_w = 0");
  bad = s;
  bad.pad_h = -1;
  EXPECT_INVALID(backend_->Im2Col(bad, x.view(), cols.view()), "Im2Col: shape.pad_h = -1");
  bad = s;
  bad.kernel_h = 8;  // 5 + 2 < 8: no window fits
  EXPECT_INVALID(backend_->Im2Col(bad, x.view(), cols.view()), "Im2Col: shape gives an output of 0 x 4");
  bad = Shape(1, 1, 1, 1, 2, 2, 0);  // (1 - 2) / 2 + 1 would be 1 with truncating division
  EXPECT_EQ(bad.out_height(), 0);
  EXPECT_INVALID(backend_->Im2Col(bad, x.view(), cols.view()), "Im2Col: shape gives an output of 0 x 0");
  bad = s;
  bad.batch = int64_t{1} << 31;
  EXPECT_INVALID(backend_->Im2Col(bad, x.view(), cols.view()), "Im2Col: shape.batch = 2147483648");
  bad = Shape(1 << 16, 1 << 8, 1 << 8, 1, 1, 1, 0);
  EXPECT_INVALID(backend_->Im2Col(bad, x.view(), cols.view()), "Im2Col: shape's input pixels");
  EXPECT_INVALID(backend_->Im2Col(s, x.view(), small.view()), "Im2Col: cols holds");
  EXPECT_INVALID(backend_->Im2Col(s, x16.view(), cols.view()),
                 "Im2Col: cols has element type f32, expected f16");
  EXPECT_INVALID(backend_->Im2Col(s, labels.view(), cols.view()), "Im2Col: x has element type i32");
  EXPECT_INVALID(backend_->Col2Im(s, small.view(), x.view()), "Col2Im: cols holds");
  EXPECT_INVALID(backend_->Col2Im(s, cols.view(), x16.view()),
                 "Col2Im: x has element type f16, expected f32");
  EXPECT_INVALID(backend_->Im2Col(s, cols.Sub(0, in), cols.view()), "Im2Col: x and cols overlap");
  // Nothing was touched.
  EXPECT_EQ(Get(cols.view()), std::vector<double>(cols_size, 2.0));
  EXPECT_EQ(Get(x.view()), std::vector<double>(in, 1.0));
}

TEST_F(ConvTest, PoolingRejectsBadArguments) {
  const Conv2dShape s = Shape(2, 4, 4, 3, 2, 2, 0);
  const size_t in = Size(s.input_size()), out = Size(s.out_pixels() * s.channels);
  Buffer x = Make(kF32, std::vector<double>(in, 1.0)), y = Make(kF32, std::vector<double>(out, 2.0)),
         argmax = Make(kI32, std::vector<double>(out, 3.0)), dx = Make(kF32, std::vector<double>(in, 4.0));
  Buffer y16 = Zeros(kF16, out), argmax_f = Zeros(kF32, out);
  Conv2dShape bad = s;
  bad.pad_h = 2;  // pad >= kernel: a window could lie wholly in the padding
  EXPECT_INVALID(backend_->MaxPool2dForward(bad, x.view(), y.view(), argmax.view()),
                 "MaxPool2dForward: shape.pad_h = 2");
  EXPECT_INVALID(backend_->MaxPool2dForward(s, x.view(), y16.view(), argmax.view()),
                 "MaxPool2dForward: y has element type f16, expected f32");
  EXPECT_INVALID(backend_->MaxPool2dForward(s, x.view(), y.view(), argmax_f.view()),
                 "MaxPool2dForward: argmax has element type f32, expected i32");
  EXPECT_INVALID(backend_->MaxPool2dForward(s, x.Sub(0, in - 1), y.view(), argmax.view()),
                 "MaxPool2dForward: x holds");
  EXPECT_INVALID(backend_->MaxPool2dBackward(s, y.view(), argmax.view(), dx.Sub(0, 5)),
                 "MaxPool2dBackward: dx holds");
  EXPECT_INVALID(backend_->MaxPool2dBackward(s, y.view(), argmax.view(), y.view()),
                 "MaxPool2dBackward: dx holds");
  EXPECT_INVALID(backend_->GlobalAvgPoolForward(2, 0, 3, x.view(), y.view()),
                 "GlobalAvgPoolForward: needs batch");
  EXPECT_INVALID(backend_->GlobalAvgPoolForward(-1, 16, 3, x.view(), y.view()),
                 "GlobalAvgPoolForward: batch = -1");
  EXPECT_INVALID(backend_->GlobalAvgPoolForward(2, 16, 3, x.view(), y16.view()),
                 "GlobalAvgPoolForward: y has element type f16");
  EXPECT_INVALID(backend_->GlobalAvgPoolBackward(2, 16, 3, y.view(), dx.Sub(0, 10)),
                 "GlobalAvgPoolBackward: dx holds 10 elements, needs 96");
  EXPECT_INVALID(backend_->GlobalAvgPoolForward(2, 16, 3, x.view(), x.Sub(0, 6)),
                 "GlobalAvgPoolForward: x and y overlap");
  EXPECT_EQ(Get(y.view()), std::vector<double>(out, 2.0));
  EXPECT_EQ(Get(argmax.view()), std::vector<double>(out, 3.0));
  EXPECT_EQ(Get(dx.view()), std::vector<double>(in, 4.0));
}

TEST_F(ConvTest, BatchNormRejectsBadArguments) {
  const int64_t rows = 4, cols = 3;
  const size_t size = Size(rows * cols);
  Buffer x = Make(kF16, std::vector<double>(size, 1.0)), g = Make(kF16, {1, 1, 1}), b = Make(kF16, {0, 0, 0}),
         y = Make(kF16, std::vector<double>(size, 5.0)), mean = Make(kF32, {6, 6, 6}),
         rstd = Make(kF32, {7, 7, 7}), rm = Make(kF32, {8, 8, 8}), rv = Make(kF32, {9, 9, 9}),
         rv16 = Zeros(kF16, 3), short_rm = Zeros(kF32, 2);
  auto forward = [&](int64_t r, double eps, double momentum, View running_mean, View running_var) {
    return backend_->BatchNormForward(r, cols, eps, momentum, x.view(), g.view(), b.view(), y.view(),
                                      mean.view(), rstd.view(), running_mean, running_var);
  };
  EXPECT_INVALID(forward(rows, 0.0, 0.1, rm.view(), rv.view()), "BatchNormForward: eps = 0");
  EXPECT_INVALID(forward(rows, 1e-5, 1.5, rm.view(), rv.view()), "BatchNormForward: momentum = 1.5");
  EXPECT_INVALID(forward(rows, 1e-5, std::nan(""), rm.view(), rv.view()), "BatchNormForward: momentum = nan");
  EXPECT_INVALID(forward(0, 1e-5, 0.1, rm.view(), rv.view()), "BatchNormForward: needs rows >= 1");
  EXPECT_INVALID(forward(-2, 1e-5, 0.1, rm.view(), rv.view()), "BatchNormForward: rows = -2");
  EXPECT_INVALID(forward(1, 1e-5, 0.1, rm.view(), rv.view()), "BatchNormForward: rows = 1 has no unbiased");
  EXPECT_INVALID(forward(rows, 1e-5, 0.1, rm.view(), rv16.view()),
                 "BatchNormForward: running_var has element type f16, expected f32");
  EXPECT_INVALID(forward(rows, 1e-5, 0.1, short_rm.view(), rv.view()),
                 "BatchNormForward: running_mean holds 2 elements, needs 3");
  EXPECT_INVALID(forward(rows, 1e-5, 0.1, rm.view(), rm.view()),
                 "BatchNormForward: running_mean and running_var overlap");
  EXPECT_INVALID(backend_->BatchNormForward(rows, cols, 1e-5, 0.1, x.view(), g.view(), b.view(), x.view(),
                                            mean.view(), rstd.view(), View{}, View{}),
                 "BatchNormForward: x and y overlap");
  EXPECT_INVALID(backend_->BatchNormInference(rows, cols, 1e-5, x.view(), g.view(), b.view(), rm.view(),
                                              rv16.view(), y.view()),
                 "BatchNormInference: running_var has element type f16, expected f32");
  EXPECT_INVALID(backend_->BatchNormInference(rows, cols, -1.0, x.view(), g.view(), b.view(), rm.view(),
                                              rv.view(), y.view()),
                 "BatchNormInference: eps = -1");
  EXPECT_INVALID(backend_->BatchNormBackward(rows, cols, x.view(), g.view(), mean.view(), rstd.view(),
                                             y.view(), y.view(), rv16.view(), rm.view()),
                 "BatchNormBackward: dgamma has element type f16, expected f32");
  EXPECT_INVALID(backend_->BatchNormBackward(rows, cols, x.view(), g.Sub(0, 2), mean.view(), rstd.view(),
                                             y.view(), y.view(), rm.view(), rv.view()),
                 "BatchNormBackward: gamma holds 2 elements, needs 3");
  EXPECT_INVALID(backend_->BatchNormBackward(rows, cols, x.view(), g.view(), mean.view(), rstd.view(),
                                             y.view(), y.view(), rm.view(), rm.view()),
                 "BatchNormBackward: dgamma and dbeta overlap");
  EXPECT_EQ(Get(y.view()), std::vector<double>(size, 5.0));
  EXPECT_EQ(Get(mean.view()), (std::vector<double>{6, 6, 6}));
  EXPECT_EQ(Get(rstd.view()), (std::vector<double>{7, 7, 7}));
  EXPECT_EQ(Get(rm.view()), (std::vector<double>{8, 8, 8}));
  EXPECT_EQ(Get(rv.view()), (std::vector<double>{9, 9, 9}));
}

}  // namespace
}  // namespace hpo::kernels
