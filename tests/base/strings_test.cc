#include "base/strings.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace hpo {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Reads `text` back with std::from_chars and with strtod; both must take all of it.
void ExpectReadsBackTo(const std::string& text, double v) {
  double parsed = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  ASSERT_EQ(ec, std::errc()) << text;
  EXPECT_EQ(end, text.data() + text.size()) << text;
  EXPECT_EQ(std::bit_cast<uint64_t>(parsed), std::bit_cast<uint64_t>(v)) << text;
  char* strtod_end = nullptr;
  const double by_strtod = std::strtod(text.c_str(), &strtod_end);
  EXPECT_EQ(strtod_end, text.c_str() + text.size()) << text;
  EXPECT_EQ(std::bit_cast<uint64_t>(by_strtod), std::bit_cast<uint64_t>(v)) << text;
}

TEST(FormatDoubleTest, RandomDoublesRoundTripBitForBit) {
  std::mt19937_64 rng(20240611);
  for (int i = 0; i < 200'000; ++i) {
    // Every bit pattern: all exponents, subnormals and both signs.
    const double v = std::bit_cast<double>(rng());
    if (!std::isfinite(v)) continue;
    for (DoubleLayout layout : {DoubleLayout::kShortest, DoubleLayout::kPython}) {
      const std::string text = FormatDouble(v, layout);
      ASSERT_LE(text.size(), 24u) << text;
      ExpectReadsBackTo(text, v);
      if (HasFailure()) return;
    }
  }
}

TEST(FormatDoubleTest, EdgeValuesRoundTrip) {
  for (double v : {0.0, -0.0, 1.0, -1.0, 0.1, 1.0 / 3.0, std::numeric_limits<double>::min(),
                   std::numeric_limits<double>::denorm_min(), -std::numeric_limits<double>::denorm_min(),
                   std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest(),
                   std::numeric_limits<double>::epsilon(), 9007199254740993.0, 1e15, 1e16, 1e-4, 1e-5}) {
    for (DoubleLayout layout : {DoubleLayout::kShortest, DoubleLayout::kPython}) {
      ExpectReadsBackTo(FormatDouble(v, layout), v);
    }
  }
}

TEST(FormatDoubleTest, ShortestLayoutExamples) {
  const std::vector<std::pair<double, std::string>> cases = {
      {0.1, "0.1"},    {3.0, "3"},           {0.001, "0.001"}, {1e-4, "1e-04"},
      {1e-5, "1e-05"}, {123456.0, "123456"}, {1e6, "1e+06"},   {0.1 + 0.2, "0.30000000000000004"},
      {-0.0, "-0"},    {1e20, "1e+20"},
  };
  for (const auto& [value, text] : cases) {
    EXPECT_EQ(FormatDouble(value), text);
    EXPECT_EQ(FormatDouble(value, DoubleLayout::kShortest), text);
  }
}

TEST(FormatDoubleTest, PythonLayoutExamples) {
  const std::vector<std::pair<double, std::string>> cases = {
      {0.0003, "0.0003"}, {1e-4, "0.0001"},
      {1e-5, "1e-05"},    {-2.5e-7, "-2.5e-07"},
      {0.0, "0"},         {-0.0, "-0"},
      {1.0, "1"},         {-42.0, "-42"},
      {123.5, "123.5"},   {123456789.123456789, "123456789.12345679"},
      {1e6, "1000000"},   {1e15, "1000000000000000"},
      {1e16, "1e+16"},    {1.5e300, "1.5e+300"},
  };
  for (const auto& [value, text] : cases) EXPECT_EQ(FormatDouble(value, DoubleLayout::kPython), text);
}

TEST(FormatDoubleTest, NonFinite) {
  for (DoubleLayout layout : {DoubleLayout::kShortest, DoubleLayout::kPython}) {
    EXPECT_EQ(FormatDouble(kInf, layout), "inf");
    EXPECT_EQ(FormatDouble(-kInf, layout), "-inf");
    EXPECT_EQ(FormatDouble(std::numeric_limits<double>::quiet_NaN(), layout), "nan");
    EXPECT_EQ(FormatDouble(-std::numeric_limits<double>::quiet_NaN(), layout), "nan");
  }
}

TEST(TrimTest, RemovesSurroundingWhiteSpaceOnly) {
  EXPECT_EQ(Trim(""), "");
  EXPECT_EQ(Trim(" \t\r\n\f\v"), "");
  EXPECT_EQ(Trim("abc"), "abc");
  EXPECT_EQ(Trim("  a b\tc \r\n"), "a b\tc");
  EXPECT_EQ(Trim("\vx\f"), "x");
  const std::string_view text = "  inner  ";
  EXPECT_EQ(Trim(text).data(), text.data() + 2);  // a view into the argument
}

TEST(FindLastLineTest, LastAcceptedLineTrimmed) {
  const auto non_empty = [](std::string_view line) { return !line.empty(); };
  EXPECT_EQ(FindLastLine("first\nsecond  \r\n\n  \n", non_empty), "second");
  EXPECT_EQ(FindLastLine("only", non_empty), "only");
  EXPECT_EQ(FindLastLine("", non_empty), "");
  EXPECT_EQ(FindLastLine("\n \n\t\n", non_empty), "");
  const auto braced = [](std::string_view line) { return line.size() >= 2 && line.front() == '{'; };
  EXPECT_EQ(FindLastLine("{\"a\":1}\n{\"b\":2}\nlog line\n", braced), "{\"b\":2}");
  EXPECT_EQ(FindLastLine("no\nobject\n", braced), "");
}

