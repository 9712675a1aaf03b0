// The convolution-network operations on NHWC activations: im2col / col2im, max and global average pooling,
// batch normalisation (training forward, inference, backward).
//
// Every kernel gives one thread one output element (grid-stride, 64-bit indices) and computes it alone, so
// nothing needs atomics and every sum has the CPU backend's order (kernels/cpu_conv.cc):
//   Col2Im, max pooling's backward: a gather over the covering windows in ascending (oh, ow) order
//                                   (CoveringWindows of kernels/element.h);
//   global average pool:            the pixels in order, then one division;
//   batch norm's column sums:       chunks of BatchNormChunkRows rows, each in row order (one thread per
//                                   column and chunk), then the chunks in order (SumColumnPartialsKernel).
// The element math (MaxPoolTakes, NormalizeElement, RunningAverage, BatchNormInputGradient) is
// kernels/element.h's, as on the CPU, compiled without FMA contraction.
#include <stdint.h>

#include "kernels/cuda_common.cuh"
#include "kernels/cuda_kernels.cuh"
#include "kernels/element.h"

namespace hpo::kernels::cuda {
namespace {

// --- Im2Col / Col2Im ---

template <typename Raw>
__global__ void Im2ColKernel(ConvGeometry g, size_t total, const Raw* __restrict__ x,
                             Raw* __restrict__ cols) {
  for (size_t i = GlobalThread(); i < total; i += GlobalStride()) {
    const int64_t c = static_cast<int64_t>(i % static_cast<size_t>(g.channels));
    int64_t t = static_cast<int64_t>(i / static_cast<size_t>(g.channels));
    const int64_t kw = t % g.kernel_w;
    t /= g.kernel_w;
    const int64_t kh = t % g.kernel_h;
    const int64_t r = t / g.kernel_h;
    const int64_t ow = r % g.out_width;
    const int64_t oh = (r / g.out_width) % g.out_height;
    const int64_t n = r / (g.out_width * g.out_height);
    const int64_t h = oh * g.stride_h - g.pad_h + kh;
    const int64_t w = ow * g.stride_w - g.pad_w + kw;
    const bool inside = h >= 0 && h < g.height && w >= 0 && w < g.width;
    cols[i] = inside ? x[((n * g.height + h) * g.width + w) * g.channels + c] : Raw(0);
  }
}

template <typename S>
__global__ void Col2ImKernel(ConvGeometry g, size_t total, const typename S::Raw* __restrict__ cols,
                             typename S::Raw* __restrict__ x) {
  using Acc = typename S::Acc;
  const int64_t patch = g.kernel_h * g.kernel_w * g.channels;
  for (size_t i = GlobalThread(); i < total; i += GlobalStride()) {
    const int64_t c = static_cast<int64_t>(i % static_cast<size_t>(g.channels));
    const int64_t p = static_cast<int64_t>(i / static_cast<size_t>(g.channels));
    const int64_t w = p % g.width, h = (p / g.width) % g.height, n = p / (g.width * g.height);
    x[i] = S::Store(GatherCoveringWindows<Acc>(g, h, w, [&](int64_t oh, int64_t ow, int64_t kh, int64_t kw) {
      return S::Load(cols[((n * g.out_height + oh) * g.out_width + ow) * patch +
                          (kh * g.kernel_w + kw) * g.channels + c]);
    }));
  }
}

// --- Max pooling ---

template <typename S>
__global__ void MaxPoolForwardKernel(ConvGeometry g, size_t total, const typename S::Raw* __restrict__ x,
                                     typename S::Raw* __restrict__ y, int32_t* __restrict__ argmax) {
  using Acc = typename S::Acc;
  for (size_t i = GlobalThread(); i < total; i += GlobalStride()) {
    const int64_t c = static_cast<int64_t>(i % static_cast<size_t>(g.channels));
    const int64_t r = static_cast<int64_t>(i / static_cast<size_t>(g.channels));
    const int64_t ow = r % g.out_width, oh = (r / g.out_width) % g.out_height,
                  n = r / (g.out_width * g.out_height);
    bool first = true;
    Acc best = Acc(0);
    int64_t index = 0;
    for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
      const int64_t h = oh * g.stride_h - g.pad_h + kh;
      if (h < 0 || h >= g.height) continue;
      for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
        const int64_t w = ow * g.stride_w - g.pad_w + kw;
        if (w < 0 || w >= g.width) continue;
        const int64_t at = ((n * g.height + h) * g.width + w) * g.channels + c;
        const Acc v = S::Load(x[at]);
        if (first || MaxPoolTakes(v, best)) {
          best = v;
          index = at;
        }
        first = false;
      }
    }
    y[i] = x[index];
    argmax[i] = static_cast<int32_t>(index);
  }
}

