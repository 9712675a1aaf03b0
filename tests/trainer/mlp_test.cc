// Tests trainer/mlp.cc: the analytic gradients of the real model code, run in double precision on the
// CPU backend, against central finite differences, for every activation and every weight and bias; the
// parameter count and layout; seeded initialisation; and f32/f64 parity of the forward pass.
#include "trainer/mlp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "base/rng.h"
#include "kernels/cpu_backend.h"
#include "tests/trainer/model_test_util.h"

namespace hpo::trainer {
namespace {

using kernels::Activation;
using kernels::Buffer;
using kernels::DType;

class MlpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = kernels::CpuBackend::Create(kernels::BackendOptions{});
    ASSERT_TRUE(backend.ok());
    backend_ = std::move(*backend);
  }

  template <typename T>
  Buffer Make(const std::vector<T>& host) {
    auto buffer = backend_->Allocate(host.size(), kernels::DTypeOf<T>());
    EXPECT_TRUE(buffer.ok());
    EXPECT_TRUE(backend_->Upload(std::span<const T>(host), buffer->view()).ok());
    return std::move(*buffer);
  }

  template <typename T>
  std::vector<T> Get(kernels::ConstView view) {
    std::vector<T> host(view.size);
    EXPECT_TRUE(backend_->Download(view, std::span<T>(host)).ok());
    return host;
  }

  std::unique_ptr<kernels::CpuBackend> backend_;
};

// Checks every gradient of `config` in double precision against central differences of the loss.
void CheckGradients(kernels::Backend& backend, const MlpConfig& config, const kernels::LossOptions& options,
                    const std::string& what) {
  SCOPED_TRACE(what);
  const int64_t rows = 4;
  auto mlp = Mlp::Create(backend, config, DType::kF64, rows, /*seed=*/7);
  ASSERT_TRUE(mlp.ok()) << mlp.status().ToString();
  Rng rng(11);
  std::vector<double> x(static_cast<size_t>(rows * config.input_dim));
  for (auto& v : x) v = rng.Normal();
  testing::CheckModelGradients(backend, *mlp, x, {2, 0, 1, 2}, rows, options, /*step=*/5);
}

TEST_F(MlpTest, GradientsMatchFiniteDifferencesInDouble) {
  for (Activation act : {Activation::kRelu, Activation::kGelu, Activation::kTanh, Activation::kSilu}) {
    const MlpConfig config{.input_dim = 5, .hidden_layers = 2, .width = 6, .activation = act, .classes = 3};
    CheckGradients(*backend_, config, {},
                   std::string("activation ") + std::string(kernels::ActivationName(act)));
  }
}

TEST_F(MlpTest, GradientsOfEveryLayerKindMatchFiniteDifferences) {
  const MlpConfig base{
      .input_dim = 6, .hidden_layers = 3, .width = 6, .activation = Activation::kGelu, .classes = 3};
  MlpConfig norm = base;
  norm.layer_norm = true;
  CheckGradients(*backend_, norm, {}, "layer norm");
  MlpConfig residual = base;
  residual.residual = true;  // every hidden layer, the first included (input_dim == width)
  CheckGradients(*backend_, residual, {}, "residual");
  MlpConfig dropout = base;
  dropout.dropout = 0.3;
  CheckGradients(*backend_, dropout, {}, "dropout");
  MlpConfig all = base;
  all.activation = Activation::kSilu;
  all.layer_norm = all.residual = true;
  all.dropout = 0.2;
  all.input_dim = 5;  // no residual around the first layer
  CheckGradients(*backend_, all, {.label_smoothing = 0.1, .grad_scale = 8.0}, "everything, smoothed, scaled");
}

