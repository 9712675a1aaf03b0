// Train: one builtin trial. Trains a model of the config's family (model_factory.h: mlp, cnn, vit, or the
// language model on text) on a preloaded dataset in the trial's precision with the configured optimizer,
// schedule and regularisation, then reports validation and test accuracy, validation loss, batch-1
// latency (p50, p99) and batch-256 throughput in that precision (the language model also bits per byte,
// decode latency with its KV cache and prefill speed), model size, peak backend memory and time. Validation runs after every epoch (its figures go to the progress callback); latency
// and throughput are measured once, after the first epoch, since training does not change them.
//
// Each epoch visits the training examples in an order shuffled from the seed (Fisher-Yates on
// hpo::Rng), in micro-batches of batch_size (the last one may be smaller); grad_accum consecutive
// micro-batches make one optimizer step, their gradients averaged (the epoch's last step may have fewer).
// Per step: the learning rate comes from the schedule (indexed by the step, skipped or not); one fused pass
// over the gradients finds any inf or NaN and their global L2 norm (one host round trip per step, in every
// precision): a step with a non-finite gradient is skipped and counted (skipped_steps), and with fp16 the
// loss scale backs off (trainer/loss_scaler.h); with clip_norm > 0 the gradient is scaled down to that
// norm. Initialisation, shuffling and dropout derive their streams from the seed, and every CPU reduction
// runs in a fixed order, so a fixed seed with a fixed thread count repeats bit for bit on the CPU backend.
//
// Divergence ends the run with ABORTED "diverged: ...": a non-finite training loss on a step that was
// applied, a training loss over 100 times the first applied step's (a finite blow-up), kMaxSkippedInARow
// skipped steps in a row (no finite gradient), or a non-finite validation loss.
//
// Thread-safety: Train uses the backend exclusively for its duration; the datasets are only read.
#ifndef HPO_TRAINER_TRAIN_H_
#define HPO_TRAINER_TRAIN_H_

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/status.h"
#include "kernels/backend.h"
#include "trainer/dataset.h"
#include "trainer/families.h"
#include "trainer/optimizer.h"
#include "trainer/precision.h"
#include "trainer/schedule.h"

