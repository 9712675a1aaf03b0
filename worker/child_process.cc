#include "worker/child_process.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace hpo::worker {
namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

void CloseFd(int* fd) {
  if (*fd >= 0) {
    close(*fd);
    *fd = -1;
  }
}

// Variables a trial never sees, because they hold a credential or name where one is: the worker's token
// ($HPO_TOKEN) and the token files of hpoctl and the Python client ($HPO_TOKEN_FILE), any HPO_*TOKEN*
// variable an operator may have added, TLS files (HPO_TLS_*), and the directory of systemd's
// LoadCredential= ($CREDENTIALS_DIRECTORY).
bool IsCredentialVariable(std::string_view entry) {
  const std::string_view name = entry.substr(0, entry.find('='));
  if (name == "CREDENTIALS_DIRECTORY" || name.starts_with("HPO_TLS_")) return true;
  if (!name.starts_with("HPO_")) return false;
  // HPO_TOKEN, HPO_TOKEN_FILE, HPO_WORKER_TOKEN, HPO_READ_TOKEN_FILE, ...; not HPO_TOKEN_LIKE's kind of
  // name, which only begins with a credential's.
  for (std::string_view part = name.substr(4); !part.empty();) {
    const size_t underscore = part.find('_');
    if (part.substr(0, underscore) == "TOKEN") return part == "TOKEN" || part == "TOKEN_FILE";
    if (underscore == std::string_view::npos) break;
    part.remove_prefix(underscore + 1);
  }
  return false;
}

// The parent's environment with `overrides` applied ("NAME=value" strings).
std::vector<std::string> ChildEnvironment(const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    bool replaced = IsCredentialVariable(entry);
    for (const auto& [name, value] : overrides) {
      if (entry.size() > name.size() && entry.substr(0, name.size()) == name && entry[name.size()] == '=') {
        replaced = true;
        break;
      }
    }
    if (!replaced) env.emplace_back(entry);
  }
  for (const auto& [name, value] : overrides) env.push_back(name + "=" + value);
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Appends `data` to `buffer`, keeping only the last `max` bytes.
void AppendTail(std::string* buffer, const char* data, size_t n, size_t max, bool* truncated) {
  buffer->append(data, n);
  if (buffer->size() > 2 * max + 1) {
    buffer->erase(0, buffer->size() - max);
    *truncated = true;
  }
}

// Cuts a stream into lines for ChildOptions::on_stdout_line.
class LineSplitter {
 public:
  static constexpr size_t kMaxLine = size_t{1} << 20;

  explicit LineSplitter(const std::function<void(std::string_view)>& sink) : sink_(sink) {}

  void Add(const char* data, size_t n) {
    if (!sink_) return;
    std::string_view rest(data, n);
    for (size_t newline; (newline = rest.find('\n')) != std::string_view::npos;) {
      Append(rest.substr(0, newline));
      if (!overlong_) sink_(partial_);
      partial_.clear();
      overlong_ = false;
      rest.remove_prefix(newline + 1);
    }
    Append(rest);
  }
  // The stream ended: a last line without '\n' is a line too.
  void Finish() {
    if (sink_ && !partial_.empty() && !overlong_) sink_(partial_);
    partial_.clear();
    overlong_ = false;
  }

 private:
  void Append(std::string_view piece) {
    if (overlong_) return;
    if (partial_.size() + piece.size() > kMaxLine) {
      overlong_ = true;
      partial_.clear();
      return;
    }
    partial_.append(piece);
  }

  const std::function<void(std::string_view)>& sink_;
  std::string partial_;
  bool overlong_ = false;  // the line being read is past kMaxLine: dropped up to its end
};

// Measures the last line of a stream that is not blank, however long (ChildResult::out_last_line_bytes).
class LastLineLength {
 public:
  void Add(const char* data, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const char c = data[i];
      if (c == '\n') {
        Finish();
        continue;
      }
      ++current_;
      blank_ = blank_ && (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v');
    }
  }
  // A line ended ('\n' or the end of the stream).
  void Finish() {
    if (!blank_) last_ = current_;
    current_ = 0;
    blank_ = true;
  }
  size_t last() const { return blank_ ? last_ : current_; }

