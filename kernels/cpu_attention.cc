// CpuBackend's attention operations: AttentionForward, AttentionBackward and Rope (see kernels/backend.h).
//
// Forward, per query row: the scores of the keys it sees (a row of at most kv_len values, never a
// q_len x kv_len matrix), their maximum m, p_j = exp(score_j - m), l = sum_j p_j, then o = (sum_j p_j v_j) /
// l and lse = m + log l. With the whole row at hand the maximum is exact before any exponential, so the row
// needs no rescaling (the GPU's tiled kernel rescales as it goes; kernels/cuda_attention.cu). Backward, per
// query row of each head: p_j = exp(score_j - lse), D = dout . o, ds_j = p_j (dout . v_j - D), then
// dq = scale sum_j ds_j k_j, and dk_j += ds_j q, dv_j += p_j dout into per-kv-head accumulators; dk is
// multiplied by scale once at the end.
//
// Vectorisation: the keys and values of one kv head are first gathered into contiguous compute-type arrays
// (halves widened exactly), k and v also transposed (head_dim x keys), so that the dot products of a query
// with all its keys run as `scores[j] += q[d] * kT[d][j]` over j, and the weighted sums as
// `acc[d] += p_j v_j[d]` over d: plain array loops the compiler vectorises (AVX2 clone, cpu_loops.h).
//
// Order of sums (fixed): every dot product over d in order 0..head_dim-1; the softmax sum over the visible
// keys in order; o and dq over the keys in order; dk and dv over the query heads of the kv head in order,
// then over the queries in order (the CUDA backend's dk/dv order too).
//
// Threads: the forward pass splits over (batch, head, block of kQueryBlock queries), the backward pass over
// (batch, kv head), Rope over rows; each output is computed by one thread alone from the same inputs in the
// same order, so the thread count changes no bit.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/cpu_backend.h"
#include "kernels/cpu_convert.h"
#include "kernels/cpu_loops.h"
#include "kernels/cpu_thread_pool.h"
#include "kernels/element.h"

namespace hpo::kernels {
namespace {

using cpu::Compute;

// Queries per forward work item.
constexpr int64_t kQueryBlock = 64;

// Work items per thread: at least kMinParallelElements multiply-adds of work in all.
int64_t MinItemsPerThread(int64_t work_per_item) {
  return std::max<int64_t>(1, cpu::kMinParallelElements / std::max<int64_t>(1, work_per_item));
}

// dst[0, n) = src[0, n) in the compute type (exact).
template <typename S>
void LoadRow(const S* src, int64_t n, Compute<S>* dst) {
  if constexpr (cpu::kDirect<S>) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(S));
  } else {
    Convert(src, dst, n);
  }
}

// dst[0, n) = values[0, n) rounded once to S.
template <typename S>
void StoreRow(const Compute<S>* values, S* dst, int64_t n) {
  if constexpr (cpu::kDirect<S>) {
    std::memcpy(dst, values, static_cast<size_t>(n) * sizeof(S));
  } else {
    Convert(values, dst, n);
  }
}

// The keys [lo, lo + n) of kv head g of sequence b, in the compute type: rows[(j - lo) * dim + d] and, when
// `cols` is not null, transposed: cols[d * n + (j - lo)].
template <typename S>
void GatherKeys(const AttentionShape& s, const S* src, int64_t b, int64_t g, int64_t lo, int64_t n,
                Compute<S>* rows, Compute<S>* cols) {
  const int64_t dim = s.head_dim;
  for (int64_t jj = 0; jj < n; ++jj) {
    LoadRow(src + ((b * s.kv_len + lo + jj) * s.kv_heads + g) * dim, dim, rows + jj * dim);
  }
  if (cols == nullptr) return;
  for (int64_t jj = 0; jj < n; ++jj) {
    for (int64_t d = 0; d < dim; ++d) cols[d * n + jj] = rows[jj * dim + d];
  }
}

