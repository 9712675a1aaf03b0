// Small text helpers shared by every part of hpo: double formatting that reads back bit for bit, white
// space trimming, the last line of a text that satisfies a test, JSON string literals, and text that is
// safe to show in a terminal (UTF-8 without control characters or bidirectional controls).
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
// other control character (below 0x20, and 0x7f) as \u00XX, and the C1 controls (U+0080..U+009F) and
// bidirectional controls (IsBidiControl) as \uXXXX; all else, other UTF-8 included, as is.
std::string JsonQuote(std::string_view text);

// The length in bytes of the UTF-8 sequence that starts `text`, or 0 when it does not start with one
// (an empty text, a stray continuation byte, a truncated sequence, an overlong form, a surrogate, or a
// code point above U+10FFFF).
size_t Utf8SequenceLength(std::string_view text);

// True for the Unicode bidirectional controls: U+061C, U+200E, U+200F, U+202A..U+202E and
// U+2066..U+2069. Shown raw, they reorder what a terminal prints after them, so that a name can read as
// another ("Trojan Source", CVE-2021-42574).
bool IsBidiControl(char32_t code_point);

// What makes `text` unfit as a name or value that people will see in a terminal: "not valid UTF-8 (at
// byte N)", "holds a control character (at byte N)" (below 0x20, 0x7f, or U+0080..U+009F) or "holds the
// bidirectional control U+202E (at byte N)"; "" when nothing does. Lengths are the caller's to check.
std::string DisplayTextProblem(std::string_view text);

// `text` for a terminal: each control character written as a visible escape (\t, \n, \r, \xNN for the
// other bytes below 0x20 and 0x7f), C1 and bidirectional controls as \uXXXX, and bytes that are not
// UTF-8 as \xNN; all else as is. Backslashes themselves are kept, so the result is for people to read,
// not to parse back. DisplayTextProblem(result) is always "".
std::string EscapeForTerminal(std::string_view text);

}  // namespace hpo

#endif  // HPO_BASE_STRINGS_H_
