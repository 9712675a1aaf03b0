// Conversions between fp32 and the two 16-bit formats, on raw bits: IEEE 754 binary16 ("fp16": 1 sign,
// 5 exponent, 10 mantissa bits) and bfloat16 ("bf16": the top 16 bits of an fp32). Encoding rounds to
// nearest, ties to even, exactly as the GPU stores a float into __half / __nv_bfloat16, so that the CPU
// backend sees the same rounded values as the CUDA kernels. Decoding is exact.
//
// Special values: encoding a float past the largest finite value (after rounding) gives infinity of the
// same sign; subnormal results are rounded correctly (no flush to zero); a NaN stays a NaN with its sign
// and the top bits of its payload, with the quiet bit set. Decoding keeps NaN payloads as they are.
//
// Each function is `HPO_HD inline` (kernels/host_device.h): pure functions of their argument, thread-safe,
// no state, callable from host code and from CUDA kernels alike. The float's bits are read and written with
// memcpy, never through a union or a pointer cast.
#ifndef HPO_KERNELS_HALF_H_
#define HPO_KERNELS_HALF_H_

#include <stdint.h>
#include <string.h>  // memcpy: a name both host and device code have

#include "kernels/host_device.h"

namespace hpo::kernels {

// Host-side names for the raw bits of one fp16 / bf16 value (the element types of DType::kF16 and
// DType::kBF16 buffers). Plain 2-byte values; no arithmetic.
struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};
static_assert(sizeof(Half) == 2 && sizeof(BFloat16) == 2, "16-bit storage");

HPO_HD inline uint32_t FloatBits(float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof(bits));
  return bits;
}

HPO_HD inline float FloatFromBits(uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof(f));
  return f;
}

// The binary16 bit pattern nearest to f (ties to even). |f| >= 65520 (the midpoint between the largest
// finite half, 65504, and 2^16) gives infinity; |f| <= 2^-25 gives a signed zero.
HPO_HD inline uint16_t FloatToHalfBits(float f) {
  const uint32_t bits = FloatBits(f);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) {  // NaN: keep the top payload bits, set the quiet bit
    return static_cast<uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x03ffu));
  }
  if (abs >= 0x477ff000u) {  // 65520 and above, infinity included
    return static_cast<uint16_t>(sign | 0x7c00u);
  }
  if (abs >= 0x38800000u) {  // 2^-14 and above: a normal half
    // Rebias the exponent (127 -> 15) and round the 23-bit mantissa to 10 bits; a carry out of the
    // mantissa increments the exponent, which is the correct result (never past 0x7bff here).
    const uint32_t rebiased = abs - (112u << 23);
    return static_cast<uint16_t>(sign | ((rebiased + 0x0fffu + ((rebiased >> 13) & 1u)) >> 13));
  }
  // A subnormal half (or zero): the result is round(|f| * 2^24), |f| = m * 2^(e - 150).
  const uint32_t e = abs >> 23;
  if (e < 102) return static_cast<uint16_t>(sign);  // |f| < 2^-25: rounds to zero
  const uint32_t m = (abs & 0x007fffffu) | 0x00800000u;
  const uint32_t shift = 126 - e;  // in [14, 24]
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) ++q;  // may carry into 0x400, the smallest normal
  return static_cast<uint16_t>(sign | q);
}

// The exact float value of a binary16 bit pattern.
HPO_HD inline float HalfBitsToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x03ffu;
  if (exponent == 0x1f) {  // infinity or NaN
    return FloatFromBits(sign | 0x7f800000u | (mantissa << 13));
  }
  if (exponent == 0) {
    if (mantissa == 0) return FloatFromBits(sign);
    // Subnormal: mantissa * 2^-24; normalize so the leading one becomes the implicit bit.
    uint32_t float_exponent = 127 - 14;
    while ((mantissa & 0x0400u) == 0) {
      mantissa <<= 1;
      --float_exponent;
    }
    return FloatFromBits(sign | (float_exponent << 23) | ((mantissa & 0x03ffu) << 13));
  }
  return FloatFromBits(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

// The bfloat16 bit pattern nearest to f (ties to even). Values that round past the largest finite bf16
// (0x7f7f) give infinity.
HPO_HD inline uint16_t FloatToBf16Bits(float f) {
  const uint32_t bits = FloatBits(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {  // NaN: keep the sign and top payload, set the quiet bit
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  }
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// The exact float value of a bfloat16 bit pattern.
HPO_HD inline float Bf16BitsToFloat(uint16_t b) { return FloatFromBits(static_cast<uint32_t>(b) << 16); }

// f rounded to the nearest binary16 value, as a float (what a half store then load gives).
HPO_HD inline float RoundToHalf(float f) { return HalfBitsToFloat(FloatToHalfBits(f)); }

// f rounded to the nearest bfloat16 value, as a float.
HPO_HD inline float RoundToBf16(float f) { return Bf16BitsToFloat(FloatToBf16Bits(f)); }

}  // namespace hpo::kernels

#endif  // HPO_KERNELS_HALF_H_
