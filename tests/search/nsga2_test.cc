#include "search/nsga2.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <functional>
#include <limits>
#include <set>

#include "base/rng.h"
#include "problems/problem.h"

namespace hpo::search {
namespace {

using Points = std::vector<std::vector<double>>;
using Indices = std::vector<size_t>;
using Mode = Nsga2Options::Mode;

Nsga2Options Options(uint64_t seed, size_t dims, size_t population, Mode mode) {
  Nsga2Options options;
  options.base = {.dims = dims, .num_objectives = 2, .seed = seed};
  options.population = population;
  options.mode = mode;
  return options;
}

std::unique_ptr<Optimizer> Make(const Nsga2Options& options) {
  Result<std::unique_ptr<Optimizer>> opt = MakeNsga2(options);
  EXPECT_TRUE(opt.ok()) << opt.status().ToString();
  return std::move(opt).value();
}

problems::Problem Problem(const std::string& name, size_t dims = 0) {
  Result<problems::Problem> problem = problems::MakeProblem(name, dims);
  EXPECT_TRUE(problem.ok()) << problem.status().ToString();
  return std::move(problem).value();
}

// The objectives of genes x in [0,1]^dims, mapped onto the problem's box.
std::vector<double> Evaluate(const problems::Problem& problem, const std::vector<double>& x) {
  std::vector<double> box(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    box[i] = problem.lower[i] + x[i] * (problem.upper[i] - problem.lower[i]);
  }
  return problem.evaluate(box);
}

// Exact hypervolume of 2-objective points (minimised) against `ref`: the area of the union of the boxes
// [p, ref]. Sweep by f1: each point that lowers the least f2 so far adds a strip (ref1 - f1) wide.
double Hypervolume2D(Points points, std::array<double, 2> ref) {
  std::erase_if(points, [&](const std::vector<double>& p) { return !(p[0] < ref[0] && p[1] < ref[1]); });
  std::sort(points.begin(), points.end());
  double area = 0, least_f2 = ref[1];
  for (const std::vector<double>& p : points) {
    if (p[1] >= least_f2) continue;
    area += (ref[0] - p[0]) * (least_f2 - p[1]);
    least_f2 = p[1];
  }
  return area;
}

// ZDT1's front is f2 = 1 - sqrt(f1), f1 in [0, 1]; against (1.1, 1.1) it dominates
// the integral of 1.1 - (1 - sqrt(f1)) over [0, 1] plus the strip 0.1 x 1.1 beyond f1 = 1:
// 0.1 + 2/3 + 0.11 = 1.1^2 - 1 + 2/3.
constexpr double kZdt1FrontHypervolume = 1.1 * 1.1 - 1.0 + 2.0 / 3.0;

TEST(Nsga2Test, HypervolumeHelper) {
  EXPECT_DOUBLE_EQ(Hypervolume2D({{1, 2}, {2, 1}}, {3, 3}), 3.0);
  EXPECT_DOUBLE_EQ(Hypervolume2D({{1, 2}, {2, 1}, {2, 2}, {4, 0}, {1, 2}}, {3, 3}), 3.0);
  EXPECT_DOUBLE_EQ(Hypervolume2D({{0, 0}}, {1.1, 1.1}), 1.21);
  // A fine sample of ZDT1's front approaches the integral from below.
  Points front;
  for (int i = 0; i <= 100000; ++i) {
    const double f1 = i / 100000.0;
    front.push_back({f1, 1 - std::sqrt(f1)});
  }
  EXPECT_NEAR(Hypervolume2D(front, {1.1, 1.1}), kZdt1FrontHypervolume, 1e-4);
  EXPECT_LT(Hypervolume2D(front, {1.1, 1.1}), kZdt1FrontHypervolume);
}

// The parents (Elite) as plain (id, violation, objectives).
struct Parent {
  uint64_t id;
  double violation;
  std::vector<double> f;
};

std::vector<Parent> Parents(const Optimizer& opt) {
  std::vector<Parent> parents;
  for (const Evaluation& e : opt.Elite())
    parents.push_back({e.candidate.id, e.constraint_violation, e.objectives});
  return parents;
}

double ParentsHypervolume(const Optimizer& opt) {
  Points points;
  for (const Parent& p : Parents(opt)) points.push_back(p.f);
  return Hypervolume2D(points, {1.1, 1.1});
}

void ExpectSame(const std::vector<Candidate>& a, const std::vector<Candidate>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].id, b[i].id) << i;
    ASSERT_EQ(a[i].x, b[i].x) << i;
  }
}

