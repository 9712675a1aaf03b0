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
  EXPECT_EQ(
      KnobsToString(*config),
      "hidden_layers=3 width=64 activation=gelu precision=bf16 lr=0.05 schedule=warmup_cosine "
      "warmup_fraction=0.1 batch_size=32 grad_accum=4 epochs=2 optimizer=sgd momentum=0.5 nesterov=true "
      "weight_decay=1e-04 clip_norm=1.5 label_smoothing=0.1 dropout=0.25 layer_norm=true residual=true "
      "seed=123456789012");
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
