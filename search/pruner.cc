#include "search/pruner.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

#include "base/rng.h"
#include "base/strings.h"
#include "search/pareto.h"

namespace hpo::search {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string Num(double v) { return FormatDouble(v); }

// a * b when it is at most kMaxPrunerResource, else nullopt; never overflows (b > kMax / a is tested
// before multiplying).
std::optional<uint64_t> MulBounded(uint64_t a, uint64_t b) {
  if (a != 0 && b > kMaxPrunerResource / a) return std::nullopt;
  return a * b;
}

// min_resource * eta^rate, or nullopt when above kMaxPrunerResource. REQUIRES: min_resource >= 1, eta >= 2.
std::optional<uint64_t> FirstRung(uint64_t min_resource, uint64_t eta, uint64_t rate) {
  std::optional<uint64_t> step =
      min_resource <= kMaxPrunerResource ? std::optional<uint64_t>(min_resource) : std::nullopt;
  for (uint64_t k = 0; step && k < rate; ++k) step = MulBounded(*step, eta);
  return step;
}

// The rung steps below max_resource. REQUIRES: options valid but for the rung condition.
std::vector<uint64_t> RungSteps(uint64_t min_resource, uint64_t eta, uint64_t max_resource, uint64_t rate) {
  std::vector<uint64_t> steps;
  for (std::optional<uint64_t> step = FirstRung(min_resource, eta, rate); step && *step < max_resource;
       step = MulBounded(*step, eta)) {
    steps.push_back(*step);
  }
  return steps;
}

// The last step before `step` with a report (1-based), 0 if none.
uint64_t PreviousReport(const PrunerTrial& trial, uint64_t step) {
  for (uint64_t s = step - 1; s >= 1; --s) {
    if (!trial.history[s - 1].empty()) return s;
  }
  return 0;
}

// The first report at or after `step`, or nullptr when the trial has not reached it.
const std::vector<double>* FirstReportFrom(const PrunerTrial& trial, uint64_t step) {
  for (uint64_t s = step; s <= trial.history.size(); ++s) {
    if (!trial.history[s - 1].empty()) return &trial.history[s - 1];
  }
  return nullptr;
}

// The least first objective over steps 1..step, NaN values and gaps skipped; NaN when there is none.
double RunningBest(const PrunerTrial& trial, uint64_t step) {
  double best = kNaN;
  for (uint64_t s = 1; s <= step && s <= trial.history.size(); ++s) {
    const std::vector<double>& report = trial.history[s - 1];
    if (report.empty() || std::isnan(report[0])) continue;
    if (std::isnan(best) || report[0] < best) best = report[0];
  }
  return best;
}

// The common preamble of every rule: a finished trial or a gap at the last step is not decided.
std::optional<PruneDecision> NotDecidable(const std::string& name, const PrunerTrial& trial) {
  if (trial.finished) return PruneDecision{false, name + ": the trial has finished"};
  if (trial.history.empty() || trial.history.back().empty()) {
    return PruneDecision{false, name + ": no report at the trial's last step"};
  }
  return std::nullopt;
}

class NoPruner final : public Pruner {
 public:
  PruneDecision Decide(const PrunerTrial&, std::span<const PrunerTrial>) const override {
    return {false, "no pruner"};
  }
  bool IsDecisionStep(uint64_t, uint64_t, uint64_t) const override { return false; }
};

class MedianPruner final : public Pruner {
 public:
  explicit MedianPruner(const MedianPrunerOptions& options) : options_(options) {}

