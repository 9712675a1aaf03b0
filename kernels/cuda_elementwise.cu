// Element-wise kernels of the CUDA backend: Fill, Cast, Axpy and the beta-scaling of an empty GEMM. Each is
// a grid-stride loop over 64-bit indices.
#include <stdint.h>

#include "kernels/cuda_common.cuh"
#include "kernels/cuda_kernels.cuh"

namespace hpo::kernels::cuda {
namespace {

template <typename Raw>
__global__ void FillKernel(size_t n, Raw value, Raw* __restrict__ dst) {
  for (size_t i = GlobalThread(); i < n; i += GlobalStride()) dst[i] = value;
}

// One rounding from the source's exact value (Dst::From of a float or a double).
template <typename Src, typename Dst>
__global__ void CastKernel(size_t n, const typename Src::Raw* __restrict__ src,
                           typename Dst::Raw* __restrict__ dst) {
  for (size_t i = GlobalThread(); i < n; i += GlobalStride()) dst[i] = Dst::From(Src::Load(src[i]));
}

template <typename S>
__global__ void AxpyKernel(size_t n, typename S::Acc alpha, const typename S::Raw* x, typename S::Raw* y) {
  for (size_t i = GlobalThread(); i < n; i += GlobalStride())
    y[i] = S::Store(S::Load(y[i]) + alpha * S::Load(x[i]));
}

template <typename S>
__global__ void ScaleKernel(size_t n, typename S::Acc beta, typename S::Raw* __restrict__ y) {
  for (size_t i = GlobalThread(); i < n; i += GlobalStride()) {
    y[i] = beta == typename S::Acc(0) ? S::Store(typename S::Acc(0)) : S::Store(beta * S::Load(y[i]));
  }
}

}  // namespace

cudaError_t LaunchFill(void* dst, size_t count, size_t element_bytes, uint64_t pattern, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  const unsigned blocks = BlocksFor(count);
  switch (element_bytes) {
    case 2:
      FillKernel<uint16_t><<<blocks, kThreads, 0, stream>>>(count, static_cast<uint16_t>(pattern),
                                                            static_cast<uint16_t*>(dst));
      break;
    case 4:
      FillKernel<uint32_t><<<blocks, kThreads, 0, stream>>>(count, static_cast<uint32_t>(pattern),
                                                            static_cast<uint32_t*>(dst));
      break;
    case 8:
      FillKernel<uint64_t><<<blocks, kThreads, 0, stream>>>(count, pattern, static_cast<uint64_t*>(dst));
      break;
    default:
      return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

cudaError_t LaunchCast(const void* src, ElementType src_type, void* dst, ElementType dst_type, size_t count,
                       cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  if (src_type == dst_type) {
    if (src == dst) return cudaSuccess;
    size_t bytes = 0;
    (void)DispatchFloating(src_type, [&](auto s) {
      bytes = count * sizeof(typename decltype(s)::Raw);
      return cudaSuccess;
    });
    if (bytes == 0) return cudaErrorInvalidValue;
    return cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream);
  }
  return DispatchFloating(src_type, [&](auto s) {
    return DispatchFloating(dst_type, [&](auto d) {
      using Src = decltype(s);
      using Dst = decltype(d);
      CastKernel<Src, Dst><<<BlocksFor(count), kThreads, 0, stream>>>(
          count, static_cast<const typename Src::Raw*>(src), static_cast<typename Dst::Raw*>(dst));
      return cudaGetLastError();
    });
  });
}

cudaError_t LaunchAxpy(ElementType type, double alpha, const void* x, void* y, size_t count,
                       cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    AxpyKernel<S><<<BlocksFor(count), kThreads, 0, stream>>>(count, static_cast<typename S::Acc>(alpha),
                                                             static_cast<const typename S::Raw*>(x),
                                                             static_cast<typename S::Raw*>(y));
    return cudaGetLastError();
  });
}

cudaError_t LaunchScale(ElementType type, double beta, void* y, size_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    ScaleKernel<S><<<BlocksFor(count), kThreads, 0, stream>>>(count, static_cast<typename S::Acc>(beta),
                                                              static_cast<typename S::Raw*>(y));
    return cudaGetLastError();
  });
}

}  // namespace hpo::kernels::cuda
