// The parts of kernels/backend.h that are the same for every backend: names of element types, activations
// and kinds; the optimizer coefficients; Buffer and the byte accounting; the default TimeMs; the factory.
// The public operations' argument checks are in backend_checks.cc.
#include "kernels/backend.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <utility>

#include "kernels/cpu_backend.h"
#include "kernels/cuda_backend.h"
#include "kernels/cuda_device.h"

namespace hpo::kernels {

namespace {
constexpr std::align_val_t kHostAlignment{64};  // a cache line, and the widest SIMD load
}  // namespace

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 4;
    case DType::kF64:
      return 8;
    case DType::kI32:
      return 4;
    case DType::kF16:
      return 2;
    case DType::kBF16:
      return 2;
  }
  return 1;
}

std::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "f32";
    case DType::kF64:
      return "f64";
    case DType::kI32:
      return "i32";
    case DType::kF16:
      return "f16";
    case DType::kBF16:
      return "bf16";
  }
  return "?";
}

bool IsFloating(DType dtype) { return dtype != DType::kI32; }

bool IsHalf(DType dtype) { return dtype == DType::kF16 || dtype == DType::kBF16; }

DType AccumulationType(DType dtype) { return dtype == DType::kF64 ? DType::kF64 : DType::kF32; }

std::string_view ActivationName(Activation activation) {
  switch (activation) {
    case Activation::kIdentity:
      return "identity";
    case Activation::kRelu:
      return "relu";
    case Activation::kGelu:
      return "gelu";
    case Activation::kTanh:
      return "tanh";
    case Activation::kSilu:
      return "silu";
  }
  return "?";
}

std::string_view BackendKindName(BackendKind kind) {
  switch (kind) {
    case BackendKind::kAuto:
      return "auto";
    case BackendKind::kCpu:
      return "cpu";
    case BackendKind::kCuda:
      return "cuda";
  }
  return "?";
}

Result<BackendKind> ParseBackendKind(std::string_view name) {
  for (BackendKind kind : {BackendKind::kAuto, BackendKind::kCpu, BackendKind::kCuda}) {
    if (name == BackendKindName(kind)) return kind;
  }
  return InvalidArgumentError("backend: unknown kind '" + std::string(name) + "' (auto, cpu or cuda)");
}

// --- Optimizer coefficients ---

template <typename T>
AdamWCoeffs<T> MakeAdamWCoeffs(const AdamWHyper& hyper, int64_t step, double grad_scale) {
  const double t = static_cast<double>(step < 1 ? 1 : step);
  AdamWCoeffs<T> c;
  c.lr = static_cast<T>(hyper.lr);
  c.beta1 = static_cast<T>(hyper.beta1);
  c.beta2 = static_cast<T>(hyper.beta2);
  c.eps = static_cast<T>(hyper.eps);
  c.weight_decay = static_cast<T>(hyper.weight_decay);
  c.bias_correction1 = static_cast<T>(1.0 - std::pow(hyper.beta1, t));
  c.bias_correction2 = static_cast<T>(1.0 - std::pow(hyper.beta2, t));
  c.grad_scale = static_cast<T>(grad_scale);
  return c;
}
template AdamWCoeffs<float> MakeAdamWCoeffs<float>(const AdamWHyper&, int64_t, double);
template AdamWCoeffs<double> MakeAdamWCoeffs<double>(const AdamWHyper&, int64_t, double);

template <typename T>
SgdCoeffs<T> MakeSgdCoeffs(const SgdHyper& hyper, double grad_scale) {
  SgdCoeffs<T> c;
  c.lr = static_cast<T>(hyper.lr);
  c.momentum = static_cast<T>(hyper.momentum);
  c.weight_decay = static_cast<T>(hyper.weight_decay);
  c.grad_scale = static_cast<T>(grad_scale);
  c.nesterov = hyper.nesterov;
  return c;
}
template SgdCoeffs<float> MakeSgdCoeffs<float>(const SgdHyper&, double);
template SgdCoeffs<double> MakeSgdCoeffs<double>(const SgdHyper&, double);

// --- Buffer ---

Buffer::Buffer(Buffer&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      dtype_(other.dtype_) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = std::exchange(other.owner_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    dtype_ = other.dtype_;
  }
  return *this;
}

