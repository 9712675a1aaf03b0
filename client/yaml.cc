#include "client/yaml.h"

#include <google/protobuf/descriptor.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <set>

#include "base/strings.h"

namespace hpo::client {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// One line that holds something: its indentation, its content without the indentation and without a
// comment, and its 1-based number.
struct Line {
  int indent = 0;
  std::string content;
  int number = 0;
};

Status LineError(int line, const std::string& what) {
  return InvalidArgumentError("line " + std::to_string(line) + ": " + what);
}

// Walks `text` outside quoted scalars (a backslash escapes the next character inside double quotes only),
// calling `stop(i, depth)` at each other character, `depth` the number of brackets ('[', '{') open
// before it. Returns the first i where `stop` is true, or nothing; `*end_depth` (when given) is the depth
// after the last character.
template <typename Stop>
std::optional<size_t> ScanUnquoted(std::string_view text, Stop stop, int* end_depth = nullptr) {
  char quote = 0;
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
      continue;
    }
    if (stop(i, depth)) return i;
    if (c == '[' || c == '{') ++depth;
    if (c == ']' || c == '}') --depth;
  }
  if (end_depth != nullptr) *end_depth = depth;
  return std::nullopt;
}

// `text` less a comment: a '#' at its start or after a blank, outside quotes.
std::string StripComment(std::string_view text) {
  const std::optional<size_t> hash = ScanUnquoted(text, [&](size_t i, int) {
    return text[i] == '#' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t');
  });
  return std::string(hash ? text.substr(0, *hash) : text);
}

// Reads one scalar or flow collection starting at text[*pos], for a flow context (`in_flow`: stops at
// ',', ']' and '}'; `key`: also at ':').
class FlowReader {
 public:
  FlowReader(std::string_view text, int line) : text_(text), line_(line) {}

  Result<YamlNode> ReadAll() {
    auto node = Read(false, false);
    if (!node.ok()) return node;
    SkipBlanks();
    if (pos_ != text_.size()) {
      return LineError(line_, "unexpected '" + std::string(text_.substr(pos_)) + "' after a value");
    }
    return node;
  }

