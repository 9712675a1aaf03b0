// Reader for NumPy's .npy format (numpy.lib.format, versions 1.0, 2.0 and 3.0): the magic "\x93NUMPY", a
// major and minor version byte, the header's length (uint16 little-endian in 1.0, uint32 in 2.0 and 3.0),
// the header (a Python dict literal such as "{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 28,
// 28), }", padded with spaces to a newline), then the array's elements in C order. What users' own data
// comes in: images as uint8 or float32, labels as uint8, int32 or int64.
//
// Every header field is checked and the payload must be exactly what the header says: a missing file is
// NOT_FOUND, anything malformed (bad magic or version, a header that is not such a dict, an element type
// other than |u1 <f4 <i4 <i8, Fortran order, a shape with a negative or too large dimension, a truncated
// payload or trailing bytes) is DATA_LOSS, always with the file's path in the message. The file's size is
// checked against the header before anything is allocated, so memory never grows with what a header merely
// claims. Stateless functions: thread-safe.
#ifndef HPO_TRAINER_NPY_H_
#define HPO_TRAINER_NPY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace hpo::trainer {

enum class NpyType { kU8, kI32, kI64, kF32 };

// "|u1", "<i4", "<i8", "<f4".
std::string_view NpyTypeName(NpyType type);
// Bytes per element: 1, 4, 8, 4.
size_t NpyTypeSize(NpyType type);

struct NpyArray {
  NpyType type = NpyType::kU8;
  std::vector<int64_t> shape;  // empty for a scalar
  std::vector<uint8_t> data;   // the elements in C order, little-endian, as the file holds them

  int64_t count() const;  // the product of the shape (1 for a scalar)
};

// Limits a well-formed data file stays within; larger headers are refused as corrupt.
inline constexpr int64_t kNpyMaxElements = int64_t{1} << 32;
inline constexpr int kNpyMaxDims = 8;
inline constexpr uint32_t kNpyMaxHeader = 1 << 16;

// Reads an .npy file.
Result<NpyArray> ReadNpy(const std::string& path);

// Parses the bytes of an .npy file; `path` only names it in messages.
Result<NpyArray> ParseNpy(std::string_view bytes, const std::string& path);

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_NPY_H_
