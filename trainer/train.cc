#include "trainer/train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <new>
#include <numeric>
#include <string>
#include <vector>

#include "base/rng.h"
#include "trainer/config.h"
#include "trainer/knobs.h"
#include "trainer/latency.h"
#include "trainer/mlp.h"

namespace hpo::trainer {

using kernels::Buffer;
using kernels::ConstView;
using kernels::DType;
using kernels::View;

namespace {

constexpr uint64_t kShuffleStream = 2;   // DeriveSeed stream of the epoch shuffles (1 is the init)
constexpr int64_t kEvalRows = 1000;      // examples per evaluation forward pass (at least)
constexpr int64_t kLossCheckEvery = 16;  // steps between downloads of the per-step losses

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Status Diverged(std::string_view what, int epoch, int64_t step) {
  return Status(StatusCode::kAborted, "diverged: non-finite " + std::string(what) + " at epoch " +
                                          std::to_string(epoch) +
                                          (step >= 0 ? ", step " + std::to_string(step) : ""));
}

// The state of one run: the model, the optimizer, host staging and backend buffers, all allocated once.
class Run {
 public:
  Run(const TrainConfig& config, kernels::Backend& backend, const Datasets& data)
      : config_(config), backend_(backend), data_(data) {}

  Status Prepare() {
    const Split& train = data_.train;
    dim_ = train.dim;
    train_count_ = config_.train_limit > 0 ? std::min(config_.train_limit, train.count) : train.count;
    if (train_count_ < 1) return InvalidArgumentError("the training set is empty");
    if (data_.classes < 2) return InvalidArgumentError("the dataset needs at least 2 classes");
    HPO_RETURN_IF_ERROR(CheckSplit(train, dim_, data_.classes, "train"));
    HPO_RETURN_IF_ERROR(CheckSplit(data_.validation, dim_, data_.classes, "validation"));
    HPO_RETURN_IF_ERROR(CheckSplit(data_.test, dim_, data_.classes, "test"));
    if (data_.validation.count < 1 || data_.test.count < 1) {
      return InvalidArgumentError("the validation and test sets must not be empty");
    }
    batch_ = std::min(config_.batch_size, train_count_);
    const int64_t max_rows = std::max(batch_, kEvalRows);
    const MlpConfig shape{dim_, config_.hidden_layers, config_.width, config_.activation, data_.classes};
    HPO_ASSIGN_OR_RETURN(Mlp mlp, Mlp::Create(backend_, shape, DType::kF32, max_rows, config_.seed));
    mlp_ = std::make_unique<Mlp>(std::move(mlp));
    OptimizerOptions options;
    options.kind = config_.optimizer;
    options.weight_decay = config_.weight_decay;
    options.momentum = config_.momentum;
    HPO_ASSIGN_OR_RETURN(optimizer_,
                         Optimizer::Create(backend_, options, mlp_->params(), mlp_->grads(), mlp_->layout()));
    steps_per_epoch_ = (train_count_ + batch_ - 1) / batch_;
    HPO_ASSIGN_OR_RETURN(x_, backend_.Allocate(static_cast<size_t>(max_rows * dim_), DType::kF32));
    HPO_ASSIGN_OR_RETURN(y_, backend_.Allocate(static_cast<size_t>(max_rows), DType::kI32));
    HPO_ASSIGN_OR_RETURN(step_losses_, backend_.Allocate(static_cast<size_t>(steps_per_epoch_), DType::kF32));
    HPO_ASSIGN_OR_RETURN(eval_loss_, backend_.Allocate(1, DType::kF32));
    x_host_.resize(static_cast<size_t>(max_rows * dim_));
    y_host_.resize(static_cast<size_t>(max_rows));
    step_losses_host_.resize(static_cast<size_t>(steps_per_epoch_));
    order_.resize(static_cast<size_t>(train_count_));
    std::iota(order_.begin(), order_.end(), 0);
    return Status::Ok();
  }

