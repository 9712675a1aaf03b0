// Backend: the compute device that trains and runs a model. It owns device memory (Buffer) and offers
// exactly the operations an MLP needs: GEMM, fused bias + activation (forward and backward), softmax
// cross-entropy, the SGD-momentum and AdamW updates, and an accuracy count. The CPU backend runs them on
// OpenBLAS; the CUDA backend (a later item) on cuBLAS and the kernels over kernels/element.h.
//
// Memory model: every View passed to an operation points into memory of the backend that runs the
// operation ("device memory", which for the CPU backend is ordinary host memory that callers must
// still treat as opaque); host data moves only through Upload/Download. Operations check their
// arguments (dimensions, element types, view sizes) and answer INVALID_ARGUMENT rather than touching
// memory out of range; UNIMPLEMENTED for an element type a backend does not support.
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
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "kernels/element.h"

namespace hpo::kernels {

// Element types of backend memory. kF32 trains; kF64 is the CPU backend's exact reference path (gradient
// checks); kI32 holds class labels and indices. (kF16 and kBF16 come with mixed precision.)
enum class DType : uint8_t { kF32 = 0, kF64 = 1, kI32 = 2 };

size_t DTypeSize(DType dtype);
std::string_view DTypeName(DType dtype);
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
  double weight_decay = 0.0;  // L2, added to the gradient
};

// Hyperparameters of one AdamW step (see AdamWElement in kernels/element.h).
struct AdamWHyper {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // decoupled: w *= 1 - lr * weight_decay
};

// The per-step coefficients of AdamW at step `step` (1-based), in the scalar type T.
template <typename T>
AdamWCoeffs<T> MakeAdamWCoeffs(const AdamWHyper& hyper, int64_t step);

class Backend {
 public:
  virtual ~Backend() = default;

  virtual BackendKind kind() const = 0;
  // Human-readable device, stored with latency figures, e.g. "cpu: AMD EPYC 7B13 (1 thread)".
  virtual std::string DeviceName() const = 0;

  // Zero-filled memory for `count` elements of `dtype`. RESOURCE_EXHAUSTED when it cannot be had.
  Result<Buffer> Allocate(size_t count, DType dtype);

  // Host -> backend: copies src into dst[0, src.size()). INVALID_ARGUMENT when dst's element type is not
  // T or dst is smaller than src.
  template <typename T>
  Status Upload(std::span<const T> src, View dst) {
    if (dst.dtype != DTypeOf<T>()) return TypeMismatch("Upload", dst.dtype, DTypeOf<T>());
    if (dst.size < src.size()) return SizeMismatch("Upload", dst.size, src.size());
    return CopyToDevice(src.data(), dst.data, src.size_bytes());
  }
  // Backend -> host: copies src[0, dst.size()) into dst. Waits for pending work.
  template <typename T>
  Status Download(ConstView src, std::span<T> dst) {
    if (src.dtype != DTypeOf<T>()) return TypeMismatch("Download", src.dtype, DTypeOf<T>());
    if (src.size < dst.size()) return SizeMismatch("Download", src.size, dst.size());
    return CopyToHost(src.data, dst.data(), dst.size_bytes());
  }

  // Sets every element of dst to value (converted to dst's type).
  virtual Status Fill(View dst, double value) = 0;

  // C = alpha * op(A) * op(B) + beta * C with op(A) m x k, op(B) k x n, C m x n; A is stored m x k
  // (k x m when transposed), B k x n (n x k when transposed). Accumulates in the element type (fp32 for
  // kF32). All three share one floating-point type. When beta == 0, C's old contents are ignored.
  virtual Status Gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                      ConstView a, ConstView b, double beta, View c) = 0;

  // Fused bias + activation, in place on the pre-activation: for r < rows, c < cols
  //   z[r,c] += bias[c];  y[r,c] = act(z[r,c]).
  // bias may be empty (no bias). y may be z itself (then the pre-activation is lost, which is fine for
  // kIdentity and for inference).
  virtual Status BiasActivationForward(Activation act, int64_t rows, int64_t cols, ConstView bias, View z,
                                       View y) = 0;

  // Backward of the above: dz[r,c] = dy[r,c] * act'(z[r,c]) and, unless dbias is empty,
  // dbias[c] = sum_r dz[r,c] (overwritten). dz may be dy itself (in place).
  virtual Status BiasActivationBackward(Activation act, int64_t rows, int64_t cols, ConstView z, ConstView dy,
                                        View dz, View dbias) = 0;

  // Softmax cross-entropy with integer labels (kI32, each in [0, cols)), mean over the rows:
  //   loss[0] = (1/rows) sum_r (logsumexp(logits[r,:]) - logits[r, labels[r]])
  // written into the first element of `loss` (backend memory, same type as logits) so that training
  // needs no host round trip per step. Unless dlogits is empty it also writes the gradient of that mean:
  //   dlogits[r,c] = (softmax(logits[r,:])[c] - [c == labels[r]]) / rows.
  // A label out of range is INVALID_ARGUMENT.
  virtual Status SoftmaxCrossEntropy(int64_t rows, int64_t cols, ConstView logits, ConstView labels,
                                     View loss, View dlogits) = 0;

  // Number of rows r whose argmax over logits[r,:] (the first maximum) equals labels[r]. The count is
  // returned to the host, so this waits for pending work.
  virtual Result<int64_t> CountCorrect(int64_t rows, int64_t cols, ConstView logits, ConstView labels) = 0;

  // One SGD-momentum step on every element: w, g, velocity of equal size and floating-point type, not
  // overlapping.
  virtual Status SgdMomentumUpdate(const SgdHyper& hyper, View w, ConstView g, View velocity) = 0;

  // One AdamW step number `step` (1-based, for the bias corrections): w, g, m, v of equal size and type,
  // not overlapping.
  virtual Status AdamWUpdate(const AdamWHyper& hyper, int64_t step, View w, ConstView g, View m, View v) = 0;

  // Waits until every operation issued so far has finished; reports the first error any of them hit.
  virtual Status Synchronize() = 0;

 protected:
  virtual Result<void*> AllocateBytes(size_t bytes) = 0;
  virtual void FreeBytes(void* data) = 0;
  virtual Status CopyToDevice(const void* host, void* device, size_t bytes) = 0;
  virtual Status CopyToHost(const void* device, void* host, size_t bytes) = 0;

 private:
  friend class Buffer;
  static Status TypeMismatch(std::string_view op, DType have, DType want);
  static Status SizeMismatch(std::string_view op, size_t have, size_t want);
};

struct BackendOptions {
  // CPU: OpenBLAS threads (process-wide in OpenBLAS: the last CPU backend created sets it). >= 1.
  int threads = 1;
  // CUDA: device ordinal.
  int device = 0;
};

// Returns the backend of `kind`:
//   kCpu  -> the CPU backend (INVALID_ARGUMENT for bad options);
//   kCuda -> FAILED_PRECONDITION when no CUDA device answers; UNIMPLEMENTED while this build has no CUDA
//            backend yet (a device answers but the backend is a later work item);
//   kAuto -> the CPU backend for now, without probing for a device; it will pick the CUDA backend once
//            that exists.
Result<std::unique_ptr<Backend>> MakeBackend(BackendKind kind, const BackendOptions& options);

}  // namespace hpo::kernels

#endif  // HPO_KERNELS_BACKEND_H_