// out[jj] = sum_d x[d] cols[d * stride + jj] for jj < n, each sum over d in order. Four terms are added per
// pass over out, in the same order, so that out is loaded and stored a quarter as often.
template <typename C>
HPO_CPU_CLONES void DotColumns(int64_t dim, int64_t n, const C* __restrict__ x, const C* __restrict__ cols,
                               int64_t stride, C* __restrict__ out) {
  for (int64_t jj = 0; jj < n; ++jj) out[jj] = C(0);
  int64_t d = 0;
  for (; d + 4 <= dim; d += 4) {
    const C x0 = x[d], x1 = x[d + 1], x2 = x[d + 2], x3 = x[d + 3];
    const C* c0 = cols + d * stride;
    const C* c1 = c0 + stride;
    const C* c2 = c1 + stride;
    const C* c3 = c2 + stride;
    for (int64_t jj = 0; jj < n; ++jj)
      out[jj] = (((out[jj] + x0 * c0[jj]) + x1 * c1[jj]) + x2 * c2[jj]) + x3 * c3[jj];
  }
  for (; d < dim; ++d) {
    const C xd = x[d];
    const C* col = cols + d * stride;
    for (int64_t jj = 0; jj < n; ++jj) out[jj] += xd * col[jj];
  }
}

// acc[d] += w[jj] rows[jj * dim + d] for jj < n in order (four rows per pass over acc, in the same order).
template <typename C>
HPO_CPU_CLONES void WeightedRowSum(int64_t dim, int64_t n, const C* __restrict__ w,
                                   const C* __restrict__ rows, C* __restrict__ acc) {
  int64_t jj = 0;
  for (; jj + 4 <= n; jj += 4) {
    const C w0 = w[jj], w1 = w[jj + 1], w2 = w[jj + 2], w3 = w[jj + 3];
    const C* r0 = rows + jj * dim;
    const C* r1 = r0 + dim;
    const C* r2 = r1 + dim;
    const C* r3 = r2 + dim;
    for (int64_t d = 0; d < dim; ++d)
      acc[d] = (((acc[d] + w0 * r0[d]) + w1 * r1[d]) + w2 * r2[d]) + w3 * r3[d];
  }
  for (; jj < n; ++jj) {
    const C wj = w[jj];
    const C* row = rows + jj * dim;
    for (int64_t d = 0; d < dim; ++d) acc[d] += wj * row[d];
  }
}

// rows[jj * dim + d] += w[jj] x[d] for jj < n.
template <typename C>
HPO_CPU_CLONES void AddOuter(int64_t dim, int64_t n, const C* __restrict__ w, const C* __restrict__ x,
                             C* __restrict__ rows) {
  for (int64_t jj = 0; jj < n; ++jj) {
    const C wj = w[jj];
    C* row = rows + jj * dim;
    for (int64_t d = 0; d < dim; ++d) row[d] += wj * x[d];
  }
}

// scores[jj] = AttentionScore(scores[jj], scale, slope, p - (lo + jj)) for jj < n.
template <typename C>
HPO_CPU_CLONES void FinishScores(int64_t n, C scale, C slope, int64_t p, int64_t lo, C* scores) {
  for (int64_t jj = 0; jj < n; ++jj) scores[jj] = AttentionScore(scores[jj], scale, slope, p - (lo + jj));
}

template <typename C>
C Slope(const AttentionShape& s, int64_t h) {
  return s.alibi ? static_cast<C>(AlibiSlope(h, s.heads)) : C(0);
}

// --- Forward ---

template <typename S>
struct ForwardScratch {
  explicit ForwardScratch(const AttentionShape& s)
      : kt(static_cast<size_t>(s.kv_len * s.head_dim)),
        rows(static_cast<size_t>(s.kv_len * s.head_dim)),
        v(static_cast<size_t>(s.kv_len * s.head_dim)),
        scores(static_cast<size_t>(std::max<int64_t>(1, s.kv_len))),
        q(static_cast<size_t>(s.head_dim)),
        acc(static_cast<size_t>(s.head_dim)) {}
  std::vector<Compute<S>> kt, rows, v, scores, q, acc;
};

