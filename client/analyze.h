// `hpoctl analyze STUDY`: the coordinator's analysis of a study (StudyService.AnalyzeStudy): each
// parameter's importance for each objective (fANOVA on a random forest) and a summary of the Pareto
// front, as a table or as JSON. The numbers are the coordinator's, the same the dashboard shows.
//
// Pure functions, safe from any thread.
#ifndef HPO_CLIENT_ANALYZE_H_
#define HPO_CLIENT_ANALYZE_H_

#include <string>
#include <string_view>

#include "base/status.h"
#include "hpo/v1/service.pb.h"

namespace hpo::client {

// The analysis as text: a table of importances (one row per parameter, most important for the first
// objective first; one column per objective, "importance ±stddev"), then the front (its size,
// hypervolume and reference, the best value of each objective and its trial, and one row per front
// trial: number, id, objectives), numbers to six significant digits.
std::string FormatAnalysisTable(const v1::AnalyzeStudyResponse& analysis);

// The analysis in protobuf's JSON mapping (snake_case names, 64-bit integers as strings).
std::string FormatAnalysisJson(const v1::AnalyzeStudyResponse& analysis);

// "table" or "json"; INVALID_ARGUMENT naming --format otherwise.
Result<std::string> FormatAnalysis(const v1::AnalyzeStudyResponse& analysis, std::string_view format);

}  // namespace hpo::client

#endif  // HPO_CLIENT_ANALYZE_H_
