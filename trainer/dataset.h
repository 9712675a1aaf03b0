// Datasets for the builtin trainer: Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) from Debian's
// dataset-fashion-mnist package, preloaded into host memory as float pixels in [0, 1].
//
// Split: train = the first 50,000 training images (or the first train_limit of them), validation = the
// LAST 10,000 training images, test = the 10,000 test images. A Datasets is an immutable value after
// loading: safe to share between threads for reading. It owns its memory.
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

struct Datasets {
  int64_t classes = 0;
  Split train;
  Split validation;
  Split test;
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

// Checks that a split is self-consistent for `classes` classes and `dim` features; `name` is used in
// the message.
Status CheckSplit(const Split& split, int64_t dim, int64_t classes, std::string_view name);

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_DATASET_H_
