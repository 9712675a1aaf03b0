// Shared pieces of the CPU backend's element loops (cpu_*.cc): the compute type of each storage type, tiles
// and row buffers that present half storage as float arrays, the activation and element-type dispatch,
// fixed-order sums, and column sums over fixed chunks of rows split over the backend's threads. Private to
// the CPU backend.
//
// The loops compute on arrays of the compute type (float for kF32, kF16 and kBF16; double for kF64). For
// float and double storage a tile is the memory itself; for halves it is a stack buffer filled and drained
// by the vector conversions of kernels/cpu_convert.h, so every loop is written once, over plain arrays that
// the compiler vectorises, and the fp32 path pays nothing for the halves.
#ifndef HPO_KERNELS_CPU_LOOPS_H_
#define HPO_KERNELS_CPU_LOOPS_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu_convert.h"
#include "kernels/cpu_thread_pool.h"
#include "kernels/element.h"
#include "kernels/half.h"

// The element loops are compiled twice on x86-64, for AVX2 and for the baseline, and the loader picks one
// (GCC/Clang function multiversioning). Both clones compute the same IEEE operations (no FMA contraction in
// ISO mode, sqrt and division correctly rounded, libm calls shared, sums in the order the source writes),
// so results do not depend on it. Use it on functions with internal linkage in the .cc files only.
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define HPO_CPU_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef HPO_CPU_CLONES
#define HPO_CPU_CLONES
#endif

namespace hpo::kernels::cpu {

// The type a storage type S is computed in: double for double, float otherwise. This is also
// AccumulationType of S's DType.
template <typename S>
using Compute = std::conditional_t<std::is_same_v<S, double>, double, float>;

// Whether storage S is its own compute type (float, double): tiles are then the memory itself.
template <typename S>
inline constexpr bool kDirect = std::is_same_v<S, Compute<S>>;

// Elements per tile of half storage; a multiple of 8 (vector width) and of 4 (a Philox block).
inline constexpr int64_t kTile = 1024;

// Element-wise operations on at least this many elements split over the backend's threads (below it, waking
// a thread costs about what the work does). Splits fall on whole tiles, and no result depends on them.
inline constexpr int64_t kMinParallelElements = int64_t{1} << 16;

// bf16 rows up to this long convert inline (cpu_convert.h's row loops) rather than through Convert's call.
inline constexpr int64_t kInlineRow = 256;

// Room for one tile of S in its compute type: kTile floats for halves, nothing for float and double.
template <typename S>
class TileBuffer {
 public:
  Compute<S>* data() { return buffer_.data(); }

 private:
  std::array<Compute<S>, kDirect<S> ? 0 : kTile> buffer_;
};

// src[0, n) in the compute type: src itself for direct storage, else converted into buf (n <= buf's room).
template <typename S>
const Compute<S>* LoadTile(const S* src, int64_t n, Compute<S>* buf) {
  if constexpr (kDirect<S>) {
    (void)n;
    (void)buf;
    return src;
  } else if constexpr (std::is_same_v<S, BFloat16>) {
    if (n <= kInlineRow) {
      Bf16RowToFloat(src, buf, n);
    } else {
      Convert(src, buf, n);
    }
    return buf;
  } else {
    Convert(src, buf, n);
    return buf;
  }
}

// Where values destined for dst[0, n) are computed: dst itself for direct storage, else buf.
template <typename S>
Compute<S>* TileTarget(S* dst, Compute<S>* buf) {
  if constexpr (kDirect<S>) {
    (void)buf;
    return dst;
  } else {
    return buf;
  }
}

// Stores the computed values[0, n) into dst, rounding to S (nothing to do when values is dst itself).
template <typename S>
void StoreTile(const Compute<S>* values, S* dst, int64_t n) {
  if constexpr (kDirect<S>) {
    if (values != dst && n > 0) std::memmove(dst, values, static_cast<size_t>(n) * sizeof(S));
  } else if constexpr (std::is_same_v<S, BFloat16>) {
    if (n <= kInlineRow) {
      FloatRowToBf16(values, dst, n);
    } else {
      Convert(values, dst, n);
    }
  } else {
    Convert(values, dst, n);
  }
}

// Work items (pixels, images, rows) per thread: at least kMinParallelElements elements of work in all.
inline int64_t MinItemsPerThread(int64_t elements_per_item) {
  return std::max<int64_t>(1, kMinParallelElements / std::max<int64_t>(1, elements_per_item));
}

// One storage value in its compute type (exact).
template <typename S>
Compute<S> LoadOne(S v) {
  if constexpr (std::is_same_v<S, Half>) {
    return HalfBitsToFloat(v.bits);
  } else if constexpr (std::is_same_v<S, BFloat16>) {
    return Bf16BitsToFloat(v.bits);
  } else {
    return v;
  }
}

// Room for a row of n elements of S in its compute type (none needed for float and double). Rows, unlike
// tiles, may be longer than kTile: the whole-row loops (norms, convolutions, pools) use these.
template <typename S>
std::vector<Compute<S>> RowBuffer(int64_t n) {
  return std::vector<Compute<S>>(kDirect<S> ? 0 : static_cast<size_t>(n));
}

// src[0, n) in the compute type: src itself for float and double, else widened into buf (n elements).
template <typename S>
const Compute<S>* LoadRow(const S* src, int64_t n, std::vector<Compute<S>>& buf) {
  return LoadTile(src, n, buf.data());
}

// A per-column parameter (gamma, beta, filter weights) of `count` elements of S in the compute type.
template <typename S>
std::vector<Compute<S>> LoadParam(ConstView v, int64_t count) {
  std::vector<Compute<S>> out(static_cast<size_t>(count));
  const auto* src = static_cast<const S*>(v.data);
  for (int64_t c = 0; c < count; ++c) out[static_cast<size_t>(c)] = LoadOne(src[c]);
  return out;
}

// out[0, cols) (overwritten) = column sums over `rows` rows in chunks of per_chunk rows: add_rows(r0, r1,
// partial) adds the terms of rows [r0, r1) of one chunk, in row order, into partial[0, cols) (zeroed
// before); then the chunk sums are added in chunk order into zeroed totals. Chunks spread over `pool`, each
// computed by one thread alone, so the result does not depend on the thread count. work_per_row: elements
// of work per row (for the split).
template <typename C, typename AddRows>
void ChunkedColumnSums(ThreadPool& pool, int64_t rows, int64_t cols, int64_t per_chunk, int64_t work_per_row,
                       AddRows&& add_rows, C* out) {
  const int64_t chunks = (rows + per_chunk - 1) / per_chunk;
  std::vector<C> partial(static_cast<size_t>(chunks * cols), C(0));
  pool.RunRanges(chunks, 1, MinItemsPerThread(per_chunk * work_per_row), [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      add_rows(k * per_chunk, std::min(rows, (k + 1) * per_chunk), partial.data() + k * cols);
    }
  });
  pool.RunRanges(cols, 16, MinItemsPerThread(chunks), [&](int64_t begin, int64_t end) {
    std::fill(out + begin, out + end, C(0));
    for (int64_t k = 0; k < chunks; ++k) {
      const C* p = partial.data() + k * cols;
      for (int64_t c = begin; c < end; ++c) out[c] += p[c];
    }
  });
}

