// Attention (forward and backward, flash-attention style) and rotary position embeddings on the device.
//
// Tiling: a tile is T consecutive queries or keys, T = kAttentionTileRows<Acc, D> (32, 16 or 8: the most
// whose shared-memory tiles fit in 46 KiB, so that no kernel needs the opt-in to more than 48 KiB), where D
// is the head-dim bound of the instantiation (32, 64 or 128; head_dim itself is a run-time value <= D and
// every loop over it stops at head_dim). Shared tiles hold T rows of D + 1 values in the accumulation type
// (the +1 spreads a column over the banks); score tiles are T x T. Each block has kAttentionThreads threads;
// an element-wise pass over a T x T or T x D tile gives thread t the elements t, t + 128, ..., and the
// registers a thread accumulates into (o, dq, dk, dv) are the T x D elements it owns in that pattern.
//
// Forward (Dao et al. 2022, "FlashAttention", Algorithm 1, with the rescaling of FlashAttention-2): per
// (batch, head, query tile), over the key tiles from the first key its first query sees to the last key its
// last query sees (AttentionVisibleKeys; both ends grow with the position): scores S = scale q k^T - ALiBi
// (masked entries -inf) into shared memory; per query row, m' = max(m, rowmax S), alpha = exp(m - m'),
// P = exp(S - m'), l = alpha l + rowsum P; then o = alpha o + P v. At the end o /= l and lse = m + log l
// (o = 0, lse = -inf where l = 0: a query that saw no key). The online order of the sums differs from the
// CPU backend's (whole-row softmax), so the two agree to rounding, not bit for bit.
//
// Backward (FlashAttention-2, Algorithm 2, split into two passes so that nothing needs atomics): D =
// rowsum(dout * o); then per (batch, kv head, key tile) the tile's k and v stay in shared memory while the
// query heads of the group and their query tiles stream through (in order), P = exp(S - lse) and
// dS = P (dout v^T - D) recomputed, dv += P^T dout and dk += dS^T q accumulated in registers, dk scaled once
// at the end; then per (batch, head, query tile) the key tiles stream through for dq = scale dS k. dk and dv
// thus sum over the query heads and queries in the CPU backend's order. The element math (visible keys,
// ALiBi slope, score, RoPE angle and rotation) is kernels/element.h's, as on the CPU.
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include <type_traits>

#include "kernels/cuda_common.cuh"
#include "kernels/cuda_kernels.cuh"
#include "kernels/element.h"

