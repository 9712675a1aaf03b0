#include "trainer/dataset.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "base/strings.h"
#include "trainer/data_split.h"
#include "trainer/idx.h"
#include "trainer/npy.h"

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

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + (shape.size() == 1 ? ",)" : ")");
}

// An image array as a Split's features (NHWC), with the images' shape.
struct Images {
  int64_t count = 0, height = 0, width = 0, channels = 0;  // height etc. 0 for feature vectors
  int64_t dim = 0;
  std::vector<float> values;
};

Result<Images> ToImages(const NpyArray& array, ImageLayout layout, const std::string& path) {
  Images images;
  const std::vector<int64_t>& s = array.shape;
  if (s.size() < 2 || s.size() > 4) {
    return InvalidArgumentError(path + ": images of shape " + ShapeText(s) +
                                "; expected (N, D), (N, H, W), (N, H, W, C) or (N, C, H, W)");
  }
  images.count = s[0];
  if (s.size() == 3) {
    images.height = s[1], images.width = s[2], images.channels = 1;
  } else if (s.size() == 4) {
    const bool nhwc = layout == ImageLayout::kNHWC;
    images.height = nhwc ? s[1] : s[2];
    images.width = nhwc ? s[2] : s[3];
    images.channels = nhwc ? s[3] : s[1];
  }
  images.dim = 1;
  for (size_t i = 1; i < s.size(); ++i) images.dim *= s[i];
  if (images.dim < 1)
    return InvalidArgumentError(path + ": images of shape " + ShapeText(s) + " hold no features");
  if (array.type != NpyType::kU8 && array.type != NpyType::kF32) {
    return InvalidArgumentError(path + ": images of type " + std::string(NpyTypeName(array.type)) +
                                "; expected |u1 (0..255) or <f4");
  }
  const size_t n = static_cast<size_t>(images.count * images.dim);
  std::vector<float> flat(n);
  if (array.type == NpyType::kU8) {
    for (size_t i = 0; i < n; ++i) flat[i] = static_cast<float>(array.data[i]) / 255.0f;
  } else {
    std::memcpy(flat.data(), array.data.data(), n * sizeof(float));
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(flat[i])) {
        return InvalidArgumentError(path + ": example " + std::to_string(i / images.dim) + " holds " +
                                    FormatDouble(flat[i]) + "; every value must be finite");
      }
    }
  }
  if (s.size() == 4 && layout == ImageLayout::kNCHW) {
    // (N, C, H, W) -> (N, H, W, C).
    images.values.resize(n);
    const int64_t hw = images.height * images.width;
    for (int64_t e = 0; e < images.count; ++e) {
      const float* from = flat.data() + e * images.dim;
      float* to = images.values.data() + e * images.dim;
      for (int64_t c = 0; c < images.channels; ++c) {
        for (int64_t p = 0; p < hw; ++p) to[p * images.channels + c] = from[c * hw + p];
      }
    }
  } else {
    images.values = std::move(flat);
  }
  return images;
}

Result<std::vector<uint8_t>> ToLabels(const NpyArray& array, const std::string& path) {
  if (array.shape.size() != 1) {
    return InvalidArgumentError(path + ": labels of shape " + ShapeText(array.shape) + "; expected (N,)");
  }
  const auto n = static_cast<size_t>(array.shape[0]);
  std::vector<uint8_t> labels(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t v = 0;
    switch (array.type) {
      case NpyType::kU8:
        v = array.data[i];
        break;
      case NpyType::kI32: {
        int32_t x = 0;
        std::memcpy(&x, array.data.data() + 4 * i, 4);
        v = x;
        break;
      }
      case NpyType::kI64:
        std::memcpy(&v, array.data.data() + 8 * i, 8);
        break;
      case NpyType::kF32:
        return InvalidArgumentError(path + ": labels of type <f4; expected whole numbers (|u1, <i4 or <i8)");
    }
    if (v < 0 || v > 255) {
      return InvalidArgumentError(path + ": label " + std::to_string(v) + " of example " + std::to_string(i) +
                                  " is outside [0, 255]");
    }
    labels[i] = static_cast<uint8_t>(v);
  }
  return labels;
}

// "6 features" or "2 x 3 x 1 images".
std::string ExampleText(const Images& shape) {
  if (shape.height == 0) return std::to_string(shape.dim) + " features";
  return std::to_string(shape.height) + " x " + std::to_string(shape.width) + " x " +
         std::to_string(shape.channels) + " images";
}

