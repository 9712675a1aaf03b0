// Fuzz target: the IDX reader (trainer/idx.h) on untrusted bytes, both as the file itself (plain, or gzip
// when the bytes are) and gzip-compressed, so that the reader's own checks are fuzzed behind zlib too.
// The bytes go to an in-memory file (memfd) that the reader opens by its /proc path.
//
// Readers: ReadIdxImages, ReadIdxLabels, and ReadIdx, the arrays of 1 to 4 dimensions that users' own IDX
// files (LoadIdxDatasets) are read with.
//
// Properties: nothing crashes or allocates what the header merely claims; a refusal is DATA_LOSS; images
// read hold count x rows x cols pixels in [0, 1]; an array holds the product of its shape's bytes, every
// dimension but the first within the limits; what the images or the labels reader takes, ReadIdx takes
// alike; a plain file is read only when its size is exactly the header plus the payload; and the plain
// and the gzipped copy of the same bytes read alike.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/mem_file.h"
#include "trainer/idx.h"

namespace {

// `data` as one gzip member.
std::vector<uint8_t> Gzip(const uint8_t* data, size_t size) {
  z_stream z{};
  HPO_FUZZ_REQUIRE(deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK, "deflateInit2");
  std::vector<uint8_t> out(deflateBound(&z, static_cast<uLong>(size)) + 32);
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = static_cast<uInt>(size);
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  HPO_FUZZ_REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

struct Outcome {
  hpo::StatusCode images_code;
  std::vector<float> pixels;
  hpo::StatusCode labels_code;
  std::vector<uint8_t> labels;
  hpo::StatusCode array_code;
  hpo::trainer::IdxArray array;
};

Outcome Read(const std::string& path) {
  Outcome outcome;
  hpo::Result<hpo::trainer::IdxImages> images = hpo::trainer::ReadIdxImages(path);
  outcome.images_code = images.status().code();
  if (images.ok()) {
    const uint64_t n = static_cast<uint64_t>(images->count) * static_cast<uint64_t>(images->rows) *
                       static_cast<uint64_t>(images->cols);
    HPO_FUZZ_REQUIRE(images->pixels.size() == n, path);
    for (const float p : images->pixels) HPO_FUZZ_REQUIRE(p >= 0.0f && p <= 1.0f, path);
    outcome.pixels = std::move(images->pixels);
  } else {
    HPO_FUZZ_REQUIRE(outcome.images_code == hpo::StatusCode::kDataLoss, images.status().ToString());
  }
  hpo::Result<std::vector<uint8_t>> labels = hpo::trainer::ReadIdxLabels(path);
  outcome.labels_code = labels.status().code();
  if (labels.ok()) {
    outcome.labels = std::move(*labels);
  } else {
    HPO_FUZZ_REQUIRE(outcome.labels_code == hpo::StatusCode::kDataLoss, labels.status().ToString());
  }
  hpo::Result<hpo::trainer::IdxArray> array = hpo::trainer::ReadIdx(path);
  outcome.array_code = array.status().code();
  if (array.ok()) {
    const std::vector<int64_t>& shape = array->shape;
    HPO_FUZZ_REQUIRE(!shape.empty() && shape.size() <= hpo::trainer::kIdxMaxDims, path);
    HPO_FUZZ_REQUIRE(shape[0] >= 0 && shape[0] <= hpo::trainer::kIdxMaxCount, path);
    uint64_t n = static_cast<uint64_t>(shape[0]), example = 1;
    for (size_t i = 1; i < shape.size(); ++i) {
      HPO_FUZZ_REQUIRE(shape[i] >= 1 && shape[i] <= hpo::trainer::kIdxMaxSide, path);
      example *= static_cast<uint64_t>(shape[i]);
    }
    HPO_FUZZ_REQUIRE(example <= static_cast<uint64_t>(hpo::trainer::kIdxMaxExample), path);
    HPO_FUZZ_REQUIRE(array->data.size() == n * example, path);
    outcome.array = std::move(*array);
  } else {
    HPO_FUZZ_REQUIRE(outcome.array_code == hpo::StatusCode::kDataLoss, array.status().ToString());
  }
  // The images and labels readers are ReadIdx of 3 and 1 dimensions.
  if (outcome.images_code == hpo::StatusCode::kOk) {
    HPO_FUZZ_REQUIRE(outcome.array_code == hpo::StatusCode::kOk && outcome.array.shape.size() == 3, path);
    for (size_t i = 0; i < outcome.pixels.size(); ++i) {
      HPO_FUZZ_REQUIRE(outcome.pixels[i] == static_cast<float>(outcome.array.data[i]) / 255.0f, path);
    }
  }
  if (outcome.labels_code == hpo::StatusCode::kOk) {
    HPO_FUZZ_REQUIRE(outcome.array_code == hpo::StatusCode::kOk && outcome.array.data == outcome.labels,
                     path);
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static hpo::fuzz::MemFile* file = new hpo::fuzz::MemFile("hpo-idx-fuzz");
  const Outcome plain = Read(file->Write(data, size));
  const bool is_gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  if (!is_gzip) {
    if (plain.images_code == hpo::StatusCode::kOk) HPO_FUZZ_REQUIRE(size == 16 + plain.pixels.size(), "size");
    if (plain.labels_code == hpo::StatusCode::kOk) HPO_FUZZ_REQUIRE(size == 8 + plain.labels.size(), "size");
    if (plain.array_code == hpo::StatusCode::kOk) {
      HPO_FUZZ_REQUIRE(size == 4 + 4 * plain.array.shape.size() + plain.array.data.size(), "size");
    }
  }
  const std::vector<uint8_t> packed = Gzip(data, size);
  const Outcome gzipped = Read(file->Write(packed.data(), packed.size()));
  if (!is_gzip) {
    HPO_FUZZ_REQUIRE(gzipped.images_code == plain.images_code && gzipped.pixels == plain.pixels, "images");
    HPO_FUZZ_REQUIRE(gzipped.labels_code == plain.labels_code && gzipped.labels == plain.labels, "labels");
    HPO_FUZZ_REQUIRE(gzipped.array_code == plain.array_code && gzipped.array.shape == plain.array.shape &&
                         gzipped.array.data == plain.array.data,
                     "arrays");
  }
  return 0;
}
