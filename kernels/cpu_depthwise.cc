// CpuBackend's depthwise 2-D convolution, forward and backward, on NHWC activations: a pixel's channels are
// contiguous and each channel has its own filter, so every loop below is a multiply-add over a whole channel
// row (vectorisable), with the filter stored (kernel_h * kernel_w) x channels. Half rows are widened into
// fp32 buffers first and rounded once on the way out.
//
// Order of sums (fixed, and the CUDA backend's too, so both agree bit for bit):
//   y:  the taps in (kh, kw) order, the padding skipped;
//   dx: the covering windows in ascending (oh, ow) order (CoveringWindows of kernels/element.h, as Col2Im);
//   dw: chunks of ColumnChunkRows(out_pixels) output pixels, each in pixel order, then the chunks in order.
// Threads: y and dx split by whole output (input) pixels, dw by whole chunks, each computed by one thread
// alone, so the thread count changes no result.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu_backend.h"
#include "kernels/cpu_loops.h"
#include "kernels/cpu_thread_pool.h"
#include "kernels/element.h"

namespace hpo::kernels {
namespace {

using cpu::Compute;

// acc[i] += a[i] * b[i].
template <typename C>
HPO_CPU_CLONES void MultiplyAddRow(int64_t n, const C* a, const C* b, C* acc) {
  for (int64_t i = 0; i < n; ++i) acc[i] += a[i] * b[i];
}

// Calls f(tap, pixel) for the taps of output pixel r whose input pixel lies inside the image, in (kh, kw)
// order: tap = kh * kernel_w + kw, pixel the input pixel's index ((n * height + h) * width + w).
template <typename F>
void ForEachTap(const Conv2dShape& s, int64_t r, F&& f) {
  const int64_t ow_n = s.out_width(), oh_n = s.out_height();
  const int64_t ow = r % ow_n, oh = (r / ow_n) % oh_n, n = r / (ow_n * oh_n);
  for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
    const int64_t h = oh * s.stride_h - s.pad_h + kh;
    if (h < 0 || h >= s.height) continue;
    for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
      const int64_t iw = ow * s.stride_w - s.pad_w + kw;
      if (iw < 0 || iw >= s.width) continue;
      f(kh * s.kernel_w + kw, (n * s.height + h) * s.width + iw);
    }
  }
}

// For each row r in [begin, end) of out (rows of `ch` channels): zeroed accumulators, accumulate(r, acc,
// in_buf) (in_buf: room to widen one half row), then the row stored into out, rounded once.
template <typename S, typename Accumulate>
void AccumulateRows(int64_t ch, S* out, int64_t begin, int64_t end, Accumulate&& accumulate) {
  using C = Compute<S>;
  std::vector<C> in_buf = cpu::RowBuffer<S>(ch), out_buf = cpu::RowBuffer<S>(ch);
  for (int64_t r = begin; r < end; ++r) {
    C* acc = cpu::TileTarget(out + r * ch, out_buf.data());
    std::fill_n(acc, ch, C(0));
    accumulate(r, acc, in_buf);
    cpu::StoreTile(acc, out + r * ch, ch);
  }
}

// y's output pixels [begin, end): the taps in (kh, kw) order, the padding skipped.
template <typename S>
void DepthwiseForwardPixels(const Conv2dShape& s, const S* x, const Compute<S>* w, S* y, int64_t begin,
                            int64_t end) {
  const int64_t ch = s.channels;
  AccumulateRows<S>(ch, y, begin, end, [&](int64_t r, Compute<S>* acc, std::vector<Compute<S>>& buf) {
    ForEachTap(s, r, [&](int64_t tap, int64_t pixel) {
      MultiplyAddRow(ch, cpu::LoadRow(x + pixel * ch, ch, buf), w + tap * ch, acc);
    });
  });
}

