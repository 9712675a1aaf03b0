// StudyRunner: the state machine of one study: which trial to hand out next (a re-queued one, or a new
// one asked from the optimizer), what a completion, a failure, a lost lease or a cancellation changes.
//
// A runner never writes the database itself. Each operation returns an Update (the trial records and
// study fields that change), and nothing of the runner's records changes until the caller passes it to
// Accept(); the caller then commits it (coordinator/core.h groups commits, and after a failed one
// rebuilds its runners from the database).
//
// Not thread-safe: the Core serialises access under its mutex.
#ifndef HPO_COORDINATOR_STUDY_RUNNER_H_
#define HPO_COORDINATOR_STUDY_RUNNER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "hpo/v1/study.pb.h"
#include "search/optimizer.h"
#include "search/pruner.h"
#include "search/space.h"
#include "storage/store.h"

namespace hpo::coordinator {

struct Update {
  std::vector<storage::TrialRecord> trials;
  // The optimizer's state changed (an ask or a tell). Its new state is not in the update: serialising it
  // costs more than the rest of an operation, so the Core saves it once per commit group
  // (SaveOptimizer), after the last operation of the group.
  bool optimizer_moved = false;
  std::optional<v1::StudyState> state;
  int64_t finished_ms = 0;
  std::string error;          // with state FAILED by the fail-fast limit: why (Study.error)
  std::string pruned_reason;  // the reported trial is (or already was) pruned: why; empty otherwise

  bool empty() const { return trials.empty() && !optimizer_moved && !state; }
};

class StudyRunner {
 public:
  // Rebuilds a runner from what the store holds (a new study has no trials). Trials found RUNNING get a
  // fresh lease of the study's duration from `now_ms`, so that their workers can heartbeat again after
  // a coordinator restart.
  static Result<std::unique_ptr<StudyRunner>> Create(const storage::StudyRecord& record,
                                                     std::vector<storage::TrialRecord> trials,
                                                     int64_t now_ms);

  uint64_t id() const { return id_; }
  const v1::StudySpec& spec() const { return spec_; }
  v1::StudyState state() const { return state_; }
  bool running() const { return state_ == v1::STUDY_RUNNING; }

  // A trial for `worker_id` under lease `token`, or nullopt when the study has nothing to hand out now
  // (not running, max_parallel reached, budget spent, or the optimizer waits for results).
  Result<std::optional<Update>> Assign(uint64_t worker_id, const std::string& token, int64_t now_ms);

  // Worker `worker_id`, holding `token`, finished trial `trial_id` with `metrics`. FAILED_PRECONDITION when
  // that worker does not hold the lease. Metrics missing an objective (or a constraint's metric) fail the
  // trial, and so does any
  // non-finite metric ("non-finite metric <name>"). A report repeated under the token that finished the
  // trial changes nothing and is answered OK (empty update).
  Result<Update> Complete(uint64_t worker_id, uint64_t trial_id, const std::string& token,
                          const google::protobuf::Map<std::string, double>& metrics,
                          const std::string& device, int64_t now_ms);
  // Worker `worker_id`, holding `token`, reports that trial `trial_id` failed with `error`.
  Result<Update> Fail(uint64_t worker_id, uint64_t trial_id, const std::string& token,
                      const std::string& error, int64_t now_ms);
  // Worker `worker_id`, holding `token`, reports how running trial `trial_id` is doing: it becomes the
  // trial's progress (replacing the last), stamped `now_ms`, joins its step history, and renews the lease
  // as a heartbeat would. With a pruner, the history of every trial is judged: a trial to stop ends
  // PRUNED in the update (its metrics every metric it reported, at its latest value; Trial.error "pruned
  // at step S: <reason>"), the optimizer is told (TellPruned), and update.pruned_reason says why. A report
  // repeated under the token of a trial already pruned changes nothing and says pruned again.
  // FAILED_PRECONDITION when that worker does not
  // hold the lease; a report under the token that finished the trial changes nothing (empty update).
  // REQUIRES: `metrics` are finite (the Core checks).
  Result<Update> Progress(uint64_t worker_id, uint64_t trial_id, const std::string& token, uint64_t step,
                          const google::protobuf::Map<std::string, double>& metrics, int64_t now_ms);
  // Worker `worker_id`, holding `token`, gives trial `trial_id` back: it is pending again at once, and the
  // attempt it was on does not count (its next assignment runs the same attempt number).
  Result<Update> Release(uint64_t worker_id, uint64_t trial_id, const std::string& token);
  // Leases past their expiry: the trial is re-queued (its progress cleared for the next attempt), or
  // failed after max_attempts.
  Update ExpireLeases(int64_t now_ms);
  // Stops the study: pending and running trials are cancelled.
  Update Cancel(int64_t now_ms);