  PruneDecision Decide(const PrunerTrial& trial, std::span<const PrunerTrial> all) const override {
    if (std::optional<PruneDecision> none = NotDecidable("median", trial)) return *none;
    const uint64_t step = trial.history.size();
    const std::string at = "median: step " + std::to_string(step) + ": ";
    if (step <= options_.n_warmup_steps) {
      return {false, at + "a warm-up step (decisions from step " +
                         std::to_string(options_.n_warmup_steps + 1) + ")"};
    }
    const double best = RunningBest(trial, step);
    if (std::isnan(best)) return {true, at + "no value so far is a number"};
    std::vector<double> others;
    for (const PrunerTrial& other : all) {
      if (other.id == trial.id || (options_.finished_only && !other.finished)) continue;
      if (other.history.size() < step) continue;
      const double other_best = RunningBest(other, step);
      if (!std::isnan(other_best)) others.push_back(other_best);
    }
    // "3 other trials", "1 finished other trial"
    const std::string counted = std::to_string(others.size()) + (options_.finished_only ? " finished" : "") +
                                (others.size() == 1 ? " other trial" : " other trials");
    if (others.size() < options_.n_startup_trials) {
      return {false, at + counted + " reached it, " + std::to_string(options_.n_startup_trials) + " needed"};
    }
    const size_t mid = others.size() / 2;
    std::nth_element(others.begin(), others.begin() + static_cast<std::ptrdiff_t>(mid), others.end());
    double median = others[mid];
    if (others.size() % 2 == 0) {
      const double below =
          *std::max_element(others.begin(), others.begin() + static_cast<std::ptrdiff_t>(mid));
      median = below / 2 + median / 2;  // halves first: no overflow to infinity
    }
    const bool prune = best > median;
    return {prune, at + "best so far " + Num(best) + (prune ? " is worse than" : " is no worse than") +
                       " the median " + Num(median) + " of " + counted + " (each by its best so far)"};
  }

  bool IsDecisionStep(uint64_t, uint64_t, uint64_t step) const override {
    return step > options_.n_warmup_steps;
  }

 private:
  MedianPrunerOptions options_;
};

// How the trials at a rung are ordered: by the first objective (ASHA) or by front and crowding distance
// (MO-ASHA).
enum class Ranking { kFirstObjective, kNondominated };

// A trial at a rung: its id and its report there.
struct AtRung {
  uint64_t id;
  const std::vector<double>* value;
};

struct Rank {
  size_t position = 0;  // 0 = best
  std::string detail;   // for the reason, e.g. " (front 2, crowding distance 0.5)"
};

// Whether `value` takes part in a rung ranked as `ranking` says next to `mine` (the deciding trial's).
bool Usable(Ranking ranking, const std::vector<double>& value, const std::vector<double>& mine) {
  if (ranking == Ranking::kFirstObjective) return !std::isnan(value[0]);
  return value.size() == mine.size() &&
         std::none_of(value.begin(), value.end(), [](double v) { return std::isnan(v); });
}

// The position of `me` among `me` and `others` (which all pass Usable).
Rank RankAtRung(Ranking ranking, const AtRung& me, std::vector<AtRung> others) {
  Rank rank;
  if (ranking == Ranking::kFirstObjective) {
    const double mine = (*me.value)[0];
    for (const AtRung& other : others) {
      const double theirs = (*other.value)[0];
      if (theirs < mine || (theirs == mine && other.id < me.id)) ++rank.position;
    }
    return rank;
  }
  // Points in id order, so that among copies the lowest id holds the crowding distance (pareto.h).
  others.push_back(me);
  std::sort(others.begin(), others.end(), [](const AtRung& a, const AtRung& b) { return a.id < b.id; });
  std::vector<std::vector<double>> points;
  points.reserve(others.size());
  size_t my_index = 0;
  for (size_t i = 0; i < others.size(); ++i) {
    if (others[i].id == me.id) my_index = i;
    points.push_back(*others[i].value);
  }
  const NondominatedSorting sorting = NondominatedSort(points);
  const size_t my_front = sorting.rank[my_index];
  for (size_t f = 0; f < my_front; ++f) rank.position += sorting.fronts[f].size();
  const std::vector<size_t>& front = sorting.fronts[my_front];
  const std::vector<double> distance = CrowdingDistance(points, front);
  double my_distance = 0;
  for (size_t k = 0; k < front.size(); ++k) {
    if (front[k] == my_index) my_distance = distance[k];
  }
  for (size_t k = 0; k < front.size(); ++k) {
    // Points are in id order, so a lower index is a lower id.
    if (distance[k] > my_distance || (distance[k] == my_distance && front[k] < my_index)) ++rank.position;
  }
  rank.detail = " (front " + std::to_string(my_front + 1) + ", crowding distance " + Num(my_distance) + ")";
  return rank;
}

// ASHA's decision over given rungs, for the trials `member` accepts: the whole of ASHA and MO-ASHA, and
// one bracket of Hyperband.
class RungRule {
 public:
  RungRule(std::string name, std::vector<uint64_t> rungs, uint64_t eta, Ranking ranking,
           uint64_t max_resource)
      : name_(std::move(name)),
        rungs_(std::move(rungs)),
        eta_(eta),
        ranking_(ranking),
        max_resource_(max_resource) {}

