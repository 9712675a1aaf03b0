// The CUDA backend's factory. Defined in the CUDA sources when the build has CUDA, and in
// cuda_device_none.cc (always FAILED_PRECONDITION) otherwise, so that kernels/backend.cc needs no #ifs.
// The backend itself (class CudaBackend) is private to the CUDA sources.
#ifndef HPO_KERNELS_CUDA_BACKEND_H_
#define HPO_KERNELS_CUDA_BACKEND_H_

#include <memory>

#include "base/status.h"
#include "kernels/backend.h"

namespace hpo::kernels {

// The CUDA backend on device options.device: cuBLAS GEMMs (fp16/bf16 inputs on tensor cores, fp32
// compute), kernels over the shared element math, device memory from one arena, every CUDA and cuBLAS call
// checked into a Status carrying file and line. FAILED_PRECONDITION when the device does not answer or
// the build has no CUDA; RESOURCE_EXHAUSTED when its memory cannot be had.
Result<std::unique_ptr<Backend>> MakeCudaBackend(const BackendOptions& options);

}  // namespace hpo::kernels

#endif  // HPO_KERNELS_CUDA_BACKEND_H_
