// hpo-bench-search: prints, side by side and in one run, the search engine's quality and speed against
// pagmo2 (where installed) and random search. See bench.h and issue 3, item 9.
//
//   hpo-bench-search [--quick] [--json] [--section nsga2|sort|hv|woa|mo|budget]
//                    [--budget-seeds N] [--budget-algorithms a,b] [--budget-problems p,q] [--no-optuna]
//                    [--python PATH] [--optuna-budget-script PATH] [--optuna-cache PATH] [--optuna-jobs N]
//
// Exit status: 0 when every section ran, 1 when one failed (its error on stderr), 2 for bad options. The
// figures are never judged here: a benchmark prints, tests assert.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "base/host.h"
#include "bench/search/bench.h"
#include "bench/search/pagmo_peer.h"

int main(int argc, char** argv) {
  hpo::bench::BenchOptions options;
  std::string section = "all";
  CLI::App app{
      "hpo-bench-search: NSGA-II, IWOA, sorting and hypervolume, measured beside pagmo2 and random search"};
  app.add_flag("--quick", options.quick,
               "a short run: fewer seeds, evaluations and points (well under a minute)");
  app.add_flag("--json", options.json, "one JSON object per row, with named fields, instead of tables");
  app.add_option("--section", section, "run one part only")
      ->check(CLI::IsMember({"all", "nsga2", "sort", "hv", "woa", "mo", "budget"}))
      ->capture_default_str();
  options.budget.optuna_script = HPO_BENCH_OPTUNA_BUDGET_SCRIPT;
  bool no_optuna = false;
  app.add_option("--budget-seeds", options.budget.seeds, "budget: seeds 1..N (default 5, 2 with --quick)");
  app.add_option("--budget-algorithms", options.budget.algorithms, "budget: our rows to run (default all)")
      ->delimiter(',');
  app.add_option("--budget-problems", options.budget.problems,
                 "budget: zdt1,zdt2,zdt3,dtlz2,tnk (default all)")
      ->delimiter(',');
  app.add_flag("--no-optuna", no_optuna, "budget: ours only, without Optuna's TPE");
  app.add_option("--python", options.budget.python, "budget: the Python that runs Optuna")
      ->capture_default_str();
  app.add_option("--optuna-budget-script", options.budget.optuna_script,
                 "budget: Optuna's side (optuna_budget.py)")
      ->capture_default_str();
  options.budget.optuna_cache = HPO_BENCH_OPTUNA_BUDGET_CACHE;
  app.add_option("--optuna-cache", options.budget.optuna_cache,
                 "budget: a file of Optuna's finished runs, reused and added to (\"\" = rerun them all)")
      ->capture_default_str();
  app.add_option("--optuna-jobs", options.budget.optuna_jobs, "budget: Optuna's runs at once")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "hpo-bench-search: %s (see --help)\n", e.what());
    return 2;
  }
  options.budget.optuna = !no_optuna;

  const hpo::bench::Reporter reporter(options.json);
  const std::string pagmo = hpo::bench::kHavePagmo ? "pagmo2 " + hpo::bench::PagmoVersion() + " (present)"
                                                   : "pagmo2: not installed";
  if (options.json) {
    const hpo::bench::LoadAverage load = hpo::bench::ReadLoadAverage();
    hpo::bench::Table host(reporter, "host", "host", "",
                           {{"mode", "mode"},
                            {"cpu", "cpu"},
                            {"load1", "load1"},
                            {"load5", "load5"},
                            {"load15", "load15"},
                            {"pagmo", "pagmo"}});
    host.Add({options.quick ? "quick" : "full", hpo::CpuModelName(), load.one, load.five, load.fifteen,
              hpo::bench::kHavePagmo ? hpo::bench::Value{hpo::bench::PagmoVersion()} : hpo::bench::Value{}});
  } else {
    std::printf("hpo-bench-search (%s)\ncpu: %s\nload average: %s\n%s\n", options.quick ? "--quick" : "full",
                hpo::CpuModelName().c_str(), hpo::bench::LoadAverageText().c_str(), pagmo.c_str());
  }

  struct Part {
    const char* name;
    std::function<hpo::Status(const hpo::bench::BenchOptions&, const hpo::bench::Reporter&)> run;
  };
  const std::vector<Part> parts = {
      {"nsga2", hpo::bench::RunNsga2Section}, {"sort", hpo::bench::RunSortSection},
      {"hv", hpo::bench::RunHvSection},       {"woa", hpo::bench::RunWoaSection},
      {"mo", hpo::bench::RunMoSection},       {"budget", hpo::bench::RunBudgetSection}};
  int failures = 0;
  for (const Part& part : parts) {
    if (section != "all" && section != part.name) continue;
    const hpo::bench::Stopwatch watch;
    const hpo::Status status = part.run(options, reporter);
    if (!status.ok()) {
      ++failures;
      std::fprintf(stderr, "hpo-bench-search: section %s failed: %s\n", part.name, status.ToString().c_str());
    }
    char line[256];
    std::snprintf(line, sizeof line, "[%s: %.1f s wall, %.1f s cpu; load average now %s]", part.name,
                  watch.WallSeconds(), watch.CpuSeconds(), hpo::bench::LoadAverageText().c_str());
    reporter.Note(part.name, line);
  }
  return failures == 0 ? 0 : 1;
}