template <typename S>
__global__ void MaxPoolBackwardKernel(ConvGeometry g, size_t total, const typename S::Raw* __restrict__ dy,
                                      const int32_t* __restrict__ argmax, typename S::Raw* __restrict__ dx) {
  using Acc = typename S::Acc;
  for (size_t i = GlobalThread(); i < total; i += GlobalStride()) {
    const int64_t c = static_cast<int64_t>(i % static_cast<size_t>(g.channels));
    const int64_t p = static_cast<int64_t>(i / static_cast<size_t>(g.channels));
    const int64_t w = p % g.width, h = (p / g.width) % g.height, n = p / (g.width * g.height);
    const WindowRange hr = CoveringWindows(h, g.kernel_h, g.stride_h, g.pad_h, g.out_height);
    const WindowRange wr = CoveringWindows(w, g.kernel_w, g.stride_w, g.pad_w, g.out_width);
    Acc acc = Acc(0);
    for (int64_t oh = hr.lo; oh <= hr.hi; ++oh) {
      for (int64_t ow = wr.lo; ow <= wr.hi; ++ow) {
        const int64_t at = ((n * g.out_height + oh) * g.out_width + ow) * g.channels + c;
        if (argmax[at] == static_cast<int64_t>(i)) acc += S::Load(dy[at]);
      }
    }
    dx[i] = S::Store(acc);
  }
}

// --- Global average pooling ---

template <typename S>
__global__ void GlobalAvgPoolForwardKernel(int64_t batch, int64_t pixels, int64_t channels,
                                           const typename S::Raw* __restrict__ x,
                                           typename S::Raw* __restrict__ y) {
  using Acc = typename S::Acc;
  const size_t total = static_cast<size_t>(batch) * static_cast<size_t>(channels);
  for (size_t i = GlobalThread(); i < total; i += GlobalStride()) {
    const int64_t c = static_cast<int64_t>(i % static_cast<size_t>(channels));
    const int64_t n = static_cast<int64_t>(i / static_cast<size_t>(channels));
    Acc sum = Acc(0);
    for (int64_t p = 0; p < pixels; ++p) sum += S::Load(x[(n * pixels + p) * channels + c]);
    y[i] = S::Store(sum / static_cast<Acc>(pixels));
  }
}

template <typename S>
__global__ void GlobalAvgPoolBackwardKernel(int64_t pixels, int64_t channels, size_t total,
                                            const typename S::Raw* __restrict__ dy,
                                            typename S::Raw* __restrict__ dx) {
  using Acc = typename S::Acc;
  for (size_t i = GlobalThread(); i < total; i += GlobalStride()) {
    const int64_t c = static_cast<int64_t>(i % static_cast<size_t>(channels));
    const int64_t n = static_cast<int64_t>(i / static_cast<size_t>(channels * pixels));
    dx[i] = S::Store(S::Load(dy[n * channels + c]) / static_cast<Acc>(pixels));
  }
}

// --- Batch normalisation ---

// What a column pass sums per element.
enum class ColumnTerm { kValue, kSquaredDeviation };

