#include "kernels/cpu_backend.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <utility>

#include "base/host.h"
#include "kernels/element.h"

namespace hpo::kernels {
namespace {

constexpr std::align_val_t kAlignment{64};

// The element loops are compiled twice on x86-64, for AVX2 and for the baseline, and the loader picks one
// (GCC/Clang function multiversioning). Both clones compute the same IEEE operations (no FMA contraction
// in ISO mode, sqrt and division correctly rounded, libm calls shared), so results do not depend on it.
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define HPO_CPU_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef HPO_CPU_CLONES
#define HPO_CPU_CLONES
#endif

bool IsFloat(DType dtype) { return dtype == DType::kF32 || dtype == DType::kF64; }

// Dimensions must be in [0, INT32_MAX]: OpenBLAS's (LP64) interface takes int.
Status CheckDim(std::string_view op, std::string_view name, int64_t value) {
  if (value < 0 || value > std::numeric_limits<int32_t>::max()) {
    return InvalidArgumentError(std::string(op) + ": " + std::string(name) + " = " + std::to_string(value) +
                                " is out of range [0, 2^31-1]");
  }
  return Status::Ok();
}

// `view` must be of type `want` and hold at least `need` elements.
Status CheckView(std::string_view op, std::string_view name, const ConstView& view, DType want,
                 int64_t need) {
  if (view.dtype != want) {
    return InvalidArgumentError(std::string(op) + ": " + std::string(name) + " has element type " +
                                std::string(DTypeName(view.dtype)) + ", expected " +
                                std::string(DTypeName(want)));
  }
  if (view.size < static_cast<size_t>(need) || (need > 0 && view.data == nullptr)) {
    return InvalidArgumentError(std::string(op) + ": " + std::string(name) + " holds " +
                                std::to_string(view.size) + " elements, needs " + std::to_string(need));
  }
  return Status::Ok();
}

Status CheckFloatType(std::string_view op, std::string_view name, DType dtype) {
  if (!IsFloat(dtype)) {
    return UnimplementedError(std::string(op) + ": " + std::string(name) + " has element type " +
                              std::string(DTypeName(dtype)) + "; the CPU backend computes in f32 or f64");
  }
  return Status::Ok();
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
    case Activation::kIdentity:
      f.template operator()<Activation::kIdentity>();
      return;
  }
}

template <Activation A, typename T>
HPO_CPU_CLONES void BiasActivationForwardLoop(int64_t rows, int64_t cols, const T* bias, T* z, T* y) {
  for (int64_t r = 0; r < rows; ++r) {
    T* zr = z + r * cols;
    T* yr = y + r * cols;
    if (bias != nullptr) {
      for (int64_t c = 0; c < cols; ++c) {
        const T v = zr[c] + bias[c];
        zr[c] = v;
        yr[c] = Activate<A>(v);
      }
    } else {
      for (int64_t c = 0; c < cols; ++c) yr[c] = Activate<A>(zr[c]);
    }
  }
}

template <Activation A, typename T>
HPO_CPU_CLONES void BiasActivationBackwardLoop(int64_t rows, int64_t cols, const T* z, const T* dy, T* dz,
                                               T* dbias) {
  if (dbias != nullptr) {
    for (int64_t c = 0; c < cols; ++c) dbias[c] = T(0);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const T* zr = z + r * cols;
    const T* dyr = dy + r * cols;
    T* dzr = dz + r * cols;
    for (int64_t c = 0; c < cols; ++c) dzr[c] = ActivateBackward<A>(zr[c], dyr[c]);
    // A separate pass, so that both loops vectorise; the sums run row by row, in a fixed order.
    if (dbias != nullptr) {
      for (int64_t c = 0; c < cols; ++c) dbias[c] += dzr[c];
    }
  }
}

template <typename T>
Status SoftmaxCrossEntropyLoop(int64_t rows, int64_t cols, const T* logits, const int32_t* labels, T* loss,
                               T* dlogits) {
  double total = 0.0;
  const T inv_rows = T(1) / static_cast<T>(rows);
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = logits + r * cols;
    const int32_t label = labels[r];
    if (label < 0 || label >= cols) {
      return InvalidArgumentError("SoftmaxCrossEntropy: label " + std::to_string(label) + " of row " +
                                  std::to_string(r) + " is outside [0, " + std::to_string(cols) + ")");
    }
    T max = row[0];
    for (int64_t c = 1; c < cols; ++c) max = row[c] > max ? row[c] : max;
    T sum = T(0);
    if (dlogits != nullptr) {
      T* drow = dlogits + r * cols;
      for (int64_t c = 0; c < cols; ++c) {
        drow[c] = ElementExp(row[c] - max);
        sum += drow[c];
      }
      const T scale = inv_rows / sum;
      for (int64_t c = 0; c < cols; ++c) drow[c] *= scale;
      drow[label] -= inv_rows;
    } else {
      for (int64_t c = 0; c < cols; ++c) sum += ElementExp(row[c] - max);
    }
    total += static_cast<double>(max + ElementLog(sum) - row[label]);
  }
  loss[0] = static_cast<T>(total / static_cast<double>(rows));
  return Status::Ok();
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

template <typename T>
int64_t CountCorrectLoop(int64_t rows, int64_t cols, const T* logits, const int32_t* labels) {
  int64_t correct = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = logits + r * cols;
    int64_t best = 0;
    for (int64_t c = 1; c < cols; ++c) {
      if (row[c] > row[best]) best = c;
    }
    if (best == labels[r]) ++correct;
  }
  return correct;
}

}  // namespace

