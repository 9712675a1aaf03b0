#include "worker/worker.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "base/credentials.h"

namespace hpo::worker {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr milliseconds kShutdownReportTimeout{2'000};
// The deadline of one ReportProgress (or rpc_timeout, when shorter): a late one is worth little.
constexpr milliseconds kProgressTimeout{5'000};
// The least long-poll wait a worker asks for (WorkerOptions::wait_ms).
constexpr uint32_t kMinWaitMs = 100;
// After an empty AcquireTrial answer that came back in less than half of wait_ms, the slot pauses this
// long before it asks again, so that a coordinator which does not hold polls is not asked in a spin.
constexpr milliseconds kEarlyEmptyPause{100};

// Errors that a later attempt may not meet (the coordinator or the network is down or busy): retried.
// CANCELLED is retried too: a coordinator that shuts down cancels the calls in flight, and one that
// restarts answers again (a call the worker cancels itself is only ever cancelled by Stop()).
bool IsTransient(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::CANCELLED:
      return true;
    default:
      return false;
  }
}

// Answers to AcquireTrial / Heartbeat that retrying cannot fix.
bool IsFatal(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAUTHENTICATED || code == grpc::StatusCode::PERMISSION_DENIED ||
         code == grpc::StatusCode::UNIMPLEMENTED || code == grpc::StatusCode::INVALID_ARGUMENT;
}

// grpc::Status -> Status: the codes share their numbers; one out of the canonical range becomes UNKNOWN,
// and an empty message the code's name. (The same mapping as hpo::client::FromGrpcStatus; worker and
// client share no library to hold one copy.)
Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return Status::Ok();
  const int raw = static_cast<int>(status.error_code());
  const auto code = raw > 0 && raw <= static_cast<int>(StatusCode::kUnauthenticated)
                        ? static_cast<StatusCode>(raw)
                        : StatusCode::kUnknown;
  std::string message = status.error_message();
  if (message.empty()) message = std::string(StatusCodeName(code));
  if (code == StatusCode::kUnavailable) message += TransportHint(message);
  return Status(code, std::move(message));
}

std::string GrpcText(const grpc::Status& status) { return FromGrpc(status).ToString(); }

milliseconds NextBackoff(milliseconds current, milliseconds max) { return std::min(current * 2, max); }

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", s);
  return buf;
}

std::string DefaultName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof(host), "worker");
  }
  return std::string(host) + "-" + std::to_string(getpid());
}

std::string TrialText(const v1::Trial& trial) {
  return "trial " + std::to_string(trial.id()) + " (study " + std::to_string(trial.study_id()) + " #" +
         std::to_string(trial.number()) + ")";
}

// Relays one trial's progress lines with ReportProgress from a thread of its own: at most one report per
// `interval`, the latest line winning over those it replaces (their metrics that it lacks are kept); a
// report is not retried. Once the
// coordinator refuses one (the lease is gone) or wants no more (it pruned the trial), the rest are
// dropped.
class ProgressRelay {
 public:
  struct Sent {
    grpc::Status status;
    bool last = false;  // the coordinator wants no more progress of this trial (it pruned it)
  };
  // Makes the call on `context` (no deadline set yet) and says how it went.
  using Send = std::function<Sent(grpc::ClientContext* context, const ProgressLine& line)>;
  using Log = std::function<void(const std::string& line)>;

  ProgressRelay(Send send, milliseconds interval, Log log)
      : send_(std::move(send)), interval_(interval), log_(std::move(log)), thread_([this] { Loop(); }) {}
  ~ProgressRelay() { Finish(false); }
  ProgressRelay(const ProgressRelay&) = delete;
  ProgressRelay& operator=(const ProgressRelay&) = delete;

