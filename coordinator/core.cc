#include "coordinator/core.h"

#include <algorithm>
#include <exception>
#include <future>
#include <random>

#include "base/log.h"
#include "coordinator/front_hypervolume.h"
#include "coordinator/analysis.h"
#include "coordinator/spec.h"
#include "search/pareto.h"

namespace hpo::coordinator {
namespace {

v1::Study StudyOf(const storage::StudyRecord& record) { return record.study; }

// A completed trial's broken constraints (Trial.violated), derived from its metrics.
void MarkViolated(const v1::StudySpec& spec, v1::Trial& trial) {
  trial.clear_violated();
  if (trial.state() != v1::TRIAL_COMPLETED || spec.constraints_size() == 0) return;
  for (std::string& text : ViolatedConstraints(spec, trial.metrics())) trial.add_violated(std::move(text));
}

const char* StudyStateText(v1::StudyState state) {
  switch (state) {
    case v1::STUDY_COMPLETED:
      return "completed";
    case v1::STUDY_FAILED:
      return "failed";
    case v1::STUDY_CANCELLED:
      return "cancelled";
    default:
      // Stored as running while its runner is gone: its last change is on its way to the database.
      return "ending (its last result is being stored)";
  }
}

// Lease tokens must not be guessable; the clock alone would be.
uint64_t TokenSeed() {
  uint64_t seed = static_cast<uint64_t>(SystemClock::Default()->NowMs());
  try {
    std::random_device device;
    seed ^= (uint64_t{device()} << 32) ^ device();
  } catch (const std::exception&) {
    // No entropy source: the clock and the address of this frame will have to do.
    seed ^= reinterpret_cast<uintptr_t>(&seed);
  }
  return Mix64(seed);
}

}  // namespace

Core::Core(storage::Store* store, const CoreOptions& options)
    : store_(store),
      options_(options),
      workers_(std::max<int64_t>({options.worker_lost_ms, 3 * int64_t{options.heartbeat_ms}, 1})),
      token_rng_(TokenSeed()),
      committer_(std::make_unique<GroupCommitter>(
          store, [this](const std::function<void()>& take) { return Seal(take); })),
      fitter_(std::make_unique<Fitter>()) {}

Result<std::unique_ptr<Core>> Core::Open(storage::Store* store, const CoreOptions& options) {
  std::unique_ptr<Core> core(new Core(store, options));
  std::lock_guard lock(core->mu_);
  HPO_RETURN_IF_ERROR(core->Load());
  return core;
}

Status Core::Load() {
  runners_.clear();
  dirty_.clear();
  ++generation_;
  HPO_ASSIGN_OR_RETURN(std::vector<storage::WorkerRecord> workers, store_->ListWorkers());
  for (const storage::WorkerRecord& worker : workers) workers_.Add(worker);
  HPO_ASSIGN_OR_RETURN(const uint64_t last_trial, store_->LastTrialId());
  next_trial_id_ = last_trial + 1;
  HPO_ASSIGN_OR_RETURN(std::vector<storage::StudyRecord> studies, store_->ListStudies());
  const int64_t now = options_.clock->NowMs();
  for (const storage::StudyRecord& study : studies) {
    if (study.study.state() != v1::STUDY_RUNNING) continue;
    const uint64_t id = study.study.id();
    HPO_ASSIGN_OR_RETURN(std::vector<storage::TrialRecord> trials, store_->ListTrials(id));
    auto runner = StudyRunner::Create(study, std::move(trials), now);
    if (runner.ok()) {
      ScheduleFit(**runner);  // a restarted study's model is refitted from its stored trials
      runners_[id] = std::move(*runner);
      continue;
    }
    log::Error("study cannot resume, marking it failed",
               {{"study_id", id}, {"error", runner.status().ToString()}});
    storage::Changes failed;
    failed.studies.push_back({id, v1::STUDY_FAILED, now, std::nullopt, std::nullopt});
    HPO_RETURN_IF_ERROR(store_->Apply(failed));
  }
  return Status::Ok();
}

Status Core::RecoverIfBroken() {
  if (!committer_->broken()) return Status::Ok();
  log::Error("a commit failed; reloading every study from the database");
  HPO_RETURN_IF_ERROR(Load().WithPrefix("reload after a failed commit"));
  committer_->Recover();
  return Status::Ok();
}

void Core::SetWorkListener(std::function<void()> listener) { work_listener_ = std::move(listener); }

void Core::NotifyWork() {
  if (work_listener_) work_listener_();
}

void Core::ScheduleFit(StudyRunner& runner) {
  std::unique_ptr<search::OptimizerJob> job = runner.TakeJob();
  if (job == nullptr) return;
  // std::function wants a copyable task; the job goes back to the runner by unique_ptr.
  auto held = std::make_shared<std::unique_ptr<search::OptimizerJob>>(std::move(job));
  fitter_->Post([this, held, study_id = runner.id(), generation = generation_] {
    (*held)->Run();
    {
      std::lock_guard lock(mu_);
      auto it = runners_.find(study_id);
      if (it == runners_.end() || generation != generation_) return;  // finished, or reloaded since
      it->second->FinishJob(std::move(*held));
      dirty_.insert(study_id);  // the new proposals are saved with the next commit
      ScheduleFit(*it->second);
    }
    NotifyWork();
  });
}

std::string Core::NewToken() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token(32, '0');
  for (size_t i = 0; i < token.size(); i += 16) {
    uint64_t bits = token_rng_.Next();
    for (size_t j = 0; j < 16; ++j, bits >>= 4) token[i + j] = kHex[bits & 15];
  }
  return token;
}