Result<std::unique_ptr<CpuBackend>> CpuBackend::Create(const BackendOptions& options) {
  if (options.threads < 1 || options.threads > kMaxThreads) {
    return InvalidArgumentError("threads: " + std::to_string(options.threads) + " is out of range [1, " +
                                std::to_string(kMaxThreads) + "]");
  }
  openblas_set_num_threads(options.threads);
  return std::unique_ptr<CpuBackend>(new CpuBackend(options.threads, CpuModelName()));
}

std::string CpuBackend::DeviceName() const {
  return "cpu: " + cpu_model_ + " (" + std::to_string(threads_) + (threads_ == 1 ? " thread)" : " threads)");
}

Result<void*> CpuBackend::AllocateBytes(size_t bytes) {
  void* data = ::operator new(bytes, kAlignment, std::nothrow);
  if (data == nullptr) {
    return ResourceExhaustedError("Allocate: out of host memory for " + std::to_string(bytes) + " bytes");
  }
  std::memset(data, 0, bytes);
  return data;
}

void CpuBackend::FreeBytes(void* data) { ::operator delete(data, kAlignment); }

Status CpuBackend::CopyToDevice(const void* host, void* device, size_t bytes) {
  if (bytes > 0) std::memcpy(device, host, bytes);
  return Status::Ok();
}

Status CpuBackend::CopyToHost(const void* device, void* host, size_t bytes) {
  if (bytes > 0) std::memcpy(host, device, bytes);
  return Status::Ok();
}

Status CpuBackend::Fill(View dst, double value) {
  if (dst.size > 0 && dst.data == nullptr) return InvalidArgumentError("Fill: null view");
  switch (dst.dtype) {
    case DType::kF32: {
      float* p = static_cast<float*>(dst.data);
      for (size_t i = 0; i < dst.size; ++i) p[i] = static_cast<float>(value);
      break;
    }
    case DType::kF64: {
      double* p = static_cast<double*>(dst.data);
      for (size_t i = 0; i < dst.size; ++i) p[i] = value;
      break;
    }
    case DType::kI32: {
      int32_t* p = static_cast<int32_t*>(dst.data);
      for (size_t i = 0; i < dst.size; ++i) p[i] = static_cast<int32_t>(value);
      break;
    }
  }
  return Status::Ok();
}