// A fixed schedule of asks and tells, like a pool of workers finishing out of order: step s asks for
// 1 + s % 5 candidates and tells three of the outstanding ones (oldest or newest, alternately) but
// leaves two running unless the ask returned none; the ids with id % 7 == 3 fail. Objectives: ZDT1;
// violation: how far x[1] exceeds 0.9.
struct Driver {
  explicit Driver(problems::Problem p) : problem(std::move(p)) {}

  problems::Problem problem;
  std::deque<Candidate> outstanding;
  std::vector<Candidate> asked;
  int step = 0;

  void Step(Optimizer& opt) {
    std::vector<Candidate> now = opt.Ask(1 + step % 5);
    const size_t keep = now.empty() ? 0 : 2;  // a few stay running, unless at a barrier
    for (Candidate& c : now) {
      asked.push_back(c);
      outstanding.push_back(std::move(c));
    }
    for (int k = 0; k < 3 && outstanding.size() > keep; ++k) {
      const bool oldest = (step + k) % 2 == 0;
      const Candidate c = oldest ? outstanding.front() : outstanding.back();
      oldest ? outstanding.pop_front() : outstanding.pop_back();
      if (c.id % 7 == 3) {
        ASSERT_TRUE(opt.TellFailed(c).ok());
      } else {
        ASSERT_TRUE(opt.Tell(c, Evaluate(problem, c.x), std::max(0.0, c.x[1] - 0.9)).ok());
      }
    }
    ++step;
  }
};

TEST(Nsga2Test, ValidatesEveryOption) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const Nsga2Options good = Options(1, 3, 8, Mode::kGenerational);
  EXPECT_TRUE(MakeNsga2(good).ok());
  struct Case {
    const char* field;
    std::function<void(Nsga2Options&)> change;
  };
  const std::vector<Case> cases = {
      {"nsga2.dims", [](Nsga2Options& o) { o.base.dims = 0; }},
      {"nsga2.num_objectives", [](Nsga2Options& o) { o.base.num_objectives = 0; }},
      {"nsga2.population", [](Nsga2Options& o) { o.population = 3; }},
      {"nsga2.population", [](Nsga2Options& o) { o.population = 2'000'000; }},
      {"nsga2.mode", [](Nsga2Options& o) { o.mode = static_cast<Mode>(7); }},
      {"nsga2.crossover_prob", [](Nsga2Options& o) { o.crossover_prob = -0.1; }},
      {"nsga2.crossover_prob", [](Nsga2Options& o) { o.crossover_prob = 1.5; }},
      {"nsga2.crossover_prob", [&](Nsga2Options& o) { o.crossover_prob = nan; }},
      {"nsga2.eta_c", [](Nsga2Options& o) { o.eta_c = -1; }},
      {"nsga2.eta_c", [&](Nsga2Options& o) { o.eta_c = inf; }},
      {"nsga2.eta_m", [&](Nsga2Options& o) { o.eta_m = nan; }},
      {"nsga2.mutation_prob", [](Nsga2Options& o) { o.mutation_prob = 1.01; }},
      {"nsga2.mutation_prob", [&](Nsga2Options& o) { o.mutation_prob = nan; }},
      {"nsga2.pruning", [](Nsga2Options& o) { o.pruning = static_cast<CrowdingPruning>(9); }},
  };
  for (const Case& c : cases) {
    Nsga2Options options = good;
    c.change(options);
    const Status status = MakeNsga2(options).status();
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << c.field;
    EXPECT_NE(status.message().find(std::string(c.field) + ":"), std::string::npos) << status.message();
  }
  // The ends of every range are fine.
  Nsga2Options edges = good;
  edges.population = 4;
  edges.crossover_prob = 1;
  edges.eta_c = 0;
  edges.eta_m = 0;
  edges.mutation_prob = 1;
  EXPECT_TRUE(MakeNsga2(edges).ok());
  edges.crossover_prob = 0;
  edges.base.num_objectives = 1;
  edges.mode = Mode::kSteadyState;
  EXPECT_TRUE(MakeNsga2(edges).ok());
}

