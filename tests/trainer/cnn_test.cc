// Tests trainer/cnn.cc: the analytic gradients of the real model code in double precision against
// central finite differences, for every block kind (batch norm or bias, max pool or stride, residual with
// and without a projection, dropout, patch matrices split over groups of images); batch norm's running
// statistics; the layout; bad shapes; half-precision forward passes against fp32; and learning an image
// task through Train.
#include "trainer/cnn.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "base/rng.h"
#include "kernels/cpu_backend.h"
#include "tests/trainer/model_test_util.h"
#include "tests/trainer/test_util.h"
#include "trainer/train.h"

namespace hpo::trainer {
namespace {

using kernels::Activation;
using kernels::DType;
using testing::Download;
using testing::Upload;

class CnnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = kernels::CpuBackend::Create(kernels::BackendOptions{});
    ASSERT_TRUE(backend.ok());
    backend_ = std::move(*backend);
  }

  // A 6x6 image of 2 channels, 3 classes, 2 stages of 3 and 4 channels.
  static CnnConfig Small() {
    CnnConfig config;
    config.height = 6;
    config.width = 6;
    config.channels = 2;
    config.classes = 3;
    config.stage_channels = {3, 4};
    config.activation = Activation::kGelu;
    return config;
  }

  void CheckGradients(const CnnConfig& config, const kernels::LossOptions& options, const std::string& what,
                      int64_t rows = 3) {
    SCOPED_TRACE(what);
    auto cnn = Cnn::Create(*backend_, config, DType::kF64, rows, /*seed=*/7);
    ASSERT_TRUE(cnn.ok()) << cnn.status().ToString();
    Rng rng(5);
    std::vector<double> x(static_cast<size_t>(rows * config.height * config.width * config.channels));
    for (double& v : x) v = rng.Normal();
    std::vector<int32_t> labels;
    for (int64_t r = 0; r < rows; ++r) labels.push_back(static_cast<int32_t>(r % config.classes));
    testing::CheckModelGradients(*backend_, *cnn, x, labels, rows, options, /*step=*/3);
  }

  std::unique_ptr<kernels::CpuBackend> backend_;
};

TEST_F(CnnTest, GradientsOfEveryBlockKindMatchFiniteDifferences) {
  CheckGradients(Small(), {}, "batch norm, max pool");
  CnnConfig bias = Small();
  bias.batch_norm = false;
  bias.activation = Activation::kTanh;
  CheckGradients(bias, {}, "bias, tanh");
  CnnConfig strided = Small();
  strided.stride_downsample = true;
  strided.residual = true;
  strided.blocks = 2;
  CheckGradients(strided, {}, "stride 2, residual blocks with and without a projection");
  CnnConfig pooled_residual = Small();
  pooled_residual.residual = true;
  pooled_residual.kernel_size = 5;
  pooled_residual.activation = Activation::kSilu;
  CheckGradients(pooled_residual, {}, "5x5, residual after a max pool");
  CnnConfig depthwise = Small();
  depthwise.depthwise = true;
  depthwise.residual = true;
  depthwise.blocks = 2;
  depthwise.stride_downsample = true;
  CheckGradients(depthwise, {}, "depthwise-separable, residual, stride 2");
  CnnConfig averaged = Small();
  averaged.global_pool = true;
  averaged.residual = true;
  CheckGradients(averaged, {}, "global average pooling");
  CnnConfig dropout = Small();
  dropout.dropout = 0.3;
  dropout.stage_channels = {4};
  CheckGradients(dropout, {.label_smoothing = 0.1, .grad_scale = 8.0}, "dropout, smoothed, scaled");
}

