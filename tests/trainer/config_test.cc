// Tests trainer/config.cc: knob parsing from text, with the knob's name in every error.
#include "trainer/config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "trainer/knobs.h"

namespace hpo::trainer {
namespace {

Status Parse(std::vector<std::string> args) { return ConfigFromArgs(args).status(); }

void ExpectRejected(const std::vector<std::string>& args, std::string_view must_mention) {
  const Status s = Parse(args);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << args[0];
  EXPECT_NE(s.message().find(must_mention), std::string::npos) << s.message();
}

TEST(ConfigTest, ParsesEveryKnob) {
  auto config = ConfigFromArgs(std::vector<std::string>{
      "hidden_layers=3",     "width=64.0",        "activation=gelu",   "lr=0.05",
      "batch_size=32",       "epochs=2",          "weight_decay=1e-4", "optimizer=sgd",
      "momentum=0.5",        "seed=123456789012", "precision=bf16",    "schedule=warmup_cosine",
      "warmup_fraction=0.1", "grad_accum=4",      "nesterov=true",     "clip_norm=1.5",
      "label_smoothing=0.1", "dropout=0.25",      "layer_norm=true",   "residual=true"});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->hidden_layers, 3);
  EXPECT_EQ(config->width, 64);
  EXPECT_EQ(config->activation, kernels::Activation::kGelu);
  EXPECT_EQ(config->lr, 0.05);
  EXPECT_EQ(config->batch_size, 32);
  EXPECT_EQ(config->epochs, 2);
  EXPECT_EQ(config->weight_decay, 1e-4);
  EXPECT_EQ(config->optimizer, OptimizerKind::kSgd);
  EXPECT_EQ(config->momentum, 0.5);
  EXPECT_EQ(config->seed, 123456789012u);
  EXPECT_EQ(config->precision, Precision::kBf16);
  EXPECT_EQ(config->schedule, ScheduleKind::kWarmupCosine);
  EXPECT_EQ(config->warmup_fraction, 0.1);
  EXPECT_EQ(config->grad_accum, 4);
  EXPECT_TRUE(config->nesterov);
  EXPECT_EQ(config->clip_norm, 1.5);
  EXPECT_EQ(config->label_smoothing, 0.1);
  EXPECT_EQ(config->dropout, 0.25);
  EXPECT_TRUE(config->layer_norm);
  EXPECT_TRUE(config->residual);
  EXPECT_TRUE(ValidateConfig(*config).ok());
  EXPECT_EQ(KnobsToString(*config),
            "model=mlp hidden_layers=3 width=64 layer_norm=true activation=gelu residual=true precision=bf16 "
            "lr=0.05 schedule=warmup_cosine warmup_fraction=0.1 batch_size=32 grad_accum=4 epochs=2 "
            "optimizer=sgd momentum=0.5 nesterov=true weight_decay=1e-04 clip_norm=1.5 label_smoothing=0.1 "
            "dropout=0.25 seed=123456789012");
}

TEST(ConfigTest, ParsesEveryArchitectureKnobAndShowsOnlyTheFamilysOwn) {
  auto cnn = ConfigFromArgs(std::vector<std::string>{
      "model=cnn", "stages=3", "stage1_channels=16", "stage2_channels=24", "stage3_channels=40",
      "stage4_channels=80", "blocks=2", "kernel_size=5", "downsample=stride", "batch_norm=false",
      "pooling=global_avg", "depthwise=true", "residual=true", "activation=silu", "hidden_layers=4"});
  ASSERT_TRUE(cnn.ok()) << cnn.status().ToString();
  EXPECT_EQ(cnn->model, ModelKind::kCnn);
  EXPECT_EQ(cnn->stages, 3);
  EXPECT_EQ(cnn->stage_channels, (std::array<int64_t, 4>{16, 24, 40, 80}));
  EXPECT_EQ(cnn->blocks, 2);
  EXPECT_EQ(cnn->kernel_size, 5);
  EXPECT_TRUE(cnn->stride_downsample);
  EXPECT_FALSE(cnn->batch_norm);
  EXPECT_TRUE(cnn->global_pool);
  EXPECT_TRUE(cnn->depthwise);
  EXPECT_TRUE(ValidateConfig(*cnn).ok());
  // hidden_layers and stage4_channels do not count for a 3-stage cnn: the log leaves them out.
  EXPECT_EQ(
      KnobsToString(*cnn).rfind(
          "model=cnn activation=silu residual=true stage1_channels=16 stages=3 stage2_channels=24 "
          "stage3_channels=40 blocks=2 kernel_size=5 downsample=stride batch_norm=false pooling=global_avg "
          "depthwise=true "
          "precision=fp32 ",
          0),
      0u);

  auto lm = ConfigFromArgs(std::vector<std::string>{
      "model=lm", "d_model=96", "layers=3", "heads=6", "kv_heads=2", "attention=sliding_window", "window=32",
      "position=rope", "norm=rmsnorm", "norm_position=post", "mlp_ratio=2.5", "ffn=swiglu", "seq_len=64",
      "patch_size=7"});
  ASSERT_TRUE(lm.ok()) << lm.status().ToString();
  EXPECT_EQ(lm->model, ModelKind::kLm);
  EXPECT_EQ(lm->d_model, 96);
  EXPECT_EQ(lm->layers, 3);
  EXPECT_EQ(lm->heads, 6);
  EXPECT_EQ(lm->kv_heads, 2);
  EXPECT_TRUE(lm->sliding_window);
  EXPECT_EQ(lm->window, 32);
  EXPECT_EQ(lm->position, PositionKind::kRope);
  EXPECT_EQ(lm->norm, NormKind::kRmsNorm);
  EXPECT_TRUE(lm->post_norm);
  EXPECT_EQ(lm->mlp_ratio, 2.5);
  EXPECT_EQ(lm->ffn, FfnKind::kSwiGlu);
  EXPECT_EQ(lm->seq_len, 64);
  EXPECT_TRUE(ValidateConfig(*lm).ok());
  EXPECT_EQ(
      KnobsToString(*lm).rfind(
          "model=lm d_model=96 layers=3 heads=6 kv_heads=2 attention=sliding_window window=32 position=rope "
          "norm=rmsnorm norm_position=post mlp_ratio=2.5 ffn=swiglu seq_len=64 precision=fp32 ",
          0),
      0u);
}

TEST(ConfigTest, RefusesTransformerShapesThatDoNotDivide) {
  const auto check = [](std::vector<std::string> args, const std::string& message) {
    auto config = ConfigFromArgs(args);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    const Status s = ValidateConfig(*config);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << message;
    EXPECT_EQ(s.message(), message);
  };
  check({"model=vit", "d_model=100", "heads=3"}, "d_model 100 and heads 3: heads must divide d_model");
  check({"model=lm", "heads=4", "kv_heads=3"},
        "heads 4 and kv_heads 3: kv_heads must divide heads (0: as many as heads)");
  check({"model=lm", "d_model=36", "heads=4", "position=rope"},
        "d_model 36 and heads 4: rope needs an even head size (d_model / heads)");
  // The same shapes are no concern of a family without attention.
  auto mlp = ConfigFromArgs(std::vector<std::string>{"d_model=100", "heads=3"});
  ASSERT_TRUE(mlp.ok());
  EXPECT_TRUE(ValidateConfig(*mlp).ok());
}

TEST(ConfigTest, DefaultsEqualTheCatalog) {
  const TrainConfig defaults;
  EXPECT_TRUE(ValidateConfig(defaults).ok());
  for (const Knob& knob : Knobs()) {
    TrainConfig from_catalog;
    ASSERT_TRUE(SetKnob(from_catalog, knob.name, knob.default_value).ok()) << knob.name;
    EXPECT_EQ(*GetKnob(from_catalog, knob.name), *GetKnob(defaults, knob.name)) << knob.name;
  }
  auto empty = ConfigFromArgs(std::vector<std::string>{});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(KnobsToString(*empty), KnobsToString(defaults));
}

TEST(ConfigTest, UnknownKnobIsNamed) {
  ExpectRejected({"learning_rate=0.1"}, "unknown knob 'learning_rate'");
  EXPECT_EQ(GetKnob(TrainConfig{}, "drop_rate").status().code(), StatusCode::kInvalidArgument);
}

TEST(ConfigTest, OutOfRangeIsNamedWithTheRange) {
  ExpectRejected({"width=5000"}, "knob 'width': 5000 is out of range [8, 4096]");
  ExpectRejected({"hidden_layers=0"}, "knob 'hidden_layers'");
  ExpectRejected({"lr=11"}, "knob 'lr': 11 is out of range [1e-06, 10]");
  ExpectRejected({"momentum=1"}, "knob 'momentum'");
  ExpectRejected({"seed=-1"}, "knob 'seed'");
  ExpectRejected({"weight_decay=-0.1"}, "knob 'weight_decay'");
}

TEST(ConfigTest, WrongTypeIsNamed) {
  ExpectRejected({"width=64.5"}, "knob 'width': 64.5 is not an integer");
  ExpectRejected({"epochs=three"}, "knob 'epochs': 'three' is not an integer");
  ExpectRejected({"lr=fast"}, "knob 'lr': 'fast' is not a number");
  ExpectRejected({"activation=swish"}, "knob 'activation': 'swish' is not one of relu, gelu, tanh");
  ExpectRejected({"optimizer=1"}, "knob 'optimizer'");
  ExpectRejected({"batch_size="}, "knob 'batch_size'");
}

TEST(ConfigTest, MalformedAssignments) {
  ExpectRejected({"width"}, "expected knob=value");
  ExpectRejected({"width=64", "width=128"}, "knob 'width' is given twice");
}

TEST(ConfigTest, ValidateCatchesProgrammaticConfigs) {
  TrainConfig config;
  config.width = 3;
  EXPECT_NE(ValidateConfig(config).message().find("knob 'width'"), std::string::npos);
  config = TrainConfig{};
  config.seed = uint64_t{1} << 60;
  EXPECT_NE(ValidateConfig(config).message().find("knob 'seed'"), std::string::npos);
  config = TrainConfig{};
  config.lr = 0;
  EXPECT_NE(ValidateConfig(config).message().find("knob 'lr'"), std::string::npos);
  config = TrainConfig{};
  config.threads = 0;
  EXPECT_NE(ValidateConfig(config).message().find("threads"), std::string::npos);
  config = TrainConfig{};
  config.train_limit = -5;
  EXPECT_NE(ValidateConfig(config).message().find("train_limit"), std::string::npos);
}

}  // namespace
}  // namespace hpo::trainer
