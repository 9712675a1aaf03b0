// The simulated workers and the trivial service that hpo-bench-load measures: N threads, each with a
// gRPC channel and a TCP connection of its own (as N worker daemons would have), calling a coordinator
// over loopback with the blocking (synchronous) stub.
//
//   RunLoad     N workers register, then loop AcquireTrial (long poll) -> CompleteTrial with the
//               synthetic problem's objectives computed at once from the trial's parameters, until the
//               study's trials are all completed.
//   IdleWorkers N workers register and long-poll a coordinator that has no work for them, until stopped.
//   ServeTrivial the ceiling's server: the same two calls answered at once by a process that stores and
//               decides nothing, so RunLoad against it is the most a cycle can do on this stack.
//
// Each function runs its threads and joins them before it returns; IdleWorkers joins in Stop() (or its
// destructor). Thread-safe in the sense that each call owns its threads and figures.
#ifndef HPO_BENCH_LOAD_DRIVER_H_
#define HPO_BENCH_LOAD_DRIVER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"

namespace hpo::bench {

// A channel to `address` (host:port) on a connection of its own (a local subchannel pool: gRPC would
// otherwise let channels with equal arguments share one connection), receiving up to 256 MiB.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address);

// Nearest-rank percentiles of a sample of milliseconds; NaN each when it is empty.
struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
  size_t count = 0;
};
Percentiles ComputePercentiles(std::vector<double> ms);

// Counts errors (any non-OK status) and keeps the first one's text. Thread-safe.
class ErrorLog {
 public:
  void Add(const char* call, const grpc::Status& status);
  uint64_t count() const { return count_.load(); }
  std::string first() const;

 private:
  std::atomic<uint64_t> count_{0};
  mutable std::mutex mu_;
  std::string first_;  // GUARDED_BY(mu_)
};

struct LoadOptions {
  std::string address;            // the coordinator's host:port
  int workers = 64;               // threads, each a worker with its own channel
  uint32_t trials = 0;            // the study's max_trials: the run ends when this many are completed
  uint32_t wait_ms = 1000;        // AcquireTrial's long-poll wait
  std::string function = "zdt1";  // the study's synthetic problem, evaluated here
  size_t dims = 4;
  double timeout_s = 600;  // give up (timed_out) after this long
  // Offered load: 0 runs a closed loop (each worker acquires again as soon as its completion is
  // acknowledged). A positive rate paces the workers to this many cycles per second in all: worker i
  // starts its k-th cycle no earlier than start + (i / workers + k) * workers / pace_per_s (a cycle that
  // overruns its slot starts the next one at once), so latency is measured below saturation.
  double pace_per_s = 0;
  // Called on the calling thread just before the workers start, and as soon as the last completion is
  // acknowledged (or the run gave up), before the workers are joined; either may be empty.
  std::function<void()> on_start;
  std::function<void()> on_end;
};

struct LoadFigures {
  double wall_s = 0;                // from the moment every worker was registered to the last acknowledged
                                    // completion
  uint64_t cycles = 0;              // acknowledged CompleteTrial calls (each after an AcquireTrial)
  uint64_t empty_polls = 0;         // AcquireTrial answers without a trial
  std::vector<double> acquire_ms;   // AcquireTrial calls that returned a trial
  std::vector<double> complete_ms;  // acknowledged CompleteTrial calls
  uint64_t errors = 0;
  std::string first_error;
  bool timed_out = false;
  double client_cpu_s = 0;  // this process's CPU time over the run (the simulated workers' share)
};

// Runs the workers against a coordinator whose one running study is a synthetic `function` with
// `trials` trials. INVALID_ARGUMENT when the problem is unknown; the calls' errors are counted in the
// figures, not returned.
Result<LoadFigures> RunLoad(const LoadOptions& options);

struct IdleFigures {
  uint64_t polls = 0;   // answered AcquireTrial calls
  uint64_t trials = 0;  // of them, answered with a trial (there should be none)
  uint64_t early = 0;   // answered empty in less than half of wait_ms (a spinning long poll)
  std::vector<double> poll_ms;
  uint64_t errors = 0;
  std::string first_error;
};

class IdleWorkers {
 public:
  // Starts `workers` threads that register with `address` and then long-poll it with `wait_ms` until
  // Stop(). Returns at once; registered() says how many have registered so far.
  IdleWorkers(std::string address, int workers, uint32_t wait_ms);
  ~IdleWorkers();  // Stop()
  IdleWorkers(const IdleWorkers&) = delete;
  IdleWorkers& operator=(const IdleWorkers&) = delete;

  int registered() const { return registered_.load(); }
  int polling() const { return polling_.load(); }  // workers inside an AcquireTrial call now
  // Asks every worker to stop after its current poll (at most wait_ms), joins them, returns the figures.
  IdleFigures Stop();

 private:
  void Work(int index);

  const std::string address_;
  const uint32_t wait_ms_;
  std::atomic<int> registered_{0};
  std::atomic<int> polling_{0};
  std::atomic<bool> stop_{false};
  ErrorLog errors_;
  std::mutex mu_;
  IdleFigures figures_;  // GUARDED_BY(mu_); merged from each worker as it ends
  std::vector<std::thread> threads_;
};

// The ceiling's server, the body of `hpo-bench-load --serve-trivial PORT_FILE` (a child of the bench, as
// the coordinator is): a WorkerService on a free loopback port whose RegisterWorker, AcquireTrial and
// CompleteTrial answer at once from memory, AcquireTrial with a trial shaped as the coordinator's for the
// load study. Writes the port to `port_file` (atomically), serves until SIGTERM or SIGINT, returns the
// exit status (0; 1 when it cannot listen or write the file).
int ServeTrivial(const std::string& port_file);

}  // namespace hpo::bench

#endif  // HPO_BENCH_LOAD_DRIVER_H_
