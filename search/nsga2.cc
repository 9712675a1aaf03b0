#include "search/nsga2.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <string>

#include "base/rng.h"
#include "search/variation.h"

namespace hpo::search {
namespace {

using Points = std::vector<std::vector<double>>;
using Genes = std::vector<double>;
using Mode = Nsga2Options::Mode;

constexpr size_t kMinPopulation = 4;
constexpr size_t kMaxPopulation = 1'000'000;

// State format, text; every floating-point number in hexadecimal (exact), every line's fields separated
// by single spaces:
//   hpo.nsga2 v1
//   dims <D> objectives <M> population <P> mode <generational|steady_state> pruning <iterative|once>
//   crossover_prob <p> eta_c <e> eta_m <e> mutation_prob <p>        (the options as given)
//   next_id <id> survivals <count> evaluations <count> failures <count>
//   parents <K>, then K lines: <id> <violation> <M objectives> <D genes>
//   results <K>, then K lines as parents (generational: told results of the current generation)
//   outstanding <K>, then K lines: <id> <D genes> (ascending ids)
//   pending <K>, then K lines: <D genes> (candidates not yet asked, in the order they will be)
//   rng <Rng::Save text to the end>
constexpr char kMagic[] = "hpo.nsga2";
constexpr char kVersion[] = "v1";

const char* ModeName(Mode mode) { return mode == Mode::kGenerational ? "generational" : "steady_state"; }
const char* PruningName(CrowdingPruning pruning) {
  return pruning == CrowdingPruning::kIterative ? "iterative" : "once";
}

struct Individual {
  uint64_t id = 0;
  Genes x;
  std::vector<double> f;   // objectives
  double violation = 0.0;  // 0 = feasible
};

// Deb's constrained domination: -1 when a dominates b, 1 when b dominates a, 0 when neither does.
// REQUIRES: objectives of one size, finite.
int CompareConstrained(const Individual& a, const Individual& b) {
  if (a.violation > 0 || b.violation > 0) {
    return a.violation < b.violation ? -1 : (b.violation < a.violation ? 1 : 0);
  }
  bool a_better = false, b_better = false;
  for (size_t m = 0; m < a.f.size(); ++m) {
    a_better = a_better || a.f[m] < b.f[m];
    b_better = b_better || b.f[m] < a.f[m];
  }
  return a_better == b_better ? 0 : (a_better ? -1 : 1);
}

// Reads the whitespace-separated tokens of a saved state; every method false on anything unexpected.
class Reader {
 public:
  explicit Reader(const std::string& text) : in_(text) {}

  bool Word(const char* word) {
    std::string token;
    return static_cast<bool>(in_ >> token) && token == word;
  }
  bool Word(std::string& token) { return static_cast<bool>(in_ >> token); }

  bool Uint(uint64_t& value) {
    std::string token;
    if (!(in_ >> token)) return false;
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
    return ec == std::errc() && end == token.data() + token.size();
  }

  // A finite number, as Save writes it.
  bool Double(double& value) {
    std::string token;
    if (!(in_ >> token)) return false;
    char* end = nullptr;
    value = std::strtod(token.c_str(), &end);
    return end == token.c_str() + token.size() && !token.empty() && std::isfinite(value);
  }

  bool Field(const char* word, uint64_t& value) { return Word(word) && Uint(value); }
  bool Field(const char* word, double& value) { return Word(word) && Double(value); }

  // `count` numbers in [low, high].
  bool Doubles(uint64_t count, double low, double high, std::vector<double>& values) {
    values.clear();
    for (uint64_t i = 0; i < count; ++i) {
      double v = 0;
      if (!Double(v) || v < low || v > high) return false;
      values.push_back(v);
    }
    return true;
  }

  // The rest after one space.
  bool Rest(std::string& rest) {
    return in_.get() == ' ' && static_cast<bool>(std::getline(in_, rest, '\0'));
  }

