#include "trainer/knobs.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <system_error>

#include "base/strings.h"

namespace hpo::trainer {
namespace {

constexpr std::string_view kModels[] = {"mlp", "cnn", "vit", "lm"};
constexpr std::string_view kActivations[] = {"relu", "gelu", "tanh", "silu"};
constexpr std::string_view kPrecisions[] = {"fp32", "fp16", "bf16"};
constexpr std::string_view kSchedules[] = {"constant", "cosine", "warmup_cosine"};
constexpr std::string_view kOptimizers[] = {"sgd", "adamw"};
constexpr std::string_view kBooleans[] = {"false", "true"};
constexpr std::string_view kStages[] = {"1", "2", "3", "4"};
constexpr std::string_view kKernelSizes[] = {"3", "5"};
constexpr std::string_view kDownsamples[] = {"maxpool", "stride"};
constexpr std::string_view kPoolings[] = {"flatten", "global_avg"};
constexpr std::string_view kAttentions[] = {"full", "sliding_window"};
constexpr std::string_view kPositions[] = {"learned", "sinusoidal", "rope", "alibi"};
constexpr std::string_view kNorms[] = {"layernorm", "rmsnorm"};
constexpr std::string_view kNormPositions[] = {"pre", "post"};
constexpr std::string_view kFfns[] = {"gelu", "swiglu"};
constexpr double kMaxSeed = 9007199254740992.0;  // 2^53: every integer up to here is exact in a double

constexpr Knob Int(std::string_view name, double min, double max, std::string_view def, bool log,
                   std::string_view help) {
  return Knob{name, KnobType::kInt, min, max, def, {}, log, help};
}
constexpr Knob Float(std::string_view name, double min, double max, std::string_view def, bool log,
                     std::string_view help) {
  return Knob{name, KnobType::kFloat, min, max, def, {}, log, help};
}
constexpr Knob Choice(std::string_view name, std::span<const std::string_view> choices, std::string_view def,
                      std::string_view help) {
  return Knob{name, KnobType::kCategorical, 0, 0, def, choices, false, help};
}
// `knob`, with an effect only when the categorical knob `parent` takes one of `values`.
constexpr Knob When(Knob knob, std::string_view parent, std::span<const std::string_view> values) {
  knob.when_knob = parent;
  knob.when_values = values;
  return knob;
}

constexpr std::string_view kWhenSgd[] = {"sgd"};
constexpr std::string_view kWhenWarmup[] = {"warmup_cosine"};
constexpr std::string_view kWhenMlp[] = {"mlp"};
constexpr std::string_view kWhenCnn[] = {"cnn"};
constexpr std::string_view kWhenMlpCnn[] = {"mlp", "cnn"};
constexpr std::string_view kWhenTransformer[] = {"vit", "lm"};
constexpr std::string_view kWhenVit[] = {"vit"};
constexpr std::string_view kWhenLm[] = {"lm"};
constexpr std::string_view kWhenStages2[] = {"2", "3", "4"};
constexpr std::string_view kWhenStages3[] = {"3", "4"};
constexpr std::string_view kWhenStages4[] = {"4"};
constexpr std::string_view kWhenSliding[] = {"sliding_window"};

constexpr Knob Mlp(Knob knob) { return When(knob, "model", kWhenMlp); }
constexpr Knob Cnn(Knob knob) { return When(knob, "model", kWhenCnn); }
constexpr Knob Transformer(Knob knob) { return When(knob, "model", kWhenTransformer); }

constexpr std::array<Knob, 45> kKnobs = {{
    Choice("model", kModels, "mlp",
           "model family: mlp (dense layers), cnn (convolution stages), vit (a vision transformer on image "
           "patches) or lm (a causal byte-level language model on a text file)"),
    // The MLP.
    Mlp(Int("hidden_layers", 1, 8, "2", false, "number of hidden layers of the MLP")),
    Mlp(Int("width", 8, 4096, "256", true, "units in each hidden layer of the MLP")),
    Mlp(Choice("layer_norm", kBooleans, "false", "layer normalisation before each hidden activation")),
    When(Choice("activation", kActivations, "relu",
                "hidden-layer nonlinearity of the mlp and cnn (gelu is the tanh approximation)"),
         "model", kWhenMlpCnn),
    When(Choice("residual", kBooleans, "false",
                "residual connections: around each MLP hidden layer whose input has its width, and around "
                "each CNN block (a 1x1 projection where the shape changes)"),
         "model", kWhenMlpCnn),
    // The CNN.
    Cnn(Int("stage1_channels", 4, 512, "32", true, "channels of the first stage")),
    Cnn(Choice("stages", kStages, "2",
               "convolution stages; each after the first halves the resolution (see downsample)")),
    When(Int("stage2_channels", 4, 512, "64", true, "channels of the second stage"), "stages", kWhenStages2),
    When(Int("stage3_channels", 4, 512, "128", true, "channels of the third stage"), "stages", kWhenStages3),
    When(Int("stage4_channels", 4, 1024, "256", true, "channels of the fourth stage"), "stages",
         kWhenStages4),
    Cnn(Int("blocks", 1, 4, "1", false, "convolution blocks per stage")),
    Cnn(Choice("kernel_size", kKernelSizes, "3", "convolution window, 3x3 or 5x5 (padded to keep the size)")),
    Cnn(Choice("downsample", kDownsamples, "maxpool",
               "how a stage after the first halves the resolution: a 2x2 max pool, or stride 2 in its first "
               "convolution")),
    Cnn(Choice("batch_norm", kBooleans, "true", "batch normalisation after each convolution")),
    Cnn(Choice(
        "pooling", kPoolings, "flatten",
        "the classifier's input: the last stage's output flattened, or averaged over its pixels (global "
        "average pooling: fewer parameters, no positions)")),
    Cnn(Choice("depthwise", kBooleans, "false",
               "depthwise-separable convolutions (a per-channel window, then a 1x1 convolution) after the "
               "first")),
    // The transformers.
    Transformer(Int("d_model", 8, 1024, "64", true, "width of the token representations")),
    Transformer(Int("layers", 1, 24, "4", false, "transformer blocks")),
    Transformer(Int("heads", 1, 32, "4", false, "attention heads; must divide d_model")),
    Transformer(Int("kv_heads", 0, 32, "0", false,
                    "key/value heads: 0 or heads for multi-head attention, 1 for multi-query, a divisor of "
                    "heads for grouped-query")),
    Transformer(Choice("attention", kAttentions, "full",
                       "full attention, or a sliding window of `window` positions (local attention)")),
    When(Int("window", 1, 4096, "16", true, "positions each token attends to (sliding_window only)"),
         "attention", kWhenSliding),
    Transformer(
        Choice("position", kPositions, "learned",
               "position encoding: learned or sinusoidal embeddings added to the input, rotary (RoPE) "
               "on queries and keys, or ALiBi biases on the scores")),
    Transformer(Choice("norm", kNorms, "layernorm", "normalisation: LayerNorm or RMSNorm")),
    Transformer(Choice("norm_position", kNormPositions, "pre",
                       "normalise each sub-layer's input (pre-norm) or its residual sum (post-norm)")),
    Transformer(Float("mlp_ratio", 1, 8, "4", false, "feed-forward width as a multiple of d_model")),
    Transformer(Choice("ffn", kFfns, "gelu", "feed-forward activation: GELU, or the gated SwiGLU")),
    When(Int("patch_size", 1, 32, "4", false,
             "side of the square image patches the vit embeds as tokens (pixels beyond the last whole patch "
             "are dropped)"),
         "model", kWhenVit),
    When(Int("seq_len", 8, 2048, "128", true, "context of the language model, in bytes"), "model", kWhenLm),
    // Training, for every family.
    Choice("precision", kPrecisions, "fp32",
           "training and inference number format: fp16/bf16 keep fp32 master weights and accumulate GEMMs in "
           "fp32; fp16 scales the loss dynamically"),
    Float("lr", 1e-6, 10, "0.001", true, "learning rate (the peak of the schedule)"),
    Choice("schedule", kSchedules, "constant",
           "learning-rate schedule over the optimizer steps: constant, cosine decay, or linear warm-up then "
           "cosine"),
    When(Float("warmup_fraction", 0, 0.5, "0.05", false,
               "share of the steps spent warming up (warmup_cosine only)"),
         "schedule", kWhenWarmup),
    Int("batch_size", 1, 8192, "128", true, "examples per forward/backward pass (micro-batch)"),
    Int("grad_accum", 1, 64, "1", false,
        "micro-batches whose gradients are averaged into one optimizer step (effective batch = batch_size x "
        "grad_accum)"),
    Int("epochs", 1, 1000, "5", false, "passes over the training set"),
    Choice("optimizer", kOptimizers, "adamw",
           "sgd (with momentum) or adamw (beta1 0.9, beta2 0.999, eps 1e-8)"),
    When(Float("momentum", 0, 0.999, "0.9", false, "SGD momentum (ignored by adamw)"), "optimizer", kWhenSgd),
    When(Choice("nesterov", kBooleans, "false", "Nesterov momentum for sgd (ignored by adamw)"), "optimizer",
         kWhenSgd),
    Float("weight_decay", 0, 1, "0", false,
          "weight decay on the weight matrices (not biases, norm gains or embeddings): decoupled for adamw, "
          "L2 for sgd"),
    Float("clip_norm", 0, 1000, "0", false,
          "clip the gradient to this global L2 norm before each step (0: no clipping)"),
    Float("label_smoothing", 0, 0.5, "0", false, "label smoothing of the cross-entropy targets"),
    Float("dropout", 0, 0.9, "0", false,
          "drop probability (training only): after each MLP hidden activation, before the CNN's classifier, "
          "and on each transformer sub-layer's output"),
    Int("seed", 0, kMaxSeed, "0", false,
        "seed of initialisation, shuffling and dropout; a fixed seed repeats bit for bit on the CPU"),
}};

constexpr std::array<MetricInfo, 15> kMetrics = {{
    {"accuracy", true,
     "validation accuracy after the last epoch (Fashion-MNIST: the last 10,000 training images; lm: of the "
     "next byte, per token)"},
    {"test_accuracy", true, "accuracy on the test split after the last epoch"},
    {"loss", false,
     "validation cross-entropy (mean over the validation set, per token for lm) after the last epoch"},
    {"bits_per_byte", false, "lm only: validation bits per byte (loss / ln 2) after the last epoch"},
    {"decode_ms", false,
     "lm only: p50 of one decode step (one new byte) at batch 1 with the KV cache, after a prompt of half "
     "the "
     "context, in ms"},
    {"decode_p99_ms", false, "lm only: p99 of the same decode steps, in ms"},
    {"prefill_tokens_per_s", true, "lm only: batch-1 prefill of that prompt, tokens per second"},
    {"latency_ms", false,
     "p50 wall time of one batch-1 forward pass in the trial's precision on its device (lm: of a whole "
     "context), in ms"},
    {"latency_p99_ms", false, "p99 of the same batch-1 forward passes, in ms"},
    {"throughput_sps", true,
     "batch-256 inference throughput in the trial's precision, samples (lm: sequences) per second"},
    {"params", false, "number of trainable parameters"},
    {"model_bytes", false, "bytes of the weights in the trial's precision (what inference loads)"},
    {"train_time_s", false, "wall time of the training epochs (including per-epoch validation), in s"},
    {"peak_memory_bytes", false, "most backend memory the trial held at once (device memory on a GPU)"},
    {"skipped_steps", false,
     "optimizer steps skipped because a gradient held inf or NaN (with fp16: an overflow, and the loss scale "
     "backed off)"},
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

bool Knob::ActiveWhen(std::string_view value) const {
  if (!conditional()) return true;
  for (const std::string_view v : when_values) {
    if (v == value) return true;
  }
  return false;
}

std::span<const Knob> Knobs() { return kKnobs; }

std::vector<const Knob*> Ancestors(const Knob& knob) {
  std::vector<const Knob*> chain;
  for (const Knob* k = &knob; k->conditional();) {
    const Knob* parent = FindKnob(k->when_knob);
    if (parent == nullptr || chain.size() >= kKnobs.size()) break;  // (the catalog's test rules both out)
    chain.push_back(parent);
    k = parent;
  }
  return chain;
}

bool ActiveIn(const Knob& knob, const std::function<std::string(std::string_view)>& value_of) {
  for (const Knob* k = &knob; k->conditional();) {
    const Knob* parent = FindKnob(k->when_knob);
    if (parent == nullptr || !k->ActiveWhen(value_of(parent->name))) return false;
    k = parent;
  }
  return true;
}

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

namespace {

// One line of the tree for `knob` and, under it, its children grouped by the values that activate them.
void AppendTree(const Knob& knob, int depth, std::string& out) {
  out.append(static_cast<size_t>(2 * depth), ' ');
  out += knob.name;
  out += "  ";
  out += KnobTypeName(knob.type);
  out += ' ';
  if (knob.type == KnobType::kCategorical) {
    out += '{' + ChoicesText(knob) + '}';
  } else {
    out += RangeText(knob);
    if (knob.log_scale_natural) out += " log";
  }
  out += ", default ";
  out += knob.default_value;
  out += ": ";
  out += knob.help;
  out += '\n';
  std::vector<const std::string_view*> groups;  // the distinct when_values of the children, in order
  for (const Knob& child : kKnobs) {
    if (child.when_knob != knob.name) continue;
    if (std::find(groups.begin(), groups.end(), child.when_values.data()) == groups.end())
      groups.push_back(child.when_values.data());
  }
  for (const std::string_view* group : groups) {
    bool header = false;
    for (const Knob& child : kKnobs) {
      if (child.when_knob != knob.name || child.when_values.data() != group) continue;
      if (!header) {
        out.append(static_cast<size_t>(2 * depth + 2), ' ');
        out += "when ";
        out += knob.name;
        out += " = ";
        for (size_t v = 0; v < child.when_values.size(); ++v) {
          if (v > 0) out += ", ";
          out += child.when_values[v];
        }
        out += ":\n";
        header = true;
      }
      AppendTree(child, depth + 2, out);
    }
  }
}

}  // namespace

std::string CatalogTree() {
  std::string out;
  for (const Knob& knob : kKnobs) {
    if (!knob.conditional()) AppendTree(knob, 0, out);
  }
  return out;
}

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
    out += ",\"help\":" + JsonQuote(knob.help);
    if (knob.conditional()) {
      out += ",\"when\":{\"knob\":" + JsonQuote(knob.when_knob) + ",\"values\":[";
      for (size_t v = 0; v < knob.when_values.size(); ++v) {
        if (v > 0) out += ',';
        out += JsonQuote(knob.when_values[v]);
      }
      out += "]}";
    }
    out += '}';
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
