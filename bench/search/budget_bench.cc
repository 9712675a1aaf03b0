// Section budget: search quality at the small budgets a study of training runs gets (50, 100 and 200
// evaluations), beside Optuna 3.1's TPE measured in the same run on the same problems and seeds.
//
// The measure. Each (problem, algorithm, seed) is ONE run of the largest budget, driven with batch 1
// (Ask(1), evaluate, Tell: a model-based sampler sees every result before its next proposal). At each
// budget b the run is judged by what a user of the study would see after b trials: the non-dominated
// set of the FEASIBLE results among the first b, whose hypervolume at the problem's reference point
// (search::Hypervolume) is divided by the true front's. The table gives the median and the worst over
// the seeds, per budget, and the median over seeds of each run's median time per proposal (Ask) and per
// Ask + Tell, in milliseconds.
//
// Optuna's side (optuna_budget.py, run once with /usr/bin/python3 as a child) runs TPESampler(seed=s)
// with its defaults and with multivariate=True, constraints through constraints_func, over the same
// boxes with suggest_float, for the same number of trials, and sends back every x, f and g. The bench
// re-evaluates each x with its own problems (and fails if Optuna's f or g differ: the two sides must
// run the same functions), then judges Optuna's runs with the same code as ours. Ours are compared with
// the better of Optuna's two TPE medians for each problem and budget.
//
// Optuna's runs are deterministic and slow (one default-TPE run of 200 trials on DTLZ2 takes minutes), so
// they are kept in a cache file (--optuna-cache, the build folder's by default) and reused by later runs
// with the same settings; --optuna-cache "" runs them all again.
//
// Adding an algorithm is one row of BudgetAlgorithms() below.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/rng.h"
#include "base/strings.h"
#include "bench/common/child.h"
#include "bench/search/bench.h"
#include "problems/constrained.h"
#include "search/gp_sampler.h"
#include "search/hypervolume.h"
#include "search/nsga2.h"
#include "search/optimizer.h"
#include "search/random_search.h"

