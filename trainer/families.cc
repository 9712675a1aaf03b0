#include "trainer/families.h"

#include <array>
#include <cstddef>

namespace hpo::trainer {
namespace {

constexpr std::array<std::string_view, 4> kModelNames = {"mlp", "cnn", "vit", "lm"};
constexpr std::array<std::string_view, 4> kPositionNames = {"learned", "sinusoidal", "rope", "alibi"};
constexpr std::array<std::string_view, 2> kNormNames = {"layernorm", "rmsnorm"};
constexpr std::array<std::string_view, 2> kFfnNames = {"gelu", "swiglu"};

template <typename Enum, size_t N>
Enum Parse(const std::array<std::string_view, N>& names, std::string_view text) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == text) return static_cast<Enum>(i);
  }
  return static_cast<Enum>(0);
}

template <typename Enum, size_t N>
std::string_view Name(const std::array<std::string_view, N>& names, Enum value) {
  const auto i = static_cast<size_t>(value);
  return i < N ? names[i] : "?";
}

}  // namespace

std::string_view ModelKindName(ModelKind kind) { return Name(kModelNames, kind); }
std::string_view PositionKindName(PositionKind kind) { return Name(kPositionNames, kind); }
std::string_view NormKindName(NormKind kind) { return Name(kNormNames, kind); }
std::string_view FfnKindName(FfnKind kind) { return Name(kFfnNames, kind); }

ModelKind ParseModelKind(std::string_view text) { return Parse<ModelKind>(kModelNames, text); }
PositionKind ParsePositionKind(std::string_view text) { return Parse<PositionKind>(kPositionNames, text); }
NormKind ParseNormKind(std::string_view text) { return Parse<NormKind>(kNormNames, text); }
FfnKind ParseFfnKind(std::string_view text) { return Parse<FfnKind>(kFfnNames, text); }

}  // namespace hpo::trainer
