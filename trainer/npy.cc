#include "trainer/npy.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

namespace hpo::trainer {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

Status Corrupt(const std::string& path, const std::string& what) {
  return DataLossError(path + ": not a readable .npy file: " + what);
}

// The header dict: {'descr': ..., 'fortran_order': ..., 'shape': (...), } in any key order.
struct Header {
  NpyType type = NpyType::kU8;
  std::vector<int64_t> shape;
  size_t data_offset = 0;  // where the elements start
};

class DictReader {
 public:
  explicit DictReader(std::string_view text) : text_(text) {}

  // The whole dict, or the reason it is not one this reader takes.
  std::optional<std::string> Read(Header* header) {
    SkipSpaces();
    if (!Eat('{')) return "the header does not start with '{'";
    bool have_descr = false, have_order = false, have_shape = false;
    for (;;) {
      SkipSpaces();
      if (Eat('}')) break;
      std::string key;
      if (!String(&key)) return "a key of the header is not a quoted string";
      SkipSpaces();
      if (!Eat(':')) return "no ':' after the key '" + key + "'";
      SkipSpaces();
      if (key == "descr") {
        std::string descr;
        if (!String(&descr)) return "'descr' is not a quoted string";
        if (descr == "|u1" || descr == "<u1" || descr == "u1") {
          header->type = NpyType::kU8;
        } else if (descr == "<i4") {
          header->type = NpyType::kI32;
        } else if (descr == "<i8") {
          header->type = NpyType::kI64;
        } else if (descr == "<f4") {
          header->type = NpyType::kF32;
        } else {
          return "element type '" + descr.substr(0, 16) + "' is not one of |u1 <i4 <i8 <f4";
        }
        have_descr = true;
      } else if (key == "fortran_order") {
        if (Word("True")) return "Fortran order is not supported (save the array in C order)";
        if (!Word("False")) return "'fortran_order' is neither True nor False";
        have_order = true;
      } else if (key == "shape") {
        if (auto error = Shape(&header->shape)) return error;
        have_shape = true;
      } else {
        return "unknown header key '" + key.substr(0, 32) + "'";
      }
      SkipSpaces();
      if (Eat(',')) continue;
      SkipSpaces();
      if (Eat('}')) break;
      return "no ',' or '}' after the value of '" + key + "'";
    }
    if (!have_descr || !have_order || !have_shape)
      return "the header lacks 'descr', 'fortran_order' or 'shape'";
    while (at_ < text_.size() && text_[at_] == ' ') ++at_;
    if (at_ + 1 != text_.size() || text_[at_] != '\n')
      return "the header does not end in spaces and a newline";
    return std::nullopt;
  }

 private:
  void SkipSpaces() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t')) ++at_;
  }
  bool Eat(char c) {
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  bool Word(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }
  bool String(std::string* out) {
    if (at_ >= text_.size() || (text_[at_] != '\'' && text_[at_] != '"')) return false;
    const char quote = text_[at_++];
    const size_t end = text_.find(quote, at_);
    if (end == std::string_view::npos || end - at_ > 64) return false;
    *out = std::string(text_.substr(at_, end - at_));
    at_ = end + 1;
    return true;
  }
  std::optional<std::string> Shape(std::vector<int64_t>* shape) {
    if (!Eat('(')) return "'shape' is not a tuple";
    for (;;) {
      SkipSpaces();
      if (Eat(')')) return std::nullopt;
      int64_t value = 0;
      size_t digits = 0;
      while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') {
        if (++digits > 12) return "a dimension of 'shape' is too large";
        value = value * 10 + (text_[at_++] - '0');
      }
      if (digits == 0) return "'shape' holds something other than whole numbers";
      if (static_cast<int>(shape->size()) == kNpyMaxDims) return "'shape' has too many dimensions";
      shape->push_back(value);
      SkipSpaces();
      if (Eat(',')) continue;
      SkipSpaces();
      if (Eat(')')) return std::nullopt;
      return "'shape' is not a tuple of whole numbers";
    }
  }

  std::string_view text_;
  size_t at_ = 0;
};

