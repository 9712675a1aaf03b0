// Sections arch and arch-accuracy: the CNN, ViT and language-model families beside their PyTorch twins
// (bench/trainer/torch_models.py, run by torch_arch.py; the twins' logits and gradients are checked
// against ours by tests/trainer/torch_parity_test.cc), same shapes, threads and optimizer (AdamW lr 1e-3,
// weight decay 0.01 on weight matrices).
//
// arch: training throughput (fp32 and bf16; PyTorch's bf16 is CPU autocast) on random inputs in backend
// memory (TimeModelSteps, as the step section times the MLP), batch-1 inference latency (MeasureLatency,
// as the latency section; PyTorch eager and torch.jit.trace, under no_grad), and the language model's
// per-token decode latency with the KV cache after a 64-token prompt (PyTorch: its own preallocated KV
// cache in torch_models.Lm). PyTorch runs first, warmed up by a throwaway trainer of the first model; our
// side throws away a trainer of the first model too.
// arch-accuracy (not with --quick; minutes): CNN and ViT trained 10 epochs on Fashion-MNIST by
// trainer::Train, test accuracy beside PyTorch's for the same model and recipe (AccuracyRuns).
#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/rng.h"
#include "base/strings.h"
#include "bench/trainer/bench.h"
#include "bench/trainer/step_bench.h"
#include "bench/trainer/torch_models.h"
#include "trainer/cnn.h"
#include "trainer/dataset.h"
#include "trainer/knobs.h"
#include "trainer/latency.h"
#include "trainer/lm.h"
#include "trainer/schedule.h"
#include "trainer/train.h"
#include "trainer/vit.h"