  // One pass over the training examples in a fresh shuffled order; returns the mean training loss.
  Result<double> Epoch(int epoch, Rng& shuffle) {
    for (int64_t i = train_count_ - 1; i > 0; --i) {
      const auto j = static_cast<int64_t>(shuffle.UniformInt(static_cast<uint64_t>(i + 1)));
      std::swap(order_[i], order_[j]);
    }
    const Split& train = data_.train;
    double loss_sum = 0;  // sum over examples
    int64_t checked = 0;  // steps whose loss has been added to loss_sum
    for (int64_t step = 0; step < steps_per_epoch_; ++step) {
      const int64_t begin = step * batch_;
      const int64_t rows = std::min(batch_, train_count_ - begin);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t example = order_[begin + r];
        std::memcpy(x_host_.data() + r * dim_, train.Example(example), sizeof(float) * dim_);
        y_host_[r] = train.labels[example];
      }
      HPO_RETURN_IF_ERROR(backend_.Upload(
          std::span<const float>(x_host_.data(), static_cast<size_t>(rows * dim_)), x_.view()));
      HPO_RETURN_IF_ERROR(
          backend_.Upload(std::span<const int32_t>(y_host_.data(), static_cast<size_t>(rows)), y_.view()));
      HPO_RETURN_IF_ERROR(mlp_->ForwardBackward(x_.Sub(0, static_cast<size_t>(rows * dim_)),
                                                y_.Sub(0, static_cast<size_t>(rows)), rows,
                                                step_losses_.Sub(static_cast<size_t>(step), 1)));
      HPO_RETURN_IF_ERROR(optimizer_->Step(config_.lr));
      if ((step + 1) % kLossCheckEvery == 0 || step + 1 == steps_per_epoch_) {
        // Fetch the losses of steps [checked, step] at once: one host round trip per kLossCheckEvery steps.
        const auto n = static_cast<size_t>(step + 1 - checked);
        HPO_RETURN_IF_ERROR(backend_.Download(step_losses_.Sub(static_cast<size_t>(checked), n),
                                              std::span<float>(step_losses_host_.data() + checked, n)));
        for (int64_t s = checked; s <= step; ++s) {
          const float loss = step_losses_host_[s];
          if (!std::isfinite(loss)) return Diverged("training loss", epoch, s);
          const int64_t s_rows = std::min(batch_, train_count_ - s * batch_);
          loss_sum += static_cast<double>(loss) * static_cast<double>(s_rows);
        }
        checked = step + 1;
      }
    }
    return loss_sum / static_cast<double>(train_count_);
  }

  struct Evaluation {
    double accuracy = 0;
    double loss = 0;
  };

  // Accuracy and mean loss over a whole split, in chunks of up to max_rows examples.
  Result<Evaluation> Evaluate(const Split& split) {
    const int64_t chunk = mlp_->max_rows();
    int64_t correct = 0;
    double loss_sum = 0;
    for (int64_t begin = 0; begin < split.count; begin += chunk) {
      const int64_t rows = std::min(chunk, split.count - begin);
      const auto x_size = static_cast<size_t>(rows * dim_);
      HPO_RETURN_IF_ERROR(backend_.Upload(std::span<const float>(split.Example(begin), x_size), x_.view()));
      for (int64_t r = 0; r < rows; ++r) y_host_[r] = split.labels[begin + r];
      HPO_RETURN_IF_ERROR(
          backend_.Upload(std::span<const int32_t>(y_host_.data(), static_cast<size_t>(rows)), y_.view()));
      const ConstView labels = y_.Sub(0, static_cast<size_t>(rows));
      HPO_RETURN_IF_ERROR(mlp_->Forward(x_.Sub(0, x_size), rows));
      const ConstView logits = mlp_->logits().Sub(0, static_cast<size_t>(rows * data_.classes));
      HPO_ASSIGN_OR_RETURN(const int64_t chunk_correct,
                           backend_.CountCorrect(rows, data_.classes, logits, labels));
      correct += chunk_correct;
      HPO_RETURN_IF_ERROR(
          backend_.SoftmaxCrossEntropy(rows, data_.classes, logits, labels, eval_loss_.view(), View()));
      float chunk_loss = 0;
      HPO_RETURN_IF_ERROR(backend_.Download(eval_loss_.view(), std::span<float>(&chunk_loss, 1)));
      loss_sum += static_cast<double>(chunk_loss) * static_cast<double>(rows);
    }
    return Evaluation{static_cast<double>(correct) / static_cast<double>(split.count),
                      loss_sum / static_cast<double>(split.count)};
  }

