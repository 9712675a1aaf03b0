// ChildProcess: runs a program as a child in its own process group, captures its stdout and stderr,
// and can kill it (SIGTERM to the whole group, then SIGKILL after a grace period).
//
// The child is started with fork and exec: stdin is /dev/null, stdout and stderr are pipes, every other
// file descriptor is closed, the signal mask is empty and every signal has its default action, and it
// leads a new process group so that killing it also kills whatever it started. It runs in the worker's
// working directory.
//
// The group never outlives its ChildProcess, nor the process that made it:
//  - When the child ends, whatever it left running in its group (a background job of a shell, say) is
//    killed with SIGKILL before the child is reaped, and named in ChildResult::stragglers.
//  - A guard process per child (a fork of the caller that does nothing but wait) holds the read end of
//    a pipe whose only writer is the caller. When the caller dies in any way, kill -9 included, the
//    kernel closes that pipe and the guard kills the child's whole group with SIGKILL. The child does
//    not exec until its guard is watching, so there is no moment at which it could escape. The child
//    also has PR_SET_PDEATHSIG(SIGKILL), a second line should the guard itself be killed.
//  - A process that leaves the group (setsid, setpgid) escapes both; a cgroup would be needed for it.
//
// REQUIRES (Linux): the thread that calls Start() lives until the child has ended (PR_SET_PDEATHSIG
// fires when the thread that forked the child exits, not the process); a TrialRunner calls Start() and
// Wait() on the same thread.
//
// Thread-safety: Wait() is called by one thread (the one that reads the pipes); Kill() and pid() may be
// called from any thread at any time, also while Wait() runs. The ChildProcess owns the child: its
// destructor kills the group with SIGKILL and reaps the child if Wait() has not returned.
#ifndef HPO_WORKER_CHILD_PROCESS_H_
#define HPO_WORKER_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace hpo::worker {

// A user for a child to run as, other than the caller's (hpo-worker --trial-user): a trial that runs as
// another user than its worker cannot read the worker's token file (mode 0400 or 0600) or anything else of
// the worker's user.
struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups
  std::string name;           // the child's USER and LOGNAME
  std::string home;           // the child's HOME
};

// The file that starting `program` (an argv[0]) runs, as an absolute path: `program` itself when it has a
// '/' (a relative path is taken from the working directory; a leading "./" is dropped), else, with
// `search_path`, the first executable regular file of that name in the directories of the PATH
// variable (default "/bin:/usr/bin"; an empty entry is the working directory). Symbolic links are not
// followed: a virtual environment's bin/python3 stays itself. Without `search_path`, a bare name is a
// path relative to the working directory. Whether a path names a file that runs is left to exec.
// Returns NOT_FOUND "cannot start NAME: not found on PATH (DIRS)" when no directory has it, and
// FAILED_PRECONDITION "cannot start NAME: Permission denied (...)" when the only files of that name are not
// executable; INVALID_ARGUMENT for an empty program.
Result<std::string> ResolveExecutable(const std::string& program, bool search_path);

// The user `name` from the system's user database, with its primary and supplementary groups. Returns
// INVALID_ARGUMENT naming the user when there is none, or when it is root (uid 0), which would give a
// trial more than its worker has.
Result<RunAs> LookUpRunAs(const std::string& name);

struct ChildOptions {
  // Variables set (or replaced) in the child's environment; the rest is inherited, except those that hold
  // or name a credential (HPO_TOKEN, HPO_TOKEN_FILE, HPO_*_TOKEN[_FILE], HPO_TLS_*,
  // CREDENTIALS_DIRECTORY): the worker's credentials stay with the worker. Default: none.
  std::vector<std::pair<std::string, std::string>> env;
  // Each stream keeps at most its last `max_capture_bytes` bytes. Default 8 MiB.
  size_t max_capture_bytes = size_t{8} << 20;
  // After the child exits, how long to keep reading pipes that a grandchild still holds open.
  // Default 500 ms.
  std::chrono::milliseconds drain_timeout{500};
  // When true, an argv[0] without a '/' is looked up on the worker's PATH (posix_spawnp); a path with one
  // is taken as is, relative to the working directory. Default false: argv[0] is always a path.
  bool search_path = false;
  // When not empty, the file to run (e.g. what ResolveExecutable found), and argv[0] is passed to it as it
  // is; `search_path` is then not used. Default "": argv[0] names the file.
  std::string executable;
  // When above zero, how long the child may run: past it, Wait() kills its group as Kill(timeout_grace)
  // does and the result says `timed_out`. Default 0: no limit.
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds timeout_grace{5000};
  // When set, called by Wait() on its own thread with each line of stdout as it arrives (without its
  // '\n'; a last line without one when the stream ends), in order. A line longer than 1 MiB is not
  // passed on. Must not call back into this ChildProcess. Default: none.
  std::function<void(std::string_view line)> on_stdout_line;
  // When set, the child runs as this user: after fork and before exec it takes the supplementary groups,
  // then the gid, then the uid (setresgid/setresuid, so there is no way back), and HOME, USER and LOGNAME
  // become the user's unless `env` sets them. REQUIRES: the caller may change to that user (root, or
  // CAP_SETUID and CAP_SETGID); else Start() fails naming the program and the error. Default: none, the
  // caller's user.
  std::optional<RunAs> run_as;
};

