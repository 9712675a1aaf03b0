#include "tests/fault/harness.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "hpo/v1/service.grpc.pb.h"

#ifndef HPO_BIN_DIR
#error "HPO_BIN_DIR (the build's bin folder) must be defined"
#endif

namespace hpo::fault {
namespace {

using std::chrono::milliseconds;

// The programs under test: the build's, or those of $HPO_FAULT_BIN_DIR (e.g. an installed or a modified
// build).
std::string BinDir() {
  const char* dir = std::getenv("HPO_FAULT_BIN_DIR");
  return dir != nullptr && dir[0] != '\0' ? dir : HPO_BIN_DIR;
}

// A read-only connection for one query; gtest failures on errors.
class Query {
 public:
  Query(const std::string& path, const char* sql) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "open " << path << ": " << sqlite3_errmsg(db_);
      return;
    }
    sqlite3_busy_timeout(db_, 5'000);
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "prepare " << sql << ": " << sqlite3_errmsg(db_);
    }
  }
  ~Query() {
    sqlite3_finalize(stmt_);
    sqlite3_close(db_);
  }
  Query& Bind(int index, int64_t value) {
    if (stmt_ != nullptr) sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  Query& Bind(int index, const std::string& value) {
    if (stmt_ != nullptr) sqlite3_bind_text(stmt_, index, value.c_str(), -1, SQLITE_TRANSIENT);
    return *this;
  }
  // Steps to the next row; false at the end or on error (reported).
  bool Next() {
    if (stmt_ == nullptr) return false;
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) ADD_FAILURE() << "step: " << sqlite3_errmsg(db_);
    return false;
  }
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  double Double(int column) const { return sqlite3_column_double(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string Text(int column) const {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return text != nullptr ? std::string(text) : std::string();
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// The stand-in trainer (see harness.h).
std::string TrainerScript(const std::string& pid_file) {
  return "#!/bin/sh\n"
         "echo $$ >> '" +
         pid_file +
         "'\n"
         "lr=0.5\n"
         "for arg in \"$@\"; do\n"
         "  case \"$arg\" in --lr=*) lr=${arg#--lr=} ;; esac\n"
         "done\n"
         "sleep \"${HPO_FAULT_TRIAL_SLEEP:-0}\"\n"
         "echo \"{\\\"loss\\\": $lr, \\\"device\\\": \\\"fake trainer\\\"}\"\n";
}

}  // namespace

std::string BinPath(const std::string& name) { return BinDir() + "/" + name; }

std::vector<TrialRow> DbReader::Trials(uint64_t study_id) const {
  Query q(path_,
          "SELECT t.id, t.study_id, t.number, t.state, t.attempt, t.worker_id, t.lease_token, t.error, "
          "t.device, (SELECT COUNT(*) FROM trial_metrics m WHERE m.trial_id = t.id), "
          "(SELECT m.value FROM trial_metrics m WHERE m.trial_id = t.id AND m.name = 'loss') "
          "FROM trials t WHERE t.study_id = ? ORDER BY t.number");
  q.Bind(1, static_cast<int64_t>(study_id));
  std::vector<TrialRow> rows;
  while (q.Next()) {
    TrialRow row;
    row.id = q.Int(0);
    row.study_id = q.Int(1);
    row.number = q.Int(2);
    row.state = static_cast<v1::TrialState>(q.Int(3));
    row.attempt = q.Int(4);
    row.worker_id = q.Int(5);
    row.lease_token = q.Text(6);
    row.error = q.Text(7);
    row.device = q.Text(8);
    row.metric_rows = q.Int(9);
    if (!q.IsNull(10)) row.loss = q.Double(10);
    rows.push_back(std::move(row));
  }
  return rows;
}

v1::StudyState DbReader::StudyState(uint64_t study_id) const {
  Query q(path_, "SELECT state FROM studies WHERE id = ?");
  q.Bind(1, static_cast<int64_t>(study_id));
  return q.Next() ? static_cast<v1::StudyState>(q.Int(0)) : v1::STUDY_STATE_UNSPECIFIED;
}

int64_t DbReader::WorkerId(const std::string& name) const {
  Query q(path_, "SELECT MAX(id) FROM workers WHERE name = ?");
  q.Bind(1, name);
  return q.Next() && !q.IsNull(0) ? q.Int(0) : 0;
}

int64_t DbReader::Count(uint64_t study_id, v1::TrialState state) const {
  Query q(path_, "SELECT COUNT(*) FROM trials WHERE study_id = ? AND state = ?");
  q.Bind(1, static_cast<int64_t>(study_id)).Bind(2, int64_t{state});
  return q.Next() ? q.Int(0) : -1;
}

WorkerLog ParseWorkerLog(const std::string& text) {
  // The worker's own lines (worker/worker.cc): one per finished trial run, and the closing summary.
  static const std::regex kCompleted(
      R"(^worker \d+: trial (\d+) \(study \d+ #\d+\) completed in [0-9.]+ s$)");
  static const std::regex kLeaseLost(
      R"(^worker \d+: trial (\d+) \(study \d+ #\d+\) .*\(lease lost: result dropped\)$)");
  static const std::regex kStopped(
      R"(stopped \((\d+) completed, (\d+) failed, (\d+) stopped, (\d+) released, (\d+) lost\)$)");
  WorkerLog log;
  std::istringstream in(text);
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_match(line, m, kCompleted)) {
      ++log.acknowledged[std::stoull(m[1])];
    } else if (std::regex_match(line, m, kLeaseLost)) {
      ++log.lease_lost[std::stoull(m[1])];
    } else if (std::regex_search(line, m, kStopped)) {
      log.stopped = true;
      log.completed = std::stoull(m[1]);
      log.failed = std::stoull(m[2]);
      log.stopped_trials = std::stoull(m[3]);
      log.released = std::stoull(m[4]);
      log.lost = std::stoull(m[5]);
    }
  }
  return log;
}

std::string StudyJson(uint32_t max_trials, uint32_t max_parallel, uint32_t max_attempts,
                      uint32_t lease_seconds, const std::string& algorithm) {
  std::ostringstream json;
  json
      << R"({"name": "fault", "parameters": [{"name": "lr", "float": {"low": 0.0001, "high": 1, "log": true}}],)"
      << R"( "objectives": [{"name": "loss", "direction": "MINIMIZE"}],)"
      << R"( "budget": {"max_trials": )" << max_trials << R"(, "max_parallel": )" << max_parallel
      << R"(, "max_attempts": )" << max_attempts << R"(, "lease_seconds": )" << lease_seconds << "},"
      << R"( "task": {"builtin": {}}, "seed": 11)";
  if (!algorithm.empty()) json << R"(, "algorithm": )" << algorithm;
  json << "}";
  return json.str();
}

void FaultTest::SetUp() {
  ASSERT_FALSE(dir_.path().empty());
  for (const char* bin : {"hpo-coordinator", "hpo-worker"}) {
    ASSERT_EQ(access(BinPath(bin).c_str(), X_OK), 0) << BinPath(bin) << " is not built";
  }
  const std::string trainer = dir_.File("hpo-train");
  std::ofstream(trainer) << TrainerScript(dir_.File("trainer.pids"));
  ASSERT_EQ(chmod(trainer.c_str(), 0755), 0);
}

void FaultTest::TearDown() {
  // The workers and the coordinator die with their Process objects; the trainers of killed workers may
  // still be sleeping.
  workers_.clear();
  coordinator_.reset();
  KillTrainers();
  if (HasFailure()) {
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
      if (entry.path().extension() != ".log") continue;
      std::string text = ReadFile(entry.path().string());
      if (text.size() > 6000) text = "...\n" + text.substr(text.size() - 6000);
      std::cerr << "==== " << entry.path().filename().string() << "\n" << text << "\n";
    }
  }
}

