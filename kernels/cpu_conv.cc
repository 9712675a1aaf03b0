// CpuBackend's convolution-network operations: im2col / col2im, max and global average pooling, batch
// normalisation. Activations are NHWC, so a pixel's channels are contiguous and every loop below works on
// whole channel rows (a memcpy for Im2Col, vectorisable row loops elsewhere); half rows are widened into
// fp32 buffers first and rounded once on the way out.
//
// Order of sums (fixed, and the CUDA backend's too, so both agree bit for bit on the sums): Col2Im and
// max pooling's backward pass gather, for each input element, the windows that cover it in ascending
// (oh, ow) order (CoveringWindows of kernels/element.h); the global average pool sums the pixels in order;
// batch norm's column sums run over chunks of BatchNormChunkRows rows, each in row order, then over the
// chunks in order.
//
// Threads: Im2Col, Col2Im, the pools split over the backend's pool by whole output (or input) pixels or
// images, each computed by one thread alone, so the split changes no result; batch norm splits its rows
// (each normalised by one thread) and its column sums' chunks (each summed by one thread, the chunk sums
// then added in order on the caller's thread).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu_backend.h"
#include "kernels/cpu_loops.h"
#include "kernels/cpu_thread_pool.h"
#include "kernels/element.h"

namespace hpo::kernels {
namespace {

using cpu::Compute;

template <typename C>
HPO_CPU_CLONES void AddRow(int64_t n, const C* src, C* acc) {
  for (int64_t i = 0; i < n; ++i) acc[i] += src[i];
}

// --- Col2Im ---

template <typename S>
void Col2ImPixels(const Conv2dShape& s, const S* cols, S* x, int64_t begin, int64_t end) {
  using C = Compute<S>;
  const int64_t ch = s.channels, oh_n = s.out_height(), ow_n = s.out_width(), patch = s.patch_size();
  std::vector<C> acc(static_cast<size_t>(ch));
  std::vector<C> buf = cpu::RowBuffer<S>(ch);
  for (int64_t p = begin; p < end; ++p) {
    const int64_t w = p % s.width, h = (p / s.width) % s.height, n = p / (s.width * s.height);
    std::fill(acc.begin(), acc.end(), C(0));
    const WindowRange hr = CoveringWindows(h, s.kernel_h, s.stride_h, s.pad_h, oh_n);
    const WindowRange wr = CoveringWindows(w, s.kernel_w, s.stride_w, s.pad_w, ow_n);
    for (int64_t oh = hr.lo; oh <= hr.hi; ++oh) {
      const int64_t kh = h + s.pad_h - oh * s.stride_h;
      for (int64_t ow = wr.lo; ow <= wr.hi; ++ow) {
        const int64_t kw = w + s.pad_w - ow * s.stride_w;
        const S* src = cols + ((n * oh_n + oh) * ow_n + ow) * patch + (kh * s.kernel_w + kw) * ch;
        AddRow(ch, cpu::LoadRow(src, ch, buf), acc.data());
      }
    }
    cpu::StoreTile<S>(acc.data(), x + p * ch, ch);
  }
}

// --- Max pooling ---

template <typename S>
void MaxPoolForwardPixels(const Conv2dShape& s, const S* x, S* y, int32_t* argmax, int64_t begin,
                          int64_t end) {
  using C = Compute<S>;
  const int64_t ch = s.channels, oh_n = s.out_height(), ow_n = s.out_width();
  std::vector<C> best(static_cast<size_t>(ch));
  std::vector<C> buf = cpu::RowBuffer<S>(ch);
  for (int64_t r = begin; r < end; ++r) {
    const int64_t ow = r % ow_n, oh = (r / ow_n) % oh_n, n = r / (ow_n * oh_n);
    int32_t* index = argmax + r * ch;
    bool first = true;
    for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
      const int64_t h = oh * s.stride_h - s.pad_h + kh;
      if (h < 0 || h >= s.height) continue;
      for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
        const int64_t w = ow * s.stride_w - s.pad_w + kw;
        if (w < 0 || w >= s.width) continue;
        const int64_t base = ((n * s.height + h) * s.width + w) * ch;
        const C* v = cpu::LoadRow(x + base, ch, buf);
        if (first) {
          for (int64_t c = 0; c < ch; ++c) {
            best[c] = v[c];
            index[c] = static_cast<int32_t>(base + c);
          }
          first = false;
          continue;
        }
        // Selects rather than branches, so that the channels vectorise.
        C* b = best.data();
        for (int64_t c = 0; c < ch; ++c) {
          const bool take = MaxPoolTakes(v[c], b[c]);
          b[c] = take ? v[c] : b[c];
          index[c] = take ? static_cast<int32_t>(base + c) : index[c];
        }
      }
    }
    // The chosen elements themselves, nothing rounded: for float and double the best values, for the
    // halves their bits (a NaN's payload too). (The checks guarantee a pixel per window.)
    if constexpr (cpu::kDirect<S>) {
      std::memcpy(y + r * ch, best.data(), static_cast<size_t>(ch) * sizeof(S));
    } else {
      for (int64_t c = 0; c < ch; ++c) y[r * ch + c] = x[index[c]];
    }
  }
}

