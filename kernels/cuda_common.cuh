// Device-side building blocks of the CUDA backend's kernels (kernels/cuda_*.cu only; nvcc, C++17): element
// storage traits over kernels/half.h, dispatch from run-time types to templates, launch geometry,
// deterministic warp and block reductions, and the two-pass column sums behind dbias, dgamma and dbeta.
//
// Determinism: a reduction's order depends on the block size and the problem's shape only; every helper
// here picks block sizes and grids from the shape alone, never from the device or from timing.
#ifndef HPO_KERNELS_CUDA_COMMON_CUH_
#define HPO_KERNELS_CUDA_COMMON_CUH_

#if !defined(__CUDACC__)
#error "kernels/cuda_common.cuh is device code: include it from the kernels/cuda_*.cu files only"
#endif

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/cuda_kernels.cuh"
#include "kernels/element.h"
#include "kernels/half.h"

namespace hpo::kernels::cuda {

// --- Element storage: Raw is what memory holds, Acc what arithmetic runs in. ---
// Load is exact; Store rounds an Acc value once; From rounds a float or a double value once (casts and the
// optimizers' weight copies, whose source may be wider than Acc).

struct F32 {
  using Raw = float;
  using Acc = float;
  static __device__ __forceinline__ Acc Load(Raw x) { return x; }
  static __device__ __forceinline__ Raw Store(Acc x) { return x; }
  static __device__ __forceinline__ Raw From(float x) { return x; }
  static __device__ __forceinline__ Raw From(double x) { return static_cast<float>(x); }
};

struct F64 {
  using Raw = double;
  using Acc = double;
  static __device__ __forceinline__ Acc Load(Raw x) { return x; }
  static __device__ __forceinline__ Raw Store(Acc x) { return x; }
  static __device__ __forceinline__ Raw From(float x) { return x; }
  static __device__ __forceinline__ Raw From(double x) { return x; }
};

// IEEE binary16 as raw bits: exact loads, round-to-nearest-even stores (kernels/half.h).
struct F16 {
  using Raw = uint16_t;
  using Acc = float;
  static __device__ __forceinline__ Acc Load(Raw x) { return HalfBitsToFloat(x); }
  static __device__ __forceinline__ Raw Store(Acc x) { return FloatToHalfBits(x); }
  static __device__ __forceinline__ Raw From(float x) { return FloatToHalfBits(x); }
  static __device__ __forceinline__ Raw From(double x) { return DoubleToHalfBits(x); }
};

// bfloat16 as raw bits: exact loads, round-to-nearest-even stores (kernels/half.h).
struct BF16 {
  using Raw = uint16_t;
  using Acc = float;
  static __device__ __forceinline__ Acc Load(Raw x) { return Bf16BitsToFloat(x); }
  static __device__ __forceinline__ Raw Store(Acc x) { return FloatToBf16Bits(x); }
  static __device__ __forceinline__ Raw From(float x) { return FloatToBf16Bits(x); }
  static __device__ __forceinline__ Raw From(double x) { return DoubleToBf16Bits(x); }
};

// Returns f(Traits{}) for the floating type `type`; cudaErrorInvalidValue for any other.
template <typename F>
cudaError_t DispatchFloating(ElementType type, F&& f) {
  switch (type) {
    case ElementType::kF32:
      return f(F32{});
    case ElementType::kF64:
      return f(F64{});
    case ElementType::kF16:
      return f(F16{});
    case ElementType::kBF16:
      return f(BF16{});
    case ElementType::kI32:
      break;
  }
  return cudaErrorInvalidValue;
}

template <Activation A>
struct ActivationTag {
  static constexpr Activation kValue = A;
};

// Returns f(ActivationTag<A>{}) for the activation `act`, so that kernels dispatch once per launch.
template <typename F>
cudaError_t DispatchActivation(Activation act, F&& f) {
  switch (act) {
    case Activation::kIdentity:
      return f(ActivationTag<Activation::kIdentity>{});
    case Activation::kRelu:
      return f(ActivationTag<Activation::kRelu>{});
    case Activation::kGelu:
      return f(ActivationTag<Activation::kGelu>{});
    case Activation::kTanh:
      return f(ActivationTag<Activation::kTanh>{});
    case Activation::kSilu:
      return f(ActivationTag<Activation::kSilu>{});
  }
  return cudaErrorInvalidValue;
}

// --- Launch geometry ---

inline constexpr int kThreads = 256;
// Grid-stride loops cover whatever lies past this many blocks.
inline constexpr size_t kMaxBlocks = size_t{1} << 16;

// Blocks of `threads` for `items` independent work items (at least 1).
inline unsigned BlocksFor(size_t items, int threads = kThreads) {
  const size_t blocks = (items + static_cast<size_t>(threads) - 1) / static_cast<size_t>(threads);
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks < kMaxBlocks ? blocks : kMaxBlocks));
}

