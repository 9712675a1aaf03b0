// A small YAML reader for study files, so that `hpoctl submit study.yaml` needs no YAML library: the
// subset of YAML 1.2 that study files use, read into a tree and written out as the JSON that
// ParseStudySpec reads.
//
// Read: block mappings ("key: value"), block sequences ("- item", also at the parent key's
// indentation), flow sequences and mappings ("[a, b]", "{low: 1, high: 2}", which may span lines),
// plain, 'single-quoted' and "double-quoted" scalars, comments, and a leading "---". Not read, and
// refused naming the line: anchors and aliases (&a, *a), tags (!!str), block scalars (| and >), complex
// keys (? and collections as keys), tabs in indentation, several documents, a key given twice in one
// mapping (named by its path, "budget.max_trials"), and mappings and sequences nested more than
// kMaxNesting deep (block and flow style alike; a study file needs a handful of levels, and the reader
// recurses once per level, so a file nested thousands deep must be refused, not followed).
//
// Scalars become JSON by what the target field of hpo.v1.StudySpec takes, not by how they look: a plain
// 64 is the string "64" for a categorical choice (a string field) and the number 64 for budget.max_trials.
// Where the schema says nothing (a builtin task's `fixed` values, unknown keys), a plain scalar is null
// (null, ~, or nothing), a boolean (true, false), a number (YAML 1.2's core schema), or else a string.
//
// Pure functions on values: thread-safe, no shared state.
#ifndef HPO_CLIENT_YAML_H_
#define HPO_CLIENT_YAML_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace google::protobuf {
class Descriptor;
}  // namespace google::protobuf

namespace hpo::client {

// The deepest a study file may nest mappings and sequences (JSON objects and arrays): the deepest
// StudySpec field is a few levels down (parameters[0].categorical.choices), and a builtin task's `fixed`
// values rarely nest at all. Below protobuf's own limit (messages 100 deep, which a Struct such as `fixed`
// reaches at about 34 levels of JSON objects, three messages each), so that the error is ours.
inline constexpr int kMaxNesting = 32;

struct YamlEntry;

// One node of a YAML document.
struct YamlNode {
  enum class Kind { kScalar, kMap, kSeq };
  Kind kind = Kind::kScalar;
  std::string text;            // kScalar: the scalar's value (quotes and escapes resolved)
  bool quoted = false;         // kScalar: written in quotes, so always a string
  std::vector<YamlEntry> map;  // kMap, in document order
  std::vector<YamlNode> seq;   // kSeq
  int line = 0;                // 1-based line where the node starts
};

// A mapping's key and value, named as std::pair's (which cannot hold the incomplete YamlNode portably).
struct YamlEntry {
  std::string first;
  YamlNode second;
};

// Parses `text`. Returns the document's root (an empty document is a null scalar), or INVALID_ARGUMENT
// "line N: <what is wrong>" (for a duplicate key: "line N: the key 'budget.max_trials' is given twice
// (first on line M)").
Result<YamlNode> ParseYaml(std::string_view text);

// `node` as JSON for a message of type `descriptor` (see the top of this file for scalars). Keys are kept
// as written, so that the JSON parser names an unknown one. REQUIRES: descriptor != nullptr.
std::string YamlToJson(const YamlNode& node, const google::protobuf::Descriptor* descriptor);

}  // namespace hpo::client

#endif  // HPO_CLIENT_YAML_H_