 private:
  std::istringstream in_;
};

constexpr double kInf = std::numeric_limits<double>::infinity();

class Nsga2 final : public Optimizer {
 public:
  explicit Nsga2(const Nsga2Options& options)
      : options_(options),
        mutation_prob_(options.mutation_prob > 0 ? options.mutation_prob
                                                 : 1.0 / static_cast<double>(options.base.dims)),
        rng_(options.base.seed) {
    for (Genes& x : LatinHypercube(options_.population)) pending_.push_back(std::move(x));
  }

  std::vector<Candidate> Ask(size_t n) override {
    std::vector<Genes> genes;
    while (genes.size() < n && !pending_.empty()) {
      genes.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    if (options_.mode == Mode::kSteadyState && genes.size() < n) {
      if (population_.size() < options_.population) {
        while (genes.size() < n) genes.push_back(UniformPoint());
      } else {
        for (Genes& x : Breed(n - genes.size())) genes.push_back(std::move(x));
      }
    }
    std::vector<Candidate> candidates;
    candidates.reserve(genes.size());
    for (Genes& x : genes) {
      const uint64_t id = next_id_++;
      outstanding_.emplace(id, x);
      candidates.push_back({.id = id, .x = std::move(x)});
    }
    return candidates;
  }

  Status Tell(const Candidate& c, std::span<const double> objectives, double constraint_violation) override {
    HPO_RETURN_IF_ERROR(ValidateResult(options_.base.num_objectives, objectives, constraint_violation));
    auto it = outstanding_.find(c.id);
    if (it == outstanding_.end()) return NotOutstanding(c.id);
    Individual individual{.id = c.id,
                          .x = std::move(it->second),
                          .f = std::vector<double>(objectives.begin(), objectives.end()),
                          .violation = constraint_violation};
    outstanding_.erase(it);
    ++evaluations_;
    if (options_.mode == Mode::kGenerational) {
      results_.push_back(std::move(individual));
      MaybeEndGeneration();
    } else {
      population_.push_back(std::move(individual));
      rank_.push_back(0);
      crowding_.push_back(0.0);
      AddToFronts();
      if (population_.size() > options_.population) RemoveWorst();
    }
    return Status::Ok();
  }

  Status TellFailed(const Candidate& c) override {
    if (outstanding_.erase(c.id) == 0) return NotOutstanding(c.id);
    ++failures_;
    if (options_.mode == Mode::kGenerational) MaybeEndGeneration();
    return Status::Ok();
  }

  std::vector<Evaluation> Elite() const override {
    std::vector<size_t> order(population_.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return rank_[a] != rank_[b] ? rank_[a] < rank_[b] : crowding_[a] > crowding_[b];
    });
    std::vector<Evaluation> elite;
    elite.reserve(order.size());
    for (size_t i : order) {
      const Individual& ind = population_[i];
      elite.push_back({.candidate = {.id = ind.id, .x = ind.x},
                       .objectives = ind.f,
                       .constraint_violation = ind.violation});
    }
    return elite;
  }

  std::string Save() const override {
    std::ostringstream out;
    out << std::hexfloat;
    out << kMagic << ' ' << kVersion << '\n'
        << "dims " << options_.base.dims << " objectives " << options_.base.num_objectives << " population "
        << options_.population << " mode " << ModeName(options_.mode) << " pruning "
        << PruningName(options_.pruning) << '\n'
        << "crossover_prob " << options_.crossover_prob << " eta_c " << options_.eta_c << " eta_m "
        << options_.eta_m << " mutation_prob " << options_.mutation_prob << '\n'
        << "next_id " << next_id_ << " survivals " << survivals_ << " evaluations " << evaluations_
        << " failures " << failures_ << '\n';
    auto write_individuals = [&](const char* name, const std::vector<Individual>& individuals) {
      out << name << ' ' << individuals.size() << '\n';
      for (const Individual& ind : individuals) {
        out << ind.id << ' ' << ind.violation;
        for (double v : ind.f) out << ' ' << v;
        for (double v : ind.x) out << ' ' << v;
        out << '\n';
      }
    };
    write_individuals("parents", population_);
    write_individuals("results", results_);
    out << "outstanding " << outstanding_.size() << '\n';
    for (const auto& [id, x] : outstanding_) {
      out << id;
      for (double v : x) out << ' ' << v;
      out << '\n';
    }
    out << "pending " << pending_.size() << '\n';
    for (const Genes& x : pending_) {
      for (size_t i = 0; i < x.size(); ++i) out << (i == 0 ? "" : " ") << x[i];
      out << '\n';
    }
    out << "rng " << rng_.Save();
    return out.str();
  }

