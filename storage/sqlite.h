// A thin RAII wrapper over the SQLite C API: a connection (Db) and prepared statements (Stmt).
//
// Prepared statements are cached by their SQL text: a Stmt that goes out of scope is reset and kept for
// the next Prepare of the same text, so the coordinator's hot writes are parsed once per connection.
//
// Not thread-safe: the owner of a Db serialises its use. A Stmt must not outlive its Db. Every failure
// becomes a Status whose message carries SQLite's own words; nothing here throws.
#ifndef HPO_STORAGE_SQLITE_H_
#define HPO_STORAGE_SQLITE_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"

namespace hpo::storage {

class Stmt;

// Routes SQLite's own log (sqlite3_config SQLITE_CONFIG_LOG: WAL recovery notices, corruption, I/O
// errors and failed opens, with the OS's errno) into hpo's structured log (base/log.h) as "sqlite log"
// lines: notices at info, warnings and busy/locked at warn, routine refusals (a constraint, a schema
// change) at debug, everything else at error. Then initialises SQLite. Runs once per process; Db::Open
// calls it, so a daemon needs nothing more, but SQLite takes the log only before it is initialised: a
// process that used SQLite before (e.g. a test reading a file with the C API) should call this first.
// Returns false when SQLite had been initialised already and the log could not be routed.
bool InitSqlite();

class Db {
 public:
  // Opens (creating when missing) the database file at `path`.
  static Result<std::unique_ptr<Db>> Open(const std::string& path);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements that return no rows.
  Status Exec(std::string_view sql);
  // A statement for `sql`: a cached one when one is idle, else freshly prepared.
  Result<Stmt> Prepare(std::string_view sql);
  // The single integer the query returns (e.g. a PRAGMA or COUNT).
  Result<int64_t> QueryInt(std::string_view sql);
  int64_t LastInsertRowId() const;

  // Status for a failed call that returned `rc`, with SQLite's message. Transient storage faults (the
  // disk is full, an I/O error, the file is busy, locked, read-only or cannot be opened) are UNAVAILABLE, so
  // that a caller knows the same call may succeed later; a damaged file is DATA_LOSS; a broken constraint
  // FAILED_PRECONDITION; anything else INTERNAL.
  Status Error(int rc, std::string_view what) const;
  // The path of the main database file ("the database" for an in-memory one).
  std::string FileName() const;

  sqlite3* handle() { return db_; }

 private:
  friend class Stmt;
  explicit Db(sqlite3* db) : db_(db) {}
  // Takes back an idle statement of `sql` (reset, bindings cleared) for reuse; keeps a few per text.
  void Recycle(std::string sql, sqlite3_stmt* stmt);

  sqlite3* db_;
  std::unordered_map<std::string, std::vector<sqlite3_stmt*>> idle_;  // by SQL text
};

class Stmt {
 public:
  Stmt(Stmt&& other) noexcept : db_(other.db_), stmt_(other.stmt_), sql_(std::move(other.sql_)) {
    other.stmt_ = nullptr;
  }
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  ~Stmt();

  // Binders take 1-based indices, as SQLite does. Each returns *this for chaining; a failed bind is
  // reported by the next Step.
  Stmt& Bind(int index, int64_t value);
  Stmt& Bind(int index, double value);
  Stmt& Bind(int index, std::string_view text);
  Stmt& BindBlob(int index, std::string_view bytes);
  Stmt& BindNull(int index);

  // Advances: true when a row is ready, false when done.
  Result<bool> Step();
  // Steps to completion of a statement that returns no rows.
  Status Run();
  // Resets for another execution with new bindings.
  void Reset();

  int64_t Int(int col) const;
  double Double(int col) const;
  std::string Text(int col) const;
  std::string Blob(int col) const;
  bool IsNull(int col) const;

 private:
  friend class Db;
  Stmt(Db* db, sqlite3_stmt* stmt, std::string sql) : db_(db), stmt_(stmt), sql_(std::move(sql)) {}
  Db* db_;
  sqlite3_stmt* stmt_;
  std::string sql_;  // the cache key
  int bind_rc_ = SQLITE_OK;
};

}  // namespace hpo::storage

#endif  // HPO_STORAGE_SQLITE_H_
