// Fuzz target: a study spec from untrusted bytes, the way it reaches the coordinator. The bytes are read
// as a study file (client/study_file.h: protobuf's JSON mapping, and YAML through hpoctl's own reader,
// client/yaml.h) and as a StudySpec on the wire (what CreateStudy receives over gRPC); every spec that
// parses goes through the coordinator's validation (coordinator/spec.h).
//
// Properties: nothing crashes; a refused spec is INVALID_ARGUMENT whose message starts with the field's
// path; a spec NormalizeSpec accepts builds its search space and optimizer, whose first proposals decode
// and encode back; it is normalised already (normalising again changes nothing); and it survives what
// happens to a stored study: the binary round trip (SQLite) and the JSON round trip (hpoctl prints it, a
// user submits it again).
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "client/study_file.h"
#include "coordinator/spec.h"
#include "tests/fuzz/fuzz_check.h"

namespace hpo {
namespace {

// Whether `message` starts with the path of a StudySpec field ("parameters[1] (lr).float.low: ...",
// "budget.max_trials: ...", "<field 99>: ..." for one the schema does not know).
bool NamesAField(const std::string& message) {
  for (const char* field : {"name: ", "parameters", "objectives", "algorithm", "budget.", "task",
                            "worker_selector", "constraints", "pruner", "enqueue", "warm_start", "<field "}) {
    if (message.rfind(field, 0) == 0) return true;
  }
  return false;
}

bool Same(const v1::StudySpec& a, const v1::StudySpec& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

void CheckSpec(const v1::StudySpec& input) {
  Result<v1::StudySpec> spec = coordinator::NormalizeSpec(input);
  if (!spec.ok()) {
    HPO_FUZZ_REQUIRE(spec.status().code() == StatusCode::kInvalidArgument, spec.status().ToString());
    HPO_FUZZ_REQUIRE(NamesAField(spec.status().message()), spec.status().message());
    return;
  }
  const std::string accepted = spec->DebugString();

  Result<search::SearchSpace> space = coordinator::MakeSearchSpace(*spec);
  HPO_FUZZ_REQUIRE(space.ok(), space.status().ToString() + "\n" + accepted);
  Result<std::unique_ptr<search::Optimizer>> optimizer = coordinator::MakeOptimizer(*spec, space->dims());
  HPO_FUZZ_REQUIRE(optimizer.ok(), optimizer.status().ToString() + "\n" + accepted);
  for (const search::Candidate& candidate : (*optimizer)->Ask(2)) {
    HPO_FUZZ_REQUIRE(candidate.x.size() == space->dims(), accepted);
    const std::vector<search::Value> values = space->Decode(candidate.x);
    HPO_FUZZ_REQUIRE(space->Active(values).size() == values.size(), accepted);
    for (const search::Value& value : values) (void)coordinator::ToParamValue(value);
    Result<std::vector<double>> genes = space->Encode(values);
    HPO_FUZZ_REQUIRE(genes.ok(), genes.status().ToString() + "\n" + accepted);
  }

  Result<v1::StudySpec> again = coordinator::NormalizeSpec(*spec);
  HPO_FUZZ_REQUIRE(again.ok(), again.status().ToString() + "\n" + accepted);
  HPO_FUZZ_REQUIRE(Same(*again, *spec), "normalising twice changes\n" + accepted);

  std::string wire;
  HPO_FUZZ_REQUIRE(spec->SerializeToString(&wire), accepted);
  v1::StudySpec stored;
  HPO_FUZZ_REQUIRE(stored.ParseFromString(wire) && Same(stored, *spec), "binary round trip\n" + accepted);

  std::string json;
  const auto printed = google::protobuf::util::MessageToJsonString(*spec, &json);
  HPO_FUZZ_REQUIRE(printed.ok(), std::string(printed.message()) + "\n" + accepted);
  Result<v1::StudySpec> reread = client::ParseStudySpec(json, "printed spec");
  HPO_FUZZ_REQUIRE(reread.ok(), reread.status().ToString() + "\n" + json);
  Result<v1::StudySpec> resubmitted = coordinator::NormalizeSpec(*reread);
  HPO_FUZZ_REQUIRE(resubmitted.ok() && Same(*resubmitted, *spec), "JSON round trip\n" + json);
}

}  // namespace
}  // namespace hpo

// protobuf logs each string that is not UTF-8 as it refuses it: expected here, and noise.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  hpo::Result<hpo::v1::StudySpec> file = hpo::client::ParseStudySpec(bytes, "fuzz");
  if (file.ok()) {
    hpo::CheckSpec(*file);
  } else {
    HPO_FUZZ_REQUIRE(file.status().code() == hpo::StatusCode::kInvalidArgument, file.status().ToString());
  }
  hpo::Result<hpo::v1::StudySpec> yaml = hpo::client::ParseStudySpecYaml(bytes, "fuzz");
  if (yaml.ok()) {
    hpo::CheckSpec(*yaml);
  } else {
    HPO_FUZZ_REQUIRE(yaml.status().code() == hpo::StatusCode::kInvalidArgument, yaml.status().ToString());
  }
  hpo::v1::StudySpec wire;
  if (wire.ParseFromArray(data, static_cast<int>(size))) hpo::CheckSpec(wire);
  return 0;
}
