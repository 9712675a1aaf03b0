// The optimizer steps: SGD with momentum and AdamW on the master weights (float, or double for the
// reference path), each element updated by kernels/element.h's SgdMomentumElement / AdamWElement with the
// per-step coefficients computed once on the host, and the new weight written rounded into the half (or
// other) copy in the same pass.
#include <stdint.h>

#include <type_traits>

#include "kernels/cuda_common.cuh"
#include "kernels/cuda_kernels.cuh"
#include "kernels/element.h"

namespace hpo::kernels::cuda {
namespace {

// The absent copy (StoreCopy writes nothing for it).
struct NoCopy {
  using Raw = unsigned char;
};

template <typename C, typename T>
__device__ __forceinline__ void StoreCopy(typename C::Raw* copy, size_t i, T w) {
  if constexpr (!std::is_same_v<C, NoCopy>) copy[i] = C::From(w);  // one rounding, from float or double
}

template <typename T, typename C>
__global__ void SgdMomentumKernel(size_t n, SgdCoeffs<T> coeffs, T* __restrict__ w, const T* __restrict__ g,
                                  T* __restrict__ velocity, typename C::Raw* __restrict__ copy) {
  for (size_t i = GlobalThread(); i < n; i += GlobalStride()) {
    T wi = w[i];
    T vi = velocity[i];
    SgdMomentumElement(coeffs, wi, g[i], vi);
    w[i] = wi;
    velocity[i] = vi;
    StoreCopy<C>(copy, i, wi);
  }
}

template <typename T, typename C>
__global__ void AdamWKernel(size_t n, AdamWCoeffs<T> coeffs, T* __restrict__ w, const T* __restrict__ g,
                            T* __restrict__ m, T* __restrict__ v, typename C::Raw* __restrict__ copy) {
  for (size_t i = GlobalThread(); i < n; i += GlobalStride()) {
    T wi = w[i];
    T mi = m[i];
    T vi = v[i];
    AdamWElement(coeffs, wi, g[i], mi, vi);
    w[i] = wi;
    m[i] = mi;
    v[i] = vi;
    StoreCopy<C>(copy, i, wi);
  }
}

// Returns f(CopyTraits{}) for the copy's type, f(NoCopy{}) when there is no copy.
template <typename F>
cudaError_t DispatchCopy(void* w_copy, ElementType copy_type, F&& f) {
  if (w_copy == nullptr) return f(NoCopy{});
  return DispatchFloating(copy_type, f);
}

template <typename T>
cudaError_t LaunchSgd(const SgdCoeffs<T>& coeffs, T* w, const T* g, T* velocity, void* w_copy,
                      ElementType copy_type, size_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  return DispatchCopy(w_copy, copy_type, [&](auto c) {
    using C = decltype(c);
    SgdMomentumKernel<T, C><<<BlocksFor(count), kThreads, 0, stream>>>(count, coeffs, w, g, velocity,
                                                                       static_cast<typename C::Raw*>(w_copy));
    return cudaGetLastError();
  });
}

template <typename T>
cudaError_t LaunchAdam(const AdamWCoeffs<T>& coeffs, T* w, const T* g, T* m, T* v, void* w_copy,
                       ElementType copy_type, size_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  return DispatchCopy(w_copy, copy_type, [&](auto c) {
    using C = decltype(c);
    AdamWKernel<T, C><<<BlocksFor(count), kThreads, 0, stream>>>(count, coeffs, w, g, m, v,
                                                                 static_cast<typename C::Raw*>(w_copy));
    return cudaGetLastError();
  });
}

}  // namespace

cudaError_t LaunchSgdMomentum(const SgdCoeffs<float>& coeffs, float* w, const float* g, float* velocity,
                              void* w_copy, ElementType copy_type, size_t count, cudaStream_t stream) {
  return LaunchSgd(coeffs, w, g, velocity, w_copy, copy_type, count, stream);
}

cudaError_t LaunchSgdMomentum(const SgdCoeffs<double>& coeffs, double* w, const double* g, double* velocity,
                              void* w_copy, ElementType copy_type, size_t count, cudaStream_t stream) {
  return LaunchSgd(coeffs, w, g, velocity, w_copy, copy_type, count, stream);
}

cudaError_t LaunchAdamW(const AdamWCoeffs<float>& coeffs, float* w, const float* g, float* m, float* v,
                        void* w_copy, ElementType copy_type, size_t count, cudaStream_t stream) {
  return LaunchAdam(coeffs, w, g, m, v, w_copy, copy_type, count, stream);
}

cudaError_t LaunchAdamW(const AdamWCoeffs<double>& coeffs, double* w, const double* g, double* m, double* v,
                        void* w_copy, ElementType copy_type, size_t count, cudaStream_t stream) {
  return LaunchAdam(coeffs, w, g, m, v, w_copy, copy_type, count, stream);
}

}  // namespace hpo::kernels::cuda
