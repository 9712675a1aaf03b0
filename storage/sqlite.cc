#include "storage/sqlite.h"

#include <mutex>

#include "base/log.h"

namespace hpo::storage {
namespace {

// SQLite's log callback: may run on any thread, with SQLite's locks held, so it must not call SQLite.
void SqliteLog(void*, int code, const char* message) {
  log::Level level = log::Level::kError;
  switch (code & 0xff) {
    case SQLITE_NOTICE:  // e.g. "recovered 12 frames from WAL file ..."
      level = log::Level::kInfo;
      break;
    case SQLITE_WARNING:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      level = log::Level::kWarn;
      break;
    case SQLITE_CONSTRAINT:  // answered FAILED_PRECONDITION by the caller
    case SQLITE_SCHEMA:      // a statement re-prepared after a migration
      level = log::Level::kDebug;
      break;
    default:
      break;
  }
  if (!log::Enabled(level)) return;
  log::Write(level, "sqlite log",
             {{"code", code}, {"kind", sqlite3_errstr(code)}, {"detail", message != nullptr ? message : ""}});
}

}  // namespace

bool InitSqlite() {
  static std::once_flag once;
  static bool routed = false;
  std::call_once(once, [] {
    routed = sqlite3_config(SQLITE_CONFIG_LOG, SqliteLog, nullptr) == SQLITE_OK;
    if (!routed) log::Warn("sqlite log not routed: SQLite was initialised before hpo configured it");
    (void)sqlite3_initialize();
  });
  return routed;
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& path) {
  InitSqlite();
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message =
        "cannot open database " + path + ": " + (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    sqlite3_close(raw);
    return UnavailableError(std::move(message));
  }
  sqlite3_extended_result_codes(raw, 1);
  return std::unique_ptr<Db>(new Db(raw));
}

Db::~Db() {
  for (auto& [sql, statements] : idle_) {
    for (sqlite3_stmt* stmt : statements) sqlite3_finalize(stmt);
  }
  sqlite3_close(db_);
}

void Db::Recycle(std::string sql, sqlite3_stmt* stmt) {
  constexpr size_t kIdlePerText = 4;
  std::vector<sqlite3_stmt*>& idle = idle_[std::move(sql)];
  if (idle.size() >= kIdlePerText) {
    sqlite3_finalize(stmt);
    return;
  }
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  idle.push_back(stmt);
}

Status Db::Error(int rc, std::string_view what) const {
  std::string message(what);
  message += ": ";
  message += sqlite3_errmsg(db_);
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return DataLossError(std::move(message));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return UnavailableError(std::move(message));
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
      // The disk, not the request: nothing was stored, and the same call succeeds once the operator has
      // freed space or fixed the device, so callers may retry it (UNAVAILABLE, never INTERNAL).
      return UnavailableError(message + " (storage fault on " + FileName() + ", SQLite code " +
                              std::to_string(rc) + "; nothing was stored; retry later)");
    case SQLITE_CONSTRAINT:
      return FailedPreconditionError(std::move(message));
    default:
      return InternalError(std::move(message));
  }
}

std::string Db::FileName() const {
  const char* name = sqlite3_db_filename(db_, "main");
  return name != nullptr && name[0] != '\0' ? name : "the database";
}

Status Db::Exec(std::string_view sql) {
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "sqlite");
  return Status::Ok();
}

Result<Stmt> Db::Prepare(std::string_view sql) {
  std::string key(sql);
  if (auto it = idle_.find(key); it != idle_.end() && !it->second.empty()) {
    sqlite3_stmt* stmt = it->second.back();
    it->second.pop_back();
    return Stmt(this, stmt, std::move(key));
  }
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "prepare");
  return Stmt(this, stmt, std::move(key));
}

Result<int64_t> Db::QueryInt(std::string_view sql) {
  HPO_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql));
  HPO_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return InternalError("query returned no row: " + std::string(sql));
  return stmt.Int(0);
}

int64_t Db::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

Stmt::~Stmt() {
  if (stmt_ != nullptr) db_->Recycle(std::move(sql_), stmt_);
}

Stmt& Stmt::Bind(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Stmt& Stmt::Bind(int index, double value) {
  const int rc = sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Stmt& Stmt::Bind(int index, std::string_view text) {
  const int rc =
      sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Stmt& Stmt::BindBlob(int index, std::string_view bytes) {
  const int rc =
      sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Stmt& Stmt::BindNull(int index) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Result<bool> Stmt::Step() {
  if (bind_rc_ != SQLITE_OK) return db_->Error(bind_rc_, "bind");
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error(rc, "step");
}

Status Stmt::Run() {
  for (;;) {
    HPO_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

void Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_rc_ = SQLITE_OK;
}

int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }
double Stmt::Double(int col) const { return sqlite3_column_double(stmt_, col); }
bool Stmt::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

std::string Stmt::Text(int col) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return text == nullptr ? std::string() : std::string(text, sqlite3_column_bytes(stmt_, col));
}

std::string Stmt::Blob(int col) const {
  const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  return bytes == nullptr ? std::string() : std::string(bytes, sqlite3_column_bytes(stmt_, col));
}

}  // namespace hpo::storage
