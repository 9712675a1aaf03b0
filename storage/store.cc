#include "storage/store.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "base/log.h"
#include "storage/schema.h"
#include "storage/sqlite.h"
#include "storage/wal_scan.h"

namespace hpo::storage {
namespace {

constexpr int64_t kApplicationId = 0x48504f31;  // "HPO1"

std::string PackDoubles(const std::vector<double>& values) {
  std::string bytes(values.size() * sizeof(double), '\0');
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

Result<std::vector<double>> UnpackDoubles(const std::string& bytes) {
  if (bytes.size() % sizeof(double) != 0) return DataLossError("stored candidate has a partial value");
  std::vector<double> values(bytes.size() / sizeof(double));
  if (!values.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

// Refuses a file that exists, is not empty, and does not start with SQLite's header, before SQLite
// opens it (so that nothing is written to it).
Status CheckHeader(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Ok();  // missing: it will be created
  char header[16] = {};
  in.read(header, sizeof(header));
  const std::streamsize got = in.gcount();
  if (got == 0) return Status::Ok();
  if (got < 16 || std::memcmp(header, "SQLite format 3", 16) != 0) {
    return DataLossError("database " + path + " is not an SQLite file; refusing to touch it");
  }
  return Status::Ok();
}

class Transaction {
 public:
  explicit Transaction(Db& db) : db_(db) {}
  Status Begin() { return db_.Exec("BEGIN IMMEDIATE"); }
  Status Commit() {
    HPO_RETURN_IF_ERROR(db_.Exec("COMMIT"));
    done_ = true;
    return Status::Ok();
  }
  ~Transaction() {
    // A failed COMMIT (e.g. a full disk) may have rolled back already: then there is nothing to undo.
    if (!done_ && sqlite3_get_autocommit(db_.handle()) == 0) (void)db_.Exec("ROLLBACK");
  }

 private:
  Db& db_;
  bool done_ = false;
};

// `query` on the file being opened, its error naming the file: one with SQLite's header but a damaged
// body fails here, before anything is written, and is refused as not a database.
Result<int64_t> QueryHeader(Db& db, const std::string& path, std::string_view query) {
  Result<int64_t> value = db.QueryInt(query);
  if (value.ok()) return value;
  if (value.status().code() == StatusCode::kDataLoss) {
    return DataLossError("database " + path + " is not a readable SQLite database (" +
                         value.status().message() + "); refusing to touch it");
  }
  return value.status().WithPrefix("database " + path);
}

Status Migrate(Db& db, const std::string& path) {
  HPO_ASSIGN_OR_RETURN(int64_t version, QueryHeader(db, path, "PRAGMA user_version"));
  HPO_ASSIGN_OR_RETURN(int64_t app_id, QueryHeader(db, path, "PRAGMA application_id"));
  HPO_ASSIGN_OR_RETURN(int64_t objects, QueryHeader(db, path, "SELECT COUNT(*) FROM sqlite_master"));
  if (version > Store::kSchemaVersion) {
    return FailedPreconditionError("database " + path + " has schema version " + std::to_string(version) +
                                   ", newer than this hpo's " + std::to_string(Store::kSchemaVersion) +
                                   "; upgrade hpo");
  }
  if ((version == 0 && objects > 0) || (version > 0 && app_id != kApplicationId)) {
    return FailedPreconditionError("database " + path +
                                   " holds tables that are not hpo's; refusing to touch it");
  }
  if (version == Store::kSchemaVersion) return Status::Ok();
  // A new file: before its first table, so that a deleted study's pages can go back to the file system
  // (Store::DeleteStudy). An existing file keeps its setting (only a VACUUM could change it).
  if (version == 0) HPO_RETURN_IF_ERROR(db.Exec("PRAGMA auto_vacuum = INCREMENTAL"));
  const auto migrations = Migrations();
  for (int64_t v = version; v < Store::kSchemaVersion; ++v) {
    Transaction txn(db);
    HPO_RETURN_IF_ERROR(txn.Begin());
    HPO_RETURN_IF_ERROR(db.Exec(migrations[v]).WithPrefix("migration to schema " + std::to_string(v + 1)));
    HPO_RETURN_IF_ERROR(db.Exec("PRAGMA user_version = " + std::to_string(v + 1)));
    HPO_RETURN_IF_ERROR(db.Exec("PRAGMA application_id = " + std::to_string(kApplicationId)));
    HPO_RETURN_IF_ERROR(txn.Commit());
  }
  return Status::Ok();
}

// What an operator must grant for hpo to write the database at `path`.
std::string WriteAccessHint(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return "hpo must write it and create " + path + "-wal and " + path + "-shm beside it: check the mode " +
         "and owner of the file and of its directory (" + (dir.empty() ? "." : dir) +
         "), the mount, and the free space";
}

// A write transaction at start-up (rewriting user_version with its own value), so that a database this
// process cannot write (its mode, its directory's, a read-only mount, a full disk) is refused before
// the coordinator says it listens, naming the file, rather than failing every write later.
Status ProbeWrite(Db& db, const std::string& path) {
  Status status = [&]() -> Status {
    HPO_ASSIGN_OR_RETURN(int64_t version, db.QueryInt("PRAGMA user_version"));
    Transaction txn(db);
    HPO_RETURN_IF_ERROR(txn.Begin());
    HPO_RETURN_IF_ERROR(db.Exec("PRAGMA user_version = " + std::to_string(version)));
    return txn.Commit();
  }();
  if (status.ok()) return status;
  return Status(status.code(), "database " + path + " cannot be written (" + status.message() + "); " +
                                   WriteAccessHint(path));
}

// Logs what SQLite's WAL recovery dropped: commits of this generation of the log, read by ScanWal
// before the database was opened, that lie past the frames SQLite kept. SQLite itself says only how many
// frames it recovered.
void ReportWalRecovery(Db& db, const std::string& path, const WalFrames& wal) {
  if (!wal.present || wal.commits.empty()) return;
  // A passive checkpoint runs recovery when it is due and answers (busy, frames in the log, frames
  // checkpointed); it writes only what is already committed.
  Result<Stmt> stmt = db.Prepare("PRAGMA wal_checkpoint(PASSIVE)");
  if (!stmt.ok()) return;
  Result<bool> row = stmt->Step();
  if (!row.ok() || !*row) return;
  const int64_t recovered = stmt->Int(1);
  const int64_t dropped = CommitsAfter(wal, std::max<int64_t>(recovered, 0));
  if (dropped == 0) return;
  log::Error("wal recovery dropped committed transactions",
             {{"path", path + "-wal"},
              {"frames_recovered", recovered},
              {"frames_in_log", wal.current},
              {"commits_dropped", dropped},
              {"hint",
               "a frame of the write-ahead log is damaged; the transactions after it are gone (only the "
               "last may have been in flight at a crash); restore the file from a backup to get them back"}});
}

void SetParam(v1::ParamValue& value, const Stmt& row) {
  if (!row.IsNull(1)) {
    value.set_double_value(row.Double(1));
  } else if (!row.IsNull(2)) {
    value.set_int_value(row.Int(2));
  } else {
    value.set_string_value(row.Text(3));
  }
}

}  // namespace

Store::Store(std::unique_ptr<Db> db) : db_(std::move(db)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  HPO_RETURN_IF_ERROR(CheckHeader(path));
  // Read before SQLite recovers the WAL (it may drop frames then, and rewrites the log later).
  const WalFrames wal = ScanWal(path + "-wal");
  HPO_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(path));
  sqlite3_busy_timeout(db->handle(), 10'000);
  // SQLite opens a file it may not write read-only without a word; every write would fail later.
  if (sqlite3_db_readonly(db->handle(), "main") == 1) {
    return Status(StatusCode::kPermissionDenied,
                  "database " + path + " is read-only to this process; " + WriteAccessHint(path));
  }
  ReportWalRecovery(*db, path, wal);
  if (Status migrated = Migrate(*db, path); !migrated.ok()) {
    // Unavailable: SQLite could not read or write the file or its WAL beside it (e.g. a read-only directory).
    if (migrated.code() != StatusCode::kUnavailable) return migrated.WithPrefix("open");
    return Status(migrated.code(), "open: " + migrated.message() + "; " + WriteAccessHint(path));
  }
  HPO_RETURN_IF_ERROR(
      db->Exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON"));
  HPO_ASSIGN_OR_RETURN(int64_t wal_mode,
                       db->QueryInt("SELECT journal_mode = 'wal' FROM pragma_journal_mode"));
  if (wal_mode != 1) return UnavailableError("database " + path + " cannot run in WAL mode");
  HPO_RETURN_IF_ERROR(ProbeWrite(*db, path));
  HPO_ASSIGN_OR_RETURN(int64_t last_change, db->QueryInt("SELECT COALESCE(MAX(change_seq), 0) FROM trials"));
  auto store = std::unique_ptr<Store>(new Store(std::move(db)));
  store->change_seq_ = static_cast<uint64_t>(last_change);
  return store;
}

int Store::schema_version() {
  std::lock_guard lock(mu_);
  auto version = db_->QueryInt("PRAGMA user_version");
  return version.ok() ? static_cast<int>(*version) : -1;
}

Result<uint64_t> Store::CreateStudy(const v1::StudySpec& spec, int64_t created_ms,
                                    const std::string& optimizer_state) {
  std::lock_guard lock(mu_);
  HPO_ASSIGN_OR_RETURN(Stmt stmt,
                       db_->Prepare("INSERT INTO studies (name, spec, state, created_ms, optimizer_state) "
                                    "VALUES (?, ?, ?, ?, ?)"));
  stmt.Bind(1, spec.name())
      .BindBlob(2, spec.SerializeAsString())
      .Bind(3, int64_t{v1::STUDY_RUNNING})
      .Bind(4, created_ms)
      .BindBlob(5, optimizer_state);
  HPO_RETURN_IF_ERROR(stmt.Run());
  return static_cast<uint64_t>(db_->LastInsertRowId());
}

Result<StudyRecord> Store::ReadStudy(uint64_t study_id) {
  HPO_ASSIGN_OR_RETURN(Stmt stmt,
                       db_->Prepare("SELECT spec, state, created_ms, finished_ms, optimizer_state, "
                                    "error FROM studies WHERE id = ?"));
  stmt.Bind(1, static_cast<int64_t>(study_id));
  HPO_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return NotFoundError("study " + std::to_string(study_id) + " not found");
  StudyRecord record;
  v1::Study& study = record.study;
  study.set_id(study_id);
  if (!study.mutable_spec()->ParseFromString(stmt.Blob(0))) {
    return DataLossError("study " + std::to_string(study_id) + " has an unreadable spec");
  }
  study.set_state(static_cast<v1::StudyState>(stmt.Int(1)));
  study.set_created_ms(stmt.Int(2));
  study.set_finished_ms(stmt.Int(3));
  record.optimizer_state = stmt.Blob(4);
  study.set_error(stmt.Text(5));

  // Counts, the first start and the run time of the ended trials, by state.
  HPO_ASSIGN_OR_RETURN(
      Stmt counts,
      db_->Prepare(
          "SELECT state, COUNT(*), COALESCE(MIN(CASE WHEN started_ms > 0 THEN started_ms END), 0), "
          "COALESCE(SUM(CASE WHEN started_ms > 0 AND finished_ms >= started_ms "
          "THEN finished_ms - started_ms ELSE 0 END), 0) FROM trials WHERE study_id = ? GROUP BY state"));
  counts.Bind(1, static_cast<int64_t>(study_id));
  for (;;) {
    HPO_ASSIGN_OR_RETURN(bool more, counts.Step());
    if (!more) break;
    const auto n = static_cast<uint32_t>(counts.Int(1));
    if (const int64_t first = counts.Int(2);
        first > 0 && (study.first_trial_started_ms() == 0 || first < study.first_trial_started_ms())) {
      study.set_first_trial_started_ms(first);
    }
    study.set_compute_ms(study.compute_ms() + counts.Int(3));
    v1::TrialCounts* c = study.mutable_counts();
    switch (counts.Int(0)) {
      case v1::TRIAL_PENDING:
        c->set_pending(n);
        break;
      case v1::TRIAL_RUNNING:
        c->set_running(n);
        break;
      case v1::TRIAL_COMPLETED:
        c->set_completed(n);
        break;
      case v1::TRIAL_FAILED:
        c->set_failed(n);
        break;
      case v1::TRIAL_CANCELLED:
        c->set_cancelled(n);
        break;
      case v1::TRIAL_PRUNED:
        c->set_pruned(n);
        break;
      default:
        break;
    }
  }
  return record;
}

Result<StudyRecord> Store::GetStudy(uint64_t study_id) {
  std::lock_guard lock(mu_);
  return ReadStudy(study_id);
}

Result<std::vector<StudyRecord>> Store::ListStudies() {
  std::lock_guard lock(mu_);
  HPO_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("SELECT id FROM studies ORDER BY id"));
  std::vector<StudyRecord> studies;
  for (;;) {
    HPO_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    HPO_ASSIGN_OR_RETURN(StudyRecord record, ReadStudy(static_cast<uint64_t>(stmt.Int(0))));
    studies.push_back(std::move(record));
  }
  return studies;
}

Result<uint32_t> Store::DeleteStudy(uint64_t study_id) {
  std::lock_guard lock(mu_);
  const auto id = static_cast<int64_t>(study_id);
  int64_t trials = 0;
  {
    Transaction txn(*db_);
    HPO_RETURN_IF_ERROR(txn.Begin());
    HPO_ASSIGN_OR_RETURN(Stmt exists, db_->Prepare("SELECT COUNT(*) FROM trials WHERE study_id = ?"));
    HPO_ASSIGN_OR_RETURN(bool row, exists.Bind(1, id).Step());
    if (row) trials = exists.Int(0);
    // Children first: the foreign keys hold at every statement.
    static constexpr const char* kDeletes[] = {
        "DELETE FROM trial_params WHERE trial_id IN (SELECT id FROM trials WHERE study_id = ?)",
        "DELETE FROM trial_metrics WHERE trial_id IN (SELECT id FROM trials WHERE study_id = ?)",
        "DELETE FROM trials WHERE study_id = ?",
        "DELETE FROM studies WHERE id = ?",
    };
    for (const char* sql : kDeletes) {
      HPO_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare(sql));
      HPO_RETURN_IF_ERROR(stmt.Bind(1, id).Run());
    }
    if (sqlite3_changes(db_->handle()) != 1) {
      return NotFoundError("study " + std::to_string(study_id) +
                           " not found");  // rolled back: nothing changed
    }
    HPO_RETURN_IF_ERROR(txn.Commit());
  }
  // Committed. Handing the freed pages back is housekeeping: a failure leaves them on the free list.
  if (Status vacuumed = db_->Exec("PRAGMA incremental_vacuum"); !vacuumed.ok()) {
    log::Warn("incremental vacuum after a study's deletion failed",
              {{"study_id", study_id}, {"error", vacuumed.ToString()}});
  }
  return static_cast<uint32_t>(trials);
}

Status Store::WriteTrial(TrialRecord& record) {
  v1::Trial& t = record.trial;
  // A trial with an id is updated, or inserted under that id when it has no row yet (the coordinator
  // hands out ids before its group commits); one without is inserted under a fresh id.
  bool insert = t.id() == 0;
  if (!insert) {
    HPO_ASSIGN_OR_RETURN(Stmt exists, db_->Prepare("SELECT 1 FROM trials WHERE id = ?"));
    exists.Bind(1, static_cast<int64_t>(t.id()));
    HPO_ASSIGN_OR_RETURN(bool found, exists.Step());
    insert = !found;
  }
  HPO_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare(
          insert
              ? "INSERT INTO trials (study_id, number, state, worker_id, device, attempt, created_ms, "
                "started_ms, finished_ms, error, seed, lease_token, lease_expires_ms, candidate_id, "
                "candidate, progress, history, change_seq, id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
              : "UPDATE trials SET study_id=?, number=?, state=?, worker_id=?, device=?, attempt=?, "
                "created_ms=?, started_ms=?, finished_ms=?, error=?, seed=?, lease_token=?, "
                "lease_expires_ms=?, candidate_id=?, candidate=?, progress=?, history=?, change_seq=? "
                "WHERE id=?"));
  const uint64_t change_seq = ++change_seq_;
  stmt.Bind(1, static_cast<int64_t>(t.study_id()))
      .Bind(2, int64_t{t.number()})
      .Bind(3, int64_t{t.state()})
      .Bind(4, static_cast<int64_t>(t.worker_id()))
      .Bind(5, t.device())
      .Bind(6, int64_t{t.attempt()})
      .Bind(7, t.created_ms())
      .Bind(8, t.started_ms())
      .Bind(9, t.finished_ms())
      .Bind(10, t.error())
      .Bind(11, static_cast<int64_t>(t.seed()))
      .Bind(12, record.lease_token)
      .Bind(13, record.lease_expires_ms)
      .Bind(14, static_cast<int64_t>(record.candidate_id))
      .BindBlob(15, PackDoubles(record.x))
      .BindBlob(16, t.has_progress() ? t.progress().SerializeAsString() : std::string())
      .BindBlob(17, record.history.steps().empty() ? std::string() : record.history.SerializeAsString())
      .Bind(18, static_cast<int64_t>(change_seq));
  if (t.id() != 0) {
    stmt.Bind(19, static_cast<int64_t>(t.id()));
  } else {
    stmt.BindNull(19);
  }
  HPO_RETURN_IF_ERROR(stmt.Run());
  record.change_seq = change_seq;
  if (t.id() == 0) t.set_id(static_cast<uint64_t>(db_->LastInsertRowId()));
  const auto id = static_cast<int64_t>(t.id());

  HPO_ASSIGN_OR_RETURN(Stmt clear_params, db_->Prepare("DELETE FROM trial_params WHERE trial_id = ?"));
  HPO_RETURN_IF_ERROR(clear_params.Bind(1, id).Run());
  HPO_ASSIGN_OR_RETURN(Stmt param, db_->Prepare("INSERT INTO trial_params VALUES (?, ?, ?, ?, ?)"));
  for (const auto& [name, value] : t.params()) {
    param.Reset();
    param.Bind(1, id).Bind(2, name).BindNull(3).BindNull(4).BindNull(5);
    switch (value.kind_case()) {
      case v1::ParamValue::kDoubleValue:
        param.Bind(3, value.double_value());
        break;
      case v1::ParamValue::kIntValue:
        param.Bind(4, value.int_value());
        break;
      default:
        param.Bind(5, value.string_value());
        break;
    }
    HPO_RETURN_IF_ERROR(param.Run());
  }
  HPO_ASSIGN_OR_RETURN(Stmt clear_metrics, db_->Prepare("DELETE FROM trial_metrics WHERE trial_id = ?"));
  HPO_RETURN_IF_ERROR(clear_metrics.Bind(1, id).Run());
  HPO_ASSIGN_OR_RETURN(Stmt metric, db_->Prepare("INSERT INTO trial_metrics VALUES (?, ?, ?)"));
  for (const auto& [name, value] : t.metrics()) {
    metric.Reset();
    HPO_RETURN_IF_ERROR(metric.Bind(1, id).Bind(2, name).Bind(3, value).Run());
  }
  return Status::Ok();
}

Status Store::Apply(Changes& changes) {
  std::lock_guard lock(mu_);
  // Ids handed to new trials, and change sequences, are kept only if the transaction commits: a reader's
  // cursor never covers a sequence that a later write could take.
  std::vector<TrialRecord*> inserted;
  const uint64_t change_seq_before = change_seq_;
  Transaction txn(*db_);
  HPO_RETURN_IF_ERROR(txn.Begin());
  Status status = [&]() -> Status {
    for (TrialRecord* record : changes.trials) {
      if (record->trial.id() == 0) inserted.push_back(record);
      HPO_RETURN_IF_ERROR(WriteTrial(*record));
    }
    for (const StudyChange& change : changes.studies) {
      HPO_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("UPDATE studies SET state = COALESCE(?, state), "
                                                   "finished_ms = COALESCE(?, finished_ms), "
                                                   "optimizer_state = COALESCE(?, optimizer_state), "
                                                   "error = COALESCE(?, error) WHERE id = ?"));
      if (change.state)
        stmt.Bind(1, int64_t{*change.state});
      else
        stmt.BindNull(1);
      if (change.finished_ms)
        stmt.Bind(2, *change.finished_ms);
      else
        stmt.BindNull(2);
      if (change.optimizer_state)
        stmt.BindBlob(3, *change.optimizer_state);
      else
        stmt.BindNull(3);
      if (change.error)
        stmt.Bind(4, *change.error);
      else
        stmt.BindNull(4);
      stmt.Bind(5, static_cast<int64_t>(change.study_id));
      HPO_RETURN_IF_ERROR(stmt.Run());
      if (sqlite3_changes(db_->handle()) != 1) {
        return NotFoundError("study " + std::to_string(change.study_id) + " not found");
      }
    }
    return txn.Commit();
  }();
  if (!status.ok()) {
    for (TrialRecord* record : inserted) record->trial.set_id(0);
    change_seq_ = change_seq_before;
  }
  return status;
}

Result<std::vector<TrialRecord>> Store::ReadTrials(const char* where, const std::vector<int64_t>& keys) {
  std::string sql =
      "SELECT id, study_id, number, state, worker_id, device, attempt, created_ms, started_ms, finished_ms, "
      "error, seed, lease_token, lease_expires_ms, candidate_id, candidate, progress, history, change_seq "
      "FROM trials WHERE ";
  sql += where;
  sql += " ORDER BY number";
  const auto bind_keys = [&keys](Stmt& stmt) {
    for (size_t i = 0; i < keys.size(); ++i) stmt.Bind(static_cast<int>(i + 1), keys[i]);
  };
  HPO_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare(sql));
  bind_keys(stmt);
  std::vector<TrialRecord> records;
  std::map<int64_t, size_t> index;
  for (;;) {
    HPO_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    TrialRecord r;
    v1::Trial& t = r.trial;
    t.set_id(static_cast<uint64_t>(stmt.Int(0)));
    t.set_study_id(static_cast<uint64_t>(stmt.Int(1)));
    t.set_number(static_cast<uint32_t>(stmt.Int(2)));
    t.set_state(static_cast<v1::TrialState>(stmt.Int(3)));
    t.set_worker_id(static_cast<uint64_t>(stmt.Int(4)));
    t.set_device(stmt.Text(5));
    t.set_attempt(static_cast<uint32_t>(stmt.Int(6)));
    t.set_created_ms(stmt.Int(7));
    t.set_started_ms(stmt.Int(8));
    t.set_finished_ms(stmt.Int(9));
    t.set_error(stmt.Text(10));
    t.set_seed(static_cast<uint64_t>(stmt.Int(11)));
    r.lease_token = stmt.Text(12);
    r.lease_expires_ms = stmt.Int(13);
    r.candidate_id = static_cast<uint64_t>(stmt.Int(14));
    HPO_ASSIGN_OR_RETURN(r.x, UnpackDoubles(stmt.Blob(15)));
    if (const std::string progress = stmt.Blob(16); !progress.empty()) {
      if (!t.mutable_progress()->ParseFromString(progress)) {
        return DataLossError("trial " + std::to_string(t.id()) + " has an unreadable progress");
      }
    }
    if (const std::string history = stmt.Blob(17); !history.empty()) {
      if (!r.history.ParseFromString(history)) {
        return DataLossError("trial " + std::to_string(t.id()) + " has an unreadable step history");
      }
    }
    r.change_seq = static_cast<uint64_t>(stmt.Int(18));
    index[stmt.Int(0)] = records.size();
    records.push_back(std::move(r));
  }
  if (records.empty()) return records;
  // Parameters and metrics of the same trials, in two queries rather than two per trial.
  const std::string trial_filter = std::string("trial_id IN (SELECT id FROM trials WHERE ") + where + ")";
  HPO_ASSIGN_OR_RETURN(Stmt params, db_->Prepare("SELECT trial_id, real_value, int_value, text_value, name "
                                                 "FROM trial_params WHERE " +
                                                 trial_filter));
  bind_keys(params);
  for (;;) {
    HPO_ASSIGN_OR_RETURN(bool row, params.Step());
    if (!row) break;
    auto it = index.find(params.Int(0));
    if (it == index.end()) continue;
    v1::ParamValue& value = (*records[it->second].trial.mutable_params())[params.Text(4)];
    // SetParam reads columns 1..3.
    SetParam(value, params);
  }
  HPO_ASSIGN_OR_RETURN(Stmt metrics,
                       db_->Prepare("SELECT trial_id, name, value FROM trial_metrics WHERE " + trial_filter));
  bind_keys(metrics);
  for (;;) {
    HPO_ASSIGN_OR_RETURN(bool row, metrics.Step());
    if (!row) break;
    auto it = index.find(metrics.Int(0));
    if (it == index.end()) continue;
    (*records[it->second].trial.mutable_metrics())[metrics.Text(1)] = metrics.Double(2);
  }
  return records;
}

