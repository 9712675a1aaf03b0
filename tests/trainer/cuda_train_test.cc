// Tests the trainer on the CUDA backend against the CPU backend: every precision learns, lands where the CPU
// lands, and repeats bit for bit with a fixed seed. Each case skips itself when no CUDA device answers (and
// in builds without CUDA); ctest labels them gpu.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "kernels/backend.h"
#include "tests/trainer/test_util.h"
#include "trainer/train.h"

namespace hpo::trainer {
namespace {

std::unique_ptr<kernels::Backend> Make(kernels::BackendKind kind) {
  auto backend = kernels::MakeBackend(kind, kernels::BackendOptions{});
  return backend.ok() ? std::move(*backend) : nullptr;
}

TrainConfig BlobConfig(Precision precision) {
  TrainConfig config;
  config.hidden_layers = 2;
  config.width = 32;
  config.batch_size = 32;
  config.epochs = 3;
  config.lr = 0.01;
  config.precision = precision;
  config.seed = 7;
  return config;
}

TEST(CudaTrainTest, EveryPrecisionLearnsBlobsLikeTheCpuAndRepeats) {
  auto cuda = Make(kernels::BackendKind::kCuda);
  if (cuda == nullptr) GTEST_SKIP() << "no CUDA device answers";
  auto cpu = Make(kernels::BackendKind::kCpu);
  ASSERT_NE(cpu, nullptr);
  for (Precision precision : {Precision::kFp32, Precision::kFp16, Precision::kBf16}) {
    for (bool regularised : {false, true}) {
      TrainConfig config = BlobConfig(precision);
      if (regularised) {
        config.dropout = 0.1;
        config.layer_norm = true;
        config.residual = true;
        config.label_smoothing = 0.1;
        config.clip_norm = 1.0;
        config.grad_accum = 2;
      }
      SCOPED_TRACE(std::string(PrecisionName(precision)) + (regularised ? " regularised" : " plain"));
      auto on_cuda = Train(config, *cuda, testing::BlobData());
      auto again = Train(config, *cuda, testing::BlobData());
      auto on_cpu = Train(config, *cpu, testing::BlobData());
      ASSERT_TRUE(on_cuda.ok()) << on_cuda.status().ToString();
      ASSERT_TRUE(again.ok() && on_cpu.ok());
      EXPECT_GT(on_cuda->test_accuracy, 0.97);
      EXPECT_NEAR(on_cuda->test_accuracy, on_cpu->test_accuracy, 0.02);
      EXPECT_NEAR(on_cuda->loss, on_cpu->loss, 0.05 + 0.1 * on_cpu->loss);
      EXPECT_EQ(on_cuda->loss, again->loss);  // bit for bit on one GPU
      EXPECT_EQ(on_cuda->test_accuracy, again->test_accuracy);
      EXPECT_EQ(on_cuda->params, on_cpu->params);
      EXPECT_EQ(on_cuda->device, cuda->DeviceName());
      EXPECT_GT(on_cuda->latency_ms, 0);
      EXPECT_GE(on_cuda->latency_p99_ms, on_cuda->latency_ms);
      EXPECT_GT(on_cuda->throughput_sps, 0);
      EXPECT_GT(on_cuda->peak_memory_bytes, on_cuda->params * 4);
    }
  }
}

// One epoch of the default recipe on 12,000 Fashion-MNIST images in bf16 and fp16: the GPU's accuracy is
// the CPU's within a point.
TEST(CudaTrainTest, FashionMnistHalvesMatchTheCpu) {
  auto cuda = Make(kernels::BackendKind::kCuda);
  if (cuda == nullptr) GTEST_SKIP() << "no CUDA device answers";
  const Datasets* data = testing::FashionMnistOrNull();
  if (data == nullptr) GTEST_SKIP() << "Fashion-MNIST is not installed";
  auto cpu = Make(kernels::BackendKind::kCpu);
  ASSERT_NE(cpu, nullptr);
  for (Precision precision : {Precision::kBf16, Precision::kFp16}) {
    SCOPED_TRACE(PrecisionName(precision));
    TrainConfig config;
    config.precision = precision;
    config.epochs = 1;
    config.train_limit = 12000;
    auto on_cuda = Train(config, *cuda, *data);
    auto on_cpu = Train(config, *cpu, *data);
    ASSERT_TRUE(on_cuda.ok()) << on_cuda.status().ToString();
    ASSERT_TRUE(on_cpu.ok());
    EXPECT_GT(on_cuda->test_accuracy, 0.78);
    EXPECT_NEAR(on_cuda->test_accuracy, on_cpu->test_accuracy, 0.01);
    EXPECT_EQ(on_cuda->skipped_steps, on_cpu->skipped_steps);
  }
}

}  // namespace
}  // namespace hpo::trainer
