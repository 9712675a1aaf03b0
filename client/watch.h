// Watching a study until it ends, for `hpoctl watch`: poll GetStudy, print a progress line when
// something changed (and at least every refresh period), ride out a short coordinator outage, and
// hand back the final Study.
//
// WatchStudy blocks the calling thread; it shares nothing between calls. The StudyApi, the clock and the
// streams are borrowed and must outlive the call.
#ifndef HPO_CLIENT_WATCH_H_
#define HPO_CLIENT_WATCH_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "client/study_client.h"
#include "hpo/v1/service.pb.h"

namespace hpo::client {

struct WatchOptions {
  // Time between two GetStudy calls. REQUIRES > 0.
  std::chrono::milliseconds interval{1'000};
  // After a successful poll, UNAVAILABLE, DEADLINE_EXCEEDED and CANCELLED (a call in flight when the
  // coordinator shut down) are retried for this long before the watch gives up (a coordinator restart).
  // 0: give up at the first. The very first poll is never retried: an unreachable coordinator fails at
  // once.
  std::chrono::milliseconds retry{30'000};
  // An unchanged progress line is printed again after this long.
  std::chrono::milliseconds refresh{10'000};
  // Rewrite a progress bar in place ("\r", erase to end of line; FormatProgressBar) instead of printing
  // lines; for a terminal.
  bool rewrite_line = false;
  // With rewrite_line: the terminal's width, to keep the bar on one line (0: unknown, no limit).
  size_t columns = 0;
  // Show the hypervolume of the front as the coordinator computes it (GetParetoFrontResponse), fetched
  // with GetParetoFront whenever the number of completed trials changes; a failed call keeps the last
  // value.
  bool hypervolume = true;
  // The reference point for the hypervolume, one value per objective in its own units; empty: the
  // coordinator's rule (worst + 10% of range, docs/hypervolume.md).
  std::vector<double> reference;
};

// Where WatchStudy reads the time, waits and writes.
struct WatchEnv {
  const Clock* clock = SystemClock::Default();
  // Waits; empty means std::this_thread::sleep_for. A test advances a FakeClock here.
  std::function<void(std::chrono::milliseconds)> sleep;
  std::ostream* out = &std::cout;  // progress lines
  std::ostream* err = &std::cerr;  // retry notes ("hpoctl: UNAVAILABLE: ...; retrying for up to 30s")
};

// Polls study `study_id` until it is COMPLETED, FAILED or CANCELLED, printing progress lines
// (FormatProgressLine, or FormatProgressBar with rewrite_line) on env.out; the last line printed is the final
// state's, ended by a newline. Returns the final Study, or the RPC error that ended the watch (the first
// poll's, a non-transport one, or a transport one that outlasted options.retry).
Result<v1::Study> WatchStudy(StudyApi& api, uint64_t study_id, const WatchOptions& options,
                             const WatchEnv& env = {});

// One sentence on why `study` ended without completing: "study 3 was cancelled"; "study 3 failed: " and
// Study.error when the coordinator gave one (budget.max_failed_trials: "3 trials failed (...); the
// last: trial 2: ..."); otherwise "study 3 failed:
// the budget is spent and no trial completed (12 failed)" (with "3 pruned, " before the failed when
// any were), followed, when `trials` (may be null) holds
// a failed trial with an error, by "; last error (trial 11): <error>".
std::string DescribeUnsuccessfulEnd(const v1::Study& study, const v1::ListTrialsResponse* trials);

}  // namespace hpo::client

#endif  // HPO_CLIENT_WATCH_H_
