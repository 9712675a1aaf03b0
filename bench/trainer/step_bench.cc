#include "bench/trainer/step_bench.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <vector>

#include "base/rng.h"
#include "bench/common/report.h"
#include "trainer/loss_scaler.h"
#include "trainer/optimizer.h"

namespace hpo::bench {

using kernels::Buffer;
using kernels::ConstView;
using kernels::DType;

Result<StepRun> TimeTrainingStep(kernels::Backend& backend, const trainer::MlpConfig& config,
                                 trainer::Precision precision, int64_t batch,
                                 const StepTimingOptions& options) {
  const DType dtype = trainer::ComputeType(precision);
  HPO_ASSIGN_OR_RETURN(trainer::Mlp mlp, trainer::Mlp::Create(backend, config, dtype, batch, options.seed));
  // Random inputs (standard normal) and labels, uploaded once and cast to the compute type.
  Rng rng(DeriveSeed(options.seed, 7));
  std::vector<float> x_host(static_cast<size_t>(batch * config.input_dim));
  for (float& v : x_host) v = static_cast<float>(rng.Normal());
  std::vector<int32_t> y_host(static_cast<size_t>(batch));
  for (int32_t& v : y_host) v = static_cast<int32_t>(rng.UniformInt(static_cast<uint64_t>(config.classes)));
  HPO_ASSIGN_OR_RETURN(Buffer x32, backend.Allocate(x_host.size(), DType::kF32));
  HPO_ASSIGN_OR_RETURN(Buffer x, backend.Allocate(x_host.size(), dtype));
  HPO_ASSIGN_OR_RETURN(Buffer y, backend.Allocate(y_host.size(), DType::kI32));
  HPO_RETURN_IF_ERROR(backend.Upload(std::span<const float>(x_host), x32.view()));
  HPO_RETURN_IF_ERROR(backend.Cast(x32.view(), x.view()));
  HPO_RETURN_IF_ERROR(backend.Upload(std::span<const int32_t>(y_host), y.view()));
  return TimeModelSteps(backend, mlp, x.view(), y.view(), batch, precision, options);
}

Result<StepRun> TimeModelSteps(kernels::Backend& backend, trainer::Model& model, ConstView x, ConstView y,
                               int64_t batch, trainer::Precision precision,
                               const StepTimingOptions& options) {
  trainer::OptimizerOptions optimizer_options;
  optimizer_options.kind = trainer::OptimizerKind::kAdamW;
  optimizer_options.weight_decay = 0.01;
  HPO_ASSIGN_OR_RETURN(std::unique_ptr<trainer::Optimizer> optimizer,
                       trainer::Optimizer::Create(backend, optimizer_options, model.params(), model.grads(),
                                                  model.layout(), model.compute_params()));
  HPO_ASSIGN_OR_RETURN(trainer::LossScaler scaler,
                       trainer::LossScaler::Create({.enabled = trainer::NeedsLossScaling(precision)}));
  HPO_ASSIGN_OR_RETURN(Buffer loss, backend.Allocate(1, model.master_dtype()));

  uint64_t step = 0;
  // One step as trainer::Train runs it with grad_accum 1 and no clipping.
  auto one_step = [&]() -> Status {
    const double loss_scale = scaler.scale();
    HPO_RETURN_IF_ERROR(
        model.ForwardBackward(x, y, batch, kernels::LossOptions{0.0, loss_scale}, step++, loss.view()));
    bool apply = true;
    if (scaler.enabled()) {
      HPO_ASSIGN_OR_RETURN(const kernels::GradStats stats, backend.GradientStats(model.grads()));
      apply = scaler.Update(!stats.finite);
    }
    if (apply) HPO_RETURN_IF_ERROR(optimizer->Step(1e-3, 1.0 / loss_scale));
    return Status::Ok();
  };

  const Stopwatch warmup_watch;
  for (int i = 0; i < options.warmup_steps; ++i) HPO_RETURN_IF_ERROR(one_step());
  HPO_RETURN_IF_ERROR(backend.Synchronize());
  const double warm_step_s = warmup_watch.WallSeconds() / std::max(1, options.warmup_steps);
  const int steps_per_block =
      static_cast<int>(std::clamp(std::ceil(options.block_seconds / std::max(warm_step_s, 1e-6)), 3.0, 1e5));

  std::vector<double> block_s;
  double cpu_s = 0, wall_s = 0;
  for (int b = 0; b < options.blocks; ++b) {
    const Stopwatch watch;
    for (int i = 0; i < steps_per_block; ++i) HPO_RETURN_IF_ERROR(one_step());
    HPO_RETURN_IF_ERROR(backend.Synchronize());
    block_s.push_back(watch.WallSeconds());
    cpu_s += watch.CpuSeconds();
    wall_s += block_s.back();
  }
  StepRun run;
  const double median_s = Summarize(block_s).median;
  run.step_ms = median_s / steps_per_block * 1e3;
  run.samples_per_s = static_cast<double>(batch) * steps_per_block / median_s;
  run.cpu_per_wall = wall_s > 0 ? cpu_s / wall_s : 0;
  run.steps = static_cast<int64_t>(options.blocks) * steps_per_block;
  run.skipped = scaler.skipped_steps();
  return run;
}

}  // namespace hpo::bench
