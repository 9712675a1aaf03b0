// Tests trainer/knobs.cc: the catalog's contents, the value checks and the JSON helpers.
#include "trainer/knobs.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace hpo::trainer {
namespace {

TEST(KnobsTest, CatalogHoldsTheKnobsInOrder) {
  std::vector<std::string> names;
  for (const Knob& knob : Knobs()) names.emplace_back(knob.name);
  EXPECT_EQ(names, (std::vector<std::string>{"model",
                                             "hidden_layers",
                                             "width",
                                             "layer_norm",
                                             "activation",
                                             "residual",
                                             "stage1_channels",
                                             "stages",
                                             "stage2_channels",
                                             "stage3_channels",
                                             "stage4_channels",
                                             "blocks",
                                             "kernel_size",
                                             "downsample",
                                             "batch_norm",
                                             "pooling",
                                             "depthwise",
                                             "d_model",
                                             "layers",
                                             "heads",
                                             "kv_heads",
                                             "attention",
                                             "window",
                                             "position",
                                             "norm",
                                             "norm_position",
                                             "mlp_ratio",
                                             "ffn",
                                             "patch_size",
                                             "seq_len",
                                             "precision",
                                             "lr",
                                             "schedule",
                                             "warmup_fraction",
                                             "batch_size",
                                             "grad_accum",
                                             "epochs",
                                             "optimizer",
                                             "momentum",
                                             "nesterov",
                                             "weight_decay",
                                             "clip_norm",
                                             "label_smoothing",
                                             "dropout",
                                             "seed"}));
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
  EXPECT_EQ(names, (std::vector<std::string>{
                       "accuracy", "test_accuracy", "loss", "bits_per_byte", "decode_ms", "decode_p99_ms",
                       "prefill_tokens_per_s", "latency_ms", "latency_p99_ms", "throughput_sps", "params",
                       "model_bytes", "train_time_s", "peak_memory_bytes", "skipped_steps"}));
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
    // A parent comes earlier in the catalog, so the tree has no cycle and a search space can list it first.
    EXPECT_LT(parent - Knobs().data(), &knob - Knobs().data()) << knob.name;
    for (const std::string_view value : knob.when_values) {
      EXPECT_EQ(CheckKnobText(*parent, value), "") << knob.name << " " << value;
      EXPECT_TRUE(knob.ActiveWhen(value));
    }
  }
  EXPECT_EQ(conditional.size(), 32u);
  // Every knob but model and the training knobs belongs to a family.
  for (const std::string_view name :
       {"model", "precision", "lr", "schedule", "batch_size", "grad_accum", "epochs", "optimizer",
        "weight_decay", "clip_norm", "label_smoothing", "dropout", "seed"}) {
    EXPECT_FALSE(FindKnob(name)->conditional()) << name;
  }
  EXPECT_EQ(Ancestors(*FindKnob("window")),
            (std::vector<const Knob*>{FindKnob("attention"), FindKnob("model")}));
  EXPECT_EQ(Ancestors(*FindKnob("stage3_channels")),
            (std::vector<const Knob*>{FindKnob("stages"), FindKnob("model")}));
  EXPECT_TRUE(Ancestors(*FindKnob("lr")).empty());
  const auto values = [](std::map<std::string, std::string> set) {
    return [set](std::string_view name) {
      const auto it = set.find(std::string(name));
      return it != set.end() ? it->second : std::string(FindKnob(name)->default_value);
    };
  };
  // window counts only when attention is sliding_window AND attention counts (model vit or lm).
  EXPECT_TRUE(ActiveIn(*FindKnob("window"), values({{"model", "lm"}, {"attention", "sliding_window"}})));
  EXPECT_FALSE(ActiveIn(*FindKnob("window"), values({{"model", "cnn"}, {"attention", "sliding_window"}})));
  EXPECT_FALSE(ActiveIn(*FindKnob("window"), values({{"model", "vit"}})));
  EXPECT_FALSE(ActiveIn(*FindKnob("stage2_channels"), values({{"stages", "3"}})));  // model mlp by default
  EXPECT_TRUE(ActiveIn(*FindKnob("stage2_channels"), values({{"model", "cnn"}})));  // stages 2 by default
  EXPECT_FALSE(ActiveIn(*FindKnob("stage3_channels"), values({{"model", "cnn"}})));
  EXPECT_TRUE(ActiveIn(*FindKnob("lr"), values({})));
  EXPECT_TRUE(FindKnob("momentum")->ActiveWhen("sgd"));
  EXPECT_FALSE(FindKnob("momentum")->ActiveWhen("adamw"));
  EXPECT_TRUE(FindKnob("warmup_fraction")->ActiveWhen("warmup_cosine"));
  EXPECT_FALSE(FindKnob("warmup_fraction")->ActiveWhen("cosine"));
}

