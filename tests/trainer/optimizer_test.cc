// Tests trainer/optimizer.cc: two steps of each kind against the element math, decay on weights only.
#include "trainer/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "kernels/cpu_backend.h"
#include "kernels/element.h"
#include "kernels/half.h"

namespace hpo::trainer {
namespace {

using kernels::Buffer;
using kernels::DType;

class OptimizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = kernels::CpuBackend::Create(kernels::BackendOptions{});
    ASSERT_TRUE(backend.ok());
    backend_ = std::move(*backend);
    // A 2 x 2 weight at [0, 4) and a bias of 2 at [4, 6).
    layout_ = {ParamInfo{"w0", 0, 4, 2, 2, ParamKind::kWeight},
               ParamInfo{"b0", 4, 2, 1, 2, ParamKind::kBias}};
    params_ = Upload({0.5, -1.0, 2.0, 0.25, 1.0, -0.5});
    grads_ = Upload({0.1, 0.2, -0.3, 0.0, 0.5, -1.0});
  }

  Buffer Upload(const std::vector<double>& values) {
    auto buffer = backend_->Allocate(values.size(), DType::kF64);
    EXPECT_TRUE(buffer.ok());
    EXPECT_TRUE(backend_->Upload(std::span<const double>(values), buffer->view()).ok());
    return std::move(*buffer);
  }

  std::vector<double> Params() {
    std::vector<double> out(params_.size());
    EXPECT_TRUE(backend_->Download(params_.view(), std::span<double>(out)).ok());
    return out;
  }

  std::unique_ptr<kernels::CpuBackend> backend_;
  std::vector<ParamInfo> layout_;
  Buffer params_;
  Buffer grads_;
};

TEST_F(OptimizerTest, SgdTwoStepsWithDecayOnWeightsOnly) {
  OptimizerOptions options{.kind = OptimizerKind::kSgd, .weight_decay = 0.1, .momentum = 0.9};
  auto opt = Optimizer::Create(*backend_, options, params_.view(), grads_.view(), layout_);
  ASSERT_TRUE(opt.ok()) << opt.status().ToString();
  std::vector<double> w = Params(), v(6, 0.0);
  const std::vector<double> g = {0.1, 0.2, -0.3, 0.0, 0.5, -1.0};
  for (int step = 0; step < 2; ++step) {
    ASSERT_TRUE((*opt)->Step(0.05).ok());
    for (size_t i = 0; i < 6; ++i) {
      kernels::SgdMomentumElement(kernels::SgdCoeffs<double>{0.05, 0.9, i < 4 ? 0.1 : 0.0, 1.0, false}, w[i],
                                  g[i], v[i]);
    }
  }
  EXPECT_EQ(Params(), w);
  EXPECT_EQ((*opt)->steps(), 2);
  // By hand for the bias element 4 (no decay): v1 = 0.5, w1 = 0.975; v2 = 0.95, w2 = 0.9275.
  EXPECT_NEAR(Params()[4], 0.9275, 1e-15);
  // And weight element 3 (g = 0, decay 0.1): g' = 0.025, v1 = 0.025, w1 = 0.24875; g' = 0.024875,
  // v2 = 0.0225 + 0.024875 = 0.047375, w2 = 0.24875 - 0.00236875.
  EXPECT_NEAR(Params()[3], 0.24875 - 0.00236875, 1e-15);
}

TEST_F(OptimizerTest, AdamWTwoStepsWithDecayOnWeightsOnly) {
  OptimizerOptions options{.kind = OptimizerKind::kAdamW, .weight_decay = 0.01};
  auto opt = Optimizer::Create(*backend_, options, params_.view(), grads_.view(), layout_);
  ASSERT_TRUE(opt.ok());
  std::vector<double> w = Params(), m(6, 0.0), v(6, 0.0);
  const std::vector<double> g = {0.1, 0.2, -0.3, 0.0, 0.5, -1.0};
  for (int step = 1; step <= 2; ++step) {
    ASSERT_TRUE((*opt)->Step(0.1).ok());
    for (size_t i = 0; i < 6; ++i) {
      const kernels::AdamWCoeffs<double> c{
          0.1, 0.9, 0.999, 1e-8, i < 4 ? 0.01 : 0.0, 1 - std::pow(0.9, step), 1 - std::pow(0.999, step), 1.0};
      kernels::AdamWElement(c, w[i], g[i], m[i], v[i]);
    }
  }
  const std::vector<double> got = Params();
  for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(got[i], w[i], 1e-15) << i;
  // Weight 3 has g = 0: only the decay moves it, twice: 0.25 * (1 - 0.001)^2.
  EXPECT_NEAR(got[3], 0.25 * 0.999 * 0.999, 1e-15);
  // Bias 4 (no decay), constant g: each step moves it by lr * m_hat / (sqrt(v_hat) + eps) ~ lr.
  EXPECT_NEAR(got[4], 1.0 - 2 * 0.1, 1e-6);
}

