#include "coordinator/front_hypervolume.h"

#include <cmath>
#include <string>

#include "search/hypervolume.h"

namespace hpo::coordinator {
namespace {

// The rule's name when the caller gave the point.
constexpr char kGivenRule[] = "given";

bool Maximised(const v1::StudySpec& spec, size_t k) {
  return spec.objectives(static_cast<int>(k)).direction() == v1::MAXIMIZE;
}

}  // namespace

Status CheckReferencePoint(const v1::StudySpec& spec, std::span<const double> reference_point) {
  if (reference_point.empty()) return Status::Ok();
  if (reference_point.size() != static_cast<size_t>(spec.objectives_size())) {
    return InvalidArgumentError("reference_point: " + std::to_string(reference_point.size()) +
                                " values for the study's " + std::to_string(spec.objectives_size()) +
                                " objectives");
  }
  for (size_t k = 0; k < reference_point.size(); ++k) {
    if (!std::isfinite(reference_point[k])) {
      return InvalidArgumentError("reference_point[" + std::to_string(k) + "]: not a finite number");
    }
  }
  return Status::Ok();
}

void SetFrontHypervolume(const v1::StudySpec& spec, const std::vector<std::vector<double>>& points,
                         std::span<const double> reference_point, v1::GetParetoFrontResponse* response) {
  response->set_considered_trials(static_cast<uint32_t>(points.size()));
  if (points.empty()) return;
  const size_t m = static_cast<size_t>(spec.objectives_size());
  std::vector<double> minimised(m);
  if (reference_point.empty()) {
    Result<std::vector<double>> worst = search::WorstPlusTenthReference(points);
    if (!worst.ok()) return;
    minimised = std::move(*worst);
  } else {
    for (size_t k = 0; k < m; ++k)
      minimised[k] = Maximised(spec, k) ? -reference_point[k] : reference_point[k];
  }
  Result<search::HypervolumeResult> hv = search::Hypervolume(points, minimised);
  if (!hv.ok()) return;
  response->set_hypervolume(hv->value);
  response->clear_reference_point();
  for (size_t k = 0; k < m; ++k)
    response->add_reference_point(Maximised(spec, k) ? -minimised[k] : minimised[k]);
  response->set_reference_rule(reference_point.empty() ? std::string(search::kWorstPlusTenthRule)
                                                       : kGivenRule);
}

}  // namespace hpo::coordinator
