// The CUDA backend: class CudaBackend (private to this file) and MakeCudaBackend.
//
// Split: this file is C++20, compiled by the host compiler against kernels/backend.h; it holds the backend's
// state (device, stream, cuBLAS handle, events, arena), calls the CUDA runtime and cuBLAS directly, and
// enqueues kernels through the C++17 launchers of kernels/cuda_kernels.cuh, which the kernels/cuda_*.cu
// files (nvcc) define. Every CUDA and cuBLAS call and every launcher goes through HPO_CUDA_RETURN_IF_ERROR /
// HPO_CUBLAS_RETURN_IF_ERROR, which turn a failure into a Status naming the call, the error and the line.
//
// Ordering: all work, copies and memsets included, runs on the backend's one stream, in issue order. That
// is what makes the arena's immediate reuse of freed memory safe, and why Allocate needs no wait for its
// zero fill: any later use of the memory through this backend is queued after the memset.
#include "kernels/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "kernels/backend.h"
#include "kernels/cuda_backend_arena.h"
#include "kernels/cuda_device.h"
#include "kernels/cuda_kernels.cuh"
#include "kernels/element.h"
#include "kernels/half.h"
#include "kernels/philox.h"

namespace hpo::kernels {
namespace {

static_assert(static_cast<int>(DType::kF32) == static_cast<int>(cuda::ElementType::kF32));
static_assert(static_cast<int>(DType::kF64) == static_cast<int>(cuda::ElementType::kF64));
static_assert(static_cast<int>(DType::kI32) == static_cast<int>(cuda::ElementType::kI32));
static_assert(static_cast<int>(DType::kF16) == static_cast<int>(cuda::ElementType::kF16));
static_assert(static_cast<int>(DType::kBF16) == static_cast<int>(cuda::ElementType::kBF16));

cuda::ElementType ToElementType(DType dtype) {
  return static_cast<cuda::ElementType>(static_cast<uint8_t>(dtype));
}

cuda::ConvGeometry ToGeometry(const Conv2dShape& s) {
  return cuda::ConvGeometry{s.batch,    s.height,   s.width, s.channels, s.kernel_h,     s.kernel_w,
                            s.stride_h, s.stride_w, s.pad_h, s.pad_w,    s.out_height(), s.out_width()};
}

cuda::AttentionGeometry ToGeometry(const AttentionShape& s) {
  return cuda::AttentionGeometry{s.batch,    s.q_len,  s.kv_len, s.heads, s.kv_heads,         s.head_dim,
                                 s.q_offset, s.window, s.causal, s.alibi, s.effective_scale()};
}

static_assert(kMaxAttentionHeadDim == cuda::kAttentionMaxHeadDim);

// The path from "kernels/" on, so that messages do not carry the build machine's directories.
std::string SourceLocation(const char* file, int line) {
  std::string_view path(file);
  const size_t at = path.rfind("kernels/");
  if (at != std::string_view::npos) path.remove_prefix(at);
  return std::string(path) + ":" + std::to_string(line);
}

Status CudaFailure(cudaError_t error, const char* call, const char* file, int line) {
  // Clears the runtime's last-error slot (for errors that are not sticky), so that the next launcher's
  // cudaGetLastError() reports its own launch, not this failure again.
  (void)cudaGetLastError();
  const StatusCode code =
      error == cudaErrorMemoryAllocation ? StatusCode::kResourceExhausted : StatusCode::kInternal;
  return Status(code, std::string("CUDA backend: ") + call + " failed: " + cudaGetErrorName(error) + " (" +
                          cudaGetErrorString(error) + ") at " + SourceLocation(file, line));
}

Status CublasFailure(cublasStatus_t status, const char* call, const char* file, int line) {
  const StatusCode code =
      status == CUBLAS_STATUS_ALLOC_FAILED ? StatusCode::kResourceExhausted : StatusCode::kInternal;
  return Status(code, std::string("CUDA backend: ") + call + " failed: " + cublasGetStatusName(status) +
                          " (" + cublasGetStatusString(status) + ") at " + SourceLocation(file, line));
}

}  // namespace

// Evaluates `call` (a cudaError_t expression) once; returns a Status from the enclosing function on failure.
#define HPO_CUDA_RETURN_IF_ERROR(call)                                                \
  do {                                                                                \
    const cudaError_t hpo_cuda_error_ = (call);                                       \
    if (hpo_cuda_error_ != cudaSuccess) {                                             \
      return ::hpo::kernels::CudaFailure(hpo_cuda_error_, #call, __FILE__, __LINE__); \
    }                                                                                 \
  } while (false)

// The same for a cublasStatus_t expression.
#define HPO_CUBLAS_RETURN_IF_ERROR(call)                                                   \
  do {                                                                                     \
    const cublasStatus_t hpo_cublas_status_ = (call);                                      \
    if (hpo_cublas_status_ != CUBLAS_STATUS_SUCCESS) {                                     \
      return ::hpo::kernels::CublasFailure(hpo_cublas_status_, #call, __FILE__, __LINE__); \
    }                                                                                      \
  } while (false)

namespace {

// Device memory for the arena: cudaMalloc / cudaFree (cudaMalloc aligns to at least 256 bytes).
DeviceArena::ChunkSource CudaChunkSource() {
  DeviceArena::ChunkSource source;
  source.allocate = [](size_t bytes) -> Result<void*> {
    void* chunk = nullptr;
    HPO_CUDA_RETURN_IF_ERROR(cudaMalloc(&chunk, bytes));
    return chunk;
  };
  source.release = [](void* chunk) {
    if (cudaFree(chunk) != cudaSuccess) (void)cudaGetLastError();
  };
  return source;
}

// Whether `host` is page-locked memory the device can read at any time (cudaMallocHost, cudaHostRegister).
bool IsPinned(const void* host) {
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, host) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return attributes.type == cudaMemoryTypeHost;
}

// Host-side cuBLAS description of a floating element type.
cudaDataType_t CudaDataType(DType dtype) {
  switch (dtype) {
    case DType::kF64:
      return CUDA_R_64F;
    case DType::kF16:
      return CUDA_R_16F;
    case DType::kBF16:
      return CUDA_R_16BF;
    case DType::kF32:
    case DType::kI32:
      break;
  }
  return CUDA_R_32F;
}

const void* DataOrNull(const ConstView& view) { return view.size == 0 ? nullptr : view.data; }
void* DataOrNull(const View& view) { return view.size == 0 ? nullptr : view.data; }

class CudaBackend final : public Backend {
 public:
  // cuBLAS's recommended workspace: 32 MiB on Hopper and later, 4 MiB before.
  static constexpr size_t kWorkspaceBytesHopper = size_t{32} << 20;
  static constexpr size_t kWorkspaceBytesOther = size_t{4} << 20;

  CudaBackend(int device, std::string device_name)
      : device_(device), device_name_(std::move(device_name)), arena_(CudaChunkSource()) {}
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  // Creates the stream, the cuBLAS handle and workspace, the events and the control block.
  Status Init(const cudaDeviceProp& properties);

  BackendKind kind() const override { return BackendKind::kCuda; }
  std::string DeviceName() const override { return device_name_; }
  Status Synchronize() override;
  Result<double> TimeMs(const std::function<Status()>& work) override;

 protected:
  Result<void*> AllocateBytes(size_t bytes) override;
  void FreeBytes(void* data) override;
  Status CopyToDevice(const void* host, void* device, size_t bytes) override;
  Result<void*> AllocateHostBytes(size_t bytes) override;
  void FreeHostBytes(void* data) override;
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
  // Makes this backend's device current on the calling thread (the runtime keeps one per thread).
  Status Enter();
  // Backend-internal device memory of at least `bytes` (row losses, column partials), valid until the next
  // call; kept and grown, never shrunk. Reuse is safe because work runs in stream order.
  Result<void*> Scratch(size_t bytes);
  // Copies the control block to its host mirror and waits for the stream; INVALID_ARGUMENT (once) when a
  // kernel flagged bad input since the last wait; the stream's error when work failed.
  Status FetchControl();

  int device_;
  std::string device_name_;
  DeviceArena arena_;  // declared before everything it backs, so that it is destroyed last
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cudaEvent_t start_ = nullptr;
  cudaEvent_t stop_ = nullptr;
  void* scratch_ = nullptr;  // an arena block
  size_t scratch_bytes_ = 0;
  cuda::DeviceControl* control_ = nullptr;       // device memory (cudaMalloc)
  cuda::DeviceControl* host_control_ = nullptr;  // pinned mirror (cudaMallocHost)
};

CudaBackend::~CudaBackend() {
  // Nothing here can report an error; each failure is cleared so that it does not leak into later calls.
  auto ignore = [](cudaError_t error) {
    if (error != cudaSuccess) (void)cudaGetLastError();
  };
  ignore(cudaSetDevice(device_));
  if (stream_ != nullptr) ignore(cudaStreamSynchronize(stream_));
  if (cublas_ != nullptr) (void)cublasDestroy(cublas_);
  if (start_ != nullptr) ignore(cudaEventDestroy(start_));
  if (stop_ != nullptr) ignore(cudaEventDestroy(stop_));
  if (host_control_ != nullptr) ignore(cudaFreeHost(host_control_));
  if (control_ != nullptr) ignore(cudaFree(control_));
  if (stream_ != nullptr) ignore(cudaStreamDestroy(stream_));
  // arena_ returns its chunks (workspace and scratch included) when it is destroyed, after this body.
}

Status CudaBackend::Init(const cudaDeviceProp& properties) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  HPO_CUDA_RETURN_IF_ERROR(cudaEventCreate(&start_));
  HPO_CUDA_RETURN_IF_ERROR(cudaEventCreate(&stop_));
  void* control = nullptr;
  HPO_CUDA_RETURN_IF_ERROR(cudaMalloc(&control, sizeof(cuda::DeviceControl)));
  control_ = static_cast<cuda::DeviceControl*>(control);
  void* host_control = nullptr;
  HPO_CUDA_RETURN_IF_ERROR(cudaMallocHost(&host_control, sizeof(cuda::DeviceControl)));
  host_control_ = static_cast<cuda::DeviceControl*>(host_control);
  std::memset(host_control_, 0, sizeof(cuda::DeviceControl));
  HPO_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(control_, 0, sizeof(cuda::DeviceControl), stream_));

  HPO_CUBLAS_RETURN_IF_ERROR(cublasCreate(&cublas_));
  HPO_CUBLAS_RETURN_IF_ERROR(cublasSetStream(cublas_, stream_));
  // Default math (tensor cores for half inputs; fp32 inputs stay fp32, no TF32), and every reduction in the
  // compute type even when C is half, so that a product is rounded to C once, as Backend::Gemm promises.
  HPO_CUBLAS_RETURN_IF_ERROR(cublasSetMathMode(
      cublas_,
      static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)));
  // An explicit workspace on the backend's one stream: no allocation inside cuBLAS, and results that repeat
  // bit for bit (cuBLAS's reproducibility holds for a fixed stream and workspace).
  const size_t workspace_bytes = properties.major >= 9 ? kWorkspaceBytesHopper : kWorkspaceBytesOther;
  HPO_ASSIGN_OR_RETURN(void* workspace, arena_.Allocate(workspace_bytes));
  HPO_CUBLAS_RETURN_IF_ERROR(cublasSetWorkspace(cublas_, workspace, workspace_bytes));
  HPO_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  return Status::Ok();
}