Result<StudyRunner*> Core::Runner(uint64_t study_id) {
  auto it = runners_.find(study_id);
  if (it == runners_.end()) return NotFoundError("study " + std::to_string(study_id) + " is not running");
  return it->second.get();
}

void Core::NumberNewTrials(Update& update) {
  for (storage::TrialRecord& t : update.trials) {
    if (t.trial.id() == 0) t.trial.set_id(next_trial_id_++);
  }
}

ChangeSet Core::Stage(StudyRunner& runner, Update& update) {
  ChangeSet changes;
  if (update.empty()) return changes;
  NumberNewTrials(update);
  const uint64_t id = runner.id();
  if (update.optimizer_moved) dirty_.insert(id);
  runner.Accept(update);
  if (update.optimizer_moved && runner.running()) ScheduleFit(runner);
  changes.trials = std::move(update.trials);
  std::optional<std::string> optimizer_state;
  if (!runner.running()) {
    // The study ends here: its optimizer's last state goes with this change, not with a later seal.
    if (dirty_.erase(id) != 0) optimizer_state = runner.SaveOptimizer();
    runners_.erase(id);
    log::Info("study finished",
              {{"study_id", id},
               {"state", v1::StudyState_Name(update.state.value_or(v1::STUDY_STATE_UNSPECIFIED))}});
  }
  if (update.state || optimizer_state) {
    storage::StudyChange study{id, update.state, std::nullopt, std::move(optimizer_state), std::nullopt};
    if (update.state) study.finished_ms = update.finished_ms;
    if (!update.error.empty()) study.error = update.error;
    changes.studies.push_back(std::move(study));
  }
  return changes;
}

ChangeSet Core::Seal(const std::function<void()>& take) {
  std::lock_guard lock(mu_);
  take();
  ChangeSet states;
  for (uint64_t id : dirty_) {
    auto it = runners_.find(id);
    if (it == runners_.end()) continue;
    states.studies.push_back({id, std::nullopt, std::nullopt, it->second->SaveOptimizer(), std::nullopt});
  }
  dirty_.clear();
  return states;
}

uint64_t Core::StageAndQueue(StudyRunner& runner, Update& update) {
  if (update.empty()) return 0;
  return committer_->Enqueue(Stage(runner, update));
}

