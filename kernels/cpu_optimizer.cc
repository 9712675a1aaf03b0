// CpuBackend's optimizer operations: the fused gradient statistics (overflow check + sum of squares), and
// the SGD-momentum and AdamW updates over the element math of kernels/element.h, which write the rounded
// copy of the new weights tile by tile while the tile is still in cache.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/cpu_backend.h"
#include "kernels/cpu_loops.h"
#include "kernels/cpu_thread_pool.h"
#include "kernels/element.h"

namespace hpo::kernels {
namespace {

using cpu::Compute;
using cpu::kLanes;
using cpu::kTile;

// kLanes values of C as one GCC/Clang vector (two AVX registers for double; SSE pairs in the baseline
// clone): lane l is element l, and lane-wise arithmetic is IEEE arithmetic, so the sums below are the
// fixed-order lane sums of kernels/cpu_loops.h, just written so that every clone vectorises them.
template <typename C>
struct LaneVector;
template <>
struct LaneVector<float> {
  typedef float type __attribute__((vector_size(kLanes * sizeof(float))));
};
template <>
struct LaneVector<double> {
  typedef double type __attribute__((vector_size(kLanes * sizeof(double))));
};

// Adds g[i]^2 of the finite elements to lanes[i % kLanes] and counts the others into nonfinite;
// n % kLanes == 0 except on the last call of a pass, so the lane of each element depends on its index only.
template <typename C>
HPO_CPU_CLONES void SquaresIntoLanes(int64_t n, const C* g, C* lanes, int64_t* nonfinite) {
  using V = typename LaneVector<C>::type;
  V acc;
  std::memcpy(&acc, lanes, sizeof(acc));
  V bad = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    V v;
    std::memcpy(&v, g + i, sizeof(v));
    const auto finite = (v - v) == V{};  // v - v is NaN exactly for inf and NaN
    acc += finite ? v * v : V{};
    bad += finite ? V{} : V{} + 1;
  }
  std::memcpy(lanes, &acc, sizeof(acc));
  for (int l = 0; l < kLanes; ++l) *nonfinite += bad[l] != 0;
  for (int l = 0; i < n; ++i, ++l) {
    const C v = g[i];
    const bool finite = v - v == C(0);
    lanes[l] += finite ? v * v : C(0);
    *nonfinite += finite ? 0 : 1;
  }
}

template <typename T>
HPO_CPU_CLONES void SgdMomentumLoop(const SgdCoeffs<T>& c, int64_t n, T* __restrict w, const T* __restrict g,
                                    T* __restrict v) {
  for (int64_t i = 0; i < n; ++i) SgdMomentumElement(c, w[i], g[i], v[i]);
}

template <typename T>
HPO_CPU_CLONES void AdamWLoop(const AdamWCoeffs<T>& c, int64_t n, T* __restrict w, const T* __restrict g,
                              T* __restrict m, T* __restrict v) {
  for (int64_t i = 0; i < n; ++i) AdamWElement(c, w[i], g[i], m[i], v[i]);
}

// Runs update(offset, count) over w[0, n) a tile at a time, the tiles split over the pool's threads, and,
// unless w_copy is empty, rounds each updated tile of w into w_copy. Each element's update reads and writes
// that element only, so the split changes no result.
template <typename T, typename F>
void UpdateTiles(cpu::ThreadPool& pool, int64_t n, const T* w, const View& w_copy, F&& update) {
  pool.RunRanges(n, kTile, cpu::kMinParallelElements, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i += kTile) {
      const int64_t count = std::min(kTile, end - i);
      update(i, count);
      if (w_copy.size == 0) continue;
      cpu::DispatchFloating(w_copy.dtype,
                            [&]<typename S>() { Convert(w + i, static_cast<S*>(w_copy.data) + i, count); });
    }
  });
}

}  // namespace

Result<GradStats> CpuBackend::GradientStatsImpl(ConstView g) {
  GradStats stats;
  cpu::DispatchFloating(g.dtype, [&]<typename S>() {
    using C = Compute<S>;
    const auto size = static_cast<int64_t>(g.size);
    const S* gs = static_cast<const S*>(g.data);
    const int64_t tile = cpu::kDirect<S> ? size : kTile;
    C lanes[kLanes] = {};
    int64_t nonfinite = 0;
    cpu::TileBuffer<S> buf;
    for (int64_t i = 0; i < size; i += tile) {
      const int64_t count = std::min(tile, size - i);
      SquaresIntoLanes(count, cpu::LoadTile(gs + i, count, buf.data()), lanes, &nonfinite);
    }
    stats.sum_squares = static_cast<double>(cpu::CombineLanes(lanes));
    stats.finite = nonfinite == 0;
  });
  return stats;
}

Status CpuBackend::SgdMomentumUpdateImpl(const SgdHyper& hyper, double grad_scale, View w, ConstView g,
                                         View velocity, View w_copy) {
  cpu::DispatchFloating(w.dtype, [&]<typename T>() {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      const SgdCoeffs<T> c = MakeSgdCoeffs<T>(hyper, grad_scale);
      T* ws = static_cast<T*>(w.data);
      const T* gs = static_cast<const T*>(g.data);
      T* vs = static_cast<T*>(velocity.data);
      UpdateTiles(*pool_, static_cast<int64_t>(w.size), ws, w_copy,
                  [&](int64_t i, int64_t count) { SgdMomentumLoop(c, count, ws + i, gs + i, vs + i); });
    }
  });
  return Status::Ok();
}

Status CpuBackend::AdamWUpdateImpl(const AdamWHyper& hyper, int64_t step, double grad_scale, View w,
                                   ConstView g, View m, View v, View w_copy) {
  cpu::DispatchFloating(w.dtype, [&]<typename T>() {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      const AdamWCoeffs<T> c = MakeAdamWCoeffs<T>(hyper, step, grad_scale);
      T* ws = static_cast<T*>(w.data);
      const T* gs = static_cast<const T*>(g.data);
      T* ms = static_cast<T*>(m.data);
      T* vs = static_cast<T*>(v.data);
      UpdateTiles(*pool_, static_cast<int64_t>(w.size), ws, w_copy,
                  [&](int64_t i, int64_t count) { AdamWLoop(c, count, ws + i, gs + i, ms + i, vs + i); });
    }
  });
  return Status::Ok();
}

}  // namespace hpo::kernels
