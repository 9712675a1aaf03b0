// CoordinatorProcess: a real hpo-coordinator run as a child of the bench, on a fresh SQLite file in a
// scratch folder, listening on a free loopback port (or another server started the same way: the ceiling's);
// and what /proc says about it (resident memory, its peak, threads, CPU time), read once or sampled on a
// thread while a workload runs.
//
// The child is started with fork + execve and PR_SET_PDEATHSIG, so it dies with the bench even when the
// bench is killed; HPO_TOKEN is removed from its environment (no token: the bench measures the plain
// service). Its stdout and stderr go to coordinator.log in the scratch folder, whose tail is quoted when it
// fails to start.
//
// Thread-safe for Status() (reads /proc only); Start and Stop from one thread.
#ifndef HPO_BENCH_LOAD_COORDINATOR_PROCESS_H_
#define HPO_BENCH_LOAD_COORDINATOR_PROCESS_H_

#include <sys/types.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"

namespace hpo::bench {

// One reading of /proc/<pid>/status and /proc/<pid>/stat; -1 in a field that could not be read.
struct ProcStatus {
  double rss_mib = -1;  // VmRSS
  double hwm_mib = -1;  // VmHWM: the peak resident set size since the process started
  int threads = -1;     // Threads
  double cpu_s = -1;    // user + system CPU seconds (utime + stime)
};
ProcStatus ReadProcStatus(pid_t pid);

struct CoordinatorOptions {
  std::string binary;  // REQUIRED: the hpo-coordinator executable
  std::string dir;     // REQUIRED: an existing scratch folder (database, port file, log)
  std::string db_name = "load.db";
  int heartbeat_ms = 1000;  // --heartbeat-ms
  // When not empty, the program and arguments to start instead of `binary` with the coordinator's flags
  // (the ceiling's trivial server): "--port-file <dir>/coordinator.port" is appended, and it must write
  // its port there.
  std::vector<std::string> command = {};
  double start_timeout_s = 20;  // how long to wait for its port file
};

class CoordinatorProcess {
 public:
  // Starts the coordinator and waits until it has written its port. UNAVAILABLE (with the tail of its
  // log) when it exits or does not listen within start_timeout_s; INTERNAL when it cannot be started.
  static Result<std::unique_ptr<CoordinatorProcess>> Start(const CoordinatorOptions& options);
  // Stops it (Stop()) when still running.
  ~CoordinatorProcess();
  CoordinatorProcess(const CoordinatorProcess&) = delete;
  CoordinatorProcess& operator=(const CoordinatorProcess&) = delete;

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  ProcStatus Status() const { return ReadProcStatus(pid_); }
  // The last `bytes` bytes of its log.
  std::string LogTail(size_t bytes = 2000) const;

  // SIGTERM, then SIGKILL after 5 s. OK when it exited with status 0 after SIGTERM; INTERNAL otherwise
  // (exit status or signal named, with its log's tail).
  hpo::Status Stop();

 private:
  CoordinatorProcess(CoordinatorOptions options, pid_t pid) : options_(std::move(options)), pid_(pid) {}

  const CoordinatorOptions options_;
  pid_t pid_ = -1;  // -1 once reaped
  int port_ = 0;
};

// Samples a process's ProcStatus every `period_ms` on a thread of its own, keeping the largest resident
// set and thread count seen, until Finish(). Thread-safe.
class ProcSampler {
 public:
  ProcSampler(pid_t pid, int period_ms);
  ~ProcSampler();  // Finish()
  ProcSampler(const ProcSampler&) = delete;
  ProcSampler& operator=(const ProcSampler&) = delete;

  struct Peaks {
    double rss_mib = -1;  // the largest VmRSS sampled
    int threads = -1;     // the most threads sampled
    int samples = 0;
  };
  // Stops sampling (idempotent) and returns the peaks, including one last sample.
  Peaks Finish();

 private:
  void Sample();  // REQUIRES: mu_ not held

  const pid_t pid_;
  std::mutex mu_;
  std::condition_variable wake_;
  Peaks peaks_;        // GUARDED_BY(mu_)
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace hpo::bench

#endif  // HPO_BENCH_LOAD_COORDINATOR_PROCESS_H_