// The header of `bytes` (which holds at least the whole header), or why it is not one.
Result<Header> ParseHeader(std::string_view bytes, const std::string& path) {
  if (bytes.size() < 10 || bytes.substr(0, kMagic.size()) != kMagic) return Corrupt(path, "no NumPy magic");
  const auto major = static_cast<uint8_t>(bytes[6]);
  const auto minor = static_cast<uint8_t>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0) {
    return Corrupt(
        path, "version " + std::to_string(major) + "." + std::to_string(minor) + " is not 1.0, 2.0 or 3.0");
  }
  size_t length = 0, prefix = 0;
  if (major == 1) {
    length = static_cast<uint8_t>(bytes[8]) | (static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8);
    prefix = 10;
  } else {
    if (bytes.size() < 12) return Corrupt(path, "truncated header");
    for (int i = 3; i >= 0; --i) length = (length << 8) | static_cast<uint8_t>(bytes[8 + i]);
    prefix = 12;
  }
  if (length > kNpyMaxHeader) return Corrupt(path, "a header of " + std::to_string(length) + " bytes");
  if (bytes.size() < prefix + length) return Corrupt(path, "truncated header");
  Header header;
  if (auto error = DictReader(bytes.substr(prefix, length)).Read(&header)) return Corrupt(path, *error);
  int64_t count = 1;
  for (const int64_t d : header.shape) {
    if (d > kNpyMaxElements || (d > 0 && count > kNpyMaxElements / d)) {
      return Corrupt(path, "more than " + std::to_string(kNpyMaxElements) + " elements");
    }
    count *= d;
  }
  header.data_offset = prefix + length;
  return header;
}

std::string Bytes(uint64_t n) { return std::to_string(n) + " bytes"; }

// The array `header` describes, without its elements, once a file of `file_size` bytes is checked to hold
// exactly the header and those elements.
Result<NpyArray> EmptyArray(const Header& header, uint64_t file_size, const std::string& path) {
  NpyArray array;
  array.type = header.type;
  array.shape = header.shape;
  const uint64_t payload = static_cast<uint64_t>(array.count()) * NpyTypeSize(header.type);
  const uint64_t have = file_size - header.data_offset;
  if (have != payload) {
    return Corrupt(path, "the header says " + Bytes(payload) + " of elements, the file holds " + Bytes(have));
  }
  return array;
}

}  // namespace

size_t NpyTypeSize(NpyType type) {
  switch (type) {
    case NpyType::kU8:
      return 1;
    case NpyType::kI32:
    case NpyType::kF32:
      return 4;
    case NpyType::kI64:
      return 8;
  }
  return 1;
}

std::string_view NpyTypeName(NpyType type) {
  switch (type) {
    case NpyType::kU8:
      return "|u1";
    case NpyType::kI32:
      return "<i4";
    case NpyType::kI64:
      return "<i8";
    case NpyType::kF32:
      return "<f4";
  }
  return "?";
}

int64_t NpyArray::count() const {
  int64_t n = 1;
  for (const int64_t d : shape) n *= d;
  return n;
}

Result<NpyArray> ParseNpy(std::string_view bytes, const std::string& path) {
  HPO_ASSIGN_OR_RETURN(const Header header, ParseHeader(bytes, path));
  HPO_ASSIGN_OR_RETURN(NpyArray array, EmptyArray(header, bytes.size(), path));
  array.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header.data_offset), bytes.end());
  return array;
}

Result<NpyArray> ReadNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return NotFoundError(path + ": no such file");
    return DataLossError(path + ": cannot be opened: " + std::strerror(errno));
  }
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 0) return DataLossError(path + ": cannot be read");
  // The header first (at most 12 + kNpyMaxHeader bytes), so that the size check comes before the payload
  // is read.
  std::string head(static_cast<size_t>(std::min<std::streamoff>(size, 12 + kNpyMaxHeader)), '\0');
  if (!in.read(head.data(), static_cast<std::streamsize>(head.size())))
    return DataLossError(path + ": read failed");
  HPO_ASSIGN_OR_RETURN(const Header header, ParseHeader(head, path));
  HPO_ASSIGN_OR_RETURN(NpyArray array, EmptyArray(header, static_cast<uint64_t>(size), path));
  const uint64_t payload = static_cast<uint64_t>(size) - header.data_offset;
  array.data.resize(payload);
  in.seekg(static_cast<std::streamoff>(header.data_offset), std::ios::beg);
  if (payload > 0 &&
      !in.read(reinterpret_cast<char*>(array.data.data()), static_cast<std::streamsize>(payload))) {
    return DataLossError(path + ": read failed");
  }
  return array;
}

}  // namespace hpo::trainer