TEST_F(MlpTest, LayerNormParamsAndDropoutOnlyInTraining) {
  const MlpConfig config{
      .input_dim = 8, .hidden_layers = 2, .width = 16, .classes = 4, .layer_norm = true, .dropout = 0.5};
  auto mlp = Mlp::Create(*backend_, config, DType::kF32, 4, 1);
  ASSERT_TRUE(mlp.ok());
  EXPECT_EQ(mlp->ParamCount(), MlpParamCount(config));
  EXPECT_EQ(MlpParamCount(config), 8 * 16 + 16 + 32 + 16 * 16 + 16 + 32 + 16 * 4 + 4);
  ASSERT_EQ(mlp->layout().size(), 10u);
  EXPECT_EQ(mlp->layout()[2].name, "g0");
  EXPECT_EQ(mlp->layout()[2].kind, ParamKind::kNormGain);
  EXPECT_EQ(mlp->layout()[3].kind, ParamKind::kNormShift);
  const auto params = Get<float>(mlp->params());
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(params[mlp->layout()[2].offset + i], 1.0f);
  // Inference is deterministic (no dropout); two training passes of different steps differ.
  Rng rng(3);
  std::vector<float> x(4 * 8);
  for (auto& v : x) v = static_cast<float>(rng.Normal());
  Buffer xb = Make(x);
  Buffer labels = Make(std::vector<int32_t>{0, 1, 2, 3});
  Buffer loss = Make(std::vector<float>{0.0f});
  ASSERT_TRUE(mlp->Forward(xb.view(), 4).ok());
  const auto first = Get<float>(mlp->logits().Sub(0, 16));
  ASSERT_TRUE(mlp->Forward(xb.view(), 4).ok());
  EXPECT_EQ(Get<float>(mlp->logits().Sub(0, 16)), first);
  ASSERT_TRUE(mlp->ForwardBackward(xb.view(), labels.view(), 4, {}, 1, loss.view()).ok());
  const auto step1 = Get<float>(mlp->logits().Sub(0, 16));
  ASSERT_TRUE(mlp->ForwardBackward(xb.view(), labels.view(), 4, {}, 2, loss.view()).ok());
  const auto step2 = Get<float>(mlp->logits().Sub(0, 16));
  EXPECT_NE(step1, first);
  EXPECT_NE(step1, step2);
  ASSERT_TRUE(mlp->ForwardBackward(xb.view(), labels.view(), 4, {}, 1, loss.view()).ok());
  EXPECT_EQ(Get<float>(mlp->logits().Sub(0, 16)), step1);  // the mask is a function of the step
}

TEST_F(MlpTest, HalfPrecisionForwardTracksFloat) {
  const MlpConfig config{.input_dim = 64, .hidden_layers = 2, .width = 128, .activation = Activation::kRelu};
  auto f = Mlp::Create(*backend_, config, DType::kF32, 8, 3);
  ASSERT_TRUE(f.ok());
  Rng rng(9);
  std::vector<float> x(8 * 64);
  for (auto& v : x) v = static_cast<float>(rng.Uniform01());
  Buffer xf = Make(x);
  ASSERT_TRUE(f->Forward(xf.view(), 8).ok());
  const auto ref = Get<float>(f->logits().Sub(0, 80));
  for (DType dtype : {DType::kF16, DType::kBF16}) {
    auto h = Mlp::Create(*backend_, config, dtype, 8, 3);  // same seed: same fp32 master weights
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    EXPECT_EQ(h->master_dtype(), DType::kF32);
    EXPECT_EQ(h->compute_params().dtype, dtype);
    EXPECT_EQ(Get<float>(h->params()), Get<float>(f->params()));
    auto xh = backend_->Allocate(x.size(), dtype);
    ASSERT_TRUE(xh.ok());
    ASSERT_TRUE(backend_->Cast(xf.view(), xh->view()).ok());
    ASSERT_TRUE(h->Forward(xh->view(), 8).ok());
    auto out = backend_->Allocate(80, DType::kF32);
    ASSERT_TRUE(out.ok());
    ASSERT_TRUE(backend_->Cast(h->logits().Sub(0, 80), out->view()).ok());
    const auto got = Get<float>(out->view());
    // Each layer rounds its inputs, weights and outputs: a few units of the format's epsilon, relative to
    // the logits' scale.
    double scale = 0, max_err = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      scale = std::max(scale, std::fabs(static_cast<double>(ref[i])));
      max_err = std::max(max_err, std::fabs(static_cast<double>(got[i]) - ref[i]));
    }
    const double eps = dtype == DType::kF16 ? 1.0 / 1024 : 1.0 / 128;
    EXPECT_LT(max_err, 8 * eps * scale) << kernels::DTypeName(dtype);
    EXPECT_GT(max_err, 0.0) << "rounding must show";
  }
}