namespace hpo::bench {
namespace {

using kernels::DType;
using trainer::Precision;

constexpr int64_t kPrompt = 64;
constexpr int kAccuracyEpochs = 10;
constexpr int64_t kAccuracyVitWidth = 128;  // the arch-accuracy ViT's d_model and patch side
constexpr int64_t kAccuracyVitPatch = 7;

using ModelFactory =
    std::function<Result<std::unique_ptr<trainer::Model>>(kernels::Backend&, DType, int64_t max_rows)>;

// One model of the section, on both sides.
struct ArchModel {
  std::string tag;     // PyTorch's key prefix
  std::string label;   // the table's
  std::string family;  // torch_models.build's
  std::string config;  // TorchConfig(...)
  ModelFactory make;
  int64_t batch = 0;           // training rows per step
  int64_t input_size = 0;      // per row: pixels, or tokens
  int64_t labels = 0;          // label values: classes, or the vocabulary
  int64_t tokens_per_row = 1;  // outputs per row: 1 for an image, seq_len for a sequence
  std::vector<Precision> precisions;
  bool latency = false;  // batch-1 forward passes
  bool decode = false;   // the language model's decode step
};

template <typename M, typename C>
ModelFactory Factory(const C& config) {
  return [config](kernels::Backend& backend, DType dtype,
                  int64_t rows) -> Result<std::unique_ptr<trainer::Model>> {
    HPO_ASSIGN_OR_RETURN(M model, M::Create(backend, config, dtype, rows, /*seed=*/0));
    return std::unique_ptr<trainer::Model>(std::make_unique<M>(std::move(model)));
  };
}

trainer::CnnConfig ArchCnn() {
  trainer::CnnConfig c;  // 28x28x1, stages of 32 and 64 channels, 3x3, batch norm, max pool, relu
  c.stage_channels = {32, 64};
  return c;
}

trainer::TransformerConfig Blocks(int64_t d_model) {
  trainer::TransformerConfig t;  // pre-norm LayerNorm, GELU
  t.d_model = d_model;
  t.layers = 4;
  t.heads = 4;
  t.kv_heads = 4;
  t.ffn_hidden = 4 * d_model;
  return t;
}

trainer::VitConfig ArchVit(int64_t d_model) {
  trainer::VitConfig c;  // 28x28x1 in 4x4 patches, learned positions
  c.patch_size = 4;
  c.transformer = Blocks(d_model);
  return c;
}

trainer::LmConfig ArchLm(int64_t d_model) {
  trainer::LmConfig c;  // bytes, learned positions
  c.seq_len = 128;
  c.transformer = Blocks(d_model);
  return c;
}

std::vector<ArchModel> ArchModels() {
  const std::vector<Precision> both = {Precision::kFp32, Precision::kBf16};
  std::vector<ArchModel> models;
  const trainer::CnnConfig cnn = ArchCnn();
  models.push_back({.tag = "cnn",
                    .label = "CNN 32-64",
                    .family = "cnn",
                    .config = TorchConfig(cnn),
                    .make = Factory<trainer::Cnn>(cnn),
                    .batch = 128,
                    .input_size = 784,
                    .labels = 10,
                    .precisions = both,
                    .latency = true});
  for (const int64_t d : {64, 128}) {
    const trainer::VitConfig vit = ArchVit(d);
    models.push_back({.tag = "vit" + std::to_string(d),
                      .label = "ViT d" + std::to_string(d),
                      .family = "vit",
                      .config = TorchConfig(vit),
                      .make = Factory<trainer::Vit>(vit),
                      .batch = 128,
                      .input_size = 784,
                      .labels = 10,
                      .precisions = both,
                      .latency = true});
  }
  for (const int64_t d : {128, 256}) {
    const trainer::LmConfig lm = ArchLm(d);
    models.push_back({.tag = "lm" + std::to_string(d),
                      .label = "LM d" + std::to_string(d),
                      .family = "lm",
                      .config = TorchConfig(lm),
                      .make = Factory<trainer::Lm>(lm),
                      .batch = 8,
                      .input_size = lm.seq_len,
                      .labels = lm.vocab,
                      .tokens_per_row = lm.seq_len,
                      .precisions = {Precision::kFp32},
                      .decode = true});
  }
  return models;
}

std::string Spec(const std::vector<ArchModel>& models) {
  std::string spec = R"({"models": [)";
  for (size_t i = 0; i < models.size(); ++i) {
    const ArchModel& m = models[i];
    spec += (i > 0 ? ", " : "") + std::string(R"({"tag": ")") + m.tag + R"(", "family": ")" + m.family +
            R"(", "config": )" + m.config + R"(, "batch": )" + std::to_string(m.batch) +
            R"(, "precisions": [)";
    for (size_t p = 0; p < m.precisions.size(); ++p) {
      spec += (p > 0 ? ", \"" : "\"") + std::string(trainer::PrecisionName(m.precisions[p])) + "\"";
    }
    spec += std::string(R"(], "latency": )") + (m.latency ? "true" : "false") + R"(, "decode": )" +
            (m.decode ? "true" : "false") + R"(, "prompt": )" + std::to_string(kPrompt) + "}";
  }
  return spec + "]}";
}

// Random inputs (standard normal pixels in the model's type, or tokens) and labels for `rows` rows.
struct Batch {
  kernels::Buffer x, y;
};

Result<Batch> RandomBatch(kernels::Backend& backend, const ArchModel& m, DType dtype, int64_t rows) {
  Rng rng(5);
  const auto size = static_cast<size_t>(rows * m.input_size);
  Batch batch;
  if (m.family == "lm") {
    std::vector<int32_t> tokens(size);
    for (int32_t& t : tokens) t = static_cast<int32_t>(rng.UniformInt(static_cast<uint64_t>(m.labels)));
    HPO_ASSIGN_OR_RETURN(batch.x, backend.Allocate(size, DType::kI32));
    HPO_RETURN_IF_ERROR(backend.Upload(std::span<const int32_t>(tokens), batch.x.view()));
  } else {
    std::vector<float> pixels(size);
    for (float& v : pixels) v = static_cast<float>(rng.Normal());
    HPO_ASSIGN_OR_RETURN(kernels::Buffer x32, backend.Allocate(size, DType::kF32));
    HPO_RETURN_IF_ERROR(backend.Upload(std::span<const float>(pixels), x32.view()));
    HPO_ASSIGN_OR_RETURN(batch.x, backend.Allocate(size, dtype));
    HPO_RETURN_IF_ERROR(backend.Cast(x32.view(), batch.x.view()));
  }
  std::vector<int32_t> labels(static_cast<size_t>(rows * m.tokens_per_row));
  for (int32_t& l : labels) l = static_cast<int32_t>(rng.UniformInt(static_cast<uint64_t>(m.labels)));
  HPO_ASSIGN_OR_RETURN(batch.y, backend.Allocate(labels.size(), DType::kI32));
  HPO_RETURN_IF_ERROR(backend.Upload(std::span<const int32_t>(labels), batch.y.view()));
  return batch;
}

Result<StepRun> TimeArchSteps(kernels::Backend& backend, const ArchModel& m, Precision precision,
                              const StepTimingOptions& options) {
  const DType dtype = trainer::ComputeType(precision);
  HPO_ASSIGN_OR_RETURN(std::unique_ptr<trainer::Model> model, m.make(backend, dtype, m.batch));
  HPO_ASSIGN_OR_RETURN(const Batch batch, RandomBatch(backend, m, dtype, m.batch));
  return TimeModelSteps(backend, *model, batch.x.view(), batch.y.view(), m.batch, precision, options);
}

// Batch-1 fp32 latency: a forward pass, or (decode) the step of token kPrompt after a prompt of kPrompt.
Result<trainer::LatencyStats> TimeArchLatency(kernels::Backend& backend, const ArchModel& m, bool decode,
                                              const trainer::LatencyOptions& options) {
  HPO_ASSIGN_OR_RETURN(std::unique_ptr<trainer::Model> model, m.make(backend, DType::kF32, 1));
  HPO_ASSIGN_OR_RETURN(const Batch batch, RandomBatch(backend, m, DType::kF32, 1));
  if (!decode) {
    return trainer::MeasureLatency(
        backend, [&] { return model->Forward(batch.x.view(), 1); }, options);
  }
  auto& lm = static_cast<trainer::Lm&>(*model);
  HPO_RETURN_IF_ERROR(lm.Prefill(batch.x.Sub(0, kPrompt), kPrompt));
  // Repeating the step rewrites the same cache row: every run does the same work (as trainer::Train).
  return trainer::MeasureLatency(
      backend, [&] { return lm.DecodeStep(batch.x.Sub(kPrompt, 1), kPrompt); }, options);
}

// The peer running torch_arch.py, which sits beside torch_step.py.
TorchPeer ArchPeer(const TorchPeer& peer) {
  return peer.WithScript(
      std::filesystem::path(peer.options().script).replace_filename("torch_arch.py").string());
}

Value Micros(const Value& ms) {
  if (const auto* v = std::get_if<double>(&ms)) return *v * 1e3;
  return ms;
}

}  // namespace

