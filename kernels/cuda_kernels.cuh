// The launchers of the CUDA backend's kernels: the seam between class CudaBackend (kernels/cuda_backend.cc,
// C++20, compiled by the host compiler against kernels/backend.h) and the kernels (kernels/cuda_*.cu,
// compiled by nvcc as C++17, which cannot include backend.h). This header is therefore C++17 and needs only
// the CUDA runtime's C API: it is included from both sides.
//
// Every launcher enqueues its kernels on `stream` and returns cudaGetLastError() after the launches
// (cudaSuccess when the problem is empty and nothing was enqueued); errors the kernels hit while running
// surface later, from the stream. Launchers check nothing: the Backend base class has checked the
// arguments (dimensions in [0, 2^31-1], element types, view sizes, non-null data), and the CUDA backend
// passes a null pointer for an empty optional view. All pointers are device pointers of the backend's
// memory; element counts may exceed 2^31 (every kernel loops with 64-bit indices).
//
// Element types: half values are raw bits (uint16_t) loaded into float with kernels/half.h and stored back
// rounded to nearest even; every computation runs in float (double for kF64) through kernels/element.h,
// the same functions the CPU backend calls. Reductions are deterministic: each sum has a fixed order that
// depends on the problem's shape only (never on scheduling or on the device), so a run repeats bit for bit.
#ifndef HPO_KERNELS_CUDA_KERNELS_CUH_
#define HPO_KERNELS_CUDA_KERNELS_CUH_

#include <cuda_runtime_api.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/element.h"
#include "kernels/half.h"

