// Element math shared by every backend: activations and their derivatives, the per-element optimizer
// updates, the window arithmetic and normalisation formulas of the convolution-network operations, and the
// masks, scores and rotations of attention.
// Each function is `HPO_HD inline` so that the CPU backend calls it in its loops and the CUDA kernels
// (nvcc) call the very same code on the device; host tests therefore cover both.
//
// Pure functions on values: thread-safe, no state, no allocation. Templated on the scalar type T
// (float for training and for half storage, which is loaded into float first; double for the gradient
// checks).
#ifndef HPO_KERNELS_ELEMENT_H_
#define HPO_KERNELS_ELEMENT_H_

#include <math.h>  // tanh, sqrtf/sqrt, exp, logf/log, exp2, pow, fabsf, copysignf: names host and device code both have
#include <stdint.h>

#include "kernels/host_device.h"

namespace hpo::kernels {

// The nonlinearity after a hidden layer. kIdentity is the output layer's (logits).
enum class Activation : int { kIdentity = 0, kRelu = 1, kGelu = 2, kTanh = 3, kSilu = 4 };

// 2^k as a float, for k in [-126, 127] (a normal number: the exponent bits alone).
HPO_HD inline float ExactPow2(int32_t k) {
#ifdef __CUDA_ARCH__
  return __int_as_float((k + 127) << 23);
#else
  const auto bits = static_cast<uint32_t>(k + 127) << 23;
  float f;
  __builtin_memcpy(&f, &bits, sizeof f);
  return f;
#endif
}

// e^x in fp32 as plain arithmetic (no library call), so that the CPU backend's element loops vectorise
// and both backends compute the same bits: x = n ln2 + r with |r| <= ln2 / 2 (n rounded to nearest by the
// 1.5 * 2^23 trick, ln2 split in two for an exact reduction), e^r by its Taylor polynomial to r^7
// (truncation below 6e-9 relative), then scaled by 2^n in two halves so that subnormal results come out
// right. Within 1 ulp of the exact value for normal results; 0 below -104 (where e^x is below the smallest
// subnormal), +inf above 88.72, NaN for NaN.
HPO_HD inline float FastExp(float x) {
  const float clamped = x < -104.0f ? -104.0f : (x > 88.8f ? 88.8f : x);
  const float n = (clamped * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (clamped - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const auto k = static_cast<int32_t>(n);
  const int32_t half = k >> 1;  // (floor: k - half is within [-75, 64] too)
  const float y = p * ExactPow2(half) * ExactPow2(k - half);
  return x != x ? x : (x < -104.0f ? 0.0f : (x > 88.72283935546875f ? __builtin_huge_valf() : y));
}

// tanh in fp32 as plain arithmetic (see FastExp): the odd Taylor polynomial to x^11 below |x| = 0.3
// (truncation below 2e-9 relative), (1 - e) / (1 + e) with e = e^(-2|x|) (|x| capped at 9, where it is +-1
// in fp32) above; within 2 ulp of the exact value, NaN for NaN.
HPO_HD inline float FastTanh(float x) {
  const float a = fabsf(x);
  const float x2 = x * x;
  float q = -1382.0f / 155925.0f;
  q = q * x2 + 62.0f / 2835.0f;
  q = q * x2 - 17.0f / 315.0f;
  q = q * x2 + 2.0f / 15.0f;
  q = q * x2 - 1.0f / 3.0f;
  const float small = x + x * x2 * q;
  const float e = FastExp(-2.0f * (a < 9.0f ? a : 9.0f));
  const float large = copysignf((1.0f - e) / (1.0f + e), x);
  return a < 0.3f ? small : (x != x ? x : large);
}

HPO_HD inline float ElementTanh(float x) { return FastTanh(x); }
HPO_HD inline double ElementTanh(double x) { return tanh(x); }
HPO_HD inline float ElementSqrt(float x) { return sqrtf(x); }
HPO_HD inline double ElementSqrt(double x) { return sqrt(x); }
HPO_HD inline float ElementExp(float x) { return FastExp(x); }
HPO_HD inline double ElementExp(double x) { return exp(x); }
HPO_HD inline float ElementLog(float x) { return logf(x); }
HPO_HD inline double ElementLog(double x) { return log(x); }

// The logistic function 1 / (1 + e^-x).
template <typename T>
HPO_HD inline T Sigmoid(T x) {
  return T(1) / (T(1) + ElementExp(-x));
}

// GELU in the tanh approximation (Hendrycks & Gimpel 2016, eq. in sec. 2; PyTorch's
// approximate="tanh"): gelu(x) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3).
template <typename T>
struct GeluConstants {
  static constexpr T kSqrt2OverPi = T(0.79788456080286535587989211986876);
  static constexpr T kCubic = T(0.044715);
};

// act(z) for the activation A.
template <Activation A, typename T>
HPO_HD inline T Activate(T z) {
  if constexpr (A == Activation::kRelu) {
    return z < T(0) ? T(0) : z;  // NaN propagates (as in PyTorch), so divergence stays visible
  } else if constexpr (A == Activation::kGelu) {
    const T u = GeluConstants<T>::kSqrt2OverPi * (z + GeluConstants<T>::kCubic * z * z * z);
    return T(0.5) * z * (T(1) + ElementTanh(u));
  } else if constexpr (A == Activation::kTanh) {
    return ElementTanh(z);
  } else if constexpr (A == Activation::kSilu) {
    return z * Sigmoid(z);  // SiLU / swish (Elfwing et al. 2018)
  } else {
    return z;
  }
}

// d act / dz at z. ReLU's derivative at exactly 0 is taken as 0.
template <Activation A, typename T>
HPO_HD inline T ActivateDerivative(T z) {
  if constexpr (A == Activation::kRelu) {
    return z > T(0) ? T(1) : T(0);
  } else if constexpr (A == Activation::kGelu) {
    // gelu'(z) = 0.5 (1 + t) + 0.5 z (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 z^2), t = tanh(u).
    const T z2 = z * z;
    const T u = GeluConstants<T>::kSqrt2OverPi * (z + GeluConstants<T>::kCubic * z2 * z);
    const T t = ElementTanh(u);
    const T du = GeluConstants<T>::kSqrt2OverPi * (T(1) + T(3) * GeluConstants<T>::kCubic * z2);
    return T(0.5) * (T(1) + t) + T(0.5) * z * (T(1) - t * t) * du;
  } else if constexpr (A == Activation::kTanh) {
    const T t = ElementTanh(z);
    return T(1) - t * t;
  } else if constexpr (A == Activation::kSilu) {
    // silu'(z) = s (1 + z (1 - s)), s = sigmoid(z).
    const T s = Sigmoid(z);
    return s * (T(1) + z * (T(1) - s));
  } else {
    return T(1);
  }
}

// dy * act'(z): the backward step of the activation for upstream gradient dy. For ReLU a select
// (PyTorch's threshold_backward), which equals the product for every finite dy and vectorises.
template <Activation A, typename T>
HPO_HD inline T ActivateBackward(T z, T dy) {
  if constexpr (A == Activation::kRelu) {
    return z > T(0) ? dy : T(0);
  } else if constexpr (A == Activation::kIdentity) {
    return dy;
  } else {
    return dy * ActivateDerivative<A>(z);
  }
}

// Run-time dispatch of the two functions above; loops should dispatch once outside instead.
template <typename T>
HPO_HD inline T Activate(Activation a, T z) {
  switch (a) {
    case Activation::kRelu:
      return Activate<Activation::kRelu>(z);
    case Activation::kGelu:
      return Activate<Activation::kGelu>(z);
    case Activation::kTanh:
      return Activate<Activation::kTanh>(z);
    case Activation::kSilu:
      return Activate<Activation::kSilu>(z);
    case Activation::kIdentity:
      break;
  }
  return z;
}

template <typename T>
HPO_HD inline T ActivateDerivative(Activation a, T z) {
  switch (a) {
    case Activation::kRelu:
      return ActivateDerivative<Activation::kRelu>(z);
    case Activation::kGelu:
      return ActivateDerivative<Activation::kGelu>(z);
    case Activation::kTanh:
      return ActivateDerivative<Activation::kTanh>(z);
    case Activation::kSilu:
      return ActivateDerivative<Activation::kSilu>(z);
    case Activation::kIdentity:
      break;
  }
  return T(1);
}

// SGD with momentum and L2 weight decay, PyTorch's torch.optim.SGD (dampening 0), on the gradient
// g * grad_scale (grad_scale undoes loss scaling and applies clipping):
//   g' = g * grad_scale + weight_decay * w;  v = momentum * v + g';
//   w = w - lr * v                      (classical)
//   w = w - lr * (g' + momentum * v)    (Nesterov, as PyTorch's nesterov=True).
// With v starting at 0 the first step is v = g', as in PyTorch.
template <typename T>
struct SgdCoeffs {
  T lr;
  T momentum;
  T weight_decay;
  T grad_scale;
  bool nesterov;
};

template <typename T>
HPO_HD inline void SgdMomentumElement(const SgdCoeffs<T>& c, T& w, T g, T& v) {
  const T grad = g * c.grad_scale + c.weight_decay * w;
  v = c.momentum * v + grad;
  w = w - c.lr * (c.nesterov ? grad + c.momentum * v : v);
}

// AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Alg. 2), as PyTorch's
// torch.optim.AdamW computes it for step t >= 1, on the gradient g <- g * grad_scale:
//   w = w * (1 - lr * weight_decay)
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
//   w = w - lr * (m / bc1) / (sqrt(v / bc2) + eps),  bc1 = 1 - beta1^t, bc2 = 1 - beta2^t.
// The bias corrections are per step, not per element: the caller computes them once (MakeAdamWCoeffs).
template <typename T>
struct AdamWCoeffs {
  T lr;
  T beta1;
  T beta2;
  T eps;
  T weight_decay;
  T bias_correction1;  // 1 - beta1^t
  T bias_correction2;  // 1 - beta2^t
  T grad_scale;
};

template <typename T>
HPO_HD inline void AdamWElement(const AdamWCoeffs<T>& c, T& w, T g_raw, T& m, T& v) {
  const T g = g_raw * c.grad_scale;
  w = w * (T(1) - c.lr * c.weight_decay);
  m = c.beta1 * m + (T(1) - c.beta1) * g;
  v = c.beta2 * v + (T(1) - c.beta2) * g * g;
  const T m_hat = m / c.bias_correction1;
  const T v_hat = v / c.bias_correction2;
  w = w - c.lr * m_hat / (ElementSqrt(v_hat) + c.eps);
}

// --- Convolution networks (see Backend::Im2Col and the operations after it) ---

// The output positions o in [lo, hi] (empty when lo > hi) whose window o * stride - pad + [0, kernel)
// covers input position p, along one axis with `out` output positions: the gather form of Col2Im and of
// max pooling's backward pass, which visit the covering windows of each input element in ascending order.
struct WindowRange {
  int64_t lo;
  int64_t hi;
};

HPO_HD inline WindowRange CoveringWindows(int64_t p, int64_t kernel, int64_t stride, int64_t pad,
                                          int64_t out) {
  const int64_t first = p + pad - kernel + 1;  // o * stride >= first
  const int64_t lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  const int64_t last = (p + pad) / stride;  // o * stride <= p + pad
  return WindowRange{lo, last < out - 1 ? last : out - 1};
}

// Whether max pooling takes `candidate` over the `best` so far: a larger value, or a NaN over a number (NaN
// propagates, as in PyTorch); on ties the earlier element stays.
template <typename T>
HPO_HD inline bool MaxPoolTakes(T candidate, T best) {
  return candidate > best || (candidate != candidate && best == best);
}

// Rows per chunk of the column sums of batch normalisation (statistics and parameter gradients): each
// column is summed over consecutive chunks of this many rows, each chunk in row order, then over the chunks
// in order. Both backends use it, so their sums agree; at least 32 rows, and at most 65535 chunks.
HPO_HD inline int64_t BatchNormChunkRows(int64_t rows) {
  const int64_t per_chunk = (rows + 65534) / 65535;
  return per_chunk < 32 ? 32 : per_chunk;
}

// (x - mean) rstd gamma + beta: the normalised, scaled and shifted value (batch and layer norm).
template <typename T>
HPO_HD inline T NormalizeElement(T x, T mean, T rstd, T gamma, T beta) {
  return (x - mean) * rstd * gamma + beta;
}

// One exponential-average step of a running statistic: (1 - momentum) running + momentum batch_stat, as
// PyTorch's BatchNorm updates running_mean and running_var.
template <typename T>
HPO_HD inline T RunningAverage(T running, T batch_stat, T momentum) {
  return (T(1) - momentum) * running + momentum * batch_stat;
}

// The input gradient of training-mode batch normalisation for one element, with xhat = (x - mean) rstd,
// mean_dy = sum_r dy / rows and mean_dy_xhat = sum_r dy xhat / rows over the element's column:
//   dx = gamma rstd (dy - mean_dy - xhat mean_dy_xhat).
template <typename T>
HPO_HD inline T BatchNormInputGradient(T dy, T xhat, T gamma, T rstd, T mean_dy, T mean_dy_xhat) {
  return gamma * rstd * (dy - mean_dy - xhat * mean_dy_xhat);
}

// --- Transformer layers and depthwise convolution (see Backend::EmbeddingForward and after) ---

// Rows per chunk of the column sums of RMS norm's dgamma and depthwise convolution's dw: each column is
// summed over consecutive chunks of this many rows, each chunk in row order, then over the chunks in order.
// Both backends use it (the CPU backend's threads take whole chunks), so their sums agree bit for bit and do
// not depend on the thread count; at least 32 rows, and at most 1024 chunks (which bounds the partial sums
// the CPU backend keeps).
HPO_HD inline int64_t ColumnChunkRows(int64_t rows) {
  const int64_t per_chunk = (rows + 1023) / 1024;
  return per_chunk < 32 ? 32 : per_chunk;
}

// x rstd gamma: one element of RMS normalisation's output.
template <typename T>
HPO_HD inline T RmsNormElement(T x, T rstd, T gamma) {
  return x * rstd * gamma;
}

// The input gradient of RMS normalisation for one element, with xhat = x rstd and mean_g_xhat =
// sum_c dy gamma xhat / cols over the element's row: dx = rstd (dy gamma - xhat mean_g_xhat).
template <typename T>
HPO_HD inline T RmsNormInputGradient(T dy, T gamma, T xhat, T rstd, T mean_g_xhat) {
  return rstd * (dy * gamma - xhat * mean_g_xhat);
}

// SwiGLU (Shazeer 2020, "GLU Variants Improve Transformer", eq. 6 without the projections): silu(g) u, with
// silu the kSilu activation above, so that both agree bit for bit.
template <typename T>
HPO_HD inline T SwiGluElement(T g, T u) {
  return Activate<Activation::kSilu>(g) * u;
}

// Its backward step for upstream gradient dy: dg = dy u silu'(g), du = dy silu(g).
template <typename T>
HPO_HD inline void SwiGluBackwardElement(T g, T u, T dy, T& dg, T& du) {
  dg = dy * u * ActivateDerivative<Activation::kSilu>(g);
  du = dy * Activate<Activation::kSilu>(g);
}

// --- Attention (see Backend::AttentionForward and AttentionShape) ---

// The keys j in [lo, hi] (empty when lo > hi) that the query at position p sees among kv_len keys: all of
// them, j <= p when causal, and with window > 0 also p - j < window (causal) or |p - j| < window (not).
// Both ends are non-decreasing in p, so a tile of consecutive queries sees the union of its first query's lo
// and its last query's hi.
HPO_HD inline WindowRange AttentionVisibleKeys(int64_t p, int64_t kv_len, bool causal, int64_t window) {
  int64_t lo = 0;
  int64_t hi = kv_len - 1;
  if (causal && p < hi) hi = p;
  if (window > 0) {
    if (p - window + 1 > lo) lo = p - window + 1;
    if (!causal && p + window - 1 < hi) hi = p + window - 1;
  }
  return WindowRange{lo, hi};
}

// The ALiBi slope of query head h of `heads` (Press et al. 2022, "Train Short, Test Long"):
// 2^(-8 (h + 1) / heads), in fp64 (callers round it to their compute type once).
HPO_HD inline double AlibiSlope(int64_t h, int64_t heads) {
  return exp2(-8.0 * static_cast<double>(h + 1) / static_cast<double>(heads));
}

// score = scale * dot - slope * |p - j| for dot = q . k (slope 0 without ALiBi, which leaves scale * dot).
template <typename T>
HPO_HD inline T AttentionScore(T dot, T scale, T slope, int64_t distance) {
  return dot * scale - slope * static_cast<T>(distance < 0 ? -distance : distance);
}

// The angle of rotary pair i (< head_dim / 2) at position pos: pos * base^(-2i / head_dim), in fp64.
HPO_HD inline double RopeAngle(int64_t pos, int64_t i, int64_t head_dim, double base) {
  return static_cast<double>(pos) * pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
}

// Rotates the pair (x0, x1) by the angle whose cosine and sine are c and s.
template <typename T>
HPO_HD inline void RopeRotate(T& x0, T& x1, T c, T s) {
  const T a = x0;
  const T b = x1;
  x0 = a * c - b * s;
  x1 = a * s + b * c;
}

}  // namespace hpo::kernels

#endif  // HPO_KERNELS_ELEMENT_H_
