// Backend: the compute device that trains and runs a model. It owns device memory (Buffer) and offers
// exactly the operations mixed-precision MLPs and convolution networks need: GEMM with fp32 accumulation,
// fused bias + activation (forward and backward), softmax cross-entropy with label smoothing, dropout, layer
// norm, im2col / col2im, max and global average pooling, batch norm, casts, the
// fused overflow check + gradient norm, the SGD-momentum and AdamW updates writing the half copy, an
// accuracy count, and for transformers attention (forward and backward) and rotary position embeddings. The
// CPU backend runs them on OpenBLAS; the CUDA backend on cuBLAS and kernels; both call the element math of
// kernels/element.h, kernels/half.h and kernels/philox.h.
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
#include <cmath>
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

// Host memory for staging uploads, `count` elements of T (Backend::AllocateHost): page-locked on a device
// backend where it can be had, so that Upload from it is asynchronous (keep it unchanged until the
// backend's next wait); ordinary memory on the CPU. Zero-filled. Move-only; frees itself through the
// backend that allocated it, which must outlive it.
class HostBuffer {
 public:
  HostBuffer() = default;
  HostBuffer(HostBuffer&& other) noexcept;
  HostBuffer& operator=(HostBuffer&& other) noexcept;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  ~HostBuffer();

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  friend class Backend;
  HostBuffer(Backend* owner, void* data, size_t bytes) : owner_(owner), data_(data), bytes_(bytes) {}
  void Release();

  Backend* owner_ = nullptr;
  void* data_ = nullptr;
  size_t bytes_ = 0;
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

// The geometry of a 2-D window (convolution or pooling) over an NHWC activation: `batch` images of
// height x width pixels and `channels` channels, stored as a (batch*height*width) x channels row-major
// matrix, so that element (n, h, w, c) is at ((n * height + h) * width + w) * channels + c. A window of
// kernel_h x kernel_w pixels moves by stride_h / stride_w over the image padded by pad_h / pad_w pixels on
// each side; output pixel (oh, ow) covers input rows oh * stride_h - pad_h + [0, kernel_h) and columns
// ow * stride_w - pad_w + [0, kernel_w). Im2Col, Col2Im and the max pool operations check it
// (INVALID_ARGUMENT naming the field): every field in [1, 2^31-1] except the pads, which are in [0, 2^31-1];
// an output of at least 1 x 1; and the matrices it implies (batch*height*width rows,
// batch*out_height*out_width rows, kernel_h*kernel_w*channels columns) no larger than 2^31-1 in either
// dimension.
struct Conv2dShape {
  int64_t batch = 1;
  int64_t height = 1;
  int64_t width = 1;
  int64_t channels = 1;
  int64_t kernel_h = 1;
  int64_t kernel_w = 1;
  int64_t stride_h = 1;
  int64_t stride_w = 1;
  int64_t pad_h = 0;
  int64_t pad_w = 0;

  // (height + 2 pad_h - kernel_h) / stride_h + 1, and 0 when the window does not fit the padded image
  // (or the stride is not positive), so that an impossible shape never looks like a 1-pixel output.
  int64_t out_height() const { return OutExtent(height, kernel_h, stride_h, pad_h); }
  int64_t out_width() const { return OutExtent(width, kernel_w, stride_w, pad_w); }
  // Elements of the input (batch * height * width * channels).
  int64_t input_size() const { return batch * height * width * channels; }
  // Rows of the output matrices: batch * out_height * out_width.
  int64_t out_pixels() const { return batch * out_height() * out_width(); }
  // Columns of the Im2Col matrix: kernel_h * kernel_w * channels.
  int64_t patch_size() const { return kernel_h * kernel_w * channels; }

