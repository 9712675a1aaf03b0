// Depthwise 2-D convolution on NHWC activations (one kernel_h x kernel_w filter per channel, stored
// (kernel_h * kernel_w) x channels), forward and backward.
//
// Every kernel gives one thread one output element and computes it alone (neighbouring threads take
// neighbouring channels, so loads are coalesced); nothing needs atomics and every sum has the CPU backend's
// order (kernels/cpu_depthwise.cc), so both agree bit for bit:
//   y:  the taps in (kh, kw) order, from 0, the padding skipped;
//   dx: the covering windows in ascending (oh, ow) order (CoveringWindows of kernels/element.h);
//   dw: one thread per (tap, channel, chunk of ColumnChunkRows(out pixels) output pixels) summing its chunk
//       in pixel order, then the chunks in order (cuda_common.cuh's column sums, with tap x channel columns).
#include <stdint.h>

#include "kernels/cuda_common.cuh"
#include "kernels/cuda_kernels.cuh"
#include "kernels/element.h"

namespace hpo::kernels::cuda {
namespace {

template <typename S>
__global__ void DepthwiseForwardKernel(ConvGeometry g, size_t total, const typename S::Raw* __restrict__ x,
                                       const typename S::Raw* __restrict__ w,
                                       typename S::Raw* __restrict__ y) {
  using Acc = typename S::Acc;
  for (size_t i = GlobalThread(); i < total; i += GlobalStride()) {
    const int64_t c = static_cast<int64_t>(i % static_cast<size_t>(g.channels));
    const int64_t r = static_cast<int64_t>(i / static_cast<size_t>(g.channels));
    const int64_t ow = r % g.out_width, oh = (r / g.out_width) % g.out_height,
                  n = r / (g.out_width * g.out_height);
    Acc acc = Acc(0);
    for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
      const int64_t h = oh * g.stride_h - g.pad_h + kh;
      if (h < 0 || h >= g.height) continue;
      for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
        const int64_t iw = ow * g.stride_w - g.pad_w + kw;
        if (iw < 0 || iw >= g.width) continue;
        acc += S::Load(x[((n * g.height + h) * g.width + iw) * g.channels + c]) *
               S::Load(w[(kh * g.kernel_w + kw) * g.channels + c]);
      }
    }
    y[i] = S::Store(acc);
  }
}

template <typename S>
__global__ void DepthwiseInputGradKernel(ConvGeometry g, size_t total, const typename S::Raw* __restrict__ dy,
                                         const typename S::Raw* __restrict__ w,
                                         typename S::Raw* __restrict__ dx) {
  using Acc = typename S::Acc;
  for (size_t i = GlobalThread(); i < total; i += GlobalStride()) {
    const int64_t c = static_cast<int64_t>(i % static_cast<size_t>(g.channels));
    const int64_t p = static_cast<int64_t>(i / static_cast<size_t>(g.channels));
    const int64_t iw = p % g.width, h = (p / g.width) % g.height, n = p / (g.width * g.height);
    dx[i] =
        S::Store(GatherCoveringWindows<Acc>(g, h, iw, [&](int64_t oh, int64_t ow, int64_t kh, int64_t kw) {
          return S::Load(dy[((n * g.out_height + oh) * g.out_width + ow) * g.channels + c]) *
                 S::Load(w[(kh * g.kernel_w + kw) * g.channels + c]);
        }));
  }
}

// One thread per (column j = tap * channels + c, chunk of output pixels): the chunk's sum of x * dy.
template <typename S>
__global__ void DepthwiseWeightGradKernel(ConvGeometry g, int64_t rows_per_chunk,
                                          const typename S::Raw* __restrict__ x,
                                          const typename S::Raw* __restrict__ dy,
                                          typename S::Acc* __restrict__ partial) {
  using Acc = typename S::Acc;
  const int64_t cols = g.kernel_h * g.kernel_w * g.channels;
  ColumnChunkRange at;
  if (!ThisColumnChunk(g.batch * g.out_height * g.out_width, cols, rows_per_chunk, &at)) return;
  const int64_t j = at.c, c = j % g.channels, tap = j / g.channels;
  const int64_t kh = tap / g.kernel_w, kw = tap % g.kernel_w;
  Acc sum = Acc(0);
  for (int64_t r = at.r0; r < at.r1; ++r) {
    const int64_t ow = r % g.out_width, oh = (r / g.out_width) % g.out_height,
                  n = r / (g.out_width * g.out_height);
    const int64_t h = oh * g.stride_h - g.pad_h + kh;
    const int64_t iw = ow * g.stride_w - g.pad_w + kw;
    if (h < 0 || h >= g.height || iw < 0 || iw >= g.width) continue;
    sum += S::Load(x[((n * g.height + h) * g.width + iw) * g.channels + c]) * S::Load(dy[r * g.channels + c]);
  }
  partial[static_cast<size_t>(blockIdx.y) * static_cast<size_t>(cols) + static_cast<size_t>(j)] = sum;
}

int64_t OutPixels(const ConvGeometry& g) { return g.batch * g.out_height * g.out_width; }

ColumnChunks DepthwiseChunks(const ConvGeometry& g) {
  return ChunksOf(OutPixels(g), ColumnChunkRows(OutPixels(g)));
}

}  // namespace

cudaError_t LaunchDepthwiseForward(ElementType type, const ConvGeometry& g, const void* x, const void* w,
                                   void* y, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(OutPixels(g)) * static_cast<size_t>(g.channels);
  if (total == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    DepthwiseForwardKernel<S><<<BlocksFor(total), kThreads, 0, stream>>>(
        g, total, static_cast<const Raw*>(x), static_cast<const Raw*>(w), static_cast<Raw*>(y));
    return cudaGetLastError();
  });
}

size_t DepthwiseBackwardScratchBytes(ElementType type, const ConvGeometry& g) {
  const size_t acc_bytes = type == ElementType::kF64 ? sizeof(double) : sizeof(float);
  return ColumnSumsScratchBytes(DepthwiseChunks(g), g.kernel_h * g.kernel_w * g.channels, acc_bytes, 1);
}

cudaError_t LaunchDepthwiseBackward(ElementType type, const ConvGeometry& g, const void* x, const void* w,
                                    const void* dy, void* dx, void* dw, void* scratch, cudaStream_t stream) {
  const int64_t cols = g.kernel_h * g.kernel_w * g.channels;
  if (cols == 0 || OutPixels(g) == 0) return cudaSuccess;
  const ColumnChunks chunks = DepthwiseChunks(g);
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    using Acc = typename S::Acc;
    Acc* const out = static_cast<Acc*>(dw);
    const int threads = ThreadsFor(cols);
    const cudaError_t status =
        LaunchColumnSums<Acc>(chunks, cols, &out, 1, scratch, stream, [&](Acc* const* partials) {
          DepthwiseWeightGradKernel<S><<<ColumnGrid(cols, threads, chunks), threads, 0, stream>>>(
              g, chunks.rows_per_chunk, static_cast<const Raw*>(x), static_cast<const Raw*>(dy), partials[0]);
        });
    const size_t total = static_cast<size_t>(g.batch * g.height * g.width) * static_cast<size_t>(g.channels);
    if (status != cudaSuccess || dx == nullptr || total == 0) return status;
    DepthwiseInputGradKernel<S><<<BlocksFor(total), kThreads, 0, stream>>>(
        g, total, static_cast<const Raw*>(dy), static_cast<const Raw*>(w), static_cast<Raw*>(dx));
    return cudaGetLastError();
  });
}

}  // namespace hpo::kernels::cuda
