// hpo-bench-study: the Fashion-MNIST accuracy/latency study through the whole service, beside Optuna's TPE
// driving the same hpo-train binary over the same space, seed after seed on the same machine, every run's
// observed front judged by one hypervolume (search/hypervolume.h) against one reference point.
//
//   hpo-bench-study [--quick] [--json] [--seeds 1,2,3] [--trials 40] [--epochs 4] [--train-limit 20000]
//                   [--parallel 2] [--no-optuna] [--optuna-samplers tpe,tpe-mv] [--bin-dir DIR] [--keep]
//
// Per seed, one after another:
//   hpo         a fresh hpo-coordinator and `parallel` hpo-workers (--slots 1 --threads 1 each), a study
//               with no algorithm named (the service's default for the budget: the model-based sampler),
//               max_parallel `parallel`, fixed epochs and optimizer adamw, the trials' training images
//               limited to --train-limit;
//   hpo+asha    the same with the ASHA pruner (min_resource 1, reduction_factor 4 as in Optuna's
//               SuccessiveHalvingPruner and the ASHA paper's experiments, max_resource the epochs; with two
//               objectives the service makes it multi-objective ASHA);
//   optuna ...  bench/study/optuna_study.py: TPESampler(seed) ("tpe") and TPESampler(seed,
//               multivariate=True) ("tpe-mv"), study.optimize(n_jobs=`parallel`), each trial running
//               hpo-train with the arguments an hpo-worker would give it, the same per-trial seed included.
//
// The hypervolume (HV) of a run is that of its completed trials (a pruned trial is on no front, as in the
// service's GetParetoFront), in (-accuracy, latency_ms), against the reference (accuracy 0, latency = 1.1 x
// the largest latency of any completed or pruned trial of any run of this invocation), divided by the
// reference box's area (1 x that latency): a fraction of [0, 1] x [0, ref], the same yardstick for every
// run and seed. "HV+pruned" also counts each pruned trial at the last values it reported (an accuracy after
// fewer epochs, of a model that existed but was not kept): everything the study observed.
//
// Exit status: 0 when every run ended, 1 when one did not (the error on stderr and in its row), 2 for bad
// options. The figures are never judged here: a benchmark prints, tests assert.
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "base/host.h"
#include "base/strings.h"
#include "bench/common/report.h"
#include "bench/study/study.h"
#include "search/hypervolume.h"
#include "search/pareto.h"

