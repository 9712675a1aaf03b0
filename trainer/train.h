// Train: one builtin trial. Trains an MLP on a preloaded dataset with the configured optimizer, then
// reports validation and test accuracy, validation loss, batch-1 latency, parameter count and time.
//
// Each epoch visits the training examples in an order shuffled from the seed (Fisher-Yates on
// hpo::Rng), in minibatches of batch_size (the last one may be smaller). Initialisation and shuffling
// derive their streams from the seed, and every CPU reduction runs in a fixed order, so a fixed seed with
// a fixed thread count repeats bit for bit on the CPU backend. A non-finite training or validation loss
// ends the run with ABORTED "diverged: ...".
//
// Thread-safety: Train uses the backend exclusively for its duration; the datasets are only read.
#ifndef HPO_TRAINER_TRAIN_H_
#define HPO_TRAINER_TRAIN_H_

#include <cstdint>
#include <functional>
#include <string>

#include "base/status.h"
#include "kernels/backend.h"
#include "trainer/dataset.h"
#include "trainer/optimizer.h"

namespace hpo::trainer {

// A trial's configuration. The knob fields' names, ranges and defaults are those of trainer/knobs.h
// (ValidateConfig checks them; config.h parses them from text).
struct TrainConfig {
  // Knobs.
  int hidden_layers = 2;
  int64_t width = 256;
  kernels::Activation activation = kernels::Activation::kRelu;
  double lr = 1e-3;
  int64_t batch_size = 128;
  int epochs = 5;
  double weight_decay = 0.0;
  OptimizerKind optimizer = OptimizerKind::kAdamW;
  double momentum = 0.9;
  uint64_t seed = 0;
  // Run settings (not knobs): where the data is and how much of it to use, and the CPU threads. Train()
  // itself honours train_limit; data_dir and threads are for whoever loads the data and makes the backend.
  std::string data_dir = std::string(kDefaultFashionMnistDir);
  int64_t train_limit = 0;  // 0: all training examples
  int threads = 1;
};

struct TrainMetrics {
  double accuracy = 0;       // validation accuracy after the last epoch
  double test_accuracy = 0;  // test accuracy after the last epoch
  double loss = 0;           // validation loss (mean cross-entropy) after the last epoch
  double latency_ms = 0;     // p50 batch-1 forward pass (trainer/latency.h)
  int64_t params = 0;        // trainable parameters
  double train_time_s = 0;   // wall time of the epochs, per-epoch validation included
  std::string device;        // Backend::DeviceName()
};

// What Train reports after each epoch (for progress lines).
struct EpochReport {
  int epoch = 0;  // 1-based
  int epochs = 0;
  double train_loss = 0;  // mean training loss over the epoch's examples
  double val_accuracy = 0;
  double val_loss = 0;
  double elapsed_s = 0;  // since training started
};

using ProgressFn = std::function<void(const EpochReport&)>;

// Trains and evaluates. INVALID_ARGUMENT for a config outside the catalog or data that does not fit
// (empty training set, splits of different sizes); ABORTED "diverged: ..." for a non-finite loss;
// RESOURCE_EXHAUSTED when memory runs out; any backend error as is. `progress`, when set, is called after
// every epoch.
Result<TrainMetrics> Train(const TrainConfig& config, kernels::Backend& backend, const Datasets& data,
                           const ProgressFn& progress = {});

// One JSON object on one line (no newline): {"accuracy":..,"test_accuracy":..,"loss":..,"latency_ms":..,
// "params":..,"train_time_s":..,"device":".."}; numbers in shortest round-trip form.
std::string MetricsToJson(const TrainMetrics& metrics);

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_TRAIN_H_