  // Called with each progress line as the program prints it; returns at once.
  void Post(const ProgressLine& line) {
    std::lock_guard<std::mutex> lock(mu_);
    if (refused_ || finishing_) return;
    if (pending_.has_value()) {
      // The line replaces the one still pending, but keeps the metrics only that one had (e.g. the
      // latency hpo-train reports on its first step), as the coordinator would have carried them on.
      ProgressLine merged = line;
      for (const auto& [name, value] : pending_->metrics) merged.metrics.emplace(name, value);
      pending_ = std::move(merged);
    } else {
      pending_ = line;
    }
    cv_.notify_all();
  }

  // Stops relaying: with `flush`, the line still pending is sent first (one try); without, a call in
  // flight is cancelled. Returns once the thread is done. Idempotent.
  void Finish(bool flush) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!finishing_) {
        finishing_ = true;
        flush_ = flush;
      }
      if (!flush_ && call_ != nullptr) call_->TryCancel();
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    bool logged_error = false;
    while (true) {
      cv_.wait(lock, [this] { return finishing_ || pending_.has_value(); });
      if (finishing_ && (!flush_ || !pending_.has_value())) return;
      if (!finishing_ && SteadyClock::now() < next_) {
        cv_.wait_until(lock, next_, [this] { return finishing_; });
        continue;
      }
      const ProgressLine line = std::move(*pending_);
      pending_.reset();
      next_ = SteadyClock::now() + interval_;
      grpc::ClientContext context;
      call_ = &context;
      lock.unlock();
      const Sent sent = send_(&context, line);
      const grpc::Status& status = sent.status;
      lock.lock();
      call_ = nullptr;
      if (sent.last) {
        refused_ = true;
        pending_.reset();
        return;
      }
      if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
          status.error_code() == grpc::StatusCode::NOT_FOUND) {
        refused_ = true;
        pending_.reset();
        log_("ReportProgress refused (" + GrpcText(status) + "); no more progress for this trial");
        return;
      }
      if (!status.ok() && !logged_error && status.error_code() != grpc::StatusCode::CANCELLED) {
        logged_error = true;  // once per trial: the next report carries newer news anyway
        log_("ReportProgress failed (" + GrpcText(status) + "); progress lines are dropped until it works");
      }
    }
  }

  const Send send_;
  const milliseconds interval_;
  const Log log_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<ProgressLine> pending_;  // GUARDED_BY(mu_)
  bool finishing_ = false;               // GUARDED_BY(mu_)
  bool flush_ = false;                   // GUARDED_BY(mu_)
  bool refused_ = false;                 // GUARDED_BY(mu_)
  grpc::ClientContext* call_ = nullptr;  // GUARDED_BY(mu_)
  SteadyClock::time_point next_{};       // GUARDED_BY(mu_); no report before it
  std::thread thread_;                   // last: starts once the rest is ready
};

}  // namespace

Result<std::map<std::string, std::string>> ParseLabelFlags(const std::vector<std::string>& flags) {
  std::map<std::string, std::string> labels;
  for (const std::string& flag : flags) {
    const size_t eq = flag.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgumentError("--label \"" + flag + "\": give NAME=VALUE, e.g. --label gpu=H100");
    }
    if (!labels.emplace(flag.substr(0, eq), flag.substr(eq + 1)).second) {
      return InvalidArgumentError("--label \"" + flag + "\": label " + flag.substr(0, eq) + " given twice");
    }
  }
  return labels;
}

std::shared_ptr<grpc::Channel> MakeWorkerChannel(const std::string& address,
                                                 std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  return grpc::CreateCustomChannel(address, std::move(credentials), args);
}

Worker::Worker(std::shared_ptr<grpc::Channel> channel, WorkerOptions options)
    : channel_(std::move(channel)),
      stub_(v1::WorkerService::NewStub(channel_)),
      options_(std::move(options)),
      slots_(options_.slots) {
  if (options_.name.empty()) options_.name = DefaultName();
}

Worker::~Worker() { Stop(); }

uint64_t Worker::worker_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return worker_id_;
}

WorkerStats Worker::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

bool Worker::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

