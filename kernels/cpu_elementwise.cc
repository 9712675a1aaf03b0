// CpuBackend's element-wise operations: fused bias + activation (forward and backward), dropout (its masks
// from kernels/cpu_philox.h), axpy. Each works a tile at a time on compute-type arrays (kernels/cpu_loops.h):
// the memory itself for kF32 and kF64, converted stack tiles for the halves.
#include <algorithm>
#include <cstdint>

#include "kernels/cpu_backend.h"
#include "kernels/cpu_loops.h"
#include "kernels/cpu_philox.h"
#include "kernels/element.h"
#include "kernels/philox.h"

namespace hpo::kernels {
namespace {

using cpu::Compute;
using cpu::kTile;

template <typename C>
HPO_CPU_CLONES void AddBiasLoop(int64_t n, const C* z, const C* bias, C* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = z[i] + bias[i];
}

template <Activation A, typename C>
HPO_CPU_CLONES void ActivateLoop(int64_t n, const C* z, C* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = Activate<A>(z[i]);
}

// The one-pass form for float and double storage, where z + bias needs no rounding before act.
template <Activation A, typename C>
HPO_CPU_CLONES void BiasActivateLoop(int64_t n, const C* bias, C* z, C* y) {
  for (int64_t i = 0; i < n; ++i) {
    const C v = z[i] + bias[i];
    z[i] = v;
    y[i] = Activate<A>(v);
  }
}

// z[r,c] = round(z[r,c] + bias[c]); y[r,c] = round(act(z[r,c])), the activation of the rounded z (the value
// the backward pass will see), for rows [begin, end). Without a bias the rows are one run of elements.
template <Activation A, typename S>
void BiasActivationForwardRows(int64_t begin, int64_t end, int64_t cols, const Compute<S>* bias, S* z, S* y) {
  if (bias == nullptr && end > begin) {
    const int64_t offset = begin * cols;
    cols *= end - begin;
    z += offset;
    y += offset;
    begin = 0;
    end = 1;
  }
  cpu::TileBuffer<S> z_buf, y_buf;
  for (int64_t r = begin; r < end; ++r) {
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const int64_t n = std::min(kTile, cols - c0);
      S* zs = z + r * cols + c0;
      S* ys = y + r * cols + c0;
      if constexpr (cpu::kDirect<S>) {
        if (bias != nullptr) {
          BiasActivateLoop<A>(n, bias + c0, zs, ys);
        } else {
          ActivateLoop<A>(n, static_cast<const S*>(zs), ys);
        }
      } else {
        if (bias != nullptr) {
          Compute<S>* zt = cpu::TileTarget(zs, z_buf.data());
          AddBiasLoop(n, cpu::LoadTile(zs, n, z_buf.data()), bias + c0, zt);
          cpu::StoreTile(zt, zs, n);
        }
        const Compute<S>* zt = cpu::LoadTile(zs, n, z_buf.data());  // the rounded z
        Compute<S>* yt = cpu::TileTarget(ys, y_buf.data());
        ActivateLoop<A>(n, zt, yt);
        cpu::StoreTile(yt, ys, n);
      }
    }
  }
}

template <Activation A, typename C>
HPO_CPU_CLONES void ActivateBackwardLoop(int64_t n, const C* z, const C* dy, C* dz) {
  for (int64_t i = 0; i < n; ++i) dz[i] = ActivateBackward<A>(z[i], dy[i]);
}

template <typename C>
HPO_CPU_CLONES void AccumulateLoop(int64_t n, const C* x, C* sum) {
  for (int64_t i = 0; i < n; ++i) sum[i] += x[i];
}

// dz = round(dy * act'(z)) for rows [begin, end); dbias[c] += the unrounded products, row by row. Without a
// bias gradient the rows are one run of elements.
template <Activation A, typename S>
void BiasActivationBackwardRows(int64_t begin, int64_t end, int64_t cols, const S* z, const S* dy, S* dz,
                                Compute<S>* dbias) {
  if (dbias == nullptr && end > begin) {
    const int64_t offset = begin * cols;
    cols *= end - begin;
    z += offset;
    dy += offset;
    dz += offset;
    begin = 0;
    end = 1;
  }
  cpu::TileBuffer<S> z_buf, dy_buf, dz_buf;
  for (int64_t r = begin; r < end; ++r) {
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const int64_t n = std::min(kTile, cols - c0);
      const int64_t offset = r * cols + c0;
      const Compute<S>* zt = cpu::LoadTile(z + offset, n, z_buf.data());
      const Compute<S>* dyt = cpu::LoadTile(dy + offset, n, dy_buf.data());
      Compute<S>* dzt = cpu::TileTarget(dz + offset, dz_buf.data());
      ActivateBackwardLoop<A>(n, zt, dyt, dzt);
      if (dbias != nullptr) AccumulateLoop(n, static_cast<const Compute<S>*>(dzt), dbias + c0);
      cpu::StoreTile(dzt, dz + offset, n);
    }
  }
}

