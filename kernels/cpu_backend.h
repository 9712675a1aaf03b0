// CpuBackend: the Backend on the host CPU. GEMM runs on oneDNN when the build has it (dnnl_sgemm for kF32,
// its bf16 GEMM for bf16 operands) and on OpenBLAS otherwise (cblas_sgemm; cblas_dgemm for the kF64
// reference path always); halves without a native GEMM are widened exactly to fp32 first. Every other operation is a loop over the
// shared math of kernels/element.h, computing in fp32 (fp64 for kF64) and rounding to fp16 / bf16 to
// nearest even exactly as kernels/half.h does, with the activation dispatched once per call rather than per
// element. Sums run in a fixed order, so a fixed-seed run repeats bit for bit on one machine (the same CPU,
// libraries and thread count). The operations are split by family over cpu_backend.cc (memory, Fill,
// Cast), cpu_gemm.cc, cpu_elementwise.cc (with cpu_philox.cc for dropout), cpu_loss.cc, cpu_norm.cc,
// cpu_transformer.cc (embedding, RMS norm, SwiGLU), cpu_conv.cc (im2col, pooling, batch norm),
// cpu_depthwise.cc, cpu_attention.cc (attention, rotary embeddings) and cpu_optimizer.cc; cpu_convert.cc
// holds the fp16/bf16 conversions.
//
// Threads: the backend owns a pool of `BackendOptions::threads` threads (the caller's plus threads - 1
// workers, kernels/cpu_thread_pool.h). Large GEMMs split over it, one single-threaded library call per
// block; long element-wise operations (casts, optimizer updates) split by whole tiles; the bias activations,
// layer, batch and RMS norm, im2col, col2im, the pools, the depthwise convolution, SwiGLU and the embedding
// by whole pixels, images, rows or column ranges, and their column sums by fixed chunks of rows; attention
// by (batch, head) work items; each part is computed by one thread alone, which changes no result. A bias
// gradient and the loss reductions run on the caller's thread. The libraries' own threading is off (Create sets OpenBLAS to one
// thread, process-wide, and each oneDNN call runs on one thread). Idle workers block, so nothing spins
// between calls; with one thread (the default) every operation runs on the caller's thread. Operations are
// synchronous; Synchronize() returns OK at once.
//
// Not thread-safe (one owner at a time, like every Backend). Memory is 64-byte aligned host memory. The
// backend keeps fp32 scratch for half GEMM operands and rows, grown on demand and reused by later calls.
#ifndef HPO_KERNELS_CPU_BACKEND_H_
#define HPO_KERNELS_CPU_BACKEND_H_

#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "kernels/backend.h"

namespace hpo::kernels {

namespace cpu {
class ThreadPool;
}  // namespace cpu

class CpuBackend final : public Backend {
 public:
  // INVALID_ARGUMENT unless 1 <= options.threads <= kMaxThreads.
  static Result<std::unique_ptr<CpuBackend>> Create(const BackendOptions& options);
  static constexpr int kMaxThreads = 1024;
  ~CpuBackend() override;

  BackendKind kind() const override { return BackendKind::kCpu; }
  // "cpu: <model name from /proc/cpuinfo> (N threads)".
  std::string DeviceName() const override;
  int threads() const { return threads_; }

  Status Synchronize() override { return Status::Ok(); }

 protected:
  Result<void*> AllocateBytes(size_t bytes) override;
  void FreeBytes(void* data) override;
  Status CopyToDevice(const void* host, void* device, size_t bytes) override;
  Status CopyToHost(const void* device, void* host, size_t bytes) override;

