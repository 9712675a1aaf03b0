// hpo-worker: the worker daemon. Registers with the coordinator and runs its trials, `--slots` at once,
// each builtin trial as a child `hpo-train`, each command trial as the study's own program (relative
// paths resolve against this daemon's working directory). SIGINT/SIGTERM: stop acquiring, kill running
// children, fail their trials with "worker stopped", exit 0.
//
// Credentials: give it the coordinator's worker token (--token-file), never the user token: a trial runs
// as this daemon's user unless told otherwise, and may read what this user can. No trial sees this
// daemon's token, its environment variables that hold or name one (worker/child_process.h), or its memory
// (the daemon is not dumpable). --trial-user runs trials as another user, which cannot read the worker's
// token file at all (README.md "Security").
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include "base/credentials.h"
#include "base/host.h"
#include "base/strings.h"
#include "worker/worker.h"

namespace {

// hpo-train beside this executable, or "" when /proc/self/exe cannot be read.
std::string DefaultTrainBinary() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return (self.parent_path() / "hpo-train").string();
}

// "cpu: <model> (<n> threads)", plus the NVIDIA GPUs the driver lists.
std::string DescribeDevice() {
  std::string device = "cpu: " + hpo::CpuModelName() + " (" +
                       std::to_string(std::thread::hardware_concurrency()) + " threads)";
  std::error_code ec;
  size_t gpus = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/driver/nvidia/gpus", ec)) {
    (void)entry;
    ++gpus;
  }
  if (gpus > 0) device += "; " + std::to_string(gpus) + " nvidia gpu(s)";
  return device;
}

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    const std::string_view trimmed = hpo::Trim(part);
    if (!trimmed.empty()) parts.emplace_back(trimmed);
  }
  return parts;
}

}  // namespace