Status Core::Await(const std::function<void(Done)>& start) {
  std::promise<Status> promise;
  std::future<Status> result = promise.get_future();
  start([&promise](const Status& status) { promise.set_value(status); });
  return result.get();
}

Status Core::Committed(uint64_t ticket) { return ticket == 0 ? Status::Ok() : committer_->Wait(ticket); }

Result<v1::Study> Core::CreateStudy(const v1::StudySpec& input) {
  HPO_ASSIGN_OR_RETURN(v1::StudySpec spec, NormalizeSpec(input));
  // A lease must outlive a few heartbeats, or healthy workers lose their trials.
  const uint64_t min_lease_ms = 3ull * options_.heartbeat_ms;
  if (uint64_t{spec.budget().lease_seconds()} * 1000 < min_lease_ms) {
    return InvalidArgumentError("budget.lease_seconds: must be at least " +
                                std::to_string((min_lease_ms + 999) / 1000) +
                                " (three heartbeats of this coordinator)");
  }
  uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    HPO_RETURN_IF_ERROR(RecoverIfBroken());
    // The optimizer is built before anything is stored, so that a spec it refuses stores nothing.
    HPO_ASSIGN_OR_RETURN(search::SearchSpace space, MakeSearchSpace(spec));
    HPO_ASSIGN_OR_RETURN(std::unique_ptr<search::Optimizer> optimizer, MakeOptimizer(spec, space.dims()));
    if (spec.warm_start().from_study() != 0) {
      // A warm start: the earlier study's completed trials, matched by name, seed the optimizer.
      const uint64_t from = spec.warm_start().from_study();
      auto source = store_->GetStudy(from);
      if (!source.ok()) {
        return InvalidArgumentError("warm_start.from_study: study " + std::to_string(from) + " not found");
      }
      HPO_ASSIGN_OR_RETURN(std::vector<storage::TrialRecord> records, store_->ListTrials(from));
      std::vector<v1::Trial> trials;
      for (storage::TrialRecord& r : records) trials.push_back(std::move(r.trial));
      HPO_ASSIGN_OR_RETURN(std::vector<search::Evaluation> results,
                           WarmStartResults(spec, space, source->study, trials));
      HPO_RETURN_IF_ERROR(optimizer->Warm(results).WithPrefix("warm_start.from_study: "));
    }
    const int64_t now = options_.clock->NowMs();
    HPO_ASSIGN_OR_RETURN(id, store_->CreateStudy(spec, now, optimizer->Save()));
    auto runner = [&]() -> Result<std::unique_ptr<StudyRunner>> {
      HPO_ASSIGN_OR_RETURN(storage::StudyRecord record, store_->GetStudy(id));
      return StudyRunner::Create(record, {}, now);
    }();
    if (!runner.ok()) {
      // Stored but not runnable: say so in the store rather than leave it running with no runner.
      storage::Changes failed;
      failed.studies.push_back({id, v1::STUDY_FAILED, now, std::nullopt, std::nullopt});
      (void)store_->Apply(failed);
      return runner.status();
    }
    ScheduleFit(**runner);  // a warm-started model is fitted before the first trial
    runners_[id] = std::move(*runner);
  }
  log::Info("study created",
            {{"study_id", id}, {"name", spec.name()}, {"max_trials", spec.budget().max_trials()}});
  NotifyWork();
  return GetStudy(id);
}

void Core::NoteWaiting(v1::Study& study) {
  if (study.state() != v1::STUDY_RUNNING || study.spec().task().has_external()) return;
  std::lock_guard lock(mu_);
  study.set_waiting(workers_.Waiting(study.spec().worker_selector(), options_.clock->NowMs()));
}

Result<v1::Study> Core::GetStudy(uint64_t study_id) {
  HPO_ASSIGN_OR_RETURN(storage::StudyRecord record, store_->GetStudy(study_id));
  v1::Study study = StudyOf(record);
  NoteWaiting(study);
  return study;
}

