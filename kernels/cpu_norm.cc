// CpuBackend's layer normalisation, forward and backward, a row at a time. Row statistics are computed in
// the accumulation type (fp32 for the halves and kF32, fp64 for kF64) with fixed-order sums; rows of half
// tensors are widened into fp32 scratch first.
#include <algorithm>
#include <cstdint>

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
void LayerNormForwardLoop(int64_t rows, int64_t cols, Compute<S> eps, const S* x, const Compute<S>* gamma,
                          const Compute<S>* beta, S* y, Compute<S>* mean_out, Compute<S>* rstd_out,
                          Compute<S>* x_buf, Compute<S>* y_buf) {
  using C = Compute<S>;
  const C inv_cols = C(1) / static_cast<C>(cols);
  for (int64_t r = 0; r < rows; ++r) {
    const C* xr = cpu::LoadTile(x + r * cols, cols, x_buf);
    const C mean = cpu::LaneSum<C>(cols, [&](int64_t c) { return xr[c]; }) * inv_cols;
    const C var = cpu::LaneSum<C>(cols,
                                  [&](int64_t c) {
                                    const C d = xr[c] - mean;
                                    return d * d;
                                  }) *
                  inv_cols;
    const C rstd = C(1) / ElementSqrt(var + eps);
    C* out = cpu::TileTarget(y + r * cols, y_buf);
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
//   dx = rstd (g - mean_c(g) - xhat mean_c(g xhat));  dgamma += dy xhat;  dbeta += dy.
template <typename S>
void LayerNormBackwardLoop(int64_t rows, int64_t cols, const S* x, const Compute<S>* gamma,
                           const Compute<S>* mean, const Compute<S>* rstd, const S* dy, S* dx,
                           Compute<S>* dgamma, Compute<S>* dbeta, Compute<S>* x_buf, Compute<S>* dy_buf,
                           Compute<S>* dx_buf) {
  using C = Compute<S>;
  const C inv_cols = C(1) / static_cast<C>(cols);
  std::fill_n(dgamma, cols, C(0));
  std::fill_n(dbeta, cols, C(0));
  for (int64_t r = 0; r < rows; ++r) {
    const C* xr = cpu::LoadTile(x + r * cols, cols, x_buf);
    const C* dyr = cpu::LoadTile(dy + r * cols, cols, dy_buf);
    const C mu = mean[r], rs = rstd[r];
    const C mean_g = cpu::LaneSum<C>(cols, [&](int64_t c) { return dyr[c] * gamma[c]; }) * inv_cols;
    const C mean_gx =
        cpu::LaneSum<C>(cols, [&](int64_t c) { return dyr[c] * gamma[c] * ((xr[c] - mu) * rs); }) * inv_cols;
    AccumulateParamGradients(cols, xr, dyr, mu, rs, dgamma, dbeta);
    C* out = cpu::TileTarget(dx + r * cols, dx_buf);
    InputGradientRow(cols, xr, dyr, gamma, mu, rs, mean_g, mean_gx, out);
    cpu::StoreTile(out, dx + r * cols, cols);
  }
}

}  // namespace

Status CpuBackend::LayerNormForwardImpl(int64_t rows, int64_t cols, double eps, ConstView x, ConstView gamma,
                                        ConstView beta, View y, View mean, View rstd) {
  cpu::DispatchFloating(x.dtype, [&]<typename S>() {
    using C = Compute<S>;
    const C* gamma_c = nullptr;
    const C* beta_c = nullptr;
    C* x_buf = nullptr;
    C* y_buf = nullptr;
    if constexpr (cpu::kDirect<S>) {
      gamma_c = static_cast<const S*>(gamma.data);
      beta_c = static_cast<const S*>(beta.data);
    } else {
      const auto n = static_cast<size_t>(cols);
      float* g = ScratchFloats(kRow2, n);
      float* b = ScratchFloats(kRow3, n);
      Convert(static_cast<const S*>(gamma.data), g, cols);
      Convert(static_cast<const S*>(beta.data), b, cols);
      gamma_c = g;
      beta_c = b;
      x_buf = ScratchFloats(kRow0, n);
      y_buf = ScratchFloats(kRow1, n);
    }
    LayerNormForwardLoop<S>(rows, cols, static_cast<C>(eps), static_cast<const S*>(x.data), gamma_c, beta_c,
                            static_cast<S*>(y.data), static_cast<C*>(mean.data), static_cast<C*>(rstd.data),
                            x_buf, y_buf);
  });
  return Status::Ok();
}

Status CpuBackend::LayerNormBackwardImpl(int64_t rows, int64_t cols, ConstView x, ConstView gamma,
                                         ConstView mean, ConstView rstd, ConstView dy, View dx, View dgamma,
                                         View dbeta) {
  cpu::DispatchFloating(x.dtype, [&]<typename S>() {
    using C = Compute<S>;
    const C* gamma_c = nullptr;
    C* x_buf = nullptr;
    C* dy_buf = nullptr;
    C* dx_buf = nullptr;
    if constexpr (cpu::kDirect<S>) {
      gamma_c = static_cast<const S*>(gamma.data);
    } else {
      const auto n = static_cast<size_t>(cols);
      float* g = ScratchFloats(kRow2, n);
      Convert(static_cast<const S*>(gamma.data), g, cols);
      gamma_c = g;
      x_buf = ScratchFloats(kRow0, n);
      dy_buf = ScratchFloats(kRow1, n);
      dx_buf = ScratchFloats(kRow3, n);
    }
    LayerNormBackwardLoop<S>(
        rows, cols, static_cast<const S*>(x.data), gamma_c, static_cast<const C*>(mean.data),
        static_cast<const C*>(rstd.data), static_cast<const S*>(dy.data), static_cast<S*>(dx.data),
        static_cast<C*>(dgamma.data), static_cast<C*>(dbeta.data), x_buf, dy_buf, dx_buf);
  });
  return Status::Ok();
}

}  // namespace hpo::kernels
