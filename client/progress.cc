#include "client/progress.h"

#include <cstdio>

#include "client/format.h"

namespace hpo::client {
namespace {

bool SameCounts(const v1::TrialCounts& a, const v1::TrialCounts& b) {
  return a.pending() == b.pending() && a.running() == b.running() && a.completed() == b.completed() &&
         a.failed() == b.failed() && a.cancelled() == b.cancelled();
}

}  // namespace

std::string FormatElapsed(int64_t ms) {
  const int64_t total = ms > 0 ? ms / 1000 : 0;
  const int64_t hours = total / 3600, minutes = (total / 60) % 60, seconds = total % 60;
  char buffer[48];
  if (hours > 0) {
    std::snprintf(buffer, sizeof(buffer), "%lldh%02lldm%02llds", static_cast<long long>(hours),
                  static_cast<long long>(minutes), static_cast<long long>(seconds));
  } else if (minutes > 0) {
    std::snprintf(buffer, sizeof(buffer), "%lldm%02llds", static_cast<long long>(minutes),
                  static_cast<long long>(seconds));
  } else {
    std::snprintf(buffer, sizeof(buffer), "%llds", static_cast<long long>(seconds));
  }
  return buffer;
}

std::string FormatProgressLine(const v1::Study& study, int64_t now_ms) {
  const v1::TrialCounts& counts = study.counts();
  const uint64_t finished = uint64_t{counts.completed()} + counts.failed();
  std::string line = "study " + std::to_string(study.id());
  if (!study.spec().name().empty()) line += " " + study.spec().name();
  line += ": " + std::to_string(finished) + "/" + std::to_string(study.spec().budget().max_trials()) +
          " finished (" + std::to_string(counts.completed()) + " completed, " +
          std::to_string(counts.failed()) + " failed), " + std::to_string(counts.running()) + " running";
  if (counts.pending() > 0) line += ", " + std::to_string(counts.pending()) + " pending";
  if (counts.cancelled() > 0) line += ", " + std::to_string(counts.cancelled()) + " cancelled";
  const int64_t end_ms = study.finished_ms() != 0 ? study.finished_ms() : now_ms;
  line += ", elapsed " + FormatElapsed(end_ms - study.created_ms());
  if (study.state() != v1::STUDY_RUNNING && study.state() != v1::STUDY_STATE_UNSPECIFIED) {
    line += ", ";
    line += StudyStateName(study.state());
  }
  return line;
}

bool ProgressReporter::ShouldReport(const v1::Study& study, int64_t now_ms) {
  const bool due = !last_ms_.has_value() || study.state() != last_state_ ||
                   !SameCounts(study.counts(), last_counts_) || now_ms - *last_ms_ >= refresh_ms_;
  if (!due) return false;
  last_ms_ = now_ms;
  last_state_ = study.state();
  last_counts_ = study.counts();
  return true;
}

}  // namespace hpo::client