namespace hpo::kernels::cuda {

// d rounded to a float with round-to-odd: the float toward zero from d with its last bit set when d is not a
// float, d itself otherwise; rounding that to nearest even into fp16 or bf16 gives d rounded to nearest
// even with one rounding (Boldo & Melquiond 2008). The same function as the CPU backend's
// DoubleToFloatRoundToOdd (kernels/cpu_convert.h), written so that nvcc compiles it for the device too:
// NaN is spelled out as x86's conversion gives it (sign and top payload kept, quiet bit set), because the
// GPU's conversion would return its canonical NaN instead.
HPO_HD inline float DoubleToFloatRoundToOdd(double d) {
  uint64_t bits;
  memcpy(&bits, &d, sizeof(bits));
  if ((bits & 0x7fffffffffffffffull) > 0x7ff0000000000000ull) {
    return FloatFromBits((static_cast<uint32_t>(bits >> 32) & 0x80000000u) | 0x7fc00000u |
                         (static_cast<uint32_t>(bits >> 29) & 0x007fffffu));
  }
  const float f = static_cast<float>(d);
  if (f - f != 0.0f || static_cast<double>(f) == d) return f;  // infinite, or exact
  uint32_t f_bits = FloatBits(f);
  if (fabs(static_cast<double>(f)) > fabs(d)) --f_bits;  // one step toward zero (|f| > 0 here)
  return FloatFromBits(f_bits | 1u);
}

// d rounded to nearest even as fp16 / bf16 bits, with one rounding.
HPO_HD inline uint16_t DoubleToHalfBits(double d) { return FloatToHalfBits(DoubleToFloatRoundToOdd(d)); }
HPO_HD inline uint16_t DoubleToBf16Bits(double d) { return FloatToBf16Bits(DoubleToFloatRoundToOdd(d)); }

// The element types of backend memory, with the numeric values of kernels/backend.h's DType (the CUDA
// backend static_asserts that they agree).
enum class ElementType : uint8_t { kF32 = 0, kF64 = 1, kI32 = 2, kF16 = 3, kBF16 = 4 };

// What kernels leave for the host: one per backend, in device memory, copied to a pinned host mirror by a
// single cudaMemcpyAsync whenever the backend waits for its stream.
struct DeviceControl {
  uint32_t error_bits;         // kError* bits, set by kernels; the host reports and clears them
  uint32_t nonfinite;          // GradientStats: nonzero when some element is inf or NaN
  unsigned long long correct;  // CountCorrect: rows whose argmax equals the label
  double sum_squares;          // GradientStats: sum of squares of the finite elements
};

// SoftmaxCrossEntropy met a label outside [0, cols).
inline constexpr uint32_t kErrorLabelOutOfRange = 1u;
// EmbeddingForward or EmbeddingBackward met a token outside [0, vocab).
inline constexpr uint32_t kErrorTokenOutOfRange = 2u;

// --- cuda_elementwise.cu ---

// dst[i] = the element whose bit pattern is the low `element_bytes` (2, 4 or 8) bytes of `pattern`.
cudaError_t LaunchFill(void* dst, size_t count, size_t element_bytes, uint64_t pattern, cudaStream_t stream);

// dst[i] = src[i] converted to dst_type (floating types; a device-to-device copy when the types agree), with
// one rounding (double -> fp16/bf16 through DoubleToFloatRoundToOdd).
cudaError_t LaunchCast(const void* src, ElementType src_type, void* dst, ElementType dst_type, size_t count,
                       cudaStream_t stream);

// y[i] = y[i] + alpha * x[i] (alpha rounded to float unless kF64).
cudaError_t LaunchAxpy(ElementType type, double alpha, const void* x, void* y, size_t count,
                       cudaStream_t stream);

// y[i] = beta * y[i]; beta == 0 writes zeros whatever y held (NaN included), as GEMM's beta does.
cudaError_t LaunchScale(ElementType type, double beta, void* y, size_t count, cudaStream_t stream);

// --- cuda_bias_activation.cu ---

// z[r,c] = z[r,c] + bias[c] (rounded to the type), y[r,c] = act(that rounded z). bias may be null; y may be
// z.
cudaError_t LaunchBiasActivationForward(Activation act, ElementType type, int64_t rows, int64_t cols,
                                        const void* bias, void* z, void* y, cudaStream_t stream);

// Scratch bytes that LaunchBiasActivationBackward needs when dbias is wanted.
size_t BiasActivationBackwardScratchBytes(ElementType type, int64_t rows, int64_t cols);

// dz[r,c] = dy[r,c] * act'(z[r,c]); unless dbias is null, dbias[c] = sum_r of the unrounded products,
// summed in the accumulation type (float, double for kF64) over fixed chunks of rows, then over the chunks.
// dz may be dy. scratch: BiasActivationBackwardScratchBytes bytes (unused when dbias is null).
cudaError_t LaunchBiasActivationBackward(Activation act, ElementType type, int64_t rows, int64_t cols,
                                         const void* z, const void* dy, void* dz, void* dbias, void* scratch,
                                         cudaStream_t stream);

// --- cuda_softmax_xent.cu ---

// Scratch bytes that LaunchSoftmaxCrossEntropy needs.
size_t SoftmaxCrossEntropyScratchBytes(ElementType type, int64_t rows);

// Per row (one block each), in the accumulation type, with C the accumulation type and, as the CPU backend
// computes them, eps_per_class = C(eps / cols) and scale = C(grad_scale / rows) rounded on the host:
//   loss_r = (max + log sum_c e^(x[c] - max)) + (-(1 - eps) x[label] - eps_per_class sum_c x[c])
//   dlogits[r,c] = scale (softmax[c] - eps_per_class), minus scale (1 - eps) at the label;
// then loss[0] = (sum of the row losses in a fixed tree order) / rows. A label outside [0, cols) sets
// kErrorLabelOutOfRange in control->error_bits (its row's loss is NaN, its gradient has no target term).
// REQUIRES: rows, cols >= 1.
cudaError_t LaunchSoftmaxCrossEntropy(ElementType type, int64_t rows, int64_t cols, double label_smoothing,
                                      double eps_per_class, double grad_scale_over_rows, const void* logits,
                                      const int32_t* labels, void* loss, void* dlogits, void* scratch,
                                      DeviceControl* control, cudaStream_t stream);

// control->correct = the number of rows whose first argmax (NaNs never win, except a NaN first element,
// which wins as in a sequential scan) equals the label; a label outside [0, cols) never counts.
// REQUIRES: cols >= 1.
cudaError_t LaunchCountCorrect(ElementType type, int64_t rows, int64_t cols, const void* logits,
                               const int32_t* labels, DeviceControl* control, cudaStream_t stream);

// --- cuda_dropout.cu ---

// y[i] = keep(i) ? x[i] * scale : 0 with keep(i) = DropoutKeep(seed, stream_id, i, threshold) of
// kernels/philox.h: one Philox4x32-10 block per 4 consecutive elements. scale is rounded to float unless
// kF64.
cudaError_t LaunchDropout(ElementType type, uint64_t seed, uint64_t stream_id, uint32_t threshold,
                          double scale, const void* x, void* y, size_t count, cudaStream_t stream);

// --- cuda_layer_norm.cu ---

// One block per row: two-pass mean and variance (each sum times 1/cols, as the CPU backend), rstd =
// 1 / sqrt(var + eps); mean and rstd in the accumulation type. y must not alias x.
cudaError_t LaunchLayerNormForward(ElementType type, int64_t rows, int64_t cols, double eps, const void* x,
                                   const void* gamma, const void* beta, void* y, void* mean, void* rstd,
                                   cudaStream_t stream);

// Scratch bytes that LaunchLayerNormBackward needs.
size_t LayerNormBackwardScratchBytes(ElementType type, int64_t rows, int64_t cols);

// dgamma and dbeta by fixed column chunks (as dbias), then dx one block per row; dx may be dy.
cudaError_t LaunchLayerNormBackward(ElementType type, int64_t rows, int64_t cols, const void* x,
                                    const void* gamma, const void* mean, const void* rstd, const void* dy,
                                    void* dx, void* dgamma, void* dbeta, void* scratch, cudaStream_t stream);

// --- cuda_transformer.cu ---

// out[r, :] = table[tokens[r], :]: one thread per element of out, a copy of bits. A token outside
// [0, vocab) sets kErrorTokenOutOfRange in control->error_bits, and its row of out is +0.
cudaError_t LaunchEmbeddingForward(ElementType type, int64_t rows, int64_t vocab, int64_t dim,
                                   const int32_t* tokens, const void* table, void* out,
                                   DeviceControl* control, cudaStream_t stream);

// dtable[t, :] (the accumulation type, overwritten) = the sum of dout[r, :] over the rows with tokens[r] ==
// t, added in order of r from 0 (the CPU backend's order: bit for bit), without atomics or sorting: a block
// per (vocab row, range of columns) scans every token, a tile at a time through shared memory, so the work
// grows as vocab * rows (made for vocabularies of a few thousand tokens at most). A token outside [0, vocab)
// matches no row and sets kErrorTokenOutOfRange.
cudaError_t LaunchEmbeddingBackward(ElementType type, int64_t rows, int64_t vocab, int64_t dim,
                                    const int32_t* tokens, const void* dout, void* dtable,
                                    DeviceControl* control, cudaStream_t stream);

// One block per row: the mean square (sum of x^2 in a block tree, times 1/cols), rstd = 1 / sqrt(it + eps)
// in the accumulation type, y = RmsNormElement (kernels/element.h). y must not alias x.
cudaError_t LaunchRmsNormForward(ElementType type, int64_t rows, int64_t cols, double eps, const void* x,
                                 const void* gamma, void* y, void* rstd, cudaStream_t stream);

// Scratch bytes that LaunchRmsNormBackward needs.
size_t RmsNormBackwardScratchBytes(ElementType type, int64_t rows, int64_t cols);

// dgamma by chunks of ColumnChunkRows(rows) rows (kernels/element.h; the CPU backend's order, so bit for
// bit), then dx one block per row (RmsNormInputGradient); dx may be dy.
cudaError_t LaunchRmsNormBackward(ElementType type, int64_t rows, int64_t cols, const void* x,
                                  const void* gamma, const void* rstd, const void* dy, void* dx, void* dgamma,
                                  void* scratch, cudaStream_t stream);

// SwiGLU over h (rows x 2 hidden: gate, then value) into y (rows x hidden), one thread per element of y
// (SwiGluElement); the backward pass writes dh (rows x 2 hidden) from dy (SwiGluBackwardElement).
cudaError_t LaunchSwiGluForward(ElementType type, int64_t rows, int64_t hidden, const void* h, void* y,
                                cudaStream_t stream);
cudaError_t LaunchSwiGluBackward(ElementType type, int64_t rows, int64_t hidden, const void* h,
                                 const void* dy, void* dh, cudaStream_t stream);

// --- cuda_grad_stats.cu ---

// Scratch bytes that LaunchGradientStats needs.
size_t GradientStatsScratchBytes(ElementType type, size_t count);

// control->sum_squares = the sum of g^2 over the finite elements (accumulation type, then widened to
// double) and control->nonfinite = whether some element is inf or NaN: per-block partial sums in a fixed
// grid-stride order, then one block sums the partials. REQUIRES: count >= 1.
cudaError_t LaunchGradientStats(ElementType type, const void* g, size_t count, void* scratch,
                                DeviceControl* control, cudaStream_t stream);

// --- cuda_optimizer.cu ---

// One SgdMomentumElement / AdamWElement (kernels/element.h) per element of w (float or double, as the
// coefficients), g, and the state; unless w_copy is null, w_copy[i] = the new w[i] rounded once to copy_type.
cudaError_t LaunchSgdMomentum(const SgdCoeffs<float>& coeffs, float* w, const float* g, float* velocity,
                              void* w_copy, ElementType copy_type, size_t count, cudaStream_t stream);
cudaError_t LaunchSgdMomentum(const SgdCoeffs<double>& coeffs, double* w, const double* g, double* velocity,
                              void* w_copy, ElementType copy_type, size_t count, cudaStream_t stream);
cudaError_t LaunchAdamW(const AdamWCoeffs<float>& coeffs, float* w, const float* g, float* m, float* v,
                        void* w_copy, ElementType copy_type, size_t count, cudaStream_t stream);
cudaError_t LaunchAdamW(const AdamWCoeffs<double>& coeffs, double* w, const double* g, double* m, double* v,
                        void* w_copy, ElementType copy_type, size_t count, cudaStream_t stream);

// --- cuda_conv.cu ---

// The geometry of kernels/backend.h's Conv2dShape, with its output size, for the C++17 side (which cannot
// include backend.h). NHWC activations; see Conv2dShape for the meaning of each field.
struct ConvGeometry {
  int64_t batch, height, width, channels;
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
  int64_t out_height, out_width;
};

// cols = im2col(x): one thread per element of cols, a copy of x's bits or +0 in the padding.
cudaError_t LaunchIm2Col(ElementType type, const ConvGeometry& g, const void* x, void* cols,
                         cudaStream_t stream);

// x = col2im(cols): one thread per element of x, gathering its covering windows in ascending (oh, ow)
// order (CoveringWindows of kernels/element.h) in the accumulation type, rounded once; the CPU backend's
// order, so both agree bit for bit.
cudaError_t LaunchCol2Im(ElementType type, const ConvGeometry& g, const void* cols, void* x,
                         cudaStream_t stream);

// Max pooling: one thread per output element, scanning its window in (kh, kw) order (MaxPoolTakes).
// REQUIRES: pad < kernel on both axes; the input has at most 2^31-1 elements.
cudaError_t LaunchMaxPoolForward(ElementType type, const ConvGeometry& g, const void* x, void* y,
                                 int32_t* argmax, cudaStream_t stream);

// Its backward pass: one thread per input element, gathering dy over the covering windows whose argmax
// names it, in ascending (oh, ow) order.
cudaError_t LaunchMaxPoolBackward(ElementType type, const ConvGeometry& g, const void* dy,
                                  const int32_t* argmax, void* dx, cudaStream_t stream);

// Global average pooling of x (batch x pixels x channels): one thread per (n, c) summing the pixels in
// order, then dividing by pixels (the CPU backend's order); the backward pass one thread per element of dx.
cudaError_t LaunchGlobalAvgPoolForward(ElementType type, int64_t batch, int64_t pixels, int64_t channels,
                                       const void* x, void* y, cudaStream_t stream);
cudaError_t LaunchGlobalAvgPoolBackward(ElementType type, int64_t batch, int64_t pixels, int64_t channels,
                                        const void* dy, void* dx, cudaStream_t stream);

// Scratch bytes that LaunchBatchNormForward and LaunchBatchNormBackward need.
size_t BatchNormScratchBytes(ElementType type, int64_t rows, int64_t cols);

// Training-mode batch norm: column sums over chunks of BatchNormChunkRows rows (kernels/element.h; one
// thread per (column, chunk)), then over the chunks (the CPU backend's order); mean = sum / rows, the sum
// of squared deviations from it likewise, then rstd and the running statistics (running_mean and
// running_var may be null) per column, then y element-wise. REQUIRES: rows >= 1 (>= 2 with running_var).
cudaError_t LaunchBatchNormForward(ElementType type, int64_t rows, int64_t cols, double eps, double momentum,
                                   const void* x, const void* gamma, const void* beta, void* y, void* mean,
                                   void* rstd, void* running_mean, void* running_var, void* scratch,
                                   cudaStream_t stream);

// Inference-mode batch norm from the running statistics, element-wise; y may be x.
cudaError_t LaunchBatchNormInference(ElementType type, int64_t rows, int64_t cols, double eps, const void* x,
                                     const void* gamma, const void* beta, const void* running_mean,
                                     const void* running_var, void* y, cudaStream_t stream);

// dgamma and dbeta by column chunks as the forward pass, then dx element-wise; dx may be dy.
cudaError_t LaunchBatchNormBackward(ElementType type, int64_t rows, int64_t cols, const void* x,
                                    const void* gamma, const void* mean, const void* rstd, const void* dy,
                                    void* dx, void* dgamma, void* dbeta, void* scratch, cudaStream_t stream);

// --- cuda_depthwise.cu ---

// Depthwise convolution (one filter per channel; w is (kernel_h * kernel_w) x channels): one thread per
// output element, summing its taps in (kh, kw) order, the padding skipped (the CPU backend's order).
cudaError_t LaunchDepthwiseForward(ElementType type, const ConvGeometry& g, const void* x, const void* w,
                                   void* y, cudaStream_t stream);

// Scratch bytes that LaunchDepthwiseBackward needs.
size_t DepthwiseBackwardScratchBytes(ElementType type, const ConvGeometry& g);

// dw (the accumulation type) by chunks of ColumnChunkRows(out pixels) output pixels, one thread per (tap,
// channel, chunk), then over the chunks in order; unless dx is null, dx one thread per input element,
// gathering its covering windows in ascending (oh, ow) order. Both the CPU backend's orders: bit for bit.
cudaError_t LaunchDepthwiseBackward(ElementType type, const ConvGeometry& g, const void* x, const void* w,
                                    const void* dy, void* dx, void* dw, void* scratch, cudaStream_t stream);

// --- cuda_attention.cu ---

// The geometry of kernels/backend.h's AttentionShape for the C++17 side, with the scale resolved (never 0).
// Layouts and masks as AttentionShape documents.
struct AttentionGeometry {
  int64_t batch, q_len, kv_len, heads, kv_heads, head_dim, q_offset, window;
  bool causal, alibi;
  double scale;
};

// The largest head_dim the attention kernels hold (kernels/backend.h's kMaxAttentionHeadDim).
inline constexpr int64_t kAttentionMaxHeadDim = 128;

// Tiled flash-attention forward: one block per (batch, head, tile of queries), looping over the tiles of
// the keys its queries see; each tile of keys and values passes through shared memory once, the scores of
// (query tile x key tile) live in shared memory only, and an online softmax (running maximum and sum per
// query, earlier partial outputs rescaled) accumulates o in registers. o = 0 and lse = -inf for a query that
// sees no key. REQUIRES: 1 <= head_dim <= kAttentionMaxHeadDim; heads % kv_heads == 0; q_len >= 1.
cudaError_t LaunchAttentionForward(ElementType type, const AttentionGeometry& g, const void* q, const void* k,
                                   const void* v, void* o, void* lse, cudaStream_t stream);

// Scratch bytes that LaunchAttentionBackward needs (D = rowsum(dout * o), one value per query row).
size_t AttentionBackwardScratchBytes(ElementType type, const AttentionGeometry& g);

// Backward, deterministic and without atomics: a first kernel computes D = rowsum(dout * o); a second, one
// block per (batch, kv head, tile of keys), holds the tile's keys and values in shared memory and loops over
// the query heads of its group and their query tiles (in order), recomputing p = exp(score - lse) and
// ds = p (dout . v - D) to accumulate dk and dv in registers; a third, one block per (batch, head, tile of
// queries), loops over the key tiles its queries see to accumulate dq. Every output element is written by
// exactly one thread (0 where nothing contributes). REQUIRES: as LaunchAttentionForward; scratch:
// AttentionBackwardScratchBytes bytes.
cudaError_t LaunchAttentionBackward(ElementType type, const AttentionGeometry& g, const void* q,
                                    const void* k, const void* v, const void* o, const void* dout,
                                    const void* lse, void* dq, void* dk, void* dv, void* scratch,
                                    cudaStream_t stream);

// Rotary position embedding in place on x [batch * len, heads, head_dim]: one thread per rotated pair, the
// angle (RopeAngle of kernels/element.h), its cosine and sine in double, rounded to the compute type once,
// as the CPU backend computes them. REQUIRES: head_dim even.
cudaError_t LaunchRope(ElementType type, int64_t batch, int64_t len, int64_t heads, int64_t head_dim,
                       int64_t pos_offset, double base, bool inverse, void* x, cudaStream_t stream);

}  // namespace hpo::kernels::cuda

#endif  // HPO_KERNELS_CUDA_KERNELS_CUH_
