// The configs of hpo's model families as bench/trainer/torch_models.py reads them: one JSON object per
// model, with the C++ structs' field names (see that file's docstring), so that the PyTorch twin of a
// model is built from the very config our side was. Used by the bench's arch section and by
// tests/trainer/torch_parity_test.cc. Pure functions; thread-safe.
#ifndef HPO_BENCH_TRAINER_TORCH_MODELS_H_
#define HPO_BENCH_TRAINER_TORCH_MODELS_H_

#include <sstream>
#include <string>

#include "kernels/backend.h"
#include "trainer/cnn.h"
#include "trainer/lm.h"
#include "trainer/mlp.h"
#include "trainer/vit.h"

namespace hpo::bench {

namespace torch_models_internal {

inline const char* Bool(bool b) { return b ? "true" : "false"; }

// The transformer's fields and the position, without the braces.
inline std::string Fields(const trainer::TransformerConfig& t, trainer::PositionKind position) {
  std::ostringstream s;
  s << R"("d_model": )" << t.d_model << R"(, "layers": )" << t.layers << R"(, "heads": )" << t.heads
    << R"(, "kv_heads": )" << t.kv_heads << R"(, "ffn_hidden": )" << t.ffn_hidden << R"(, "window": )"
    << t.window << R"(, "norm": ")" << trainer::NormKindName(t.norm) << R"(", "post_norm": )"
    << Bool(t.post_norm) << R"(, "ffn": ")" << trainer::FfnKindName(t.ffn) << R"(", "position": ")"
    << trainer::PositionKindName(position) << "\"";
  return s.str();
}

}  // namespace torch_models_internal

// {"input_dim": ..., "hidden_layers": ..., ...}: the model's config for torch_models.build("mlp", ...).
inline std::string TorchConfig(const trainer::MlpConfig& c) {
  using torch_models_internal::Bool;
  std::ostringstream s;
  s << R"({"input_dim": )" << c.input_dim << R"(, "hidden_layers": )" << c.hidden_layers << R"(, "width": )"
    << c.width << R"(, "classes": )" << c.classes << R"(, "activation": ")"
    << kernels::ActivationName(c.activation) << R"(", "layer_norm": )" << Bool(c.layer_norm)
    << R"(, "residual": )" << Bool(c.residual) << "}";
  return s.str();
}

inline std::string TorchConfig(const trainer::CnnConfig& c) {
  using torch_models_internal::Bool;
  std::ostringstream s;
  s << R"({"height": )" << c.height << R"(, "width": )" << c.width << R"(, "channels": )" << c.channels
    << R"(, "classes": )" << c.classes << R"(, "stage_channels": [)";
  for (size_t i = 0; i < c.stage_channels.size(); ++i) s << (i > 0 ? ", " : "") << c.stage_channels[i];
  s << R"(], "blocks": )" << c.blocks << R"(, "kernel_size": )" << c.kernel_size
    << R"(, "stride_downsample": )" << Bool(c.stride_downsample) << R"(, "batch_norm": )"
    << Bool(c.batch_norm) << R"(, "depthwise": )" << Bool(c.depthwise) << R"(, "residual": )"
    << Bool(c.residual) << R"(, "global_pool": )" << Bool(c.global_pool) << R"(, "activation": ")"
    << kernels::ActivationName(c.activation) << R"("})";
  return s.str();
}

inline std::string TorchConfig(const trainer::VitConfig& c) {
  std::ostringstream s;
  s << R"({"height": )" << c.height << R"(, "width": )" << c.width << R"(, "channels": )" << c.channels
    << R"(, "classes": )" << c.classes << R"(, "patch_size": )" << c.patch_size << ", "
    << torch_models_internal::Fields(c.transformer, c.position) << "}";
  return s.str();
}

inline std::string TorchConfig(const trainer::LmConfig& c) {
  std::ostringstream s;
  s << R"({"vocab": )" << c.vocab << R"(, "seq_len": )" << c.seq_len << ", "
    << torch_models_internal::Fields(c.transformer, c.position) << "}";
  return s.str();
}

}  // namespace hpo::bench

#endif  // HPO_BENCH_TRAINER_TORCH_MODELS_H_
