// hpo-bench-load: prints, side by side and in one run, the committed trial cycles per second of a real
// hpo-coordinator under N simulated workers, the same cycles against a server that answers at once (the
// ceiling), Optuna's ask/tell rate in one process and in several where it is installed, and what N idle
// long-polling workers cost the coordinator. See bench.h.
//
//   hpo-bench-load [--quick] [--json] [--workers N[,N...]] [--trials T] [--idle N[,N...]]
//                  [--optuna-processes P] [--optuna-storage sqlite,journal]
//                  [--section load|idle|all] [--coordinator PATH] [--optuna-script PATH] [--python PATH]
//
// The coordinator is started as a child process (found beside this program unless --coordinator says
// otherwise), on a fresh SQLite file in a scratch folder under --dir that is removed at the end unless
// --keep. Exit status: 0 when every section ran and every check held, 1 when one did not (the error on
// stderr and in the row's check column), 2 for bad options. The figures are never judged here: a
// benchmark prints, tests assert.
#include <sched.h>
#include <stdlib.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "base/host.h"
#include "bench/load/bench.h"
#include "bench/load/driver.h"
#include "bench/load/optuna_peer.h"

namespace {

// The CPUs this process may run on.
int UsableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// This program's own file.
std::string Me() {
  std::error_code error;
  const std::filesystem::path me = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string() : me.string();
}

// hpo-coordinator beside this program's own file.
std::string CoordinatorBesideMe() {
  const std::string me = Me();
  if (me.empty()) return "hpo-coordinator";
  return (std::filesystem::path(me).parent_path() / "hpo-coordinator").string();
}

// The kind of file system `path` is on, as far as the databases' durability is concerned.
std::string FileSystemKind(const std::string& path) {
  struct statfs fs {};
  if (statfs(path.c_str(), &fs) != 0) return "unknown";
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0xEF53:
      return "ext4";
    case 0x01021994:
      return "tmpfs: fsync costs nothing";
    case 0x794c7630:
      return "overlayfs";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    default:
      return "other";
  }
}

}  // namespace

