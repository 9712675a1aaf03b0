// Backend: the compute device that trains and runs a model. It owns device memory (Buffer) and offers
// exactly the operations a mixed-precision MLP needs: GEMM with fp32 accumulation, fused bias + activation
// (forward and backward), softmax cross-entropy with label smoothing, dropout, layer norm, casts, the
// fused overflow check + gradient norm, the SGD-momentum and AdamW updates writing the half copy, and an
// accuracy count. The CPU backend runs them on OpenBLAS; the CUDA backend on cuBLAS and kernels; both call
// the element math of kernels/element.h, kernels/half.h and kernels/philox.h.
//
// Memory model: every View passed to an operation points into memory of the backend that runs the
// operation ("device memory", which for the CPU backend is ordinary host memory that callers must
// still treat as opaque); host data moves only through Upload/Download. Operations check their
// arguments (dimensions, element types, view sizes) and answer INVALID_ARGUMENT rather than touching
// memory out of range.
// Matrices are row-major and contiguous: an r x c matrix occupies r * c consecutive elements.
//
// Thread-safety: a Backend is not thread-safe; one owner (one training run) uses it at a time.
// Operations may run asynchronously on a device; Synchronize() waits for them and reports any error
// they hit. Ownership: MakeBackend returns the sole owner; every Buffer must be destroyed before the
// Backend that allocated it.
#ifndef HPO_KERNELS_BACKEND_H_
#define HPO_KERNELS_BACKEND_H_

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "kernels/element.h"
#include "kernels/half.h"

namespace hpo::kernels {

// Element types of backend memory. kF32 holds master weights, gradients and fp32 activations; kF16 and
// kBF16 the half copies of weights and activations of mixed-precision training (stored as raw bits, see
// kernels/half.h); kF64 is the CPU backend's exact reference path (gradient checks); kI32 holds labels.
enum class DType : uint8_t { kF32 = 0, kF64 = 1, kI32 = 2, kF16 = 3, kBF16 = 4 };

size_t DTypeSize(DType dtype);
// "f32", "f64", "i32", "f16", "bf16".
std::string_view DTypeName(DType dtype);
// kF32, kF64, kF16, kBF16.
bool IsFloating(DType dtype);
// kF16, kBF16.
bool IsHalf(DType dtype);
// The type that sums and statistics of `dtype` values are computed and stored in: kF64 for kF64, kF32
// for every other floating type.
DType AccumulationType(DType dtype);
std::string_view ActivationName(Activation activation);

template <typename T>
constexpr DType DTypeOf();
template <>
constexpr DType DTypeOf<float>() {
  return DType::kF32;
}
template <>
constexpr DType DTypeOf<double>() {
  return DType::kF64;
}
template <>
constexpr DType DTypeOf<int32_t>() {
  return DType::kI32;
}
template <>
constexpr DType DTypeOf<Half>() {
  return DType::kF16;
}
template <>
constexpr DType DTypeOf<BFloat16>() {
  return DType::kBF16;
}

// A non-owning window of `size` elements of `dtype` at `data`, in a backend's memory. Cheap to copy.
struct View {
  void* data = nullptr;
  size_t size = 0;
  DType dtype = DType::kF32;

  // Elements [offset, offset + count). Out of range: asserts in debug builds, an empty view otherwise
  // (which every operation then rejects as too small).
  View Sub(size_t offset, size_t count) const {
    assert(offset <= size && count <= size - offset);
    if (offset > size || count > size - offset) return View{nullptr, 0, dtype};
    return View{static_cast<char*>(data) + offset * DTypeSize(dtype), count, dtype};
  }
};

struct ConstView {
  const void* data = nullptr;
  size_t size = 0;
  DType dtype = DType::kF32;

  ConstView() = default;
  ConstView(const void* d, size_t n, DType t) : data(d), size(n), dtype(t) {}
  ConstView(const View& v) : data(v.data), size(v.size), dtype(v.dtype) {}  // NOLINT: implicit by design

