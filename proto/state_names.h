// The lower-case names users see for study and trial states ("running", "completed", ...), shared by
// hpoctl's output and the dashboard's JSON so that both say the same word for the same state.
#ifndef HPO_PROTO_STATE_NAMES_H_
#define HPO_PROTO_STATE_NAMES_H_

#include <string_view>

#include "hpo/v1/study.pb.h"

namespace hpo::v1 {

// "running", "completed", "failed", "cancelled"; "unknown" for anything else.
inline std::string_view StudyStateName(StudyState state) {
  switch (state) {
    case STUDY_RUNNING:
      return "running";
    case STUDY_COMPLETED:
      return "completed";
    case STUDY_FAILED:
      return "failed";
    case STUDY_CANCELLED:
      return "cancelled";
    default:
      return "unknown";
  }
}

// "pending", "running", "completed", "failed", "cancelled", "pruned"; "unknown" for anything else.
inline std::string_view TrialStateName(TrialState state) {
  switch (state) {
    case TRIAL_PENDING:
      return "pending";
    case TRIAL_RUNNING:
      return "running";
    case TRIAL_COMPLETED:
      return "completed";
    case TRIAL_FAILED:
      return "failed";
    case TRIAL_CANCELLED:
      return "cancelled";
    case TRIAL_PRUNED:
      return "pruned";
    default:
      return "unknown";
  }
}

}  // namespace hpo::v1

#endif  // HPO_PROTO_STATE_NAMES_H_
