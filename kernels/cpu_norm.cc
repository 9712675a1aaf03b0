// CpuBackend's layer normalisation, forward and backward, a row at a time, the rows split over the pool.
// Row statistics are computed in the accumulation type (fp32 for the halves and kF32, fp64 for kF64) with
// fixed-order sums; rows of half tensors are widened into fp32 buffers first. dgamma and dbeta are column
// sums in the CUDA backend's chunk order (cpu::ChunkedColumnSums), so no result depends on the thread count.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu_backend.h"
#include "kernels/cpu_loops.h"
#include "kernels/element.h"

namespace hpo::kernels {
namespace {

using cpu::Compute;

template <typename C>
HPO_CPU_CLONES void NormalizeRow(int64_t cols, const C* x, C mean, C rstd, const C* gamma, const C* beta,
                                 C* y) {
  for (int64_t c = 0; c < cols; ++c) y[c] = (x[c] - mean) * rstd * gamma[c] + beta[c];
}

template <typename S>
void LayerNormForwardRows(int64_t begin, int64_t end, int64_t cols, Compute<S> eps, const S* x,
                          const Compute<S>* gamma, const Compute<S>* beta, S* y, Compute<S>* mean_out,
                          Compute<S>* rstd_out) {
  using C = Compute<S>;
  const C inv_cols = C(1) / static_cast<C>(cols);
  std::vector<C> x_buf = cpu::RowBuffer<S>(cols), y_buf = cpu::RowBuffer<S>(cols);
  for (int64_t r = begin; r < end; ++r) {
    const C* xr = cpu::LoadRow(x + r * cols, cols, x_buf);
    const C mean = cpu::LaneSum<C>(cols, [&](int64_t c) { return xr[c]; }) * inv_cols;
    const C var = cpu::LaneSum<C>(cols,
                                  [&](int64_t c) {
                                    const C d = xr[c] - mean;
                                    return d * d;
                                  }) *
                  inv_cols;
    const C rstd = C(1) / ElementSqrt(var + eps);
    C* out = cpu::TileTarget(y + r * cols, y_buf.data());
    NormalizeRow(cols, xr, mean, rstd, gamma, beta, out);
    cpu::StoreTile(out, y + r * cols, cols);
    mean_out[r] = mean;
    rstd_out[r] = rstd;
  }
}

template <typename C>
HPO_CPU_CLONES void AccumulateParamGradients(int64_t cols, const C* x, const C* dy, C mean, C rstd, C* dgamma,
                                             C* dbeta) {
  for (int64_t c = 0; c < cols; ++c) {
    dgamma[c] += dy[c] * ((x[c] - mean) * rstd);
    dbeta[c] += dy[c];
  }
}

template <typename C>
HPO_CPU_CLONES void InputGradientRow(int64_t cols, const C* x, const C* dy, const C* gamma, C mean, C rstd,
                                     C mean_g, C mean_gx, C* dx) {
  for (int64_t c = 0; c < cols; ++c) {
    const C xhat = (x[c] - mean) * rstd;
    dx[c] = rstd * (dy[c] * gamma[c] - mean_g - xhat * mean_gx);
  }
}

// With xhat = (x - mean) rstd and g = dy gamma, per row:
//   dx = rstd (g - mean_c(g) - xhat mean_c(g xhat))
// for rows [begin, end).
template <typename S>
void LayerNormInputGradientRows(int64_t begin, int64_t end, int64_t cols, const S* x, const Compute<S>* gamma,
                                const Compute<S>* mean, const Compute<S>* rstd, const S* dy, S* dx) {
  using C = Compute<S>;
  const C inv_cols = C(1) / static_cast<C>(cols);
  std::vector<C> x_buf = cpu::RowBuffer<S>(cols), dy_buf = cpu::RowBuffer<S>(cols),
                 dx_buf = cpu::RowBuffer<S>(cols);
  for (int64_t r = begin; r < end; ++r) {
    const C* xr = cpu::LoadRow(x + r * cols, cols, x_buf);
    const C* dyr = cpu::LoadRow(dy + r * cols, cols, dy_buf);
    const C mu = mean[r], rs = rstd[r];
    const C mean_g = cpu::LaneSum<C>(cols, [&](int64_t c) { return dyr[c] * gamma[c]; }) * inv_cols;
    const C mean_gx =
        cpu::LaneSum<C>(cols, [&](int64_t c) { return dyr[c] * gamma[c] * ((xr[c] - mu) * rs); }) * inv_cols;
    C* out = cpu::TileTarget(dx + r * cols, dx_buf.data());
    InputGradientRow(cols, xr, dyr, gamma, mu, rs, mean_g, mean_gx, out);
    cpu::StoreTile(out, dx + r * cols, cols);
  }
}

}  // namespace

Status CpuBackend::LayerNormForwardImpl(int64_t rows, int64_t cols, double eps, ConstView x, ConstView gamma,
                                        ConstView beta, View y, View mean, View rstd) {
  cpu::DispatchFloating(x.dtype, [&]<typename S>() {
    using C = Compute<S>;
    const std::vector<C> g = cpu::LoadParam<S>(gamma, cols), b = cpu::LoadParam<S>(beta, cols);
    pool_->RunRanges(rows, 1, cpu::MinItemsPerThread(cols), [&](int64_t begin, int64_t end) {
      LayerNormForwardRows<S>(begin, end, cols, static_cast<C>(eps), static_cast<const S*>(x.data), g.data(),
                              b.data(), static_cast<S*>(y.data), static_cast<C*>(mean.data),
                              static_cast<C*>(rstd.data));
    });
  });
  return Status::Ok();
}

Status CpuBackend::LayerNormBackwardImpl(int64_t rows, int64_t cols, ConstView x, ConstView gamma,
                                         ConstView mean, ConstView rstd, ConstView dy, View dx, View dgamma,
                                         View dbeta) {
  cpu::DispatchFloating(x.dtype, [&]<typename S>() {
    using C = Compute<S>;
    const auto* xs = static_cast<const S*>(x.data);
    const auto* dys = static_cast<const S*>(dy.data);
    const auto* mu = static_cast<const C*>(mean.data);
    const auto* rs = static_cast<const C*>(rstd.data);
    // dgamma and dbeta first (dx may overwrite dy): sums[0, cols) = sum dy xhat, sums[cols, 2 cols) = sum dy.
    std::vector<C> sums(2 * static_cast<size_t>(cols));
    cpu::ChunkedColumnSums<C>(
        *pool_, rows, 2 * cols, 2 * cols,
        [&](int64_t r0, int64_t r1, C* partial) {
          std::vector<C> x_buf = cpu::RowBuffer<S>(cols), dy_buf = cpu::RowBuffer<S>(cols);
          for (int64_t r = r0; r < r1; ++r) {
            AccumulateParamGradients(cols, cpu::LoadRow(xs + r * cols, cols, x_buf),
                                     cpu::LoadRow(dys + r * cols, cols, dy_buf), mu[r], rs[r], partial,
                                     partial + cols);
          }
        },
        sums.data());
    std::copy_n(sums.begin(), cols, static_cast<C*>(dgamma.data));
    std::copy_n(sums.begin() + cols, cols, static_cast<C*>(dbeta.data));
    const std::vector<C> g = cpu::LoadParam<S>(gamma, cols);
    pool_->RunRanges(rows, 1, cpu::MinItemsPerThread(cols), [&](int64_t begin, int64_t end) {
      LayerNormInputGradientRows<S>(begin, end, cols, xs, g.data(), mu, rs, dys, static_cast<S*>(dx.data));
    });
  });
  return Status::Ok();
}

}  // namespace hpo::kernels
