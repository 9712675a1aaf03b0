// The GEMMs of one MLP training step, timed alone with Backend::Gemm in the types the model uses, so that
// a step's time can be set beside the time of its own matrix products (bench/trainer/step_section.cc).
//
// Free functions; the timing uses the backend exclusively while it runs.
#ifndef HPO_BENCH_TRAINER_GEMM_BENCH_H_
#define HPO_BENCH_TRAINER_GEMM_BENCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/backend.h"
#include "trainer/mlp.h"

namespace hpo::bench {

// One GEMM call C = op(A) op(B), as kernels::Backend::Gemm takes it.
struct StepGemm {
  std::string name;  // "fwd0", "dW0", "dx1", ...: the pass and the layer
  kernels::Transpose trans_a = kernels::Transpose::kNo;
  kernels::Transpose trans_b = kernels::Transpose::kNo;
  int64_t m = 0, n = 0, k = 0;
  kernels::DType inputs = kernels::DType::kF32;  // A and B
  kernels::DType output = kernels::DType::kF32;  // C

  double Flops() const {
    return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  }
};

// The GEMMs trainer::Mlp::ForwardBackward runs for `config` at `rows` examples with activations in
// `dtype`, in its order: per layer l the forward z = h W_l (rows x fan_out x fan_in, output `dtype`);
// then from the last layer down dW_l = h^T dz (fan_in x fan_out x rows, output fp32: the master
// gradients) and, for l > 0, dh = dz W_l^T (rows x fan_in x fan_out, output `dtype`). The first layer's
// input gets no gradient, so a step runs 2 rows (3 P_w - P_w0) GEMM FLOPs, P_w the weight count and
// P_w0 the first layer's.
std::vector<StepGemm> StepGemms(const trainer::MlpConfig& config, int64_t rows, kernels::DType dtype);

struct GemmTimingOptions {
  int warmup = 2;               // untimed calls first
  int blocks = 5;               // timed blocks; the median block is reported
  double block_seconds = 0.05;  // each block repeats the call about this long (at least once)
};

struct GemmTiming {
  StepGemm gemm;
  double ms = 0;  // per call, from the median block
};

struct GemmRun {
  std::vector<GemmTiming> timings;  // in the order of the GEMMs given
  double cpu_per_wall = 0;          // process CPU seconds per wall second over the timed blocks
};

// Times each GEMM on buffers of its own (A and B filled with small constants, beta = 0) with
// Backend::TimeMs. Returns the first backend error.
Result<GemmRun> TimeGemms(kernels::Backend& backend, const std::vector<StepGemm>& gemms,
                          const GemmTimingOptions& options);

}  // namespace hpo::bench

#endif  // HPO_BENCH_TRAINER_GEMM_BENCH_H_
