#include "client/workers.h"

#include <algorithm>
#include <array>
#include <map>
#include <vector>

#include "base/strings.h"
#include "client/progress.h"
#include "proto/state_names.h"

namespace hpo::client {
namespace {

// UTF-8 code points: the columns a name takes in a terminal, near enough.
size_t Width(std::string_view text) {
  return static_cast<size_t>(std::count_if(
      text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

}  // namespace

std::string FormatWorkersTable(const v1::ListWorkersResponse& workers, int64_t now_ms) {
  if (workers.workers().empty()) return "no worker has called this coordinator since it started\n";
  using Row = std::array<std::string, 7>;
  std::vector<Row> rows = {{"id", "name", "state", "slots", "last heartbeat", "device", "labels"}};
  for (const v1::WorkerInfo& w : workers.workers()) {
    const std::map<std::string, std::string> sorted(w.labels().begin(), w.labels().end());
    std::string labels;
    for (const auto& [key, value] : sorted) labels += (labels.empty() ? "" : ", ") + key + "=" + value;
    rows.push_back({std::to_string(w.id()), EscapeForTerminal(w.name()),
                    w.state() == v1::WORKER_LIVE ? "live" : "lost",
                    std::to_string(w.slots_in_use()) + "/" + std::to_string(w.slots()),
                    w.last_heartbeat_ms() == 0 ? "-" : FormatElapsed(now_ms - w.last_heartbeat_ms()) + " ago",
                    EscapeForTerminal(w.device()), EscapeForTerminal(labels)});
  }
  std::array<size_t, 7> width{};
  for (const Row& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], Width(row[c]));
  }
  std::string out;
  for (const Row& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const size_t pad = width[c] - Width(row[c]);
      if (c == 0) {
        line.append(pad, ' ');  // ids right-aligned
        line += row[c];
      } else {
        line += "  " + row[c];
        line.append(pad, ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  }
  return out;
}

std::string FormatDeleted(const v1::DeleteStudyResponse& deleted) {
  const v1::Study& study = deleted.study();
  std::string text = "deleted study " + std::to_string(study.id());
  if (!study.spec().name().empty()) {
    text += ' ';
    text += EscapeForTerminal(study.spec().name());
  }
  text += " (";
  text += v1::StudyStateName(study.state());
  text += ", " + std::to_string(deleted.trials_deleted());
  text += deleted.trials_deleted() == 1 ? " trial)" : " trials)";
  return text;
}

}  // namespace hpo::client
