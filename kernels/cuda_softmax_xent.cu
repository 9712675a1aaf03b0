// Softmax cross-entropy with label smoothing (loss and gradient) and the accuracy count, one block per row.
//
// Loss of row r with targets t[c] = (1 - eps) [c == label] + eps / cols, in the CPU backend's arrangement:
//   loss_r = (m + log sum_c e^(x[c] - m)) + (-(1 - eps) x[label] - eps/cols sum_c x[c]),  m = max_c x[c]
// gradient scale (softmax[c] - eps/cols), minus scale (1 - eps) at the label, scale = grad_scale / rows. The
// row losses go to scratch and one block sums them in a fixed tree order, so the mean repeats bit for bit.
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/cuda_common.cuh"
#include "kernels/cuda_kernels.cuh"
#include "kernels/element.h"

namespace hpo::kernels::cuda {
namespace {

constexpr int kLossSumThreads = 1024;

template <typename S>
__global__ void SoftmaxCrossEntropyRowKernel(int64_t rows, int64_t cols, typename S::Acc eps,
                                             typename S::Acc eps_per_class, typename S::Acc scale,
                                             const typename S::Raw* logits,
                                             const int32_t* __restrict__ labels,
                                             typename S::Acc* __restrict__ row_loss, typename S::Raw* dlogits,
                                             DeviceControl* control) {
  using Acc = typename S::Acc;
  __shared__ Acc shared[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const typename S::Raw* x = logits + static_cast<size_t>(r) * static_cast<size_t>(cols);
    const int32_t label = labels[r];
    const bool label_ok = label >= 0 && label < cols;
    // Read before any thread may write the row's gradient (so dlogits may even be the logits).
    const Acc x_label = label_ok ? S::Load(x[label]) : Acc(NAN);

    Acc max = -Acc(INFINITY);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) max = Max(max, S::Load(x[c]));
    max = BlockMax(max, shared);

    Acc sum_exp = Acc(0);
    Acc sum_x = Acc(0);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const Acc v = S::Load(x[c]);
      sum_exp += ElementExp(v - max);
      sum_x += v;
    }
    sum_exp = BlockSum(sum_exp, shared);
    sum_x = BlockSum(sum_x, shared);

    if (threadIdx.x == 0) {
      if (!label_ok) atomicOr(&control->error_bits, kErrorLabelOutOfRange);
      Acc target_terms = -(Acc(1) - eps) * x_label;
      if (eps > Acc(0)) target_terms -= eps_per_class * sum_x;
      row_loss[r] = max + ElementLog(sum_exp) + target_terms;
    }
    if (dlogits != nullptr) {
      typename S::Raw* d = dlogits + static_cast<size_t>(r) * static_cast<size_t>(cols);
      const Acc at_label = scale * (Acc(1) - eps);
      for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        Acc g = scale * (ElementExp(S::Load(x[c]) - max) / sum_exp - eps_per_class);
        if (c == label) g -= at_label;
        d[c] = S::Store(g);
      }
    }
    // The next row reuses `shared` only after BlockMax's first barrier, which every thread reaches after
    // finishing this row.
  }
}

// loss[0] = (sum of row_loss in a fixed order) / rows. One block of kLossSumThreads.
template <typename Acc>
__global__ void MeanLossKernel(int64_t rows, const Acc* __restrict__ row_loss, Acc* __restrict__ loss) {
  __shared__ Acc shared[32];
  Acc sum = Acc(0);
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) sum += row_loss[r];
  sum = BlockSum(sum, shared);
  if (threadIdx.x == 0) loss[0] = sum / static_cast<Acc>(rows);
}

// The better of two (value, column) candidates for the first argmax: a non-NaN value beats a NaN, a larger
// value a smaller one, and among equals (or two NaNs) the smaller column wins.
template <typename Acc>
__device__ __forceinline__ void ArgMaxMerge(Acc& value, int64_t& column, Acc other_value,
                                            int64_t other_column) {
  bool take;
  if (isnan(other_value)) {
    take = isnan(value) && other_column < column;
  } else if (isnan(value)) {
    take = true;
  } else {
    take = other_value > value || (other_value == value && other_column < column);
  }
  if (take) {
    value = other_value;
    column = other_column;
  }
}

