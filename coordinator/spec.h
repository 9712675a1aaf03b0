// Study specs: validation with messages that name the offending field, defaults filled in, and the
// translation of a spec into the search library's terms (search space and optimizer).
//
// Stateless free functions; thread-safe.
#ifndef HPO_COORDINATOR_SPEC_H_
#define HPO_COORDINATOR_SPEC_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "hpo/v1/study.pb.h"
#include "search/optimizer.h"
#include "search/pruner.h"
#include "search/space.h"

namespace hpo::coordinator {

// Checks every field of `spec` and fills in what may be left out: budget defaults, objective
// directions known for the task's metrics (a command or external task's objectives must state theirs),
// random search when no algorithm is given, and a synthetic task's own variables when no parameters are
// given. Returns the spec to store, or INVALID_ARGUMENT
// whose message starts with the field's path, e.g. "parameters[1] (lr): low 0.1 > high 0.01",
// "objectives[0] (acc): unknown objective" or "algorithm.nsga2.population: must be at least 4".
// Refused besides values out of their documented ranges: a field this schema does not know (at any
// depth; "parameters[0].<field 99>"), enum values outside their enum, text that is not UTF-8 or holds
// control characters (C0, DEL, C1) or Unicode bidirectional controls (U+061C, U+200E, U+200F,
// U+202A..U+202E, U+2066..U+2069: they make a name read as another in a terminal), objective and
// constraint metric names of more than 64 bytes, parameter names other than [A-Za-z0-9_.-]{1,64}, a
// study name or choice over 200
// bytes, more than 10000 parameters or 1000 choices, a population (or Latin hypercube) whose genes
// (size x parameters) pass 2^20, and algorithm options the optimizer refuses: a spec accepted here
// always builds its search space (MakeSearchSpace) and optimizer (MakeOptimizer). Idempotent: a
// normalised spec normalises to itself.
// A command task: argv of 1..256 entries, argv[0] not empty, each entry and env value at most 4096 bytes
// of UTF-8 text without control characters; timeout_s at most 604800 (a week); at most 100 env
// variables named [A-Za-z_][A-Za-z0-9_]* (128 bytes at most), none starting with HPO_ (the worker sets
// those). worker_selector: as CheckLabels.
Result<v1::StudySpec> NormalizeSpec(const v1::StudySpec& spec);

// Labels (a worker's, or a study's worker_selector) under `field`: at most 32; keys of 1..63 bytes of
// [A-Za-z0-9_.-/] starting with a letter or digit; values of at most 256 bytes of UTF-8 text without
// control characters (empty allowed). INVALID_ARGUMENT naming the field and the key, e.g.
// `worker_selector: key "gpu type" may hold only letters, digits, '_', '-', '.' and '/'`.
Status CheckLabels(const std::string& field, const google::protobuf::Map<std::string, std::string>& labels);

// What CheckReportedMetrics does with a value that is not finite.
enum class NonFinite {
  kRefuse,  // INVALID_ARGUMENT: progress reports (ReportProgress)
  kAccept,  // left to the caller: a completion with one fails its trial (StudyRunner::Complete)
};

// The metrics a worker reports under `field`, by ReportProgress and CompleteTrial alike: at most 100, each
// named by 1..64 bytes of UTF-8 text without control characters (C0, DEL, C1) or bidirectional controls
// (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069), the rule objective and constraint names
// follow; each finite unless `non_finite` is kAccept. INVALID_ARGUMENT naming the first bad one in name
// order, e.g. `metrics[loss]: not a finite number`, `metrics: a name is empty`, `metrics: name "acc\n"
// holds a control character (at byte 3)`, `metrics: at most 100 values, got 101`.
Status CheckReportedMetrics(const std::string& field,
                            const google::protobuf::Map<std::string, double>& metrics,
                            NonFinite non_finite = NonFinite::kRefuse);

// The device a worker names (RegisterWorker, CompleteTrial) under `field`: at most 256 bytes of UTF-8
// text without control or bidirectional characters, as a label's value; empty allowed. INVALID_ARGUMENT,
// e.g. `device: longer than 256 bytes`.
Status CheckReportedDevice(const std::string& field, const std::string& device);

// The reason a worker gives for a failed trial (FailTrial), as it is stored: as sent up to 2048 bytes;
// a longer one cut before the UTF-8 sequence that would pass 2048 bytes, with " ... (N bytes cut)" after
// it. A failure is never refused for its text (the trial would stay leased until its lease ran out), and
// what shows it (hpoctl, the dashboard) escapes what a terminal or a page would act on.
std::string StoredFailureReason(std::string_view error);

// "" when `labels` include every pair of `selector` (an empty selector matches every worker); otherwise
// why not, for the first key (in order) that does not match, e.g. "wants gpu=H100, the worker has
// gpu=A100".
std::string SelectorMismatch(const google::protobuf::Map<std::string, std::string>& selector,
                             const std::map<std::string, std::string>& labels);

// The search space of a normalised spec, one gene per parameter in the spec's order.
Result<search::SearchSpace> MakeSearchSpace(const v1::StudySpec& spec);

// The optimizer the spec asks for, over `dims` genes; INVALID_ARGUMENT naming the option
// ("algorithm.woa.population: ...") for a spec that did not come through NormalizeSpec.
Result<std::unique_ptr<search::Optimizer>> MakeOptimizer(const v1::StudySpec& spec, size_t dims);

// The number of constraint values the spec's constraints give (one per max, one per min).
size_t ConstraintCount(const v1::StudySpec& spec);

// The values g_j of the spec's constraints for a trial's metrics, g_j <= 0 meaning constraint j holds, in
// the spec's order (metric - max, then min - metric, for each constraint). NOT_FOUND naming the metric
// when one is missing; INVALID_ARGUMENT when one is not finite.
Result<std::vector<double>> ConstraintValues(const v1::StudySpec& spec,
                                             const google::protobuf::Map<std::string, double>& metrics);

// The constraints a trial's metrics break, as text ("latency_ms <= 2"), in the spec's order; a missing
// or non-finite metric breaks its constraints. Empty: feasible.
std::vector<std::string> ViolatedConstraints(const v1::StudySpec& spec,
                                             const google::protobuf::Map<std::string, double>& metrics);

// The early stopping the spec asks for (kind kNone when it has no pruner): ASHA becomes multi-objective
// ASHA with several objectives; a max_resource left out is a builtin task's epochs (fixed, a searched
// `epochs` parameter's high, or the knob's default). INVALID_ARGUMENT naming the field ("pruner.asha.
// reduction_factor: ...", "pruner.asha.max_resource: required ...").
Result<search::PrunerOptions> MakePrunerOptions(const v1::StudySpec& spec);

// The values of enqueued configuration k (spec.enqueue(k)) over `values`, one per parameter of `space`
// (the algorithm's proposal, which fills in what the entry leaves out). INVALID_ARGUMENT naming the entry
// and the parameter: an unknown name, a value of the wrong type, or one the space refuses (bounds, grid,
// choices). REQUIRES: k < spec.enqueue_size(), values.size() == space.dims().
Result<std::vector<search::Value>> EnqueuedValues(const v1::StudySpec& spec, const search::SearchSpace& space,
                                                  size_t k, std::vector<search::Value> values);

// The completed trials of `source` (the study spec.warm_start names) as results on the cube of `space`
// (this study's), with this study's objective directions and constraints: parameters matched by name.
// A trial whose values fall outside this study's bounds or choices, or that lacks a parameter active
// here, is left out. INVALID_ARGUMENT naming warm_start.from_study and what does not match: a parameter
// of this study missing there or of another kind, or an objective or constraint metric its completed
// trials do not report.
Result<std::vector<search::Evaluation>> WarmStartResults(const v1::StudySpec& spec,
                                                         const search::SearchSpace& space,
                                                         const v1::Study& source,
                                                         const std::vector<v1::Trial>& trials);

// A decoded value as the API's ParamValue.
v1::ParamValue ToParamValue(const search::Value& value);

// The objective vector of a trial's metrics, each negated when maximised (search minimises). NOT_FOUND
// naming the metric when one is missing; INVALID_ARGUMENT when one is not finite.
Result<std::vector<double>> MinimisedObjectives(const v1::StudySpec& spec,
                                                const google::protobuf::Map<std::string, double>& metrics);

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_SPEC_H_
