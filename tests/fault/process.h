// Process: a real program run as a child of the test (posix_spawn), for the fault tests that kill,
// stop and restart hpo's daemons. Its stdout and stderr go to one log file; it leads its own process
// group, so that a signal the terminal or ctest sends the test does not reach it, and nothing it starts
// outlives the test by way of the test's group.
//
// Not thread-safe; owned by the test that made it. The destructor kills the child with SIGKILL and reaps
// it if it is still running.
#ifndef HPO_TESTS_FAULT_PROCESS_H_
#define HPO_TESTS_FAULT_PROCESS_H_

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace hpo::fault {

// Polls `done` every 10 ms until it is true (returns true) or `limit` passes (returns false).
inline bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// The whole content of `path`; "" when it cannot be read.
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class Process {
 public:
  // Starts `argv[0]` (a path) with arguments argv[1..], stdout and stderr appended to `log_path`, stdin
  // /dev/null, and the test's environment without HPO_TOKEN plus `env` ("NAME=value" entries). On
  // failure, running() is false and error() says why.
  Process(const std::vector<std::string>& argv, const std::string& log_path,
          const std::vector<std::string>& env = {})
      : log_path_(log_path) {
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::strncmp(*e, "HPO_TOKEN=", 10) != 0) environment.emplace_back(*e);
    }
    environment.insert(environment.end(), env.begin(), env.end());
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (std::string& e : environment) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    sigset_t all;
    sigfillset(&all);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    const int rc = posix_spawn(&pid_, args[0], &actions, &attr, args.data(), envp.data());
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      error_ = "posix_spawn " + argv[0] + ": " + std::strerror(rc);
      pid_ = -1;
    }
  }
  ~Process() {
    if (running()) {
      kill(pid_, SIGCONT);
      kill(pid_, SIGKILL);
      (void)Wait(std::chrono::seconds(10));
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& error() const { return error_; }
  // True from a successful start until Wait() reaps the child.
  bool running() const { return pid_ > 0 && !status_.has_value(); }
  // What the child wrote so far.
  std::string Log() const { return ReadFile(log_path_); }

  // Sends `sig` to the child; false when it is not running.
  bool Signal(int sig) const { return running() && kill(pid_, sig) == 0; }

  // Waits up to `limit` for the child to end and reaps it. Returns its wait status (as waitpid fills
  // it in), or nullopt while it still runs. Once reaped, returns the same status again.
  std::optional<int> Wait(std::chrono::milliseconds limit) {
    if (status_.has_value() || pid_ <= 0) return status_;
    WaitFor(
        [&] {
          int status = 0;
          const pid_t got = waitpid(pid_, &status, WNOHANG);
          if (got == pid_) status_ = status;
          if (got < 0) status_ = -1;  // not our child any more (cannot happen: only Wait reaps it)
          return got != 0;
        },
        limit);
    return status_;
  }

  // The exit code after a normal exit; -1 while running, -(signal number) after a death by signal.
  static int ExitCode(int wait_status) {
    if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) return -WTERMSIG(wait_status);
    return -1;
  }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  std::string error_;
  std::optional<int> status_;
};

}  // namespace hpo::fault

#endif  // HPO_TESTS_FAULT_PROCESS_H_
