// Tests kernels/cpu_convert.cc: the vector conversions (F16C for fp16, integer code for bf16) give exactly
// the bits of the scalar functions of kernels/half.h, which the CUDA kernels use: over all 65,536 half
// patterns, a sweep of fp32 patterns (every 1021st, all NaN payload shapes, infinities, subnormals, the
// rounding midpoints) and every conversion pair and length; double -> half rounds once.
#include "kernels/cpu_convert.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "base/rng.h"
#include "kernels/half.h"
#include "tests/kernels/kernels_test_util.h"

namespace hpo::kernels {
namespace {

using convert_internal::HaveF16c;

std::vector<Half> AllHalfPatterns() {
  std::vector<Half> h(65536);
  for (uint32_t i = 0; i < 65536; ++i) h[i].bits = static_cast<uint16_t>(i);
  return h;
}

// fp32 bit patterns: every 1021st one, plus the interesting neighbourhoods in full.
std::vector<float> FloatSweep() {
  std::vector<uint32_t> bits;
  for (uint64_t b = 0; b <= 0xffffffffu; b += 1021) bits.push_back(static_cast<uint32_t>(b));
  for (uint32_t sign : {0u, 0x80000000u}) {
    for (uint32_t m = 0; m < (1u << 16); ++m) {
      bits.push_back(sign | 0x7f800000u | m);         // infinity and NaNs with low payloads (signalling)
      bits.push_back(sign | 0x7f800000u | (m << 7));  // NaNs with high payloads, quiet and signalling
      bits.push_back(sign | 0x7fc00000u | m);         // quiet NaNs
      bits.push_back(sign | m);                       // fp32 subnormals
      bits.push_back(sign | (0x33000000u + m * 64));  // around the fp16 subnormal range
      bits.push_back(sign | (0x477fe000u + m));       // around fp16 overflow (65504 .. 65536)
      bits.push_back(sign | (0x7f7f0000u + m));       // around bf16 overflow
    }
  }
  std::vector<float> floats(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) floats[i] = FloatFromBits(bits[i]);
  return floats;
}

TEST(CpuConvertTest, F16cDecodeMatchesHalfHOnAllPatterns) {
  if (!HaveF16c()) GTEST_SKIP() << "this CPU has no F16C";
  const std::vector<Half> h = AllHalfPatterns();
  std::vector<float> fast(h.size()), scalar(h.size());
  convert_internal::HalfToFloatF16c(h.data(), fast.data(), static_cast<int64_t>(h.size()));
  convert_internal::HalfToFloatScalar(h.data(), scalar.data(), static_cast<int64_t>(h.size()));
  int signalling_nans = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    ASSERT_EQ(FloatBits(fast[i]), FloatBits(scalar[i])) << std::hex << i;
    ASSERT_EQ(FloatBits(scalar[i]), FloatBits(HalfBitsToFloat(h[i].bits))) << std::hex << i;
    // The patterns VCVTPH2PS alone would get wrong: NaNs with the quiet bit clear keep their payload.
    if ((i & 0x7c00u) == 0x7c00u && (i & 0x03ffu) != 0 && (i & 0x0200u) == 0) {
      ++signalling_nans;
      ASSERT_EQ(FloatBits(fast[i]) & 0x00400000u, 0u) << std::hex << i;
    }
  }
  EXPECT_EQ(signalling_nans, 2 * 511);
}

TEST(CpuConvertTest, F16cEncodeMatchesHalfHOnASweepOfFloats) {
  if (!HaveF16c()) GTEST_SKIP() << "this CPU has no F16C";
  const std::vector<float> f = FloatSweep();
  std::vector<Half> fast(f.size()), scalar(f.size());
  convert_internal::FloatToHalfF16c(f.data(), fast.data(), static_cast<int64_t>(f.size()));
  convert_internal::FloatToHalfScalar(f.data(), scalar.data(), static_cast<int64_t>(f.size()));
  int nans = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    ASSERT_EQ(fast[i].bits, scalar[i].bits) << std::hex << FloatBits(f[i]);
    ASSERT_EQ(scalar[i].bits, FloatToHalfBits(f[i])) << std::hex << FloatBits(f[i]);
    nans += std::isnan(f[i]);
  }
  EXPECT_GT(nans, 100000);
}

// Convert<From, To> over every length 0..40 (vector bodies and scalar tails) and a long run equals the
// per-element scalar conversion.
template <typename From, typename To>
void CheckAgainstScalar(const std::vector<From>& src, To (*scalar)(From)) {
  for (size_t n = 0; n <= 40; ++n) {
    std::vector<To> out(n);
    Convert(src.data(), out.data(), static_cast<int64_t>(n));
    for (size_t i = 0; i < n; ++i) {
      const To want = scalar(src[i]);
      ASSERT_EQ(std::memcmp(&out[i], &want, sizeof(To)), 0) << "n " << n << " i " << i;
    }
  }
  std::vector<To> out(src.size());
  Convert(src.data(), out.data(), static_cast<int64_t>(src.size()));
  for (size_t i = 0; i < src.size(); ++i) {
    const To want = scalar(src[i]);
    ASSERT_EQ(std::memcmp(&out[i], &want, sizeof(To)), 0) << i;
  }
}

