// Coordinator faults (issue 5, part 2): the coordinator killed (kill -9) again and again during a study
// and restarted on the same database and port, stopped with SIGTERM, and started on files that are not
// its database. Real hpo-coordinator and hpo-worker processes; the database is checked row by row.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "tests/fault/harness.h"

namespace hpo::fault {
namespace {

using namespace std::chrono_literals;

class CoordinatorFaultTest : public FaultTest {
 protected:
  // The acknowledged completions of every worker's log, checked against the rows: each one names a
  // COMPLETED trial of the study, run by that worker, and no trial is acknowledged twice. Returns how
  // many there were.
  size_t CheckAcknowledged(const std::vector<TrialRow>& rows,
                           const std::map<std::string, int64_t>& worker_ids) {
    std::map<int64_t, const TrialRow*> by_id;
    for (const TrialRow& row : rows) by_id[row.id] = &row;
    std::map<uint64_t, std::string> acknowledged_by;
    for (const auto& [name, id] : worker_ids) {
      const WorkerLog log = ParseWorkerLog(workers_.at(name)->Log());
      for (const auto& [trial, times] : log.acknowledged) {
        EXPECT_EQ(times, 1) << "worker " << name << " saw trial " << trial << " acknowledged " << times
                            << " times";
        const auto [it, inserted] = acknowledged_by.emplace(trial, name);
        EXPECT_TRUE(inserted) << "trial " << trial << " acknowledged to " << it->second << " and " << name;
        const auto row = by_id.find(static_cast<int64_t>(trial));
        if (row == by_id.end()) {
          ADD_FAILURE() << "trial " << trial << " acknowledged to " << name << " has no row";
          continue;
        }
        EXPECT_EQ(row->second->state, v1::TRIAL_COMPLETED)
            << "trial " << trial << " acknowledged to " << name << " is " << StateName(row->second->state);
        EXPECT_EQ(row->second->worker_id, id) << "trial " << trial << " acknowledged to " << name;
      }
    }
    return acknowledged_by.size();
  }
};

// One study the coordinator is killed in the middle of, again and again.
struct KillLoop {
  std::string name;
  std::string study_json;
  uint32_t max_trials = 0;
  double trial_sleep_s = 0;     // the stand-in trainer's; unused by synthetic trials
  int metrics_per_trial = 0;    // trial_metrics rows of a completed trial
  int max_kill_delay_ms = 0;    // the kill comes up to this long after the k-th completion
  int min_kills_mid_trial = 0;  // kills that must meet a RUNNING trial
};

// What gtest (and so ctest's test name) prints for a KillLoop.
void PrintTo(const KillLoop& loop, std::ostream* os) { *os << loop.name; }

class CoordinatorKillTest : public CoordinatorFaultTest, public ::testing::WithParamInterface<KillLoop> {};

// kill -9 of the coordinator at ten points of a running study (each time after 1 to 3 more completed
// trials, drawn from a fixed seed, and a random moment after that), each time restarted on the same
// database and port; the workers reconnect. At the end the study is COMPLETED with exactly max_trials
// completed trials, every trial row is terminal, numbers are 0..max_trials-1 once each, attempts >= 1,
// and every completion a worker saw acknowledged is in the database, once. Run with trials that take a
// while (kills meet running trial processes) and with synthetic ones (kills meet reports in flight).
TEST_P(CoordinatorKillTest, RestartedCoordinatorFinishesTheStudyExactly) {
  const KillLoop& loop = GetParam();
  constexpr int kKills = 10;
  constexpr int64_t kMaxAttempts = 5;
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  uint64_t study = 0;
  ASSERT_NO_FATAL_FAILURE(CreateStudy(loop.study_json, &study));
  StartWorker("w1", 2, loop.trial_sleep_s);
  StartWorker("w2", 2, loop.trial_sleep_s);
  // Both registered before the first kill: the kills are to meet workers at work, not one still starting.
  ASSERT_GT(WaitWorkerId("w1", 30s), 0) << "w1 did not register";
  ASSERT_GT(WaitWorkerId("w2", 30s), 0) << "w2 did not register";

  std::mt19937_64 rng(20240501);
  int64_t completed_at_restart = 0;
  int kills_mid_trial = 0;
  for (int kill = 0; kill < kKills; ++kill) {
    SCOPED_TRACE("kill " + std::to_string(kill));
    // 1 to 3 completions after the last restart, and a moment later.
    const int64_t k = completed_at_restart + 1 + static_cast<int64_t>(rng() % 3);
    ASSERT_TRUE(WaitFor([&] { return db().Count(study, v1::TRIAL_COMPLETED) >= k; }, 30s))
        << "the study did not reach " << k << " completed trials";
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % (loop.max_kill_delay_ms + 1)));
    kills_mid_trial += db().Count(study, v1::TRIAL_RUNNING) > 0;
    ASSERT_NO_FATAL_FAILURE(KillCoordinator());
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    ASSERT_NO_FATAL_FAILURE(StartCoordinator());
    completed_at_restart = db().Count(study, v1::TRIAL_COMPLETED);
    ASSERT_LT(completed_at_restart, loop.max_trials) << "the study finished before all kills";
  }
  ASSERT_EQ(WaitStudyDone(study, 60s), v1::STUDY_COMPLETED);
  for (auto& [name, worker] : workers_) EXPECT_EQ(Terminate(worker.get(), 10s), 0) << name;
  EXPECT_EQ(Terminate(coordinator(), 10s), 0);
  EXPECT_GE(kills_mid_trial, loop.min_kills_mid_trial) << "the kills met too few running trials";