Result<std::vector<v1::Study>> Core::ListStudies() {
  HPO_ASSIGN_OR_RETURN(std::vector<storage::StudyRecord> records, store_->ListStudies());
  std::vector<v1::Study> studies;
  studies.reserve(records.size());
  for (const auto& record : records) {
    studies.push_back(StudyOf(record));
    NoteWaiting(studies.back());
  }
  return studies;
}

Result<v1::Study> Core::CancelStudy(uint64_t study_id) {
  uint64_t ticket = 0;
  {
    std::lock_guard lock(mu_);
    HPO_RETURN_IF_ERROR(RecoverIfBroken());
    auto runner = Runner(study_id);
    if (runner.ok()) {
      Update update = (*runner)->Cancel(options_.clock->NowMs());
      ticket = StageAndQueue(**runner, update);
    } else {
      // Not running: unknown (NOT_FOUND from the store) or already finished (nothing to do).
      HPO_RETURN_IF_ERROR(store_->GetStudy(study_id).status());
    }
  }
  HPO_RETURN_IF_ERROR(Committed(ticket));
  return GetStudy(study_id);
}

Result<v1::DeleteStudyResponse> Core::DeleteStudy(uint64_t study_id, bool force) {
  uint64_t ticket = 0;
  {
    std::lock_guard lock(mu_);
    HPO_RETURN_IF_ERROR(RecoverIfBroken());
    auto runner = Runner(study_id);
    if (runner.ok()) {
      if (!force) {
        return FailedPreconditionError("study " + std::to_string(study_id) +
                                       " is running; cancel it first, or force the deletion (hpoctl delete " +
                                       std::to_string(study_id) + " --force)");
      }
      Update update = (*runner)->Cancel(options_.clock->NowMs());
      ticket = StageAndQueue(**runner, update);
    } else {
      HPO_RETURN_IF_ERROR(store_->GetStudy(study_id).status());
      // A study that has just ended may still have its last change queued: it goes first.
      ticket = committer_->Enqueue(ChangeSet());
    }
  }
  HPO_RETURN_IF_ERROR(Committed(ticket));
  std::lock_guard lock(mu_);
  // Only a running study has queued changes, and it has no runner now, so none can follow; unless a
  // failed commit since made the Core reload it.
  if (runners_.count(study_id) != 0) {
    return UnavailableError("study " + std::to_string(study_id) +
                            " was reloaded while being deleted; try again");
  }
  HPO_ASSIGN_OR_RETURN(storage::StudyRecord record, store_->GetStudy(study_id));
  HPO_ASSIGN_OR_RETURN(uint32_t trials, store_->DeleteStudy(study_id));
  log::Info("study deleted", {{"study_id", study_id}, {"trials", trials}, {"forced", force}});
  v1::DeleteStudyResponse response;
  *response.mutable_study() = std::move(record.study);
  response.set_trials_deleted(trials);
  return response;
}

Result<std::vector<v1::Trial>> Core::ListTrials(uint64_t study_id) {
  HPO_ASSIGN_OR_RETURN(storage::StudyRecord study, store_->GetStudy(study_id));
  HPO_ASSIGN_OR_RETURN(std::vector<storage::TrialRecord> records, store_->ListTrials(study_id));
  std::vector<v1::Trial> trials;
  trials.reserve(records.size());
  for (auto& record : records) {
    MarkViolated(study.study.spec(), record.trial);
    trials.push_back(std::move(record.trial));
  }
  return trials;
}

Result<TrialPage> Core::ListTrials(uint64_t study_id, const TrialQuery& query) {
  HPO_ASSIGN_OR_RETURN(storage::StudyRecord study, store_->GetStudy(study_id));
  HPO_ASSIGN_OR_RETURN(storage::TrialChanges changes, store_->ListTrialsSince(study_id, query.updated_since));
  TrialPage page;
  page.cursor = changes.cursor;
  page.trials.reserve(changes.trials.size());
  for (auto& record : changes.trials) {
    MarkViolated(study.study.spec(), record.trial);
    if (query.include_history) *record.trial.mutable_history() = std::move(record.history);
    page.trials.push_back(std::move(record.trial));
  }
  return page;
}