// How a child ended and what it wrote.
struct ChildResult {
  bool exited = false;     // it called exit(): `exit_code` is valid
  int exit_code = -1;      // when `exited`
  int term_signal = 0;     // when killed by a signal: the signal's number
  bool killed = false;     // Kill() signalled the child before it ended
  bool timed_out = false;  // it ran past ChildOptions::timeout and was killed for it (not `killed`)
  std::string out;         // stdout (its tail when truncated)
  std::string err;         // stderr (its tail when truncated)
  bool out_truncated = false;
  bool err_truncated = false;
  double elapsed_s = 0.0;  // from start to reaping
  // Processes of the child's group still running when it exited of its own accord (not after Kill() or
  // a timeout), as "name (pid)"; they were killed with SIGKILL. Empty when it left none.
  std::vector<std::string> stragglers;
  // The length in bytes of the last line of stdout that is not blank, counted whole even when `out` keeps
  // only its tail (so that a caller can tell a line too long to have been kept).
  size_t out_last_line_bytes = 0;

  bool Succeeded() const { return exited && exit_code == 0; }
};

class ChildProcess {
 public:
  // Starts `argv[0]` (a path, or with ChildOptions::search_path a name looked up on PATH) with arguments
  // argv[1..].
  // On failure (empty argv, program missing or not executable, out of resources): a Status naming the
  // program and the reason; no child is left behind.
  static Result<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                     const ChildOptions& options = ChildOptions());

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  // Reads both pipes until the child ends and returns how it ended. Blocks. Call at most once.
  // Fails only on an unexpected system error (then the child has been sent SIGKILL; the destructor
  // reaps it).
  Result<ChildResult> Wait();

  // Asks the child to stop: SIGTERM to its process group now, SIGKILL `grace` later (sent by Wait(), or
  // by the destructor). Returns at once. No effect once the child has exited (reaped or not); a second
  // call may only shorten the grace period.
  void Kill(std::chrono::milliseconds grace);

  pid_t pid() const { return pid_; }

 private:
  using SteadyClock = std::chrono::steady_clock;

  ChildProcess(pid_t pid, pid_t guard_pid, int guard_fd, int out_fd, int err_fd, ChildOptions options);

  // Reaps the child if it has ended (waitpid WNOHANG); sends the SIGKILL that a Kill() scheduled once
  // its time has come. Returns whether the child has been reaped.
  bool PollChild(ChildResult* result);
  // Kills the child for running past its timeout, unless it is already being killed or has ended.
  void TimeOut();
  // The child has exited (it is a zombie, so its group id cannot be reused yet): names and kills what is
  // left of its group, lets its guard go, and reaps it.
  // REQUIRES: mu_ held; the child has exited and is not reaped.
  void EndGroupAndReap(ChildResult* result);
  // Closes the guard's pipe, which makes the guard kill the group (again) and exit, and reaps it.
  // REQUIRES: mu_ held.
  void ReleaseGuard();

  const pid_t pid_;
  const pid_t guard_pid_;  // the guard process; reaped by ReleaseGuard()
  const ChildOptions options_;
  const SteadyClock::time_point start_;
  int out_fd_;  // read ends of the pipes; -1 once at EOF (only Wait() and the destructor touch them)
  int err_fd_;
  bool waited_ = false;

  std::mutex mu_;
  bool reaped_ = false;                    // GUARDED_BY(mu_)
  int guard_fd_;                           // GUARDED_BY(mu_): write end of the guard's pipe; -1 once closed
  bool kill_requested_ = false;            // GUARDED_BY(mu_)
  bool sigkill_sent_ = false;              // GUARDED_BY(mu_)
  bool timed_out_ = false;                 // GUARDED_BY(mu_): TimeOut() asked for the kill
  SteadyClock::time_point kill_deadline_;  // GUARDED_BY(mu_): when SIGKILL follows SIGTERM
};

}  // namespace hpo::worker

#endif  // HPO_WORKER_CHILD_PROCESS_H_