  const std::map<std::string, int64_t> worker_ids = {{"w1", db().WorkerId("w1")},
                                                     {"w2", db().WorkerId("w2")}};
  const std::vector<TrialRow> rows = db().Trials(study);
  ASSERT_EQ(rows.size(), loop.max_trials) << "the optimizer did not continue where it stopped";
  std::set<int64_t> ids;
  for (size_t i = 0; i < rows.size(); ++i) {
    const TrialRow& row = rows[i];
    SCOPED_TRACE("trial #" + std::to_string(row.number));
    EXPECT_EQ(row.number, static_cast<int64_t>(i));
    EXPECT_TRUE(ids.insert(row.id).second);
    EXPECT_EQ(row.state, v1::TRIAL_COMPLETED) << StateName(row.state) << " " << row.error;
    EXPECT_GE(row.attempt, 1);
    EXPECT_LE(row.attempt, kMaxAttempts);
    EXPECT_TRUE(row.worker_id == worker_ids.at("w1") || row.worker_id == worker_ids.at("w2"))
        << row.worker_id;
    EXPECT_EQ(row.metric_rows, loop.metrics_per_trial);
    if (row.loss.has_value()) {
      EXPECT_TRUE(*row.loss >= 1e-4 && *row.loss <= 1.0) << *row.loss;
    }
    EXPECT_EQ(row.error, "");
  }
  EXPECT_EQ(CheckAcknowledged(rows, worker_ids), loop.max_trials);
  uint64_t completed = 0;
  for (const auto& [name, worker] : workers_) {
    const std::string text = worker->Log();
    const WorkerLog log = ParseWorkerLog(text);
    EXPECT_TRUE(log.stopped) << name << "'s log ends:\n"
                             << text.substr(text.size() - std::min<size_t>(text.size(), 3000));
    EXPECT_EQ(log.failed, 0u) << name;
    completed += log.completed;
  }
  EXPECT_EQ(completed, loop.max_trials);
}

