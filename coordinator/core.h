// Core: the coordinator without its transport. It owns one StudyRunner per running study, hands trials
// to workers under leases, takes their results, and commits every state change to the Store before it
// answers (acknowledged means committed).
//
// Commits are grouped (coordinator/group_commit.h): an operation changes the runners in memory under the
// mutex, queues its changes, and waits outside the mutex until the group holding them is durable, so
// concurrent operations share one transaction. Trial ids are handed out here, before their rows exist.
// When a group fails, the operations in it fail, and the next operation first rebuilds every runner from
// the database (as after a restart).
//
// Model fits (the model-based sampler's) run on a thread of their own (coordinator/fitter.h), never
// under the mutex and never inside an RPC: a study's proposals come from a queue the fits refill.
//
// Thread-safe: one mutex serialises the in-memory work of every operation. The Store and the Clock must
// outlive the Core. The work listener is called without the mutex held, from whichever thread made work
// available.
#ifndef HPO_COORDINATOR_CORE_H_
#define HPO_COORDINATOR_CORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "base/clock.h"
#include "base/rng.h"
#include "base/status.h"
#include "coordinator/fitter.h"
#include "coordinator/group_commit.h"
#include "coordinator/study_runner.h"
#include "coordinator/worker_registry.h"
#include "hpo/v1/service.pb.h"
#include "storage/store.h"

namespace hpo::coordinator {

// Which trials ListTrials answers.
struct TrialQuery {
  uint64_t updated_since = 0;    // only those changed after this cursor (TrialPage.cursor); 0: all
  bool include_history = false;  // fill in Trial.history (every step reported)
};

struct TrialPage {
  std::vector<v1::Trial> trials;  // by number
  uint64_t cursor = 0;            // ask with updated_since = cursor for the trials changed since
};

struct CoreOptions {
  const Clock* clock = SystemClock::Default();  // must outlive the Core
  uint32_t heartbeat_ms = 1000;                 // told to workers at registration
  // A worker not heard from for longer than this (and than three heartbeats) is lost: `hpoctl workers`
  // says so, and a study that only lost workers could run is "waiting" (Study.waiting).
  int64_t worker_lost_ms = 10'000;
};

class Core {
 public:
  // Rebuilds the runners of the studies the store holds as running. A study that cannot be rebuilt
  // (its spec or optimizer state no longer loads) is marked failed with the reason, and the rest go on.
  static Result<std::unique_ptr<Core>> Open(storage::Store* store, const CoreOptions& options);

  // INVALID_ARGUMENT naming the field for a bad spec; nothing is stored then.
  Result<v1::Study> CreateStudy(const v1::StudySpec& spec);
  Result<v1::Study> GetStudy(uint64_t study_id);
  Result<std::vector<v1::Study>> ListStudies();
  Result<v1::Study> CancelStudy(uint64_t study_id);
  // Deletes the study and its trials from the store once every change queued before is committed, and
  // returns the study as it was. FAILED_PRECONDITION for a running study unless `force`: then it is
  // cancelled first (committed), as by CancelStudy. NOT_FOUND for an unknown study.
  Result<v1::DeleteStudyResponse> DeleteStudy(uint64_t study_id, bool force);
  Result<std::vector<v1::Trial>> ListTrials(uint64_t study_id);
  // The trials `query` asks for, with the cursor to ask with next (storage::Store::ListTrialsSince).
  Result<TrialPage> ListTrials(uint64_t study_id, const TrialQuery& query);
  // Importance of each parameter for each objective and the front's summary (coordinator/analysis.h),
  // with `trees` trees per forest (0: 64). Kept per study until its completed trials change, so that
  // pollers do not refit the forests. Runs on the caller's thread, not under the mutex.
  Result<v1::AnalyzeStudyResponse> AnalyzeStudy(uint64_t study_id, uint32_t trees = 0);
  // Trials come with Trial.violated filled in from the study's constraints.
  // The front of the completed trials that break no constraint (with `include_infeasible`, of them all),
  // with its hypervolume over `reference_point` (empty: the rule of SetFrontHypervolume,
  // coordinator/front_hypervolume.h); INVALID_ARGUMENT for a bad reference_point (CheckReferencePoint).
  Result<v1::GetParetoFrontResponse> GetParetoFront(uint64_t study_id, bool include_infeasible = false,
                                                    std::span<const double> reference_point = {});