Status CudaBackend::Enter() {
  HPO_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
  return Status::Ok();
}

Result<void*> CudaBackend::Scratch(size_t bytes) {
  if (bytes <= scratch_bytes_) return scratch_;
  if (scratch_ != nullptr) {
    arena_.Free(scratch_);
    scratch_ = nullptr;
    scratch_bytes_ = 0;
  }
  HPO_ASSIGN_OR_RETURN(scratch_, arena_.Allocate(bytes));
  scratch_bytes_ = bytes;
  return scratch_;
}

Status CudaBackend::FetchControl() {
  HPO_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(host_control_, control_, sizeof(cuda::DeviceControl), cudaMemcpyDeviceToHost, stream_));
  HPO_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  const uint32_t errors = host_control_->error_bits;
  if (errors != 0) {
    void* const device_bits = reinterpret_cast<char*>(control_) + offsetof(cuda::DeviceControl, error_bits);
    HPO_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(device_bits, 0, sizeof(uint32_t), stream_));
    host_control_->error_bits = 0;
    std::string what;
    if ((errors & cuda::kErrorLabelOutOfRange) != 0)
      what = "SoftmaxCrossEntropy: a label is outside [0, cols)";
    if ((errors & cuda::kErrorTokenOutOfRange) != 0) {
      if (!what.empty()) what += "; ";
      what += "EmbeddingForward or EmbeddingBackward: a token is outside [0, vocab)";
    }
    return InvalidArgumentError(what + " (found on the device, reported at the next wait)");
  }
  return Status::Ok();
}