  Status Load(const std::string& state) override {
    const Status bad = DataLossError("NSGA-II state is not one Nsga2::Save wrote");
    Reader in(state);
    uint64_t dims = 0, objectives = 0, population = 0, next_id = 0, survivals = 0, evaluations = 0,
             failures = 0;
    std::string mode_name, pruning_name;
    Nsga2Options saved;
    if (!in.Word(kMagic) || !in.Word(kVersion) || !in.Field("dims", dims) ||
        !in.Field("objectives", objectives) || !in.Field("population", population) || !in.Word("mode") ||
        !in.Word(mode_name) || !in.Word("pruning") || !in.Word(pruning_name) ||
        !in.Field("crossover_prob", saved.crossover_prob) || !in.Field("eta_c", saved.eta_c) ||
        !in.Field("eta_m", saved.eta_m) || !in.Field("mutation_prob", saved.mutation_prob) ||
        !in.Field("next_id", next_id) || !in.Field("survivals", survivals) ||
        !in.Field("evaluations", evaluations) || !in.Field("failures", failures)) {
      return bad;
    }
    if (dims == 0 || objectives == 0 || population < kMinPopulation || population > kMaxPopulation ||
        (mode_name != ModeName(Mode::kGenerational) && mode_name != ModeName(Mode::kSteadyState)) ||
        (pruning_name != PruningName(CrowdingPruning::kIterative) &&
         pruning_name != PruningName(CrowdingPruning::kOnce))) {
      return bad;
    }
    saved.base.dims = dims;
    saved.base.num_objectives = objectives;
    saved.population = population;
    saved.mode = mode_name == ModeName(Mode::kGenerational) ? Mode::kGenerational : Mode::kSteadyState;
    saved.pruning = pruning_name == PruningName(CrowdingPruning::kIterative) ? CrowdingPruning::kIterative
                                                                             : CrowdingPruning::kOnce;

    std::set<uint64_t> ids;  // every id in the state, to refuse repeats
    auto read_id = [&](uint64_t& id) { return in.Uint(id) && id < next_id && ids.insert(id).second; };
    auto read_individuals = [&](const char* name, std::vector<Individual>& individuals) {
      uint64_t count = 0;
      if (!in.Field(name, count) || count > population) return false;
      for (uint64_t i = 0; i < count; ++i) {
        Individual ind;
        if (!read_id(ind.id) || !in.Double(ind.violation) || ind.violation < 0 ||
            !in.Doubles(objectives, -kInf, kInf, ind.f) || !in.Doubles(dims, 0.0, 1.0, ind.x)) {
          return false;
        }
        individuals.push_back(std::move(ind));
      }
      return true;
    };
    std::vector<Individual> parents, results;
    if (!read_individuals("parents", parents) || !read_individuals("results", results)) return bad;
    std::map<uint64_t, Genes> outstanding;
    uint64_t count = 0;
    if (!in.Field("outstanding", count) || count > next_id) return bad;
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t id = 0;
      Genes x;
      if (!read_id(id) || !in.Doubles(dims, 0.0, 1.0, x)) return bad;
      if (!outstanding.empty() && id <= outstanding.rbegin()->first) return bad;
      outstanding.emplace_hint(outstanding.end(), id, std::move(x));
    }
    std::deque<Genes> pending;
    if (!in.Field("pending", count) || count > population) return bad;
    for (uint64_t i = 0; i < count; ++i) {
      Genes x;
      if (!in.Doubles(dims, 0.0, 1.0, x)) return bad;
      pending.push_back(std::move(x));
    }
    std::string rng_state;
    Rng rng(0);
    if (!in.Word("rng") || !in.Rest(rng_state) || !rng.Load(rng_state).ok()) return bad;
    if (saved.mode == Mode::kGenerational) {
      // A generation's results, outstanding and pending candidates are of one generation, and a
      // generation with none outstanding or pending would already have ended.
      const uint64_t in_generation = results.size() + outstanding.size() + pending.size();
      if (in_generation > population || outstanding.size() + pending.size() == 0) return bad;
    } else if (!results.empty()) {
      return bad;
    }