// Queries [i0, i1) of head h of sequence b.
template <typename S>
void ForwardBlock(const AttentionShape& s, const S* q, const S* k, const S* v, S* o, Compute<S>* lse,
                  int64_t b, int64_t h, int64_t i0, int64_t i1, ForwardScratch<S>& w) {
  using C = Compute<S>;
  const int64_t dim = s.head_dim, g = h / (s.heads / s.kv_heads);
  const C scale = static_cast<C>(s.effective_scale()), slope = Slope<C>(s, h);
  // The keys any query of the block sees (both ends grow with the position).
  const int64_t lo = AttentionVisibleKeys(s.q_offset + i0, s.kv_len, s.causal, s.window).lo;
  const int64_t hi = AttentionVisibleKeys(s.q_offset + i1 - 1, s.kv_len, s.causal, s.window).hi;
  const int64_t n = hi - lo + 1;
  if (n > 0) {
    GatherKeys(s, k, b, g, lo, n, w.rows.data(), w.kt.data());
    GatherKeys<S>(s, v, b, g, lo, n, w.v.data(), nullptr);
  }
  for (int64_t i = i0; i < i1; ++i) {
    const int64_t p = s.q_offset + i;
    const WindowRange keys = AttentionVisibleKeys(p, s.kv_len, s.causal, s.window);
    S* out = o + ((b * s.q_len + i) * s.heads + h) * dim;
    C* row_lse = lse + (b * s.heads + h) * s.q_len + i;
    std::fill(w.acc.begin(), w.acc.end(), C(0));
    if (keys.lo > keys.hi) {
      StoreRow<S>(w.acc.data(), out, dim);
      *row_lse = -std::numeric_limits<C>::infinity();
      continue;
    }
    const int64_t count = keys.hi - keys.lo + 1, first = keys.lo - lo;
    C* scores = w.scores.data();
    LoadRow(q + ((b * s.q_len + i) * s.heads + h) * dim, dim, w.q.data());
    DotColumns(dim, count, w.q.data(), w.kt.data() + first, n, scores);
    FinishScores(count, scale, slope, p, keys.lo, scores);
    C m = scores[0];
    for (int64_t jj = 1; jj < count; ++jj) m = std::max(m, scores[jj]);
    C l = C(0);
    for (int64_t jj = 0; jj < count; ++jj) {
      scores[jj] = ElementExp(scores[jj] - m);
      l += scores[jj];
    }
    WeightedRowSum(dim, count, scores, w.v.data() + first * dim, w.acc.data());
    for (int64_t d = 0; d < dim; ++d) w.acc[static_cast<size_t>(d)] /= l;
    StoreRow<S>(w.acc.data(), out, dim);
    *row_lse = m + ElementLog(l);
  }
}

// --- Backward ---

template <typename S>
struct BackwardScratch {
  explicit BackwardScratch(const AttentionShape& s)
      : k(static_cast<size_t>(s.kv_len * s.head_dim)),
        kt(k.size()),
        v(k.size()),
        vt(k.size()),
        dk(k.size()),
        dv(k.size()),
        p(static_cast<size_t>(std::max<int64_t>(1, s.kv_len))),
        ds(p.size()),
        q(static_cast<size_t>(s.head_dim)),
        o(q.size()),
        dout(q.size()),
        dq(q.size()) {}
  std::vector<Compute<S>> k, kt, v, vt, dk, dv, p, ds, q, o, dout, dq;
};

