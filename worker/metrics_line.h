// The metrics line: how a trial's program (hpo-train, or a user's command) reports its result. It prints
// one JSON object on a line of stdout, e.g.
//   {"accuracy":0.85,"loss":0.4,"latency_ms":0.05,"device":"cpu: Intel Xeon (2 threads)"}
// and may print anything else before it. The last line that is a JSON object wins. Before it, the trainer
// and a user's command may print progress lines: JSON objects with a "step", e.g. {"step": 3, "loss": 0.41}.
//
// Free functions on plain values; safe to call from any thread.
#ifndef HPO_WORKER_METRICS_LINE_H_
#define HPO_WORKER_METRICS_LINE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace hpo::worker {

// The longest metrics line a trial may print, in bytes (1 MiB): far above any real set of metrics, well
// below what a CompleteTrial message may carry. A longer line fails the trial at once.
constexpr size_t kMaxMetricsLineBytes = size_t{1} << 20;

// The error for a metrics line of `bytes` bytes, over kMaxMetricsLineBytes:
// "metrics line too large (N bytes, limit M)".
std::string MetricsLineTooLarge(size_t bytes);

// What one trial measured.
struct TrialMetrics {
  std::map<std::string, double> metrics;  // every finite number of the line, by field name
  std::string device;                     // the line's string field "device"; "" when absent
};

// Parses the metrics line of `stdout_text`: the last line that, without surrounding white space, starts
// with '{' and ends with '}'. Every number field becomes a metric and the string field "device" the
// device; other fields (strings, booleans, null, lists, objects) are ignored.
// The JSON is read by protobuf's parser (JsonStringToMessage into a google.protobuf.Struct), which also
// takes unquoted or single-quoted keys and a trailing comma.
// Errors: NOT_FOUND when no line looks like a JSON object; INVALID_ARGUMENT when that last line is
// longer than kMaxMetricsLineBytes (MetricsLineTooLarge, before it is parsed), is not valid JSON, or a
// metric is not finite (a number out of double's range, or a string "NaN", "Infinity"
// or "-Infinity", as protobuf's JSON writer prints non-finite doubles). The message says which.
Result<TrialMetrics> ParseMetricsLine(std::string_view stdout_text);

// As ParseMetricsLine, but lines that are progress lines (ParseProgressLine: they have a "step") are
// passed over: the result of a program whose final line never has a step (hpo-train), so that a
// progress line is never taken for it. NOT_FOUND when no other line looks like a JSON object.
Result<TrialMetrics> ParseFinalMetricsLine(std::string_view stdout_text);

// One progress line of a running trial.
struct ProgressLine {
  uint64_t step = 0;
  std::map<std::string, double> metrics;  // the line's other finite number fields, by name
};

// `line` as a progress line: without surrounding white space a JSON object (as ParseMetricsLine reads
// it) whose field "step" is a whole number in [0, 2^53]. Other fields that are not finite numbers are
// left out. nullopt for any other line (no JSON object, no "step", or a step that is not such a number).
std::optional<ProgressLine> ParseProgressLine(std::string_view line);

}  // namespace hpo::worker

#endif  // HPO_WORKER_METRICS_LINE_H_
