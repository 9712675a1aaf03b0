#include "client/front.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

#include "base/strings.h"
#include "search/pareto.h"

namespace hpo::client {
namespace {

// `value` to 4 significant digits, as tables print doubles: "0.284", "3.2", "1.235e+04".
std::string SignificantDigits(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4g", value);
  return buffer;
}

std::string Quote(std::string_view text) {
  std::string quoted;
  quoted.reserve(text.size() + 2);
  quoted += '\'';
  quoted += text;
  quoted += '\'';
  return quoted;
}

// A finite double spelt as all of `text`, or nullopt.
std::optional<double> ParseFiniteDouble(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.front() == '+') text.remove_prefix(1);  // from_chars does not take a plus sign
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

// "a, b, c" for the names, or "(none)".
std::string NameList(const std::vector<std::string>& names) {
  if (names.empty()) return "(none)";
  std::string out;
  for (const std::string& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

// The study's objective names, then the other metrics the trials report, in sorted order.
std::vector<std::string> KnownMetrics(const v1::StudySpec& spec, const std::vector<v1::Trial>& trials) {
  std::vector<std::string> names;
  for (const v1::Objective& objective : spec.objectives()) names.push_back(objective.name());
  std::set<std::string> others;
  for (const v1::Trial& trial : trials) {
    for (const auto& [name, value] : trial.metrics()) {
      if (std::find(names.begin(), names.end(), name) == names.end()) others.insert(name);
    }
  }
  names.insert(names.end(), others.begin(), others.end());
  return names;
}

bool Reports(const std::vector<v1::Trial>& trials, const std::string& metric) {
  return std::any_of(trials.begin(), trials.end(),
                     [&](const v1::Trial& trial) { return trial.metrics().contains(metric); });
}

const v1::Objective* FindObjective(const v1::StudySpec& spec, std::string_view name) {
  for (const v1::Objective& objective : spec.objectives()) {
    if (objective.name() == name) return &objective;
  }
  return nullptr;
}

}  // namespace

Result<Constraint> ParseConstraint(std::string_view text) {
  const std::string what = "constraint " + Quote(text);
  const size_t op_at = text.find_first_of("<>=!");
  if (op_at == std::string_view::npos) {
    return InvalidArgumentError(what + ": expected METRIC<=VALUE, METRIC>=VALUE, METRIC<VALUE or " +
                                "METRIC>VALUE, e.g. 'latency_ms<=2'");
  }
  size_t op_end = op_at;
  while (op_end < text.size() && std::string_view("<>=!").find(text[op_end]) != std::string_view::npos) {
    ++op_end;
  }
  const std::string_view op = text.substr(op_at, op_end - op_at);
  Constraint constraint;
  if (op == "<=") {
    constraint.op = Constraint::Op::kLessEqual;
  } else if (op == ">=") {
    constraint.op = Constraint::Op::kGreaterEqual;
  } else if (op == "<") {
    constraint.op = Constraint::Op::kLess;
  } else if (op == ">") {
    constraint.op = Constraint::Op::kGreater;
  } else {
    return InvalidArgumentError(what + ": unknown comparison " + Quote(op) + "; use <=, >=, < or >");
  }
  const std::string_view metric = Trim(text.substr(0, op_at));
  if (metric.empty()) return InvalidArgumentError(what + ": no metric before " + Quote(op));
  if (metric.find_first_of(" \t") != std::string_view::npos) {
    return InvalidArgumentError(what + ": " + Quote(metric) + " is not a metric name (it has blanks)");
  }
  const std::string_view bound = Trim(text.substr(op_end));
  if (bound.empty()) return InvalidArgumentError(what + ": no value after " + Quote(op));
  const std::optional<double> value = ParseFiniteDouble(bound);
  if (!value) return InvalidArgumentError(what + ": " + Quote(bound) + " is not a finite number");
  constraint.metric = std::string(metric);
  constraint.bound = *value;
  return constraint;
}

std::string ConstraintText(const Constraint& constraint) {
  std::string_view op = "<=";
  switch (constraint.op) {
    case Constraint::Op::kLessEqual:
      op = "<=";
      break;
    case Constraint::Op::kGreaterEqual:
      op = ">=";
      break;
    case Constraint::Op::kLess:
      op = "<";
      break;
    case Constraint::Op::kGreater:
      op = ">";
      break;
  }
  return constraint.metric + std::string(op) + FormatDouble(constraint.bound, DoubleLayout::kPython);
}

bool Satisfies(const v1::Trial& trial, const Constraint& constraint) {
  const auto it = trial.metrics().find(constraint.metric);
  if (it == trial.metrics().end() || std::isnan(it->second)) return false;
  const double v = it->second;
  switch (constraint.op) {
    case Constraint::Op::kLessEqual:
      return v <= constraint.bound;
    case Constraint::Op::kGreaterEqual:
      return v >= constraint.bound;
    case Constraint::Op::kLess:
      return v < constraint.bound;
    case Constraint::Op::kGreater:
      return v > constraint.bound;
  }
  return false;
}

Result<std::vector<ObjectiveChoice>> ParseObjectiveList(std::string_view text) {
  std::vector<ObjectiveChoice> choices;
  if (Trim(text).empty()) return InvalidArgumentError("--objectives: no objective named");
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string_view item =
        Trim(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (item.empty()) {
      return InvalidArgumentError("--objectives " + Quote(text) + ": an empty name between commas");
    }
    ObjectiveChoice choice;
    std::string_view name = item;
    const size_t colon = item.rfind(':');
    if (colon != std::string_view::npos) {
      const std::string_view suffix = item.substr(colon + 1);
      if (suffix == "min") {
        choice.direction = v1::MINIMIZE;
      } else if (suffix == "max") {
        choice.direction = v1::MAXIMIZE;
      } else {
        return InvalidArgumentError("--objectives: " + Quote(item) + ": the direction after ':' must be " +
                                    "min or max, not " + Quote(suffix));
      }
      name = Trim(item.substr(0, colon));
      if (name.empty()) return InvalidArgumentError("--objectives: " + Quote(item) + " has no name");
    }
    for (const ObjectiveChoice& earlier : choices) {
      if (earlier.name == name) {
        return InvalidArgumentError("--objectives: " + Quote(name) + " is named twice");
      }
    }
    choice.name = std::string(name);
    choices.push_back(std::move(choice));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return choices;
}

Result<std::vector<v1::Objective>> ResolveObjectives(const std::vector<ObjectiveChoice>& choices,
                                                     const v1::StudySpec& spec,
                                                     const std::vector<v1::Trial>& trials) {
  std::vector<v1::Objective> objectives;
  for (const ObjectiveChoice& choice : choices) {
    v1::Objective objective;
    objective.set_name(choice.name);
    objective.set_direction(choice.direction);
    if (const v1::Objective* known = FindObjective(spec, choice.name)) {
      if (choice.direction == v1::DIRECTION_UNSPECIFIED) objective.set_direction(known->direction());
    } else if (!Reports(trials, choice.name)) {
      std::vector<std::string> objective_names = KnownMetrics(spec, {});
      std::vector<std::string> others = KnownMetrics(spec, trials);
      others.erase(others.begin(), others.begin() + static_cast<long>(objective_names.size()));
      return InvalidArgumentError("--objectives: unknown objective " + Quote(choice.name) +
                                  "; the study's objectives are " + NameList(objective_names) +
                                  " (other metrics the trials report: " + NameList(others) + ")");
    } else if (choice.direction == v1::DIRECTION_UNSPECIFIED) {
      return InvalidArgumentError("--objectives: " + Quote(choice.name) +
                                  " is a metric but not one of the study's objectives; say which way is "
                                  "better: " +
                                  choice.name + ":min or " + choice.name + ":max");
    }
    if (objective.direction() == v1::DIRECTION_UNSPECIFIED) objective.set_direction(v1::MINIMIZE);
    objectives.push_back(std::move(objective));
  }
  return objectives;
}

Status CheckConstraintMetrics(const std::vector<Constraint>& constraints, const v1::StudySpec& spec,
                              const std::vector<v1::Trial>& trials) {
  for (const Constraint& constraint : constraints) {
    if (FindObjective(spec, constraint.metric) != nullptr || Reports(trials, constraint.metric)) continue;
    return InvalidArgumentError("constraint " + Quote(ConstraintText(constraint)) + ": unknown metric " +
                                Quote(constraint.metric) +
                                "; known metrics: " + NameList(KnownMetrics(spec, trials)));
  }
  return Status::Ok();
}

std::optional<std::vector<double>> MinimisedObjectives(const v1::Trial& trial,
                                                       const std::vector<v1::Objective>& objectives) {
  std::vector<double> values;
  values.reserve(objectives.size());
  for (const v1::Objective& objective : objectives) {
    const auto it = trial.metrics().find(objective.name());
    if (it == trial.metrics().end() || !std::isfinite(it->second)) return std::nullopt;
    values.push_back(objective.direction() == v1::MAXIMIZE ? -it->second : it->second);
  }
  return values;
}

LocalFront ComputeFront(const std::vector<v1::Trial>& trials, const std::vector<v1::Objective>& objectives,
                        const std::vector<Constraint>& constraints) {
  LocalFront result;
  result.objectives = objectives;
  std::vector<std::vector<double>> points;
  for (const v1::Trial& trial : trials) {
    if (trial.state() != v1::TRIAL_COMPLETED) continue;
    std::optional<std::vector<double>> point = MinimisedObjectives(trial, objectives);
    if (!point) continue;
    // The study's own constraints (Trial.violated, from the coordinator) and those given here.
    const bool feasible =
        trial.violated().empty() && std::all_of(constraints.begin(), constraints.end(),
                                                [&](const Constraint& c) { return Satisfies(trial, c); });
    if (!feasible) {
      result.infeasible.push_back(trial);
      continue;
    }
    result.feasible.push_back(trial);
    points.push_back(std::move(*point));
  }
  std::vector<size_t> front = search::ParetoFrontIndices(points);
  std::sort(front.begin(), front.end(), [&](size_t a, size_t b) {
    if (points[a][0] != points[b][0]) return points[a][0] < points[b][0];
    return result.feasible[a].number() < result.feasible[b].number();
  });
  for (size_t i : front) result.front.push_back(result.feasible[i]);
  return result;
}

std::string DescribeReferencePoint(const v1::GetParetoFrontResponse& front) {
  if (!front.has_hypervolume()) return "";
  std::string text = "reference point [";
  for (int k = 0; k < front.reference_point_size(); ++k) {
    if (k > 0) text += ", ";
    if (k < front.objectives_size()) text += EscapeForTerminal(front.objectives(k).name()) + " ";
    text += SignificantDigits(front.reference_point(k));
  }
  return text + "], rule: " + EscapeForTerminal(front.reference_rule());
}

std::string DescribeHypervolume(const v1::GetParetoFrontResponse& front) {
  if (!front.has_hypervolume()) return "";
  return "hypervolume " + SignificantDigits(front.hypervolume()) + " (" + DescribeReferencePoint(front) + ")";
}

Result<std::vector<double>> ParseNumberList(std::string_view text, std::string_view what) {
  std::vector<double> values;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string_view item =
        Trim(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    const std::optional<double> value = ParseFiniteDouble(item);
    if (!value) {
      return InvalidArgumentError(std::string(what) + " " + Quote(text) + ": " + Quote(item) +
                                  " is not a finite number");
    }
    values.push_back(*value);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return values;
}

std::vector<v1::Objective> SpecObjectives(const v1::StudySpec& spec) {
  return {spec.objectives().begin(), spec.objectives().end()};
}

}  // namespace hpo::client
