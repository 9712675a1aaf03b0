#include "search/optimizer.h"

#include <cmath>
#include <string>

namespace hpo::search {

Status ValidateResult(size_t num_objectives, std::span<const double> objectives, double violation) {
  if (objectives.size() != num_objectives) {
    return InvalidArgumentError("expected " + std::to_string(num_objectives) + " objectives, got " +
                                std::to_string(objectives.size()));
  }
  for (size_t i = 0; i < objectives.size(); ++i) {
    if (!std::isfinite(objectives[i])) {
      return InvalidArgumentError("objectives[" + std::to_string(i) + "] is not finite");
    }
  }
  if (!std::isfinite(violation) || violation < 0) {
    return InvalidArgumentError("constraint_violation must be finite and >= 0");
  }
  return Status::Ok();
}

Result<double> ConstraintViolation(std::span<const double> constraints) {
  double violation = 0.0;
  for (size_t j = 0; j < constraints.size(); ++j) {
    if (!std::isfinite(constraints[j])) {
      return InvalidArgumentError("constraints[" + std::to_string(j) + "] is not finite");
    }
    if (constraints[j] > 0) violation += constraints[j];
  }
  return violation;
}

Status Optimizer::TellConstrained(const Candidate& c, std::span<const double> objectives,
                                  std::span<const double> constraints) {
  HPO_ASSIGN_OR_RETURN(const double violation, ConstraintViolation(constraints));
  return Tell(c, objectives, violation);
}

Status Optimizer::TellPruned(const Candidate& c, std::span<const double> objectives,
                             std::span<const double> constraints) {
  (void)objectives;
  (void)constraints;
  return TellFailed(c);
}

}  // namespace hpo::search