// NSGA-II in both, so that the optimizer's state must survive each restart; leases of 20 heartbeats.
INSTANTIATE_TEST_SUITE_P(
    Studies, CoordinatorKillTest,
    ::testing::Values(
        KillLoop{"StandInTrainer",
                 StudyJson(/*max_trials=*/80, /*max_parallel=*/4, /*max_attempts=*/5, /*lease_seconds=*/2,
                           R"({"nsga2": {"population": 8}})"),
                 80, /*trial_sleep_s=*/0.1, /*metrics_per_trial=*/1, /*max_kill_delay_ms=*/150,
                 /*min_kills_mid_trial=*/5},
        KillLoop{
            "SyntheticZdt1",
            R"({"name": "fault synthetic", "objectives": [{"name": "f1"}, {"name": "f2"}],)"
            R"( "algorithm": {"nsga2": {"population": 8}},)"
            R"( "budget": {"max_trials": 400, "max_parallel": 4, "max_attempts": 5, "lease_seconds": 2},)"
            R"( "task": {"synthetic": {"function": "zdt1", "dims": 5}}, "seed": 11})",
            400, /*trial_sleep_s=*/0, /*metrics_per_trial=*/2, /*max_kill_delay_ms=*/20,
            /*min_kills_mid_trial=*/5}),
    [](const ::testing::TestParamInfo<KillLoop>& param) { return param.param.name; });

// A coordinator killed (kill -9) and restarted while a trial runs gives the trial a fresh lease, and the
// worker finds the restarted coordinator well within it: the trial is renewed and completed on its first
// attempt by the same worker, its result acknowledged once.
TEST_F(CoordinatorFaultTest, TrialRunningAcrossACoordinatorRestartKeepsItsLease) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  uint64_t study = 0;
  ASSERT_NO_FATAL_FAILURE(CreateStudy(StudyJson(/*max_trials=*/1, /*max_parallel=*/1, /*max_attempts=*/3,
                                                /*lease_seconds=*/2),
                                      &study));
  Process* worker = StartWorker("w", 1, 3.0);
  const int64_t worker_id = WaitWorkerId("w", 10s);
  ASSERT_NE(worker_id, 0);
  const std::optional<TrialRow> running = WaitRunning(study, 0, worker_id, 1, 10s);
  ASSERT_TRUE(running.has_value());
  ASSERT_TRUE(WaitFor([&] { return TrainerPids().size() == 1; }, 10s));
  ASSERT_NO_FATAL_FAILURE(KillCoordinator());
  std::this_thread::sleep_for(500ms);
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());

  ASSERT_EQ(WaitStudyDone(study, 30s), v1::STUDY_COMPLETED);
  EXPECT_EQ(Terminate(worker, 10s), 0);
  EXPECT_EQ(Terminate(coordinator(), 10s), 0);
  const std::vector<TrialRow> rows = db().Trials(study);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, v1::TRIAL_COMPLETED) << StateName(rows[0].state) << " " << rows[0].error;
  EXPECT_EQ(rows[0].attempt, 1) << "the lease ran out before the worker found the restarted coordinator";
  EXPECT_EQ(rows[0].worker_id, worker_id);
  EXPECT_EQ(rows[0].lease_token, running->lease_token);
  EXPECT_EQ(rows[0].metric_rows, 1);
  const WorkerLog log = ParseWorkerLog(worker->Log());
  EXPECT_EQ(log.acknowledged, (std::map<uint64_t, int>{{static_cast<uint64_t>(rows[0].id), 1}}));
  EXPECT_EQ(log.lost, 0u);
  EXPECT_EQ(TrainerPids().size(), 1u) << "the trial ran again";
}

