// Study specs: validation with messages that name the offending field, defaults filled in, and the
// translation of a spec into the search library's terms (search space and optimizer).
//
// Stateless free functions; thread-safe.
#ifndef HPO_COORDINATOR_SPEC_H_
#define HPO_COORDINATOR_SPEC_H_

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "hpo/v1/study.pb.h"
#include "search/optimizer.h"
#include "search/space.h"

namespace hpo::coordinator {

// Checks every field of `spec` and fills in what may be left out: budget defaults, objective
// directions known for the task's metrics, and a synthetic task's own variables when no parameters are
// given. Returns the spec to store, or INVALID_ARGUMENT whose message starts with the field's path,
// e.g. "parameters[1] (lr): low 0.1 > high 0.01" or "objectives[0] (acc): unknown objective".
Result<v1::StudySpec> NormalizeSpec(const v1::StudySpec& spec);

// The search space of a normalised spec, one gene per parameter in the spec's order.
Result<search::SearchSpace> MakeSearchSpace(const v1::StudySpec& spec);

// The optimizer the spec asks for, over `dims` genes.
Result<std::unique_ptr<search::Optimizer>> MakeOptimizer(const v1::StudySpec& spec, size_t dims);

// A decoded value as the API's ParamValue.
v1::ParamValue ToParamValue(const search::Value& value);

// The objective vector of a trial's metrics, each negated when maximised (search minimises). NOT_FOUND
// naming the metric when one is missing; INVALID_ARGUMENT when one is not finite.
Result<std::vector<double>> MinimisedObjectives(const v1::StudySpec& spec,
                                                const google::protobuf::Map<std::string, double>& metrics);

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_SPEC_H_