// The same in chunks of ColumnChunkRows(rows) rows (kernels/element.h), the order the CUDA backend's column
// sums share.
template <typename C, typename AddRows>
void ChunkedColumnSums(ThreadPool& pool, int64_t rows, int64_t cols, int64_t work_per_row, AddRows&& add_rows,
                       C* out) {
  ChunkedColumnSums<C>(pool, rows, cols, ColumnChunkRows(rows), work_per_row, std::forward<AddRows>(add_rows),
                       out);
}

// Calls f.template operator()<S>() with S the storage type of the floating `dtype`. REQUIRES: IsFloating.
template <typename F>
void DispatchFloating(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kF32:
      f.template operator()<float>();
      return;
    case DType::kF64:
      f.template operator()<double>();
      return;
    case DType::kF16:
      f.template operator()<Half>();
      return;
    case DType::kBF16:
      f.template operator()<BFloat16>();
      return;
    case DType::kI32:
      return;
  }
}

// Calls f.template operator()<A>() with A the compile-time activation.
template <typename F>
void DispatchActivation(Activation act, F&& f) {
  switch (act) {
    case Activation::kRelu:
      f.template operator()<Activation::kRelu>();
      return;
    case Activation::kGelu:
      f.template operator()<Activation::kGelu>();
      return;
    case Activation::kTanh:
      f.template operator()<Activation::kTanh>();
      return;
    case Activation::kSilu:
      f.template operator()<Activation::kSilu>();
      return;
    case Activation::kIdentity:
      f.template operator()<Activation::kIdentity>();
      return;
  }
}

// Lanes of the fixed-order sums: element i goes to lane i % kLanes, the lanes are combined pairwise at the
// end. The order depends only on n, never on the CPU or the clone.
inline constexpr int kLanes = 8;

template <typename C>
C CombineLanes(const C (&lanes)[kLanes]) {
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

// sum_i f(i) for i < n in the fixed lane order; f(i) returns C.
template <typename C, typename F>
C LaneSum(int64_t n, F&& f) {
  C lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) lanes[l] += f(i + l);
  }
  for (int l = 0; i < n; ++i, ++l) lanes[l] += f(i);
  return CombineLanes(lanes);
}

// The value of double v stored as S (rounded once).
template <typename S>
S StoreValue(double v) {
  if constexpr (std::is_same_v<S, double>) {
    return v;
  } else if constexpr (std::is_same_v<S, float>) {
    return static_cast<float>(v);
  } else if constexpr (std::is_same_v<S, Half>) {
    return Half{DoubleToHalfBits(v)};
  } else {
    return BFloat16{DoubleToBf16Bits(v)};
  }
}

}  // namespace hpo::kernels::cpu

#endif  // HPO_KERNELS_CPU_LOOPS_H_
