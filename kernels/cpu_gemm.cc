// CpuBackend::GemmImpl on OpenBLAS. kF32 and kF64 go straight to cblas_sgemm / cblas_dgemm. Half operands
// are widened to fp32 scratch (exact), multiplied by cblas_sgemm (fp32 accumulation, as on the GPU), and the
// product is rounded once into C when C is half; a C of kF32 receives the product directly.
#include <cblas.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu_backend.h"
#include "kernels/cpu_convert.h"
#include "kernels/cpu_loops.h"

namespace hpo::kernels {
namespace {

struct GemmShape {
  CBLAS_TRANSPOSE ta, tb;
  int m, n, k;
  int lda, ldb, ldc;  // row-major leading dimensions of the matrices as stored; at least 1
};

GemmShape Shape(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k) {
  GemmShape s;
  s.ta = trans_a == Transpose::kYes ? CblasTrans : CblasNoTrans;
  s.tb = trans_b == Transpose::kYes ? CblasTrans : CblasNoTrans;
  s.m = static_cast<int>(m);
  s.n = static_cast<int>(n);
  s.k = static_cast<int>(k);
  s.lda = static_cast<int>(std::max<int64_t>(1, trans_a == Transpose::kYes ? m : k));
  s.ldb = static_cast<int>(std::max<int64_t>(1, trans_b == Transpose::kYes ? k : n));
  s.ldc = static_cast<int>(std::max<int64_t>(1, n));
  return s;
}

void Sgemm(const GemmShape& s, double alpha, const float* a, const float* b, double beta, float* c) {
  cblas_sgemm(CblasRowMajor, s.ta, s.tb, s.m, s.n, s.k, static_cast<float>(alpha), a, s.lda, b, s.ldb,
              static_cast<float>(beta), c, s.ldc);
}

}  // namespace

Status CpuBackend::GemmImpl(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k,
                            double alpha, ConstView a, ConstView b, double beta, View c) {
  const GemmShape s = Shape(trans_a, trans_b, m, n, k);
  const int64_t size_c = m * n;
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
  if (a.dtype == DType::kF32) {
    Sgemm(s, alpha, static_cast<const float*>(a.data), static_cast<const float*>(b.data), beta,
          static_cast<float*>(c.data));
    return Status::Ok();
  }
  if (a.dtype == DType::kF64) {
    cblas_dgemm(CblasRowMajor, s.ta, s.tb, s.m, s.n, s.k, alpha, static_cast<const double*>(a.data), s.lda,
                static_cast<const double*>(b.data), s.ldb, beta, static_cast<double*>(c.data), s.ldc);
    return Status::Ok();
  }
  // Half operands: widen A and B to fp32 scratch.
  float* a32 = ScratchFloats(kGemmA, static_cast<size_t>(m * k));
  float* b32 = ScratchFloats(kGemmB, static_cast<size_t>(k * n));
  cpu::DispatchFloating(a.dtype, [&]<typename S>() {
    if constexpr (!cpu::kDirect<S>) {
      Convert(static_cast<const S*>(a.data), a32, m * k);
      Convert(static_cast<const S*>(b.data), b32, k * n);
    }
  });
  if (c.dtype == DType::kF32) {
    Sgemm(s, alpha, a32, b32, beta, static_cast<float*>(c.data));
    return Status::Ok();
  }
  float* c32 = ScratchFloats(kGemmC, static_cast<size_t>(size_c));
  cpu::DispatchFloating(c.dtype, [&]<typename S>() {
    if constexpr (!cpu::kDirect<S>) {
      S* cs = static_cast<S*>(c.data);
      if (beta != 0) Convert(static_cast<const S*>(cs), c32, size_c);
      Sgemm(s, alpha, a32, b32, beta, c32);
      Convert(static_cast<const float*>(c32), cs, size_c);
    }
  });
  return Status::Ok();
}

}  // namespace hpo::kernels