  // Workers are known from their registration on, across coordinator restarts (their ids and labels are
  // stored). Every worker call names the worker: NOT_FOUND for one never registered. A worker's labels are
  // those it registered with, plus its device name as the label "device" (unless it gives one itself);
  // INVALID_ARGUMENT naming the label when they break CheckLabels (coordinator/spec.h), or "device" when
  // the device name breaks CheckReportedDevice.
  Result<v1::RegisterWorkerResponse> RegisterWorker(const v1::RegisterWorkerRequest& request);
  // Called once an operation's changes are durable (OK), or with the error that kept them from being so;
  // on the committer's thread, or on the caller's when the operation fails before queueing anything.
  using Done = std::function<void(const Status&)>;

  // A trial for the worker if one can be handed out now, or nullopt. NOT_FOUND for an unknown worker.
  // With `study_id` 0, a trial of any running study whose worker_selector the worker's labels match,
  // never one of an external study (round robin over the studies). Otherwise only that study's:
  // NOT_FOUND for an unknown study, FAILED_PRECONDITION when it is no longer running or its
  // worker_selector does not match the worker's labels (the message says which label).
  // Returns once the assignment is committed.
  Result<std::optional<v1::AcquireTrialResponse>> TryAcquire(uint64_t worker_id, uint64_t study_id = 0);
  // The same without waiting: when a trial is handed out, fills *response and returns true, and calls
  // `durable` once the assignment is committed (perhaps before this returns); the response may be sent
  // only then, and only if it says OK. False: nothing to hand out, and `durable` is not called; then
  // *only_for_others (when given) says whether a study had to be passed over because of this worker's
  // labels, so that a worker with other labels may still get a trial now.
  Result<bool> TryAcquire(uint64_t worker_id, uint64_t study_id, v1::AcquireTrialResponse* response,
                          Done durable, bool* only_for_others = nullptr);
  Result<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request);
  // Reports: each returns (or calls `done`) once its change is committed.
  // A completion's metrics follow a progress report's limits (CheckReportedMetrics: count and names) and
  // its device CheckReportedDevice's, or it is refused INVALID_ARGUMENT naming what is wrong, and nothing
  // changes; a non-finite value is not refused but fails the trial ("non-finite metric <name>").
  Status CompleteTrial(const v1::CompleteTrialRequest& request);
  Status FailTrial(const v1::FailTrialRequest& request);
  Status ReleaseTrial(const v1::ReleaseTrialRequest& request);
  // The trial's progress (step and metrics) replaces its last, stamped with the time; the lease rules of
  // the other reports apply, and the lease is renewed. INVALID_ARGUMENT naming the metric for one that is
  // not finite or badly named (CheckReportedMetrics); nothing changes then.
  // The answer says whether the study's pruner stopped the trial on this report (it is PRUNED then).
  Result<v1::ReportProgressResponse> ReportProgress(const v1::ReportProgressRequest& request);
  void CompleteTrial(const v1::CompleteTrialRequest& request, Done done);
  void FailTrial(const v1::FailTrialRequest& request, Done done);
  void ReleaseTrial(const v1::ReleaseTrialRequest& request, Done done);
  // `response` (which must outlive the call of `done`) is filled before `done` is called.
  void ReportProgress(const v1::ReportProgressRequest& request, v1::ReportProgressResponse* response,
                      Done done);
  // Re-queues or fails trials whose lease has run out, in every study; returns the first error.
  Status ExpireLeases();

  // `listener` is called whenever trials may have become available (a new study, a finished trial, a
  // re-queued one). Set it before serving.
  void SetWorkListener(std::function<void()> listener);

  GroupCommitStats commit_stats() const { return committer_->stats(); }

  // How many workers have registered, ever (their ids are stored across restarts).
  size_t RegisteredWorkers();
  // How many workers are live now (WorkerRegistry).
  size_t LiveWorkers();
  // The workers heard from since the start (with `all`, every registered one), with their running trials.
  v1::ListWorkersResponse ListWorkers(bool all);