template <typename S>
void MaxPoolBackwardPixels(const Conv2dShape& s, const S* dy, const int32_t* argmax, S* dx, int64_t begin,
                           int64_t end) {
  using C = Compute<S>;
  const int64_t ch = s.channels, oh_n = s.out_height(), ow_n = s.out_width();
  std::vector<C> acc(static_cast<size_t>(ch));
  for (int64_t p = begin; p < end; ++p) {
    const int64_t w = p % s.width, h = (p / s.width) % s.height, n = p / (s.width * s.height);
    std::fill(acc.begin(), acc.end(), C(0));
    const WindowRange hr = CoveringWindows(h, s.kernel_h, s.stride_h, s.pad_h, oh_n);
    const WindowRange wr = CoveringWindows(w, s.kernel_w, s.stride_w, s.pad_w, ow_n);
    for (int64_t oh = hr.lo; oh <= hr.hi; ++oh) {
      for (int64_t ow = wr.lo; ow <= wr.hi; ++ow) {
        const int64_t row = ((n * oh_n + oh) * ow_n + ow) * ch;
        for (int64_t c = 0; c < ch; ++c) {
          if (argmax[row + c] == p * ch + c) acc[c] += cpu::LoadOne(dy[row + c]);
        }
      }
    }
    cpu::StoreTile<S>(acc.data(), dx + p * ch, ch);
  }
}

// --- Global average pooling ---

template <typename S>
void AvgPoolForwardImages(int64_t pixels, int64_t channels, const S* x, S* y, int64_t begin, int64_t end) {
  using C = Compute<S>;
  std::vector<C> acc(static_cast<size_t>(channels));
  std::vector<C> buf = cpu::RowBuffer<S>(channels);
  const C count = static_cast<C>(pixels);
  for (int64_t n = begin; n < end; ++n) {
    std::fill(acc.begin(), acc.end(), C(0));
    for (int64_t p = 0; p < pixels; ++p)
      AddRow(channels, cpu::LoadRow(x + (n * pixels + p) * channels, channels, buf), acc.data());
    for (C& v : acc) v /= count;
    cpu::StoreTile<S>(acc.data(), y + n * channels, channels);
  }
}