// One thread per (column, chunk of rows): the chunk's sum of x (kValue) or of (x - mean)^2.
template <typename S, ColumnTerm kTerm>
__global__ void BatchNormStatsKernel(int64_t rows, int64_t cols, int64_t rows_per_chunk,
                                     const typename S::Raw* __restrict__ x, const typename S::Acc* mean,
                                     typename S::Acc* partial) {
  using Acc = typename S::Acc;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * rows_per_chunk;
  const int64_t r1 = r0 + rows_per_chunk < rows ? r0 + rows_per_chunk : rows;
  const Acc mu = kTerm == ColumnTerm::kSquaredDeviation ? mean[c] : Acc(0);
  Acc sum = Acc(0);
  for (int64_t r = r0; r < r1; ++r) {
    const Acc v = S::Load(x[static_cast<size_t>(r) * static_cast<size_t>(cols) + static_cast<size_t>(c)]);
    if constexpr (kTerm == ColumnTerm::kValue) {
      sum += v;
    } else {
      const Acc d = v - mu;
      sum += d * d;
    }
  }
  partial[static_cast<size_t>(blockIdx.y) * static_cast<size_t>(cols) + static_cast<size_t>(c)] = sum;
}

template <typename Acc>
__global__ void DivideKernel(int64_t cols, Acc divisor, Acc* values) {
  for (size_t c = GlobalThread(); c < static_cast<size_t>(cols); c += GlobalStride()) values[c] /= divisor;
}

// squares_rstd holds the sums of squared deviations on entry and rstd on exit; running statistics (each
// may be null) take their exponential-average step.
template <typename Acc>
__global__ void BatchNormFinishKernel(int64_t rows, int64_t cols, Acc eps, Acc momentum, const Acc* mean,
                                      Acc* squares_rstd, Acc* running_mean, Acc* running_var) {
  for (size_t c = GlobalThread(); c < static_cast<size_t>(cols); c += GlobalStride()) {
    const Acc squares = squares_rstd[c];
    if (running_mean != nullptr) running_mean[c] = RunningAverage(running_mean[c], mean[c], momentum);
    if (running_var != nullptr) {
      running_var[c] = RunningAverage(running_var[c], squares / static_cast<Acc>(rows - 1), momentum);
    }
    squares_rstd[c] = Acc(1) / ElementSqrt(squares / static_cast<Acc>(rows) + eps);
  }
}

template <typename S>
__global__ void BatchNormNormalizeKernel(size_t total, int64_t cols, const typename S::Raw* x,
                                         const typename S::Raw* __restrict__ gamma,
                                         const typename S::Raw* __restrict__ beta,
                                         const typename S::Acc* __restrict__ mean,
                                         const typename S::Acc* __restrict__ rstd, typename S::Raw* y) {
  for (size_t i = GlobalThread(); i < total; i += GlobalStride()) {
    const size_t c = i % static_cast<size_t>(cols);
    y[i] = S::Store(NormalizeElement(S::Load(x[i]), mean[c], rstd[c], S::Load(gamma[c]), S::Load(beta[c])));
  }
}

template <typename S>
__global__ void BatchNormInferenceKernel(size_t total, int64_t cols, typename S::Acc eps,
                                         const typename S::Raw* x, const typename S::Raw* __restrict__ gamma,
                                         const typename S::Raw* __restrict__ beta,
                                         const typename S::Acc* __restrict__ running_mean,
                                         const typename S::Acc* __restrict__ running_var,
                                         typename S::Raw* y) {
  using Acc = typename S::Acc;
  for (size_t i = GlobalThread(); i < total; i += GlobalStride()) {
    const size_t c = i % static_cast<size_t>(cols);
    const Acc rstd = Acc(1) / ElementSqrt(running_var[c] + eps);
    y[i] =
        S::Store(NormalizeElement(S::Load(x[i]), running_mean[c], rstd, S::Load(gamma[c]), S::Load(beta[c])));
  }
}