 private:
  static int64_t OutExtent(int64_t in, int64_t kernel, int64_t stride, int64_t pad) {
    if (stride <= 0 || in + 2 * pad < kernel) return 0;
    return (in + 2 * pad - kernel) / stride + 1;
  }
};

// The geometry of one attention call (Backend::AttentionForward / AttentionBackward). Layouts, row-major:
// q and o are [batch, q_len, heads, head_dim]; k and v [batch, kv_len, kv_heads, head_dim]; query head h
// reads kv head h / (heads / kv_heads), so kv_heads == heads is multi-head attention, 1 < kv_heads < heads
// grouped-query attention (GQA) and kv_heads == 1 multi-query attention (MQA).
//
// Query i sits at position p = q_offset + i among the keys: 0 in training and for encoders, kv_len - q_len
// when decoding against a KV cache. Key j is visible to position p when
//   causal:       j <= p;
//   window > 0:   additionally p - j < window when causal, |p - j| < window when not (sliding window);
// so every query sees a contiguous range of keys (AttentionVisibleKeys of kernels/element.h). Its score is
//   score_ij = scale * (q_i . k_j) - slope_h * |p - j|   (the second term only with ALiBi, Press et al.
//   2022, slope_h = 2^(-8 (h + 1) / heads)),
// and scale = 0 means 1 / sqrt(head_dim).
//
// Valid (checked by the operations, INVALID_ARGUMENT naming the field): batch, q_len, kv_len in [0, 2^31-1]
// (0 is an empty problem: nothing to compute, or for kv_len = 0 queries that see no key); heads, kv_heads,
// head_dim in [1, 2^31-1] with heads % kv_heads == 0 and head_dim <= kMaxAttentionHeadDim (the largest the
// CUDA kernels hold; the CPU backend has the same bound, so a model runs on either); batch * q_len,
// batch * kv_len, heads * head_dim and q_offset + q_len in [0, 2^31-1]; q_offset and window in [0, 2^31-1];
// scale finite and >= 0.
struct AttentionShape {
  int64_t batch = 1, q_len = 1, kv_len = 1, heads = 1, kv_heads = 1, head_dim = 1;
  int64_t q_offset = 0;  // position of query 0 among the keys
  bool causal = false;   // query at position p sees keys j <= p only
  int64_t window = 0;    // 0: no window; else the sliding window described above
  bool alibi = false;    // add the ALiBi bias -slope_h |p - j|
  double scale = 0;      // multiplies q . k; 0 means 1 / sqrt(head_dim)

  // Elements of q and o, of k and v, and of lse.
  int64_t q_elements() const { return batch * q_len * heads * head_dim; }
  int64_t kv_elements() const { return batch * kv_len * kv_heads * head_dim; }
  int64_t lse_elements() const { return batch * heads * q_len; }
  // The scale in effect: scale, or 1 / sqrt(head_dim) when scale is 0.
  double effective_scale() const {
    return scale != 0 ? scale : 1.0 / std::sqrt(static_cast<double>(head_dim));
  }
};

// The largest head_dim the attention operations take (every backend).
inline constexpr int64_t kMaxAttentionHeadDim = 128;

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
  // Zero-filled host memory of `bytes` bytes to stage uploads from (see HostBuffer); RESOURCE_EXHAUSTED when
  // it cannot be had.
  Result<HostBuffer> AllocateHost(size_t bytes);
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

  // --- Transformer layers and depthwise convolution ---
  //
  // The pieces of a pre-norm transformer block (token embedding, RMS norm, the SwiGLU feed-forward gate)
  // and of a depthwise-separable CNN (the depthwise 2-D convolution; the pointwise one is a Gemm). Every
  // column sum here runs in a fixed order that both backends share, so the CUDA backend's embedding and
  // depthwise gradients equal the CPU backend's bit for bit.

  // Embedding gather: out[r, :] = table[tokens[r], :] for r < rows, a copy (nothing is rounded). tokens
  // (kI32, rows) each in [0, vocab); table (vocab x dim) and out (rows x dim) of one floating type; out may
  // not overlap tokens or table. A token outside [0, vocab) is INVALID_ARGUMENT on the CPU (naming the first
  // such row; nothing is written); a device backend reports it from the next Synchronize (its rows of out
  // are then 0).
  Status EmbeddingForward(int64_t rows, int64_t vocab, int64_t dim, ConstView tokens, ConstView table,
                          View out);