Result<TrialRecord> Store::GetTrial(uint64_t trial_id) {
  std::lock_guard lock(mu_);
  HPO_ASSIGN_OR_RETURN(std::vector<TrialRecord> records,
                       ReadTrials("id = ?", {static_cast<int64_t>(trial_id)}));
  if (records.empty()) return NotFoundError("trial " + std::to_string(trial_id) + " not found");
  return std::move(records.front());
}

Result<std::vector<TrialRecord>> Store::ListTrials(uint64_t study_id) {
  std::lock_guard lock(mu_);
  HPO_ASSIGN_OR_RETURN(int64_t exists,
                       db_->QueryInt("SELECT COUNT(*) FROM studies WHERE id = " + std::to_string(study_id)));
  if (exists == 0) return NotFoundError("study " + std::to_string(study_id) + " not found");
  return ReadTrials("study_id = ?", {static_cast<int64_t>(study_id)});
}

Result<TrialChanges> Store::ListTrialsSince(uint64_t study_id, uint64_t since) {
  std::lock_guard lock(mu_);
  HPO_ASSIGN_OR_RETURN(int64_t exists,
                       db_->QueryInt("SELECT COUNT(*) FROM studies WHERE id = " + std::to_string(study_id)));
  if (exists == 0) return NotFoundError("study " + std::to_string(study_id) + " not found");
  TrialChanges changes;
  // Under mu_, no write is in flight: every sequence handed out so far is committed or rolled back.
  changes.cursor = change_seq_;
  // A cursor from the future (from another database, or from before a restore from backup) could hide
  // trials written since: answer with them all.
  if (since > change_seq_) since = 0;
  HPO_ASSIGN_OR_RETURN(changes.trials,
                       ReadTrials("study_id = ? AND change_seq > ?",
                                  {static_cast<int64_t>(study_id), static_cast<int64_t>(since)}));
  return changes;
}