  // p50 of a batch-1 forward pass on the first test example.
  Result<double> Latency() {
    HPO_RETURN_IF_ERROR(
        backend_.Upload(std::span<const float>(data_.test.Example(0), static_cast<size_t>(dim_)), x_.view()));
    const ConstView one = x_.Sub(0, static_cast<size_t>(dim_));
    HPO_ASSIGN_OR_RETURN(LatencyStats stats, MeasureLatency(backend_, [&] { return mlp_->Forward(one, 1); }));
    return stats.p50_ms;
  }

  int64_t ParamCount() const { return mlp_->ParamCount(); }

 private:
  const TrainConfig& config_;
  kernels::Backend& backend_;
  const Datasets& data_;
  int64_t dim_ = 0;
  int64_t train_count_ = 0;
  int64_t batch_ = 0;
  int64_t steps_per_epoch_ = 0;
  std::unique_ptr<Mlp> mlp_;
  std::unique_ptr<Optimizer> optimizer_;
  Buffer x_;            // backend: max_rows x dim inputs
  Buffer y_;            // backend: max_rows labels
  Buffer step_losses_;  // backend: the loss of each step of the current epoch
  Buffer eval_loss_;    // backend: 1 element
  std::vector<float> x_host_;
  std::vector<int32_t> y_host_;
  std::vector<float> step_losses_host_;
  std::vector<int64_t> order_;
};

Result<TrainMetrics> TrainImpl(const TrainConfig& config, kernels::Backend& backend, const Datasets& data,
                               const ProgressFn& progress) {
  HPO_RETURN_IF_ERROR(ValidateConfig(config));
  Run run(config, backend, data);
  HPO_RETURN_IF_ERROR(run.Prepare());
  Rng shuffle(DeriveSeed(config.seed, kShuffleStream));
  TrainMetrics metrics;
  const Clock::time_point start = Clock::now();
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    HPO_ASSIGN_OR_RETURN(const double train_loss, run.Epoch(epoch, shuffle));
    HPO_ASSIGN_OR_RETURN(const Run::Evaluation val, run.Evaluate(data.validation));
    if (!std::isfinite(val.loss)) return Diverged("validation loss", epoch, -1);
    metrics.accuracy = val.accuracy;
    metrics.loss = val.loss;
    if (progress)
      progress(EpochReport{epoch, config.epochs, train_loss, val.accuracy, val.loss, SecondsSince(start)});
  }
  metrics.train_time_s = SecondsSince(start);
  HPO_ASSIGN_OR_RETURN(const Run::Evaluation test, run.Evaluate(data.test));
  metrics.test_accuracy = test.accuracy;
  HPO_ASSIGN_OR_RETURN(metrics.latency_ms, run.Latency());
  metrics.params = run.ParamCount();
  metrics.device = backend.DeviceName();
  return metrics;
}

}  // namespace

Result<TrainMetrics> Train(const TrainConfig& config, kernels::Backend& backend, const Datasets& data,
                           const ProgressFn& progress) {
  try {
    return TrainImpl(config, backend, data, progress);
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError("out of host memory while training");
  }
}

std::string MetricsToJson(const TrainMetrics& m) {
  return "{\"accuracy\":" + JsonNumber(m.accuracy) + ",\"test_accuracy\":" + JsonNumber(m.test_accuracy) +
         ",\"loss\":" + JsonNumber(m.loss) + ",\"latency_ms\":" + JsonNumber(m.latency_ms) +
         ",\"params\":" + std::to_string(m.params) + ",\"train_time_s\":" + JsonNumber(m.train_time_s) +
         ",\"device\":" + JsonQuote(m.device) + "}";
}

}  // namespace hpo::trainer