TEST(JsonQuoteTest, EscapesQuotesBackslashAndControlCharacters) {
  EXPECT_EQ(JsonQuote(""), "\"\"");
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonQuote("tab\tnl\ncr\rbs\bff\f"), "\"tab\\tnl\\ncr\\rbs\\bff\\f\"");
  EXPECT_EQ(JsonQuote(std::string("\x00\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(JsonQuote("caf\xc3\xa9 /"), "\"caf\xc3\xa9 /\"");  // UTF-8 and '/' pass through
}

TEST(JsonQuoteTest, EscapesC1AndBidirectionalControls) {
  // U+009B (a terminal's CSI), U+202E (right-to-left override), U+2066: escaped, and still valid JSON.
  EXPECT_EQ(JsonQuote("a\xc2\x9b"
                      "b\xe2\x80\xae"
                      "c\xe2\x81\xa6"),
            "\"a\\u009bb\\u202ec\\u2066\"");
  EXPECT_EQ(JsonQuote("\xe2\x80\x8b"), "\"\xe2\x80\x8b\"");  // U+200B is no control: as is
  EXPECT_EQ(JsonQuote("\xe2\x80"), "\"\xe2\x80\"");          // a cut sequence is left as it was
}

TEST(Utf8Test, SequenceLengthsOfValidAndInvalidText) {
  EXPECT_EQ(Utf8SequenceLength(""), 0u);
  EXPECT_EQ(Utf8SequenceLength("a"), 1u);
  EXPECT_EQ(Utf8SequenceLength("\xc3\xa9x"), 2u);
  EXPECT_EQ(Utf8SequenceLength("\xe2\x80\xae"), 3u);
  EXPECT_EQ(Utf8SequenceLength("\xf0\x9f\x98\x80"), 4u);
  EXPECT_EQ(Utf8SequenceLength("\x80"), 0u);              // a continuation byte alone
  EXPECT_EQ(Utf8SequenceLength("\xe2\x80"), 0u);          // cut short
  EXPECT_EQ(Utf8SequenceLength("\xc0\xaf"), 0u);          // overlong '/'
  EXPECT_EQ(Utf8SequenceLength("\xed\xa0\x80"), 0u);      // a surrogate
  EXPECT_EQ(Utf8SequenceLength("\xf4\x90\x80\x80"), 0u);  // above U+10FFFF
}

TEST(DisplayTextTest, BidirectionalControlsAreExactlyTheListedOnes) {
  const std::vector<char32_t> controls = {0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c,
                                          0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069};
  for (char32_t c = 0; c < 0x3000; ++c) {
    const bool listed = std::find(controls.begin(), controls.end(), c) != controls.end();
    EXPECT_EQ(IsBidiControl(c), listed) << static_cast<unsigned>(c);
  }
}

TEST(DisplayTextTest, ProblemsNameTheByte) {
  EXPECT_EQ(DisplayTextProblem(""), "");
  EXPECT_EQ(DisplayTextProblem("accuracy caf\xc3\xa9 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xe2\x9c\x93"), "");
  EXPECT_EQ(DisplayTextProblem("acc\x1b[2J"), "holds a control character (at byte 3)");
  EXPECT_EQ(DisplayTextProblem("a\tb"), "holds a control character (at byte 1)");
  EXPECT_EQ(DisplayTextProblem("ab\x7f"), "holds a control character (at byte 2)");
  EXPECT_EQ(DisplayTextProblem("ab\xc2\x9b"), "holds a control character (at byte 2)");  // C1: U+009B
  EXPECT_EQ(DisplayTextProblem("caf\xe9"), "not valid UTF-8 (at byte 3)");
  EXPECT_EQ(DisplayTextProblem("exe.\xe2\x80\xaetxt"), "holds the bidirectional control U+202E (at byte 4)");
  EXPECT_EQ(DisplayTextProblem("\xd8\x9cx"), "holds the bidirectional control U+061C (at byte 0)");
}

TEST(DisplayTextTest, EscapedTextHasNoProblemAndKeepsWhatIsPrintable) {
  EXPECT_EQ(EscapeForTerminal("plain caf\xc3\xa9"), "plain caf\xc3\xa9");
  EXPECT_EQ(EscapeForTerminal("a\tb\nc\rd"), "a\\tb\\nc\\rd");
  EXPECT_EQ(EscapeForTerminal("\x1b[31mred\x07\x7f"), "\\x1b[31mred\\x07\\x7f");
  EXPECT_EQ(EscapeForTerminal(std::string("nul\0", 4)), "nul\\x00");
  EXPECT_EQ(EscapeForTerminal("\xc2\x9b"
                              "2J"),
            "\\u009b2J");
  EXPECT_EQ(EscapeForTerminal("gnp\xe2\x80\xae"
                              "exe"),
            "gnp\\u202eexe");
  EXPECT_EQ(EscapeForTerminal("caf\xe9!"), "caf\\xe9!");
  EXPECT_EQ(EscapeForTerminal("\xe2\x80"), "\\xe2\\x80");
  // Whatever the input, what comes out is safe to print.
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string text(static_cast<size_t>(rng() % 24), '\0');
    for (char& c : text) c = static_cast<char>(rng() % 256);
    if (i % 2 == 0) text += "\xe2\x80\xae";
    EXPECT_EQ(DisplayTextProblem(EscapeForTerminal(text)), "");
  }
}

}  // namespace
}  // namespace hpo
