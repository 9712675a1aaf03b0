// `hpoctl export`: everything about one study as one JSON document, for archiving and for analysis in
// other tools.
//
// Pure function: no I/O, no shared state, safe from any thread.
#ifndef HPO_CLIENT_EXPORT_H_
#define HPO_CLIENT_EXPORT_H_

#include <cstdint>
#include <string>

#include "hpo/v1/service.pb.h"
#include "hpo/v1/study.pb.h"

namespace hpo::client {

// The value of the document's "format" key; changes when the layout does.
inline constexpr char kExportFormat[] = "hpo.export.v1";

// The document, ending with a newline:
//   {
//     "format": "hpo.export.v1",
//     "exported_ms": <Unix ms>,
//     "study": <Study: id, spec, state, times, counts>,
//     "trials": [
//       <Trial>,          one line each, in the order given
//       ...
//     ],
//     "pareto_front": <GetParetoFrontResponse: its trials, objectives, hypervolume and reference point>
//   }
// Each <...> is protobuf's JSON mapping of hpo.v1 (the proto's snake_case field names, enums by name,
// 64-bit integers as strings, fields at their default value included), so each part reads back with
// any protobuf JSON parser (google.protobuf.json_format.Parse in Python) and study.spec can be
// submitted again as it is.
std::string FormatExport(const v1::Study& study, const v1::ListTrialsResponse& trials,
                         const v1::GetParetoFrontResponse& front, int64_t exported_ms);

}  // namespace hpo::client

#endif  // HPO_CLIENT_EXPORT_H_