    if (dims != options_.base.dims || objectives != options_.base.num_objectives) {
      return InvalidArgumentError("NSGA-II state is for dims " + std::to_string(dims) + ", objectives " +
                                  std::to_string(objectives) + "; this optimizer has dims " +
                                  std::to_string(options_.base.dims) + ", objectives " +
                                  std::to_string(options_.base.num_objectives));
    }
    if (saved.population != options_.population || saved.mode != options_.mode ||
        saved.pruning != options_.pruning || saved.crossover_prob != options_.crossover_prob ||
        saved.eta_c != options_.eta_c || saved.eta_m != options_.eta_m ||
        saved.mutation_prob != options_.mutation_prob) {
      return InvalidArgumentError(
          "NSGA-II state was saved with other options (population, mode, pruning, crossover_prob, eta_c, "
          "eta_m "
          "or mutation_prob) than this optimizer's");
    }
    next_id_ = next_id;
    survivals_ = survivals;
    evaluations_ = evaluations;
    failures_ = failures;
    population_ = std::move(parents);
    results_ = std::move(results);
    outstanding_ = std::move(outstanding);
    pending_ = std::move(pending);
    rng_ = rng;
    Rerank();
    return Status::Ok();
  }

 private:
  static Status NotOutstanding(uint64_t id) {
    return NotFoundError("candidate " + std::to_string(id) +
                         " is not outstanding (never asked, or already told)");
  }

