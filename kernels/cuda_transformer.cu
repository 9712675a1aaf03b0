// Transformer layers over row-major matrices: the embedding gather and its gradient, RMS normalisation
// (forward and backward) and the SwiGLU gate (forward and backward). The element math is kernels/element.h's
// (RmsNormElement, RmsNormInputGradient, SwiGluElement, SwiGluBackwardElement), as on the CPU.
//
// Embedding gradient, deterministic without atomics or sorting: a block owns one vocab row t and a range
// of columns; it reads the tokens a tile at a time into shared memory (every thread of the block compares
// the same token, so the branch is uniform) and each thread adds dout[r, c] for the matching rows in order
// of r, from 0: the CPU backend's order, so both agree bit for bit. Every block reads every token, so the
// work grows as vocab * rows: fine for byte- or character-level vocabularies (256) and a few thousand
// tokens, at tens of thousands of rows per batch.
//
// RMS norm, forward one block per row: the mean square by a block tree sum (times 1/cols, as the CPU
// backend), rstd = 1 / sqrt(ms + eps) (correctly rounded, never rsqrt). Backward: dgamma[c] = sum_r dy xhat
// by chunks of ColumnChunkRows(rows) rows (cuda_common.cuh's column sums; the CPU backend's order; first,
// because dx may overwrite dy), then dx one block per row.
#include <stdint.h>

#include "kernels/cuda_common.cuh"
#include "kernels/cuda_kernels.cuh"
#include "kernels/element.h"

namespace hpo::kernels::cuda {
namespace {

// Tokens per shared-memory tile of the embedding gradient.
constexpr int kTokenTile = 1024;

__global__ void CheckTokensKernel(int64_t rows, int64_t vocab, const int32_t* __restrict__ tokens,
                                  DeviceControl* control) {
  for (size_t r = GlobalThread(); r < static_cast<size_t>(rows); r += GlobalStride()) {
    if (tokens[r] < 0 || tokens[r] >= vocab) atomicOr(&control->error_bits, kErrorTokenOutOfRange);
  }
}

template <typename Raw>
__global__ void EmbeddingForwardKernel(size_t total, int64_t vocab, int64_t dim,
                                       const int32_t* __restrict__ tokens, const Raw* __restrict__ table,
                                       Raw* __restrict__ out) {
  for (size_t i = GlobalThread(); i < total; i += GlobalStride()) {
    const size_t r = i / static_cast<size_t>(dim);
    const size_t c = i % static_cast<size_t>(dim);
    const int64_t t = tokens[r];
    out[i] = t >= 0 && t < vocab ? table[static_cast<size_t>(t) * static_cast<size_t>(dim) + c] : Raw(0);
  }
}

template <typename S>
__global__ void EmbeddingBackwardKernel(int64_t rows, int64_t vocab, int64_t dim,
                                        const int32_t* __restrict__ tokens,
                                        const typename S::Raw* __restrict__ dout,
                                        typename S::Acc* __restrict__ dtable) {
  using Acc = typename S::Acc;
  __shared__ int32_t tile[kTokenTile];
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t t = blockIdx.y; t < vocab; t += gridDim.y) {
    Acc sum = Acc(0);
    for (int64_t r0 = 0; r0 < rows; r0 += kTokenTile) {
      const int64_t n = rows - r0 < kTokenTile ? rows - r0 : kTokenTile;
      __syncthreads();  // every thread is done with the previous tile
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x) tile[j] = tokens[r0 + j];
      __syncthreads();
      if (c < dim) {
        for (int64_t j = 0; j < n; ++j) {
          if (tile[j] == t) {
            sum += S::Load(
                dout[static_cast<size_t>(r0 + j) * static_cast<size_t>(dim) + static_cast<size_t>(c)]);
          }
        }
      }
    }
    if (c < dim) dtable[static_cast<size_t>(t) * static_cast<size_t>(dim) + static_cast<size_t>(c)] = sum;
  }
}

template <typename S>
__global__ void RmsNormForwardKernel(int64_t rows, int64_t cols, typename S::Acc eps,
                                     const typename S::Raw* __restrict__ x,
                                     const typename S::Raw* __restrict__ gamma,
                                     typename S::Raw* __restrict__ y,
                                     typename S::Acc* __restrict__ rstd_out) {
  using Acc = typename S::Acc;
  __shared__ Acc shared[32];
  const Acc inv_cols = Acc(1) / static_cast<Acc>(cols);
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const size_t base = static_cast<size_t>(r) * static_cast<size_t>(cols);
    Acc squares = Acc(0);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const Acc v = S::Load(x[base + c]);
      squares += v * v;
    }
    const Acc rstd = Acc(1) / ElementSqrt(BlockSum(squares, shared) * inv_cols + eps);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      y[base + c] = S::Store(RmsNormElement(S::Load(x[base + c]), rstd, S::Load(gamma[c])));
    }
    if (threadIdx.x == 0) rstd_out[r] = rstd;
  }
}