  // Its gradient: dtable (AccumulationType of dout's type, vocab x dim, overwritten) [t, :] = the sum of
  // dout[r, :] over the rows r with tokens[r] == t, added in order of r starting from 0 (so deterministic and
  // the same on every backend; no atomics), 0 for tokens that do not occur. dout is rows x dim of a floating
  // type; tokens as EmbeddingForward (a token out of range is reported likewise and matches no row of
  // dtable on a device). dtable may not overlap tokens or dout.
  Status EmbeddingBackward(int64_t rows, int64_t vocab, int64_t dim, ConstView tokens, ConstView dout,
                           View dtable);

  // RMS normalisation over each row of x (rows x cols), with gain gamma (cols; Zhang & Sennrich 2019):
  //   rstd[r] = 1 / sqrt(sum_c x[r,c]^2 / cols + eps);  y[r,c] = x[r,c] * rstd[r] * gamma[c]
  // (RmsNormElement of kernels/element.h). x, y, gamma share one floating type T; rstd (rows, kept for the
  // backward pass) is AccumulationType(T). eps > 0 and finite. y may not overlap x, and no output overlaps
  // an input or another output. With cols == 0 nothing is written.
  Status RmsNormForward(int64_t rows, int64_t cols, double eps, ConstView x, ConstView gamma, View y,
                        View rstd);

  // Backward of the above, with xhat = x * rstd[r]:
  //   dx[r,c] = rstd[r] (dy[r,c] gamma[c] - xhat[r,c] mean_c(dy[r,:] gamma xhat[r,:]))
  //   dgamma[c] = sum_r dy[r,c] xhat[r,c]   (overwritten; over chunks of ColumnChunkRows(rows) rows, each
  //                                           in row order, then over the chunks in order)
  // x, gamma, dy, dx share type T; rstd and dgamma are AccumulationType(T). dx may be dy itself (in place);
  // otherwise no output overlaps an input or another output.
  Status RmsNormBackward(int64_t rows, int64_t cols, ConstView x, ConstView gamma, ConstView rstd,
                         ConstView dy, View dx, View dgamma);

  // SwiGLU (Shazeer 2020, "GLU Variants Improve Transformer"): h is rows x (2 * hidden), its first `hidden`
  // columns the gate g and the next `hidden` the value u; y (rows x hidden) [r, c] = silu(g[r, c]) *
  // u[r, c], with silu the kSilu activation's element math (SwiGluElement of kernels/element.h), computed
  // in fp32 (fp64 for kF64) and rounded once. h and y share one floating type and may not overlap;
  // 2 * hidden <= 2^31-1.
  Status SwiGluForward(int64_t rows, int64_t hidden, ConstView h, View y);

  // Backward: dh (rows x 2 hidden, overwritten) [r, c] = dy[r, c] u[r, c] silu'(g[r, c]) and
  // [r, hidden + c] = dy[r, c] silu(g[r, c]), from dy (rows x hidden) and the forward pass's h. h, dy, dh
  // share one floating type; dh may overlap neither h nor dy.
  Status SwiGluBackward(int64_t rows, int64_t hidden, ConstView h, ConstView dy, View dh);

  // Depthwise convolution over the NHWC x (geometry of Conv2dShape s, checked as for Im2Col; one kernel_h
  // x kernel_w filter per channel, out_channels == channels):
  //   y[(n, oh, ow), c] = sum_{kh, kw} x[n, oh*stride_h - pad_h + kh, ow*stride_w - pad_w + kw, c] *
  //                       w[kh * kernel_w + kw, c]
  // summed in (kh, kw) order from 0 over the taps inside the image (the padding adds nothing) in the
  // accumulation type and rounded once. x (s.input_size()), w ((kernel_h * kernel_w) x channels) and y
  // (s.out_pixels() x channels) share one floating type; y overlaps neither input.
  Status DepthwiseConv2dForward(const Conv2dShape& s, ConstView x, ConstView w, View y);