TEST(KnobsTest, CatalogTreeNestsEachKnobUnderItsParent) {
  const std::string tree = CatalogTree();
  EXPECT_EQ(tree.rfind("model  categorical {mlp, cnn, vit, lm}, default mlp: ", 0), 0u) << tree;
  EXPECT_NE(
      tree.find("\n  when model = cnn:\n    stage1_channels  int [4, 512] log, default 32: channels of the "
                "first stage\n    stages  categorical {1, 2, 3, 4}, default 2: "),
      std::string::npos)
      << tree;
  EXPECT_NE(
      tree.find("\n      when stages = 3, 4:\n        stage3_channels  int [4, 512] log, default 128: "),
      std::string::npos)
      << tree;
  EXPECT_NE(
      tree.find("\n      when attention = sliding_window:\n        window  int [1, 4096] log, default 16: "),
      std::string::npos)
      << tree;
  EXPECT_NE(tree.find("\noptimizer  categorical {sgd, adamw}, default adamw: "), std::string::npos);
  EXPECT_NE(tree.find("\n  when optimizer = sgd:\n    momentum  float [0, 0.999], default 0.9: "),
            std::string::npos);
  // Every knob appears exactly once.
  for (const Knob& knob : Knobs()) {
    const std::string line_start = std::string(knob.name) + "  ";
    size_t count = 0;
    for (size_t at = tree.find(line_start); at != std::string::npos; at = tree.find(line_start, at + 1)) {
      if (at == 0 || tree[at - 1] == ' ' || tree[at - 1] == '\n') ++count;
    }
    EXPECT_EQ(count, 1u) << knob.name;
  }
}

// docs/study-spec.md has a row for every knob, with the catalog's kind and default, and no row for a knob
// the catalog lacks.
TEST(KnobsTest, TheStudySpecDocumentsEveryKnob) {
  std::ifstream in(std::string(HPO_SOURCE_DIR) + "/docs/study-spec.md");
  ASSERT_TRUE(in.good());
  std::map<std::string, std::vector<std::string>> rows;  // knob -> its cells
  bool in_table = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| knob | counts when |", 0) == 0) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (line.rfind("| ", 0) != 0) break;
    if (line.rfind("| ---", 0) == 0) continue;
    std::vector<std::string> cells;
    for (size_t at = 1; at < line.size();) {
      const size_t next = line.find(" |", at);
      if (next == std::string::npos) break;
      std::string cell = line.substr(at + 1, next - at - 1);
      cells.push_back(cell);
      at = next + 2;
    }
    ASSERT_GE(cells.size(), 6u) << line;
    std::string name = cells[0];
    if (name.size() >= 2 && name.front() == '`' && name.back() == '`') name = name.substr(1, name.size() - 2);
    rows[name] = cells;
  }
  for (const Knob& knob : Knobs()) {
    const auto row = rows.find(std::string(knob.name));
    ASSERT_NE(row, rows.end()) << knob.name << " has no row";
    EXPECT_EQ(row->second[2], KnobTypeName(knob.type)) << knob.name;
    const std::string def = row->second[4];
    std::string quoted(1, '`');  // (appends: GCC 12 warns falsely (-Wrestrict) on literal + temporary)
    quoted += knob.default_value;
    quoted += '`';
    EXPECT_TRUE(def == knob.default_value || def == quoted) << knob.name;
    EXPECT_EQ(row->second[1] == "always", !knob.conditional()) << knob.name;
    rows.erase(row);
  }
  for (const auto& [name, cells] : rows) ADD_FAILURE() << "the docs list " << name << ", which is no knob";
}

TEST(KnobsTest, CatalogJsonShape) {
  const std::string json = CatalogJson();
  EXPECT_EQ(
      json.rfind("{\"knobs\":[{\"name\":\"model\",\"type\":\"categorical\",\"choices\":[\"mlp\",\"cnn\","
                 "\"vit\",\"lm\"],\"default\":\"mlp\",",
                 0),
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
