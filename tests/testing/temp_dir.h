// TempDir: a fresh directory under the system's temp dir for one test, removed with its contents when
// the TempDir is destroyed. Not thread-safe; owned by the test that made it.
#ifndef HPO_TESTS_TESTING_TEMP_DIR_H_
#define HPO_TESTS_TESTING_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace hpo::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hpo-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (path_.empty()) return;
    // A test may have taken permissions away (unreadable files); give them back to remove everything.
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add,
                                 ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Empty if the directory could not be made.
  const std::string& path() const { return path_; }
  // The path of `name` inside the directory.
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace hpo::testing

#endif  // HPO_TESTS_TESTING_TEMP_DIR_H_