// One thread per (column, chunk of rows): the chunk's sums of dy xhat and of dy.
template <typename S>
__global__ void BatchNormGradColumnKernel(int64_t rows, int64_t cols, int64_t rows_per_chunk,
                                          const typename S::Raw* __restrict__ x,
                                          const typename S::Acc* __restrict__ mean,
                                          const typename S::Acc* __restrict__ rstd, const typename S::Raw* dy,
                                          typename S::Acc* partial_gamma, typename S::Acc* partial_beta) {
  using Acc = typename S::Acc;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * rows_per_chunk;
  const int64_t r1 = r0 + rows_per_chunk < rows ? r0 + rows_per_chunk : rows;
  const Acc mu = mean[c], rs = rstd[c];
  Acc sum_gamma = Acc(0);
  Acc sum_beta = Acc(0);
  for (int64_t r = r0; r < r1; ++r) {
    const size_t i = static_cast<size_t>(r) * static_cast<size_t>(cols) + static_cast<size_t>(c);
    const Acc d = S::Load(dy[i]);
    sum_gamma += d * ((S::Load(x[i]) - mu) * rs);
    sum_beta += d;
  }
  const size_t out = static_cast<size_t>(blockIdx.y) * static_cast<size_t>(cols) + static_cast<size_t>(c);
  partial_gamma[out] = sum_gamma;
  partial_beta[out] = sum_beta;
}

template <typename S>
__global__ void BatchNormInputGradKernel(
    size_t total, int64_t rows, int64_t cols, const typename S::Raw* __restrict__ x,
    const typename S::Raw* __restrict__ gamma, const typename S::Acc* __restrict__ mean,
    const typename S::Acc* __restrict__ rstd, const typename S::Acc* __restrict__ dgamma,
    const typename S::Acc* __restrict__ dbeta, const typename S::Raw* dy, typename S::Raw* dx) {
  using Acc = typename S::Acc;
  const Acc count = static_cast<Acc>(rows);
  for (size_t i = GlobalThread(); i < total; i += GlobalStride()) {
    const size_t c = i % static_cast<size_t>(cols);
    const Acc xhat = (S::Load(x[i]) - mean[c]) * rstd[c];
    dx[i] = S::Store(BatchNormInputGradient(S::Load(dy[i]), xhat, S::Load(gamma[c]), rstd[c],
                                            dbeta[c] / count, dgamma[c] / count));
  }
}

// The chunking of batch norm's column sums (the CPU backend's, kernels/element.h).
ColumnChunks BatchNormChunks(int64_t rows) { return ChunksOf(rows, BatchNormChunkRows(rows)); }

}  // namespace

cudaError_t LaunchIm2Col(ElementType type, const ConvGeometry& g, const void* x, void* cols,
                         cudaStream_t stream) {
  const size_t total = static_cast<size_t>(g.batch * g.out_height * g.out_width) *
                       static_cast<size_t>(g.kernel_h * g.kernel_w * g.channels);
  if (total == 0) return cudaSuccess;
  // A copy of bits: the element's width is all that matters.
  switch (type) {
    case ElementType::kF32:
      Im2ColKernel<float><<<BlocksFor(total), kThreads, 0, stream>>>(g, total, static_cast<const float*>(x),
                                                                     static_cast<float*>(cols));
      break;
    case ElementType::kF64:
      Im2ColKernel<double><<<BlocksFor(total), kThreads, 0, stream>>>(g, total, static_cast<const double*>(x),
                                                                      static_cast<double*>(cols));
      break;
    case ElementType::kF16:
    case ElementType::kBF16:
      Im2ColKernel<uint16_t><<<BlocksFor(total), kThreads, 0, stream>>>(
          g, total, static_cast<const uint16_t*>(x), static_cast<uint16_t*>(cols));
      break;
    case ElementType::kI32:
      return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

cudaError_t LaunchCol2Im(ElementType type, const ConvGeometry& g, const void* cols, void* x,
                         cudaStream_t stream) {
  const size_t total = static_cast<size_t>(g.batch * g.height * g.width) * static_cast<size_t>(g.channels);
  if (total == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    Col2ImKernel<S><<<BlocksFor(total), kThreads, 0, stream>>>(g, total, static_cast<const Raw*>(cols),
                                                               static_cast<Raw*>(x));
    return cudaGetLastError();
  });
}

cudaError_t LaunchMaxPoolForward(ElementType type, const ConvGeometry& g, const void* x, void* y,
                                 int32_t* argmax, cudaStream_t stream) {
  const size_t total =
      static_cast<size_t>(g.batch * g.out_height * g.out_width) * static_cast<size_t>(g.channels);
  if (total == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    MaxPoolForwardKernel<S><<<BlocksFor(total), kThreads, 0, stream>>>(g, total, static_cast<const Raw*>(x),
                                                                       static_cast<Raw*>(y), argmax);
    return cudaGetLastError();
  });
}

