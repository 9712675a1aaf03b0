// CpuBackend's transformer layers: the embedding gather and its gradient, RMS normalisation (forward and
// backward) and the SwiGLU gate (forward and backward). Rows of half tensors are widened into fp32 buffers
// and rounded once on the way out; the element math is kernels/element.h's (RmsNormElement,
// RmsNormInputGradient, SwiGluElement, SwiGluBackwardElement), so the CUDA backend computes the same values.
//
// Order of sums (fixed; the thread count changes no bit):
//   EmbeddingBackward: each dtable element adds its rows in order of r, from 0 (the CUDA backend's order);
//                      threads split the columns.
//   RmsNorm's row sums: the lanes of cpu::LaneSum; its dgamma: chunks of ColumnChunkRows(rows) rows
//                      (kernels/element.h), then the chunks in order (the CUDA backend's order).
// Threads: every operation splits over the backend's pool by whole rows (or, for the embedding's gradient,
// whole column ranges), each computed by one thread alone.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/cpu_backend.h"
#include "kernels/cpu_loops.h"
#include "kernels/cpu_thread_pool.h"
#include "kernels/element.h"

namespace hpo::kernels {
namespace {

using cpu::Compute;
using cpu::kTile;

// OK when every token lies in [0, vocab); INVALID_ARGUMENT naming the first that does not otherwise.
Status CheckTokens(std::string_view op, int64_t rows, int64_t vocab, const int32_t* tokens) {
  for (int64_t r = 0; r < rows; ++r) {
    if (tokens[r] < 0 || tokens[r] >= vocab) {
      return InvalidArgumentError(std::string(op) + ": tokens[" + std::to_string(r) +
                                  "] = " + std::to_string(tokens[r]) +
                                  " is outside [0, vocab = " + std::to_string(vocab) + ")");
    }
  }
  return Status::Ok();
}

template <typename C>
HPO_CPU_CLONES void AddRow(int64_t n, const C* src, C* acc) {
  for (int64_t i = 0; i < n; ++i) acc[i] += src[i];
}

// dtable[:, c0:c1) = the sums of dout's rows by token, each in order of r.
template <typename S>
void EmbeddingGradColumns(int64_t rows, int64_t vocab, int64_t dim, const int32_t* tokens, const S* dout,
                          Compute<S>* dtable, int64_t c0, int64_t c1) {
  const int64_t n = c1 - c0;
  for (int64_t t = 0; t < vocab; ++t) std::fill_n(dtable + t * dim + c0, n, Compute<S>(0));
  std::vector<Compute<S>> buf = cpu::RowBuffer<S>(n);
  for (int64_t r = 0; r < rows; ++r) {
    AddRow(n, cpu::LoadRow(dout + r * dim + c0, n, buf), dtable + tokens[r] * dim + c0);
  }
}

// --- RMS normalisation ---

template <typename C>
HPO_CPU_CLONES void RmsNormRow(int64_t cols, const C* x, C rstd, const C* gamma, C* y) {
  for (int64_t c = 0; c < cols; ++c) y[c] = RmsNormElement(x[c], rstd, gamma[c]);
}

template <typename S>
void RmsNormForwardRows(int64_t cols, Compute<S> eps, const S* x, const Compute<S>* gamma, S* y,
                        Compute<S>* rstd_out, int64_t begin, int64_t end) {
  using C = Compute<S>;
  const C inv_cols = C(1) / static_cast<C>(cols);
  std::vector<C> x_buf = cpu::RowBuffer<S>(cols), y_buf = cpu::RowBuffer<S>(cols);
  for (int64_t r = begin; r < end; ++r) {
    const C* xr = cpu::LoadRow(x + r * cols, cols, x_buf);
    const C mean_square = cpu::LaneSum<C>(cols, [&](int64_t c) { return xr[c] * xr[c]; }) * inv_cols;
    const C rstd = C(1) / ElementSqrt(mean_square + eps);
    C* out = cpu::TileTarget(y + r * cols, y_buf.data());
    RmsNormRow(cols, xr, rstd, gamma, out);
    cpu::StoreTile(out, y + r * cols, cols);
    rstd_out[r] = rstd;
  }
}

// partial[c] += dy[c] (x[c] rstd): one row's terms of dgamma.
template <typename C>
HPO_CPU_CLONES void RmsNormGammaTerms(int64_t cols, const C* x, const C* dy, C rstd, C* partial) {
  for (int64_t c = 0; c < cols; ++c) partial[c] += dy[c] * (x[c] * rstd);
}

template <typename C>
HPO_CPU_CLONES void RmsNormInputGradientRow(int64_t cols, const C* x, const C* dy, const C* gamma, C rstd,
                                            C mean_g_xhat, C* dx) {
  for (int64_t c = 0; c < cols; ++c)
    dx[c] = RmsNormInputGradient(dy[c], gamma[c], x[c] * rstd, rstd, mean_g_xhat);
}

template <typename S>
void RmsNormInputGradientRows(int64_t cols, const S* x, const Compute<S>* gamma, const Compute<S>* rstd,
                              const S* dy, S* dx, int64_t begin, int64_t end) {
  using C = Compute<S>;
  const C inv_cols = C(1) / static_cast<C>(cols);
  std::vector<C> x_buf = cpu::RowBuffer<S>(cols), dy_buf = cpu::RowBuffer<S>(cols),
                 dx_buf = cpu::RowBuffer<S>(cols);
  for (int64_t r = begin; r < end; ++r) {
    const C* xr = cpu::LoadRow(x + r * cols, cols, x_buf);
    const C* dyr = cpu::LoadRow(dy + r * cols, cols, dy_buf);
    const C rs = rstd[r];
    const C mean_g_xhat =
        cpu::LaneSum<C>(cols, [&](int64_t c) { return dyr[c] * gamma[c] * (xr[c] * rs); }) * inv_cols;
    C* out = cpu::TileTarget(dx + r * cols, dx_buf.data());
    RmsNormInputGradientRow(cols, xr, dyr, gamma, rs, mean_g_xhat, out);
    cpu::StoreTile(out, dx + r * cols, cols);
  }
}

// --- SwiGLU ---

template <typename C>
HPO_CPU_CLONES void SwiGluLoop(int64_t n, const C* g, const C* u, C* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = SwiGluElement(g[i], u[i]);
}

template <typename C>
HPO_CPU_CLONES void SwiGluBackwardLoop(int64_t n, const C* g, const C* u, const C* dy, C* dg, C* du) {
  for (int64_t i = 0; i < n; ++i) SwiGluBackwardElement(g[i], u[i], dy[i], dg[i], du[i]);
}

// Rows [begin, end) of the forward (dy == nullptr: y = swiglu(h)) or backward pass (out = dh), a tile of
// columns at a time.
template <typename S>
void SwiGluRows(int64_t hidden, const S* h, const S* dy, S* out, int64_t begin, int64_t end) {
  cpu::TileBuffer<S> g_buf, u_buf, dy_buf, out_buf, du_buf;
  for (int64_t r = begin; r < end; ++r) {
    const S* hr = h + r * 2 * hidden;
    for (int64_t c0 = 0; c0 < hidden; c0 += kTile) {
      const int64_t n = std::min(kTile, hidden - c0);
      const Compute<S>* g = cpu::LoadTile(hr + c0, n, g_buf.data());
      const Compute<S>* u = cpu::LoadTile(hr + hidden + c0, n, u_buf.data());
      if (dy == nullptr) {
        S* y = out + r * hidden + c0;
        Compute<S>* yt = cpu::TileTarget(y, out_buf.data());
        SwiGluLoop(n, g, u, yt);
        cpu::StoreTile(yt, y, n);
      } else {
        S* dg = out + r * 2 * hidden + c0;
        S* du = dg + hidden;
        Compute<S>* dgt = cpu::TileTarget(dg, out_buf.data());
        Compute<S>* dut = cpu::TileTarget(du, du_buf.data());
        SwiGluBackwardLoop(n, g, u, cpu::LoadTile(dy + r * hidden + c0, n, dy_buf.data()), dgt, dut);
        cpu::StoreTile(dgt, dg, n);
        cpu::StoreTile(dut, du, n);
      }
    }
  }
}

}  // namespace

Status CpuBackend::EmbeddingForwardImpl(int64_t rows, int64_t vocab, int64_t dim, ConstView tokens,
                                        ConstView table, View out) {
  const auto* ids = static_cast<const int32_t*>(tokens.data);
  HPO_RETURN_IF_ERROR(CheckTokens("EmbeddingForward", rows, vocab, ids));
  const size_t row_bytes = static_cast<size_t>(dim) * DTypeSize(table.dtype);
  if (row_bytes == 0) return Status::Ok();
  const auto* src = static_cast<const char*>(table.data);
  auto* dst = static_cast<char*>(out.data);
  pool_->RunRanges(rows, 1, cpu::MinItemsPerThread(dim), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      std::memcpy(dst + static_cast<size_t>(r) * row_bytes, src + static_cast<size_t>(ids[r]) * row_bytes,
                  row_bytes);
    }
  });
  return Status::Ok();
}

