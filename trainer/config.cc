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

// The binding of an integer knob stored in field F (int or int64_t).
template <typename T, T TrainConfig::*F>
constexpr Binding IntBinding(std::string_view name) {
  return {name, [](const TrainConfig& c) { return Int(static_cast<int64_t>(c.*F)); },
          [](TrainConfig& c, std::string_view, double v) { c.*F = static_cast<T>(v); }};
}
// The binding of the channels of CNN stage S (1-based).
template <size_t S>
constexpr Binding StageBinding(std::string_view name) {
  return {
      name, [](const TrainConfig& c) { return Int(c.stage_channels[S - 1]); },
      [](TrainConfig& c, std::string_view, double v) { c.stage_channels[S - 1] = static_cast<int64_t>(v); }};
}

const std::array<Binding, 45> kBindings = {{
    {"model", [](const TrainConfig& c) { return std::string(ModelKindName(c.model)); },
     [](TrainConfig& c, std::string_view text, double) { c.model = ParseModelKind(text); }},
    IntBinding<int, &TrainConfig::hidden_layers>("hidden_layers"),
    IntBinding<int64_t, &TrainConfig::width>("width"),
    BoolBinding<&TrainConfig::layer_norm>("layer_norm"),
    {"activation", [](const TrainConfig& c) { return std::string(kernels::ActivationName(c.activation)); },
     [](TrainConfig& c, std::string_view text, double) {
       c.activation = text == "gelu"   ? Activation::kGelu
                      : text == "tanh" ? Activation::kTanh
                      : text == "silu" ? Activation::kSilu
                                       : Activation::kRelu;
     }},
    BoolBinding<&TrainConfig::residual>("residual"),
    {"stages", [](const TrainConfig& c) { return Int(c.stages); },
     [](TrainConfig& c, std::string_view text, double) { c.stages = text.empty() ? 2 : text[0] - '0'; }},
    StageBinding<1>("stage1_channels"),
    StageBinding<2>("stage2_channels"),
    StageBinding<3>("stage3_channels"),
    StageBinding<4>("stage4_channels"),
    IntBinding<int, &TrainConfig::blocks>("blocks"),
    {"kernel_size", [](const TrainConfig& c) { return Int(c.kernel_size); },
     [](TrainConfig& c, std::string_view text, double) { c.kernel_size = text == "5" ? 5 : 3; }},
    {"downsample",
     [](const TrainConfig& c) { return std::string(c.stride_downsample ? "stride" : "maxpool"); },
     [](TrainConfig& c, std::string_view text, double) { c.stride_downsample = text == "stride"; }},
    BoolBinding<&TrainConfig::batch_norm>("batch_norm"),
    {"pooling", [](const TrainConfig& c) { return std::string(c.global_pool ? "global_avg" : "flatten"); },
     [](TrainConfig& c, std::string_view text, double) { c.global_pool = text == "global_avg"; }},
    BoolBinding<&TrainConfig::depthwise>("depthwise"),
    IntBinding<int64_t, &TrainConfig::d_model>("d_model"),
    IntBinding<int, &TrainConfig::layers>("layers"),
    IntBinding<int, &TrainConfig::heads>("heads"),
    IntBinding<int, &TrainConfig::kv_heads>("kv_heads"),
    {"attention",
     [](const TrainConfig& c) { return std::string(c.sliding_window ? "sliding_window" : "full"); },
     [](TrainConfig& c, std::string_view text, double) { c.sliding_window = text == "sliding_window"; }},
    IntBinding<int64_t, &TrainConfig::window>("window"),
    {"position", [](const TrainConfig& c) { return std::string(PositionKindName(c.position)); },
     [](TrainConfig& c, std::string_view text, double) { c.position = ParsePositionKind(text); }},
    {"norm", [](const TrainConfig& c) { return std::string(NormKindName(c.norm)); },
     [](TrainConfig& c, std::string_view text, double) { c.norm = ParseNormKind(text); }},
    {"norm_position", [](const TrainConfig& c) { return std::string(c.post_norm ? "post" : "pre"); },
     [](TrainConfig& c, std::string_view text, double) { c.post_norm = text == "post"; }},
    FloatBinding<&TrainConfig::mlp_ratio>("mlp_ratio"),
    {"ffn", [](const TrainConfig& c) { return std::string(FfnKindName(c.ffn)); },
     [](TrainConfig& c, std::string_view text, double) { c.ffn = ParseFfnKind(text); }},
    IntBinding<int64_t, &TrainConfig::patch_size>("patch_size"),
    IntBinding<int64_t, &TrainConfig::seq_len>("seq_len"),
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
    IntBinding<int64_t, &TrainConfig::batch_size>("batch_size"),
    IntBinding<int, &TrainConfig::grad_accum>("grad_accum"),
    IntBinding<int, &TrainConfig::epochs>("epochs"),
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

// The constraints between knobs that the catalog's ranges cannot say.
Status ValidateArchitecture(const TrainConfig& config) {
  if (config.model != ModelKind::kVit && config.model != ModelKind::kLm) return Status::Ok();
  const auto knobs = [](std::string_view a, int64_t va, std::string_view b, int64_t vb) {
    return std::string(a) + " " + std::to_string(va) + " and " + std::string(b) + " " + std::to_string(vb);
  };
  if (config.d_model % config.heads != 0) {
    return InvalidArgumentError(knobs("d_model", config.d_model, "heads", config.heads) +
                                ": heads must divide d_model");
  }
  if (config.kv_heads != 0 && config.heads % config.kv_heads != 0) {
    return InvalidArgumentError(knobs("heads", config.heads, "kv_heads", config.kv_heads) +
                                ": kv_heads must divide heads (0: as many as heads)");
  }
  if (config.position == PositionKind::kRope && (config.d_model / config.heads) % 2 != 0) {
    return InvalidArgumentError(knobs("d_model", config.d_model, "heads", config.heads) +
                                ": rope needs an even head size (d_model / heads)");
  }
  return Status::Ok();
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
  HPO_RETURN_IF_ERROR(ValidateArchitecture(config));
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
  const auto value_of = [&config](std::string_view name) {
    const Binding* binding = FindBinding(name);
    return binding == nullptr ? std::string() : binding->get(config);
  };
  std::string out;
  for (const Knob& knob : Knobs()) {
    if (!ActiveIn(knob, value_of)) continue;
    if (!out.empty()) out += ' ';
    out += std::string(knob.name) + "=" + value_of(knob.name);
  }
  return out;
}

}  // namespace hpo::trainer
