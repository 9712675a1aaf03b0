// HPO_HD marks a function that both the host compiler and nvcc compile: `__host__ __device__` under nvcc,
// nothing elsewhere. The element math (element.h), the half conversions (half.h) and Philox (philox.h)
// carry it so that the CPU backend and the CUDA kernels run the very same code.
#ifndef HPO_KERNELS_HOST_DEVICE_H_
#define HPO_KERNELS_HOST_DEVICE_H_

#if defined(__CUDACC__)
#define HPO_HD __host__ __device__
#else
#define HPO_HD
#endif

#endif  // HPO_KERNELS_HOST_DEVICE_H_
