// Fuzz target: the worker's metrics line parser (worker/metrics_line.h) on a trial program's stdout,
// which is untrusted (a user's command, or a trainer that crashed half way through a line).
//
// Properties: nothing crashes; a refusal is NOT_FOUND or INVALID_ARGUMENT; other output around the
// metrics line changes nothing; every metric taken is finite; and what the worker forwards to the coordinator
// (metric names and the device string, as proto3 string fields) survives a protobuf round trip, which refuses
// strings that are not UTF-8.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/stubs/logging.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_check.h"
#include "worker/metrics_line.h"

// protobuf logs each string that is not UTF-8 as it refuses it: expected here, and noise.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const hpo::Result<hpo::worker::TrialMetrics> parsed = hpo::worker::ParseMetricsLine(text);
  // Lines that are not JSON objects, before or after, change nothing.
  const std::string framed = "epoch 1/3 {loss 0.5\n" + std::string(text) + "\ndone [ok]\n";
  const hpo::Result<hpo::worker::TrialMetrics> again = hpo::worker::ParseMetricsLine(framed);
  HPO_FUZZ_REQUIRE(again.status().code() == parsed.status().code(), again.status().ToString());
  if (parsed.ok()) {
    HPO_FUZZ_REQUIRE(again->metrics == parsed->metrics && again->device == parsed->device, framed);
  }
  if (!parsed.ok()) {
    const hpo::StatusCode code = parsed.status().code();
    HPO_FUZZ_REQUIRE(code == hpo::StatusCode::kNotFound || code == hpo::StatusCode::kInvalidArgument,
                     parsed.status().ToString());
    return 0;
  }
  google::protobuf::Struct sent;
  for (const auto& [name, value] : parsed->metrics) {
    HPO_FUZZ_REQUIRE(std::isfinite(value), name);
    (*sent.mutable_fields())[name].set_number_value(value);
  }
  std::string wire;
  HPO_FUZZ_REQUIRE(sent.SerializeToString(&wire), sent.DebugString());
  google::protobuf::Struct received;
  HPO_FUZZ_REQUIRE(received.ParseFromString(wire) && received.fields_size() == sent.fields_size(),
                   "a metric name is not UTF-8: " + sent.DebugString());
  google::protobuf::Value device;
  device.set_string_value(parsed->device);
  HPO_FUZZ_REQUIRE(device.SerializeToString(&wire), parsed->device);
  HPO_FUZZ_REQUIRE(device.ParseFromString(wire), "the device is not UTF-8: " + parsed->device);
  return 0;
}