 private:
  size_t current_ = 0;  // the line being read so far
  bool blank_ = true;   // it holds only white space so far
  size_t last_ = 0;     // the last line that ended not blank
};

// Reads what is available on `*fd` (non-blocking), passing it to `lines` and `length` when given; closes
// it and sets it to -1 at EOF.
Status Drain(int* fd, std::string* buffer, size_t max, bool* truncated, LineSplitter* lines = nullptr,
             LastLineLength* length = nullptr) {
  char chunk[64 * 1024];
  while (*fd >= 0) {
    const ssize_t n = read(*fd, chunk, sizeof(chunk));
    if (n > 0) {
      AppendTail(buffer, chunk, static_cast<size_t>(n), max, truncated);
      if (lines != nullptr) lines->Add(chunk, static_cast<size_t>(n));
      if (length != nullptr) length->Add(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      CloseFd(fd);
      if (lines != nullptr) lines->Finish();
      if (length != nullptr) length->Finish();
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    const int err = errno;
    CloseFd(fd);
    return InternalError("reading a child's output: " + ErrnoText(err));
  }
  return Status::Ok();
}

void FinishTail(std::string* buffer, size_t max, bool* truncated) {
  if (buffer->size() > max) {
    buffer->erase(0, buffer->size() - max);
    *truncated = true;
  }
}

// Everything the child needs between fork and exec, prepared beforehand: after fork in a threaded
// process only async-signal-safe calls are allowed, so nothing there allocates or takes a lock.
struct ExecPlan {
  const char* path = nullptr;  // resolved: execve does no PATH search
  char** argv = nullptr;
  char** envp = nullptr;
  pid_t parent = 0;   // the caller, for the PR_SET_PDEATHSIG re-check
  int stdin_fd = -1;  // /dev/null
  int out_fd = -1;    // the pipes' write ends
  int err_fd = -1;
  int go_fd = -1;          // read end: one byte arrives once the guard watches; EOF: the caller gave up
  int exec_error_fd = -1;  // write end (close-on-exec): errno of a failed execve
  int max_fd = 1024;       // where closing stops when close_range is not available
  // The user to become (ChildOptions::run_as), when change_user.
  bool change_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;
  size_t group_count = 0;
};

// Closes every descriptor from `first` up to and including `last` (async-signal-safe).
void CloseRange(int first, int last, int max_fd) {
  if (first > last) return;
  if (close_range(static_cast<unsigned>(first), static_cast<unsigned>(last), 0) == 0) return;
  for (int fd = first; fd <= std::min(last, max_fd); ++fd) close(fd);
}

// Retries a read interrupted by a signal.
ssize_t ReadFully(int fd, void* data, size_t n) {
  ssize_t got;
  do {
    got = read(fd, data, n);
  } while (got < 0 && errno == EINTR);
  return got;
}

// The child, from fork to exec. Async-signal-safe calls only. Never returns.
[[noreturn]] void ExecChild(const ExecPlan& plan) {
  setpgid(0, 0);
  // Default actions (the caller blocked every signal around fork, so none of its handlers can run here),
  // then an empty mask, as a freshly started program expects.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &default_action, nullptr);
  // Another user, before PR_SET_PDEATHSIG: a change of credentials clears it. Raw system calls: glibc's
  // wrappers would try to change every thread of the (forked-from) threaded caller.
  if (plan.change_user && (syscall(SYS_setgroups, plan.group_count, plan.groups) != 0 ||
                           syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0 ||
                           syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0)) {
    const int err = errno;
    (void)!write(plan.exec_error_fd, &err, sizeof(err));
    _exit(127);
  }
  // Dies with the caller. The caller may have died before prctl: then the parent is someone else now.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != plan.parent) _exit(127);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  char go = 0;
  if (ReadFully(plan.go_fd, &go, 1) != 1) _exit(127);
  if (dup2(plan.stdin_fd, 0) < 0 || dup2(plan.out_fd, 1) < 0 || dup2(plan.err_fd, 2) < 0) {
    const int err = errno;
    (void)!write(plan.exec_error_fd, &err, sizeof(err));
    _exit(127);
  }
  // Only 0-2 stay; the error pipe closes itself at exec (O_CLOEXEC).
  CloseRange(3, plan.exec_error_fd - 1, plan.max_fd);
  CloseRange(plan.exec_error_fd + 1, INT32_MAX, plan.max_fd);
  execve(plan.path, plan.argv, plan.envp);
  const int err = errno;
  (void)!write(plan.exec_error_fd, &err, sizeof(err));
  _exit(127);
}

// The guard, a fork of the caller: keeps every signal blocked (SIGKILL aside), leads a group of its own
// (so that a signal to the caller's group spares it), and waits for EOF on `watch_fd`, which comes when
// the caller closes its end (the child ended) or dies. Then kills the child's group. Async-signal-safe
// calls only. Never returns.
[[noreturn]] void Guard(int watch_fd, pid_t group, int max_fd) {
  setpgid(0, 0);
  prctl(PR_SET_NAME, "hpo-trial-guard");
  CloseRange(0, watch_fd - 1, max_fd);
  CloseRange(watch_fd + 1, INT32_MAX, max_fd);
  char byte;
  while (ReadFully(watch_fd, &byte, 1) > 0) {
  }
  kill(-group, SIGKILL);
  _exit(0);
}

// Moves `*fd` to a number above 2 (keeping O_CLOEXEC), so that the child's dup2 onto 0-2 cannot
// clobber it when the caller runs with a standard stream closed.
bool MoveAboveStdio(int* fd) {
  if (*fd > 2) return true;
  const int moved = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return false;
  close(*fd);
  *fd = moved;
  return true;
}

// Processes of group `pgid` other than `leader` that still run (zombies aside), as "name (pid)", read
// from /proc.
std::vector<std::string> GroupMembers(pid_t pgid, pid_t leader) {
  std::vector<std::string> members;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid_text = entry.path().filename().string();
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    if (std::atoi(pid_text.c_str()) == leader) continue;
    std::ifstream in(entry.path() / "stat");
    std::stringstream text;
    text << in.rdbuf();
    const std::string stat = text.str();
    // "pid (comm) state ppid pgrp ...": comm may hold anything, so parse from its last ')'.
    const size_t open = stat.find('(');
    const size_t close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    std::istringstream rest(stat.substr(close + 1));
    char state = 0;
    long ppid = 0;
    long pgrp = 0;
    if (!(rest >> state >> ppid >> pgrp) || pgrp != pgid || state == 'Z' || state == 'X') continue;
    members.push_back(stat.substr(open + 1, close - open - 1) + " (" + pid_text + ")");
  }
  return members;
}

}  // namespace

