#include "trainer/dataset.h"

#include <new>
#include <string>
#include <utility>

#include "trainer/idx.h"

namespace hpo::trainer {
namespace {

// Reads one images + labels pair into a Split.
Result<Split> ReadPair(const std::string& images_path, const std::string& labels_path) {
  HPO_ASSIGN_OR_RETURN(IdxImages images, ReadIdxImages(images_path));
  HPO_ASSIGN_OR_RETURN(std::vector<uint8_t> labels, ReadIdxLabels(labels_path));
  if (static_cast<int64_t>(labels.size()) != images.count) {
    return InvalidArgumentError(images_path + " holds " + std::to_string(images.count) + " images but " +
                                labels_path + " holds " + std::to_string(labels.size()) + " labels");
  }
  Split split;
  split.count = images.count;
  split.dim = images.rows * images.cols;
  split.images = std::move(images.pixels);
  split.labels = std::move(labels);
  return split;
}

// Examples [begin, begin + count) of `from`.
Split Slice(const Split& from, int64_t begin, int64_t count) {
  Split out;
  out.count = count;
  out.dim = from.dim;
  out.images.assign(from.images.begin() + begin * from.dim, from.images.begin() + (begin + count) * from.dim);
  out.labels.assign(from.labels.begin() + begin, from.labels.begin() + begin + count);
  return out;
}

}  // namespace

Status CheckSplit(const Split& split, int64_t dim, int64_t classes, std::string_view name) {
  const std::string prefix = "dataset split " + std::string(name) + ": ";
  if (split.dim != dim) {
    return InvalidArgumentError(prefix + std::to_string(split.dim) + " features, expected " +
                                std::to_string(dim));
  }
  if (split.count < 0 || static_cast<int64_t>(split.images.size()) != split.count * dim ||
      static_cast<int64_t>(split.labels.size()) != split.count) {
    return InvalidArgumentError(prefix + "sizes disagree with its count " + std::to_string(split.count));
  }
  for (int64_t i = 0; i < split.count; ++i) {
    if (split.labels[i] >= classes) {
      return InvalidArgumentError(prefix + "label " + std::to_string(split.labels[i]) + " of example " +
                                  std::to_string(i) + " is not below " + std::to_string(classes));
    }
  }
  return Status::Ok();
}

Result<Datasets> LoadFashionMnist(const DatasetOptions& options) {
  try {
    const std::string dir = options.dir.empty() ? std::string(".") : options.dir;
    HPO_ASSIGN_OR_RETURN(Split full_train,
                         ReadPair(dir + "/train-images-idx3-ubyte.gz", dir + "/train-labels-idx1-ubyte.gz"));
    HPO_ASSIGN_OR_RETURN(Split test,
                         ReadPair(dir + "/t10k-images-idx3-ubyte.gz", dir + "/t10k-labels-idx1-ubyte.gz"));
    const int64_t validation_size = options.validation_size;
    if (validation_size < 1 || full_train.count <= validation_size) {
      return InvalidArgumentError(dir + ": the training set holds " + std::to_string(full_train.count) +
                                  " images; needs more than the " + std::to_string(validation_size) +
                                  " held out for validation");
    }
    const int64_t available = full_train.count - validation_size;
    if (options.train_limit < 0 || options.train_limit > available) {
      return Status(StatusCode::kOutOfRange, "train_limit: " + std::to_string(options.train_limit) +
                                                 " is out of range [0, " + std::to_string(available) +
                                                 "] (0: all)");
    }
    const int64_t train_count = options.train_limit > 0 ? options.train_limit : available;
    Datasets data;
    data.classes = kFashionMnistClasses;
    data.validation = Slice(full_train, available, validation_size);
    data.train = std::move(full_train);
    data.train.count = train_count;
    data.train.images.resize(train_count * data.train.dim);
    if (options.train_limit > 0) data.train.images.shrink_to_fit();
    data.train.labels.resize(train_count);
    data.test = std::move(test);
    const int64_t dim = data.train.dim;
    HPO_RETURN_IF_ERROR(CheckSplit(data.train, dim, data.classes, "train"));
    HPO_RETURN_IF_ERROR(CheckSplit(data.validation, dim, data.classes, "validation"));
    HPO_RETURN_IF_ERROR(CheckSplit(data.test, dim, data.classes, "test"));
    return data;
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError("out of memory while loading Fashion-MNIST from " + options.dir);
  }
}

}  // namespace hpo::trainer
