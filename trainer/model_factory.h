// CreateModel: the model of a TrainConfig's family (trainer/mlp.h, cnn.h, vit.h, lm.h), shaped for the
// data it trains on, and StackConfig: the transformer blocks the vit and lm knobs describe.
//
// Stateless functions: thread-safe.
#ifndef HPO_TRAINER_MODEL_FACTORY_H_
#define HPO_TRAINER_MODEL_FACTORY_H_

#include <cstdint>
#include <memory>

#include "base/status.h"
#include "kernels/backend.h"
#include "trainer/dataset.h"
#include "trainer/model.h"
#include "trainer/train.h"
#include "trainer/transformer.h"

namespace hpo::trainer {

// The transformer blocks of a vit or lm config: kv_heads 0 means heads, the feed-forward width is
// mlp_ratio x d_model rounded (at least 1), the window counts with attention sliding_window only. The
// family sets causal, rope and alibi.
TransformerConfig StackConfig(const TrainConfig& config);

// The model of config.model for `data` (its input shape, classes or vocabulary), in `dtype`, for up to
// max_rows examples per pass, initialised from config.seed. INVALID_ARGUMENT when the family does not fit
// the data (a cnn or vit without an image shape) or the shape is bad; RESOURCE_EXHAUSTED when memory runs
// out.
Result<std::unique_ptr<Model>> CreateModel(const TrainConfig& config, kernels::Backend& backend,
                                           const Datasets& data, kernels::DType dtype, int64_t max_rows);

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_MODEL_FACTORY_H_