namespace hpo::kernels::cuda {
namespace {

constexpr int kAttentionThreads = 128;
constexpr size_t kAttentionSharedBudget = 46 * 1024;

// The rows of a tile (see the file comment): the largest of 32, 16, 8 whose four T x (D + 1) tiles and two
// T x T score tiles of Acc fit the budget.
template <typename Acc, int D>
constexpr int kAttentionTileRows = (4 * 32 * (D + 1) + 2 * 32 * 32) * sizeof(Acc) <= kAttentionSharedBudget
                                       ? 32
                                   : (4 * 16 * (D + 1) + 2 * 16 * 16) * sizeof(Acc) <= kAttentionSharedBudget
                                       ? 16
                                       : 8;

// Blocks for `items` work items of one block each (grid-stride beyond).
unsigned AttentionBlocks(int64_t items) {
  constexpr int64_t kMaxBlocks = int64_t{1} << 20;
  return static_cast<unsigned>(items < 1 ? 1 : (items < kMaxBlocks ? items : kMaxBlocks));
}

// Calls f(std::integral_constant<int, D>{}) with D the head-dim bound for head_dim: 32, 64 or 128.
template <typename F>
cudaError_t DispatchHeadDim(int64_t head_dim, F&& f) {
  if (head_dim <= 32) return f(std::integral_constant<int, 32>{});
  if (head_dim <= 64) return f(std::integral_constant<int, 64>{});
  if (head_dim <= kAttentionMaxHeadDim) return f(std::integral_constant<int, 128>{});
  return cudaErrorInvalidValue;
}

template <typename Acc>
__device__ __forceinline__ Acc NegativeInfinity() {
  return -static_cast<Acc>(INFINITY);
}

// Element (row, col) of a row-major [.., heads, head_dim] tensor: ((b * len + t) * heads + h) * dim + d.
__device__ __forceinline__ size_t TensorIndex(int64_t b, int64_t len, int64_t t, int64_t heads, int64_t h,
                                              int64_t dim, int64_t d) {
  return static_cast<size_t>(((b * len + t) * heads + h) * dim + d);
}

// tile[r * (D + 1) + d] = src element (t0 + r, head h, d) for r < rows and d < dim, 0 elsewhere in the T x D
// tile; threads `first`, first + step, ... share the work.
template <typename S, int T, int D>
__device__ __forceinline__ void LoadTile(const typename S::Raw* __restrict__ src, int64_t b, int64_t len,
                                         int64_t t0, int64_t rows, int64_t heads, int64_t h, int64_t dim,
                                         typename S::Acc* tile, int first, int step) {
  using Acc = typename S::Acc;
  for (int e = first; e < T * D; e += step) {
    const int r = e / D;
    const int d = e % D;
    Acc value = Acc(0);
    if (r < rows && d < dim) value = S::Load(src[TensorIndex(b, len, t0 + r, heads, h, dim, d)]);
    tile[r * (D + 1) + d] = value;
  }
}

// sum_d a[d] b[d] over d < dim, in order.
template <typename Acc>
__device__ __forceinline__ Acc TileDot(const Acc* a, const Acc* b, int64_t dim) {
  Acc sum = Acc(0);
  for (int64_t d = 0; d < dim; ++d) sum += a[d] * b[d];
  return sum;
}

// --- Forward ---

template <typename S, int D>
__global__ void __launch_bounds__(kAttentionThreads)
    AttentionForwardKernel(AttentionGeometry geo, const typename S::Raw* __restrict__ q,
                           const typename S::Raw* __restrict__ k, const typename S::Raw* __restrict__ v,
                           typename S::Raw* __restrict__ o, typename S::Acc* __restrict__ lse) {
  using Acc = typename S::Acc;
  constexpr int T = kAttentionTileRows<Acc, D>;
  constexpr int kLd = D + 1;
  constexpr int kOwned = (T * D + kAttentionThreads - 1) / kAttentionThreads;
  __shared__ Acc q_s[T * kLd];
  __shared__ Acc kv_s[T * kLd];  // the key tile, then the value tile
  __shared__ Acc p_s[T * T];     // scores, then probabilities
  __shared__ Acc m_s[T];
  __shared__ Acc l_s[T];
  __shared__ Acc alpha_s[T];

  const int tid = static_cast<int>(threadIdx.x);
  const int64_t dim = geo.head_dim;
  const int64_t group = geo.heads / geo.kv_heads;
  const int64_t q_tiles = (geo.q_len + T - 1) / T;
  const int64_t items = geo.batch * geo.heads * q_tiles;
  const Acc scale = static_cast<Acc>(geo.scale);
  const Acc neg_inf = NegativeInfinity<Acc>();
  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    const int64_t tile = item % q_tiles;
    const int64_t h = (item / q_tiles) % geo.heads;
    const int64_t b = item / (q_tiles * geo.heads);
    const int64_t kvh = h / group;
    const Acc slope = geo.alibi ? static_cast<Acc>(AlibiSlope(h, geo.heads)) : Acc(0);
    const int64_t i0 = tile * T;
    const int64_t rows = geo.q_len - i0 < T ? geo.q_len - i0 : T;
    const int64_t p0 = geo.q_offset + i0;
    const int64_t lo = AttentionVisibleKeys(p0, geo.kv_len, geo.causal, geo.window).lo;
    const int64_t hi = AttentionVisibleKeys(p0 + rows - 1, geo.kv_len, geo.causal, geo.window).hi;

    __syncthreads();  // the previous item is done with every shared array
    LoadTile<S, T, D>(q, b, geo.q_len, i0, rows, geo.heads, h, dim, q_s, tid, kAttentionThreads);
    if (tid < T) {
      m_s[tid] = neg_inf;
      l_s[tid] = Acc(0);
    }
    Acc acc[kOwned];
#pragma unroll
    for (int a = 0; a < kOwned; ++a) acc[a] = Acc(0);

    for (int64_t j0 = lo; j0 <= hi; j0 += T) {
      const int64_t cols = hi - j0 + 1 < T ? hi - j0 + 1 : T;
      __syncthreads();  // the previous tile's values and probabilities are consumed
      LoadTile<S, T, D>(k, b, geo.kv_len, j0, cols, geo.kv_heads, kvh, dim, kv_s, tid, kAttentionThreads);
      __syncthreads();
      for (int e = tid; e < T * T; e += kAttentionThreads) {
        const int r = e / T;
        const int c = e % T;
        Acc score = neg_inf;
        if (r < rows && c < cols) {
          const int64_t p = p0 + r;
          const int64_t j = j0 + c;
          const WindowRange keys = AttentionVisibleKeys(p, geo.kv_len, geo.causal, geo.window);
          if (j >= keys.lo && j <= keys.hi) {
            score = AttentionScore(TileDot(q_s + r * kLd, kv_s + c * kLd, dim), scale, slope, p - j);
          }
        }
        p_s[e] = score;
      }
      __syncthreads();
      if (tid < T) {
        // The online softmax of row tid.
        Acc* row = p_s + tid * T;
        const Acc m_old = m_s[tid];
        Acc m_new = m_old;
        for (int c = 0; c < T; ++c) m_new = row[c] > m_new ? row[c] : m_new;
        Acc alpha = Acc(1);
        if (m_new == neg_inf) {
          for (int c = 0; c < T; ++c) row[c] = Acc(0);  // nothing seen yet
        } else {
          alpha = ElementExp(m_old - m_new);  // 0 when m_old is -inf
          Acc sum = Acc(0);
          for (int c = 0; c < T; ++c) {
            const Acc pc = ElementExp(row[c] - m_new);
            row[c] = pc;
            sum += pc;
          }
          l_s[tid] = l_s[tid] * alpha + sum;
        }
        m_s[tid] = m_new;
        alpha_s[tid] = alpha;
      } else {
        // Meanwhile the other threads replace the key tile by the value tile (no score reads it any more).
        LoadTile<S, T, D>(v, b, geo.kv_len, j0, cols, geo.kv_heads, kvh, dim, kv_s, tid - T,
                          kAttentionThreads - T);
      }
      __syncthreads();
#pragma unroll
      for (int a = 0; a < kOwned; ++a) {
        const int e = tid + a * kAttentionThreads;
        if (e < T * D) {
          const int r = e / D;
          const int d = e % D;
          Acc sum = acc[a] * alpha_s[r];
          for (int c = 0; c < T; ++c) sum += p_s[r * T + c] * kv_s[c * kLd + d];
          acc[a] = sum;
        }
      }
    }
    __syncthreads();  // m_s and l_s are final
#pragma unroll
    for (int a = 0; a < kOwned; ++a) {
      const int e = tid + a * kAttentionThreads;
      const int r = e / D;
      const int d = e % D;
      if (e < T * D && r < rows && d < dim) {
        const Acc l = l_s[r];
        o[TensorIndex(b, geo.q_len, i0 + r, geo.heads, h, dim, d)] =
            S::Store(l > Acc(0) ? acc[a] / l : Acc(0));
      }
    }
    if (tid < rows) {
      const Acc l = l_s[tid];
      lse[static_cast<size_t>((b * geo.heads + h) * geo.q_len + i0 + tid)] =
          l > Acc(0) ? m_s[tid] + ElementLog(l) : neg_inf;
    }
  }
}

// --- Backward ---

// delta[(b * heads + h) * q_len + i] = sum_d dout * o over the row (b, i, h), in order of d.
template <typename S>
__global__ void AttentionDeltaKernel(AttentionGeometry geo, const typename S::Raw* __restrict__ o,
                                     const typename S::Raw* __restrict__ dout,
                                     typename S::Acc* __restrict__ delta) {
  using Acc = typename S::Acc;
  const size_t rows = static_cast<size_t>(geo.batch * geo.q_len * geo.heads);
  for (size_t row = GlobalThread(); row < rows; row += GlobalStride()) {
    const int64_t h = static_cast<int64_t>(row % static_cast<size_t>(geo.heads));
    const int64_t bi = static_cast<int64_t>(row / static_cast<size_t>(geo.heads));
    const int64_t i = bi % geo.q_len;
    const int64_t b = bi / geo.q_len;
    const size_t base = row * static_cast<size_t>(geo.head_dim);
    Acc sum = Acc(0);
    for (int64_t d = 0; d < geo.head_dim; ++d) sum += S::Load(dout[base + d]) * S::Load(o[base + d]);
    delta[static_cast<size_t>((b * geo.heads + h) * geo.q_len + i)] = sum;
  }
}

// p and ds of query row r (position p0 + r, lse and delta given) against key column c (key j0 + c) of the
// shared tiles, both 0 where the key is not visible, the row or column lies past the tiles' ends, or the
// query saw no key (lse = -inf).
template <typename Acc, int D>
__device__ __forceinline__ void ProbabilityAndGradient(const AttentionGeometry& geo, const Acc* q_s,
                                                       const Acc* do_s, const Acc* k_s, const Acc* v_s, int r,
                                                       int c, int64_t rows, int64_t cols, int64_t p0,
                                                       int64_t j0, Acc row_lse, Acc row_delta, Acc scale,
                                                       Acc slope, Acc& p_out, Acc& ds_out) {
  constexpr int kLd = D + 1;
  p_out = Acc(0);
  ds_out = Acc(0);
  if (r >= rows || c >= cols || !(row_lse > NegativeInfinity<Acc>())) return;
  const int64_t p = p0 + r;
  const int64_t j = j0 + c;
  const WindowRange keys = AttentionVisibleKeys(p, geo.kv_len, geo.causal, geo.window);
  if (j < keys.lo || j > keys.hi) return;
  const Acc score = AttentionScore(TileDot(q_s + r * kLd, k_s + c * kLd, geo.head_dim), scale, slope, p - j);
  const Acc prob = ElementExp(score - row_lse);
  const Acc dp = TileDot(do_s + r * kLd, v_s + c * kLd, geo.head_dim);
  p_out = prob;
  ds_out = prob * (dp - row_delta);
}

// lse_s[r], delta_s[r] for the query tile at i0 of head h (-inf and 0 past its rows).
template <typename Acc, int T>
__device__ __forceinline__ void LoadRowStats(const AttentionGeometry& geo, const Acc* __restrict__ lse,
                                             const Acc* __restrict__ delta, int64_t b, int64_t h, int64_t i0,
                                             int64_t rows, Acc* lse_s, Acc* delta_s) {
  const int tid = static_cast<int>(threadIdx.x);
  if (tid < T) {
    const size_t at = static_cast<size_t>((b * geo.heads + h) * geo.q_len + i0 + tid);
    lse_s[tid] = tid < rows ? lse[at] : NegativeInfinity<Acc>();
    delta_s[tid] = tid < rows ? delta[at] : Acc(0);
  }
}

template <typename S, int D>
__global__ void __launch_bounds__(kAttentionThreads)
    AttentionBackwardKvKernel(AttentionGeometry geo, const typename S::Raw* __restrict__ q,
                              const typename S::Raw* __restrict__ k, const typename S::Raw* __restrict__ v,
                              const typename S::Raw* __restrict__ dout,
                              const typename S::Acc* __restrict__ lse,
                              const typename S::Acc* __restrict__ delta, typename S::Raw* __restrict__ dk,
                              typename S::Raw* __restrict__ dv) {
  using Acc = typename S::Acc;
  constexpr int T = kAttentionTileRows<Acc, D>;
  constexpr int kLd = D + 1;
  constexpr int kOwned = (T * D + kAttentionThreads - 1) / kAttentionThreads;
  __shared__ Acc k_s[T * kLd];
  __shared__ Acc v_s[T * kLd];
  __shared__ Acc q_s[T * kLd];
  __shared__ Acc do_s[T * kLd];
  __shared__ Acc p_s[T * T];
  __shared__ Acc ds_s[T * T];
  __shared__ Acc lse_s[T];
  __shared__ Acc delta_s[T];

  const int tid = static_cast<int>(threadIdx.x);
  const int64_t dim = geo.head_dim;
  const int64_t group = geo.heads / geo.kv_heads;
  const int64_t kv_tiles = (geo.kv_len + T - 1) / T;
  const int64_t items = geo.batch * geo.kv_heads * kv_tiles;
  const Acc scale = static_cast<Acc>(geo.scale);
  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    const int64_t tile = item % kv_tiles;
    const int64_t kvh = (item / kv_tiles) % geo.kv_heads;
    const int64_t b = item / (kv_tiles * geo.kv_heads);
    const int64_t j0 = tile * T;
    const int64_t cols = geo.kv_len - j0 < T ? geo.kv_len - j0 : T;

    __syncthreads();  // the previous item is done with every shared array
    LoadTile<S, T, D>(k, b, geo.kv_len, j0, cols, geo.kv_heads, kvh, dim, k_s, tid, kAttentionThreads);
    LoadTile<S, T, D>(v, b, geo.kv_len, j0, cols, geo.kv_heads, kvh, dim, v_s, tid, kAttentionThreads);
    Acc dk_acc[kOwned];
    Acc dv_acc[kOwned];
#pragma unroll
    for (int a = 0; a < kOwned; ++a) {
      dk_acc[a] = Acc(0);
      dv_acc[a] = Acc(0);
    }
    for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
      const Acc slope = geo.alibi ? static_cast<Acc>(AlibiSlope(h, geo.heads)) : Acc(0);
      for (int64_t i0 = 0; i0 < geo.q_len; i0 += T) {
        const int64_t rows = geo.q_len - i0 < T ? geo.q_len - i0 : T;
        const int64_t p0 = geo.q_offset + i0;
        // Skip query tiles that see none of this tile's keys (the same decision in every thread).
        const int64_t lo = AttentionVisibleKeys(p0, geo.kv_len, geo.causal, geo.window).lo;
        const int64_t hi = AttentionVisibleKeys(p0 + rows - 1, geo.kv_len, geo.causal, geo.window).hi;
        if (hi < j0 || lo > j0 + cols - 1) continue;
        __syncthreads();  // the previous query tile is consumed
        LoadTile<S, T, D>(q, b, geo.q_len, i0, rows, geo.heads, h, dim, q_s, tid, kAttentionThreads);
        LoadTile<S, T, D>(dout, b, geo.q_len, i0, rows, geo.heads, h, dim, do_s, tid, kAttentionThreads);
        LoadRowStats<Acc, T>(geo, lse, delta, b, h, i0, rows, lse_s, delta_s);
        __syncthreads();
        for (int e = tid; e < T * T; e += kAttentionThreads) {
          const int r = e / T;
          const int c = e % T;
          ProbabilityAndGradient<Acc, D>(geo, q_s, do_s, k_s, v_s, r, c, rows, cols, p0, j0, lse_s[r],
                                         delta_s[r], scale, slope, p_s[e], ds_s[e]);
        }
        __syncthreads();
#pragma unroll
        for (int a = 0; a < kOwned; ++a) {
          const int e = tid + a * kAttentionThreads;
          if (e < T * D) {
            const int c = e / D;
            const int d = e % D;
            Acc sum_k = dk_acc[a];
            Acc sum_v = dv_acc[a];
            for (int r = 0; r < T; ++r) {
              sum_k += ds_s[r * T + c] * q_s[r * kLd + d];
              sum_v += p_s[r * T + c] * do_s[r * kLd + d];
            }
            dk_acc[a] = sum_k;
            dv_acc[a] = sum_v;
          }
        }
      }
    }
#pragma unroll
    for (int a = 0; a < kOwned; ++a) {
      const int e = tid + a * kAttentionThreads;
      const int c = e / D;
      const int d = e % D;
      if (e < T * D && c < cols && d < dim) {
        const size_t at = TensorIndex(b, geo.kv_len, j0 + c, geo.kv_heads, kvh, dim, d);
        dk[at] = S::Store(dk_acc[a] * scale);
        dv[at] = S::Store(dv_acc[a]);
      }
    }
  }
}

