// Layer normalisation over the rows of a rows x cols matrix, forward and backward.
//
// Forward, one block per row: mean = (sum x) / cols, var = (sum (x - mean)^2) / cols (two passes, as the
// definition reads; each sum multiplied by 1/cols, as the CPU backend does), rstd = 1 / sqrt(var + eps)
// (correctly rounded sqrt and division, never rsqrt), then y = (x - mean) rstd gamma + beta. Backward, with
// xhat = (x - mean) rstd and g = dy gamma:
//   dgamma[c] = sum_r dy xhat, dbeta[c] = sum_r dy    (column chunks, cuda_common.cuh; first, because dx
//                                                      may overwrite dy)
//   dx = rstd (g - mean_c g - xhat mean_c(g xhat))      (one block per row)
#include <stdint.h>

#include "kernels/cuda_common.cuh"
#include "kernels/cuda_kernels.cuh"
#include "kernels/element.h"

namespace hpo::kernels::cuda {
namespace {

template <typename S>
__global__ void LayerNormForwardKernel(int64_t rows, int64_t cols, typename S::Acc eps,
                                       const typename S::Raw* __restrict__ x,
                                       const typename S::Raw* __restrict__ gamma,
                                       const typename S::Raw* __restrict__ beta,
                                       typename S::Raw* __restrict__ y,
                                       typename S::Acc* __restrict__ mean_out,
                                       typename S::Acc* __restrict__ rstd_out) {
  using Acc = typename S::Acc;
  __shared__ Acc shared[32];
  const Acc inv_cols = Acc(1) / static_cast<Acc>(cols);
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const size_t base = static_cast<size_t>(r) * static_cast<size_t>(cols);
    Acc sum = Acc(0);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) sum += S::Load(x[base + c]);
    const Acc mean = BlockSum(sum, shared) * inv_cols;
    Acc squares = Acc(0);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const Acc d = S::Load(x[base + c]) - mean;
      squares += d * d;
    }
    const Acc var = BlockSum(squares, shared) * inv_cols;
    const Acc rstd = Acc(1) / ElementSqrt(var + eps);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const Acc xhat = (S::Load(x[base + c]) - mean) * rstd;
      y[base + c] = S::Store(xhat * S::Load(gamma[c]) + S::Load(beta[c]));
    }
    if (threadIdx.x == 0) {
      mean_out[r] = mean;
      rstd_out[r] = rstd;
    }
  }
}

// One thread per (column, chunk of rows): partial sums of dy xhat and dy.
template <typename S>
__global__ void LayerNormColumnKernel(int64_t rows, int64_t cols, int64_t rows_per_chunk,
                                      const typename S::Raw* __restrict__ x,
                                      const typename S::Acc* __restrict__ mean,
                                      const typename S::Acc* __restrict__ rstd, const typename S::Raw* dy,
                                      typename S::Acc* __restrict__ partial_gamma,
                                      typename S::Acc* __restrict__ partial_beta) {
  using Acc = typename S::Acc;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * rows_per_chunk;
  const int64_t r1 = r0 + rows_per_chunk < rows ? r0 + rows_per_chunk : rows;
  Acc sum_gamma = Acc(0);
  Acc sum_beta = Acc(0);
  for (int64_t r = r0; r < r1; ++r) {
    const size_t i = static_cast<size_t>(r) * static_cast<size_t>(cols) + static_cast<size_t>(c);
    const Acc d = S::Load(dy[i]);
    const Acc xhat = (S::Load(x[i]) - mean[r]) * rstd[r];
    sum_gamma += d * xhat;
    sum_beta += d;
  }
  const size_t out = static_cast<size_t>(blockIdx.y) * static_cast<size_t>(cols) + static_cast<size_t>(c);
  partial_gamma[out] = sum_gamma;
  partial_beta[out] = sum_beta;
}

