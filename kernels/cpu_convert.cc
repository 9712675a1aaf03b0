#include "kernels/cpu_convert.h"

#include <cstring>
#include <type_traits>

#include "kernels/cpu_loops.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define HPO_HAVE_F16C_PATH 1
#endif

namespace hpo::kernels {
namespace convert_internal {

#if defined(HPO_HAVE_F16C_PATH)
bool HaveF16c() {
  static const bool have = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx2");
  }();
  return have;
}

// VCVTPH2PS decodes every fp16 value exactly, but quiets a signaling NaN (sets the top mantissa bit), where
// half.h keeps the payload as it is. The NaN lanes are therefore rebuilt from their bits: sign, all-ones
// exponent, the 10 payload bits moved up by 13.
__attribute__((target("f16c,avx2"))) void HalfToFloatF16c(const Half* src, float* dst, int64_t n) {
  const __m256i abs_mask = _mm256_set1_epi32(0x7fff);
  const __m256i infinity = _mm256_set1_epi32(0x7c00);
  const __m256i sign_mask = _mm256_set1_epi32(0x8000);
  const __m256i payload_mask = _mm256_set1_epi32(0x03ff);
  const __m256i float_exponent = _mm256_set1_epi32(0x7f800000);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m256 f = _mm256_cvtph_ps(h);
    const __m256i wide = _mm256_cvtepu16_epi32(h);
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(wide, abs_mask), infinity);
    const __m256i nan_bits = _mm256_or_si256(
        _mm256_or_si256(_mm256_slli_epi32(_mm256_and_si256(wide, sign_mask), 16), float_exponent),
        _mm256_slli_epi32(_mm256_and_si256(wide, payload_mask), 13));
    _mm256_storeu_ps(dst + i, _mm256_blendv_ps(f, _mm256_castsi256_ps(nan_bits), _mm256_castsi256_ps(nan)));
  }
  HalfToFloatScalar(src + i, dst + i, n - i);
}

// VCVTPS2PH with imm 0 rounds to nearest even (subnormals and overflow to infinity included) and encodes a
// NaN as sign | 0x7e00 | top payload bits, which is half.h's encoding, so no fix-up is needed (the tests
// check all of this bit for bit).
__attribute__((target("f16c,avx2"))) void FloatToHalfF16c(const float* src, Half* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
  FloatToHalfScalar(src + i, dst + i, n - i);
}
#else
bool HaveF16c() { return false; }
void HalfToFloatF16c(const Half* src, float* dst, int64_t n) { HalfToFloatScalar(src, dst, n); }
void FloatToHalfF16c(const float* src, Half* dst, int64_t n) { FloatToHalfScalar(src, dst, n); }
#endif

void HalfToFloatScalar(const Half* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = HalfBitsToFloat(src[i].bits);
}

void FloatToHalfScalar(const float* src, Half* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i].bits = FloatToHalfBits(src[i]);
}

}  // namespace convert_internal

namespace {

using convert_internal::HaveF16c;

void HalfToFloat(const Half* src, float* dst, int64_t n) {
  if (HaveF16c()) {
    convert_internal::HalfToFloatF16c(src, dst, n);
  } else {
    convert_internal::HalfToFloatScalar(src, dst, n);
  }
}

void FloatToHalf(const float* src, Half* dst, int64_t n) {
  if (HaveF16c()) {
    convert_internal::FloatToHalfF16c(src, dst, n);
  } else {
    convert_internal::FloatToHalfScalar(src, dst, n);
  }
}

// bf16 is the top half of an fp32: decoding is a shift, encoding half.h's FloatToBf16Bits without the
// branch (a select), which the compiler vectorises.
HPO_CPU_CLONES void Bf16ToFloat(const BFloat16* __restrict src, float* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t bits = static_cast<uint32_t>(src[i].bits) << 16;
    std::memcpy(&dst[i], &bits, sizeof(bits));
  }
}

HPO_CPU_CLONES void FloatToBf16(const float* __restrict src, BFloat16* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &src[i], sizeof(bits));
    dst[i].bits = Bf16BitsFromFloatBits(bits);
  }
}

HPO_CPU_CLONES void FloatToDouble(const float* __restrict src, double* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<double>(src[i]);
}

HPO_CPU_CLONES void DoubleToFloat(const double* __restrict src, float* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
}

void DoublesToFloatsRoundToOdd(const double* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = kernels::DoubleToFloatRoundToOdd(src[i]);
}

// From -> float -> To a tile at a time, for the pairs with no direct path. Exact unless both steps round;
// the only such pair, double -> half, goes through a round-to-odd float, which keeps it a single rounding.
template <typename From, typename To>
void ConvertThroughFloat(const From* src, To* dst, int64_t n) {
  float tile[cpu::kTile];
  for (int64_t i = 0; i < n; i += cpu::kTile) {
    const int64_t count = n - i < cpu::kTile ? n - i : cpu::kTile;
    if constexpr (std::is_same_v<From, double>) {
      DoublesToFloatsRoundToOdd(src + i, tile, count);
    } else {
      Convert(src + i, tile, count);
    }
    Convert(static_cast<const float*>(tile), dst + i, count);
  }
}

}  // namespace

template <typename From, typename To>
void Convert(const From* src, To* dst, int64_t n) {
  if (n <= 0) return;
  if constexpr (std::is_same_v<From, To>) {
    if (src != dst) std::memmove(dst, src, static_cast<size_t>(n) * sizeof(To));
  } else if constexpr (std::is_same_v<From, Half> && std::is_same_v<To, float>) {
    HalfToFloat(src, dst, n);
  } else if constexpr (std::is_same_v<From, float> && std::is_same_v<To, Half>) {
    FloatToHalf(src, dst, n);
  } else if constexpr (std::is_same_v<From, BFloat16> && std::is_same_v<To, float>) {
    Bf16ToFloat(src, dst, n);
  } else if constexpr (std::is_same_v<From, float> && std::is_same_v<To, BFloat16>) {
    FloatToBf16(src, dst, n);
  } else if constexpr (std::is_same_v<From, float> && std::is_same_v<To, double>) {
    FloatToDouble(src, dst, n);
  } else if constexpr (std::is_same_v<From, double> && std::is_same_v<To, float>) {
    DoubleToFloat(src, dst, n);
  } else if constexpr (std::is_same_v<To, double>) {  // half -> double: exact through float
    float tile[cpu::kTile];
    for (int64_t i = 0; i < n; i += cpu::kTile) {
      const int64_t count = n - i < cpu::kTile ? n - i : cpu::kTile;
      Convert(src + i, tile, count);
      FloatToDouble(tile, dst + i, count);
    }
  } else {  // double -> half, half -> the other half
    ConvertThroughFloat(src, dst, n);
  }
}

#define HPO_CONVERT_FROM(From)                                        \
  template void Convert<From, float>(const From*, float*, int64_t);   \
  template void Convert<From, double>(const From*, double*, int64_t); \
  template void Convert<From, Half>(const From*, Half*, int64_t);     \
  template void Convert<From, BFloat16>(const From*, BFloat16*, int64_t);
HPO_CONVERT_FROM(float)
HPO_CONVERT_FROM(double)
HPO_CONVERT_FROM(Half)
HPO_CONVERT_FROM(BFloat16)
#undef HPO_CONVERT_FROM

}  // namespace hpo::kernels
