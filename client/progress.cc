#include "client/progress.h"

#include <algorithm>
#include <cstdio>

#include "base/strings.h"
#include "client/format.h"

namespace hpo::client {
namespace {

bool SameCounts(const v1::TrialCounts& a, const v1::TrialCounts& b) {
  return a.pending() == b.pending() && a.running() == b.running() && a.completed() == b.completed() &&
         a.failed() == b.failed() && a.cancelled() == b.cancelled() && a.pruned() == b.pruned();
}

// Whether the line names the pruned trials: the study prunes, or some trials were pruned.
bool ShowPruned(const v1::Study& study) { return study.spec().has_pruner() || study.counts().pruned() > 0; }

std::string FormatHypervolume(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4g", value);
  return buffer;
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

uint64_t FinishedTrials(const v1::TrialCounts& counts) {
  return uint64_t{counts.completed()} + counts.pruned() + counts.failed();
}

std::optional<int64_t> EstimateRemainingMs(const v1::Study& study, int64_t now_ms) {
  if (study.state() != v1::STUDY_RUNNING) return std::nullopt;
  const uint64_t finished = FinishedTrials(study.counts());
  const uint64_t budget = study.spec().budget().max_trials();
  if (finished == 0 || finished >= budget) return std::nullopt;
  const int64_t since =
      study.first_trial_started_ms() > 0 ? study.first_trial_started_ms() : study.created_ms();
  const int64_t elapsed = std::max<int64_t>(now_ms - since, 0);
  return static_cast<int64_t>(static_cast<double>(elapsed) * static_cast<double>(budget - finished) /
                              static_cast<double>(finished));
}

std::string FormatTook(const v1::Study& study) {
  return FormatElapsed(study.finished_ms() - study.created_ms()) + " wall, " +
         FormatElapsed(study.compute_ms()) + " compute";
}

std::string FormatProgressLine(const v1::Study& study, int64_t now_ms, const ProgressExtras& extras) {
  const v1::TrialCounts& counts = study.counts();
  std::string line = "study " + std::to_string(study.id());
  if (!study.spec().name().empty()) {
    line += ' ';
    line += EscapeForTerminal(study.spec().name());
  }
  line += ": " + std::to_string(FinishedTrials(counts)) + "/" +
          std::to_string(study.spec().budget().max_trials()) + " finished (" +
          std::to_string(counts.completed()) + " completed, " +
          (ShowPruned(study) ? std::to_string(counts.pruned()) + " pruned, " : "") +
          std::to_string(counts.failed()) + " failed), " + std::to_string(counts.running()) + " running";
  if (counts.pending() > 0) line += ", " + std::to_string(counts.pending()) + " pending";
  if (counts.cancelled() > 0) line += ", " + std::to_string(counts.cancelled()) + " cancelled";
  if (!study.waiting().empty()) line += ", waiting: " + EscapeForTerminal(study.waiting());
  if (extras.hypervolume) {
    line += ", hypervolume " + FormatHypervolume(*extras.hypervolume);
    if (!extras.hypervolume_reference.empty()) line += " (" + extras.hypervolume_reference + ")";
  }
  if (study.finished_ms() != 0) {
    line += ", took " + FormatTook(study);
  } else {
    line += ", elapsed " + FormatElapsed(now_ms - study.created_ms());
  }
  if (const std::optional<int64_t> left = EstimateRemainingMs(study, now_ms)) {
    line += ", about " + FormatElapsed(*left) + " left";
  }
  if (study.state() != v1::STUDY_RUNNING && study.state() != v1::STUDY_STATE_UNSPECIFIED) {
    line += ", ";
    line += StudyStateName(study.state());
  }
  return line;
}

std::string FormatProgressBar(const v1::Study& study, int64_t now_ms, const ProgressExtras& extras,
                              size_t columns) {
  const v1::TrialCounts& counts = study.counts();
  const uint64_t budget = std::max<uint64_t>(study.spec().budget().max_trials(), 1);
  auto cells = [&](uint64_t count) {
    return static_cast<size_t>(std::min<uint64_t>(count, budget) * kBarWidth / budget);
  };
  const size_t completed = cells(counts.completed());
  const size_t pruned = cells(uint64_t{counts.completed()} + counts.pruned());
  const size_t failed = cells(FinishedTrials(counts));
  const size_t running = cells(FinishedTrials(counts) + counts.running());
  std::string bar = "[";
  for (size_t i = 0; i < kBarWidth; ++i) {
    bar += i < completed ? '#' : i < pruned ? '~' : i < failed ? 'x' : i < running ? '>' : '.';
  }
  bar += "]";
  std::string rest = " ";
  rest += std::to_string(FinishedTrials(counts)) + "/" + std::to_string(study.spec().budget().max_trials()) +
          "  " + std::to_string(counts.completed()) + " completed  " +
          (ShowPruned(study) ? std::to_string(counts.pruned()) + " pruned  " : "") +
          std::to_string(counts.failed()) + " failed  " + std::to_string(counts.running()) + " running";
  if (counts.pending() > 0) rest += "  " + std::to_string(counts.pending()) + " pending";
  if (!study.waiting().empty()) rest += "  waiting: " + EscapeForTerminal(study.waiting());
  if (extras.hypervolume) rest += "  hv " + FormatHypervolume(*extras.hypervolume);
  if (study.finished_ms() != 0) {
    rest += "  took " + FormatTook(study);
  } else {
    rest += "  elapsed " + FormatElapsed(now_ms - study.created_ms());
  }
  if (const std::optional<int64_t> left = EstimateRemainingMs(study, now_ms)) {
    rest += "  ~" + FormatElapsed(*left) + " left";
  }
  if (study.state() != v1::STUDY_RUNNING && study.state() != v1::STUDY_STATE_UNSPECIFIED) {
    rest += "  ";
    rest += StudyStateName(study.state());
  }
  const std::string id = "study " + std::to_string(study.id());
  std::string line = id;
  if (!study.spec().name().empty()) {
    line += ' ';
    line +=
        EscapeForTerminal(study.spec().name());  // the server checks names; the terminal is kept safe here
  }
  line += ' ';
  line += bar;
  line += rest;
  if (columns == 0 || line.size() < columns) return line;
  line = id + " " + bar + rest;  // without the name
  if (line.size() >= columns) line.resize(columns - 1);
  return line;
}

bool ProgressReporter::ShouldReport(const v1::Study& study, int64_t now_ms) {
  const bool due = !last_ms_.has_value() || study.state() != last_state_ ||
                   !SameCounts(study.counts(), last_counts_) || study.waiting() != last_waiting_ ||
                   now_ms - *last_ms_ >= refresh_ms_;
  if (!due) return false;
  last_ms_ = now_ms;
  last_state_ = study.state();
  last_counts_ = study.counts();
  last_waiting_ = study.waiting();
  return true;
}

}  // namespace hpo::client