// SIGTERM to the coordinator in the middle of a study: it exits 0, and everything it acknowledged is in
// the database: every completion a worker saw acknowledged is a COMPLETED row, and no trial that was
// stored (running or done) lost its row or went back. Restarted, it finishes the study exactly.
TEST_F(CoordinatorFaultTest, TerminatedCoordinatorKeepsEverythingAcknowledged) {
  constexpr uint32_t kMaxTrials = 24;
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  uint64_t study = 0;
  ASSERT_NO_FATAL_FAILURE(CreateStudy(StudyJson(kMaxTrials, /*max_parallel=*/4, /*max_attempts=*/3,
                                                /*lease_seconds=*/2),
                                      &study));
  StartWorker("w1", 2, 0.2);
  StartWorker("w2", 2, 0.2);
  // Six completions acknowledged to the workers, as their logs say, and a trial running (the database's
  // rows read at that moment, just before the SIGTERM).
  std::vector<TrialRow> before;
  ASSERT_TRUE(WaitFor(
      [&] {
        size_t acknowledged = 0;
        for (const auto& [name, worker] : workers_)
          acknowledged += ParseWorkerLog(worker->Log()).acknowledged.size();
        if (acknowledged < 6) return false;
        before = db().Trials(study);
        return std::any_of(before.begin(), before.end(),
                           [](const TrialRow& r) { return r.state == v1::TRIAL_RUNNING; });
      },
      30s))
      << "no trial was running after six completions";

  const auto signalled = std::chrono::steady_clock::now();
  EXPECT_EQ(Terminate(coordinator(), 10s), 0);
  const double exit_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  EXPECT_LT(exit_s, 5.0) << "the coordinator took " << exit_s << " s to stop";

  const std::map<std::string, int64_t> worker_ids = {{"w1", db().WorkerId("w1")},
                                                     {"w2", db().WorkerId("w2")}};
  {
    const std::vector<TrialRow> after = db().Trials(study);
    std::map<int64_t, const TrialRow*> by_number;
    for (const TrialRow& row : after) by_number[row.number] = &row;
    ASSERT_EQ(by_number.size(), after.size()) << "a trial number is stored twice";
    for (const TrialRow& old : before) {
      SCOPED_TRACE("trial #" + std::to_string(old.number));
      const auto it = by_number.find(old.number);
      ASSERT_NE(it, by_number.end()) << "the row is gone";
      const TrialRow& now = *it->second;
      EXPECT_EQ(now.id, old.id);
      if (old.state == v1::TRIAL_COMPLETED) {
        EXPECT_EQ(now.state, v1::TRIAL_COMPLETED) << StateName(now.state);
        EXPECT_EQ(now.loss, old.loss);
        EXPECT_EQ(now.worker_id, old.worker_id);
      } else if (old.state == v1::TRIAL_RUNNING) {
        EXPECT_TRUE(now.state == v1::TRIAL_RUNNING || now.state == v1::TRIAL_COMPLETED)
            << StateName(now.state);
        EXPECT_GE(now.attempt, old.attempt);
      }
    }
    const size_t acknowledged = CheckAcknowledged(after, worker_ids);
    EXPECT_LE(acknowledged, static_cast<size_t>(db().Count(study, v1::TRIAL_COMPLETED)));
    EXPECT_GE(acknowledged, 6u);
  }

  // The workers wait for it; restarted, it finishes the study.
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  ASSERT_EQ(WaitStudyDone(study, 60s), v1::STUDY_COMPLETED);
  for (auto& [name, worker] : workers_) EXPECT_EQ(Terminate(worker.get(), 10s), 0) << name;
  EXPECT_EQ(Terminate(coordinator(), 10s), 0);

  const std::vector<TrialRow> rows = db().Trials(study);
  ASSERT_EQ(rows.size(), kMaxTrials);
  for (size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE("trial #" + std::to_string(rows[i].number));
    EXPECT_EQ(rows[i].number, static_cast<int64_t>(i));
    EXPECT_EQ(rows[i].state, v1::TRIAL_COMPLETED) << StateName(rows[i].state) << " " << rows[i].error;
    EXPECT_GE(rows[i].attempt, 1);
    EXPECT_EQ(rows[i].metric_rows, 1);
  }
  EXPECT_EQ(CheckAcknowledged(rows, worker_ids), kMaxTrials);
}

// ---- files that are not the coordinator's database ----

std::string Bytes(const std::string& path) { return ReadFile(path); }

void Sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