Status RunArchSection(const TrainerBenchOptions& options, const Reporter& reporter) {
  const std::vector<ArchModel> models = ArchModels();
  const int samples = options.quick ? 300 : 1000;
  const int warmup = options.quick ? 30 : 100;
  StepTimingOptions step_options{.warmup_steps = 5, .blocks = 5, .block_seconds = 1.0};
  if (options.quick) step_options = {.warmup_steps = 2, .blocks = 3, .block_seconds = 0.05};
  const trainer::LatencyOptions latency_options{
      .warmup = warmup, .min_samples = samples, .max_samples = samples, .max_seconds = 0};

  Result<TorchFigures> torch = FailedPreconditionError("no PyTorch");
  if (options.torch != nullptr && options.torch->available()) {
    const std::vector<std::string> counts =
        options.quick ? std::vector<std::string>{"--warmup", "2", "--steps", "3", "--blocks", "3"}
                      : std::vector<std::string>{"--warmup", "5", "--steps", "5", "--blocks", "5"};
    std::vector<std::string> args = {"--spec",
                                     Spec(models),
                                     "--latency-warmup",
                                     std::to_string(warmup),
                                     "--latency-samples",
                                     std::to_string(samples)};
    args.insert(args.end(), counts.begin(), counts.end());
    torch = ArchPeer(*options.torch).Run("arch", args);
    if (!torch.ok()) reporter.Note("arch", "PyTorch: " + torch.status().ToString() + "; no ratios");
  }

  HPO_ASSIGN_OR_RETURN(const std::unique_ptr<kernels::Backend> backend,
                       MakeBenchBackend(options, options.threads));
  // Warm-up: a throwaway trainer of the first model in each of its precisions.
  for (const Precision precision : models.front().precisions) {
    HPO_RETURN_IF_ERROR(TimeArchSteps(*backend, models.front(), precision,
                                      {.warmup_steps = 2, .blocks = 1, .block_seconds = 0})
                            .status());
  }

  Table train(
      reporter, "arch", "arch_train",
      "Training, AdamW lr 1e-3, random inputs in backend memory (" + backend->DeviceName() +
          "): CNN 28x28x1 stages 32-64 (3x3, batch norm, max pool, relu); ViT 28x28x1 patch 4, 4 "
          "layers, 4 heads, mlp_ratio 4, pre-norm LayerNorm, learned positions; LM bytes, seq_len 128, "
          "4 layers, 4 heads; rate = median block (images/s, or tokens/s for the LM)",
      {{"model", "model", Column::Format::kText},
       {"params", "params", Column::Format::kAuto},
       {"batch", "batch", Column::Format::kAuto},
       {"precision", "prec", Column::Format::kText},
       {"rate", "rate", Column::Format::kFixed, 0},
       {"unit", "unit", Column::Format::kText},
       {"cpu_per_wall", "CPU/wall", Column::Format::kFixed, 2},
       {"torch_rate", "torch rate", Column::Format::kFixed, 0},
       {"torch_cpu_per_wall", "torch CPU/wall", Column::Format::kFixed, 2},
       {"ratio", "hpo/torch", Column::Format::kRatio, 2}});
  Table latency(reporter, "arch", "arch_latency",
                "Batch-1 forward pass, fp32: p50 and p99 over " + std::to_string(samples) +
                    " passes, beside PyTorch eager and torch.jit.trace under no_grad (hpo/torch < 1: hpo is "
                    "faster)",
                {{"model", "model", Column::Format::kText},
                 {"p50_us", "p50 us", Column::Format::kFixed, 1},
                 {"p99_us", "p99 us", Column::Format::kFixed, 1},
                 {"torch_eager_p50_us", "eager p50", Column::Format::kFixed, 1},
                 {"eager_ratio", "hpo/eager", Column::Format::kRatio, 2},
                 {"torch_jit_p50_us", "jit p50", Column::Format::kFixed, 1},
                 {"jit_ratio", "hpo/jit", Column::Format::kRatio, 2}});
  Table decode(reporter, "arch", "arch_decode",
               "LM decode, batch 1, fp32: one token's step with the KV cache after a " +
                   std::to_string(kPrompt) + "-token prompt, p50 and p99 over " + std::to_string(samples) +
                   " steps, beside PyTorch eager with its own preallocated KV cache",
               {{"model", "model", Column::Format::kText},
                {"p50_us", "p50 us", Column::Format::kFixed, 1},
                {"p99_us", "p99 us", Column::Format::kFixed, 1},
                {"torch_p50_us", "torch p50", Column::Format::kFixed, 1},
                {"p50_ratio", "p50 hpo/torch", Column::Format::kRatio, 2},
                {"torch_p99_us", "torch p99", Column::Format::kFixed, 1},
                {"p99_ratio", "p99 hpo/torch", Column::Format::kRatio, 2}});

  for (const ArchModel& m : models) {
    int64_t params = 0;
    for (const Precision precision : m.precisions) {
      HPO_ASSIGN_OR_RETURN(const StepRun run, TimeArchSteps(*backend, m, precision, step_options));
      const std::string key = m.tag + "_train_" + std::string(trainer::PrecisionName(precision));
      const auto per_row = static_cast<double>(m.tokens_per_row);
      Value torch_rate = PeerValue(torch, key + "_sps");
      if (const auto* v = std::get_if<double>(&torch_rate)) torch_rate = *v * per_row;
      const double rate = run.samples_per_s * per_row;
      if (params == 0) {
        HPO_ASSIGN_OR_RETURN(const std::unique_ptr<trainer::Model> model, m.make(*backend, DType::kF32, 1));
        params = model->ParamCount();
      }
      train.Add({m.label, params, m.batch, std::string(trainer::PrecisionName(precision)), rate,
                 std::string(m.tokens_per_row > 1 ? "tokens/s" : "images/s"), run.cpu_per_wall, torch_rate,
                 PeerValue(torch, key + "_cpu_per_wall"), Ratio(rate, torch_rate)});
    }
    if (m.latency) {
      HPO_ASSIGN_OR_RETURN(const trainer::LatencyStats stats,
                           TimeArchLatency(*backend, m, /*decode=*/false, latency_options));
      const Value p50 = stats.p50_ms * 1e3;
      const Value eager = Micros(PeerValue(torch, m.tag + "_lat_eager_p50_ms"));
      const Value jit = Micros(PeerValue(torch, m.tag + "_lat_jit_p50_ms"));
      latency.Add({m.label, p50, stats.p99_ms * 1e3, eager, Ratio(p50, eager), jit, Ratio(p50, jit)});
    }
    if (m.decode) {
      HPO_ASSIGN_OR_RETURN(const trainer::LatencyStats stats,
                           TimeArchLatency(*backend, m, /*decode=*/true, latency_options));
      const Value p50 = stats.p50_ms * 1e3, p99 = stats.p99_ms * 1e3;
      const Value torch_p50 = Micros(PeerValue(torch, m.tag + "_decode_p50_ms"));
      const Value torch_p99 = Micros(PeerValue(torch, m.tag + "_decode_p99_ms"));
      decode.Add({m.label, p50, p99, torch_p50, Ratio(p50, torch_p50), torch_p99, Ratio(p99, torch_p99)});
    }
  }
  train.Print();
  latency.Print();
  decode.Print();
  reporter.Note("arch",
                "PyTorch: fp32 and bf16 autocast on " + std::to_string(options.threads) +
                    " threads; the same models as ours (tests/trainer/torch_parity_test.cc checks their "
                    "logits and gradients against ours), with PyTorch's own initialisation.");
  return Status::Ok();
}