Result<v1::AnalyzeStudyResponse> Core::AnalyzeStudy(uint64_t study_id, uint32_t trees) {
  AnalysisOptions options;
  if (trees != 0) options.trees = trees;
  HPO_ASSIGN_OR_RETURN(storage::StudyRecord study, store_->GetStudy(study_id));
  HPO_ASSIGN_OR_RETURN(std::vector<storage::TrialRecord> records, store_->ListTrials(study_id));
  CachedAnalysis key;
  key.trees = options.trees;
  for (const auto& record : records) {
    if (record.trial.state() != v1::TRIAL_COMPLETED) continue;
    ++key.completed;
    key.last_completed = std::max(key.last_completed, record.change_seq);
  }
  {
    std::lock_guard lock(analysis_mu_);
    auto it = analyses_.find(study_id);
    if (it != analyses_.end() && it->second.trees == key.trees && it->second.completed == key.completed &&
        it->second.last_completed == key.last_completed)
      return it->second.response;
  }
  std::vector<v1::Trial> trials;
  trials.reserve(records.size());
  for (auto& record : records) {
    MarkViolated(study.study.spec(), record.trial);
    trials.push_back(std::move(record.trial));
  }
  HPO_ASSIGN_OR_RETURN(key.response, AnalyzeTrials(study.study.spec(), trials, options));
  std::lock_guard lock(analysis_mu_);
  analyses_[study_id] = key;
  return key.response;
}

Result<v1::GetParetoFrontResponse> Core::GetParetoFront(uint64_t study_id, bool include_infeasible,
                                                        std::span<const double> reference_point) {
  HPO_ASSIGN_OR_RETURN(storage::StudyRecord study, store_->GetStudy(study_id));
  const v1::StudySpec& spec = study.study.spec();
  HPO_RETURN_IF_ERROR(CheckReferencePoint(spec, reference_point));
  HPO_ASSIGN_OR_RETURN(std::vector<storage::TrialRecord> records, store_->ListTrials(study_id));
  std::vector<v1::Trial*> completed;
  std::vector<std::vector<double>> points;
  for (auto& record : records) {
    if (record.trial.state() != v1::TRIAL_COMPLETED) continue;
    auto objectives = MinimisedObjectives(spec, record.trial.metrics());
    if (!objectives.ok()) continue;
    MarkViolated(spec, record.trial);
    if (!include_infeasible && record.trial.violated_size() != 0) continue;
    completed.push_back(&record.trial);
    points.push_back(std::move(*objectives));
  }
  std::vector<size_t> front = search::ParetoFrontIndices(points);
  // Best first by the first objective, then by trial number.
  std::sort(front.begin(), front.end(), [&](size_t a, size_t b) {
    if (points[a][0] != points[b][0]) return points[a][0] < points[b][0];
    return completed[a]->number() < completed[b]->number();
  });
  v1::GetParetoFrontResponse response;
  for (size_t i : front) *response.add_trials() = *completed[i];
  *response.mutable_objectives() = spec.objectives();
  SetFrontHypervolume(spec, points, reference_point, &response);
  return response;
}

Result<v1::RegisterWorkerResponse> Core::RegisterWorker(const v1::RegisterWorkerRequest& request) {
  if (request.slots() == 0) return InvalidArgumentError("slots: must be at least 1");
  HPO_RETURN_IF_ERROR(CheckLabels("labels", request.labels()));
  const std::map<std::string, std::string> labels(request.labels().begin(), request.labels().end());
  // The device is stored and shown, and offered as a label: it must make a valid label value.
  HPO_RETURN_IF_ERROR(CheckReportedDevice("device", request.device()));
  const int64_t now = options_.clock->NowMs();
  HPO_ASSIGN_OR_RETURN(
      uint64_t id, store_->RegisterWorker(request.name(), request.slots(), request.device(), now, labels));
  v1::RegisterWorkerResponse response;
  {
    std::lock_guard lock(mu_);
    workers_.Add({id, request.name(), request.slots(), request.device(), now, labels});
    workers_.Touch(id, now);
  }
  response.set_worker_id(id);
  response.set_heartbeat_ms(options_.heartbeat_ms);
  return response;
}