  // Backward of the above, from dy (s.out_pixels() x channels, x's type):
  //   dx (overwritten, s.input_size(), x's type) [n, h, w, c] = the sum of dy[(n, oh, ow), c] *
  //     w[kh * kernel_w + kw, c] over the windows (oh, ow) that cover pixel (h, w), in ascending (oh, ow)
  //     order (as Col2Im), rounded once; dx may be empty (the first layer needs no dx), and then is skipped.
  //   dw (overwritten, AccumulationType, (kernel_h * kernel_w) x channels) [k, c] = the sum over the output
  //     pixels (n, oh, ow) of x[...] * dy[(n, oh, ow), c], in chunks of ColumnChunkRows(s.out_pixels())
  //     output pixels, each in order, then over the chunks in order.
  // No output overlaps an input or the other output.
  Status DepthwiseConv2dBackward(const Conv2dShape& s, ConstView x, ConstView w, ConstView dy, View dx,
                                 View dw);

  // --- Convolution networks (NHWC activations; see Conv2dShape) ---
  //
  // A convolution is Im2Col then Gemm: with cols = Im2Col(x) of (out_pixels) x (patch_size) and weights W
  // stored (patch_size) x out_channels, Gemm(cols, W) is the NHWC output, out_pixels x out_channels. Its
  // backward is dW = Gemm(cols^T, dy) and dx = Col2Im(Gemm(dy, W^T)). A 1 x 1 convolution with stride 1
  // and no padding needs no Im2Col: x itself is the cols matrix. Bias + activation and batch normalisation
  // run on the NHWC output as a rows x cols matrix.

  // cols[(n, oh, ow), (kh * kernel_w + kw) * channels + c] = x[n, oh * stride_h - pad_h + kh,
  // ow * stride_w - pad_w + kw, c], and 0 where that pixel lies in the padding. x (s.input_size()) and cols
  // (s.out_pixels() x s.patch_size()) share one floating type: a copy, nothing is rounded. They may not
  // overlap.
  Status Im2Col(const Conv2dShape& s, ConstView x, View cols);

  // The adjoint of Im2Col: x (overwritten) [n, h, w, c] = the sum of every cols entry that Im2Col takes
  // from pixel (n, h, w, c) (0 for a pixel no window covers), summed over the windows in order of (oh, ow)
  // in the accumulation type and rounded once to x's type. Types and sizes as Im2Col; no overlap.
  Status Col2Im(const Conv2dShape& s, ConstView cols, View x);

  // Max pooling: y[(n, oh, ow), c] = the largest x in the window of output pixel (oh, ow), channel c
  // (padding is never chosen; a NaN beats every number, and the first NaN wins); argmax (kI32) holds the
  // flat index into x of the chosen element, the first maximum in (kh, kw) order on ties. x and y share one
  // floating type (y holds s.out_pixels() x channels, a copy of the chosen value); argmax as many
  // elements. REQUIRES (checked): pad_h < kernel_h and pad_w < kernel_w, so that every window holds a
  // pixel, and s.input_size() <= 2^31-1, so that argmax can index x. No operand may overlap another.
  Status MaxPool2dForward(const Conv2dShape& s, ConstView x, View y, View argmax);

  // Backward of the above: dx (overwritten, s.input_size()) [i] = the sum of dy over the outputs whose
  // argmax is i, in order of (oh, ow), in the accumulation type, rounded once (0 where no output chose i).
  // dy and dx share one floating type; argmax is the forward pass's (an index outside x, or one outside
  // the window it belongs to, is never matched). No operand may overlap another.
  Status MaxPool2dBackward(const Conv2dShape& s, ConstView dy, ConstView argmax, View dx);