cudaError_t LaunchMaxPoolBackward(ElementType type, const ConvGeometry& g, const void* dy,
                                  const int32_t* argmax, void* dx, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(g.batch * g.height * g.width) * static_cast<size_t>(g.channels);
  if (total == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    MaxPoolBackwardKernel<S><<<BlocksFor(total), kThreads, 0, stream>>>(g, total, static_cast<const Raw*>(dy),
                                                                        argmax, static_cast<Raw*>(dx));
    return cudaGetLastError();
  });
}

cudaError_t LaunchGlobalAvgPoolForward(ElementType type, int64_t batch, int64_t pixels, int64_t channels,
                                       const void* x, void* y, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(batch) * static_cast<size_t>(channels);
  if (total == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    GlobalAvgPoolForwardKernel<S><<<BlocksFor(total), kThreads, 0, stream>>>(
        batch, pixels, channels, static_cast<const Raw*>(x), static_cast<Raw*>(y));
    return cudaGetLastError();
  });
}

cudaError_t LaunchGlobalAvgPoolBackward(ElementType type, int64_t batch, int64_t pixels, int64_t channels,
                                        const void* dy, void* dx, cudaStream_t stream) {
  const size_t total =
      static_cast<size_t>(batch) * static_cast<size_t>(pixels) * static_cast<size_t>(channels);
  if (total == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    GlobalAvgPoolBackwardKernel<S><<<BlocksFor(total), kThreads, 0, stream>>>(
        pixels, channels, total, static_cast<const Raw*>(dy), static_cast<Raw*>(dx));
    return cudaGetLastError();
  });
}

size_t BatchNormScratchBytes(ElementType type, int64_t rows, int64_t cols) {
  const size_t acc_bytes = type == ElementType::kF64 ? sizeof(double) : sizeof(float);
  return ColumnSumsScratchBytes(BatchNormChunks(rows), cols, acc_bytes, 2);
}

