// A test hook that makes SQLite's writes fail as a full or failing disk makes them fail, so that tests
// can check what hpo does with a commit that does not land (LevelDB's fault-injecting Env, for SQLite).
//
// InstallFaultVfs() registers, once per process, a VFS that wraps SQLite's default one and makes it the
// default: databases opened afterwards go through it (those already open do not). It passes every call
// through unchanged until SetWriteFault(code) with a code other than SQLITE_OK; from then on every
// xWrite, xTruncate and xSync of every file (database, WAL, journal) fails with `code` (SQLITE_FULL for a
// full disk, SQLITE_IOERR_WRITE for a failing one) until SetWriteFault(SQLITE_OK). Reads are untouched.
// SQLite then sees exactly what a real full disk would give it.
//
// For tests only: it lives under tests/ and is linked into the tests that use it, never into a daemon.
// Thread-safe (the fault is one atomic).
#ifndef HPO_TESTS_TESTING_FAULT_VFS_H_
#define HPO_TESTS_TESTING_FAULT_VFS_H_

namespace hpo::storage::testing {

// Makes the fault VFS the process's default. Idempotent. Returns false if SQLite refused it.
bool InstallFaultVfs();

// The code every write fails with from now on; SQLITE_OK: none. REQUIRES: InstallFaultVfs() returned true.
void SetWriteFault(int code);

// The number of writes, truncates and syncs failed so far (so that a test can wait for its fault to be
// met).
long FailedWrites();

}  // namespace hpo::storage::testing

#endif  // HPO_TESTS_TESTING_FAULT_VFS_H_
