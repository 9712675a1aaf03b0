#include "worker/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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

// Owns posix_spawn's attribute and file-action objects.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  bool actions_ok = false;
  bool attr_ok = false;
  ~SpawnSetup() {
    if (actions_ok) posix_spawn_file_actions_destroy(&actions);
    if (attr_ok) posix_spawnattr_destroy(&attr);
  }
};

// Variables a trial never sees: the worker's credentials stay with the worker.
constexpr std::string_view kNeverInherited[] = {"HPO_TOKEN="};

// The parent's environment with `overrides` applied ("NAME=value" strings).
std::vector<std::string> ChildEnvironment(const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    bool replaced = false;
    for (std::string_view secret : kNeverInherited) replaced |= entry.substr(0, secret.size()) == secret;
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

// Reads what is available on `*fd` (non-blocking), passing it to `lines` when given; closes it and sets
// it to -1 at EOF.
Status Drain(int* fd, std::string* buffer, size_t max, bool* truncated, LineSplitter* lines = nullptr) {
  char chunk[64 * 1024];
  while (*fd >= 0) {
    const ssize_t n = read(*fd, chunk, sizeof(chunk));
    if (n > 0) {
      AppendTail(buffer, chunk, static_cast<size_t>(n), max, truncated);
      if (lines != nullptr) lines->Add(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      CloseFd(fd);
      if (lines != nullptr) lines->Finish();
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

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const std::vector<std::string>& argv,
                                                          const ChildOptions& options) {
  if (argv.empty() || argv[0].empty()) return InvalidArgumentError("child process: empty argv");
  const std::string& program = argv[0];

  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return InternalError("pipe: " + ErrnoText(errno));
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    const int err = errno;
    CloseFd(&out_pipe[0]);
    CloseFd(&out_pipe[1]);
    return InternalError("pipe: " + ErrnoText(err));
  }
  auto close_all = [&] {
    for (int* fd : {&out_pipe[0], &out_pipe[1], &err_pipe[0], &err_pipe[1]}) CloseFd(fd);
  };

  SpawnSetup setup;
  int rc = posix_spawn_file_actions_init(&setup.actions);
  setup.actions_ok = rc == 0;
  if (rc == 0) rc = posix_spawnattr_init(&setup.attr);
  setup.attr_ok = setup.actions_ok && rc == 0;
  // dup2 clears FD_CLOEXEC on the new descriptors 1 and 2; closefrom(3) drops every other inherited one.
  if (rc == 0) rc = posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&setup.actions, out_pipe[1], 1);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&setup.actions, err_pipe[1], 2);
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  sigset_t empty_mask;
  sigset_t all_signals;
  sigemptyset(&empty_mask);
  sigfillset(&all_signals);
  if (rc == 0) rc = posix_spawnattr_setsigmask(&setup.attr, &empty_mask);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&setup.attr, &all_signals);
  if (rc == 0) rc = posix_spawnattr_setpgroup(&setup.attr, 0);
  if (rc == 0) {
    rc = posix_spawnattr_setflags(&setup.attr,
                                  POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  if (rc != 0) {
    close_all();
    return InternalError("preparing to start " + program + ": " + ErrnoText(rc));
  }

  std::vector<std::string> args = argv;
  std::vector<std::string> env = ChildEnvironment(options.env);
  std::vector<char*> c_args = CStrings(args);
  std::vector<char*> c_env = CStrings(env);
  pid_t pid = -1;
  rc = options.search_path
           ? posix_spawnp(&pid, program.c_str(), &setup.actions, &setup.attr, c_args.data(), c_env.data())
           : posix_spawn(&pid, program.c_str(), &setup.actions, &setup.attr, c_args.data(), c_env.data());
  CloseFd(&out_pipe[1]);
  CloseFd(&err_pipe[1]);
  if (rc != 0) {
    close_all();
    const std::string message = "cannot start " + program + ": " + ErrnoText(rc);
    if (rc == ENOENT) return NotFoundError(message);
    if (rc == EACCES || rc == EPERM) return FailedPreconditionError(message);
    return InternalError(message);
  }
  for (int fd : {out_pipe[0], err_pipe[0]}) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, out_pipe[0], err_pipe[0], options));
}

ChildProcess::ChildProcess(pid_t pid, int out_fd, int err_fd, ChildOptions options)
    : pid_(pid), options_(std::move(options)), start_(SteadyClock::now()), out_fd_(out_fd), err_fd_(err_fd) {}

ChildProcess::~ChildProcess() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!reaped_) {
      kill(-pid_, SIGKILL);
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      reaped_ = true;
    }
  }
  CloseFd(&out_fd_);
  CloseFd(&err_fd_);
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
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
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
    Status status = Drain(&out_fd_, &result.out, max, &result.out_truncated, &lines);
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
  return result;
}

}  // namespace hpo::worker