 private:
  void SkipBlanks() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n')) ++pos_;
  }

  Result<YamlNode> Read(bool in_flow, bool key) {
    SkipBlanks();
    YamlNode node;
    node.line = line_;
    if (pos_ >= text_.size()) return node;  // nothing: null
    const char c = text_[pos_];
    if (c == '[' || c == '{') return ReadCollection(c == '{');
    if (c == '"' || c == '\'') return ReadQuoted(c);
    if (std::string_view("&*!|>?%@`").find(c) != std::string_view::npos) {
      return LineError(line_, std::string("'") + c +
                                  "' (anchors, aliases, tags, block scalars, complex keys) " +
                                  "is not supported in study files");
    }
    const size_t start = pos_;
    while (pos_ < text_.size()) {
      const char d = text_[pos_];
      if (in_flow && (d == ',' || d == ']' || d == '}')) break;
      if (key && d == ':' &&
          (pos_ + 1 == text_.size() ||
           std::string_view(" ,]}").find(text_[pos_ + 1]) != std::string_view::npos)) {
        break;
      }
      ++pos_;
    }
    node.text = std::string(Trim(text_.substr(start, pos_ - start)));
    return node;
  }

  Result<YamlNode> ReadQuoted(char quote) {
    YamlNode node;
    node.line = line_;
    node.quoted = true;
    ++pos_;
    while (true) {
      if (pos_ >= text_.size())
        return LineError(line_, std::string("unterminated ") + quote + "quoted string");
      const char c = text_[pos_++];
      if (c == quote) {
        if (quote == '\'' && pos_ < text_.size() && text_[pos_] == '\'') {  // '' is one '
          node.text += '\'';
          ++pos_;
          continue;
        }
        return node;
      }
      if (c != '\\' || quote == '\'') {
        node.text += c;
        continue;
      }
      if (pos_ >= text_.size()) return LineError(line_, "a '\\' ends the string");
      const char e = text_[pos_++];
      switch (e) {
        case 'n':
          node.text += '\n';
          break;
        case 't':
          node.text += '\t';
          break;
        case 'r':
          node.text += '\r';
          break;
        case '0':
          node.text += '\0';
          break;
        case '"':
        case '\\':
        case '/':
        case ' ':
          node.text += e;
          break;
        case 'u': {
          uint32_t code = 0;
          if (pos_ + 4 > text_.size() ||
              std::from_chars(text_.data() + pos_, text_.data() + pos_ + 4, code, 16).ptr !=
                  text_.data() + pos_ + 4) {
            return LineError(line_, "\\u needs four hexadecimal digits");
          }
          pos_ += 4;
          AppendUtf8(code, &node.text);
          break;
        }
        default:
          return LineError(line_, std::string("unknown escape \\") + e);
      }
    }
  }

  static void AppendUtf8(uint32_t code, std::string* out) {
    if (code < 0x80) {
      *out += static_cast<char>(code);
    } else if (code < 0x800) {
      *out += static_cast<char>(0xC0 | (code >> 6));
      *out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      *out += static_cast<char>(0xE0 | (code >> 12));
      *out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  Result<YamlNode> ReadCollection(bool mapping) {
    YamlNode node;
    node.line = line_;
    node.kind = mapping ? YamlNode::Kind::kMap : YamlNode::Kind::kSeq;
    const char close = mapping ? '}' : ']';
    ++pos_;
    std::set<std::string> keys;
    while (true) {
      SkipBlanks();
      if (pos_ >= text_.size()) return LineError(line_, std::string("no closing '") + close + "'");
      if (text_[pos_] == close) {
        ++pos_;
        return node;
      }
      if (mapping) {
        auto key = Read(true, true);
        if (!key.ok()) return key.status();
        SkipBlanks();
        if (pos_ >= text_.size() || text_[pos_] != ':') {
          return LineError(line_, "expected ':' after the key '" + key->text + "'");
        }
        ++pos_;
        auto value = Read(true, false);
        if (!value.ok()) return value.status();
        if (!keys.insert(key->text).second)
          return LineError(line_, "the key '" + key->text + "' is given twice");
        node.map.push_back({key->text, std::move(*value)});
      } else {
        auto value = Read(true, false);
        if (!value.ok()) return value.status();
        node.seq.push_back(std::move(*value));
      }
      SkipBlanks();
      if (pos_ >= text_.size()) return LineError(line_, std::string("no closing '") + close + "'");
      if (text_[pos_] == ',') {
        ++pos_;
      } else if (text_[pos_] != close) {
        return LineError(line_, std::string("expected ',' or '") + close + "'");
      }
    }
  }

  std::string_view text_;
  int line_;
  size_t pos_ = 0;
};

// True when the brackets of `text` (outside quotes) are all closed.
bool Balanced(std::string_view text) {
  int depth = 0;
  ScanUnquoted(
      text, [](size_t, int) { return false; }, &depth);
  return depth <= 0;
}

// Where "key: value" splits: the ':' followed by a blank or the end, outside quotes and brackets.
std::optional<size_t> KeyColon(std::string_view text) {
  return ScanUnquoted(text, [&](size_t i, int depth) {
    return text[i] == ':' && depth == 0 && (i + 1 == text.size() || text[i + 1] == ' ');
  });
}

bool IsSequenceItem(std::string_view content) {
  return !content.empty() && content[0] == '-' && (content.size() == 1 || content[1] == ' ');
}

class BlockReader {
 public:
  explicit BlockReader(std::vector<Line> lines) : lines_(std::move(lines)) {}

  Result<YamlNode> ReadDocument() {
    if (lines_.empty()) return YamlNode{};
    auto node = ReadBlock(lines_[0].indent);
    if (!node.ok()) return node;
    if (i_ < lines_.size()) return LineError(lines_[i_].number, "unexpected indentation");
    return node;
  }

 private:
  Result<YamlNode> ReadBlock(int indent) {
    if (IsSequenceItem(lines_[i_].content)) return ReadSequence(indent);
    if (KeyColon(lines_[i_].content)) return ReadMapping(indent);
    // A lone scalar or flow collection (only as a whole document or a sequence item's own line).
    const Line& line = lines_[i_];
    return ReadInline(line.content, line.number);
  }

  // A scalar or flow collection that starts on the current line, with the lines it continues on.
  Result<YamlNode> ReadInline(std::string text, int number) {
    ++i_;
    if (!text.empty() && (text[0] == '[' || text[0] == '{')) {
      while (!Balanced(text) && i_ < lines_.size()) text += " " + lines_[i_++].content;
    }
    return FlowReader(text, number).ReadAll();
  }

  // The value after "key:" or "-" on the current line; `rest` empty means it follows on the next lines.
  Result<YamlNode> ReadValue(const std::string& rest, int indent, int number, bool allow_same_indent_seq) {
    if (!rest.empty()) return ReadInline(rest, number);
    ++i_;
    if (i_ < lines_.size() && lines_[i_].indent > indent) return ReadBlock(lines_[i_].indent);
    if (allow_same_indent_seq && i_ < lines_.size() && lines_[i_].indent == indent &&
        IsSequenceItem(lines_[i_].content)) {
      return ReadSequence(indent);
    }
    YamlNode null;
    null.line = number;
    return null;
  }

  Result<YamlNode> ReadSequence(int indent) {
    YamlNode node;
    node.kind = YamlNode::Kind::kSeq;
    node.line = lines_[i_].number;
    while (i_ < lines_.size() && lines_[i_].indent == indent && IsSequenceItem(lines_[i_].content)) {
      Line& line = lines_[i_];
      size_t offset = 1;
      while (offset < line.content.size() && line.content[offset] == ' ') ++offset;
      const std::string rest = line.content.substr(offset);
      if (!rest.empty() && (IsSequenceItem(rest) || KeyColon(rest))) {
        // "- key: value" or "- - item": the rest is a block whose indentation is where it starts.
        line.indent += static_cast<int>(offset);
        line.content = rest;
        auto item = ReadBlock(line.indent);
        if (!item.ok()) return item;
        node.seq.push_back(std::move(*item));
      } else {
        auto item = ReadValue(rest, indent, line.number, false);
        if (!item.ok()) return item;
        node.seq.push_back(std::move(*item));
      }
    }
    if (i_ < lines_.size() && lines_[i_].indent > indent) {
      return LineError(lines_[i_].number, "unexpected indentation");
    }
    return node;
  }

  Result<YamlNode> ReadMapping(int indent) {
    YamlNode node;
    node.kind = YamlNode::Kind::kMap;
    node.line = lines_[i_].number;
    std::set<std::string> keys;
    while (i_ < lines_.size() && lines_[i_].indent == indent) {
      const Line& line = lines_[i_];
      if (IsSequenceItem(line.content))
        return LineError(line.number, "a sequence item where a key was expected");
      const std::optional<size_t> colon = KeyColon(line.content);
      if (!colon) return LineError(line.number, "expected 'key: value', got '" + line.content + "'");
      auto key = FlowReader(Trim(std::string_view(line.content).substr(0, *colon)), line.number).ReadAll();
      if (!key.ok()) return key.status();
      if (key->kind != YamlNode::Kind::kScalar || key->text.empty()) {
        return LineError(line.number, "a key must be a non-empty scalar");
      }
      if (!keys.insert(key->text).second) {
        return LineError(line.number, "the key '" + key->text + "' is given twice");
      }
      const std::string rest(Trim(std::string_view(line.content).substr(*colon + 1)));
      auto value = ReadValue(rest, indent, line.number, true);
      if (!value.ok()) return value;
      node.map.push_back({key->text, std::move(*value)});
    }
    if (i_ < lines_.size() && lines_[i_].indent > indent) {
      return LineError(lines_[i_].number, "unexpected indentation");
    }
    return node;
  }

  std::vector<Line> lines_;
  size_t i_ = 0;
};

// ---- JSON ----

bool IsNullText(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::optional<bool> BoolText(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

// A YAML 1.2 core-schema number as JSON: integers keep their digits (all 64 bits of a seed), floats
// are written in the shortest form that reads back.
std::optional<std::string> NumberText(std::string_view s) {
  std::string_view body = s;
  bool negative = false;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body.empty()) return std::nullopt;
  const bool all_digits = body.find_first_not_of("0123456789") == std::string_view::npos;
  if (all_digits) {
    while (body.size() > 1 && body[0] == '0') body.remove_prefix(1);
    std::string digits;
    if (negative) digits += '-';
    digits += body;
    return digits;
  }
  // [0-9]*(\.[0-9]*)?([eE][-+]?[0-9]+)? with at least one digit before the exponent.
  size_t i = 0, digits = 0;
  auto is_digit = [&](size_t at) {
    return at < body.size() && std::isdigit(static_cast<unsigned char>(body[at]));
  };
  for (; is_digit(i); ++i) ++digits;
  if (i < body.size() && body[i] == '.') {
    for (++i; is_digit(i); ++i) ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '-' || body[i] == '+')) ++i;
    const size_t exponent = i;
    while (is_digit(i)) ++i;
    if (i == exponent) return std::nullopt;
  }
  if (i != body.size()) return std::nullopt;
  std::string number(s);
  if (number[0] == '+') number.erase(0, 1);
  double value = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size() || !std::isfinite(value)) return std::nullopt;
  return FormatDouble(value);
}