// One thread per (column, chunk of rows): the chunk's sum of dy xhat.
template <typename S>
__global__ void RmsNormGammaKernel(int64_t rows, int64_t cols, int64_t rows_per_chunk,
                                   const typename S::Raw* __restrict__ x,
                                   const typename S::Acc* __restrict__ rstd, const typename S::Raw* dy,
                                   typename S::Acc* __restrict__ partial) {
  using Acc = typename S::Acc;
  ColumnChunkRange at;
  if (!ThisColumnChunk(rows, cols, rows_per_chunk, &at)) return;
  Acc sum = Acc(0);
  for (int64_t r = at.r0; r < at.r1; ++r) {
    const size_t i = static_cast<size_t>(r) * static_cast<size_t>(cols) + static_cast<size_t>(at.c);
    sum += S::Load(dy[i]) * (S::Load(x[i]) * rstd[r]);
  }
  partial[static_cast<size_t>(blockIdx.y) * static_cast<size_t>(cols) + static_cast<size_t>(at.c)] = sum;
}

template <typename S>
__global__ void RmsNormBackwardRowKernel(int64_t rows, int64_t cols, const typename S::Raw* __restrict__ x,
                                         const typename S::Raw* __restrict__ gamma,
                                         const typename S::Acc* __restrict__ rstd, const typename S::Raw* dy,
                                         typename S::Raw* dx) {
  using Acc = typename S::Acc;
  __shared__ Acc shared[32];
  const Acc inv_cols = Acc(1) / static_cast<Acc>(cols);
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const size_t base = static_cast<size_t>(r) * static_cast<size_t>(cols);
    const Acc rs = rstd[r];
    Acc sum = Acc(0);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      sum += S::Load(dy[base + c]) * S::Load(gamma[c]) * (S::Load(x[base + c]) * rs);
    }
    const Acc mean_g_xhat = BlockSum(sum, shared) * inv_cols;
    // Each thread rewrites only the elements it read above, after every thread's reads (the barriers in
    // BlockSum), so dx may be dy.
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      dx[base + c] = S::Store(RmsNormInputGradient(S::Load(dy[base + c]), S::Load(gamma[c]),
                                                   S::Load(x[base + c]) * rs, rs, mean_g_xhat));
    }
  }
}

template <typename S>
__global__ void SwiGluForwardKernel(size_t total, int64_t hidden, const typename S::Raw* __restrict__ h,
                                    typename S::Raw* __restrict__ y) {
  for (size_t i = GlobalThread(); i < total; i += GlobalStride()) {
    const size_t g =
        i / static_cast<size_t>(hidden) * static_cast<size_t>(2 * hidden) + i % static_cast<size_t>(hidden);
    y[i] = S::Store(SwiGluElement(S::Load(h[g]), S::Load(h[g + static_cast<size_t>(hidden)])));
  }
}

template <typename S>
__global__ void SwiGluBackwardKernel(size_t total, int64_t hidden, const typename S::Raw* __restrict__ h,
                                     const typename S::Raw* __restrict__ dy,
                                     typename S::Raw* __restrict__ dh) {
  using Acc = typename S::Acc;
  for (size_t i = GlobalThread(); i < total; i += GlobalStride()) {
    const size_t g =
        i / static_cast<size_t>(hidden) * static_cast<size_t>(2 * hidden) + i % static_cast<size_t>(hidden);
    const size_t u = g + static_cast<size_t>(hidden);
    Acc dg, du;
    SwiGluBackwardElement(S::Load(h[g]), S::Load(h[u]), S::Load(dy[i]), dg, du);
    dh[g] = S::Store(dg);
    dh[u] = S::Store(du);
  }
}

size_t AccBytes(ElementType type) { return type == ElementType::kF64 ? sizeof(double) : sizeof(float); }

ColumnChunks RmsNormChunks(int64_t rows) { return ChunksOf(rows, ColumnChunkRows(rows)); }

}  // namespace

cudaError_t LaunchEmbeddingForward(ElementType type, int64_t rows, int64_t vocab, int64_t dim,
                                   const int32_t* tokens, const void* table, void* out,
                                   DeviceControl* control, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  CheckTokensKernel<<<BlocksFor(static_cast<size_t>(rows)), kThreads, 0, stream>>>(rows, vocab, tokens,
                                                                                   control);
  cudaError_t status = cudaGetLastError();
  const size_t total = static_cast<size_t>(rows) * static_cast<size_t>(dim);
  if (status != cudaSuccess || total == 0) return status;
  return DispatchFloating(type, [&](auto s) {
    using Raw = typename decltype(s)::Raw;  // a copy of bits
    EmbeddingForwardKernel<Raw><<<BlocksFor(total), kThreads, 0, stream>>>(
        total, vocab, dim, tokens, static_cast<const Raw*>(table), static_cast<Raw*>(out));
    return cudaGetLastError();
  });
}