// dk and dv of kv head g of sequence b, and dq of the query heads that read it.
template <typename S>
void BackwardGroup(const AttentionShape& s, const S* q, const S* k, const S* v, const S* o, const S* dout,
                   const Compute<S>* lse, S* dq, S* dk, S* dv, int64_t b, int64_t g, BackwardScratch<S>& w) {
  using C = Compute<S>;
  const int64_t dim = s.head_dim, n = s.kv_len, group = s.heads / s.kv_heads;
  const C scale = static_cast<C>(s.effective_scale());
  GatherKeys(s, k, b, g, 0, n, w.k.data(), w.kt.data());
  GatherKeys(s, v, b, g, 0, n, w.v.data(), w.vt.data());
  std::fill(w.dk.begin(), w.dk.end(), C(0));
  std::fill(w.dv.begin(), w.dv.end(), C(0));
  for (int64_t h = g * group; h < (g + 1) * group; ++h) {
    const C slope = Slope<C>(s, h);
    for (int64_t i = 0; i < s.q_len; ++i) {
      const int64_t p = s.q_offset + i;
      const int64_t row = ((b * s.q_len + i) * s.heads + h) * dim;
      const C row_lse = lse[(b * s.heads + h) * s.q_len + i];
      const WindowRange keys = AttentionVisibleKeys(p, n, s.causal, s.window);
      std::fill(w.dq.begin(), w.dq.end(), C(0));
      // A query that saw no key (lse = -inf) passes no gradient.
      if (keys.lo > keys.hi || !(row_lse > -std::numeric_limits<C>::infinity())) {
        StoreRow<S>(w.dq.data(), dq + row, dim);
        continue;
      }
      const int64_t count = keys.hi - keys.lo + 1;
      LoadRow(q + row, dim, w.q.data());
      LoadRow(o + row, dim, w.o.data());
      LoadRow(dout + row, dim, w.dout.data());
      C delta = C(0);
      for (int64_t d = 0; d < dim; ++d) delta += w.dout[static_cast<size_t>(d)] * w.o[static_cast<size_t>(d)];
      C* pj = w.p.data();
      C* ds = w.ds.data();
      DotColumns(dim, count, w.q.data(), w.kt.data() + keys.lo, n, pj);
      FinishScores(count, scale, slope, p, keys.lo, pj);
      for (int64_t jj = 0; jj < count; ++jj) pj[jj] = ElementExp(pj[jj] - row_lse);
      DotColumns(dim, count, w.dout.data(), w.vt.data() + keys.lo, n, ds);
      for (int64_t jj = 0; jj < count; ++jj) ds[jj] = pj[jj] * (ds[jj] - delta);
      WeightedRowSum(dim, count, ds, w.k.data() + keys.lo * dim, w.dq.data());
      for (int64_t d = 0; d < dim; ++d) w.dq[static_cast<size_t>(d)] *= scale;
      StoreRow<S>(w.dq.data(), dq + row, dim);
      AddOuter(dim, count, ds, w.q.data(), w.dk.data() + keys.lo * dim);
      AddOuter(dim, count, pj, w.dout.data(), w.dv.data() + keys.lo * dim);
    }
  }
  for (C& x : w.dk) x *= scale;
  for (int64_t j = 0; j < n; ++j) {
    const int64_t at = ((b * n + j) * s.kv_heads + g) * dim;
    StoreRow<S>(w.dk.data() + j * dim, dk + at, dim);
    StoreRow<S>(w.dv.data() + j * dim, dv + at, dim);
  }
}

// --- Rope ---

// cos and sin of every (token, pair) angle, computed in fp64 and rounded to C once; sin negated for the
// inverse rotation.
template <typename C>
void RopeTables(int64_t len, int64_t half, int64_t pos_offset, double base, bool inverse,
                std::vector<C>& cos_t, std::vector<C>& sin_t) {
  cos_t.resize(static_cast<size_t>(len * half));
  sin_t.resize(cos_t.size());
  for (int64_t t = 0; t < len; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      const double angle = RopeAngle(pos_offset + t, i, 2 * half, base);
      const auto at = static_cast<size_t>(t * half + i);
      cos_t[at] = static_cast<C>(std::cos(angle));
      const C sine = static_cast<C>(std::sin(angle));
      sin_t[at] = inverse ? -sine : sine;
    }
  }
}

