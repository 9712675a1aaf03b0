// CpuBackend::GemmImpl. kF32 goes straight to oneDNN's dnnl_sgemm when the build has oneDNN (HPO_HAVE_DNNL),
// else to cblas_sgemm (OpenBLAS); kF64 to cblas_dgemm; one thread per call. bf16 operands go to oneDNN's
// dnnl_gemm_bf16bf16f32: it multiplies bf16 values exactly and accumulates in fp32 (AVX512-BF16 where the
// CPU has it), at about twice the speed of the fp32 GEMM; only the order of the sums differs from the fp32
// path, and the AVX512-BF16 dot product flushes subnormal fp32 results (below 2^-126 in magnitude) to zero.
// Other half operands (and bf16 without oneDNN) are widened to fp32 scratch (exact) and multiplied as fp32.
// In both cases the fp32 product is rounded once into C when C is half; a C of kF32 receives it directly.
//
// Threads: a GEMM of at least kSplitFlops (kSplitFlopsDnnl on oneDNN) is cut into one block of C per thread
// of the backend's pool (column blocks, or row blocks when C has more rows than columns), each block computed
// by its own single-threaded library call. The cut depends only on the shape and the thread count, and each
// call is deterministic, so a fixed thread count repeats bit for bit. Smaller GEMMs (the batch-1 GEMMs of
// inference among them) run on the caller's thread alone.
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <utility>

#include "kernels/cpu_backend.h"
#include "kernels/cpu_convert.h"
#include "kernels/cpu_loops.h"
#include "kernels/cpu_thread_pool.h"

#ifdef HPO_HAVE_DNNL
#include <dnnl.h>
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
#include <omp.h>
#endif

// oneDNN exports its bf16 GEMM with C linkage but declares it only in an internal header (its bfloat16_t is
// a struct holding the raw bits, so raw uint16_t bits pass unchanged). Row-major, like cblas_sgemm with
// CblasRowMajor: C = alpha * op(A) op(B) + beta * C with fp32 accumulation.
extern "C" dnnl_status_t dnnl_gemm_bf16bf16f32(char transa, char transb, dnnl_dim_t m, dnnl_dim_t n,
                                               dnnl_dim_t k, float alpha, const uint16_t* a, dnnl_dim_t lda,
                                               const uint16_t* b, dnnl_dim_t ldb, float beta, float* c,
                                               dnnl_dim_t ldc);
#endif

namespace hpo::kernels {
namespace {

// GEMMs of at least this many flops (2 m n k) are split over the pool; below it waking a worker (tens of
// microseconds on a busy machine) costs more than the second core gains. Measured on a shared 2-core
// AVX-512 host: OpenBLAS's fp32 GEMMs gain from about 8 MFLOP (~80 us on one core) on; oneDNN's bf16 GEMM
// runs about twice as fast, so it gains only from about 32 MFLOP (in the step of a 784-256-256-10 MLP at
// batch 128: the first layer's two GEMMs, not the 16.8 MFLOP ones of the second).
constexpr double kSplitFlops = 8e6;
constexpr double kSplitFlopsDnnl = 3.2e7;
// Block edges are multiples of this many rows or columns (the SIMD width of the GEMM kernels).
constexpr int64_t kBlockAlign = 16;

// One GEMM, row-major, with its operands' leading dimensions as stored (each at least 1).
struct GemmShape {
  bool ta, tb;
  int64_t m, n, k;
  int64_t lda, ldb, ldc;
};

GemmShape Shape(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k) {
  GemmShape s;
  s.ta = trans_a == Transpose::kYes;
  s.tb = trans_b == Transpose::kYes;
  s.m = m;
  s.n = n;
  s.k = k;
  s.lda = std::max<int64_t>(1, s.ta ? m : k);
  s.ldb = std::max<int64_t>(1, s.tb ? k : n);
  s.ldc = std::max<int64_t>(1, n);
  return s;
}

// Block `part` of C and where its operands start: rows [row, row + rows) and columns [col, col + cols) of
// C, at element offsets a, b, c of A, B, C (the leading dimensions stay those of the whole GEMM).
struct Block {
  int64_t row, rows, col, cols;
  int64_t a, b, c;
};

// The cut of one GEMM into `parts` blocks along rows or columns.
struct Split {
  int parts = 1;
  bool by_rows = false;
  int64_t step = 0;  // rows or columns per block (the last may have fewer)

