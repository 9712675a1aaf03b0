// Which CUDA devices this process can see. Compiled from cuda_device.cu (against the CUDA runtime) when
// the build has CUDA, from cuda_device_none.cc (answering "none") otherwise, so callers never need #ifs.
//
// Thread-safe (the CUDA runtime's queries are). No ownership involved.
#ifndef HPO_KERNELS_CUDA_DEVICE_H_
#define HPO_KERNELS_CUDA_DEVICE_H_

#include <string>

#include "base/status.h"

namespace hpo::kernels {

// True when this build was compiled with CUDA support.
bool CudaCompiledIn();

// Number of CUDA devices that answer; 0 when the runtime reports an error (no driver, no device) or when
// the build has no CUDA.
int CudaDeviceCount();

// The name of device `ordinal`, e.g. "NVIDIA H100 80GB HBM3". FAILED_PRECONDITION when it does not answer.
Result<std::string> CudaDeviceName(int ordinal);

}  // namespace hpo::kernels

#endif  // HPO_KERNELS_CUDA_DEVICE_H_