namespace hpo::bench {
namespace {

// ---- The rows ----

// A factory for one run's optimizer: `base` holds dims, objectives and the seed; the problem has
// `num_constraints` constraints (told through TellConstrained when > 0) and the run gets `budget`
// evaluations.
using BudgetFactory = std::function<Result<std::unique_ptr<search::Optimizer>>(
    const search::OptimizerOptions& base, size_t num_constraints, size_t budget)>;

struct BudgetAlgorithm {
  std::string name;  // the row's name, and what --budget-algorithms selects
  BudgetFactory make;
};

// Our rows, in the order printed. A row is a name and a factory; the model-based sampler's would be
//   {"gp", [](const search::OptimizerOptions& base, size_t num_constraints, size_t) {
//      return search::MakeGpSampler({.base = base, .num_constraints = num_constraints}); }},
// (with #include "search/gp_sampler.h"): inline fits, so Ask's time is the proposal's whole cost.
const std::vector<BudgetAlgorithm>& BudgetAlgorithms() {
  static const std::vector<BudgetAlgorithm> kAlgorithms = {
      // The model-based sampler as a study that names no algorithm gets it (inline here: every proposal
      // sees every result, as a sequential study's does in the service).
      {"gp",
       [](const search::OptimizerOptions& base, size_t num_constraints, size_t) {
         return search::MakeGpSampler({.base = base, .num_constraints = num_constraints});
       }},
      {"random",
       [](const search::OptimizerOptions& base, size_t, size_t) { return search::MakeRandomSearch(base); }},
      {"nsga2-steady-20",
       [](const search::OptimizerOptions& base, size_t, size_t) {
         return search::MakeNsga2(
             {.base = base, .population = 20, .mode = search::Nsga2Options::Mode::kSteadyState});
       }},
  };
  return kAlgorithms;
}

// Optuna's rows: the sampler names optuna_budget.py takes, and the rows' names.
struct PeerSampler {
  const char* sampler;
  const char* row;
};
constexpr PeerSampler kPeerSamplers[] = {{"tpe", "optuna-tpe"}, {"tpe-mv", "optuna-tpe-mv"}};

// ---- The problems ----

struct BudgetProblem {
  problems::Problem problem;
  std::vector<double> reference;
  double true_hv = 0;
  std::string reference_text;  // "(1.1, 11)"
};

// ZDT1-3 with 10 variables at (1.1, 11), the reference issue 7's Optuna figures use: every ZDT front
// point has f1 in [0, 1] and f2 <= 1, with (0, 1) on it, so the strip f2 in [1.1, 11] adds 1.1 * 9.9
// to the hypervolume at (1.1, 1.1). DTLZ2 with 3 objectives and 6 variables at (1.5, 1.5, 1.5):
// 1.5^3 - pi/6. TNK at (1.2, 1.2) (problems/constrained.h).
Result<std::vector<BudgetProblem>> MakeBudgetProblems(const std::vector<std::string>& only) {
  struct Spec {
    const char* name;
    size_t dims;
  };
  constexpr Spec kSpecs[] = {{"zdt1", 10}, {"zdt2", 10}, {"zdt3", 10}, {"dtlz2", 6}, {"tnk", 2}};
  for (const std::string& name : only) {
    if (std::none_of(std::begin(kSpecs), std::end(kSpecs), [&](const Spec& s) { return name == s.name; })) {
      return InvalidArgumentError("--budget-problems: unknown problem \"" + name +
                                  "\" (known: zdt1, zdt2, zdt3, dtlz2, tnk)");
    }
  }
  std::vector<BudgetProblem> out;
  for (const Spec& spec : kSpecs) {
    if (!only.empty() && std::find(only.begin(), only.end(), spec.name) == only.end()) continue;
    BudgetProblem p;
    const std::string name = spec.name;
    if (name == "tnk") {
      HPO_ASSIGN_OR_RETURN(p.problem, problems::MakeConstrainedProblem(name));
      p.reference = {problems::kTnkReference, problems::kTnkReference};
      HPO_ASSIGN_OR_RETURN(p.true_hv, problems::TnkTrueFrontHypervolume(problems::kTnkReference));
      p.reference_text = "(1.2, 1.2)";
    } else if (name == "dtlz2") {
      HPO_ASSIGN_OR_RETURN(p.problem, problems::MakeProblem(name, spec.dims));
      p.reference = {1.5, 1.5, 1.5};
      HPO_ASSIGN_OR_RETURN(p.true_hv, problems::TrueFrontHypervolume(name, 1.5));
      p.reference_text = "(1.5, 1.5, 1.5)";
    } else {
      HPO_ASSIGN_OR_RETURN(p.problem, problems::MakeProblem(name, spec.dims));
      p.reference = {1.1, 11.0};
      HPO_ASSIGN_OR_RETURN(const double square, problems::TrueFrontHypervolume(name, 1.1));
      p.true_hv = square + 1.1 * (11.0 - 1.1);
      p.reference_text = "(1.1, 11)";
      // The formula against a dense sample of the front (a lower bound within 1e-5 at 10^5 points).
      HPO_ASSIGN_OR_RETURN(const auto front, problems::SampleTrueFront(name, 100'000));
      HPO_ASSIGN_OR_RETURN(const search::HypervolumeResult sampled, search::Hypervolume(front, p.reference));
      if (sampled.value > p.true_hv + 1e-9 || sampled.value < p.true_hv - 1e-4) {
        return InternalError("budget: " + name + "'s true hypervolume " + FormatDouble(p.true_hv) +
                             " disagrees with its sampled front's " + FormatDouble(sampled.value));
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

// ---- One run ----

// What one run of one algorithm on one problem leaves: its fraction of the true hypervolume at each
// budget and its time per proposal.
struct RunFigures {
  std::vector<double> fraction;  // one per budget
  double ask_ms = 0;             // the run's median
  double ask_tell_ms = 0;
};

// The evaluated points of one run, in order: objectives and whether every constraint held.
struct History {
  std::vector<std::vector<double>> objectives;
  std::vector<bool> feasible;
};

bool AllHold(const std::vector<double>& g) {
  return std::all_of(g.begin(), g.end(), [](double v) { return v <= 0.0; });
}

// The fraction of the true hypervolume reached by the feasible points among the first b of `history`,
// for each b of `budgets`. REQUIRES: every b <= the history's size.
Result<std::vector<double>> PrefixFractions(const BudgetProblem& p, const History& history,
                                            const std::vector<size_t>& budgets) {
  std::vector<double> fractions;
  for (size_t b : budgets) {
    std::vector<std::vector<double>> points;
    for (size_t i = 0; i < b; ++i) {
      if (history.feasible[i]) points.push_back(history.objectives[i]);
    }
    HPO_ASSIGN_OR_RETURN(const search::HypervolumeResult hv, search::Hypervolume(points, p.reference));
    fractions.push_back(hv.value / p.true_hv);
  }
  return fractions;
}

double Milliseconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// One run of ours: batch 1, `budgets.back()` evaluations, constraints through TellConstrained.
Result<RunFigures> RunOurs(const BudgetProblem& p, const BudgetAlgorithm& algorithm, uint64_t seed,
                           const std::vector<size_t>& budgets) {
  const problems::Problem& problem = p.problem;
  const size_t budget = budgets.back();
  const search::OptimizerOptions base{
      .dims = problem.dims, .num_objectives = problem.num_objectives, .seed = seed};
  HPO_ASSIGN_OR_RETURN(std::unique_ptr<search::Optimizer> optimizer,
                       algorithm.make(base, problem.num_constraints, budget));
  History history;
  std::vector<double> ask_ms, ask_tell_ms;
  std::vector<double> x(problem.dims);
  using Clock = std::chrono::steady_clock;
  for (size_t done = 0; done < budget; ++done) {
    const Clock::time_point ask_start = Clock::now();
    const std::vector<search::Candidate> asked = optimizer->Ask(1);
    const Clock::duration ask = Clock::now() - ask_start;
    if (asked.size() != 1) {
      return InternalError(algorithm.name + " asked " + std::to_string(asked.size()) +
                           " candidates, not 1, after " + std::to_string(done) +
                           " evaluations with none outstanding");
    }
    const search::Candidate& c = asked.front();
    for (size_t i = 0; i < problem.dims; ++i) {
      x[i] = problem.lower[i] + c.x[i] * (problem.upper[i] - problem.lower[i]);
    }
    std::vector<double> f = problem.evaluate(x);
    std::vector<double> g;
    if (problem.num_constraints > 0) g = problem.constraints(x);
    const Clock::time_point tell_start = Clock::now();
    const Status told =
        problem.num_constraints > 0 ? optimizer->TellConstrained(c, f, g) : optimizer->Tell(c, f);
    const Clock::duration tell = Clock::now() - tell_start;
    if (!told.ok()) return told.WithPrefix(algorithm.name + " Tell");
    ask_ms.push_back(Milliseconds(ask));
    ask_tell_ms.push_back(Milliseconds(ask + tell));
    history.objectives.push_back(std::move(f));
    history.feasible.push_back(AllHold(g));
  }
  RunFigures figures;
  HPO_ASSIGN_OR_RETURN(figures.fraction, PrefixFractions(p, history, budgets));
  figures.ask_ms = Summarize(ask_ms).median;
  figures.ask_tell_ms = Summarize(ask_tell_ms).median;
  return figures;
}

// ---- Optuna's side ----

// The text after `"key":` (spaces skipped), or npos. The script's lines are json.dumps of flat objects
// of numbers, strings and flat lists of numbers, so no key appears inside another value.
size_t ValueStart(std::string_view line, std::string_view key) {
  const std::string quoted = JsonQuote(key) + ":";
  size_t at = line.find(quoted);
  if (at == std::string_view::npos) return at;
  at += quoted.size();
  while (at < line.size() && line[at] == ' ') ++at;
  return at;
}

std::optional<double> NumberField(std::string_view line, std::string_view key) {
  const size_t at = ValueStart(line, key);
  if (at == std::string_view::npos) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(line.data() + at, line.data() + line.size(), value);
  if (ec != std::errc() || end == line.data() + at) return std::nullopt;
  return value;
}

std::optional<std::string> StringField(std::string_view line, std::string_view key) {
  const size_t at = ValueStart(line, key);
  if (at == std::string_view::npos || at >= line.size() || line[at] != '"') return std::nullopt;
  const size_t end = line.find('"', at + 1);
  if (end == std::string_view::npos) return std::nullopt;
  return std::string(line.substr(at + 1, end - at - 1));
}

// A list of numbers "[1.5, 2, 3e-05]".
std::optional<std::vector<double>> NumberListField(std::string_view line, std::string_view key) {
  size_t at = ValueStart(line, key);
  if (at == std::string_view::npos || at >= line.size() || line[at] != '[') return std::nullopt;
  std::vector<double> values;
  ++at;
  while (true) {
    while (at < line.size() && line[at] == ' ') ++at;
    if (at < line.size() && line[at] == ']' && values.empty()) return values;
    double value = 0;
    const auto [end, ec] = std::from_chars(line.data() + at, line.data() + line.size(), value);
    if (ec != std::errc() || end == line.data() + at) return std::nullopt;
    values.push_back(value);
    at = static_cast<size_t>(end - line.data());
    while (at < line.size() && line[at] == ' ') ++at;
    if (at >= line.size()) return std::nullopt;
    if (line[at] == ']') return values;
    if (line[at] != ',') return std::nullopt;
    ++at;
  }
}

// Whether two evaluations of one function agree: the same libm on both sides gives the same bits, but
// leave room for a last-bit difference.
bool Agree(double a, double b) { return std::abs(a - b) <= 1e-9 * (1.0 + std::abs(a)); }

// One line of the script: a run of one sampler on one problem, checked against our problem and judged.
Result<std::pair<std::string, RunFigures>> ParsePeerRun(std::string_view line, const BudgetProblem& p,
                                                        const std::vector<size_t>& budgets) {
  const problems::Problem& problem = p.problem;
  const auto sampler = StringField(line, "sampler");
  const auto x = NumberListField(line, "x");
  const auto f = NumberListField(line, "f");
  const auto g = NumberListField(line, "g");
  const auto trials = NumberField(line, "trials");
  if (!sampler || !x || !f || !g || !trials) {
    return InternalError("optuna_budget.py: a line without its fields");
  }
  const size_t n = static_cast<size_t>(*trials);
  if (n < budgets.back() || x->size() != n * problem.dims || f->size() != n * problem.num_objectives ||
      g->size() != n * problem.num_constraints) {
    return InternalError("optuna_budget.py: " + problem.name + " " + *sampler + ": lists of the wrong sizes");
  }
  History history;
  for (size_t t = 0; t < n; ++t) {
    const std::span<const double> xt(x->data() + t * problem.dims, problem.dims);
    for (size_t i = 0; i < problem.dims; ++i) {
      if (!(xt[i] >= problem.lower[i] && xt[i] <= problem.upper[i])) {
        return InternalError("optuna_budget.py: " + problem.name + " trial " + std::to_string(t) +
                             " outside the box");
      }
    }
    std::vector<double> ours_f = problem.evaluate(xt);
    std::vector<double> ours_g;
    if (problem.num_constraints > 0) ours_g = problem.constraints(xt);
    for (size_t j = 0; j < ours_f.size(); ++j) {
      if (!Agree(ours_f[j], (*f)[t * problem.num_objectives + j])) {
        return InternalError("optuna_budget.py: " + problem.name + " trial " + std::to_string(t) +
                             ": Optuna's objective " + std::to_string(j) + " differs from ours");
      }
    }
    for (size_t j = 0; j < ours_g.size(); ++j) {
      if (!Agree(ours_g[j], (*g)[t * problem.num_constraints + j])) {
        return InternalError("optuna_budget.py: " + problem.name + " trial " + std::to_string(t) +
                             ": Optuna's constraint " + std::to_string(j) + " differs from ours");
      }
    }
    history.objectives.push_back(std::move(ours_f));
    history.feasible.push_back(AllHold(ours_g));
  }
  RunFigures figures;
  HPO_ASSIGN_OR_RETURN(figures.fraction, PrefixFractions(p, history, budgets));
  figures.ask_ms = NumberField(line, "ask_ms_median").value_or(std::nan(""));
  figures.ask_tell_ms = NumberField(line, "ask_tell_ms_median").value_or(std::nan(""));
  return std::make_pair(*sampler, std::move(figures));
}

std::string Joined(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

// Runs of one row, by problem name.
using Rows = std::map<std::string, std::map<std::string, std::vector<RunFigures>>>;  // problem -> row -> runs

// What Optuna's side reported besides its runs.
struct PeerInfo {
  std::string version;  // "3.1.0"
  size_t runs = 0;      // runs read back
  size_t cached = 0;    // of them, read from the cache file rather than run now
};

// Optuna's runs of every problem, seed and sampler, into rows[problem][row]. FAILED_PRECONDITION with
// the reason when Optuna cannot be imported; INTERNAL when the script fails or its runs disagree with our
// problems.
Status RunPeer(const BudgetOptions& options, const std::vector<BudgetProblem>& problem_list, size_t seeds,
               const std::vector<size_t>& budgets, Rows& rows, PeerInfo& info) {
  const Result<ChildOutput> probe =
      RunChild({options.python, "-c", "import optuna; print(optuna.__version__)"}, {}, /*quiet=*/true);
  if (!probe.ok() || probe->exit_code != 0) {
    return FailedPreconditionError("Optuna is not installed for " + options.python +
                                   " (Debian: python3-optuna)");
  }
  info.version = std::string(Trim(probe->out));
  std::vector<std::string> problem_args, seed_args, sampler_args;
  for (const BudgetProblem& p : problem_list) {
    problem_args.push_back(p.problem.name + ":" + std::to_string(p.problem.dims));
  }
  for (size_t s = 1; s <= seeds; ++s) seed_args.push_back(std::to_string(s));
  for (const PeerSampler& s : kPeerSamplers) sampler_args.push_back(s.sampler);
  std::vector<std::string> argv = {options.python, options.optuna_script,
                                   "--problems",   Joined(problem_args, ","),
                                   "--samplers",   Joined(sampler_args, ","),
                                   "--seeds",      Joined(seed_args, ","),
                                   "--trials",     std::to_string(budgets.back()),
                                   "--jobs",       std::to_string(std::max<size_t>(options.optuna_jobs, 1))};
  if (!options.optuna_cache.empty()) argv.insert(argv.end(), {"--cache", options.optuna_cache});
  HPO_ASSIGN_OR_RETURN(const ChildOutput child, RunChild(argv, {}, /*quiet=*/false));
  const std::string stale_hint =
      options.optuna_cache.empty() ? "" : " (runs from an older script? delete " + options.optuna_cache + ")";
  std::string_view rest = child.out;
  while (!rest.empty()) {
    const size_t end = rest.find('\n');
    const std::string_view line = Trim(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (line.empty() || line.front() != '{') continue;
    if (const auto error = StringField(line, "error")) return InternalError("optuna_budget.py: " + *error);
    const auto name = StringField(line, "problem");
    if (!name) continue;  // the version line
    const auto p = std::find_if(problem_list.begin(), problem_list.end(),
                                [&](const BudgetProblem& b) { return b.problem.name == *name; });
    if (p == problem_list.end()) {
      return InternalError("optuna_budget.py: a run of an unknown problem " + *name);
    }
    Result<std::pair<std::string, RunFigures>> run = ParsePeerRun(line, *p, budgets);
    if (!run.ok()) return InternalError(std::string(run.status().message()) + stale_hint);
    const auto sampler = std::find_if(std::begin(kPeerSamplers), std::end(kPeerSamplers),
                                      [&](const PeerSampler& s) { return run->first == s.sampler; });
    if (sampler == std::end(kPeerSamplers)) {
      return InternalError("optuna_budget.py: unknown sampler " + run->first);
    }
    rows[*name][sampler->row].push_back(std::move(run->second));
    ++info.runs;
    if (NumberField(line, "cached").value_or(0) != 0) ++info.cached;
  }
  const size_t expected = problem_list.size() * seeds * std::size(kPeerSamplers);
  if (child.exit_code != 0 || info.runs != expected) {
    return InternalError("optuna_budget.py exited with status " + std::to_string(child.exit_code) +
                         " after " + std::to_string(info.runs) + " of " + std::to_string(expected) + " runs");
  }
  return Status::Ok();
}

// The median over seeds of each budget's fraction, and the worst seed's.
struct RowSummary {
  std::vector<double> median, worst;
  double ask_ms = 0, ask_tell_ms = 0;
};

RowSummary Summarise(const std::vector<RunFigures>& runs, size_t num_budgets) {
  RowSummary s;
  for (size_t b = 0; b < num_budgets; ++b) {
    std::vector<double> at;
    for (const RunFigures& r : runs) at.push_back(r.fraction[b]);
    const Summary summary = Summarize(at);
    s.median.push_back(summary.median);
    s.worst.push_back(summary.min);
  }
  std::vector<double> ask, ask_tell;
  for (const RunFigures& r : runs) {
    ask.push_back(r.ask_ms);
    ask_tell.push_back(r.ask_tell_ms);
  }
  s.ask_ms = Summarize(ask).median;
  s.ask_tell_ms = Summarize(ask_tell).median;
  return s;
}

}  // namespace

// The model-based sampler's cost per proposal as results accumulate: a sampler warmed with n results of
// uniform points on ZDT1 (10 variables; Optimizer::Warm, as a warm start or a long study would hold),
// then 3 proposals inline, each a full fit (hyperparameters from their prior's mode and the warm start)
// and acquisition on this one thread; the median. Past max_observations (300) the fit uses a subset.
Status RunProposalTime(const BenchOptions& options, const Reporter& reporter) {
  HPO_ASSIGN_OR_RETURN(const problems::Problem zdt1, problems::MakeProblem("zdt1", 10));
  const std::vector<size_t> sizes = options.quick ? std::vector<size_t>{200} : std::vector<size_t>{200, 1000};
  Table table(
      reporter, "budget", "proposal_time",
      "The model-based sampler's time per proposal with n results (ZDT1, 10 variables, uniform points, "
      "one thread): median of 3 asks; its fits use at most 300 results (the front, the latest, a "
      "sample of the rest)",
      {{"observations", "observations", Column::Format::kAuto},
       {"median_s", "median s", Column::Format::kFixed, 3},
       {"max_s", "max s", Column::Format::kFixed, 3}});
  for (size_t n : sizes) {
    Rng rng(n);
    std::vector<search::Evaluation> results(n);
    for (search::Evaluation& e : results) {
      e.candidate.x.resize(zdt1.dims);
      for (double& g : e.candidate.x) g = rng.Uniform01();
      e.objectives = zdt1.evaluate(e.candidate.x);
    }
    HPO_ASSIGN_OR_RETURN(
        std::unique_ptr<search::Optimizer> gp,
        search::MakeGpSampler({.base = {.dims = zdt1.dims, .num_objectives = 2, .seed = 1}}));
    HPO_RETURN_IF_ERROR(gp->Warm(results));
    std::vector<double> seconds;
    for (int k = 0; k < 3; ++k) {
      const Stopwatch watch;
      const std::vector<search::Candidate> asked = gp->Ask(1);
      seconds.push_back(watch.WallSeconds());
      if (asked.size() != 1) return InternalError("the model-based sampler proposed nothing");
      HPO_RETURN_IF_ERROR(gp->Tell(asked[0], zdt1.evaluate(asked[0].x)));
    }
    std::sort(seconds.begin(), seconds.end());
    table.Add({static_cast<int64_t>(n), seconds[1], seconds.back()});
  }
  table.Print();
  return Status::Ok();
}

Status RunBudgetSection(const BenchOptions& options, const Reporter& reporter) {
  const BudgetOptions& budget_options = options.budget;
  const size_t seeds = budget_options.seeds > 0 ? budget_options.seeds : (options.quick ? 2 : 5);
  const std::vector<size_t> budgets =
      options.quick ? std::vector<size_t>{50} : std::vector<size_t>{50, 100, 200};
  std::vector<const BudgetAlgorithm*> algorithms;
  for (const BudgetAlgorithm& a : BudgetAlgorithms()) {
    const std::vector<std::string>& only = budget_options.algorithms;
    if (only.empty() || std::find(only.begin(), only.end(), a.name) != only.end()) algorithms.push_back(&a);
  }
  for (const std::string& name : budget_options.algorithms) {
    const auto& all = BudgetAlgorithms();
    if (std::none_of(all.begin(), all.end(), [&](const BudgetAlgorithm& a) { return a.name == name; })) {
      std::vector<std::string> known;
      for (const BudgetAlgorithm& a : all) known.push_back(a.name);
      return InvalidArgumentError("--budget-algorithms: unknown algorithm \"" + name +
                                  "\" (known: " + Joined(known, ", ") + ")");
    }
  }
  HPO_ASSIGN_OR_RETURN(const std::vector<BudgetProblem> problem_list,
                       MakeBudgetProblems(budget_options.problems));

  // How to run this again, then what the tables hold.
  std::string command = "hpo-bench-search --section budget";
  if (options.quick) command += " --quick";
  command += " --budget-seeds " + std::to_string(seeds);
  if (!budget_options.algorithms.empty()) {
    command += " --budget-algorithms " + Joined(budget_options.algorithms, ",");
  }
  if (!budget_options.problems.empty()) {
    command += " --budget-problems " + Joined(budget_options.problems, ",");
  }
  if (!budget_options.optuna) command += " --no-optuna";
  if (options.json) command += " --json";
  std::vector<std::string> budget_text, problem_text;
  for (size_t b : budgets) budget_text.push_back(std::to_string(b));
  for (const BudgetProblem& p : problem_list) {
    char line[160];
    std::snprintf(line, sizeof line, "%s (%zu vars) at %s: %.6f", p.problem.name.c_str(), p.problem.dims,
                  p.reference_text.c_str(), p.true_hv);
    problem_text.push_back(line);
  }
  reporter.Note("budget",
                "budget: search quality at small budgets beside Optuna's TPE; reproduce: " + command);
  reporter.Note("budget", "  true front hypervolumes: " + Joined(problem_text, "; "));

  // Ours.
  Rows rows;
  for (const BudgetProblem& p : problem_list) {
    const Stopwatch watch;
    for (const BudgetAlgorithm* a : algorithms) {
      for (uint64_t seed = 1; seed <= seeds; ++seed) {
        Result<RunFigures> run = RunOurs(p, *a, seed, budgets);
        if (!run.ok()) {
          return run.status().WithPrefix(p.problem.name + " " + a->name + " seed " + std::to_string(seed));
        }
        rows[p.problem.name][a->name].push_back(std::move(run).value());
      }
    }
    std::fprintf(stderr, "budget: ours on %s done in %.1f s\n", p.problem.name.c_str(), watch.WallSeconds());
  }

  // Optuna's.
  Status peer_status = Status::Ok();
  PeerInfo peer_info;
  if (budget_options.optuna) {
    const Stopwatch watch;
    peer_status = RunPeer(budget_options, problem_list, seeds, budgets, rows, peer_info);
    std::fprintf(stderr, "budget: Optuna's runs done in %.1f s\n", watch.WallSeconds());
  }
  const bool have_peer = budget_options.optuna && peer_status.ok();

  std::vector<Column> columns = {{"problem", "problem", Column::Format::kText},
                                 {"algorithm", "algorithm", Column::Format::kText},
                                 {"seeds", "seeds", Column::Format::kAuto}};
  for (size_t b : budgets) {
    columns.push_back(
        {"frac_median_" + std::to_string(b), "med@" + std::to_string(b), Column::Format::kFixed, 3});
    columns.push_back(
        {"frac_worst_" + std::to_string(b), "worst@" + std::to_string(b), Column::Format::kFixed, 3});
  }
  columns.push_back({"ask_ms", "ask ms", Column::Format::kAuto, 3});
  columns.push_back({"ask_tell_ms", "ask+tell ms", Column::Format::kAuto, 3});
  Table table(
      reporter, "budget", "quality",
      "Fraction of the true front's hypervolume reached by the feasible non-dominated set of the first "
      "b evaluations (one run of " +
          std::to_string(budgets.back()) + " per seed, batch 1, seeds 1.." + std::to_string(seeds) +
          "): median and worst seed at b = " + Joined(budget_text, ", ") +
          "; ask ms: median over seeds of each run's median time per proposal",
      columns);
  std::vector<Column> diff_columns = {{"problem", "problem", Column::Format::kText},
                                      {"algorithm", "ours", Column::Format::kText}};
  for (size_t b : budgets) {
    diff_columns.push_back(
        {"diff_" + std::to_string(b), "d@" + std::to_string(b), Column::Format::kFixed, 3});
  }
  for (size_t b : budgets) {
    diff_columns.push_back(
        {"tpe_" + std::to_string(b), "TPE@" + std::to_string(b), Column::Format::kFixed, 3});
  }
  diff_columns.push_back({"tpe_better", "better TPE at " + Joined(budget_text, "/"), Column::Format::kText});
  Table diff(reporter, "budget", "vs_tpe",
             "Ours against Optuna's TPE: d@b = our median - the better TPE median (default or multivariate, "
             "per problem and budget; higher is better for us); TPE@b that median",
             diff_columns);

  const size_t nb = budgets.size();
  for (const BudgetProblem& p : problem_list) {
    const std::string& name = p.problem.name;
    std::vector<std::string> row_names;
    for (const BudgetAlgorithm* a : algorithms) row_names.push_back(a->name);
    if (have_peer) {
      for (const PeerSampler& s : kPeerSamplers) row_names.push_back(s.row);
    }
    for (const std::string& row : row_names) {
      const RowSummary s = Summarise(rows[name][row], nb);
      std::vector<Value> cells = {name, row, static_cast<int64_t>(seeds)};
      for (size_t b = 0; b < nb; ++b) {
        cells.push_back(s.median[b]);
        cells.push_back(s.worst[b]);
      }
      cells.push_back(s.ask_ms);
      cells.push_back(s.ask_tell_ms);
      table.Add(std::move(cells));
    }
    if (!have_peer) continue;
    // The better TPE per budget, and ours against it.
    std::vector<double> tpe_best(nb, std::nan(""));
    std::vector<std::string> tpe_which(nb);
    for (const PeerSampler& s : kPeerSamplers) {
      const RowSummary peer = Summarise(rows[name][s.row], nb);
      for (size_t b = 0; b < nb; ++b) {
        if (std::isnan(tpe_best[b]) || peer.median[b] > tpe_best[b]) {
          tpe_best[b] = peer.median[b];
          tpe_which[b] = s.sampler;
        }
      }
    }
    for (const BudgetAlgorithm* a : algorithms) {
      const RowSummary s = Summarise(rows[name][a->name], nb);
      std::vector<Value> cells = {name, a->name};
      for (size_t b = 0; b < nb; ++b) cells.push_back(s.median[b] - tpe_best[b]);
      for (size_t b = 0; b < nb; ++b) cells.push_back(tpe_best[b]);
      cells.push_back(Joined(tpe_which, "/"));
      diff.Add(std::move(cells));
    }
  }
  if (!have_peer) {
    // A row that says Optuna's rows are missing, and a note that says why.
    const std::string what = !budget_options.optuna                                  ? "optuna: not run"
                             : peer_status.code() == StatusCode::kFailedPrecondition ? "optuna: not installed"
                                                                                     : "optuna: failed";
    std::vector<Value> cells = {Value{"all"}, Value{what}, Value{}};
    for (size_t b = 0; b < nb; ++b) cells.insert(cells.end(), {Value{}, Value{}});
    cells.insert(cells.end(), {Value{}, Value{}});
    table.Add(std::move(cells));
  }
  table.Print();
  diff.Print();  // empty without Optuna
  if (!have_peer) {
    reporter.Note("budget", !budget_options.optuna ? "optuna: not run (--no-optuna); no comparison"
                                                   : "optuna: " + peer_status.ToString() + "; no comparison");
  }
  if (have_peer) {
    std::string note = "optuna " + peer_info.version + " (" + budget_options.python +
                       "): " + std::to_string(peer_info.runs - peer_info.cached) + " runs made now";
    if (peer_info.cached > 0) {
      note +=
          ", " + std::to_string(peer_info.cached) + " read from " + budget_options.optuna_cache +
          " (runs are deterministic; their ask ms are from when they ran; --optuna-cache \"\" reruns them)";
    }
    reporter.Note("budget", note);
  }
  HPO_RETURN_IF_ERROR(RunProposalTime(options, reporter));
  // Not installed is a fact to print, not a failure; a peer that ran and broke is.
  if (!peer_status.ok() && peer_status.code() != StatusCode::kFailedPrecondition) return peer_status;
  return Status::Ok();
}

}  // namespace hpo::bench