// Reads one file of an array format as an NpyArray.
using ArrayReader = Result<NpyArray> (*)(const std::string& path);

// An IDX file's bytes as an array of uint8.
Result<NpyArray> ReadIdxArray(const std::string& path) {
  HPO_ASSIGN_OR_RETURN(IdxArray idx, ReadIdx(path));
  NpyArray array;
  array.type = NpyType::kU8;
  array.shape = std::move(idx.shape);
  array.data = std::move(idx.data);
  return array;
}

Result<Split> ReadArrayPair(const std::string& images_path, const std::string& labels_path,
                            ImageLayout layout, ArrayReader read, Images* shape) {
  HPO_ASSIGN_OR_RETURN(const NpyArray image_array, read(images_path));
  HPO_ASSIGN_OR_RETURN(Images images, ToImages(image_array, layout, images_path));
  HPO_ASSIGN_OR_RETURN(const NpyArray label_array, read(labels_path));
  HPO_ASSIGN_OR_RETURN(std::vector<uint8_t> labels, ToLabels(label_array, labels_path));
  if (static_cast<int64_t>(labels.size()) != images.count) {
    return InvalidArgumentError(images_path + " holds " + std::to_string(images.count) + " examples but " +
                                labels_path + " holds " + std::to_string(labels.size()) + " labels");
  }
  Split split;
  split.count = images.count;
  split.dim = images.dim;
  split.images = std::move(images.values);
  split.labels = std::move(labels);
  *shape = std::move(images);
  return split;
}

// Users' own examples in files of one format (`source`: "npy data", "idx data"), split by `options`.
Result<Datasets> LoadArrays(const ArrayDataOptions& options, ImageLayout layout, std::string_view source,
                            ArrayReader read) {
  const std::string prefix = std::string(source) + ": ";
  const bool test_files = !options.test_images.empty() || !options.test_labels.empty();
  if (options.train_images.empty() || options.train_labels.empty()) {
    return InvalidArgumentError(prefix + "train_images and train_labels are both required");
  }
  if (test_files && (options.test_images.empty() || options.test_labels.empty())) {
    return InvalidArgumentError(prefix + "give test_images and test_labels together, or neither");
  }
  HPO_RETURN_IF_ERROR(
      CheckFractions(source, options.validation_fraction, options.test_fraction, !test_files));
  try {
    Images shape;
    HPO_ASSIGN_OR_RETURN(Split full,
                         ReadArrayPair(options.train_images, options.train_labels, layout, read, &shape));
    HPO_ASSIGN_OR_RETURN(
        const SplitSizes sizes,
        SizeSplits(options.train_images, full.count, "examples", 1, options.validation_fraction,
                   options.test_fraction, !test_files, options.train_limit));
    Datasets data;
    data.height = shape.height;
    data.width = shape.width;
    data.channels = shape.channels;
    data.validation = Slice(full, full.count - sizes.validation, sizes.validation);
    if (test_files) {
      Images test_shape;
      HPO_ASSIGN_OR_RETURN(
          data.test, ReadArrayPair(options.test_images, options.test_labels, layout, read, &test_shape));
      if (test_shape.dim != shape.dim || test_shape.height != shape.height ||
          test_shape.width != shape.width) {
        return InvalidArgumentError(options.test_images + ": test examples of " + ExampleText(test_shape) +
                                    " do not match the training examples of " + ExampleText(shape));
      }
    } else {
      data.test = Slice(full, sizes.available, sizes.test);
    }
    data.train = Slice(full, 0, sizes.train);
    int64_t largest = 0;
    for (const Split* split : {&data.train, &data.validation, &data.test}) {
      for (const uint8_t label : split->labels) largest = std::max<int64_t>(largest, label);
    }
    data.classes = largest + 1;
    if (data.classes < 2) {
      return InvalidArgumentError(options.train_labels +
                                  ": every label is 0; a classifier needs at least 2 classes");
    }
    HPO_RETURN_IF_ERROR(CheckSplit(data.train, shape.dim, data.classes, "train"));
    HPO_RETURN_IF_ERROR(CheckSplit(data.validation, shape.dim, data.classes, "validation"));
    HPO_RETURN_IF_ERROR(CheckSplit(data.test, shape.dim, data.classes, "test"));
    return data;
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError("out of memory while loading " + options.train_images);
  }
}