TEST_F(CnnTest, PatchMatricesSplitOverGroupsOfImagesGiveTheSameGradients) {
  // Patch matrices go through the kColsBudget scratch in groups of whole images: 16x16x8 images at 3x3
  // have 16*16*72 = 18,432 elements each, 14 per group of the 2^18 budget, so a 20-image pass takes two
  // groups (the second accumulating into the weight gradient). It must equal the mean of single-image
  // passes.
  static_assert(Cnn::kColsBudget / (16 * 16 * 72) == 14);
  CnnConfig config;
  config.height = 16;
  config.width = 16;
  config.channels = 8;
  config.classes = 2;
  config.stage_channels = {8};
  config.batch_norm = false;
  const int64_t rows = 20;
  auto cnn = Cnn::Create(*backend_, config, DType::kF64, rows, 3);
  ASSERT_TRUE(cnn.ok()) << cnn.status().ToString();
  Rng rng(1);
  const int64_t image = 16 * 16 * 8;
  std::vector<double> x(static_cast<size_t>(rows * image));
  for (double& v : x) v = rng.Normal();
  std::vector<int32_t> labels(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) labels[r] = static_cast<int32_t>(r % 2);
  kernels::Buffer xb = Upload(*backend_, x), lb = Upload(*backend_, labels);
  kernels::Buffer loss = Upload(*backend_, std::vector<double>{0.0});
  ASSERT_TRUE(cnn->ForwardBackward(xb.view(), lb.view(), rows, loss.view()).ok());
  const std::vector<double> batch_grads = Download<double>(*backend_, cnn->grads());
  // The mean loss over 20 images has gradient (1/20) sum of the single-image gradients.
  std::vector<double> summed(batch_grads.size(), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    ASSERT_TRUE(cnn->ForwardBackward(xb.Sub(static_cast<size_t>(r * image), static_cast<size_t>(image)),
                                     lb.Sub(static_cast<size_t>(r), 1), 1, loss.view())
                    .ok());
    const std::vector<double> g = Download<double>(*backend_, cnn->grads());
    for (size_t i = 0; i < g.size(); ++i) summed[i] += g[i] / rows;
  }
  double max_err = 0;
  for (size_t i = 0; i < summed.size(); ++i)
    max_err = std::max(max_err, std::fabs(summed[i] - batch_grads[i]));
  EXPECT_LT(max_err, 1e-12);
}

TEST_F(CnnTest, BatchNormStatisticsMoveInTrainingOnly) {
  const CnnConfig config = Small();
  const int64_t rows = 4;
  auto cnn = Cnn::Create(*backend_, config, DType::kF32, rows, 1);
  ASSERT_TRUE(cnn.ok());
  ASSERT_EQ(cnn->RunningStats().size(), 4u);  // two batch norms, mean and variance each
  EXPECT_EQ(Download<float>(*backend_, cnn->RunningStats()[0]), std::vector<float>(3, 0.0f));
  EXPECT_EQ(Download<float>(*backend_, cnn->RunningStats()[1]), std::vector<float>(3, 1.0f));
  std::vector<float> x(static_cast<size_t>(rows * 6 * 6 * 2));
  Rng rng(2);
  for (float& v : x) v = static_cast<float>(1.0 + rng.Normal());
  kernels::Buffer xb = Upload(*backend_, x);
  kernels::Buffer lb = Upload(*backend_, std::vector<int32_t>{0, 1, 2, 0});
  kernels::Buffer loss = Upload(*backend_, std::vector<float>{0.0f});
  ASSERT_TRUE(cnn->Forward(xb.view(), rows).ok());
  EXPECT_EQ(Download<float>(*backend_, cnn->RunningStats()[0]), std::vector<float>(3, 0.0f));
  const std::vector<float> before = Download<float>(*backend_, cnn->logits());
  ASSERT_TRUE(cnn->ForwardBackward(xb.view(), lb.view(), rows, loss.view()).ok());
  const std::vector<float> mean = Download<float>(*backend_, cnn->RunningStats()[0]);
  const std::vector<float> var = Download<float>(*backend_, cnn->RunningStats()[1]);
  for (size_t c = 0; c < 3; ++c) {
    EXPECT_NE(mean[c], 0.0f) << c;  // 0.1 x the batch mean of a non-zero activation
    EXPECT_NE(var[c], 1.0f) << c;
  }
  // Inference now normalises with the moved statistics: different logits for the same input.
  ASSERT_TRUE(cnn->Forward(xb.view(), rows).ok());
  EXPECT_NE(Download<float>(*backend_, cnn->logits()), before);
}

TEST_F(CnnTest, LayoutAndParamCount) {
  CnnConfig config = Small();
  config.residual = true;
  auto cnn = Cnn::Create(*backend_, config, DType::kF32, 2, 1);
  ASSERT_TRUE(cnn.ok());
  std::vector<std::string> names;
  for (const ParamInfo& info : cnn->layout()) names.push_back(info.name);
  EXPECT_EQ(names, (std::vector<std::string>{"s1b1.w", "s1b1.gamma", "s1b1.beta", "s1b1.proj_w",
                                             "s1b1.proj_b", "s2b1.w", "s2b1.gamma", "s2b1.beta",
                                             "s2b1.proj_w", "s2b1.proj_b", "head.w", "head.b"}));
  // The head reads the last stage's 3x3x4 output flattened, or its 4 channels averaged.
  const int64_t convs = (9 * 2 * 3 + 3 + 3 + 2 * 3 + 3) + (9 * 3 * 4 + 4 + 4 + 3 * 4 + 4);
  EXPECT_EQ(cnn->ParamCount(), convs + (3 * 3 * 4 * 3 + 3));
  config.global_pool = true;
  auto averaged = Cnn::Create(*backend_, config, DType::kF32, 2, 1);
  ASSERT_TRUE(averaged.ok());
  EXPECT_EQ(averaged->ParamCount(), convs + (4 * 3 + 3));
}

