// CpuBackend's loss operations: softmax cross-entropy with label smoothing and a gradient scale, and the
// accuracy count. Both work a row at a time; a row of half logits is widened into fp32 first.
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu_backend.h"
#include "kernels/cpu_loops.h"
#include "kernels/element.h"

namespace hpo::kernels {
namespace {

using cpu::Compute;

template <typename C>
C RowMax(int64_t cols, const C* x) {
  C max = x[0];
  for (int64_t c = 1; c < cols; ++c) max = x[c] > max ? x[c] : max;
  return max;
}

// With t = (1 - eps) onehot(label) + eps / cols, per row:
//   loss_r = max + log(sum_c exp(x_c - max)) - (1 - eps) x_label - (eps / cols) sum_c x_c
//   d_c = (grad_scale / rows) (softmax_c - t_c)
// for rows [begin, end), loss_r into row_loss[r].
template <typename S>
void SoftmaxCrossEntropyRows(const LossOptions& options, int64_t rows, int64_t cols, const S* logits,
                             const int32_t* labels, S* dlogits, int64_t begin, int64_t end,
                             Compute<S>* row_loss) {
  using C = Compute<S>;
  const C eps = static_cast<C>(options.label_smoothing);
  const C eps_per_class = static_cast<C>(options.label_smoothing / static_cast<double>(cols));
  const C scale = static_cast<C>(options.grad_scale / static_cast<double>(rows));
  std::vector<C> row_buf = cpu::RowBuffer<S>(cols), grad_buf = cpu::RowBuffer<S>(cols);
  for (int64_t r = begin; r < end; ++r) {
    const C* x = cpu::LoadRow(logits + r * cols, cols, row_buf);
    const int32_t label = labels[r];
    const C max = RowMax(cols, x);
    // The logit terms first: the exponentials below may overwrite x (dlogits may be the logits).
    C terms = -(C(1) - eps) * x[label];
    if (options.label_smoothing > 0) {
      terms -= eps_per_class * cpu::LaneSum<C>(cols, [&](int64_t c) { return x[c]; });
    }
    if (dlogits == nullptr) {
      const C sum_exp = cpu::LaneSum<C>(cols, [&](int64_t c) { return ElementExp(x[c] - max); });
      row_loss[r] = max + ElementLog(sum_exp) + terms;
      continue;
    }
    S* d = dlogits + r * cols;
    C* out = cpu::TileTarget(d, grad_buf.data());
    for (int64_t c = 0; c < cols; ++c) out[c] = ElementExp(x[c] - max);
    const C sum_exp = cpu::LaneSum<C>(cols, [&](int64_t c) { return out[c]; });
    row_loss[r] = max + ElementLog(sum_exp) + terms;
    for (int64_t c = 0; c < cols; ++c) out[c] = scale * (out[c] / sum_exp - eps_per_class);
    out[label] -= scale * (C(1) - eps);
    cpu::StoreTile(out, d, cols);
  }
}

template <typename S>
int64_t CountCorrectLoop(int64_t rows, int64_t cols, const S* logits, const int32_t* labels,
                         Compute<S>* row_buf) {
  int64_t correct = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const Compute<S>* row = cpu::LoadTile(logits + r * cols, cols, row_buf);
    int64_t best = 0;
    for (int64_t c = 1; c < cols; ++c) {
      if (row[c] > row[best]) best = c;
    }
    if (best == labels[r]) ++correct;
  }
  return correct;
}

}  // namespace

Status CpuBackend::SoftmaxCrossEntropyImpl(const LossOptions& options, int64_t rows, int64_t cols,
                                           ConstView logits, ConstView labels, View loss, View dlogits) {
  const auto* label_data = static_cast<const int32_t*>(labels.data);
  for (int64_t r = 0; r < rows; ++r) {
    if (label_data[r] < 0 || label_data[r] >= cols) {
      return InvalidArgumentError("SoftmaxCrossEntropy: label " + std::to_string(label_data[r]) + " of row " +
                                  std::to_string(r) + " is outside [0, " + std::to_string(cols) + ")");
    }
  }
  // The rows split over the pool, each by one thread; their losses then summed in row order on this thread,
  // so the split changes no bit.
  cpu::DispatchFloating(logits.dtype, [&]<typename S>() {
    using C = Compute<S>;
    std::vector<C> row_loss(static_cast<size_t>(rows));
    S* d = dlogits.size > 0 ? static_cast<S*>(dlogits.data) : nullptr;
    pool_->RunRanges(rows, 1, cpu::MinItemsPerThread(cols), [&](int64_t begin, int64_t end) {
      SoftmaxCrossEntropyRows<S>(options, rows, cols, static_cast<const S*>(logits.data), label_data, d,
                                 begin, end, row_loss.data());
    });
    C total = 0;
    for (const C l : row_loss) total += l;
    static_cast<C*>(loss.data)[0] = total / static_cast<C>(rows);
  });
  return Status::Ok();
}

Result<int64_t> CpuBackend::CountCorrectImpl(int64_t rows, int64_t cols, ConstView logits, ConstView labels) {
  int64_t correct = 0;
  cpu::DispatchFloating(logits.dtype, [&]<typename S>() {
    Compute<S>* row_buf = nullptr;
    if constexpr (!cpu::kDirect<S>) row_buf = ScratchFloats(kRow0, static_cast<size_t>(cols));
    correct = CountCorrectLoop<S>(rows, cols, static_cast<const S*>(logits.data),
                                  static_cast<const int32_t*>(labels.data), row_buf);
  });
  return correct;
}

}  // namespace hpo::kernels
