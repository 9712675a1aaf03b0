// Analysis: what a study's trials say, computed once here for every reader (AnalyzeStudy over gRPC,
// `hpoctl analyze`, the Python client and the dashboard's /analysis): each parameter's importance for
// each objective, and a summary of the Pareto front with its hypervolume trial by trial.
//
// Importance is fANOVA on a random forest (search/importance.h), Optuna's default evaluator: the forest
// of each objective is fitted to the completed trials that report it, feasible or not, with every
// parameter of the spec as a feature: float and int parameters on their unit-cube encoding (log-scaled
// where the parameter is), categorical ones as categories. A conditional parameter inactive in a trial
// takes the "inactive" cell, whose measure is the probability that the parameter is inactive when the
// space is sampled uniformly (its parent's other choices, through every ancestor).
//
// Pure functions of their arguments; thread-safe.
#ifndef HPO_COORDINATOR_ANALYSIS_H_
#define HPO_COORDINATOR_ANALYSIS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/status.h"
#include "hpo/v1/service.pb.h"

namespace hpo::coordinator {

struct AnalysisOptions {
  uint32_t trees = 64;  // of each objective's forest; 1..1024
  // Above this many completed trials, the forest is fitted to this many, spread evenly over the trial
  // numbers (a fit costs O(n log^2 n) per tree).
  size_t max_trials = 1000;
};

// The analysis of `trials` (a study's, each with Trial.violated filled in) under `spec`. Trials whose
// values do not fit the spec (a choice it does not list) are left out of the forests. INVALID_ARGUMENT
// naming trees when out of range.
Result<v1::AnalyzeStudyResponse> AnalyzeTrials(const v1::StudySpec& spec,
                                               const std::vector<v1::Trial>& trials,
                                               const AnalysisOptions& options = {});

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_ANALYSIS_H_