Result<std::string> ResolveExecutable(const std::string& program, bool search_path) {
  if (program.empty()) return InvalidArgumentError("cannot start a program with an empty name");
  std::error_code ec;
  const std::string cwd = std::filesystem::current_path(ec).string();
  // A relative path stays relative when the working directory cannot be named (it was removed).
  const auto absolute = [&cwd](std::string_view path) {
    if (path.front() == '/' || cwd.empty()) return std::string(path);
    while (path.size() > 2 && path.substr(0, 2) == "./") path.remove_prefix(2);
    return cwd + (cwd.back() != '/' ? "/" : "") + std::string(path);
  };
  if (!search_path || program.find('/') != std::string::npos) return absolute(program);
  const char* path_env = std::getenv("PATH");
  const std::string_view path = path_env != nullptr ? path_env : "/bin:/usr/bin";
  std::string not_executable;
  for (std::string_view rest = path;;) {
    const size_t colon = rest.find(':');
    const std::string_view dir = rest.substr(0, colon);
    std::string candidate(dir.empty() ? std::string_view(".") : dir);  // an empty entry: the working dir
    candidate += '/';
    candidate += program;
    struct stat st {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(candidate.c_str(), X_OK) == 0) return absolute(candidate);
      if (not_executable.empty()) not_executable = absolute(candidate);
    }
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  if (!not_executable.empty()) {
    return FailedPreconditionError("cannot start " + program + ": " + ErrnoText(EACCES) + " (" +
                                   not_executable + " is not executable, and PATH has no other)");
  }
  return NotFoundError("cannot start " + program + ": not found on PATH (" + std::string(path) + ")");
}