void AppendGeneric(const YamlNode& node, std::string* out);

void AppendScalarGuess(const YamlNode& node, std::string* out) {
  if (node.quoted) {
    *out += JsonQuote(node.text);
  } else if (IsNullText(node.text)) {
    *out += "null";
  } else if (const auto b = BoolText(node.text)) {
    *out += *b ? "true" : "false";
  } else if (const auto n = NumberText(node.text)) {
    *out += *n;
  } else {
    *out += JsonQuote(node.text);
  }
}

void AppendGeneric(const YamlNode& node, std::string* out) {
  switch (node.kind) {
    case YamlNode::Kind::kScalar:
      AppendScalarGuess(node, out);
      return;
    case YamlNode::Kind::kSeq:
      *out += '[';
      for (size_t k = 0; k < node.seq.size(); ++k) {
        if (k > 0) *out += ',';
        AppendGeneric(node.seq[k], out);
      }
      *out += ']';
      return;
    case YamlNode::Kind::kMap:
      *out += '{';
      for (size_t k = 0; k < node.map.size(); ++k) {
        if (k > 0) *out += ',';
        *out += JsonQuote(node.map[k].first) + ':';
        AppendGeneric(node.map[k].second, out);
      }
      *out += '}';
      return;
  }
}

void AppendMessage(const YamlNode& node, const Descriptor* descriptor, std::string* out);