  Block At(const GemmShape& s, int part) const {
    Block blk{0, s.m, 0, s.n, 0, 0, 0};
    if (parts > 1) {
      const int64_t extent = by_rows ? s.m : s.n;
      const int64_t begin = std::min(extent, part * step);
      const int64_t count = std::min(extent, begin + step) - begin;
      if (by_rows) {
        blk.row = begin;
        blk.rows = count;
      } else {
        blk.col = begin;
        blk.cols = count;
      }
    }
    blk.a = s.ta ? blk.row : blk.row * s.lda;
    blk.b = s.tb ? blk.col * s.ldb : blk.col;
    blk.c = blk.row * s.ldc + blk.col;
    return blk;
  }
};

// The cut of `s` over `threads` threads: a single block below min_flops.
Split PlanSplit(const GemmShape& s, int threads, double min_flops) {
  Split split;
  const double flops = 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
  if (threads <= 1 || flops < min_flops) return split;
  split.by_rows = s.m > s.n;
  const int64_t extent = split.by_rows ? s.m : s.n;
  const int64_t aligned_blocks = (extent + kBlockAlign - 1) / kBlockAlign;
  split.parts = static_cast<int>(std::min<int64_t>(threads, aligned_blocks));
  const int64_t per_part = (extent + split.parts - 1) / split.parts;
  split.step = (per_part + kBlockAlign - 1) / kBlockAlign * kBlockAlign;
  // Rounding the step up may leave the last parts empty; drop them.
  split.parts = static_cast<int>((extent + split.step - 1) / split.step);
  return split;
}

// Whether GEMMs with operands of `dtype` run on oneDNN.
constexpr bool UsesDnnl(DType dtype) {
#ifdef HPO_HAVE_DNNL
  return dtype == DType::kBF16;
#else
  (void)dtype;
  return false;
#endif
}

CBLAS_TRANSPOSE Cblas(bool trans) { return trans ? CblasTrans : CblasNoTrans; }

#ifdef HPO_HAVE_DNNL
// One oneDNN thread per call (a setting of the calling thread): the blocks are the parallelism, and no
// OpenMP team is left spinning between calls.
void OneDnnThreadPerCall() {
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
  omp_set_num_threads(1);
#endif
}
#endif

// fp32 blocks go to oneDNN's dnnl_sgemm where the build has it (its JIT kernels run 1.1-2x faster than
// OpenBLAS's on the trainer's shapes: skinny convolution GEMMs most, bench/trainer's gemm section), else to
// cblas_sgemm.
void SgemmBlock(const GemmShape& s, const Block& blk, float alpha, const float* a, const float* b, float beta,
                float* c, int64_t ldc) {
#ifdef HPO_HAVE_DNNL
  OneDnnThreadPerCall();
  // The arguments were checked (dimensions below 2^31, views large enough), so this cannot fail.
  (void)dnnl_sgemm(s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', blk.rows, blk.cols, s.k, alpha, a + blk.a, s.lda,
                   b + blk.b, s.ldb, beta, c, ldc);
#else
  cblas_sgemm(CblasRowMajor, Cblas(s.ta), Cblas(s.tb), static_cast<int>(blk.rows), static_cast<int>(blk.cols),
              static_cast<int>(s.k), alpha, a + blk.a, static_cast<int>(s.lda), b + blk.b,
              static_cast<int>(s.ldb), beta, c, static_cast<int>(ldc));
#endif
}

void DgemmBlock(const GemmShape& s, const Block& blk, double alpha, const double* a, const double* b,
                double beta, double* c) {
  cblas_dgemm(CblasRowMajor, Cblas(s.ta), Cblas(s.tb), static_cast<int>(blk.rows), static_cast<int>(blk.cols),
              static_cast<int>(s.k), alpha, a + blk.a, static_cast<int>(s.lda), b + blk.b,
              static_cast<int>(s.ldb), beta, c + blk.c, static_cast<int>(s.ldc));
}

// Rounds the fp32 block [blk] of c32 (leading dimension ldc) into the same block of the half C.
template <typename S>
void RoundBlock(const Block& blk, const float* c32, S* c, int64_t ldc) {
  for (int64_t r = 0; r < blk.rows; ++r) {
    const int64_t at = (blk.row + r) * ldc + blk.col;
    Convert(c32 + at, c + at, blk.cols);
  }
}

}  // namespace

Status CpuBackend::GemmImpl(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k,
                            double alpha, ConstView a, ConstView b, double beta, View c) {
  const GemmShape s = Shape(trans_a, trans_b, m, n, k);
  const int64_t size_c = m * n;
  if (size_c == 0) return Status::Ok();
  if (k == 0) {
    // An empty sum: C = beta * C (with beta == 0 ignoring C's old contents), without asking BLAS.
    cpu::DispatchFloating(c.dtype, [&]<typename S>() {
      S* cs = static_cast<S*>(c.data);
      if (beta == 0) {
        std::fill_n(cs, size_c, cpu::StoreValue<S>(0.0));
        return;
      }
      cpu::TileBuffer<S> buf;
      for (int64_t i = 0; i < size_c; i += cpu::kTile) {
        const int64_t count = std::min(cpu::kTile, size_c - i);
        const cpu::Compute<S>* in = cpu::LoadTile(cs + i, count, buf.data());
        cpu::Compute<S>* out = cpu::TileTarget(cs + i, buf.data());
        for (int64_t j = 0; j < count; ++j) out[j] = static_cast<cpu::Compute<S>>(beta) * in[j];
        cpu::StoreTile(out, cs + i, count);
      }
    });
    return Status::Ok();
  }

  const Split split = PlanSplit(s, pool_->threads(), UsesDnnl(a.dtype) ? kSplitFlopsDnnl : kSplitFlops);
  auto run_blocks = [&](const std::function<void(const Block&)>& block) {
    if (split.parts == 1) {
      block(split.At(s, 0));
    } else {
      pool_->Run(split.parts, [&](int part) { block(split.At(s, part)); });
    }
  };
  const auto alpha32 = static_cast<float>(alpha);
  const auto beta32 = static_cast<float>(beta);

  if (a.dtype == DType::kF32) {
    const auto* a32 = static_cast<const float*>(a.data);
    const auto* b32 = static_cast<const float*>(b.data);
    auto* c32 = static_cast<float*>(c.data);
    run_blocks([&](const Block& blk) { SgemmBlock(s, blk, alpha32, a32, b32, beta32, c32 + blk.c, s.ldc); });
    return Status::Ok();
  }
  if (a.dtype == DType::kF64) {
    const auto* a64 = static_cast<const double*>(a.data);
    const auto* b64 = static_cast<const double*>(b.data);
    auto* c64 = static_cast<double*>(c.data);
    run_blocks([&](const Block& blk) { DgemmBlock(s, blk, alpha, a64, b64, beta, c64); });
    return Status::Ok();
  }

  // Half operands. The product lands in fp32: C itself when C is kF32, scratch otherwise (holding C's
  // old values, widened, when beta != 0).
  float* c32 = c.dtype == DType::kF32 ? static_cast<float*>(c.data)
                                      : ScratchFloats(kGemmC, static_cast<size_t>(size_c));
  if (c.dtype != DType::kF32 && beta != 0) {
    cpu::DispatchFloating(c.dtype, [&]<typename S>() {
      if constexpr (!cpu::kDirect<S>) Convert(static_cast<const S*>(c.data), c32, size_c);
    });
  }
  std::function<void(const Block&)> multiply;
#ifdef HPO_HAVE_DNNL
  if (UsesDnnl(a.dtype)) {
    const auto* a16 = static_cast<const uint16_t*>(a.data);
    const auto* b16 = static_cast<const uint16_t*>(b.data);
    multiply = [&s, a16, b16, alpha32, beta32, c32](const Block& blk) {
      OneDnnThreadPerCall();
      // The arguments were checked (dimensions below 2^31, views large enough), so this cannot fail.
      (void)dnnl_gemm_bf16bf16f32(s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', blk.rows, blk.cols, s.k, alpha32,
                                  a16 + blk.a, s.lda, b16 + blk.b, s.ldb, beta32, c32 + blk.c, s.ldc);
    };
  }
#endif
  float* a32 = nullptr;
  float* b32 = nullptr;
  if (!multiply) {
    // Widen A and B to fp32 scratch, split over the pool like the product.
    a32 = ScratchFloats(kGemmA, static_cast<size_t>(m * k));
    b32 = ScratchFloats(kGemmB, static_cast<size_t>(k * n));
    cpu::DispatchFloating(a.dtype, [&]<typename S>() {
      if constexpr (!cpu::kDirect<S>) {
        const auto* as = static_cast<const S*>(a.data);
        const auto* bs = static_cast<const S*>(b.data);
        pool_->Run(split.parts, [&](int part) {
          auto range = [&](int64_t count) {
            const int64_t per = (count + split.parts - 1) / split.parts;
            const int64_t begin = std::min(count, part * per);
            return std::pair<int64_t, int64_t>(begin, std::min(count, begin + per) - begin);
          };
          const auto [a_begin, a_count] = range(m * k);
          const auto [b_begin, b_count] = range(k * n);
          Convert(as + a_begin, a32 + a_begin, a_count);
          Convert(bs + b_begin, b32 + b_begin, b_count);
        });
      }
    });
    multiply = [&](const Block& blk) { SgemmBlock(s, blk, alpha32, a32, b32, beta32, c32 + blk.c, s.ldc); };
  }
  cpu::DispatchFloating(c.dtype, [&]<typename S>() {
    run_blocks([&](const Block& blk) {
      multiply(blk);
      if constexpr (!cpu::kDirect<S>) RoundBlock(blk, c32, static_cast<S*>(c.data), s.ldc);
    });
  });
  return Status::Ok();
}

}  // namespace hpo::kernels
