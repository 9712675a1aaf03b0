// Worker: the worker daemon's core. It registers with the coordinator's WorkerService, then runs one
// loop per slot: AcquireTrial (a long poll), run the trial (TrialRunner), report it with CompleteTrial
// or FailTrial. A heartbeat thread renews the leases of the running trials and stops the trials the
// coordinator takes back. Progress lines are relayed with ReportProgress while the trial runs, from a
// thread of the trial's own so that neither the program nor the coordinator waits on the other: every
// line of a builtin task (the trainer's, one per epoch, so that a pruner sees each rung), and at most one
// report per progress_interval of a command task (the latest line wins, keeping the metrics of the lines
// it replaces that it lacks); the last line is sent before the trial's result. When the answer says
// should_prune, the coordinator has already ended the trial (PRUNED): its process group is killed at once
// (SIGTERM, then SIGKILL after stop_grace), nothing more is reported for it, and the slot takes the next
// trial. Stop() ends it all: no more trials are acquired, running children are killed and their trials
// given back with ReleaseTrial (best effort: one try each), so that another worker runs them at once
// without spending an attempt.
//
// Protocol, as the worker reads it (hpo/v1/service.proto):
//   - RegisterWorker is retried with backoff on transient errors (the coordinator is unreachable), for
//     up to register_timeout; any other error ends Run().
//   - Transient errors are UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, RESOURCE_EXHAUSTED and CANCELLED (a
//     coordinator that shuts down cancels the calls in flight).
//   - A finished result (CompleteTrial / FailTrial) is kept and retried with backoff on transient errors
//     (UNAVAILABLE is what a coordinator whose disk is full or failing answers: nothing was stored) for
//     as long as the trial's lease lasts, and at least report_timeout. The lease lasts as long as it was
//     granted (Lease.expires_ms - Trial.started_ms, on the coordinator's clock) past the last heartbeat
//     that renewed it, measured on this worker's steady clock; a heartbeat answer that names the trial
//     in stop_trial_ids ends it at once (the result is then dropped as for a lost lease).
//     A ReportProgress is not retried (the next one carries newer news); once refused FAILED_PRECONDITION
//     or NOT_FOUND, no more are sent for that trial.
//     FAILED_PRECONDITION (or NOT_FOUND) means the lease is no longer ours: the result is logged and
//     dropped.
//   - AcquireTrial is retried with backoff after any error not named below; a Heartbeat waits for the
//     connection (up to rpc_timeout) rather than failing at once while the coordinator is unreachable, so
//     that a restarted coordinator is found within a heartbeat; a failed one waits for the next period.
//     An empty AcquireTrial answer that comes back in less than wait_ms / 2 is followed by a 100 ms
//     pause before the next poll.
//   - NOT_FOUND to AcquireTrial or Heartbeat means the coordinator does not know our worker id: the
//     worker registers again and carries on. UNAUTHENTICATED, PERMISSION_DENIED, UNIMPLEMENTED and
//     INVALID_ARGUMENT there are fatal: Run() stops and returns that error.
//   - Trials named in HeartbeatResponse.stop_trial_ids are killed (after stop_grace) and nothing is
//     reported for them (a trial whose run had already ended is reported as usual).
//   - A ReportProgress answered should_prune: the trial is killed (after stop_grace) and nothing more is
//     sent for it, not even a result that was ready (the coordinator has committed it as PRUNED); the
//     log says "trial N (study S #k) pruned at step S: <reason>".
//
// Thread-safety: Run() is called once, by one thread, and blocks until Stop(); Stop(), worker_id() and
// stats() may be called from any thread (Stop() is not async-signal-safe: a signal handler should wake a
// thread that calls it). There is no global state: several Workers may live in one process. The Worker
// shares ownership of the channel; it owns its threads and child processes and joins/kills them before
// Run() returns.
#ifndef HPO_WORKER_WORKER_H_
#define HPO_WORKER_WORKER_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "hpo/v1/service.grpc.pb.h"
#include "worker/trial_runner.h"

