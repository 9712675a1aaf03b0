#include "kernels/backend.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "kernels/cpu_backend.h"
#include "kernels/cuda_device.h"

namespace hpo::kernels {

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 4;
    case DType::kF64:
      return 8;
    case DType::kI32:
      return 4;
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
  }
  return "?";
}

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

template <typename T>
AdamWCoeffs<T> MakeAdamWCoeffs(const AdamWHyper& hyper, int64_t step) {
  const double t = static_cast<double>(step < 1 ? 1 : step);
  AdamWCoeffs<T> c;
  c.lr = static_cast<T>(hyper.lr);
  c.beta1 = static_cast<T>(hyper.beta1);
  c.beta2 = static_cast<T>(hyper.beta2);
  c.eps = static_cast<T>(hyper.eps);
  c.weight_decay = static_cast<T>(hyper.weight_decay);
  c.bias_correction1 = static_cast<T>(1.0 - std::pow(hyper.beta1, t));
  c.bias_correction2 = static_cast<T>(1.0 - std::pow(hyper.beta2, t));
  return c;
}
template AdamWCoeffs<float> MakeAdamWCoeffs<float>(const AdamWHyper&, int64_t);
template AdamWCoeffs<double> MakeAdamWCoeffs<double>(const AdamWHyper&, int64_t);

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
  if (owner_ != nullptr && data_ != nullptr) owner_->FreeBytes(data_);
  owner_ = nullptr;
  data_ = nullptr;
  size_ = 0;
}

// --- Backend ---

Result<Buffer> Backend::Allocate(size_t count, DType dtype) {
  if (count == 0) return Buffer(nullptr, nullptr, 0, dtype);
  if (count > std::numeric_limits<size_t>::max() / DTypeSize(dtype) / 2) {
    return ResourceExhaustedError("Allocate: " + std::to_string(count) + " elements of " +
                                  std::string(DTypeName(dtype)) + " is too many");
  }
  HPO_ASSIGN_OR_RETURN(void* data, AllocateBytes(count * DTypeSize(dtype)));
  return Buffer(this, data, count, dtype);
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

Result<std::unique_ptr<Backend>> MakeBackend(BackendKind kind, const BackendOptions& options) {
  if (kind == BackendKind::kCuda) {
    const int count = CudaDeviceCount();
    if (options.device < 0 || options.device >= count) {
      return FailedPreconditionError(
          "backend cuda: CUDA device " + std::to_string(options.device) + " does not answer (" +
          std::to_string(count) + " device(s) visible" +
          (CudaCompiledIn() ? std::string(")") : std::string("; this build has no CUDA support)")));
    }
    Result<std::string> name = CudaDeviceName(options.device);
    return UnimplementedError("backend cuda: device " + std::to_string(options.device) + " (" +
                              (name.ok() ? *name : std::string("?")) +
                              ") answers, but this build has no CUDA backend yet");
  }
  // kAuto and kCpu: the CPU backend. There is no CUDA backend to choose yet, so kAuto does not probe for
  // devices (that would start the CUDA runtime in every run on a GPU host for nothing); once the CUDA
  // backend exists, kAuto is to pick it when CudaDeviceCount() > 0.
  HPO_ASSIGN_OR_RETURN(std::unique_ptr<CpuBackend> cpu, CpuBackend::Create(options));
  return std::unique_ptr<Backend>(std::move(cpu));
}

}  // namespace hpo::kernels