  ConstView Sub(size_t offset, size_t count) const {
    assert(offset <= size && count <= size - offset);
    if (offset > size || count > size - offset) return ConstView{nullptr, 0, dtype};
    return ConstView{static_cast<const char*>(data) + offset * DTypeSize(dtype), count, dtype};
  }
};

class Backend;

// Backend memory of `size` elements of one DType, zero-filled at allocation. Move-only; frees itself
// through the backend that allocated it, which must outlive it.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();

  size_t size() const { return size_; }
  DType dtype() const { return dtype_; }
  View view() { return View{data_, size_, dtype_}; }
  ConstView view() const { return ConstView{data_, size_, dtype_}; }
  View Sub(size_t offset, size_t count) { return view().Sub(offset, count); }
  ConstView Sub(size_t offset, size_t count) const { return view().Sub(offset, count); }

 private:
  friend class Backend;
  Buffer(Backend* owner, void* data, size_t size, DType dtype)
      : owner_(owner), data_(data), size_(size), dtype_(dtype) {}
  void Release();

  Backend* owner_ = nullptr;
  void* data_ = nullptr;
  size_t size_ = 0;
  DType dtype_ = DType::kF32;
};

enum class BackendKind { kAuto, kCpu, kCuda };
// "auto", "cpu", "cuda".
std::string_view BackendKindName(BackendKind kind);
// The inverse of BackendKindName; INVALID_ARGUMENT naming the text otherwise.
Result<BackendKind> ParseBackendKind(std::string_view name);

enum class Transpose { kNo, kYes };

// Hyperparameters of one SGD-momentum step (see SgdMomentumElement in kernels/element.h).
struct SgdHyper {
  double lr = 0.01;
  double momentum = 0.9;
  double weight_decay = 0.0;  // L2, added to the (unscaled) gradient
  bool nesterov = false;
};

// Hyperparameters of one AdamW step (see AdamWElement in kernels/element.h).
struct AdamWHyper {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // decoupled: w *= 1 - lr * weight_decay
};

// The per-step coefficients of AdamW at step `step` (1-based), in the scalar type T; grad_scale
// multiplies every gradient before use (1 / loss scale, times a clipping factor).
template <typename T>
AdamWCoeffs<T> MakeAdamWCoeffs(const AdamWHyper& hyper, int64_t step, double grad_scale = 1.0);
template <typename T>
SgdCoeffs<T> MakeSgdCoeffs(const SgdHyper& hyper, double grad_scale = 1.0);

// Softmax cross-entropy settings (see Backend::SoftmaxCrossEntropy).
struct LossOptions {
  double label_smoothing = 0.0;  // epsilon in [0, 1)
  double grad_scale = 1.0;       // multiplies the gradient (the loss scale of fp16 training); finite, > 0
};

// What one fused pass over a gradient finds (Backend::GradientStats).
struct GradStats {
  double sum_squares = 0;  // sum of g^2 over the finite elements, accumulated in fp32 (f64 for f64)
  bool finite = true;      // false when any element is inf or NaN
};

// The compute device of one training run. The public operations check their arguments here, in the base
// class, identically for every backend (NVI): dimensions in [0, 2^31-1], element types as documented,
// views large enough and non-null. A violation is INVALID_ARGUMENT naming the operation and the argument;
// nothing is touched then. The protected *Impl methods see only checked arguments.
//
// Precision semantics, common to all backends: half values (kF16, kBF16) are loaded exactly into fp32,
// every computation runs in fp32 (fp64 for kF64), and results are rounded to the destination type to
// nearest even (kernels/half.h). GEMMs accumulate in fp32. Reductions over rows or whole buffers accumulate
// in AccumulationType; the order of a sum is fixed on the CPU (so fixed-seed runs repeat bit for bit) and
// backend-defined elsewhere.
class Backend {
 public:
  virtual ~Backend() = default;

  virtual BackendKind kind() const = 0;
  // Human-readable device, stored with latency figures, e.g. "cpu: AMD EPYC 7B13 (1 thread)",
  // "cuda: NVIDIA H100 80GB HBM3".
  virtual std::string DeviceName() const = 0;