  // Global average pooling over the pixels of each image: x is batch x pixels x channels (NHWC with
  // pixels = height * width), y[n, c] = (sum_p x[n, p, c]) / pixels, summed in order of p in the
  // accumulation type and rounded once. x and y share one floating type; pixels >= 1. No overlap.
  Status GlobalAvgPoolForward(int64_t batch, int64_t pixels, int64_t channels, ConstView x, View y);

  // Backward of the above: dx[n, p, c] = dy[n, c] / pixels (overwritten). dy, dx share one floating type.
  Status GlobalAvgPoolBackward(int64_t batch, int64_t pixels, int64_t channels, ConstView dy, View dx);

  // Batch normalisation in training mode over the rows of x (rows x cols; for NHWC activations rows =
  // batch * height * width and cols = channels), with gain gamma and shift beta (cols each):
  //   mean[c] = sum_r x[r,c] / rows;  var[c] = sum_r (x[r,c] - mean[c])^2 / rows  (biased);
  //   rstd[c] = 1 / sqrt(var[c] + eps);  y[r,c] = (x[r,c] - mean[c]) * rstd[c] * gamma[c] + beta[c];
  // and, as PyTorch's BatchNorm updates them, unless the view is empty:
  //   running_mean[c] = (1 - momentum) * running_mean[c] + momentum * mean[c]
  //   running_var[c]  = (1 - momentum) * running_var[c]  + momentum * var[c] * rows / (rows - 1)
  //                     (the unbiased variance: sum_r (x - mean)^2 / (rows - 1)).
  // Column sums run over fixed chunks of rows, then over the chunks, in the accumulation type.
  // x, y, gamma, beta share one floating type T; mean and rstd (cols each, kept for the backward pass) and
  // the running statistics are AccumulationType(T). eps > 0, momentum in [0, 1], rows >= 1 (>= 2 when
  // running_var is given). y may not overlap x.
  Status BatchNormForward(int64_t rows, int64_t cols, double eps, double momentum, ConstView x,
                          ConstView gamma, ConstView beta, View y, View mean, View rstd, View running_mean,
                          View running_var);

  // Batch normalisation in inference mode, from the running statistics:
  //   y[r,c] = (x[r,c] - running_mean[c]) * rstd[c] * gamma[c] + beta[c],  rstd[c] = 1 / sqrt(running_var[c]
  //   + eps). Types as BatchNormForward; y may be x (in place).
  Status BatchNormInference(int64_t rows, int64_t cols, double eps, ConstView x, ConstView gamma,
                            ConstView beta, ConstView running_mean, ConstView running_var, View y);

  // Backward of BatchNormForward (training mode), with xhat = (x - mean) rstd:
  //   dbeta[c] = sum_r dy[r,c];  dgamma[c] = sum_r dy[r,c] xhat[r,c]   (overwritten, summed as the forward)
  //   dx[r,c] = gamma[c] rstd[c] (dy[r,c] - dbeta[c] / rows - xhat[r,c] dgamma[c] / rows).
  // x, gamma, dy, dx share type T; mean, rstd, dgamma, dbeta are AccumulationType(T). dx may be dy.
  Status BatchNormBackward(int64_t rows, int64_t cols, ConstView x, ConstView gamma, ConstView mean,
                           ConstView rstd, ConstView dy, View dx, View dgamma, View dbeta);

  // --- Attention (transformers; see AttentionShape) ---
  //
  // A transformer block calls, per layer: Gemm for the q, k, v projections (each a rows x (heads *
  // head_dim) matrix, rows = batch * len, which is exactly the [batch, len, heads, head_dim] layout below),
  // Rope on q and k where the model uses rotary positions, AttentionForward, and Gemm for the output
  // projection; the backward pass runs AttentionBackward and Rope with inverse = true on dq and dk.

