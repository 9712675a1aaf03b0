// Datasets for the builtin trainer, preloaded into host memory: Fashion-MNIST (Xiao, Rasul & Vollgraf
// 2017) from Debian's dataset-fashion-mnist package as pixels in [0, 1], users' own arrays in NumPy's .npy
// files or in IDX files (raw or gzipped) as float features, or a text file as bytes for a byte-level
// language model.
//
// Fashion-MNIST's split: train = the first 50,000 training images (or the first train_limit of them),
// validation = the LAST 10,000 training images, test = the 10,000 test images. A Datasets is an immutable
// value after loading: safe to share between threads for reading. It owns its memory.
#ifndef HPO_TRAINER_DATASET_H_
#define HPO_TRAINER_DATASET_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace hpo::trainer {

// One set of labelled examples.
struct Split {
  int64_t count = 0;
  int64_t dim = 0;              // features per example (784 for 28 x 28 images)
  std::vector<float> images;    // count * dim, example after example
  std::vector<uint8_t> labels;  // count, each in [0, classes)

  const float* Example(int64_t i) const { return images.data() + i * dim; }
};

// Byte text for the language model, each split a run of the file's bytes in file order.
struct TextSplits {
  std::vector<uint8_t> train;
  std::vector<uint8_t> validation;
  std::vector<uint8_t> test;
};

struct Datasets {
  int64_t classes = 0;  // 256 for text: one class per byte value
  // The images' shape, each example's features in NHWC order (height x width x channels = dim); all 0
  // when the examples are flat feature vectors.
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;
  // Labelled examples; all empty for text.
  Split train;
  Split validation;
  Split test;
  // Byte text (LoadTextDataset); all empty for labelled examples.
  TextSplits text;

  bool is_text() const { return !text.train.empty(); }
};

inline constexpr std::string_view kDefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct DatasetOptions {
  // Holds {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz.
  std::string dir = std::string(kDefaultFashionMnistDir);
  // 0: all training images that are not validation (50,000); otherwise only the first train_limit.
  int64_t train_limit = 0;
  // The last validation_size training images are the validation set. >= 1.
  int64_t validation_size = 10000;
};

inline constexpr int64_t kFashionMnistClasses = 10;

// Loads Fashion-MNIST. NOT_FOUND when a file is missing (the message names it), DATA_LOSS for a corrupt
// file, OUT_OF_RANGE for a train_limit below 0 or above the training images available, INVALID_ARGUMENT
// when the files disagree (counts of images and labels, image sizes, labels >= 10) or the training file
// does not hold more than validation_size images.
Result<Datasets> LoadFashionMnist(const DatasetOptions& options);

// How a 4-D image array lays out its examples.
enum class ImageLayout { kNHWC, kNCHW };

// The files of users' own labelled examples and how to split them, whatever their format.
struct ArrayDataOptions {
  std::string train_images;  // REQUIRED
  std::string train_labels;  // REQUIRED
  // Both or neither: without them the test split is held out of the training file.
  std::string test_images;
  std::string test_labels;
  // The last validation_fraction of the training file's examples are the validation split; without test
  // files the test_fraction before them is the test split. Each in (0, 1), together below 1, and each
  // split at least one example.
  double validation_fraction = 1.0 / 6;
  double test_fraction = 1.0 / 7;
  int64_t train_limit = 0;  // 0: every training example left; otherwise only the first train_limit
};

// Users' own data as NumPy arrays (trainer/npy.h). Images: (N, D) feature vectors, (N, H, W) one-channel
// images, or (N, H, W, C) / (N, C, H, W) as `layout` says; uint8 (scaled from 0..255 to [0, 1]) or
// float32 (as they are, every value finite). Labels: (N,) whole numbers in [0, 255] as uint8, int32 or
// int64; the classes are the largest label + 1 (at least 2).
struct NpyDataOptions : ArrayDataOptions {
  ImageLayout layout = ImageLayout::kNHWC;  // of 4-D image arrays
};

// Loads users' own data. NOT_FOUND for a missing file, DATA_LOSS for a malformed one (both naming it),
// INVALID_ARGUMENT when the arrays do not fit the rules above or each other (counts, shapes, types, label
// values, non-finite pixels, fractions), OUT_OF_RANGE for a train_limit beyond the examples left. Images
// come out in NHWC order whatever the file's layout.
Result<Datasets> LoadNpyDatasets(const NpyDataOptions& options);

// Users' own data as IDX files of unsigned bytes (trainer/idx.h), gzipped or not, as (Fashion-)MNIST
// comes: images (N, D) feature vectors, (N, H, W) one-channel images or (N, H, W, C), scaled from 0..255
// to [0, 1]; labels (N,), the classes being the largest label + 1 (at least 2).
struct IdxDataOptions : ArrayDataOptions {};

// Loads users' IDX files, with the rules and errors of LoadNpyDatasets.
Result<Datasets> LoadIdxDatasets(const IdxDataOptions& options);

// The formats of users' array files, told apart by their first bytes.
enum class ArrayFormat {
  kNpy,  // "\x93NUMPY"
  kIdx,  // 00 00 <type> <dimensions>, or gzip (1f 8b) holding that
};

// The format of the file at `path`. NOT_FOUND for a missing file; INVALID_ARGUMENT naming the file when
// it is neither (a gzipped file must hold IDX).
Result<ArrayFormat> DetectArrayFormat(const std::string& path);

// Loads users' array files of either format: LoadNpyDatasets or LoadIdxDatasets as DetectArrayFormat
// finds the training images. INVALID_ARGUMENT "data: ..." naming them when the files are not all of one
// format, or for an IDX pair with the NCHW layout (IDX images are (N, H, W, C)); otherwise as those.
Result<Datasets> LoadArrayDatasets(const NpyDataOptions& options);

// Text for a byte-level language model: a file of any bytes, as they are. The last validation_fraction
// of the file is the validation split, the test_fraction before it the test split, the rest (or its first
// train_limit bytes) the training split; each split at least kTextMinSplit bytes.
struct TextDataOptions {
  std::string path;  // REQUIRED
  double validation_fraction = 0.1;
  double test_fraction = 0.1;
  int64_t train_limit = 0;  // bytes; 0: all
};

inline constexpr int64_t kTextMinSplit = 2;  // one byte to read, one to predict
inline constexpr int64_t kTextMaxBytes = int64_t{1} << 30;
inline constexpr int64_t kTextClasses = 256;

// Loads a text file. NOT_FOUND for a missing file (naming it); INVALID_ARGUMENT naming the rule for a
// file that is empty, not a regular file, above kTextMaxBytes, or too small for every split to hold
// kTextMinSplit bytes, and for fractions out of range; OUT_OF_RANGE for a train_limit beyond the training
// bytes; DATA_LOSS for a read error.
Result<Datasets> LoadTextDataset(const TextDataOptions& options);

// The splitting of LoadTextDataset on bytes in memory; options.path only names them in messages. On
// success classes is kTextClasses and the three splits, in file order train (before any limit), test,
// validation, cover `bytes` exactly.
Result<Datasets> SplitText(std::string_view bytes, const TextDataOptions& options);

// Whether an error of the loaders above is the caller's options rather than the data (a bad train_limit,
// fractions, files given together that do not go together): hpo-train answers those as bad arguments.
bool IsDataOptionError(const Status& status);

// Checks that a split is self-consistent for `classes` classes and `dim` features; `name` is used in
// the message.
Status CheckSplit(const Split& split, int64_t dim, int64_t classes, std::string_view name);

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_DATASET_H_