namespace hpo::trainer {

// A trial's configuration. The knob fields' names, ranges and defaults are those of trainer/knobs.h
// (ValidateConfig checks them; config.h parses them from text).
struct TrainConfig {
  // Knobs: the family and its architecture.
  ModelKind model = ModelKind::kMlp;
  // mlp
  int hidden_layers = 2;
  int64_t width = 256;
  bool layer_norm = false;
  // mlp and cnn
  kernels::Activation activation = kernels::Activation::kRelu;
  bool residual = false;
  // cnn
  int stages = 2;
  std::array<int64_t, 4> stage_channels = {32, 64, 128, 256};
  int blocks = 1;
  int kernel_size = 3;
  bool stride_downsample = false;
  bool batch_norm = true;
  bool global_pool = false;  // the pooling knob: flatten (false) or global_avg
  bool depthwise = false;
  // vit and lm
  int64_t d_model = 64;
  int layers = 4;
  int heads = 4;
  int kv_heads = 0;  // 0: heads
  bool sliding_window = false;
  int64_t window = 16;
  PositionKind position = PositionKind::kLearned;
  NormKind norm = NormKind::kLayerNorm;
  bool post_norm = false;
  double mlp_ratio = 4;
  FfnKind ffn = FfnKind::kGelu;
  int64_t patch_size = 4;  // vit
  int64_t seq_len = 128;   // lm
  // Training, for every family.
  Precision precision = Precision::kFp32;
  double lr = 1e-3;
  ScheduleKind schedule = ScheduleKind::kConstant;
  double warmup_fraction = 0.05;
  int64_t batch_size = 128;
  int grad_accum = 1;
  int epochs = 5;
  OptimizerKind optimizer = OptimizerKind::kAdamW;
  double momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 0.0;
  double clip_norm = 0.0;  // 0: off
  double label_smoothing = 0.0;
  double dropout = 0.0;
  uint64_t seed = 0;
  // Run settings (not knobs): where the data is and how much of it to use, and the CPU threads. Train()
  // itself honours train_limit; data_dir and threads are for whoever loads the data and makes the backend.
  std::string data_dir = std::string(kDefaultFashionMnistDir);
  int64_t train_limit = 0;  // 0: all training examples
  int threads = 1;
};

// Overflowing steps in a row after which fp16 training counts as diverged (the scale has long reached its
// floor by then: 2^16 halves to 1 in 16 steps).
inline constexpr int kMaxSkippedInARow = 64;

// The metrics of trainer/knobs.h's catalog, in its order.
struct TrainMetrics {
  double accuracy = 0;       // validation accuracy after the last epoch (per token for the lm)
  double test_accuracy = 0;  // test accuracy after the last epoch
  double loss = 0;           // validation loss (mean cross-entropy, no smoothing) after the last epoch
  // The language model's (reported only when language_model): validation bits per byte (loss / ln 2),
  // the p50 and p99 of one decode step at batch 1 with the KV cache after a prompt of seq_len / 2 bytes,
  // and the prefill speed of that prompt at batch 1, tokens per second.
  bool language_model = false;
  double bits_per_byte = 0;
  double decode_ms = 0;
  double decode_p99_ms = 0;
  double prefill_tokens_per_s = 0;
  double latency_ms = 0;          // p50 batch-1 forward pass (trainer/latency.h)
  double latency_p99_ms = 0;      // p99 of the same
  double throughput_sps = 0;      // batch-256 forward passes: samples per second at the median
  int64_t params = 0;             // trainable parameters
  int64_t model_bytes = 0;        // params x bytes per value in the trial's precision
  double train_time_s = 0;        // wall time of the epochs, per-epoch validation included
  int64_t peak_memory_bytes = 0;  // Backend::peak_bytes() at the end
  int64_t skipped_steps = 0;      // optimizer steps skipped on overflow
  std::string device;             // Backend::DeviceName()
};

// The metrics training does not change: the speed of a forward pass and the model's size. Measured once,
// right after the first epoch (the shapes and the precision are fixed by then), and reused for the final
// TrainMetrics.
struct FixedMetrics {
  double latency_ms = 0;
  double latency_p99_ms = 0;
  double throughput_sps = 0;
  int64_t params = 0;
  int64_t model_bytes = 0;
  double decode_ms = 0;  // the language model's (TrainMetrics)
  double decode_p99_ms = 0;
  double prefill_tokens_per_s = 0;
};

// What Train reports after each epoch (for progress lines).
struct EpochReport {
  int epoch = 0;  // 1-based
  int epochs = 0;
  double train_loss = 0;  // mean training loss over the epoch's examples (NaN when none was finite)
  double val_accuracy = 0;
  double val_loss = 0;
  bool language_model = false;    // the line then carries bits_per_byte (and decode figures with `fixed`)
  double elapsed_s = 0;           // train_time_s so far (the epochs and their validation)
  int64_t skipped_steps = 0;      // optimizer steps skipped on overflow so far
  int64_t peak_memory_bytes = 0;  // Backend::peak_bytes() so far
  // Set on the first epoch's report only (measured after it); nullopt on the others.
  std::optional<FixedMetrics> fixed;
};

using ProgressFn = std::function<void(const EpochReport&)>;

// Trains and evaluates. INVALID_ARGUMENT for a config outside the catalog or data that does not fit
// (empty training set, splits of different sizes); ABORTED "diverged: ..." for a non-finite loss;
// RESOURCE_EXHAUSTED when memory runs out; any backend error as is. `progress`, when set, is called after
// every epoch.
Result<TrainMetrics> Train(const TrainConfig& config, kernels::Backend& backend, const Datasets& data,
                           const ProgressFn& progress = {});

// The progress line of one epoch, one JSON object on one line (no newline), as the worker relays it
// (worker/metrics_line.h ParseProgressLine):
//   {"step":<epoch>,"accuracy":..,"loss":..,"train_loss":..,"train_time_s":..,"skipped_steps":..,
//    "peak_memory_bytes":..}
// with the catalog's names: accuracy and loss are the validation figures after that epoch (the metrics
// the final line reports under the same names), train_time_s the time so far. The first epoch's line
// (report.fixed set) also carries "latency_ms", "latency_p99_ms", "throughput_sps", "params" and
// "model_bytes", which do not change with training (the coordinator carries them forward). There is no
// test_accuracy: the test set is evaluated once, at the end. A non-finite value is null. Always has a
// "step", which the final metrics line never has.
std::string ProgressToJson(const EpochReport& report);

// One JSON object on one line (no newline): {"accuracy":..,"test_accuracy":..,"loss":..,"latency_ms":..,
// "latency_p99_ms":..,"throughput_sps":..,"params":..,"model_bytes":..,"train_time_s":..,
// "peak_memory_bytes":..,"skipped_steps":..,"device":".."}; numbers in shortest round-trip form.
std::string MetricsToJson(const TrainMetrics& metrics);

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_TRAIN_H_