TEST(CpuConvertTest, EveryPairMatchesTheScalarFunctions) {
  const std::vector<Half> halves = AllHalfPatterns();
  std::vector<BFloat16> bf16(65536);
  for (uint32_t i = 0; i < 65536; ++i) bf16[i].bits = static_cast<uint16_t>(i);
  const std::vector<float> floats = FloatSweep();
  Rng rng(5);
  std::vector<double> doubles(100000);
  for (double& d : doubles) d = rng.Normal() * std::ldexp(1.0, static_cast<int>(rng.UniformInt(80)) - 40);
  doubles[0] = std::numeric_limits<double>::infinity();
  doubles[1] = -std::numeric_limits<double>::quiet_NaN();
  doubles[2] = 1e300;
  doubles[3] = -1e-300;

  CheckAgainstScalar<Half, float>(halves, [](Half h) { return HalfBitsToFloat(h.bits); });
  CheckAgainstScalar<float, Half>(floats, [](float f) { return Half{FloatToHalfBits(f)}; });
  CheckAgainstScalar<BFloat16, float>(bf16, [](BFloat16 b) { return Bf16BitsToFloat(b.bits); });
  CheckAgainstScalar<float, BFloat16>(floats, [](float f) { return BFloat16{FloatToBf16Bits(f)}; });
  CheckAgainstScalar<Half, BFloat16>(
      halves, [](Half h) { return BFloat16{FloatToBf16Bits(HalfBitsToFloat(h.bits))}; });
  CheckAgainstScalar<BFloat16, Half>(
      bf16, [](BFloat16 b) { return Half{FloatToHalfBits(Bf16BitsToFloat(b.bits))}; });
  CheckAgainstScalar<Half, double>(halves,
                                   [](Half h) { return static_cast<double>(HalfBitsToFloat(h.bits)); });
  CheckAgainstScalar<BFloat16, double>(
      bf16, [](BFloat16 b) { return static_cast<double>(Bf16BitsToFloat(b.bits)); });
  CheckAgainstScalar<float, double>(floats, [](float f) { return static_cast<double>(f); });
  CheckAgainstScalar<double, float>(doubles, [](double d) { return static_cast<float>(d); });
  CheckAgainstScalar<double, Half>(doubles, [](double d) { return Half{DoubleToHalfBits(d)}; });
  CheckAgainstScalar<double, BFloat16>(doubles, [](double d) { return BFloat16{DoubleToBf16Bits(d)}; });
  CheckAgainstScalar<float, float>(floats, [](float f) { return f; });
  CheckAgainstScalar<Half, Half>(halves, [](Half h) { return h; });
}

TEST(CpuConvertTest, DoubleToHalfRoundsOnce) {
  // Against the neighbour search of the test helpers (no rounding through float at all).
  Rng rng(7);
  for (int i = 0; i < 200000; ++i) {
    const double d = rng.Normal() * std::ldexp(1.0, static_cast<int>(rng.UniformInt(40)) - 26);
    ASSERT_EQ(DoubleToHalfBits(d), ktest::NearestHalfBits(DType::kF16, d)) << d;
    ASSERT_EQ(DoubleToBf16Bits(d), ktest::NearestHalfBits(DType::kBF16, d)) << d;
  }
  // Just past a midpoint: a detour through float lands on the midpoint and rounds to even, the wrong way.
  const double up = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  EXPECT_EQ(FloatToHalfBits(static_cast<float>(up)), 0x3c00);  // the double rounding
  EXPECT_EQ(DoubleToHalfBits(up), 0x3c01);
  EXPECT_EQ(DoubleToHalfBits(-up), 0xbc01);
  const double bf_up = 1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40);
  EXPECT_EQ(DoubleToBf16Bits(bf_up), 0x3f81);
  // Exact midpoints still go to even; exact values stay; the smallest subnormal's half rounds to zero.
  EXPECT_EQ(DoubleToHalfBits(1.0 + std::ldexp(1.0, -11)), 0x3c00);
  EXPECT_EQ(DoubleToHalfBits(1.0 + 3 * std::ldexp(1.0, -11)), 0x3c02);
  EXPECT_EQ(DoubleToHalfBits(0.5), 0x3800);
  EXPECT_EQ(DoubleToHalfBits(std::ldexp(1.0, -25)), 0x0000);
  EXPECT_EQ(DoubleToHalfBits(std::ldexp(1.0, -25) * (1 + std::ldexp(1.0, -50))), 0x0001);
  EXPECT_EQ(DoubleToHalfBits(1e-300), 0x0000);
  EXPECT_EQ(DoubleToHalfBits(-1e-300), 0x8000);
  EXPECT_EQ(DoubleToHalfBits(65519.99999), 0x7bff);
  EXPECT_EQ(DoubleToHalfBits(65520.0), 0x7c00);
  EXPECT_EQ(DoubleToHalfBits(1e300), 0x7c00);
  EXPECT_EQ(DoubleToBf16Bits(1e300), 0x7f80);
  EXPECT_EQ(DoubleToBf16Bits(std::ldexp(1.0, -140)), 0x0000);  // below half the smallest bf16 subnormal
  EXPECT_EQ(DoubleToBf16Bits(std::ldexp(1.0, -134) * (1 + 1e-10)), 0x0001);
  EXPECT_TRUE(std::isnan(HalfBitsToFloat(DoubleToHalfBits(std::nan("")))));
}

}  // namespace
}  // namespace hpo::kernels
