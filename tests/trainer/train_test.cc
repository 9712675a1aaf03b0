// Tests trainer/train.cc: learning on Fashion-MNIST (skipped without the files), bit-for-bit repetition
// with a fixed seed, divergence, argument checks, and the metrics line.
#include "trainer/train.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "base/rng.h"
#include "kernels/cpu_backend.h"
#include "tests/trainer/test_util.h"

namespace hpo::trainer {
namespace {

using kernels::Activation;

std::unique_ptr<kernels::Backend> Cpu() {
  auto backend = kernels::MakeBackend(kernels::BackendKind::kCpu, kernels::BackendOptions{});
  EXPECT_TRUE(backend.ok());
  return std::move(*backend);
}

// Two Gaussian blobs in `dim` dimensions, centred at -1 and +1 on every axis: separable.
Split Blobs(int64_t count, int64_t dim, uint64_t seed) {
  Rng rng(seed);
  Split split;
  split.count = count;
  split.dim = dim;
  for (int64_t i = 0; i < count; ++i) {
    const uint8_t label = static_cast<uint8_t>(i % 2);
    split.labels.push_back(label);
    for (int64_t d = 0; d < dim; ++d) {
      split.images.push_back(static_cast<float>((label == 1 ? 1.0 : -1.0) + 0.5 * rng.Normal()));
    }
  }
  return split;
}

Datasets BlobData() {
  Datasets data;
  data.classes = 2;
  data.train = Blobs(512, 6, 1);
  data.validation = Blobs(200, 6, 2);
  data.test = Blobs(200, 6, 3);
  return data;
}

TrainConfig SmallConfig() {
  TrainConfig config;
  config.hidden_layers = 1;
  config.width = 16;
  config.batch_size = 32;
  config.epochs = 3;
  config.lr = 0.01;
  return config;
}

TEST(TrainTest, LearnsSeparableBlobs) {
  auto backend = Cpu();
  std::vector<EpochReport> reports;
  auto metrics =
      Train(SmallConfig(), *backend, BlobData(), [&](const EpochReport& r) { reports.push_back(r); });
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  EXPECT_GT(metrics->accuracy, 0.97);
  EXPECT_GT(metrics->test_accuracy, 0.97);
  EXPECT_LT(metrics->loss, 0.2);
  EXPECT_EQ(metrics->params, 6 * 16 + 16 + 16 * 2 + 2);
  EXPECT_GT(metrics->latency_ms, 0);
  EXPECT_GT(metrics->train_time_s, 0);
  EXPECT_EQ(metrics->device, backend->DeviceName());
  ASSERT_EQ(reports.size(), 3u);
  for (int e = 0; e < 3; ++e) {
    EXPECT_EQ(reports[e].epoch, e + 1);
    EXPECT_EQ(reports[e].epochs, 3);
  }
  EXPECT_LT(reports[2].train_loss, reports[0].train_loss);
  EXPECT_EQ(reports[2].val_accuracy, metrics->accuracy);
  EXPECT_EQ(reports[2].val_loss, metrics->loss);
}

TEST(TrainTest, NonFiniteLossIsDiverged) {
  auto backend = Cpu();
  Datasets data = BlobData();
  data.train.images[3 * 6 + 2] = std::numeric_limits<float>::quiet_NaN();
  const Status s = Train(SmallConfig(), *backend, data).status();
  EXPECT_EQ(s.code(), StatusCode::kAborted) << s.ToString();
  EXPECT_EQ(s.message().rfind("diverged", 0), 0u) << s.message();
}

TEST(TrainTest, RejectsBadConfigsAndData) {
  auto backend = Cpu();
  TrainConfig config = SmallConfig();
  config.width = 5000;
  const Status s = Train(config, *backend, BlobData()).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("knob 'width'"), std::string::npos);
  Datasets mismatched = BlobData();
  mismatched.test = Blobs(10, 7, 4);
  EXPECT_EQ(Train(SmallConfig(), *backend, mismatched).status().code(), StatusCode::kInvalidArgument);
  Datasets empty = BlobData();
  empty.train = Split{0, 6, {}, {}};
  EXPECT_EQ(Train(SmallConfig(), *backend, empty).status().code(), StatusCode::kInvalidArgument);
}

TEST(TrainTest, BatchLargerThanTheTrainingSet) {
  auto backend = Cpu();
  TrainConfig config = SmallConfig();
  config.batch_size = 8192;
  config.train_limit = 100;
  auto metrics = Train(config, *backend, BlobData());
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  EXPECT_TRUE(std::isfinite(metrics->loss));
}

TEST(TrainTest, MetricsToJson) {
  TrainMetrics m;
  m.accuracy = 0.8629;
  m.test_accuracy = 0.8587;
  m.loss = 0.375;
  m.latency_ms = 0.0125;
  m.params = 203530;
  m.train_time_s = 4.5;
  m.device = "cpu: \"Fancy\" \\ CPU\n";
  EXPECT_EQ(
      MetricsToJson(m),
      "{\"accuracy\":0.8629,\"test_accuracy\":0.8587,\"loss\":0.375,\"latency_ms\":0.0125,\"params\":203530,"
      "\"train_time_s\":4.5,\"device\":\"cpu: \\\"Fancy\\\" \\\\ CPU\\n\"}");
}

TEST(TrainFashionMnistTest, OneEpochOnSixThousandImagesBeatsSeventyPercent) {
  const Datasets* data = testing::FashionMnistOrNull();
  if (data == nullptr) GTEST_SKIP() << "Fashion-MNIST is not installed";
  auto backend = Cpu();
  TrainConfig config;  // the catalog defaults: 2 x 256 relu, adamw lr 1e-3, batch 128
  config.epochs = 1;
  config.train_limit = 6000;
  auto metrics = Train(config, *backend, *data);
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  EXPECT_GT(metrics->accuracy, 0.70);
  EXPECT_GT(metrics->test_accuracy, 0.70);
  EXPECT_LT(metrics->loss, 1.0);
  EXPECT_EQ(metrics->params, 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10);
  EXPECT_GT(metrics->latency_ms, 0);
  EXPECT_LT(metrics->latency_ms, 100);
}

TEST(TrainFashionMnistTest, FixedSeedRepeatsBitForBit) {
  const Datasets* data = testing::FashionMnistOrNull();
  if (data == nullptr) GTEST_SKIP() << "Fashion-MNIST is not installed";
  struct Case {
    OptimizerKind optimizer;
    Activation activation;
    double lr;
  };
  for (const Case& c : {Case{OptimizerKind::kAdamW, Activation::kGelu, 1e-3},
                        Case{OptimizerKind::kSgd, Activation::kTanh, 0.05}}) {
    TrainConfig config;
    config.hidden_layers = 2;
    config.width = 64;
    config.epochs = 2;
    config.batch_size = 100;
    config.train_limit = 2000;
    config.optimizer = c.optimizer;
    config.activation = c.activation;
    config.lr = c.lr;
    config.weight_decay = 0.01;
    config.seed = 1234;
    auto backend = Cpu();
    auto a = Train(config, *backend, *data);
    auto b = Train(config, *backend, *data);
    config.seed = 1235;
    auto other = Train(config, *backend, *data);
    ASSERT_TRUE(a.ok() && b.ok() && other.ok());
    EXPECT_EQ(a->accuracy, b->accuracy);
    EXPECT_EQ(a->test_accuracy, b->test_accuracy);
    EXPECT_EQ(a->loss, b->loss);  // exact: bit for bit
    EXPECT_EQ(a->params, b->params);
    EXPECT_EQ(a->device, b->device);
    EXPECT_NE(a->loss, other->loss);
    EXPECT_GT(a->accuracy, 0.5);
  }
}

}  // namespace
}  // namespace hpo::trainer
