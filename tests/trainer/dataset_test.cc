// Tests trainer/dataset.cc: the Fashion-MNIST split (skipped when the files are not installed) and
// loading from a directory of small IDX files the test writes.
#include "trainer/dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
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

// Users' own arrays as .npy files in a scratch folder.
class NpyDatasetTest : public ::testing::Test {
 protected:
  template <typename T>
  std::string Write(const std::string& name, const std::string& descr, const std::string& shape,
                    const std::vector<T>& values) {
    std::string payload(values.size() * sizeof(T), '\0');
    if (!values.empty()) std::memcpy(payload.data(), values.data(), payload.size());
    const std::string bytes = testing::NpyBytes(
        "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }", payload);
    const std::string path = dir_.File(name);
    EXPECT_TRUE(testing::WriteFile(path, std::vector<uint8_t>(bytes.begin(), bytes.end())));
    return path;
  }

  // 21 images of 2 x 2 x 3 (NHWC) whose pixel p of example e is (e + p) % 256, and labels e % 4.
  NpyDataOptions TwentyOne() {
    std::vector<uint8_t> pixels(21 * 12);
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i / 12 + i % 12);
    std::vector<int64_t> labels(21);
    for (int64_t e = 0; e < 21; ++e) labels[e] = e % 4;
    NpyDataOptions options;
    options.train_images = Write("x.npy", "|u1", "(21, 2, 2, 3)", pixels);
    options.train_labels = Write("y.npy", "<i8", "(21,)", labels);
    return options;
  }

  Status Error(const NpyDataOptions& options) { return LoadNpyDatasets(options).status(); }

  TempDir dir_;
};

TEST_F(NpyDatasetTest, SplitsTheTrainingFileAndScalesBytes) {
  auto data = LoadNpyDatasets(TwentyOne());
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->classes, 4);
  EXPECT_EQ((std::vector<int64_t>{data->height, data->width, data->channels}),
            (std::vector<int64_t>{2, 2, 3}));
  // 21 / 6 = 3 validation examples (the last), 21 / 7 = 3 test examples before them, 15 to train on.
  EXPECT_EQ(data->train.count, 15);
  EXPECT_EQ(data->test.count, 3);
  EXPECT_EQ(data->validation.count, 3);
  EXPECT_EQ(data->train.dim, 12);
  EXPECT_EQ(data->test.labels, (std::vector<uint8_t>{3, 0, 1}));        // examples 15, 16, 17
  EXPECT_EQ(data->validation.labels, (std::vector<uint8_t>{2, 3, 0}));  // examples 18, 19, 20
  EXPECT_EQ(data->train.Example(2)[5], 7.0f / 255);
  EXPECT_EQ(data->validation.Example(0)[0], 18.0f / 255);
  NpyDataOptions limited = TwentyOne();
  limited.train_limit = 5;
  EXPECT_EQ(LoadNpyDatasets(limited)->train.count, 5);
  limited.train_limit = 16;
  EXPECT_EQ(Error(limited).code(), StatusCode::kOutOfRange);
}

TEST_F(NpyDatasetTest, ChannelsFirstImagesComeOutChannelsLast) {
  // 8 images of 2 channels x 1 x 3, float32: value = 100 e + 10 c + p.
  std::vector<float> values;
  for (int e = 0; e < 8; ++e)
    for (int c = 0; c < 2; ++c)
      for (int p = 0; p < 3; ++p) values.push_back(static_cast<float>(100 * e + 10 * c + p));
  NpyDataOptions options;
  options.train_images = Write("x.npy", "<f4", "(8, 2, 1, 3)", values);
  options.train_labels = Write("y.npy", "|u1", "(8,)", std::vector<uint8_t>{0, 1, 0, 1, 0, 1, 0, 1});
  options.layout = ImageLayout::kNCHW;
  options.validation_fraction = 0.25;
  options.test_fraction = 0.25;
  auto data = LoadNpyDatasets(options);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ((std::vector<int64_t>{data->height, data->width, data->channels}),
            (std::vector<int64_t>{1, 3, 2}));
  const float* first = data->train.Example(1);
  EXPECT_EQ(std::vector<float>(first, first + 6), (std::vector<float>{100, 110, 101, 111, 102, 112}));
  // Flat feature vectors: no image shape.
  options.train_images = Write("flat.npy", "<f4", "(8, 6)", values);
  options.layout = ImageLayout::kNHWC;
  auto flat = LoadNpyDatasets(options);
  ASSERT_TRUE(flat.ok()) << flat.status().ToString();
  EXPECT_EQ(flat->height, 0);
  EXPECT_EQ(flat->train.dim, 6);
}

