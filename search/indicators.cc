#include "search/indicators.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace hpo::search {
namespace {

using Points = std::vector<std::vector<double>>;

Status ValidateSet(const Points& set, const char* what, size_t dims) {
  if (set.empty()) return InvalidArgumentError(std::string("indicator: ") + what + " is empty");
  for (size_t i = 0; i < set.size(); ++i) {
    if (set[i].size() != dims) {
      return InvalidArgumentError(std::string("indicator: ") + what + "[" + std::to_string(i) + "] has " +
                                  std::to_string(set[i].size()) + " objectives, expected " +
                                  std::to_string(dims));
    }
    for (size_t c = 0; c < dims; ++c) {
      if (!std::isfinite(set[i][c])) {
        return InvalidArgumentError(std::string("indicator: ") + what + "[" + std::to_string(i) + "][" +
                                    std::to_string(c) + "] is not finite");
      }
    }
  }
  return Status::Ok();
}

// Mean over z in reference_front of min over a in points of sqrt(SquaredDistance(z, a)).
template <typename SquaredDistance>
Result<double> MeanNearestDistance(const Points& points, const Points& reference_front,
                                   SquaredDistance squared_distance) {
  if (reference_front.empty()) return InvalidArgumentError("indicator: reference_front is empty");
  const size_t dims = reference_front[0].size();
  if (dims == 0) return InvalidArgumentError("indicator: reference_front[0] has no objectives");
  HPO_RETURN_IF_ERROR(ValidateSet(reference_front, "reference_front", dims));
  HPO_RETURN_IF_ERROR(ValidateSet(points, "points", dims));
  double sum = 0.0;
  for (const std::vector<double>& z : reference_front) {
    double nearest = std::numeric_limits<double>::infinity();
    for (const std::vector<double>& a : points) nearest = std::min(nearest, squared_distance(z, a));
    sum += std::sqrt(nearest);
  }
  return sum / static_cast<double>(reference_front.size());  // size >= 1, checked above
}

}  // namespace

Result<double> IgdPlus(const Points& points, const Points& reference_front) {
  return MeanNearestDistance(points, reference_front,
                             [](const std::vector<double>& z, const std::vector<double>& a) {
                               double sum = 0.0;
                               for (size_t c = 0; c < z.size(); ++c) {
                                 const double worse = std::max(a[c] - z[c], 0.0);
                                 sum += worse * worse;
                               }
                               return sum;
                             });
}

Result<double> Igd(const Points& points, const Points& reference_front) {
  return MeanNearestDistance(points, reference_front,
                             [](const std::vector<double>& z, const std::vector<double>& a) {
                               double sum = 0.0;
                               for (size_t c = 0; c < z.size(); ++c) sum += (a[c] - z[c]) * (a[c] - z[c]);
                               return sum;
                             });
}

}  // namespace hpo::search