template <typename S>
void AvgPoolBackwardImages(int64_t pixels, int64_t channels, const S* dy, S* dx, int64_t begin, int64_t end) {
  using C = Compute<S>;
  std::vector<C> grad(static_cast<size_t>(channels));
  std::vector<S> row(static_cast<size_t>(channels));
  const C count = static_cast<C>(pixels);
  for (int64_t n = begin; n < end; ++n) {
    for (int64_t c = 0; c < channels; ++c)
      grad[static_cast<size_t>(c)] = cpu::LoadOne(dy[n * channels + c]) / count;
    cpu::StoreTile<S>(grad.data(), row.data(), channels);
    for (int64_t p = 0; p < pixels; ++p) {
      std::memcpy(dx + (n * pixels + p) * channels, row.data(), static_cast<size_t>(channels) * sizeof(S));
    }
  }
}

// --- Batch normalisation ---

template <typename C>
HPO_CPU_CLONES void NormalizeRow(int64_t cols, const C* x, const C* mean, const C* rstd, const C* gamma,
                                 const C* beta, C* y) {
  for (int64_t c = 0; c < cols; ++c) y[c] = NormalizeElement(x[c], mean[c], rstd[c], gamma[c], beta[c]);
}

// y = (x - mean) rstd gamma + beta row by row, the rows split over the pool.
template <typename S>
void NormalizeRows(cpu::ThreadPool& pool, int64_t rows, int64_t cols, const S* x, const Compute<S>* mean,
                   const Compute<S>* rstd, const Compute<S>* gamma, const Compute<S>* beta, S* y) {
  pool.RunRanges(rows, 1, cpu::MinItemsPerThread(cols), [&](int64_t begin, int64_t end) {
    std::vector<Compute<S>> buf = cpu::RowBuffer<S>(cols), out_buf = cpu::RowBuffer<S>(cols);
    for (int64_t r = begin; r < end; ++r) {
      Compute<S>* out = cpu::TileTarget(y + r * cols, out_buf.data());
      NormalizeRow(cols, cpu::LoadRow(x + r * cols, cols, buf), mean, rstd, gamma, beta, out);
      cpu::StoreTile<S>(out, y + r * cols, cols);
    }
  });
}

template <typename S>
void BatchNormForwardLoop(cpu::ThreadPool& pool, int64_t rows, int64_t cols, double eps, double momentum,
                          ConstView x_view, ConstView gamma, ConstView beta, View y_view, View mean_view,
                          View rstd_view, View running_mean, View running_var) {
  using C = Compute<S>;
  const auto* x = static_cast<const S*>(x_view.data);
  auto* mean = static_cast<C*>(mean_view.data);
  auto* rstd = static_cast<C*>(rstd_view.data);
  const int64_t chunk = BatchNormChunkRows(rows);
  cpu::ChunkedColumnSums<C>(
      pool, rows, cols, chunk, cols,
      [&](int64_t r0, int64_t r1, C* partial) {
        std::vector<C> buf = cpu::RowBuffer<S>(cols);
        for (int64_t r = r0; r < r1; ++r) AddRow(cols, cpu::LoadRow(x + r * cols, cols, buf), partial);
      },
      mean);
  const C count = static_cast<C>(rows);
  for (int64_t c = 0; c < cols; ++c) mean[c] /= count;
  // Sum of squared deviations into rstd first, then rstd itself.
  cpu::ChunkedColumnSums<C>(
      pool, rows, cols, chunk, cols,
      [&](int64_t r0, int64_t r1, C* partial) {
        std::vector<C> buf = cpu::RowBuffer<S>(cols);
        for (int64_t r = r0; r < r1; ++r) {
          const C* xr = cpu::LoadRow(x + r * cols, cols, buf);
          for (int64_t c = 0; c < cols; ++c) {
            const C d = xr[c] - mean[c];
            partial[c] += d * d;
          }
        }
      },
      rstd);
  const C m = static_cast<C>(momentum);
  for (int64_t c = 0; c < cols; ++c) {
    const C squares = rstd[c];
    if (running_mean.size > 0) {
      C& rm = static_cast<C*>(running_mean.data)[c];
      rm = RunningAverage(rm, mean[c], m);
    }
    if (running_var.size > 0) {
      C& rv = static_cast<C*>(running_var.data)[c];
      rv = RunningAverage(rv, squares / static_cast<C>(rows - 1), m);
    }
    rstd[c] = C(1) / ElementSqrt(squares / count + static_cast<C>(eps));
  }
  const std::vector<C> g = cpu::LoadParam<S>(gamma, cols), b = cpu::LoadParam<S>(beta, cols);
  NormalizeRows<S>(pool, rows, cols, x, mean, rstd, g.data(), b.data(), static_cast<S*>(y_view.data));
}

