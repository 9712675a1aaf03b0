#include "client/watch.h"

#include <optional>
#include <thread>
#include <utility>

#include "client/cli.h"
#include "client/front.h"
#include "client/progress.h"

namespace hpo::client {
namespace {

// A failed poll worth repeating while a coordinator restarts: it was not reached or did not answer, or
// it shut down while the call was in flight (gRPC cancels those calls; hpoctl never cancels its own).
bool RetriedByWatch(StatusCode code) { return IsTransportError(code) || code == StatusCode::kCancelled; }

}  // namespace

Result<v1::Study> WatchStudy(StudyApi& api, uint64_t study_id, const WatchOptions& options,
                             const WatchEnv& env) {
  std::ostream& out = *env.out;
  std::ostream& err = *env.err;
  auto sleep = [&](std::chrono::milliseconds duration) {
    if (env.sleep) {
      env.sleep(duration);
    } else {
      std::this_thread::sleep_for(duration);
    }
  };
  bool line_open = false;  // a rewritten line without its newline is on `out`
  auto end_line = [&] {
    if (line_open) out << '\n' << std::flush;
    line_open = false;
  };

  ProgressReporter reporter(options.refresh.count() > 0 ? options.refresh.count() : 1);
  auto polled = api.GetStudy(study_id);
  if (!polled.ok()) return polled.status();
  v1::Study study = std::move(polled).value();
  ProgressExtras extras;
  std::optional<uint32_t> hypervolume_of;  // the completed count extras.hypervolume was computed at
  auto update_hypervolume = [&] {
    if (!options.hypervolume || study.spec().objectives().empty()) return;
    if (hypervolume_of == study.counts().completed()) return;
    auto front = api.GetParetoFront(study_id, options.reference);
    if (!front.ok()) return;  // best effort: keep the last value, try again at the next poll
    if (front->has_hypervolume()) {
      extras.hypervolume = front->hypervolume();
      extras.hypervolume_reference = DescribeReferencePoint(*front);
    }
    hypervolume_of = study.counts().completed();
  };
  int64_t last_answer_ms = env.clock->NowMs();
  bool retrying = false;
  while (true) {
    update_hypervolume();
    const int64_t now_ms = env.clock->NowMs();
    const bool final = IsFinalState(study.state());
    // A rewritten line is cheap: refresh it on every poll so that the elapsed time ticks.
    if (reporter.ShouldReport(study, now_ms) || options.rewrite_line || final) {
      if (options.rewrite_line) {
        out << "\r\033[K" << FormatProgressBar(study, now_ms, extras, options.columns) << std::flush;
        line_open = true;
      } else {
        out << FormatProgressLine(study, now_ms, extras) << '\n' << std::flush;
      }
    }
    if (final) {
      end_line();
      // The bar has room for "hv X" only: say once what it was measured from.
      if (options.rewrite_line && extras.hypervolume && !extras.hypervolume_reference.empty()) {
        out << "hv: " << extras.hypervolume_reference << '\n' << std::flush;
      }
      return study;
    }
    sleep(options.interval);
    while (true) {
      polled = api.GetStudy(study_id);
      if (polled.ok()) {
        study = std::move(polled).value();
        last_answer_ms = env.clock->NowMs();
        retrying = false;
        break;
      }
      const Status status = polled.status();
      if (!RetriedByWatch(status.code()) || env.clock->NowMs() - last_answer_ms >= options.retry.count()) {
        end_line();
        return status;
      }
      if (!retrying) {
        end_line();
        err << "hpoctl: " << status.ToString() << "; retrying for up to "
            << std::chrono::duration_cast<std::chrono::seconds>(options.retry).count() << "s" << std::endl;
        retrying = true;
      }
      sleep(options.interval);
    }
  }
}

std::string DescribeUnsuccessfulEnd(const v1::Study& study, const v1::ListTrialsResponse* trials) {
  const std::string name = "study " + std::to_string(study.id());
  if (study.state() == v1::STUDY_CANCELLED) return name + " was cancelled";
  if (!study.error().empty()) return name + " failed: " + study.error();  // stopped early (fail fast)
  const v1::TrialCounts& counts = study.counts();
  std::string why = name + " failed: the budget is spent and no trial completed (" +
                    (counts.pruned() > 0 ? std::to_string(counts.pruned()) + " pruned, " : "") +
                    std::to_string(counts.failed()) + " failed)";
  if (trials == nullptr) return why;
  const v1::Trial* last_failed = nullptr;
  for (const v1::Trial& trial : trials->trials()) {
    if (trial.state() != v1::TRIAL_FAILED || trial.error().empty()) continue;
    if (last_failed == nullptr || trial.number() > last_failed->number()) last_failed = &trial;
  }
  if (last_failed != nullptr) {
    why += "; last error (trial " + std::to_string(last_failed->number()) + "): " + last_failed->error();
  }
  return why;
}

}  // namespace hpo::client
