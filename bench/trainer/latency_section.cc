// Section latency: the latency objective (batch-1 forward p50 and p99, trainer/latency.h) and batch-256
// throughput of MLP 784-256-256-10 in each precision, with 1 thread and with --threads threads (one
// backend per setting), beside PyTorch's forward pass under no_grad with the same thread count. As in
// trainer::Train, each forward pass starts from fp32 inputs in backend memory: the cast to the precision
// is part of the work (PyTorch's autocast casts inside the model too).
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "base/rng.h"
#include "bench/trainer/bench.h"
#include "trainer/latency.h"
#include "trainer/mlp.h"

namespace hpo::bench {
namespace {

constexpr int64_t kWidth = 256;
constexpr int64_t kBatch = 256;

struct LatencyRun {
  trainer::LatencyStats one;  // batch 1
  double batch_sps = 0;       // batch kBatch: samples/s at the median
  double cpu_per_wall = 0;    // over the batch-1 measurement
};

Result<LatencyRun> MeasureForward(kernels::Backend& backend, trainer::Precision precision,
                                  const trainer::LatencyOptions& one_options,
                                  const trainer::LatencyOptions& batch_options) {
  const trainer::MlpConfig config{.input_dim = 784, .hidden_layers = 2, .width = kWidth, .classes = 10};
  const kernels::DType dtype = trainer::ComputeType(precision);
  HPO_ASSIGN_OR_RETURN(trainer::Mlp mlp, trainer::Mlp::Create(backend, config, dtype, kBatch, /*seed=*/0));
  const auto size = static_cast<size_t>(kBatch * config.input_dim);
  std::vector<float> host(size);
  Rng rng(1);
  for (float& v : host) v = static_cast<float>(rng.Uniform01());
  HPO_ASSIGN_OR_RETURN(kernels::Buffer x32, backend.Allocate(size, kernels::DType::kF32));
  HPO_ASSIGN_OR_RETURN(kernels::Buffer x, backend.Allocate(size, dtype));
  HPO_RETURN_IF_ERROR(backend.Upload(std::span<const float>(host), x32.view()));
  auto forward = [&](int64_t rows) -> Status {
    const auto n = static_cast<size_t>(rows * config.input_dim);
    if (dtype == kernels::DType::kF32) return mlp.Forward(x32.Sub(0, n), rows);
    HPO_RETURN_IF_ERROR(backend.Cast(x32.Sub(0, n), x.Sub(0, n)));
    return mlp.Forward(x.Sub(0, n), rows);
  };
  LatencyRun run;
  const Stopwatch watch;
  HPO_ASSIGN_OR_RETURN(run.one, trainer::MeasureLatency(
                                    backend, [&] { return forward(1); }, one_options));
  run.cpu_per_wall = watch.CpuSeconds() / watch.WallSeconds();
  HPO_ASSIGN_OR_RETURN(const trainer::LatencyStats batch,
                       trainer::MeasureLatency(
                           backend, [&] { return forward(kBatch); }, batch_options));
  run.batch_sps = static_cast<double>(kBatch) / (batch.p50_ms / 1e3);
  return run;
}

Value Micros(const Value& ms) {
  if (const auto* v = std::get_if<double>(&ms)) return *v * 1e3;
  return ms;
}

}  // namespace

Status RunLatencySection(const TrainerBenchOptions& options, const Reporter& reporter) {
  const int samples = options.quick ? 500 : 2000;
  const int warmup = options.quick ? 50 : 200;
  // Exactly `samples` timed batch-1 passes, as PyTorch's side takes.
  const trainer::LatencyOptions one_options{
      .warmup = warmup, .min_samples = samples, .max_samples = samples, .max_seconds = 0};
  const trainer::LatencyOptions batch_options{
      .warmup = 3, .min_samples = 10, .max_samples = 200, .max_seconds = 0.2};

  // The thread settings: 1 and --threads on the CPU; a GPU has one.
  std::set<int> thread_counts = {options.threads};
  {
    HPO_ASSIGN_OR_RETURN(const std::unique_ptr<kernels::Backend> probe, MakeBenchBackend(options, 1));
    if (probe->kind() == kernels::BackendKind::kCpu) thread_counts.insert(1);
  }

  Result<TorchFigures> torch = FailedPreconditionError("no PyTorch");
  if (options.torch != nullptr && options.torch->available()) {
    torch = options.torch->Run("latency", {"--latency-warmup", std::to_string(warmup), "--latency-samples",
                                           std::to_string(samples)});
    if (!torch.ok()) reporter.Note("latency", "PyTorch: " + torch.status().ToString() + "; no ratios");
  }

  Table table(reporter, "latency", "latency",
              "Forward pass of MLP 784-256-256-10: batch-1 p50/p99 over " + std::to_string(samples) +
                  " passes (MeasureLatency) and batch-256 samples/s, beside PyTorch under no_grad "
                  "(hpo/torch < 1: hpo is faster; the target is p50 <= 0.5x with the same threads)",
              {{"threads", "threads", Column::Format::kAuto},
               {"precision", "prec", Column::Format::kText},
               {"p50_us", "p50 us", Column::Format::kFixed, 1},
               {"p99_us", "p99 us", Column::Format::kFixed, 1},
               {"torch_p50_us", "torch p50", Column::Format::kFixed, 1},
               {"p50_ratio", "p50 hpo/torch", Column::Format::kRatio, 2},
               {"torch_p99_us", "torch p99", Column::Format::kFixed, 1},
               {"p99_ratio", "p99 hpo/torch", Column::Format::kRatio, 2},
               {"cpu_per_wall", "CPU/wall b1", Column::Format::kFixed, 2},
               {"torch_cpu_per_wall", "torch CPU/wall b1", Column::Format::kFixed, 2},
               {"b256_samples_per_s", "b256 samples/s", Column::Format::kFixed, 0},
               {"torch_b256_samples_per_s", "torch b256", Column::Format::kFixed, 0},
               {"b256_ratio", "b256 hpo/torch", Column::Format::kRatio, 2}});
  for (const int threads : thread_counts) {
    // One backend per setting, alive alone: OpenBLAS's thread count is process-wide.
    HPO_ASSIGN_OR_RETURN(const std::unique_ptr<kernels::Backend> backend, MakeBenchBackend(options, threads));
    for (const trainer::Precision precision : kPrecisions) {
      const std::string name(trainer::PrecisionName(precision));
      HPO_ASSIGN_OR_RETURN(const LatencyRun run,
                           MeasureForward(*backend, precision, one_options, batch_options));
      const std::string key = "lat_" + name + "_t" + std::to_string(threads);
      const Value p50 = run.one.p50_ms * 1e3, p99 = run.one.p99_ms * 1e3;
      const Value torch_p50 = Micros(PeerValue(torch, key + "_p50_ms"));
      const Value torch_p99 = Micros(PeerValue(torch, key + "_p99_ms"));
      const Value torch_b256 = PeerValue(torch, key + "_b256_sps");
      table.Add({int64_t{threads}, name, p50, p99, torch_p50, Ratio(p50, torch_p50), torch_p99,
                 Ratio(p99, torch_p99), run.cpu_per_wall, PeerValue(torch, key + "_cpu_per_wall"),
                 run.batch_sps, torch_b256, Ratio(run.batch_sps, torch_b256)});
    }
  }
  table.Print();
  return Status::Ok();
}

}  // namespace hpo::bench