Status CpuBackend::Gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                        ConstView a, ConstView b, double beta, View c) {
  constexpr std::string_view kOp = "Gemm";
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "m", m));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "n", n));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "k", k));
  HPO_RETURN_IF_ERROR(CheckFloatType(kOp, "c", c.dtype));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "a", a, c.dtype, m * k));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "b", b, c.dtype, k * n));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "c", c, c.dtype, m * n));
  if (m == 0 || n == 0) return Status::Ok();
  const CBLAS_TRANSPOSE ta = trans_a == Transpose::kYes ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = trans_b == Transpose::kYes ? CblasTrans : CblasNoTrans;
  // Row-major leading dimensions of the matrices as stored; at least 1 even when empty.
  const int lda = static_cast<int>(std::max<int64_t>(1, trans_a == Transpose::kYes ? m : k));
  const int ldb = static_cast<int>(std::max<int64_t>(1, trans_b == Transpose::kYes ? k : n));
  const int ldc = static_cast<int>(n);
  if (c.dtype == DType::kF32) {
    cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
                static_cast<float>(alpha), static_cast<const float*>(a.data), lda,
                static_cast<const float*>(b.data), ldb, static_cast<float>(beta), static_cast<float*>(c.data),
                ldc);
  } else {
    cblas_dgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha,
                static_cast<const double*>(a.data), lda, static_cast<const double*>(b.data), ldb, beta,
                static_cast<double*>(c.data), ldc);
  }
  return Status::Ok();
}

Status CpuBackend::BiasActivationForward(Activation act, int64_t rows, int64_t cols, ConstView bias, View z,
                                         View y) {
  constexpr std::string_view kOp = "BiasActivationForward";
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "rows", rows));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "cols", cols));
  HPO_RETURN_IF_ERROR(CheckFloatType(kOp, "z", z.dtype));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "z", z, z.dtype, rows * cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "y", y, z.dtype, rows * cols));
  const bool has_bias = bias.size > 0;
  if (has_bias) HPO_RETURN_IF_ERROR(CheckView(kOp, "bias", bias, z.dtype, cols));
  if (rows == 0 || cols == 0) return Status::Ok();
  auto run = [&]<typename T>() {
    DispatchActivation(act, [&]<Activation A>() {
      BiasActivationForwardLoop<A, T>(rows, cols, has_bias ? static_cast<const T*>(bias.data) : nullptr,
                                      static_cast<T*>(z.data), static_cast<T*>(y.data));
    });
  };
  if (z.dtype == DType::kF32) {
    run.template operator()<float>();
  } else {
    run.template operator()<double>();
  }
  return Status::Ok();
}

Status CpuBackend::BiasActivationBackward(Activation act, int64_t rows, int64_t cols, ConstView z,
                                          ConstView dy, View dz, View dbias) {
  constexpr std::string_view kOp = "BiasActivationBackward";
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "rows", rows));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "cols", cols));
  HPO_RETURN_IF_ERROR(CheckFloatType(kOp, "dz", dz.dtype));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "z", z, dz.dtype, rows * cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dy", dy, dz.dtype, rows * cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dz", dz, dz.dtype, rows * cols));
  const bool has_bias = dbias.size > 0;
  if (has_bias) HPO_RETURN_IF_ERROR(CheckView(kOp, "dbias", dbias, dz.dtype, cols));
  if (cols == 0) return Status::Ok();
  auto run = [&]<typename T>() {
    DispatchActivation(act, [&]<Activation A>() {
      BiasActivationBackwardLoop<A, T>(rows, cols, static_cast<const T*>(z.data),
                                       static_cast<const T*>(dy.data), static_cast<T*>(dz.data),
                                       has_bias ? static_cast<T*>(dbias.data) : nullptr);
    });
  };
  if (dz.dtype == DType::kF32) {
    run.template operator()<float>();
  } else {
    run.template operator()<double>();
  }
  return Status::Ok();
}

