#include "coordinator/analysis.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>

#include "base/rng.h"
#include "coordinator/front_hypervolume.h"
#include "coordinator/spec.h"
#include "search/hypervolume.h"
#include "search/importance.h"
#include "search/pareto.h"

namespace hpo::coordinator {
namespace {

// Where `value` lies on [low, high], log-scaled when `log`; 0 for an empty range.
double UnitOf(double value, double low, double high, bool log) {
  if (log && low > 0.0 && value > 0.0) {
    value = std::log(value);
    low = std::log(low);
    high = std::log(high);
  }
  if (!(high > low)) return 0.0;
  return std::clamp((value - low) / (high - low), 0.0, 1.0);
}

// The probability that `parameter` is active when the space is sampled uniformly.
double ActiveProbability(const v1::StudySpec& spec, const v1::Parameter& parameter, int depth = 0) {
  if (!parameter.has_condition() || depth > spec.parameters_size()) return 1.0;
  for (const v1::Parameter& parent : spec.parameters()) {
    if (parent.name() != parameter.condition().parent() || !parent.has_categorical()) continue;
    const auto& choices = parent.categorical().choices();
    if (choices.empty()) return 0.0;
    int enabling = 0;
    for (const std::string& choice : choices) {
      if (std::find(parameter.condition().values().begin(), parameter.condition().values().end(), choice) !=
          parameter.condition().values().end())
        ++enabling;
    }
    return ActiveProbability(spec, parent, depth + 1) * enabling / static_cast<double>(choices.size());
  }
  return 1.0;
}

// The feature of `parameter`'s value in a trial: nullopt when the value does not fit the spec.
std::optional<double> FeatureOf(const v1::Parameter& parameter, const v1::Trial& trial,
                                double inactive_mass) {
  auto it = trial.params().find(parameter.name());
  if (it == trial.params().end()) {
    if (inactive_mass > 0.0) return search::kInactive;
    return std::nullopt;
  }
  const v1::ParamValue& value = it->second;
  switch (parameter.kind_case()) {
    case v1::Parameter::kFloat: {
      const double v =
          value.has_double_value() ? value.double_value() : static_cast<double>(value.int_value());
      if (!std::isfinite(v)) return std::nullopt;
      return UnitOf(v, parameter.float_().low(), parameter.float_().high(), parameter.float_().log());
    }
    case v1::Parameter::kInt: {
      const double v = value.has_int_value() ? static_cast<double>(value.int_value()) : value.double_value();
      if (!std::isfinite(v)) return std::nullopt;
      return UnitOf(v, static_cast<double>(parameter.int_().low()),
                    static_cast<double>(parameter.int_().high()), parameter.int_().log());
    }
    case v1::Parameter::kCategorical: {
      const auto& choices = parameter.categorical().choices();
      for (int c = 0; c < choices.size(); ++c) {
        if (choices[c] == value.string_value()) return static_cast<double>(c);
      }
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

// The trials a forest is fitted to: at most `max`, spread evenly over those given (by number).
std::vector<const v1::Trial*> Thin(std::vector<const v1::Trial*> trials, size_t max) {
  if (trials.size() <= max || max == 0) return trials;
  std::vector<const v1::Trial*> kept;
  kept.reserve(max);
  for (size_t k = 0; k < max; ++k) kept.push_back(trials[k * trials.size() / max]);
  return kept;
}

Result<std::vector<v1::ObjectiveImportance>> Importances(const v1::StudySpec& spec,
                                                         const std::vector<const v1::Trial*>& completed,
                                                         const AnalysisOptions& options) {
  std::vector<search::ImportanceFeature> features;
  for (const v1::Parameter& p : spec.parameters()) {
    search::ImportanceFeature f;
    f.name = p.name();
    f.categories = p.has_categorical() ? p.categorical().choices_size() : 0;
    f.inactive_mass = std::clamp(1.0 - ActiveProbability(spec, p), 0.0, 0.999);
    features.push_back(std::move(f));
  }
  std::vector<v1::ObjectiveImportance> out;
  if (features.empty()) return out;
  for (int k = 0; k < spec.objectives_size(); ++k) {
    const std::string& metric = spec.objectives(k).name();
    std::vector<const v1::Trial*> usable;
    std::vector<std::vector<double>> x;
    for (const v1::Trial* trial : completed) {
      auto m = trial->metrics().find(metric);
      if (m == trial->metrics().end() || !std::isfinite(m->second)) continue;
      std::vector<double> row;
      for (size_t d = 0; d < features.size(); ++d) {
        std::optional<double> v =
            FeatureOf(spec.parameters(static_cast<int>(d)), *trial, features[d].inactive_mass);
        if (!v) break;
        row.push_back(*v);
      }
      if (row.size() != features.size()) continue;
      usable.push_back(trial);
    }
    usable = Thin(std::move(usable), options.max_trials);
    std::vector<double> y;
    for (const v1::Trial* trial : usable) {
      std::vector<double> row;
      for (size_t d = 0; d < features.size(); ++d) {
        row.push_back(*FeatureOf(spec.parameters(static_cast<int>(d)), *trial, features[d].inactive_mass));
      }
      x.push_back(std::move(row));
      y.push_back(trial->metrics().at(metric));
    }
    if (usable.size() < 2) continue;
    search::ImportanceOptions forest;
    forest.trees = options.trees;
    HPO_ASSIGN_OR_RETURN(
        search::ImportanceResult result,
        search::FanovaImportance(features, x, y, DeriveSeed(spec.seed(), 0x1a0f + k), forest));
    v1::ObjectiveImportance objective;
    objective.set_objective(metric);
    objective.set_trials(static_cast<uint32_t>(usable.size()));
    std::vector<size_t> order(features.size());
    for (size_t d = 0; d < order.size(); ++d) order[d] = d;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return result.features[a].importance > result.features[b].importance;
    });
    for (size_t d : order) {
      v1::ParameterImportance* p = objective.add_parameters();
      p->set_parameter(features[d].name);
      p->set_importance(result.features[d].importance);
      p->set_stddev(result.features[d].stddev);
    }
    out.push_back(std::move(objective));
  }
  return out;
}

// The front, its hypervolume and how it grew, the best value of each objective.
v1::FrontSummary Front(const v1::StudySpec& spec, const std::vector<const v1::Trial*>& completed) {
  v1::FrontSummary summary;
  const int m = spec.objectives_size();
  std::vector<const v1::Trial*> feasible;
  std::vector<std::vector<double>> points;                           // minimised, of `feasible`
  std::vector<std::pair<uint32_t, std::vector<double>>> all_points;  // `points`, with the trials' numbers
  for (const v1::Trial* trial : completed) {
    summary.set_completed(summary.completed() + 1);
    if (trial->violated_size() != 0) summary.set_infeasible(summary.infeasible() + 1);
    auto objectives = MinimisedObjectives(spec, trial->metrics());
    if (!objectives.ok()) continue;
    if (trial->violated_size() != 0) continue;
    all_points.emplace_back(trial->number(), *objectives);
    feasible.push_back(trial);
    points.push_back(std::move(*objectives));
  }
  std::vector<size_t> front = search::ParetoFrontIndices(points);
  std::sort(front.begin(), front.end(), [&](size_t a, size_t b) {
    if (points[a][0] != points[b][0]) return points[a][0] < points[b][0];
    return feasible[a]->number() < feasible[b]->number();
  });
  for (size_t i : front) {
    v1::FrontTrialSummary* t = summary.add_trials();
    t->set_trial_id(feasible[i]->id());
    t->set_number(feasible[i]->number());
    for (int k = 0; k < m; ++k) t->add_objectives(feasible[i]->metrics().at(spec.objectives(k).name()));
  }
  for (int k = 0; k < m; ++k) {
    std::optional<size_t> best;
    for (size_t i = 0; i < points.size(); ++i) {
      if (!best || points[i][k] < points[*best][k]) best = i;
    }
    summary.add_best(best ? feasible[*best]->metrics().at(spec.objectives(k).name()) : std::nan(""));
    summary.add_best_trial_ids(best ? feasible[*best]->id() : 0);
  }
  // The hypervolume and reference point GetParetoFront answers (coordinator/front_hypervolume.h).
  v1::GetParetoFrontResponse hv;
  SetFrontHypervolume(spec, points, {}, &hv);
  if (!hv.has_hypervolume()) return summary;
  summary.set_hypervolume(hv.hypervolume());
  for (double r : hv.reference_point()) summary.add_reference(r);
  // The same reference, minimised; then the hypervolume after each feasible completed trial by number,
  // recomputed only when that trial joins the front so far.
  std::vector<double> reference(hv.reference_point().begin(), hv.reference_point().end());
  for (int k = 0; k < m; ++k) {
    if (spec.objectives(k).direction() == v1::MAXIMIZE) reference[static_cast<size_t>(k)] *= -1.0;
  }
  std::sort(all_points.begin(), all_points.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::vector<double>> so_far;
  double value = 0.0;
  for (const auto& [number, point] : all_points) {
    const bool dominated = std::any_of(so_far.begin(), so_far.end(), [&](const std::vector<double>& q) {
      return std::equal(q.begin(), q.end(), point.begin(), [](double a, double b) { return a <= b; });
    });
    if (!dominated) {
      std::erase_if(so_far, [&](const std::vector<double>& q) {
        return std::equal(point.begin(), point.end(), q.begin(), [](double a, double b) { return a <= b; });
      });
      so_far.push_back(point);
      if (auto v = search::Hypervolume(so_far, reference); v.ok()) value = v->value;
    }
    v1::HypervolumeStep* step = summary.add_history();
    step->set_number(number);
    step->set_hypervolume(value);
  }
  return summary;
}

}  // namespace

Result<v1::AnalyzeStudyResponse> AnalyzeTrials(const v1::StudySpec& spec,
                                               const std::vector<v1::Trial>& trials,
                                               const AnalysisOptions& options) {
  if (options.trees < 1 || options.trees > 1024) {
    return InvalidArgumentError("trees: " + std::to_string(options.trees) + " is not in 1..1024");
  }
  std::vector<const v1::Trial*> completed;
  for (const v1::Trial& trial : trials) {
    if (trial.state() == v1::TRIAL_COMPLETED) completed.push_back(&trial);
  }
  std::sort(completed.begin(), completed.end(),
            [](const v1::Trial* a, const v1::Trial* b) { return a->number() < b->number(); });
  v1::AnalyzeStudyResponse response;
  *response.mutable_objectives() = spec.objectives();
  response.set_method("fanova (random forest, " + std::to_string(options.trees) + " trees)");
  HPO_ASSIGN_OR_RETURN(std::vector<v1::ObjectiveImportance> importance,
                       Importances(spec, completed, options));
  for (auto& i : importance) *response.add_importance() = std::move(i);
  *response.mutable_front() = Front(spec, completed);
  return response;
}

}  // namespace hpo::coordinator