int main(int argc, char** argv) {
  // Not dumpable: a trial running as this user cannot read /proc/<this pid>/environ or /mem (where
  // $HPO_TOKEN and the token are), attach a debugger, or get a core dump holding the token. A trial's
  // execve makes it dumpable again; the guard processes, forks of this one, stay as this one is.
  if (prctl(PR_SET_DUMPABLE, 0) != 0) {
    std::fprintf(stderr, "hpo-worker: prctl(PR_SET_DUMPABLE, 0): %s\n", std::strerror(errno));
    return 1;
  }
  // Every thread (gRPC's included) inherits this mask; one thread takes the signals with sigtimedwait.
  // Children get an empty mask and default actions (ChildProcess).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{"hpo-worker: runs the trials of an hpo coordinator"};
  // As hpoctl: the flag, else HPO_COORDINATOR, else the coordinator's default listen address.
  const char* coordinator_env = std::getenv("HPO_COORDINATOR");
  std::string coordinator =
      coordinator_env != nullptr && *coordinator_env != '\0' ? coordinator_env : "127.0.0.1:50051";
  uint32_t slots = 1;
  std::string name;
  std::string train_binary;
  std::string data_dir;
  uint32_t threads = 0;
  uint32_t wait_ms = 5000;
  std::string device;
  std::string gpus;
  std::string token_file;
  std::string tls_ca;
  uint32_t kill_grace_ms = 5000;
  uint32_t stop_grace_ms = 300;
  std::vector<std::string> label_flags;
  std::string trial_user;
  app.add_option("--coordinator", coordinator,
                 "coordinator address (default: $HPO_COORDINATOR, else 127.0.0.1:50051)")
      ->capture_default_str();
  app.add_option("--slots", slots, "trials run at once")->check(CLI::Range(1u, 1024u));
  app.add_option("--name", name, "worker name (default: hostname-pid)");
  app.add_option("--train-binary", train_binary, "hpo-train executable (default: beside hpo-worker)");
  app.add_option("--data-dir", data_dir, "passed to hpo-train as --data-dir");
  app.add_option("--threads", threads, "threads per trial (default: max(1, cores / slots))")
      ->check(CLI::Range(1u, 4096u));
  app.add_option("--wait-ms", wait_ms, "long-poll wait of AcquireTrial")->check(CLI::Range(100u, 600'000u));
  app.add_option("--device", device, "device description sent at registration (default: detected)");
  app.add_option("--gpus", gpus, "comma-separated GPU ids; slot i gets CUDA_VISIBLE_DEVICES=ids[i % n]");
  app.add_option("--token-file", token_file,
                 "bearer token file: the coordinator's worker token (--worker-token-file there), which may "
                 "call WorkerService only (default: $HPO_TOKEN when set)");
  app.add_option("--tls-ca", tls_ca, "PEM root certificates: connect with TLS");
  app.add_option("--kill-grace-ms", kill_grace_ms,
                 "between SIGTERM and SIGKILL when a trial is stopped because the worker stops");
  app.add_option("--stop-grace-ms", stop_grace_ms,
                 "between SIGTERM and SIGKILL when the coordinator stops a trial (pruned or taken back)")
      ->capture_default_str();
  app.add_option("--trial-user", trial_user,
                 "run every trial as this user (needs hpo-worker to run as root): then a trial cannot read "
                 "the worker's token file, if only the worker's user can (default: the worker's own user)");
  app.add_option("--label", label_flags,
                 "NAME=VALUE, repeatable: a label matched against a study's worker_selector (the device "
                 "description is offered as the label \"device\" too)")
      ->take_all()
      ->allow_extra_args(false);
  CLI11_PARSE(app, argc, argv);

  hpo::worker::WorkerOptions options;
  options.name = name;
  options.slots = slots;
  options.device = device.empty() ? DescribeDevice() : device;
  options.train_binary = train_binary.empty() ? DefaultTrainBinary() : train_binary;
  options.data_dir = data_dir;
  const uint32_t cores = std::max(1u, std::thread::hardware_concurrency());
  options.threads_per_trial = threads != 0 ? threads : std::max(1u, cores / slots);
  options.slot_gpus = SplitCommas(gpus);
  options.wait_ms = wait_ms;
  options.kill_grace = std::chrono::milliseconds(kill_grace_ms);
  options.stop_grace = std::chrono::milliseconds(stop_grace_ms);
  auto labels = hpo::worker::ParseLabelFlags(label_flags);
  if (!labels.ok()) {
    std::fprintf(stderr, "hpo-worker: %s\n", labels.status().message().c_str());
    return 2;
  }
  options.labels = *std::move(labels);
  if (!trial_user.empty()) {
    auto run_as = hpo::worker::LookUpRunAs(trial_user);
    if (!run_as.ok()) {
      std::fprintf(stderr, "hpo-worker: --trial-user: %s\n", run_as.status().message().c_str());
      return 2;
    }
    if (geteuid() != 0) {
      std::fprintf(
          stderr,
          "hpo-worker: --trial-user %s: hpo-worker must run as root to start trials as another user\n",
          trial_user.c_str());
      return 2;
    }
    options.trial_user = *std::move(run_as);
  }
  auto token = hpo::LoadToken(token_file, std::getenv(hpo::kTokenEnvVar));
  if (!token.ok()) {
    std::fprintf(stderr, "hpo-worker: %s\n", token.status().message().c_str());
    return 2;
  }
  options.auth_token = *token;
  if (access(options.train_binary.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "hpo-worker: warning: trainer %s is not executable; builtin trials will fail\n",
                 options.train_binary.c_str());
  }

  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!tls_ca.empty()) {
    auto roots = hpo::ReadPemFile(tls_ca, "TLS CA file");
    if (!roots.ok()) {
      std::fprintf(stderr, "hpo-worker: %s\n", roots.status().message().c_str());
      return 2;
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *roots;
    credentials = grpc::SslCredentials(ssl);
  }

  hpo::worker::Worker worker(hpo::worker::MakeWorkerChannel(coordinator, credentials), options);
  std::atomic<bool> done{false};
  std::thread signals([&] {
    const timespec tick{0, 200'000'000};
    while (!done.load()) {
      const int sig = sigtimedwait(&stop_signals, nullptr, &tick);
      if (sig == SIGINT || sig == SIGTERM) {
        std::fprintf(stderr, "hpo-worker: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
        worker.Stop();
      }
    }
  });
  const hpo::Status status = worker.Run();
  done = true;
  signals.join();
  if (!status.ok()) {
    std::fprintf(stderr, "hpo-worker: coordinator %s: %s\n", coordinator.c_str(), status.ToString().c_str());
    return 1;
  }
  return 0;
}
