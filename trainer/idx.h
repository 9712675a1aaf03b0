// Reader for the IDX format of (Fashion-)MNIST (http://yann.lecun.com/exdb/mnist/): a 4-byte magic
// (0, 0, type 0x08 = unsigned byte, number of dimensions), big-endian uint32 dimensions, then the data.
// Files may be gzip-compressed or plain (zlib's gzread reads both, telling them apart by gzip's magic
// bytes 1f 8b). Only unsigned bytes are read: the other IDX element types are refused.
//
// Every header field and the payload size are checked; a missing file is NOT_FOUND, anything malformed
// (bad magic, wrong dimensions, truncated, trailing bytes, a corrupt gzip stream) is DATA_LOSS, always with
// the file's path in the message. Memory grows only with data actually read (plus at most one 1 MiB
// read chunk), never with what a header claims. Stateless functions: thread-safe.
#ifndef HPO_TRAINER_IDX_H_
#define HPO_TRAINER_IDX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace hpo::trainer {

struct IdxImages {
  int64_t count = 0;
  int64_t rows = 0;
  int64_t cols = 0;
  // count * rows * cols pixels, image after image, row-major, scaled from 0..255 to [0, 1].
  std::vector<float> pixels;
};

// Any IDX array of unsigned bytes.
struct IdxArray {
  std::vector<int64_t> shape;  // 1 to kIdxMaxDims dimensions, the first the number of examples
  std::vector<uint8_t> data;   // the product of the shape bytes, in C order, as the file holds them
};

// Limits that a well-formed dataset file stays within; larger headers are refused as corrupt. Every
// dimension after the first is at least 1 and at most kIdxMaxSide, and they multiply to at most
// kIdxMaxExample bytes per example.
inline constexpr int64_t kIdxMaxCount = int64_t{1} << 28;
inline constexpr int64_t kIdxMaxSide = 1 << 14;
inline constexpr int64_t kIdxMaxExample = int64_t{1} << 24;
inline constexpr int kIdxMaxDims = 4;

// Reads an array of unsigned bytes of 1 to kIdxMaxDims dimensions (magic 0x00000801 to 0x00000804).
Result<IdxArray> ReadIdx(const std::string& path);

// Reads an images file (magic 0x00000803: count x rows x cols, unsigned bytes).
Result<IdxImages> ReadIdxImages(const std::string& path);

// Reads a labels file (magic 0x00000801: count, unsigned bytes).
Result<std::vector<uint8_t>> ReadIdxLabels(const std::string& path);

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_IDX_H_
