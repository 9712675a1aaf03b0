// MemFile: an in-memory file (memfd) that a fuzz target rewrites with each input, so that a reader which
// takes a path opens the bytes by their /proc path. One per target process; not thread-safe.
#ifndef HPO_TESTS_FUZZ_MEM_FILE_H_
#define HPO_TESTS_FUZZ_MEM_FILE_H_

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_check.h"

namespace hpo::fuzz {

class MemFile {
 public:
  explicit MemFile(const char* name)
      : fd_(memfd_create(name, 0)), path_("/proc/self/fd/" + std::to_string(fd_)) {
    HPO_FUZZ_REQUIRE(fd_ >= 0, "memfd_create");
  }

  // Replaces the file's contents with `data`; returns its path.
  const std::string& Write(const uint8_t* data, size_t size) {
    HPO_FUZZ_REQUIRE(ftruncate(fd_, 0) == 0, "ftruncate");
    size_t done = 0;
    while (done < size) {
      const ssize_t n = pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      HPO_FUZZ_REQUIRE(n > 0, "pwrite");
      done += static_cast<size_t>(n);
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace hpo::fuzz

#endif  // HPO_TESTS_FUZZ_MEM_FILE_H_