template <typename S>
void BatchNormInferenceLoop(cpu::ThreadPool& pool, int64_t rows, int64_t cols, double eps, ConstView x_view,
                            ConstView gamma, ConstView beta, ConstView running_mean, ConstView running_var,
                            View y_view) {
  using C = Compute<S>;
  const auto* rv = static_cast<const C*>(running_var.data);
  std::vector<C> rstd(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; ++c)
    rstd[static_cast<size_t>(c)] = C(1) / ElementSqrt(rv[c] + static_cast<C>(eps));
  const std::vector<C> g = cpu::LoadParam<S>(gamma, cols), b = cpu::LoadParam<S>(beta, cols);
  NormalizeRows<S>(pool, rows, cols, static_cast<const S*>(x_view.data),
                   static_cast<const C*>(running_mean.data), rstd.data(), g.data(), b.data(),
                   static_cast<S*>(y_view.data));
}

template <typename S>
void BatchNormBackwardLoop(cpu::ThreadPool& pool, int64_t rows, int64_t cols, ConstView x_view,
                           ConstView gamma, ConstView mean_view, ConstView rstd_view, ConstView dy_view,
                           View dx_view, View dgamma, View dbeta) {
  using C = Compute<S>;
  const auto* x = static_cast<const S*>(x_view.data);
  const auto* dy = static_cast<const S*>(dy_view.data);
  auto* dx = static_cast<S*>(dx_view.data);
  const auto* mean = static_cast<const C*>(mean_view.data);
  const auto* rstd = static_cast<const C*>(rstd_view.data);
  // sums[0, cols) = sum dy xhat (dgamma), sums[cols, 2 cols) = sum dy (dbeta).
  std::vector<C> sums(2 * static_cast<size_t>(cols));
  cpu::ChunkedColumnSums<C>(
      pool, rows, 2 * cols, BatchNormChunkRows(rows), 2 * cols,
      [&](int64_t r0, int64_t r1, C* partial) {
        std::vector<C> x_buf = cpu::RowBuffer<S>(cols), dy_buf = cpu::RowBuffer<S>(cols);
        for (int64_t r = r0; r < r1; ++r) {
          const C* xr = cpu::LoadRow(x + r * cols, cols, x_buf);
          const C* dyr = cpu::LoadRow(dy + r * cols, cols, dy_buf);
          for (int64_t c = 0; c < cols; ++c) {
            partial[c] += dyr[c] * ((xr[c] - mean[c]) * rstd[c]);
            partial[cols + c] += dyr[c];
          }
        }
      },
      sums.data());
  const C count = static_cast<C>(rows);
  std::vector<C> mean_dy(static_cast<size_t>(cols)), mean_dy_xhat(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; ++c) {
    const auto i = static_cast<size_t>(c);
    static_cast<C*>(dgamma.data)[c] = sums[i];
    static_cast<C*>(dbeta.data)[c] = sums[static_cast<size_t>(cols) + i];
    mean_dy_xhat[i] = sums[i] / count;
    mean_dy[i] = sums[static_cast<size_t>(cols) + i] / count;
  }
  const std::vector<C> g = cpu::LoadParam<S>(gamma, cols);
  pool.RunRanges(rows, 1, cpu::MinItemsPerThread(cols), [&](int64_t begin, int64_t end) {
    std::vector<C> x_buf = cpu::RowBuffer<S>(cols), dy_buf = cpu::RowBuffer<S>(cols),
                   dx_buf = cpu::RowBuffer<S>(cols);
    for (int64_t r = begin; r < end; ++r) {
      const C* xr = cpu::LoadRow(x + r * cols, cols, x_buf);
      const C* dyr = cpu::LoadRow(dy + r * cols, cols, dy_buf);
      C* out = cpu::TileTarget(dx + r * cols, dx_buf.data());
      for (int64_t c = 0; c < cols; ++c) {
        const C xhat = (xr[c] - mean[c]) * rstd[c];
        out[c] =
            BatchNormInputGradient(dyr[c], xhat, g[static_cast<size_t>(c)], rstd[c],
                                   mean_dy[static_cast<size_t>(c)], mean_dy_xhat[static_cast<size_t>(c)]);
      }
      cpu::StoreTile<S>(out, dx + r * cols, cols);
    }
  });
}

}  // namespace

