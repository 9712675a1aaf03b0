// Tests trainer/knobs.cc: the catalog's contents, the value checks and the JSON helpers.
#include "trainer/knobs.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace hpo::trainer {
namespace {

TEST(KnobsTest, CatalogHoldsTheKnobsInOrder) {
  std::vector<std::string> names;
  for (const Knob& knob : Knobs()) names.emplace_back(knob.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "hidden_layers",   "width",           "activation", "precision",    "lr",
                       "schedule",        "warmup_fraction", "batch_size", "grad_accum",   "epochs",
                       "optimizer",       "momentum",        "nesterov",   "weight_decay", "clip_norm",
                       "label_smoothing", "dropout",         "layer_norm", "residual",     "seed"}));
}

TEST(KnobsTest, RangesAndDefaults) {
  const Knob* layers = FindKnob("hidden_layers");
  ASSERT_NE(layers, nullptr);
  EXPECT_EQ(layers->type, KnobType::kInt);
  EXPECT_EQ(layers->min, 1);
  EXPECT_EQ(layers->max, 8);
  EXPECT_EQ(layers->default_value, "2");
  const Knob* lr = FindKnob("lr");
  ASSERT_NE(lr, nullptr);
  EXPECT_EQ(lr->type, KnobType::kFloat);
  EXPECT_TRUE(lr->log_scale_natural);
  EXPECT_GT(lr->min, 0);
  EXPECT_EQ(lr->max, 10);
  const Knob* activation = FindKnob("activation");
  ASSERT_NE(activation, nullptr);
  EXPECT_EQ(activation->type, KnobType::kCategorical);
  ASSERT_EQ(activation->choices.size(), 4u);
  EXPECT_EQ(activation->choices[1], "gelu");
  EXPECT_EQ(activation->choices[3], "silu");
  const Knob* precision = FindKnob("precision");
  ASSERT_NE(precision, nullptr);
  ASSERT_EQ(precision->choices.size(), 3u);
  EXPECT_EQ(precision->default_value, "fp32");
  EXPECT_EQ(CheckKnobText(*precision, "bf16"), "");
  EXPECT_EQ(CheckKnobText(*precision, "fp8"), "knob 'precision': 'fp8' is not one of fp32, fp16, bf16");
  EXPECT_EQ(CheckKnobText(*FindKnob("layer_norm"), "yes"),
            "knob 'layer_norm': 'yes' is not one of false, true");
  EXPECT_EQ(CheckKnobText(*FindKnob("dropout"), "0.95"), "knob 'dropout': 0.95 is out of range [0, 0.9]");
  EXPECT_EQ(CheckKnobText(*FindKnob("grad_accum"), "2.5"),
            "knob 'grad_accum': 2.5 is not an integer (range [1, 64])");
  EXPECT_EQ(FindKnob("seed")->max, 9007199254740992.0);
  EXPECT_LT(FindKnob("momentum")->max, 1.0);
  EXPECT_EQ(FindKnob("nope"), nullptr);
}

TEST(KnobsTest, EveryDefaultIsValid) {
  for (const Knob& knob : Knobs()) {
    EXPECT_EQ(CheckKnobText(knob, knob.default_value), "") << knob.name;
    EXPECT_FALSE(knob.help.empty()) << knob.name;
    if (knob.type == KnobType::kCategorical) {
      EXPECT_FALSE(knob.choices.empty()) << knob.name;
    } else {
      EXPECT_LT(knob.min, knob.max) << knob.name;
      EXPECT_TRUE(knob.choices.empty()) << knob.name;
      // A log scale needs a positive range.
      if (knob.log_scale_natural) {
        EXPECT_GT(knob.min, 0) << knob.name;
      }
    }
  }
}

TEST(KnobsTest, CheckKnobTextAcceptsAndRejects) {
  const Knob& width = *FindKnob("width");
  double value = 0;
  EXPECT_EQ(CheckKnobText(width, "64", &value), "");
  EXPECT_EQ(value, 64);
  EXPECT_EQ(CheckKnobText(width, "64.0", &value), "");
  EXPECT_EQ(value, 64);
  EXPECT_EQ(CheckKnobText(width, "6.4e1", &value), "");
  EXPECT_EQ(CheckKnobText(width, "64.5"), "knob 'width': 64.5 is not an integer (range [8, 4096])");
  EXPECT_EQ(CheckKnobText(width, "4"), "knob 'width': 4 is out of range [8, 4096]");
  EXPECT_EQ(CheckKnobText(width, "wide"), "knob 'width': 'wide' is not an integer (range [8, 4096])");
  EXPECT_NE(CheckKnobText(width, ""), "");
  EXPECT_NE(CheckKnobText(width, "64 "), "");
  EXPECT_NE(CheckKnobText(width, "nan"), "");
  EXPECT_NE(CheckKnobText(width, "inf"), "");
  const Knob& lr = *FindKnob("lr");
  EXPECT_EQ(CheckKnobText(lr, "1e-3", &value), "");
  EXPECT_EQ(value, 1e-3);
  EXPECT_EQ(CheckKnobText(lr, "20"), "knob 'lr': 20 is out of range [1e-06, 10]");
  EXPECT_NE(CheckKnobText(lr, "0"), "");
  const Knob& optimizer = *FindKnob("optimizer");
  EXPECT_EQ(CheckKnobText(optimizer, "sgd"), "");
  EXPECT_EQ(CheckKnobText(optimizer, "adam"), "knob 'optimizer': 'adam' is not one of sgd, adamw");
  EXPECT_NE(CheckKnobNumber(optimizer, 1.0), "");
  EXPECT_EQ(CheckKnobNumber(*FindKnob("seed"), 9007199254740992.0), "");
  EXPECT_NE(CheckKnobNumber(*FindKnob("seed"), 9007199254740994.0), "");
  EXPECT_NE(CheckKnobNumber(*FindKnob("seed"), -1), "");
}