  // o = softmax(scale q k^T + bias + mask) v for every (batch, query head), with the scores, mask and bias
  // of AttentionShape; lse[(b * heads + h) * q_len + i] = log sum_j exp(score_ij) over query i's visible
  // keys (kept for the backward pass). A query that sees no key gets o = 0 and lse = -inf.
  // Types: q, k, v, o share one floating type T; lse is AccumulationType(T). Half inputs are loaded exactly
  // into fp32, everything is computed in fp32 (fp64 for kF64) and o is rounded once.
  // REQUIRES (checked, INVALID_ARGUMENT naming the field or view, nothing touched): s valid as
  // AttentionShape says; q and o hold s.q_elements(), k and v s.kv_elements(), lse s.lse_elements(); o and
  // lse overlap neither each other nor an input (inputs may share memory).
  Status AttentionForward(const AttentionShape& s, ConstView q, ConstView k, ConstView v, View o, View lse);

  // Backward of AttentionForward: from dout (the gradient of o) and the forward pass's o and lse,
  //   p_ij = exp(score_ij - lse_i),  D_i = dout_i . o_i,  ds_ij = p_ij (dout_i . v_j - D_i),
  //   dq_i = scale sum_j ds_ij k_j,  dk_j = scale sum_i ds_ij q_i,  dv_j = sum_i p_ij dout_i,
  // with dk and dv summed over every query head that reads kv head j's head (GQA, MQA). dq, dk, dv are
  // overwritten (0 where nothing contributes). Types: q, k, v, o, dout, dq, dk, dv share T; lse is
  // AccumulationType(T). REQUIRES (checked): the shape and sizes of AttentionForward, dout and dq as q, dk
  // and dv as k; dq, dk, dv overlap neither each other nor an input.
  Status AttentionBackward(const AttentionShape& s, ConstView q, ConstView k, ConstView v, ConstView o,
                           ConstView dout, ConstView lse, View dq, View dk, View dv);

  // Rotary position embedding (Su et al. 2021, "RoFormer"), in place on x [batch * len, heads, head_dim]
  // row-major: token t of each sequence sits at position pos = pos_offset + t, and for i < head_dim / 2 the
  // pair (x[i], x[i + head_dim / 2]) of every head rotates by the angle pos * base^(-2i / head_dim) (the
  // rotate-half convention of GPT-NeoX and Llama):
  //   x[i] = x[i] cos - x[i + head_dim/2] sin,  x[i + head_dim/2] = x[i] sin + x[i + head_dim/2] cos.
  // The angle, its cosine and sine are computed in fp64 and rounded to the compute type (fp32, fp64 for
  // kF64) once; the rotation runs in the compute type and rounds x once. inverse = true rotates by minus
  // the angle: the inverse and, the rotation being orthogonal, the adjoint, so it is also the backward pass
  // (dx = Rope(inverse = true) of dy). REQUIRES (checked): batch, len, heads, head_dim in [0, 2^31-1] with
  // batch * len and heads * head_dim in it too; head_dim even; pos_offset >= 0 and pos_offset + len <=
  // 2^31-1; base finite and > 0; x floating, holding batch * len * heads * head_dim elements.
  Status Rope(int64_t batch, int64_t len, int64_t heads, int64_t head_dim, int64_t pos_offset, double base,
              bool inverse, View x);

  // Waits until every operation issued so far has finished; reports the first error any of them hit.
  virtual Status Synchronize() = 0;

  // Runs `work` once and returns how long the device took, in milliseconds: CUDA events around it on a
  // GPU; on the CPU the steady clock around work + Synchronize. Returns work's error, if any.
  virtual Result<double> TimeMs(const std::function<Status()>& work);

