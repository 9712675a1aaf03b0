#include "trainer/param_set.h"

#include <utility>

namespace hpo::trainer {

using kernels::DType;

size_t ParamSet::Add(std::string name, int64_t rows, int64_t cols, ParamKind kind) {
  const auto count = static_cast<size_t>(rows * cols);
  layout_.push_back(ParamInfo{std::move(name), size_, count, rows, cols, kind});
  size_ += count;
  return layout_.size() - 1;
}

Status ParamSet::Allocate(kernels::Backend& backend, DType dtype) {
  if (!kernels::IsFloating(dtype)) {
    return InvalidArgumentError("ParamSet: element type " + std::string(kernels::DTypeName(dtype)) +
                                " is not floating");
  }
  backend_ = &backend;
  dtype_ = dtype;
  const DType master = kernels::AccumulationType(dtype);
  HPO_ASSIGN_OR_RETURN(params_, backend.Allocate(size_, master));
  HPO_ASSIGN_OR_RETURN(grads_, backend.Allocate(size_, master));
  if (dtype != master) {
    HPO_ASSIGN_OR_RETURN(compute_, backend.Allocate(size_, dtype));
  }
  return Status::Ok();
}

Status ParamSet::Initialize(std::span<const double> values) {
  if (values.size() != size_) {
    return InvalidArgumentError("ParamSet::Initialize: " + std::to_string(values.size()) + " values for " +
                                std::to_string(size_) + " parameters");
  }
  if (params_.dtype() == DType::kF64) {
    HPO_RETURN_IF_ERROR(backend_->Upload(values, params_.view()));
  } else {
    const std::vector<float> floats(values.begin(), values.end());
    HPO_RETURN_IF_ERROR(backend_->Upload(std::span<const float>(floats), params_.view()));
  }
  return SyncCompute();
}

Status ParamSet::SyncCompute() {
  if (compute_.size() == 0) return Status::Ok();
  return backend_->Cast(params_.view(), compute_.view());
}

kernels::ConstView ParamSet::Weights(const ParamInfo& info) const {
  const kernels::Buffer& source = compute_.size() > 0 ? compute_ : params_;
  return source.Sub(info.offset, info.count);
}

}  // namespace hpo::trainer
