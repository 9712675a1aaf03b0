// Study files: a StudySpec written as JSON (protobuf's JSON mapping of hpo.v1.StudySpec; field names in
// snake_case or lowerCamelCase; enum values such as "direction": "maximize" in any case), or as YAML with
// the same keys, read into the proto that CreateStudy takes.
//
// These are free functions with no shared state: safe to call from any thread. They only parse; the
// coordinator validates the spec's meaning (ranges, objectives, budget) and names the offending field.
#ifndef HPO_CLIENT_STUDY_FILE_H_
#define HPO_CLIENT_STUDY_FILE_H_

#include <string>
#include <string_view>

#include "base/status.h"
#include "hpo/v1/study.pb.h"

namespace hpo::client {

// Parses `json`, a StudySpec in protobuf's JSON mapping. Unknown fields are errors, not ignored, so a
// misspelt key cannot silently fall back to a default.
// Returns the spec, or INVALID_ARGUMENT "<source_name>: <protobuf's message>" (which names the field
// or the position of the syntax error).
Result<v1::StudySpec> ParseStudySpec(std::string_view json, std::string_view source_name);

// Parses `yaml`, a StudySpec written in YAML with the same keys (client/yaml.h says which YAML).
// Returns the spec, or INVALID_ARGUMENT "<source_name>: line N: ..." for YAML it cannot read, or
// "<source_name>: <protobuf's message>" for a spec that does not fit StudySpec.
Result<v1::StudySpec> ParseStudySpecYaml(std::string_view yaml, std::string_view source_name);

// ParseStudySpec when `text` starts (after white space) with '{', ParseStudySpecYaml otherwise: for a
// study file given without a name, on stdin.
Result<v1::StudySpec> ParseStudySpecAnyFormat(std::string_view text, std::string_view source_name);

// Reads the file at `path` and parses it: as YAML when its name ends in ".yaml" or ".yml", as JSON
// otherwise.
// Returns the spec; NOT_FOUND when `path` does not exist; INVALID_ARGUMENT when it cannot be read (a
// directory, no permission) or does not parse. Every message names `path`.
Result<v1::StudySpec> LoadStudySpec(const std::string& path);

}  // namespace hpo::client

#endif  // HPO_CLIENT_STUDY_FILE_H_
