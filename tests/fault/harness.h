// The fault tests' harness: a real hpo-coordinator and real hpo-workers (build/bin) as child processes
// of the test, on a SQLite file in a temporary directory, and what the tests read back afterwards: the
// database row by row (opened read-only with the sqlite3 C API) and the workers' logs.
//
// Trials that must run long enough to be killed are builtin-task trials run by a stand-in trainer: a
// shell script called hpo-train (the worker's --train-binary) that sleeps $HPO_FAULT_TRIAL_SLEEP seconds
// (each worker process is given its own value), then prints {"loss": <lr>}. Every run appends its pid to
// trainer.pids, so that a test can kill one, and the fixture kills what is left at the end.
//
// Not thread-safe; one FaultTest per test.
#ifndef HPO_TESTS_FAULT_HARNESS_H_
#define HPO_TESTS_FAULT_HARNESS_H_

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpo/v1/study.pb.h"
#include "tests/fault/process.h"
#include "tests/testing/temp_dir.h"

namespace hpo::fault {

// One row of the trials table, with the number of its trial_metrics rows and its "loss" metric.
struct TrialRow {
  int64_t id = 0;
  int64_t study_id = 0;
  int64_t number = 0;
  v1::TrialState state = v1::TRIAL_STATE_UNSPECIFIED;
  int64_t attempt = 0;
  int64_t worker_id = 0;
  std::string lease_token;
  std::string error;
  std::string device;
  int64_t metric_rows = 0;
  std::optional<double> loss;
};

// The database at `path`, opened read-only; each call reads afresh. Failures are reported as gtest
// failures (and give empty results).
class DbReader {
 public:
  explicit DbReader(std::string path) : path_(std::move(path)) {}
  // The study's trials by number.
  std::vector<TrialRow> Trials(uint64_t study_id) const;
  // The study's state; STUDY_STATE_UNSPECIFIED when there is no such row.
  v1::StudyState StudyState(uint64_t study_id) const;
  // The id registered under worker name `name` (the newest, if it registered more than once); 0: none.
  int64_t WorkerId(const std::string& name) const;
  // How many of the study's trials are in `state`.
  int64_t Count(uint64_t study_id, v1::TrialState state) const;

 private:
  std::string path_;
};

// What a worker's log says it did.
struct WorkerLog {
  // Trial id -> how many times a CompleteTrial for it was acknowledged.
  std::map<uint64_t, int> acknowledged;
  // Trial id -> how many times its result was dropped because the lease was lost.
  std::map<uint64_t, int> lease_lost;
  // The closing "stopped (...)" line's counts, when the worker got that far.
  bool stopped = false;
  uint64_t completed = 0, failed = 0, stopped_trials = 0, released = 0, lost = 0;
};
WorkerLog ParseWorkerLog(const std::string& text);

// The text of a study spec for the stand-in trainer: one log-float parameter "lr", objective "loss".
// `algorithm` is the JSON of StudySpec.algorithm ("" for random search).
std::string StudyJson(uint32_t max_trials, uint32_t max_parallel, uint32_t max_attempts,
                      uint32_t lease_seconds, const std::string& algorithm = "");

// The path of the program `name` (hpo-coordinator, hpo-worker) under test: in the build's bin folder, or
// in $HPO_FAULT_BIN_DIR when that is set.
std::string BinPath(const std::string& name);

inline const char* StateName(v1::TrialState state) { return v1::TrialState_Name(state).c_str(); }

class FaultTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kHeartbeatMs = 100;

  void SetUp() override;
  void TearDown() override;

  // Starts hpo-coordinator on db_path() and waits until it listens. The first start takes a free port;
  // later ones reuse it, so that workers find the restarted coordinator at the same address.
  // Fails the test (fatally) when it does not come up.
  void StartCoordinator();
  // Starts an hpo-worker named `name`, whose trials (builtin ones) sleep `trial_sleep_s` seconds.
  Process* StartWorker(const std::string& name, uint32_t slots, double trial_sleep_s);
  // Creates the study `json` through StudyService; fails the test (fatally) when refused.
  void CreateStudy(const std::string& json, uint64_t* study_id);

  // Waits until the study is no longer running (read from the database); its final state.
  v1::StudyState WaitStudyDone(uint64_t study_id, std::chrono::seconds limit);
  // Waits until trial `number` of the study is RUNNING under worker `worker_id` on attempt `attempt`;
  // its row, or nullopt after `limit`.
  std::optional<TrialRow> WaitRunning(uint64_t study_id, int64_t number, int64_t worker_id, int64_t attempt,
                                      std::chrono::milliseconds limit);
  // Waits until the worker `name` is registered; its id (0 after `limit`).
  int64_t WaitWorkerId(const std::string& name, std::chrono::milliseconds limit);
  // SIGTERM to the process and waits for it: its exit code (see Process::ExitCode), or -1 after `limit`.
  static int Terminate(Process* process, std::chrono::milliseconds limit);
  // The pids of the stand-in trainer runs so far, in start order.
  std::vector<pid_t> TrainerPids() const;

  std::string db_path() const { return dir_.File("hpo.db"); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const DbReader& db() const { return db_; }
  Process* coordinator() { return coordinator_.get(); }
  std::string coordinator_log() const { return dir_.File("coordinator.log"); }
  std::string File(const std::string& name) const { return dir_.File(name); }
  // Stops (kill -9) and forgets the running coordinator process.
  void KillCoordinator();

  std::map<std::string, std::unique_ptr<Process>> workers_;

 private:
  // Kills what is left of the stand-in trainer runs (they lead their own process groups).
  void KillTrainers() const;

  hpo::testing::TempDir dir_;
  DbReader db_{dir_.File("hpo.db")};
  std::unique_ptr<Process> coordinator_;
  int port_ = 0;
};

}  // namespace hpo::fault

#endif  // HPO_TESTS_FAULT_HARNESS_H_
