// Tests trainer/idx.cc: round trips of small IDX files (plain and gzipped) and clean failures on every
// kind of damage, including every truncation and random byte flips.
#include "trainer/idx.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/rng.h"
#include "tests/trainer/test_util.h"

namespace hpo::trainer {
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

}  // namespace
}  // namespace hpo::trainer