Status CpuBackend::EmbeddingBackwardImpl(int64_t rows, int64_t vocab, int64_t dim, ConstView tokens,
                                         ConstView dout, View dtable) {
  const auto* ids = static_cast<const int32_t*>(tokens.data);
  HPO_RETURN_IF_ERROR(CheckTokens("EmbeddingBackward", rows, vocab, ids));
  cpu::DispatchFloating(dout.dtype, [&]<typename S>() {
    // Column ranges of whole cache lines; each thread scans every token.
    pool_->RunRanges(dim, 16, std::max<int64_t>(16, cpu::MinItemsPerThread(rows + vocab)),
                     [&](int64_t begin, int64_t end) {
                       EmbeddingGradColumns<S>(rows, vocab, dim, ids, static_cast<const S*>(dout.data),
                                               static_cast<Compute<S>*>(dtable.data), begin, end);
                     });
  });
  return Status::Ok();
}

Status CpuBackend::RmsNormForwardImpl(int64_t rows, int64_t cols, double eps, ConstView x, ConstView gamma,
                                      View y, View rstd) {
  cpu::DispatchFloating(x.dtype, [&]<typename S>() {
    using C = Compute<S>;
    const std::vector<C> g = cpu::LoadParam<S>(gamma, cols);
    pool_->RunRanges(rows, 1, cpu::MinItemsPerThread(cols), [&](int64_t begin, int64_t end) {
      RmsNormForwardRows<S>(cols, static_cast<C>(eps), static_cast<const S*>(x.data), g.data(),
                            static_cast<S*>(y.data), static_cast<C*>(rstd.data), begin, end);
    });
  });
  return Status::Ok();
}

