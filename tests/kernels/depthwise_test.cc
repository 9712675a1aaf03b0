// Tests the depthwise convolution of kernels/backend.h on the CPU backend (kernels/cpu_depthwise.cc and its
// checks in kernels/backend_checks.cc): the forward pass against a direct fp64 convolution (3x3 and 5x5,
// strides 1 and 2, padding, a non-square kernel), the backward pass against central differences in fp64,
// the half types against the fp32 computation rounded once, the same bits on 1 and 4 threads, and
// INVALID_ARGUMENT for bad arguments. The CUDA backend's agreement with these is in cuda_backend_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/backend.h"
#include "tests/kernels/kernels_test_util.h"

namespace hpo::kernels {
namespace {

constexpr DType kF32 = DType::kF32, kF64 = DType::kF64, kF16 = DType::kF16, kBF16 = DType::kBF16,
                kI32 = DType::kI32;

size_t Size(int64_t n) { return static_cast<size_t>(n); }

using ktest::CheckAgainstFiniteDifferences;

using ktest::Describe;
constexpr auto Shape = ktest::MakeShape;

// The direct depthwise convolution in fp64 (0 in the padding).
std::vector<double> DirectDepthwise(const Conv2dShape& s, const std::vector<double>& x,
                                    const std::vector<double>& w) {
  const int64_t oh_n = s.out_height(), ow_n = s.out_width(), ch = s.channels;
  std::vector<double> y(Size(s.out_pixels() * ch), 0.0);
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        for (int64_t c = 0; c < ch; ++c) {
          double sum = 0;
          for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
            for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
              const int64_t h = oh * s.stride_h - s.pad_h + kh, iw = ow * s.stride_w - s.pad_w + kw;
              if (h < 0 || h >= s.height || iw < 0 || iw >= s.width) continue;
              sum += x[Size(((n * s.height + h) * s.width + iw) * ch + c)] *
                     w[Size((kh * s.kernel_w + kw) * ch + c)];
            }
          }
          y[Size(((n * oh_n + oh) * ow_n + ow) * ch + c)] = sum;
        }
      }
    }
  }
  return y;
}

class DepthwiseTest : public ktest::CpuTest {
 protected:
  std::vector<double> Forward(const Conv2dShape& s, DType dt, const std::vector<double>& x,
                              const std::vector<double>& w) {
    Buffer xb = Make(dt, x), wb = Make(dt, w),
           y = Make(dt, std::vector<double>(Size(s.out_pixels() * s.channels), 9));
    const Status status = backend_->DepthwiseConv2dForward(s, xb.view(), wb.view(), y.view());
    EXPECT_TRUE(status.ok()) << status.ToString();
    return Get(y.view());
  }
};

const Conv2dShape kShapes[] = {Shape(2, 7, 6, 3, 3, 3, 1, 1), Shape(2, 7, 6, 3, 3, 3, 2, 1),
                               Shape(1, 9, 8, 4, 5, 5, 2, 2), Shape(2, 6, 7, 2, 5, 5, 1, 2),
                               Shape(1, 5, 6, 3, 3, 5, 1, 0), Shape(1, 8, 8, 5, 3, 3, 2, 0)};

TEST_F(DepthwiseTest, ForwardIsTheDirectConvolution) {
  for (const Conv2dShape& s : kShapes) {
    const std::vector<double> x = ktest::RandomValues(kF64, Size(s.input_size()), 1),
                              w = ktest::RandomValues(kF64, Size(s.patch_size()), 2);
    const std::vector<double> got = Forward(s, kF64, x, w), want = DirectDepthwise(s, x, w);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_NEAR(got[i], want[i], 1e-13 * (1 + std::fabs(want[i]))) << Describe(s) << " [" << i << "]";
    }
  }
}

