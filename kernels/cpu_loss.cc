// CpuBackend's loss operations: softmax cross-entropy with label smoothing and a gradient scale, and the
// accuracy count. Both work a row at a time; a row of half logits is widened into fp32 scratch first.
#include <cstdint>
#include <string>

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
//   d_c = (grad_scale / rows) (softmax_c - t_c).
// loss = sum_r loss_r / rows, summed row by row in the compute type.
template <typename S>
void SoftmaxCrossEntropyLoop(const LossOptions& options, int64_t rows, int64_t cols, const S* logits,
                             const int32_t* labels, Compute<S>* loss, S* dlogits, Compute<S>* row_buf,
                             Compute<S>* grad_buf) {
  using C = Compute<S>;
  const C eps = static_cast<C>(options.label_smoothing);
  const C eps_per_class = static_cast<C>(options.label_smoothing / static_cast<double>(cols));
  const C scale = static_cast<C>(options.grad_scale / static_cast<double>(rows));
  C total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const C* x = cpu::LoadTile(logits + r * cols, cols, row_buf);
    const int32_t label = labels[r];
    const C max = RowMax(cols, x);
    // The logit terms first: the exponentials below may overwrite x (dlogits may be the logits).
    C row_loss = -(C(1) - eps) * x[label];
    if (options.label_smoothing > 0) {
      row_loss -= eps_per_class * cpu::LaneSum<C>(cols, [&](int64_t c) { return x[c]; });
    }
    if (dlogits == nullptr) {
      const C sum_exp = cpu::LaneSum<C>(cols, [&](int64_t c) { return ElementExp(x[c] - max); });
      total += max + ElementLog(sum_exp) + row_loss;
      continue;
    }
    S* d = dlogits + r * cols;
    C* out = cpu::TileTarget(d, grad_buf);
    for (int64_t c = 0; c < cols; ++c) out[c] = ElementExp(x[c] - max);
    const C sum_exp = cpu::LaneSum<C>(cols, [&](int64_t c) { return out[c]; });
    total += max + ElementLog(sum_exp) + row_loss;
    for (int64_t c = 0; c < cols; ++c) out[c] = scale * (out[c] / sum_exp - eps_per_class);
    out[label] -= scale * (C(1) - eps);
    cpu::StoreTile(out, d, cols);
  }
  loss[0] = total / static_cast<C>(rows);
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
  cpu::DispatchFloating(logits.dtype, [&]<typename S>() {
    Compute<S>* row_buf = nullptr;
    Compute<S>* grad_buf = nullptr;
    if constexpr (!cpu::kDirect<S>) {
      row_buf = ScratchFloats(kRow0, static_cast<size_t>(cols));
      grad_buf = ScratchFloats(kRow1, static_cast<size_t>(cols));
    }
    SoftmaxCrossEntropyLoop<S>(options, rows, cols, static_cast<const S*>(logits.data), label_data,
                               static_cast<Compute<S>*>(loss.data),
                               dlogits.size > 0 ? static_cast<S*>(dlogits.data) : nullptr, row_buf, grad_buf);
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
