#include "trainer/optimizer.h"

#include <cmath>
#include <string>
#include <utility>

namespace hpo::trainer {

using kernels::Backend;
using kernels::Buffer;
using kernels::ConstView;
using kernels::View;

std::string_view OptimizerKindName(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kSgd:
      return "sgd";
    case OptimizerKind::kAdamW:
      return "adamw";
  }
  return "?";
}

namespace {

// What both kinds share: the parameters, gradients, layout and the per-tensor decay.
class OptimizerBase : public Optimizer {
 public:
  OptimizerBase(Backend& backend, const OptimizerOptions& options, View params, ConstView grads,
                std::vector<ParamInfo> layout, View compute_copy)
      : backend_(&backend),
        options_(options),
        params_(params),
        grads_(grads),
        layout_(std::move(layout)),
        copy_(compute_copy) {}

  int64_t steps() const override { return steps_; }

 protected:
  double DecayOf(const ParamInfo& info) const { return info.decays() ? options_.weight_decay : 0.0; }
  View CopyOf(const ParamInfo& info) const {
    return copy_.size > 0 ? copy_.Sub(info.offset, info.count) : View();
  }

  Backend* backend_;
  OptimizerOptions options_;
  View params_;
  ConstView grads_;
  std::vector<ParamInfo> layout_;
  View copy_;
  int64_t steps_ = 0;
};

class SgdMomentum final : public OptimizerBase {
 public:
  using OptimizerBase::OptimizerBase;

  Status Init() {
    HPO_ASSIGN_OR_RETURN(velocity_, backend_->Allocate(params_.size, params_.dtype));
    return Status::Ok();
  }

  Status Step(double lr, double grad_scale) override {
    for (const ParamInfo& info : layout_) {
      const kernels::SgdHyper hyper{lr, options_.momentum, DecayOf(info), options_.nesterov};
      HPO_RETURN_IF_ERROR(backend_->SgdMomentumUpdate(hyper, grad_scale, params_.Sub(info.offset, info.count),
                                                      grads_.Sub(info.offset, info.count),
                                                      velocity_.Sub(info.offset, info.count), CopyOf(info)));
    }
    ++steps_;
    return Status::Ok();
  }

 private:
  Buffer velocity_;
};

class AdamW final : public OptimizerBase {
 public:
  using OptimizerBase::OptimizerBase;

  Status Init() {
    HPO_ASSIGN_OR_RETURN(m_, backend_->Allocate(params_.size, params_.dtype));
    HPO_ASSIGN_OR_RETURN(v_, backend_->Allocate(params_.size, params_.dtype));
    return Status::Ok();
  }

  Status Step(double lr, double grad_scale) override {
    const int64_t step = steps_ + 1;
    for (const ParamInfo& info : layout_) {
      const kernels::AdamWHyper hyper{lr, options_.beta1, options_.beta2, options_.eps, DecayOf(info)};
      HPO_RETURN_IF_ERROR(backend_->AdamWUpdate(
          hyper, step, grad_scale, params_.Sub(info.offset, info.count), grads_.Sub(info.offset, info.count),
          m_.Sub(info.offset, info.count), v_.Sub(info.offset, info.count), CopyOf(info)));
    }
    steps_ = step;
    return Status::Ok();
  }

 private:
  Buffer m_;
  Buffer v_;
};

}  // namespace

Result<std::unique_ptr<Optimizer>> Optimizer::Create(Backend& backend, const OptimizerOptions& options,
                                                     View params, ConstView grads,
                                                     std::vector<ParamInfo> layout, View compute_copy) {
  if (!(options.weight_decay >= 0) || !std::isfinite(options.weight_decay)) {
    return InvalidArgumentError("optimizer: weight_decay must be finite and >= 0");
  }
  if (!(options.momentum >= 0 && options.momentum < 1)) {
    return InvalidArgumentError("optimizer: momentum must be in [0, 1)");
  }
  if (!(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1 &&
        options.eps > 0)) {
    return InvalidArgumentError("optimizer: AdamW needs beta1, beta2 in [0, 1) and eps > 0");
  }
  if (params.dtype != grads.dtype || params.size != grads.size) {
    return InvalidArgumentError("optimizer: parameters and gradients differ in size or element type");
  }
  if (compute_copy.size != 0 && compute_copy.size != params.size) {
    return InvalidArgumentError("optimizer: the compute copy differs in size from the parameters");
  }
  for (const ParamInfo& info : layout) {
    if (info.offset > params.size || info.count > params.size - info.offset) {
      return InvalidArgumentError("optimizer: tensor " + info.name + " lies outside the parameter buffer");
    }
  }
  if (options.kind == OptimizerKind::kSgd) {
    auto sgd =
        std::make_unique<SgdMomentum>(backend, options, params, grads, std::move(layout), compute_copy);
    HPO_RETURN_IF_ERROR(sgd->Init());
    return std::unique_ptr<Optimizer>(std::move(sgd));
  }
  auto adamw = std::make_unique<AdamW>(backend, options, params, grads, std::move(layout), compute_copy);
  HPO_RETURN_IF_ERROR(adamw->Init());
  return std::unique_ptr<Optimizer>(std::move(adamw));
}

}  // namespace hpo::trainer