TEST(Nsga2Test, SameSeedSameAsksDifferentSeedDifferent) {
  for (Mode mode : {Mode::kGenerational, Mode::kSteadyState}) {
    std::vector<std::vector<Candidate>> logs;
    for (uint64_t seed : {11, 11, 12}) {
      auto opt = Make(Options(seed, 5, 12, mode));
      Driver driver(Problem("zdt1", 5));
      for (int s = 0; s < 120; ++s) driver.Step(*opt);
      logs.push_back(driver.asked);
    }
    ExpectSame(logs[0], logs[1]);
    ASSERT_GT(logs[0].size(), 250u);
    ASSERT_EQ(logs[0].size(), logs[2].size());
    for (size_t i = 0; i < logs[0].size(); ++i) EXPECT_NE(logs[0][i].x, logs[2][i].x);
  }
}

// The first generation is a Latin hypercube; Ask hands out one generation, then returns fewer (none)
// until the whole generation is told; a failed candidate counts as told.
TEST(Nsga2Test, GenerationalBarrier) {
  auto opt = Make(Options(3, 4, 8, Mode::kGenerational));
  const problems::Problem zdt1 = Problem("zdt1", 4);
  EXPECT_TRUE(opt->Ask(0).empty());
  std::vector<Candidate> generation = opt->Ask(5);
  const std::vector<Candidate> rest = opt->Ask(5);
  ASSERT_EQ(generation.size(), 5u);
  ASSERT_EQ(rest.size(), 3u);
  generation.insert(generation.end(), rest.begin(), rest.end());
  for (size_t i = 0; i < generation.size(); ++i) EXPECT_EQ(generation[i].id, i);
  for (size_t d = 0; d < 4; ++d) {
    std::set<int> strata;
    for (const Candidate& c : generation) strata.insert(static_cast<int>(c.x[d] * 8));
    EXPECT_EQ(strata.size(), 8u) << "gene " << d;
  }
  EXPECT_TRUE(opt->Ask(5).empty());
  // Told out of order, one failed; the barrier holds until the last one.
  for (size_t i : {7, 2, 0, 5, 1, 6, 3}) {
    ASSERT_TRUE(opt->Tell(generation[i], Evaluate(zdt1, generation[i].x)).ok());
    EXPECT_TRUE(opt->Ask(3).empty());
  }
  ASSERT_TRUE(opt->TellFailed(generation[4]).ok());
  const std::vector<Candidate> next = opt->Ask(100);
  ASSERT_EQ(next.size(), 8u);
  for (size_t i = 0; i < next.size(); ++i) {
    EXPECT_EQ(next[i].id, 8 + i);
    for (double g : next[i].x) {
      ASSERT_GE(g, 0.0);
      ASSERT_LE(g, 1.0);
    }
  }
  // The failed candidate is no parent; the seven told ones are.
  std::set<uint64_t> parent_ids;
  for (const Parent& p : Parents(*opt)) parent_ids.insert(p.id);
  EXPECT_EQ(parent_ids, (std::set<uint64_t>{0, 1, 2, 3, 5, 6, 7}));
}

// Within a generation the order of the tells does not matter.
TEST(Nsga2Test, GenerationalIgnoresTheOrderOfTells) {
  const problems::Problem zdt1 = Problem("zdt1", 6);
  std::vector<std::vector<Candidate>> next;
  for (bool reverse : {false, true}) {
    auto opt = Make(Options(8, 6, 10, Mode::kGenerational));
    for (int g = 0; g < 3; ++g) {
      std::vector<Candidate> generation = opt->Ask(10);
      if (reverse) std::reverse(generation.begin(), generation.end());
      for (const Candidate& c : generation) ASSERT_TRUE(opt->Tell(c, Evaluate(zdt1, c.x)).ok());
    }
    next.push_back(opt->Ask(10));
  }
  ExpectSame(next[0], next[1]);
}

TEST(Nsga2Test, AWholeGenerationFailedStartsAfresh) {
  auto opt = Make(Options(4, 3, 6, Mode::kGenerational));
  const std::vector<Candidate> first = opt->Ask(6);
  for (const Candidate& c : first) ASSERT_TRUE(opt->TellFailed(c).ok());
  EXPECT_EQ(opt->TellFailed(first[0]).code(), StatusCode::kNotFound);
  EXPECT_EQ(opt->Tell(first[1], std::vector<double>{1, 1}).code(), StatusCode::kNotFound);
  const std::vector<Candidate> second = opt->Ask(6);  // a new Latin hypercube: no parents to breed from
  ASSERT_EQ(second.size(), 6u);
  for (size_t d = 0; d < 3; ++d) {
    std::set<int> strata;
    for (const Candidate& c : second) strata.insert(static_cast<int>(c.x[d] * 6));
    EXPECT_EQ(strata.size(), 6u);
  }
  EXPECT_TRUE(Parents(*opt).empty());
}