namespace hpo::worker {

struct WorkerOptions {
  // Registered name. Default "" = "<hostname>-<pid>".
  std::string name;
  // Trials run at once. Default 1. REQUIRES >= 1.
  uint32_t slots = 1;
  // Device description sent at registration (each trial reports its own; a command task whose metrics
  // line names none reports this one). Default "".
  std::string device;
  // Labels sent at registration (hpo-worker --label gpu=H100), matched against a study's worker_selector;
  // the coordinator also offers `device` as the label "device". Default none.
  std::map<std::string, std::string> labels;
  // The least time between two progress reports of a command task's trial. Default 500 ms. (A builtin
  // trial's epochs are all relayed.)
  std::chrono::milliseconds progress_interval{500};
  // The trainer executable for builtin tasks. Default "" (builtin trials fail).
  std::string train_binary;
  // Passed to the trainer as --data-dir when not empty. Default "".
  std::string data_dir;
  // Passed to the trainer as --threads. Default 1. REQUIRES >= 1.
  uint32_t threads_per_trial = 1;
  // When not empty, slot i's trainer runs with CUDA_VISIBLE_DEVICES=slot_gpus[i % size]. Default empty.
  std::vector<std::string> slot_gpus;
  // Long-poll wait of AcquireTrial. Default 5000 ms. REQUIRES >= 100.
  uint32_t wait_ms = 5000;
  // When not empty, every call carries the metadata "authorization: Bearer <auth_token>". Default "".
  std::string auth_token;
  // How long RegisterWorker is retried while the coordinator is unreachable. Default 60 s.
  std::chrono::milliseconds register_timeout{60'000};
  // Deadline of each unary call (register, heartbeat, report). Default 10 s.
  std::chrono::milliseconds rpc_timeout{10'000};
  // AcquireTrial's deadline is wait_ms plus this. Default 5 s.
  std::chrono::milliseconds poll_margin{5'000};
  // How long a report is retried on transient errors at least, however short the lease (a restarted
  // coordinator grants running trials a fresh lease). Past it, retries go on while the lease lasts.
  // Default 60 s.
  std::chrono::milliseconds report_timeout{60'000};
  // Retry backoff: starts at initial_backoff, doubles up to max_backoff. Defaults 200 ms and 5 s.
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{5'000};
  // Between SIGTERM and SIGKILL when a child is stopped because the worker stops. Default 5 s.
  std::chrono::milliseconds kill_grace{5'000};
  // Between SIGTERM and SIGKILL when the coordinator stops a trial (pruned, or named in stop_trial_ids):
  // its result is no longer wanted, and its slot is free once it is gone. Default 300 ms.
  std::chrono::milliseconds stop_grace{300};
  // The user every trial runs as (hpo-worker --trial-user; LookUpRunAs), so that a trial cannot read the
  // worker's token file or anything else of the worker's user. Default: none, the worker's own user.
  std::optional<RunAs> trial_user;
  // Heartbeat period when the coordinator's RegisterWorkerResponse says 0. Default 5000 ms.
  uint32_t default_heartbeat_ms = 5'000;
  // Receives one human-readable line per event (no trailing newline). Default (empty): stderr.
  std::function<void(const std::string&)> log;
};

// What a Worker has done so far.
struct WorkerStats {
  uint64_t completed = 0;  // CompleteTrial acknowledged
  uint64_t failed = 0;     // FailTrial acknowledged (trial errors)
  uint64_t stopped = 0;    // stopped at the coordinator's word (stop_trial_ids), nothing reported
  uint64_t pruned = 0;     // stopped because a ReportProgress answer said should_prune, nothing reported
  uint64_t released = 0;   // given back by Stop() (ReleaseTrial acknowledged)
  uint64_t lost = 0;       // report refused (lease lost) or given up after retries
  uint64_t progress = 0;   // ReportProgress acknowledged
};

// A channel to `address` with settings that suit a worker: reconnect backoff capped at 5 s (so that a
// restarted coordinator is found quickly) and keepalive pings on the long polls.
std::shared_ptr<grpc::Channel> MakeWorkerChannel(const std::string& address,
                                                 std::shared_ptr<grpc::ChannelCredentials> credentials);

// The labels of `--label NAME=VALUE` flags (hpo-worker), by name. INVALID_ARGUMENT quoting the flag for
// one without '=' or with an empty name, and for a name given twice. (The coordinator checks the rest:
// coordinator/spec.h CheckLabels.)
Result<std::map<std::string, std::string>> ParseLabelFlags(const std::vector<std::string>& flags);

class Worker {
 public:
  Worker(std::shared_ptr<grpc::Channel> channel, WorkerOptions options);
  // REQUIRES: Run() is not running (it has returned, or was never called).
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Registers, then serves trials until Stop(). Returns OK after a Stop(); INVALID_ARGUMENT for bad
  // options; UNAVAILABLE when the coordinator stayed unreachable for register_timeout; the error of a
  // fatal answer (see above). Call at most once.
  Status Run();

  // Makes Run() return soon: no more trials are acquired, running children are killed (after
  // kill_grace at most) and their trials failed with "worker stopped" (a run that had already ended is
  // reported as usual). Returns at once; idempotent.
  void Stop();

  // The id the coordinator gave this worker; 0 before registration.
  uint64_t worker_id() const;
  WorkerStats stats() const;

 private:
  enum class StopReason { kNone, kCoordinator, kPruned, kShutdown };
  struct ActiveTrial {
    uint64_t trial_id = 0;
    std::string token;
    uint64_t worker_id = 0;  // the id it was acquired under
    std::shared_ptr<TrialRunner> runner;
    StopReason stop_reason = StopReason::kNone;
    // The lease as granted (expires_ms - started_ms: the coordinator's clock, skew-free) and when it
    // ends on our steady clock: granted, or renewed by a heartbeat sent then, plus lease_ms.
    std::chrono::milliseconds lease_ms{0};
    std::chrono::steady_clock::time_point lease_until{};
  };
  struct Slot {
    grpc::ClientContext* call = nullptr;  // the call in flight, cancelled by Stop()
    std::optional<ActiveTrial> active;
  };
  // kRefusedAndFailed: the coordinator refused a completion as invalid and took the trial as failed.
  enum class ReportResult { kAcknowledged, kRefusedAndFailed, kLeaseLost, kGaveUp };

  // Fills `context` with deadline and credentials.
  void Prepare(grpc::ClientContext* context, std::chrono::milliseconds timeout) const;
  // Registers `context` as slot `slot`'s call in flight (slot -1: the registration call); false when
  // stopping (then no call is to be made).
  bool BeginCall(int slot, grpc::ClientContext* context);
  void EndCall(int slot);

  Status Register();
  // One RegisterWorker call; on success stores the id and heartbeat period.
  Status RegisterOnce(std::chrono::milliseconds timeout);
  // Registers again when the coordinator forgot `stale_id` (unless another thread already did).
  void Reregister(uint64_t stale_id);

  void SlotLoop(int slot);
  void RunTrial(int slot, const v1::AcquireTrialResponse& assignment, uint64_t acquired_as);
  // Kills the running trial `trial_id` after stop_grace for `reason` (kCoordinator or kPruned), unless
  // another reason came first. Returns whether a slot runs that trial.
  bool StopTrial(uint64_t trial_id, StopReason reason);
  void HeartbeatLoop();
  void HeartbeatOnce();

  // Sends CompleteTrial (metrics) or FailTrial (error) for `trial`, running on slot `slot`, retrying
  // transient errors while its lease lasts (and at least report_timeout); with `once`, makes a single
  // attempt (shutdown).
  ReportResult Report(int slot, const ActiveTrial& trial, const TrialOutcome& outcome, bool once);
  // The end of slot `slot`'s lease.
  std::chrono::steady_clock::time_point LeaseUntil(int slot) const;

  // Notes a call's failure or success for the "coordinator unreachable" / "reachable again" log lines.
  void NoteCallStatus(const grpc::Status& status, const char* what);
  void SetFatal(Status status);
  // Sleeps `duration` or until Stop(); returns whether stopping.
  bool SleepUnlessStopped(std::chrono::milliseconds duration);
  bool stopping() const;
  void Log(const std::string& line) const;
  std::string Prefix() const;  // "worker N: "

  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::WorkerService::Stub> stub_;
  WorkerOptions options_;

  std::mutex register_mu_;  // serialises Reregister() calls

  mutable std::mutex mu_;
  std::condition_variable cv_;                     // signalled by Stop() and at heartbeat shutdown
  bool run_called_ = false;                        // GUARDED_BY(mu_)
  bool stopping_ = false;                          // GUARDED_BY(mu_)
  bool heartbeat_done_ = false;                    // GUARDED_BY(mu_)
  uint64_t worker_id_ = 0;                         // GUARDED_BY(mu_)
  uint32_t heartbeat_ms_ = 0;                      // GUARDED_BY(mu_)
  grpc::ClientContext* register_call_ = nullptr;   // GUARDED_BY(mu_)
  grpc::ClientContext* heartbeat_call_ = nullptr;  // GUARDED_BY(mu_); cancelled when heartbeat_done_
  std::vector<Slot> slots_;                        // GUARDED_BY(mu_); sized once, never resized
  bool coordinator_down_ = false;                  // GUARDED_BY(mu_)
  std::optional<Status> fatal_;                    // GUARDED_BY(mu_)
  WorkerStats stats_;                              // GUARDED_BY(mu_)
};

}  // namespace hpo::worker

#endif  // HPO_WORKER_WORKER_H_
