// Progress of a running study, for `hpoctl watch`: the one-line summary and the rule for when to print
// it again.
//
// FormatProgressLine and FormatElapsed are pure functions, safe from any thread. A ProgressReporter is a
// small value with no locking: use one per watch loop, from one thread.
#ifndef HPO_CLIENT_PROGRESS_H_
#define HPO_CLIENT_PROGRESS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "hpo/v1/study.pb.h"

namespace hpo::client {

// "35s", "2m05s", "1h02m03s" (whole seconds, rounded down; negative durations read as 0s).
std::string FormatElapsed(int64_t ms);

// What a progress line shows besides the Study itself.
struct ProgressExtras {
  // The hypervolume of the front (GetParetoFrontResponse.hypervolume); nullopt: not shown.
  std::optional<double> hypervolume;
  // What it is measured from, shown after it in a progress line (not in the bar):
  // "reference point [f1 4.3, f2 4.3], rule: worst + 10% of range" (DescribeReferencePoint); "": none.
  std::string hypervolume_reference;
};

// Trials that count against the budget: completed, pruned (stopped early by the study's pruner: done,
// not failed) and failed.
uint64_t FinishedTrials(const v1::TrialCounts& counts);

// The time a running study still needs at the pace so far: elapsed * (max_trials - finished) / finished,
// where finished is FinishedTrials and elapsed runs from its first trial's start (Study.
// first_trial_started_ms; the creation when the coordinator does not say), so that time spent waiting
// for a worker is not taken for the pace. nullopt when the study is not running, has no finished trial
// yet, or has spent its budget.
std::optional<int64_t> EstimateRemainingMs(const v1::Study& study, int64_t now_ms);

// How long an ended study took: "1m10s wall, 2m15s compute": wall time from its creation to its end,
// compute time the run time of its trials summed (Study.compute_ms).
std::string FormatTook(const v1::Study& study);

// One line without a newline, e.g.
//   "study 3 fmnist-quick: 5/12 finished (4 completed, 1 failed), 2 running, hypervolume 0.8123,
//    elapsed 35s, about 49s left"
// "finished" counts completed, pruned and failed trials (FinishedTrials) against the budget's
// max_trials; the pruned ones are named when the study has a pruner or any were pruned ("12/40 finished
// (8 completed, 3 pruned, 1 failed)"); pending and cancelled trials are named when there are any; the
// hypervolume when `extras` holds one (4 significant digits), followed by its reference point in
// parentheses when extras.hypervolume_reference is set; the time left (EstimateRemainingMs) while it
// can be estimated; a study that has ended says so
// ("..., took 1m10s wall, 2m15s compute, completed": FormatTook). Elapsed time runs from the study's
// creation to `now_ms` (Unix ms) while it runs. A running study that no live worker can serve says so
// after its counts (", waiting: no live worker matches selector gpu=H100": Study.waiting).
std::string FormatProgressLine(const v1::Study& study, int64_t now_ms, const ProgressExtras& extras = {});

// The progress bar `hpoctl watch` keeps rewriting on a terminal, without a newline, e.g.
//   "study 3 fmnist-quick [########x>>>............] 5/12  4 completed  1 failed  2 running
//    hv 0.8123  elapsed 35s  ~49s left"
// The bar is kBarWidth cells of the budget: '#' completed, '~' pruned, 'x' failed, '>' running, '.' the
// rest (each running total rounded down to whole cells, running capped at the bar's end). Pruned trials
// are named as in FormatProgressLine, and so are the waiting and the time an ended study took. When `columns`
// > 0 the line is cut to fit in columns - 1 characters (first the study's name goes, then the end of the
// line), so that the terminal never wraps it.
std::string FormatProgressBar(const v1::Study& study, int64_t now_ms, const ProgressExtras& extras,
                              size_t columns);
inline constexpr size_t kBarWidth = 24;

class ProgressReporter {
 public:
  static constexpr int64_t kDefaultRefreshMs = 10'000;

  // REQUIRES: refresh_ms > 0
  explicit ProgressReporter(int64_t refresh_ms = kDefaultRefreshMs) : refresh_ms_(refresh_ms) {}

  // True when `study` should be printed at `now_ms`: the first time, whenever its state, trial counts or
  // waiting differ from the last printed ones, and when refresh_ms have passed since the last print. A true
  // answer counts as printed.
  bool ShouldReport(const v1::Study& study, int64_t now_ms);

 private:
  int64_t refresh_ms_;
  std::optional<int64_t> last_ms_;  // when the last line was printed; none before the first
  v1::StudyState last_state_ = v1::STUDY_STATE_UNSPECIFIED;
  v1::TrialCounts last_counts_;
  std::string last_waiting_;
};

}  // namespace hpo::client

#endif  // HPO_CLIENT_PROGRESS_H_
