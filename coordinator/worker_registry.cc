#include "coordinator/worker_registry.h"

#include <algorithm>

#include "coordinator/spec.h"

namespace hpo::coordinator {

void WorkerRegistry::Add(const storage::WorkerRecord& record) {
  Entry& entry = workers_[record.id];
  entry.record = record;
  entry.labels = record.labels;
  if (!record.device.empty()) entry.labels.emplace("device", record.device);  // its own "device" wins
}

bool WorkerRegistry::Touch(uint64_t worker_id, int64_t now_ms) {
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return false;
  it->second.last_call_ms = std::max(it->second.last_call_ms, now_ms);
  return true;
}

const std::map<std::string, std::string>& WorkerRegistry::Labels(uint64_t worker_id) const {
  return workers_.at(worker_id).labels;
}

size_t WorkerRegistry::Live(int64_t now_ms) const {
  size_t live = 0;
  for (const auto& [id, entry] : workers_) live += IsLive(entry, now_ms) ? 1 : 0;
  return live;
}

std::string WorkerRegistry::Waiting(const google::protobuf::Map<std::string, std::string>& selector,
                                    int64_t now_ms) const {
  for (const auto& [id, entry] : workers_) {
    if (IsLive(entry, now_ms) && SelectorMismatch(selector, entry.labels).empty()) return "";
  }
  if (selector.empty()) return "no live worker";
  const std::map<std::string, std::string> sorted(selector.begin(), selector.end());
  std::string pairs;
  for (const auto& [key, value] : sorted) pairs += (pairs.empty() ? "" : ",") + key + "=" + value;
  return "no live worker matches selector " + pairs;
}

v1::ListWorkersResponse WorkerRegistry::List(bool all, int64_t now_ms,
                                             const std::map<uint64_t, uint32_t>& slots_in_use) const {
  v1::ListWorkersResponse response;
  response.set_lost_after_ms(lost_after_ms_);
  for (const auto& [id, entry] : workers_) {
    if (!all && entry.last_call_ms == 0) continue;
    v1::WorkerInfo* info = response.add_workers();
    info->set_id(id);
    info->set_name(entry.record.name);
    info->set_device(entry.record.device);
    info->mutable_labels()->insert(entry.labels.begin(), entry.labels.end());
    info->set_slots(entry.record.slots);
    if (auto used = slots_in_use.find(id); used != slots_in_use.end()) info->set_slots_in_use(used->second);
    info->set_registered_ms(entry.record.registered_ms);
    info->set_last_heartbeat_ms(entry.last_call_ms);
    info->set_state(IsLive(entry, now_ms) ? v1::WORKER_LIVE : v1::WORKER_LOST);
  }
  return response;
}

}  // namespace hpo::coordinator
