// Pareto fronts computed on the client, for `hpoctl pareto --objectives ... --constraint ...`: parsing
// the objectives and constraints a user names, checking them against the study, and the front of the
// completed trials under them (hpo_search's non-dominated sorting does the maths). The hypervolume is
// not computed here: the coordinator answers it with the front, and DescribeHypervolume words it.
//
// Pure functions on values: no I/O, no shared state, safe from any thread.
#ifndef HPO_CLIENT_FRONT_H_
#define HPO_CLIENT_FRONT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "hpo/v1/service.pb.h"
#include "hpo/v1/study.pb.h"

namespace hpo::client {

// A bound on one metric of a trial, e.g. "latency_ms<=2".
struct Constraint {
  enum class Op { kLessEqual, kGreaterEqual, kLess, kGreater };
  std::string metric;
  Op op = Op::kLessEqual;
  double bound = 0;
};

// Parses "METRIC<=VALUE", "METRIC>=VALUE", "METRIC<VALUE" or "METRIC>VALUE"; blanks around the parts
// are allowed ("latency_ms <= 2"). METRIC is a non-empty name without blanks or comparison signs; VALUE
// a finite number ("2", "0.5", "1e-3").
// Returns the constraint, or INVALID_ARGUMENT quoting `text` and saying what is wrong (no operator,
// an unknown one such as "=" or "==", no metric, a value that is not a finite number).
Result<Constraint> ParseConstraint(std::string_view text);

// The constraint written back in the form ParseConstraint reads, e.g. "latency_ms<=2".
std::string ConstraintText(const Constraint& constraint);

// True when `trial` reports the constraint's metric and its value meets the bound; a missing or NaN
// value never does.
bool Satisfies(const v1::Trial& trial, const Constraint& constraint);

// One name of --objectives: a name, with ":min" or ":max" to give (or override) its direction.
struct ObjectiveChoice {
  std::string name;
  v1::Direction direction = v1::DIRECTION_UNSPECIFIED;  // unspecified: the study's own
};

// Parses a comma-separated list such as "accuracy,latency_ms" or "accuracy,params:min". Blanks around
// names are allowed. Returns the choices, or INVALID_ARGUMENT for an empty list or name, a suffix other
// than ":min" / ":max", or a name given twice.
Result<std::vector<ObjectiveChoice>> ParseObjectiveList(std::string_view text);

// The objectives to rank by: each choice is one of the study's objectives (its direction, unless the
// choice gives one), or another metric some trial in `trials` reports, whose direction the choice must
// then give. Returns them in the choices' order, or INVALID_ARGUMENT naming an unknown objective (and
// listing the study's objectives) or a metric given without a direction.
Result<std::vector<v1::Objective>> ResolveObjectives(const std::vector<ObjectiveChoice>& choices,
                                                     const v1::StudySpec& spec,
                                                     const std::vector<v1::Trial>& trials);

// OK when every constraint names one of the study's objectives or a metric some trial in `trials`
// reports; otherwise INVALID_ARGUMENT naming the constraint and the metric, and listing the known ones.
Status CheckConstraintMetrics(const std::vector<Constraint>& constraints, const v1::StudySpec& spec,
                              const std::vector<v1::Trial>& trials);

// The completed trials of a study sorted by how they stand with respect to objectives and constraints.
struct LocalFront {
  std::vector<v1::Objective> objectives;
  // The feasible trials no other feasible trial dominates, sorted by the first objective, best first
  // (ties by trial number), as GetParetoFront sorts its answer.
  std::vector<v1::Trial> front;
  // Completed trials with a finite value of every objective that meet every constraint, front
  // included, in the order given.
  std::vector<v1::Trial> feasible;
  // Completed trials with a finite value of every objective that miss a constraint, in the order given.
  std::vector<v1::Trial> infeasible;
};

// The front of the completed trials in `trials` (others are ignored, as are trials that lack an
// objective or report it as NaN or infinite) for `objectives`, among those meeting every constraint:
// those given and the study's own (a trial whose Trial.violated is not empty is infeasible).
// REQUIRES: !objectives.empty(); every objective's direction is MINIMIZE or MAXIMIZE.
LocalFront ComputeFront(const std::vector<v1::Trial>& trials, const std::vector<v1::Objective>& objectives,
                        const std::vector<Constraint>& constraints);

// The objective values of `trial` turned to minimisation (a maximised value negated), in `objectives`'
// order; nullopt when one is missing or not finite.
std::optional<std::vector<double>> MinimisedObjectives(const v1::Trial& trial,
                                                       const std::vector<v1::Objective>& objectives);

// The front's hypervolume as the coordinator computed it (GetParetoFrontResponse.hypervolume; one rule
// for every client, docs/hypervolume.md), for people: "hypervolume 0.284 (reference point [accuracy 0.68,
// latency_ms 3.2], rule: worst + 10% of range)", numbers to 4 significant digits, names escaped for a
// terminal; "" when the response has none (an empty front, or an older coordinator).
std::string DescribeHypervolume(const v1::GetParetoFrontResponse& front);

// The parenthesis of DescribeHypervolume alone: "reference point [accuracy 0.68, latency_ms 3.2], rule:
// worst + 10% of range"; "" when the response has no hypervolume.
std::string DescribeReferencePoint(const v1::GetParetoFrontResponse& front);

// Parses "0.5,10" into numbers, e.g. a hypervolume's reference point (`watch --reference`).
// INVALID_ARGUMENT for an empty entry or one that is not a finite number.
Result<std::vector<double>> ParseNumberList(std::string_view text, std::string_view what);

// The study's objectives, as a vector.
std::vector<v1::Objective> SpecObjectives(const v1::StudySpec& spec);

}  // namespace hpo::client

#endif  // HPO_CLIENT_FRONT_H_
