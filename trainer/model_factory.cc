#include "trainer/model_factory.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <utility>

#include "trainer/cnn.h"
#include "trainer/lm.h"
#include "trainer/mlp.h"
#include "trainer/vit.h"

namespace hpo::trainer {
namespace {

// The input shape and classes of an image family's config (CnnConfig, VitConfig) from the data;
// INVALID_ARGUMENT when the examples have no image shape.
template <typename Shape>
Status ShapeForImages(ModelKind model, const Datasets& data, Shape& shape) {
  if (data.height < 1) {
    return InvalidArgumentError("model " + std::string(ModelKindName(model)) +
                                " needs images, and these examples are vectors of " +
                                std::to_string(data.train.dim) + " features without an image shape");
  }
  shape.height = data.height;
  shape.width = data.width;
  shape.channels = data.channels;
  shape.classes = data.classes;
  return Status::Ok();
}

}  // namespace

TransformerConfig StackConfig(const TrainConfig& config) {
  TransformerConfig t;
  t.d_model = config.d_model;
  t.layers = config.layers;
  t.heads = config.heads;
  t.kv_heads = config.kv_heads == 0 ? config.heads : config.kv_heads;
  t.ffn_hidden = std::max<int64_t>(1, std::llround(config.mlp_ratio * static_cast<double>(config.d_model)));
  t.window = config.sliding_window ? config.window : 0;
  t.norm = config.norm;
  t.post_norm = config.post_norm;
  t.ffn = config.ffn;
  t.dropout = config.dropout;
  return t;
}

Result<std::unique_ptr<Model>> CreateModel(const TrainConfig& config, kernels::Backend& backend,
                                           const Datasets& data, kernels::DType dtype, int64_t max_rows) {
  switch (config.model) {
    case ModelKind::kMlp: {
      const MlpConfig shape{data.train.dim, config.hidden_layers, config.width,    config.activation,
                            data.classes,   config.layer_norm,    config.residual, config.dropout};
      HPO_ASSIGN_OR_RETURN(Mlp mlp, Mlp::Create(backend, shape, dtype, max_rows, config.seed));
      return std::unique_ptr<Model>(std::make_unique<Mlp>(std::move(mlp)));
    }
    case ModelKind::kCnn: {
      CnnConfig shape;
      HPO_RETURN_IF_ERROR(ShapeForImages(config.model, data, shape));
      shape.stage_channels.assign(config.stage_channels.begin(),
                                  config.stage_channels.begin() + config.stages);
      shape.blocks = config.blocks;
      shape.kernel_size = config.kernel_size;
      shape.stride_downsample = config.stride_downsample;
      shape.batch_norm = config.batch_norm;
      shape.depthwise = config.depthwise;
      shape.global_pool = config.global_pool;
      shape.residual = config.residual;
      shape.activation = config.activation;
      shape.dropout = config.dropout;
      HPO_ASSIGN_OR_RETURN(Cnn cnn, Cnn::Create(backend, shape, dtype, max_rows, config.seed));
      return std::unique_ptr<Model>(std::make_unique<Cnn>(std::move(cnn)));
    }
    case ModelKind::kVit: {
      VitConfig shape;
      HPO_RETURN_IF_ERROR(ShapeForImages(config.model, data, shape));
      shape.patch_size = config.patch_size;
      shape.position = config.position;
      shape.transformer = StackConfig(config);
      HPO_ASSIGN_OR_RETURN(Vit vit, Vit::Create(backend, shape, dtype, max_rows, config.seed));
      return std::unique_ptr<Model>(std::make_unique<Vit>(std::move(vit)));
    }
    case ModelKind::kLm: {
      LmConfig shape;
      shape.vocab = data.classes;
      shape.seq_len = config.seq_len;
      shape.position = config.position;
      shape.transformer = StackConfig(config);
      HPO_ASSIGN_OR_RETURN(Lm lm, Lm::Create(backend, shape, dtype, max_rows, config.seed));
      return std::unique_ptr<Model>(std::make_unique<Lm>(std::move(lm)));
    }
  }
  return InvalidArgumentError("unknown model family");
}

}  // namespace hpo::trainer