  // Zero-filled memory for `count` elements of `dtype`. RESOURCE_EXHAUSTED when it cannot be had.
  Result<Buffer> Allocate(size_t count, DType dtype);
  // Bytes of live Buffers of this backend now, and the most there ever were at once.
  size_t bytes_in_use() const { return bytes_in_use_; }
  size_t peak_bytes() const { return peak_bytes_; }

  // Host -> backend: copies src into dst[0, src.size()). INVALID_ARGUMENT when dst's element type is not
  // T or dst is smaller than src.
  template <typename T>
  Status Upload(std::span<const T> src, View dst) {
    if (dst.dtype != DTypeOf<T>()) return TypeMismatch("Upload", dst.dtype, DTypeOf<T>());
    if (dst.size < src.size()) return SizeMismatch("Upload", dst.size, src.size());
    if (src.empty()) return Status::Ok();
    return CopyToDevice(src.data(), dst.data, src.size_bytes());
  }
  // Backend -> host: copies src[0, dst.size()) into dst. Waits for pending work.
  template <typename T>
  Status Download(ConstView src, std::span<T> dst) {
    if (src.dtype != DTypeOf<T>()) return TypeMismatch("Download", src.dtype, DTypeOf<T>());
    if (src.size < dst.size()) return SizeMismatch("Download", src.size, dst.size());
    if (dst.empty()) return Status::Ok();
    return CopyToHost(src.data, dst.data(), dst.size_bytes());
  }

  // Sets every element of dst (any type) to value, converted (rounded) to dst's type; for kI32 to nearest,
  // INVALID_ARGUMENT when value is outside the int32 range or NaN.
  Status Fill(View dst, double value);

  // dst[i] = src[i] rounded to dst's type, for i < src.size(); both floating, dst.size() >= src.size().
  // Same types: a copy. src and dst may not overlap, except that dst may be src itself (then nothing
  // changes). Used for fp32 -> half inputs and half -> fp32 outputs.
  Status Cast(ConstView src, View dst);