Buffer::~Buffer() { Release(); }

void Buffer::Release() {
  if (owner_ != nullptr && data_ != nullptr) {
    owner_->FreeBytes(data_);
    owner_->Released(size_ * DTypeSize(dtype_));
  }
  owner_ = nullptr;
  data_ = nullptr;
  size_ = 0;
}

// --- HostBuffer ---

HostBuffer::HostBuffer(HostBuffer&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      data_(std::exchange(other.data_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)) {}

HostBuffer& HostBuffer::operator=(HostBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = std::exchange(other.owner_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

HostBuffer::~HostBuffer() { Release(); }

void HostBuffer::Release() {
  if (owner_ != nullptr && data_ != nullptr) owner_->FreeHostBytes(data_);
  owner_ = nullptr;
  data_ = nullptr;
  bytes_ = 0;
}

// --- Backend ---

Result<HostBuffer> Backend::AllocateHost(size_t bytes) {
  if (bytes == 0) return HostBuffer();
  HPO_ASSIGN_OR_RETURN(void* data, AllocateHostBytes(bytes));
  return HostBuffer(this, data, bytes);
}

Result<void*> Backend::AllocateHostBytes(size_t bytes) {
  void* data = ::operator new(bytes, kHostAlignment, std::nothrow);
  if (data == nullptr) {
    return ResourceExhaustedError("AllocateHost: out of host memory for " + std::to_string(bytes) + " bytes");
  }
  std::memset(data, 0, bytes);
  return data;
}

void Backend::FreeHostBytes(void* data) { ::operator delete(data, kHostAlignment); }

Result<Buffer> Backend::Allocate(size_t count, DType dtype) {
  if (count == 0) return Buffer(nullptr, nullptr, 0, dtype);
  if (count > std::numeric_limits<size_t>::max() / DTypeSize(dtype) / 2) {
    return ResourceExhaustedError("Allocate: " + std::to_string(count) + " elements of " +
                                  std::string(DTypeName(dtype)) + " is too many");
  }
  const size_t bytes = count * DTypeSize(dtype);
  HPO_ASSIGN_OR_RETURN(void* data, AllocateBytes(bytes));
  bytes_in_use_ += bytes;
  if (bytes_in_use_ > peak_bytes_) peak_bytes_ = bytes_in_use_;
  return Buffer(this, data, count, dtype);
}

Result<double> Backend::TimeMs(const std::function<Status()>& work) {
  const auto start = std::chrono::steady_clock::now();
  HPO_RETURN_IF_ERROR(work());
  HPO_RETURN_IF_ERROR(Synchronize());
  const auto end = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::milli>(end - start).count();
}

Status Backend::TypeMismatch(std::string_view op, DType have, DType want) {
  return InvalidArgumentError(std::string(op) + ": element type " + std::string(DTypeName(have)) +
                              ", expected " + std::string(DTypeName(want)));
}

Status Backend::SizeMismatch(std::string_view op, size_t have, size_t want) {
  return InvalidArgumentError(std::string(op) + ": backend view holds " + std::to_string(have) +
                              " elements, needs " + std::to_string(want));
}

// --- Factory ---

namespace {

Result<std::unique_ptr<Backend>> MakeCpu(const BackendOptions& options) {
  HPO_ASSIGN_OR_RETURN(std::unique_ptr<CpuBackend> cpu, CpuBackend::Create(options));
  return std::unique_ptr<Backend>(std::move(cpu));
}

}  // namespace

Result<std::unique_ptr<Backend>> MakeBackend(BackendKind kind, const BackendOptions& options) {
  switch (kind) {
    case BackendKind::kCuda:
      return MakeCudaBackend(options);
    case BackendKind::kAuto:
      // Probing starts the CUDA runtime, so only a build with CUDA does it. A device that is listed but
      // cannot be opened (busy, out of memory) leaves the run on the CPU rather than failing it.
      if (CudaCompiledIn() && CudaDeviceCount() > 0) {
        Result<std::unique_ptr<Backend>> cuda = MakeCudaBackend(options);
        if (cuda.ok()) return cuda;
      }
      return MakeCpu(options);
    case BackendKind::kCpu:
      break;
  }
  return MakeCpu(options);
}

}  // namespace hpo::kernels