Result<RunAs> LookUpRunAs(const std::string& name) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  const int error = getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    return InvalidArgumentError("user " + name + ": " +
                                (error != 0 ? ErrnoText(error) : std::string("no such user")));
  }
  if (entry.pw_uid == 0)
    return InvalidArgumentError("user " + name + ": is root; trials must not run as root");
  RunAs run_as;
  run_as.uid = entry.pw_uid;
  run_as.gid = entry.pw_gid;
  run_as.name = entry.pw_name;
  run_as.home = entry.pw_dir;
  int count = 32;
  for (;;) {
    run_as.groups.resize(static_cast<size_t>(count));
    const int previous = count;
    if (getgrouplist(entry.pw_name, entry.pw_gid, run_as.groups.data(), &count) >= 0) break;
    if (count <= previous) count = previous * 2;  // some versions do not say how many they need
  }
  run_as.groups.resize(static_cast<size_t>(count));
  return run_as;
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const std::vector<std::string>& argv,
                                                          const ChildOptions& options) {
  if (argv.empty() || argv[0].empty()) return InvalidArgumentError("child process: empty argv");
  const std::string& program = argv[0];
  auto start_error = [&program](int err) -> Status {
    const std::string message = "cannot start " + program + ": " + ErrnoText(err);
    if (err == ENOENT) return NotFoundError(message);
    if (err == EACCES || err == EPERM) return FailedPreconditionError(message);
    return InternalError(message);
  };
  Result<std::string> path = options.executable;
  if (options.executable.empty()) path = ResolveExecutable(program, options.search_path);
  if (!path.ok()) return path.status();

  // [0] read end, [1] write end; all close-on-exec. The child gets the write ends of out/err, the read
  // end of go and the write end of exec_error; the guard the read end of watch.
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  int go_pipe[2] = {-1, -1};
  int exec_error_pipe[2] = {-1, -1};
  int watch_pipe[2] = {-1, -1};
  int dev_null = -1;
  int* const fds[] = {&out_pipe[0], &out_pipe[1],        &err_pipe[0],        &err_pipe[1],   &go_pipe[0],
                      &go_pipe[1],  &exec_error_pipe[0], &exec_error_pipe[1], &watch_pipe[0], &watch_pipe[1],
                      &dev_null};
  auto close_all = [&fds] {
    for (int* fd : fds) CloseFd(fd);
  };
  for (int* p : {out_pipe, err_pipe, go_pipe, exec_error_pipe, watch_pipe}) {
    if (pipe2(p, O_CLOEXEC) != 0) {
      const int err = errno;
      close_all();
      return InternalError("pipe: " + ErrnoText(err));
    }
  }
  dev_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  bool moved = dev_null >= 0;
  for (int* fd : {&dev_null, &out_pipe[1], &err_pipe[1], &go_pipe[0], &exec_error_pipe[1]}) {
    moved = moved && MoveAboveStdio(fd);
  }
  if (!moved) {
    const int err = errno;
    close_all();
    return InternalError("preparing to start " + program + ": " + ErrnoText(err));
  }

  std::vector<std::string> args = argv;
  std::vector<std::pair<std::string, std::string>> overrides = options.env;
  if (options.run_as.has_value()) {
    for (const auto& [name, value] : {std::pair<std::string, std::string>{"HOME", options.run_as->home},
                                      {"USER", options.run_as->name},
                                      {"LOGNAME", options.run_as->name}}) {
      const bool set = std::any_of(overrides.begin(), overrides.end(),
                                   [&name](const auto& entry) { return entry.first == name; });
      if (!set) overrides.emplace_back(name, value);
    }
  }
  std::vector<std::string> env = ChildEnvironment(overrides);
  std::vector<char*> c_args = CStrings(args);
  std::vector<char*> c_env = CStrings(env);
  ExecPlan plan;
  plan.path = path->c_str();
  plan.argv = c_args.data();
  plan.envp = c_env.data();
  plan.parent = getpid();
  plan.stdin_fd = dev_null;
  plan.out_fd = out_pipe[1];
  plan.err_fd = err_pipe[1];
  plan.go_fd = go_pipe[0];
  plan.exec_error_fd = exec_error_pipe[1];
  if (options.run_as.has_value()) {
    plan.change_user = true;
    plan.uid = options.run_as->uid;
    plan.gid = options.run_as->gid;
    plan.groups = options.run_as->groups.data();
    plan.group_count = options.run_as->groups.size();
  }
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
    plan.max_fd = static_cast<int>(std::min<rlim_t>(files.rlim_cur, 1 << 20));
  }

  // Every signal stays blocked from fork until the child and the guard have set their own handling, so
  // that none of the caller's handlers runs in them. _Fork: no atfork handlers (gRPC's among them) run,
  // and the child calls only async-signal-safe functions.
  sigset_t all_signals;
  sigset_t caller_mask;
  sigfillset(&all_signals);
  pthread_sigmask(SIG_SETMASK, &all_signals, &caller_mask);
  const pid_t pid = _Fork();
  if (pid == 0) ExecChild(plan);
  int fork_error = errno;
  pid_t guard = -1;
  if (pid > 0) {
    setpgid(pid, pid);  // also here, so that the group exists as soon as Start() returns
    guard = _Fork();
    if (guard == 0) Guard(watch_pipe[0], pid, plan.max_fd);
    fork_error = errno;
  }
  pthread_sigmask(SIG_SETMASK, &caller_mask, nullptr);
  if (pid < 0 || guard < 0) {
    if (pid > 0) {  // still waiting for its go: it has started nothing
      kill(pid, SIGKILL);
      while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    close_all();
    return InternalError("cannot start " + program + ": fork: " + ErrnoText(fork_error));
  }
  for (int* fd : {&out_pipe[1], &err_pipe[1], &exec_error_pipe[1], &watch_pipe[0], &dev_null}) CloseFd(fd);

  // The guard watches: let the child exec, and learn whether that worked (EOF: it did). The read end of
  // go stays open here until the byte is written, so that the write cannot raise SIGPIPE.
  const char go = 1;
  const bool sent = write(go_pipe[1], &go, 1) == 1;
  const int write_error = errno;
  CloseFd(&go_pipe[0]);
  CloseFd(&go_pipe[1]);
  int exec_error = 0;
  const ssize_t got = ReadFully(exec_error_pipe[0], &exec_error, sizeof(exec_error));
  CloseFd(&exec_error_pipe[0]);
  if (!sent || got != 0) {
    if (got != static_cast<ssize_t>(sizeof(exec_error))) exec_error = sent ? EIO : write_error;
    // The child has exited or will: the guard's kill covers it; reap both.
    CloseFd(&watch_pipe[1]);
    while (waitpid(guard, nullptr, 0) < 0 && errno == EINTR) {
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    close_all();
    return start_error(exec_error);
  }
  for (int fd : {out_pipe[0], err_pipe[0]}) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<ChildProcess>(
      new ChildProcess(pid, guard, watch_pipe[1], out_pipe[0], err_pipe[0], options));
}

ChildProcess::ChildProcess(pid_t pid, pid_t guard_pid, int guard_fd, int out_fd, int err_fd,
                           ChildOptions options)
    : pid_(pid),
      guard_pid_(guard_pid),
      options_(std::move(options)),
      start_(SteadyClock::now()),
      out_fd_(out_fd),
      err_fd_(err_fd),
      guard_fd_(guard_fd) {}

ChildProcess::~ChildProcess() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!reaped_) {
      kill(-pid_, SIGKILL);
      ReleaseGuard();
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      reaped_ = true;
    }
  }
  CloseFd(&out_fd_);
  CloseFd(&err_fd_);
}