TEST_F(OptimizerTest, NesterovGradScaleAndTheComputeCopy) {
  // Nesterov SGD on gradients scaled by 1/4 (a loss scale of 4 undone), writing a bf16 copy of the
  // weights in the same pass.
  OptimizerOptions options{
      .kind = OptimizerKind::kSgd, .weight_decay = 0.1, .momentum = 0.9, .nesterov = true};
  auto fparams = backend_->Allocate(6, DType::kF32);
  auto fgrads = backend_->Allocate(6, DType::kF32);
  auto copy = backend_->Allocate(6, DType::kBF16);
  ASSERT_TRUE(fparams.ok() && fgrads.ok() && copy.ok());
  const std::vector<float> w0 = {0.5f, -1.0f, 2.0f, 0.25f, 1.0f, -0.5f};
  const std::vector<float> g = {0.4f, 0.8f, -1.2f, 0.0f, 2.0f, -4.0f};  // 4x the true gradient
  ASSERT_TRUE(backend_->Upload(std::span<const float>(w0), fparams->view()).ok());
  ASSERT_TRUE(backend_->Upload(std::span<const float>(g), fgrads->view()).ok());
  auto opt = Optimizer::Create(*backend_, options, fparams->view(), fgrads->view(), layout_, copy->view());
  ASSERT_TRUE(opt.ok()) << opt.status().ToString();
  std::vector<float> w = w0, v(6, 0.0f);
  for (int step = 0; step < 2; ++step) {
    ASSERT_TRUE((*opt)->Step(0.05, 0.25).ok());
    for (size_t i = 0; i < 6; ++i) {
      kernels::SgdMomentumElement(kernels::SgdCoeffs<float>{0.05f, 0.9f, i < 4 ? 0.1f : 0.0f, 0.25f, true},
                                  w[i], g[i], v[i]);
    }
  }
  std::vector<float> got(6);
  ASSERT_TRUE(backend_->Download(fparams->view(), std::span<float>(got)).ok());
  EXPECT_EQ(got, w);
  std::vector<kernels::BFloat16> half(6);
  ASSERT_TRUE(backend_->Download(copy->view(), std::span<kernels::BFloat16>(half)).ok());
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(half[i].bits, kernels::FloatToBf16Bits(w[i])) << i;
  // The classical update differs: Nesterov is not ignored.
  float wc = w0[0], vc = 0;
  kernels::SgdMomentumElement(kernels::SgdCoeffs<float>{0.05f, 0.9f, 0.1f, 0.25f, false}, wc, g[0], vc);
  kernels::SgdMomentumElement(kernels::SgdCoeffs<float>{0.05f, 0.9f, 0.1f, 0.25f, false}, wc, g[0], vc);
  EXPECT_NE(wc, w[0]);
  // A copy of the wrong size is refused.
  auto short_copy = backend_->Allocate(5, DType::kBF16);
  ASSERT_TRUE(short_copy.ok());
  EXPECT_EQ(
      Optimizer::Create(*backend_, options, fparams->view(), fgrads->view(), layout_, short_copy->view())
          .status()
          .code(),
      StatusCode::kInvalidArgument);
}

TEST_F(OptimizerTest, RejectsBadOptions) {
  EXPECT_EQ(Optimizer::Create(*backend_, OptimizerOptions{.weight_decay = -1}, params_.view(), grads_.view(),
                              layout_)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Optimizer::Create(*backend_, OptimizerOptions{.kind = OptimizerKind::kSgd, .momentum = 1.0},
                              params_.view(), grads_.view(), layout_)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  std::vector<ParamInfo> outside = {ParamInfo{"w9", 4, 4, 2, 2, ParamKind::kWeight}};
  EXPECT_EQ(Optimizer::Create(*backend_, OptimizerOptions{}, params_.view(), grads_.view(), outside)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hpo::trainer