Status CpuBackend::RmsNormBackwardImpl(int64_t rows, int64_t cols, ConstView x, ConstView gamma,
                                       ConstView rstd, ConstView dy, View dx, View dgamma) {
  cpu::DispatchFloating(x.dtype, [&]<typename S>() {
    using C = Compute<S>;
    const auto* xs = static_cast<const S*>(x.data);
    const auto* dys = static_cast<const S*>(dy.data);
    const auto* rs = static_cast<const C*>(rstd.data);
    // dgamma first: dx may overwrite dy.
    cpu::ChunkedColumnSums<C>(
        *pool_, rows, cols, cols,
        [&](int64_t r0, int64_t r1, C* partial) {
          std::vector<C> x_buf = cpu::RowBuffer<S>(cols), dy_buf = cpu::RowBuffer<S>(cols);
          for (int64_t r = r0; r < r1; ++r) {
            RmsNormGammaTerms(cols, cpu::LoadRow(xs + r * cols, cols, x_buf),
                              cpu::LoadRow(dys + r * cols, cols, dy_buf), rs[r], partial);
          }
        },
        static_cast<C*>(dgamma.data));
    const std::vector<C> g = cpu::LoadParam<S>(gamma, cols);
    pool_->RunRanges(rows, 1, cpu::MinItemsPerThread(cols), [&](int64_t begin, int64_t end) {
      RmsNormInputGradientRows<S>(cols, xs, g.data(), rs, dys, static_cast<S*>(dx.data), begin, end);
    });
  });
  return Status::Ok();
}

Status CpuBackend::SwiGluForwardImpl(int64_t rows, int64_t hidden, ConstView h, View y) {
  cpu::DispatchFloating(h.dtype, [&]<typename S>() {
    pool_->RunRanges(rows, 1, cpu::MinItemsPerThread(hidden), [&](int64_t begin, int64_t end) {
      SwiGluRows<S>(hidden, static_cast<const S*>(h.data), nullptr, static_cast<S*>(y.data), begin, end);
    });
  });
  return Status::Ok();
}

Status CpuBackend::SwiGluBackwardImpl(int64_t rows, int64_t hidden, ConstView h, ConstView dy, View dh) {
  cpu::DispatchFloating(h.dtype, [&]<typename S>() {
    pool_->RunRanges(rows, 1, cpu::MinItemsPerThread(hidden), [&](int64_t begin, int64_t end) {
      SwiGluRows<S>(hidden, static_cast<const S*>(h.data), static_cast<const S*>(dy.data),
                    static_cast<S*>(dh.data), begin, end);
    });
  });
  return Status::Ok();
}

}  // namespace hpo::kernels
