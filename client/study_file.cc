#include "client/study_file.h"

#include <google/protobuf/util/json_util.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

namespace hpo::client {
namespace {

std::string Quoted(std::string_view path) { return "study file '" + std::string(path) + "'"; }

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

}  // namespace

Result<v1::StudySpec> ParseStudySpec(std::string_view json, std::string_view source_name) {
  v1::StudySpec spec;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &spec, options);
  if (!status.ok()) {
    std::string message(status.message());
    if (message.empty()) message = "not a valid StudySpec";
    return InvalidArgumentError(std::string(source_name) + ": " + message);
  }
  return spec;
}

Result<v1::StudySpec> LoadStudySpec(const std::string& path) {
  std::error_code ec;
  const auto file_status = std::filesystem::status(path, ec);
  if (file_status.type() == std::filesystem::file_type::not_found) {
    return NotFoundError(Quoted(path) + ": no such file");
  }
  if (std::filesystem::is_directory(file_status)) {
    return InvalidArgumentError(Quoted(path) + ": is a directory");
  }
  errno = 0;
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) {
    const int err = errno;
    if (err == ENOENT) return NotFoundError(Quoted(path) + ": no such file");
    return InvalidArgumentError(Quoted(path) + ": cannot open: " + std::strerror(err));
  }
  std::string json;
  char buffer[1 << 14];
  while (true) {
    const size_t n = std::fread(buffer, 1, sizeof(buffer), file.get());
    json.append(buffer, n);
    if (n < sizeof(buffer)) break;
  }
  if (std::ferror(file.get())) {
    return InvalidArgumentError(Quoted(path) + ": cannot read: " + std::strerror(errno));
  }
  return ParseStudySpec(json, Quoted(path));
}

}  // namespace hpo::client
