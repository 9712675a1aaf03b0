// The structured log: the logfmt and JSON layouts of one event, quoting, levels and the sink.
#include "base/log.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace hpo::log {
namespace {

// 2025-05-01T12:00:00.123Z
constexpr int64_t kMay1Noon = 1'746'100'800'123;

TEST(LogTest, TextLinesAreLogfmtWithQuotesOnlyWhereNeeded) {
  const std::vector<Field> fields = {
      {"study_id", uint64_t{3}}, {"name", "zdt1 run"}, {"state", "done"}, {"empty", ""},
      {"ratio", 0.25},           {"ok", true},         {"quote", "a\"b"}, {"eq", "k=v"}};
  EXPECT_EQ(FormatLine(Format::kText, kMay1Noon, Level::kInfo, "study created", fields),
            "time=2025-05-01T12:00:00.123Z level=info msg=\"study created\" study_id=3 name=\"zdt1 run\" "
            "state=done empty=\"\" ratio=0.25 ok=true quote=\"a\\\"b\" eq=\"k=v\"\n");
}

TEST(LogTest, JsonLinesAreOneObjectWithTypedValues) {
  const std::vector<Field> fields = {{"study_id", 3}, {"name", "line\nbreak"}, {"ms", -1.5}, {"ok", false}};
  EXPECT_EQ(FormatLine(Format::kJson, kMay1Noon, Level::kWarn, "lease expired", fields),
            "{\"time\":\"2025-05-01T12:00:00.123Z\",\"level\":\"warn\",\"msg\":\"lease expired\","
            "\"study_id\":3,\"name\":\"line\\nbreak\",\"ms\":-1.5,\"ok\":false}\n");
}

TEST(LogTest, NonFiniteDoublesAreWordsInTextAndStringsInJson) {
  const std::vector<Field> fields = {{"x", std::nan("")}, {"y", -INFINITY}};
  EXPECT_EQ(FormatLine(Format::kText, 0, Level::kError, "m", fields),
            "time=1970-01-01T00:00:00.000Z level=error msg=\"m\" x=nan y=-inf\n");
  EXPECT_EQ(FormatLine(Format::kJson, 0, Level::kError, "m", fields),
            "{\"time\":\"1970-01-01T00:00:00.000Z\",\"level\":\"error\",\"msg\":\"m\",\"x\":\"nan\",\"y\":\"-"
            "inf\"}\n");
}

TEST(LogTest, TimestampsBeforeTheEpochKeepTheirMilliseconds) {
  EXPECT_EQ(FormatLine(Format::kText, -1, Level::kDebug, "m", {}),
            "time=1969-12-31T23:59:59.999Z level=debug msg=\"m\"\n");
}

TEST(LogTest, ParsesLevelAndFormatNamesAndNamesTheChoicesOtherwise) {
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("INFO"), Level::kInfo);
  EXPECT_EQ(*ParseLevel("warning"), Level::kWarn);
  EXPECT_EQ(*ParseLevel("Warn"), Level::kWarn);
  EXPECT_EQ(*ParseLevel("error"), Level::kError);
  const auto bad = ParseLevel("verbose");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("debug, info, warn, error"), std::string::npos);
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  EXPECT_EQ(*ParseFormat("text"), Format::kText);
  EXPECT_FALSE(ParseFormat("xml").ok());
}

TEST(LogTest, WritesWholeLinesAtOrAboveTheLevelToTheSink) {
  std::vector<std::string> lines;
  SetSink([&](std::string_view line) { lines.emplace_back(line); });
  Configure(Level::kWarn, Format::kText);
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kError));
  Debug("dropped");
  Info("dropped", {{"k", 1}});
  Warn("kept", {{"k", 2}});
  Error("also kept");
  Configure(Level::kDebug, Format::kJson);
  Debug("debug now", {{"k", "v"}});
  SetSink(nullptr);
  Configure(Level::kInfo, Format::kText);

  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find(" level=warn msg=\"kept\" k=2\n"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find(" level=error msg=\"also kept\"\n"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[2].rfind("{\"time\":", 0), 0u) << lines[2];
  EXPECT_NE(lines[2].find("\"level\":\"debug\",\"msg\":\"debug now\",\"k\":\"v\"}\n"), std::string::npos);
}

}  // namespace
}  // namespace hpo::log