Status Core::CheckWorker(uint64_t worker_id) {
  if (!workers_.Touch(worker_id, options_.clock->NowMs())) {
    return NotFoundError("worker " + std::to_string(worker_id) + " is not registered; register again");
  }
  return Status::Ok();
}

Result<bool> Core::TryAcquire(uint64_t worker_id, uint64_t study_id, v1::AcquireTrialResponse* response,
                              Done durable, bool* only_for_others) {
  if (only_for_others != nullptr) *only_for_others = false;
  std::lock_guard lock(mu_);
  HPO_RETURN_IF_ERROR(RecoverIfBroken());
  HPO_RETURN_IF_ERROR(CheckWorker(worker_id));
  const std::map<std::string, std::string>& labels = workers_.Labels(worker_id);
  std::vector<StudyRunner*> order;
  if (study_id != 0) {
    auto it = runners_.find(study_id);
    if (it == runners_.end()) {
      HPO_ASSIGN_OR_RETURN(storage::StudyRecord stored, store_->GetStudy(study_id));
      return FailedPreconditionError("study " + std::to_string(study_id) + " is " +
                                     StudyStateText(stored.study.state()) + "; it hands out no more trials");
    }
    const std::string mismatch = SelectorMismatch(it->second->spec().worker_selector(), labels);
    if (!mismatch.empty()) {
      return FailedPreconditionError("study " + std::to_string(study_id) + "'s worker_selector " + mismatch +
                                     " (worker " + std::to_string(worker_id) + ")");
    }
    order.push_back(it->second.get());
  } else {
    // Round robin over running studies, starting after the one served last. External studies are only
    // for those who name them; a study whose selector the worker's labels miss is for other workers.
    auto take = [&](StudyRunner* runner) {
      if (runner->spec().task().has_external()) return;
      if (!SelectorMismatch(runner->spec().worker_selector(), labels).empty()) {
        if (only_for_others != nullptr) *only_for_others = true;
        return;
      }
      order.push_back(runner);
    };
    for (auto it = runners_.upper_bound(next_study_); it != runners_.end(); ++it) take(it->second.get());
    for (auto it = runners_.begin(); it != runners_.end() && it->first <= next_study_; ++it) {
      take(it->second.get());
    }
  }
  const int64_t now = options_.clock->NowMs();
  for (StudyRunner* runner : order) {
    const std::string token = NewToken();
    HPO_ASSIGN_OR_RETURN(std::optional<Update> update, runner->Assign(worker_id, token, now));
    if (!update) continue;
    next_study_ = runner->id();
    NumberNewTrials(*update);
    const storage::TrialRecord& record = update->trials.front();
    response->Clear();
    *response->mutable_trial() = record.trial;
    response->mutable_lease()->set_trial_id(record.trial.id());
    response->mutable_lease()->set_token(record.lease_token);
    response->mutable_lease()->set_expires_ms(record.lease_expires_ms);
    *response->mutable_task() = runner->spec().task();
    *response->mutable_objectives() = runner->spec().objectives();
    // Sent only once the assignment is durable: a worker never runs a trial the database lacks.
    committer_->Enqueue(Stage(*runner, *update), std::move(durable));
    return true;
  }
  return false;
}

Result<std::optional<v1::AcquireTrialResponse>> Core::TryAcquire(uint64_t worker_id, uint64_t study_id) {
  v1::AcquireTrialResponse response;
  Result<bool> handed_out = false;
  const Status status = Await([&](Done done) {
    handed_out = TryAcquire(worker_id, study_id, &response, done);
    if (!handed_out.ok() || !*handed_out) done(Status::Ok());
  });
  HPO_RETURN_IF_ERROR(handed_out.status());
  HPO_RETURN_IF_ERROR(status);
  if (!*handed_out) return std::optional<v1::AcquireTrialResponse>();
  return std::optional<v1::AcquireTrialResponse>(std::move(response));
}