std::string HexBytes(const unsigned char* bytes, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += ' ';
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 15];
  }
  return out;
}

constexpr std::string_view kFormatNames[] = {"a NumPy .npy file", "an IDX file"};

}  // namespace

Result<Datasets> LoadNpyDatasets(const NpyDataOptions& options) {
  return LoadArrays(options, options.layout, "npy data", ReadNpy);
}

Result<Datasets> LoadIdxDatasets(const IdxDataOptions& options) {
  return LoadArrays(options, ImageLayout::kNHWC, "idx data", ReadIdxArray);
}

Result<ArrayFormat> DetectArrayFormat(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    if (errno == ENOENT) return NotFoundError(path + ": no such file");
    return InvalidArgumentError(path + ": cannot open: " + std::strerror(errno));
  }
  unsigned char head[6] = {};
  const size_t got = std::fread(head, 1, sizeof(head), file);
  const int read_error = std::ferror(file) != 0 ? errno : 0;
  std::fclose(file);
  if (read_error != 0) return InvalidArgumentError(path + ": cannot read: " + std::strerror(read_error));
  if (got == 6 && std::memcmp(head, "\x93NUMPY", 6) == 0) return ArrayFormat::kNpy;
  const auto idx_magic = [](const unsigned char* m) { return m[0] == 0 && m[1] == 0 && m[3] >= 1; };
  if (got >= 4 && idx_magic(head)) return ArrayFormat::kIdx;
  if (got >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
    gzFile gz = gzopen(path.c_str(), "rb");
    unsigned char inner[6] = {};
    const int inner_got = gz == nullptr ? -1 : gzread(gz, inner, sizeof(inner));
    if (gz != nullptr) gzclose(gz);
    if (inner_got >= 4 && idx_magic(inner)) return ArrayFormat::kIdx;
    return InvalidArgumentError(
        path + ": gzip-compressed, but not an IDX file inside" +
        (inner_got > 0 ? " (it starts with bytes " + HexBytes(inner, static_cast<size_t>(inner_got)) + ")"
                       : "") +
        "; .npy files are read uncompressed");
  }
  return InvalidArgumentError(
      path + ": neither a NumPy .npy file nor an IDX file, raw or gzipped" +
      (got > 0 ? " (it starts with bytes " + HexBytes(head, got) + ")" : " (it is empty)"));
}

Result<Datasets> LoadArrayDatasets(const NpyDataOptions& options) {
  const std::string* files[] = {&options.train_images, &options.train_labels, &options.test_images,
                                &options.test_labels};
  const std::string* first = nullptr;
  ArrayFormat format = ArrayFormat::kNpy;
  for (const std::string* file : files) {
    if (file->empty()) continue;
    HPO_ASSIGN_OR_RETURN(const ArrayFormat found, DetectArrayFormat(*file));
    if (first == nullptr) {
      first = file, format = found;
    } else if (found != format) {
      return InvalidArgumentError(
          "data: " + *first + " is " + std::string(kFormatNames[static_cast<int>(format)]) + " but " + *file +
          " is " + std::string(kFormatNames[static_cast<int>(found)]) + "; give every file in one format");
    }
  }
  if (format == ArrayFormat::kIdx) {
    if (options.layout == ImageLayout::kNCHW) {
      return InvalidArgumentError(
          "data: " + *first +
          " is an IDX file, whose 4-D images are (N, H, W, C): the NCHW layout is for .npy "
          "files only");
    }
    return LoadIdxDatasets(IdxDataOptions{options});
  }
  return LoadNpyDatasets(options);
}

bool IsDataOptionError(const Status& status) {
  if (status.code() == StatusCode::kOutOfRange) return true;
  if (status.code() != StatusCode::kInvalidArgument) return false;
  const std::string& message = status.message();
  for (const std::string_view prefix : {"data: ", "npy data: ", "idx data: ", "text data: "}) {
    if (message.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

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
    HPO_RETURN_IF_ERROR(CheckTrainLimit(options.train_limit, available));
    const int64_t train_count = options.train_limit > 0 ? options.train_limit : available;
    Datasets data;
    data.classes = kFashionMnistClasses;
    data.height = 28;
    data.width = 28;
    data.channels = 1;
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
