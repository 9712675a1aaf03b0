// hpo-bench-load: the coordinator under many workers, measured side by side in one run with the ceiling
// of its transport and with Optuna. A benchmark, not a test: it prints figures and ratios and fails only
// on errors (a failed call, a study that does not end with exactly its trials completed).
//
//   load  for each worker count N: a real hpo-coordinator (a child process, a fresh SQLite file) runs a
//         synthetic ZDT1 study (4 variables, 2 objectives, NSGA-II steady state) of T trials for N
//         simulated workers that acquire and complete trials with no work in between; committed trial
//         cycles per second, AcquireTrial and CompleteTrial latency, the coordinator's memory, threads
//         and CPU; then the ceiling: the same N threads running the same cycles against a trivial server
//         (a child process on the same gRPC stack that answers AcquireTrial and CompleteTrial at once), so
//         that parity is a ratio of 1.0; and Optuna's ask/tell rate (the same problem) on SQLite and on
//         its journal file, in one process and in as many as the machine has cores sharing the study,
//         where Debian's python3-optuna is installed. Each row of N workers is set beside the fastest
//         Optuna of min(N, cores) processes and beside Optuna's single SQLite process.
//   idle  for each N: N workers long-poll a coordinator with no study at all, so that every AcquireTrial
//         parks; the coordinator's threads and resident memory before, while they are parked and at the
//         end.
//
// This header holds the run options and the sections' entry points. The sections run one at a time on
// the main thread (each starts threads of its own and joins them).
#ifndef HPO_BENCH_LOAD_BENCH_H_
#define HPO_BENCH_LOAD_BENCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "bench/common/report.h"
#include "bench/load/optuna_peer.h"

namespace hpo::bench {

struct LoadBenchOptions {
  bool quick = false;             // smaller studies and shorter windows: the whole program in seconds
  bool json = false;              // one JSON object per row instead of tables
  std::vector<int> workers;       // simulated worker counts of the load section, one row each
  uint32_t trials = 0;            // trials per study (0: 5000, or 1000 with --quick)
  uint32_t wait_ms = 1000;        // the workers' AcquireTrial long-poll wait
  std::vector<int> idle_workers;  // worker counts of the idle section
  double idle_s = 0;              // how long the idle workers stay parked (0: 5 s, or 2 s with --quick)
  int optuna_trials = 0;          // Optuna's trials (0: as many as the study, or 100 with --quick)
  int optuna_processes = 1;       // the most Optuna processes sharing a study (main: usable cores)
  std::vector<std::string> optuna_storages = {"sqlite", "journal"};
  std::vector<double> paced;           // shares of the closed-loop rate the paced rows offer (empty:
                                       // 0.25,0.5,0.75, or 0.5 with --quick; 0: none)
  std::string algorithm = "nsga2";     // the study's: nsga2 (steady state) or gp (the model-based sampler)
  double timeout_s = 600;              // a study not finished by then is an error row
  std::string coordinator;             // the hpo-coordinator executable
  std::string self;                    // this program (run with --serve-trivial for the ceiling)
  std::string scratch;                 // an existing folder for the databases and logs of this run
  const OptunaPeer* optuna = nullptr;  // null or unavailable: no Optuna figures
};

// A figure read from /proc, or nothing when it could not be read (negative).
Value Known(double v);
Value Known(int v);

Status RunLoadSection(const LoadBenchOptions& options, const Reporter& reporter);  // --section load
Status RunIdleSection(const LoadBenchOptions& options, const Reporter& reporter);  // --section idle

}  // namespace hpo::bench

#endif  // HPO_BENCH_LOAD_BENCH_H_
