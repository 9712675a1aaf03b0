// hpo-bench-search: side-by-side measurements of the search engine (NSGA-II quality, sorting and
// hypervolume speed, the whale optimizer on F1-F13 and on ZDT) against pagmo2 where it is installed and
// against random search; quality at small budgets against Optuna's TPE where it is installed. A benchmark,
// not a test: it prints figures and ratios measured in one run and fails only on errors.
//
// This header holds what the sections share: the run options, the driver that feeds an optimizer a fixed
// number of evaluations, and the front a run ends with. Single-threaded.
#ifndef HPO_BENCH_SEARCH_BENCH_H_
#define HPO_BENCH_SEARCH_BENCH_H_

#include <cstddef>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "bench/common/report.h"
#include "problems/problem.h"
#include "search/optimizer.h"

namespace hpo::bench {

// --section budget's own options (budget_bench.cc).
struct BudgetOptions {
  size_t seeds = 0;                     // seeds 1..seeds; 0 = 5 (2 with --quick)
  std::vector<std::string> algorithms;  // our rows to run, by name; empty = all
  std::vector<std::string> problems;    // zdt1, zdt2, zdt3, dtlz2, tnk; empty = all
  bool optuna = true;                   // run Optuna's TPE beside ours (optuna_script with python)
  std::string python = "/usr/bin/python3";
  std::string optuna_script;  // optuna_budget.py; main sets the source tree's
  std::string optuna_cache;   // Optuna's finished runs, reused and added to; "" = none (main: the build's)
  size_t optuna_jobs = 1;     // Optuna's runs at once, each in its own process
};

struct BenchOptions {
  bool quick = false;  // fewer seeds, evaluations and points: the whole program in well under a minute
  bool json = false;   // one JSON object per row instead of tables
  BudgetOptions budget;
};

// The objectives of the point of the unit cube u (the optimizer's genotype).
using Evaluator = std::function<std::vector<double>(std::span<const double> u)>;

// `problem` on the unit cube: x = lower + u·(upper - lower), then problem.evaluate(x). The evaluator
// keeps a copy of the problem.
Evaluator CubeEvaluator(const problems::Problem& problem);

struct DriveResult {
  size_t evaluations = 0;                                 // candidates evaluated and told
  double best = std::numeric_limits<double>::infinity();  // the smallest first objective told
  std::vector<std::vector<double>> told;  // every told objective vector, in order (keep_told only)
};

// Feeds `optimizer` exactly `budget` evaluations: Ask(min(batch, budget - done)), evaluate each candidate,
// Tell each in id order, repeat. INTERNAL when the optimizer asks nothing while nothing is outstanding
// (a stalled search) or refuses a Tell.
Result<DriveResult> Drive(search::Optimizer& optimizer, size_t budget, size_t batch,
                          const Evaluator& evaluate, bool keep_told);

// The set a multi-objective run is judged by: the optimizer's Elite() (NSGA-II's population, the whale
// optimizer's archive), or, when it keeps none, the non-dominated set of everything told (a fallback that
// `source` names, so that a table says which was measured).
struct FinalFront {
  std::vector<std::vector<double>> points;
  std::string source;  // "elite", or "nd(told)" for the fallback
};
FinalFront FrontOf(const search::Optimizer& optimizer, const std::vector<std::vector<double>>& told);

// The hypervolume of `points` for the reference (r, ..., r) with r = problems::kTrueFrontReference;
// points not strictly inside the reference box count nothing.
Result<double> HypervolumeAt11(const std::vector<std::vector<double>>& points, size_t num_objectives);

// The sections; each prints its tables and returns the first error it met.
Status RunNsga2Section(const BenchOptions& options, const Reporter& reporter);   // --section nsga2
Status RunSortSection(const BenchOptions& options, const Reporter& reporter);    // --section sort
Status RunHvSection(const BenchOptions& options, const Reporter& reporter);      // --section hv
Status RunWoaSection(const BenchOptions& options, const Reporter& reporter);     // --section woa
Status RunMoSection(const BenchOptions& options, const Reporter& reporter);      // --section mo
Status RunBudgetSection(const BenchOptions& options, const Reporter& reporter);  // --section budget

}  // namespace hpo::bench

#endif  // HPO_BENCH_SEARCH_BENCH_H_
