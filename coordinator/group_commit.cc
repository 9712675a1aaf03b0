#include "coordinator/group_commit.h"

#include <chrono>
#include <unordered_map>
#include <utility>

#include "base/log.h"

namespace hpo::coordinator {

GroupCommitter::GroupCommitter(storage::Store* store, Sealer sealer)
    : store_(store), sealer_(std::move(sealer)), thread_([this] { Loop(); }) {}

GroupCommitter::~GroupCommitter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  queued_.notify_all();
  thread_.join();
}

uint64_t GroupCommitter::Enqueue(ChangeSet changes) {
  std::lock_guard lock(mu_);
  const uint64_t ticket = next_ticket_++;
  if (broken_) {
    failed_.emplace(ticket, broken_status_);
    return ticket;
  }
  queue_.push_back(Entry{ticket, std::move(changes), nullptr});
  queued_.notify_one();
  return ticket;
}

void GroupCommitter::Enqueue(ChangeSet changes, std::function<void(const Status&)> done) {
  Status refused;
  {
    std::lock_guard lock(mu_);
    const uint64_t ticket = next_ticket_++;
    if (broken_) {
      refused = broken_status_;
    } else {
      queue_.push_back(Entry{ticket, std::move(changes), std::move(done)});
      queued_.notify_one();
      return;
    }
  }
  done(refused);
}

Status GroupCommitter::Wait(uint64_t ticket) {
  std::unique_lock lock(mu_);
  committed_.wait(lock, [&] { return ticket < done_below_ || failed_.count(ticket) != 0; });
  auto it = failed_.find(ticket);
  if (it == failed_.end()) return Status::Ok();
  Status status = std::move(it->second);
  failed_.erase(it);
  return status;
}

bool GroupCommitter::broken() const {
  std::lock_guard lock(mu_);
  return broken_;
}

void GroupCommitter::Recover() {
  std::lock_guard lock(mu_);
  broken_ = false;
  broken_status_ = Status::Ok();
}

GroupCommitStats GroupCommitter::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

storage::Changes GroupCommitter::Merge(std::deque<Entry>& group) {
  // Trial rows are written whole: the last record of each trial in the group is the one that counts
  // (a trial that has no id yet is always its own). Study changes fold field by field, later over earlier,
  // so a study whose optimizer moved k times in the group is written once.
  storage::Changes changes;
  std::unordered_map<uint64_t, size_t> trial_slot;
  std::unordered_map<uint64_t, size_t> study_slot;
  for (Entry& entry : group) {
    for (storage::TrialRecord& trial : entry.changes.trials) {
      const uint64_t id = trial.trial.id();
      auto [it, inserted] = trial_slot.try_emplace(id, changes.trials.size());
      if (inserted || id == 0) {
        if (!inserted) it->second = changes.trials.size();
        changes.trials.push_back(&trial);
      } else {
        changes.trials[it->second] = &trial;
      }
    }
    for (storage::StudyChange& study : entry.changes.studies) {
      auto [it, inserted] = study_slot.try_emplace(study.study_id, changes.studies.size());
      if (inserted) {
        changes.studies.push_back(std::move(study));
        continue;
      }
      storage::StudyChange& merged = changes.studies[it->second];
      if (study.state) merged.state = study.state;
      if (study.finished_ms) merged.finished_ms = study.finished_ms;
      if (study.optimizer_state) merged.optimizer_state = std::move(study.optimizer_state);
      if (study.error) merged.error = std::move(study.error);
    }
  }
  return changes;
}

void GroupCommitter::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    queued_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything queued is committed
    std::deque<Entry> group;
    if (sealer_) {
      lock.unlock();
      ChangeSet sealed = sealer_([&] {
        std::lock_guard take_lock(mu_);
        group.swap(queue_);
      });
      if (!sealed.empty()) group.push_back(Entry{0, std::move(sealed), nullptr});
    } else {
      group.swap(queue_);
      lock.unlock();
    }

    storage::Changes changes = Merge(group);
    const auto started = std::chrono::steady_clock::now();
    const Status status =
        changes.trials.empty() && changes.studies.empty() ? Status::Ok() : store_->Apply(changes);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    lock.lock();
    ++stats_.groups;
    stats_.changes += group.size();
    stats_.commit_seconds.Observe(seconds);
    stats_.group_sizes.Observe(static_cast<double>(group.size()));
    Status result = status;
    if (!status.ok()) {
      log::Error("commit failed", {{"change_sets", group.size()}, {"error", status.ToString()}});
      // Everything queued since was made on top of this group: it fails too, and so does every change
      // queued until the owner has reloaded and called Recover().
      result = status.WithPrefix("commit");
      for (const Entry& entry : group) {
        if (entry.ticket != 0) failed_.emplace(entry.ticket, result);  // 0: the sealer's own changes
      }
      for (Entry& entry : queue_) {
        failed_.emplace(entry.ticket, result);
        group.push_back(std::move(entry));
      }
      queue_.clear();
      broken_ = true;
      broken_status_ = result;
      done_below_ = next_ticket_;
    } else {
      done_below_ = queue_.empty() ? next_ticket_ : queue_.front().ticket;
    }
    committed_.notify_all();
    // Callers that asked to be called back: their tickets are never waited on, so drop them from failed_.
    bool any_done = false;
    for (const Entry& entry : group) {
      if (entry.done) {
        failed_.erase(entry.ticket);
        any_done = true;
      }
    }
    if (any_done) {
      lock.unlock();
      for (Entry& entry : group) {
        if (entry.done) entry.done(result);
      }
      lock.lock();
    }
  }
}

}  // namespace hpo::coordinator
