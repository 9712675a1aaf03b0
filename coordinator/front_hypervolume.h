// The hypervolume of a study's Pareto front as the coordinator answers it in GetParetoFrontResponse (and
// the dashboard shows it): computed in this one place, so that hpoctl, the dashboard and the Python client
// all show the same number against the same reference point (docs/hypervolume.md).
//
// Pure functions over protos and plain values: thread-safe, no shared state.
#ifndef HPO_COORDINATOR_FRONT_HYPERVOLUME_H_
#define HPO_COORDINATOR_FRONT_HYPERVOLUME_H_

#include <span>
#include <vector>

#include "base/status.h"
#include "hpo/v1/service.pb.h"
#include "hpo/v1/study.pb.h"

namespace hpo::coordinator {

// Checks a GetParetoFrontRequest.reference_point against `spec`: empty, or one finite value per
// objective. OK, or INVALID_ARGUMENT naming the field ("reference_point: 3 values for the study's 2
// objectives", "reference_point[1]: not a finite number").
Status CheckReferencePoint(const v1::StudySpec& spec, std::span<const double> reference_point);

// Sets response's hypervolume, reference_point, reference_rule and considered_trials for a front taken
// from `points`: the objectives, minimised (MinimisedObjectives), of the completed trials considered.
// The reference point is `reference_point` (in the objectives' own units and directions, rule "given")
// when it is not empty, else search::WorstPlusTenthReference of `points` (rule "worst + 10% of range");
// the hypervolume is that of `points` (the front's dominated region is theirs) within it. With no points,
// only considered_trials (0) is set; so it is when the points cannot be bounded (a value near the
// double limit), rather than answering with a wrong number.
// REQUIRES: CheckReferencePoint(spec, reference_point) is OK; each point has spec.objectives_size() values.
void SetFrontHypervolume(const v1::StudySpec& spec, const std::vector<std::vector<double>>& points,
                         std::span<const double> reference_point, v1::GetParetoFrontResponse* response);

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_FRONT_HYPERVOLUME_H_