Result<v1::HeartbeatResponse> Core::Heartbeat(const v1::HeartbeatRequest& request) {
  std::lock_guard lock(mu_);
  HPO_RETURN_IF_ERROR(RecoverIfBroken());
  HPO_RETURN_IF_ERROR(CheckWorker(request.worker_id()));
  const int64_t now = options_.clock->NowMs();
  v1::HeartbeatResponse response;
  for (const v1::Lease& lease : request.leases()) {
    bool renewed = false;
    for (auto& [id, runner] : runners_) {
      if (runner->Find(lease.trial_id()) == nullptr) continue;
      if (runner->Renew(request.worker_id(), lease.trial_id(), lease.token(), now)) {
        v1::Lease* out = response.add_renewed();
        *out = lease;
        out->set_expires_ms(runner->Find(lease.trial_id())->lease_expires_ms);
        renewed = true;
      }
      break;
    }
    if (!renewed) response.add_stop_trial_ids(lease.trial_id());
  }
  return response;
}

void Core::Report(uint64_t worker_id, uint64_t trial_id, const std::string& token,
                  const std::function<Result<Update>(StudyRunner&, int64_t)>& report, Done done,
                  bool frees_work) {
  Status refused = [&]() -> Status {
    std::lock_guard lock(mu_);
    HPO_RETURN_IF_ERROR(RecoverIfBroken());
    HPO_RETURN_IF_ERROR(CheckWorker(worker_id));
    StudyRunner* owner = nullptr;
    for (auto& [id, runner] : runners_) {
      if (runner->Find(trial_id) != nullptr) owner = runner.get();
    }
    if (owner == nullptr) {
      HPO_ASSIGN_OR_RETURN(storage::TrialRecord stored, store_->GetTrial(trial_id));
      if (!StudyRunner::IsRepeatedReport(stored, token)) {
        return FailedPreconditionError("trial " + std::to_string(trial_id) +
                                       ": lease not held (its study is no longer running)");
      }
      // The report that finished the study, repeated: acknowledged again, counted once (below, once
      // everything queued before it is durable).
      committer_->Enqueue(ChangeSet(), std::move(done));
      return Status::Ok();
    }
    HPO_ASSIGN_OR_RETURN(Update update, report(*owner, options_.clock->NowMs()));
    // A pruned trial frees its slot as a finished one does.
    const bool changed = (frees_work || !update.pruned_reason.empty()) && !update.empty();
    // A repeated report changes nothing, but is answered only once the report it repeats is durable:
    // an empty change set commits with (or after) everything queued before it.
    committer_->Enqueue(Stage(*owner, update), [this, changed, done = std::move(done)](const Status& status) {
      if (status.ok() && changed) NotifyWork();
      done(status);
    });
    return Status::Ok();
  }();
  if (!refused.ok()) done(refused);
}

void Core::CompleteTrial(const v1::CompleteTrialRequest& request, Done done) {
  // The limits of a progress report; a non-finite value is not refused but fails the trial (StudyRunner).
  Status bad = CheckReportedMetrics("metrics", request.metrics(), NonFinite::kAccept);
  if (bad.ok()) bad = CheckReportedDevice("device", request.device());
  if (!bad.ok()) {
    done(bad);
    return;
  }
  Report(
      request.worker_id(), request.trial_id(), request.lease_token(),
      [&](StudyRunner& runner, int64_t now) {
        return runner.Complete(request.worker_id(), request.trial_id(), request.lease_token(),
                               request.metrics(), request.device(), now);
      },
      std::move(done));
}

void Core::FailTrial(const v1::FailTrialRequest& request, Done done) {
  Report(
      request.worker_id(), request.trial_id(), request.lease_token(),
      [&](StudyRunner& runner, int64_t now) {
        return runner.Fail(request.worker_id(), request.trial_id(), request.lease_token(),
                           StoredFailureReason(request.error()), now);
      },
      std::move(done));
}

