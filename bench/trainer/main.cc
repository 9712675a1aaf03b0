// hpo-bench-trainer: prints, side by side and in one run, the trainer's training-step throughput, the
// share of the step spent in its GEMMs, batch-1 latency and Fashion-MNIST accuracy in fp32, bf16 and fp16,
// and the CNN, ViT and language-model families' throughput, latency and accuracy (arch, arch-accuracy),
// against PyTorch where it is installed. See bench.h.
//
//   hpo-bench-trainer [--quick] [--json] [--threads N] [--device cpu|cuda|auto]
//                     [--section step|gemm|latency|accuracy|arch|arch-accuracy|all] [--torch-script PATH]
//                     [--python PATH]
//
// Exit status: 0 when every section ran, 1 when one failed (its error on stderr), 2 for bad options. The
// figures are never judged here: a benchmark prints, tests assert.
#include <sched.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/host.h"
#include "bench/trainer/bench.h"
#include "bench/trainer/torch_peer.h"

namespace {

// The CPUs this process may run on.
int UsableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// User + system CPU seconds of this process's waited-for children (PyTorch's side).
double ChildrenCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

}  // namespace

int main(int argc, char** argv) {
  hpo::bench::TrainerBenchOptions options;
  options.threads = UsableCores();
  std::string section = "all";
  std::string device = "auto";
  std::string torch_script = HPO_BENCH_TORCH_SCRIPT;
  std::string python = "/usr/bin/python3";
  CLI::App app{
      "hpo-bench-trainer: training step, GEMMs, latency and accuracy of the trainer, beside PyTorch"};
  app.add_flag("--quick", options.quick, "a short run (seconds): fewer repeats, no accuracy section");
  app.add_flag("--json", options.json, "one JSON object per row, with named fields, instead of tables");
  app.add_option("--threads", options.threads,
                 "CPU threads of the backend and of PyTorch (default: all cores)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--device", device, "the backend")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--section", section, "run one part only")
      ->check(CLI::IsMember({"all", "step", "gemm", "latency", "accuracy", "arch", "arch-accuracy"}))
      ->capture_default_str();
  app.add_option("--torch-script", torch_script, "PyTorch's side (torch_step.py; torch_arch.py beside it)")
      ->capture_default_str();
  app.add_option("--python", python,
                 "the Python that runs it (Debian's python3-torch lives in /usr/bin/python3)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "hpo-bench-trainer: %s (see --help)\n", e.what());
    return 2;
  }
  options.device = *hpo::kernels::ParseBackendKind(device);

  std::string device_name;
  bool gpu = false;
  {
    auto backend = hpo::bench::MakeBenchBackend(options, options.threads);
    if (!backend.ok()) {
      std::fprintf(stderr, "hpo-bench-trainer: no backend: %s\n", backend.status().ToString().c_str());
      return 1;
    }
    device_name = (*backend)->DeviceName();
    gpu = (*backend)->kind() == hpo::kernels::BackendKind::kCuda;
  }
  hpo::bench::TorchPeer torch = hpo::bench::TorchPeer::Probe(
      {.python = python, .script = torch_script, .threads = options.threads, .device = gpu ? "cuda" : "cpu"});
  options.torch = &torch;
  const std::string peer =
      torch.available()
          ? "PyTorch " + torch.version() + " (" + torch.options().python + ", warmed up, " +
                std::to_string(options.threads) + " threads, " + torch.options().device +
                "; OMP_WAIT_POLICY=" +
                (std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "unset") +
                " for both sides)"
          : "PyTorch: not installed (apt install python3-torch, or deploy/install-deps.sh --peers)";

  const hpo::bench::Reporter reporter(options.json);
  if (options.json) {
    const hpo::bench::LoadAverage load = hpo::bench::ReadLoadAverage();
    hpo::bench::Table host(reporter, "host", "host", "",
                           {{"mode", "mode"},
                            {"cpu", "cpu"},
                            {"device", "device"},
                            {"threads", "threads"},
                            {"load1", "load1"},
                            {"load5", "load5"},
                            {"load15", "load15"},
                            {"torch", "torch"}});
    host.Add({options.quick ? "quick" : "full", hpo::CpuModelName(), device_name, int64_t{options.threads},
              load.one, load.five, load.fifteen,
              torch.available() ? hpo::bench::Value{torch.version()} : hpo::bench::Value{}});
  } else {
    std::printf("hpo-bench-trainer (%s)\ncpu: %s\ndevice: %s\nthreads: %d\nload average: %s\n%s\n",
                options.quick ? "--quick" : "full", hpo::CpuModelName().c_str(), device_name.c_str(),
                options.threads, hpo::bench::LoadAverageText().c_str(), peer.c_str());
  }
  if (options.json && !torch.available()) reporter.Note("host", peer);

  struct Part {
    const char* name;
    std::function<hpo::Status()> run;
  };
  const bool all = section == "all";
  const std::vector<Part> parts = {
      {"step",
       [&] {
         return hpo::bench::RunStepSection(options, reporter, /*step_table=*/all || section == "step",
                                           /*gemm_table=*/all || section == "gemm");
       }},
      {"latency", [&] { return hpo::bench::RunLatencySection(options, reporter); }},
      {"accuracy", [&] { return hpo::bench::RunAccuracySection(options, reporter); }},
      {"arch", [&] { return hpo::bench::RunArchSection(options, reporter); }},
      {"arch-accuracy", [&] { return hpo::bench::RunArchAccuracySection(options, reporter); }}};
  int failures = 0;
  for (const Part& part : parts) {
    const bool wanted =
        all || section == part.name || (section == "gemm" && std::string(part.name) == "step");
    if (!wanted) continue;
    const hpo::bench::Stopwatch watch;
    const double busy_start = hpo::bench::MachineBusySeconds();
    const double children_start = ChildrenCpuSeconds();
    const hpo::Status status = part.run();
    const double ours = watch.CpuSeconds() + ChildrenCpuSeconds() - children_start;
    const double others =
        busy_start < 0 ? -1 : (hpo::bench::MachineBusySeconds() - busy_start - ours) / watch.WallSeconds();
    if (!status.ok()) {
      ++failures;
      std::fprintf(stderr, "hpo-bench-trainer: section %s failed: %s\n", part.name,
                   status.ToString().c_str());
    }
    // Other processes' CPU use shows whether the figures were measured on a quiet machine.
    char line[320];
    std::snprintf(line, sizeof line,
                  "[%s: %.1f s wall, %.1f s cpu (PyTorch's included); other processes used %.2f CPUs "
                  "meanwhile; load average now %s]",
                  part.name, watch.WallSeconds(), ours, std::max(others, 0.0),
                  hpo::bench::LoadAverageText().c_str());
    reporter.Note(part.name, line);
  }
  return failures == 0 ? 0 : 1;
}