 protected:
  virtual Result<void*> AllocateBytes(size_t bytes) = 0;
  virtual void FreeBytes(void* data) = 0;
  virtual Status CopyToDevice(const void* host, void* device, size_t bytes) = 0;
  // Host staging memory (HostBuffer): ordinary memory unless a backend overrides these. Zero-filled.
  virtual Result<void*> AllocateHostBytes(size_t bytes);
  virtual void FreeHostBytes(void* data);
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
  virtual Status EmbeddingForwardImpl(int64_t rows, int64_t vocab, int64_t dim, ConstView tokens,
                                      ConstView table, View out) = 0;
  virtual Status EmbeddingBackwardImpl(int64_t rows, int64_t vocab, int64_t dim, ConstView tokens,
                                       ConstView dout, View dtable) = 0;
  virtual Status RmsNormForwardImpl(int64_t rows, int64_t cols, double eps, ConstView x, ConstView gamma,
                                    View y, View rstd) = 0;
  virtual Status RmsNormBackwardImpl(int64_t rows, int64_t cols, ConstView x, ConstView gamma, ConstView rstd,
                                     ConstView dy, View dx, View dgamma) = 0;
  virtual Status SwiGluForwardImpl(int64_t rows, int64_t hidden, ConstView h, View y) = 0;
  virtual Status SwiGluBackwardImpl(int64_t rows, int64_t hidden, ConstView h, ConstView dy, View dh) = 0;
  virtual Status DepthwiseConv2dForwardImpl(const Conv2dShape& s, ConstView x, ConstView w, View y) = 0;
  virtual Status DepthwiseConv2dBackwardImpl(const Conv2dShape& s, ConstView x, ConstView w, ConstView dy,
                                             View dx, View dw) = 0;
  virtual Status Im2ColImpl(const Conv2dShape& s, ConstView x, View cols) = 0;
  virtual Status Col2ImImpl(const Conv2dShape& s, ConstView cols, View x) = 0;
  virtual Status MaxPool2dForwardImpl(const Conv2dShape& s, ConstView x, View y, View argmax) = 0;
  virtual Status MaxPool2dBackwardImpl(const Conv2dShape& s, ConstView dy, ConstView argmax, View dx) = 0;
  virtual Status GlobalAvgPoolForwardImpl(int64_t batch, int64_t pixels, int64_t channels, ConstView x,
                                          View y) = 0;
  virtual Status GlobalAvgPoolBackwardImpl(int64_t batch, int64_t pixels, int64_t channels, ConstView dy,
                                           View dx) = 0;
  virtual Status BatchNormForwardImpl(int64_t rows, int64_t cols, double eps, double momentum, ConstView x,
                                      ConstView gamma, ConstView beta, View y, View mean, View rstd,
                                      View running_mean, View running_var) = 0;
  virtual Status BatchNormInferenceImpl(int64_t rows, int64_t cols, double eps, ConstView x, ConstView gamma,
                                        ConstView beta, ConstView running_mean, ConstView running_var,
                                        View y) = 0;
  virtual Status BatchNormBackwardImpl(int64_t rows, int64_t cols, ConstView x, ConstView gamma,
                                       ConstView mean, ConstView rstd, ConstView dy, View dx, View dgamma,
                                       View dbeta) = 0;
  virtual Status AttentionForwardImpl(const AttentionShape& s, ConstView q, ConstView k, ConstView v, View o,
                                      View lse) = 0;
  virtual Status AttentionBackwardImpl(const AttentionShape& s, ConstView q, ConstView k, ConstView v,
                                       ConstView o, ConstView dout, ConstView lse, View dq, View dk,
                                       View dv) = 0;
  virtual Status RopeImpl(int64_t batch, int64_t len, int64_t heads, int64_t head_dim, int64_t pos_offset,
                          double base, bool inverse, View x) = 0;
  virtual Status AxpyImpl(double alpha, ConstView x, View y) = 0;
  virtual Result<GradStats> GradientStatsImpl(ConstView g) = 0;
  virtual Status SgdMomentumUpdateImpl(const SgdHyper& hyper, double grad_scale, View w, ConstView g,
                                       View velocity, View w_copy) = 0;
  virtual Status AdamWUpdateImpl(const AdamWHyper& hyper, int64_t step, double grad_scale, View w,
                                 ConstView g, View m, View v, View w_copy) = 0;

 private:
  friend class Buffer;
  friend class HostBuffer;
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