  Status FillImpl(View dst, double value) override;
  Status CastImpl(ConstView src, View dst) override;
  Status GemmImpl(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                  ConstView a, ConstView b, double beta, View c) override;
  Status BiasActivationForwardImpl(Activation act, int64_t rows, int64_t cols, ConstView bias, View z,
                                   View y) override;
  Status BiasActivationBackwardImpl(Activation act, int64_t rows, int64_t cols, ConstView z, ConstView dy,
                                    View dz, View dbias) override;
  Status SoftmaxCrossEntropyImpl(const LossOptions& options, int64_t rows, int64_t cols, ConstView logits,
                                 ConstView labels, View loss, View dlogits) override;
  Result<int64_t> CountCorrectImpl(int64_t rows, int64_t cols, ConstView logits, ConstView labels) override;
  Status DropoutImpl(double p, uint64_t seed, uint64_t stream, ConstView x, View y) override;
  Status LayerNormForwardImpl(int64_t rows, int64_t cols, double eps, ConstView x, ConstView gamma,
                              ConstView beta, View y, View mean, View rstd) override;
  Status LayerNormBackwardImpl(int64_t rows, int64_t cols, ConstView x, ConstView gamma, ConstView mean,
                               ConstView rstd, ConstView dy, View dx, View dgamma, View dbeta) override;
  Status EmbeddingForwardImpl(int64_t rows, int64_t vocab, int64_t dim, ConstView tokens, ConstView table,
                              View out) override;
  Status EmbeddingBackwardImpl(int64_t rows, int64_t vocab, int64_t dim, ConstView tokens, ConstView dout,
                               View dtable) override;
  Status RmsNormForwardImpl(int64_t rows, int64_t cols, double eps, ConstView x, ConstView gamma, View y,
                            View rstd) override;
  Status RmsNormBackwardImpl(int64_t rows, int64_t cols, ConstView x, ConstView gamma, ConstView rstd,
                             ConstView dy, View dx, View dgamma) override;
  Status SwiGluForwardImpl(int64_t rows, int64_t hidden, ConstView h, View y) override;
  Status SwiGluBackwardImpl(int64_t rows, int64_t hidden, ConstView h, ConstView dy, View dh) override;
  Status DepthwiseConv2dForwardImpl(const Conv2dShape& s, ConstView x, ConstView w, View y) override;
  Status DepthwiseConv2dBackwardImpl(const Conv2dShape& s, ConstView x, ConstView w, ConstView dy, View dx,
                                     View dw) override;
  Status Im2ColImpl(const Conv2dShape& s, ConstView x, View cols) override;
  Status Col2ImImpl(const Conv2dShape& s, ConstView cols, View x) override;
  Status MaxPool2dForwardImpl(const Conv2dShape& s, ConstView x, View y, View argmax) override;
  Status MaxPool2dBackwardImpl(const Conv2dShape& s, ConstView dy, ConstView argmax, View dx) override;
  Status GlobalAvgPoolForwardImpl(int64_t batch, int64_t pixels, int64_t channels, ConstView x,
                                  View y) override;
  Status GlobalAvgPoolBackwardImpl(int64_t batch, int64_t pixels, int64_t channels, ConstView dy,
                                   View dx) override;
  Status BatchNormForwardImpl(int64_t rows, int64_t cols, double eps, double momentum, ConstView x,
                              ConstView gamma, ConstView beta, View y, View mean, View rstd,
                              View running_mean, View running_var) override;
  Status BatchNormInferenceImpl(int64_t rows, int64_t cols, double eps, ConstView x, ConstView gamma,
                                ConstView beta, ConstView running_mean, ConstView running_var,
                                View y) override;
  Status BatchNormBackwardImpl(int64_t rows, int64_t cols, ConstView x, ConstView gamma, ConstView mean,
                               ConstView rstd, ConstView dy, View dx, View dgamma, View dbeta) override;
  Status AttentionForwardImpl(const AttentionShape& s, ConstView q, ConstView k, ConstView v, View o,
                              View lse) override;
  Status AttentionBackwardImpl(const AttentionShape& s, ConstView q, ConstView k, ConstView v, ConstView o,
                               ConstView dout, ConstView lse, View dq, View dk, View dv) override;
  Status RopeImpl(int64_t batch, int64_t len, int64_t heads, int64_t head_dim, int64_t pos_offset,
                  double base, bool inverse, View x) override;
  Status AxpyImpl(double alpha, ConstView x, View y) override;
  Result<GradStats> GradientStatsImpl(ConstView g) override;
  Status SgdMomentumUpdateImpl(const SgdHyper& hyper, double grad_scale, View w, ConstView g, View velocity,
                               View w_copy) override;
  Status AdamWUpdateImpl(const AdamWHyper& hyper, int64_t step, double grad_scale, View w, ConstView g,
                         View m, View v, View w_copy) override;

 private:
  CpuBackend(int threads, std::string cpu_model);

  // fp32 scratch: the widened GEMM operands, and whole rows of half tensors for the row operations.
  enum Scratch { kGemmA, kGemmB, kGemmC, kRow0, kRow1, kRow2, kRow3, kScratchSlots };
  // At least `count` floats of slot `slot`, valid until the next call for that slot.
  float* ScratchFloats(Scratch slot, size_t count);

  int threads_;
  std::string cpu_model_;
  std::array<std::vector<float>, kScratchSlots> scratch_;
  std::unique_ptr<cpu::ThreadPool> pool_;  // threads_ threads, the caller's included
};

}  // namespace hpo::kernels

#endif  // HPO_KERNELS_CPU_BACKEND_H_
