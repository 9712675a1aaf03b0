// Array conversions between the CPU backend's floating storage types (float, double, Half, BFloat16), each
// value rounded to nearest even exactly as kernels/half.h rounds one value, so that the vector paths below
// and the scalar functions of half.h (which the CUDA kernels call too) give the same bits.
//
// Fast paths: fp16 <-> fp32 uses the F16C instructions when the CPU has them (checked once, at run time),
// with NaNs fixed up to half.h's encoding; bf16 <-> fp32 is integer code the compiler vectorises.
// double -> fp16/bf16 rounds once (through a round-to-odd float), never twice.
//
// Pure functions of their inputs: thread-safe, no allocation.
#ifndef HPO_KERNELS_CPU_CONVERT_H_
#define HPO_KERNELS_CPU_CONVERT_H_

#include <cmath>
#include <cstdint>

#include "kernels/half.h"

namespace hpo::kernels {

// d rounded to a float with round-to-odd: the float toward zero from d with its last bit set when d is not a
// float, d itself otherwise. Rounding that result to nearest even into any format with at least two bits
// fewer precision (fp16, bf16) gives d rounded to nearest even directly (Boldo & Melquiond 2008).
inline float DoubleToFloatRoundToOdd(double d) {
  const float f = static_cast<float>(d);
  if (!std::isfinite(f) || static_cast<double>(f) == d) return f;
  uint32_t bits = FloatBits(f);
  if (std::fabs(static_cast<double>(f)) > std::fabs(d)) --bits;  // one step toward zero (|f| > 0 here)
  return FloatFromBits(bits | 1u);
}

// d rounded to nearest even as fp16 / bf16 bits, with one rounding.
inline uint16_t DoubleToHalfBits(double d) { return FloatToHalfBits(DoubleToFloatRoundToOdd(d)); }
inline uint16_t DoubleToBf16Bits(double d) { return FloatToBf16Bits(DoubleToFloatRoundToOdd(d)); }

// One fp32 value's bits rounded to nearest even as bf16 bits (NaNs quieted, as half.h's FloatToBf16Bits),
// written with a select rather than a branch, so that loops over it vectorise.
inline uint16_t Bf16BitsFromFloatBits(uint32_t bits) {
  const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (bits >> 16) | 0x0040u;
  return static_cast<uint16_t>((bits & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

// The bf16 <-> fp32 loops inline, for the short rows (a pixel's channels) where a call per row would cost
// more than the conversion: the same bits as Convert.
inline void Bf16RowToFloat(const BFloat16* __restrict src, float* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = FloatFromBits(static_cast<uint32_t>(src[i].bits) << 16);
}
inline void FloatRowToBf16(const float* __restrict src, BFloat16* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i].bits = Bf16BitsFromFloatBits(FloatBits(src[i]));
}

// dst[i] = src[i] rounded to To, for i < n; From, To in {float, double, Half, BFloat16}. When From == To the
// ranges may overlap (a copy); otherwise they must not.
template <typename From, typename To>
void Convert(const From* src, To* dst, int64_t n);

// The individual paths, exposed for the tests that compare them bit for bit.
namespace convert_internal {

// Whether this CPU has F16C and AVX2 (the fast fp16 paths use both).
bool HaveF16c();
void HalfToFloatScalar(const Half* src, float* dst, int64_t n);
void FloatToHalfScalar(const float* src, Half* dst, int64_t n);
// REQUIRES: HaveF16c().
void HalfToFloatF16c(const Half* src, float* dst, int64_t n);
void FloatToHalfF16c(const float* src, Half* dst, int64_t n);

}  // namespace convert_internal
}  // namespace hpo::kernels

#endif  // HPO_KERNELS_CPU_CONVERT_H_