  const std::string& name() const { return name_; }

  bool IsDecisionStep(uint64_t previous_step, uint64_t step) const {
    auto first = std::upper_bound(rungs_.begin(), rungs_.end(), previous_step);
    return first != rungs_.end() && *first <= step;
  }

  template <typename Member>
  PruneDecision Decide(const PrunerTrial& trial, std::span<const PrunerTrial> all, Member&& member) const {
    if (std::optional<PruneDecision> none = NotDecidable(name_, trial)) return *none;
    const uint64_t step = trial.history.size();
    // A report at the full budget (one that passed its last rung unseen, when reports are merged) comes
    // from a trial that has nothing left to save: it is never stopped.
    if (step >= max_resource_) {
      return {false, name_ + ": step " + std::to_string(step) + " is the full budget (" +
                         std::to_string(max_resource_) + ")"};
    }
    const uint64_t previous = PreviousReport(trial, step);
    auto first = std::upper_bound(rungs_.begin(), rungs_.end(), previous);
    if (first == rungs_.end() || *first > step) {
      std::string reason = name_ + ": step " + std::to_string(step) + " is not a rung";
      if (first == rungs_.end()) return {false, reason + " (no rung after it: the trial runs to the end)"};
      return {false, reason + " (next: step " + std::to_string(*first) + ")"};
    }
    const std::vector<double>& mine = trial.history.back();
    const AtRung me{trial.id, &mine};
    PruneDecision decision;
    for (auto rung = first; rung != rungs_.end() && *rung <= step; ++rung) {
      const std::string at = name_ + ": rung " + std::to_string(rung - rungs_.begin()) + " (step " +
                             std::to_string(*rung) + "): ";
      if (!Usable(ranking_, mine, mine)) return {true, at + "the value is not a number"};
      std::vector<AtRung> others;
      for (const PrunerTrial& other : all) {
        if (other.id == trial.id || !member(other.id)) continue;
        const std::vector<double>* value = FirstReportFrom(other, *rung);
        if (value != nullptr && Usable(ranking_, *value, mine)) others.push_back({other.id, value});
      }
      const size_t n = others.size() + 1;
      const size_t keep = std::max<size_t>(1, n / eta_);
      const Rank rank = RankAtRung(ranking_, me, std::move(others));
      decision.prune = rank.position >= keep;
      decision.reason =
          at + "rank " + std::to_string(rank.position + 1) + " of " + std::to_string(n) + rank.detail;
      if (n < eta_) {
        decision.reason +=
            ", promoting only the best while fewer than " + std::to_string(eta_) + " reached it";
      } else {
        decision.reason += ", promoting the best " + std::to_string(keep);
      }
      if (decision.prune) break;
    }
    return decision;
  }

