#include "trainer/config.h"

#include <array>
#include <set>
#include <string>

#include "trainer/knobs.h"

namespace hpo::trainer {
namespace {

using kernels::Activation;

// How each catalog knob maps onto a TrainConfig field. `set` receives text already validated against the
// catalog and, for numeric knobs, its value.
struct Binding {
  std::string_view name;
  std::string (*get)(const TrainConfig&);
  void (*set)(TrainConfig&, std::string_view text, double number);
};

std::string Int(int64_t v) { return std::to_string(v); }
std::string Bool(bool v) { return v ? "true" : "false"; }

// The binding of a float knob stored in field F.
template <double TrainConfig::*F>
constexpr Binding FloatBinding(std::string_view name) {
  return {name, [](const TrainConfig& c) { return JsonNumber(c.*F); },
          [](TrainConfig& c, std::string_view, double v) { c.*F = v; }};
}
// The binding of a true/false knob stored in field F.
template <bool TrainConfig::*F>
constexpr Binding BoolBinding(std::string_view name) {
  return {name, [](const TrainConfig& c) { return Bool(c.*F); },
          [](TrainConfig& c, std::string_view text, double) { c.*F = text == "true"; }};
}

const std::array<Binding, 20> kBindings = {{
    {"hidden_layers", [](const TrainConfig& c) { return Int(c.hidden_layers); },
     [](TrainConfig& c, std::string_view, double v) { c.hidden_layers = static_cast<int>(v); }},
    {"width", [](const TrainConfig& c) { return Int(c.width); },
     [](TrainConfig& c, std::string_view, double v) { c.width = static_cast<int64_t>(v); }},
    {"activation", [](const TrainConfig& c) { return std::string(kernels::ActivationName(c.activation)); },
     [](TrainConfig& c, std::string_view text, double) {
       c.activation = text == "gelu"   ? Activation::kGelu
                      : text == "tanh" ? Activation::kTanh
                      : text == "silu" ? Activation::kSilu
                                       : Activation::kRelu;
     }},
    {"precision", [](const TrainConfig& c) { return std::string(PrecisionName(c.precision)); },
     [](TrainConfig& c, std::string_view text, double) {
       c.precision = text == "fp16" ? Precision::kFp16 : text == "bf16" ? Precision::kBf16 : Precision::kFp32;
     }},
    FloatBinding<&TrainConfig::lr>("lr"),
    {"schedule", [](const TrainConfig& c) { return std::string(ScheduleKindName(c.schedule)); },
     [](TrainConfig& c, std::string_view text, double) {
       c.schedule = text == "cosine"          ? ScheduleKind::kCosine
                    : text == "warmup_cosine" ? ScheduleKind::kWarmupCosine
                                              : ScheduleKind::kConstant;
     }},
    FloatBinding<&TrainConfig::warmup_fraction>("warmup_fraction"),
    {"batch_size", [](const TrainConfig& c) { return Int(c.batch_size); },
     [](TrainConfig& c, std::string_view, double v) { c.batch_size = static_cast<int64_t>(v); }},
    {"grad_accum", [](const TrainConfig& c) { return Int(c.grad_accum); },
     [](TrainConfig& c, std::string_view, double v) { c.grad_accum = static_cast<int>(v); }},
    {"epochs", [](const TrainConfig& c) { return Int(c.epochs); },
     [](TrainConfig& c, std::string_view, double v) { c.epochs = static_cast<int>(v); }},
    {"optimizer", [](const TrainConfig& c) { return std::string(OptimizerKindName(c.optimizer)); },
     [](TrainConfig& c, std::string_view text, double) {
       c.optimizer = text == "sgd" ? OptimizerKind::kSgd : OptimizerKind::kAdamW;
     }},
    FloatBinding<&TrainConfig::momentum>("momentum"),
    BoolBinding<&TrainConfig::nesterov>("nesterov"),
    FloatBinding<&TrainConfig::weight_decay>("weight_decay"),
    FloatBinding<&TrainConfig::clip_norm>("clip_norm"),
    FloatBinding<&TrainConfig::label_smoothing>("label_smoothing"),
    FloatBinding<&TrainConfig::dropout>("dropout"),
    BoolBinding<&TrainConfig::layer_norm>("layer_norm"),
    BoolBinding<&TrainConfig::residual>("residual"),
    {"seed", [](const TrainConfig& c) { return std::to_string(c.seed); },
     [](TrainConfig& c, std::string_view, double v) { c.seed = static_cast<uint64_t>(v); }},
}};

const Binding* FindBinding(std::string_view name) {
  for (const Binding& binding : kBindings) {
    if (binding.name == name) return &binding;
  }
  return nullptr;
}

Status UnknownKnob(std::string_view name) {
  return InvalidArgumentError("unknown knob '" + std::string(name) + "'");
}

}  // namespace

Status SetKnob(TrainConfig& config, std::string_view name, std::string_view value) {
  const Knob* knob = FindKnob(name);
  const Binding* binding = FindBinding(name);
  if (knob == nullptr || binding == nullptr) return UnknownKnob(name);
  double number = 0;
  std::string error = CheckKnobText(*knob, value, &number);
  if (!error.empty()) return InvalidArgumentError(std::move(error));
  binding->set(config, value, number);
  return Status::Ok();
}

Result<std::string> GetKnob(const TrainConfig& config, std::string_view name) {
  const Binding* binding = FindBinding(name);
  if (binding == nullptr) return UnknownKnob(name);
  return binding->get(config);
}

Result<TrainConfig> ConfigFromArgs(std::span<const std::string> assignments) {
  TrainConfig config;
  std::set<std::string, std::less<>> seen;
  for (const std::string& assignment : assignments) {
    const size_t eq = assignment.find('=');
    if (eq == std::string::npos) {
      return InvalidArgumentError("expected knob=value, got '" + assignment + "'");
    }
    const std::string_view name = std::string_view(assignment).substr(0, eq);
    const std::string_view value = std::string_view(assignment).substr(eq + 1);
    if (!seen.insert(std::string(name)).second) {
      return InvalidArgumentError("knob '" + std::string(name) + "' is given twice");
    }
    HPO_RETURN_IF_ERROR(SetKnob(config, name, value));
  }
  return config;
}

Status ValidateConfig(const TrainConfig& config) {
  // Above 2^53 a seed would not survive the trip through a double (and the catalog's range).
  if (config.seed > (uint64_t{1} << 53)) {
    const Knob* seed = FindKnob("seed");
    return InvalidArgumentError(CheckKnobNumber(*seed, static_cast<double>(config.seed)) + " (" +
                                std::to_string(config.seed) + ")");
  }
  for (const Knob& knob : Knobs()) {
    const Binding* binding = FindBinding(knob.name);
    if (binding == nullptr)
      return InternalError("knob '" + std::string(knob.name) + "' has no TrainConfig field");
    std::string error = CheckKnobText(knob, binding->get(config));
    if (!error.empty()) return InvalidArgumentError(std::move(error));
  }
  if (config.threads < 1 || config.threads > 1024) {
    return InvalidArgumentError("threads: " + std::to_string(config.threads) + " is out of range [1, 1024]");
  }
  if (config.train_limit < 0) {
    return InvalidArgumentError("train_limit: " + std::to_string(config.train_limit) +
                                " must be >= 0 (0: all)");
  }
  return Status::Ok();
}

std::string KnobsToString(const TrainConfig& config) {
  std::string out;
  for (const Binding& binding : kBindings) {
    if (!out.empty()) out += ' ';
    out += std::string(binding.name) + "=" + binding.get(config);
  }
  return out;
}

}  // namespace hpo::trainer
