#include "client/yaml.h"

#include <google/protobuf/descriptor.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>

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

// Where a reader is in the document: one part per collection around the current node (the key of a
// mapping's value, "[k]" for a sequence's item k), so that an error can name a key by its path
// ("budget.max_trials", "parameters[2].float") and the number of parts is the nesting depth. Both
// readers recurse once per level, so a collection is entered only through Enter, which caps the depth.
class Path {
 public:
  // OK when a collection starting on `line` may open here, INVALID_ARGUMENT naming the rule when it
  // would be nested more than kMaxNesting deep.
  Status Enter(int line) const {
    if (parts_.size() < static_cast<size_t>(kMaxNesting)) return Status::Ok();
    return LineError(line, "more than " + std::to_string(kMaxNesting) +
                               " levels of nested mappings and sequences (the limit for a study file)");
  }

  void PushKey(std::string key) { parts_.push_back(std::move(key)); }
  void PushIndex(size_t index) {
    std::string part = "[";
    part += std::to_string(index);
    part += ']';
    parts_.push_back(std::move(part));
  }
  void Pop() { parts_.pop_back(); }

  // The path of `key` in the mapping being read.
  std::string Of(std::string_view key) const {
    std::string path;
    for (const std::string& part : parts_) {
      if (!path.empty() && part[0] != '[') path += '.';
      path += part;
    }
    if (!path.empty()) path += '.';
    path += key;
    return path;
  }

 private:
  std::vector<std::string> parts_;
};

// The keys of one mapping and where each was first given: refuses a second one naming its path.
class KeySet {
 public:
  Status Add(const std::string& key, int line, const Path& path) {
    const auto [it, added] = first_line_.emplace(key, line);
    if (added) return Status::Ok();
    return LineError(line, "the key '" + path.Of(key) + "' is given twice (first on line " +
                               std::to_string(it->second) + ")");
  }

 private:
  std::map<std::string, int> first_line_;
};

// Text in flow context ("[a, b]", "{low: 1}"), which may continue over several lines: the lines joined
// by blanks, with where each starts, so that an error names the line it is on.
struct FlowText {
  std::string text;
  std::vector<std::pair<size_t, int>> starts;  // (offset in text, line number), by offset

  FlowText(std::string first, int line) : text(std::move(first)), starts{{0, line}} {}

  void Append(const std::string& more, int line) {
    text += ' ';
    starts.emplace_back(text.size(), line);
    text += more;
  }

  int LineAt(size_t offset) const {
    auto it = std::upper_bound(starts.begin(), starts.end(), std::make_pair(offset, INT_MAX));
    return std::prev(it)->second;
  }
};

// Where a scan outside quotes stands: the quote open (0 for none) and the number of brackets open.
struct ScanState {
  char quote = 0;
  int depth = 0;
};

// Walks `text` outside quoted scalars (a backslash escapes the next character inside double quotes only),
// calling `stop(i, depth)` at each other character, `depth` the number of brackets ('[', '{') open
// before it. Returns the first i where `stop` is true, or nothing. With `state`, the walk starts where it
// says (text that continues an earlier scan) and, when nothing stops it, leaves it as at the end.
template <typename Stop>
std::optional<size_t> ScanUnquoted(std::string_view text, Stop stop, ScanState* state = nullptr) {
  char quote = state != nullptr ? state->quote : 0;
  int depth = state != nullptr ? state->depth : 0;
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
  if (state != nullptr) *state = {quote, depth};
  return std::nullopt;
}

// `text` less a comment: a '#' at its start or after a blank, outside quotes.
std::string StripComment(std::string_view text) {
  const std::optional<size_t> hash = ScanUnquoted(text, [&](size_t i, int) {
    return text[i] == '#' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t');
  });
  return std::string(hash ? text.substr(0, *hash) : text);
}

// Reads one scalar or flow collection from flow text, for a flow context (`in_flow`: stops at ',', ']'
// and '}'; `key`: also at ':'). Nested collections extend `*path`, which must outlive the reader.
class FlowReader {
 public:
  FlowReader(const FlowText& flow, Path* path) : flow_(flow), text_(flow.text), path_(path) {}

  Result<YamlNode> ReadAll() {
    auto node = Read(false, false);
    if (!node.ok()) return node;
    SkipBlanks();
    if (pos_ != text_.size()) {
      return LineError(Line(), "unexpected '" + std::string(text_.substr(pos_)) + "' after a value");
    }
    return node;
  }

 private:
  int Line() const { return flow_.LineAt(pos_); }

