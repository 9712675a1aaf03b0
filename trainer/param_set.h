// ParamSet: a model's trainable tensors in one flat master buffer, with their gradients at the same
// offsets, the half compute copy the passes read, and where each tensor sits (layout()). Every model
// family builds its parameters with one: Add each tensor in order, Allocate once, then Initialize from the
// values the family draws. The optimizer reads layout() to know which tensors decay.
//
// Precision: the master parameters and the gradients are AccumulationType(dtype) (fp32 for the half
// types); for a half dtype the compute copy is in dtype, written by the optimizer with every update
// (w_copy) and by SyncCompute() after the master parameters changed otherwise. Weights(info) is the tensor
// the passes read: the compute copy, or the master parameters when there is none.
//
// Not thread-safe. Holds a non-owning pointer to the backend, which must outlive the ParamSet. Movable:
// layout() entries keep their addresses (the vector's heap block moves along).
#ifndef HPO_TRAINER_PARAM_SET_H_
#define HPO_TRAINER_PARAM_SET_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/backend.h"
#include "trainer/params.h"

namespace hpo::trainer {

class ParamSet {
 public:
  ParamSet() = default;
  ParamSet(ParamSet&&) = default;
  ParamSet& operator=(ParamSet&&) = default;

  // Appends a rows x cols tensor and returns its index in layout(). REQUIRES: before Allocate.
  size_t Add(std::string name, int64_t rows, int64_t cols, ParamKind kind);

  // Allocates the master, gradient and (for a half dtype) compute buffers for what was added, zero-filled.
  // INVALID_ARGUMENT for an element type that is not floating; RESOURCE_EXHAUSTED when out of memory.
  Status Allocate(kernels::Backend& backend, kernels::DType dtype);

  // Sets the master parameters to `values` (one per element, in layout order) and refreshes the compute
  // copy. INVALID_ARGUMENT when the count differs from size().
  Status Initialize(std::span<const double> values);

  // Copies the master parameters into the compute copy (rounding); OK at once without a copy.
  Status SyncCompute();

  size_t size() const { return size_; }
  kernels::DType dtype() const { return dtype_; }
  kernels::DType master_dtype() const { return kernels::AccumulationType(dtype_); }
  const std::vector<ParamInfo>& layout() const { return layout_; }
  const ParamInfo& info(size_t index) const { return layout_[index]; }

  kernels::View params() { return params_.view(); }
  kernels::ConstView params() const { return params_.view(); }
  kernels::View grads() { return grads_.view(); }
  kernels::ConstView grads() const { return grads_.view(); }
  // The half copy, or an empty view when dtype() is the master type.
  kernels::View compute() { return compute_.view(); }

  // The tensor the passes read (compute copy or master) and the tensor's gradient.
  kernels::ConstView Weights(const ParamInfo& info) const;
  kernels::View Grad(const ParamInfo& info) { return grads_.Sub(info.offset, info.count); }

 private:
  kernels::Backend* backend_ = nullptr;
  kernels::DType dtype_ = kernels::DType::kF32;
  std::vector<ParamInfo> layout_;
  size_t size_ = 0;
  kernels::Buffer params_;   // master_dtype()
  kernels::Buffer grads_;    // master_dtype()
  kernels::Buffer compute_;  // dtype() when it is half; empty otherwise
};

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_PARAM_SET_H_