Status CudaBackend::Synchronize() {
  HPO_RETURN_IF_ERROR(Enter());
  return FetchControl();
}

Result<double> CudaBackend::TimeMs(const std::function<Status()>& work) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cudaEventRecord(start_, stream_));
  HPO_RETURN_IF_ERROR(work());
  HPO_RETURN_IF_ERROR(Enter());  // in case `work` made another device current
  HPO_CUDA_RETURN_IF_ERROR(cudaEventRecord(stop_, stream_));
  HPO_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(stop_));
  HPO_RETURN_IF_ERROR(FetchControl());
  float ms = 0.0f;
  HPO_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, start_, stop_));
  return static_cast<double>(ms);
}

Result<void*> CudaBackend::AllocateBytes(size_t bytes) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_ASSIGN_OR_RETURN(void* data, arena_.Allocate(bytes));
  const cudaError_t zeroed = cudaMemsetAsync(data, 0, bytes, stream_);
  if (zeroed != cudaSuccess) {
    arena_.Free(data);
    return CudaFailure(zeroed, "cudaMemsetAsync(data, 0, bytes, stream_)", __FILE__, __LINE__);
  }
  return data;
}

void CudaBackend::FreeBytes(void* data) { arena_.Free(data); }

Status CudaBackend::CopyToDevice(const void* host, void* device, size_t bytes) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream_));
  // From pageable memory, wait, so that the caller may reuse its buffer at once; pinned sources stay async.
  if (!IsPinned(host)) HPO_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  return Status::Ok();
}

