// Tests kernels/element.h: the activation math against finite differences and known values, the
// optimizer steps against hand-computed numbers.
#include "kernels/element.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

namespace hpo::kernels {
namespace {

constexpr Activation kAll[] = {Activation::kIdentity, Activation::kRelu, Activation::kGelu, Activation::kTanh,
                               Activation::kSilu};

TEST(ElementTest, ActivationKnownValues) {
  EXPECT_EQ(Activate(Activation::kRelu, -1.0), 0.0);
  EXPECT_EQ(Activate(Activation::kRelu, 2.5), 2.5);
  EXPECT_EQ(Activate(Activation::kIdentity, -3.25), -3.25);
  EXPECT_NEAR(Activate(Activation::kTanh, 0.5), 0.46211715726000974, 1e-15);
  // GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
  EXPECT_NEAR(Activate(Activation::kGelu, 1.0), 0.8411919906082768, 1e-15);
  EXPECT_NEAR(Activate(Activation::kGelu, -0.5), -0.15428599017485606, 1e-15);
  EXPECT_EQ(Activate(Activation::kGelu, 0.0), 0.0);
  EXPECT_NEAR(Activate(Activation::kGelu, 1.0f), 0.84119199f, 1e-6f);
  // SiLU: x / (1 + e^-x).
  EXPECT_NEAR(Activate(Activation::kSilu, 1.0), 1.0 / (1.0 + std::exp(-1.0)), 1e-15);
  EXPECT_NEAR(Activate(Activation::kSilu, -2.0), -2.0 / (1.0 + std::exp(2.0)), 1e-15);
  EXPECT_EQ(Activate(Activation::kSilu, 0.0), 0.0);
  EXPECT_NEAR(ActivateDerivative(Activation::kSilu, 0.0), 0.5, 1e-15);
}

TEST(ElementTest, DerivativesMatchFiniteDifferences) {
  const std::vector<double> points = {-3.0, -1.2, -0.3, -1e-3, 1e-3, 0.25, 0.9, 2.0, 4.5};
  constexpr double kH = 1e-6;
  for (Activation a : kAll) {
    for (double z : points) {
      const double fd = (Activate(a, z + kH) - Activate(a, z - kH)) / (2 * kH);
      const double analytic = ActivateDerivative(a, z);
      EXPECT_NEAR(analytic, fd, 1e-8 * (1 + std::fabs(fd)))
          << "activation " << static_cast<int>(a) << " z " << z;
      // The float path agrees with the double path to float precision.
      EXPECT_NEAR(ActivateDerivative(a, static_cast<float>(z)), analytic, 2e-6 * (1 + std::fabs(analytic)));
      EXPECT_NEAR(Activate(a, static_cast<float>(z)), Activate(a, z), 2e-6 * (1 + std::fabs(z)));
    }
  }
  EXPECT_EQ(ActivateDerivative(Activation::kRelu, 0.0), 0.0);
  EXPECT_EQ(ActivateDerivative(Activation::kRelu, -2.0), 0.0);
  EXPECT_EQ(ActivateDerivative(Activation::kRelu, 2.0), 1.0);
}

TEST(ElementTest, NanPropagatesThroughEveryActivation) {
  const double nan = std::nan("");
  for (Activation a : kAll) EXPECT_TRUE(std::isnan(Activate(a, nan))) << static_cast<int>(a);
  EXPECT_TRUE(std::isnan(Activate(Activation::kRelu, std::nanf(""))));
}

TEST(ElementTest, ActivateBackwardIsDyTimesDerivative) {
  for (double z : {-2.0, -0.1, 0.0, 0.3, 1.7}) {
    const double dy = 0.75;
    EXPECT_EQ(ActivateBackward<Activation::kRelu>(z, dy), dy * ActivateDerivative(Activation::kRelu, z));
    EXPECT_EQ(ActivateBackward<Activation::kGelu>(z, dy), dy * ActivateDerivative(Activation::kGelu, z));
    EXPECT_EQ(ActivateBackward<Activation::kTanh>(z, dy), dy * ActivateDerivative(Activation::kTanh, z));
    EXPECT_EQ(ActivateBackward<Activation::kSilu>(z, dy), dy * ActivateDerivative(Activation::kSilu, z));
    EXPECT_EQ(ActivateBackward<Activation::kIdentity>(z, dy), dy);
  }
}

TEST(ElementTest, CompileTimeAndRunTimeDispatchAgree) {
  for (double z : {-1.5, 0.2, 3.0}) {
    EXPECT_EQ(Activate<Activation::kGelu>(z), Activate(Activation::kGelu, z));
    EXPECT_EQ(ActivateDerivative<Activation::kTanh>(z), ActivateDerivative(Activation::kTanh, z));
    EXPECT_EQ(Activate<Activation::kSilu>(z), Activate(Activation::kSilu, z));
  }
}

TEST(ElementTest, SgdMomentumStepByHand) {
  // g' = 0.5 + 0.01 * 1 = 0.51; v = 0.9 * 0.2 + 0.51 = 0.69; w = 1 - 0.1 * 0.69 = 0.931.
  const SgdCoeffs<double> c{
      .lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .grad_scale = 1.0, .nesterov = false};
  double w = 1.0, v = 0.2;
  SgdMomentumElement(c, w, 0.5, v);
  EXPECT_NEAR(v, 0.69, 1e-15);
  EXPECT_NEAR(w, 0.931, 1e-15);
  // Second step: g' = -0.2 + 0.01 * 0.931 = -0.19069; v = 0.621 - 0.19069 = 0.43031; w = 0.931 - 0.043031.
  SgdMomentumElement(c, w, -0.2, v);
  EXPECT_NEAR(v, 0.43031, 1e-15);
  EXPECT_NEAR(w, 0.887969, 1e-15);
}

TEST(ElementTest, SgdNesterovAndGradScaleByHand) {
  // g = 256 * 0.5 scaled by 1/256: g' = 0.5 + 0.01 * 1 = 0.51; v = 0.9 * 0.2 + 0.51 = 0.69;
  // Nesterov: w = 1 - 0.1 * (0.51 + 0.9 * 0.69) = 1 - 0.1 * 1.131 = 0.8869.
  const SgdCoeffs<double> c{
      .lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .grad_scale = 1.0 / 256, .nesterov = true};
  double w = 1.0, v = 0.2;
  SgdMomentumElement(c, w, 128.0, v);
  EXPECT_NEAR(v, 0.69, 1e-15);
  EXPECT_NEAR(w, 0.8869, 1e-15);
}

TEST(ElementTest, AdamWStepsByHand) {
  AdamWCoeffs<double> c{0.1, 0.9, 0.999, 1e-8, 0.01, 1 - 0.9, 1 - 0.999, 1.0};
  double w = 1.0, m = 0.0, v = 0.0;
  AdamWElement(c, w, 0.5, m, v);
  // decay: w = 0.999; m = 0.05; v = 0.00025; m_hat = 0.5; v_hat = 0.25; w = 0.999 - 0.1 * 0.5 / (0.5 + 1e-8).
  EXPECT_NEAR(m, 0.05, 1e-15);
  EXPECT_NEAR(v, 0.00025, 1e-18);
  EXPECT_NEAR(w, 0.999 - 0.05 / (0.5 + 1e-8), 1e-14);
  // Step 2, g = -1: decay w *= 0.999; m = 0.045 - 0.1 = -0.055; v = 0.00024975 + 0.001 = 0.00124975;
  // m_hat = -0.055 / 0.19; v_hat = 0.00124975 / 0.001999.
  const double w1 = w;
  c.bias_correction1 = 1 - 0.9 * 0.9;
  c.bias_correction2 = 1 - 0.999 * 0.999;
  AdamWElement(c, w, -1.0, m, v);
  EXPECT_NEAR(m, -0.055, 1e-15);
  EXPECT_NEAR(v, 0.00124975, 1e-15);
  const double expected = w1 * 0.999 - 0.1 * (-0.055 / 0.19) / (std::sqrt(0.00124975 / 0.001999) + 1e-8);
  EXPECT_NEAR(w, expected, 1e-14);
}

TEST(ElementTest, AdamWFloatMatchesDouble) {
  AdamWCoeffs<float> cf{1e-3f, 0.9f, 0.999f, 1e-8f, 0.05f, 0.1f, 0.001f, 1.0f};
  AdamWCoeffs<double> cd{1e-3, 0.9, 0.999, 1e-8, 0.05, 0.1, 0.001, 1.0};
  float wf = 0.3f, mf = 0.01f, vf = 0.002f;
  double wd = 0.3, md = 0.01, vd = 0.002;
  AdamWElement(cf, wf, -0.7f, mf, vf);
  AdamWElement(cd, wd, -0.7, md, vd);
  EXPECT_NEAR(wf, wd, 1e-6);
  EXPECT_NEAR(mf, md, 1e-7);
  EXPECT_NEAR(vf, vd, 1e-7);
}

TEST(ElementTest, AdamWGradScaleScalesTheGradient) {
  // g_raw * grad_scale is the gradient: a step on (4 * g, 1/4) equals a step on (g, 1) exactly (powers of 2).
  const AdamWCoeffs<double> unit{0.01, 0.9, 0.999, 1e-8, 0.1, 0.19, 0.001999, 1.0};
  AdamWCoeffs<double> quarter = unit;
  quarter.grad_scale = 0.25;
  double w1 = 0.7, m1 = 0.02, v1 = 0.003, w2 = w1, m2 = m1, v2 = v1;
  AdamWElement(unit, w1, -0.3, m1, v1);
  AdamWElement(quarter, w2, -1.2, m2, v2);
  EXPECT_EQ(w1, w2);
  EXPECT_EQ(m1, m2);
  EXPECT_EQ(v1, v2);
}

}  // namespace
}  // namespace hpo::kernels