TEST(Nsga2Test, SteadyStateNeverWaits) {
  auto opt = Make(Options(5, 4, 8, Mode::kSteadyState));
  const problems::Problem zdt1 = Problem("zdt1", 4);
  std::vector<Candidate> asked = opt->Ask(20);  // nothing told yet: 8 from the hypercube, 12 uniform
  ASSERT_EQ(asked.size(), 20u);
  for (size_t i = 0; i < asked.size(); ++i) EXPECT_EQ(asked[i].id, i);
  for (size_t i = 0; i < 12; ++i) ASSERT_TRUE(opt->Tell(asked[i], Evaluate(zdt1, asked[i].x)).ok());
  ASSERT_TRUE(opt->TellFailed(asked[12]).ok());
  EXPECT_EQ(Parents(*opt).size(), 8u);  // (mu + 1) survival keeps 8
  for (int round = 0; round < 50; ++round) {
    const std::vector<Candidate> more = opt->Ask(3);
    ASSERT_EQ(more.size(), 3u);
    for (const Candidate& c : more) ASSERT_TRUE(opt->Tell(c, Evaluate(zdt1, c.x)).ok());
    ASSERT_EQ(Parents(*opt).size(), 8u);
  }
  // The seven still outstanding can still be told.
  for (size_t i = 13; i < 20; ++i) EXPECT_TRUE(opt->Tell(asked[i], Evaluate(zdt1, asked[i].x)).ok());
}

// Save at several points (mid-generation, with outstanding and pending candidates), Load into a fresh
// optimizer with another seed, and go on: the same asks as never stopping.
TEST(Nsga2Test, SaveLoadContinuesExactly) {
  for (Mode mode : {Mode::kGenerational, Mode::kSteadyState}) {
    const Nsga2Options options = Options(21, 5, 12, mode);
    auto straight = Make(options);
    Driver straight_driver(Problem("zdt1", 5));
    constexpr int kSteps = 160;
    for (int s = 0; s < kSteps; ++s) straight_driver.Step(*straight);
    for (int save_step : {0, 1, 7, 40, 90, 133}) {
      SCOPED_TRACE("mode " + std::to_string(static_cast<int>(mode)) + ", saved at step " +
                   std::to_string(save_step));
      auto first = Make(options);
      Driver driver(Problem("zdt1", 5));
      for (int s = 0; s < save_step; ++s) driver.Step(*first);
      if (save_step > 0) {
        EXPECT_FALSE(driver.outstanding.empty());
      }
      const std::string state = first->Save();
      first.reset();
      Nsga2Options other = options;
      other.base.seed = 999;
      auto resumed = Make(other);
      ASSERT_TRUE(resumed->Load(state).ok());
      EXPECT_EQ(resumed->Save(), state);
      for (int s = save_step; s < kSteps; ++s) driver.Step(*resumed);
      ExpectSame(driver.asked, straight_driver.asked);
      EXPECT_EQ(resumed->Save(), straight->Save());
      const std::vector<Evaluation> elite = resumed->Elite(), straight_elite = straight->Elite();
      ASSERT_EQ(elite.size(), straight_elite.size());
      for (size_t i = 0; i < elite.size(); ++i) {
        EXPECT_EQ(elite[i].candidate.id, straight_elite[i].candidate.id);
        EXPECT_EQ(elite[i].candidate.x, straight_elite[i].candidate.x);
        EXPECT_EQ(elite[i].objectives, straight_elite[i].objectives);
      }
    }
  }
}