TEST_F(MlpTest, ParamCountAndLayout) {
  const MlpConfig config{.input_dim = 784, .hidden_layers = 2, .width = 256};
  EXPECT_EQ(MlpParamCount(config), 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10);
  auto mlp = Mlp::Create(*backend_, config, DType::kF32, 8, 0);
  ASSERT_TRUE(mlp.ok());
  EXPECT_EQ(mlp->ParamCount(), MlpParamCount(config));
  const auto& layout = mlp->layout();
  ASSERT_EQ(layout.size(), 6u);
  EXPECT_EQ(layout[0].name, "w0");
  EXPECT_EQ(layout[0].rows, 784);
  EXPECT_EQ(layout[0].cols, 256);
  EXPECT_EQ(layout[0].kind, ParamKind::kWeight);
  EXPECT_EQ(layout[1].name, "b0");
  EXPECT_EQ(layout[1].kind, ParamKind::kBias);
  EXPECT_EQ(layout[1].offset, 784u * 256u);
  EXPECT_EQ(layout[5].name, "b2");
  EXPECT_EQ(layout[5].offset + layout[5].count, static_cast<size_t>(mlp->ParamCount()));
  EXPECT_EQ(MlpParamCount(MlpConfig{.input_dim = 784, .hidden_layers = 1, .width = 256}), 203530);
}

TEST_F(MlpTest, InitialisationFollowsTheSeed) {
  const MlpConfig config{.input_dim = 50, .hidden_layers = 1, .width = 400, .activation = Activation::kRelu};
  auto a = Mlp::Create(*backend_, config, DType::kF32, 1, 42);
  auto b = Mlp::Create(*backend_, config, DType::kF32, 1, 42);
  auto c = Mlp::Create(*backend_, config, DType::kF32, 1, 43);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  const auto pa = Get<float>(a->params()), pb = Get<float>(b->params()), pc = Get<float>(c->params());
  EXPECT_EQ(pa, pb);
  EXPECT_NE(pa, pc);
  // He init of w0: std sqrt(2 / 50) = 0.2; biases 0.
  const ParamInfo& w0 = a->layout()[0];
  double sum_sq = 0;
  for (size_t i = 0; i < w0.count; ++i) sum_sq += static_cast<double>(pa[w0.offset + i]) * pa[w0.offset + i];
  EXPECT_NEAR(std::sqrt(sum_sq / static_cast<double>(w0.count)), 0.2, 0.01);
  const ParamInfo& b0 = a->layout()[1];
  for (size_t i = 0; i < b0.count; ++i) EXPECT_EQ(pa[b0.offset + i], 0.0f);
}

TEST_F(MlpTest, FloatForwardMatchesDouble) {
  const MlpConfig config{.input_dim = 30, .hidden_layers = 3, .width = 40, .activation = Activation::kGelu};
  auto f = Mlp::Create(*backend_, config, DType::kF32, 5, 3);
  auto d = Mlp::Create(*backend_, config, DType::kF64, 5, 3);
  ASSERT_TRUE(f.ok() && d.ok());
  // Same parameters in both (the f32 ones, widened).
  const auto pf = Get<float>(f->params());
  ASSERT_TRUE(
      backend_->Upload(std::span<const double>(std::vector<double>(pf.begin(), pf.end())), d->params()).ok());
  Rng rng(5);
  std::vector<float> xf(5 * 30);
  for (auto& v : xf) v = static_cast<float>(rng.Uniform01());
  Buffer xfb = Make(xf);
  Buffer xdb = Make(std::vector<double>(xf.begin(), xf.end()));
  ASSERT_TRUE(f->Forward(xfb.view(), 5).ok());
  ASSERT_TRUE(d->Forward(xdb.view(), 5).ok());
  const auto lf = Get<float>(f->logits().Sub(0, 50));
  const auto ld = Get<double>(d->logits().Sub(0, 50));
  for (size_t i = 0; i < lf.size(); ++i) EXPECT_NEAR(lf[i], ld[i], 1e-5 + 1e-5 * std::fabs(ld[i])) << i;
}

TEST_F(MlpTest, RejectsBadShapesAndRows) {
  EXPECT_EQ(Mlp::Create(*backend_, MlpConfig{.width = 0}, DType::kF32, 1, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Mlp::Create(*backend_, MlpConfig{.classes = 1}, DType::kF32, 1, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Mlp::Create(*backend_, MlpConfig{}, DType::kI32, 1, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Mlp::Create(*backend_, MlpConfig{}, DType::kF32, 0, 0).status().code(),
            StatusCode::kInvalidArgument);
  auto mlp =
      Mlp::Create(*backend_, MlpConfig{.input_dim = 4, .hidden_layers = 1, .width = 8}, DType::kF32, 2, 0);
  ASSERT_TRUE(mlp.ok());
  Buffer x = Make(std::vector<float>(12));
  EXPECT_EQ(mlp->Forward(x.view(), 3).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(mlp->Forward(x.view(), 0).code(), StatusCode::kInvalidArgument);
  // Wrong element type of the input is caught by the backend.
  Buffer xd = Make(std::vector<double>(8));
  EXPECT_EQ(mlp->Forward(xd.view(), 2).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hpo::trainer