namespace {

// The accuracy runs' recipe, the same on both sides: AdamW, batch 128, kAccuracyEpochs epochs, fp32, with
// each family's learning rate, schedule and regularisation.
struct AccuracyRun {
  ArchModel model;
  trainer::TrainConfig config;
};

std::vector<AccuracyRun> AccuracyRuns(int threads) {
  trainer::TrainConfig base;
  base.epochs = kAccuracyEpochs;
  base.threads = threads;
  base.weight_decay = 0.01;
  base.schedule = trainer::ScheduleKind::kCosine;
  trainer::TrainConfig cnn = base;  // stages of 32 and 64 channels, batch norm, max pool: ArchCnn()
  cnn.model = trainer::ModelKind::kCnn;
  // The ViT: d_model 128 on 7x7 patches (16 tokens), 4 layers, 4 heads, which learns Fashion-MNIST in 10
  // epochs where d_model 64 on 4x4 patches does not, at about the same cost; a warm-up, a higher peak
  // rate, more weight decay and label smoothing, as vision transformers are usually trained.
  trainer::TrainConfig vit = base;
  vit.model = trainer::ModelKind::kVit;
  vit.d_model = kAccuracyVitWidth;
  vit.patch_size = kAccuracyVitPatch;
  vit.lr = 2e-3;
  vit.weight_decay = 0.05;
  vit.schedule = trainer::ScheduleKind::kWarmupCosine;
  vit.warmup_fraction = 0.05;
  vit.label_smoothing = 0.1;
  ArchModel vit_model = ArchModels()[1];
  trainer::VitConfig vit_config = ArchVit(kAccuracyVitWidth);
  vit_config.patch_size = kAccuracyVitPatch;
  vit_model.tag = "vitacc";
  vit_model.label = "ViT d" + std::to_string(kAccuracyVitWidth) + " p" + std::to_string(kAccuracyVitPatch);
  vit_model.config = TorchConfig(vit_config);
  return {{ArchModels()[0], cnn}, {vit_model, vit}};
}

// The recipe of a run as torch_arch.py reads it.
std::string RecipeJson(const trainer::TrainConfig& c) {
  using trainer::JsonNumber;
  return R"({"lr": )" + JsonNumber(c.lr) + R"(, "weight_decay": )" + JsonNumber(c.weight_decay) +
         R"(, "schedule": ")" + std::string(trainer::ScheduleKindName(c.schedule)) +
         R"(", "warmup_fraction": )" + JsonNumber(c.warmup_fraction) + R"(, "label_smoothing": )" +
         JsonNumber(c.label_smoothing) + "}";
}

}  // namespace

