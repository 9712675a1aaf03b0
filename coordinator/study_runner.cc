#include "coordinator/study_runner.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "base/rng.h"
#include "coordinator/spec.h"

namespace hpo::coordinator {
namespace {

bool Terminal(v1::TrialState state) {
  return state == v1::TRIAL_COMPLETED || state == v1::TRIAL_FAILED || state == v1::TRIAL_CANCELLED ||
         state == v1::TRIAL_PRUNED;
}

// The most steps of a trial's history kept (the latest) and judged.
constexpr int kMaxHistorySteps = 10'000;
// The largest step the pruner indexes (its history is a vector by step).
constexpr uint64_t kMaxJudgedStep = 1'000'000;

// Every metric a trial reported, each at its latest value.
std::map<std::string, double> LatestMetrics(const v1::TrialHistory& history) {
  std::map<std::string, double> latest;
  for (const v1::TrialProgress& p : history.steps()) {
    for (const auto& [name, value] : p.metrics()) latest[name] = value;
  }
  return latest;
}

// A trial's learning curve: its objective vector (minimised) at every step it reported (1 to
// kMaxJudgedStep) once it had reported every objective, each objective at its latest value by then (a
// metric reported once, as a latency measured early, carries forward), ascending by step (a step reported
// twice counts at its last report).
std::vector<search::CurvePoint> ObjectiveCurve(const v1::StudySpec& spec, const v1::TrialHistory& history) {
  std::map<uint64_t, std::vector<double>> by_step;
  std::map<std::string, double> latest;
  for (const v1::TrialProgress& p : history.steps()) {
    for (const auto& [name, value] : p.metrics()) latest[name] = value;
    if (p.step() == 0 || p.step() > kMaxJudgedStep) continue;
    std::vector<double> values;
    for (const v1::Objective& o : spec.objectives()) {
      auto it = latest.find(o.name());
      if (it == latest.end()) break;
      values.push_back(o.direction() == v1::MAXIMIZE ? -it->second : it->second);
    }
    if (values.size() != static_cast<size_t>(spec.objectives_size())) continue;
    by_step[p.step()] = std::move(values);
  }
  std::vector<search::CurvePoint> curve;
  for (auto& [step, values] : by_step) curve.push_back({step, std::move(values)});
  return curve;
}

// A trial's history as the pruner sees it: entry s - 1 is the objective vector at step s of its curve,
// empty where the curve has no point.
std::vector<std::vector<double>> ObjectiveHistory(const v1::StudySpec& spec,
                                                  const v1::TrialHistory& history) {
  std::vector<search::CurvePoint> curve = ObjectiveCurve(spec, history);
  std::vector<std::vector<double>> out(curve.empty() ? 0 : curve.back().step);
  for (search::CurvePoint& point : curve) out[point.step - 1] = std::move(point.objectives);
  return out;
}

search::Candidate CandidateOf(const storage::TrialRecord& record) {
  return search::Candidate{record.candidate_id, record.x};
}

// The candidate id of a trial the optimizer does not learn from: an enqueued configuration that it could
// not take as its own candidate (Optimizer::Substitute), which was told failed when it was made.
constexpr uint64_t kNotLearned = ~uint64_t{0};

bool Learns(const storage::TrialRecord& record) { return record.candidate_id != kNotLearned; }

void ReleaseLease(storage::TrialRecord& record) {
  record.lease_token.clear();
  record.lease_expires_ms = 0;
}

// A trial going back to the queue: its next attempt starts afresh.
void Requeue(storage::TrialRecord& record) {
  record.trial.set_state(v1::TRIAL_PENDING);
  record.trial.set_worker_id(0);
  record.trial.clear_progress();
  record.history.Clear();
  ReleaseLease(record);
}

// A finished trial keeps its last token, so that a report repeated under it (its answer was lost) is
// recognised and answered without counting twice.
void EndLease(storage::TrialRecord& record) { record.lease_expires_ms = 0; }

}  // namespace

bool StudyRunner::IsRepeatedReport(const storage::TrialRecord& record, const std::string& token) {
  return Terminal(record.trial.state()) && record.trial.state() != v1::TRIAL_CANCELLED && !token.empty() &&
         record.lease_token == token;
}

Result<std::unique_ptr<StudyRunner>> StudyRunner::Create(const storage::StudyRecord& record,
                                                         std::vector<storage::TrialRecord> trials,
                                                         int64_t now_ms) {
  std::unique_ptr<StudyRunner> runner(new StudyRunner());
  runner->id_ = record.study.id();
  runner->spec_ = record.study.spec();
  runner->state_ = record.study.state();
  HPO_ASSIGN_OR_RETURN(search::SearchSpace space, MakeSearchSpace(runner->spec_));
  runner->space_ = std::make_unique<search::SearchSpace>(std::move(space));
  HPO_ASSIGN_OR_RETURN(runner->optimizer_, MakeOptimizer(runner->spec_, runner->space_->dims()));
  HPO_ASSIGN_OR_RETURN(const search::PrunerOptions pruner, MakePrunerOptions(runner->spec_));
  if (pruner.kind != search::PrunerKind::kNone) {
    HPO_ASSIGN_OR_RETURN(runner->pruner_, search::MakePruner(pruner));
  }
  if (!record.optimizer_state.empty()) {
    HPO_RETURN_IF_ERROR(runner->optimizer_->Load(record.optimizer_state)
                            .WithPrefix("study " + std::to_string(runner->id_) + " optimizer state"));
  }
  HPO_RETURN_IF_ERROR(runner->RestoreResults(trials).WithPrefix("study " + std::to_string(runner->id_) +
                                                                " optimizer results"));
  for (storage::TrialRecord& trial : trials) {
    if (trial.trial.number() != runner->trials_.size()) {
      return DataLossError("study " + std::to_string(runner->id_) + " is missing trial number " +
                           std::to_string(runner->trials_.size()));
    }
    if (trial.trial.state() == v1::TRIAL_RUNNING) trial.lease_expires_ms = now_ms + runner->LeaseMs();
    runner->number_of_id_[trial.trial.id()] = trial.trial.number();
    runner->trials_.push_back(std::move(trial));
  }
  runner->Settle();
  return runner;
}

int64_t StudyRunner::LeaseMs() const { return int64_t{spec_.budget().lease_seconds()} * 1000; }

void StudyRunner::CountRunning(std::map<uint64_t, uint32_t>& by_worker) const {
  for (size_t i = settled_; i < trials_.size(); ++i) {
    if (trials_[i].trial.state() == v1::TRIAL_RUNNING) ++by_worker[trials_[i].trial.worker_id()];
  }
}

const storage::TrialRecord* StudyRunner::Find(uint64_t trial_id) const {
  auto it = number_of_id_.find(trial_id);
  return it == number_of_id_.end() ? nullptr : &trials_[it->second];
}

Result<std::optional<Update>> StudyRunner::Assign(uint64_t worker_id, const std::string& token,
                                                  int64_t now_ms) {
  if (!running()) return std::optional<Update>();
  uint32_t running_trials = 0;
  const storage::TrialRecord* pending = nullptr;
  for (size_t i = settled_; i < trials_.size(); ++i) {
    const storage::TrialRecord& t = trials_[i];
    running_trials += t.trial.state() == v1::TRIAL_RUNNING;
    if (pending == nullptr && t.trial.state() == v1::TRIAL_PENDING) pending = &t;
  }
  if (running_trials >= spec_.budget().max_parallel()) return std::optional<Update>();

  storage::TrialRecord trial;
  Update update;
  if (pending != nullptr) {
    trial = *pending;
  } else {
    if (trials_.size() >= spec_.budget().max_trials()) return std::optional<Update>();
    std::vector<search::Candidate> asked = optimizer_->Ask(1);
    if (asked.empty()) return std::optional<Update>();
    search::Candidate& candidate = asked.front();
    const auto number = static_cast<uint32_t>(trials_.size());
    uint64_t candidate_id = candidate.id;
    if (number < static_cast<uint32_t>(spec_.enqueue_size())) {
      // An enqueued configuration: its values, and the optimizer's proposal for what it leaves out.
      HPO_ASSIGN_OR_RETURN(std::vector<search::Value> values,
                           EnqueuedValues(spec_, *space_, number, space_->Decode(candidate.x)));
      HPO_ASSIGN_OR_RETURN(std::vector<double> x, space_->Encode(values));
      if (!optimizer_->Substitute(candidate.id, x)) {
        HPO_RETURN_IF_ERROR(optimizer_->TellFailed(candidate));
        candidate_id = kNotLearned;
      }
      candidate.x = std::move(x);
    }
    trial.trial.set_study_id(id_);
    trial.trial.set_number(number);
    // 53 bits, so that the seed survives any JSON number (the trainer's seed knob takes up to 2^53).
    trial.trial.set_seed(DeriveSeed(spec_.seed(), number) >> 11);
    trial.trial.set_created_ms(now_ms);
    const std::vector<search::Value> values = space_->Decode(candidate.x);
    const std::vector<bool> active = space_->Active(values);
    for (size_t i = 0; i < values.size(); ++i) {
      // A conditional parameter whose parent took another value does not exist in this trial.
      if (active[i]) (*trial.trial.mutable_params())[space_->params()[i].name] = ToParamValue(values[i]);
    }
    trial.candidate_id = candidate_id;
    trial.x = candidate.x;
    update.optimizer_moved = true;
  }
  trial.trial.set_state(v1::TRIAL_RUNNING);
  trial.trial.set_worker_id(worker_id);
  trial.trial.set_attempt(trial.trial.attempt() + 1);
  trial.trial.set_started_ms(now_ms);
  trial.lease_token = token;
  trial.lease_expires_ms = now_ms + LeaseMs();
  update.trials.push_back(std::move(trial));
  return std::optional<Update>(std::move(update));
}

Result<storage::TrialRecord*> StudyRunner::Held(uint64_t worker_id, uint64_t trial_id,
                                                const std::string& token) {
  auto it = number_of_id_.find(trial_id);
  if (it == number_of_id_.end()) return NotFoundError("trial " + std::to_string(trial_id) + " not found");
  storage::TrialRecord& trial = trials_[it->second];
  if (trial.trial.state() != v1::TRIAL_RUNNING || token.empty() || trial.lease_token != token) {
    return FailedPreconditionError("trial " + std::to_string(trial_id) +
                                   ": lease not held (expired, re-assigned or cancelled)");
  }
  if (trial.trial.worker_id() != worker_id) {
    return FailedPreconditionError("trial " + std::to_string(trial_id) + ": held by worker " +
                                   std::to_string(trial.trial.worker_id()) + ", not by worker " +
                                   std::to_string(worker_id));
  }
  return &trial;
}

Status StudyRunner::FailInto(Update& update, storage::TrialRecord trial, const std::string& error,
                             int64_t now_ms) {
  if (Learns(trial)) HPO_RETURN_IF_ERROR(optimizer_->TellFailed(CandidateOf(trial)));
  trial.trial.set_state(v1::TRIAL_FAILED);
  trial.trial.set_error(error);
  trial.trial.set_finished_ms(now_ms);
  EndLease(trial);
  update.trials.push_back(std::move(trial));
  update.optimizer_moved = true;
  return Status::Ok();
}

Result<Update> StudyRunner::Complete(uint64_t worker_id, uint64_t trial_id, const std::string& token,
                                     const google::protobuf::Map<std::string, double>& metrics,
                                     const std::string& device, int64_t now_ms) {
  const storage::TrialRecord* found = Find(trial_id);
  if (found != nullptr && IsRepeatedReport(*found, token)) return Update();
  HPO_ASSIGN_OR_RETURN(storage::TrialRecord * held, Held(worker_id, trial_id, token));
  storage::TrialRecord trial = *held;
  // A non-finite metric is not stored (SQLite has no NaN) and fails the trial, naming the first one by
  // name (objective or not: a NaN anywhere says the run went wrong).
  std::string non_finite;
  for (const auto& [name, value] : metrics) {
    if (std::isfinite(value)) {
      (*trial.trial.mutable_metrics())[name] = value;
    } else if (non_finite.empty() || name < non_finite) {
      non_finite = name;
    }
  }
  trial.trial.set_device(device);
  Update update;
  auto objectives = MinimisedObjectives(spec_, metrics);
  auto constraints = ConstraintValues(spec_, metrics);
  if (!non_finite.empty()) {
    HPO_RETURN_IF_ERROR(FailInto(update, std::move(trial), "non-finite metric " + non_finite, now_ms));
  } else if (!objectives.ok()) {
    HPO_RETURN_IF_ERROR(FailInto(update, std::move(trial), objectives.status().message(), now_ms));
  } else if (!constraints.ok()) {
    HPO_RETURN_IF_ERROR(FailInto(update, std::move(trial), constraints.status().message(), now_ms));
  } else {
    // An infeasible trial is completed like any other; the optimizer weighs its constraint values.
    if (Learns(trial)) {
      HPO_RETURN_IF_ERROR(TellCurve(trial));
      HPO_RETURN_IF_ERROR(optimizer_->TellConstrained(CandidateOf(trial), *objectives, *constraints));
    }
    trial.trial.set_state(v1::TRIAL_COMPLETED);
    trial.trial.set_finished_ms(now_ms);
    EndLease(trial);
    update.trials.push_back(std::move(trial));
    update.optimizer_moved = true;
  }
  MaybeFinish(update, now_ms);
  return update;
}

Result<Update> StudyRunner::Fail(uint64_t worker_id, uint64_t trial_id, const std::string& token,
                                 const std::string& error, int64_t now_ms) {
  const storage::TrialRecord* found = Find(trial_id);
  if (found != nullptr && IsRepeatedReport(*found, token)) return Update();
  HPO_ASSIGN_OR_RETURN(storage::TrialRecord * held, Held(worker_id, trial_id, token));
  Update update;
  HPO_RETURN_IF_ERROR(FailInto(update, *held, error.empty() ? "failed (no reason given)" : error, now_ms));
  MaybeFinish(update, now_ms);
  return update;
}

Result<Update> StudyRunner::Progress(uint64_t worker_id, uint64_t trial_id, const std::string& token,
                                     uint64_t step, const google::protobuf::Map<std::string, double>& metrics,
                                     int64_t now_ms) {
  const storage::TrialRecord* found = Find(trial_id);
  // Progress that arrives after the report that finished the trial (its answer was lost, or it was sent
  // late) is acknowledged and dropped: the trial keeps the progress it ended with. A pruned trial says so
  // again, so that a worker whose answer was lost stops it.
  if (found != nullptr && IsRepeatedReport(*found, token)) {
    Update update;
    if (found->trial.state() == v1::TRIAL_PRUNED) update.pruned_reason = found->trial.error();
    return update;
  }
  HPO_ASSIGN_OR_RETURN(storage::TrialRecord * held, Held(worker_id, trial_id, token));
  storage::TrialRecord trial = *held;
  v1::TrialProgress* progress = trial.trial.mutable_progress();
  progress->Clear();
  progress->set_step(step);
  *progress->mutable_metrics() = metrics;
  progress->set_reported_ms(now_ms);
  *trial.history.add_steps() = *progress;
  if (trial.history.steps_size() > kMaxHistorySteps) {
    trial.history.mutable_steps()->DeleteSubrange(0, trial.history.steps_size() - kMaxHistorySteps);
  }
  // A report is a sign of life, as good as a heartbeat.
  trial.lease_expires_ms = now_ms + LeaseMs();
  Update update;
  if (pruner_ != nullptr) {
    const search::PruneDecision decision = Judge(trial);
    if (decision.prune) {
      HPO_RETURN_IF_ERROR(PruneInto(update, std::move(trial), step, decision.reason, now_ms));
      MaybeFinish(update, now_ms);
      return update;
    }
  }
  update.trials.push_back(std::move(trial));
  return update;
}

Status StudyRunner::RestoreResults(const std::vector<storage::TrialRecord>& trials) {
  // The results the optimizer learned, in the order it learned them (by finishing time, then number).
  std::vector<const storage::TrialRecord*> told;
  for (const storage::TrialRecord& t : trials) {
    const v1::TrialState state = t.trial.state();
    if ((state == v1::TRIAL_COMPLETED || state == v1::TRIAL_PRUNED) && Learns(t)) told.push_back(&t);
  }
  std::stable_sort(told.begin(), told.end(), [](const auto* a, const auto* b) {
    return a->trial.finished_ms() < b->trial.finished_ms();
  });
  std::vector<search::Evaluation> results;
  for (const storage::TrialRecord* t : told) {
    auto objectives = MinimisedObjectives(spec_, t->trial.metrics());
    auto constraints = ConstraintValues(spec_, t->trial.metrics());
    if (!objectives.ok() || !constraints.ok()) continue;  // a pruned trial without them: not told either
    search::Evaluation e;
    e.candidate = CandidateOf(*t);
    e.objectives = std::move(*objectives);
    e.constraints = std::move(*constraints);
    e.pruned = t->trial.state() == v1::TRIAL_PRUNED;
    if (pruner_ != nullptr) e.curve = ObjectiveCurve(spec_, t->history);
    results.push_back(std::move(e));
  }
  return optimizer_->Restore(results);
}

Status StudyRunner::TellCurve(const storage::TrialRecord& trial) {
  // Curves serve to model pruned trials: without a pruner there are none.
  if (pruner_ == nullptr || trial.history.steps().empty()) return Status::Ok();
  return optimizer_->TellCurve(trial.candidate_id, ObjectiveCurve(spec_, trial.history));
}

search::PruneDecision StudyRunner::Judge(const storage::TrialRecord& trial) const {
  std::vector<search::PrunerTrial> all;
  for (const storage::TrialRecord& t : trials_) {
    if (t.trial.id() == trial.trial.id() || t.history.steps().empty()) continue;
    all.push_back({t.trial.id(), ObjectiveHistory(spec_, t.history), Terminal(t.trial.state())});
  }
  const search::PrunerTrial judged{trial.trial.id(), ObjectiveHistory(spec_, trial.history), false};
  return pruner_->Decide(judged, all);
}

Status StudyRunner::PruneInto(Update& update, storage::TrialRecord trial, uint64_t step,
                              const std::string& reason, int64_t now_ms) {
  google::protobuf::Map<std::string, double> metrics;
  for (const auto& [name, value] : LatestMetrics(trial.history)) metrics[name] = value;
  // What the optimizer learns: the objectives and constraints as last reported (not a full run's).
  auto objectives = MinimisedObjectives(spec_, metrics);
  auto constraints = ConstraintValues(spec_, metrics);
  if (!Learns(trial)) {
    // An enqueued configuration the optimizer did not take: nothing to tell.
  } else if (objectives.ok()) {
    const std::vector<double> none;
    HPO_RETURN_IF_ERROR(TellCurve(trial));
    HPO_RETURN_IF_ERROR(optimizer_->TellPruned(
        CandidateOf(trial), *objectives,
        constraints.ok() ? std::span<const double>(*constraints) : std::span<const double>(none)));
  } else {
    HPO_RETURN_IF_ERROR(optimizer_->TellFailed(CandidateOf(trial)));
  }
  *trial.trial.mutable_metrics() = metrics;
  trial.trial.set_state(v1::TRIAL_PRUNED);
  trial.trial.set_error("pruned at step " + std::to_string(step) + ": " + reason);
  trial.trial.set_finished_ms(now_ms);
  EndLease(trial);
  update.pruned_reason = trial.trial.error();
  update.trials.push_back(std::move(trial));
  update.optimizer_moved = true;
  return Status::Ok();
}

Update StudyRunner::ExpireLeases(int64_t now_ms) {
  Update update;
  for (size_t i = settled_; i < trials_.size(); ++i) {
    const storage::TrialRecord& t = trials_[i];
    if (t.trial.state() != v1::TRIAL_RUNNING || t.lease_expires_ms > now_ms) continue;
    storage::TrialRecord trial = t;
    if (trial.trial.attempt() >= spec_.budget().max_attempts()) {
      const std::string error = "lease expired on attempt " + std::to_string(trial.trial.attempt()) + " of " +
                                std::to_string(spec_.budget().max_attempts()) + " (worker " +
                                std::to_string(trial.trial.worker_id()) + " lost)";
      if (!FailInto(update, std::move(trial), error, now_ms).ok()) continue;
    } else {
      Requeue(trial);
      update.trials.push_back(std::move(trial));
    }
  }
  MaybeFinish(update, now_ms);
  return update;
}

Update StudyRunner::Cancel(int64_t now_ms) {
  Update update;
  if (!running()) return update;
  for (const storage::TrialRecord& t : trials_) {
    if (Terminal(t.trial.state())) continue;
    storage::TrialRecord trial = t;
    trial.trial.set_state(v1::TRIAL_CANCELLED);
    trial.trial.set_finished_ms(now_ms);
    ReleaseLease(trial);
    update.trials.push_back(std::move(trial));
  }
  update.state = v1::STUDY_CANCELLED;
  update.finished_ms = now_ms;
  return update;
}

Result<Update> StudyRunner::Release(uint64_t worker_id, uint64_t trial_id, const std::string& token) {
  HPO_ASSIGN_OR_RETURN(storage::TrialRecord * held, Held(worker_id, trial_id, token));
  storage::TrialRecord trial = *held;
  Requeue(trial);
  trial.trial.set_attempt(trial.trial.attempt() - 1);
  Update update;
  update.trials.push_back(std::move(trial));
  return update;
}

std::string StudyRunner::SaveOptimizer() const { return optimizer_->Save(); }

bool StudyRunner::Renew(uint64_t worker_id, uint64_t trial_id, const std::string& token, int64_t now_ms) {
  auto held = Held(worker_id, trial_id, token);
  if (!held.ok()) return false;
  (*held)->lease_expires_ms = now_ms + LeaseMs();
  return true;
}

void StudyRunner::MaybeFinish(Update& update, int64_t now_ms) const {
  if (!running()) return;
  const uint32_t max_failed = spec_.budget().max_failed_trials();
  if (max_failed == 0 && trials_.size() < spec_.budget().max_trials()) return;
  // The state of each trial once `update` is applied.
  std::vector<const storage::TrialRecord*> latest;
  latest.reserve(trials_.size());
  for (const storage::TrialRecord& t : trials_) latest.push_back(&t);
  for (const storage::TrialRecord& t : update.trials) {
    if (t.trial.number() < latest.size()) latest[t.trial.number()] = &t;
  }
  if (max_failed != 0) {
    std::vector<const storage::TrialRecord*> failed;
    for (const storage::TrialRecord* t : latest) {
      if (t->trial.state() == v1::TRIAL_FAILED) failed.push_back(t);
    }
    if (failed.size() >= max_failed) {
      // Fail fast: the rest of the budget would go the same way. The last three reasons say why.
      std::sort(failed.begin(), failed.end(), [](const auto* a, const auto* b) {
        return a->trial.finished_ms() != b->trial.finished_ms()
                   ? a->trial.finished_ms() < b->trial.finished_ms()
                   : a->trial.number() < b->trial.number();
      });
      std::string error = std::to_string(failed.size()) + " trials failed (budget.max_failed_trials " +
                          std::to_string(max_failed) + "); the last:";
      for (size_t i = failed.size() > 3 ? failed.size() - 3 : 0; i < failed.size(); ++i) {
        error +=
            " trial " + std::to_string(failed[i]->trial.number()) + ": " + failed[i]->trial.error() + ";";
      }
      error.pop_back();
      std::vector<storage::TrialRecord> cancelled;
      for (const storage::TrialRecord* t : latest) {
        if (Terminal(t->trial.state())) continue;
        storage::TrialRecord trial = *t;
        trial.trial.set_state(v1::TRIAL_CANCELLED);
        trial.trial.set_finished_ms(now_ms);
        ReleaseLease(trial);
        cancelled.push_back(std::move(trial));
      }
      for (storage::TrialRecord& t : cancelled) update.trials.push_back(std::move(t));
      update.state = v1::STUDY_FAILED;
      update.finished_ms = now_ms;
      update.error = std::move(error);
      return;
    }
    if (trials_.size() < spec_.budget().max_trials()) return;
  }
  std::vector<v1::TrialState> states;
  states.reserve(latest.size());
  for (const storage::TrialRecord* t : latest) states.push_back(t->trial.state());
  bool any_completed = false;
  for (v1::TrialState s : states) {
    if (!Terminal(s)) return;
    any_completed |= s == v1::TRIAL_COMPLETED;
  }
  update.state = any_completed ? v1::STUDY_COMPLETED : v1::STUDY_FAILED;
  update.finished_ms = now_ms;
}

void StudyRunner::Accept(const Update& update) {
  for (const storage::TrialRecord& t : update.trials) {
    const uint32_t number = t.trial.number();
    if (number == trials_.size()) {
      trials_.push_back(t);
    } else {
      trials_[number] = t;
    }
    number_of_id_[t.trial.id()] = number;
  }
  if (update.state) state_ = *update.state;
  Settle();
}

void StudyRunner::Settle() {
  while (settled_ < trials_.size() && Terminal(trials_[settled_].trial.state())) ++settled_;
}

}  // namespace hpo::coordinator
