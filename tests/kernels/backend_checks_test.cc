// Tests kernels/backend_checks.cc: every public operation answers INVALID_ARGUMENT naming the operation and
// the bad argument (wrong element types, views too small, bad dimensions, p, eps, step, grad_scale,
// overlapping operands), and touches nothing when it does.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "tests/kernels/kernels_test_util.h"

namespace hpo::kernels {
namespace {

constexpr DType kF32 = DType::kF32, kF64 = DType::kF64, kF16 = DType::kF16, kBF16 = DType::kBF16,
                kI32 = DType::kI32;

class BackendChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = MakeBackend(BackendKind::kCpu, BackendOptions{});
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    backend_ = std::move(*made);
  }

  // A buffer of n elements 1, 2, 3, ... (so that "touched" is visible).
  Buffer Make(DType dtype, size_t n) {
    std::vector<double> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<double>(i % 7 + 1);
    return ktest::Make(*backend_, dtype, v);
  }

  std::unique_ptr<Backend> backend_;
};

TEST_F(BackendChecksTest, Fill) {
  Buffer i = Make(kI32, 4);
  EXPECT_INVALID(backend_->Fill(i.view(), 3e9), "Fill: value");
  EXPECT_INVALID(backend_->Fill(i.view(), std::nan("")), "Fill: value");
  EXPECT_INVALID(backend_->Fill(View{nullptr, 3, kF32}, 1.0), "Fill: dst");
  EXPECT_EQ(ktest::Get(*backend_, i.view()), (std::vector<double>{1, 2, 3, 4}));
  // NaN and infinity are fine for floating types.
  Buffer f = Make(kF16, 2);
  EXPECT_TRUE(backend_->Fill(f.view(), std::nan("")).ok());
  EXPECT_TRUE(backend_->Fill(f.view(), -INFINITY).ok());
}

TEST_F(BackendChecksTest, Cast) {
  Buffer i = Make(kI32, 4), f = Make(kF32, 4), h = Make(kF16, 3);
  EXPECT_INVALID(backend_->Cast(i.view(), f.view()),
                 "Cast: src has element type i32, expected a floating type");
  EXPECT_INVALID(backend_->Cast(f.view(), i.view()), "Cast: dst has element type i32");
  EXPECT_INVALID(backend_->Cast(f.view(), h.view()), "Cast: dst holds 3 elements, needs 4");
  EXPECT_EQ(ktest::Get(*backend_, h.view()), (std::vector<double>{1, 2, 3}));
  EXPECT_TRUE(backend_->Cast(f.Sub(0, 3), h.view()).ok());
  // src and dst may not overlap, except as the very same view (which changes nothing).
  EXPECT_INVALID(backend_->Cast(f.view(), View{f.view().data, 4, kF16}), "Cast: src and dst overlap");
  EXPECT_INVALID(backend_->Cast(f.Sub(1, 3), f.Sub(0, 3)), "Cast: src and dst overlap");
  EXPECT_TRUE(backend_->Cast(f.view(), f.view()).ok());
  EXPECT_EQ(ktest::Get(*backend_, f.view()), (std::vector<double>{1, 2, 3, 4}));
}

