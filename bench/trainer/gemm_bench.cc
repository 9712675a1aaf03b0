#include "bench/trainer/gemm_bench.h"

#include <algorithm>
#include <cmath>

#include "bench/common/report.h"

namespace hpo::bench {

using kernels::DType;
using kernels::Transpose;

std::vector<StepGemm> StepGemms(const trainer::MlpConfig& config, int64_t rows, DType dtype) {
  const int layers = config.hidden_layers + 1;
  auto fan_in = [&](int l) { return l == 0 ? config.input_dim : config.width; };
  auto fan_out = [&](int l) { return l == config.hidden_layers ? config.classes : config.width; };
  const DType master = kernels::AccumulationType(dtype);
  std::vector<StepGemm> gemms;
  for (int l = 0; l < layers; ++l) {
    gemms.push_back({"fwd" + std::to_string(l), Transpose::kNo, Transpose::kNo, rows, fan_out(l), fan_in(l),
                     dtype, dtype});
  }
  for (int l = layers - 1; l >= 0; --l) {
    gemms.push_back({"dW" + std::to_string(l), Transpose::kYes, Transpose::kNo, fan_in(l), fan_out(l), rows,
                     dtype, master});
    if (l > 0) {
      gemms.push_back({"dx" + std::to_string(l), Transpose::kNo, Transpose::kYes, rows, fan_in(l), fan_out(l),
                       dtype, dtype});
    }
  }
  return gemms;
}

namespace {

Result<double> TimeOne(kernels::Backend& backend, const StepGemm& g, const GemmTimingOptions& options,
                       double& cpu_s, double& wall_s) {
  const auto a_size = static_cast<size_t>(g.m * g.k);
  const auto b_size = static_cast<size_t>(g.k * g.n);
  const auto c_size = static_cast<size_t>(g.m * g.n);
  HPO_ASSIGN_OR_RETURN(kernels::Buffer a, backend.Allocate(a_size, g.inputs));
  HPO_ASSIGN_OR_RETURN(kernels::Buffer b, backend.Allocate(b_size, g.inputs));
  HPO_ASSIGN_OR_RETURN(kernels::Buffer c, backend.Allocate(c_size, g.output));
  HPO_RETURN_IF_ERROR(backend.Fill(a.view(), 0.01));
  HPO_RETURN_IF_ERROR(backend.Fill(b.view(), 0.02));
  int repeats = 1;
  auto block = [&]() -> Status {
    for (int i = 0; i < repeats; ++i) {
      HPO_RETURN_IF_ERROR(
          backend.Gemm(g.trans_a, g.trans_b, g.m, g.n, g.k, 1.0, a.view(), b.view(), 0.0, c.view()));
    }
    return Status::Ok();
  };
  for (int i = 0; i < options.warmup; ++i) HPO_RETURN_IF_ERROR(backend.TimeMs(block).status());
  HPO_ASSIGN_OR_RETURN(const double one_ms, backend.TimeMs(block));
  repeats =
      static_cast<int>(std::clamp(std::ceil(options.block_seconds * 1e3 / std::max(one_ms, 1e-4)), 1.0, 1e5));
  std::vector<double> per_call_ms;
  const Stopwatch watch;
  for (int i = 0; i < options.blocks; ++i) {
    HPO_ASSIGN_OR_RETURN(const double ms, backend.TimeMs(block));
    per_call_ms.push_back(ms / repeats);
  }
  cpu_s += watch.CpuSeconds();
  wall_s += watch.WallSeconds();
  return Summarize(per_call_ms).median;
}

}  // namespace

Result<GemmRun> TimeGemms(kernels::Backend& backend, const std::vector<StepGemm>& gemms,
                          const GemmTimingOptions& options) {
  GemmRun run;
  double cpu_s = 0, wall_s = 0;
  for (const StepGemm& g : gemms) {
    HPO_ASSIGN_OR_RETURN(const double ms, TimeOne(backend, g, options, cpu_s, wall_s));
    run.timings.push_back({g, ms});
  }
  run.cpu_per_wall = wall_s > 0 ? cpu_s / wall_s : 0;
  return run;
}

}  // namespace hpo::bench
