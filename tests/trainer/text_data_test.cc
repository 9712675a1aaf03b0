// Tests trainer/text_data.cc: a text file's bytes split for the language model (SplitText in memory,
// LoadTextDataset from files the tests write), exact at the byte boundaries, and every refusal.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/trainer/test_util.h"
#include "trainer/dataset.h"

namespace hpo::trainer {
namespace {

using testing::TempDir;

// The bytes 0, 1, ..., n - 1 (mod 256).
std::string Counting(size_t n) {
  std::string bytes(n, '\0');
  for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>(i % 256);
  return bytes;
}

std::vector<uint8_t> Range(size_t begin, size_t end) {
  std::vector<uint8_t> out;
  for (size_t i = begin; i < end; ++i) out.push_back(static_cast<uint8_t>(i % 256));
  return out;
}

TextDataOptions Fractions(double validation, double test) {
  TextDataOptions options;
  options.path = "corpus.txt";
  options.validation_fraction = validation;
  options.test_fraction = test;
  return options;
}

TEST(TextDataTest, SplitsAtExactByteBoundaries) {
  // The defaults: the last tenth is validation, the tenth before it test.
  auto data = SplitText(Counting(1000), TextDataOptions{});
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_TRUE(data->is_text());
  EXPECT_EQ(data->classes, 256);
  EXPECT_EQ(data->text.train, Range(0, 800));
  EXPECT_EQ(data->text.test, Range(800, 900));
  EXPECT_EQ(data->text.validation, Range(900, 1000));
  EXPECT_EQ(data->train.count, 0);  // no labelled examples
  EXPECT_TRUE(data->train.images.empty() && data->validation.labels.empty() && data->test.labels.empty());
  EXPECT_EQ(data->height, 0);

  // Shares round down: 7 bytes x 0.3 = 2.1 -> 2 validation and 2 test bytes, 3 to train on.
  data = SplitText("abcdefg", Fractions(0.3, 0.3));
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(std::string(data->text.train.begin(), data->text.train.end()), "abc");
  EXPECT_EQ(std::string(data->text.test.begin(), data->text.test.end()), "de");
  EXPECT_EQ(std::string(data->text.validation.begin(), data->text.validation.end()), "fg");
  // The smallest text: 2 bytes each.
  data = SplitText("abcdef", Fractions(0.34, 0.34));
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->text.train.size(), 2u);
  EXPECT_EQ(data->text.test.size(), 2u);
  EXPECT_EQ(data->text.validation.size(), 2u);
}

TEST(TextDataTest, AnyBytesAreText) {
  std::string bytes = Counting(512);
  bytes[3] = '\0';
  bytes[500] = '\xff';
  auto data = SplitText(bytes, Fractions(0.25, 0.25));
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  std::string joined(data->text.train.begin(), data->text.train.end());
  joined.append(data->text.test.begin(), data->text.test.end());
  joined.append(data->text.validation.begin(), data->text.validation.end());
  EXPECT_EQ(joined, bytes);
  EXPECT_EQ(data->text.validation[500 - 384], 0xff);
}

TEST(TextDataTest, TrainLimitTakesTheFirstBytes) {
  TextDataOptions options;
  options.train_limit = 5;
  auto data = SplitText(Counting(100), options);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->text.train, Range(0, 5));
  EXPECT_EQ(data->text.test, Range(80, 90));  // the held-out splits do not move
  EXPECT_EQ(data->text.validation, Range(90, 100));
  options.train_limit = 80;
  EXPECT_EQ(SplitText(Counting(100), options)->text.train.size(), 80u);
  for (const int64_t bad : {int64_t{81}, int64_t{1}, int64_t{-1}}) {
    options.train_limit = bad;
    const Status s = SplitText(Counting(100), options).status();
    EXPECT_EQ(s.code(), StatusCode::kOutOfRange) << bad;
    EXPECT_EQ(s.message(),
              "train_limit: " + std::to_string(bad) + " is out of range [0, 80] (0: all; else at least 2)");
    EXPECT_TRUE(IsDataOptionError(s));
  }
}

