#include "bench/load/coordinator_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "bench/common/child.h"

extern char** environ;

namespace hpo::bench {
namespace {

using Clock = std::chrono::steady_clock;

// The number after "<key>:" in /proc/<pid>/status's text, or -1.
double StatusField(const std::string& text, const std::string& key) {
  const std::string needle = "\n" + key + ":";
  const size_t at = ("\n" + text).find(needle);
  if (at == std::string::npos) return -1;
  std::istringstream in(text.substr(at + key.size() + 1));
  double value = -1;
  return in >> value ? value : -1;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Waits up to `seconds` for `pid` to end; its wait status, or nullopt when it is still running.
std::optional<int> WaitFor(pid_t pid, double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    int wait_status = 0;
    const pid_t done = waitpid(pid, &wait_status, WNOHANG);
    if (done == pid) return wait_status;
    if (done < 0 && errno != EINTR) return -1;  // not our child any more: nothing to wait for
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string DescribeExit(int wait_status) {
  if (WIFEXITED(wait_status)) return "exit status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return std::string("signal ") + strsignal(WTERMSIG(wait_status));
  return "wait status " + std::to_string(wait_status);
}

}  // namespace

ProcStatus ReadProcStatus(pid_t pid) {
  ProcStatus s;
  const std::string base = "/proc/" + std::to_string(pid);
  const std::string status = ReadAll(base + "/status");
  if (!status.empty()) {
    const double rss = StatusField(status, "VmRSS");
    const double hwm = StatusField(status, "VmHWM");
    const double threads = StatusField(status, "Threads");
    if (rss >= 0) s.rss_mib = rss / 1024.0;
    if (hwm >= 0) s.hwm_mib = hwm / 1024.0;
    if (threads >= 0) s.threads = static_cast<int>(threads);
  }
  // /proc/<pid>/stat: "pid (comm) state ppid ...": utime and stime are fields 14 and 15, that is the
  // 12th and 13th after the closing parenthesis of comm (which may itself hold spaces).
  const std::string stat = ReadAll(base + "/stat");
  const size_t paren = stat.rfind(')');
  if (paren != std::string::npos) {
    std::istringstream in(stat.substr(paren + 1));
    std::string field;
    double utime = -1, stime = -1;
    for (int i = 1; i <= 13 && in >> field; ++i) {
      if (i == 12) utime = std::atof(field.c_str());
      if (i == 13) stime = std::atof(field.c_str());
    }
    if (utime >= 0 && stime >= 0) s.cpu_s = (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return s;
}

Result<std::unique_ptr<CoordinatorProcess>> CoordinatorProcess::Start(const CoordinatorOptions& options) {
  const std::string port_file = options.dir + "/coordinator.port";
  const std::string log_file = options.dir + "/coordinator.log";
  std::remove(port_file.c_str());
  std::vector<std::string> argv_text = {options.binary,
                                        "--listen",
                                        "127.0.0.1:0",
                                        "--port-file",
                                        port_file,
                                        "--db",
                                        options.dir + "/" + options.db_name,
                                        "--heartbeat-ms",
                                        std::to_string(options.heartbeat_ms)};
  if (!options.command.empty()) {
    argv_text = options.command;
    argv_text.insert(argv_text.end(), {"--port-file", port_file});
  }
  HPO_ASSIGN_OR_RETURN(const int pid, SpawnDaemon(argv_text, log_file));
  std::unique_ptr<CoordinatorProcess> process(new CoordinatorProcess(options, pid));

  const auto deadline = Clock::now() + std::chrono::duration<double>(options.start_timeout_s);
  while (process->port_ == 0) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) {
      process->port_ = port;
      break;
    }
    if (const std::optional<int> ended = WaitFor(pid, 0.02)) {
      process->pid_ = -1;
      return UnavailableError(options.binary + " ended (" + DescribeExit(*ended) +
                              ") before listening; its log:\n" + process->LogTail());
    }
    if (Clock::now() >= deadline) {
      const std::string tail = process->LogTail();
      (void)process->Stop();
      return UnavailableError(options.binary + " wrote no port file within " +
                              std::to_string(options.start_timeout_s) + " s; its log:\n" + tail);
    }
  }
  return process;
}

CoordinatorProcess::~CoordinatorProcess() {
  if (pid_ > 0) (void)Stop();
}

std::string CoordinatorProcess::LogTail(size_t bytes) const {
  const std::string log = ReadAll(options_.dir + "/coordinator.log");
  return log.size() <= bytes ? log : "..." + log.substr(log.size() - bytes);
}

Status CoordinatorProcess::Stop() {
  if (pid_ <= 0) return Status::Ok();
  const pid_t pid = std::exchange(pid_, -1);
  kill(pid, SIGTERM);
  std::optional<int> ended = WaitFor(pid, 5.0);
  if (!ended) {
    kill(pid, SIGKILL);
    ended = WaitFor(pid, 5.0);
    return InternalError("the coordinator did not stop within 5 s of SIGTERM (killed); its log:\n" +
                         LogTail());
  }
  if (!WIFEXITED(*ended) || WEXITSTATUS(*ended) != 0) {
    return InternalError("the coordinator ended with " + DescribeExit(*ended) + "; its log:\n" + LogTail());
  }
  return Status::Ok();
}

ProcSampler::ProcSampler(pid_t pid, int period_ms) : pid_(pid) {
  Sample();
  thread_ = std::thread([this, period_ms] {
    std::unique_lock lock(mu_);
    while (!wake_.wait_for(lock, std::chrono::milliseconds(period_ms), [this] { return stop_; })) {
      lock.unlock();
      Sample();
      lock.lock();
    }
  });
}

ProcSampler::~ProcSampler() { Finish(); }

void ProcSampler::Sample() {
  const ProcStatus s = ReadProcStatus(pid_);
  std::lock_guard lock(mu_);
  if (s.rss_mib > peaks_.rss_mib) peaks_.rss_mib = s.rss_mib;
  if (s.threads > peaks_.threads) peaks_.threads = s.threads;
  ++peaks_.samples;
}

ProcSampler::Peaks ProcSampler::Finish() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    Sample();
  }
  std::lock_guard lock(mu_);
  return peaks_;
}

}  // namespace hpo::bench
