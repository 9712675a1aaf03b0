// Tests users' own IDX files (trainer/dataset.h: LoadIdxDatasets) and the choice between .npy and IDX by
// a file's first bytes (DetectArrayFormat, LoadArrayDatasets), on small files the tests write, raw and
// gzipped.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/trainer/test_util.h"
#include "trainer/dataset.h"

namespace hpo::trainer {
namespace {

using testing::IdxBytes;
using testing::TempDir;

class IdxDataTest : public ::testing::Test {
 protected:
  // Writes an IDX file of unsigned bytes, gzipped or raw; returns its path.
  std::string Write(const std::string& name, const std::vector<uint32_t>& dims,
                    const std::vector<uint8_t>& payload, bool gz) {
    const std::string path = dir_.File(name);
    const std::vector<uint8_t> bytes = IdxBytes(dims, payload);
    EXPECT_TRUE(gz ? testing::WriteGzFile(path, bytes) : testing::WriteFile(path, bytes));
    return path;
  }

  // 21 one-channel images of 2 x 3 whose pixel p of example e is 6 e + p, labelled e % 3.
  IdxDataOptions ThreeClasses(bool gz) {
    std::vector<uint8_t> pixels(21 * 6), labels(21);
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i);
    for (size_t e = 0; e < labels.size(); ++e) labels[e] = static_cast<uint8_t>(e % 3);
    IdxDataOptions options;
    const std::string suffix = gz ? ".gz" : "";
    options.train_images = Write("x3" + suffix, {21, 2, 3}, pixels, gz);
    options.train_labels = Write("y3" + suffix, {21}, labels, gz);
    return options;
  }

  // 28 feature vectors of 5 bytes, byte d of example e being 9 e + d, labelled e % 7; a quarter of the
  // file for validation, a quarter for testing.
  IdxDataOptions SevenClasses(bool gz) {
    std::vector<uint8_t> features(28 * 5), labels(28);
    for (size_t e = 0; e < 28; ++e) {
      for (size_t d = 0; d < 5; ++d) features[e * 5 + d] = static_cast<uint8_t>(9 * e + d);
      labels[e] = static_cast<uint8_t>(e % 7);
    }
    IdxDataOptions options;
    const std::string suffix = gz ? ".gz" : "";
    options.train_images = Write("x7" + suffix, {28, 5}, features, gz);
    options.train_labels = Write("y7" + suffix, {28}, labels, gz);
    options.validation_fraction = 0.25;
    options.test_fraction = 0.25;
    return options;
  }

  Status Error(const IdxDataOptions& options) { return LoadIdxDatasets(options).status(); }