template <typename C>
HPO_CPU_CLONES void RotateHalves(int64_t half, const C* c, const C* s, C* x) {
  C* x1 = x + half;
  for (int64_t i = 0; i < half; ++i) RopeRotate(x[i], x1[i], c[i], s[i]);
}

}  // namespace

Status CpuBackend::AttentionForwardImpl(const AttentionShape& s, ConstView q, ConstView k, ConstView v,
                                        View o, View lse) {
  cpu::DispatchFloating(q.dtype, [&]<typename S>() {
    const int64_t blocks = (s.q_len + kQueryBlock - 1) / kQueryBlock;
    const int64_t items = s.batch * s.heads * blocks;
    const int64_t work = std::min(s.q_len, kQueryBlock) * std::max<int64_t>(1, s.kv_len) * s.head_dim;
    pool_->RunRanges(items, 1, MinItemsPerThread(work), [&](int64_t begin, int64_t end) {
      ForwardScratch<S> scratch(s);
      for (int64_t item = begin; item < end; ++item) {
        const int64_t block = item % blocks, h = (item / blocks) % s.heads, b = item / (blocks * s.heads);
        const int64_t i0 = block * kQueryBlock, i1 = std::min(s.q_len, i0 + kQueryBlock);
        ForwardBlock<S>(s, static_cast<const S*>(q.data), static_cast<const S*>(k.data),
                        static_cast<const S*>(v.data), static_cast<S*>(o.data),
                        static_cast<Compute<S>*>(lse.data), b, h, i0, i1, scratch);
      }
    });
  });
  return Status::Ok();
}

Status CpuBackend::AttentionBackwardImpl(const AttentionShape& s, ConstView q, ConstView k, ConstView v,
                                         ConstView o, ConstView dout, ConstView lse, View dq, View dk,
                                         View dv) {
  cpu::DispatchFloating(q.dtype, [&]<typename S>() {
    const int64_t items = s.batch * s.kv_heads;
    const int64_t work =
        (s.heads / s.kv_heads) * std::max<int64_t>(1, s.q_len) * std::max<int64_t>(1, s.kv_len) * s.head_dim;
    pool_->RunRanges(items, 1, MinItemsPerThread(work), [&](int64_t begin, int64_t end) {
      BackwardScratch<S> scratch(s);
      for (int64_t item = begin; item < end; ++item) {
        BackwardGroup<S>(s, static_cast<const S*>(q.data), static_cast<const S*>(k.data),
                         static_cast<const S*>(v.data), static_cast<const S*>(o.data),
                         static_cast<const S*>(dout.data), static_cast<const Compute<S>*>(lse.data),
                         static_cast<S*>(dq.data), static_cast<S*>(dk.data), static_cast<S*>(dv.data),
                         item / s.kv_heads, item % s.kv_heads, scratch);
      }
    });
  });
  return Status::Ok();
}

Status CpuBackend::RopeImpl(int64_t batch, int64_t len, int64_t heads, int64_t head_dim, int64_t pos_offset,
                            double base, bool inverse, View x) {
  cpu::DispatchFloating(x.dtype, [&]<typename S>() {
    using C = Compute<S>;
    const int64_t half = head_dim / 2;
    std::vector<C> cos_t, sin_t;
    RopeTables(len, half, pos_offset, base, inverse, cos_t, sin_t);
    auto* data = static_cast<S*>(x.data);
    pool_->RunRanges(batch * len, 1, MinItemsPerThread(heads * head_dim), [&](int64_t begin, int64_t end) {
      std::vector<C> buf(static_cast<size_t>(head_dim));
      for (int64_t r = begin; r < end; ++r) {
        const int64_t t = r % len;
        for (int64_t h = 0; h < heads; ++h) {
          S* row = data + (r * heads + h) * head_dim;
          LoadRow(row, head_dim, buf.data());
          RotateHalves(half, cos_t.data() + t * half, sin_t.data() + t * half, buf.data());
          StoreRow<S>(buf.data(), row, head_dim);
        }
      }
    });
  });
  return Status::Ok();
}

}  // namespace hpo::kernels