template <typename S, int D>
__global__ void __launch_bounds__(kAttentionThreads)
    AttentionBackwardQKernel(AttentionGeometry geo, const typename S::Raw* __restrict__ q,
                             const typename S::Raw* __restrict__ k, const typename S::Raw* __restrict__ v,
                             const typename S::Raw* __restrict__ dout,
                             const typename S::Acc* __restrict__ lse,
                             const typename S::Acc* __restrict__ delta, typename S::Raw* __restrict__ dq) {
  using Acc = typename S::Acc;
  constexpr int T = kAttentionTileRows<Acc, D>;
  constexpr int kLd = D + 1;
  constexpr int kOwned = (T * D + kAttentionThreads - 1) / kAttentionThreads;
  __shared__ Acc q_s[T * kLd];
  __shared__ Acc do_s[T * kLd];
  __shared__ Acc k_s[T * kLd];
  __shared__ Acc v_s[T * kLd];
  __shared__ Acc ds_s[T * T];
  __shared__ Acc lse_s[T];
  __shared__ Acc delta_s[T];

  const int tid = static_cast<int>(threadIdx.x);
  const int64_t dim = geo.head_dim;
  const int64_t group = geo.heads / geo.kv_heads;
  const int64_t q_tiles = (geo.q_len + T - 1) / T;
  const int64_t items = geo.batch * geo.heads * q_tiles;
  const Acc scale = static_cast<Acc>(geo.scale);
  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    const int64_t tile = item % q_tiles;
    const int64_t h = (item / q_tiles) % geo.heads;
    const int64_t b = item / (q_tiles * geo.heads);
    const int64_t kvh = h / group;
    const Acc slope = geo.alibi ? static_cast<Acc>(AlibiSlope(h, geo.heads)) : Acc(0);
    const int64_t i0 = tile * T;
    const int64_t rows = geo.q_len - i0 < T ? geo.q_len - i0 : T;
    const int64_t p0 = geo.q_offset + i0;
    const int64_t lo = AttentionVisibleKeys(p0, geo.kv_len, geo.causal, geo.window).lo;
    const int64_t hi = AttentionVisibleKeys(p0 + rows - 1, geo.kv_len, geo.causal, geo.window).hi;

    __syncthreads();  // the previous item is done with every shared array
    LoadTile<S, T, D>(q, b, geo.q_len, i0, rows, geo.heads, h, dim, q_s, tid, kAttentionThreads);
    LoadTile<S, T, D>(dout, b, geo.q_len, i0, rows, geo.heads, h, dim, do_s, tid, kAttentionThreads);
    LoadRowStats<Acc, T>(geo, lse, delta, b, h, i0, rows, lse_s, delta_s);
    Acc acc[kOwned];
#pragma unroll
    for (int a = 0; a < kOwned; ++a) acc[a] = Acc(0);
    for (int64_t j0 = lo; j0 <= hi; j0 += T) {
      const int64_t cols = hi - j0 + 1 < T ? hi - j0 + 1 : T;
      __syncthreads();  // the previous key tile is consumed (and the query tile is stored, the first time)
      LoadTile<S, T, D>(k, b, geo.kv_len, j0, cols, geo.kv_heads, kvh, dim, k_s, tid, kAttentionThreads);
      LoadTile<S, T, D>(v, b, geo.kv_len, j0, cols, geo.kv_heads, kvh, dim, v_s, tid, kAttentionThreads);
      __syncthreads();
      for (int e = tid; e < T * T; e += kAttentionThreads) {
        const int r = e / T;
        const int c = e % T;
        Acc prob;
        ProbabilityAndGradient<Acc, D>(geo, q_s, do_s, k_s, v_s, r, c, rows, cols, p0, j0, lse_s[r],
                                       delta_s[r], scale, slope, prob, ds_s[e]);
      }
      __syncthreads();
#pragma unroll
      for (int a = 0; a < kOwned; ++a) {
        const int e = tid + a * kAttentionThreads;
        if (e < T * D) {
          const int r = e / D;
          const int d = e % D;
          Acc sum = acc[a];
          for (int c = 0; c < T; ++c) sum += ds_s[r * T + c] * k_s[c * kLd + d];
          acc[a] = sum;
        }
      }
    }
#pragma unroll
    for (int a = 0; a < kOwned; ++a) {
      const int e = tid + a * kAttentionThreads;
      const int r = e / D;
      const int d = e % D;
      if (e < T * D && r < rows && d < dim) {
        dq[TensorIndex(b, geo.q_len, i0 + r, geo.heads, h, dim, d)] = S::Store(acc[a] * scale);
      }
    }
  }
}