void Worker::Log(const std::string& line) const {
  if (options_.log) {
    options_.log(line);
  } else {
    const std::string text = line + "\n";
    std::fwrite(text.data(), 1, text.size(), stderr);
  }
}

std::string Worker::Prefix() const {
  std::lock_guard<std::mutex> lock(mu_);
  return "worker " + (worker_id_ != 0 ? std::to_string(worker_id_) : options_.name) + ": ";
}

void Worker::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;
  stopping_ = true;
  if (register_call_ != nullptr) register_call_->TryCancel();
  for (Slot& slot : slots_) {
    if (slot.call != nullptr) slot.call->TryCancel();
    if (slot.active.has_value() && slot.active->runner != nullptr) {
      if (slot.active->stop_reason == StopReason::kNone) slot.active->stop_reason = StopReason::kShutdown;
      slot.active->runner->Stop();
    }
  }
  cv_.notify_all();
}

bool Worker::SleepUnlessStopped(milliseconds duration) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, duration, [this] { return stopping_; });
}

void Worker::SetFatal(Status status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fatal_.has_value()) fatal_ = std::move(status);
  }
  Stop();
}

void Worker::Prepare(grpc::ClientContext* context, milliseconds timeout) const {
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  if (!options_.auth_token.empty()) context->AddMetadata("authorization", "Bearer " + options_.auth_token);
}

bool Worker::BeginCall(int slot, grpc::ClientContext* context) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return false;
  (slot < 0 ? register_call_ : slots_[slot].call) = context;
  return true;
}

void Worker::EndCall(int slot) {
  std::lock_guard<std::mutex> lock(mu_);
  (slot < 0 ? register_call_ : slots_[slot].call) = nullptr;
}

void Worker::NoteCallStatus(const grpc::Status& status, const char* what) {
  bool log_down = false;
  bool log_up = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (status.ok()) {
      log_up = coordinator_down_;
      coordinator_down_ = false;
    } else if (!stopping_) {
      log_down = !coordinator_down_;
      coordinator_down_ = true;
    }
  }
  if (log_down) Log(Prefix() + what + " failed (" + GrpcText(status) + "); retrying");
  if (log_up) Log(Prefix() + "coordinator reachable again");
}

Status Worker::RegisterOnce(milliseconds timeout) {
  v1::RegisterWorkerRequest request;
  request.set_name(options_.name);
  request.set_slots(options_.slots);
  request.set_device(options_.device);
  request.mutable_labels()->insert(options_.labels.begin(), options_.labels.end());
  v1::RegisterWorkerResponse response;
  grpc::ClientContext context;
  Prepare(&context, timeout);
  // Waits for the channel (up to `timeout`), as the heartbeat does: failing fast while the channel backs
  // off between connection attempts, a worker started beside a coordinator that was being restarted again
  // and again missed every moment it was up and never registered.
  context.set_wait_for_ready(true);
  if (!BeginCall(-1, &context)) return CancelledError("worker stopped");
  const grpc::Status status = stub_->RegisterWorker(&context, request, &response);
  EndCall(-1);
  if (!status.ok()) return FromGrpc(status);
  if (response.worker_id() == 0) return InternalError("the coordinator answered worker id 0");
  std::lock_guard<std::mutex> lock(mu_);
  worker_id_ = response.worker_id();
  heartbeat_ms_ = response.heartbeat_ms() != 0 ? response.heartbeat_ms() : options_.default_heartbeat_ms;
  return Status::Ok();
}

