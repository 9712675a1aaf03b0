// GradientStats: one fused pass over a gradient for the overflow check of loss scaling and the norm of
// clipping. Pass 1: a fixed grid (its size depends on the element count only) in which each thread sums
// g^2 over its grid-stride elements in index order and each block reduces in a fixed tree; pass 2: one
// block sums the per-block partials. Non-finite elements are left out of the sum and raise a flag.
#include <math.h>
#include <stdint.h>

#include "kernels/cuda_common.cuh"
#include "kernels/cuda_kernels.cuh"

namespace hpo::kernels::cuda {
namespace {

constexpr unsigned kMaxStatsBlocks = 1024;
constexpr size_t kElementsPerStatsThread = 8;

unsigned StatsBlocks(size_t count) {
  const size_t blocks =
      (count + kThreads * kElementsPerStatsThread - 1) / (kThreads * kElementsPerStatsThread);
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks < kMaxStatsBlocks ? blocks : kMaxStatsBlocks));
}

template <typename S>
__global__ void GradientStatsPartialKernel(size_t n, const typename S::Raw* __restrict__ g,
                                           typename S::Acc* __restrict__ partial_sum,
                                           uint32_t* __restrict__ partial_nonfinite) {
  using Acc = typename S::Acc;
  __shared__ Acc shared[32];
  Acc sum = Acc(0);
  int nonfinite = 0;
  for (size_t i = GlobalThread(); i < n; i += GlobalStride()) {
    const Acc v = S::Load(g[i]);
    if (isfinite(v)) {
      sum += v * v;
    } else {
      nonfinite = 1;
    }
  }
  sum = BlockSum(sum, shared);
  nonfinite = __syncthreads_or(nonfinite);
  if (threadIdx.x == 0) {
    partial_sum[blockIdx.x] = sum;
    partial_nonfinite[blockIdx.x] = nonfinite != 0 ? 1u : 0u;
  }
}

template <typename Acc>
__global__ void GradientStatsFinalKernel(unsigned blocks, const Acc* __restrict__ partial_sum,
                                         const uint32_t* __restrict__ partial_nonfinite,
                                         DeviceControl* control) {
  __shared__ Acc shared[32];
  Acc sum = Acc(0);
  int nonfinite = 0;
  for (unsigned b = threadIdx.x; b < blocks; b += blockDim.x) {
    sum += partial_sum[b];
    nonfinite |= partial_nonfinite[b] != 0 ? 1 : 0;
  }
  sum = BlockSum(sum, shared);
  nonfinite = __syncthreads_or(nonfinite);
  if (threadIdx.x == 0) {
    control->sum_squares = static_cast<double>(sum);
    control->nonfinite = nonfinite != 0 ? 1u : 0u;
  }
}

}  // namespace

size_t GradientStatsScratchBytes(ElementType type, size_t count) {
  const size_t acc_bytes = type == ElementType::kF64 ? sizeof(double) : sizeof(float);
  const size_t blocks = StatsBlocks(count);
  return AlignScratch(blocks * acc_bytes) + blocks * sizeof(uint32_t);
}

cudaError_t LaunchGradientStats(ElementType type, const void* g, size_t count, void* scratch,
                                DeviceControl* control, cudaStream_t stream) {
  if (count == 0) return cudaErrorInvalidValue;
  const unsigned blocks = StatsBlocks(count);
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Acc = typename S::Acc;
    Acc* const partial_sum = static_cast<Acc*>(scratch);
    uint32_t* const partial_nonfinite =
        reinterpret_cast<uint32_t*>(static_cast<char*>(scratch) + AlignScratch(blocks * sizeof(Acc)));
    GradientStatsPartialKernel<S><<<blocks, kThreads, 0, stream>>>(
        count, static_cast<const typename S::Raw*>(g), partial_sum, partial_nonfinite);
    const cudaError_t launched = cudaGetLastError();
    if (launched != cudaSuccess) return launched;
    GradientStatsFinalKernel<Acc>
        <<<1, kThreads, 0, stream>>>(blocks, partial_sum, partial_nonfinite, control);
    return cudaGetLastError();
  });
}

}  // namespace hpo::kernels::cuda