// --- Rope ---

template <typename S>
__global__ void RopeKernel(int64_t rows, int64_t len, int64_t heads, int64_t head_dim, int64_t pos_offset,
                           double base, bool inverse, typename S::Raw* __restrict__ x) {
  using Acc = typename S::Acc;
  const int64_t half = head_dim / 2;
  const size_t pairs = static_cast<size_t>(rows * heads * half);
  for (size_t idx = GlobalThread(); idx < pairs; idx += GlobalStride()) {
    const int64_t i = static_cast<int64_t>(idx % static_cast<size_t>(half));
    const int64_t row_head = static_cast<int64_t>(idx / static_cast<size_t>(half));
    const int64_t t = (row_head / heads) % len;
    const double angle = RopeAngle(pos_offset + t, i, head_dim, base);
    const Acc c = static_cast<Acc>(cos(angle));
    const Acc sine = static_cast<Acc>(sin(angle));
    typename S::Raw* const row = x + static_cast<size_t>(row_head) * static_cast<size_t>(head_dim);
    Acc x0 = S::Load(row[i]);
    Acc x1 = S::Load(row[i + half]);
    RopeRotate(x0, x1, c, inverse ? -sine : sine);
    row[i] = S::Store(x0);
    row[i + half] = S::Store(x1);
  }
}

}  // namespace

