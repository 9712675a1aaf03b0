// The build without CUDA: no device ever answers, and there is no CUDA backend to make.
#include <memory>
#include <string>

#include "kernels/cuda_backend.h"
#include "kernels/cuda_device.h"

namespace hpo::kernels {

bool CudaCompiledIn() { return false; }

int CudaDeviceCount() { return 0; }

Result<std::string> CudaDeviceName(int ordinal) {
  return FailedPreconditionError("CUDA device " + std::to_string(ordinal) +
                                 " does not answer: this build has no CUDA support");
}

Result<std::unique_ptr<Backend>> MakeCudaBackend(const BackendOptions& /*options*/) {
  return FailedPreconditionError("backend cuda: this build has no CUDA support");
}

}  // namespace hpo::kernels