// Page-locked (cudaMallocHost), so that uploads from it stay asynchronous; ordinary memory when the driver
// has none to give (uploads from it then wait, as from any pageable memory).
Result<void*> CudaBackend::AllocateHostBytes(size_t bytes) {
  void* data = nullptr;
  if (cudaMallocHost(&data, bytes) != cudaSuccess) {
    (void)cudaGetLastError();
    return Backend::AllocateHostBytes(bytes);
  }
  std::memset(data, 0, bytes);
  return data;
}

void CudaBackend::FreeHostBytes(void* data) {
  if (!IsPinned(data)) return Backend::FreeHostBytes(data);
  if (cudaFreeHost(data) != cudaSuccess) (void)cudaGetLastError();
}

Status CudaBackend::CopyToHost(const void* device, void* host, size_t bytes) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream_));
  return FetchControl();
}

Status CudaBackend::FillImpl(View dst, double value) {
  HPO_RETURN_IF_ERROR(Enter());
  // The element's bit pattern, converted on the host as the CPU backend converts.
  uint64_t pattern = 0;
  switch (dst.dtype) {
    case DType::kF32:
      pattern = FloatBits(static_cast<float>(value));
      break;
    case DType::kF64:
      std::memcpy(&pattern, &value, sizeof(value));
      break;
    case DType::kI32:  // the base class checked the range; nearest, ties to even
      pattern = static_cast<uint32_t>(static_cast<int32_t>(std::nearbyint(value)));
      break;
    case DType::kF16:
      pattern = cuda::DoubleToHalfBits(value);
      break;
    case DType::kBF16:
      pattern = cuda::DoubleToBf16Bits(value);
      break;
  }
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchFill(dst.data, dst.size, DTypeSize(dst.dtype), pattern, stream_));
  return Status::Ok();
}

Status CudaBackend::CastImpl(ConstView src, View dst) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchCast(src.data, ToElementType(src.dtype), dst.data,
                                            ToElementType(dst.dtype), src.size, stream_));
  return Status::Ok();
}

Status CudaBackend::GemmImpl(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k,
                             double alpha, ConstView a, ConstView b, double beta, View c) {
  HPO_RETURN_IF_ERROR(Enter());
  if (m == 0 || n == 0) return Status::Ok();
  if (k == 0) {  // C = beta C; cuBLAS would want leading dimensions >= 1
    if (beta == 1.0) return Status::Ok();
    HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchScale(ToElementType(c.dtype), beta, c.data,
                                               static_cast<size_t>(m) * static_cast<size_t>(n), stream_));
    return Status::Ok();
  }
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: a row-major r x s matrix is the
  // column-major s x r matrix of the same memory. So cuBLAS multiplies B's memory (op as given, leading
  // dimension its row length) by A's, into C's memory with leading dimension n.
  const cublasOperation_t op_a = trans_a == Transpose::kYes ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = trans_b == Transpose::kYes ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int lda = static_cast<int>(trans_a == Transpose::kYes ? m : k);  // A stored k x m or m x k
  const int ldb = static_cast<int>(trans_b == Transpose::kYes ? k : n);  // B stored n x k or k x n
  const int ldc = static_cast<int>(n);
  const cudaDataType_t ab_type = CudaDataType(a.dtype);
  const cudaDataType_t c_type = CudaDataType(c.dtype);
  if (a.dtype == DType::kF64) {
    const double alpha64 = alpha;
    const double beta64 = beta;
    HPO_CUBLAS_RETURN_IF_ERROR(cublasGemmEx(cublas_, op_b, op_a, static_cast<int>(n), static_cast<int>(m),
                                            static_cast<int>(k), &alpha64, b.data, ab_type, ldb, a.data,
                                            ab_type, lda, &beta64, c.data, c_type, ldc, CUBLAS_COMPUTE_64F,
                                            CUBLAS_GEMM_DEFAULT));
  } else {
    // fp32 compute: tensor cores for fp16/bf16 inputs; plain fp32 for fp32 inputs (not TF32).
    const float alpha32 = static_cast<float>(alpha);
    const float beta32 = static_cast<float>(beta);
    HPO_CUBLAS_RETURN_IF_ERROR(cublasGemmEx(cublas_, op_b, op_a, static_cast<int>(n), static_cast<int>(m),
                                            static_cast<int>(k), &alpha32, b.data, ab_type, ldb, a.data,
                                            ab_type, lda, &beta32, c.data, c_type, ldc, CUBLAS_COMPUTE_32F,
                                            CUBLAS_GEMM_DEFAULT));
  }
  return Status::Ok();
}