  // 0, 1, ..., n - 1 in random order (Fisher-Yates).
  std::vector<size_t> Permutation(size_t n) {
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng_.UniformInt(i)]);
    return order;
  }

  Genes UniformPoint() {
    Genes x(options_.base.dims);
    for (double& v : x) v = rng_.Uniform01();
    return x;
  }

  // n points, one in each of the n strata of every gene, at a random place within its stratum.
  std::vector<Genes> LatinHypercube(size_t n) {
    std::vector<Genes> points(n, Genes(options_.base.dims));
    const double width = 1.0 / static_cast<double>(n);
    for (size_t d = 0; d < options_.base.dims; ++d) {
      const std::vector<size_t> strata = Permutation(n);
      for (size_t i = 0; i < n; ++i) {
        points[i][d] = std::min(1.0, (static_cast<double>(strata[i]) + rng_.Uniform01()) * width);
      }
    }
    return points;
  }

  // The winner of a binary tournament between parents a and b by the crowded-comparison operator.
  size_t Tournament(size_t a, size_t b) {
    if (rank_[a] != rank_[b]) return rank_[a] < rank_[b] ? a : b;
    if (crowding_[a] != crowding_[b]) return crowding_[a] > crowding_[b] ? a : b;
    return rng_.Uniform01() < 0.5 ? a : b;
  }

  // n children of the current parents: tournaments, SBX, polynomial mutation. REQUIRES: parents.
  std::vector<Genes> Breed(size_t n) {
    assert(!population_.empty());
    std::vector<Genes> children;
    children.reserve(n);
    // Contestants: a random permutation of the parents drawn one at a time (Fisher-Yates from the front,
    // so a child costs four draws, not a whole permutation), renewed when used up.
    std::vector<size_t> pool(population_.size());
    std::iota(pool.begin(), pool.end(), size_t{0});
    size_t next = 0;
    auto contestant = [&] {
      if (next == pool.size()) next = 0;
      const size_t left = pool.size() - next;
      std::swap(pool[next], pool[next + (left > 1 ? rng_.UniformInt(left) : 0)]);
      return pool[next++];
    };
    auto select = [&] {
      const size_t a = contestant();
      const size_t b = contestant();
      return Tournament(a, b);
    };
    while (children.size() < n) {
      const size_t mother = select();
      const size_t father = select();
      SbxChildren pair = SbxCrossover(population_[mother].x, population_[father].x, options_.eta_c,
                                      options_.crossover_prob, rng_);
      for (Genes* child : {&pair.first, &pair.second}) {
        if (children.size() == n) break;
        PolynomialMutation(*child, options_.eta_m, mutation_prob_, rng_);
        children.push_back(std::move(*child));
      }
    }
    return children;
  }

  // Generational survival: population_ = the survivors of `candidates`, in their order.
  void Survive(std::vector<Individual> candidates) {
    Points objectives;
    std::vector<double> violations;
    objectives.reserve(candidates.size());
    for (const Individual& ind : candidates) {
      objectives.push_back(ind.f);
      violations.push_back(ind.violation);
    }
    population_.clear();
    for (size_t i : SelectSurvivors(objectives, violations, options_.population, options_.pruning)) {
      population_.push_back(std::move(candidates[i]));
    }
    ++survivals_;
  }

  Points Objectives() const {
    Points objectives;
    objectives.reserve(population_.size());
    for (const Individual& ind : population_) objectives.push_back(ind.f);
    return objectives;
  }

  // rank_, crowding_ and fronts_ of population_, from scratch: O(N log N) for 2 objectives (pareto.h),
  // O(M N log N) for the crowding.
  void Rerank() {
    const Points objectives = Objectives();
    std::vector<double> violations;
    violations.reserve(population_.size());
    for (const Individual& ind : population_) violations.push_back(ind.violation);
    NondominatedSorting sorting = ConstrainedNondominatedSort(objectives, violations);
    rank_ = std::move(sorting.rank);
    crowding_.assign(population_.size(), 0.0);
    fronts_.clear();
    for (const std::vector<size_t>& front : sorting.fronts) {
      fronts_.emplace_back(objectives, front);
      CopyCrowding(fronts_.back());
    }
  }

  void CopyCrowding(const CrowdedFront& front) {
    front.ForEach([&](size_t i, double distance) { crowding_[i] = distance; });
  }

  // Steady state: puts the newest parent, p = population_.size() - 1 (rank_ and crowding_ already one
  // longer), into the fronts. Its rank is one more than the highest of the parents that dominate it (0
  // for none); a parent q it dominates moves down to one more than the highest new rank of p and of the
  // moved parents that dominate q, if that is more than its own. Nothing else moves: a parent whose
  // longest chain of dominators grew is dominated by p. O(N M) to compare p with every parent, plus
  // O(S^2 M) for the S parents it dominates and O(M K) per front member that moves (CrowdedFront); when
  // S (S + N) > 8 N log2 N, a sort from scratch (Rerank, O(M N log N)) is cheaper.
  void AddToFronts() {
    const size_t p = population_.size() - 1;
    const Individual& added = population_[p];
    size_t rank = 0;
    dominated_.clear();
    for (size_t q = 0; q < p; ++q) {
      const int order = CompareConstrained(population_[q], added);
      if (order < 0) {
        rank = std::max(rank, rank_[q] + 1);
      } else if (order > 0) {
        dominated_.push_back(q);
      }
    }
    const size_t n = population_.size(), s = dominated_.size();
    if (s * (s + n) > 8 * n * std::bit_width(n)) {  // moving them would cost more than a sort
      Rerank();
      return;
    }
    // A parent is only dominated by parents of a lower rank, so in this order every dominator of q that
    // moves comes before q.
    std::stable_sort(dominated_.begin(), dominated_.end(),
                     [&](size_t a, size_t b) { return rank_[a] < rank_[b]; });
    new_rank_.resize(dominated_.size());
    for (size_t i = 0; i < dominated_.size(); ++i) {
      const size_t q = dominated_[i];
      size_t r = std::max(rank_[q], rank + 1);
      for (size_t j = 0; j < i; ++j) {
        if (new_rank_[j] >= r && CompareConstrained(population_[dominated_[j]], population_[q]) < 0) {
          r = new_rank_[j] + 1;
        }
      }
      new_rank_[i] = r;
    }
    touched_.clear();
    auto place = [&](size_t i, size_t r) {
      if (r == fronts_.size()) fronts_.emplace_back(options_.base.num_objectives);
      fronts_[r].Insert(i, population_[i].f);
      rank_[i] = r;
      touched_.push_back(r);
    };
    for (size_t k = 0; k < dominated_.size(); ++k) {
      const size_t q = dominated_[k];
      if (new_rank_[k] == rank_[q]) continue;
      fronts_[rank_[q]].Erase(q);
      touched_.push_back(rank_[q]);
      place(q, new_rank_[k]);
    }
    place(p, rank);
    std::sort(touched_.begin(), touched_.end());
    touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
    for (size_t f : touched_) CopyCrowding(fronts_[f]);
  }

  // Steady state, one parent too many: the (mu + 1) survival, which is SelectSurvivors(..., population)
  // for one point too many, done in place: the parent of least crowding distance in the last front goes
  // (the later one on a tie); the others keep their ranks and only the last front's distances change.
  // O(M K) for a last front of K, plus O(N) to close the gap in population_.
  void RemoveWorst() {
    CrowdedFront& last = fronts_.back();
    const size_t gone = last.MostCrowded();
    last.Erase(gone);
    CopyCrowding(last);
    if (last.empty()) fronts_.pop_back();
    population_.erase(population_.begin() + static_cast<std::ptrdiff_t>(gone));
    rank_.erase(rank_.begin() + static_cast<std::ptrdiff_t>(gone));
    crowding_.erase(crowding_.begin() + static_cast<std::ptrdiff_t>(gone));
    for (CrowdedFront& front : fronts_) front.ShiftKeysAbove(gone);
    ++survivals_;
  }

  // Generational: when every candidate of the generation is told, survival and the next generation.
  void MaybeEndGeneration() {
    if (!pending_.empty() || !outstanding_.empty()) return;
    std::sort(results_.begin(), results_.end(),
              [](const Individual& a, const Individual& b) { return a.id < b.id; });
    std::vector<Individual> candidates = std::move(population_);
    for (Individual& ind : results_) candidates.push_back(std::move(ind));
    results_.clear();
    Survive(std::move(candidates));
    Rerank();
    for (Genes& x : population_.empty() ? LatinHypercube(options_.population) : Breed(options_.population)) {
      pending_.push_back(std::move(x));
    }
  }

  const Nsga2Options options_;
  const double mutation_prob_;  // the effective one (0 in the options means 1 / dims)
  Rng rng_;
  uint64_t next_id_ = 0;
  uint64_t survivals_ = 0;    // generations ended (generational) or (mu + 1) survivals (steady state)
  uint64_t evaluations_ = 0;  // successful tells
  uint64_t failures_ = 0;     // failed tells
  std::vector<Individual> population_;  // the parents P, at most options_.population
  std::vector<size_t> rank_;            // of each parent, by ConstrainedNondominatedSort
  std::vector<double> crowding_;        // of each parent, within its front
  std::vector<CrowdedFront> fronts_;    // the parents' fronts by rank; keys: positions in population_
  std::vector<size_t> dominated_, new_rank_, touched_;  // AddToFronts' scratch
  std::vector<Individual> results_;        // generational: told results of the current generation
  std::map<uint64_t, Genes> outstanding_;  // asked, not yet told
  std::deque<Genes> pending_;  // generational: the generation's candidates not yet asked; steady state:
                               // the Latin hypercube of the start, not yet asked
};

}  // namespace