TEST(KnobsTest, Metrics) {
  std::vector<std::string> names;
  for (const MetricInfo& metric : Metrics()) names.emplace_back(metric.name);
  EXPECT_EQ(names, (std::vector<std::string>{"accuracy", "test_accuracy", "loss", "latency_ms",
                                             "latency_p99_ms", "throughput_sps", "params", "model_bytes",
                                             "train_time_s", "peak_memory_bytes", "skipped_steps"}));
  EXPECT_TRUE(FindMetric("throughput_sps")->maximize);
  EXPECT_FALSE(FindMetric("latency_p99_ms")->maximize);
  EXPECT_TRUE(FindMetric("accuracy")->maximize);
  EXPECT_TRUE(FindMetric("test_accuracy")->maximize);
  EXPECT_FALSE(FindMetric("loss")->maximize);
  EXPECT_FALSE(FindMetric("latency_ms")->maximize);
  EXPECT_FALSE(FindMetric("params")->maximize);
  EXPECT_FALSE(FindMetric("train_time_s")->maximize);
  EXPECT_EQ(FindMetric("f1"), nullptr);
}

TEST(KnobsTest, JsonQuoteEscapes) {
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonQuote("tab\tnl\ncr\r"), "\"tab\\tnl\\ncr\\r\"");
  EXPECT_EQ(JsonQuote(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(JsonQuote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");  // UTF-8 passes through
}

TEST(KnobsTest, JsonNumberRoundTrips) {
  for (double v : {0.0, 1.0, -2.5, 0.1, 1e-6, 0.8587, 123456789.125, 9007199254740992.0, 1.0 / 3.0}) {
    const std::string text = JsonNumber(v);
    double back = 0;
    std::from_chars(text.data(), text.data() + text.size(), back);
    EXPECT_EQ(back, v) << text;
  }
  EXPECT_EQ(JsonNumber(0.5), "0.5");
  EXPECT_EQ(JsonNumber(std::numeric_limits<double>::quiet_NaN()), "null");
  EXPECT_EQ(JsonNumber(std::numeric_limits<double>::infinity()), "null");
}

TEST(KnobsTest, ConditionalKnobsNameTheirParentAndWhereTheyCount) {
  std::vector<std::string_view> conditional;
  for (const Knob& knob : Knobs()) {
    if (!knob.conditional()) {
      EXPECT_TRUE(knob.ActiveWhen("anything")) << knob.name;
      continue;
    }
    conditional.push_back(knob.name);
    const Knob* parent = FindKnob(knob.when_knob);
    ASSERT_NE(parent, nullptr) << knob.name;
    EXPECT_EQ(parent->type, KnobType::kCategorical) << knob.name;
    EXPECT_FALSE(parent->conditional()) << knob.name << ": the tree has depth one";
    for (const std::string_view value : knob.when_values) {
      EXPECT_EQ(CheckKnobText(*parent, value), "") << knob.name << " " << value;
      EXPECT_TRUE(knob.ActiveWhen(value));
    }
  }
  EXPECT_EQ(conditional, (std::vector<std::string_view>{"warmup_fraction", "momentum", "nesterov"}));
  EXPECT_TRUE(FindKnob("momentum")->ActiveWhen("sgd"));
  EXPECT_FALSE(FindKnob("momentum")->ActiveWhen("adamw"));
  EXPECT_TRUE(FindKnob("warmup_fraction")->ActiveWhen("warmup_cosine"));
  EXPECT_FALSE(FindKnob("warmup_fraction")->ActiveWhen("cosine"));
}

TEST(KnobsTest, CatalogJsonShape) {
  const std::string json = CatalogJson();
  EXPECT_EQ(
      json.rfind(
          "{\"knobs\":[{\"name\":\"hidden_layers\",\"type\":\"int\",\"min\":1,\"max\":8,\"default\":2,", 0),
      0u)
      << json;
  EXPECT_NE(json.find("{\"name\":\"activation\",\"type\":\"categorical\",\"choices\":[\"relu\",\"gelu\","
                      "\"tanh\",\"silu\"],"
                      "\"default\":\"relu\",\"log_scale_natural\":false,"),
            std::string::npos);
  EXPECT_NE(json.find("\"help\":\"SGD momentum (ignored by adamw)\",\"when\":{\"knob\":\"optimizer\","
                      "\"values\":[\"sgd\"]}}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"metrics\":[{\"name\":\"accuracy\",\"maximize\":true,"), std::string::npos);
  EXPECT_EQ(json.back(), '}');
  // Brackets and braces balance outside strings.
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') ++i;
      if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
    ASSERT_GE(depth, 0);
  }
  EXPECT_EQ(depth, 0);
  EXPECT_FALSE(in_string);
}

}  // namespace
}  // namespace hpo::trainer