Status RunArchAccuracySection(const TrainerBenchOptions& options, const Reporter& reporter) {
  HPO_ASSIGN_OR_RETURN(const std::optional<trainer::Datasets> data,
                       AccuracyData(options, reporter, "arch-accuracy"));
  if (!data.has_value()) return Status::Ok();
  const std::vector<AccuracyRun> runs = AccuracyRuns(options.threads);

  Result<TorchFigures> torch = FailedPreconditionError("no PyTorch");
  if (options.torch != nullptr && options.torch->available()) {
    std::vector<ArchModel> models;
    std::string recipes = "{";
    for (const AccuracyRun& run : runs) {
      models.push_back(run.model);
      recipes += (recipes.size() > 1 ? ", \"" : "\"") + run.model.tag + "\": " + RecipeJson(run.config);
    }
    torch = ArchPeer(*options.torch)
                .Run("arch-accuracy", {"--spec", Spec(models), "--recipes", recipes + "}", "--epochs",
                                       std::to_string(kAccuracyEpochs)});
    if (!torch.ok()) reporter.Note("arch-accuracy", "PyTorch: " + torch.status().ToString() + "; no ratios");
  }

  HPO_ASSIGN_OR_RETURN(const std::unique_ptr<kernels::Backend> backend,
                       MakeBenchBackend(options, options.threads));
  Table table(reporter, "arch-accuracy", "arch_accuracy",
              "Fashion-MNIST, AdamW, batch 128, " + std::to_string(kAccuracyEpochs) +
                  " epochs, fp32, seed 0, each row's recipe on both sides (" + backend->DeviceName() + ")",
              {{"model", "model", Column::Format::kText},
               {"val_accuracy", "val acc", Column::Format::kFixed, 4},
               {"recipe", "recipe", Column::Format::kText},
               {"test_accuracy", "test acc", Column::Format::kFixed, 4},
               {"torch_test_accuracy", "torch test acc", Column::Format::kFixed, 4},
               {"samples_per_s", "samples/s", Column::Format::kFixed, 0},
               {"torch_samples_per_s", "torch samples/s", Column::Format::kFixed, 0},
               {"ratio", "hpo/torch", Column::Format::kRatio, 2},
               {"train_time_s", "train s", Column::Format::kFixed, 1}});
  for (const auto& [model, config] : runs) {
    HPO_ASSIGN_OR_RETURN(const trainer::TrainMetrics metrics, trainer::Train(config, *backend, *data));
    const std::string recipe =
        "lr " + FormatDouble(config.lr) + " " + std::string(trainer::ScheduleKindName(config.schedule)) +
        ", wd " + FormatDouble(config.weight_decay) +
        (config.label_smoothing > 0 ? ", ls " + FormatDouble(config.label_smoothing) : "");
    const double samples_per_s =
        static_cast<double>(data->train.count) * kAccuracyEpochs / std::max(metrics.train_time_s, 1e-9);
    const Value torch_sps = PeerValue(torch, model.tag + "_acc_sps");
    table.Add({model.label, metrics.accuracy, recipe, metrics.test_accuracy,
               PeerValue(torch, model.tag + "_acc_test"), samples_per_s, torch_sps,
               Ratio(samples_per_s, torch_sps), metrics.train_time_s});
  }
  table.Print();
  reporter.Note("arch-accuracy",
                "targets: CNN >= 0.91, ViT >= 0.88 test accuracy. hpo trains on the first " +
                    std::to_string(data->train.count) +
                    " training images (the rest are its validation set) and its train time includes the "
                    "per-epoch validation pass; PyTorch trains on all 60000 with no validation.");
  return Status::Ok();
}

}  // namespace hpo::bench