TEST(Nsga2Test, TellValidatesAndChangesNothingOnError) {
  for (Mode mode : {Mode::kGenerational, Mode::kSteadyState}) {
    auto opt = Make(Options(6, 3, 4, mode));
    const std::vector<Candidate> asked = opt->Ask(4);
    ASSERT_EQ(asked.size(), 4u);
    const std::string before = opt->Save();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    EXPECT_EQ(opt->Tell(asked[0], std::vector<double>{1.0}).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(opt->Tell(asked[0], std::vector<double>{1.0, 2.0, 3.0}).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(opt->Tell(asked[0], std::vector<double>{nan, 2.0}).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(opt->Tell(asked[0], std::vector<double>{1.0, inf}).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(opt->Tell(asked[0], std::vector<double>{1.0, 2.0}, -1.0).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(opt->Tell(asked[0], std::vector<double>{1.0, 2.0}, inf).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(opt->Tell({.id = 4, .x = {}}, std::vector<double>{1.0, 2.0}).code(), StatusCode::kNotFound);
    EXPECT_EQ(opt->TellFailed({.id = 77, .x = {}}).code(), StatusCode::kNotFound);
    EXPECT_EQ(opt->Save(), before);
    ASSERT_TRUE(opt->Tell(asked[0], std::vector<double>{1.0, 2.0}).ok());
    EXPECT_EQ(opt->Tell(asked[0], std::vector<double>{1.0, 2.0}).code(), StatusCode::kNotFound);
    EXPECT_EQ(opt->TellFailed(asked[0]).code(), StatusCode::kNotFound);
    ASSERT_TRUE(opt->TellFailed(asked[1]).ok());
    EXPECT_EQ(opt->Tell(asked[1], std::vector<double>{1.0, 2.0}).code(), StatusCode::kNotFound);
  }
}

TEST(Nsga2Test, LoadRefusesGarbageAndOtherShapesAndChangesNothing) {
  const Nsga2Options options = Options(8, 3, 6, Mode::kGenerational);
  auto opt = Make(options);
  Driver driver(Problem("zdt1", 3));
  for (int s = 0; s < 9; ++s) driver.Step(*opt);
  const std::string before = opt->Save();
  ASSERT_NE(before.find("next_id "), std::string::npos);
  std::vector<std::string> bad = {"",
                                  "garbage",
                                  "hpo.nsga2 v2\n",
                                  "hpo.random_search v1\n",
                                  before.substr(0, before.size() / 2),
                                  before.substr(0, 60),
                                  before.substr(0, before.find("rng ") + 4)};
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = before;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return at == std::string::npos ? std::string("x") : s.replace(at, from.size(), to);
  };
  bad.push_back(replaced("next_id ", "next_id x"));
  bad.push_back(replaced("next_id " + std::to_string(driver.asked.size()), "next_id 1"));  // ids beyond it
  bad.push_back(replaced("dims 3", "dims 0"));
  bad.push_back(replaced("mode generational", "mode sometimes"));
  bad.push_back(replaced("population 6", "population 2"));
  bad.push_back(replaced("parents ", "parents 9"));
  bad.push_back(replaced("rng ", "rng x"));
  bad.push_back(replaced("0x", "nan"));
  bad.push_back(replaced("\nparents", " 0x1p+0\nparents"));
  for (const std::string& state : bad) {
    EXPECT_EQ(opt->Load(state).code(), StatusCode::kDataLoss) << state.substr(0, 80);
  }
  EXPECT_EQ(opt->Save(), before);
  // Real states of another shape, or saved with other options.
  auto other_shape = [&](std::function<void(Nsga2Options&)> change) {
    Nsga2Options o = options;
    change(o);
    return Make(o)->Save();
  };
  for (const std::string& state : {other_shape([](Nsga2Options& o) { o.base.dims = 4; }),
                                   other_shape([](Nsga2Options& o) { o.base.num_objectives = 3; }),
                                   other_shape([](Nsga2Options& o) { o.population = 8; }),
                                   other_shape([](Nsga2Options& o) { o.mode = Mode::kSteadyState; }),
                                   other_shape([](Nsga2Options& o) { o.eta_c = 15; }),
                                   other_shape([](Nsga2Options& o) { o.pruning = CrowdingPruning::kOnce; }),
                                   other_shape([](Nsga2Options& o) { o.mutation_prob = 0.5; })}) {
    EXPECT_EQ(opt->Load(state).code(), StatusCode::kInvalidArgument) << state.substr(0, 120);
  }
  EXPECT_EQ(opt->Save(), before);
  // Another seed is fine: the state carries its generator.
  EXPECT_TRUE(opt->Load(other_shape([](Nsga2Options& o) { o.base.seed = 5; })).ok());
}

TEST(Nsga2Test, ConstrainedSortingAndSurvivalHandWorked) {
  // 0, 1, 2 feasible: (1,1) dominates (2,2); (0,3) is on the first front. 3, 4, 5 infeasible with
  // better objectives: violation 0.5, 0.5, 2.
  const Points objectives = {{1, 1}, {2, 2}, {0, 3}, {0, 0}, {-1, -1}, {-5, -5}};
  const std::vector<double> violations = {0, 0, 0, 0.5, 0.5, 2};
  const NondominatedSorting sorting = ConstrainedNondominatedSort(objectives, violations);
  EXPECT_EQ(sorting.fronts, (std::vector<Indices>{{0, 2}, {1}, {3, 4}, {5}}));
  EXPECT_EQ(sorting.rank, (Indices{0, 1, 0, 2, 2, 3}));
  EXPECT_EQ(SelectSurvivors(objectives, violations, 6), (Indices{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(SelectSurvivors(objectives, violations, 3), (Indices{0, 1, 2}));
  EXPECT_EQ(SelectSurvivors(objectives, violations, 2), (Indices{0, 2}));
  EXPECT_EQ(SelectSurvivors(objectives, violations, 4).size(), 4u);
  EXPECT_TRUE(SelectSurvivors(objectives, violations, 0).empty());
  // Within a front the most crowded go first. Ranges 2 and 2: (1,1) has crowding (1.05-0)/2 + (2-0.95)/2
  // = 1.05, (1.05,0.95) has (2-1)/2 + (1-0)/2 = 1; the extremes are infinite.
  const Points front = {{0, 2}, {1, 1}, {1.05, 0.95}, {2, 0}};
  EXPECT_EQ(SelectSurvivors(front, std::vector<double>(4, 0.0), 3), (Indices{0, 1, 3}));
  EXPECT_EQ(SelectSurvivors(front, std::vector<double>(4, 0.0), 2), (Indices{0, 3}));
  for (CrowdingPruning pruning : {CrowdingPruning::kIterative, CrowdingPruning::kOnce}) {
    EXPECT_EQ(SelectSurvivors(front, std::vector<double>(4, 0.0), 3, pruning), (Indices{0, 1, 3}));
  }
  // On the line f2 = 1 - f1 at 0, 0.08, 0.45, 0.56, 0.61, 1 (each objective adds the same): distances
  // 0.45, 0.48, 0.16, 0.44 (times 2) inside. Once: drop 0.56 and 0.61. Iteratively: drop 0.56; then
  // 0.45 has 0.53, 0.61 has 0.55 and 0.08 still 0.45: drop 0.08.
  Points line;
  for (double v : {0.0, 0.08, 0.45, 0.56, 0.61, 1.0}) line.push_back({v, 1 - v});
  const std::vector<double> feasible(line.size(), 0.0);
  EXPECT_EQ(SelectSurvivors(line, feasible, 4, CrowdingPruning::kOnce), (Indices{0, 1, 2, 5}));
  EXPECT_EQ(SelectSurvivors(line, feasible, 4, CrowdingPruning::kIterative), (Indices{0, 2, 4, 5}));
  EXPECT_EQ(SelectSurvivors(line, feasible, 2, CrowdingPruning::kIterative), (Indices{0, 5}));
  // All infeasible: lowest violation first.
  EXPECT_EQ(SelectSurvivors({{1, 1}, {0, 0}, {2, 2}}, std::vector<double>{3, 2, 1}, 1), (Indices{2}));
}

// Of (0,1) twice, (1,0), (0.5,0.5) and the dominated (1,1), survival of three keeps (0,1) once, (1,0) and
// (0.5,0.5): copies are crowded as one point, so a second copy of an extreme holds no infinity of its own.
TEST(Nsga2Test, SurvivalKeepsOneCopyOfAnExtreme) {
  const Points objectives = {{0, 1}, {0, 1}, {1, 0}, {0.5, 0.5}, {1, 1}};
  const std::vector<double> feasible(objectives.size(), 0.0);
  for (CrowdingPruning pruning : {CrowdingPruning::kIterative, CrowdingPruning::kOnce}) {
    EXPECT_EQ(SelectSurvivors(objectives, feasible, 3, pruning), (Indices{0, 2, 3}));
    EXPECT_EQ(SelectSurvivors(objectives, feasible, 4, pruning), (Indices{0, 1, 2, 3}));
    EXPECT_EQ(SelectSurvivors(objectives, feasible, 2, pruning), (Indices{0, 2}));
  }
  // The copy of least index stays, wherever the copies are.
  const Points shuffled = {{0.5, 0.5}, {1, 0}, {0, 1}, {1, 1}, {0, 1}};
  EXPECT_EQ(SelectSurvivors(shuffled, feasible, 3), (Indices{0, 1, 2}));
}

// Steady state: a told copy of a parent at the front's end is the first to go (it adds nothing to the
// front), not the interior points.
TEST(Nsga2Test, SteadyStateDropsACopyFirst) {
  auto opt = Make(Options(7, 2, 4, Mode::kSteadyState));
  const std::vector<Candidate> first = opt->Ask(4);
  const Points front = {{0, 1}, {1, 0}, {0.5, 0.5}, {0.25, 0.8}};
  for (size_t i = 0; i < front.size(); ++i) ASSERT_TRUE(opt->Tell(first[i], front[i]).ok());
  for (int round = 0; round < 3; ++round) {
    const std::vector<Candidate> next = opt->Ask(1);
    ASSERT_EQ(next.size(), 1u);
    ASSERT_TRUE(opt->Tell(next[0], std::vector<double>{0, 1}).ok());
    std::multiset<std::vector<double>> kept;
    for (const Parent& p : Parents(*opt)) kept.insert(p.f);
    EXPECT_EQ(kept, (std::multiset<std::vector<double>>(front.begin(), front.end()))) << "round " << round;
  }
}

// Steady state ranks and crowds tell by tell, touching only what a tell changes; an optimizer loaded from
// Save (which ranks and crowds from scratch) has the same elite in the same order and asks the same
// candidates. Objectives and violations on a coarse grid that moves down every 100 tells give copies,
// ties, new points that dominate many parents and a few, and infeasible fronts.
TEST(Nsga2Test, SteadyStateIncrementalRankingEqualsASortFromScratch) {
  for (size_t m : {size_t{2}, size_t{3}}) {
    Nsga2Options options = Options(51, 4, 12, Mode::kSteadyState);
    options.base.num_objectives = m;
    auto opt = Make(options);
    Rng rng(5 + m);
    for (int step = 0; step < 400; ++step) {
      const std::vector<Candidate> asked = opt->Ask(1);
      ASSERT_EQ(asked.size(), 1u);
      std::vector<double> f(m);
      for (double& v : f) v = static_cast<double>(rng.UniformInt(5)) - static_cast<double>(step / 100);
      const double violation = rng.Uniform01() < 0.2 ? static_cast<double>(1 + rng.UniformInt(3)) : 0.0;
      ASSERT_TRUE(opt->Tell(asked[0], f, violation).ok());
      auto fresh = Make(options);
      ASSERT_TRUE(fresh->Load(opt->Save()).ok());
      const std::vector<Evaluation> elite = opt->Elite(), fresh_elite = fresh->Elite();
      ASSERT_EQ(elite.size(), fresh_elite.size());
      for (size_t i = 0; i < elite.size(); ++i) {
        ASSERT_EQ(elite[i].candidate.id, fresh_elite[i].candidate.id) << "m " << m << " step " << step;
      }
      ExpectSame(opt->Ask(2), fresh->Ask(2));
    }
  }
}

// Elite is the parent population, best first: ranks never fall along it, and within a rank crowding
// distances never rise.
TEST(Nsga2Test, EliteIsTheParentsBestFirst) {
  const problems::Problem zdt1 = Problem("zdt1", 5);
  for (Mode mode : {Mode::kGenerational, Mode::kSteadyState}) {
    auto opt = Make(Options(41, 5, 20, mode));
    EXPECT_TRUE(opt->Elite().empty());
    for (int round = 0; round < 4; ++round) {
      for (const Candidate& c : opt->Ask(20)) {
        ASSERT_TRUE(opt->Tell(c, Evaluate(zdt1, c.x), c.id % 3 == 0 ? 0.0 : c.x[2]).ok());
      }
    }
    const std::vector<Evaluation> elite = opt->Elite();
    ASSERT_EQ(elite.size(), 20u);
    Points objectives;
    std::vector<double> violations;
    for (const Evaluation& e : elite) {
      EXPECT_EQ(e.objectives, Evaluate(zdt1, e.candidate.x));
      objectives.push_back(e.objectives);
      violations.push_back(e.constraint_violation);
    }
    const NondominatedSorting sorting = ConstrainedNondominatedSort(objectives, violations);
    EXPECT_EQ(sorting.rank.front(), 0u);
    for (size_t i = 1; i < elite.size(); ++i) EXPECT_LE(sorting.rank[i - 1], sorting.rank[i]) << i;
    size_t checked = 0;
    for (const std::vector<size_t>& front : sorting.fronts) {
      // Copies of one point share their crowding by their order in the front, which Elite changes:
      // check the fronts without copies.
      std::set<std::vector<double>> distinct;
      for (size_t i : front) distinct.insert(objectives[i]);
      if (distinct.size() < front.size()) continue;
      const std::vector<double> crowding = CrowdingDistance(objectives, front);
      for (size_t k = 1; k < front.size(); ++k) EXPECT_GE(crowding[k - 1], crowding[k]);
      checked += front.size();
    }
    EXPECT_GE(checked, 5u);
  }
}

// ZDT1 where the feasible region (x[1] >= 0.8) holds the worse objectives: after every survival the
// parents hold as many feasible points as have been told, up to the population.
TEST(Nsga2Test, AnInfeasiblePointNeverSurvivesOverAFeasibleOne) {
  const problems::Problem zdt1 = Problem("zdt1", 6);
  for (Mode mode : {Mode::kGenerational, Mode::kSteadyState}) {
    auto opt = Make(Options(31, 6, 10, mode));
    size_t feasible_told = 0;
    auto expect_feasible_kept = [&] {
      const std::vector<Parent> parents = Parents(*opt);
      const size_t feasible_parents =
          std::count_if(parents.begin(), parents.end(), [](const Parent& p) { return p.violation == 0; });
      EXPECT_EQ(feasible_parents, std::min<size_t>(10, feasible_told));
      return feasible_parents == std::min<size_t>(10, feasible_told);
    };
    for (int round = 0; round < 60; ++round) {
      const std::vector<Candidate> asked = opt->Ask(10);  // generational: one whole generation
      ASSERT_EQ(asked.size(), 10u);
      for (const Candidate& c : asked) {
        const double violation = std::max(0.0, 0.8 - c.x[1]);
        feasible_told += violation == 0;
        ASSERT_TRUE(opt->Tell(c, Evaluate(zdt1, c.x), violation).ok());
        if (mode == Mode::kSteadyState) {
          ASSERT_TRUE(expect_feasible_kept()) << "round " << round;
        }
      }
      ASSERT_TRUE(expect_feasible_kept()) << "round " << round;  // generational: after survival
    }
    EXPECT_GT(feasible_told, 10u);
  }
}

// Search quality: NSGA-II with the paper's settings (population 100, p_c 0.9, eta_c 20, eta_m 20,
// p_m 1/30) on ZDT1 with 30 variables, 10,000 evaluations: the final parents' hypervolume against
// (1.1, 1.1) is at least 0.95 of the true front's, in both modes. Steady state runs as 8 workers that
// each ask for one candidate when they finish one.
TEST(Nsga2Test, ReachesTheZdt1FrontIn10000Evaluations) {
  const problems::Problem zdt1 = Problem("zdt1", 30);
  constexpr size_t kEvaluations = 10'000;
  for (uint64_t seed : {1, 2}) {
    auto generational = Make(Options(seed, 30, 100, Mode::kGenerational));
    for (size_t told = 0; told < kEvaluations;) {
      const std::vector<Candidate> generation = generational->Ask(100);
      ASSERT_EQ(generation.size(), 100u);
      for (const Candidate& c : generation) {
        ASSERT_TRUE(generational->Tell(c, Evaluate(zdt1, c.x)).ok());
        ++told;
      }
    }
    EXPECT_GE(ParentsHypervolume(*generational) / kZdt1FrontHypervolume, 0.95) << "seed " << seed;

    auto steady = Make(Options(seed, 30, 100, Mode::kSteadyState));
    std::deque<Candidate> running;
    for (Candidate& c : steady->Ask(8)) running.push_back(std::move(c));
    for (size_t told = 0; told < kEvaluations; ++told) {
      const Candidate c = running.front();
      running.pop_front();
      ASSERT_TRUE(steady->Tell(c, Evaluate(zdt1, c.x)).ok());
      for (Candidate& next : steady->Ask(1)) running.push_back(std::move(next));
    }
    EXPECT_GE(ParentsHypervolume(*steady) / kZdt1FrontHypervolume, 0.95) << "seed " << seed;
  }
}

}  // namespace
}  // namespace hpo::search
