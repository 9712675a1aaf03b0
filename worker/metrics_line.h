// The metrics line: how a trial's program (hpo-train, or a user's command) reports its result. It prints
// one JSON object on a line of stdout, e.g.
//   {"accuracy":0.85,"loss":0.4,"latency_ms":0.05,"device":"cpu: Intel Xeon (2 threads)"}
// and may print anything else before it. The last line that is a JSON object wins.
//
// Free functions on plain values; safe to call from any thread.
#ifndef HPO_WORKER_METRICS_LINE_H_
#define HPO_WORKER_METRICS_LINE_H_

#include <map>
#include <string>
#include <string_view>

#include "base/status.h"

namespace hpo::worker {

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
// Errors: NOT_FOUND when no line looks like a JSON object; INVALID_ARGUMENT when that last line is not
// valid JSON, or a metric is not finite (a number out of double's range, or a string "NaN", "Infinity"
// or "-Infinity", as protobuf's JSON writer prints non-finite doubles). The message says which.
Result<TrialMetrics> ParseMetricsLine(std::string_view stdout_text);

}  // namespace hpo::worker

#endif  // HPO_WORKER_METRICS_LINE_H_