void Core::ReleaseTrial(const v1::ReleaseTrialRequest& request, Done done) {
  Report(
      request.worker_id(), request.trial_id(), request.lease_token(),
      [&](StudyRunner& runner, int64_t) {
        return runner.Release(request.worker_id(), request.trial_id(), request.lease_token());
      },
      std::move(done));
}

void Core::ReportProgress(const v1::ReportProgressRequest& request, v1::ReportProgressResponse* response,
                          Done done) {
  if (const Status bad = CheckReportedMetrics("metrics", request.metrics()); !bad.ok()) {
    done(bad);
    return;
  }
  Report(
      request.worker_id(), request.trial_id(), request.lease_token(),
      [&](StudyRunner& runner, int64_t now) -> Result<Update> {
        HPO_ASSIGN_OR_RETURN(Update update,
                             runner.Progress(request.worker_id(), request.trial_id(), request.lease_token(),
                                             request.step(), request.metrics(), now));
        if (!update.pruned_reason.empty()) {
          response->set_should_prune(true);
          response->set_reason(update.pruned_reason);
        }
        return update;
      },
      std::move(done), /*frees_work=*/false);
}

Result<v1::ReportProgressResponse> Core::ReportProgress(const v1::ReportProgressRequest& request) {
  v1::ReportProgressResponse response;
  HPO_RETURN_IF_ERROR(Await([&](Done done) { ReportProgress(request, &response, std::move(done)); }));
  return response;
}

Status Core::CompleteTrial(const v1::CompleteTrialRequest& request) {
  return Await([&](Done done) { CompleteTrial(request, std::move(done)); });
}

Status Core::FailTrial(const v1::FailTrialRequest& request) {
  return Await([&](Done done) { FailTrial(request, std::move(done)); });
}

Status Core::ReleaseTrial(const v1::ReleaseTrialRequest& request) {
  return Await([&](Done done) { ReleaseTrial(request, std::move(done)); });
}

Status Core::ExpireLeases() {
  std::vector<uint64_t> tickets;
  {
    std::lock_guard lock(mu_);
    HPO_RETURN_IF_ERROR(RecoverIfBroken());
    const int64_t now = options_.clock->NowMs();
    std::vector<StudyRunner*> runners;
    for (auto& [id, runner] : runners_) runners.push_back(runner.get());
    for (StudyRunner* runner : runners) {
      Update update = runner->ExpireLeases(now);
      for (const storage::TrialRecord& t : update.trials) {
        // The trials whose lease ran out come back pending (re-queued) or failed; new ones have no id yet.
        if (t.trial.id() == 0) continue;
        log::Warn("lease expired",
                  {{"study_id", runner->id()},
                   {"trial_id", t.trial.id()},
                   {"worker_id", t.trial.worker_id()},
                   {"attempt", t.trial.attempt()},
                   {"outcome", t.trial.state() == v1::TRIAL_FAILED ? "failed" : "requeued"}});
      }
      if (const uint64_t ticket = StageAndQueue(*runner, update); ticket != 0) tickets.push_back(ticket);
    }
  }
  Status first_error;
  for (uint64_t ticket : tickets) {
    const Status status = Committed(ticket);
    if (!status.ok() && first_error.ok()) first_error = status;
  }
  if (!tickets.empty() && first_error.ok()) NotifyWork();
  return first_error;
}

size_t Core::RegisteredWorkers() {
  std::lock_guard lock(mu_);
  return workers_.size();
}

size_t Core::LiveWorkers() {
  std::lock_guard lock(mu_);
  return workers_.Live(options_.clock->NowMs());
}

v1::ListWorkersResponse Core::ListWorkers(bool all) {
  std::lock_guard lock(mu_);
  std::map<uint64_t, uint32_t> slots_in_use;
  for (const auto& [id, runner] : runners_) runner->CountRunning(slots_in_use);
  return workers_.List(all, options_.clock->NowMs(), slots_in_use);
}

}  // namespace hpo::coordinator