void FaultTest::StartCoordinator() {
  ASSERT_TRUE(coordinator_ == nullptr || !coordinator_->running()) << "a coordinator is running";
  const std::string port_file = dir_.File("port");
  std::filesystem::remove(port_file);
  coordinator_ = std::make_unique<Process>(
      std::vector<std::string>{BinPath("hpo-coordinator"), "--listen", "127.0.0.1:" + std::to_string(port_),
                               "--port-file", port_file, "--db", db_path(), "--heartbeat-ms",
                               std::to_string(kHeartbeatMs)},
      coordinator_log());
  ASSERT_TRUE(coordinator_->running()) << coordinator_->error();
  const bool up = WaitFor(
      [&] { return std::filesystem::exists(port_file) || coordinator_->Wait(milliseconds(0)).has_value(); },
      milliseconds(15'000));
  ASSERT_TRUE(up && coordinator_->running()) << "the coordinator did not come up:\n" << coordinator_->Log();
  const int port = std::stoi(ReadFile(port_file));
  ASSERT_TRUE(port_ == 0 || port == port_) << "restarted on port " << port << ", not " << port_;
  port_ = port;
}

void FaultTest::KillCoordinator() {
  ASSERT_NE(coordinator_, nullptr);
  ASSERT_TRUE(coordinator_->Signal(SIGKILL));
  const std::optional<int> status = coordinator_->Wait(milliseconds(10'000));
  ASSERT_TRUE(status.has_value());
  ASSERT_EQ(Process::ExitCode(*status), -SIGKILL);
}

Process* FaultTest::StartWorker(const std::string& name, uint32_t slots, double trial_sleep_s) {
  std::ostringstream sleep;
  sleep << trial_sleep_s;
  auto worker = std::make_unique<Process>(
      std::vector<std::string>{BinPath("hpo-worker"), "--coordinator", address(), "--name", name, "--slots",
                               std::to_string(slots), "--threads", "1", "--wait-ms", "1000", "--device",
                               "fault test", "--train-binary", dir_.File("hpo-train")},
      dir_.File("worker-" + name + ".log"), std::vector<std::string>{"HPO_FAULT_TRIAL_SLEEP=" + sleep.str()});
  EXPECT_TRUE(worker->running()) << worker->error();
  Process* raw = worker.get();
  workers_[name] = std::move(worker);
  return raw;
}

void FaultTest::CreateStudy(const std::string& json, uint64_t* study_id) {
  v1::CreateStudyRequest request;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, request.mutable_spec()).ok()) << json;
  auto stub = v1::StudyService::NewStub(grpc::CreateChannel(address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::Study study;
  const grpc::Status status = stub->CreateStudy(&context, request, &study);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_NE(study.id(), 0u);
  *study_id = study.id();
}

v1::StudyState FaultTest::WaitStudyDone(uint64_t study_id, std::chrono::seconds limit) {
  v1::StudyState state = v1::STUDY_STATE_UNSPECIFIED;
  WaitFor(
      [&] {
        state = db_.StudyState(study_id);
        return state != v1::STUDY_RUNNING;
      },
      limit);
  return state;
}

std::optional<TrialRow> FaultTest::WaitRunning(uint64_t study_id, int64_t number, int64_t worker_id,
                                               int64_t attempt, milliseconds limit) {
  std::optional<TrialRow> found;
  WaitFor(
      [&] {
        for (const TrialRow& row : db_.Trials(study_id)) {
          if (row.number == number && row.state == v1::TRIAL_RUNNING && row.worker_id == worker_id &&
              row.attempt == attempt) {
            found = row;
          }
        }
        return found.has_value();
      },
      limit);
  return found;
}

int64_t FaultTest::WaitWorkerId(const std::string& name, milliseconds limit) {
  int64_t id = 0;
  WaitFor(
      [&] {
        id = db_.WorkerId(name);
        return id != 0;
      },
      limit);
  return id;
}

int FaultTest::Terminate(Process* process, milliseconds limit) {
  process->Signal(SIGTERM);
  const std::optional<int> status = process->Wait(limit);
  return status.has_value() ? Process::ExitCode(*status) : -1;
}

std::vector<pid_t> FaultTest::TrainerPids() const {
  std::vector<pid_t> pids;
  std::istringstream in(ReadFile(dir_.File("trainer.pids")));
  for (pid_t pid = 0; in >> pid;) pids.push_back(pid);
  return pids;
}

void FaultTest::KillTrainers() const {
  for (const pid_t pid : TrainerPids()) {
    // A trainer leads its process group. Its pid may only be reused once the group is gone; a live
    // process under that pid that is not our trainer is left alone.
    const std::string cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
    if (!cmdline.empty() && cmdline.find(dir_.path()) == std::string::npos) continue;
    kill(-pid, SIGKILL);
  }
}

}  // namespace hpo::fault