TEST(TextDataTest, RefusesWhatCannotBeSplit) {
  Status s = SplitText("", Fractions(0.1, 0.1)).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "corpus.txt: the file is empty; a language model needs text");
  // 19 bytes x 0.1 = 1.9 -> 1 validation byte: too few.
  s = SplitText(Counting(19), Fractions(0.1, 0.1)).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "corpus.txt: 19 bytes are too few to split into training, validation and test bytes: each split "
            "needs at "
            "least 2 bytes, these fractions give 17 training, 1 validation and 1 test");
  EXPECT_FALSE(IsDataOptionError(s));
  EXPECT_TRUE(SplitText(Counting(20), Fractions(0.1, 0.1)).ok());
  // A training share too small: 0.45 + 0.45 of 20 bytes leaves 2, of 5 bytes 1.
  EXPECT_EQ(SplitText(Counting(20), Fractions(0.45, 0.45))->text.train.size(), 2u);
  EXPECT_EQ(SplitText(Counting(5), Fractions(0.45, 0.45)).status().code(), StatusCode::kInvalidArgument);
  for (const auto& [vf, tf] :
       std::vector<std::pair<double, double>>{{0, 0.1}, {0.1, 0}, {1, 0.1}, {0.5, 0.5}, {-0.1, 0.1}}) {
    s = SplitText(Counting(100), Fractions(vf, tf)).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << vf << " " << tf;
    EXPECT_NE(s.message().find("text data: validation_fraction"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("must each be in (0, 1) and together below 1"), std::string::npos);
    EXPECT_TRUE(IsDataOptionError(s));
  }
}

TEST(TextDataTest, LoadsAFileAndRefusesBadOnesNamingThem) {
  TempDir dir;
  TextDataOptions options;
  options.path = dir.File("corpus.txt");
  const std::string bytes = Counting(300);
  ASSERT_TRUE(testing::WriteFile(options.path, std::vector<uint8_t>(bytes.begin(), bytes.end())));
  auto data = LoadTextDataset(options);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->text.train, Range(0, 240));
  EXPECT_EQ(data->text.test, Range(240, 270));
  EXPECT_EQ(data->text.validation, Range(270, 300));

  options.path = dir.File("missing.txt");
  Status s = LoadTextDataset(options).status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), options.path + ": no such file");
  options.path = dir.path();
  s = LoadTextDataset(options).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), dir.path() + ": not a regular file (a directory); the text must be a file");
  options.path = dir.File("empty.txt");
  ASSERT_TRUE(testing::WriteFile(options.path, {}));
  s = LoadTextDataset(options).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), options.path + ": the file is empty; a language model needs text");
  options.path = dir.File("short.txt");
  ASSERT_TRUE(testing::WriteFile(options.path, {'a', 'b', 'c'}));
  s = LoadTextDataset(options).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(options.path + ": 3 bytes are too few"), std::string::npos) << s.message();
  // Above the limit (a sparse file: nothing is written or read).
  options.path = dir.File("disk.img");
  ASSERT_TRUE(testing::WriteFile(options.path, {}));
  ASSERT_EQ(::truncate(options.path.c_str(), kTextMaxBytes + 1), 0);
  s = LoadTextDataset(options).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            options.path + ": 1073741825 bytes, above the limit of 1073741824 bytes (1 GiB) for a text file");
  // Bad options are refused before the file is looked at.
  options.path = dir.File("missing.txt");
  options.validation_fraction = 0.95;
  EXPECT_EQ(LoadTextDataset(options).status().message(),
            "text data: validation_fraction 0.95 and test_fraction 0.1 must each be in (0, 1) and together "
            "below 1");
  options.path.clear();
  EXPECT_EQ(LoadTextDataset(options).status().message(), "text data: path is required");
}

}  // namespace
}  // namespace hpo::trainer
