// Log: the structured event log of hpo's daemons. One line per event: a UTC timestamp, a level, a short
// message that names the event, and key=value fields, either as logfmt text
//   time=2025-05-01T12:00:00.123Z level=info msg="study created" study_id=3 name="zdt1 run"
// or as one JSON object per line
//   {"time":"2025-05-01T12:00:00.123Z","level":"info","msg":"study created","study_id":3,"name":"zdt1 run"}
// Lines below the configured level are dropped before they are formatted. Messages are fixed phrases
// ("lease expired"); what varies goes in fields, so that the lines can be searched and aggregated.
//
// Process-wide: Configure() sets the level and format for every thread (default: info, text). Write()
// and its shorthands are thread-safe; each line is written whole with one call to the sink (stderr
// unless a test sets one), so lines of different threads never interleave.
#ifndef HPO_BASE_LOG_H_
#define HPO_BASE_LOG_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "base/status.h"

namespace hpo::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

// "debug", "info", "warn", "error".
std::string_view LevelName(Level level);
// The level named `name` ("debug", "info", "warn" or "warning", "error"; any case). INVALID_ARGUMENT
// listing the names otherwise.
Result<Level> ParseLevel(std::string_view name);
// "text" or "json"; INVALID_ARGUMENT otherwise.
Result<Format> ParseFormat(std::string_view name);

// One key=value pair of an event. Keys are snake_case words chosen by the caller (written as is);
// values are strings, integers, doubles or booleans. A Field refers to its key and string value: use it
// only within the Write() call it is built for.
class Field {
 public:
  Field(std::string_view key, std::string_view value) : key_(key), kind_(Kind::kString), text_(value) {}
  Field(std::string_view key, const char* value) : Field(key, std::string_view(value)) {}
  Field(std::string_view key, const std::string& value) : Field(key, std::string_view(value)) {}
  Field(std::string_view key, bool value)
      : key_(key), kind_(Kind::kBool), number_(value ? "true" : "false") {}
  Field(std::string_view key, double value);
  template <typename T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) Field(std::string_view key, T value)
      : key_(key), kind_(Kind::kNumber), number_(std::to_string(value)) {}

  std::string_view key() const { return key_; }
  // The value as logfmt writes it (quoted when it must be) and as JSON writes it.
  std::string Text() const;
  std::string Json() const;

 private:
  // kNonFinite: a double that is NaN or infinite, a bare word in text and a string in JSON (which has
  // no such numbers).
  enum class Kind { kString, kNumber, kBool, kNonFinite };
  std::string_view key_;
  Kind kind_;
  std::string_view text_;  // kString
  std::string number_;     // every other kind
};

// Sets the process-wide level (lines below it are dropped) and format.
void Configure(Level level, Format format);
Level CurrentLevel();
// True when a line at `level` would be written.
bool Enabled(Level level);

// Where lines go: each call gets one whole line, newline included. nullptr: stderr (the default).
// For tests; called with the log's mutex held, so the sink must not log.
void SetSink(std::function<void(std::string_view line)> sink);

// Writes one event at `level` when Enabled(level).
void Write(Level level, std::string_view message, std::initializer_list<Field> fields = {});
inline void Debug(std::string_view message, std::initializer_list<Field> fields = {}) {
  Write(Level::kDebug, message, fields);
}
inline void Info(std::string_view message, std::initializer_list<Field> fields = {}) {
  Write(Level::kInfo, message, fields);
}
inline void Warn(std::string_view message, std::initializer_list<Field> fields = {}) {
  Write(Level::kWarn, message, fields);
}
inline void Error(std::string_view message, std::initializer_list<Field> fields = {}) {
  Write(Level::kError, message, fields);
}

// The line Write() would write for an event at `unix_ms` (milliseconds since the epoch), newline
// included. Pure; for tests and for callers that keep their own sink.
std::string FormatLine(Format format, int64_t unix_ms, Level level, std::string_view message,
                       std::span<const Field> fields);

}  // namespace hpo::log

#endif  // HPO_BASE_LOG_H_
