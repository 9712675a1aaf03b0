#include "storage/wal_scan.h"

#include <algorithm>
#include <fstream>

namespace hpo::storage {
namespace {

constexpr uint32_t kMagicLittle = 0x377f0682;  // checksums in little-endian words
constexpr uint32_t kMagicBig = 0x377f0683;     // checksums in big-endian words
constexpr int kHeaderBytes = 32;
constexpr int kFrameHeaderBytes = 24;

uint32_t BigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

WalFrames ScanWal(const std::string& wal_path) {
  WalFrames wal;
  std::ifstream in(wal_path, std::ios::binary);
  if (!in) return wal;
  unsigned char header[kHeaderBytes];
  if (!in.read(reinterpret_cast<char*>(header), kHeaderBytes)) return wal;
  const uint32_t magic = BigEndian32(header);
  if (magic != kMagicLittle && magic != kMagicBig) return wal;
  uint32_t page_size = BigEndian32(header + 8);
  if (page_size == 1) page_size = 65536;  // the format's way to write 64 KiB
  if (page_size < 512 || page_size > 65536 || (page_size & (page_size - 1)) != 0) return wal;
  wal.present = true;
  wal.page_size = page_size;
  const uint32_t salt1 = BigEndian32(header + 16);
  const uint32_t salt2 = BigEndian32(header + 20);
  unsigned char frame[kFrameHeaderBytes];
  for (int64_t index = 1;; ++index) {
    const std::streamoff at = kHeaderBytes + (index - 1) * (std::streamoff{kFrameHeaderBytes} + page_size);
    in.seekg(at);
    if (!in.read(reinterpret_cast<char*>(frame), kFrameHeaderBytes)) break;
    // A frame counts only when its page is whole too.
    in.seekg(at + kFrameHeaderBytes + page_size - 1);
    char last;
    if (!in.get(last)) break;
    ++wal.frames;
    if (BigEndian32(frame + 8) != salt1 || BigEndian32(frame + 12) != salt2) continue;
    ++wal.current;
    if (BigEndian32(frame + 4) != 0) wal.commits.push_back(index);  // the database size after a commit
  }
  return wal;
}

int64_t CommitsAfter(const WalFrames& wal, int64_t recovered) {
  return static_cast<int64_t>(wal.commits.end() -
                              std::upper_bound(wal.commits.begin(), wal.commits.end(), recovered));
}

}  // namespace hpo::storage