TEST_F(BackendChecksTest, Gemm) {
  const Transpose N = Transpose::kNo;
  Buffer a = Make(kF32, 6), b = Make(kF32, 6), c = Make(kF32, 4), ah = Make(kF16, 6), bh = Make(kF16, 6),
         ch = Make(kF16, 4), cb = Make(kBF16, 4), d = Make(kF64, 6), i = Make(kI32, 6);
  EXPECT_INVALID(backend_->Gemm(N, N, 2, 2, 4, 1, a.view(), b.view(), 0, c.view()),
                 "Gemm: a holds 6 elements, needs 8");
  EXPECT_INVALID(backend_->Gemm(N, N, 1, 4, 2, 1, a.view(), b.view(), 0, c.view()),
                 "Gemm: b holds 6 elements, needs 8");
  EXPECT_INVALID(backend_->Gemm(N, N, 2, 2, 3, 1, a.view(), b.view(), 0, c.Sub(0, 3)),
                 "Gemm: c holds 3 elements, needs 4");
  EXPECT_INVALID(backend_->Gemm(N, N, 2, 2, 3, 1, ah.view(), b.view(), 0, c.view()),
                 "Gemm: b has element type f32, expected f16");
  EXPECT_INVALID(backend_->Gemm(N, N, 2, 2, 3, 1, d.view(), b.view(), 0, c.view()),
                 "Gemm: b has element type f32, expected f64");
  EXPECT_INVALID(backend_->Gemm(N, N, 2, 2, 3, 1, a.view(), b.view(), 0, ch.view()),
                 "Gemm: c has element type f16, expected f32");
  EXPECT_INVALID(backend_->Gemm(N, N, 2, 2, 3, 1, ah.view(), bh.view(), 0, cb.view()),
                 "Gemm: c has element type bf16, expected f16 or f32");
  EXPECT_INVALID(backend_->Gemm(N, N, 2, 3, 1, 1, i.view(), i.view(), 0, i.view()),
                 "Gemm: a has element type i32");
  EXPECT_INVALID(backend_->Gemm(N, N, -1, 2, 3, 1, a.view(), b.view(), 0, c.view()),
                 "Gemm: m = -1 is out of range");
  EXPECT_INVALID(backend_->Gemm(N, N, 2, int64_t{1} << 31, 0, 1, a.view(), b.view(), 0, c.view()),
                 "Gemm: n = ");
  // The output may not overlap an input.
  Buffer big = Make(kF32, 16);
  EXPECT_INVALID(backend_->Gemm(N, N, 2, 2, 2, 1, big.Sub(0, 4), big.Sub(4, 4), 0, big.Sub(2, 4)),
                 "Gemm: a and c overlap");
  // Views larger than the operands are fine when the parts used do not overlap.
  EXPECT_TRUE(backend_->Gemm(N, N, 2, 2, 2, 1, big.Sub(0, 8), big.Sub(4, 4), 0, big.Sub(8, 8)).ok());
  EXPECT_INVALID(backend_->Gemm(N, N, 2, 2, 2, 1, big.Sub(0, 8), big.Sub(4, 4), 0, big.Sub(6, 4)),
                 "Gemm: b and c overlap");
  // Half inputs may write fp32 or their own type; nothing was touched by the failures above.
  EXPECT_EQ(ktest::Get(*backend_, c.view()), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(ktest::Get(*backend_, ch.view()), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_TRUE(backend_->Gemm(N, N, 2, 2, 3, 1, ah.view(), bh.view(), 0, c.view()).ok());
  EXPECT_TRUE(backend_->Gemm(N, N, 2, 2, 3, 1, ah.view(), bh.view(), 0, ch.view()).ok());
  // An out-of-range Sub is empty, and rejected (release builds; debug builds assert before).
#ifdef NDEBUG
  EXPECT_INVALID(backend_->Gemm(N, N, 2, 2, 3, 1, a.Sub(4, 6), b.view(), 0, c.view()),
                 "Gemm: a holds 0 elements");
#endif
}

TEST_F(BackendChecksTest, BiasActivation) {
  Buffer z = Make(kF16, 4), y = Make(kF16, 4), y32 = Make(kF32, 4), bias = Make(kF16, 1),
         dbias16 = Make(kF16, 2), dbias = Make(kF32, 2), small = Make(kF16, 3);
  const Activation relu = Activation::kRelu;
  EXPECT_INVALID(backend_->BiasActivationForward(relu, 2, 2, bias.view(), z.view(), y.view()),
                 "BiasActivationForward: bias holds 1 elements, needs 2");
  EXPECT_INVALID(backend_->BiasActivationForward(relu, 2, 2, ConstView(), z.view(), y32.view()),
                 "BiasActivationForward: y has element type f32, expected f16");
  EXPECT_INVALID(backend_->BiasActivationForward(relu, 2, 2, ConstView(), small.view(), y.view()),
                 "BiasActivationForward: z holds 3 elements, needs 4");
  EXPECT_INVALID(
      backend_->BiasActivationForward(static_cast<Activation>(9), 2, 2, ConstView(), z.view(), y.view()),
      "BiasActivationForward: act = 9");
  EXPECT_INVALID(backend_->BiasActivationForward(relu, 2, -2, ConstView(), z.view(), y.view()),
                 "BiasActivationForward: cols = -2");
  EXPECT_INVALID(backend_->BiasActivationBackward(relu, 2, 2, z.view(), y.view(), y.view(), dbias16.view()),
                 "BiasActivationBackward: dbias has element type f16, expected f32");
  EXPECT_INVALID(backend_->BiasActivationBackward(relu, 2, 2, z.view(), y32.view(), y.view(), dbias.view()),
                 "BiasActivationBackward: dy has element type f32, expected f16");
  EXPECT_INVALID(backend_->BiasActivationBackward(relu, 2, 2, z.view(), y.view(), small.view(), dbias.view()),
                 "BiasActivationBackward: dz holds 3 elements, needs 4");
  EXPECT_EQ(ktest::Get(*backend_, y.view()), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_TRUE(backend_->BiasActivationBackward(relu, 2, 2, z.view(), y.view(), y.view(), dbias.view()).ok());
}

TEST_F(BackendChecksTest, SoftmaxCrossEntropy) {
  Buffer logits = Make(kBF16, 6), labels = ktest::Make(*backend_, kI32, {0, 1, 2}), loss = Make(kF32, 1),
         loss16 = Make(kBF16, 1), dl = Make(kBF16, 6), flabels = Make(kF32, 3),
         bad_labels = ktest::Make(*backend_, kI32, {0, 2, 1});
  auto run = [&](LossOptions o, int64_t rows, int64_t cols, ConstView lab, View l, View d) {
    return backend_->SoftmaxCrossEntropy(o, rows, cols, logits.view(), lab, l, d);
  };
  const LossOptions ok;
  EXPECT_INVALID(run(LossOptions{.label_smoothing = 1.0}, 3, 2, labels.view(), loss.view(), dl.view()),
                 "SoftmaxCrossEntropy: label_smoothing");
  EXPECT_INVALID(run(LossOptions{.label_smoothing = -0.1}, 3, 2, labels.view(), loss.view(), dl.view()),
                 "SoftmaxCrossEntropy: label_smoothing");
  EXPECT_INVALID(
      run(LossOptions{.label_smoothing = std::nan("")}, 3, 2, labels.view(), loss.view(), dl.view()),
      "SoftmaxCrossEntropy: label_smoothing");
  EXPECT_INVALID(run(LossOptions{.grad_scale = 0}, 3, 2, labels.view(), loss.view(), dl.view()),
                 "SoftmaxCrossEntropy: grad_scale");
  EXPECT_INVALID(run(LossOptions{.grad_scale = INFINITY}, 3, 2, labels.view(), loss.view(), dl.view()),
                 "SoftmaxCrossEntropy: grad_scale");
  EXPECT_INVALID(run(ok, 3, 2, labels.view(), loss16.view(), dl.view()),
                 "SoftmaxCrossEntropy: loss has element type bf16, expected f32");
  EXPECT_INVALID(run(ok, 3, 2, flabels.view(), loss.view(), dl.view()),
                 "SoftmaxCrossEntropy: labels has element type f32, expected i32");
  EXPECT_INVALID(run(ok, 3, 2, labels.Sub(0, 2), loss.view(), dl.view()),
                 "SoftmaxCrossEntropy: labels holds 2 elements, needs 3");
  EXPECT_INVALID(run(ok, 3, 2, labels.view(), loss.view(), dl.Sub(0, 5)),
                 "SoftmaxCrossEntropy: dlogits holds 5 elements, needs 6");
  EXPECT_INVALID(run(ok, 0, 2, labels.view(), loss.view(), dl.view()),
                 "SoftmaxCrossEntropy: needs rows >= 1");
  // A label out of range (the CPU checks it before writing anything).
  EXPECT_INVALID(run(ok, 3, 2, bad_labels.view(), loss.view(), dl.view()),
                 "SoftmaxCrossEntropy: label 2 of row 1 is outside [0, 2)");
  EXPECT_EQ(ktest::Get(*backend_, loss.view()), (std::vector<double>{1}));
  EXPECT_EQ(ktest::Get(*backend_, dl.view()), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(run(ok, 2, 3, labels.view(), loss.view(), dl.view()).ok());
}

TEST_F(BackendChecksTest, CountCorrect) {
  Buffer logits = Make(kF16, 6), labels = ktest::Make(*backend_, kI32, {0, 1}), flabels = Make(kF32, 2);
  EXPECT_INVALID(backend_->CountCorrect(2, 3, logits.view(), flabels.view()).status(),
                 "CountCorrect: labels has element type f32, expected i32");
  EXPECT_INVALID(backend_->CountCorrect(2, 0, logits.view(), labels.view()).status(),
                 "CountCorrect: needs cols >= 1");
  EXPECT_INVALID(backend_->CountCorrect(3, 3, logits.view(), labels.view()).status(),
                 "CountCorrect: logits holds 6 elements, needs 9");
}

TEST_F(BackendChecksTest, Dropout) {
  Buffer x = Make(kF32, 8), y = Make(kF32, 8), y16 = Make(kF16, 8), y_big = Make(kF32, 9);
  EXPECT_INVALID(backend_->Dropout(1.0, 1, 2, x.view(), y.view()), "Dropout: p = 1");
  EXPECT_INVALID(backend_->Dropout(-0.1, 1, 2, x.view(), y.view()), "Dropout: p = -0.1");
  EXPECT_INVALID(backend_->Dropout(std::nan(""), 1, 2, x.view(), y.view()), "Dropout: p = nan");
  EXPECT_INVALID(backend_->Dropout(0.5, 1, 2, x.view(), y16.view()),
                 "Dropout: y has element type f16, expected f32");
  EXPECT_INVALID(backend_->Dropout(0.5, 1, 2, x.view(), y_big.view()), "Dropout: y holds 9 elements, x 8");
  EXPECT_INVALID(backend_->Dropout(0.5, 1, 2, x.view(), y.Sub(0, 7)), "Dropout: y holds 7 elements, x 8");
  EXPECT_EQ(ktest::Get(*backend_, y.view()), (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 1}));
}

TEST_F(BackendChecksTest, LayerNorm) {
  const int rows = 2, cols = 3;
  Buffer x = Make(kF16, 6), g = Make(kF16, 3), b = Make(kF16, 3), y = Make(kF16, 6), mean = Make(kF32, 2),
         rstd = Make(kF32, 2), mean16 = Make(kF16, 2), dg = Make(kF32, 3), db = Make(kF32, 3),
         dx = Make(kF16, 6);
  auto forward = [&](double eps, ConstView xv, ConstView gv, View yv, View mv) {
    return backend_->LayerNormForward(rows, cols, eps, xv, gv, b.view(), yv, mv, rstd.view());
  };
  EXPECT_INVALID(forward(0.0, x.view(), g.view(), y.view(), mean.view()), "LayerNormForward: eps = 0");
  EXPECT_INVALID(forward(-1.0, x.view(), g.view(), y.view(), mean.view()), "LayerNormForward: eps = -1");
  EXPECT_INVALID(forward(std::nan(""), x.view(), g.view(), y.view(), mean.view()),
                 "LayerNormForward: eps = nan");
  EXPECT_INVALID(forward(1e-5, x.view(), g.view(), y.view(), mean16.view()),
                 "LayerNormForward: mean has element type f16, expected f32");
  EXPECT_INVALID(forward(1e-5, x.view(), g.Sub(0, 2), y.view(), mean.view()),
                 "LayerNormForward: gamma holds 2 elements, needs 3");
  EXPECT_INVALID(forward(1e-5, x.view(), g.view(), x.view(), mean.view()),
                 "LayerNormForward: x and y overlap");
  EXPECT_EQ(ktest::Get(*backend_, y.view()), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(forward(1e-5, x.view(), g.view(), y.view(), mean.view()).ok());
  auto backward = [&](View dxv, View dgv, View dbv) {
    return backend_->LayerNormBackward(rows, cols, x.view(), g.view(), mean.view(), rstd.view(), y.view(),
                                       dxv, dgv, dbv);
  };
  EXPECT_INVALID(backward(dx.view(), dg.Sub(0, 2), db.view()),
                 "LayerNormBackward: dgamma holds 2 elements, needs 3");
  EXPECT_INVALID(backward(dx.view(), dg.view(), b.view()),
                 "LayerNormBackward: dbeta has element type f16, expected f32");
  EXPECT_INVALID(backward(mean.view(), dg.view(), db.view()),
                 "LayerNormBackward: dx has element type f32, expected f16");
  EXPECT_TRUE(backward(dx.view(), dg.view(), db.view()).ok());
}

TEST_F(BackendChecksTest, AxpyAndGradientStats) {
  Buffer x = Make(kBF16, 5), y = Make(kBF16, 4), y32 = Make(kF32, 5), i = Make(kI32, 3);
  EXPECT_INVALID(backend_->Axpy(1.0, x.view(), y.view()), "Axpy: y holds 4 elements, needs 5");
  EXPECT_INVALID(backend_->Axpy(1.0, x.view(), y32.view()), "Axpy: y has element type f32, expected bf16");
  EXPECT_INVALID(backend_->Axpy(1.0, i.view(), y32.view()), "Axpy: x has element type i32");
  EXPECT_INVALID(backend_->GradientStats(i.view()).status(), "GradientStats: g has element type i32");
  EXPECT_INVALID(backend_->GradientStats(ConstView(nullptr, 3, kF32)).status(),
                 "GradientStats: g holds no memory");
  Result<GradStats> empty = backend_->GradientStats(ConstView());
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->finite);
  EXPECT_EQ(empty->sum_squares, 0.0);
}

TEST_F(BackendChecksTest, SgdMomentumUpdate) {
  Buffer w = Make(kF32, 5), g = Make(kF32, 5), v = Make(kF32, 5), g4 = Make(kF32, 4), w16 = Make(kF16, 5),
         copy = Make(kF16, 5), copy4 = Make(kF16, 4), icopy = Make(kI32, 5), gd = Make(kF64, 5),
         big = Make(kF32, 12);
  const SgdHyper h;
  EXPECT_INVALID(backend_->SgdMomentumUpdate(h, 1, w16.view(), g.view(), v.view(), View()),
                 "SgdMomentumUpdate: w has element type f16, expected f32 or f64");
  EXPECT_INVALID(backend_->SgdMomentumUpdate(h, 1, w.view(), g4.view(), v.view(), View()),
                 "SgdMomentumUpdate: g holds 4 elements, w 5");
  EXPECT_INVALID(backend_->SgdMomentumUpdate(h, 1, w.view(), gd.view(), v.view(), View()),
                 "SgdMomentumUpdate: g has element type f64, expected f32");
  EXPECT_INVALID(backend_->SgdMomentumUpdate(h, 1, w.view(), g.view(), v.view(), copy4.view()),
                 "SgdMomentumUpdate: w_copy holds 4 elements, w 5");
  EXPECT_INVALID(backend_->SgdMomentumUpdate(h, 1, w.view(), g.view(), v.view(), icopy.view()),
                 "SgdMomentumUpdate: w_copy has element type i32");
  EXPECT_INVALID(backend_->SgdMomentumUpdate(h, 0, w.view(), g.view(), v.view(), View()),
                 "SgdMomentumUpdate: grad_scale = 0");
  EXPECT_INVALID(backend_->SgdMomentumUpdate(h, std::nan(""), w.view(), g.view(), v.view(), View()),
                 "SgdMomentumUpdate: grad_scale = nan");
  EXPECT_INVALID(backend_->SgdMomentumUpdate(h, 1, big.Sub(0, 5), big.Sub(4, 5), v.view(), View()),
                 "SgdMomentumUpdate: w and g overlap");
  EXPECT_INVALID(backend_->SgdMomentumUpdate(h, 1, w.view(), big.Sub(0, 5), big.Sub(3, 5), View()),
                 "SgdMomentumUpdate: g and velocity overlap");
  EXPECT_EQ(ktest::Get(*backend_, w.view()), (std::vector<double>{1, 2, 3, 4, 5}));
  EXPECT_EQ(ktest::Get(*backend_, copy4.view()), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_TRUE(backend_->SgdMomentumUpdate(h, 1, w.view(), g.view(), v.view(), copy.view()).ok());
}

TEST_F(BackendChecksTest, AdamWUpdate) {
  Buffer w = Make(kF64, 5), g = Make(kF64, 5), m = Make(kF64, 5), v = Make(kF64, 5), m32 = Make(kF32, 5),
         v4 = Make(kF64, 4), copy = Make(kBF16, 5);
  const AdamWHyper h;
  EXPECT_INVALID(backend_->AdamWUpdate(h, 0, 1, w.view(), g.view(), m.view(), v.view(), View()),
                 "AdamWUpdate: step = 0");
  EXPECT_INVALID(backend_->AdamWUpdate(h, 1, -1, w.view(), g.view(), m.view(), v.view(), View()),
                 "AdamWUpdate: grad_scale = -1");
  EXPECT_INVALID(backend_->AdamWUpdate(h, 1, 1, w.view(), g.view(), m32.view(), v.view(), View()),
                 "AdamWUpdate: m has element type f32, expected f64");
  EXPECT_INVALID(backend_->AdamWUpdate(h, 1, 1, w.view(), g.view(), m.view(), v4.view(), View()),
                 "AdamWUpdate: v holds 4 elements, w 5");
  EXPECT_INVALID(backend_->AdamWUpdate(h, 1, 1, w.view(), g.view(), m.view(), m.view(), View()),
                 "AdamWUpdate: m and v overlap");
  EXPECT_INVALID(backend_->AdamWUpdate(h, 1, 1, w.view(), g.view(), m.view(), v.view(), w.view()),
                 "AdamWUpdate: w and w_copy overlap");
  EXPECT_EQ(ktest::Get(*backend_, w.view()), (std::vector<double>{1, 2, 3, 4, 5}));
  EXPECT_TRUE(backend_->AdamWUpdate(h, 1, 1, w.view(), g.view(), m.view(), v.view(), copy.view()).ok());
}

TEST_F(BackendChecksTest, UploadAndDownload) {
  Buffer f = Make(kF32, 4);
  const std::vector<Half> halves(4);
  EXPECT_INVALID(backend_->Upload(std::span<const Half>(halves), f.view()),
                 "Upload: element type f32, expected f16");
  const std::vector<float> five(5);
  EXPECT_INVALID(backend_->Upload(std::span<const float>(five), f.view()),
                 "Upload: backend view holds 4 elements");
  std::vector<BFloat16> out(4);
  EXPECT_INVALID(backend_->Download(f.view(), std::span<BFloat16>(out)),
                 "Download: element type f32, expected bf16");
}

}  // namespace
}  // namespace hpo::kernels