  TempDir dir_;
};

TEST_F(IdxDataTest, ThreeClassImagesSplitExactlyGzippedOrRaw) {
  for (const bool gz : {true, false}) {
    SCOPED_TRACE(gz ? "gzipped" : "raw");
    auto data = LoadIdxDatasets(ThreeClasses(gz));
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    EXPECT_EQ(data->classes, 3);
    EXPECT_FALSE(data->is_text());
    EXPECT_EQ((std::vector<int64_t>{data->height, data->width, data->channels}),
              (std::vector<int64_t>{2, 3, 1}));
    // 21 / 6 = 3 validation examples (the last), 21 / 7 = 3 test examples before them, 15 to train on.
    EXPECT_EQ(data->train.count, 15);
    EXPECT_EQ(data->test.count, 3);
    EXPECT_EQ(data->validation.count, 3);
    EXPECT_EQ(data->train.dim, 6);
    EXPECT_EQ(data->train.images.size(), 15u * 6);
    EXPECT_EQ(data->test.labels, (std::vector<uint8_t>{0, 1, 2}));        // examples 15, 16, 17
    EXPECT_EQ(data->validation.labels, (std::vector<uint8_t>{0, 1, 2}));  // examples 18, 19, 20
    // Pixels scaled from 0..255 to [0, 1] as Fashion-MNIST's.
    EXPECT_EQ(data->train.Example(0)[0], 0.0f);
    EXPECT_EQ(data->train.Example(2)[5], 17.0f / 255.0f);
    EXPECT_EQ(data->test.Example(0)[1], 91.0f / 255.0f);
    EXPECT_EQ(data->validation.Example(2)[5], 125.0f / 255.0f);
  }
}

TEST_F(IdxDataTest, SevenClassFeatureVectorsHaveNoImageShape) {
  for (const bool gz : {false, true}) {
    SCOPED_TRACE(gz ? "gzipped" : "raw");
    auto data = LoadIdxDatasets(SevenClasses(gz));
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    EXPECT_EQ(data->classes, 7);
    EXPECT_EQ((std::vector<int64_t>{data->height, data->width, data->channels}),
              (std::vector<int64_t>{0, 0, 0}));
    EXPECT_EQ(data->train.dim, 5);
    EXPECT_EQ(data->train.count, 14);
    EXPECT_EQ(data->test.count, 7);
    EXPECT_EQ(data->validation.count, 7);
    EXPECT_EQ(data->test.labels, (std::vector<uint8_t>{0, 1, 2, 3, 4, 5, 6}));  // examples 14..20
    EXPECT_EQ(data->validation.Example(6)[4], 247.0f / 255.0f);                 // example 27, byte 4
    IdxDataOptions limited = SevenClasses(gz);
    limited.train_limit = 4;
    auto few = LoadIdxDatasets(limited);
    ASSERT_TRUE(few.ok()) << few.status().ToString();
    EXPECT_EQ(few->train.count, 4);
    EXPECT_EQ(few->train.labels, (std::vector<uint8_t>{0, 1, 2, 3}));
    EXPECT_EQ(few->validation.count, 7);  // unchanged by the limit
    limited.train_limit = 15;
    const Status beyond = Error(limited);
    EXPECT_EQ(beyond.code(), StatusCode::kOutOfRange);
    EXPECT_EQ(beyond.message(), "train_limit: 15 is out of range [0, 14] (0: all)");
  }
}

TEST_F(IdxDataTest, ColourImagesAndTestFiles) {
  // 12 images of 1 x 2 x 3 (N, H, W, C), labels 0..3; 2 test images with a label 5: 6 classes.
  std::vector<uint8_t> pixels(12 * 6), labels(12);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i);
  for (size_t e = 0; e < 12; ++e) labels[e] = static_cast<uint8_t>(e % 4);
  IdxDataOptions options;
  options.train_images = Write("x", {12, 1, 2, 3}, pixels, false);
  options.train_labels = Write("y.gz", {12}, labels, true);
  options.test_images = Write("tx.gz", {2, 1, 2, 3}, std::vector<uint8_t>(12, 255), true);
  options.test_labels = Write("ty", {2}, {5, 0}, false);
  auto data = LoadIdxDatasets(options);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ((std::vector<int64_t>{data->height, data->width, data->channels}),
            (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(data->classes, 6);
  EXPECT_EQ(data->validation.count, 2);  // 12 / 6
  EXPECT_EQ(data->train.count, 10);      // no test share held out of the training file
  EXPECT_EQ(data->test.count, 2);
  EXPECT_EQ(data->test.Example(1)[5], 1.0f);
  EXPECT_EQ(data->train.Example(1)[2], 8.0f / 255.0f);  // channels last, as the file holds them
  // Test images of another size.
  options.test_images = Write("tx.gz", {2, 2, 3}, std::vector<uint8_t>(12, 255), true);
  EXPECT_EQ(Error(options).message(),
            options.test_images +
                ": test examples of 2 x 3 x 1 images do not match the training examples of 1 x 2 x 3 images");
  options.test_images = Write("tx.gz", {2, 7}, std::vector<uint8_t>(14, 255), true);
  EXPECT_EQ(Error(options).message(),
            options.test_images +
                ": test examples of 7 features do not match the training examples of 1 x 2 x 3 images");
  options.test_labels.clear();
  EXPECT_EQ(Error(options).message(), "idx data: give test_images and test_labels together, or neither");
}

TEST_F(IdxDataTest, DamagedFilesAreRefusedNamingThem) {
  for (const bool gz : {false, true}) {
    SCOPED_TRACE(gz ? "gzipped" : "raw");
    IdxDataOptions options = ThreeClasses(gz);
    const std::string images = options.train_images;
    // Truncated: the header promises 21 x 2 x 3 bytes.
    options.train_images = Write("short", {21, 2, 3}, std::vector<uint8_t>(100, 1), gz);
    Status s = Error(options);
    EXPECT_EQ(s.code(), StatusCode::kDataLoss);
    EXPECT_EQ(s.message(), options.train_images +
                               ": truncated: the header promises 126 bytes of data, the file holds 100");
    // Trailing bytes.
    options.train_images = Write("long", {21, 2, 3}, std::vector<uint8_t>(127, 1), gz);
    s = Error(options);
    EXPECT_EQ(s.code(), StatusCode::kDataLoss);
    EXPECT_NE(s.message().find(options.train_images + ": trailing bytes"), std::string::npos) << s.message();
    // A magic of another element type (0x0d: float) or of too many dimensions.
    std::vector<uint8_t> floats = IdxBytes({21, 6}, std::vector<uint8_t>(126, 0));
    floats[2] = 0x0d;
    options.train_images = dir_.File("floats");
    ASSERT_TRUE(gz ? testing::WriteGzFile(options.train_images, floats)
                   : testing::WriteFile(options.train_images, floats));
    s = Error(options);
    EXPECT_EQ(s.code(), StatusCode::kDataLoss);
    EXPECT_EQ(s.message(),
              options.train_images +
                  ": not an IDX data file: magic 0x00000d02, expected 0x00000801 to 0x00000804 (only "
                  "unsigned bytes, type 0x08, are read)");
    options.train_images = Write("5d", {21, 1, 1, 2, 3}, std::vector<uint8_t>(126, 0), gz);
    EXPECT_NE(Error(options).message().find("magic 0x00000805"), std::string::npos);
    // Images of one dimension; labels of two.
    options.train_images = Write("flat", {21}, std::vector<uint8_t>(21, 0), gz);
    EXPECT_EQ(Error(options).message(),
              options.train_images +
                  ": images of shape (21,); expected (N, D), (N, H, W), (N, H, W, C) or "
                  "(N, C, H, W)");
    options.train_images = images;
    const std::string labels = options.train_labels;
    options.train_labels = Write("labels2d", {21, 1}, std::vector<uint8_t>(21, 1), gz);
    EXPECT_EQ(Error(options).message(), options.train_labels + ": labels of shape (21, 1); expected (N,)");
    // Counts that disagree.
    options.train_labels = Write("labels20", {20}, std::vector<uint8_t>(20, 1), gz);
    EXPECT_EQ(Error(options).message(),
              images + " holds 21 examples but " + options.train_labels + " holds 20 labels");
    // Labels of one class only.
    options.train_labels = Write("zeros", {21}, std::vector<uint8_t>(21, 0), gz);
    EXPECT_EQ(Error(options).message(),
              options.train_labels + ": every label is 0; a classifier needs at least 2 classes");
    // An implausible size that the file does not hold: refused before anything is read.
    options.train_labels = Write("huge", {1u << 30}, {}, gz);
    s = Error(options);
    EXPECT_EQ(s.code(), StatusCode::kDataLoss);
    EXPECT_NE(s.message().find("implausible data dimensions 1073741824"), std::string::npos) << s.message();
    // A missing file.
    options.train_labels = dir_.File("missing.gz");
    s = Error(options);
    EXPECT_EQ(s.code(), StatusCode::kNotFound);
    EXPECT_EQ(s.message(), options.train_labels + ": no such file");
    options.train_labels = labels;
    EXPECT_TRUE(LoadIdxDatasets(options).ok());
  }
  // A gzip stream cut short.
  IdxDataOptions options = ThreeClasses(true);
  std::vector<uint8_t> packed = testing::ReadFile(options.train_images);
  packed.resize(packed.size() / 2);
  ASSERT_TRUE(testing::WriteFile(options.train_images, packed));
  EXPECT_EQ(Error(options).code(), StatusCode::kDataLoss);
}

TEST_F(IdxDataTest, BadOptionsAreRefusedAsSuch) {
  IdxDataOptions options = ThreeClasses(false);
  options.test_fraction = 0;
  const Status s = Error(options);
  EXPECT_EQ(
      s.message(),
      "idx data: validation_fraction 0.16666666666666666 and test_fraction 0 must each be in (0, 1) and "
      "together below 1");
  EXPECT_TRUE(IsDataOptionError(s));
  options = ThreeClasses(false);
  options.validation_fraction = 0.04;  // 21 x 0.04 < 1 example
  EXPECT_EQ(Error(options).message(),
            options.train_images +
                ": 21 examples are too few to split into training, validation and test examples");
  EXPECT_FALSE(IsDataOptionError(Error(options)));  // the file is too small, not the options wrong
  options.train_images.clear();
  EXPECT_EQ(Error(options).message(), "idx data: train_images and train_labels are both required");
  EXPECT_TRUE(IsDataOptionError(Error(options)));
}

TEST_F(IdxDataTest, FormatsAreToldApartByTheirFirstBytes) {
  const IdxDataOptions gz = ThreeClasses(true);
  const IdxDataOptions raw = ThreeClasses(false);
  EXPECT_EQ(*DetectArrayFormat(gz.train_images), ArrayFormat::kIdx);
  EXPECT_EQ(*DetectArrayFormat(raw.train_labels), ArrayFormat::kIdx);
  const std::string npy =
      testing::NpyBytes("{'descr': '|u1', 'fortran_order': False, 'shape': (21,), }", std::string(21, '\1'));
  const std::string npy_path = dir_.File("y.npy");
  ASSERT_TRUE(testing::WriteFile(npy_path, std::vector<uint8_t>(npy.begin(), npy.end())));
  EXPECT_EQ(*DetectArrayFormat(npy_path), ArrayFormat::kNpy);

  const std::string text = dir_.File("notes.txt");
  ASSERT_TRUE(testing::WriteFile(text, {'h', 'e', 'l', 'l', 'o', '\n', 'x'}));
  Result<ArrayFormat> neither = DetectArrayFormat(text);
  EXPECT_EQ(neither.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(neither.status().message(), text +
                                            ": neither a NumPy .npy file nor an IDX file, raw or gzipped (it "
                                            "starts with bytes 68 65 6c 6c 6f 0a)");
  const std::string empty = dir_.File("empty");
  ASSERT_TRUE(testing::WriteFile(empty, {}));
  EXPECT_EQ(DetectArrayFormat(empty).status().message(),
            empty + ": neither a NumPy .npy file nor an IDX file, raw or gzipped (it is empty)");
  const std::string gz_npy = dir_.File("y.npy.gz");
  ASSERT_TRUE(testing::WriteGzFile(gz_npy, std::vector<uint8_t>(npy.begin(), npy.end())));
  EXPECT_EQ(DetectArrayFormat(gz_npy).status().message(),
            gz_npy +
                ": gzip-compressed, but not an IDX file inside (it starts with bytes 93 4e 55 4d 50 59); "
                ".npy files "
                "are read uncompressed");
  EXPECT_EQ(DetectArrayFormat(dir_.File("none")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(DetectArrayFormat(dir_.path()).status().message(), dir_.path() + ": cannot read: Is a directory");

  // LoadArrayDatasets: IDX files go to the IDX reader, and formats never mix.
  NpyDataOptions options;
  static_cast<ArrayDataOptions&>(options) = gz;
  auto data = LoadArrayDatasets(options);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->classes, 3);
  EXPECT_EQ(data->train.count, 15);
  options.train_labels = npy_path;
  Status s = LoadArrayDatasets(options).status();
  EXPECT_EQ(s.message(), "data: " + gz.train_images + " is an IDX file but " + npy_path +
                             " is a NumPy .npy file; give every file in one format");
  EXPECT_TRUE(IsDataOptionError(s));
  options.train_labels = text;
  s = LoadArrayDatasets(options).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(text + ": neither"), std::string::npos);
  EXPECT_FALSE(IsDataOptionError(s));
  options.train_labels = gz.train_labels;
  options.layout = ImageLayout::kNCHW;
  s = LoadArrayDatasets(options).status();
  EXPECT_NE(s.message().find("the NCHW layout is for .npy files only"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace hpo::trainer