Status CudaBackend::BiasActivationForwardImpl(Activation act, int64_t rows, int64_t cols, ConstView bias,
                                              View z, View y) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchBiasActivationForward(act, ToElementType(z.dtype), rows, cols,
                                                             DataOrNull(bias), z.data, y.data, stream_));
  return Status::Ok();
}

Status CudaBackend::BiasActivationBackwardImpl(Activation act, int64_t rows, int64_t cols, ConstView z,
                                               ConstView dy, View dz, View dbias) {
  HPO_RETURN_IF_ERROR(Enter());
  const cuda::ElementType type = ToElementType(dz.dtype);
  void* scratch = nullptr;
  if (dbias.size > 0) {
    HPO_ASSIGN_OR_RETURN(scratch, Scratch(cuda::BiasActivationBackwardScratchBytes(type, rows, cols)));
  }
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchBiasActivationBackward(act, type, rows, cols, z.data, dy.data, dz.data,
                                                              DataOrNull(dbias), scratch, stream_));
  return Status::Ok();
}

Status CudaBackend::SoftmaxCrossEntropyImpl(const LossOptions& options, int64_t rows, int64_t cols,
                                            ConstView logits, ConstView labels, View loss, View dlogits) {
  HPO_RETURN_IF_ERROR(Enter());
  if (rows < 1 || cols < 1) return InvalidArgumentError("SoftmaxCrossEntropy: needs rows >= 1 and cols >= 1");
  const cuda::ElementType type = ToElementType(logits.dtype);
  HPO_ASSIGN_OR_RETURN(void* row_losses, Scratch(cuda::SoftmaxCrossEntropyScratchBytes(type, rows)));
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchSoftmaxCrossEntropy(
      type, rows, cols, options.label_smoothing, options.label_smoothing / static_cast<double>(cols),
      options.grad_scale / static_cast<double>(rows), logits.data, static_cast<const int32_t*>(labels.data),
      loss.data, DataOrNull(dlogits), row_losses, control_, stream_));
  return Status::Ok();
}

Result<int64_t> CudaBackend::CountCorrectImpl(int64_t rows, int64_t cols, ConstView logits,
                                              ConstView labels) {
  HPO_RETURN_IF_ERROR(Enter());
  if (rows == 0) return int64_t{0};
  if (cols < 1) return InvalidArgumentError("CountCorrect: needs cols >= 1");
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchCountCorrect(ToElementType(logits.dtype), rows, cols, logits.data,
                                                    static_cast<const int32_t*>(labels.data), control_,
                                                    stream_));
  HPO_RETURN_IF_ERROR(FetchControl());
  return static_cast<int64_t>(host_control_->correct);
}

Status CudaBackend::DropoutImpl(double p, uint64_t seed, uint64_t stream, ConstView x, View y) {
  HPO_RETURN_IF_ERROR(Enter());
  if (p == 0.0) {  // a copy
    if (x.data != y.data && x.size > 0) {
      HPO_CUDA_RETURN_IF_ERROR(
          cudaMemcpyAsync(y.data, x.data, x.size * DTypeSize(x.dtype), cudaMemcpyDeviceToDevice, stream_));
    }
    return Status::Ok();
  }
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchDropout(ToElementType(x.dtype), seed, stream, DropoutThreshold(p),
                                               1.0 / (1.0 - p), x.data, y.data, x.size, stream_));
  return Status::Ok();
}

Status CudaBackend::LayerNormForwardImpl(int64_t rows, int64_t cols, double eps, ConstView x, ConstView gamma,
                                         ConstView beta, View y, View mean, View rstd) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchLayerNormForward(ToElementType(x.dtype), rows, cols, eps, x.data,
                                                        gamma.data, beta.data, y.data, mean.data, rstd.data,
                                                        stream_));
  return Status::Ok();
}