  void SkipBlanks() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n')) ++pos_;
  }

  Result<YamlNode> Read(bool in_flow, bool key) {
    SkipBlanks();
    YamlNode node;
    node.line = Line();
    if (pos_ >= text_.size()) return node;  // nothing: null
    const char c = text_[pos_];
    if (c == '[' || c == '{') {
      if (key)
        return LineError(node.line, std::string("a key must be a scalar, not a collection ('") + c + "')");
      return ReadCollection(c == '{');
    }
    if (c == '"' || c == '\'') return ReadQuoted(c);
    if (std::string_view("&*!|>?%@`").find(c) != std::string_view::npos) {
      return LineError(node.line, std::string("'") + c +
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
    node.line = Line();
    node.quoted = true;
    ++pos_;
    while (true) {
      if (pos_ >= text_.size())
        return LineError(node.line, std::string("unterminated ") + quote + "quoted string");
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
      if (pos_ >= text_.size()) return LineError(node.line, "a '\\' ends the string");
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
            return LineError(Line(), "\\u needs four hexadecimal digits");
          }
          pos_ += 4;
          AppendUtf8(code, &node.text);
          break;
        }
        default:
          return LineError(Line(), std::string("unknown escape \\") + e);
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
    node.line = Line();
    HPO_RETURN_IF_ERROR(path_->Enter(node.line));
    node.kind = mapping ? YamlNode::Kind::kMap : YamlNode::Kind::kSeq;
    const char close = mapping ? '}' : ']';
    ++pos_;
    KeySet keys;
    while (true) {
      SkipBlanks();
      if (pos_ >= text_.size()) return LineError(node.line, std::string("no closing '") + close + "'");
      if (text_[pos_] == close) {
        ++pos_;
        return node;
      }
      if (mapping) {
        auto key = Read(true, true);
        if (!key.ok()) return key.status();
        HPO_RETURN_IF_ERROR(keys.Add(key->text, key->line, *path_));
        SkipBlanks();
        if (pos_ >= text_.size() || text_[pos_] != ':') {
          return LineError(Line(), "expected ':' after the key '" + key->text + "'");
        }
        ++pos_;
        path_->PushKey(key->text);
        auto value = Read(true, false);
        path_->Pop();
        if (!value.ok()) return value.status();
        node.map.push_back({key->text, std::move(*value)});
      } else {
        path_->PushIndex(node.seq.size());
        auto value = Read(true, false);
        path_->Pop();
        if (!value.ok()) return value.status();
        node.seq.push_back(std::move(*value));
      }
      SkipBlanks();
      if (pos_ >= text_.size()) return LineError(node.line, std::string("no closing '") + close + "'");
      if (text_[pos_] == ',') {
        ++pos_;
      } else if (text_[pos_] != close) {
        return LineError(Line(), std::string("expected ',' or '") + close + "'");
      }
    }
  }

  const FlowText& flow_;
  std::string_view text_;
  Path* path_;
  size_t pos_ = 0;
};

// Scans `more`, the next part of a text whose scan so far left `*state`: true when the text's brackets
// (outside quotes) are all closed. Continuing a scan keeps a collection over many lines linear in its
// size.
bool Balanced(std::string_view more, ScanState* state) {
  ScanUnquoted(
      more, [](size_t, int) { return false; }, state);
  return state->depth <= 0;
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
    FlowText flow(std::move(text), number);
    if (!flow.text.empty() && (flow.text[0] == '[' || flow.text[0] == '{')) {
      ScanState scan;
      size_t scanned = 0;
      while (!Balanced(std::string_view(flow.text).substr(scanned), &scan) && i_ < lines_.size()) {
        scanned = flow.text.size();
        flow.Append(lines_[i_].content, lines_[i_].number);
        ++i_;
      }
    }
    return FlowReader(flow, &path_).ReadAll();
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
    HPO_RETURN_IF_ERROR(path_.Enter(node.line));
    while (i_ < lines_.size() && lines_[i_].indent == indent && IsSequenceItem(lines_[i_].content)) {
      Line& line = lines_[i_];
      size_t offset = 1;
      while (offset < line.content.size() && line.content[offset] == ' ') ++offset;
      const std::string rest = line.content.substr(offset);
      path_.PushIndex(node.seq.size());
      Result<YamlNode> item = YamlNode{};
      if (!rest.empty() && (IsSequenceItem(rest) || KeyColon(rest))) {
        // "- key: value" or "- - item": the rest is a block whose indentation is where it starts.
        line.indent += static_cast<int>(offset);
        line.content = rest;
        item = ReadBlock(line.indent);
      } else {
        item = ReadValue(rest, indent, line.number, false);
      }
      path_.Pop();
      if (!item.ok()) return item;
      node.seq.push_back(std::move(*item));
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
    HPO_RETURN_IF_ERROR(path_.Enter(node.line));
    KeySet keys;
    while (i_ < lines_.size() && lines_[i_].indent == indent) {
      const Line& line = lines_[i_];
      if (IsSequenceItem(line.content))
        return LineError(line.number, "a sequence item where a key was expected");
      const std::optional<size_t> colon = KeyColon(line.content);
      if (!colon) return LineError(line.number, "expected 'key: value', got '" + line.content + "'");
      const FlowText key_text(std::string(Trim(std::string_view(line.content).substr(0, *colon))),
                              line.number);
      auto key = FlowReader(key_text, &path_).ReadAll();
      if (!key.ok()) return key.status();
      if (key->kind != YamlNode::Kind::kScalar || key->text.empty()) {
        return LineError(line.number, "a key must be a non-empty scalar");
      }
      HPO_RETURN_IF_ERROR(keys.Add(key->text, line.number, path_));
      const std::string rest(Trim(std::string_view(line.content).substr(*colon + 1)));
      path_.PushKey(key->text);
      auto value = ReadValue(rest, indent, line.number, true);
      path_.Pop();
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
  Path path_;
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