// The first column of the first row of `sql` on the database at `path`, opened read-write (a
// read-only connection would leave a WAL database's -wal and -shm files behind).
int64_t QueryInt(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  int64_t value = -1;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
      sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    value = sqlite3_column_int64(stmt, 0);
  } else {
    ADD_FAILURE() << sql << " on " << path << ": " << sqlite3_errmsg(db);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

bool Exists(const std::string& path) { return std::filesystem::exists(path); }

// At start-up the coordinator refuses a file that is not its database: a clear error on stderr naming
// the file and the problem, a non-zero exit, and the file byte for byte as it was, with no -wal, -shm or
// -journal file beside it.
TEST_F(CoordinatorFaultTest, RefusesForeignFilesAndLeavesThemUntouched) {
  // An hpo database of a newer schema: one this build made, then marked as schema 99.
  const std::string newer = File("newer.db");
  {
    const std::string port_file = File("newer.port");
    Process made(
        {BinPath("hpo-coordinator"), "--listen", "127.0.0.1:0", "--port-file", port_file, "--db", newer},
        File("newer-create.log"));
    ASSERT_TRUE(WaitFor([&] { return Exists(port_file); }, 15s)) << made.Log();
    ASSERT_EQ(Terminate(&made, 10s), 0);
    ASSERT_EQ(QueryInt(newer, "PRAGMA application_id"), 0x48504f31);
    ASSERT_EQ(QueryInt(newer, "PRAGMA user_version"), 4);
    ASSERT_NO_FATAL_FAILURE(Sql(newer, "PRAGMA user_version = 99"));
  }
  struct Case {
    std::string name;
    std::string path;
    std::string problem;  // what the error must say
  };
  std::vector<Case> cases = {
      {"random bytes", File("random.db"), "is not an SQLite file"},
      {"an SQLite header over random bytes", File("garbled.db"), "is not a readable SQLite database"},
      {"another program's SQLite database", File("foreign.db"), "holds tables that are not hpo's"},
      {"a newer hpo schema", newer, "has schema version 99, newer than this hpo's 4"},
  };
  std::mt19937_64 rng(99);
  std::string noise(64 * 1024, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  std::ofstream(cases[0].path, std::ios::binary) << noise;
  std::string garbled = noise;
  garbled.replace(0, 16, std::string("SQLite format 3\0", 16));
  std::ofstream(cases[1].path, std::ios::binary) << garbled;
  ASSERT_NO_FATAL_FAILURE(Sql(cases[2].path,
                              "CREATE TABLE recipes (id INTEGER PRIMARY KEY, name TEXT);"
                              "INSERT INTO recipes (name) VALUES ('bread'), ('soup');"));
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    for (const char* suffix : {"-wal", "-shm", "-journal"}) ASSERT_FALSE(Exists(c.path + suffix)) << suffix;
    const std::string before = Bytes(c.path);
    ASSERT_FALSE(before.empty());
    const std::string log = File("refused.log");
    std::filesystem::remove(log);
    const std::string port_file = File("refused.port");
    Process refused(
        {BinPath("hpo-coordinator"), "--listen", "127.0.0.1:0", "--port-file", port_file, "--db", c.path},
        log);
    const std::optional<int> status = refused.Wait(15s);
    ASSERT_TRUE(status.has_value()) << "the coordinator started on " << c.name;
    EXPECT_EQ(Process::ExitCode(*status), 1);
    const std::string err = ReadFile(log);
    EXPECT_NE(err.find("level=error msg=\"cannot start\""), std::string::npos) << err;
    EXPECT_NE(err.find(c.path), std::string::npos) << err;
    EXPECT_NE(err.find(c.problem), std::string::npos) << err;
    EXPECT_FALSE(Exists(port_file));
    EXPECT_TRUE(Bytes(c.path) == before) << "the file changed";
    for (const char* suffix : {"-wal", "-shm", "-journal"}) EXPECT_FALSE(Exists(c.path + suffix)) << suffix;
  }
}

}  // namespace
}  // namespace hpo::fault
