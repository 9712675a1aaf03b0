// The idle section: N workers long-polling a coordinator that has no study, so that every AcquireTrial
// parks; what that costs the coordinator in threads, memory and CPU. See bench.h.
#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "base/strings.h"
#include "bench/load/bench.h"
#include "bench/load/coordinator_process.h"
#include "bench/load/driver.h"

namespace hpo::bench {

Status RunIdleSection(const LoadBenchOptions& options, const Reporter& reporter) {
  const double idle_s = options.idle_s > 0 ? options.idle_s : options.quick ? 2.0 : 5.0;
  Status first_error = Status::Ok();
  Table table(reporter, "idle", "idle",
              "N workers long-polling (wait " + std::to_string(options.wait_ms) +
                  " ms) a coordinator with no study, for " + FormatDouble(idle_s) +
                  " s: its threads and VmRSS before they connect, once all are parked, at the end, and the "
                  "most sampled (every 100 ms)",
              {{"workers", "workers"},
               {"polls", "polls"},
               {"errors", "errors"},
               {"early", "early"},
               {"poll_ms_p50", "poll p50 ms", Column::Format::kFixed, 0},
               {"poll_ms_max", "poll max ms", Column::Format::kFixed, 0},
               {"threads_before", "thr before"},
               {"threads_parked", "thr parked"},
               {"threads_end", "thr end"},
               {"threads_max", "thr max"},
               {"rss_before_mib", "rss before", Column::Format::kFixed, 1},
               {"rss_parked_mib", "rss parked", Column::Format::kFixed, 1},
               {"rss_end_mib", "rss end", Column::Format::kFixed, 1},
               {"rss_max_mib", "rss max", Column::Format::kFixed, 1},
               {"coordinator_cpu_pct", "coord cpu %", Column::Format::kFixed, 1},
               {"check", "check", Column::Format::kText}});
  for (const int workers : options.idle_workers) {
    const std::string dir = options.scratch + "/idle-" + std::to_string(workers);
    mkdir(dir.c_str(), 0755);
    HPO_ASSIGN_OR_RETURN(std::unique_ptr<CoordinatorProcess> coordinator,
                         CoordinatorProcess::Start({.binary = options.coordinator, .dir = dir}));
    const ProcStatus before = coordinator->Status();
    ProcSampler sampler(coordinator->pid(), 100);
    IdleWorkers idle(coordinator->address(), workers, options.wait_ms);
    // Parked: every worker registered and inside an AcquireTrial, and a moment for the calls to land.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while ((idle.registered() < workers || idle.polling() < workers) &&
           std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const ProcStatus parked = coordinator->Status();
    std::this_thread::sleep_for(std::chrono::duration<double>(idle_s));
    const ProcStatus end = coordinator->Status();
    const IdleFigures figures = idle.Stop();
    const ProcSampler::Peaks peaks = sampler.Finish();
    if (Status stopped = coordinator->Stop(); !stopped.ok() && first_error.ok()) first_error = stopped;

    std::string verdict = "ok";
    if (idle.registered() < workers) {
      verdict = "ERROR: " + std::to_string(idle.registered()) + " of " + std::to_string(workers) +
                " registered: " + figures.first_error;
    } else if (figures.errors > 0) {
      verdict = "ERRORS: " + figures.first_error;
    } else if (figures.trials > 0) {
      verdict = "ERROR: " + std::to_string(figures.trials) + " polls got a trial from an empty coordinator";
    }
    if (verdict != "ok" && first_error.ok()) {
      first_error = InternalError(std::to_string(workers) + " idle workers: " + verdict);
    }
    const Percentiles poll = ComputePercentiles(figures.poll_ms);
    const double cpu_pct =
        end.cpu_s >= 0 && parked.cpu_s >= 0 ? 100.0 * (end.cpu_s - parked.cpu_s) / idle_s : -1;
    table.Add({int64_t{workers}, static_cast<int64_t>(figures.polls), static_cast<int64_t>(figures.errors),
               static_cast<int64_t>(figures.early), poll.p50, poll.max, Known(before.threads),
               Known(parked.threads), Known(end.threads), Known(peaks.threads), Known(before.rss_mib),
               Known(parked.rss_mib), Known(end.rss_mib), Known(peaks.rss_mib), Known(cpu_pct), verdict});
  }
  table.Print();
  reporter.Note("idle",
                "early = empty answers in under half the wait (a long poll that does not park); the "
                "coordinator's CPU is over the parked window only");
  return first_error;
}

}  // namespace hpo::bench
