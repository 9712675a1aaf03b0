// The model families of the builtin trainer and the categorical choices of their architecture knobs
// (trainer/knobs.h), as enums with the knob's text for each value. Plain enums and pure functions:
// thread-safe.
#ifndef HPO_TRAINER_FAMILIES_H_
#define HPO_TRAINER_FAMILIES_H_

#include <string_view>

namespace hpo::trainer {

// The `model` knob: a dense MLP, a convolution network, a vision transformer, or a byte-level language
// model.
enum class ModelKind { kMlp, kCnn, kVit, kLm };
// The `position` knob of the transformers.
enum class PositionKind { kLearned, kSinusoidal, kRope, kAlibi };
// The `norm` knob of the transformers.
enum class NormKind { kLayerNorm, kRmsNorm };
// The `ffn` knob of the transformers: a GELU MLP, or the gated SwiGLU.
enum class FfnKind { kGelu, kSwiGlu };

// The knob's text of each value: "mlp", "cnn", "vit", "lm"; "learned", "sinusoidal", "rope", "alibi";
// "layernorm", "rmsnorm"; "gelu", "swiglu".
std::string_view ModelKindName(ModelKind kind);
std::string_view PositionKindName(PositionKind kind);
std::string_view NormKindName(NormKind kind);
std::string_view FfnKindName(FfnKind kind);

// The inverses, for text the catalog has already accepted (anything else maps to the first value).
ModelKind ParseModelKind(std::string_view text);
PositionKind ParsePositionKind(std::string_view text);
NormKind ParseNormKind(std::string_view text);
FfnKind ParseFfnKind(std::string_view text);

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_FAMILIES_H_