  // C = alpha * op(A) * op(B) + beta * C with op(A) m x k, op(B) k x n, C m x n; A is stored m x k
  // (k x m when transposed), B k x n (n x k when transposed). A and B share one floating type; C has that
  // type too, or kF32 when A and B are half. Products accumulate in fp32 (fp64 for kF64) and the result is
  // rounded to C's type once. When beta == 0, C's old contents are ignored (NaN included). C may not overlap
  // A or B.
  Status Gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, double alpha,
              ConstView a, ConstView b, double beta, View c);

  // Fused bias + activation, in place on the pre-activation: for r < rows, c < cols
  //   z[r,c] = z[r,c] + bias[c];  y[r,c] = act(z[r,c])   (both rounded to the type once computed).
  // z, y and bias (empty: no bias) share one floating type. y may be z itself (then the pre-activation is
  // lost, which is fine for kIdentity and for inference).
  Status BiasActivationForward(Activation act, int64_t rows, int64_t cols, ConstView bias, View z, View y);

  // Backward of the above: dz[r,c] = dy[r,c] * act'(z[r,c]) and, unless dbias is empty,
  // dbias[c] = sum_r dz[r,c] (overwritten; summed in fp32 from the unrounded products). z, dy, dz share one
  // floating type T; dbias is AccumulationType(T). dz may be dy itself (in place).
  Status BiasActivationBackward(Activation act, int64_t rows, int64_t cols, ConstView z, ConstView dy,
                                View dz, View dbias);

  // Softmax cross-entropy with integer labels (kI32, each in [0, cols)) and label smoothing eps, mean over
  // the rows. With targets t[r,c] = (1 - eps) [c == labels[r]] + eps / cols:
  //   loss[0] = (1/rows) sum_r (logsumexp(logits[r,:]) - sum_c t[r,c] logits[r,c])
  // written into the first element of `loss` (AccumulationType of the logits) so that training needs no
  // host round trip per step. Unless dlogits (the logits' type) is empty it also writes the gradient of
  // that mean times options.grad_scale:
  //   dlogits[r,c] = grad_scale * (softmax(logits[r,:])[c] - t[r,c]) / rows.
  // A label out of range is INVALID_ARGUMENT on the CPU; a device backend reports it from Synchronize.
  Status SoftmaxCrossEntropy(const LossOptions& options, int64_t rows, int64_t cols, ConstView logits,
                             ConstView labels, View loss, View dlogits);

  // Number of rows r whose argmax over logits[r,:] (the first maximum) equals labels[r]. The count is
  // returned to the host, so this waits for pending work.
  Result<int64_t> CountCorrect(int64_t rows, int64_t cols, ConstView logits, ConstView labels);

  // Inverted dropout with drop probability p in [0, 1): y[i] = x[i] / (1 - p) where element i is kept,
  // 0 where it is dropped. Element i is kept iff DropoutKeep(seed, stream, i, DropoutThreshold(p))
  // (kernels/philox.h), so every backend drops the same elements, and the backward pass is this same call
  // on the gradients with the same (seed, stream). x and y share one floating type and size; y may be x (in
  // place). p == 0 copies.
  Status Dropout(double p, uint64_t seed, uint64_t stream, ConstView x, View y);

  // Layer normalisation over each row of x (rows x cols), with gain gamma and shift beta (cols each):
  //   mean[r] = sum_c x[r,c] / cols;  var[r] = sum_c (x[r,c] - mean[r])^2 / cols;
  //   rstd[r] = 1 / sqrt(var[r] + eps);  y[r,c] = (x[r,c] - mean[r]) * rstd[r] * gamma[c] + beta[c].
  // x, y, gamma, beta share one floating type T; mean and rstd (rows each, kept for the backward pass) are
  // AccumulationType(T). eps > 0. y may not alias x.
  Status LayerNormForward(int64_t rows, int64_t cols, double eps, ConstView x, ConstView gamma,
                          ConstView beta, View y, View mean, View rstd);

  // Backward of the above, with xhat = (x - mean) rstd and g = dy * gamma:
  //   dx[r,c] = rstd[r] (g[r,c] - mean_c(g[r,:]) - xhat[r,c] mean_c(g[r,:] xhat[r,:]))
  //   dgamma[c] = sum_r dy[r,c] xhat[r,c];  dbeta[c] = sum_r dy[r,c]   (both overwritten).
  // x, gamma, dy, dx share type T; mean, rstd, dgamma, dbeta are AccumulationType(T). dx may be dy.
  Status LayerNormBackward(int64_t rows, int64_t cols, ConstView x, ConstView gamma, ConstView mean,
                           ConstView rstd, ConstView dy, View dx, View dgamma, View dbeta);

  // y[i] = y[i] + alpha * x[i] for i < x.size() (residual connections); same floating type,
  // y.size() >= x.size().
  Status Axpy(double alpha, ConstView x, View y);

  // One fused reduction over g (floating): the sum of squares of its finite elements and whether every
  // element is finite (the overflow check of loss scaling and the norm of clipping in one pass). Waits
  // for pending work and returns the result to the host.
  Result<GradStats> GradientStats(ConstView g);

  // One SGD-momentum step on every element from gradient g * grad_scale: w, g, velocity of equal size
  // and one type (kF32, or kF64), not overlapping. Unless w_copy is empty (then of the same size, any
  // floating type) the new weights are also written there, rounded (the half copy of mixed precision).
  Status SgdMomentumUpdate(const SgdHyper& hyper, double grad_scale, View w, ConstView g, View velocity,
                           View w_copy);

  // One AdamW step number `step` (1-based, for the bias corrections) from gradient g * grad_scale: w, g,
  // m, v of equal size and one type (kF32 or kF64), not overlapping; w_copy as for SgdMomentumUpdate.
  Status AdamWUpdate(const AdamWHyper& hyper, int64_t step, double grad_scale, View w, ConstView g, View m,
                     View v, View w_copy);

  // Waits until every operation issued so far has finished; reports the first error any of them hit.
  virtual Status Synchronize() = 0;

  // Runs `work` once and returns how long the device took, in milliseconds: CUDA events around it on a
  // GPU; on the CPU the steady clock around work + Synchronize. Returns work's error, if any.
  virtual Result<double> TimeMs(const std::function<Status()>& work);

 protected:
  virtual Result<void*> AllocateBytes(size_t bytes) = 0;
  virtual void FreeBytes(void* data) = 0;
  virtual Status CopyToDevice(const void* host, void* device, size_t bytes) = 0;
  virtual Status CopyToHost(const void* device, void* host, size_t bytes) = 0;

  // The operations above, after the checks; same contracts.
  virtual Status FillImpl(View dst, double value) = 0;
  virtual Status CastImpl(ConstView src, View dst) = 0;
  virtual Status GemmImpl(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                          ConstView a, ConstView b, double beta, View c) = 0;
  virtual Status BiasActivationForwardImpl(Activation act, int64_t rows, int64_t cols, ConstView bias, View z,
                                           View y) = 0;
  virtual Status BiasActivationBackwardImpl(Activation act, int64_t rows, int64_t cols, ConstView z,
                                            ConstView dy, View dz, View dbias) = 0;
  virtual Status SoftmaxCrossEntropyImpl(const LossOptions& options, int64_t rows, int64_t cols,
                                         ConstView logits, ConstView labels, View loss, View dlogits) = 0;
  virtual Result<int64_t> CountCorrectImpl(int64_t rows, int64_t cols, ConstView logits,
                                           ConstView labels) = 0;
  virtual Status DropoutImpl(double p, uint64_t seed, uint64_t stream, ConstView x, View y) = 0;
  virtual Status LayerNormForwardImpl(int64_t rows, int64_t cols, double eps, ConstView x, ConstView gamma,
                                      ConstView beta, View y, View mean, View rstd) = 0;
  virtual Status LayerNormBackwardImpl(int64_t rows, int64_t cols, ConstView x, ConstView gamma,
                                       ConstView mean, ConstView rstd, ConstView dy, View dx, View dgamma,
                                       View dbeta) = 0;
  virtual Status AxpyImpl(double alpha, ConstView x, View y) = 0;
  virtual Result<GradStats> GradientStatsImpl(ConstView g) = 0;
  virtual Status SgdMomentumUpdateImpl(const SgdHyper& hyper, double grad_scale, View w, ConstView g,
                                       View velocity, View w_copy) = 0;
  virtual Status AdamWUpdateImpl(const AdamWHyper& hyper, int64_t step, double grad_scale, View w,
                                 ConstView g, View m, View v, View w_copy) = 0;

 private:
  friend class Buffer;
  static Status TypeMismatch(std::string_view op, DType have, DType want);
  static Status SizeMismatch(std::string_view op, size_t have, size_t want);
  void Released(size_t bytes) { bytes_in_use_ -= bytes; }

  size_t bytes_in_use_ = 0;
  size_t peak_bytes_ = 0;
};

struct BackendOptions {
  // CPU: threads of the backend's own pool, the caller's included (large GEMMs split over them; the BLAS
  // libraries themselves run single-threaded). >= 1. Ignored by the CUDA backend.
  int threads = 1;
  // CUDA: device ordinal.
  int device = 0;
};

// Returns the backend of `kind`:
//   kCpu  -> the CPU backend (INVALID_ARGUMENT for bad options);
//   kCuda -> the CUDA backend on options.device; FAILED_PRECONDITION when that device does not answer or
//            this build has no CUDA support;
//   kAuto -> the CUDA backend when this build has CUDA and a device answers, the CPU backend otherwise.
Result<std::unique_ptr<Backend>> MakeBackend(BackendKind kind, const BackendOptions& options);

}  // namespace hpo::kernels

#endif  // HPO_KERNELS_BACKEND_H_
