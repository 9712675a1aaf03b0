// The knob catalog of the builtin trainer (hpo-train): every training parameter a study may search, with
// its type, range, default and help, and the metrics a trial reports. Plain data plus the checks that
// say whether a value fits, so that the coordinator (which links this library to validate studies) and
// hpo-train word their errors alike.
//
// Depends on the standard library and hpo_base. Everything here is immutable static data or a pure
// function: thread-safe. The returned spans and pointers refer to static storage and never dangle.
#ifndef HPO_TRAINER_KNOBS_H_
#define HPO_TRAINER_KNOBS_H_

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/strings.h"

namespace hpo::trainer {

enum class KnobType { kFloat, kInt, kCategorical };

// "float", "int", "categorical".
std::string_view KnobTypeName(KnobType type);

struct Knob {
  std::string_view name;
  KnobType type;
  // kFloat and kInt: the closed range [min, max] of allowed values. Unused for kCategorical.
  double min;
  double max;
  // The value used when a study does not set the knob, as text ("0.001", "relu").
  std::string_view default_value;
  // kCategorical: the allowed values. Empty otherwise.
  std::span<const std::string_view> choices;
  // True when a search over this knob is naturally done on a log scale (lr, width, batch_size).
  bool log_scale_natural;
  std::string_view help;
  // A conditional knob has an effect only when the categorical knob `when_knob` takes one of `when_values`
  // (momentum only with optimizer sgd) and that knob itself has an effect; "" and empty for a knob that
  // always has one. The catalog is a tree: a parent comes before its children and may itself be
  // conditional (window under attention under model); ActiveIn walks the chain.
  std::string_view when_knob = {};
  std::span<const std::string_view> when_values = {};

  bool conditional() const { return !when_knob.empty(); }
  // Whether the knob has an effect when its parent takes `value` (always true when unconditional).
  bool ActiveWhen(std::string_view value) const;
};

// All knobs, in a fixed order (the catalog's): model; the MLP's, the CNN's and the transformers'
// knobs; then those of training, which every family has. A parent always precedes its children.
std::span<const Knob> Knobs();

// The knob called `name`, or nullptr.
const Knob* FindKnob(std::string_view name);

// Whether `knob` has an effect when every knob's value is what `value_of(name)` returns (the catalog's
// default text where the caller has none): its parent, and the parent's parent up the tree, take values
// that activate them.
bool ActiveIn(const Knob& knob, const std::function<std::string(std::string_view)>& value_of);

// The chain of (parent, values) conditions of `knob` from its parent up to the root, nearest first; empty
// for an unconditional knob.
std::vector<const Knob*> Ancestors(const Knob& knob);

// The catalog as an indented tree for people (hpo-train --list-knobs): each knob with its type, range or
// choices and default, its children under it after "when <parent> = <values>:".
std::string CatalogTree();

// Returns "" when `value` is allowed for the numeric knob `knob` (in range; integral for kInt), otherwise
// a message naming the knob and its range, e.g. "knob 'lr': 20 is out of range [1e-06, 10]".
std::string CheckKnobNumber(const Knob& knob, double value);

// Returns "" when `text` is a valid value of `knob`, otherwise a message naming the knob and what it
// accepts. Numbers are decimal or scientific ("64", "64.0", "1e-3"); an integer knob accepts integral
// values only ("64.0" yes, "64.5" no). When valid and `number` is not null, a numeric knob's value is
// stored in *number.
std::string CheckKnobText(const Knob& knob, std::string_view text, double* number = nullptr);

struct MetricInfo {
  std::string_view name;
  bool maximize;
  std::string_view help;
};

// All metrics a builtin trial reports: accuracy, test_accuracy, loss, the language model's bits_per_byte,
// decode_ms, decode_p99_ms and prefill_tokens_per_s, latency_ms, latency_p99_ms, throughput_sps, params,
// model_bytes, train_time_s, peak_memory_bytes, skipped_steps.
std::span<const MetricInfo> Metrics();

// The metric called `name`, or nullptr.
const MetricInfo* FindMetric(std::string_view name);

// The catalog as one JSON document: {"knobs":[{"name":..,"type":..,"min":..,"max":..,"default":..,
// "choices":[..],"log_scale_natural":..,"help":..,"when":{"knob":..,"values":[..]}},..],
// "metrics":[{"name":..,"maximize":..,"help":..},..]}. Numeric knobs carry min/max and a numeric default;
// categorical ones choices and a string default; conditional ones "when".
std::string CatalogJson();

// JSON helpers shared with the trainer's metrics line: a quoted, escaped string literal (the one of
// base/strings.h); the shortest text that reads back as exactly `value` (hpo::FormatDouble, e.g. "0.001",
// "1e-06"), or "null" for a non-finite value, which JSON cannot hold.
using ::hpo::JsonQuote;
std::string JsonNumber(double value);

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_KNOBS_H_