namespace {

using hpo::bench::Column;
using hpo::bench::RunRecord;
using hpo::bench::TrialRecord;
using hpo::bench::Value;

constexpr double kReferenceLatencyFactor = 1.1;

// One run of the bench: which side, which seed, and what it ended with.
struct Run {
  uint64_t seed = 0;
  std::string name;  // "hpo", "hpo+asha", "optuna tpe", "optuna tpe-mv"
  hpo::Result<RunRecord> record = hpo::InternalError("not run");
  // Filled once every run has ended (the reference point depends on all of them).
  double hv = std::nan("");         // completed trials
  double hv_pruned = std::nan("");  // completed and pruned trials
  size_t front = 0;                 // completed trials on the front
  double load1 = -1;                // the 1-minute load average as it ended
};

int UsableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::string DirOfMe() {
  std::error_code error;
  const std::filesystem::path me = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? "." : me.parent_path().string();
}

// The points of the completed trials (and the pruned ones when `with_pruned`), objectives minimised:
// (-accuracy, latency_ms); trials lacking either value left out.
std::vector<std::vector<double>> Points(const RunRecord& record, bool with_pruned) {
  std::vector<std::vector<double>> points;
  for (const TrialRecord& t : record.trials) {
    const bool wanted =
        t.state == TrialRecord::State::kCompleted || (with_pruned && t.state == TrialRecord::State::kPruned);
    if (!wanted) continue;
    if (!std::isfinite(t.accuracy) || !std::isfinite(t.latency_ms)) continue;
    points.push_back({-t.accuracy, t.latency_ms});
  }
  return points;
}

struct Counts {
  int completed = 0, pruned = 0, failed = 0, epochs = 0;
  double trial_s = 0;   // the trials' seconds, summed
  int pruned_late = 0;  // pruned trials whose last step was the last epoch: trained in full, then pruned
  double best_accuracy = std::nan("");
  double min_latency_ms = std::nan("");
};

Counts Count(const RunRecord& record, int epochs) {
  Counts c;
  for (const TrialRecord& t : record.trials) {
    c.completed += t.state == TrialRecord::State::kCompleted;
    c.pruned += t.state == TrialRecord::State::kPruned;
    c.pruned_late += t.state == TrialRecord::State::kPruned && t.epochs >= epochs;
    c.failed += t.state == TrialRecord::State::kFailed;
    c.epochs += t.epochs;
    c.trial_s += t.seconds;
    if (t.state != TrialRecord::State::kCompleted) continue;
    if (!(c.best_accuracy >= t.accuracy)) c.best_accuracy = t.accuracy;
    if (!(c.min_latency_ms <= t.latency_ms)) c.min_latency_ms = t.latency_ms;
  }
  return c;
}

// numerator / denominator when both are positive, else NaN.
double Ratio(double numerator, double denominator) {
  return numerator > 0 && denominator > 0 ? numerator / denominator : std::nan("");
}

Value Finite(double v) { return std::isfinite(v) ? Value{v} : Value{}; }

// HV of `points` against (0, ref_latency), divided by the box's area ref_latency.
hpo::Result<double> NormalizedHypervolume(const std::vector<std::vector<double>>& points,
                                          double ref_latency) {
  const std::vector<double> reference = {0.0, ref_latency};
  HPO_ASSIGN_OR_RETURN(const hpo::search::HypervolumeResult hv, hpo::search::Hypervolume(points, reference));
  return hv.value / ref_latency;
}

double EpochsFraction(const Counts& c, const hpo::bench::StudyBenchOptions& options) {
  return static_cast<double>(c.epochs) / (static_cast<double>(options.trials) * options.epochs);
}

// The share of the run's slots (parallel x wall time) that its trials filled.
double Busy(const Counts& c, double wall_s, const hpo::bench::StudyBenchOptions& options) {
  return Ratio(c.trial_s, options.parallel * wall_s);
}

void PrintRuns(const hpo::bench::Reporter& reporter, const std::vector<Run>& runs,
               const hpo::bench::StudyBenchOptions& options) {
  hpo::bench::Table table(
      reporter, "runs", "runs",
      "Every run (epochs: trained, of trials x epochs; pruned@E: pruned after their last epoch; trial s: the "
      "trials' seconds summed; busy: trial s / (parallel x wall s); load: the 1-minute load average at its "
      "end)",
      {{"seed", "seed"},
       {"run", "run", Column::Format::kText},
       {"detail", "by", Column::Format::kText},
       {"completed", "completed"},
       {"pruned", "pruned"},
       {"pruned_late", "pruned@E"},
       {"failed", "failed"},
       {"epochs", "epochs"},
       {"epochs_fraction", "epochs frac", Column::Format::kFixed, 3},
       {"front", "front"},
       {"hv", "HV", Column::Format::kFixed, 4},
       {"hv_pruned", "HV+pruned", Column::Format::kFixed, 4},
       {"best_accuracy", "best acc", Column::Format::kFixed, 4},
       {"min_latency_ms", "min lat ms", Column::Format::kFixed, 5},
       {"wall_s", "wall s", Column::Format::kFixed, 1},
       {"trial_s", "trial s", Column::Format::kFixed, 1},
       {"busy", "busy", Column::Format::kFixed, 2},
       {"load1", "load", Column::Format::kFixed, 2},
       {"error", "error", Column::Format::kText}});
  for (const Run& run : runs) {
    std::vector<Value> row(19);
    row[0] = static_cast<int64_t>(run.seed);
    row[1] = run.name;
    if (!run.record.ok()) {
      row[18] = run.record.status().ToString();
      table.Add(std::move(row));
      continue;
    }
    const Counts c = Count(*run.record, options.epochs);
    table.Add({static_cast<int64_t>(run.seed), run.name, run.record->detail, int64_t{c.completed},
               int64_t{c.pruned}, int64_t{c.pruned_late}, int64_t{c.failed}, int64_t{c.epochs},
               EpochsFraction(c, options), static_cast<int64_t>(run.front), Finite(run.hv),
               Finite(run.hv_pruned), Finite(c.best_accuracy), Finite(c.min_latency_ms), run.record->wall_s,
               c.trial_s, Finite(Busy(c, run.record->wall_s, options)),
               run.load1 >= 0 ? Value{run.load1} : Value{}, Value{}});
  }
}

// One figure of one run name, by seed.
using BySeed = std::map<uint64_t, double>;

std::vector<double> Values(const BySeed& by_seed) {
  std::vector<double> v;
  for (const auto& [seed, x] : by_seed) v.push_back(x);
  return v;
}

double Median(const BySeed& by_seed) { return hpo::bench::Summarize(Values(by_seed)).median; }

void PrintSummary(const hpo::bench::Reporter& reporter, const std::vector<Run>& runs,
                  const hpo::bench::StudyBenchOptions& options, const std::vector<std::string>& samplers) {
  struct Figures {
    BySeed hv, hv_pruned, best_accuracy, epochs_fraction, wall_s, trial_s, busy;
  };
  std::map<std::string, Figures> by_name;
  for (const Run& run : runs) {
    if (!run.record.ok()) continue;
    const Counts c = Count(*run.record, options.epochs);
    Figures& f = by_name[run.name];
    f.hv[run.seed] = run.hv;
    f.hv_pruned[run.seed] = run.hv_pruned;
    f.best_accuracy[run.seed] = c.best_accuracy;
    f.epochs_fraction[run.seed] = EpochsFraction(c, options);
    f.wall_s[run.seed] = run.record->wall_s;
    f.trial_s[run.seed] = c.trial_s;
    f.busy[run.seed] = Busy(c, run.record->wall_s, options);
  }
  std::vector<std::string> names = {"hpo", "hpo+asha"};
  for (const std::string& s : samplers) names.push_back("optuna " + s);
  {
    hpo::bench::Table table(reporter, "summary", "medians",
                            "Medians over seeds (HV's smallest and largest beside)",
                            {{"run", "run", Column::Format::kText},
                             {"seeds", "seeds"},
                             {"hv_median", "HV median", Column::Format::kFixed, 4},
                             {"hv_min", "HV min", Column::Format::kFixed, 4},
                             {"hv_max", "HV max", Column::Format::kFixed, 4},
                             {"hv_pruned_median", "HV+pruned", Column::Format::kFixed, 4},
                             {"best_accuracy_median", "best acc", Column::Format::kFixed, 4},
                             {"epochs_fraction_median", "epochs frac", Column::Format::kFixed, 3},
                             {"wall_s_median", "wall s", Column::Format::kFixed, 1},
                             {"trial_s_median", "trial s", Column::Format::kFixed, 1},
                             {"busy_median", "busy", Column::Format::kFixed, 2}});
    for (const std::string& name : names) {
      const Figures& f = by_name[name];
      const hpo::bench::Summary hv = hpo::bench::Summarize(Values(f.hv));
      table.Add({name, static_cast<int64_t>(hv.count), Finite(hv.median), Finite(hv.min), Finite(hv.max),
                 Finite(Median(f.hv_pruned)), Finite(Median(f.best_accuracy)),
                 Finite(Median(f.epochs_fraction)), Finite(Median(f.wall_s)), Finite(Median(f.trial_s)),
                 Finite(Median(f.busy))});
    }
  }

  // The peer at its best: the Optuna sampler with the larger median HV.
  std::string best;
  for (const std::string& s : samplers) {
    if (best.empty() || Median(by_name["optuna " + s].hv) > Median(by_name[best].hv)) best = "optuna " + s;
  }
  hpo::bench::Table table(reporter, "summary", "ratios",
                          "Ratios: of the medians over seeds, the median of the per-seed ratios, and the "
                          "seeds meeting the target" +
                              (best.empty() ? std::string() : " (Optuna at its best: " + best + ")"),
                          {{"ratio", "ratio", Column::Format::kText},
                           {"of_medians", "of medians", Column::Format::kRatio, 3},
                           {"per_seed_median", "per-seed median", Column::Format::kRatio, 3},
                           {"target", "target", Column::Format::kText},
                           {"seeds_meeting", "seeds meeting", Column::Format::kText}});
  // a / b, per seed where both ran; a seed meets the target when its ratio is >= (at_least) or <= target.
  auto add = [&](const std::string& label, const BySeed& a, const BySeed& b, bool at_least, double target) {
    std::vector<double> per_seed;
    int meeting = 0;
    for (const auto& [seed, x] : a) {
      const auto it = b.find(seed);
      if (it == b.end()) continue;
      const double r = Ratio(x, it->second);
      if (std::isnan(r)) continue;
      per_seed.push_back(r);
      meeting += at_least ? r >= target : r <= target;
    }
    table.Add({label, Finite(Ratio(Median(a), Median(b))), Finite(hpo::bench::Summarize(per_seed).median),
               std::string(at_least ? ">= " : "<= ") + hpo::FormatDouble(target),
               std::to_string(meeting) + "/" + std::to_string(per_seed.size())});
  };
  const Figures& plain = by_name["hpo"];
  const Figures& asha = by_name["hpo+asha"];
  for (const std::string& s : samplers)
    add("HV hpo / optuna " + s, plain.hv, by_name["optuna " + s].hv, true, 1);
  add("HV hpo+asha / hpo", asha.hv, plain.hv, true, 1);
  add("HV+pruned hpo+asha / hpo", asha.hv_pruned, plain.hv, true, 1);
  if (!best.empty()) {
    add("HV hpo+asha / " + best, asha.hv, by_name[best].hv, true, 1);
    add("HV+pruned hpo+asha / " + best, asha.hv_pruned, by_name[best].hv, true, 1);
  }
  add("epochs hpo+asha / hpo", asha.epochs_fraction, plain.epochs_fraction, false, 0.5);
  if (!best.empty()) {
    add("wall hpo / " + best, plain.wall_s, by_name[best].wall_s, false, 1);
    add("trial s hpo / " + best, plain.trial_s, by_name[best].trial_s, false, 1);
  }
  add("wall hpo+asha / hpo", asha.wall_s, plain.wall_s, false, 1);
}

}  // namespace

