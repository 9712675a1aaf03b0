// Tests kernels/philox.h: Philox4x32-10 against the known-answer vectors of the Random123 distribution
// (its tests/kat_vectors, "philox4x32 10" lines: counter words, key words, expected output words), the
// mapping of (seed, stream, block) onto counter and key, the dropout threshold and the keep decision.
#include "kernels/philox.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

namespace hpo::kernels {
namespace {

struct KnownAnswer {
  uint32_t counter[4];
  uint32_t key[2];
  uint32_t expected[4];
};

constexpr KnownAnswer kKnownAnswers[] = {
    {{0x00000000, 0x00000000, 0x00000000, 0x00000000},
     {0x00000000, 0x00000000},
     {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

TEST(PhiloxTest, Random123KnownAnswers) {
  for (const KnownAnswer& kat : kKnownAnswers) {
    const Philox4x32 counter{{kat.counter[0], kat.counter[1], kat.counter[2], kat.counter[3]}};
    const Philox4x32 out = Philox4x32Rounds10(counter, kat.key[0], kat.key[1]);
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(out.v[i], kat.expected[i]) << std::hex << kat.counter[0] << " word " << i;
  }
}

TEST(PhiloxTest, DropoutBlockPacksBlockStreamAndSeedLowWordFirst) {
  // The third vector, spelled as (seed, stream, block).
  const KnownAnswer& kat = kKnownAnswers[2];
  const uint64_t block = (uint64_t{kat.counter[1]} << 32) | kat.counter[0];
  const uint64_t stream = (uint64_t{kat.counter[3]} << 32) | kat.counter[2];
  const uint64_t seed = (uint64_t{kat.key[1]} << 32) | kat.key[0];
  const Philox4x32 out = DropoutBlock(seed, stream, block);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out.v[i], kat.expected[i]) << i;
  // Every input matters.
  const Philox4x32 other_seed = DropoutBlock(seed ^ (uint64_t{1} << 40), stream, block);
  const Philox4x32 other_stream = DropoutBlock(seed, stream + 1, block);
  const Philox4x32 other_block = DropoutBlock(seed, stream, block ^ (uint64_t{1} << 63));
  EXPECT_NE(other_seed.v[0], out.v[0]);
  EXPECT_NE(other_stream.v[0], out.v[0]);
  EXPECT_NE(other_block.v[0], out.v[0]);
}

TEST(PhiloxTest, DropoutThresholdEdges) {
  EXPECT_EQ(DropoutThreshold(0.0), 0u);
  EXPECT_EQ(DropoutThreshold(-0.5), 0u);
  EXPECT_EQ(DropoutThreshold(std::nan("")), 0u);
  EXPECT_EQ(DropoutThreshold(0.5), 1u << 23);
  EXPECT_EQ(DropoutThreshold(0.25), 1u << 22);
  EXPECT_EQ(DropoutThreshold(std::ldexp(1.0, -24)), 1u);        // exactly one step
  EXPECT_EQ(DropoutThreshold(1e-12), 1u);                       // below one step: rounded up
  EXPECT_EQ(DropoutThreshold(1.5 * std::ldexp(1.0, -24)), 2u);  // between steps: rounded up
  EXPECT_EQ(DropoutThreshold(1.0 - std::ldexp(1.0, -24)), (1u << 24) - 1);
  EXPECT_EQ(DropoutThreshold(0.1), 1677722u);  // ceil(0.1 * 2^24) = ceil(1677721.6)
  // P(drop) = threshold / 2^24 is p rounded up to a multiple of 2^-24.
  for (double p : {0.01, 0.1, 0.3, 0.5, 0.9, 0.999}) {
    const double q = DropoutThreshold(p) / 16777216.0;
    EXPECT_GE(q, p);
    EXPECT_LT(q - p, std::ldexp(1.0, -24));
  }
}

TEST(PhiloxTest, KeepWordComparesTheTop24Bits) {
  EXPECT_TRUE(DropoutKeepWord(0x00000000u, 0));  // threshold 0 keeps everything
  EXPECT_TRUE(DropoutKeepWord(0xffffffffu, (1u << 24) - 1));
  EXPECT_FALSE(DropoutKeepWord(0xfffffeffu, (1u << 24) - 1));
  EXPECT_TRUE(DropoutKeepWord(0x00000100u, 1));
  EXPECT_FALSE(DropoutKeepWord(0x000000ffu, 1));  // the low 8 bits do not count
  EXPECT_FALSE(DropoutKeepWord(0x7fffffffu, 1u << 23));
  EXPECT_TRUE(DropoutKeepWord(0x80000000u, 1u << 23));
}

TEST(PhiloxTest, KeepIsWordIndexMod4OfBlockIndexDiv4) {
  const uint64_t seed = 0x0123456789abcdefULL, stream = 42;
  const uint32_t threshold = DropoutThreshold(0.5);
  int kept = 0;
  for (uint64_t index = 0; index < 4000; ++index) {
    const Philox4x32 block = DropoutBlock(seed, stream, index / 4);
    const bool keep = DropoutKeep(seed, stream, index, threshold);
    ASSERT_EQ(keep, (block.v[index % 4] >> 8) >= threshold) << index;
    kept += keep;
  }
  // p = 0.5 over 4000 elements: within 4 sigma (sigma = sqrt(1000)).
  EXPECT_NEAR(kept, 2000, 4 * std::sqrt(1000.0));
  // Indices past 2^32 use the high word of the block counter.
  const uint64_t far = (uint64_t{1} << 34) + 3;
  EXPECT_EQ(DropoutKeep(seed, stream, far, threshold),
            (DropoutBlock(seed, stream, far / 4).v[3] >> 8) >= threshold);
}

}  // namespace
}  // namespace hpo::kernels
