// The build without CUDA: no device ever answers.
#include <string>

#include "kernels/cuda_device.h"

namespace hpo::kernels {

bool CudaCompiledIn() { return false; }

int CudaDeviceCount() { return 0; }

Result<std::string> CudaDeviceName(int ordinal) {
  return FailedPreconditionError("CUDA device " + std::to_string(ordinal) +
                                 " does not answer: this build has no CUDA support");
}

}  // namespace hpo::kernels
