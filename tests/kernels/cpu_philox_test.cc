// Tests kernels/cpu_philox.cc: the eight-blocks-at-a-time AVX2 Philox gives exactly the words of the scalar
// DropoutBlock of kernels/philox.h, for every run length (vector body and scalar tail), block numbers that
// carry into the high counter word, and random seeds and streams.
#include "kernels/cpu_philox.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "base/rng.h"
#include "kernels/philox.h"

namespace hpo::kernels {
namespace {

void ExpectBlocks(const std::vector<uint32_t>& words, uint64_t seed, uint64_t stream, uint64_t first) {
  for (size_t j = 0; j < words.size() / 4; ++j) {
    const Philox4x32 block = DropoutBlock(seed, stream, first + j);
    for (int w = 0; w < 4; ++w) {
      ASSERT_EQ(words[4 * j + static_cast<size_t>(w)], block.v[w]) << "block " << first + j << " word " << w;
    }
  }
}

TEST(CpuPhiloxTest, WordsAreDropoutBlocks) {
  Rng rng(3);
  const uint64_t firsts[] = {0, 5, (uint64_t{1} << 32) - 3, ~uint64_t{0} - 20};
  for (uint64_t first : firsts) {
    const uint64_t seed = rng.Next(), stream = rng.Next();
    for (int64_t blocks = 0; blocks <= 41; ++blocks) {
      std::vector<uint32_t> words(static_cast<size_t>(4 * blocks));
      DropoutWords(seed, stream, first, blocks, words.data());
      ExpectBlocks(words, seed, stream, first);
      if (philox_internal::HaveAvx2()) {
        std::vector<uint32_t> avx2(words.size());
        philox_internal::DropoutWordsAvx2(seed, stream, first, blocks, avx2.data());
        ASSERT_EQ(avx2, words) << "first " << first << " blocks " << blocks;
      }
    }
  }
}

TEST(CpuPhiloxTest, LongRunsAgreeAcrossPaths) {
  const int64_t blocks = 100003;
  std::vector<uint32_t> scalar(4 * blocks), dispatched(4 * blocks);
  philox_internal::DropoutWordsScalar(0xfeedfacecafebeefULL, 77, 1000, blocks, scalar.data());
  DropoutWords(0xfeedfacecafebeefULL, 77, 1000, blocks, dispatched.data());
  EXPECT_EQ(scalar, dispatched);
  ExpectBlocks(std::vector<uint32_t>(scalar.begin(), scalar.begin() + 400), 0xfeedfacecafebeefULL, 77, 1000);
}

}  // namespace
}  // namespace hpo::kernels
