// CpuBackend: creation, memory, scratch, Fill and Cast. The other operations live in cpu_gemm.cc,
// cpu_elementwise.cc, cpu_loss.cc, cpu_norm.cc and cpu_optimizer.cc.
#include "kernels/cpu_backend.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "base/host.h"
#include "kernels/cpu_convert.h"
#include "kernels/cpu_loops.h"
#include "kernels/cpu_thread_pool.h"

namespace hpo::kernels {
namespace {

constexpr std::align_val_t kAlignment{64};

}  // namespace

Result<std::unique_ptr<CpuBackend>> CpuBackend::Create(const BackendOptions& options) {
  if (options.threads < 1 || options.threads > kMaxThreads) {
    return InvalidArgumentError("threads: " + std::to_string(options.threads) + " is out of range [1, " +
                                std::to_string(kMaxThreads) + "]");
  }
  // GEMMs are split over the backend's own pool; OpenBLAS's threads would spin between calls.
  openblas_set_num_threads(1);
  return std::unique_ptr<CpuBackend>(new CpuBackend(options.threads, CpuModelName()));
}

CpuBackend::CpuBackend(int threads, std::string cpu_model)
    : threads_(threads),
      cpu_model_(std::move(cpu_model)),
      pool_(std::make_unique<cpu::ThreadPool>(threads)) {}

CpuBackend::~CpuBackend() = default;

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

float* CpuBackend::ScratchFloats(Scratch slot, size_t count) {
  std::vector<float>& scratch = scratch_[slot];
  if (scratch.size() < count) scratch.resize(count);
  return scratch.data();
}

Status CpuBackend::FillImpl(View dst, double value) {
  if (dst.dtype == DType::kI32) {
    // The base class checked the range; round to nearest, ties to even.
    std::fill_n(static_cast<int32_t*>(dst.data), dst.size, static_cast<int32_t>(std::nearbyint(value)));
    return Status::Ok();
  }
  cpu::DispatchFloating(dst.dtype, [&]<typename S>() {
    std::fill_n(static_cast<S*>(dst.data), dst.size, cpu::StoreValue<S>(value));
  });
  return Status::Ok();
}

Status CpuBackend::CastImpl(ConstView src, View dst) {
  const auto n = static_cast<int64_t>(src.size);
  cpu::DispatchFloating(src.dtype, [&]<typename From>() {
    cpu::DispatchFloating(dst.dtype, [&]<typename To>() {
      const auto* from = static_cast<const From*>(src.data);
      auto* to = static_cast<To*>(dst.data);
      pool_->RunRanges(n, cpu::kTile, cpu::kMinParallelElements,
                       [&](int64_t begin, int64_t end) { Convert(from + begin, to + begin, end - begin); });
    });
  });
  return Status::Ok();
}

}  // namespace hpo::kernels
