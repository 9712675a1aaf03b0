#include "client/study_file.h"

#include <google/protobuf/util/json_util.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "client/yaml.h"

namespace hpo::client {
namespace {

std::string Quoted(std::string_view path) { return "study file '" + std::string(path) + "'"; }

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// What the schema says of a JSON value, as far as keys go.
struct Shape {
  const Descriptor* message = nullptr;  // an object of this message's fields
  const Descriptor* each = nullptr;     // an array, or a map field's object, of such messages
};

// The shape of `field`'s value. Well-known types (Struct, Value, ...) take any JSON: their keys are
// compared as written.
Shape ShapeOf(const FieldDescriptor* field) {
  if (field == nullptr || field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return {};
  const auto plain = [](const Descriptor* type) {
    return type != nullptr && type->full_name().rfind("google.protobuf.", 0) != 0 ? type : nullptr;
  };
  if (field->is_map()) {
    const FieldDescriptor* value = field->message_type()->map_value();
    return {nullptr,
            value->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE ? plain(value->message_type()) : nullptr};
  }
  if (field->is_repeated()) return {nullptr, plain(field->message_type())};
  return {plain(field->message_type()), nullptr};
}

// Checks the keys and nesting of a JSON text before protobuf's parser reads it, for what that parser lets
// through: a key given twice in one object (it keeps the last value, also when the two are a field's two
// spellings, max_trials and maxTrials), and objects and arrays nested more than kMaxNesting deep (which it
// refuses only at 100 levels, as "JSON transcoder produced invalid protobuf output"). It reads only
// structure: on text that is not JSON it stops and answers OK, and protobuf's parser names the error.
class JsonKeyCheck {
 public:
  // `lines`: whether errors give the line (false for JSON made from YAML, whose lines are not the user's).
  JsonKeyCheck(std::string_view json, bool lines) : json_(json), lines_(lines) {}

  // OK, or INVALID_ARGUMENT "[line N: ]the key 'budget.max_trials' is given twice (first on line M)" or
  // "[line N: ]more than 64 levels of nested objects and arrays (the limit for a study file)".
  Status Run(const Descriptor* root) {
    Shape next{root, nullptr};  // the shape of the value that starts next
    while (true) {
      SkipBlanks();
      if (pos_ >= json_.size()) return Status::Ok();
      const char c = json_[pos_];
      if (c == '{' || c == '[') {
        if (frames_.size() >= static_cast<size_t>(kMaxNesting)) {
          return Error("more than " + std::to_string(kMaxNesting) +
                       " levels of nested objects and arrays (the limit for a study file)");
        }
        Frame frame;
        frame.object = c == '{';
        frame.shape = next;
        frames_.push_back(std::move(frame));
        next = frames_.back().object ? Shape{} : Shape{next.each, nullptr};
        ++pos_;
      } else if (c == '}' || c == ']') {
        if (frames_.empty() || frames_.back().object != (c == '}')) return Status::Ok();
        frames_.pop_back();
        ++pos_;
        if (frames_.empty()) return Status::Ok();
      } else if (c == ',') {
        if (frames_.empty()) return Status::Ok();
        Frame& frame = frames_.back();
        if (frame.object) {
          frame.expect_key = true;
        } else {
          ++frame.index;
          next = {frame.shape.each, nullptr};
        }
        ++pos_;
      } else if (c == '"') {
        const int line = line_;
        std::optional<std::string> text = ReadString();
        if (!text) return Status::Ok();
        if (frames_.empty() || !frames_.back().object || !frames_.back().expect_key) continue;
        Frame& frame = frames_.back();
        frame.expect_key = false;
        const FieldDescriptor* field = nullptr;
        if (frame.shape.message != nullptr) {
          field = frame.shape.message->FindFieldByName(*text);
          if (field == nullptr) field = frame.shape.message->FindFieldByCamelcaseName(*text);
        }
        // Two spellings of one field are one key.
        const std::string name = field != nullptr ? std::string(field->name()) : *text;
        const auto [first, added] = frame.keys.emplace(name, std::make_pair(*text, line));
        frame.key = *text;
        if (!added) {
          std::string what = "the key '" + PathOf(*text) + "' is given twice";
          if (lines_) {
            what += " (first on line " + std::to_string(first->second.second);
            if (first->second.first != *text) what += ", as '" + first->second.first + "'";
            what += ")";
          } else if (first->second.first != *text) {
            what += " (also as '" + first->second.first + "')";
          }
          line_ = line;
          return Error(what);
        }
        next = field != nullptr ? ShapeOf(field) : Shape{frame.shape.each, nullptr};
      } else {
        ++pos_;  // ':', a number, true, false, null
      }
    }
  }

 private:
  struct Frame {
    bool object = false;
    Shape shape;
    bool expect_key = true;                                   // object: the next string is a key
    std::string key;                                          // object: the current key, as written
    size_t index = 0;                                         // array: the current item
    std::map<std::string, std::pair<std::string, int>> keys;  // by field: (as written, line)
  };

  Status Error(const std::string& what) const {
    return InvalidArgumentError(lines_ ? "line " + std::to_string(line_) + ": " + what : what);
  }

  // The path of `key` in the innermost object: "budget.max_trials", "parameters[1].float.low".
  std::string PathOf(const std::string& key) const {
    std::string path;
    for (size_t k = 0; k + 1 < frames_.size(); ++k) {
      if (frames_[k].object) {
        if (!path.empty()) path += '.';
        path += frames_[k].key;
      } else {
        path += '[';
        path += std::to_string(frames_[k].index);
        path += ']';
      }
    }
    if (!path.empty()) path += '.';
    return path + key;
  }

  void SkipBlanks() {
    while (pos_ < json_.size() &&
           (json_[pos_] == ' ' || json_[pos_] == '\t' || json_[pos_] == '\r' || json_[pos_] == '\n')) {
      if (json_[pos_] == '\n') ++line_;
      ++pos_;
    }
  }

  // The string at json_[pos_] (a '"'), its escapes resolved as protobuf's parser resolves them; nothing
  // when it is not a valid JSON string.
  std::optional<std::string> ReadString() {
    std::string text;
    ++pos_;
    while (pos_ < json_.size()) {
      const char c = json_[pos_++];
      if (c == '"') return text;
      if (c == '\n') return std::nullopt;
      if (c != '\\') {
        text += c;
        continue;
      }
      if (pos_ >= json_.size()) return std::nullopt;
      const char e = json_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          text += e;
          break;
        case 'b':
          text += '\b';
          break;
        case 'f':
          text += '\f';
          break;
        case 'n':
          text += '\n';
          break;
        case 'r':
          text += '\r';
          break;
        case 't':
          text += '\t';
          break;
        case 'u': {
          std::optional<uint32_t> code = ReadHex4();
          if (!code) return std::nullopt;
          if (*code >= 0xD800 && *code < 0xDC00 && json_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            const std::optional<uint32_t> low = ReadHex4();
            if (!low || *low < 0xDC00 || *low >= 0xE000) return std::nullopt;
            *code = 0x10000 + ((*code - 0xD800) << 10) + (*low - 0xDC00);
          }
          AppendUtf8(*code, &text);
          break;
        }
        default:
          return std::nullopt;
      }
    }
    return std::nullopt;
  }

  std::optional<uint32_t> ReadHex4() {
    uint32_t code = 0;
    if (pos_ + 4 > json_.size() ||
        std::from_chars(json_.data() + pos_, json_.data() + pos_ + 4, code, 16).ptr !=
            json_.data() + pos_ + 4) {
      return std::nullopt;
    }
    pos_ += 4;
    return code;
  }

  static void AppendUtf8(uint32_t code, std::string* out) {
    if (code < 0x80) {
      *out += static_cast<char>(code);
    } else if (code < 0x800) {
      *out += static_cast<char>(0xC0 | (code >> 6));
      *out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      *out += static_cast<char>(0xE0 | (code >> 12));
      *out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      *out += static_cast<char>(0xF0 | (code >> 18));
      *out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      *out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  std::string_view json_;
  bool lines_;
  size_t pos_ = 0;
  int line_ = 1;
  std::vector<Frame> frames_;
};

// Protobuf's message for an enum value it does not know, "(objectives[0].direction): invalid value
// \"maximise\" for type type.googleapis.com/hpo.v1.Direction", said with the values it takes:
// "objectives[0].direction: \"maximise\" is not one of minimize, maximize (in any case)". Other messages
// come back as they are.
std::string ExplainEnumError(const std::string& message) {
  constexpr std::string_view kType = " for type type.googleapis.com/";
  const size_t type_at = message.find(kType);
  const size_t value_at = message.find("invalid value ");
  if (type_at == std::string::npos || value_at == std::string::npos || value_at > type_at) return message;
  const google::protobuf::EnumDescriptor* type =
      google::protobuf::DescriptorPool::generated_pool()->FindEnumTypeByName(
          message.substr(type_at + kType.size()));
  if (type == nullptr) return message;
  std::string values;
  for (int i = 0; i < type->value_count(); ++i) {
    std::string name(type->value(i)->name());
    if (name.ends_with("_UNSPECIFIED")) continue;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    values += (values.empty() ? "" : ", ") + name;
  }
  std::string field = message.substr(0, value_at);  // "(objectives[0].direction): "
  if (field.size() >= 4 && field.front() == '(' && field.ends_with("): ")) {
    field = field.substr(1, field.size() - 4) + ": ";
  }
  const std::string value = message.substr(value_at + 14, type_at - value_at - 14);
  return field + value + " is not one of " + values + " (in any case)";
}

// ParseStudySpec; `lines` as for JsonKeyCheck.
Result<v1::StudySpec> ParseJson(std::string_view json, std::string_view source_name, bool lines) {
  if (Status checked = JsonKeyCheck(json, lines).Run(v1::StudySpec::descriptor()); !checked.ok()) {
    return checked.WithPrefix(source_name);
  }
  v1::StudySpec spec;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  options.case_insensitive_enum_parsing = true;  // "direction": "maximize", "Maximize", "MAXIMIZE"
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &spec, options);
  if (!status.ok()) {
    std::string message(status.message());
    if (message.empty()) message = "not a valid StudySpec";
    message = ExplainEnumError(message);
    return InvalidArgumentError(std::string(source_name) + ": " + message);
  }
  return spec;
}

}  // namespace

Result<v1::StudySpec> ParseStudySpec(std::string_view json, std::string_view source_name) {
  return ParseJson(json, source_name, true);
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
  // The YAML reader refused a key written twice, naming its line; what is left is a field under its two
  // spellings (max_trials and maxTrials), which the JSON check finds by name only.
  return ParseJson(YamlToJson(*node, v1::StudySpec::descriptor()), source_name, false);
}

Result<v1::StudySpec> ParseStudySpecAnyFormat(std::string_view text, std::string_view source_name) {
  const std::string_view body = Trim(text);
  if (!body.empty() && body.front() == '{') return ParseStudySpec(text, source_name);
  return ParseStudySpecYaml(text, source_name);
}

}  // namespace hpo::client