Status CudaBackend::LayerNormBackwardImpl(int64_t rows, int64_t cols, ConstView x, ConstView gamma,
                                          ConstView mean, ConstView rstd, ConstView dy, View dx, View dgamma,
                                          View dbeta) {
  HPO_RETURN_IF_ERROR(Enter());
  const cuda::ElementType type = ToElementType(x.dtype);
  HPO_ASSIGN_OR_RETURN(void* scratch, Scratch(cuda::LayerNormBackwardScratchBytes(type, rows, cols)));
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchLayerNormBackward(type, rows, cols, x.data, gamma.data, mean.data,
                                                         rstd.data, dy.data, dx.data, dgamma.data, dbeta.data,
                                                         scratch, stream_));
  return Status::Ok();
}

Status CudaBackend::EmbeddingForwardImpl(int64_t rows, int64_t vocab, int64_t dim, ConstView tokens,
                                         ConstView table, View out) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchEmbeddingForward(ToElementType(table.dtype), rows, vocab, dim,
                                                        static_cast<const int32_t*>(tokens.data), table.data,
                                                        out.data, control_, stream_));
  return Status::Ok();
}

Status CudaBackend::EmbeddingBackwardImpl(int64_t rows, int64_t vocab, int64_t dim, ConstView tokens,
                                          ConstView dout, View dtable) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchEmbeddingBackward(ToElementType(dout.dtype), rows, vocab, dim,
                                                         static_cast<const int32_t*>(tokens.data), dout.data,
                                                         dtable.data, control_, stream_));
  return Status::Ok();
}

Status CudaBackend::RmsNormForwardImpl(int64_t rows, int64_t cols, double eps, ConstView x, ConstView gamma,
                                       View y, View rstd) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchRmsNormForward(ToElementType(x.dtype), rows, cols, eps, x.data,
                                                      gamma.data, y.data, rstd.data, stream_));
  return Status::Ok();
}

Status CudaBackend::RmsNormBackwardImpl(int64_t rows, int64_t cols, ConstView x, ConstView gamma,
                                        ConstView rstd, ConstView dy, View dx, View dgamma) {
  HPO_RETURN_IF_ERROR(Enter());
  const cuda::ElementType type = ToElementType(x.dtype);
  HPO_ASSIGN_OR_RETURN(void* scratch, Scratch(cuda::RmsNormBackwardScratchBytes(type, rows, cols)));
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchRmsNormBackward(type, rows, cols, x.data, gamma.data, rstd.data,
                                                       dy.data, dx.data, dgamma.data, scratch, stream_));
  return Status::Ok();
}

Status CudaBackend::SwiGluForwardImpl(int64_t rows, int64_t hidden, ConstView h, View y) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(
      cuda::LaunchSwiGluForward(ToElementType(h.dtype), rows, hidden, h.data, y.data, stream_));
  return Status::Ok();
}

Status CudaBackend::SwiGluBackwardImpl(int64_t rows, int64_t hidden, ConstView h, ConstView dy, View dh) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(
      cuda::LaunchSwiGluBackward(ToElementType(h.dtype), rows, hidden, h.data, dy.data, dh.data, stream_));
  return Status::Ok();
}

Status CudaBackend::DepthwiseConv2dForwardImpl(const Conv2dShape& s, ConstView x, ConstView w, View y) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(
      cuda::LaunchDepthwiseForward(ToElementType(x.dtype), ToGeometry(s), x.data, w.data, y.data, stream_));
  return Status::Ok();
}

Status CudaBackend::DepthwiseConv2dBackwardImpl(const Conv2dShape& s, ConstView x, ConstView w, ConstView dy,
                                                View dx, View dw) {
  HPO_RETURN_IF_ERROR(Enter());
  const cuda::ElementType type = ToElementType(x.dtype);
  const cuda::ConvGeometry g = ToGeometry(s);
  HPO_ASSIGN_OR_RETURN(void* scratch, Scratch(cuda::DepthwiseBackwardScratchBytes(type, g)));
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchDepthwiseBackward(type, g, x.data, w.data, dy.data, DataOrNull(dx),
                                                         dw.data, scratch, stream_));
  return Status::Ok();
}

Status CudaBackend::Im2ColImpl(const Conv2dShape& s, ConstView x, View cols) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(
      cuda::LaunchIm2Col(ToElementType(x.dtype), ToGeometry(s), x.data, cols.data, stream_));
  return Status::Ok();
}

Status CudaBackend::Col2ImImpl(const Conv2dShape& s, ConstView cols, View x) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(
      cuda::LaunchCol2Im(ToElementType(x.dtype), ToGeometry(s), cols.data, x.data, stream_));
  return Status::Ok();
}

