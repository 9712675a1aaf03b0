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
#include "base/strings.h"
#include "trainer/config.h"
#include "trainer/examples.h"
#include "trainer/knobs.h"
#include "trainer/latency.h"
#include "trainer/lm.h"
#include "trainer/loss_scaler.h"
#include "trainer/model.h"
#include "trainer/model_factory.h"

namespace hpo::trainer {

using kernels::Buffer;
using kernels::ConstView;
using kernels::DType;
using kernels::View;

namespace {

constexpr uint64_t kShuffleStream = 2;     // DeriveSeed stream of the epoch shuffles (1 is the init)
constexpr int64_t kEvalRows = 1000;        // examples per evaluation forward pass (at least)
constexpr int64_t kThroughputRows = 256;   // the batch of the throughput figure
constexpr int64_t kLossCheckEvery = 16;    // micro-steps between downloads of the per-step losses
constexpr double kDivergenceFactor = 100;  // a training loss this many times the first step's: diverged

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Status Diverged(std::string_view what, int epoch, int64_t step) {
  return Status(StatusCode::kAborted, "diverged: " + std::string(what) + " at epoch " +
                                          std::to_string(epoch) +
                                          (step >= 0 ? ", step " + std::to_string(step) : ""));
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The state of one run: the model, the optimizer, the loss scaler, host staging and backend buffers, all
// allocated once.
class Run {
 public:
  Run(const TrainConfig& config, kernels::Backend& backend, const Datasets& data)
      : config_(config), backend_(backend), data_(data) {}

  Status Prepare() {
    const bool lm = config_.model == ModelKind::kLm;
    if (lm != data_.is_text()) {
      return InvalidArgumentError(lm ? "model lm trains on a text file (--text-file, or task.builtin.text)"
                                     : "a text file trains model lm only, not " +
                                           std::string(ModelKindName(config_.model)));
    }
    HPO_ASSIGN_OR_RETURN(examples_, Examples::Create(data_, lm ? config_.seq_len : 0, config_.train_limit));
    dim_ = examples_->dim();
    outputs_ = examples_->outputs();
    train_count_ = examples_->count(SplitId::kTrain);
    batch_ = std::min(config_.batch_size, train_count_);
    // The MLP evaluates in large chunks; the other families keep activations per pixel or token, so their
    // evaluation chunks are no larger than the throughput batch, and the language model's no larger than
    // its training batch.
    const int64_t max_rows = config_.model == ModelKind::kMlp ? std::max({batch_, kEvalRows, kThroughputRows})
                             : lm                             ? batch_
                                                              : std::max(batch_, kThroughputRows);
    dtype_ = ComputeType(config_.precision);
    HPO_ASSIGN_OR_RETURN(model_, CreateModel(config_, backend_, data_, dtype_, max_rows));
    if (config_.grad_accum > 1) {
      HPO_ASSIGN_OR_RETURN(grad_sum_, backend_.Allocate(model_->grads().size, model_->master_dtype()));
    }
    OptimizerOptions options;
    options.kind = config_.optimizer;
    options.weight_decay = config_.weight_decay;
    options.momentum = config_.momentum;
    options.nesterov = config_.nesterov;
    const ConstView step_grads = config_.grad_accum > 1 ? ConstView(grad_sum_.view()) : model_->grads();
    HPO_ASSIGN_OR_RETURN(optimizer_, Optimizer::Create(backend_, options, model_->params(), step_grads,
                                                       model_->layout(), model_->compute_params()));
    HPO_ASSIGN_OR_RETURN(
        scaler_, LossScaler::Create(LossScalerOptions{.enabled = NeedsLossScaling(config_.precision)}));
    micro_steps_per_epoch_ = CeilDiv(train_count_, batch_);
    steps_per_epoch_ = CeilDiv(micro_steps_per_epoch_, config_.grad_accum);
    HPO_ASSIGN_OR_RETURN(schedule_,
                         LrSchedule::Create(config_.schedule, config_.lr, steps_per_epoch_ * config_.epochs,
                                            config_.warmup_fraction));
    const auto inputs = static_cast<size_t>(max_rows * dim_);
    const auto labels = static_cast<size_t>(max_rows * outputs_);
    for (Staging& slot : staging_) {
      HPO_ASSIGN_OR_RETURN(slot.x, backend_.AllocateHost(inputs * 4));  // fp32 features or int32 token ids
      HPO_ASSIGN_OR_RETURN(slot.y, backend_.AllocateHost(labels * sizeof(int32_t)));
    }
    if (examples_->tokens()) {
      HPO_ASSIGN_OR_RETURN(x_, backend_.Allocate(inputs, DType::kI32));
    } else {
      HPO_ASSIGN_OR_RETURN(x_, backend_.Allocate(inputs, DType::kF32));
      if (dtype_ != DType::kF32) {
        HPO_ASSIGN_OR_RETURN(x_compute_, backend_.Allocate(inputs, dtype_));
      }
    }
    HPO_ASSIGN_OR_RETURN(y_, backend_.Allocate(labels, DType::kI32));
    HPO_ASSIGN_OR_RETURN(step_losses_,
                         backend_.Allocate(static_cast<size_t>(micro_steps_per_epoch_), DType::kF32));
    HPO_ASSIGN_OR_RETURN(eval_loss_, backend_.Allocate(1, DType::kF32));
    step_losses_host_.resize(static_cast<size_t>(micro_steps_per_epoch_));
    applied_.resize(static_cast<size_t>(micro_steps_per_epoch_));
    order_.resize(static_cast<size_t>(train_count_));
    std::iota(order_.begin(), order_.end(), 0);
    return Status::Ok();
  }

  // One pass over the training examples in a fresh shuffled order; returns the mean training loss over the
  // micro-batches whose loss was finite.
  Result<double> Epoch(int epoch, Rng& shuffle) {
    for (int64_t i = train_count_ - 1; i > 0; --i) {
      const auto j = static_cast<int64_t>(shuffle.UniformInt(static_cast<uint64_t>(i + 1)));
      std::swap(order_[i], order_[j]);
    }
    const auto micro_base = static_cast<uint64_t>(epoch - 1) * static_cast<uint64_t>(micro_steps_per_epoch_);
    const ConstView step_grads = config_.grad_accum > 1 ? ConstView(grad_sum_.view()) : model_->grads();
    double loss_sum = 0;    // over examples of finite-loss micro-batches
    int64_t loss_rows = 0;  // those examples
    int64_t checked = 0;    // micro-steps whose loss has been looked at
    for (int64_t step = 0; step < steps_per_epoch_; ++step) {
      const int64_t first = step * config_.grad_accum;
      const int64_t count = std::min<int64_t>(config_.grad_accum, micro_steps_per_epoch_ - first);
      const double loss_scale = scaler_.scale();
      const kernels::LossOptions loss_options{config_.label_smoothing,
                                              loss_scale / static_cast<double>(count)};
      for (int64_t m = first; m < first + count; ++m) {
        const int64_t rows = std::min(batch_, train_count_ - m * batch_);
        if (m == 0) HPO_RETURN_IF_ERROR(StageTraining(m));  // later micro-steps were staged ahead
        HPO_ASSIGN_OR_RETURN(const ConstView x, UploadInputs(rows, SlotOf(m)));
        HPO_RETURN_IF_ERROR(model_->ForwardBackward(x, y_.Sub(0, static_cast<size_t>(rows * outputs_)), rows,
                                                    loss_options, micro_base + static_cast<uint64_t>(m),
                                                    step_losses_.Sub(static_cast<size_t>(m), 1)));
        // The host gathers the next micro-batch while the device works on this one.
        if (m + 1 < micro_steps_per_epoch_) HPO_RETURN_IF_ERROR(StageTraining(m + 1));
        if (config_.grad_accum > 1) {
          HPO_RETURN_IF_ERROR(m == first ? backend_.Cast(model_->grads(), grad_sum_.view())
                                         : backend_.Axpy(1.0, model_->grads(), grad_sum_.view()));
        }
      }
      // Every precision checks its gradients before the step: one non-finite element skips the step (and
      // with fp16 backs the loss scale off), so one bad batch never reaches the master weights.
      double grad_scale = 1.0 / loss_scale;
      HPO_ASSIGN_OR_RETURN(const kernels::GradStats stats, backend_.GradientStats(step_grads));
      Waited();
      const bool apply = scaler_.Update(!stats.finite);
      const double norm = std::sqrt(stats.sum_squares) / loss_scale;
      if (apply && config_.clip_norm > 0 && norm > config_.clip_norm) grad_scale *= config_.clip_norm / norm;
      if (apply) {
        const int64_t global_step = static_cast<int64_t>(epoch - 1) * steps_per_epoch_ + step;
        HPO_RETURN_IF_ERROR(optimizer_->Step(schedule_.At(global_step), grad_scale));
        skipped_in_a_row_ = 0;
      } else if (++skipped_in_a_row_ >= kMaxSkippedInARow) {
        return Diverged("every gradient overflowed for " + std::to_string(kMaxSkippedInARow) + " steps",
                        epoch, step);
      }
      std::fill(applied_.begin() + first, applied_.begin() + first + count, apply);
      const int64_t done = first + count;
      if (done - checked >= kLossCheckEvery || done == micro_steps_per_epoch_) {
        // Fetch the losses of micro-steps [checked, done) at once: one host round trip per kLossCheckEvery.
        const auto n = static_cast<size_t>(done - checked);
        HPO_RETURN_IF_ERROR(backend_.Download(step_losses_.Sub(static_cast<size_t>(checked), n),
                                              std::span<float>(step_losses_host_.data() + checked, n)));
        Waited();
        for (int64_t s = checked; s < done; ++s) {
          const float loss = step_losses_host_[s];
          if (!std::isfinite(loss)) {
            // A skipped step's loss may overflow (fp16 logits): the scaler handled it.
            if (applied_[s]) return Diverged("non-finite training loss", epoch, s);
            continue;
          }
          if (applied_[s]) {
            // A finite blow-up is divergence too: the first applied step's loss sets the bound.
            if (!(first_loss_ > 0)) {
              first_loss_ = loss;
            } else if (loss > kDivergenceFactor * first_loss_) {
              return Diverged("training loss " + FormatDouble(loss) + " is over " +
                                  FormatDouble(kDivergenceFactor) + " times the first step's (" +
                                  FormatDouble(first_loss_) + ")",
                              epoch, s);
            }
          }
          const int64_t s_rows = std::min(batch_, train_count_ - s * batch_);
          loss_sum += static_cast<double>(loss) * static_cast<double>(s_rows);
          loss_rows += s_rows;
        }
        checked = done;
      }
    }
    return loss_rows > 0 ? loss_sum / static_cast<double>(loss_rows) : std::nan("");
  }

  struct Evaluation {
    double accuracy = 0;
    double loss = 0;
  };

  // Accuracy and mean loss over a whole split (per token for text), in chunks of up to max_rows examples.
  Result<Evaluation> Evaluate(SplitId split) {
    const int64_t chunk = model_->max_rows(), count = examples_->count(split), classes = examples_->classes();
    int64_t correct = 0;
    double loss_sum = 0;
    for (int64_t begin = 0; begin < count; begin += chunk) {
      const int64_t rows = std::min(chunk, count - begin);
      const int slot = SlotOf(begin / chunk);
      HPO_RETURN_IF_ERROR(Reclaim(slot));
      for (int64_t r = 0; r < rows; ++r) Fill(split, begin + r, r, slot);
      HPO_ASSIGN_OR_RETURN(const ConstView x, UploadInputs(rows, slot));
      const int64_t outputs = rows * outputs_;
      const ConstView labels = y_.Sub(0, static_cast<size_t>(outputs));
      HPO_RETURN_IF_ERROR(model_->Forward(x, rows));
      const ConstView logits = model_->logits().Sub(0, static_cast<size_t>(outputs * classes));
      HPO_ASSIGN_OR_RETURN(const int64_t chunk_correct,
                           backend_.CountCorrect(outputs, classes, logits, labels));
      correct += chunk_correct;
      HPO_RETURN_IF_ERROR(backend_.SoftmaxCrossEntropy(kernels::LossOptions{}, outputs, classes, logits,
                                                       labels, eval_loss_.view(), View()));
      float chunk_loss = 0;
      HPO_RETURN_IF_ERROR(backend_.Download(eval_loss_.view(), std::span<float>(&chunk_loss, 1)));
      Waited();
      loss_sum += static_cast<double>(chunk_loss) * static_cast<double>(outputs);
    }
    const auto total = static_cast<double>(count * outputs_);
    return Evaluation{static_cast<double>(correct) / total, loss_sum / total};
  }

  // Batch-1 latency (p50, p99) on the first test example and batch-256 throughput on the first test
  // examples, each forward pass from fp32 inputs in backend memory (the cast to the trial's precision is
  // part of the work, as in an inference server), or from token ids; for the language model also the
  // decode and prefill speeds (see TrainMetrics); with the model's size, the metrics that training does
  // not change.
  Result<FixedMetrics> Fixed() {
    FixedMetrics metrics;
    const int64_t rows = std::min({kThroughputRows, examples_->count(SplitId::kTest), model_->max_rows()});
    HPO_RETURN_IF_ERROR(Reclaim(0));
    for (int64_t r = 0; r < rows; ++r) Fill(SplitId::kTest, r, r, 0);
    HPO_RETURN_IF_ERROR(UploadInputs(rows, 0).status());
    auto forward = [this](int64_t n) {
      const auto size = static_cast<size_t>(n * dim_);
      if (x_compute_.size() == 0) return model_->Forward(x_.Sub(0, size), n);
      HPO_RETURN_IF_ERROR(backend_.Cast(x_.Sub(0, size), x_compute_.Sub(0, size)));
      return model_->Forward(x_compute_.Sub(0, size), n);
    };
    HPO_ASSIGN_OR_RETURN(const LatencyStats one, MeasureLatency(backend_, [&] { return forward(1); }));
    metrics.latency_ms = one.p50_ms;
    metrics.latency_p99_ms = one.p99_ms;
    const LatencyOptions batch_options{
        .warmup = 3, .min_samples = 10, .max_samples = 200, .max_seconds = 0.2};
    HPO_ASSIGN_OR_RETURN(const LatencyStats batch,
                         MeasureLatency(
                             backend_, [&] { return forward(rows); }, batch_options));
    metrics.throughput_sps = static_cast<double>(rows) / (batch.p50_ms / 1e3);
    if (config_.model == ModelKind::kLm) {
      // A prompt of half the context fills the cache; the next token's step is timed at that position
      // (repeating it rewrites the same cache row, so every run does the same work).
      auto& lm = static_cast<Lm&>(*model_);
      const int64_t prompt = std::max<int64_t>(1, config_.seq_len / 2);
      HPO_ASSIGN_OR_RETURN(
          const LatencyStats prefill,
          MeasureLatency(
              backend_, [&] { return lm.Prefill(x_.Sub(0, static_cast<size_t>(prompt)), prompt); },
              batch_options));
      metrics.prefill_tokens_per_s = static_cast<double>(prompt) / (prefill.p50_ms / 1e3);
      if (prompt < config_.seq_len) {
        HPO_ASSIGN_OR_RETURN(const LatencyStats decode, MeasureLatency(backend_, [&] {
                               return lm.DecodeStep(x_.Sub(static_cast<size_t>(prompt), 1), prompt);
                             }));
        metrics.decode_ms = decode.p50_ms;
        metrics.decode_p99_ms = decode.p99_ms;
      }
    }
    metrics.params = model_->ParamCount();
    metrics.model_bytes = model_->ParamCount() * static_cast<int64_t>(kernels::DTypeSize(dtype_));
    return metrics;
  }

  int64_t SkippedSteps() const { return scaler_.skipped_steps(); }

 private:
  // Host staging: two slots, used in turn, so that the host fills one while the device may still be reading
  // the other (a device backend uploads from AllocateHost's page-locked memory without waiting). A slot whose
  // upload has not been followed by a wait since (Waited) is reclaimed with a Synchronize first.
  struct Staging {
    kernels::HostBuffer x;  // max_rows x dim fp32 features, or token ids
    kernels::HostBuffer y;  // max_rows x outputs labels
  };

  static int SlotOf(int64_t index) { return static_cast<int>(index % 2); }

  Status Reclaim(int slot) {
    if (!pending_[slot]) return Status::Ok();
    HPO_RETURN_IF_ERROR(backend_.Synchronize());
    Waited();
    return Status::Ok();
  }

  // Every upload issued so far has been read: the trainer just waited on the backend.
  void Waited() { pending_[0] = pending_[1] = false; }

  // Example `index` of `split` into row r of a staging slot.
  void Fill(SplitId split, int64_t index, int64_t r, int slot) {
    void* x = staging_[slot].x.data();
    examples_->Fill(split, index, r, examples_->tokens() ? nullptr : static_cast<float*>(x),
                    examples_->tokens() ? static_cast<int32_t*>(x) : nullptr,
                    static_cast<int32_t*>(staging_[slot].y.data()));
  }

  // Micro-step m of the epoch's shuffled order into its slot.
  Status StageTraining(int64_t m) {
    const int slot = SlotOf(m);
    HPO_RETURN_IF_ERROR(Reclaim(slot));
    const int64_t begin = m * batch_, rows = std::min(batch_, train_count_ - begin);
    for (int64_t r = 0; r < rows; ++r) Fill(SplitId::kTrain, order_[begin + r], r, slot);
    return Status::Ok();
  }

  // Uploads the inputs and labels of the first `rows` examples staged in `slot` and returns the inputs as
  // the model reads them: token ids, or features in the compute type.
  Result<ConstView> UploadInputs(int64_t rows, int slot) {
    const auto x_size = static_cast<size_t>(rows * dim_);
    const Staging& staged = staging_[slot];
    pending_[slot] = true;
    HPO_RETURN_IF_ERROR(backend_.Upload(std::span<const int32_t>(static_cast<const int32_t*>(staged.y.data()),
                                                                 static_cast<size_t>(rows * outputs_)),
                                        y_.view()));
    if (examples_->tokens()) {
      HPO_RETURN_IF_ERROR(backend_.Upload(
          std::span<const int32_t>(static_cast<const int32_t*>(staged.x.data()), x_size), x_.view()));
      return ConstView(x_.Sub(0, x_size));
    }
    HPO_RETURN_IF_ERROR(backend_.Upload(
        std::span<const float>(static_cast<const float*>(staged.x.data()), x_size), x_.view()));
    if (dtype_ == DType::kF32) return ConstView(x_.Sub(0, x_size));
    HPO_RETURN_IF_ERROR(backend_.Cast(x_.Sub(0, x_size), x_compute_.Sub(0, x_size)));
    return ConstView(x_compute_.Sub(0, x_size));
  }

  const TrainConfig& config_;
  kernels::Backend& backend_;
  const Datasets& data_;
  DType dtype_ = DType::kF32;
  std::optional<Examples> examples_;
  int64_t dim_ = 0;      // inputs per example
  int64_t outputs_ = 0;  // labels per example
  int64_t train_count_ = 0;
  int64_t batch_ = 0;
  int64_t micro_steps_per_epoch_ = 0;
  int64_t steps_per_epoch_ = 0;
  int skipped_in_a_row_ = 0;
  double first_loss_ = 0;  // the training loss of the first applied micro-step (0: none yet)
  std::unique_ptr<Model> model_;
  std::unique_ptr<Optimizer> optimizer_;
  LossScaler scaler_ = *LossScaler::Create(LossScalerOptions{.enabled = false});
  LrSchedule schedule_ = *LrSchedule::Create(ScheduleKind::kConstant, 1.0, 1, 0.0);
  Buffer grad_sum_;     // backend: the summed gradients of a step's micro-batches (grad_accum > 1)
  Buffer x_;            // backend: max_rows x dim fp32 inputs, or token ids
  Buffer x_compute_;    // backend: the same in the compute type (half precisions)
  Buffer y_;            // backend: max_rows labels
  Buffer step_losses_;  // backend: the loss of each micro-step of the current epoch
  Buffer eval_loss_;    // backend: 1 element
  Staging staging_[2];
  bool pending_[2] = {false, false};  // per slot: an upload from it may not have been read yet
  std::vector<float> step_losses_host_;
  std::vector<bool> applied_;  // per micro-step of the epoch: whether its optimizer step was applied
  std::vector<int64_t> order_;
};

Result<TrainMetrics> TrainImpl(const TrainConfig& config, kernels::Backend& backend, const Datasets& data,
                               const ProgressFn& progress) {
  HPO_RETURN_IF_ERROR(ValidateConfig(config));
  Run run(config, backend, data);
  HPO_RETURN_IF_ERROR(run.Prepare());
  Rng shuffle(DeriveSeed(config.seed, kShuffleStream));
  TrainMetrics metrics;
  FixedMetrics fixed;
  const Clock::time_point start = Clock::now();
  double probe_s = 0;  // the speed probe's time, which is not training time
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    HPO_ASSIGN_OR_RETURN(const double train_loss, run.Epoch(epoch, shuffle));
    HPO_ASSIGN_OR_RETURN(const Run::Evaluation val, run.Evaluate(SplitId::kValidation));
    if (!std::isfinite(val.loss)) return Diverged("non-finite validation loss", epoch, -1);
    metrics.accuracy = val.accuracy;
    metrics.loss = val.loss;
    EpochReport report;
    report.epoch = epoch;
    report.epochs = config.epochs;
    report.train_loss = train_loss;
    report.val_accuracy = val.accuracy;
    report.val_loss = val.loss;
    report.language_model = config.model == ModelKind::kLm;
    report.elapsed_s = SecondsSince(start) - probe_s;
    if (epoch == 1) {
      const Clock::time_point probe = Clock::now();
      HPO_ASSIGN_OR_RETURN(fixed, run.Fixed());
      probe_s = SecondsSince(probe);
      report.fixed = fixed;
    }
    report.skipped_steps = run.SkippedSteps();
    report.peak_memory_bytes = static_cast<int64_t>(backend.peak_bytes());
    if (progress) progress(report);
  }
  metrics.train_time_s = SecondsSince(start) - probe_s;
  HPO_ASSIGN_OR_RETURN(const Run::Evaluation test, run.Evaluate(SplitId::kTest));
  metrics.test_accuracy = test.accuracy;
  metrics.language_model = config.model == ModelKind::kLm;
  metrics.bits_per_byte = metrics.loss / std::log(2.0);
  metrics.decode_ms = fixed.decode_ms;
  metrics.decode_p99_ms = fixed.decode_p99_ms;
  metrics.prefill_tokens_per_s = fixed.prefill_tokens_per_s;
  metrics.latency_ms = fixed.latency_ms;
  metrics.latency_p99_ms = fixed.latency_p99_ms;
  metrics.throughput_sps = fixed.throughput_sps;
  metrics.params = fixed.params;
  metrics.model_bytes = fixed.model_bytes;
  metrics.skipped_steps = run.SkippedSteps();
  metrics.peak_memory_bytes = static_cast<int64_t>(backend.peak_bytes());
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

namespace {

// The language model's speed figures, as JSON members with a leading comma.
std::string LanguageModelJson(const FixedMetrics& f) {
  return ",\"decode_ms\":" + JsonNumber(f.decode_ms) + ",\"decode_p99_ms\":" + JsonNumber(f.decode_p99_ms) +
         ",\"prefill_tokens_per_s\":" + JsonNumber(f.prefill_tokens_per_s);
}

}  // namespace

std::string ProgressToJson(const EpochReport& r) {
  std::string json = "{\"step\":" + std::to_string(r.epoch) + ",\"accuracy\":" + JsonNumber(r.val_accuracy) +
                     ",\"loss\":" + JsonNumber(r.val_loss) + ",\"train_loss\":" + JsonNumber(r.train_loss) +
                     ",\"train_time_s\":" + JsonNumber(r.elapsed_s) +
                     ",\"skipped_steps\":" + std::to_string(r.skipped_steps) +
                     ",\"peak_memory_bytes\":" + std::to_string(r.peak_memory_bytes);
  if (r.language_model) json += ",\"bits_per_byte\":" + JsonNumber(r.val_loss / std::log(2.0));
  if (r.fixed.has_value()) {
    if (r.language_model) json += LanguageModelJson(*r.fixed);
    json += ",\"latency_ms\":" + JsonNumber(r.fixed->latency_ms) +
            ",\"latency_p99_ms\":" + JsonNumber(r.fixed->latency_p99_ms) +
            ",\"throughput_sps\":" + JsonNumber(r.fixed->throughput_sps) +
            ",\"params\":" + std::to_string(r.fixed->params) +
            ",\"model_bytes\":" + std::to_string(r.fixed->model_bytes);
  }
  return json + "}";
}

std::string MetricsToJson(const TrainMetrics& m) {
  std::string lm;
  if (m.language_model) {
    FixedMetrics fixed;
    fixed.decode_ms = m.decode_ms;
    fixed.decode_p99_ms = m.decode_p99_ms;
    fixed.prefill_tokens_per_s = m.prefill_tokens_per_s;
    lm = ",\"bits_per_byte\":" + JsonNumber(m.bits_per_byte) + LanguageModelJson(fixed);
  }
  return "{\"accuracy\":" + JsonNumber(m.accuracy) + ",\"test_accuracy\":" + JsonNumber(m.test_accuracy) +
         ",\"loss\":" + JsonNumber(m.loss) + lm + ",\"latency_ms\":" + JsonNumber(m.latency_ms) +
         ",\"latency_p99_ms\":" + JsonNumber(m.latency_p99_ms) +
         ",\"throughput_sps\":" + JsonNumber(m.throughput_sps) + ",\"params\":" + std::to_string(m.params) +
         ",\"model_bytes\":" + std::to_string(m.model_bytes) +
         ",\"train_time_s\":" + JsonNumber(m.train_time_s) +
         ",\"peak_memory_bytes\":" + std::to_string(m.peak_memory_bytes) +
         ",\"skipped_steps\":" + std::to_string(m.skipped_steps) + ",\"device\":" + JsonQuote(m.device) + "}";
}

}  // namespace hpo::trainer