TEST_F(NpyDatasetTest, TestFilesAreTheTestSplit) {
  NpyDataOptions options = TwentyOne();
  options.test_images = Write("tx.npy", "|u1", "(2, 2, 2, 3)", std::vector<uint8_t>(24, 255));
  options.test_labels = Write("ty.npy", "<i4", "(2,)", std::vector<int32_t>{5, 1});
  auto data = LoadNpyDatasets(options);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->test.count, 2);
  EXPECT_EQ(data->test.Example(1)[11], 1.0f);
  EXPECT_EQ(data->classes, 6);  // the largest label anywhere, + 1
  EXPECT_EQ(data->train.count, 18);
  options.test_images = Write("tx.npy", "|u1", "(2, 12)", std::vector<uint8_t>(24, 255));
  const Status shape = Error(options);
  EXPECT_EQ(shape.code(), StatusCode::kInvalidArgument);
  options.test_labels.clear();
  EXPECT_EQ(Error(options).message(), "npy data: give test_images and test_labels together, or neither");
}

TEST_F(NpyDatasetTest, BadFilesAndOptionsAreRefusedNamingWhatIsWrong) {
  NpyDataOptions options = TwentyOne();
  options.train_images = dir_.File("missing.npy");
  EXPECT_EQ(Error(options).code(), StatusCode::kNotFound);

  options = TwentyOne();
  options.train_labels = Write("short.npy", "<i8", "(20,)", std::vector<int64_t>(20, 1));
  EXPECT_EQ(Error(options).message(),
            options.train_images + " holds 21 examples but " + options.train_labels + " holds 20 labels");
  options.train_labels = Write("big.npy", "<i4", "(21,)", std::vector<int32_t>(21, 300));
  EXPECT_EQ(Error(options).message(), options.train_labels + ": label 300 of example 0 is outside [0, 255]");
  options.train_labels = Write("float.npy", "<f4", "(21,)", std::vector<float>(21, 1));
  EXPECT_NE(Error(options).message().find("labels of type <f4"), std::string::npos);
  options.train_labels = Write("zeros.npy", "|u1", "(21,)", std::vector<uint8_t>(21, 0));
  EXPECT_NE(Error(options).message().find("a classifier needs at least 2 classes"), std::string::npos);

  options = TwentyOne();
  std::vector<float> nan(21 * 2, 0.5f);
  nan[7] = std::nanf("");
  options.train_images = Write("nan.npy", "<f4", "(21, 2)", nan);
  EXPECT_EQ(Error(options).message(),
            options.train_images + ": example 3 holds nan; every value must be finite");
  options.train_images = Write("5d.npy", "|u1", "(21, 1, 1, 1, 2)", std::vector<uint8_t>(42, 1));
  EXPECT_NE(Error(options).message().find("images of shape (21, 1, 1, 1, 2); expected"), std::string::npos);
  options.train_images = Write("i8.npy", "<i8", "(21, 1)", std::vector<int64_t>(21, 1));
  EXPECT_NE(Error(options).message().find("images of type <i8"), std::string::npos);

  options = TwentyOne();
  options.validation_fraction = 0.9;
  EXPECT_EQ(
      Error(options).message(),
      "npy data: validation_fraction 0.9 and test_fraction 0.14285714285714285 must each be in (0, 1) and "
      "together below 1");
  options.validation_fraction = 0.01;
  EXPECT_NE(Error(options).message().find("21 examples are too few to split"), std::string::npos);
  options = TwentyOne();
  options.train_labels.clear();
  EXPECT_EQ(Error(options).message(), "npy data: train_images and train_labels are both required");
}

}  // namespace
}  // namespace hpo::trainer
