// Sections step and gemm: training throughput of MLP 784-W-W-10 (relu, batch 128, AdamW) in fp32, bf16
// and fp16, each step beside its own GEMMs timed alone in the same run (how much of the step is matrix
// product), and beside PyTorch training the same MLP on the same kind of preloaded random inputs.
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench/trainer/bench.h"
#include "bench/trainer/gemm_bench.h"
#include "bench/trainer/step_bench.h"

namespace hpo::bench {
namespace {

struct Shape {
  int64_t width;
  int64_t batch;
};

std::string ShapeArg(const Shape& s) { return std::to_string(s.width) + ":" + std::to_string(s.batch); }

std::string TypesText(const StepGemm& g) {
  return std::string(kernels::DTypeName(g.inputs)) + "->" + std::string(kernels::DTypeName(g.output));
}

}  // namespace

Status RunStepSection(const TrainerBenchOptions& options, const Reporter& reporter, bool step_table,
                      bool gemm_table) {
  HPO_ASSIGN_OR_RETURN(std::unique_ptr<kernels::Backend> backend, MakeBenchBackend(options, options.threads));
  const bool gpu = backend->kind() == kernels::BackendKind::kCuda;
  std::vector<Shape> shapes = {{256, 128}, {1024, 128}};
  if (gpu) shapes.push_back({2048, 512});

  StepTimingOptions step_options;
  GemmTimingOptions gemm_options;
  if (options.quick) {
    step_options = {.warmup_steps = 3, .blocks = 3, .block_seconds = 0.05};
    gemm_options = {.warmup = 1, .blocks = 3, .block_seconds = 0.01};
  }

  // PyTorch first, so that the machine is quiet for each.
  Result<TorchFigures> torch = FailedPreconditionError("no PyTorch");
  if (step_table && options.torch != nullptr && options.torch->available()) {
    std::vector<std::string> args = {"--shapes"};
    for (const Shape& s : shapes) args.push_back(ShapeArg(s));
    const std::vector<std::string> counts =
        options.quick ? std::vector<std::string>{"--warmup", "3", "--steps", "5", "--blocks", "3"}
                      : std::vector<std::string>{"--warmup", "10", "--steps", "20", "--blocks", "7"};
    args.insert(args.end(), counts.begin(), counts.end());
    torch = options.torch->Run("step", args);
    if (!torch.ok()) reporter.Note("step", "PyTorch: " + torch.status().ToString() + "; no ratios");
  }

  std::vector<Column> step_columns = {{"width", "W", Column::Format::kAuto},
                                      {"batch", "batch", Column::Format::kAuto},
                                      {"precision", "prec", Column::Format::kText},
                                      {"samples_per_s", "samples/s", Column::Format::kFixed, 0},
                                      {"step_ms", "step ms", Column::Format::kFixed, 3},
                                      {"gflops_6bp", "GFLOP/s 6BP", Column::Format::kFixed, 1},
                                      {"gemm_gflops", "GEMM GFLOP/s", Column::Format::kFixed, 1},
                                      {"gemm_ms", "GEMM ms", Column::Format::kFixed, 3},
                                      {"gemm_share", "GEMM share", Column::Format::kFixed, 2},
                                      {"cpu_per_wall", "CPU/wall", Column::Format::kFixed, 2},
                                      {"gemm_cpu_per_wall", "GEMM CPU/wall", Column::Format::kFixed, 2},
                                      {"skipped", "skipped", Column::Format::kAuto}};
  if (gpu) step_columns.push_back({"of_gemm_rate", "of GEMM rate", Column::Format::kFixed, 2});
  const std::vector<Column> peer_columns = {
      {"torch_samples_per_s", "torch samples/s", Column::Format::kFixed, 0},
      {"torch_cpu_per_wall", "torch CPU/wall", Column::Format::kFixed, 2},
      {"ratio", "hpo/torch", Column::Format::kRatio, 2}};
  step_columns.insert(step_columns.end(), peer_columns.begin(), peer_columns.end());
  Table steps(
      reporter, "step", "step",
      "Training step, MLP 784-W-W-10 relu, AdamW, random inputs in backend memory (" + backend->DeviceName() +
          "); samples/s = median block; GFLOP/s 6BP = 6 x batch x weights per step / step time; GEMM = "
          "the step's own GEMMs timed alone; GEMM share = their summed time / step time",
      step_columns);
  Table gemms(reporter, "gemm", "gemm",
              "The step's GEMMs alone, Backend::Gemm in the model's types (median per call)",
              {{"width", "W", Column::Format::kAuto},
               {"batch", "batch", Column::Format::kAuto},
               {"precision", "prec", Column::Format::kText},
               {"gemm", "gemm", Column::Format::kText},
               {"m", "m", Column::Format::kAuto},
               {"n", "n", Column::Format::kAuto},
               {"k", "k", Column::Format::kAuto},
               {"types", "types", Column::Format::kText},
               {"ms", "ms", Column::Format::kFixed, 4},
               {"gflops", "GFLOP/s", Column::Format::kFixed, 1}});

  for (const Shape& shape : shapes) {
    const trainer::MlpConfig config{
        .input_dim = 784, .hidden_layers = 2, .width = shape.width, .classes = 10};
    const auto weights =
        static_cast<double>(784 * shape.width + shape.width * shape.width + shape.width * 10);
    for (const trainer::Precision precision : kPrecisions) {
      const std::string name(trainer::PrecisionName(precision));
      HPO_ASSIGN_OR_RETURN(
          const GemmRun gemm_run,
          TimeGemms(*backend, StepGemms(config, shape.batch, trainer::ComputeType(precision)), gemm_options));
      double gemm_ms = 0, gemm_flops = 0;
      for (const GemmTiming& t : gemm_run.timings) {
        gemm_ms += t.ms;
        gemm_flops += t.gemm.Flops();
        if (gemm_table) {
          gemms.Add({shape.width, shape.batch, name, t.gemm.name, t.gemm.m, t.gemm.n, t.gemm.k,
                     TypesText(t.gemm), t.ms, t.gemm.Flops() / (t.ms * 1e6)});
        }
      }
      if (!step_table) continue;
      HPO_ASSIGN_OR_RETURN(const StepRun run,
                           TimeTrainingStep(*backend, config, precision, shape.batch, step_options));
      const double step_gflops = 6.0 * static_cast<double>(shape.batch) * weights / (run.step_ms * 1e6);
      const double gemm_gflops = gemm_flops / (gemm_ms * 1e6);
      const std::string key =
          "step_" + name + "_w" + std::to_string(shape.width) + "_b" + std::to_string(shape.batch);
      const Value torch_sps = PeerValue(torch, key + "_sps");
      std::vector<Value> row = {
          shape.width,           shape.batch, name,    run.samples_per_s,     run.step_ms,
          step_gflops,           gemm_gflops, gemm_ms, gemm_ms / run.step_ms, run.cpu_per_wall,
          gemm_run.cpu_per_wall, run.skipped};
      if (gpu) row.push_back(step_gflops / gemm_gflops);
      row.insert(row.end(),
                 {torch_sps, PeerValue(torch, key + "_cpu_per_wall"), Ratio(run.samples_per_s, torch_sps)});
      steps.Add(std::move(row));
    }
  }
  steps.Print();
  gemms.Print();
  if (step_table) {
    reporter.Note(
        "step",
        "GFLOP/s 6BP counts 6 x batch x weights per step; the step itself runs 2 x batch x (3 P - P0) "
        "GEMM FLOPs (P weights, P0 the first layer's: its input gets no gradient), which is what "
        "GEMM GFLOP/s divides by." +
            (gpu ? " of GEMM rate = GFLOP/s 6BP / GEMM GFLOP/s. PyTorch on CUDA: fp32, bf16 autocast, "
                   "fp16 autocast with GradScaler."
                 : " PyTorch: fp32 and bf16 autocast on " + std::to_string(options.threads) +
                       " threads (its CPU autocast has no fp16, so fp16 has no ratio)."));
  }
  return Status::Ok();
}

}  // namespace hpo::bench
