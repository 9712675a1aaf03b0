// Pruners: early-stopping decisions for the trials of a study, as pure functions of what the trials have
// reported so far. A trial reports an objective vector at steps 1, 2, 3, ... (epochs, say); after each
// report the coordinator asks Decide whether the trial should stop now, passing the trial and every trial
// of the study (running, finished, pruned). Objectives are minimised, as everywhere in search/.
//
// A Pruner is immutable once made: Decide and IsDecisionStep are const, use no clock, no randomness, no
// I/O and no shared state, so one pruner may be called from any number of threads at once (the
// coordinator calls it under its study's lock). The caller owns the pruner MakePruner returns; Decide
// keeps no reference to its arguments.
//
// Four rules (PrunerKind):
//
// kMedian, the median stopping rule (Golovin, Solnik, Moitra, Kochanski, Karro, Sculley, "Google
//   Vizier: a service for black-box optimization", KDD 2017, section 3.2; Optuna's MedianPruner). At
//   step s (s > n_warmup_steps) let b be the trial's best value so far, the least of its first
//   objective over steps 1..s. The others are the other trials that have reached step s (history.size()
//   >= s; with finished_only, only finished ones), each summed up by its own best value over steps 1..s
//   (its running best). With at least n_startup_trials others, the trial is pruned iff b is strictly
//   greater than the median of their running bests (the mean of the two middle ones for an even count).
//   With several objectives only the first counts. NaN values are skipped in every best; a trial whose
//   every value so far is NaN is pruned (as Optuna does); another trial with no number by step s does
//   not count. Vizier compares with the others' running averages and Optuna with their value at step s;
//   the running best compares like with like. Optuna counts n_startup_trials over completed trials only
//   and at any step; here they are counted at step s, running or finished (finished_only narrows them to
//   finished trials, as Vizier and Optuna do). Decides at every step after the warm-up: O(N S) for N
//   trials of S steps.
//
// kAsha, asynchronous successive halving (Li, Jamieson, Rostamizadeh, Gonina, Ben-tzur, Hardt, Recht,
//   Talwalkar, "A system for massively parallel hyperparameter tuning", MLSys 2020, algorithm 2; Optuna's
//   SuccessiveHalvingPruner). Rung k (k = 0, 1, ...) is step min_resource * eta^(s + k), eta =
//   reduction_factor, s = min_early_stopping_rate, for every such step below max_resource (at
//   max_resource a trial has its full budget and is never stopped, even when the report that brings it
//   there also passes a rung it did not report at, as merged reports do). A trial reaches a rung with its
//   first report at or after the rung's step, and its value at the rung is that report's first objective.
//   When a trial reaches a rung, the n trials that have reached it so far (itself included; any state) are
//   ranked by value, ties by lower id; the trial goes on iff its rank is within the best
//     keep(n) = max(1, floor(n / eta)),
//   i.e. the top 1/eta rounded down as in the paper's top_k(rung, |rung| / eta) and in Optuna, and while
//   fewer than eta trials have reached the rung, only the best so far goes on (Optuna's rule: no trial
//   is paused to wait for more). Asynchronous: the decision uses what is known at the call; a trial
//   promoted early is never taken back. Ties: Optuna promotes every trial equal to the keep(n)-th value;
//   here ties go by lower id, so that exactly keep(n) ranks are promoted. A report that passes several
//   rungs at once (after a gap) is judged at each in turn with the same value, and pruned at the first it
//   fails. A trial whose value at a rung is NaN is pruned there, and trials with NaN there are no one's
//   competitors (Optuna records no value for them either). Steps are 1-based resources here: rung 0 with
//   min_resource 1 is step 1 (Optuna's 0-based step 1 is our step 2). Decides only when a report reaches
//   a rung; O(N S + N log N) for such a report.
//
// kHyperband (Li, Jamieson, DeSalvo, Rostamizadeh, Talwalkar, "Hyperband: a novel bandit-based approach
//   to hyperparameter optimization", JMLR 18(185), 2018) on top of ASHA, as Optuna's HyperbandPruner:
//   B = floor(log_eta(max_resource / min_resource)) + 1 brackets (the paper's s_max + 1); bracket i
//   (0..B-1) is ASHA with min_early_stopping_rate i, so bracket 0 stops the most and bracket B-1 may have
//   no rung at all (its trials always run to max_resource). A trial's bracket is fixed by its id alone:
//   h = DeriveSeed(seed, id) mod T picks bracket i with probability budget_i / T, where
//   budget_i = ceil(B * eta^(B-1-i) / (B-i)) (the paper's n = ceil((s_max + 1) eta^s / (s + 1)) for
//   bracket s = B-1-i) and T their sum; the brackets then get trials in the paper's proportions, up to
//   the hash. A trial is ranked only against the trials of its own bracket. Changing seed, min_resource,
//   reduction_factor or max_resource mid-study reassigns trials.
//
// kMultiObjectiveAsha (Schmucker, Donini, Zafar, Salinas, Archambeau, "Multi-objective asynchronous
//   successive halving", arXiv:2106.12639, 2021), their NSGA-II selection variant (not EpsNet, not random
//   scalarization): ASHA's rungs, reaching, counts and keep(n), but the n trials at a rung are ranked
//   by their whole objective vectors: by non-dominated front (NondominatedSort in pareto.h), within a
//   front by crowding distance (CrowdingDistance in pareto.h, computed once per front), larger first, then
//   by lower id. Every trial's vector at the rung must have as many objectives as the deciding trial's:
//   others are no competitors there. Any NaN objective counts as a NaN value above. With one objective
//   the order is ASHA's: the fronts are the distinct values, ascending, and crowding distance puts no
//   copy of a value ahead of a copy with a lower id (the points are passed in id order; see pareto.h on
//   copies), so the two decide alike. O(N S + N log N) per decision for 2 objectives,
//   O(N S + N log^2 N) for 3.
//
// kNone never prunes.
#ifndef HPO_SEARCH_PRUNER_H_
#define HPO_SEARCH_PRUNER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace hpo::search {

