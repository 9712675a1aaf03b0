#include "client/export.h"

#include <google/protobuf/util/json_util.h>

namespace hpo::client {
namespace {

std::string Json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  // Printing a well-formed message to JSON cannot fail (only unknown Any types can).
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "null";
  return json;
}

}  // namespace

std::string FormatExport(const v1::Study& study, const v1::ListTrialsResponse& trials,
                         const v1::GetParetoFrontResponse& front, int64_t exported_ms) {
  std::string out = "{\n";
  out += "  \"format\": \"" + std::string(kExportFormat) + "\",\n";
  out += "  \"exported_ms\": " + std::to_string(exported_ms) + ",\n";
  out += "  \"study\": " + Json(study) + ",\n";
  if (trials.trials().empty()) {
    out += "  \"trials\": [],\n";
  } else {
    out += "  \"trials\": [\n";
    for (int i = 0; i < trials.trials_size(); ++i) {
      out += "    " + Json(trials.trials(i)) + (i + 1 < trials.trials_size() ? ",\n" : "\n");
    }
    out += "  ],\n";
  }
  out += "  \"pareto_front\": " + Json(front) + "\n";
  out += "}\n";
  return out;
}

}  // namespace hpo::client