Status Worker::Register() {
  const SteadyClock::time_point give_up = SteadyClock::now() + options_.register_timeout;
  milliseconds backoff = options_.initial_backoff;
  bool logged = false;
  while (true) {
    const auto left = std::chrono::duration_cast<milliseconds>(give_up - SteadyClock::now());
    const Status status = RegisterOnce(std::clamp(left, milliseconds(1), options_.rpc_timeout));
    if (status.ok()) return status;
    if (stopping()) return CancelledError("worker stopped before it registered");
    if (!IsTransient(static_cast<grpc::StatusCode>(status.code()))) {
      return status.WithPrefix("registering with the coordinator");
    }
    if (SteadyClock::now() + backoff >= give_up) {
      return UnavailableError("coordinator unreachable for " +
                              Seconds(std::chrono::duration<double>(options_.register_timeout).count()) +
                              " (last error: " + status.ToString() + ")");
    }
    if (!logged) {
      Log(Prefix() + "cannot reach the coordinator (" + status.ToString() + "); retrying for up to " +
          Seconds(std::chrono::duration<double>(options_.register_timeout).count()));
      logged = true;
    }
    if (SleepUnlessStopped(backoff)) return CancelledError("worker stopped before it registered");
    backoff = NextBackoff(backoff, options_.max_backoff);
  }
}

void Worker::Reregister(uint64_t stale_id) {
  std::lock_guard<std::mutex> register_lock(register_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (worker_id_ != stale_id || stopping_) return;
  }
  const Status status = RegisterOnce(options_.rpc_timeout);
  if (status.ok()) {
    Log("worker " + std::to_string(stale_id) + ": the coordinator forgot this worker; registered again as " +
        std::to_string(worker_id()));
  } else {
    Log(Prefix() + "registering again failed: " + status.ToString());
  }
}

Status Worker::Run() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (run_called_) return FailedPreconditionError("Worker::Run called twice");
    run_called_ = true;
  }
  if (options_.slots < 1) return InvalidArgumentError("slots must be at least 1");
  if (options_.threads_per_trial < 1) return InvalidArgumentError("threads_per_trial must be at least 1");
  if (options_.rpc_timeout.count() <= 0 || options_.register_timeout.count() <= 0) {
    return InvalidArgumentError("rpc_timeout and register_timeout must be positive");
  }
  if (options_.initial_backoff.count() <= 0 || options_.max_backoff < options_.initial_backoff) {
    return InvalidArgumentError("backoff: REQUIRES 0 < initial_backoff <= max_backoff");
  }
  if (options_.wait_ms < kMinWaitMs) {
    return InvalidArgumentError("wait_ms: " + std::to_string(options_.wait_ms) + " is below the minimum " +
                                std::to_string(kMinWaitMs) +
                                " (a shorter long poll asks the coordinator in a spin)");
  }

  const Status registered = Register();
  if (!registered.ok()) {
    if (registered.code() == StatusCode::kCancelled && stopping()) {
      // Stopped before it ever registered: the summary all the same, which scripts and operators read.
      Log(Prefix() + "never registered; stopped (0 completed, 0 failed, 0 stopped, 0 released, 0 lost)");
      return Status::Ok();
    }
    return registered;
  }
  std::string labels;
  for (const auto& [key, value] : options_.labels) labels += (labels.empty() ? "" : ",") + key + "=" + value;
  Log(Prefix() + "registered as \"" + options_.name + "\" with " + std::to_string(options_.slots) +
      " slot(s)" + (options_.device.empty() ? "" : " on " + options_.device) +
      (labels.empty() ? "" : ", labels " + labels));

  std::thread heartbeat([this] { HeartbeatLoop(); });
  std::vector<std::thread> slot_threads;
  for (uint32_t i = 0; i < options_.slots; ++i) {
    slot_threads.emplace_back([this, i] { SlotLoop(static_cast<int>(i)); });
  }
  for (std::thread& t : slot_threads) t.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    heartbeat_done_ = true;
    if (heartbeat_call_ != nullptr) heartbeat_call_->TryCancel();
  }
  cv_.notify_all();
  heartbeat.join();

  const WorkerStats done = stats();
  // The summary line keeps its form (scripts read it); pruned trials get a line of their own before it.
  if (done.pruned > 0) {
    Log(Prefix() + std::to_string(done.pruned) +
        " trial(s) pruned at the coordinator's word, nothing reported");
  }
  Log(Prefix() + "stopped (" + std::to_string(done.completed) + " completed, " + std::to_string(done.failed) +
      " failed, " + std::to_string(done.stopped) + " stopped, " + std::to_string(done.released) +
      " released, " + std::to_string(done.lost) + " lost)");
  std::lock_guard<std::mutex> lock(mu_);
  return fatal_.has_value() ? *fatal_ : Status::Ok();
}

