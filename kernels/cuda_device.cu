#include <cuda_runtime.h>

#include <string>

#include "kernels/cuda_device.h"

namespace hpo::kernels {

bool CudaCompiledIn() { return true; }

int CudaDeviceCount() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  return count;
}

Result<std::string> CudaDeviceName(int ordinal) {
  const int count = CudaDeviceCount();
  if (ordinal < 0 || ordinal >= count) {
    return FailedPreconditionError("CUDA device " + std::to_string(ordinal) + " does not answer (" +
                                   std::to_string(count) + " device(s) visible)");
  }
  cudaDeviceProp prop;
  const cudaError_t err = cudaGetDeviceProperties(&prop, ordinal);
  if (err != cudaSuccess) {
    return FailedPreconditionError(std::string("cudaGetDeviceProperties(") + std::to_string(ordinal) +
                                   ") failed: " + cudaGetErrorString(err) + " at " + __FILE__ + ":" +
                                   std::to_string(__LINE__));
  }
  return std::string(prop.name);
}

}  // namespace hpo::kernels