namespace hpo::kernels {
namespace {

// The distance in units in the last place between a float and the exact value rounded to float.
int64_t UlpsFrom(float got, double exact) {
  const auto want = static_cast<float>(exact);
  int32_t a = 0, b = 0;
  std::memcpy(&a, &got, sizeof a);
  std::memcpy(&b, &want, sizeof b);
  return std::llabs(static_cast<int64_t>(a) - static_cast<int64_t>(b));
}

// FastExp and FastTanh, the fp32 exp and tanh of every element loop on both backends, against the exact
// functions on a dense sweep (every normal result), and their edges.
TEST(ElementTest, FastExpAndTanhAreWithinTwoUlp) {
  int64_t worst_exp = 0, worst_tanh = 0;
  for (float x = -103.0f; x < 88.7f; x += std::max(1e-4f, std::fabs(x) * 3e-5f)) {
    if (std::exp(static_cast<double>(x)) > 1.2e-38) {
      worst_exp = std::max(worst_exp, UlpsFrom(FastExp(x), std::exp(static_cast<double>(x))));
    }
    if (std::fabs(x) < 12)
      worst_tanh = std::max(worst_tanh, UlpsFrom(FastTanh(x), std::tanh(static_cast<double>(x))));
  }
  for (float x = -1e-3f; x < 1e-3f; x += 1.7e-7f) {
    worst_tanh = std::max(worst_tanh, UlpsFrom(FastTanh(x), std::tanh(static_cast<double>(x))));
  }
  EXPECT_LE(worst_exp, 1);
  EXPECT_LE(worst_tanh, 2);
  EXPECT_EQ(FastExp(0.0f), 1.0f);
  EXPECT_EQ(FastExp(-200.0f), 0.0f);
  EXPECT_EQ(FastExp(89.0f), std::numeric_limits<float>::infinity());
  EXPECT_EQ(FastExp(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_TRUE(std::isnan(FastExp(std::nanf(""))));
  EXPECT_NEAR(FastExp(-100.0f), std::exp(-100.0), 1.5e-45);  // subnormal: within the smallest step
  EXPECT_EQ(FastTanh(0.0f), 0.0f);
  EXPECT_EQ(FastTanh(20.0f), 1.0f);
  EXPECT_EQ(FastTanh(-std::numeric_limits<float>::infinity()), -1.0f);
  EXPECT_TRUE(std::isnan(FastTanh(std::nanf(""))));
  EXPECT_EQ(FastTanh(-0.7f), -FastTanh(0.7f));
}

}  // namespace
}  // namespace hpo::kernels