// L = sum weights * depthwise(x, w): dx and dw from the backward pass with dy = weights.
TEST_F(DepthwiseTest, BackwardMatchesFiniteDifferences) {
  for (const Conv2dShape& s : {kShapes[1], kShapes[2], kShapes[4]}) {
    const size_t y_size = Size(s.out_pixels() * s.channels);
    const std::vector<double> x0 = ktest::RandomValues(kF64, Size(s.input_size()), 3),
                              w0 = ktest::RandomValues(kF64, Size(s.patch_size()), 4),
                              weights = ktest::RandomValues(kF64, y_size, 5);
    Buffer xb = Make(kF64, x0), wb = Make(kF64, w0), dy = Make(kF64, weights),
           dx = Make(kF64, std::vector<double>(x0.size(), 7.0)),
           dw = Make(kF64, std::vector<double>(w0.size(), 8.0));
    ASSERT_TRUE(
        backend_->DepthwiseConv2dBackward(s, xb.view(), wb.view(), dy.view(), dx.view(), dw.view()).ok());
    CheckAgainstFiniteDifferences(
        "dx " + Describe(s), x0,
        [&](const std::vector<double>& x) { return ktest::Dot(weights, Forward(s, kF64, x, w0)); },
        Get(dx.view()));
    CheckAgainstFiniteDifferences(
        "dw " + Describe(s), w0,
        [&](const std::vector<double>& w) { return ktest::Dot(weights, Forward(s, kF64, x0, w)); },
        Get(dw.view()));
    // Without dx (a first layer): the same dw.
    Buffer dw_only = Zeros(kF64, w0.size());
    ASSERT_TRUE(
        backend_->DepthwiseConv2dBackward(s, xb.view(), wb.view(), dy.view(), View{}, dw_only.view()).ok());
    EXPECT_EQ(Get(dw_only.view()), Get(dw.view())) << Describe(s);
  }
}

// --- Half types: the fp32 computation on the same (exactly widened) values, rounded once ---

class DepthwiseHalfTest : public DepthwiseTest, public ::testing::WithParamInterface<DType> {};