// dx's input pixels [begin, end): the covering windows in ascending (oh, ow) order.
template <typename S>
void DepthwiseInputGradPixels(const Conv2dShape& s, const S* dy, const Compute<S>* w, S* dx, int64_t begin,
                              int64_t end) {
  const int64_t ch = s.channels, oh_n = s.out_height(), ow_n = s.out_width();
  AccumulateRows<S>(ch, dx, begin, end, [&](int64_t p, Compute<S>* acc, std::vector<Compute<S>>& buf) {
    const int64_t iw = p % s.width, h = (p / s.width) % s.height, n = p / (s.width * s.height);
    const WindowRange hr = CoveringWindows(h, s.kernel_h, s.stride_h, s.pad_h, oh_n);
    const WindowRange wr = CoveringWindows(iw, s.kernel_w, s.stride_w, s.pad_w, ow_n);
    for (int64_t oh = hr.lo; oh <= hr.hi; ++oh) {
      const int64_t kh = h + s.pad_h - oh * s.stride_h;
      for (int64_t ow = wr.lo; ow <= wr.hi; ++ow) {
        const int64_t kw = iw + s.pad_w - ow * s.stride_w;
        const S* dyr = dy + ((n * oh_n + oh) * ow_n + ow) * ch;
        MultiplyAddRow(ch, cpu::LoadRow(dyr, ch, buf), w + (kh * s.kernel_w + kw) * ch, acc);
      }
    }
  });
}

// partial[(kh * kernel_w + kw) * C + c] += x[tap, c] * dy[r, c] for the output pixels r in [r0, r1), in
// order.
template <typename S>
void DepthwiseWeightGradChunk(const Conv2dShape& s, const S* x, const S* dy, int64_t r0, int64_t r1,
                              Compute<S>* partial) {
  using C = Compute<S>;
  const int64_t ch = s.channels;
  std::vector<C> x_buf = cpu::RowBuffer<S>(ch), dy_buf = cpu::RowBuffer<S>(ch);
  for (int64_t r = r0; r < r1; ++r) {
    const C* dyr = cpu::LoadRow(dy + r * ch, ch, dy_buf);
    ForEachTap(s, r, [&](int64_t tap, int64_t pixel) {
      MultiplyAddRow(ch, cpu::LoadRow(x + pixel * ch, ch, x_buf), dyr, partial + tap * ch);
    });
  }
}

}  // namespace

Status CpuBackend::DepthwiseConv2dForwardImpl(const Conv2dShape& s, ConstView x, ConstView w, View y) {
  cpu::DispatchFloating(x.dtype, [&]<typename S>() {
    const std::vector<Compute<S>> weights = cpu::LoadParam<S>(w, s.patch_size());
    pool_->RunRanges(s.out_pixels(), 1, cpu::MinItemsPerThread(s.patch_size()),
                     [&](int64_t begin, int64_t end) {
                       DepthwiseForwardPixels<S>(s, static_cast<const S*>(x.data), weights.data(),
                                                 static_cast<S*>(y.data), begin, end);
                     });
  });
  return Status::Ok();
}

Status CpuBackend::DepthwiseConv2dBackwardImpl(const Conv2dShape& s, ConstView x, ConstView w, ConstView dy,
                                               View dx, View dw) {
  cpu::DispatchFloating(x.dtype, [&]<typename S>() {
    using C = Compute<S>;
    const auto* xs = static_cast<const S*>(x.data);
    const auto* dys = static_cast<const S*>(dy.data);
    cpu::ChunkedColumnSums<C>(
        *pool_, s.out_pixels(), s.patch_size(), s.patch_size(),
        [&](int64_t r0, int64_t r1, C* partial) { DepthwiseWeightGradChunk<S>(s, xs, dys, r0, r1, partial); },
        static_cast<C*>(dw.data));
    if (dx.size == 0) return;
    const std::vector<C> weights = cpu::LoadParam<S>(w, s.patch_size());
    const int64_t pixels = s.batch * s.height * s.width;
    pool_->RunRanges(pixels, 1, cpu::MinItemsPerThread(s.patch_size()), [&](int64_t begin, int64_t end) {
      DepthwiseInputGradPixels<S>(s, dys, weights.data(), static_cast<S*>(dx.data), begin, end);
    });
  });
  return Status::Ok();
}

}  // namespace hpo::kernels