Result<uint64_t> Store::RegisterWorker(const std::string& name, uint32_t slots, const std::string& device,
                                       int64_t now_ms, const std::map<std::string, std::string>& labels) {
  std::lock_guard lock(mu_);
  Transaction txn(*db_);
  HPO_RETURN_IF_ERROR(txn.Begin());
  HPO_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("INSERT INTO workers (name, slots, device, registered_ms) "
                                               "VALUES (?, ?, ?, ?)"));
  HPO_RETURN_IF_ERROR(stmt.Bind(1, name).Bind(2, int64_t{slots}).Bind(3, device).Bind(4, now_ms).Run());
  const int64_t id = db_->LastInsertRowId();
  HPO_ASSIGN_OR_RETURN(Stmt label, db_->Prepare("INSERT INTO worker_labels (worker_id, name, value) "
                                                "VALUES (?, ?, ?)"));
  for (const auto& [key, value] : labels) {
    label.Reset();
    HPO_RETURN_IF_ERROR(label.Bind(1, id).Bind(2, key).Bind(3, value).Run());
  }
  HPO_RETURN_IF_ERROR(txn.Commit());
  return static_cast<uint64_t>(id);
}

Result<std::vector<WorkerRecord>> Store::ListWorkers() {
  std::lock_guard lock(mu_);
  HPO_ASSIGN_OR_RETURN(
      Stmt stmt, db_->Prepare("SELECT id, name, slots, device, registered_ms FROM workers ORDER BY id"));
  std::vector<WorkerRecord> workers;
  std::map<int64_t, size_t> index;
  for (;;) {
    HPO_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    WorkerRecord w;
    w.id = static_cast<uint64_t>(stmt.Int(0));
    w.name = stmt.Text(1);
    w.slots = static_cast<uint32_t>(stmt.Int(2));
    w.device = stmt.Text(3);
    w.registered_ms = stmt.Int(4);
    index[stmt.Int(0)] = workers.size();
    workers.push_back(std::move(w));
  }
  HPO_ASSIGN_OR_RETURN(Stmt labels, db_->Prepare("SELECT worker_id, name, value FROM worker_labels"));
  for (;;) {
    HPO_ASSIGN_OR_RETURN(bool row, labels.Step());
    if (!row) break;
    auto it = index.find(labels.Int(0));
    if (it != index.end()) workers[it->second].labels[labels.Text(1)] = labels.Text(2);
  }
  return workers;
}

Result<uint64_t> Store::LastTrialId() {
  std::lock_guard lock(mu_);
  // The coordinator numbers trials itself: a deleted study's last ids must not come back. sqlite_sequence
  // remembers the largest id AUTOINCREMENT handed out or saw inserted.
  HPO_ASSIGN_OR_RETURN(int64_t last,
                       db_->QueryInt("SELECT MAX(COALESCE((SELECT MAX(id) FROM trials), 0), COALESCE((SELECT "
                                     "seq FROM sqlite_sequence WHERE name = 'trials'), 0))"));
  return static_cast<uint64_t>(last);
}

Result<std::vector<uint64_t>> Store::WorkerIds() {
  std::lock_guard lock(mu_);
  HPO_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("SELECT id FROM workers ORDER BY id"));
  std::vector<uint64_t> ids;
  for (;;) {
    HPO_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    ids.push_back(static_cast<uint64_t>(stmt.Int(0)));
  }
  return ids;
}

}  // namespace hpo::storage