cudaError_t LaunchAttentionForward(ElementType type, const AttentionGeometry& g, const void* q, const void* k,
                                   const void* v, void* o, void* lse, cudaStream_t stream) {
  if (g.batch == 0 || g.q_len == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    using Acc = typename S::Acc;
    return DispatchHeadDim(g.head_dim, [&](auto bound) {
      constexpr int D = decltype(bound)::value;
      constexpr int T = kAttentionTileRows<Acc, D>;
      const int64_t items = g.batch * g.heads * ((g.q_len + T - 1) / T);
      AttentionForwardKernel<S, D><<<AttentionBlocks(items), kAttentionThreads, 0, stream>>>(
          g, static_cast<const Raw*>(q), static_cast<const Raw*>(k), static_cast<const Raw*>(v),
          static_cast<Raw*>(o), static_cast<Acc*>(lse));
      return cudaGetLastError();
    });
  });
}

size_t AttentionBackwardScratchBytes(ElementType type, const AttentionGeometry& g) {
  const size_t acc_bytes = type == ElementType::kF64 ? sizeof(double) : sizeof(float);
  return AlignScratch(static_cast<size_t>(g.batch * g.heads * g.q_len) * acc_bytes);
}

cudaError_t LaunchAttentionBackward(ElementType type, const AttentionGeometry& g, const void* q,
                                    const void* k, const void* v, const void* o, const void* dout,
                                    const void* lse, void* dq, void* dk, void* dv, void* scratch,
                                    cudaStream_t stream) {
  if (g.batch == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    using Acc = typename S::Acc;
    return DispatchHeadDim(g.head_dim, [&](auto bound) {
      constexpr int D = decltype(bound)::value;
      constexpr int T = kAttentionTileRows<Acc, D>;
      auto* const delta = static_cast<Acc*>(scratch);
      const auto* const lse_acc = static_cast<const Acc*>(lse);
      if (g.q_len > 0) {
        const size_t rows = static_cast<size_t>(g.batch * g.q_len * g.heads);
        AttentionDeltaKernel<S><<<BlocksFor(rows), kThreads, 0, stream>>>(
            g, static_cast<const Raw*>(o), static_cast<const Raw*>(dout), delta);
        const cudaError_t status = cudaGetLastError();
        if (status != cudaSuccess) return status;
      }
      if (g.kv_len > 0) {
        const int64_t items = g.batch * g.kv_heads * ((g.kv_len + T - 1) / T);
        AttentionBackwardKvKernel<S, D><<<AttentionBlocks(items), kAttentionThreads, 0, stream>>>(
            g, static_cast<const Raw*>(q), static_cast<const Raw*>(k), static_cast<const Raw*>(v),
            static_cast<const Raw*>(dout), lse_acc, delta, static_cast<Raw*>(dk), static_cast<Raw*>(dv));
        const cudaError_t status = cudaGetLastError();
        if (status != cudaSuccess) return status;
      }
      if (g.q_len > 0) {
        const int64_t items = g.batch * g.heads * ((g.q_len + T - 1) / T);
        AttentionBackwardQKernel<S, D><<<AttentionBlocks(items), kAttentionThreads, 0, stream>>>(
            g, static_cast<const Raw*>(q), static_cast<const Raw*>(k), static_cast<const Raw*>(v),
            static_cast<const Raw*>(dout), lse_acc, delta, static_cast<Raw*>(dq));
      }
      return cudaGetLastError();
    });
  });
}

cudaError_t LaunchRope(ElementType type, int64_t batch, int64_t len, int64_t heads, int64_t head_dim,
                       int64_t pos_offset, double base, bool inverse, void* x, cudaStream_t stream) {
  const size_t pairs = static_cast<size_t>(batch * len * heads * (head_dim / 2));
  if (pairs == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    RopeKernel<S><<<BlocksFor(pairs), kThreads, 0, stream>>>(batch * len, len, heads, head_dim, pos_offset,
                                                             base, inverse, static_cast<typename S::Raw*>(x));
    return cudaGetLastError();
  });
}

}  // namespace hpo::kernels::cuda
