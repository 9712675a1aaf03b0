// Tests trainer/dataset.cc: the Fashion-MNIST split (skipped when the files are not installed) and
// loading from a directory of small IDX files the test writes.
#include "trainer/dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/trainer/test_util.h"
#include "trainer/idx.h"

namespace hpo::trainer {
namespace {

using testing::IdxBytes;
using testing::TempDir;
using testing::WriteGzFile;

TEST(DatasetTest, FashionMnistSplit) {
  const Datasets* data = testing::FashionMnistOrNull();
  if (data == nullptr) GTEST_SKIP() << "Fashion-MNIST is not installed in " << kDefaultFashionMnistDir;
  EXPECT_EQ(data->classes, 10);
  EXPECT_EQ(data->train.count, 50000);
  EXPECT_EQ(data->validation.count, 10000);
  EXPECT_EQ(data->test.count, 10000);
  EXPECT_EQ(data->train.dim, 784);
  for (const Split* split : {&data->train, &data->validation, &data->test}) {
    EXPECT_TRUE(CheckSplit(*split, 784, 10, "split").ok());
    const auto [lo, hi] = std::minmax_element(split->images.begin(), split->images.end());
    EXPECT_EQ(*lo, 0.0f);
    EXPECT_EQ(*hi, 1.0f);
  }
  // Validation = the LAST 10,000 training images: compare with the file itself.
  auto images = ReadIdxImages(std::string(kDefaultFashionMnistDir) + "/train-images-idx3-ubyte.gz");
  auto labels = ReadIdxLabels(std::string(kDefaultFashionMnistDir) + "/train-labels-idx1-ubyte.gz");
  ASSERT_TRUE(images.ok() && labels.ok());
  ASSERT_EQ(images->count, 60000);
  EXPECT_TRUE(std::equal(data->validation.images.begin(), data->validation.images.end(),
                         images->pixels.begin() + 50000 * 784));
  EXPECT_TRUE(
      std::equal(data->validation.labels.begin(), data->validation.labels.end(), labels->begin() + 50000));
  EXPECT_TRUE(std::equal(data->train.images.begin(), data->train.images.end(), images->pixels.begin()));
  // Every class is present in every split (a sanity check on the labels).
  for (const Split* split : {&data->train, &data->validation, &data->test}) {
    std::vector<int> histogram(10, 0);
    for (uint8_t label : split->labels) ++histogram[label];
    for (int count : histogram) EXPECT_GT(count, split->count / 20);
  }
}

// A tiny dataset directory: 12 training images (so 2 training + 10 validation), 3 test images, 2 x 2.
class SmallDatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    std::vector<uint8_t> pixels(12 * 4), labels(12), test_pixels(3 * 4, 255), test_labels = {1, 2, 3};
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i);
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<uint8_t>(i % 10);
    ASSERT_TRUE(WriteGzFile(dir_.File("train-images-idx3-ubyte.gz"), IdxBytes({12, 2, 2}, pixels)));
    ASSERT_TRUE(WriteGzFile(dir_.File("train-labels-idx1-ubyte.gz"), IdxBytes({12}, labels)));
    ASSERT_TRUE(WriteGzFile(dir_.File("t10k-images-idx3-ubyte.gz"), IdxBytes({3, 2, 2}, test_pixels)));
    ASSERT_TRUE(WriteGzFile(dir_.File("t10k-labels-idx1-ubyte.gz"), IdxBytes({3}, test_labels)));
  }
  TempDir dir_;
};

TEST_F(SmallDatasetTest, SplitsAndLimit) {
  auto data = LoadFashionMnist(DatasetOptions{dir_.path(), 0, 10});
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->train.count, 2);
  EXPECT_EQ(data->validation.count, 10);
  EXPECT_EQ(data->test.count, 3);
  EXPECT_EQ(data->train.dim, 4);
  EXPECT_EQ(data->validation.Example(0)[0], 8.0f / 255.0f);  // training image 2, pixel 0
  EXPECT_EQ(data->validation.labels[0], 2);
  auto limited = LoadFashionMnist(DatasetOptions{dir_.path(), 1, 10});
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->train.count, 1);
  EXPECT_EQ(limited->train.images.size(), 4u);
  const Status too_many = LoadFashionMnist(DatasetOptions{dir_.path(), 3, 10}).status();
  EXPECT_EQ(too_many.code(), StatusCode::kOutOfRange);
  EXPECT_NE(too_many.message().find("train_limit"), std::string::npos);
  // The default 10,000 validation images do not fit in 12.
  EXPECT_EQ(LoadFashionMnist(DatasetOptions{dir_.path(), 0}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SmallDatasetTest, MissingAndMismatchedFiles) {
  const Status missing = LoadFashionMnist(DatasetOptions{dir_.File("nowhere"), 0, 10}).status();
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("train-images-idx3-ubyte.gz"), std::string::npos);
  ASSERT_TRUE(WriteGzFile(dir_.File("t10k-labels-idx1-ubyte.gz"), IdxBytes({2}, {1, 2})));
  EXPECT_EQ(LoadFashionMnist(DatasetOptions{dir_.path(), 0, 10}).status().code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(WriteGzFile(dir_.File("t10k-labels-idx1-ubyte.gz"), IdxBytes({3}, {1, 2, 10})));
  const Status bad_label = LoadFashionMnist(DatasetOptions{dir_.path(), 0, 10}).status();
  EXPECT_EQ(bad_label.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_label.message().find("label 10"), std::string::npos) << bad_label.message();
}

}  // namespace
}  // namespace hpo::trainer
