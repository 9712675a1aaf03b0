#include "trainer/idx.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <new>
#include <string>
#include <utility>

namespace hpo::trainer {
namespace {

constexpr uint8_t kTypeUnsignedByte = 0x08;
constexpr size_t kChunk = size_t{1} << 20;

// An open gzip-or-plain file; closes itself.
class GzReader {
 public:
  explicit GzReader(std::string path) : path_(std::move(path)) {}
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;
  ~GzReader() {
    if (file_ != nullptr) gzclose(file_);
  }

  Status Open() {
    struct stat st;
    if (::stat(path_.c_str(), &st) != 0) {
      return errno == ENOENT ? NotFoundError(path_ + ": no such file")
                             : DataLossError(path_ + ": cannot stat: " + std::strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) return DataLossError(path_ + ": is a directory, not an IDX file");
    file_ = gzopen(path_.c_str(), "rb");
    if (file_ == nullptr) return DataLossError(path_ + ": cannot open: " + std::strerror(errno));
    gzbuffer(file_, 1 << 17);
    return Status::Ok();
  }

  // Reads up to `bytes` bytes into `out`; returns how many were read (fewer only at the end of the data).
  // A read error (corrupt gzip stream) is DATA_LOSS.
  Result<size_t> Read(void* out, size_t bytes) {
    size_t done = 0;
    while (done < bytes) {
      const size_t want = std::min(bytes - done, kChunk);
      const int got = gzread(file_, static_cast<char*>(out) + done, static_cast<unsigned>(want));
      if (got < 0) return DataLossError(path_ + ": read error: " + ErrorText());
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    // A short read with an error pending (e.g. a truncated gzip member) is a read error too.
    if (done < bytes) {
      int errnum = Z_OK;
      gzerror(file_, &errnum);
      if (errnum != Z_OK && errnum != Z_STREAM_END) {
        return DataLossError(path_ + ": read error after " + std::to_string(done) + " bytes: " + ErrorText());
      }
    }
    return done;
  }

  const std::string& path() const { return path_; }

 private:
  std::string ErrorText() {
    int errnum = Z_OK;
    const char* text = gzerror(file_, &errnum);
    if (errnum == Z_ERRNO) return std::strerror(errno);
    return text != nullptr ? text : "unknown zlib error";
  }

  std::string path_;
  gzFile file_ = nullptr;
};

uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string Hex32(const uint8_t* p) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  for (int i = 0; i < 4; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

// Opens `path`, checks the magic for unsigned bytes with `ndims` dimensions (0: any of 1 to kIdxMaxDims),
// and returns the dimensions.
Status ReadHeader(GzReader& reader, int ndims, std::string_view what, std::vector<int64_t>* dims) {
  HPO_RETURN_IF_ERROR(reader.Open());
  uint8_t magic[4];
  HPO_ASSIGN_OR_RETURN(size_t got, reader.Read(magic, sizeof(magic)));
  if (got < sizeof(magic)) {
    return DataLossError(reader.path() + ": truncated: " + std::to_string(got) +
                         " bytes, shorter than an IDX header");
  }
  const bool dims_fit = ndims == 0 ? magic[3] >= 1 && magic[3] <= kIdxMaxDims : magic[3] == ndims;
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != kTypeUnsignedByte || !dims_fit) {
    return DataLossError(reader.path() + ": not an IDX " + std::string(what) + " file: magic " +
                         Hex32(magic) + ", expected " +
                         (ndims == 0 ? "0x00000801 to 0x0000080" + std::to_string(kIdxMaxDims)
                                     : "0x0000080" + std::to_string(ndims)) +
                         (magic[0] == 0 && magic[1] == 0 && magic[2] != kTypeUnsignedByte
                              ? " (only unsigned bytes, type 0x08, are read)"
                              : ""));
  }
  std::vector<uint8_t> raw(4 * static_cast<size_t>(magic[3]));
  HPO_ASSIGN_OR_RETURN(got, reader.Read(raw.data(), raw.size()));
  if (got < raw.size()) {
    return DataLossError(reader.path() + ": truncated header: " + std::to_string(4 + got) + " of " +
                         std::to_string(4 + raw.size()) + " bytes");
  }
  dims->clear();
  for (size_t i = 0; i < raw.size(); i += 4) dims->push_back(BigEndian32(raw.data() + i));
  return Status::Ok();
}

// Reads exactly `bytes` bytes of payload and checks nothing follows. `out` grows with the data as it
// arrives, a chunk at a time: a header that promises more than the file holds costs at most one chunk.
Status ReadPayload(GzReader& reader, uint64_t bytes, std::string_view what, std::vector<uint8_t>* out) {
  out->clear();
  while (out->size() < bytes) {
    const size_t have = out->size();
    const size_t want = static_cast<size_t>(std::min<uint64_t>(bytes - have, kChunk));
    out->resize(have + want);
    HPO_ASSIGN_OR_RETURN(size_t got, reader.Read(out->data() + have, want));
    out->resize(have + got);
    if (got < want) {
      return DataLossError(reader.path() + ": truncated: the header promises " + std::to_string(bytes) +
                           " bytes of " + std::string(what) + ", the file holds " +
                           std::to_string(out->size()));
    }
  }
  uint8_t extra;
  HPO_ASSIGN_OR_RETURN(size_t got, reader.Read(&extra, 1));
  if (got != 0) {
    return DataLossError(reader.path() + ": trailing bytes after the " + std::to_string(bytes) +
                         " bytes of " + std::string(what) + " the header promises");
  }
  return Status::Ok();
}

// Reads an array of `ndims` dimensions (0: any of 1 to kIdxMaxDims) within the limits of idx.h.
Result<IdxArray> ReadArray(const std::string& path, int ndims, std::string_view what) {
  try {
    GzReader reader(path);
    IdxArray array;
    HPO_RETURN_IF_ERROR(ReadHeader(reader, ndims, what, &array.shape));
    int64_t example = 1;
    bool plausible = array.shape[0] <= kIdxMaxCount;
    std::string text = std::to_string(array.shape[0]);
    for (size_t i = 1; i < array.shape.size(); ++i) {
      const int64_t side = array.shape[i];
      plausible = plausible && side >= 1 && side <= kIdxMaxSide;
      example *= std::min(side, kIdxMaxSide);
      text += " x " + std::to_string(side);
    }
    if (!plausible || example > kIdxMaxExample) {
      return DataLossError(path + ": implausible " + std::string(what) + " dimensions " + text);
    }
    const uint64_t bytes = static_cast<uint64_t>(array.shape[0]) * static_cast<uint64_t>(example);
    HPO_RETURN_IF_ERROR(ReadPayload(reader, bytes, what, &array.data));
    return array;
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError(path + ": out of memory while reading " + std::string(what));
  }
}

}  // namespace

Result<IdxArray> ReadIdx(const std::string& path) { return ReadArray(path, 0, "data"); }

Result<IdxImages> ReadIdxImages(const std::string& path) {
  HPO_ASSIGN_OR_RETURN(IdxArray array, ReadArray(path, 3, "images"));
  try {
    IdxImages images;
    images.count = array.shape[0];
    images.rows = array.shape[1];
    images.cols = array.shape[2];
    std::array<float, 256> scale;
    for (int i = 0; i < 256; ++i) scale[i] = static_cast<float>(i) / 255.0f;
    images.pixels.resize(array.data.size());
    for (size_t i = 0; i < array.data.size(); ++i) images.pixels[i] = scale[array.data[i]];
    return images;
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError(path + ": out of memory while reading images");
  }
}

Result<std::vector<uint8_t>> ReadIdxLabels(const std::string& path) {
  HPO_ASSIGN_OR_RETURN(IdxArray array, ReadArray(path, 1, "labels"));
  return std::move(array.data);
}

}  // namespace hpo::trainer
