// Helpers shared by the trainer tests: a temporary directory, IDX file writers, and a small separable
// data set.
#ifndef HPO_TESTS_TRAINER_TEST_UTIL_H_
#define HPO_TESTS_TRAINER_TEST_UTIL_H_

#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "base/rng.h"
#include "tests/testing/temp_dir.h"
#include "trainer/dataset.h"

namespace hpo::trainer::testing {

using hpo::testing::TempDir;

inline void PutBigEndian32(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

// The bytes of an IDX file of unsigned bytes with the given dimensions and payload.
inline std::vector<uint8_t> IdxBytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) PutBigEndian32(out, d);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

inline bool WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

inline bool WriteGzFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = bytes.empty() || gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) ==
                                       static_cast<int>(bytes.size());
  return gzclose(f) == Z_OK && ok;
}

inline std::vector<uint8_t> ReadFile(const std::string& path) {
  std::vector<uint8_t> out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return out;
  int c;
  while ((c = std::fgetc(f)) != EOF) out.push_back(static_cast<uint8_t>(c));
  std::fclose(f);
  return out;
}

// Two Gaussian blobs in `dim` dimensions, centred at -1 and +1 on every axis: separable.
inline Split Blobs(int64_t count, int64_t dim, uint64_t seed) {
  Rng rng(seed);
  Split split;
  split.count = count;
  split.dim = dim;
  for (int64_t i = 0; i < count; ++i) {
    const uint8_t label = static_cast<uint8_t>(i % 2);
    split.labels.push_back(label);
    for (int64_t d = 0; d < dim; ++d) {
      split.images.push_back(static_cast<float>((label == 1 ? 1.0 : -1.0) + 0.5 * rng.Normal()));
    }
  }
  return split;
}

// 8x8 one-channel images (64 features) of a bright horizontal (class 0) or vertical (class 1) bar at a
// random place, in noise: no single pixel tells the classes apart, a convolution or attention over patches
// does.
inline Split Bars(int64_t count, uint64_t seed) {
  Rng rng(seed);
  Split split;
  split.count = count;
  split.dim = 64;
  for (int64_t i = 0; i < count; ++i) {
    const int label = static_cast<int>(i % 2);
    const auto at = static_cast<int>(rng.UniformInt(8));
    split.labels.push_back(static_cast<uint8_t>(label));
    for (int y = 0; y < 8; ++y) {
      for (int x = 0; x < 8; ++x) {
        const bool bar = label == 0 ? y == at : x == at;
        split.images.push_back(static_cast<float>((bar ? 1.0 : 0.0) + 0.2 * rng.Normal()));
      }
    }
  }
  return split;
}

// Blobs of 6 dimensions: 512 training, 200 validation and 200 test examples.
inline Datasets BlobData() {
  Datasets data;
  data.classes = 2;
  data.train = Blobs(512, 6, 1);
  data.validation = Blobs(200, 6, 2);
  data.test = Blobs(200, 6, 3);
  return data;
}

// An .npy file as NumPy lays it out: magic, version `major`.0, header length, the dict (e.g. "{'descr':
// '<f4', 'fortran_order': False, 'shape': (2,), }") padded with spaces so that the data starts at a
// multiple of 64, a newline, then `payload`.
inline std::string NpyBytes(const std::string& dict, const std::string& payload, int major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const size_t n = header.size();
  out += static_cast<char>(n & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  if (major > 1) out += std::string(2, '\0');
  return out + header + payload;
}

// Fashion-MNIST from the default directory, loaded once per test binary; nullptr when its files are not
// installed (tests then GTEST_SKIP). Any other load error fails loudly.
inline const Datasets* FashionMnistOrNull() {
  static const Datasets* data = []() -> const Datasets* {
    Result<Datasets> loaded = LoadFashionMnist(DatasetOptions{});
    if (!loaded.ok()) {
      if (loaded.status().code() != StatusCode::kNotFound) {
        std::fprintf(stderr, "loading Fashion-MNIST failed: %s\n", loaded.status().ToString().c_str());
        std::abort();
      }
      return nullptr;
    }
    return new Datasets(std::move(*loaded));
  }();
  return data;
}

}  // namespace hpo::trainer::testing

#endif  // HPO_TESTS_TRAINER_TEST_UTIL_H_
