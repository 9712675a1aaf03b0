// Tests trainer/idx.cc: round trips of small IDX files (plain and gzipped) and clean failures on every
// kind of damage, including every truncation and random byte flips.
#include "trainer/idx.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "base/rng.h"
#include "tests/trainer/test_util.h"

namespace hpo::trainer {

// The largest single operator new on this thread while `probing` is set (see the operator new below): how
// a test sees what a header's claims cost.
struct AllocationProbe {
  static thread_local bool probing;
  static thread_local size_t largest;
};
thread_local bool AllocationProbe::probing = false;
thread_local size_t AllocationProbe::largest = 0;

namespace {

using testing::IdxBytes;
using testing::TempDir;
using testing::WriteFile;
using testing::WriteGzFile;

// 3 images of 2 x 4 pixels.
const std::vector<uint8_t> kPixels = {0,  255, 128, 1,  2,  3,   4,   5,   10,  20,  30,  40,
                                      50, 60,  70,  80, 90, 100, 110, 120, 130, 140, 150, 160};
const std::vector<uint8_t> kLabels = {7, 0, 9};

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }

  std::string Write(const std::string& name, const std::vector<uint8_t>& bytes, bool gz) {
    const std::string path = dir_.File(name);
    EXPECT_TRUE(gz ? WriteGzFile(path, bytes) : WriteFile(path, bytes));
    return path;
  }

  void ExpectDataLoss(const std::string& path, bool images, const std::string& mention = "") {
    const Status s = images ? ReadIdxImages(path).status() : ReadIdxLabels(path).status();
    EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.ToString();
    EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
    if (!mention.empty()) {
      EXPECT_NE(s.message().find(mention), std::string::npos) << s.message();
    }
  }

  TempDir dir_;
};

TEST_F(IdxTest, ImagesAndLabelsRoundTripPlainAndGzipped) {
  for (bool gz : {false, true}) {
    const std::string suffix = gz ? ".gz" : "";
    auto images = ReadIdxImages(Write("images" + suffix, IdxBytes({3, 2, 4}, kPixels), gz));
    ASSERT_TRUE(images.ok()) << images.status().ToString();
    EXPECT_EQ(images->count, 3);
    EXPECT_EQ(images->rows, 2);
    EXPECT_EQ(images->cols, 4);
    ASSERT_EQ(images->pixels.size(), kPixels.size());
    for (size_t i = 0; i < kPixels.size(); ++i)
      EXPECT_EQ(images->pixels[i], static_cast<float>(kPixels[i]) / 255.0f);
    EXPECT_EQ(images->pixels[0], 0.0f);
    EXPECT_EQ(images->pixels[1], 1.0f);
    auto labels = ReadIdxLabels(Write("labels" + suffix, IdxBytes({3}, kLabels), gz));
    ASSERT_TRUE(labels.ok()) << labels.status().ToString();
    EXPECT_EQ(*labels, kLabels);
  }
}

TEST_F(IdxTest, EmptySetsAreValid) {
  auto labels = ReadIdxLabels(Write("empty-labels", IdxBytes({0}, {}), false));
  ASSERT_TRUE(labels.ok()) << labels.status().ToString();
  EXPECT_TRUE(labels->empty());
}

TEST_F(IdxTest, MissingFileIsNotFound) {
  const std::string path = dir_.File("absent.gz");
  const Status s = ReadIdxImages(path).status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find(path), std::string::npos);
  ExpectDataLoss(dir_.path(), true, "directory");
}

TEST_F(IdxTest, BadMagicWrongDimsAndSizesFail) {
  for (bool gz : {false, true}) {
    const std::string s = gz ? ".gz" : "";
    std::vector<uint8_t> bad_magic = IdxBytes({3}, kLabels);
    bad_magic[0] = 0x1f;
    ExpectDataLoss(Write("magic" + s, bad_magic, gz), false, "not an IDX labels file");
    std::vector<uint8_t> bad_type = IdxBytes({3}, kLabels);
    bad_type[2] = 0x0d;  // float data
    ExpectDataLoss(Write("type" + s, bad_type, gz), false, "magic 0x00000d01");
    // An images file read as labels and the other way round: the dimension count differs.
    ExpectDataLoss(Write("images-as-labels" + s, IdxBytes({3, 2, 4}, kPixels), gz), false,
                   "expected 0x00000801");
    ExpectDataLoss(Write("labels-as-images" + s, IdxBytes({3}, kLabels), gz), true, "expected 0x00000803");
    // Zero-sized images, absurd sizes.
    ExpectDataLoss(Write("zero-rows" + s, IdxBytes({3, 0, 4}, {}), gz), true, "implausible");
    ExpectDataLoss(Write("huge" + s, IdxBytes({0xffffffffu, 0xffffffffu, 0xffffffffu}, {}), gz), true,
                   "implausible");
    // Header promises more than the file holds, or less.
    ExpectDataLoss(Write("short" + s, IdxBytes({4, 2, 4}, kPixels), gz), true, "truncated");
    ExpectDataLoss(Write("long" + s, IdxBytes({2, 2, 4}, kPixels), gz), true, "trailing bytes");
    ExpectDataLoss(Write("labels-long" + s, IdxBytes({2}, kLabels), gz), false, "trailing bytes");
    ExpectDataLoss(Write("empty" + s, {}, gz), true, "truncated");
  }
}

