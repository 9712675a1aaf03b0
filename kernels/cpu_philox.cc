#include "kernels/cpu_philox.h"

#include "kernels/philox.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define HPO_HAVE_AVX2_PATH 1
#endif

namespace hpo::kernels {
namespace philox_internal {

void DropoutWordsScalar(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t blocks,
                        uint32_t* words) {
  for (int64_t j = 0; j < blocks; ++j) {
    const Philox4x32 block = DropoutBlock(seed, stream, first_block + static_cast<uint64_t>(j));
    for (int w = 0; w < 4; ++w) words[4 * j + w] = block.v[w];
  }
}

#if defined(HPO_HAVE_AVX2_PATH)
bool HaveAvx2() {
  static const bool have = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return have;
}

namespace {

// The 32 x 32 -> 64 bit products of the eight lanes of a with m, as (low words, high words).
__attribute__((target("avx2"))) inline void MulHiLo(__m256i a, __m256i m, __m256i* lo, __m256i* hi) {
  const __m256i even = _mm256_mul_epu32(a, m);                        // lanes 0, 2, 4, 6
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);  // lanes 1, 3, 5, 7
  *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xaa);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xaa);
}

}  // namespace

// Philox4x32Rounds10 of kernels/philox.h on eight counters at once, lane j holding block first_block + j.
__attribute__((target("avx2"))) void DropoutWordsAvx2(uint64_t seed, uint64_t stream, uint64_t first_block,
                                                      int64_t blocks, uint32_t* words) {
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  const __m256i stream_lo = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(stream)));
  const __m256i stream_hi = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(stream >> 32)));
  int64_t j = 0;
  for (; j + 8 <= blocks; j += 8) {
    alignas(32) uint32_t lo_words[8], hi_words[8];
    for (int lane = 0; lane < 8; ++lane) {
      const uint64_t block = first_block + static_cast<uint64_t>(j + lane);
      lo_words[lane] = static_cast<uint32_t>(block);
      hi_words[lane] = static_cast<uint32_t>(block >> 32);
    }
    __m256i c0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo_words));
    __m256i c1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi_words));
    __m256i c2 = stream_lo;
    __m256i c3 = stream_hi;
    uint32_t key0 = static_cast<uint32_t>(seed), key1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      if (round > 0) {
        key0 += 0x9E3779B9u;
        key1 += 0xBB67AE85u;
      }
      __m256i lo0, hi0, lo1, hi1;
      MulHiLo(c0, m0, &lo0, &hi0);
      MulHiLo(c2, m1, &lo1, &hi1);
      const __m256i n0 =
          _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(key0)));
      const __m256i n2 =
          _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(key1)));
      c0 = n0;
      c1 = lo1;
      c2 = n2;
      c3 = lo0;
    }
    // Transpose the four word vectors into block order: words of block j + lane are 4 consecutive values.
    const __m256i t01_lo =
        _mm256_unpacklo_epi32(c0, c1);  // c0[0] c1[0] c0[1] c1[1] | c0[4] c1[4] c0[5] c1[5]
    const __m256i t01_hi =
        _mm256_unpackhi_epi32(c0, c1);  // c0[2] c1[2] c0[3] c1[3] | c0[6] c1[6] c0[7] c1[7]
    const __m256i t23_lo = _mm256_unpacklo_epi32(c2, c3);
    const __m256i t23_hi = _mm256_unpackhi_epi32(c2, c3);
    const __m256i b04 = _mm256_unpacklo_epi64(t01_lo, t23_lo);  // block 0 | block 4
    const __m256i b15 = _mm256_unpackhi_epi64(t01_lo, t23_lo);  // block 1 | block 5
    const __m256i b26 = _mm256_unpacklo_epi64(t01_hi, t23_hi);  // block 2 | block 6
    const __m256i b37 = _mm256_unpackhi_epi64(t01_hi, t23_hi);  // block 3 | block 7
    __m256i* out = reinterpret_cast<__m256i*>(words + 4 * j);
    _mm256_storeu_si256(out + 0, _mm256_permute2x128_si256(b04, b15, 0x20));  // blocks 0, 1
    _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(b26, b37, 0x20));  // blocks 2, 3
    _mm256_storeu_si256(out + 2, _mm256_permute2x128_si256(b04, b15, 0x31));  // blocks 4, 5
    _mm256_storeu_si256(out + 3, _mm256_permute2x128_si256(b26, b37, 0x31));  // blocks 6, 7
  }
  DropoutWordsScalar(seed, stream, first_block + static_cast<uint64_t>(j), blocks - j, words + 4 * j);
}
#else
bool HaveAvx2() { return false; }
void DropoutWordsAvx2(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t blocks, uint32_t* words) {
  DropoutWordsScalar(seed, stream, first_block, blocks, words);
}
#endif

}  // namespace philox_internal

void DropoutWords(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t blocks, uint32_t* words) {
  if (philox_internal::HaveAvx2()) {
    philox_internal::DropoutWordsAvx2(seed, stream, first_block, blocks, words);
  } else {
    philox_internal::DropoutWordsScalar(seed, stream, first_block, blocks, words);
  }
}

}  // namespace hpo::kernels