  // True when a report under `token` on `record` repeats the one that finished it.
  static bool IsRepeatedReport(const storage::TrialRecord& record, const std::string& token);

  // The optimizer's state as of now, for the store.
  std::string SaveOptimizer() const;

  // The optimizer's background work (a model fit), or nullptr when none is due; and its return, after
  // running it off the Core's lock (search/optimizer.h).
  std::unique_ptr<search::OptimizerJob> TakeJob() { return optimizer_->TakeJob(); }
  void FinishJob(std::unique_ptr<search::OptimizerJob> job) { optimizer_->FinishJob(std::move(job)); }

  // Extends the lease of a running trial that worker `worker_id` holds under `token`; false when it does
  // not hold it.
  bool Renew(uint64_t worker_id, uint64_t trial_id, const std::string& token, int64_t now_ms);

  // The trial record with this id, or nullptr.
  const storage::TrialRecord* Find(uint64_t trial_id) const;
  // Adds one to (*by_worker)[w] for each of its running trials, w being the worker that holds it.
  void CountRunning(std::map<uint64_t, uint32_t>& by_worker) const;

  // Makes the update the runner's state. New trials in it must carry their ids.
  void Accept(const Update& update);

 private:
  StudyRunner() = default;
  int64_t LeaseMs() const;
  // The running trial `trial_id` if worker `worker_id` holds its lease under `token`.
  Result<storage::TrialRecord*> Held(uint64_t worker_id, uint64_t trial_id, const std::string& token);
  // Finishes `trial` (a copy, to go into `update`) as failed and tells the optimizer.
  Status FailInto(Update& update, storage::TrialRecord trial, const std::string& error, int64_t now_ms);
  // Moves settled_ past the finished trials at its front (a finished trial never runs again).
  void Settle();
  // Sets the study's end in `update` when the trials in it spend the budget, or when failures reach
  // budget.max_failed_trials (fail fast: the study FAILED, its other trials cancelled).
  void MaybeFinish(Update& update, int64_t now_ms) const;
  // After the optimizer's state is loaded: the results its state leaves out, from the stored trials
  // (search::Optimizer::Restore).
  Status RestoreResults(const std::vector<storage::TrialRecord>& trials);
  // Tells the optimizer `trial`'s learning curve (its objectives by step), just before its result, when
  // the study has a pruner.
  Status TellCurve(const storage::TrialRecord& trial);
  // The pruner's decision on `trial` (with its new report in its history) among the study's trials.
  search::PruneDecision Judge(const storage::TrialRecord& trial) const;
  // Ends `trial` (a copy, to go into `update`) as pruned at `step` and tells the optimizer.
  Status PruneInto(Update& update, storage::TrialRecord trial, uint64_t step, const std::string& reason,
                   int64_t now_ms);

  uint64_t id_ = 0;
  v1::StudySpec spec_;
  v1::StudyState state_ = v1::STUDY_RUNNING;
  std::unique_ptr<search::SearchSpace> space_;
  std::unique_ptr<search::Optimizer> optimizer_;
  std::unique_ptr<search::Pruner> pruner_;    // null: no early stopping
  std::vector<storage::TrialRecord> trials_;  // by number
  size_t settled_ = 0;  // trials_[0, settled_) are all finished: the hot loops start here
  std::map<uint64_t, uint32_t> number_of_id_;  // trial id -> number
};

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_STUDY_RUNNER_H_
