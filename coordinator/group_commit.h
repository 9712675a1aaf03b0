// GroupCommitter: commits the state changes of concurrent operations together, one SQLite transaction
// (one fsync) per group, so that many workers' acquires and completions cost one commit rather than one
// each, while every operation is still answered only after its own changes are durable.
//
// The Core makes each change in memory under its mutex, Enqueue()s it there (so groups commit in the
// order the changes were made), releases the mutex and Wait()s. A committer thread takes everything
// queued as one group and applies it with Store::Apply, each trial row and study row written once (the
// last state of each in the group); the operations whose changes are in it wake with its status.
//
// A group that fails to commit leaves the Core's memory ahead of the database. Every change queued then
// or later was made on top of it, so they all fail with the group's error, and the committer stays
// `broken()` (every new Enqueue fails at once) until the Core has rebuilt its state from the database
// and called Recover().
//
// Thread-safe. The Store must outlive the committer; the destructor commits what is queued, then stops.
#ifndef HPO_COORDINATOR_GROUP_COMMIT_H_
#define HPO_COORDINATOR_GROUP_COMMIT_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "base/status.h"
#include "coordinator/histogram.h"
#include "storage/store.h"

namespace hpo::coordinator {

// The changes of one operation, owned.
struct ChangeSet {
  std::vector<storage::TrialRecord> trials;
  std::vector<storage::StudyChange> studies;

  bool empty() const { return trials.empty() && studies.empty(); }
};

struct GroupCommitStats {
  uint64_t groups = 0;                                // transactions committed or attempted
  uint64_t changes = 0;                               // change sets in them
  Histogram commit_seconds{LatencyBucketsSeconds()};  // the time each group's Store::Apply took
  Histogram group_sizes{SizeBuckets()};               // change sets per group
};

class GroupCommitter {
 public:
  // Optional. Called on the committer's thread for each group: it must call `take` (which makes what is
  // queued the group) and may return changes to write at the end of that group; the owner calls `take`
  // under its own lock, so that what it adds is exactly as of the group's last change.
  using Sealer = std::function<ChangeSet(const std::function<void()>& take)>;

  explicit GroupCommitter(storage::Store* store, Sealer sealer = nullptr);
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Queues `changes` for the next group and returns a ticket for Wait(). Call it in the order the
  // changes were made (under the caller's own lock).
  uint64_t Enqueue(ChangeSet changes);
  // Queues `changes` like Enqueue, and calls `done` with the group's status once it has committed (or
  // failed), on the committer's thread, with no lock held. When the committer is broken, `done` runs at
  // once on the calling thread. `done` must be quick (e.g. finish an RPC) and must not call back into the
  // committer's Wait().
  void Enqueue(ChangeSet changes, std::function<void(const Status&)> done);
  // Blocks until the group holding `ticket` has committed; OK, or the error that failed it (or a change
  // queued before it).
  Status Wait(uint64_t ticket);

  // True from a failed group until Recover().
  bool broken() const;
  // The caller has rebuilt its state from the database: new changes may be queued again.
  void Recover();

  GroupCommitStats stats() const;

 private:
  struct Entry {
    uint64_t ticket;
    ChangeSet changes;
    std::function<void(const Status&)> done;  // may be empty
  };
  // The one set of changes a group writes.
  static storage::Changes Merge(std::deque<Entry>& group);
  void Loop();

  storage::Store* const store_;
  const Sealer sealer_;
  mutable std::mutex mu_;
  std::condition_variable queued_;     // the committer waits here for work
  std::condition_variable committed_;  // Wait() waits here
  std::deque<Entry> queue_;            // GUARDED_BY(mu_)
  uint64_t next_ticket_ = 1;           // GUARDED_BY(mu_)
  // Tickets below done_below_ have been through a commit; failed_ holds the failed tickets (also those
  // refused at Enqueue) until their Wait() takes them.
  uint64_t done_below_ = 1;            // GUARDED_BY(mu_)
  std::map<uint64_t, Status> failed_;  // GUARDED_BY(mu_)
  bool broken_ = false;                // GUARDED_BY(mu_)
  Status broken_status_;               // GUARDED_BY(mu_)
  bool stopping_ = false;              // GUARDED_BY(mu_)
  GroupCommitStats stats_;             // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_GROUP_COMMIT_H_
