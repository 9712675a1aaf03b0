// Fuzz target: the IDX reader (trainer/idx.h) on untrusted bytes, both as the file itself (plain, or gzip
// when the bytes are) and gzip-compressed, so that the reader's own checks are fuzzed behind zlib too.
// The bytes go to an in-memory file (memfd) that the reader opens by its /proc path.
//
// Properties: nothing crashes or allocates what the header merely claims; a refusal is DATA_LOSS; images
// read hold count x rows x cols pixels in [0, 1]; a plain file is read only when its size is exactly the
// header plus the payload; and the plain and the gzipped copy of the same bytes read alike.
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
  }
  const std::vector<uint8_t> packed = Gzip(data, size);
  const Outcome gzipped = Read(file->Write(packed.data(), packed.size()));
  if (!is_gzip) {
    HPO_FUZZ_REQUIRE(gzipped.images_code == plain.images_code && gzipped.pixels == plain.pixels, "images");
    HPO_FUZZ_REQUIRE(gzipped.labels_code == plain.labels_code && gzipped.labels == plain.labels, "labels");
  }
  return 0;
}
