// Helpers shared by the tests of the model families (trainer/model.h): upload and download host vectors,
// and the fp64 finite-difference check of every parameter gradient of a model's real code.
#ifndef HPO_TESTS_TRAINER_MODEL_TEST_UTIL_H_
#define HPO_TESTS_TRAINER_MODEL_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "base/rng.h"
#include "kernels/backend.h"
#include "trainer/model.h"

namespace hpo::trainer::testing {

template <typename T>
kernels::Buffer Upload(kernels::Backend& backend, const std::vector<T>& host) {
  auto buffer = backend.Allocate(host.size(), kernels::DTypeOf<T>());
  EXPECT_TRUE(buffer.ok());
  EXPECT_TRUE(backend.Upload(std::span<const T>(host), buffer->view()).ok());
  return std::move(*buffer);
}

template <typename T>
std::vector<T> Download(kernels::Backend& backend, kernels::ConstView view) {
  std::vector<T> host(view.size);
  EXPECT_TRUE(backend.Download(view, std::span<T>(host)).ok());
  return host;
}

// The fp32 logits of `model` (rows x classes) for fp32 host inputs x, cast to the model's dtype first, as
// the trainer feeds a half-precision model.
inline std::vector<float> ForwardLogits(kernels::Backend& backend, Model& model, const std::vector<float>& x,
                                        int64_t rows, int64_t classes) {
  kernels::Buffer xf = Upload(backend, x);
  auto xt = backend.Allocate(x.size(), model.dtype());
  EXPECT_TRUE(xt.ok());
  EXPECT_TRUE(backend.Cast(xf.view(), xt->view()).ok());
  EXPECT_TRUE(model.Forward(xt->view(), rows).ok());
  auto out = backend.Allocate(static_cast<size_t>(rows * classes), kernels::DType::kF32);
  EXPECT_TRUE(out.ok());
  EXPECT_TRUE(backend.Cast(model.logits().Sub(0, static_cast<size_t>(rows * classes)), out->view()).ok());
  return Download<float>(backend, out->view());
}

struct GradientCheck {
  double tolerance = 1e-6;  // the largest relative error allowed per tensor
  double floor = 1e-6;      // the denominator's floor: gradients below it compare absolutely
  double weight_scale = 1;  // multiplies the weights and embeddings before the check
};

// Checks every gradient of `model` (built in kF64) against five-point central differences of its
// training loss on inputs x (`rows` examples) and `labels`, with the given loss options and
// dropout step (the mask is a fixed function of the step). Biases, gains and shifts are first set to
// random values around their initial ones, so that every term of the backward pass matters, and weights and
// embeddings multiplied by weight_scale (small initial weights give gradients too small for the finite
// differences to resolve). Reports the tensors whose largest relative error (with the denominator floored
// at check.floor) reaches check.tolerance.
// x: the model's inputs already in backend memory (token ids for the language model).
inline void CheckModelGradients(kernels::Backend& backend, Model& model, kernels::ConstView x,
                                const std::vector<int32_t>& labels, int64_t rows,
                                const kernels::LossOptions& options, uint64_t step,
                                const GradientCheck& check = {}) {
  const double weight_scale = check.weight_scale;
  Rng rng(11);
  std::vector<double> params = Download<double>(backend, model.params());
  for (const ParamInfo& info : model.layout()) {
    if (info.kind == ParamKind::kWeight || info.kind == ParamKind::kEmbedding) {
      for (size_t i = 0; i < info.count; ++i) params[info.offset + i] *= weight_scale;
      continue;
    }
    const double base = info.kind == ParamKind::kNormGain ? 1.0 : 0.0;
    for (size_t i = 0; i < info.count; ++i) params[info.offset + i] = base + 0.3 * rng.Normal();
  }
  kernels::Buffer lb = Upload(backend, labels);
  kernels::Buffer loss = Upload(backend, std::vector<double>{0.0});
  auto loss_at = [&](const std::vector<double>& p) {
    EXPECT_TRUE(backend.Upload(std::span<const double>(p), model.params()).ok());
    const Status s = model.ForwardBackward(x, lb.view(), rows, options, step, loss.view());
    EXPECT_TRUE(s.ok()) << s.ToString();
    return Download<double>(backend, loss.view())[0];
  };
  loss_at(params);
  const std::vector<double> grads = Download<double>(backend, model.grads());
  for (const ParamInfo& info : model.layout()) {
    double max_rel = 0;
    for (size_t i = 0; i < info.count; ++i) {
      const size_t k = info.offset + i;
      // Five-point central difference: truncation O(h^4) ~ 1e-16, rounding ~ 1e-16 / h ~ 1e-12.
      const double h = 1e-4;
      auto shifted = [&](double by) {
        std::vector<double> p = params;
        p[k] += by;
        return loss_at(p);
      };
      const double fd = (shifted(-2 * h) - 8 * shifted(-h) + 8 * shifted(h) - shifted(2 * h)) / (12 * h);
      const double analytic = grads[k] / options.grad_scale;
      // Relative error with a floor: entries whose true gradient is ~0 (a dead ReLU unit, a dropped unit)
      // compare absolutely at the finite difference's resolution.
      const double rel =
          std::fabs(analytic - fd) / std::max(std::fabs(analytic) + std::fabs(fd), check.floor);
      max_rel = std::max(max_rel, rel);
    }
    EXPECT_LT(max_rel, check.tolerance) << "tensor " << info.name;
  }
}

// The same with host inputs x (uploaded as doubles).
inline void CheckModelGradients(kernels::Backend& backend, Model& model, const std::vector<double>& x,
                                const std::vector<int32_t>& labels, int64_t rows,
                                const kernels::LossOptions& options, uint64_t step,
                                const GradientCheck& check = {}) {
  kernels::Buffer xb = Upload(backend, x);
  CheckModelGradients(backend, model, xb.view(), labels, rows, options, step, check);
}

}  // namespace hpo::trainer::testing

#endif  // HPO_TESTS_TRAINER_MODEL_TEST_UTIL_H_