void Worker::SlotLoop(int slot) {
  milliseconds backoff = options_.initial_backoff;
  while (!stopping()) {
    const uint64_t id = worker_id();
    v1::AcquireTrialRequest request;
    request.set_worker_id(id);
    request.set_wait_ms(options_.wait_ms);
    v1::AcquireTrialResponse response;
    grpc::ClientContext context;
    Prepare(&context, milliseconds(options_.wait_ms) + options_.poll_margin);
    if (!BeginCall(slot, &context)) break;
    const SteadyClock::time_point asked = SteadyClock::now();
    const grpc::Status status = stub_->AcquireTrial(&context, request, &response);
    EndCall(slot);

    if (status.ok()) {
      NoteCallStatus(status, "AcquireTrial");
      backoff = options_.initial_backoff;
      if (response.has_trial()) {
        // A trial handed out as Stop() came still goes through RunTrial, which fails it at once.
        RunTrial(slot, response, id);
      } else if (SteadyClock::now() - asked < milliseconds(options_.wait_ms / 2)) {
        // An empty answer well before wait_ms (wait_ms / 2 >= 50 ms): do not spin on a coordinator that
        // does not hold polls.
        if (SleepUnlessStopped(kEarlyEmptyPause)) break;
      }
      continue;
    }
    if (stopping()) break;
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      Reregister(id);
    } else if (IsFatal(status.error_code())) {
      SetFatal(FromGrpc(status).WithPrefix("AcquireTrial"));
      break;
    } else {
      NoteCallStatus(status, "AcquireTrial");
    }
    if (SleepUnlessStopped(backoff)) break;
    backoff = NextBackoff(backoff, options_.max_backoff);
  }
}