int main(int argc, char** argv) {
  hpo::bench::LoadBenchOptions options;
  std::string section = "all";
  std::string optuna_script = HPO_BENCH_OPTUNA_SCRIPT;
  std::string python = "/usr/bin/python3";
  std::string dir_parent = std::getenv("TMPDIR") != nullptr ? std::getenv("TMPDIR") : "/tmp";
  bool keep = false;
  bool serve_trivial = false;
  std::string port_file;
  options.coordinator = CoordinatorBesideMe();
  options.self = Me();
  options.optuna_processes = UsableCores();
  CLI::App app{"hpo-bench-load: a real coordinator under N simulated workers, beside its ceiling and Optuna"};
  app.add_flag("--quick", options.quick,
               "a short run (about a minute): 1000 trials, 100 Optuna trials, idle 16,64 for 2 s");
  app.add_flag("--json", options.json, "one JSON object per row, with named fields, instead of tables");
  app.add_option("--workers", options.workers,
                 "simulated worker counts, one row each (default 1, the usable cores, 64)")
      ->delimiter(',')
      ->check(CLI::Range(1, 4096));
  app.add_option("--trials", options.trials, "trials per study (default 5000; 1000 with --quick)")
      ->check(CLI::Range(1u, 1'000'000u));
  app.add_option("--wait-ms", options.wait_ms, "the workers' AcquireTrial long-poll wait")
      ->capture_default_str()
      ->check(CLI::Range(1u, 60'000u));
  app.add_option("--idle", options.idle_workers,
                 "idle long-polling worker counts, one row each (default 64,512; 16,64 with --quick)")
      ->delimiter(',')
      ->check(CLI::Range(1, 8192));
  app.add_option("--idle-seconds", options.idle_s,
                 "how long the idle workers stay parked (default 5; 2 with --quick)")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--optuna-trials", options.optuna_trials,
                 "Optuna's trials (default: as many as --trials, like for like; 100 with --quick)")
      ->check(CLI::Range(1, 100'000));
  app.add_option("--optuna-processes", options.optuna_processes,
                 "the most Optuna processes sharing one study (default: the usable cores)")
      ->check(CLI::Range(1, 256));
  app.add_option("--optuna-storage", options.optuna_storages,
                 "Optuna's storages, each run in one process and in --optuna-processes (default "
                 "sqlite,journal)")
      ->delimiter(',')
      ->check(CLI::IsMember({"sqlite", "journal"}));
  app.add_option("--paced", options.paced,
                 "shares of the largest worker count's closed-loop rate to offer in the paced rows "
                 "(default 0.25,0.5,0.75; 0.5 with --quick; 0: none)")
      ->delimiter(',')
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--algorithm", options.algorithm,
                 "the studies' algorithm: nsga2 (steady state) or gp (the model-based sampler, fits in the "
                 "background)")
      ->check(CLI::IsMember({"nsga2", "gp"}))
      ->capture_default_str();
  app.add_option("--timeout", options.timeout_s,
                 "a study not finished after this many seconds is an error row")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 86'400.0));
  app.add_option("--section", section, "run one part only")
      ->check(CLI::IsMember({"all", "load", "idle"}))
      ->capture_default_str();
  app.add_option("--coordinator", options.coordinator, "the hpo-coordinator to start")->capture_default_str();
  app.add_option("--optuna-script", optuna_script, "Optuna's side (optuna_asktell.py)")
      ->capture_default_str();
  app.add_option("--python", python,
                 "the Python that runs it (Debian's python3-optuna lives in /usr/bin/python3)")
      ->capture_default_str();
  app.add_option("--dir", dir_parent, "where the run's scratch folder (databases, logs) is made")
      ->capture_default_str();
  app.add_flag("--keep", keep, "keep the scratch folder (the coordinators' databases and logs)");
  // The ceiling's server, started by this program as a child of its own (see driver.h).
  app.add_flag("--serve-trivial", serve_trivial)->group("");
  app.add_option("--port-file", port_file)->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "hpo-bench-load: %s (see --help)\n", e.what());
    return 2;
  }
  if (serve_trivial) {
    if (port_file.empty()) {
      std::fprintf(stderr, "hpo-bench-load: --serve-trivial needs --port-file\n");
      return 2;
    }
    return hpo::bench::ServeTrivial(port_file);
  }
  if (options.self.empty()) {
    std::fprintf(stderr, "hpo-bench-load: cannot read /proc/self/exe (the ceiling runs this program)\n");
    return 2;
  }
  if (options.workers.empty()) {
    // One worker against Optuna's one process, as many as the machine has cores against as many Optuna
    // processes, and 64 sharing group commits.
    options.workers = {1, options.optuna_processes, 64};
    std::sort(options.workers.begin(), options.workers.end());
    options.workers.erase(std::unique(options.workers.begin(), options.workers.end()), options.workers.end());
  }
  if (options.idle_workers.empty())
    options.idle_workers = options.quick ? std::vector<int>{16, 64} : std::vector<int>{64, 512};
  if (access(options.coordinator.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "hpo-bench-load: no hpo-coordinator at %s (build it, or pass --coordinator)\n",
                 options.coordinator.c_str());
    return 2;
  }
  std::string scratch_template = dir_parent + "/hpo-bench-load.XXXXXX";
  if (mkdtemp(scratch_template.data()) == nullptr) {
    std::fprintf(stderr, "hpo-bench-load: cannot make a scratch folder under %s\n", dir_parent.c_str());
    return 2;
  }
  options.scratch = scratch_template;

  const hpo::bench::OptunaPeer optuna = hpo::bench::OptunaPeer::Probe(python, optuna_script);
  options.optuna = &optuna;
  const std::string peer =
      optuna.available() ? "Optuna " + optuna.version() + " (" + optuna.python() + ")"
                         : "Optuna: not installed (apt install python3-optuna, or deploy/install-deps.sh "
                           "--peers)";
  const std::string scratch_fs = FileSystemKind(options.scratch);

  const hpo::bench::Reporter reporter(options.json);
  if (options.json) {
    const hpo::bench::LoadAverage load = hpo::bench::ReadLoadAverage();
    hpo::bench::Table host(reporter, "host", "host", "",
                           {{"mode", "mode"},
                            {"cpu", "cpu"},
                            {"cores", "cores"},
                            {"load1", "load1"},
                            {"load5", "load5"},
                            {"load15", "load15"},
                            {"coordinator", "coordinator"},
                            {"scratch", "scratch"},
                            {"scratch_fs", "scratch_fs"},
                            {"channels", "channels"},
                            {"optuna", "optuna"}});
    host.Add({options.quick ? "quick" : "full", hpo::CpuModelName(), int64_t{UsableCores()}, load.one,
              load.five, load.fifteen, options.coordinator, options.scratch, scratch_fs, "one per worker",
              optuna.available() ? hpo::bench::Value{optuna.version()} : hpo::bench::Value{}});
    if (!optuna.available()) reporter.Note("host", peer);
  } else {
    std::printf(
        "hpo-bench-load (%s)\ncpu: %s (%d usable cores, shared by the coordinator, the simulated workers and "
        "the ceiling's server)\nload average: %s\ncoordinator: %s\nscratch: %s (%s)\nworkers: one thread, "
        "one "
        "gRPC channel and one TCP connection each, blocking stubs, loopback\n%s\n",
        options.quick ? "--quick" : "full", hpo::CpuModelName().c_str(), UsableCores(),
        hpo::bench::LoadAverageText().c_str(), options.coordinator.c_str(), options.scratch.c_str(),
        scratch_fs.c_str(), peer.c_str());
  }

  struct Part {
    const char* name;
    std::function<hpo::Status(const hpo::bench::LoadBenchOptions&, const hpo::bench::Reporter&)> run;
  };
  const std::vector<Part> parts = {{"load", hpo::bench::RunLoadSection},
                                   {"idle", hpo::bench::RunIdleSection}};
  int failures = 0;
  for (const Part& part : parts) {
    if (section != "all" && section != part.name) continue;
    const hpo::bench::Stopwatch watch;
    const hpo::Status status = part.run(options, reporter);
    if (!status.ok()) {
      ++failures;
      std::fprintf(stderr, "hpo-bench-load: section %s failed: %s\n", part.name, status.ToString().c_str());
    }
    char line[256];
    std::snprintf(line, sizeof line, "[%s: %.1f s wall, %.1f s cpu in this process; load average now %s]",
                  part.name, watch.WallSeconds(), watch.CpuSeconds(), hpo::bench::LoadAverageText().c_str());
    reporter.Note(part.name, line);
  }
  if (keep) {
    reporter.Note("host", "kept " + options.scratch);
  } else {
    std::error_code error;
    std::filesystem::remove_all(options.scratch, error);
  }
  return failures == 0 ? 0 : 1;
}
