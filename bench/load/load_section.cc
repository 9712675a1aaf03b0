// The load section: committed trial cycles per second of a real coordinator under N simulated workers,
// beside the ceiling (the same cycles against a server that answers at once) and Optuna's ask/tell rate in
// one process and in several. See bench.h.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/strings.h"
#include "bench/common/rpc.h"
#include "bench/load/bench.h"
#include "bench/load/coordinator_process.h"
#include "bench/load/driver.h"
#include "hpo/v1/service.grpc.pb.h"

namespace hpo::bench {
namespace {

constexpr uint32_t kPopulation = 50;  // Optuna's NSGAIISampler default, on both sides
constexpr int kOptunaTries = 3;       // runs of one Optuna configuration before it is left out

// The study every row runs: ZDT1 on x1..x4 (the coordinator fills the parameters in), f1 and f2
// minimised, NSGA-II steady state by default (a steady-state NSGA-II always has a trial for an idle
// worker, so the figures measure the service, not a generation barrier; --algorithm gp: the model-based
// sampler, whose fits then run beside the load), every worker running at once, leases long enough that
// none expires.
v1::StudySpec LoadStudy(int workers, uint32_t trials, const std::string& algorithm) {
  v1::StudySpec spec;
  spec.set_name("hpo-bench-load-" + std::to_string(workers));
  for (const char* name : {"f1", "f2"}) {
    v1::Objective* objective = spec.add_objectives();
    objective->set_name(name);
    objective->set_direction(v1::MINIMIZE);
  }
  if (algorithm == "gp") {
    // The model-based sampler, its fits on the coordinator's fitting thread: the rows show whether they
    // cost the workers anything.
    spec.mutable_algorithm()->mutable_gp();
  } else {
    v1::Nsga2* nsga2 = spec.mutable_algorithm()->mutable_nsga2();
    nsga2->set_population(kPopulation);
    nsga2->set_mode(v1::Nsga2::STEADY_STATE);
  }
  spec.mutable_budget()->set_max_trials(trials);
  spec.mutable_budget()->set_max_parallel(static_cast<uint32_t>(workers));
  spec.mutable_budget()->set_lease_seconds(600);
  spec.mutable_task()->mutable_synthetic()->set_function("zdt1");
  spec.mutable_task()->mutable_synthetic()->set_dims(4);
  spec.set_seed(1);
  return spec;
}

// What the store holds at the end of a row.
struct StudyCheck {
  uint64_t trials = 0;
  uint64_t completed = 0;
  std::string state;
};

Result<StudyCheck> CheckStudy(v1::StudyService::Stub& stub, uint64_t study_id) {
  StudyCheck check;
  v1::ListTrialsRequest list;
  list.set_study_id(study_id);
  v1::ListTrialsResponse trials;
  HPO_RETURN_IF_ERROR(RpcStatus("ListTrials", stub.ListTrials(RpcContext().get(), list, &trials)));
  check.trials = static_cast<uint64_t>(trials.trials_size());
  for (const v1::Trial& t : trials.trials()) check.completed += t.state() == v1::TRIAL_COMPLETED;
  v1::GetStudyRequest get;
  get.set_study_id(study_id);
  v1::Study study;
  HPO_RETURN_IF_ERROR(RpcStatus("GetStudy", stub.GetStudy(RpcContext().get(), get, &study)));
  check.state = v1::StudyState_Name(study.state());
  return check;
}

// One study run through a fresh coordinator: the workers' figures, what the store holds at the end and
// the coordinator process's figures around the timed window.
struct StudyRun {
  LoadFigures load;
  Result<StudyCheck> check = Status::Ok();
  ProcStatus launch;                      // just started
  ProcStatus start;                       // the workers connected and registered, about to start
  ProcStatus end;                         // the last completion acknowledged
  ProcSampler::Peaks peaks;               // sampled every 50 ms while the workers ran
  double hwm_mib = -1;                    // VmHWM once the workers ended
  double busy_start = -1, busy_end = -1;  // the whole machine's CPU seconds at start and end
  Status stopped;                         // the coordinator's exit
};

Result<StudyRun> RunStudy(const LoadBenchOptions& options, int workers, uint32_t trials, double pace_per_s,
                          const std::string& dir) {
  mkdir(dir.c_str(), 0755);
  HPO_ASSIGN_OR_RETURN(std::unique_ptr<CoordinatorProcess> coordinator,
                       CoordinatorProcess::Start({.binary = options.coordinator, .dir = dir}));
  StudyRun run;
  run.launch = coordinator->Status();
  const auto study_stub = v1::StudyService::NewStub(MakeChannel(coordinator->address()));
  v1::CreateStudyRequest create;
  *create.mutable_spec() = LoadStudy(workers, trials, options.algorithm);
  v1::Study study;
  HPO_RETURN_IF_ERROR(RpcStatus("CreateStudy", study_stub->CreateStudy(RpcContext().get(), create, &study)));

  ProcSampler sampler(coordinator->pid(), 50);
  Result<LoadFigures> load = RunLoad({.address = coordinator->address(),
                                      .workers = workers,
                                      .trials = trials,
                                      .wait_ms = options.wait_ms,
                                      .function = "zdt1",
                                      .dims = 4,
                                      .timeout_s = options.timeout_s,
                                      .pace_per_s = pace_per_s,
                                      .on_start =
                                          [&] {
                                            run.start = coordinator->Status();
                                            run.busy_start = MachineBusySeconds();
                                          },
                                      .on_end =
                                          [&] {
                                            run.end = coordinator->Status();
                                            run.busy_end = MachineBusySeconds();
                                          }});
  run.peaks = sampler.Finish();
  run.hwm_mib = coordinator->Status().hwm_mib;
  HPO_RETURN_IF_ERROR(load.status());
  run.load = std::move(*load);
  run.check = CheckStudy(*study_stub, study.id());
  run.stopped = coordinator->Stop();
  return run;
}

// A run's verdict: exactly `trials` trials completed, the study COMPLETED, no call failed; else what went
// wrong.
std::string Verdict(const StudyRun& run, uint32_t trials, double timeout_s) {
  const Result<StudyCheck>& check = run.check;
  if (!check.ok()) return "ERROR: " + check.status().ToString();
  if (check->completed != trials || check->trials != trials) {
    return "MISMATCH: " + std::to_string(check->completed) + " of " + std::to_string(trials) +
           " completed (" + std::to_string(check->trials) + " trials stored), study " + check->state;
  }
  if (check->state != "STUDY_COMPLETED") return "MISMATCH: study " + check->state;
  if (run.load.timed_out) return "TIMED OUT after " + FormatDouble(timeout_s) + " s";
  if (run.load.errors > 0) return "ERRORS: " + run.load.first_error;
  return "ok";
}

// numerator / denominator when both are positive, else nothing.
Value Ratio(double numerator, double denominator) {
  if (!(numerator > 0) || !(denominator > 0)) return std::monostate{};
  return numerator / denominator;
}

// The ceiling for `workers` workers: the same client code (RunLoad, the same N threads and channels, the
// same `trials` cycles of AcquireTrial + CompleteTrial) against the trivial server in a child process of
// its own, as the coordinator is; its CPU over the timed window from /proc.
struct CeilingRun {
  LoadFigures load;
  double server_cpu_s = -1;
  Status stopped;
};

Result<CeilingRun> RunCeiling(const LoadBenchOptions& options, int workers, uint32_t trials,
                              const std::string& dir) {
  mkdir(dir.c_str(), 0755);
  HPO_ASSIGN_OR_RETURN(
      std::unique_ptr<CoordinatorProcess> server,
      CoordinatorProcess::Start(
          {.binary = options.self, .dir = dir, .command = {options.self, "--serve-trivial"}}));
  CeilingRun run;
  double cpu_start = -1, cpu_end = -1;
  Result<LoadFigures> load = RunLoad({.address = server->address(),
                                      .workers = workers,
                                      .trials = trials,
                                      .wait_ms = options.wait_ms,
                                      .function = "zdt1",
                                      .dims = 4,
                                      .timeout_s = options.timeout_s,
                                      .on_start = [&] { cpu_start = server->Status().cpu_s; },
                                      .on_end = [&] { cpu_end = server->Status().cpu_s; }});
  HPO_RETURN_IF_ERROR(load.status());
  run.load = std::move(*load);
  if (cpu_start >= 0 && cpu_end >= 0) run.server_cpu_s = cpu_end - cpu_start;
  run.stopped = server->Stop();
  return run;
}

// Optuna's figures by process count and storage.
struct OptunaRow {
  int processes = 1;
  std::string storage;
  OptunaFigures figures;
};

// Of `rows`, the fastest run with `processes` processes; null when there is none.
const OptunaRow* FastestOptuna(const std::vector<OptunaRow>& rows, int processes) {
  const OptunaRow* best = nullptr;
  for (const OptunaRow& row : rows) {
    if (row.processes != processes) continue;
    if (best == nullptr || row.figures.trials_per_s > best->figures.trials_per_s) best = &row;
  }
  return best;
}

}  // namespace

Value Known(double v) { return v >= 0 ? Value{v} : Value{}; }
Value Known(int v) { return v >= 0 ? Value{int64_t{v}} : Value{}; }

Status RunLoadSection(const LoadBenchOptions& options, const Reporter& reporter) {
  const uint32_t trials = options.trials > 0 ? options.trials : options.quick ? 1000 : 5000;
  // Like for like: Optuna's cost per trial grows with the trials it holds, so it runs the study's size.
  const int optuna_trials = options.optuna_trials > 0 ? options.optuna_trials
                            : options.quick           ? 100
                                                      : static_cast<int>(trials);
  const int optuna_processes = std::max(1, options.optuna_processes);
  Status first_error = Status::Ok();
  const auto fail = [&](Status status) {
    if (first_error.ok()) first_error = std::move(status);
  };

  // Optuna: one process asking and telling in turn, and as many processes as the machine has cores
  // sharing one study, on each storage. A row of hpo with N workers is compared with the fastest Optuna
  // of min(N, cores) processes, and with the single SQLite process.
  std::vector<OptunaRow> optuna;
  if (options.optuna != nullptr && options.optuna->available()) {
    Table table(
        reporter, "load", "optuna",
        "Optuna " + options.optuna->version() +
            ": ask + 4 x suggest_float + tell, NSGAIISampler (population " + std::to_string(kPopulation) +
            "), ZDT1; sqlite = RDBStorage on a SQLite file, journal = JournalFileStorage (Optuna's "
            "advice for processes on one machine), both fsync each write; P processes share one study",
        {{"storage", "storage", Column::Format::kText},
         {"processes", "processes"},
         {"tries", "tries"},
         {"trials", "trials"},
         {"completed", "completed"},
         {"retries", "locked retries"},
         {"seconds", "seconds", Column::Format::kFixed, 2},
         {"trials_per_s", "trials/s", Column::Format::kFixed, 1},
         {"cycle_ms_p50", "cycle p50 ms", Column::Format::kFixed, 1},
         {"cycle_ms_p99", "cycle p99 ms", Column::Format::kFixed, 1}});
    std::vector<int> counts = {1};
    if (optuna_processes > 1) counts.push_back(std::min(optuna_processes, optuna_trials));
    for (const int processes : counts) {
      for (const std::string& storage : options.optuna_storages) {
        const std::string dir = options.scratch + "/optuna-" + storage + "-" + std::to_string(processes);
        mkdir(dir.c_str(), 0755);
        // A peer's run that fails is tried again, up to three times in all, and then left out with its
        // error: Optuna 3.1's JournalFileStorage can fail under several processes (a reader meets a log
        // line another process is still writing: "JSONDecodeError: Unterminated string"), a defect of the
        // peer, not of this run.
        Result<OptunaFigures> run = Status::Ok();
        int tries = 0;
        for (; tries < kOptunaTries; ++tries) {
          run = options.optuna->Run(
              {.trials = optuna_trials, .dir = dir, .storage = storage, .processes = processes});
          if (run.ok()) break;
          reporter.Note("load", "Optuna (" + storage + ", " + std::to_string(processes) +
                                    " processes), try " + std::to_string(tries + 1) + " of " +
                                    std::to_string(kOptunaTries) + ", failed: " + run.status().ToString());
        }
        if (!run.ok()) continue;
        optuna.push_back({processes, storage, *run});
        table.Add({storage, int64_t{processes}, int64_t{tries + 1}, int64_t{run->trials},
                   int64_t{run->completed}, int64_t{run->retries}, run->seconds, run->trials_per_s,
                   run->cycle_ms_p50, run->cycle_ms_p99});
      }
    }
    table.Print();
  }  // else: the header said that Optuna is not installed
  const OptunaRow* optuna_single_sqlite = nullptr;
  for (const OptunaRow& row : optuna) {
    if (row.processes == 1 && row.storage == "sqlite") optuna_single_sqlite = &row;
  }

  Table cycles(reporter, "load", "cycles",
               "Committed trial cycles (AcquireTrial + CompleteTrial acknowledged) over loopback, " +
                   std::to_string(trials) + "-trial ZDT1 study, NSGA-II steady state; ceiling = the same " +
                   "workers' cycles against a server that answers both calls at once (its own process), so " +
                   "ratio 1.0 is parity; N/rate = the mean cycle time a closed loop of N workers implies " +
                   "(Little's law); optuna = the fastest Optuna of min(N, " +
                   std::to_string(optuna_processes) + ") processes, 1p sqlite = Optuna's single process on " +
                   "SQLite",
               {{"workers", "workers"},
                {"trials", "trials"},
                {"completed", "completed"},
                {"errors", "errors"},
                {"wall_s", "wall s", Column::Format::kFixed, 2},
                {"cycles_per_s", "cycles/s", Column::Format::kFixed, 0},
                {"mean_cycle_ms", "N/rate ms", Column::Format::kFixed, 2},
                {"acquire_ms_p50", "acq p50 ms", Column::Format::kFixed, 3},
                {"acquire_ms_p99", "acq p99 ms", Column::Format::kFixed, 3},
                {"complete_ms_p50", "done p50 ms", Column::Format::kFixed, 3},
                {"complete_ms_p99", "done p99 ms", Column::Format::kFixed, 3},
                {"ceiling_cycles_per_s", "ceiling/s", Column::Format::kFixed, 0},
                {"ratio_to_ceiling", "ratio", Column::Format::kFixed, 3},
                {"optuna", "optuna", Column::Format::kText},
                {"optuna_trials_per_s", "optuna/s", Column::Format::kFixed, 1},
                {"ratio_to_optuna", "x optuna", Column::Format::kRatio, 0},
                {"ratio_to_optuna_1p_sqlite", "x 1p sqlite", Column::Format::kRatio, 0},
                {"check", "check", Column::Format::kText}});
  Table process(
      reporter, "load", "coordinator",
      "The coordinator process in each row (/proc): at launch, the most sampled (every 50 ms) and "
      "VmHWM at the end; threads once the workers are connected, the most sampled and at the end; "
      "its CPU (utime + stime), the simulated workers' (this process) and other processes' over the timed "
      "window",
      {{"workers", "workers"},
       {"rss_launch_mib", "rss launch MiB", Column::Format::kFixed, 1},
       {"rss_max_mib", "rss max MiB", Column::Format::kFixed, 1},
       {"vm_hwm_mib", "VmHWM MiB", Column::Format::kFixed, 1},
       {"threads_launch", "thr launch"},
       {"threads_start", "thr start"},
       {"threads_max", "thr max"},
       {"threads_end", "thr end"},
       {"coordinator_cpu_s", "coord cpu s", Column::Format::kFixed, 2},
       {"coordinator_cores", "coord cores", Column::Format::kFixed, 2},
       {"coordinator_cpu_ms_per_cycle", "coord ms/cycle", Column::Format::kFixed, 3},
       {"workers_cpu_s", "workers cpu s", Column::Format::kFixed, 2},
       {"workers_cores", "workers cores", Column::Format::kFixed, 2},
       {"other_cores", "others cores", Column::Format::kFixed, 2},
       {"empty_polls", "empty polls"}});
  Table ceiling(reporter, "load", "ceiling",
                "The ceiling: the same workers and cycles against the trivial server (a child process that "
                "answers AcquireTrial with a trial shaped as the coordinator's and CompleteTrial at once, "
                "storing and deciding nothing); server and workers cpu over the timed window",
                {{"workers", "workers"},
                 {"cycles", "cycles"},
                 {"seconds", "seconds", Column::Format::kFixed, 2},
                 {"cycles_per_s", "cycles/s", Column::Format::kFixed, 0},
                 {"acquire_ms_p50", "acq p50 ms", Column::Format::kFixed, 3},
                 {"acquire_ms_p99", "acq p99 ms", Column::Format::kFixed, 3},
                 {"complete_ms_p50", "done p50 ms", Column::Format::kFixed, 3},
                 {"complete_ms_p99", "done p99 ms", Column::Format::kFixed, 3},
                 {"server_cpu_ms_per_cycle", "server ms/cycle", Column::Format::kFixed, 3},
                 {"workers_cpu_ms_per_cycle", "workers ms/cycle", Column::Format::kFixed, 3},
                 {"errors", "errors"}});

  double last_rate = 0;  // the largest worker count's closed-loop rate: what the paced runs are a share of
  for (const int workers : options.workers) {
    HPO_ASSIGN_OR_RETURN(StudyRun run, RunStudy(options, workers, trials, 0,
                                                options.scratch + "/load-" + std::to_string(workers)));
    if (!run.stopped.ok()) fail(run.stopped);
    const LoadFigures* load = &run.load;
    const Result<StudyCheck>& check = run.check;
    const ProcStatus& launch = run.launch;
    const ProcStatus& start = run.start;
    const ProcStatus& end = run.end;
    const double busy_start = run.busy_start, busy_end = run.busy_end;
    const ProcSampler::Peaks& peaks = run.peaks;
    const double hwm_mib = run.hwm_mib;

    HPO_ASSIGN_OR_RETURN(
        const CeilingRun top,
        RunCeiling(options, workers, trials, options.scratch + "/ceiling-" + std::to_string(workers)));
    if (!top.stopped.ok()) fail(top.stopped);

    std::string verdict = Verdict(run, trials, options.timeout_s);
    if (verdict == "ok" && top.load.timed_out) verdict = "CEILING TIMED OUT";
    if (verdict == "ok" && top.load.errors > 0) verdict = "CEILING ERRORS: " + top.load.first_error;
    if (verdict != "ok") fail(InternalError(std::to_string(workers) + " workers: " + verdict));

    const Percentiles acquire = ComputePercentiles(load->acquire_ms);
    const Percentiles complete = ComputePercentiles(load->complete_ms);
    const double rate = load->wall_s > 0 ? static_cast<double>(load->cycles) / load->wall_s : 0;
    // The trivial server never runs out of trials: cycles past the study's size are not counted.
    const double top_cycles = static_cast<double>(std::min<uint64_t>(top.load.cycles, trials));
    const double top_rate = top.load.wall_s > 0 ? top_cycles / top.load.wall_s : 0;
    last_rate = rate;
    const OptunaRow* peer = FastestOptuna(optuna, std::min(workers, optuna_processes));
    cycles.Add(
        {int64_t{workers}, int64_t{trials},
         check.ok() ? Value{static_cast<int64_t>(check->completed)} : Value{},
         static_cast<int64_t>(load->errors + top.load.errors), load->wall_s, rate, Ratio(1e3 * workers, rate),
         acquire.p50, acquire.p99, complete.p50, complete.p99, top_rate, Ratio(rate, top_rate),
         peer != nullptr ? Value{peer->storage + " " + std::to_string(peer->processes) + "p"} : Value{},
         peer != nullptr ? Value{peer->figures.trials_per_s} : Value{},
         peer != nullptr ? Ratio(rate, peer->figures.trials_per_s) : Value{},
         optuna_single_sqlite != nullptr ? Ratio(rate, optuna_single_sqlite->figures.trials_per_s) : Value{},
         verdict});
    const double coordinator_cpu = end.cpu_s >= 0 && start.cpu_s >= 0 ? end.cpu_s - start.cpu_s : -1;
    const auto per_wall = [&](double cpu_s) { return Ratio(cpu_s, load->wall_s); };
    process.Add({int64_t{workers}, Known(launch.rss_mib), Known(peaks.rss_mib), Known(hwm_mib),
                 Known(launch.threads), Known(start.threads), Known(peaks.threads), Known(end.threads),
                 Known(coordinator_cpu), per_wall(coordinator_cpu),
                 Ratio(1e3 * coordinator_cpu, static_cast<double>(load->cycles)), load->client_cpu_s,
                 per_wall(load->client_cpu_s),
                 busy_start >= 0 && coordinator_cpu >= 0
                     ? per_wall(std::max(0.0, busy_end - busy_start - coordinator_cpu - load->client_cpu_s))
                     : Value{},
                 static_cast<int64_t>(load->empty_polls)});
    const Percentiles top_acquire = ComputePercentiles(top.load.acquire_ms);
    const Percentiles top_complete = ComputePercentiles(top.load.complete_ms);
    ceiling.Add({int64_t{workers}, static_cast<int64_t>(top.load.cycles), top.load.wall_s, top_rate,
                 top_acquire.p50, top_acquire.p99, top_complete.p50, top_complete.p99,
                 Ratio(1e3 * top.server_cpu_s, static_cast<double>(top.load.cycles)),
                 Ratio(1e3 * top.load.client_cpu_s, static_cast<double>(top.load.cycles)),
                 static_cast<int64_t>(top.load.errors)});
  }
  cycles.Print();
  process.Print();
  ceiling.Print();

  // Below saturation: the largest worker count again, paced to shares of the closed-loop rate above. In a
  // closed loop every worker is always inside a call, so a call's mean latency is N / rate (Little's law)
  // whatever the service does; these rows show the latency a worker sees when it is not queueing behind
  // the other N - 1.
  const std::vector<double> shares = !options.paced.empty() ? options.paced
                                     : options.quick        ? std::vector<double>{0.5}
                                                            : std::vector<double>{0.25, 0.5, 0.75};
  if (options.workers.empty() || !(last_rate > 0) || shares.empty() || shares.front() <= 0)
    return first_error;
  const int workers = options.workers.back();
  const double window_s = options.quick ? 1.0 : 3.0;
  Table paced(reporter, "load", "paced",
              "Below saturation: " + std::to_string(workers) +
                  " workers paced to shares of the closed-loop rate above (" +
                  std::to_string(static_cast<int64_t>(last_rate)) + " cycles/s), about " +
                  FormatDouble(window_s) + " s each, a fresh coordinator per row",
              {{"workers", "workers"},
               {"share", "share", Column::Format::kFixed, 2},
               {"offered_per_s", "offered/s", Column::Format::kFixed, 0},
               {"trials", "trials"},
               {"cycles_per_s", "cycles/s", Column::Format::kFixed, 0},
               {"acquire_ms_p50", "acq p50 ms", Column::Format::kFixed, 3},
               {"acquire_ms_p99", "acq p99 ms", Column::Format::kFixed, 3},
               {"complete_ms_p50", "done p50 ms", Column::Format::kFixed, 3},
               {"complete_ms_p99", "done p99 ms", Column::Format::kFixed, 3},
               {"errors", "errors"},
               {"check", "check", Column::Format::kText}});
  for (const double share : shares) {
    const double offered = share * last_rate;
    const uint32_t paced_trials =
        std::min(trials, std::max<uint32_t>(200, static_cast<uint32_t>(offered * window_s)));
    HPO_ASSIGN_OR_RETURN(StudyRun run, RunStudy(options, workers, paced_trials, offered,
                                                options.scratch + "/paced-" + FormatDouble(share)));
    if (!run.stopped.ok()) fail(run.stopped);
    const std::string verdict = Verdict(run, paced_trials, options.timeout_s);
    if (verdict != "ok") fail(InternalError("paced " + FormatDouble(share) + ": " + verdict));
    const Percentiles acquire = ComputePercentiles(run.load.acquire_ms);
    const Percentiles complete = ComputePercentiles(run.load.complete_ms);
    const double rate = run.load.wall_s > 0 ? static_cast<double>(run.load.cycles) / run.load.wall_s : 0;
    paced.Add({int64_t{workers}, share, offered, int64_t{paced_trials}, rate, acquire.p50, acquire.p99,
               complete.p50, complete.p99, static_cast<int64_t>(run.load.errors), verdict});
  }
  paced.Print();
  return first_error;
}

}  // namespace hpo::bench
