// WorkerRegistry: the workers a coordinator knows, with when each last called, so that it can tell live
// workers from lost ones and say when a study has no live worker to run it.
//
// A worker is live while its last call (registration, heartbeat, acquire, report) is at most
// `lost_after_ms` old, lost after that. Calls are remembered in memory only: after a restart every
// stored worker is lost until it calls again.
//
// Not thread-safe: the Core guards it with its mutex. A plain value: copyable, nothing borrowed.
#ifndef HPO_COORDINATOR_WORKER_REGISTRY_H_
#define HPO_COORDINATOR_WORKER_REGISTRY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hpo/v1/service.pb.h"
#include "storage/store.h"

namespace hpo::coordinator {

class WorkerRegistry {
 public:
  // REQUIRES: lost_after_ms > 0
  explicit WorkerRegistry(int64_t lost_after_ms) : lost_after_ms_(lost_after_ms) {}

  int64_t lost_after_ms() const { return lost_after_ms_; }

  // Adds a stored worker, or refreshes one already known (its last call is kept). Its labels are matched
  // as registered plus its device as "device" (unless it gives one itself).
  void Add(const storage::WorkerRecord& record);
  // A call from the worker at `now_ms`. Returns false for a worker never added.
  bool Touch(uint64_t worker_id, int64_t now_ms);
  bool Contains(uint64_t worker_id) const { return workers_.count(worker_id) != 0; }
  // The labels a study's worker_selector is matched against. REQUIRES: Contains(worker_id)
  const std::map<std::string, std::string>& Labels(uint64_t worker_id) const;

  // Workers ever added; those live at `now_ms`.
  size_t size() const { return workers_.size(); }
  size_t Live(int64_t now_ms) const;

  // "" when a live worker's labels match `selector`; otherwise why nothing runs: "no live worker", or
  // "no live worker matches selector gpu=H100,zone=a" (the selector's pairs by key).
  std::string Waiting(const google::protobuf::Map<std::string, std::string>& selector, int64_t now_ms) const;

  // The workers, by id: those that called since they were added (with `all`, every one), with
  // `slots_in_use` (running trials by worker id) filled in.
  v1::ListWorkersResponse List(bool all, int64_t now_ms,
                               const std::map<uint64_t, uint32_t>& slots_in_use) const;

 private:
  struct Entry {
    storage::WorkerRecord record;
    std::map<std::string, std::string> labels;  // record.labels plus "device"
    int64_t last_call_ms = 0;                   // 0: none since it was added
  };
  bool IsLive(const Entry& entry, int64_t now_ms) const {
    return entry.last_call_ms != 0 && now_ms - entry.last_call_ms <= lost_after_ms_;
  }

  int64_t lost_after_ms_;
  std::map<uint64_t, Entry> workers_;
};

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_WORKER_REGISTRY_H_