void ChildProcess::ReleaseGuard() {
  if (guard_fd_ < 0) return;
  CloseFd(&guard_fd_);
  while (waitpid(guard_pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

void ChildProcess::EndGroupAndReap(ChildResult* result) {
  // The child is a zombie: its pid, and so its group id, cannot be taken by another process yet.
  if (!kill_requested_) result->stragglers = GroupMembers(pid_, pid_);
  kill(-pid_, SIGKILL);
  ReleaseGuard();
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  result->timed_out = kill_requested_ && timed_out_;
  result->killed = kill_requested_ && !timed_out_;
  result->elapsed_s = std::chrono::duration<double>(SteadyClock::now() - start_).count();
  if (WIFEXITED(status)) {
    result->exited = true;
    result->exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result->term_signal = WTERMSIG(status);
  }
}

void ChildProcess::Kill(std::chrono::milliseconds grace) {
  std::lock_guard<std::mutex> lock(mu_);
  if (reaped_) return;
  // A child that has exited but is not reaped yet is past stopping: it is not marked killed, so that
  // its result stands. (WNOWAIT leaves the reaping to PollChild.)
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
      info.si_pid == pid_) {
    return;
  }
  const SteadyClock::time_point deadline = SteadyClock::now() + grace;
  if (kill_requested_) {
    if (deadline < kill_deadline_) kill_deadline_ = deadline;
    return;
  }
  kill_requested_ = true;
  kill_deadline_ = deadline;
  kill(-pid_, SIGTERM);
  if (grace.count() <= 0) {
    kill(-pid_, SIGKILL);
    sigkill_sent_ = true;
  }
}

bool ChildProcess::PollChild(ChildResult* result) {
  std::lock_guard<std::mutex> lock(mu_);
  if (reaped_) return true;
  // WNOWAIT: the child stays a zombie, holding its group id, until what it left behind is killed.
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
      info.si_pid == pid_) {
    EndGroupAndReap(result);
    return true;
  }
  if (kill_requested_ && !sigkill_sent_ && SteadyClock::now() >= kill_deadline_) {
    kill(-pid_, SIGKILL);
    sigkill_sent_ = true;
  }
  return false;
}

void ChildProcess::TimeOut() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (reaped_ || kill_requested_) return;
    timed_out_ = true;
  }
  Kill(options_.timeout_grace);
}