void Worker::RunTrial(int slot, const v1::AcquireTrialResponse& assignment, uint64_t acquired_as) {
  RunnerOptions runner_options;
  runner_options.train_binary = options_.train_binary;
  runner_options.data_dir = options_.data_dir;
  runner_options.threads = options_.threads_per_trial;
  runner_options.kill_grace = options_.kill_grace;
  runner_options.device = options_.device;
  runner_options.run_as = options_.trial_user;
  if (!options_.slot_gpus.empty()) {
    runner_options.env.emplace_back(
        "CUDA_VISIBLE_DEVICES", options_.slot_gpus[static_cast<size_t>(slot) % options_.slot_gpus.size()]);
  }
  const std::string trial_text = TrialText(assignment.trial());
  std::unique_ptr<ProgressRelay> relay;
  if (assignment.task().has_command() || assignment.task().has_builtin()) {
    const uint64_t trial_id = assignment.trial().id();
    const std::string token = assignment.lease().token();
    relay = std::make_unique<ProgressRelay>(
        [this, acquired_as, trial_id, token, trial_text](grpc::ClientContext* context,
                                                         const ProgressLine& line) -> ProgressRelay::Sent {
          v1::ReportProgressRequest request;
          request.set_worker_id(acquired_as);
          request.set_trial_id(trial_id);
          request.set_lease_token(token);
          request.set_step(line.step);
          request.mutable_metrics()->insert(line.metrics.begin(), line.metrics.end());
          v1::ReportProgressResponse response;
          Prepare(context, std::min(options_.rpc_timeout, kProgressTimeout));
          const grpc::Status status = stub_->ReportProgress(context, request, &response);
          if (status.ok()) {
            std::lock_guard<std::mutex> lock(mu_);
            ++stats_.progress;
          }
          if (!status.ok() || !response.should_prune()) return {status, false};
          // The trial is already PRUNED: kill it now; RunTrial then reports nothing.
          StopTrial(trial_id, StopReason::kPruned);
          // The reason is the trial's error, "pruned at step N: ..." (only the why is kept from it).
          std::string why = response.reason();
          const std::string said = "pruned at step " + std::to_string(line.step) + ": ";
          if (why.rfind(said, 0) == 0) why = why.substr(said.size());
          Log(Prefix() + trial_text + " pruned at step " + std::to_string(line.step) +
              (why.empty() ? "" : ": " + why));
          return {status, true};
        },
        // The trainer's lines are its epochs: every one is relayed, so that a pruner sees each rung
        // (merged reports skip rungs); a command's lines, which may come by the thousand, are throttled.
        assignment.task().has_builtin() ? milliseconds(0) : options_.progress_interval,
        [this, trial_text](const std::string& line) { Log(Prefix() + trial_text + ": " + line); });
    runner_options.on_progress = [relay = relay.get()](const ProgressLine& line) { relay->Post(line); };
  }
  auto runner = std::make_shared<TrialRunner>(std::move(runner_options));

  ActiveTrial active;
  active.trial_id = assignment.trial().id();
  active.token = assignment.lease().token();
  active.worker_id = acquired_as;
  active.runner = runner;
  active.lease_ms =
      milliseconds(std::max<int64_t>(0, assignment.lease().expires_ms() - assignment.trial().started_ms()));
  active.lease_until = SteadyClock::now() + active.lease_ms;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      active.stop_reason = StopReason::kShutdown;
      runner->Stop();
    }
    slots_[slot].active = active;
  }
  Log(Prefix() + trial_text + " started on slot " + std::to_string(slot));

  const TrialOutcome outcome = runner->Run(assignment);
  // The last progress goes before the result; a trial given back or stopped sends none. (Its answer may
  // still prune a trial that has ended: then no result is sent.)
  if (relay != nullptr) relay->Finish(outcome.kind != TrialOutcome::Kind::kStopped);

  StopReason reason;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reason = slots_[slot].active->stop_reason;
  }
  std::string done;
  ReportResult reported = ReportResult::kAcknowledged;
  if (reason == StopReason::kPruned) {
    // The coordinator ended it (PRUNED) when it answered the progress report: nothing more to send,
    // whatever the run came to.
    done = "pruned: stopped after " + Seconds(outcome.elapsed_s) + "; nothing reported";
  } else {
    switch (outcome.kind) {
      case TrialOutcome::Kind::kCompleted:
        done = "completed in " + Seconds(outcome.elapsed_s);
        if (!outcome.warning.empty()) done += "; " + outcome.warning;  // a failure's error has it already
        reported = Report(slot, active, outcome, false);
        break;
      case TrialOutcome::Kind::kFailed:
        done = "failed after " + Seconds(outcome.elapsed_s) + ": " + outcome.error;
        reported = Report(slot, active, outcome, false);
        break;
      case TrialOutcome::Kind::kStopped:
        if (reason == StopReason::kCoordinator) {
          done = "stopped at the coordinator's word; nothing reported";
        } else {
          // The worker is stopping: the trial goes back to the queue, its attempt not spent.
          done = "released: worker stopped";
          reported = Report(slot, active, outcome, true);
        }
        break;
    }
  }
  if (reported == ReportResult::kRefusedAndFailed) done += " (result refused by the coordinator: failed)";
  if (reported == ReportResult::kLeaseLost) done += " (lease lost: result dropped)";
  if (reported == ReportResult::kGaveUp) done += " (report not delivered: result dropped)";
  {
    std::lock_guard<std::mutex> lock(mu_);
    slots_[slot].active.reset();
    if (reason == StopReason::kPruned) {
      ++stats_.pruned;
    } else if (reported == ReportResult::kRefusedAndFailed) {
      ++stats_.failed;
    } else if (reported != ReportResult::kAcknowledged) {
      ++stats_.lost;
    } else if (outcome.kind == TrialOutcome::Kind::kCompleted) {
      ++stats_.completed;
    } else if (outcome.kind == TrialOutcome::Kind::kFailed) {
      ++stats_.failed;
    } else if (reason == StopReason::kCoordinator) {
      ++stats_.stopped;
    } else {
      ++stats_.released;
    }
  }
  Log(Prefix() + trial_text + " " + done);
}