Status CpuBackend::Im2ColImpl(const Conv2dShape& s, ConstView x, View cols) {
  const size_t element = DTypeSize(x.dtype);
  const int64_t oh_n = s.out_height(), ow_n = s.out_width(), patch = s.patch_size();
  const size_t channel_bytes = static_cast<size_t>(s.channels) * element;
  const auto* src = static_cast<const char*>(x.data);
  auto* dst = static_cast<char*>(cols.data);
  pool_->RunRanges(s.out_pixels(), 1, cpu::MinItemsPerThread(patch), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t ow = r % ow_n, oh = (r / ow_n) % oh_n, n = r / (ow_n * oh_n);
      char* out = dst + static_cast<size_t>(r * patch) * element;
      // Per window row: the columns inside the image are one run in both x (NHWC) and cols, copied at
      // once; those in the padding are +0 in every floating type.
      const int64_t w0 = ow * s.stride_w - s.pad_w;
      const int64_t kw_lo = std::clamp<int64_t>(-w0, 0, s.kernel_w);
      const int64_t kw_hi = std::clamp<int64_t>(s.width - w0, kw_lo, s.kernel_w);
      for (int64_t kh = 0; kh < s.kernel_h; ++kh, out += static_cast<size_t>(s.kernel_w) * channel_bytes) {
        const int64_t h = oh * s.stride_h - s.pad_h + kh;
        if (h < 0 || h >= s.height) {
          std::memset(out, 0, static_cast<size_t>(s.kernel_w) * channel_bytes);
          continue;
        }
        std::memset(out, 0, static_cast<size_t>(kw_lo) * channel_bytes);
        std::memcpy(
            out + static_cast<size_t>(kw_lo) * channel_bytes,
            src + static_cast<size_t>(((n * s.height + h) * s.width + w0 + kw_lo) * s.channels) * element,
            static_cast<size_t>(kw_hi - kw_lo) * channel_bytes);
        std::memset(out + static_cast<size_t>(kw_hi) * channel_bytes, 0,
                    static_cast<size_t>(s.kernel_w - kw_hi) * channel_bytes);
      }
    }
  });
  return Status::Ok();
}

Status CpuBackend::Col2ImImpl(const Conv2dShape& s, ConstView cols, View x) {
  cpu::DispatchFloating(x.dtype, [&]<typename S>() {
    const int64_t pixels = s.batch * s.height * s.width;
    const int64_t per_pixel = s.channels * s.kernel_h * s.kernel_w;  // upper bound of the work per pixel
    pool_->RunRanges(pixels, 1, cpu::MinItemsPerThread(per_pixel), [&](int64_t begin, int64_t end) {
      Col2ImPixels<S>(s, static_cast<const S*>(cols.data), static_cast<S*>(x.data), begin, end);
    });
  });
  return Status::Ok();
}

