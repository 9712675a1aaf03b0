// Small text helpers shared by every part of hpo: double formatting that reads back bit for bit, white
// space trimming, the last line of a text that satisfies a test, and JSON string literals.
//
// Free functions on plain values; safe to call from any thread. A returned std::string_view points into
// the argument and is valid as long as the argument's characters are.
#ifndef HPO_BASE_STRINGS_H_
#define HPO_BASE_STRINGS_H_

#include <functional>
#include <string>
#include <string_view>

namespace hpo {

// How FormatDouble lays out a double's shortest digits.
enum class DoubleLayout {
  // std::to_chars's layout: of positional and scientific, whichever is fewer characters (positional on a
  // tie): "0.1", "3", "0.001", "1e-04", "1e-05", "123456", "1e+06", "0.30000000000000004".
  kShortest,
  // Python's repr (less its ".0" on integral values): positional for decimal exponents -4..15,
  // scientific otherwise: "0.0003", "0.0001", "1e-05", "-2.5e-07", "1000000", "1000000000000000", "1e+16".
  kPython,
};

// The shortest decimal text that reads back (std::from_chars, strtod, Python's float) to exactly `v`,
// bit for bit (-0.0 is "-0"), laid out as `layout` says. Non-finite values are "inf", "-inf" and "nan".
std::string FormatDouble(double v, DoubleLayout layout = DoubleLayout::kShortest);

// `s` without leading and trailing white space (' ', \t, \n, \r, \f, \v); empty when all of it is.
std::string_view Trim(std::string_view s);

// The last line of `text` for which `accept` is true, trimmed (Trim) before it is tested; an empty view
// when there is none. Lines end at '\n' (a "\r\n" ending is trimmed away with the rest of the white space).
std::string_view FindLastLine(std::string_view text, const std::function<bool(std::string_view)>& accept);

// `text` as a JSON string literal, quotes included: '"' and '\' escaped, \b \f \n \r \t as such, every
// other control character (below 0x20, and 0x7f) as \u00XX; all else, UTF-8 included, as is.
std::string JsonQuote(std::string_view text);

}  // namespace hpo

#endif  // HPO_BASE_STRINGS_H_
