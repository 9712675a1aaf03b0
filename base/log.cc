#include "base/log.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "base/strings.h"

namespace hpo::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_format{static_cast<int>(Format::kText)};

std::mutex& SinkMutex() {
  static std::mutex mu;
  return mu;
}
// GUARDED_BY(SinkMutex())
std::function<void(std::string_view)>& Sink() {
  static auto* sink = new std::function<void(std::string_view)>();  // never destroyed: logged at exit too
  return *sink;
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

// logfmt leaves a value bare unless it is empty or holds a space, '=', '"', '\' or a control character.
bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u == 0x7f || c == '=' || c == '"' || c == '\\') return true;
  }
  return false;
}

// "2025-05-01T12:00:00.123Z".
std::string Timestamp(int64_t unix_ms) {
  int64_t seconds = unix_ms / 1000;
  int64_t millis = unix_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[80];  // room for any int the fields could hold, as -Wformat-truncation asks
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return buffer;
}

}  // namespace

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

Result<Level> ParseLevel(std::string_view name) {
  const std::string lower = Lower(name);
  if (lower == "debug") return Level::kDebug;
  if (lower == "info") return Level::kInfo;
  if (lower == "warn" || lower == "warning") return Level::kWarn;
  if (lower == "error") return Level::kError;
  return InvalidArgumentError("log level: \"" + std::string(name) +
                              "\" is not one of debug, info, warn, error");
}

Result<Format> ParseFormat(std::string_view name) {
  const std::string lower = Lower(name);
  if (lower == "text") return Format::kText;
  if (lower == "json") return Format::kJson;
  return InvalidArgumentError("log format: \"" + std::string(name) + "\" is not one of text, json");
}

Field::Field(std::string_view key, double value)
    : key_(key), kind_(Kind::kNumber), number_(FormatDouble(value)) {
  if (!std::isfinite(value)) kind_ = Kind::kNonFinite;
}

std::string Field::Text() const {
  if (kind_ != Kind::kString) return number_;
  return NeedsQuotes(text_) ? JsonQuote(text_) : std::string(text_);
}

std::string Field::Json() const {
  switch (kind_) {
    case Kind::kString:
      return JsonQuote(text_);
    case Kind::kNonFinite:
      return JsonQuote(number_);
    case Kind::kNumber:
    case Kind::kBool:
      break;
  }
  return number_;
}

void Configure(Level level, Format format) {
  g_level.store(static_cast<int>(level));
  g_format.store(static_cast<int>(format));
}

Level CurrentLevel() { return static_cast<Level>(g_level.load()); }

bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(); }

void SetSink(std::function<void(std::string_view line)> sink) {
  std::lock_guard lock(SinkMutex());
  Sink() = std::move(sink);
}

std::string FormatLine(Format format, int64_t unix_ms, Level level, std::string_view message,
                       std::span<const Field> fields) {
  std::string line;
  line.reserve(96 + 24 * fields.size());
  if (format == Format::kJson) {
    line += "{\"time\":\"" + Timestamp(unix_ms) + "\",\"level\":\"";
    line += LevelName(level);
    line += "\",\"msg\":" + JsonQuote(message);
    for (const Field& field : fields) {
      line += ',' + JsonQuote(field.key()) + ':' + field.Json();
    }
    line += "}\n";
    return line;
  }
  line += "time=" + Timestamp(unix_ms) + " level=";
  line += LevelName(level);
  line += " msg=" + JsonQuote(message);
  for (const Field& field : fields) {
    line += ' ';
    line += field.key();
    line += '=' + field.Text();
  }
  line += '\n';
  return line;
}

void Write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const std::string line = FormatLine(static_cast<Format>(g_format.load()), now_ms, level, message,
                                      std::span<const Field>(fields.begin(), fields.size()));
  std::lock_guard lock(SinkMutex());
  if (Sink()) {
    Sink()(line);
    return;
  }
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace hpo::log