// One value of `field` (an element, for a repeated field).
void AppendSingle(const YamlNode& node, const FieldDescriptor* field, std::string* out) {
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    const std::string& type = field->message_type()->full_name();
    if (node.kind == YamlNode::Kind::kMap && type.rfind("google.protobuf.", 0) != 0) {
      AppendMessage(node, field->message_type(), out);
    } else {
      AppendGeneric(node, out);  // Struct, Value and friends take any JSON; a mismatch is reported later
    }
    return;
  }
  if (node.kind != YamlNode::Kind::kScalar) {
    AppendGeneric(node, out);  // the JSON parser names the field that wanted a scalar
    return;
  }
  const bool text_field = field->cpp_type() == FieldDescriptor::CPPTYPE_STRING ||
                          field->cpp_type() == FieldDescriptor::CPPTYPE_ENUM;
  if (text_field && !(IsNullText(node.text) && !node.quoted)) {
    *out += JsonQuote(node.text);
  } else {
    AppendScalarGuess(node, out);
  }
}

void AppendField(const YamlNode& node, const FieldDescriptor* field, std::string* out) {
  if (field->is_map() && node.kind == YamlNode::Kind::kMap) {
    const FieldDescriptor* value_field = field->message_type()->map_value();
    *out += '{';
    for (size_t k = 0; k < node.map.size(); ++k) {
      if (k > 0) *out += ',';
      *out += JsonQuote(node.map[k].first) + ':';
      AppendSingle(node.map[k].second, value_field, out);
    }
    *out += '}';
  } else if (field->is_repeated() && !field->is_map() && node.kind == YamlNode::Kind::kSeq) {
    *out += '[';
    for (size_t k = 0; k < node.seq.size(); ++k) {
      if (k > 0) *out += ',';
      AppendSingle(node.seq[k], field, out);
    }
    *out += ']';
  } else if (field->is_repeated()) {
    AppendGeneric(node, out);
  } else {
    AppendSingle(node, field, out);
  }
}

void AppendMessage(const YamlNode& node, const Descriptor* descriptor, std::string* out) {
  *out += '{';
  for (size_t k = 0; k < node.map.size(); ++k) {
    const auto& [key, value] = node.map[k];
    if (k > 0) *out += ',';
    *out += JsonQuote(key) + ':';
    const FieldDescriptor* field = descriptor->FindFieldByName(key);
    if (field == nullptr) field = descriptor->FindFieldByCamelcaseName(key);
    if (field == nullptr) {
      AppendGeneric(value, out);
    } else {
      AppendField(value, field, out);
    }
  }
  *out += '}';
}

}  // namespace

Result<YamlNode> ParseYaml(std::string_view text) {
  std::vector<Line> lines;
  int number = 0;
  bool started = false;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(start, end - start);
    start = end + 1;
    ++number;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    const std::string content = StripComment(raw);
    size_t indent = 0;
    while (indent < content.size() && content[indent] == ' ') ++indent;
    const std::string_view rest = Trim(std::string_view(content).substr(indent));
    if (rest.empty()) {
      if (end == text.size()) break;
      continue;
    }
    if (indent < content.size() && content[indent] == '\t') {
      return LineError(number, "a tab in the indentation; indent with spaces");
    }
    if (rest == "---" || rest.rfind("--- ", 0) == 0) {
      if (started) return LineError(number, "a second document ('---'); a study file holds one");
      started = true;
      if (rest.size() > 3) {
        return LineError(number, "content after '---' is not supported; start it on the next line");
      }
      continue;
    }
    if (rest == "...") break;
    if (rest[0] == '%') return LineError(number, "directives ('%') are not supported");
    started = true;
    lines.push_back({static_cast<int>(indent), std::string(rest), number});
    if (end == text.size()) break;
  }
  return BlockReader(std::move(lines)).ReadDocument();
}

std::string YamlToJson(const YamlNode& node, const Descriptor* descriptor) {
  std::string out;
  if (node.kind == YamlNode::Kind::kMap) {
    AppendMessage(node, descriptor, &out);
  } else {
    AppendGeneric(node, &out);
  }
  return out;
}

}  // namespace hpo::client