Status CudaBackend::MaxPool2dForwardImpl(const Conv2dShape& s, ConstView x, View y, View argmax) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchMaxPoolForward(ToElementType(x.dtype), ToGeometry(s), x.data, y.data,
                                                      static_cast<int32_t*>(argmax.data), stream_));
  return Status::Ok();
}

Status CudaBackend::MaxPool2dBackwardImpl(const Conv2dShape& s, ConstView dy, ConstView argmax, View dx) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchMaxPoolBackward(ToElementType(dx.dtype), ToGeometry(s), dy.data,
                                                       static_cast<const int32_t*>(argmax.data), dx.data,
                                                       stream_));
  return Status::Ok();
}

Status CudaBackend::GlobalAvgPoolForwardImpl(int64_t batch, int64_t pixels, int64_t channels, ConstView x,
                                             View y) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchGlobalAvgPoolForward(ToElementType(x.dtype), batch, pixels, channels,
                                                            x.data, y.data, stream_));
  return Status::Ok();
}

Status CudaBackend::GlobalAvgPoolBackwardImpl(int64_t batch, int64_t pixels, int64_t channels, ConstView dy,
                                              View dx) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchGlobalAvgPoolBackward(ToElementType(dx.dtype), batch, pixels, channels,
                                                             dy.data, dx.data, stream_));
  return Status::Ok();
}

Status CudaBackend::BatchNormForwardImpl(int64_t rows, int64_t cols, double eps, double momentum, ConstView x,
                                         ConstView gamma, ConstView beta, View y, View mean, View rstd,
                                         View running_mean, View running_var) {
  HPO_RETURN_IF_ERROR(Enter());
  const cuda::ElementType type = ToElementType(x.dtype);
  HPO_ASSIGN_OR_RETURN(void* scratch, Scratch(cuda::BatchNormScratchBytes(type, rows, cols)));
  HPO_CUDA_RETURN_IF_ERROR(
      cuda::LaunchBatchNormForward(type, rows, cols, eps, momentum, x.data, gamma.data, beta.data, y.data,
                                   mean.data, rstd.data, running_mean.size > 0 ? running_mean.data : nullptr,
                                   running_var.size > 0 ? running_var.data : nullptr, scratch, stream_));
  return Status::Ok();
}

Status CudaBackend::BatchNormInferenceImpl(int64_t rows, int64_t cols, double eps, ConstView x,
                                           ConstView gamma, ConstView beta, ConstView running_mean,
                                           ConstView running_var, View y) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchBatchNormInference(ToElementType(x.dtype), rows, cols, eps, x.data,
                                                          gamma.data, beta.data, running_mean.data,
                                                          running_var.data, y.data, stream_));
  return Status::Ok();
}

Status CudaBackend::BatchNormBackwardImpl(int64_t rows, int64_t cols, ConstView x, ConstView gamma,
                                          ConstView mean, ConstView rstd, ConstView dy, View dx, View dgamma,
                                          View dbeta) {
  HPO_RETURN_IF_ERROR(Enter());
  const cuda::ElementType type = ToElementType(x.dtype);
  HPO_ASSIGN_OR_RETURN(void* scratch, Scratch(cuda::BatchNormScratchBytes(type, rows, cols)));
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchBatchNormBackward(type, rows, cols, x.data, gamma.data, mean.data,
                                                         rstd.data, dy.data, dx.data, dgamma.data, dbeta.data,
                                                         scratch, stream_));
  return Status::Ok();
}

Status CudaBackend::AttentionForwardImpl(const AttentionShape& s, ConstView q, ConstView k, ConstView v,
                                         View o, View lse) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchAttentionForward(ToElementType(q.dtype), ToGeometry(s), q.data, k.data,
                                                        v.data, o.data, lse.data, stream_));
  return Status::Ok();
}

Status CudaBackend::AttentionBackwardImpl(const AttentionShape& s, ConstView q, ConstView k, ConstView v,
                                          ConstView o, ConstView dout, ConstView lse, View dq, View dk,
                                          View dv) {
  HPO_RETURN_IF_ERROR(Enter());
  const cuda::ElementType type = ToElementType(q.dtype);
  const cuda::AttentionGeometry geometry = ToGeometry(s);
  HPO_ASSIGN_OR_RETURN(void* scratch, Scratch(cuda::AttentionBackwardScratchBytes(type, geometry)));
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchAttentionBackward(type, geometry, q.data, k.data, v.data, o.data,
                                                         dout.data, lse.data, dq.data, dk.data, dv.data,
                                                         scratch, stream_));
  return Status::Ok();
}

Status CudaBackend::RopeImpl(int64_t batch, int64_t len, int64_t heads, int64_t head_dim, int64_t pos_offset,
                             double base, bool inverse, View x) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchRope(ToElementType(x.dtype), batch, len, heads, head_dim, pos_offset,
                                            base, inverse, x.data, stream_));
  return Status::Ok();
}