Status CpuBackend::SoftmaxCrossEntropy(int64_t rows, int64_t cols, ConstView logits, ConstView labels,
                                       View loss, View dlogits) {
  constexpr std::string_view kOp = "SoftmaxCrossEntropy";
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "rows", rows));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "cols", cols));
  if (rows == 0 || cols == 0)
    return InvalidArgumentError("SoftmaxCrossEntropy: needs rows >= 1 and cols >= 1");
  HPO_RETURN_IF_ERROR(CheckFloatType(kOp, "logits", logits.dtype));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "logits", logits, logits.dtype, rows * cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "labels", labels, DType::kI32, rows));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "loss", loss, logits.dtype, 1));
  const bool has_grad = dlogits.size > 0;
  if (has_grad) HPO_RETURN_IF_ERROR(CheckView(kOp, "dlogits", dlogits, logits.dtype, rows * cols));
  const auto* label_data = static_cast<const int32_t*>(labels.data);
  if (logits.dtype == DType::kF32) {
    return SoftmaxCrossEntropyLoop<float>(rows, cols, static_cast<const float*>(logits.data), label_data,
                                          static_cast<float*>(loss.data),
                                          has_grad ? static_cast<float*>(dlogits.data) : nullptr);
  }
  return SoftmaxCrossEntropyLoop<double>(rows, cols, static_cast<const double*>(logits.data), label_data,
                                         static_cast<double*>(loss.data),
                                         has_grad ? static_cast<double*>(dlogits.data) : nullptr);
}

Result<int64_t> CpuBackend::CountCorrect(int64_t rows, int64_t cols, ConstView logits, ConstView labels) {
  constexpr std::string_view kOp = "CountCorrect";
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "rows", rows));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "cols", cols));
  if (cols == 0) return InvalidArgumentError("CountCorrect: needs cols >= 1");
  HPO_RETURN_IF_ERROR(CheckFloatType(kOp, "logits", logits.dtype));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "logits", logits, logits.dtype, rows * cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "labels", labels, DType::kI32, rows));
  const auto* label_data = static_cast<const int32_t*>(labels.data);
  if (logits.dtype == DType::kF32) {
    return CountCorrectLoop(rows, cols, static_cast<const float*>(logits.data), label_data);
  }
  return CountCorrectLoop(rows, cols, static_cast<const double*>(logits.data), label_data);
}

Status CpuBackend::SgdMomentumUpdate(const SgdHyper& hyper, View w, ConstView g, View velocity) {
  constexpr std::string_view kOp = "SgdMomentumUpdate";
  HPO_RETURN_IF_ERROR(CheckFloatType(kOp, "w", w.dtype));
  const auto n = static_cast<int64_t>(w.size);
  HPO_RETURN_IF_ERROR(CheckView(kOp, "g", g, w.dtype, n));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "velocity", velocity, w.dtype, n));
  auto run = [&]<typename T>() {
    const SgdCoeffs<T> c{static_cast<T>(hyper.lr), static_cast<T>(hyper.momentum),
                         static_cast<T>(hyper.weight_decay)};
    SgdMomentumLoop(c, n, static_cast<T*>(w.data), static_cast<const T*>(g.data),
                    static_cast<T*>(velocity.data));
  };
  if (w.dtype == DType::kF32) {
    run.template operator()<float>();
  } else {
    run.template operator()<double>();
  }
  return Status::Ok();
}

Status CpuBackend::AdamWUpdate(const AdamWHyper& hyper, int64_t step, View w, ConstView g, View m, View v) {
  constexpr std::string_view kOp = "AdamWUpdate";
  if (step < 1) return InvalidArgumentError("AdamWUpdate: step " + std::to_string(step) + " must be >= 1");
  HPO_RETURN_IF_ERROR(CheckFloatType(kOp, "w", w.dtype));
  const auto n = static_cast<int64_t>(w.size);
  HPO_RETURN_IF_ERROR(CheckView(kOp, "g", g, w.dtype, n));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "m", m, w.dtype, n));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "v", v, w.dtype, n));
  auto run = [&]<typename T>() {
    const AdamWCoeffs<T> c = MakeAdamWCoeffs<T>(hyper, step);
    AdamWLoop(c, n, static_cast<T*>(w.data), static_cast<const T*>(g.data), static_cast<T*>(m.data),
              static_cast<T*>(v.data));
  };
  if (w.dtype == DType::kF32) {
    run.template operator()<float>();
  } else {
    run.template operator()<double>();
  }
  return Status::Ok();
}

}  // namespace hpo::kernels