// Threads of a block that walks `width` elements of a row (or `width` columns): a multiple of the warp
// size in [32, 256], no wider than needed.
inline int ThreadsFor(int64_t width) {
  const int64_t rounded = (width + 31) / 32 * 32;
  return static_cast<int>(rounded < 32 ? 32 : (rounded > kThreads ? kThreads : rounded));
}

// Blocks for one-block-per-row kernels (grid-stride over the rows beyond).
inline unsigned RowBlocks(int64_t rows) {
  constexpr int64_t kMaxRowBlocks = int64_t{1} << 20;
  return static_cast<unsigned>(rows < 1 ? 1 : (rows < kMaxRowBlocks ? rows : kMaxRowBlocks));
}

__device__ __forceinline__ size_t GlobalThread() {
  return static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ size_t GlobalStride() { return static_cast<size_t>(gridDim.x) * blockDim.x; }

// --- Reductions (deterministic: the tree depends on blockDim.x only) ---

__device__ __forceinline__ float Max(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double Max(double a, double b) { return fmax(a, b); }

template <typename T>
__device__ __forceinline__ T WarpSum(T v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;  // the butterfly adds the same pairs on every lane: all lanes hold the same sum
}

template <typename T>
__device__ __forceinline__ T WarpMax(T v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v = Max(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// The sum of v over the block, returned to every thread. REQUIRES: blockDim.x is a multiple of 32 and at
// most 1024; every thread of the block calls it; `shared` holds 32 elements (it may be reused by the next
// call at once).
template <typename T>
__device__ T BlockSum(T v, T* shared) {
  const unsigned lane = threadIdx.x & 31u;
  const unsigned warp = threadIdx.x >> 5;
  v = WarpSum(v);
  __syncthreads();  // a previous call may still be reading `shared`
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  return WarpSum(lane < (blockDim.x >> 5) ? shared[lane] : T(0));
}

// The maximum of v over the block (NaNs ignored unless all are NaN), returned to every thread; as BlockSum.
template <typename T>
__device__ T BlockMax(T v, T* shared) {
  const unsigned lane = threadIdx.x & 31u;
  const unsigned warp = threadIdx.x >> 5;
  v = WarpMax(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  return WarpMax(lane < (blockDim.x >> 5) ? shared[lane] : shared[0]);
}

// --- Column sums: sum_r f(r, c) for every column c, deterministically and without atomics ---
//
// The rows are cut into `chunks` consecutive chunks of rows_per_chunk rows (the last may be shorter); a
// block of the grid (column blocks x chunks) gives each thread one column of one chunk, which it sums in
// row order into partials[chunk * cols + c] (reads along a row are coalesced across the threads). A second
// kernel sums each column's partials in chunk order. With one chunk the first pass writes the result
// directly. The chunking depends on `rows` only.

struct ColumnChunks {
  int64_t rows_per_chunk;
  int64_t chunks;  // >= 1, <= 65535 (the grid's y limit)
};

inline ColumnChunks ColumnChunksFor(int64_t rows) {
  constexpr int64_t kMinRowsPerChunk = 32;
  constexpr int64_t kMaxChunks = 65535;
  int64_t per_chunk = (rows + kMaxChunks - 1) / kMaxChunks;
  if (per_chunk < kMinRowsPerChunk) per_chunk = kMinRowsPerChunk;
  int64_t chunks = (rows + per_chunk - 1) / per_chunk;
  if (chunks < 1) chunks = 1;
  return ColumnChunks{per_chunk, chunks};
}

inline dim3 ColumnGrid(int64_t cols, int threads, const ColumnChunks& chunks) {
  return dim3(static_cast<unsigned>((cols + threads - 1) / threads), static_cast<unsigned>(chunks.chunks), 1);
}

// `rows` rows in chunks of per_chunk rows (the last may be shorter; at least one chunk): the chunking of the
// shared column sums of kernels/element.h (BatchNormChunkRows, ColumnChunkRows), which the CPU backend uses
// too. REQUIRES: per_chunk >= 1, and at most 65535 chunks.
inline ColumnChunks ChunksOf(int64_t rows, int64_t per_chunk) {
  const int64_t chunks = (rows + per_chunk - 1) / per_chunk;
  return ColumnChunks{per_chunk, chunks < 1 ? 1 : chunks};
}

// Elements of the partials array for `cols` columns (0 when the first pass writes the result directly).
inline size_t ColumnPartialCount(int64_t rows, int64_t cols) {
  const ColumnChunks chunks = ColumnChunksFor(rows);
  return chunks.chunks == 1 ? 0 : static_cast<size_t>(chunks.chunks) * static_cast<size_t>(cols);
}

// This thread's column c and rows [r0, r1) in a first-pass kernel on ColumnGrid: one column of one chunk.
struct ColumnChunkRange {
  int64_t c, r0, r1;
};

// False for the threads past the last column (which have nothing to sum).
__device__ __forceinline__ bool ThisColumnChunk(int64_t rows, int64_t cols, int64_t rows_per_chunk,
                                                ColumnChunkRange* range) {
  range->c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  range->r0 = static_cast<int64_t>(blockIdx.y) * rows_per_chunk;
  range->r1 = range->r0 + rows_per_chunk < rows ? range->r0 + rows_per_chunk : rows;
  return range->c < cols;
}

template <typename Acc>
__global__ void SumColumnPartialsKernel(int64_t chunks, int64_t cols, const Acc* __restrict__ partials,
                                        Acc* __restrict__ out) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  Acc sum = Acc(0);
  for (int64_t k = 0; k < chunks; ++k)
    sum += partials[static_cast<size_t>(k) * static_cast<size_t>(cols) + c];
  out[c] = sum;
}

// The second pass; nothing when there is one chunk.
template <typename Acc>
cudaError_t LaunchSumColumnPartials(const ColumnChunks& chunks, int64_t cols, const Acc* partials, Acc* out,
                                    cudaStream_t stream) {
  if (chunks.chunks == 1 || cols == 0) return cudaSuccess;
  const unsigned blocks = static_cast<unsigned>((cols + kThreads - 1) / kThreads);
  SumColumnPartialsKernel<Acc><<<blocks, kThreads, 0, stream>>>(chunks.chunks, cols, partials, out);
  return cudaGetLastError();
}

// Byte offsets of consecutive scratch arrays, each aligned to 256 bytes.
inline size_t AlignScratch(size_t bytes) { return (bytes + 255) / 256 * 256; }

// --- NHWC windows (kernels/backend.h's Conv2dShape, as ConvGeometry) ---

// The sum, from 0 in Acc, of term(oh, ow, kh, kw) over the output pixels (oh, ow) whose windows cover the
// input pixel (h, w), in ascending (oh, ow) order (CoveringWindows of kernels/element.h), with (kh, kw) the
// pixel's place in that window: the gather of Col2Im and of the depthwise convolution's dx, in the CPU
// backend's order.
template <typename Acc, typename Term>
__device__ __forceinline__ Acc GatherCoveringWindows(const ConvGeometry& g, int64_t h, int64_t w,
                                                     Term&& term) {
  const WindowRange hr = CoveringWindows(h, g.kernel_h, g.stride_h, g.pad_h, g.out_height);
  const WindowRange wr = CoveringWindows(w, g.kernel_w, g.stride_w, g.pad_w, g.out_width);
  Acc acc = Acc(0);
  for (int64_t oh = hr.lo; oh <= hr.hi; ++oh) {
    const int64_t kh = h + g.pad_h - oh * g.stride_h;
    for (int64_t ow = wr.lo; ow <= wr.hi; ++ow) acc += term(oh, ow, kh, w + g.pad_w - ow * g.stride_w);
  }
  return acc;
}

// --- Several column sums over the same chunks (parameter gradients) ---

// The most column sums one LaunchColumnSums runs.
inline constexpr int kMaxColumnSums = 2;

// Scratch bytes for `count` column sums of `cols` columns of acc_bytes each (0 with one chunk).
inline size_t ColumnSumsScratchBytes(const ColumnChunks& chunks, int64_t cols, size_t acc_bytes, int count) {
  if (chunks.chunks == 1) return 0;
  return static_cast<size_t>(count) *
         AlignScratch(static_cast<size_t>(chunks.chunks) * static_cast<size_t>(cols) * acc_bytes);
}

// Both passes of `count` column sums, each into its own out[j] (cols elements): first_pass(partials)
// launches the kernel that writes chunk k's sums of sum j at partials[j] + k * cols (partials[j] is out[j]
// itself when there is one chunk, else an array in `scratch`); then every partials[j] is summed over the
// chunks, in order, into out[j]. Returns the first launch error.
// REQUIRES: 1 <= count <= kMaxColumnSums; scratch holds ColumnSumsScratchBytes(chunks, cols, sizeof(Acc),
// count) bytes.
template <typename Acc, typename FirstPass>
cudaError_t LaunchColumnSums(const ColumnChunks& chunks, int64_t cols, Acc* const* out, int count,
                             void* scratch, cudaStream_t stream, FirstPass&& first_pass) {
  Acc* partials[kMaxColumnSums] = {};
  const size_t stride = ColumnSumsScratchBytes(chunks, cols, sizeof(Acc), 1);
  for (int j = 0; j < count; ++j) {
    partials[j] =
        chunks.chunks > 1 ? reinterpret_cast<Acc*>(static_cast<char*>(scratch) + j * stride) : out[j];
  }
  first_pass(static_cast<Acc* const*>(partials));
  cudaError_t status = cudaGetLastError();
  for (int j = 0; j < count && status == cudaSuccess; ++j) {
    status = LaunchSumColumnPartials<Acc>(chunks, cols, partials[j], out[j], stream);
  }
  return status;
}

}  // namespace hpo::kernels::cuda

#endif  // HPO_KERNELS_CUDA_COMMON_CUH_
