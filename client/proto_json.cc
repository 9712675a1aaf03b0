#include "client/proto_json.h"

#include <google/protobuf/util/json_util.h>

#include <string_view>

namespace hpo::client {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// Copies protobuf's JSON text, walking it beside the message's descriptor, and drops the quotes around
// the values of IsSafeInteger fields. The text is protobuf's own output, so it is valid JSON.
class Unquoter {
 public:
  explicit Unquoter(std::string_view json) : json_(json) { out_.reserve(json.size()); }

  std::string Run(const Descriptor* root) {
    Value(root, false);
    out_.append(json_.substr(pos_));  // the trailing newline
    return std::move(out_);
  }

 private:
  // Copies blanks.
  void Blanks() {
    while (pos_ < json_.size() &&
           (json_[pos_] == ' ' || json_[pos_] == '\n' || json_[pos_] == '\r' || json_[pos_] == '\t')) {
      out_ += json_[pos_++];
    }
  }

  // The string at pos_ (a '"'), with its quotes, escapes as written; pos_ moves past it.
  std::string_view String() {
    const size_t start = pos_++;
    while (pos_ < json_.size() && json_[pos_] != '"') pos_ += json_[pos_] == '\\' ? 2 : 1;
    ++pos_;
    return json_.substr(start, pos_ - start);
  }

  // A value whose objects are `message`s (nullptr: any JSON) and whose strings lose their quotes when
  // `unquote` and they hold an integer.
  void Value(const Descriptor* message, bool unquote) {
    Blanks();
    if (pos_ >= json_.size()) return;
    const char c = json_[pos_];
    if (c == '{') {
      Object(message, nullptr);
    } else if (c == '[') {
      out_ += json_[pos_++];
      while (true) {
        Blanks();
        if (pos_ >= json_.size()) return;
        if (json_[pos_] == ']') break;
        if (json_[pos_] == ',') out_ += json_[pos_++];
        Value(message, unquote);
      }
      out_ += json_[pos_++];
    } else if (c == '"') {
      const std::string_view text = String();
      const std::string_view inner = text.substr(1, text.size() - 2);
      const bool integer = !inner.empty() && inner.find_first_not_of("-0123456789") == std::string_view::npos;
      out_.append(unquote && integer ? inner : text);
    } else {
      while (pos_ < json_.size() && json_[pos_] != ',' && json_[pos_] != '}' && json_[pos_] != ']' &&
             json_[pos_] != ' ' && json_[pos_] != '\n') {
        out_ += json_[pos_++];
      }
    }
  }

  // An object: a `message`'s fields, or (with `map`) a map field's entries.
  void Object(const Descriptor* message, const FieldDescriptor* map) {
    out_ += json_[pos_++];  // '{'
    while (true) {
      Blanks();
      if (pos_ >= json_.size()) return;
      if (json_[pos_] == '}') break;
      if (json_[pos_] == ',') {
        out_ += json_[pos_++];
        continue;
      }
      const std::string_view key = String();
      out_.append(key);
      Blanks();
      out_ += json_[pos_++];  // ':'
      const FieldDescriptor* field = nullptr;
      if (map != nullptr) {
        field = map->message_type()->map_value();
      } else if (message != nullptr) {
        field = message->FindFieldByName(std::string(key.substr(1, key.size() - 2)));
      }
      if (field == nullptr) {
        Value(nullptr, false);
      } else if (field->is_map()) {
        Blanks();
        if (pos_ < json_.size() && json_[pos_] == '{') Object(nullptr, field);
      } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        // Well-known types (Struct, Timestamp, ...) have a JSON form of their own: any JSON.
        const bool well_known = field->message_type()->full_name().rfind("google.protobuf.", 0) == 0;
        Value(well_known ? nullptr : field->message_type(), false);
      } else {
        Value(nullptr, IsSafeInteger(*field));
      }
    }
    out_ += json_[pos_++];  // '}'
  }

  std::string_view json_;
  size_t pos_ = 0;
  std::string out_;
};

}  // namespace

bool IsSafeInteger(const FieldDescriptor& field) {
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT64:
      break;
    default:
      return false;
  }
  const std::string_view name = field.name();
  const std::string_view owner = field.containing_type()->name();
  return name == "id" || name == "from_study" || name.ends_with("_id") || name.ends_with("_ids") ||
         name.ends_with("_ms") || (owner == "Trial" && name == "seed") ||
         (owner == "TrialProgress" && name == "step");
}

std::string MessageToJsonWithSafeNumbers(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "{}\n";
  if (json.empty() || json.back() != '\n') json += '\n';
  return Unquoter(json).Run(message.GetDescriptor());
}

}  // namespace hpo::client
