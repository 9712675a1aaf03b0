// Fused bias + activation, forward and backward, over a rows x cols row-major matrix. The activation is a
// template parameter (dispatched once per launch); the element math is kernels/element.h's.
//
// Forward: a 2-D grid-stride loop (blockIdx.y over rows, x over columns), so no index needs a division.
// Backward: the column-chunk layout of cuda_common.cuh, which also yields dbias without atomics.
#include <stdint.h>

#include "kernels/cuda_common.cuh"
#include "kernels/cuda_kernels.cuh"
#include "kernels/element.h"

namespace hpo::kernels::cuda {
namespace {

template <Activation A, typename S>
__global__ void BiasActivationForwardKernel(int64_t rows, int64_t cols,
                                            const typename S::Raw* __restrict__ bias, typename S::Raw* z,
                                            typename S::Raw* y) {
  const int64_t column_stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < cols;
         c += column_stride) {
      const size_t i = static_cast<size_t>(r) * static_cast<size_t>(cols) + static_cast<size_t>(c);
      typename S::Raw z_stored = z[i];
      if (bias != nullptr) {
        z_stored = S::Store(S::Load(z_stored) + S::Load(bias[c]));
        z[i] = z_stored;
      }
      // The activation sees the pre-activation as stored (what the backward pass reads); y is written last,
      // so that y == z leaves y.
      y[i] = S::Store(Activate<A>(S::Load(z_stored)));
    }
  }
}

// One thread per (column, chunk of rows): dz for the chunk, and its column sum when kBias.
template <Activation A, typename S, bool kBias>
__global__ void BiasActivationBackwardKernel(int64_t rows, int64_t cols, int64_t rows_per_chunk,
                                             const typename S::Raw* __restrict__ z, const typename S::Raw* dy,
                                             typename S::Raw* dz, typename S::Acc* __restrict__ partials) {
  using Acc = typename S::Acc;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * rows_per_chunk;
  const int64_t r1 = r0 + rows_per_chunk < rows ? r0 + rows_per_chunk : rows;
  Acc sum = Acc(0);
  for (int64_t r = r0; r < r1; ++r) {
    const size_t i = static_cast<size_t>(r) * static_cast<size_t>(cols) + static_cast<size_t>(c);
    const Acc d = ActivateBackward<A>(S::Load(z[i]), S::Load(dy[i]));
    dz[i] = S::Store(d);  // dz may be dy: the same thread read dy[i] just before
    if constexpr (kBias) sum += d;
  }
  if constexpr (kBias) partials[static_cast<size_t>(blockIdx.y) * static_cast<size_t>(cols) + c] = sum;
}

}  // namespace

cudaError_t LaunchBiasActivationForward(Activation act, ElementType type, int64_t rows, int64_t cols,
                                        const void* bias, void* z, void* y, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return cudaSuccess;
  const int threads = ThreadsFor(cols);
  const int64_t column_blocks = (cols + threads - 1) / threads;
  const dim3 grid(static_cast<unsigned>(column_blocks < 65535 ? column_blocks : 65535),
                  static_cast<unsigned>(rows < 65535 ? rows : 65535), 1);
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    return DispatchActivation(act, [&](auto tag) {
      BiasActivationForwardKernel<decltype(tag)::kValue, S><<<grid, threads, 0, stream>>>(
          rows, cols, static_cast<const Raw*>(bias), static_cast<Raw*>(z), static_cast<Raw*>(y));
      return cudaGetLastError();
    });
  });
}

size_t BiasActivationBackwardScratchBytes(ElementType type, int64_t rows, int64_t cols) {
  const size_t acc_bytes = type == ElementType::kF64 ? sizeof(double) : sizeof(float);
  return ColumnPartialCount(rows, cols) * acc_bytes;
}

cudaError_t LaunchBiasActivationBackward(Activation act, ElementType type, int64_t rows, int64_t cols,
                                         const void* z, const void* dy, void* dz, void* dbias, void* scratch,
                                         cudaStream_t stream) {
  if (cols == 0) return cudaSuccess;
  const ColumnChunks chunks = ColumnChunksFor(rows);
  const int threads = ThreadsFor(cols);
  const dim3 grid = ColumnGrid(cols, threads, chunks);
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    using Acc = typename S::Acc;
    Acc* const out = static_cast<Acc*>(dbias);
    Acc* const partials = chunks.chunks == 1 ? out : static_cast<Acc*>(scratch);
    const cudaError_t launched = DispatchActivation(act, [&](auto tag) {
      constexpr Activation kAct = decltype(tag)::kValue;
      if (dbias != nullptr) {
        BiasActivationBackwardKernel<kAct, S, true>
            <<<grid, threads, 0, stream>>>(rows, cols, chunks.rows_per_chunk, static_cast<const Raw*>(z),
                                           static_cast<const Raw*>(dy), static_cast<Raw*>(dz), partials);
      } else {
        BiasActivationBackwardKernel<kAct, S, false>
            <<<grid, threads, 0, stream>>>(rows, cols, chunks.rows_per_chunk, static_cast<const Raw*>(z),
                                           static_cast<const Raw*>(dy), static_cast<Raw*>(dz), nullptr);
      }
      return cudaGetLastError();
    });
    if (launched != cudaSuccess || dbias == nullptr) return launched;
    return LaunchSumColumnPartials<Acc>(chunks, cols, partials, out, stream);
  });
}

}  // namespace hpo::kernels::cuda