 private:
  std::string name_;
  std::vector<uint64_t> rungs_;  // ascending steps
  uint64_t eta_;
  Ranking ranking_;
  uint64_t max_resource_;  // a trial reporting this step has its full budget
};

class AshaPruner final : public Pruner {
 public:
  AshaPruner(const AshaOptions& options, Ranking ranking)
      : rule_(ranking == Ranking::kFirstObjective ? "asha" : "mo-asha", AshaRungSteps(options),
              options.reduction_factor, ranking, options.max_resource) {}

  PruneDecision Decide(const PrunerTrial& trial, std::span<const PrunerTrial> all) const override {
    return rule_.Decide(trial, all, [](uint64_t) { return true; });
  }
  bool IsDecisionStep(uint64_t, uint64_t previous_step, uint64_t step) const override {
    return rule_.IsDecisionStep(previous_step, step);
  }

 private:
  RungRule rule_;
};

// The bracket that hash h (any 64 bits) falls into, weighted by the brackets' budgets summing to `total`.
size_t BracketOfHash(std::span<const HyperbandBracket> brackets, uint64_t total, uint64_t h) {
  if (total == 0) return 0;
  h %= total;
  for (size_t i = 0; i < brackets.size(); ++i) {
    if (h < brackets[i].budget) return i;
    h -= brackets[i].budget;
  }
  return brackets.size() - 1;  // not reached: h < total
}

uint64_t TotalBudget(std::span<const HyperbandBracket> brackets) {
  uint64_t total = 0;
  for (const HyperbandBracket& bracket : brackets) total += bracket.budget;
  return total;
}

class HyperbandPruner final : public Pruner {
 public:
  explicit HyperbandPruner(const HyperbandOptions& options)
      : seed_(options.seed), brackets_(HyperbandBrackets(options)), total_(TotalBudget(brackets_)) {
    for (const HyperbandBracket& bracket : brackets_) {
      std::string name = "hyperband: bracket " + std::to_string(bracket.min_early_stopping_rate) + " of " +
                         std::to_string(brackets_.size());
      rules_.emplace_back(std::move(name), bracket.rung_steps, options.reduction_factor,
                          Ranking::kFirstObjective, options.max_resource);
    }
  }

  PruneDecision Decide(const PrunerTrial& trial, std::span<const PrunerTrial> all) const override {
    const size_t bracket = BracketOf(trial.id);
    return rules_[bracket].Decide(trial, all, [&](uint64_t id) { return BracketOf(id) == bracket; });
  }
  bool IsDecisionStep(uint64_t trial_id, uint64_t previous_step, uint64_t step) const override {
    return rules_[BracketOf(trial_id)].IsDecisionStep(previous_step, step);
  }

 private:
  size_t BracketOf(uint64_t id) const { return BracketOfHash(brackets_, total_, DeriveSeed(seed_, id)); }

  uint64_t seed_;
  std::vector<HyperbandBracket> brackets_;  // at least one: the options are valid
  uint64_t total_;                          // the sum of their budgets
  std::vector<RungRule> rules_;             // one per bracket
};

Status Bad(const std::string& field, const std::string& problem) {
  return InvalidArgumentError("pruner." + field + ": " + problem);
}

// The checks ASHA and Hyperband share: r, eta, R.
Status ValidateResources(const std::string& prefix, uint64_t min_resource, uint64_t eta,
                         uint64_t max_resource) {
  if (min_resource < 1) return Bad(prefix + "min_resource", "must be at least 1");
  if (eta < 2) return Bad(prefix + "reduction_factor", "must be at least 2");
  if (max_resource > kMaxPrunerResource) {
    return Bad(prefix + "max_resource", "must be at most " + std::to_string(kMaxPrunerResource));
  }
  if (max_resource <= min_resource) {
    return Bad(prefix + "max_resource", "must be greater than min_resource (" + std::to_string(min_resource) +
                                            "): a trial's full budget in steps, above the first rung");
  }
  return Status::Ok();
}

}  // namespace