Status CudaBackend::AxpyImpl(double alpha, ConstView x, View y) {
  HPO_RETURN_IF_ERROR(Enter());
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchAxpy(ToElementType(y.dtype), alpha, x.data, y.data, x.size, stream_));
  return Status::Ok();
}

Result<GradStats> CudaBackend::GradientStatsImpl(ConstView g) {
  HPO_RETURN_IF_ERROR(Enter());
  if (g.size == 0) {
    HPO_RETURN_IF_ERROR(FetchControl());  // still a wait, as documented
    return GradStats{};
  }
  const cuda::ElementType type = ToElementType(g.dtype);
  HPO_ASSIGN_OR_RETURN(void* scratch, Scratch(cuda::GradientStatsScratchBytes(type, g.size)));
  HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchGradientStats(type, g.data, g.size, scratch, control_, stream_));
  HPO_RETURN_IF_ERROR(FetchControl());
  return GradStats{host_control_->sum_squares, host_control_->nonfinite == 0};
}

Status CudaBackend::SgdMomentumUpdateImpl(const SgdHyper& hyper, double grad_scale, View w, ConstView g,
                                          View velocity, View w_copy) {
  HPO_RETURN_IF_ERROR(Enter());
  void* const copy = DataOrNull(w_copy);
  const cuda::ElementType copy_type = ToElementType(w_copy.dtype);
  if (w.dtype == DType::kF64) {
    HPO_CUDA_RETURN_IF_ERROR(
        cuda::LaunchSgdMomentum(MakeSgdCoeffs<double>(hyper, grad_scale), static_cast<double*>(w.data),
                                static_cast<const double*>(g.data), static_cast<double*>(velocity.data), copy,
                                copy_type, w.size, stream_));
  } else {
    HPO_CUDA_RETURN_IF_ERROR(
        cuda::LaunchSgdMomentum(MakeSgdCoeffs<float>(hyper, grad_scale), static_cast<float*>(w.data),
                                static_cast<const float*>(g.data), static_cast<float*>(velocity.data), copy,
                                copy_type, w.size, stream_));
  }
  return Status::Ok();
}

Status CudaBackend::AdamWUpdateImpl(const AdamWHyper& hyper, int64_t step, double grad_scale, View w,
                                    ConstView g, View m, View v, View w_copy) {
  HPO_RETURN_IF_ERROR(Enter());
  void* const copy = DataOrNull(w_copy);
  const cuda::ElementType copy_type = ToElementType(w_copy.dtype);
  if (w.dtype == DType::kF64) {
    HPO_CUDA_RETURN_IF_ERROR(
        cuda::LaunchAdamW(MakeAdamWCoeffs<double>(hyper, step, grad_scale), static_cast<double*>(w.data),
                          static_cast<const double*>(g.data), static_cast<double*>(m.data),
                          static_cast<double*>(v.data), copy, copy_type, w.size, stream_));
  } else {
    HPO_CUDA_RETURN_IF_ERROR(cuda::LaunchAdamW(MakeAdamWCoeffs<float>(hyper, step, grad_scale),
                                               static_cast<float*>(w.data), static_cast<const float*>(g.data),
                                               static_cast<float*>(m.data), static_cast<float*>(v.data), copy,
                                               copy_type, w.size, stream_));
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Backend>> MakeCudaBackend(const BackendOptions& options) {
  const int count = CudaDeviceCount();
  if (options.device < 0 || options.device >= count) {
    return FailedPreconditionError("backend cuda: CUDA device " + std::to_string(options.device) +
                                   " does not answer (" + std::to_string(count) + " device(s) visible)");
  }
  const cudaError_t selected = cudaSetDevice(options.device);
  cudaDeviceProp properties{};
  const cudaError_t queried =
      selected == cudaSuccess ? cudaGetDeviceProperties(&properties, options.device) : selected;
  if (queried != cudaSuccess) {
    return FailedPreconditionError(
        "backend cuda: CUDA device " + std::to_string(options.device) +
        " does not answer: " + CudaFailure(queried, "cudaGetDeviceProperties", __FILE__, __LINE__).message());
  }
  auto backend = std::make_unique<CudaBackend>(options.device, std::string("cuda: ") + properties.name);
  if (Status init = backend->Init(properties); !init.ok()) {
    if (init.code() == StatusCode::kResourceExhausted) return init;
    return FailedPreconditionError("backend cuda: CUDA device " + std::to_string(options.device) +
                                   " does not answer: " + init.message());
  }
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace hpo::kernels
