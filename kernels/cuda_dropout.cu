// Inverted dropout on the counter-based Philox4x32-10 of kernels/philox.h: each thread takes whole Philox
// blocks (4 consecutive elements, one 32-bit word each), so the mask is a pure function of (seed, stream,
// element index), the same as the CPU backend's, and the backward pass regenerates it.
#include <stdint.h>

#include "kernels/cuda_common.cuh"
#include "kernels/cuda_kernels.cuh"
#include "kernels/philox.h"

namespace hpo::kernels::cuda {
namespace {

template <typename S>
__global__ void DropoutKernel(size_t n, uint64_t seed, uint64_t stream_id, uint32_t threshold,
                              typename S::Acc scale, const typename S::Raw* x, typename S::Raw* y) {
  const size_t blocks = (n + 3) / 4;
  for (size_t b = GlobalThread(); b < blocks; b += GlobalStride()) {
    const Philox4x32 words = DropoutBlock(seed, stream_id, b);
    const size_t first = 4 * b;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const size_t i = first + j;
      if (i < n) {  // x and y may be one buffer: element i is read and written by this thread only
        y[i] = DropoutKeepWord(words.v[j], threshold) ? S::Store(S::Load(x[i]) * scale)
                                                      : S::Store(typename S::Acc(0));
      }
    }
  }
}

}  // namespace

cudaError_t LaunchDropout(ElementType type, uint64_t seed, uint64_t stream_id, uint32_t threshold,
                          double scale, const void* x, void* y, size_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    DropoutKernel<S><<<BlocksFor((count + 3) / 4), kThreads, 0, stream>>>(
        count, seed, stream_id, threshold, static_cast<typename S::Acc>(scale),
        static_cast<const typename S::Raw*>(x), static_cast<typename S::Raw*>(y));
    return cudaGetLastError();
  });
}

}  // namespace hpo::kernels::cuda