Result<ChildResult> ChildProcess::Wait() {
  if (waited_) return FailedPreconditionError("ChildProcess::Wait called twice");
  waited_ = true;
  ChildResult result;
  const size_t max = options_.max_capture_bytes;
  bool reaped = false;
  bool timeout_due = options_.timeout.count() > 0;
  LineSplitter lines(options_.on_stdout_line);
  LastLineLength last_line;
  SteadyClock::time_point drain_deadline;
  while (true) {
    if (timeout_due && !reaped && SteadyClock::now() - start_ >= options_.timeout) {
      TimeOut();
      timeout_due = false;
    }
    if (!reaped && PollChild(&result)) {
      reaped = true;
      drain_deadline = SteadyClock::now() + options_.drain_timeout;
    }
    const bool pipes_open = out_fd_ >= 0 || err_fd_ >= 0;
    if (reaped && (!pipes_open || SteadyClock::now() >= drain_deadline)) break;
    if (!pipes_open) {
      // The child closed its output but runs on: wait for it (and for a scheduled SIGKILL).
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    pollfd fds[2];
    nfds_t n = 0;
    for (int fd : {out_fd_, err_fd_}) {
      if (fd >= 0) fds[n++] = pollfd{fd, POLLIN, 0};
    }
    // A short timeout so that the child's end (with a grandchild holding the pipes) and a due SIGKILL
    // are noticed; idle cost is negligible next to a training run.
    const int rc = poll(fds, n, 50);
    if (rc < 0 && errno != EINTR) {
      const int err = errno;
      Kill(std::chrono::milliseconds(0));
      return InternalError("poll: " + ErrnoText(err));
    }
    Status status = Drain(&out_fd_, &result.out, max, &result.out_truncated, &lines, &last_line);
    if (status.ok()) status = Drain(&err_fd_, &result.err, max, &result.err_truncated);
    if (!status.ok()) {
      Kill(std::chrono::milliseconds(0));
      return status;
    }
  }
  if (out_fd_ >= 0) lines.Finish();  // a grandchild still holds stdout: what came is all there is
  CloseFd(&out_fd_);
  CloseFd(&err_fd_);
  FinishTail(&result.out, max, &result.out_truncated);
  FinishTail(&result.err, max, &result.err_truncated);
  result.out_last_line_bytes = last_line.last();
  return result;
}

}  // namespace hpo::worker