SteadyClock::time_point Worker::LeaseUntil(int slot) const {
  std::lock_guard<std::mutex> lock(mu_);
  const std::optional<ActiveTrial>& active = slots_[static_cast<size_t>(slot)].active;
  return active.has_value() ? active->lease_until : SteadyClock::time_point{};
}

Worker::ReportResult Worker::Report(int slot, const ActiveTrial& trial, const TrialOutcome& outcome,
                                    bool once) {
  bool complete = outcome.kind == TrialOutcome::Kind::kCompleted;
  const bool release = outcome.kind == TrialOutcome::Kind::kStopped;
  const char* what = complete ? "CompleteTrial" : release ? "ReleaseTrial" : "FailTrial";
  std::string error = outcome.error;
  // The result is kept while the lease may still be ours: at least report_timeout, then as long as
  // heartbeats renew the lease (the slot keeps the trial, so they name it).
  const SteadyClock::time_point floor = SteadyClock::now() + options_.report_timeout;
  milliseconds backoff = options_.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    grpc::ClientContext context;
    Prepare(&context, once ? std::min(options_.rpc_timeout, kShutdownReportTimeout) : options_.rpc_timeout);
    grpc::Status status;
    if (complete) {
      v1::CompleteTrialRequest request;
      request.set_worker_id(trial.worker_id);
      request.set_trial_id(trial.trial_id);
      request.set_lease_token(trial.token);
      request.mutable_metrics()->insert(outcome.metrics.metrics.begin(), outcome.metrics.metrics.end());
      request.set_device(outcome.metrics.device);
      v1::CompleteTrialResponse response;
      status = stub_->CompleteTrial(&context, request, &response);
    } else if (release) {
      v1::ReleaseTrialRequest request;
      request.set_worker_id(trial.worker_id);
      request.set_trial_id(trial.trial_id);
      request.set_lease_token(trial.token);
      request.set_reason("worker stopped");
      v1::ReleaseTrialResponse response;
      status = stub_->ReleaseTrial(&context, request, &response);
    } else {
      v1::FailTrialRequest request;
      request.set_worker_id(trial.worker_id);
      request.set_trial_id(trial.trial_id);
      request.set_lease_token(trial.token);
      request.set_error(error);
      v1::FailTrialResponse response;
      status = stub_->FailTrial(&context, request, &response);
    }
    if (status.ok())
      return complete == (outcome.kind == TrialOutcome::Kind::kCompleted) ? ReportResult::kAcknowledged
                                                                          : ReportResult::kRefusedAndFailed;
    const std::string trial_text = "trial " + std::to_string(trial.trial_id);
    if (complete && status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      // The coordinator refuses the result itself (too many metrics, a name it cannot store): sending it
      // again cannot help, and dropping it would leave the trial to expire and run again. It fails now,
      // with the coordinator's reason.
      error = "the coordinator refused the trial's result: " + status.error_message();
      Log(Prefix() + trial_text + ": CompleteTrial refused (" + GrpcText(status) + "); failing the trial");
      complete = false;
      what = "FailTrial";
      backoff = options_.initial_backoff;
      continue;
    }
    if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
        status.error_code() == grpc::StatusCode::NOT_FOUND) {
      Log(Prefix() + trial_text + ": " + what + " refused, the lease is lost (" + GrpcText(status) + ")");
      return ReportResult::kLeaseLost;
    }
    // A heartbeat's word to stop the trial does not end the report: the coordinator answers heartbeats
    // from its state before its commits land, so it says stop while the commit of this very report, or
    // of a first attempt whose answer was lost, is in flight or failed (its disk full, or it was killed
    // after committing). Only the report's own answer says the lease is gone (above); otherwise it is
    // retried until the lease, no longer renewed, runs out.
    // During shutdown a report gets one more try at most.
    const SteadyClock::time_point give_up = std::max(floor, LeaseUntil(slot));
    const bool last = once || !IsTransient(status.error_code()) || (stopping() && attempt >= 2) ||
                      SteadyClock::now() + backoff >= give_up;
    if (last) {
      Log(Prefix() + trial_text + ": " + what + " failed after " + std::to_string(attempt) +
          " attempt(s): " + GrpcText(status));
      return ReportResult::kGaveUp;
    }
    if (attempt == 1) {
      Log(Prefix() + trial_text + ": " + what + " failed (" + GrpcText(status) + "); retrying");
    }
    SleepUnlessStopped(backoff);
    backoff = NextBackoff(backoff, options_.max_backoff);
  }
}

