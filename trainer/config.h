// Parsing and validation of a TrainConfig's knobs from text ("name=value"), against the catalog of
// trainer/knobs.h. Error messages name the knob and, for a bad value, what the knob accepts.
//
// Stateless functions: thread-safe.
#ifndef HPO_TRAINER_CONFIG_H_
#define HPO_TRAINER_CONFIG_H_

#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "trainer/train.h"

namespace hpo::trainer {

// Sets knob `name` of *config from `value`. INVALID_ARGUMENT "unknown knob 'x'" for a name not in the
// catalog; otherwise the catalog's message for a value that is not a number, not an integer (integers may
// be written "64" or "64.0"), out of range, or not one of the choices.
Status SetKnob(TrainConfig& config, std::string_view name, std::string_view value);

// The knob's current value in *config as text that SetKnob accepts. INVALID_ARGUMENT for an unknown knob.
Result<std::string> GetKnob(const TrainConfig& config, std::string_view name);

// A default TrainConfig with the "name=value" assignments applied in order. INVALID_ARGUMENT for an
// assignment without '=', a knob given twice, or any SetKnob error.
Result<TrainConfig> ConfigFromArgs(std::span<const std::string> assignments);

// Checks every knob of `config` against the catalog, the constraints between knobs of the transformers
// (heads divide d_model, kv_heads divide heads, rope needs an even head size) and the run settings
// (1 <= threads <= 1024, train_limit >= 0). INVALID_ARGUMENT naming the first offender.
Status ValidateConfig(const TrainConfig& config);

// "model=mlp hidden_layers=2 width=256 ..." in catalog order, for logs: the knobs that count for this
// configuration (a cnn's shows no hidden_layers, an adamw run no momentum).
std::string KnobsToString(const TrainConfig& config);

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_CONFIG_H_