NondominatedSorting ConstrainedNondominatedSort(const Points& objectives,
                                                std::span<const double> violations) {
  assert(objectives.size() == violations.size());
  const size_t n = objectives.size();
  std::vector<size_t> feasible, infeasible;
  for (size_t i = 0; i < n; ++i) (violations[i] > 0 ? infeasible : feasible).push_back(i);

  NondominatedSorting sorting;
  sorting.rank.assign(n, 0);
  if (!feasible.empty()) {
    Points feasible_objectives;
    feasible_objectives.reserve(feasible.size());
    for (size_t i : feasible) feasible_objectives.push_back(objectives[i]);
    for (const std::vector<size_t>& front : NondominatedSort(feasible_objectives).fronts) {
      std::vector<size_t>& out = sorting.fronts.emplace_back();
      for (size_t k : front) out.push_back(feasible[k]);  // ascending: feasible is
    }
  }
  std::stable_sort(infeasible.begin(), infeasible.end(),
                   [&](size_t a, size_t b) { return violations[a] < violations[b]; });
  for (size_t k = 0; k < infeasible.size(); ++k) {
    if (k == 0 || violations[infeasible[k]] != violations[infeasible[k - 1]]) sorting.fronts.emplace_back();
    sorting.fronts.back().push_back(infeasible[k]);
  }
  for (size_t f = 0; f < sorting.fronts.size(); ++f) {
    for (size_t i : sorting.fronts[f]) sorting.rank[i] = f;
  }
  return sorting;
}