template <typename S>
__global__ void CountCorrectKernel(int64_t rows, int64_t cols, const typename S::Raw* __restrict__ logits,
                                   const int32_t* __restrict__ labels, DeviceControl* control) {
  using Acc = typename S::Acc;
  __shared__ Acc shared_value[32];
  __shared__ int64_t shared_column[32];
  const unsigned lane = threadIdx.x & 31u;
  const unsigned warp = threadIdx.x >> 5;
  unsigned long long correct = 0;  // thread 0's tally over this block's rows
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const typename S::Raw* x = logits + static_cast<size_t>(r) * static_cast<size_t>(cols);
    Acc value = Acc(NAN);
    int64_t column = INT64_MAX;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) ArgMaxMerge(value, column, S::Load(x[c]), c);
    for (int offset = 16; offset > 0; offset >>= 1) {
      const Acc v = __shfl_xor_sync(0xffffffffu, value, offset);
      const int64_t i = __shfl_xor_sync(0xffffffffu, column, offset);
      ArgMaxMerge(value, column, v, i);  // symmetric: every lane ends with the same winner
    }
    __syncthreads();  // the previous row's readers of the shared arrays are done
    if (lane == 0) {
      shared_value[warp] = value;
      shared_column[warp] = column;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      for (unsigned w = 1; w < (blockDim.x >> 5); ++w)
        ArgMaxMerge(value, column, shared_value[w], shared_column[w]);
      // A sequential scan keeps a NaN first element: nothing compares greater than it.
      if (isnan(S::Load(x[0]))) column = 0;
      const int32_t label = labels[r];
      if (label >= 0 && label < cols && column == label) ++correct;
    }
  }
  if (threadIdx.x == 0 && correct > 0) atomicAdd(&control->correct, correct);  // integers: order-free
}

}  // namespace

size_t SoftmaxCrossEntropyScratchBytes(ElementType type, int64_t rows) {
  return static_cast<size_t>(rows) * (type == ElementType::kF64 ? sizeof(double) : sizeof(float));
}

cudaError_t LaunchSoftmaxCrossEntropy(ElementType type, int64_t rows, int64_t cols, double label_smoothing,
                                      double eps_per_class, double grad_scale_over_rows, const void* logits,
                                      const int32_t* labels, void* loss, void* dlogits, void* scratch,
                                      DeviceControl* control, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return cudaErrorInvalidValue;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    using Raw = typename S::Raw;
    using Acc = typename S::Acc;
    SoftmaxCrossEntropyRowKernel<S><<<RowBlocks(rows), ThreadsFor(cols), 0, stream>>>(
        rows, cols, static_cast<Acc>(label_smoothing), static_cast<Acc>(eps_per_class),
        static_cast<Acc>(grad_scale_over_rows), static_cast<const Raw*>(logits), labels,
        static_cast<Acc*>(scratch), static_cast<Raw*>(dlogits), control);
    const cudaError_t launched = cudaGetLastError();
    if (launched != cudaSuccess) return launched;
    MeanLossKernel<Acc>
        <<<1, kLossSumThreads, 0, stream>>>(rows, static_cast<const Acc*>(scratch), static_cast<Acc*>(loss));
    return cudaGetLastError();
  });
}

cudaError_t LaunchCountCorrect(ElementType type, int64_t rows, int64_t cols, const void* logits,
                               const int32_t* labels, DeviceControl* control, cudaStream_t stream) {
  void* const correct = reinterpret_cast<char*>(control) + offsetof(DeviceControl, correct);
  const cudaError_t cleared = cudaMemsetAsync(correct, 0, sizeof(unsigned long long), stream);
  if (cleared != cudaSuccess || rows == 0) return cleared;
  if (cols == 0) return cudaErrorInvalidValue;
  return DispatchFloating(type, [&](auto s) {
    using S = decltype(s);
    CountCorrectKernel<S><<<RowBlocks(rows), ThreadsFor(cols), 0, stream>>>(
        rows, cols, static_cast<const typename S::Raw*>(logits), labels, control);
    return cudaGetLastError();
  });
}

}  // namespace hpo::kernels::cuda