TEST_F(CnnTest, RejectsBadShapes) {
  CnnConfig deep = Small();
  deep.stage_channels = {4, 4, 4, 4};  // 6 -> 3 -> 1 -> cannot halve
  auto made = Cnn::Create(*backend_, deep, DType::kF32, 2, 1);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().message(),
            "Cnn: stage 4 cannot halve a 1x1 image; use fewer stages or larger images");
  deep.stride_downsample = true;  // stride 2 on a 1x1 image keeps it 1x1
  EXPECT_TRUE(Cnn::Create(*backend_, deep, DType::kF32, 2, 1).ok());
  CnnConfig even = Small();
  even.kernel_size = 4;
  EXPECT_EQ(Cnn::Create(*backend_, even, DType::kF32, 2, 1).status().message(),
            "Cnn: kernel_size 4 must be odd, in [1, 7]");
  CnnConfig none = Small();
  none.stage_channels.clear();
  EXPECT_FALSE(Cnn::Create(*backend_, none, DType::kF32, 2, 1).ok());
  EXPECT_FALSE(Cnn::Create(*backend_, Small(), DType::kI32, 2, 1).ok());
  auto cnn = Cnn::Create(*backend_, Small(), DType::kF32, 2, 1);
  ASSERT_TRUE(cnn.ok());
  kernels::Buffer x = Upload(*backend_, std::vector<float>(3 * 72, 0.5f));
  EXPECT_EQ(cnn->Forward(x.view(), 3).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(cnn->Forward(x.Sub(0, 71), 1).code(), StatusCode::kInvalidArgument);
}

TEST_F(CnnTest, HalfPrecisionForwardTracksFloat) {
  CnnConfig config = Small();
  config.stage_channels = {8, 16};
  config.residual = true;
  const int64_t rows = 4;
  std::vector<float> x(static_cast<size_t>(rows * 72));
  Rng rng(4);
  for (float& v : x) v = static_cast<float>(rng.Normal());
  auto logits_in = [&](DType dtype) {
    auto cnn = Cnn::Create(*backend_, config, dtype, rows, 9);
    EXPECT_TRUE(cnn.ok());
    return testing::ForwardLogits(*backend_, *cnn, x, rows, 3);
  };
  const std::vector<float> f32 = logits_in(DType::kF32);
  for (const auto& [dtype, tolerance] : {std::pair{DType::kF16, 0.02}, std::pair{DType::kBF16, 0.1}}) {
    const std::vector<float> half = logits_in(dtype);
    for (size_t i = 0; i < f32.size(); ++i) {
      EXPECT_NEAR(half[i], f32[i], tolerance * (1 + std::fabs(f32[i])))
          << kernels::DTypeName(dtype) << " " << i;
    }
  }
}

TEST(CnnTrainTest, LearnsBarsThroughTrainInEveryPrecision) {
  Datasets data;
  data.classes = 2;
  data.height = data.width = 8;
  data.channels = 1;
  data.train = testing::Bars(512, 1);
  data.validation = testing::Bars(200, 2);
  data.test = testing::Bars(200, 3);
  for (const Precision precision : {Precision::kFp32, Precision::kBf16, Precision::kFp16}) {
    SCOPED_TRACE(PrecisionName(precision));
    TrainConfig config;
    config.model = ModelKind::kCnn;
    config.stage_channels = {8, 16, 128, 256};  // (stages 3 and 4 unused)
    config.stages = 2;
    config.batch_size = 32;
    config.epochs = 3;
    config.lr = 0.01;
    config.precision = precision;
    auto backend = kernels::MakeBackend(kernels::BackendKind::kCpu, kernels::BackendOptions{});
    ASSERT_TRUE(backend.ok());
    auto metrics = Train(config, **backend, data);
    ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
    EXPECT_GT(metrics->accuracy, 0.95);
    EXPECT_GT(metrics->test_accuracy, 0.95);
    EXPECT_EQ(metrics->params, (9 * 8 + 16) + (9 * 8 * 16 + 32) + (4 * 4 * 16 * 2 + 2));
  }
}

TEST(CnnTrainTest, RefusesDataWithoutAnImageShape) {
  Datasets data;
  data.classes = 2;
  data.train = testing::Bars(64, 1);
  data.validation = testing::Bars(16, 2);
  data.test = testing::Bars(16, 3);
  TrainConfig config;
  config.model = ModelKind::kCnn;
  auto backend = kernels::MakeBackend(kernels::BackendKind::kCpu, kernels::BackendOptions{});
  ASSERT_TRUE(backend.ok());
  auto metrics = Train(config, **backend, data);
  ASSERT_FALSE(metrics.ok());
  EXPECT_EQ(metrics.status().message(),
            "model cnn needs images, and these examples are vectors of 64 features without an image shape");
}

}  // namespace
}  // namespace hpo::trainer