// y[i] = x[i] * scale where words[i] keeps the element, 0 where it drops it.
template <typename C>
HPO_CPU_CLONES void DropoutLoop(int64_t n, const uint32_t* words, uint32_t threshold, C scale, const C* x,
                                C* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = DropoutKeepWord(words[i], threshold) ? x[i] * scale : C(0);
}

template <typename C>
HPO_CPU_CLONES void AxpyLoop(int64_t n, C alpha, const C* x, const C* y, C* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = y[i] + alpha * x[i];
}

}  // namespace

Status CpuBackend::BiasActivationForwardImpl(Activation act, int64_t rows, int64_t cols, ConstView bias,
                                             View z, View y) {
  cpu::DispatchFloating(z.dtype, [&]<typename S>() {
    const Compute<S>* bias_c = nullptr;
    if (bias.size > 0) {
      if constexpr (cpu::kDirect<S>) {
        bias_c = static_cast<const S*>(bias.data);
      } else {
        float* converted = ScratchFloats(kRow0, static_cast<size_t>(cols));
        Convert(static_cast<const S*>(bias.data), converted, cols);
        bias_c = converted;
      }
    }
    cpu::DispatchActivation(act, [&]<Activation A>() {
      pool_->RunRanges(rows, 1, cpu::MinItemsPerThread(cols), [&](int64_t begin, int64_t end) {
        BiasActivationForwardRows<A, S>(begin, end, cols, bias_c, static_cast<S*>(z.data),
                                        static_cast<S*>(y.data));
      });
    });
  });
  return Status::Ok();
}

Status CpuBackend::BiasActivationBackwardImpl(Activation act, int64_t rows, int64_t cols, ConstView z,
                                              ConstView dy, View dz, View dbias) {
  cpu::DispatchFloating(z.dtype, [&]<typename S>() {
    Compute<S>* dbias_c = dbias.size > 0 ? static_cast<Compute<S>*>(dbias.data) : nullptr;
    const auto* zs = static_cast<const S*>(z.data);
    const auto* dys = static_cast<const S*>(dy.data);
    auto* dzs = static_cast<S*>(dz.data);
    cpu::DispatchActivation(act, [&]<Activation A>() {
      if (dbias_c != nullptr) {  // the bias gradient sums rows in order, on this thread
        std::fill_n(dbias_c, cols, Compute<S>(0));
        BiasActivationBackwardRows<A, S>(0, rows, cols, zs, dys, dzs, dbias_c);
        return;
      }
      pool_->RunRanges(rows, 1, cpu::MinItemsPerThread(cols), [&](int64_t begin, int64_t end) {
        BiasActivationBackwardRows<A, S>(begin, end, cols, zs, dys, dzs, nullptr);
      });
    });
  });
  return Status::Ok();
}

Status CpuBackend::DropoutImpl(double p, uint64_t seed, uint64_t stream, ConstView x, View y) {
  const auto size = static_cast<int64_t>(x.size);
  if (p == 0) {
    cpu::DispatchFloating(x.dtype, [&]<typename S>() {
      Convert(static_cast<const S*>(x.data), static_cast<S*>(y.data), size);
    });
    return Status::Ok();
  }
  const uint32_t threshold = DropoutThreshold(p);
  cpu::DispatchFloating(x.dtype, [&]<typename S>() {
    using C = Compute<S>;
    const C scale = static_cast<C>(1.0 / (1.0 - p));
    const S* xs = static_cast<const S*>(x.data);
    S* ys = static_cast<S*>(y.data);
    cpu::TileBuffer<S> x_buf, y_buf;
    uint32_t words[kTile];  // one Philox block per 4 elements; kTile % 4 == 0
    for (int64_t i = 0; i < size; i += kTile) {
      const int64_t n = std::min(kTile, size - i);
      DropoutWords(seed, stream, static_cast<uint64_t>(i / 4), (n + 3) / 4, words);
      C* yt = cpu::TileTarget(ys + i, y_buf.data());
      DropoutLoop(n, words, threshold, scale, cpu::LoadTile(xs + i, n, x_buf.data()), yt);
      cpu::StoreTile(yt, ys + i, n);
    }
  });
  return Status::Ok();
}

Status CpuBackend::AxpyImpl(double alpha, ConstView x, View y) {
  const auto size = static_cast<int64_t>(x.size);
  cpu::DispatchFloating(x.dtype, [&]<typename S>() {
    using C = Compute<S>;
    const S* xs = static_cast<const S*>(x.data);
    S* ys = static_cast<S*>(y.data);
    cpu::TileBuffer<S> x_buf, y_buf;
    for (int64_t i = 0; i < size; i += kTile) {
      const int64_t n = std::min(kTile, size - i);
      C* out = cpu::TileTarget(ys + i, y_buf.data());
      AxpyLoop(n, static_cast<C>(alpha), cpu::LoadTile(xs + i, n, x_buf.data()),
               cpu::LoadTile(ys + i, n, y_buf.data()), out);
      cpu::StoreTile(out, ys + i, n);
    }
  });
  return Status::Ok();
}

}  // namespace hpo::kernels