Status CpuBackend::MaxPool2dForwardImpl(const Conv2dShape& s, ConstView x, View y, View argmax) {
  cpu::DispatchFloating(x.dtype, [&]<typename S>() {
    pool_->RunRanges(s.out_pixels(), 1, cpu::MinItemsPerThread(s.patch_size()),
                     [&](int64_t begin, int64_t end) {
                       MaxPoolForwardPixels<S>(s, static_cast<const S*>(x.data), static_cast<S*>(y.data),
                                               static_cast<int32_t*>(argmax.data), begin, end);
                     });
  });
  return Status::Ok();
}

Status CpuBackend::MaxPool2dBackwardImpl(const Conv2dShape& s, ConstView dy, ConstView argmax, View dx) {
  cpu::DispatchFloating(dx.dtype, [&]<typename S>() {
    const int64_t pixels = s.batch * s.height * s.width;
    pool_->RunRanges(pixels, 1, cpu::MinItemsPerThread(s.patch_size()), [&](int64_t begin, int64_t end) {
      MaxPoolBackwardPixels<S>(s, static_cast<const S*>(dy.data), static_cast<const int32_t*>(argmax.data),
                               static_cast<S*>(dx.data), begin, end);
    });
  });
  return Status::Ok();
}

Status CpuBackend::GlobalAvgPoolForwardImpl(int64_t batch, int64_t pixels, int64_t channels, ConstView x,
                                            View y) {
  cpu::DispatchFloating(x.dtype, [&]<typename S>() {
    pool_->RunRanges(batch, 1, cpu::MinItemsPerThread(pixels * channels), [&](int64_t begin, int64_t end) {
      AvgPoolForwardImages<S>(pixels, channels, static_cast<const S*>(x.data), static_cast<S*>(y.data), begin,
                              end);
    });
  });
  return Status::Ok();
}

Status CpuBackend::GlobalAvgPoolBackwardImpl(int64_t batch, int64_t pixels, int64_t channels, ConstView dy,
                                             View dx) {
  cpu::DispatchFloating(dx.dtype, [&]<typename S>() {
    pool_->RunRanges(batch, 1, cpu::MinItemsPerThread(pixels * channels), [&](int64_t begin, int64_t end) {
      AvgPoolBackwardImages<S>(pixels, channels, static_cast<const S*>(dy.data), static_cast<S*>(dx.data),
                               begin, end);
    });
  });
  return Status::Ok();
}

Status CpuBackend::BatchNormForwardImpl(int64_t rows, int64_t cols, double eps, double momentum, ConstView x,
                                        ConstView gamma, ConstView beta, View y, View mean, View rstd,
                                        View running_mean, View running_var) {
  cpu::DispatchFloating(x.dtype, [&]<typename S>() {
    BatchNormForwardLoop<S>(*pool_, rows, cols, eps, momentum, x, gamma, beta, y, mean, rstd, running_mean,
                            running_var);
  });
  return Status::Ok();
}

Status CpuBackend::BatchNormInferenceImpl(int64_t rows, int64_t cols, double eps, ConstView x,
                                          ConstView gamma, ConstView beta, ConstView running_mean,
                                          ConstView running_var, View y) {
  cpu::DispatchFloating(x.dtype, [&]<typename S>() {
    BatchNormInferenceLoop<S>(*pool_, rows, cols, eps, x, gamma, beta, running_mean, running_var, y);
  });
  return Status::Ok();
}

Status CpuBackend::BatchNormBackwardImpl(int64_t rows, int64_t cols, ConstView x, ConstView gamma,
                                         ConstView mean, ConstView rstd, ConstView dy, View dx, View dgamma,
                                         View dbeta) {
  cpu::DispatchFloating(x.dtype, [&]<typename S>() {
    BatchNormBackwardLoop<S>(*pool_, rows, cols, x, gamma, mean, rstd, dy, dx, dgamma, dbeta);
  });
  return Status::Ok();
}

}  // namespace hpo::kernels