 private:
  Core(storage::Store* store, const CoreOptions& options);
  // (Re)builds the runners of the running studies, the known workers and the next trial id from the
  // store. REQUIRES: mu_ held.
  Status Load();
  // After a failed group commit: Load() again, then let commits resume. REQUIRES: mu_ held.
  Status RecoverIfBroken();
  // Gives the trials in `update` that have none their ids. REQUIRES: mu_ held.
  void NumberNewTrials(Update& update);
  // Gives new trials in `update` their ids, makes it `runner`'s state, and returns the changes to commit
  // (empty for an empty update). `runner` is destroyed when the update ends its study.
  // REQUIRES: mu_ held.
  ChangeSet Stage(StudyRunner& runner, Update& update);
  // The committer's sealer: takes the queued changes as a group and returns the optimizer states of the
  // studies they moved, as of the group's last change (saved once per group, not once per operation).
  ChangeSet Seal(const std::function<void()>& take);
  // Stage, and queue the changes: the ticket to wait on, or 0 when there is nothing to commit.
  // REQUIRES: mu_ held.
  uint64_t StageAndQueue(StudyRunner& runner, Update& update);
  // Waits for the commit of `ticket` (0: nothing to wait for). REQUIRES: mu_ not held.
  Status Committed(uint64_t ticket);
  // Runs `start` with a Done and waits for it to be called. REQUIRES: mu_ not held.
  static Status Await(const std::function<void(Done)>& start);
  Result<StudyRunner*> Runner(uint64_t study_id);  // REQUIRES: mu_ held
  // Fills in Study.waiting of a running study no live worker can serve. REQUIRES: mu_ not held.
  void NoteWaiting(v1::Study& study);
  // Applies worker `worker_id`'s report on `trial_id` to the runner that owns it, and commits it.
  // A repeat of the report that finished the trial (same token) is acknowledged and changes nothing.
  // `frees_work`: the report may make trials available (the work listener is told once it commits).
  void Report(uint64_t worker_id, uint64_t trial_id, const std::string& token,
              const std::function<Result<Update>(StudyRunner&, int64_t now_ms)>& report, Done done,
              bool frees_work = true);
  // Hands the runner's due background work (a model fit) to the fitter; when it is done, it goes back
  // to the runner (if the study still runs and was not reloaded since), the next is scheduled, and the
  // work listener is told (a worker may be waiting for the proposal). REQUIRES: mu_ held.
  void ScheduleFit(StudyRunner& runner);
  std::string NewToken();  // REQUIRES: mu_ held
  // NOT_FOUND for a worker never registered; otherwise notes its call (it is live). REQUIRES: mu_ held
  Status CheckWorker(uint64_t worker_id);
  void NotifyWork();  // REQUIRES: mu_ not held

  storage::Store* const store_;
  const CoreOptions options_;
  std::mutex mu_;
  std::map<uint64_t, std::unique_ptr<StudyRunner>> runners_;  // GUARDED_BY(mu_); running studies
  WorkerRegistry workers_;      // GUARDED_BY(mu_); every registered worker, its labels and its last call
  Rng token_rng_;               // GUARDED_BY(mu_)
  uint64_t next_study_ = 0;     // GUARDED_BY(mu_); round-robin start
  uint64_t next_trial_id_ = 1;  // GUARDED_BY(mu_)
  std::set<uint64_t> dirty_;    // GUARDED_BY(mu_); studies whose optimizer moved since the last seal
  uint64_t generation_ = 0;     // GUARDED_BY(mu_); Load() count: a fit from before a reload is dropped
  std::function<void()> work_listener_;
  // The last analysis of each study, with what it was computed from.
  struct CachedAnalysis {
    uint32_t trees = 0;
    size_t completed = 0;         // completed trials then
    uint64_t last_completed = 0;  // the largest change sequence among them
    v1::AnalyzeStudyResponse response;
  };
  std::mutex analysis_mu_;
  std::map<uint64_t, CachedAnalysis> analyses_;  // GUARDED_BY(analysis_mu_)
  std::unique_ptr<GroupCommitter> committer_;
  // Declared last, destroyed first: its running fit may still take mu_ and reach the runners.
  std::unique_ptr<Fitter> fitter_;
};

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_CORE_H_
