#include "worker/metrics_line.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>

#include "base/strings.h"

namespace hpo::worker {
namespace {

constexpr size_t kMaxQuotedLine = 200;

std::string Quoted(std::string_view line) {
  if (line.size() <= kMaxQuotedLine) return std::string(line);
  return std::string(line.substr(0, kMaxQuotedLine)) + "...";
}

// Whether a (trimmed) line looks like a JSON object.
bool LooksLikeObject(std::string_view line) {
  return line.size() >= 2 && line.front() == '{' && line.back() == '}';
}

// The last line of `text` that looks like a JSON object, or an empty view.
std::string_view LastObjectLine(std::string_view text) {
  return FindLastLine(text, [](std::string_view line) { return LooksLikeObject(line); });
}

// The metrics of `line`, the object line found (empty: none).
Result<TrialMetrics> ParseObjectLine(std::string_view line) {
  if (line.empty()) return NotFoundError("no line of output is a JSON object");
  if (line.size() > kMaxMetricsLineBytes) return InvalidArgumentError(MetricsLineTooLarge(line.size()));

  google::protobuf::Struct object;
  const auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(line.data(), line.size()), &object);
  if (!parsed.ok()) {
    // The parser's message goes on to quote the line with a caret under the error: keep its first line.
    const auto message = parsed.message();
    std::string reason(message.data(), message.size());
    reason = reason.substr(0, reason.find('\n'));
    return InvalidArgumentError("metrics line is not valid JSON (" + reason + "): " + Quoted(line));
  }

  TrialMetrics result;
  for (const auto& [name, value] : object.fields()) {
    if (value.kind_case() == google::protobuf::Value::kNumberValue) {
      if (!std::isfinite(value.number_value())) {
        return InvalidArgumentError("metric \"" + name + "\" is not a finite number: " + Quoted(line));
      }
      result.metrics[name] = value.number_value();
    } else if (value.kind_case() == google::protobuf::Value::kStringValue) {
      const std::string& s = value.string_value();
      if (name == "device") {
        result.device = s;
      } else if (s == "NaN" || s == "Infinity" || s == "-Infinity") {
        return InvalidArgumentError("metric \"" + name + "\" is " + s + ": " + Quoted(line));
      }
    }
  }
  return result;
}

}  // namespace

std::string MetricsLineTooLarge(size_t bytes) {
  return "metrics line too large (" + std::to_string(bytes) + " bytes, limit " +
         std::to_string(kMaxMetricsLineBytes) + ")";
}

Result<TrialMetrics> ParseMetricsLine(std::string_view stdout_text) {
  return ParseObjectLine(LastObjectLine(stdout_text));
}

Result<TrialMetrics> ParseFinalMetricsLine(std::string_view stdout_text) {
  return ParseObjectLine(FindLastLine(stdout_text, [](std::string_view line) {
    return LooksLikeObject(line) && !ParseProgressLine(line).has_value();
  }));
}

std::optional<ProgressLine> ParseProgressLine(std::string_view line) {
  constexpr double kMaxStep = 9007199254740992.0;  // 2^53: every whole number up to it is a double
  line = Trim(line);
  if (line.size() > kMaxMetricsLineBytes || !LooksLikeObject(line) ||
      line.find("step") == std::string_view::npos) {
    return std::nullopt;
  }
  google::protobuf::Struct object;
  if (!google::protobuf::util::JsonStringToMessage(google::protobuf::StringPiece(line.data(), line.size()),
                                                   &object)
           .ok()) {
    return std::nullopt;
  }
  const auto step = object.fields().find("step");
  if (step == object.fields().end() || step->second.kind_case() != google::protobuf::Value::kNumberValue) {
    return std::nullopt;
  }
  const double value = step->second.number_value();
  if (!(value >= 0 && value <= kMaxStep) || std::trunc(value) != value) return std::nullopt;
  ProgressLine progress;
  progress.step = static_cast<uint64_t>(value);
  for (const auto& [name, field] : object.fields()) {
    if (name == "step" || field.kind_case() != google::protobuf::Value::kNumberValue) continue;
    if (std::isfinite(field.number_value())) progress.metrics[name] = field.number_value();
  }
  return progress;
}

}  // namespace hpo::worker