int main(int argc, char** argv) {
  hpo::bench::StudyBenchOptions options;
  std::vector<uint64_t> seeds;
  std::vector<std::string> samplers;
  bool quick = false, json = false, no_optuna = false, keep = false;
  std::string dir_parent = std::getenv("TMPDIR") != nullptr ? std::getenv("TMPDIR") : "/tmp";
  options.bin_dir = DirOfMe();
  options.optuna_script = HPO_BENCH_STUDY_OPTUNA_SCRIPT;
  int trials = 0, epochs = 0, train_limit = -1;

  CLI::App app{
      "hpo-bench-study: the Fashion-MNIST accuracy/latency study, hpo's default beside Optuna's TPE"};
  app.add_flag("--quick", quick, "a short run: seed 1, 12 trials, 2 epochs, train limit 5000");
  app.add_flag("--json", json, "one JSON object per row, with named fields, instead of tables");
  app.add_option("--seeds", seeds,
                 "study seeds, one run of each side per seed (default 1,2,3; 1 with --quick)")
      ->delimiter(',');
  app.add_option("--trials", trials, "trials per study (default 40; 12 with --quick)")
      ->check(CLI::Range(1, 499));
  app.add_option("--epochs", epochs, "the fixed epochs of every trial (default 4; 2 with --quick)")
      ->check(CLI::Range(1, 100));
  app.add_option("--train-limit", train_limit,
                 "training images per trial, 0: all 50,000 (default 20000; 5000 with --quick)")
      ->check(CLI::Range(0, 50'000));
  app.add_option("--parallel", options.parallel,
                 "trials at once on each side: workers of one slot and one thread / Optuna's n_jobs")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--asha-min-resource", options.asha_min_resource, "hpo+asha: ASHA's min_resource (epochs)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--asha-reduction-factor", options.asha_reduction_factor,
                 "hpo+asha: ASHA's reduction_factor (eta)")
      ->capture_default_str()
      ->check(CLI::Range(2, 100));
  app.add_flag("--no-optuna", no_optuna, "hpo's runs only");
  app.add_option("--optuna-samplers", samplers,
                 "Optuna's samplers: tpe (TPESampler(seed)), tpe-mv (multivariate=True); default both")
      ->delimiter(',')
      ->check(CLI::IsMember({"tpe", "tpe-mv"}));
  app.add_option("--timeout", options.timeout_s, "a run not finished after this many seconds is an error")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 86'400.0));
  app.add_option("--bin-dir", options.bin_dir, "where hpo-coordinator, hpo-worker and hpo-train are")
      ->capture_default_str();
  app.add_option("--optuna-script", options.optuna_script, "Optuna's side (optuna_study.py)")
      ->capture_default_str();
  app.add_option("--python", options.python, "the Python that runs it (Debian's python3-optuna)")
      ->capture_default_str();
  app.add_option("--dir", dir_parent, "where the run's scratch folder (databases, logs) is made")
      ->capture_default_str();
  app.add_flag("--keep", keep, "keep the scratch folder (the coordinators' databases and the workers' logs)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "hpo-bench-study: %s (see --help)\n", e.what());
    return 2;
  }
  if (seeds.empty()) seeds = quick ? std::vector<uint64_t>{1} : std::vector<uint64_t>{1, 2, 3};
  options.trials = trials > 0 ? trials : quick ? 12 : 40;
  options.epochs = epochs > 0 ? epochs : quick ? 2 : 4;
  options.train_limit = train_limit >= 0 ? train_limit : quick ? 5000 : 20000;
  if (samplers.empty()) samplers = {"tpe", "tpe-mv"};
  for (const char* binary : {"hpo-coordinator", "hpo-worker", "hpo-train"}) {
    const std::string path = options.bin_dir + "/" + binary;
    if (access(path.c_str(), X_OK) != 0) {
      std::fprintf(stderr, "hpo-bench-study: no %s (build it, or pass --bin-dir)\n", path.c_str());
      return 2;
    }
  }
  std::string scratch = dir_parent + "/hpo-bench-study.XXXXXX";
  if (mkdtemp(scratch.data()) == nullptr) {
    std::fprintf(stderr, "hpo-bench-study: cannot make a scratch folder under %s\n", dir_parent.c_str());
    return 2;
  }

  const std::string optuna_version = no_optuna ? "" : hpo::bench::OptunaVersion(options.python);
  if (optuna_version.empty()) samplers.clear();
  const hpo::bench::Reporter reporter(json);
  const std::string setup =
      "hpo-bench-study (" + std::string(quick ? "--quick" : "full") + "): " + std::to_string(seeds.size()) +
      " seed(s), " + std::to_string(options.trials) + " trials of " + std::to_string(options.epochs) +
      " epochs on " + (options.train_limit > 0 ? std::to_string(options.train_limit) : "all 50000") +
      " training images, " + std::to_string(options.parallel) + " at once on each side";
  reporter.Note("host", setup);
  reporter.Note("host",
                "cpu: " + hpo::CpuModelName() + " (" + std::to_string(UsableCores()) +
                    " usable cores, shared by the trials, the coordinator and the peer); load average " +
                    hpo::bench::LoadAverageText());
  reporter.Note("host", "hpo: " + std::to_string(options.parallel) +
                            " hpo-workers (--slots 1 --threads 1), max_parallel " +
                            std::to_string(options.parallel) +
                            ", no algorithm named; hpo+asha: ASHA min_resource " +
                            std::to_string(options.asha_min_resource) + ", reduction_factor " +
                            std::to_string(options.asha_reduction_factor) + ", max_resource " +
                            std::to_string(options.epochs) + "; binaries in " + options.bin_dir);
  reporter.Note("host", no_optuna                ? "optuna: not run (--no-optuna)"
                        : optuna_version.empty() ? "optuna: not installed for " + options.python +
                                                       " (Debian: python3-optuna); hpo's runs only"
                                                 : "optuna " + optuna_version + ": TPESampler, n_jobs " +
                                                       std::to_string(options.parallel) +
                                                       ", hpo-train --threads 1 per trial, same seeds");

  // The runs, seed after seed.
  std::vector<Run> runs;
  int failures = 0;
  const hpo::bench::Stopwatch total;
  for (const uint64_t seed : seeds) {
    std::vector<std::string> names = {"hpo", "hpo+asha"};
    for (const std::string& s : samplers) names.push_back("optuna " + s);
    for (const std::string& name : names) {
      Run run;
      run.seed = seed;
      run.name = name;
      if (name.rfind("optuna ", 0) == 0) {
        run.record = hpo::bench::RunOptunaStudy(options, seed, name.substr(7));
      } else {
        const bool asha = name == "hpo+asha";
        const std::string dir = scratch + "/seed" + std::to_string(seed) + (asha ? "-hpo-asha" : "-hpo");
        run.record = hpo::bench::RunHpoStudy(options, seed, asha, dir);
      }
      if (run.record.ok()) {
        const Counts c = Count(*run.record, options.epochs);
        std::fprintf(stderr,
                     "hpo-bench-study: seed %llu %s: %d completed, %d pruned, %d failed, %d epochs, best "
                     "accuracy %.4f, %.1f s (%.0f s so far)\n",
                     static_cast<unsigned long long>(seed), name.c_str(), c.completed, c.pruned, c.failed,
                     c.epochs, c.best_accuracy, run.record->wall_s, total.WallSeconds());
      } else {
        ++failures;
        std::fprintf(stderr, "hpo-bench-study: seed %llu %s failed: %s\n",
                     static_cast<unsigned long long>(seed), name.c_str(),
                     run.record.status().ToString().c_str());
      }
      run.load1 = hpo::bench::ReadLoadAverage().one;
      runs.push_back(std::move(run));
    }
  }

  // One reference point for every run and seed.
  double max_latency = 0;
  for (const Run& run : runs) {
    if (!run.record.ok()) continue;
    for (const std::vector<double>& p : Points(*run.record, /*with_pruned=*/true)) {
      max_latency = std::max(max_latency, p[1]);
    }
  }
  const double ref_latency = kReferenceLatencyFactor * max_latency;
  for (Run& run : runs) {
    if (!run.record.ok() || !(ref_latency > 0)) continue;
    const std::vector<std::vector<double>> points = Points(*run.record, /*with_pruned=*/false);
    const hpo::Result<double> hv = NormalizedHypervolume(points, ref_latency);
    const hpo::Result<double> hv_pruned =
        NormalizedHypervolume(Points(*run.record, /*with_pruned=*/true), ref_latency);
    if (!hv.ok() || !hv_pruned.ok()) {
      ++failures;
      std::fprintf(stderr, "hpo-bench-study: hypervolume: %s\n",
                   (hv.ok() ? hv_pruned.status() : hv.status()).ToString().c_str());
      continue;
    }
    run.hv = *hv;
    run.hv_pruned = *hv_pruned;
    run.front = hpo::search::ParetoFrontIndices(points).size();
  }
  reporter.Note("runs",
                "HV: the hypervolume of each run's completed trials in (accuracy up, latency_ms down), "
                "reference accuracy 0 and latency " +
                    hpo::FormatDouble(ref_latency) +
                    " ms (1.1 x the largest latency of any trial here), as a fraction of the box "
                    "[0,1] x [0," +
                    hpo::FormatDouble(ref_latency) +
                    " ms]; HV+pruned also counts pruned trials at their last reported values. "
                    "Latency is measured (p50 of batch-1 forwards while the other trial trains): "
                    "noisy.");
  PrintRuns(reporter, runs, options);
  PrintSummary(reporter, runs, options, samplers);

  char line[200];
  std::snprintf(line, sizeof line, "[%.1f s wall in all; load average now %s]", total.WallSeconds(),
                hpo::bench::LoadAverageText().c_str());
  reporter.Note("summary", line);
  if (keep) {
    reporter.Note("host", "kept " + scratch);
  } else {
    std::error_code error;
    std::filesystem::remove_all(scratch, error);
  }
  return failures == 0 ? 0 : 1;
}
