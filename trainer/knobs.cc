#include "trainer/knobs.h"

#include <array>
#include <charconv>
#include <cmath>
#include <system_error>

#include "base/strings.h"

namespace hpo::trainer {
namespace {

constexpr std::string_view kActivations[] = {"relu", "gelu", "tanh"};
constexpr std::string_view kOptimizers[] = {"sgd", "adamw"};
constexpr double kMaxSeed = 9007199254740992.0;  // 2^53: every integer up to here is exact in a double

constexpr std::array<Knob, 10> kKnobs = {{
    {"hidden_layers", KnobType::kInt, 1, 8, "2", {}, false, "number of hidden layers of the MLP"},
    {"width", KnobType::kInt, 8, 4096, "256", {}, true, "units in each hidden layer"},
    {"activation", KnobType::kCategorical, 0, 0, "relu", kActivations, false,
     "hidden-layer nonlinearity (gelu is the tanh approximation)"},
    {"lr", KnobType::kFloat, 1e-6, 10, "0.001", {}, true, "learning rate (constant)"},
    {"batch_size", KnobType::kInt, 1, 8192, "128", {}, true, "examples per optimizer step"},
    {"epochs", KnobType::kInt, 1, 1000, "5", {}, false, "passes over the training set"},
    {"weight_decay",
     KnobType::kFloat,
     0,
     1,
     "0",
     {},
     false,
     "weight decay on the weight matrices (not biases): decoupled for adamw, L2 for sgd"},
    {"optimizer", KnobType::kCategorical, 0, 0, "adamw", kOptimizers, false,
     "sgd (with momentum) or adamw (beta1 0.9, beta2 0.999, eps 1e-8)"},
    {"momentum", KnobType::kFloat, 0, 0.999, "0.9", {}, false, "SGD momentum (ignored by adamw)"},
    {"seed",
     KnobType::kInt,
     0,
     kMaxSeed,
     "0",
     {},
     false,
     "seed of initialisation and shuffling; a fixed seed repeats bit for bit on the CPU"},
}};

constexpr std::array<MetricInfo, 6> kMetrics = {{
    {"accuracy", true, "validation accuracy (last 10,000 training images) after the last epoch"},
    {"test_accuracy", true, "accuracy on the 10,000 test images after the last epoch"},
    {"loss", false, "validation cross-entropy (mean over the validation set) after the last epoch"},
    {"latency_ms", false, "p50 wall time of one batch-1 forward pass on the trial's device, in ms"},
    {"params", false, "number of trainable parameters"},
    {"train_time_s", false, "wall time of the training epochs (including per-epoch validation), in s"},
}};

// (Appends rather than "'" + std::string: GCC 12 warns falsely (-Wrestrict) on literal + temporary.)
std::string Quoted(std::string_view text) {
  std::string out(1, '\'');
  out += text;
  out += '\'';
  return out;
}

std::string Prefix(const Knob& knob) { return "knob " + Quoted(knob.name) + ": "; }

std::string RangeText(const Knob& knob) {
  std::string out(1, '[');
  out += JsonNumber(knob.min);
  out += ", ";
  out += JsonNumber(knob.max);
  out += ']';
  return out;
}

std::string ChoicesText(const Knob& knob) {
  std::string out;
  for (size_t i = 0; i < knob.choices.size(); ++i) {
    if (i > 0) out += ", ";
    out += knob.choices[i];
  }
  return out;
}

}  // namespace

std::string_view KnobTypeName(KnobType type) {
  switch (type) {
    case KnobType::kFloat:
      return "float";
    case KnobType::kInt:
      return "int";
    case KnobType::kCategorical:
      return "categorical";
  }
  return "?";
}

std::span<const Knob> Knobs() { return kKnobs; }

const Knob* FindKnob(std::string_view name) {
  for (const Knob& knob : kKnobs) {
    if (knob.name == name) return &knob;
  }
  return nullptr;
}

std::string CheckKnobNumber(const Knob& knob, double value) {
  if (knob.type == KnobType::kCategorical) {
    return Prefix(knob) + "expects one of " + ChoicesText(knob) + ", not a number";
  }
  if (!std::isfinite(value)) return Prefix(knob) + JsonNumber(value) + " is not a finite number";
  if (knob.type == KnobType::kInt && std::trunc(value) != value) {
    return Prefix(knob) + JsonNumber(value) + " is not an integer (range " + RangeText(knob) + ")";
  }
  if (value < knob.min || value > knob.max) {
    return Prefix(knob) + JsonNumber(value) + " is out of range " + RangeText(knob);
  }
  return "";
}

std::string CheckKnobText(const Knob& knob, std::string_view text, double* number) {
  if (knob.type == KnobType::kCategorical) {
    for (std::string_view choice : knob.choices) {
      if (choice == text) return "";
    }
    return Prefix(knob) + Quoted(text) + " is not one of " + ChoicesText(knob);
  }
  double value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(begin, end, value, std::chars_format::general);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return Prefix(knob) + Quoted(text) + " is not " +
           (knob.type == KnobType::kInt ? "an integer" : "a number") + " (range " + RangeText(knob) + ")";
  }
  std::string error = CheckKnobNumber(knob, value);
  if (error.empty() && number != nullptr) *number = value;
  return error;
}

std::span<const MetricInfo> Metrics() { return kMetrics; }

const MetricInfo* FindMetric(std::string_view name) {
  for (const MetricInfo& metric : kMetrics) {
    if (metric.name == name) return &metric;
  }
  return nullptr;
}

std::string JsonNumber(double value) { return std::isfinite(value) ? FormatDouble(value) : "null"; }

std::string CatalogJson() {
  std::string out = "{\"knobs\":[";
  for (size_t i = 0; i < kKnobs.size(); ++i) {
    const Knob& knob = kKnobs[i];
    if (i > 0) out += ',';
    out += "{\"name\":" + JsonQuote(knob.name) + ",\"type\":" + JsonQuote(KnobTypeName(knob.type));
    if (knob.type == KnobType::kCategorical) {
      out += ",\"choices\":[";
      for (size_t c = 0; c < knob.choices.size(); ++c) {
        if (c > 0) out += ',';
        out += JsonQuote(knob.choices[c]);
      }
      out += "],\"default\":" + JsonQuote(knob.default_value);
    } else {
      out += ",\"min\":" + JsonNumber(knob.min) + ",\"max\":" + JsonNumber(knob.max) +
             ",\"default\":" + std::string(knob.default_value);
    }
    out += std::string(",\"log_scale_natural\":") + (knob.log_scale_natural ? "true" : "false");
    out += ",\"help\":" + JsonQuote(knob.help) + "}";
  }
  out += "],\"metrics\":[";
  for (size_t i = 0; i < kMetrics.size(); ++i) {
    const MetricInfo& metric = kMetrics[i];
    if (i > 0) out += ',';
    out += "{\"name\":" + JsonQuote(metric.name) + ",\"maximize\":" + (metric.maximize ? "true" : "false") +
           ",\"help\":" + JsonQuote(metric.help) + "}";
  }
  out += "]}";
  return out;
}

}  // namespace hpo::trainer
