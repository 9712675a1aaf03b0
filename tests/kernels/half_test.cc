// Tests kernels/half.h: for every one of the 65,536 bit patterns of fp16 and of bf16, decoding against a
// reference computed from sign, exponent and mantissa in double, and the encode(decode(bits)) round trip;
// ties-to-even at every midpoint between adjacent finite values; overflow; the smallest subnormals; and,
// where the compiler has _Float16, agreement with its conversion on millions of random floats.
#include "kernels/half.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

namespace hpo::kernels {
namespace {

// A 16-bit float format: kMantissaBits explicit mantissa bits, kExponentBits exponent bits, one sign bit.
struct HalfFormat {
  static constexpr int kMantissaBits = 10;
  static constexpr int kExponentBits = 5;
  static uint16_t Encode(float f) { return FloatToHalfBits(f); }
  static float Decode(uint16_t b) { return HalfBitsToFloat(b); }
};

struct Bf16Format {
  static constexpr int kMantissaBits = 7;
  static constexpr int kExponentBits = 8;
  static uint16_t Encode(float f) { return FloatToBf16Bits(f); }
  static float Decode(uint16_t b) { return Bf16BitsToFloat(b); }
};

// The value of `bits` computed independently of half.h. With past_max_as_finite, the all-ones exponent with a
// zero mantissa reads as the power of two after the largest finite value instead of infinity (used as the
// upper neighbour of the largest finite value).
template <typename F>
double ReferenceValue(uint32_t bits, bool past_max_as_finite = false) {
  constexpr int kBias = (1 << (F::kExponentBits - 1)) - 1;
  constexpr uint32_t kMaxExponent = (1u << F::kExponentBits) - 1;
  const bool negative = (bits >> 15) & 1u;
  const uint32_t exponent = (bits >> F::kMantissaBits) & kMaxExponent;
  const uint32_t mantissa = bits & ((1u << F::kMantissaBits) - 1u);
  double magnitude;
  if (exponent == kMaxExponent && !(past_max_as_finite && mantissa == 0)) {
    magnitude =
        mantissa == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  } else if (exponent == 0) {
    magnitude = std::ldexp(static_cast<double>(mantissa), 1 - kBias - F::kMantissaBits);
  } else {
    magnitude = std::ldexp(static_cast<double>(mantissa + (1u << F::kMantissaBits)),
                           static_cast<int>(exponent) - kBias - F::kMantissaBits);
  }
  return negative ? -magnitude : magnitude;
}

template <typename F>
bool IsNanBits(uint16_t bits) {
  constexpr uint32_t kMaxExponent = (1u << F::kExponentBits) - 1;
  return ((bits >> F::kMantissaBits) & kMaxExponent) == kMaxExponent &&
         (bits & ((1u << F::kMantissaBits) - 1u)) != 0;
}

template <typename F>
void CheckAllPatterns() {
  int nans = 0;
  for (uint32_t i = 0; i <= 0xffff; ++i) {
    const uint16_t bits = static_cast<uint16_t>(i);
    const float decoded = F::Decode(bits);
    const double reference = ReferenceValue<F>(bits);
    const bool negative = (bits & 0x8000u) != 0;
    ASSERT_EQ(std::signbit(decoded), negative) << std::hex << i;
    if (std::isnan(reference)) {
      ++nans;
      ASSERT_TRUE(std::isnan(decoded)) << std::hex << i;
      const uint16_t encoded = F::Encode(decoded);
      ASSERT_TRUE(IsNanBits<F>(encoded)) << std::hex << i << " -> " << encoded;
      ASSERT_EQ((encoded & 0x8000u) != 0, negative) << std::hex << i;
      continue;
    }
    ASSERT_EQ(static_cast<double>(decoded), reference) << std::hex << i;
    ASSERT_EQ(F::Encode(decoded), bits) << std::hex << i;
  }
  // 2 signs x (2^mantissa_bits - 1) NaN mantissas.
  EXPECT_EQ(nans, 2 * ((1 << F::kMantissaBits) - 1));
}

TEST(HalfTest, Fp16AllBitPatternsDecodeExactlyAndRoundTrip) { CheckAllPatterns<HalfFormat>(); }

TEST(HalfTest, Bf16AllBitPatternsDecodeExactlyAndRoundTrip) { CheckAllPatterns<Bf16Format>(); }

// For each pair of adjacent non-negative finite values lo = bits k, hi = bits k + 1 (the largest finite
// value paired with the next power of two, which encodes as infinity), and both signs: the midpoint goes
// to the one with the even mantissa, the floats just above and below it to hi and lo.
template <typename F>
void CheckMidpoints() {
  constexpr uint32_t kInfinity = ((1u << F::kExponentBits) - 1) << F::kMantissaBits;
  int checked = 0;
  for (uint32_t k = 0; k < kInfinity; ++k) {
    const double lo = ReferenceValue<F>(k);
    const double hi = ReferenceValue<F>(k + 1, /*past_max_as_finite=*/true);
    const double mid_double = (lo + hi) / 2;
    const float mid = static_cast<float>(mid_double);
    ASSERT_EQ(static_cast<double>(mid), mid_double) << "midpoint not a float at " << k;
    const uint32_t even = (k & 1u) ? k + 1 : k;
    for (const uint32_t sign : {0u, 0x8000u}) {
      const float s = sign ? -1.0f : 1.0f;
      ASSERT_EQ(F::Encode(s * mid), sign | even) << std::hex << k;
      ASSERT_EQ(F::Encode(s * std::nextafter(mid, FLT_MAX)), sign | (k + 1)) << std::hex << k;
      ASSERT_EQ(F::Encode(s * std::nextafter(mid, 0.0f)), sign | k) << std::hex << k;
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(kInfinity));
}

TEST(HalfTest, Fp16MidpointsRoundToEven) { CheckMidpoints<HalfFormat>(); }

TEST(HalfTest, Bf16MidpointsRoundToEven) { CheckMidpoints<Bf16Format>(); }

TEST(HalfTest, Fp16Overflow) {
  // 65504 is the largest finite half; 65520 is the midpoint to 2^16 and rounds (to even) to infinity.
  EXPECT_EQ(FloatToHalfBits(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalfBits(65505.0f), 0x7bff);
  EXPECT_EQ(FloatToHalfBits(65519.0f), 0x7bff);
  EXPECT_EQ(FloatToHalfBits(std::nextafter(65520.0f, 0.0f)), 0x7bff);
  EXPECT_EQ(FloatToHalfBits(65520.0f), 0x7c00);
  EXPECT_EQ(FloatToHalfBits(-65520.0f), 0xfc00);
  EXPECT_EQ(FloatToHalfBits(65536.0f), 0x7c00);
  EXPECT_EQ(FloatToHalfBits(1e10f), 0x7c00);
  EXPECT_EQ(FloatToHalfBits(FLT_MAX), 0x7c00);
  EXPECT_EQ(FloatToHalfBits(-FLT_MAX), 0xfc00);
  EXPECT_EQ(FloatToHalfBits(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(FloatToHalfBits(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(RoundToHalf(65519.0f), 65504.0f);
  EXPECT_TRUE(std::isinf(RoundToHalf(70000.0f)));
}

TEST(HalfTest, Bf16Overflow) {
  // The largest finite bf16 is 0x7f7f = (2 - 2^-7) * 2^127; floats at or past the midpoint to 2^128
  // (0x7f7f8000) round to infinity, FLT_MAX included.
  const float max_bf16 = Bf16BitsToFloat(0x7f7f);
  EXPECT_EQ(max_bf16, std::ldexp(2.0f - std::ldexp(1.0f, -7), 127));
  EXPECT_EQ(FloatToBf16Bits(max_bf16), 0x7f7f);
  EXPECT_EQ(FloatToBf16Bits(FloatFromBits(0x7f7f7fffu)), 0x7f7f);
  EXPECT_EQ(FloatToBf16Bits(FloatFromBits(0x7f7f8000u)), 0x7f80);
  EXPECT_EQ(FloatToBf16Bits(FLT_MAX), 0x7f80);
  EXPECT_EQ(FloatToBf16Bits(-FLT_MAX), 0xff80);
  EXPECT_EQ(FloatToBf16Bits(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(FloatToBf16Bits(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_TRUE(std::isinf(RoundToBf16(FLT_MAX)));
}

TEST(HalfTest, Fp16SmallestSubnormals) {
  const float tiny = std::ldexp(1.0f, -24);  // the smallest half subnormal
  EXPECT_EQ(FloatToHalfBits(tiny), 0x0001);
  EXPECT_EQ(FloatToHalfBits(-tiny), 0x8001);
  EXPECT_EQ(HalfBitsToFloat(0x0001), tiny);
  EXPECT_EQ(HalfBitsToFloat(0x03ff), std::ldexp(1023.0f, -24));  // the largest subnormal
  EXPECT_EQ(FloatToHalfBits(tiny / 2), 0x0000);                  // tie: to even (zero)
  EXPECT_EQ(FloatToHalfBits(-tiny / 2), 0x8000);
  EXPECT_EQ(FloatToHalfBits(std::nextafter(tiny / 2, 1.0f)), 0x0001);
  EXPECT_EQ(FloatToHalfBits(tiny * 0.75f), 0x0001);
  EXPECT_EQ(FloatToHalfBits(tiny * 1.5f), 0x0002);  // tie between 1 and 2: to even
  EXPECT_EQ(FloatToHalfBits(tiny * 2.5f), 0x0002);  // tie between 2 and 3: to even
  EXPECT_EQ(FloatToHalfBits(tiny / 4), 0x0000);
  EXPECT_EQ(FloatToHalfBits(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(FloatToHalfBits(-std::numeric_limits<float>::denorm_min()), 0x8000);
  EXPECT_EQ(FloatToHalfBits(FLT_MIN), 0x0000);
  // Rounding up from the largest subnormal reaches the smallest normal, 2^-14.
  EXPECT_EQ(FloatToHalfBits(std::ldexp(1023.5f, -24)), 0x0400);
  EXPECT_EQ(FloatToHalfBits(std::ldexp(1.0f, -14)), 0x0400);
  EXPECT_EQ(FloatToHalfBits(0.0f), 0x0000);
  EXPECT_EQ(FloatToHalfBits(-0.0f), 0x8000);
}

TEST(HalfTest, Bf16SmallestSubnormals) {
  const float tiny = std::ldexp(1.0f, -133);  // the smallest bf16 subnormal (a float subnormal too)
  EXPECT_EQ(FloatToBf16Bits(tiny), 0x0001);
  EXPECT_EQ(Bf16BitsToFloat(0x0001), tiny);
  EXPECT_EQ(FloatToBf16Bits(tiny / 2), 0x0000);  // tie: to even
  EXPECT_EQ(FloatToBf16Bits(-tiny / 2), 0x8000);
  EXPECT_EQ(FloatToBf16Bits(tiny * 1.5f), 0x0002);
  EXPECT_EQ(FloatToBf16Bits(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(FloatToBf16Bits(FLT_MIN), 0x0080);
  EXPECT_EQ(FloatToBf16Bits(-0.0f), 0x8000);
}

TEST(HalfTest, NaNsStayQuietNaNsWithTheirSign) {
  const float quiet = std::numeric_limits<float>::quiet_NaN();
  const float signaling = std::numeric_limits<float>::signaling_NaN();
  for (const float nan :
       {quiet, -quiet, signaling, -signaling, FloatFromBits(0x7f800001u), FloatFromBits(0xff800001u)}) {
    const bool negative = std::signbit(nan);
    const uint16_t half = FloatToHalfBits(nan);
    EXPECT_EQ(half & 0x7e00u, 0x7e00u) << std::hex << FloatBits(nan);  // all-ones exponent, quiet bit
    EXPECT_EQ((half & 0x8000u) != 0, negative);
    EXPECT_TRUE(std::isnan(RoundToHalf(nan)));
    const uint16_t bf16 = FloatToBf16Bits(nan);
    EXPECT_EQ(bf16 & 0x7fc0u, 0x7fc0u) << std::hex << FloatBits(nan);
    EXPECT_EQ((bf16 & 0x8000u) != 0, negative);
    EXPECT_TRUE(std::isnan(RoundToBf16(nan)));
  }
}

TEST(HalfTest, RoundTripHelpers) {
  EXPECT_EQ(RoundToHalf(1.0f), 1.0f);
  EXPECT_EQ(RoundToHalf(1.0f + std::ldexp(1.0f, -11)), 1.0f);  // tie: to even
  EXPECT_EQ(RoundToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 1.0f + std::ldexp(1.0f, -9));
  EXPECT_EQ(RoundToHalf(0.1f), 0.0999755859375f);
  EXPECT_EQ(RoundToBf16(1.0f + std::ldexp(1.0f, -8)), 1.0f);  // tie: to even
  EXPECT_EQ(RoundToBf16(0.1f), 0.10009765625f);
  EXPECT_EQ(RoundToBf16(-3.0f), -3.0f);
}

TEST(HalfTest, Fp16AgreesWithCompilerFloat16) {
#if defined(__FLT16_MAX__)
  std::mt19937_64 rng(20240611);
  constexpr int kSamples = 4'000'000;
  int nans = 0;
  for (int i = 0; i < kSamples; ++i) {
    const uint64_t r = rng();
    uint32_t bits = static_cast<uint32_t>(r);
    // Every other sample: an exponent near the half range (2^-30 .. 2^17), where the rounding happens.
    if (i & 1) bits = (bits & 0x807fffffu) | (static_cast<uint32_t>(97 + (r >> 32) % 48) << 23);
    const float f = FloatFromBits(bits);
    const _Float16 h = static_cast<_Float16>(f);
    uint16_t expected;
    memcpy(&expected, &h, sizeof(expected));
    const uint16_t actual = FloatToHalfBits(f);
    if (std::isnan(f)) {
      ++nans;
      ASSERT_TRUE(IsNanBits<HalfFormat>(actual)) << std::hex << bits;
      ASSERT_EQ(actual & 0x8000u, expected & 0x8000u) << std::hex << bits;
      continue;
    }
    ASSERT_EQ(actual, expected) << std::hex << bits;
  }
  EXPECT_GT(nans, 0);  // random bit patterns include some NaNs
#else
  GTEST_SKIP() << "this compiler has no _Float16";
#endif
}

}  // namespace
}  // namespace hpo::kernels