cudaError_t LaunchBatchNormForward(ElementType type, int64_t rows, int64_t cols, double eps, double momentum,
                                   const void* x, const void* gamma, const void* beta, void* y, void* mean,
                                   void* rstd, void* running_mean, void* running_var, void* scratch,
                                   cudaStream_t stream) {
  if (rows == 0 || cols == 0) return cudaSuccess;
  const ColumnChunks chunks = BatchNormChunks(rows);
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    using Acc = typename S::Acc;
    Acc* const mean_out = static_cast<Acc*>(mean);
    Acc* const rstd_out = static_cast<Acc*>(rstd);
    const auto* x_raw = static_cast<const Raw*>(x);
    const int threads = ThreadsFor(cols);
    const dim3 grid = ColumnGrid(cols, threads, chunks);
    const unsigned col_blocks = BlocksFor(static_cast<size_t>(cols));
    // Column sums of x into mean (through the partials when there are several chunks), then the mean.
    cudaError_t status =
        LaunchColumnSums<Acc>(chunks, cols, &mean_out, 1, scratch, stream, [&](Acc* const* partials) {
          BatchNormStatsKernel<S, ColumnTerm::kValue>
              <<<grid, threads, 0, stream>>>(rows, cols, chunks.rows_per_chunk, x_raw, nullptr, partials[0]);
        });
    if (status != cudaSuccess) return status;
    DivideKernel<Acc><<<col_blocks, kThreads, 0, stream>>>(cols, static_cast<Acc>(rows), mean_out);
    status = cudaGetLastError();
    if (status != cudaSuccess) return status;
    // Sums of squared deviations into rstd, then rstd and the running statistics.
    status = LaunchColumnSums<Acc>(chunks, cols, &rstd_out, 1, scratch, stream, [&](Acc* const* partials) {
      BatchNormStatsKernel<S, ColumnTerm::kSquaredDeviation>
          <<<grid, threads, 0, stream>>>(rows, cols, chunks.rows_per_chunk, x_raw, mean_out, partials[0]);
    });
    if (status != cudaSuccess) return status;
    BatchNormFinishKernel<Acc><<<col_blocks, kThreads, 0, stream>>>(
        rows, cols, static_cast<Acc>(eps), static_cast<Acc>(momentum), mean_out, rstd_out,
        static_cast<Acc*>(running_mean), static_cast<Acc*>(running_var));
    status = cudaGetLastError();
    if (status != cudaSuccess) return status;
    const size_t total = static_cast<size_t>(rows) * static_cast<size_t>(cols);
    BatchNormNormalizeKernel<S><<<BlocksFor(total), kThreads, 0, stream>>>(
        total, cols, x_raw, static_cast<const Raw*>(gamma), static_cast<const Raw*>(beta), mean_out, rstd_out,
        static_cast<Raw*>(y));
    return cudaGetLastError();
  });
}

cudaError_t LaunchBatchNormInference(ElementType type, int64_t rows, int64_t cols, double eps, const void* x,
                                     const void* gamma, const void* beta, const void* running_mean,
                                     const void* running_var, void* y, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(rows) * static_cast<size_t>(cols);
  if (total == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    using Acc = typename S::Acc;
    BatchNormInferenceKernel<S><<<BlocksFor(total), kThreads, 0, stream>>>(
        total, cols, static_cast<Acc>(eps), static_cast<const Raw*>(x), static_cast<const Raw*>(gamma),
        static_cast<const Raw*>(beta), static_cast<const Acc*>(running_mean),
        static_cast<const Acc*>(running_var), static_cast<Raw*>(y));
    return cudaGetLastError();
  });
}

cudaError_t LaunchBatchNormBackward(ElementType type, int64_t rows, int64_t cols, const void* x,
                                    const void* gamma, const void* mean, const void* rstd, const void* dy,
                                    void* dx, void* dgamma, void* dbeta, void* scratch, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return cudaSuccess;
  const ColumnChunks chunks = BatchNormChunks(rows);
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    using Acc = typename S::Acc;
    Acc* const out[] = {static_cast<Acc*>(dgamma), static_cast<Acc*>(dbeta)};
    const int threads = ThreadsFor(cols);
    const cudaError_t status =
        LaunchColumnSums<Acc>(chunks, cols, out, 2, scratch, stream, [&](Acc* const* partials) {
          BatchNormGradColumnKernel<S><<<ColumnGrid(cols, threads, chunks), threads, 0, stream>>>(
              rows, cols, chunks.rows_per_chunk, static_cast<const Raw*>(x), static_cast<const Acc*>(mean),
              static_cast<const Acc*>(rstd), static_cast<const Raw*>(dy), partials[0], partials[1]);
        });
    if (status != cudaSuccess) return status;
    const size_t total = static_cast<size_t>(rows) * static_cast<size_t>(cols);
    BatchNormInputGradKernel<S><<<BlocksFor(total), kThreads, 0, stream>>>(
        total, rows, cols, static_cast<const Raw*>(x), static_cast<const Raw*>(gamma),
        static_cast<const Acc*>(mean), static_cast<const Acc*>(rstd), out[0], out[1],
        static_cast<const Raw*>(dy), static_cast<Raw*>(dx));
    return cudaGetLastError();
  });
}

}  // namespace hpo::kernels::cuda