void Worker::HeartbeatLoop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, milliseconds(heartbeat_ms_), [this] { return heartbeat_done_; })) return;
    }
    HeartbeatOnce();
  }
}

void Worker::HeartbeatOnce() {
  v1::HeartbeatRequest request;
  v1::HeartbeatResponse response;
  grpc::ClientContext context;
  Prepare(&context, options_.rpc_timeout);
  // While the coordinator is unreachable the heartbeat waits for the channel (up to rpc_timeout) instead
  // of failing at once: a call waiting is what polls the channel's reconnection attempts. With every
  // call failing fast, an attempt that reaches a restarted coordinator goes unnoticed until it times
  // out, and the worker found it only 4 to 9 s after its restart, past the leases of its trials.
  context.set_wait_for_ready(true);
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (heartbeat_done_) return;
    heartbeat_call_ = &context;
    id = worker_id_;
    request.set_worker_id(worker_id_);
    for (const Slot& slot : slots_) {
      if (!slot.active.has_value()) continue;
      v1::Lease* lease = request.add_leases();
      lease->set_trial_id(slot.active->trial_id);
      lease->set_token(slot.active->token);
    }
  }
  const SteadyClock::time_point sent = SteadyClock::now();
  const grpc::Status status = stub_->Heartbeat(&context, request, &response);
  {
    std::lock_guard<std::mutex> lock(mu_);
    heartbeat_call_ = nullptr;
    if (heartbeat_done_) return;
    // A renewed lease lasts as long as it was granted, from when the renewal was asked for at the
    // latest (the coordinator renewed it after that).
    for (const v1::Lease& renewed : response.renewed()) {
      for (Slot& slot : slots_) {
        if (slot.active.has_value() && slot.active->trial_id == renewed.trial_id() &&
            slot.active->token == renewed.token()) {
          slot.active->lease_until = std::max(slot.active->lease_until, sent + slot.active->lease_ms);
        }
      }
    }
  }
  if (!status.ok()) {
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      Reregister(id);
    } else if (IsFatal(status.error_code())) {
      SetFatal(FromGrpc(status).WithPrefix("Heartbeat"));
    } else {
      NoteCallStatus(status, "Heartbeat");
    }
    return;
  }
  NoteCallStatus(status, "Heartbeat");
  for (const uint64_t trial_id : response.stop_trial_ids()) {
    if (StopTrial(trial_id, StopReason::kCoordinator)) {
      Log(Prefix() + "trial " + std::to_string(trial_id) + ": the coordinator says stop");
    }
  }
}

bool Worker::StopTrial(uint64_t trial_id, StopReason reason) {
  std::lock_guard<std::mutex> lock(mu_);
  bool found = false;
  for (Slot& slot : slots_) {
    if (!slot.active.has_value() || slot.active->trial_id != trial_id) continue;
    found = true;
    // A prune stands over any other reason: the coordinator has already ended the trial.
    if (slot.active->stop_reason == StopReason::kNone || reason == StopReason::kPruned) {
      slot.active->stop_reason = reason;
    }
    slot.active->runner->Stop(options_.stop_grace);
  }
  return found;
}

}  // namespace hpo::worker
