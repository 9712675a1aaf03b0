#include "client/study_file.h"

#include <google/protobuf/util/json_util.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include "base/strings.h"
#include "client/yaml.h"

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
  const bool yaml = path.ends_with(".yaml") || path.ends_with(".yml");
  return yaml ? ParseStudySpecYaml(json, Quoted(path)) : ParseStudySpec(json, Quoted(path));
}

Result<v1::StudySpec> ParseStudySpecYaml(std::string_view yaml, std::string_view source_name) {
  auto node = ParseYaml(yaml);
  if (!node.ok()) return node.status().WithPrefix(source_name);
  if (node->kind != YamlNode::Kind::kMap) {
    return InvalidArgumentError(std::string(source_name) + ": expected a mapping of StudySpec fields");
  }
  return ParseStudySpec(YamlToJson(*node, v1::StudySpec::descriptor()), source_name);
}

Result<v1::StudySpec> ParseStudySpecAnyFormat(std::string_view text, std::string_view source_name) {
  const std::string_view body = Trim(text);
  if (!body.empty() && body.front() == '{') return ParseStudySpec(text, source_name);
  return ParseStudySpecYaml(text, source_name);
}

}  // namespace hpo::client