TEST_P(DepthwiseHalfTest, IsTheFp32ComputationRoundedOnce) {
  const DType dt = GetParam();
  const Conv2dShape s = Shape(2, 12, 11, 5, 3, 3, 2, 1);  // over 32 output pixels: several dw chunks
  const std::vector<double> x = ktest::RandomValues(dt, Size(s.input_size()), 10),
                            w = ktest::RandomValues(dt, Size(s.patch_size()), 11),
                            dy = ktest::RandomValues(dt, Size(s.out_pixels() * s.channels), 12);
  std::vector<std::vector<double>> results[2];  // [0] half, [1] f32
  const DType types[2] = {dt, kF32};
  for (int t = 0; t < 2; ++t) {
    const DType type = types[t];
    Buffer xb = Make(type, x), wb = Make(type, w), dyb = Make(type, dy), y = Zeros(type, dy.size()),
           dx = Zeros(type, x.size()), dw = Zeros(kF32, w.size());
    ASSERT_TRUE(backend_->DepthwiseConv2dForward(s, xb.view(), wb.view(), y.view()).ok());
    ASSERT_TRUE(
        backend_->DepthwiseConv2dBackward(s, xb.view(), wb.view(), dyb.view(), dx.view(), dw.view()).ok());
    for (const Buffer* b : {&y, &dx, &dw}) results[t].push_back(Get(b->view()));
  }
  const char* names[] = {"y", "dx", "dw"};
  for (size_t i = 0; i < 3; ++i) {
    for (size_t j = 0; j < results[0][i].size(); ++j) {
      const double want = i < 2 ? ktest::RoundTo(dt, results[1][i][j]) : results[1][i][j];
      ASSERT_EQ(results[0][i][j], want) << names[i] << " [" << j << "]";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Halves, DepthwiseHalfTest, ::testing::Values(kF16, kBF16), ktest::DTypeParamName);

// --- Threads: whole pixels and fixed chunks, so the thread count changes no bit ---

TEST(DepthwiseThreadsTest, ThreadCountChangesNoResult) {
  const Conv2dShape s = Shape(8, 32, 32, 16, 3, 3, 1, 1);  // large enough to split over 4 threads
  const size_t y_size = Size(s.out_pixels() * s.channels);
  ktest::ExpectSameBytesOnOneAndFourThreads([&](Backend& b) {
    std::vector<std::vector<uint8_t>> results;
    for (DType dt : {kF32, kBF16}) {
      Buffer x = ktest::Make(b, dt, ktest::RandomValues(dt, Size(s.input_size()), 20)),
             w = ktest::Make(b, dt, ktest::RandomValues(dt, Size(s.patch_size()), 21)),
             dy = ktest::Make(b, dt, ktest::RandomValues(dt, y_size, 22)), y = ktest::Zeros(b, dt, y_size),
             dx = ktest::Zeros(b, dt, Size(s.input_size())), dw = ktest::Zeros(b, kF32, Size(s.patch_size()));
      EXPECT_TRUE(b.DepthwiseConv2dForward(s, x.view(), w.view(), y.view()).ok());
      EXPECT_TRUE(b.DepthwiseConv2dBackward(s, x.view(), w.view(), dy.view(), dx.view(), dw.view()).ok());
      for (const Buffer* buffer : {&y, &dx, &dw}) results.push_back(ktest::GetBytes(b, buffer->view()));
    }
    return results;
  });
}

// --- Bad arguments: INVALID_ARGUMENT naming the operation and the argument, nothing touched ---

TEST_F(DepthwiseTest, RejectsBadShapesTypesSizesAndOverlaps) {
  const Conv2dShape s = Shape(2, 5, 4, 3, 3, 3, 1, 1);
  const size_t in = Size(s.input_size()), taps = Size(s.patch_size()),
               out = Size(s.out_pixels() * s.channels);
  Buffer x = Make(kF32, std::vector<double>(in, 1.0)), w = Make(kF32, std::vector<double>(taps, 1.0)),
         y = Make(kF32, std::vector<double>(out, 2.0)), dx = Make(kF32, std::vector<double>(in, 3.0)),
         dw = Make(kF32, std::vector<double>(taps, 4.0)), w16 = Zeros(kF16, taps), dw16 = Zeros(kF16, taps),
         labels = Zeros(kI32, in);
  Conv2dShape bad = s;
  bad.channels = 0;
  EXPECT_INVALID(backend_->DepthwiseConv2dForward(bad, x.view(), w.view(), y.view()),
                 "DepthwiseConv2dForward: shape.channels = 0");
  bad = s;
  bad.kernel_h = 8;
  EXPECT_INVALID(backend_->DepthwiseConv2dForward(bad, x.view(), w.view(), y.view()),
                 "DepthwiseConv2dForward: shape gives an output of 0 x 4");
  bad = s;
  bad.stride_h = -1;
  EXPECT_INVALID(backend_->DepthwiseConv2dBackward(bad, x.view(), w.view(), y.view(), dx.view(), dw.view()),
                 "DepthwiseConv2dBackward: shape.stride_h = -1");
  EXPECT_INVALID(backend_->DepthwiseConv2dForward(s, labels.view(), w.view(), y.view()),
                 "DepthwiseConv2dForward: x has element type i32");
  EXPECT_INVALID(backend_->DepthwiseConv2dForward(s, x.view(), w16.view(), y.view()),
                 "DepthwiseConv2dForward: w has element type f16, expected f32");
  EXPECT_INVALID(backend_->DepthwiseConv2dForward(s, x.view(), w.Sub(0, taps - 1), y.view()),
                 "DepthwiseConv2dForward: w holds 26 elements, needs 27");
  EXPECT_INVALID(backend_->DepthwiseConv2dForward(s, x.Sub(0, in - 1), w.view(), y.view()),
                 "DepthwiseConv2dForward: x holds 119 elements, needs 120");
  EXPECT_INVALID(backend_->DepthwiseConv2dForward(s, x.view(), w.view(), y.Sub(0, out - 1)),
                 "DepthwiseConv2dForward: y holds");
  EXPECT_INVALID(backend_->DepthwiseConv2dForward(s, x.view(), w.view(), x.view()),
                 "DepthwiseConv2dForward: x and y overlap");
  EXPECT_INVALID(backend_->DepthwiseConv2dBackward(s, x.view(), w.view(), y.view(), dx.Sub(0, 5), dw.view()),
                 "DepthwiseConv2dBackward: dx holds 5 elements, needs 120");
  EXPECT_INVALID(backend_->DepthwiseConv2dBackward(s, x.view(), w.view(), y.view(), dx.view(), dw16.view()),
                 "DepthwiseConv2dBackward: dw has element type f16, expected f32");
  EXPECT_INVALID(backend_->DepthwiseConv2dBackward(s, x.view(), w.view(), y.view(), w16.view(), dw.view()),
                 "DepthwiseConv2dBackward: dx has element type f16, expected f32");
  EXPECT_INVALID(backend_->DepthwiseConv2dBackward(s, x.view(), w.view(), dx.view(), dx.view(), dw.view()),
                 "DepthwiseConv2dBackward: dy and dx overlap");
  EXPECT_INVALID(
      backend_->DepthwiseConv2dBackward(s, x.view(), w.view(), y.view(), dx.view(), dx.Sub(0, taps)),
      "DepthwiseConv2dBackward: dx and dw overlap");
  EXPECT_EQ(Get(y.view()), std::vector<double>(out, 2.0));
  EXPECT_EQ(Get(dx.view()), std::vector<double>(in, 3.0));
  EXPECT_EQ(Get(dw.view()), std::vector<double>(taps, 4.0));
}

}  // namespace
}  // namespace hpo::kernels