template <typename S>
__global__ void LayerNormBackwardRowKernel(int64_t rows, int64_t cols, const typename S::Raw* __restrict__ x,
                                           const typename S::Raw* __restrict__ gamma,
                                           const typename S::Acc* __restrict__ mean,
                                           const typename S::Acc* __restrict__ rstd,
                                           const typename S::Raw* dy, typename S::Raw* dx) {
  using Acc = typename S::Acc;
  __shared__ Acc shared[32];
  const Acc inv_cols = Acc(1) / static_cast<Acc>(cols);
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const size_t base = static_cast<size_t>(r) * static_cast<size_t>(cols);
    const Acc row_mean = mean[r];
    const Acc row_rstd = rstd[r];
    Acc sum_g = Acc(0);
    Acc sum_g_xhat = Acc(0);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const Acc xhat = (S::Load(x[base + c]) - row_mean) * row_rstd;
      const Acc g = S::Load(dy[base + c]) * S::Load(gamma[c]);
      sum_g += g;
      sum_g_xhat += g * xhat;
    }
    const Acc mean_g = BlockSum(sum_g, shared) * inv_cols;
    const Acc mean_g_xhat = BlockSum(sum_g_xhat, shared) * inv_cols;
    // Each thread rewrites only the elements it read above, after every thread's reads (the barriers in
    // BlockSum), so dx may be dy.
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const Acc xhat = (S::Load(x[base + c]) - row_mean) * row_rstd;
      const Acc g = S::Load(dy[base + c]) * S::Load(gamma[c]);
      dx[base + c] = S::Store(row_rstd * (g - mean_g - xhat * mean_g_xhat));
    }
  }
}

}  // namespace

cudaError_t LaunchLayerNormForward(ElementType type, int64_t rows, int64_t cols, double eps, const void* x,
                                   const void* gamma, const void* beta, void* y, void* mean, void* rstd,
                                   cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    using Acc = typename S::Acc;
    LayerNormForwardKernel<S><<<RowBlocks(rows), ThreadsFor(cols), 0, stream>>>(
        rows, cols, static_cast<Acc>(eps), static_cast<const Raw*>(x), static_cast<const Raw*>(gamma),
        static_cast<const Raw*>(beta), static_cast<Raw*>(y), static_cast<Acc*>(mean),
        static_cast<Acc*>(rstd));
    return cudaGetLastError();
  });
}

size_t LayerNormBackwardScratchBytes(ElementType type, int64_t rows, int64_t cols) {
  const size_t acc_bytes = type == ElementType::kF64 ? sizeof(double) : sizeof(float);
  return ColumnSumsScratchBytes(ColumnChunksFor(rows), cols, acc_bytes, 2);
}

cudaError_t LaunchLayerNormBackward(ElementType type, int64_t rows, int64_t cols, const void* x,
                                    const void* gamma, const void* mean, const void* rstd, const void* dy,
                                    void* dx, void* dgamma, void* dbeta, void* scratch, cudaStream_t stream) {
  if (cols == 0) return cudaSuccess;
  const ColumnChunks chunks = ColumnChunksFor(rows);
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    using Acc = typename S::Acc;
    Acc* const out[] = {static_cast<Acc*>(dgamma), static_cast<Acc*>(dbeta)};
    const int column_threads = ThreadsFor(cols);
    const cudaError_t status =
        LaunchColumnSums<Acc>(chunks, cols, out, 2, scratch, stream, [&](Acc* const* partials) {
          LayerNormColumnKernel<S><<<ColumnGrid(cols, column_threads, chunks), column_threads, 0, stream>>>(
              rows, cols, chunks.rows_per_chunk, static_cast<const Raw*>(x), static_cast<const Acc*>(mean),
              static_cast<const Acc*>(rstd), static_cast<const Raw*>(dy), partials[0], partials[1]);
        });
    if (status != cudaSuccess || rows == 0) return status;
    LayerNormBackwardRowKernel<S><<<RowBlocks(rows), ThreadsFor(cols), 0, stream>>>(
        rows, cols, static_cast<const Raw*>(x), static_cast<const Raw*>(gamma), static_cast<const Acc*>(mean),
        static_cast<const Acc*>(rstd), static_cast<const Raw*>(dy), static_cast<Raw*>(dx));
    return cudaGetLastError();
  });
}

}  // namespace hpo::kernels::cuda