TEST_F(IdxTest, CorruptGzipStreamFails) {
  const std::string path = Write("ok.gz", IdxBytes({3, 2, 4}, kPixels), true);
  std::vector<uint8_t> bytes = testing::ReadFile(path);
  ASSERT_GT(bytes.size(), 20u);
  // Keep the gzip header, garble the deflate stream.
  for (size_t i = 10; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(bytes[i] ^ 0xa5);
  const std::string garbled = dir_.File("garbled.gz");
  ASSERT_TRUE(WriteFile(garbled, bytes));
  const Status s = ReadIdxImages(garbled).status();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.ToString();
}

// Every prefix of a valid file (plain and gzipped) fails cleanly; random byte flips never crash.
TEST_F(IdxTest, EveryTruncationAndRandomDamageFailsCleanly) {
  for (bool gz : {false, true}) {
    const std::string full = Write(gz ? "full.gz" : "full", IdxBytes({3, 2, 4}, kPixels), gz);
    const std::vector<uint8_t> bytes = testing::ReadFile(full);
    for (size_t n = 0; n < bytes.size(); ++n) {
      const std::string path = dir_.File("prefix");
      ASSERT_TRUE(WriteFile(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + n)));
      const Status s = ReadIdxImages(path).status();
      EXPECT_FALSE(s.ok()) << "prefix of " << n << " bytes, gz " << gz;
    }
    Rng rng(gz ? 2 : 1);
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<uint8_t> damaged = bytes;
      const int flips = 1 + static_cast<int>(rng.UniformInt(3));
      for (int f = 0; f < flips; ++f)
        damaged[rng.UniformInt(damaged.size())] ^= static_cast<uint8_t>(1 + rng.UniformInt(255));
      const std::string path = dir_.File("damaged");
      ASSERT_TRUE(WriteFile(path, damaged));
      auto images = ReadIdxImages(path);  // must return, OK or not
      if (images.ok()) {
        EXPECT_EQ(static_cast<int64_t>(images->pixels.size()), images->count * images->rows * images->cols);
      }
    }
  }
}

// Found by tests/fuzz (fuzz_idx under -malloc_limit_mb): a 10-byte labels file whose header claims
// 2^28 - 1 labels made the reader reserve 64 MiB before reading a byte. Now memory follows the data.
TEST_F(IdxTest, AHeaderClaimingMuchCostsNoMemory) {
  for (bool gz : {false, true}) {
    const std::string labels = Write(gz ? "claims.gz" : "claims", IdxBytes({(1u << 28) - 1}, {1, 2}), gz);
    const std::string images = Write(gz ? "big.gz" : "big", IdxBytes({1u << 28, 1 << 14, 1 << 14}, {3}), gz);
    AllocationProbe::largest = 0;
    AllocationProbe::probing = true;
    const Status labels_status = ReadIdxLabels(labels).status();
    const Status images_status = ReadIdxImages(images).status();
    AllocationProbe::probing = false;
    EXPECT_EQ(labels_status.code(), StatusCode::kDataLoss) << labels_status.ToString();
    EXPECT_NE(labels_status.message().find("truncated"), std::string::npos) << labels_status.message();
    EXPECT_EQ(images_status.code(), StatusCode::kDataLoss) << images_status.ToString();
    // One read chunk (1 MiB) at most; zlib's own buffers are malloc'd, not counted here.
    EXPECT_LE(AllocationProbe::largest, size_t{1} << 20) << "gz " << gz;
  }
}

}  // namespace
}  // namespace hpo::trainer

// Replaces the global operator new (and its deletes) for this test binary to feed AllocationProbe; the
// allocation itself is plain malloc.
void* operator new(size_t size) {
  if (hpo::trainer::AllocationProbe::probing) {
    hpo::trainer::AllocationProbe::largest = std::max(hpo::trainer::AllocationProbe::largest, size);
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// GCC takes the free() in a replacement delete for a mismatch with new; it is this new's malloc.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