Status ValidatePrunerOptions(const PrunerOptions& options) {
  switch (options.kind) {
    case PrunerKind::kNone:
      return Status::Ok();
    case PrunerKind::kMedian:
      if (options.median.n_startup_trials < 1) return Bad("median.n_startup_trials", "must be at least 1");
      return Status::Ok();
    case PrunerKind::kAsha:
    case PrunerKind::kMultiObjectiveAsha: {
      const AshaOptions& asha = options.asha;
      HPO_RETURN_IF_ERROR(
          ValidateResources("asha.", asha.min_resource, asha.reduction_factor, asha.max_resource));
      std::optional<uint64_t> first =
          FirstRung(asha.min_resource, asha.reduction_factor, asha.min_early_stopping_rate);
      if (!first || *first >= asha.max_resource) {
        return Bad(
            "asha.min_early_stopping_rate",
            "leaves no rung below max_resource (min_resource * reduction_factor^min_early_stopping_rate "
            "must be less than " +
                std::to_string(asha.max_resource) + ")");
      }
      return Status::Ok();
    }
    case PrunerKind::kHyperband: {
      const HyperbandOptions& hb = options.hyperband;
      return ValidateResources("hyperband.", hb.min_resource, hb.reduction_factor, hb.max_resource);
    }
  }
  return Bad("kind", "must be none, median, asha, hyperband or mo_asha");
}

Result<std::unique_ptr<Pruner>> MakePruner(const PrunerOptions& options) {
  HPO_RETURN_IF_ERROR(ValidatePrunerOptions(options));
  switch (options.kind) {
    case PrunerKind::kMedian:
      return std::unique_ptr<Pruner>(std::make_unique<MedianPruner>(options.median));
    case PrunerKind::kAsha:
      return std::unique_ptr<Pruner>(std::make_unique<AshaPruner>(options.asha, Ranking::kFirstObjective));
    case PrunerKind::kMultiObjectiveAsha:
      return std::unique_ptr<Pruner>(std::make_unique<AshaPruner>(options.asha, Ranking::kNondominated));
    case PrunerKind::kHyperband:
      return std::unique_ptr<Pruner>(std::make_unique<HyperbandPruner>(options.hyperband));
    case PrunerKind::kNone:
      break;
  }
  return std::unique_ptr<Pruner>(std::make_unique<NoPruner>());
}

std::vector<uint64_t> AshaRungSteps(const AshaOptions& options) {
  if (!ValidatePrunerOptions({.kind = PrunerKind::kAsha, .asha = options}).ok()) return {};
  return RungSteps(options.min_resource, options.reduction_factor, options.max_resource,
                   options.min_early_stopping_rate);
}

std::vector<HyperbandBracket> HyperbandBrackets(const HyperbandOptions& options) {
  if (!ValidatePrunerOptions({.kind = PrunerKind::kHyperband, .hyperband = options}).ok()) return {};
  const uint64_t eta = options.reduction_factor;
  // B = floor(log_eta(R / r)) + 1 = the number of k >= 0 with r * eta^k <= R, in integers.
  uint64_t count = 0;
  for (std::optional<uint64_t> step = options.min_resource; step && *step <= options.max_resource;
       step = MulBounded(*step, eta)) {
    ++count;
  }
  std::vector<HyperbandBracket> brackets(count);
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t s = count - 1 - i;
    // eta^s <= R / r <= 2^40 and count <= 41, so count * eta^s < 2^46: exact.
    const uint64_t weight = count * *FirstRung(1, eta, s);
    brackets[i].min_early_stopping_rate = i;
    brackets[i].budget = (weight + s) / (s + 1);  // ceil(weight / (s + 1))
    brackets[i].rung_steps = RungSteps(options.min_resource, eta, options.max_resource, i);
  }
  return brackets;
}

size_t HyperbandBracketOf(const HyperbandOptions& options, uint64_t trial_id) {
  const std::vector<HyperbandBracket> brackets = HyperbandBrackets(options);
  return BracketOfHash(brackets, TotalBudget(brackets), DeriveSeed(options.seed, trial_id));
}

}  // namespace hpo::search
