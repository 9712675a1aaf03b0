#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "bench/search/bench.h"
#include "search/hypervolume.h"
#include "search/pareto.h"

namespace hpo::bench {

Evaluator CubeEvaluator(const problems::Problem& problem) {
  return [problem, x = std::vector<double>(problem.dims)](std::span<const double> u) mutable {
    for (size_t i = 0; i < problem.dims; ++i) {
      x[i] = problem.lower[i] + u[i] * (problem.upper[i] - problem.lower[i]);
    }
    return problem.evaluate(x);
  };
}

Result<DriveResult> Drive(search::Optimizer& optimizer, size_t budget, size_t batch,
                          const Evaluator& evaluate, bool keep_told) {
  DriveResult result;
  if (keep_told) result.told.reserve(budget);
  batch = std::max<size_t>(batch, 1);
  while (result.evaluations < budget) {
    const std::vector<search::Candidate> asked = optimizer.Ask(std::min(batch, budget - result.evaluations));
    if (asked.empty()) {
      return InternalError("optimizer asked nothing after " + std::to_string(result.evaluations) +
                           " evaluations with nothing outstanding");
    }
    for (const search::Candidate& c : asked) {
      std::vector<double> f = evaluate(c.x);
      if (Status s = optimizer.Tell(c, f); !s.ok()) return s.WithPrefix("Tell");
      result.best = std::min(result.best, f[0]);
      ++result.evaluations;
      if (keep_told) result.told.push_back(std::move(f));
    }
  }
  return result;
}

FinalFront FrontOf(const search::Optimizer& optimizer, const std::vector<std::vector<double>>& told) {
  FinalFront front;
  for (search::Evaluation& e : optimizer.Elite()) front.points.push_back(std::move(e.objectives));
  if (!front.points.empty()) {
    front.source = "elite";
    return front;
  }
  front.source = "nd(told)";
  for (size_t i : search::ParetoFrontIndices(told)) front.points.push_back(told[i]);
  return front;
}

Result<double> HypervolumeAt11(const std::vector<std::vector<double>>& points, size_t num_objectives) {
  const std::vector<double> reference(num_objectives, problems::kTrueFrontReference);
  HPO_ASSIGN_OR_RETURN(search::HypervolumeResult hv, search::Hypervolume(points, reference));
  return hv.value;
}

}  // namespace hpo::bench