cudaError_t LaunchEmbeddingBackward(ElementType type, int64_t rows, int64_t vocab, int64_t dim,
                                    const int32_t* tokens, const void* dout, void* dtable,
                                    DeviceControl* control, cudaStream_t stream) {
  if (rows > 0) {
    CheckTokensKernel<<<BlocksFor(static_cast<size_t>(rows)), kThreads, 0, stream>>>(rows, vocab, tokens,
                                                                                     control);
    const cudaError_t status = cudaGetLastError();
    if (status != cudaSuccess) return status;
  }
  if (vocab == 0 || dim == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    const int threads = ThreadsFor(dim);
    const dim3 grid(static_cast<unsigned>((dim + threads - 1) / threads),
                    static_cast<unsigned>(vocab < 65535 ? vocab : 65535), 1);
    EmbeddingBackwardKernel<S><<<grid, threads, 0, stream>>>(rows, vocab, dim, tokens,
                                                             static_cast<const typename S::Raw*>(dout),
                                                             static_cast<typename S::Acc*>(dtable));
    return cudaGetLastError();
  });
}

cudaError_t LaunchRmsNormForward(ElementType type, int64_t rows, int64_t cols, double eps, const void* x,
                                 const void* gamma, void* y, void* rstd, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    using Acc = typename S::Acc;
    RmsNormForwardKernel<S><<<RowBlocks(rows), ThreadsFor(cols), 0, stream>>>(
        rows, cols, static_cast<Acc>(eps), static_cast<const Raw*>(x), static_cast<const Raw*>(gamma),
        static_cast<Raw*>(y), static_cast<Acc*>(rstd));
    return cudaGetLastError();
  });
}

size_t RmsNormBackwardScratchBytes(ElementType type, int64_t rows, int64_t cols) {
  return ColumnSumsScratchBytes(RmsNormChunks(rows), cols, AccBytes(type), 1);
}

cudaError_t LaunchRmsNormBackward(ElementType type, int64_t rows, int64_t cols, const void* x,
                                  const void* gamma, const void* rstd, const void* dy, void* dx, void* dgamma,
                                  void* scratch, cudaStream_t stream) {
  if (cols == 0) return cudaSuccess;
  const ColumnChunks chunks = RmsNormChunks(rows);
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    using Acc = typename S::Acc;
    Acc* const out = static_cast<Acc*>(dgamma);
    const int threads = ThreadsFor(cols);
    const cudaError_t status =
        LaunchColumnSums<Acc>(chunks, cols, &out, 1, scratch, stream, [&](Acc* const* partials) {
          RmsNormGammaKernel<S><<<ColumnGrid(cols, threads, chunks), threads, 0, stream>>>(
              rows, cols, chunks.rows_per_chunk, static_cast<const Raw*>(x), static_cast<const Acc*>(rstd),
              static_cast<const Raw*>(dy), partials[0]);
        });
    if (status != cudaSuccess || rows == 0) return status;
    RmsNormBackwardRowKernel<S><<<RowBlocks(rows), threads, 0, stream>>>(
        rows, cols, static_cast<const Raw*>(x), static_cast<const Raw*>(gamma), static_cast<const Acc*>(rstd),
        static_cast<const Raw*>(dy), static_cast<Raw*>(dx));
    return cudaGetLastError();
  });
}

cudaError_t LaunchSwiGluForward(ElementType type, int64_t rows, int64_t hidden, const void* h, void* y,
                                cudaStream_t stream) {
  const size_t total = static_cast<size_t>(rows) * static_cast<size_t>(hidden);
  if (total == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    SwiGluForwardKernel<S><<<BlocksFor(total), kThreads, 0, stream>>>(
        total, hidden, static_cast<const Raw*>(h), static_cast<Raw*>(y));
    return cudaGetLastError();
  });
}

cudaError_t LaunchSwiGluBackward(ElementType type, int64_t rows, int64_t hidden, const void* h,
                                 const void* dy, void* dh, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(rows) * static_cast<size_t>(hidden);
  if (total == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    SwiGluBackwardKernel<S><<<BlocksFor(total), kThreads, 0, stream>>>(
        total, hidden, static_cast<const Raw*>(h), static_cast<const Raw*>(dy), static_cast<Raw*>(dh));
    return cudaGetLastError();
  });
}

}  // namespace hpo::kernels::cuda
