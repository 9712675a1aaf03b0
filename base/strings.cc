#include "base/strings.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>

namespace hpo {
namespace {

// Python's repr writes decimal exponents in [kPythonMinPositional, kPythonMaxPositional] positionally.
constexpr int kPythonMinPositional = -4;
constexpr int kPythonMaxPositional = 15;

// Lays out std::to_chars's shortest scientific text ("[-]d[.ddd]e(+|-)dd") as Python's repr does.
std::string PythonLayout(std::string_view scientific) {
  const size_t e = scientific.find('e');
  int exponent = 0;
  std::from_chars(scientific.data() + e + 2, scientific.data() + scientific.size(), exponent);
  if (scientific[e + 1] == '-') exponent = -exponent;
  if (exponent < kPythonMinPositional || exponent > kPythonMaxPositional) return std::string(scientific);

  const bool negative = scientific.front() == '-';
  std::string digits;
  for (char c : scientific.substr(negative ? 1 : 0, e - (negative ? 1 : 0))) {
    if (c != '.') digits += c;
  }
  std::string out = negative ? "-" : "";
  if (exponent < 0) {
    out += "0.";
    out.append(static_cast<size_t>(-exponent - 1), '0');
    out += digits;
    return out;
  }
  const size_t integer_digits = static_cast<size_t>(exponent) + 1;
  if (digits.size() <= integer_digits) {
    out += digits;
    out.append(integer_digits - digits.size(), '0');
  } else {
    out += digits.substr(0, integer_digits);
    out += '.';
    out += digits.substr(integer_digits);
  }
  return out;
}

// The code point of the UTF-8 sequence that starts `text` and its length in *length; *length is 0 (and
// the result meaningless) when `text` does not start with one.
char32_t DecodeUtf8(std::string_view text, size_t* length) {
  *length = 0;
  if (text.empty()) return 0;
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char b = byte(0);
  size_t n = 0;
  char32_t code = 0, least = 0;
  if (b < 0x80) {
    *length = 1;
    return b;
  }
  if ((b & 0xe0) == 0xc0) {
    n = 2, code = b & 0x1f, least = 0x80;
  } else if ((b & 0xf0) == 0xe0) {
    n = 3, code = b & 0x0f, least = 0x800;
  } else if ((b & 0xf8) == 0xf0) {
    n = 4, code = b & 0x07, least = 0x10000;
  } else {
    return 0;
  }
  if (text.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (byte(i) & 0x3f);
  }
  if (code < least || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
  *length = n;
  return code;
}

// C0 controls, DEL and the C1 controls: what a terminal may act on rather than print.
bool IsControl(char32_t code_point) {
  return code_point < 0x20 || (code_point >= 0x7f && code_point <= 0x9f);
}

// "\u202e" (JSON's form, also used for people: four lowercase hex digits; every code point escaped here
// is below U+10000).
std::string UnicodeEscape(char32_t code_point) {
  char escape[16];
  std::snprintf(escape, sizeof(escape), "\\u%04x", static_cast<unsigned>(code_point));
  return escape;
}

std::string ByteEscape(unsigned char byte) {
  char escape[16];
  std::snprintf(escape, sizeof(escape), "\\x%02x", static_cast<unsigned>(byte));
  return escape;
}

std::string CodePointName(char32_t code_point) {
  char name[16];
  std::snprintf(name, sizeof(name), "U+%04X", static_cast<unsigned>(code_point));
  return name;
}

}  // namespace

std::string FormatDouble(double v, DoubleLayout layout) {
  if (std::isnan(v)) return "nan";  // to_chars may write "-nan"
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // A double's shortest text is at most 24 characters in either layout ("-2.2250738585072014e-308").
  char buffer[64];
  if (layout == DoubleLayout::kShortest) {
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), v);
    return ec == std::errc() ? std::string(buffer, end) : std::string();
  }
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), v, std::chars_format::scientific);
  if (ec != std::errc()) return {};
  return PythonLayout(std::string_view(buffer, static_cast<size_t>(end - buffer)));
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

std::string_view FindLastLine(std::string_view text, const std::function<bool(std::string_view)>& accept) {
  size_t end = text.size();
  while (end > 0) {
    const size_t newline = text.rfind('\n', end - 1);
    const size_t begin = newline == std::string_view::npos ? 0 : newline + 1;
    const std::string_view line = Trim(text.substr(begin, end - begin));
    if (accept(line)) return line;
    if (newline == std::string_view::npos) break;
    end = newline;
  }
  return {};
}

std::string JsonQuote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      // A C1 or bidirectional control is escaped whole; other UTF-8 (and bytes that are not) as is.
      size_t n = 0;
      const char32_t code_point = DecodeUtf8(text.substr(i), &n);
      if (n > 0 && (IsControl(code_point) || IsBidiControl(code_point))) {
        out += UnicodeEscape(code_point);
        i += n - 1;
        continue;
      }
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += UnicodeEscape(c);
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

size_t Utf8SequenceLength(std::string_view text) {
  size_t length = 0;
  DecodeUtf8(text, &length);
  return length;
}

bool IsBidiControl(char32_t code_point) {
  return code_point == 0x061c || code_point == 0x200e || code_point == 0x200f ||
         (code_point >= 0x202a && code_point <= 0x202e) || (code_point >= 0x2066 && code_point <= 0x2069);
}

std::string DisplayTextProblem(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    size_t n = 0;
    const char32_t code_point = DecodeUtf8(text.substr(i), &n);
    if (n == 0) return "not valid UTF-8 (at byte " + std::to_string(i) + ")";
    if (IsControl(code_point)) return "holds a control character (at byte " + std::to_string(i) + ")";
    if (IsBidiControl(code_point)) {
      return "holds the bidirectional control " + CodePointName(code_point) + " (at byte " +
             std::to_string(i) + ")";
    }
    i += n;
  }
  return "";
}

std::string EscapeForTerminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t n = 0;
    const char32_t code_point = DecodeUtf8(text.substr(i), &n);
    if (n == 0) {
      out += ByteEscape(static_cast<unsigned char>(text[i]));
      ++i;
      continue;
    }
    if (code_point == '\t') {
      out += "\\t";
    } else if (code_point == '\n') {
      out += "\\n";
    } else if (code_point == '\r') {
      out += "\\r";
    } else if (code_point < 0x20 || code_point == 0x7f) {
      out += ByteEscape(static_cast<unsigned char>(code_point));
    } else if (IsControl(code_point) || IsBidiControl(code_point)) {
      out += UnicodeEscape(code_point);
    } else {
      out.append(text, i, n);
    }
    i += n;
  }
  return out;
}

}  // namespace hpo