// The largest max_resource a pruner accepts (about 10^12 steps), which keeps its arithmetic exact.
inline constexpr uint64_t kMaxPrunerResource = uint64_t{1} << 40;

// One trial as a pruner sees it.
struct PrunerTrial {
  uint64_t id = 0;  // the trial's number in its study; unique within a call
  // history[s - 1] = the objective vector (minimised) the trial reported at step s, 1-based. An empty
  // vector is a step with no report (a gap); history.size() is the last step the trial has reached.
  std::vector<std::vector<double>> history = {};
  bool finished = false;  // completed at its full budget, or pruned
};

struct PruneDecision {
  bool prune = false;  // true: stop the trial now; it ends PRUNED
  // Why, in words for hpoctl, e.g. "asha: rung 1 (step 3): rank 5 of 6, promoting the best 2".
  std::string reason;
};

class Pruner {
 public:
  virtual ~Pruner() = default;

  // Whether `trial` should stop after its latest report, the one at step trial.history.size(). `all` is
  // every trial of the study, in any order; an entry with trial's id, if any, is ignored (trial itself
  // is used). Never prunes a finished trial or one whose last step is a gap (history.back() empty), and
  // never prunes off the rule's decision steps (IsDecisionStep), so calling it after every report is
  // always right. The answer depends on the set of trials in `all`, not on their order.
  virtual PruneDecision Decide(const PrunerTrial& trial, std::span<const PrunerTrial> all) const = 0;

  // True when Decide may prune trial `trial_id` for a report at `step` whose previous report was at
  // `previous_step` (0 for its first report): for the median rule every step after the warm-up, for the
  // ASHA family when a rung lies in (previous_step, step]. A caller may skip Decide when false.
  virtual bool IsDecisionStep(uint64_t trial_id, uint64_t previous_step, uint64_t step) const = 0;
};

enum class PrunerKind {
  kNone,
  kMedian,
  kAsha,
  kHyperband,
  kMultiObjectiveAsha,  // takes its options from PrunerOptions::asha
};

struct MedianPrunerOptions {
  size_t n_startup_trials = 5;  // other trials that must have reached the step before any decision; >= 1
  uint64_t n_warmup_steps = 0;  // steps 1..n_warmup_steps are never decided
  bool finished_only = false;   // count only finished trials as others (Vizier, Optuna)
};

struct AshaOptions {
  uint64_t min_resource = 1;             // r; >= 1
  uint64_t reduction_factor = 3;         // eta; >= 2
  uint64_t max_resource = 0;             // R, a trial's full budget in steps; required, > the first rung
  uint64_t min_early_stopping_rate = 0;  // s; rung k is step r * eta^(s + k)
};

struct HyperbandOptions {
  uint64_t min_resource = 1;      // r; >= 1
  uint64_t reduction_factor = 3;  // eta; >= 2
  uint64_t max_resource = 0;      // R; required, > min_resource
  uint64_t seed = 0;              // the study's seed: which trial ids go to which bracket
};

struct PrunerOptions {
  PrunerKind kind = PrunerKind::kNone;
  MedianPrunerOptions median = {};  // kMedian
  AshaOptions asha = {};            // kAsha, kMultiObjectiveAsha
  HyperbandOptions hyperband = {};  // kHyperband
};

// OK, or INVALID_ARGUMENT naming the first bad field of the options `kind` uses, e.g.
// "pruner.asha.reduction_factor: must be at least 2". Options of other kinds are not looked at.
Status ValidatePrunerOptions(const PrunerOptions& options);

// The pruner the options describe, or ValidatePrunerOptions's error.
Result<std::unique_ptr<Pruner>> MakePruner(const PrunerOptions& options);

// The rung steps of ASHA with these options, ascending, all below max_resource; empty for options
// ValidatePrunerOptions refuses.
std::vector<uint64_t> AshaRungSteps(const AshaOptions& options);

struct HyperbandBracket {
  uint64_t min_early_stopping_rate = 0;  // = the bracket's index
  uint64_t budget = 0;                   // its weight in the assignment of trials (see above)
  std::vector<uint64_t> rung_steps;      // AshaRungSteps of the bracket; empty for the last
};

// The brackets of Hyperband with these options, bracket 0 first; empty for refused options.
std::vector<HyperbandBracket> HyperbandBrackets(const HyperbandOptions& options);

// The bracket of trial `trial_id`, an index into HyperbandBrackets(options); 0 for refused options.
// O(B^2): it builds the brackets, which a Hyperband pruner builds once.
size_t HyperbandBracketOf(const HyperbandOptions& options, uint64_t trial_id);

}  // namespace hpo::search

#endif  // HPO_SEARCH_PRUNER_H_
