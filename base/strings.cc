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
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
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
          char escape[8];
          std::snprintf(escape, sizeof(escape), "\\u%04x", static_cast<unsigned>(c));
          out += escape;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace hpo
