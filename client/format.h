// Formatting of what the StudyService answers, for people (aligned tables) and for programs (CSV, JSON).
//
// Pure functions over proto messages: no I/O, no shared state, safe from any thread. Every result ends
// with a newline (an empty front is a header line alone, or "[]" in JSON).
//
// Columns of a Pareto front and of a trial list: `trial` (the trial number), then each objective by
// name in the spec's order, then each parameter by name in the spec's parameter order, then any
// parameter the trials carry that the spec does not list (a synthetic task's default x1..xN), in
// natural order. A builtin task's fixed knobs are not columns. A value a trial lacks (a conditional
// parameter that is inactive, a metric of a failed trial) is an empty CSV field, JSON null and "-" in a
// table.
//
// Numbers: CSV and JSON print doubles in the shortest form that reads back to the same double, laid
// out as Python's repr does ("0.0003", "1e-05"; base/strings.h FormatDouble kPython), integers as
// integers; tables print doubles to 4 significant digits. Non-finite
// doubles are "nan", "inf", "-inf" in CSV and tables, null in JSON.
//
// Text from the service (study, parameter and metric names, choices, devices, errors) never reaches a
// terminal raw, whatever the server holds: tables, the study summary and CSV write control characters
// as visible escapes ("\n", "\t", "\x1b"), C1 and Unicode bidirectional controls as "\u202e", and bytes
// that are not UTF-8 as "\xNN" (base/strings.h EscapeForTerminal); JSON escapes the same characters as
// \uXXXX (JsonQuote), which reads back to the original text. CSV fields are quoted per RFC 4180 (a field
// holding a comma, a quote or a line break, or starting or ending with a blank, is quoted, its quotes
// doubled); a line break ('\n') is the one control character CSV keeps, inside the quotes.
#ifndef HPO_CLIENT_FORMAT_H_
#define HPO_CLIENT_FORMAT_H_

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "hpo/v1/service.pb.h"
#include "hpo/v1/study.pb.h"
#include "proto/state_names.h"

namespace hpo::client {

enum class OutputFormat { kTable, kCsv, kJson };

// "table", "csv" or "json"; otherwise INVALID_ARGUMENT.
Result<OutputFormat> ParseOutputFormat(std::string_view name);

// The Pareto front as an aligned table: a header line, then one line per trial, in the response's
// order. `spec` gives the column order (see above); the trials' other metrics (not objectives, e.g.
// test_accuracy) follow the parameters, in natural order.
std::string FormatTable(const v1::GetParetoFrontResponse& front, const v1::StudySpec& spec);

// The Pareto front as CSV (RFC 4180 quoting, text escaped as above, "\n" line ends): the header
// `trial,<obj1>,...,<param1>,...` then one row per trial.
std::string FormatCsv(const v1::GetParetoFrontResponse& front, const v1::StudySpec& spec);

// The Pareto front as a JSON array, one object per trial:
//   {"trial": 3, "objectives": {"accuracy": 0.91, ...}, "params": {"lr": 0.001, "act": "relu", ...}}
// with the keys of "objectives" and "params" in column order.
std::string FormatJson(const v1::GetParetoFrontResponse& front, const v1::StudySpec& spec);

// One of the three above, by `format`.
std::string FormatParetoFront(const v1::GetParetoFrontResponse& front, const v1::StudySpec& spec,
                              OutputFormat format);

// The trials of a study as an aligned table, for `hpoctl trials`: columns trial, state, attempt, step (the
// last step the trial reported as progress, "-" when none), the objectives, the parameters, for a study
// with constraints "feasible" ("yes", "no: latency_ms <= 2", "-" before completion), and error (last;
// line breaks flattened, cut to 80 characters).
std::string FormatTrialsTable(const v1::ListTrialsResponse& trials, const v1::StudySpec& spec);

// The trials of a study as CSV, for `hpoctl trials --format csv`: the header
// `trial,id,state,attempt,step,<objectives>,<params>,<other
// metrics>,device,worker_id,started_ms,finished_ms,error` then one row per trial (a study with constraints
// has `violated` before `error`: the broken constraints, "; "-separated). Other metrics are those the
// trials report that are not objectives, in natural order; a time not yet set (0) is an empty field.
std::string FormatTrialsCsv(const v1::ListTrialsResponse& trials, const v1::StudySpec& spec);

// The trials of a study as a JSON array, for `hpoctl trials --format json`, one object per trial:
//   {"trial": 3, "id": 17, "state": "completed", "attempt": 1, "progress": {"step": 5, "metrics": {...}},
//    "metrics": {...}, "params": {...}, "device": "...", "worker_id": 2, "started_ms": ...,
//    "finished_ms": ..., "error": ""}
// plus, for a study with constraints, "violated": ["latency_ms <= 2"] (empty when feasible).
// "progress" is the last progress the trial reported (metrics by name), or null when it reported none.
// "metrics" holds every metric the trial reports (objectives first, in the spec's order, then the
// others in natural order; a missing objective is null); "params" is in column order.
std::string FormatTrialsJson(const v1::ListTrialsResponse& trials, const v1::StudySpec& spec);

// One of FormatTrialsTable, FormatTrialsCsv and FormatTrialsJson, by `format`.
std::string FormatTrials(const v1::ListTrialsResponse& trials, const v1::StudySpec& spec,
                         OutputFormat format);

// Reads a comma-separated list of trial state names (see TrialStateName), e.g. "running,completed".
// Returns the states, or INVALID_ARGUMENT naming the unknown state and listing the known ones.
Result<std::vector<v1::TrialState>> ParseTrialStates(std::string_view text);

// The trials whose state is one of `states`, in their order; all of them when `states` is empty.
v1::ListTrialsResponse FilterTrials(const v1::ListTrialsResponse& trials,
                                    const std::vector<v1::TrialState>& states);

// A study for people, for `hpoctl show`: id, name, state, times, trial counts against the budget
// ("12/40 finished: 8 completed, 3 pruned, 1 failed; 2 running, 0 pending, 0 cancelled": pruned trials
// are finished, not failed), the pruner when there is one, the
// algorithm, the task, the objectives, the search space (one line per parameter), the size of the
// Pareto front and its hypervolume with the reference point and rule (DescribeHypervolume; when `front`
// is not null and has one) and any worker selector. Ends with a newline.
std::string FormatStudySummary(const v1::Study& study, const v1::GetParetoFrontResponse* front);

// The studies as an aligned table, for `hpoctl studies`: columns id, name, state, completed, pruned,
// failed, running, pending, max_trials.
std::string FormatStudiesTable(const v1::ListStudiesResponse& studies);

// The studies as CSV, for `hpoctl studies --format csv`: the header
// `id,name,state,completed,pruned,failed,running,pending,cancelled,max_trials,created_ms,finished_ms`
// then one row per study (finished_ms empty while it runs).
std::string FormatStudiesCsv(const v1::ListStudiesResponse& studies);

// The studies as a JSON array, for `hpoctl studies --format json`, one object per study with the CSV's
// keys, numbers as numbers ("finished_ms" null while it runs):
//   {"id": 1, "name": "fmnist-quick", "state": "completed", "completed": 12, ..., "max_trials": 12,
//    "created_ms": 1796226570186, "finished_ms": 1796226666186}
std::string FormatStudiesJson(const v1::ListStudiesResponse& studies);

// One of the three above, by `format`.
std::string FormatStudies(const v1::ListStudiesResponse& studies, OutputFormat format);

// "running", "completed", ... (proto/state_names.h).
using v1::StudyStateName;
using v1::TrialStateName;

}  // namespace hpo::client

#endif  // HPO_CLIENT_FORMAT_H_