std::vector<size_t> SelectSurvivors(const Points& objectives, std::span<const double> violations,
                                    size_t count, CrowdingPruning pruning) {
  std::vector<size_t> kept;
  for (const std::vector<size_t>& front : ConstrainedNondominatedSort(objectives, violations).fronts) {
    if (kept.size() == count) break;
    if (kept.size() + front.size() <= count) {
      kept.insert(kept.end(), front.begin(), front.end());
      continue;
    }
    for (size_t i : PruneByCrowding(objectives, front, count - kept.size(), pruning)) kept.push_back(i);
  }
  std::sort(kept.begin(), kept.end());
  return kept;
}

Result<std::unique_ptr<Optimizer>> MakeNsga2(const Nsga2Options& options) {
  auto bad = [](const std::string& field, const std::string& problem) {
    return InvalidArgumentError("nsga2." + field + ": " + problem);
  };
  auto probability = [](double p) { return p >= 0.0 && p <= 1.0; };  // false for NaN
  auto index = [](double eta) { return std::isfinite(eta) && eta >= 0.0; };
  if (options.base.dims == 0) return bad("dims", "must be at least 1");
  if (options.base.num_objectives == 0) return bad("num_objectives", "must be at least 1");
  if (options.population < kMinPopulation) return bad("population", "must be at least 4");
  if (options.population > kMaxPopulation) return bad("population", "must be at most 1000000");
  if (options.mode != Mode::kGenerational && options.mode != Mode::kSteadyState) {
    return bad("mode", "must be generational or steady_state");
  }
  if (!probability(options.crossover_prob)) return bad("crossover_prob", "must be in [0, 1]");
  if (!index(options.eta_c)) return bad("eta_c", "must be finite and >= 0");
  if (!index(options.eta_m)) return bad("eta_m", "must be finite and >= 0");
  if (!probability(options.mutation_prob)) return bad("mutation_prob", "must be in [0, 1] (0 = 1 / dims)");
  if (options.pruning != CrowdingPruning::kIterative && options.pruning != CrowdingPruning::kOnce) {
    return bad("pruning", "must be iterative or once");
  }
  return std::unique_ptr<Optimizer>(std::make_unique<Nsga2>(options));
}

}  // namespace hpo::search
