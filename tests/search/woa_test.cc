#include "search/woa.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "problems/classic.h"
#include "problems/problem.h"
#include "search/pareto.h"
#include "search/random_search.h"

namespace hpo::search {
namespace {

using Objective = std::function<std::vector<double>(const std::vector<double>&)>;

WoaOptions Improved(size_t dims, size_t objectives, uint64_t seed) {
  WoaOptions options;
  options.base = {.dims = dims, .num_objectives = objectives, .seed = seed};
  return options;
}

std::unique_ptr<Optimizer> Make(const WoaOptions& options) {
  Result<std::unique_ptr<Optimizer>> opt = MakeWoa(options);
  EXPECT_TRUE(opt.ok()) << opt.status().ToString();
  return std::move(opt).value();
}

std::vector<double> SphereAt(const std::vector<double>& x, double centre) {
  double sum = 0;
  for (double v : x) sum += (v - centre) * (v - centre);
  return {sum};
}

// Asks and tells until `evaluations` candidates were told (in asking order); returns them all.
std::vector<Candidate> Drive(Optimizer& opt, const Objective& f, size_t evaluations, size_t chunk = 1000) {
  std::vector<Candidate> all;
  while (all.size() < evaluations) {
    const std::vector<Candidate> asked = opt.Ask(std::min(chunk, evaluations - all.size()));
    EXPECT_FALSE(asked.empty());
    if (asked.empty()) break;
    for (const Candidate& c : asked) {
      EXPECT_TRUE(opt.Tell(c, f(c.x)).ok());
      all.push_back(c);
    }
  }
  return all;
}

void ExpectSame(const std::vector<Candidate>& a, const std::vector<Candidate>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].id, b[i].id);
    ASSERT_EQ(a[i].x, b[i].x) << "candidate " << i;
  }
}

// The best error of an optimizer run by ask/tell on a classic problem mapped from the cube to its box,
// floored at 1e-20.
double BestError(const WoaOptions& options, const problems::ScalarProblem& p, size_t evaluations) {
  auto opt = Make(options);
  double best = 1e300;
  Drive(
      *opt,
      [&](const std::vector<double>& u) {
        const double f = p.evaluate(problems::FromUnitCube(p, u));
        best = std::min(best, f);
        return std::vector<double>{f};
      },
      evaluations);
  return std::max(best - p.optimum_value, 1e-20);
}

// Mean of log10(error) over seeds 1..runs of the classic function `number` in `dims` dimensions.
double LogError(WoaOptions options, int number, size_t dims, bool shifted, int runs, size_t evaluations) {
  double sum = 0;
  for (uint64_t seed = 1; seed <= static_cast<uint64_t>(runs); ++seed) {
    options.base = {.dims = dims, .num_objectives = 1, .seed = seed};
    const std::optional<uint64_t> shift = shifted ? std::optional<uint64_t>(seed) : std::nullopt;
    sum += std::log10(BestError(options, *problems::MakeClassic(number, dims, shift), evaluations));
  }
  return sum / runs;
}

// Exact 2-D hypervolume of the points dominating `ref` (minimisation).
double Hypervolume2d(std::vector<std::vector<double>> points, double ref0, double ref1) {
  std::erase_if(points, [&](const std::vector<double>& p) { return !(p[0] < ref0 && p[1] < ref1); });
  std::sort(points.begin(), points.end());
  double volume = 0, level = ref1;
  for (const std::vector<double>& p : points) {
    if (p[1] < level) {
      volume += (ref0 - p[0]) * (level - p[1]);
      level = p[1];
    }
  }
  return volume;
}

// The "whale" lines of a saved state: the whales' positions and results (see woa.cc's state format).
std::vector<std::string> WhaleLines(const std::string& state) {
  std::vector<std::string> lines;
  std::istringstream in(state);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("whale ", 0) == 0) lines.push_back(line);
  }
  return lines;
}

// Mean distance of the candidates to their centroid.
double Spread(const std::vector<Candidate>& cs) {
  const size_t d = cs[0].x.size();
  std::vector<double> centroid(d, 0.0);
  for (const Candidate& c : cs) {
    for (size_t j = 0; j < d; ++j) centroid[j] += c.x[j] / static_cast<double>(cs.size());
  }
  double sum = 0;
  for (const Candidate& c : cs) {
    double d2 = 0;
    for (size_t j = 0; j < d; ++j) d2 += (c.x[j] - centroid[j]) * (c.x[j] - centroid[j]);
    sum += std::sqrt(d2);
  }
  return sum / static_cast<double>(cs.size());
}

// ---------------------------------------------------------------------------------------------------------

TEST(WoaTest, ValidatesEveryOptionNamingIt) {
  const struct {
    const char* field;
    std::function<void(WoaOptions&)> spoil;
  } kCases[] = {
      {"woa.dims", [](WoaOptions& o) { o.base.dims = 0; }},
      {"woa.num_objectives", [](WoaOptions& o) { o.base.num_objectives = 0; }},
      {"woa.variant", [](WoaOptions& o) { o.variant = static_cast<WoaOptions::Variant>(7); }},
      {"woa.population", [](WoaOptions& o) { o.population = 3; }},  // hybrid search needs 4
      {"woa.population", [](WoaOptions& o) { o.population = 1, o.hybrid_search = false; }},
      {"woa.max_iterations", [](WoaOptions& o) { o.max_iterations = 0; }},
      {"woa.archive_size", [](WoaOptions& o) { o.archive_size = 0; }},
      {"woa.spiral_b", [](WoaOptions& o) { o.spiral_b = 0; }},
      {"woa.spiral_b", [](WoaOptions& o) { o.spiral_b = NAN; }},
      {"woa.de_f", [](WoaOptions& o) { o.de_f = 0; }},
      {"woa.de_f", [](WoaOptions& o) { o.de_f = 2.5; }},
      {"woa.de_cr", [](WoaOptions& o) { o.de_cr = -0.1; }},
      {"woa.de_cr", [](WoaOptions& o) { o.de_cr = 1.1; }},
      {"woa.levy_beta", [](WoaOptions& o) { o.levy_beta = 2.0; }},
      {"woa.levy_beta", [](WoaOptions& o) { o.levy_beta = 0.1; }},
      {"woa.levy_scale", [](WoaOptions& o) { o.levy_scale = 0; }},
      {"woa.levy_scale", [](WoaOptions& o) { o.levy_scale = INFINITY; }},
      {"woa.levy_share", [](WoaOptions& o) { o.levy_share = 1.5; }},
  };
  for (const auto& c : kCases) {
    WoaOptions options = Improved(3, 1, 1);
    c.spoil(options);
    const Status s = MakeWoa(options).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.field;
    EXPECT_EQ(s.message().rfind(std::string(c.field) + ":", 0), 0u) << s.message();
  }
  WoaOptions small = Improved(3, 1, 1);
  small.population = 3;
  small.hybrid_search = false;
  EXPECT_TRUE(MakeWoa(small).ok());
  EXPECT_TRUE(MakeWoa(WoaOptions::Original({.dims = 2, .num_objectives = 3, .seed = 0})).ok());
}

TEST(WoaTest, OriginalIsThePaperWithEveryImprovementOff) {
  const WoaOptions o = WoaOptions::Original({.dims = 4, .num_objectives = 2, .seed = 9});
  EXPECT_EQ(o.variant, WoaOptions::Variant::kOriginal);
  EXPECT_FALSE(o.inertia_weight);
  EXPECT_FALSE(o.hybrid_search);
  EXPECT_FALSE(o.adaptive_shrink);
  EXPECT_EQ(o.base.dims, 4u);
  EXPECT_EQ(o.spiral_b, 1.0);
  const WoaOptions d;
  EXPECT_EQ(d.variant, WoaOptions::Variant::kImproved);
  EXPECT_TRUE(d.inertia_weight && d.hybrid_search && d.adaptive_shrink);
  EXPECT_EQ(d.population, 30u);
  EXPECT_EQ(d.max_iterations, 500u);
}

TEST(WoaTest, InitialPopulationIsALatinHypercube) {
  WoaOptions options = Improved(5, 1, 3);
  options.population = 20;
  auto opt = Make(options);
  const std::vector<Candidate> first = opt->Ask(100);
  ASSERT_EQ(first.size(), 20u);
  for (size_t j = 0; j < 5; ++j) {
    std::set<int> strata;
    for (const Candidate& c : first) strata.insert(static_cast<int>(std::floor(c.x[j] * 20)));
    EXPECT_EQ(strata.size(), 20u) << "gene " << j;
  }
}

TEST(WoaTest, IterationBarrierAndIds) {
  for (bool hybrid : {false, true}) {
    SCOPED_TRACE(hybrid);
    WoaOptions options = Improved(3, 1, 4);
    options.population = 6;
    options.hybrid_search = hybrid;
    auto opt = Make(options);
    EXPECT_TRUE(opt->Ask(0).empty());
    uint64_t next_id = 0;
    // The initial population, then (with hybrid search) moves and trials alternate, 6 candidates each.
    for (int phase = 0; phase < 7; ++phase) {
      std::vector<Candidate> asked = opt->Ask(4);
      ASSERT_EQ(asked.size(), 4u);
      const std::vector<Candidate> rest = opt->Ask(100);
      ASSERT_EQ(rest.size(), 2u);  // may return fewer: the phase has 6
      asked.insert(asked.end(), rest.begin(), rest.end());
      EXPECT_TRUE(opt->Ask(5).empty());
      for (const Candidate& c : asked) {
        EXPECT_EQ(c.id, next_id++);
        ASSERT_EQ(c.x.size(), 3u);
        for (double g : c.x) {
          ASSERT_GE(g, 0.0);
          ASSERT_LE(g, 1.0);
        }
      }
      // Nothing new until the last one is told (here: told failed), in any order.
      for (size_t k = asked.size(); k-- > 1;) {
        ASSERT_TRUE(opt->Tell(asked[k], SphereAt(asked[k].x, 0.3)).ok());
        EXPECT_TRUE(opt->Ask(3).empty());
      }
      ASSERT_TRUE(opt->TellFailed(asked[0]).ok());
    }
  }
}

TEST(WoaTest, TellErrorsChangeNothing) {
  WoaOptions options = Improved(2, 2, 5);
  options.population = 4;
  auto opt = Make(options);
  const std::vector<Candidate> asked = opt->Ask(3);
  const std::string before = opt->Save();
  const std::vector<double> good = {1.0, 2.0};
  EXPECT_EQ(opt->Tell(asked[0], std::vector<double>{1.0}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(opt->Tell(asked[0], std::vector<double>{1.0, NAN}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(opt->Tell(asked[0], std::vector<double>{INFINITY, 1.0}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(opt->Tell(asked[0], good, -1.0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(opt->Tell(asked[0], good, NAN).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(opt->Tell({.id = 3, .x = {}}, good).code(), StatusCode::kNotFound);  // not asked yet
  EXPECT_EQ(opt->Tell({.id = 99, .x = {}}, good).code(), StatusCode::kNotFound);
  EXPECT_EQ(opt->TellFailed({.id = 3, .x = {}}).code(), StatusCode::kNotFound);
  EXPECT_EQ(opt->Save(), before);
  ASSERT_TRUE(opt->Tell(asked[0], good).ok());
  EXPECT_EQ(opt->Tell(asked[0], good).code(), StatusCode::kNotFound);  // already told
  EXPECT_EQ(opt->TellFailed(asked[0]).code(), StatusCode::kNotFound);
  ASSERT_TRUE(opt->TellFailed(asked[1]).ok());
  EXPECT_EQ(opt->Tell(asked[1], good).code(), StatusCode::kNotFound);
  ASSERT_TRUE(opt->Tell(asked[2], good, 0.5).ok());
  const std::vector<Candidate> last = opt->Ask(10);
  ASSERT_EQ(last.size(), 1u);
  ASSERT_TRUE(opt->Tell(last[0], good).ok());
  // A candidate of a finished iteration is no longer outstanding.
  EXPECT_EQ(opt->Tell(asked[0], good).code(), StatusCode::kNotFound);
  EXPECT_EQ(opt->Ask(10).size(), 4u);
}

TEST(WoaTest, SameSeedSameAsksWhateverTheChunksAndTellOrder) {
  for (WoaOptions options :
       {Improved(6, 1, 11), WoaOptions::Original({.dims = 6, .num_objectives = 1, .seed = 11}),
        Improved(6, 2, 11)}) {
    const Objective f = [](const std::vector<double>& x) {
      std::vector<double> y = SphereAt(x, 0.3);
      y.resize(2, 0.0);
      y[1] = SphereAt(x, 0.7)[0];
      return y;
    };
    const Objective objective = options.base.num_objectives == 1
                                    ? Objective([](const std::vector<double>& x) { return SphereAt(x, 0.3); })
                                    : f;
    auto a = Make(options), b = Make(options);
    const std::vector<Candidate> all_at_once = Drive(*a, objective, 600, 1000);
    const std::vector<Candidate> in_sevens = Drive(*b, objective, 600, 7);
    ExpectSame(all_at_once, in_sevens);
    // Telling each phase backwards changes nothing either.
    auto c = Make(options);
    std::vector<Candidate> backwards;
    while (backwards.size() < 600) {
      std::vector<Candidate> asked = c->Ask(1000);
      for (size_t k = asked.size(); k-- > 0;) ASSERT_TRUE(c->Tell(asked[k], objective(asked[k].x)).ok());
      backwards.insert(backwards.end(), asked.begin(), asked.end());
    }
    backwards.resize(600);
    ExpectSame(all_at_once, backwards);
    // Another seed, other candidates.
    options.base.seed = 12;
    auto d = Make(options);
    const std::vector<Candidate> other = Drive(*d, objective, 30);
    EXPECT_NE(other[0].x, all_at_once[0].x);
  }
}

TEST(WoaTest, SaveLoadContinuesExactlyMidIteration) {
  for (WoaOptions options : {Improved(5, 1, 21), Improved(5, 2, 21),
                             WoaOptions::Original({.dims = 5, .num_objectives = 1, .seed = 21})}) {
    SCOPED_TRACE(options.base.num_objectives);
    options.archive_size = 8;  // small, so that truncation happens before the save
    const Objective f = [m = options.base.num_objectives](const std::vector<double>& x) {
      std::vector<double> y = {SphereAt(x, 0.2)[0], SphereAt(x, 0.8)[0]};
      y.resize(m);
      return y;
    };
    auto straight = Make(options);
    auto interrupted = Make(options);
    for (Optimizer* opt : {straight.get(), interrupted.get()}) {
      Drive(*opt, f, 30 * 7 + 10);  // a few iterations, then part of the next phase told
      const std::vector<Candidate> asked = opt->Ask(9);
      ASSERT_EQ(asked.size(), 9u);
      ASSERT_TRUE(opt->Tell(asked[0], f(asked[0].x)).ok());
      ASSERT_TRUE(opt->TellFailed(asked[4]).ok());
      ASSERT_TRUE(opt->Tell(asked[7], f(asked[7].x), 0.25).ok());
    }
    const std::string state = interrupted->Save();
    interrupted.reset();
    WoaOptions other_seed = options;
    other_seed.base.seed = 999;  // everything comes from the state
    auto resumed = Make(other_seed);
    ASSERT_TRUE(resumed->Load(state).ok());
    EXPECT_EQ(resumed->Save(), state);
    // The outstanding candidates survive (220..228 asked, 220, 224 and 227 closed), in both.
    for (Optimizer* opt : {straight.get(), resumed.get()}) {
      const std::vector<Candidate> more = opt->Ask(100);  // the rest of the phase
      ASSERT_EQ(more.size(), 11u);
      EXPECT_EQ(more[0].id, 229u);
      for (uint64_t id : {221u, 222u, 223u, 225u, 226u, 228u}) {
        ASSERT_TRUE(opt->TellFailed({.id = id, .x = {}}).ok()) << id;
      }
      for (uint64_t id : {220u, 224u, 227u}) {
        EXPECT_EQ(opt->TellFailed({.id = id, .x = {}}).code(), StatusCode::kNotFound);
      }
      for (const Candidate& c : more) ASSERT_TRUE(opt->Tell(c, f(c.x)).ok());
    }
    ExpectSame(Drive(*resumed, f, 400, 13), Drive(*straight, f, 400, 13));
    EXPECT_EQ(resumed->Save(), straight->Save());
  }
}

TEST(WoaTest, LoadRefusesOtherStatesAndChangesNothing) {
  WoaOptions options = Improved(3, 1, 2);
  options.population = 5;
  auto opt = Make(options);
  Drive(
      *opt, [](const std::vector<double>& x) { return SphereAt(x, 0.5); }, 23);
  const std::string state = opt->Save();
  const std::string before = opt->Save();

  auto expect_refused = [&](const std::string& bad, StatusCode code) {
    const Status s = opt->Load(bad);
    EXPECT_EQ(s.code(), code) << s.ToString() << "\n" << bad.substr(0, 200);
    EXPECT_EQ(opt->Save(), before);
  };
  expect_refused("", StatusCode::kDataLoss);
  expect_refused("garbage", StatusCode::kDataLoss);
  expect_refused(state.substr(0, state.size() / 2), StatusCode::kDataLoss);
  expect_refused(state.substr(0, state.find("rng")), StatusCode::kDataLoss);
  std::string flipped = state;
  flipped[flipped.find("slot ") + 5] = '9';  // a slot state that does not exist
  expect_refused(flipped, StatusCode::kDataLoss);
  std::string outside = state;
  const size_t whale = outside.find("whale ") + 6;
  outside.replace(whale, outside.find(' ', whale) - whale, "0x1.8p+0");  // gene 1.5
  expect_refused(outside, StatusCode::kDataLoss);
  expect_refused(MakeRandomSearch(options.base).value()->Save(), StatusCode::kDataLoss);

  WoaOptions other = options;
  other.base.dims = 4;
  expect_refused(Make(other)->Save(), StatusCode::kInvalidArgument);
  other = options;
  other.population = 6;
  const Status s = opt->Load(Make(other)->Save());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("woa.population"), std::string::npos) << s.message();
  other = options;
  other.variant = WoaOptions::Variant::kOriginal;
  expect_refused(Make(other)->Save(), StatusCode::kInvalidArgument);
  EXPECT_EQ(opt->Save(), before);
  ASSERT_TRUE(opt->Load(state).ok());
}

TEST(WoaTest, FailedMoveLeavesItsWhaleAndAllFailedStartAgain) {
  WoaOptions options = Improved(3, 1, 8);
  options.population = 5;
  options.hybrid_search = false;
  auto opt = Make(options);
  // Every initial whale fails: a fresh population is drawn (ids go on).
  std::vector<Candidate> first = opt->Ask(10);
  for (const Candidate& c : first) ASSERT_TRUE(opt->TellFailed(c).ok());
  std::vector<Candidate> second = opt->Ask(10);
  ASSERT_EQ(second.size(), 5u);
  EXPECT_EQ(second[0].id, 5u);
  EXPECT_NE(second[0].x, first[0].x);
  for (const Candidate& c : second) ASSERT_TRUE(opt->Tell(c, SphereAt(c.x, 0.4)).ok());
  // A move phase where whale 2's move fails: whale 2 keeps its position and result; the others move.
  const std::vector<std::string> whales_before = WhaleLines(opt->Save());
  const std::vector<Candidate> moves = opt->Ask(10);
  for (const Candidate& c : moves) {
    ASSERT_TRUE((c.id == 12 ? opt->TellFailed(c) : opt->Tell(c, SphereAt(c.x, 0.4))).ok());
  }
  const std::vector<std::string> whales_after = WhaleLines(opt->Save());
  ASSERT_EQ(whales_before.size(), 5u);
  ASSERT_EQ(whales_after.size(), 5u);
  size_t moved = 0;
  for (size_t i = 0; i < 5; ++i) {
    if (i == 2) {
      EXPECT_EQ(whales_after[i], whales_before[i]);
    } else {
      moved += whales_after[i] != whales_before[i];
    }
  }
  EXPECT_GE(moved, 3u);  // the leader may spiral onto itself
}

TEST(WoaTest, EliteIsTheBestPointOrTheArchive) {
  for (size_t m : {1u, 2u}) {
    SCOPED_TRACE(m);
    WoaOptions options = Improved(3, m, 6);
    options.population = 8;
    options.archive_size = 10;
    auto opt = Make(options);
    EXPECT_TRUE(opt->Elite().empty());
    std::map<uint64_t, std::pair<std::vector<double>, std::vector<double>>> told;  // id -> x, objectives
    double best = 1e9;
    const Objective f = [&](const std::vector<double>& x) {
      std::vector<double> y = {SphereAt(x, 0.2)[0], SphereAt(x, 0.9)[0]};
      y.resize(m);
      best = std::min(best, y[0]);
      return y;
    };
    for (const Candidate& c : Drive(*opt, f, 8 * 25)) told[c.id] = {c.x, f(c.x)};
    const std::vector<Evaluation> elite = opt->Elite();
    ASSERT_FALSE(elite.empty());
    for (const Evaluation& e : elite) {
      ASSERT_TRUE(told.count(e.candidate.id)) << e.candidate.id;
      EXPECT_EQ(e.candidate.x, told[e.candidate.id].first);
      EXPECT_EQ(e.objectives, told[e.candidate.id].second);
      EXPECT_EQ(e.constraint_violation, 0.0);
    }
    if (m == 1) {
      ASSERT_EQ(elite.size(), 1u);
      EXPECT_EQ(elite[0].objectives[0], best);
    } else {
      EXPECT_EQ(elite.size(), 10u);  // full, truncated by crowding
      for (const Evaluation& a : elite) {
        for (const Evaluation& b : elite) EXPECT_FALSE(Dominates(a.objectives, b.objectives));
      }
    }
  }
}

TEST(WoaTest, EachSwitchChangesTheSearch) {
  const Objective f = [](const std::vector<double>& x) { return SphereAt(x, 0.35); };
  auto run = [&](const WoaOptions& options) {
    auto opt = Make(options);
    return Drive(*opt, f, 30 * 20);
  };
  const WoaOptions base = Improved(4, 1, 31);
  const std::vector<Candidate> reference = run(base);
  auto differs = [&](const std::vector<Candidate>& other) {
    for (size_t i = 30; i < reference.size(); ++i) {
      if (other[i].x != reference[i].x) return true;
    }
    return false;
  };
  for (int k = 0; k < 4; ++k) {
    WoaOptions changed = base;
    if (k == 0) changed.inertia_weight = false;
    if (k == 1) changed.hybrid_search = false;
    if (k == 2) changed.adaptive_shrink = false;
    if (k == 3) changed.variant = WoaOptions::Variant::kOriginal;
    const std::vector<Candidate> other = run(changed);
    for (size_t i = 0; i < 30; ++i) EXPECT_EQ(other[i].x, reference[i].x);  // the same initial population
    EXPECT_TRUE(differs(other)) << "switch " << k;
  }
}

// A saved state (at an iteration barrier) with every whale, the leader and the next phase's candidates
// moved to within 1e-9 of whale 0: a collapsed swarm.
std::string Collapse(const std::string& state, size_t dims) {
  std::istringstream in(state);
  std::string out;
  std::vector<double> genes;  // whale 0's
  size_t k = 0;
  for (std::string line; std::getline(in, line, '\n');) {
    const size_t skip = line.rfind("whale ", 0) == 0 || line.rfind("best ", 0) == 0 ? 1
                        : line.rfind("slot ", 0) == 0                               ? 2
                                                                                    : 0;
    if (skip > 0) {
      std::istringstream words(line);
      std::vector<std::string> tokens;
      for (std::string w; words >> w;) tokens.push_back(w);
      if (genes.empty()) {
        for (size_t j = 0; j < dims; ++j) {
          double g = 0;
          const std::string& t = tokens[skip + j];
          std::from_chars(t.data(), t.data() + t.size(), g, std::chars_format::hex);
          genes.push_back(g);
        }
      }
      for (size_t j = 0; j < dims; ++j) {
        const double g = j == 0 ? std::min(1.0, genes[0] + 1e-9 * static_cast<double>(k++)) : genes[j];
        char buffer[64];
        tokens[skip + j] =
            std::string(buffer, std::to_chars(buffer, buffer + 64, g, std::chars_format::hex).ptr);
      }
      line.clear();
      for (const std::string& t : tokens) line += (line.empty() ? "" : " ") + t;
    }
    out += line + "\n";
  }
  out.pop_back();
  return out;
}

TEST(WoaTest, AdaptiveShrinkReExpandsACollapsedSwarm) {
  // The swarm's diversity ratio ρ follows ρ*(t) = 10^-4^(t/T): at t = T/2, 10^-2 of the start.
  for (bool adaptive : {true, false}) {
    SCOPED_TRACE(adaptive);
    WoaOptions options = Improved(10, 1, 41);
    options.max_iterations = 100;
    options.hybrid_search = false;
    options.adaptive_shrink = adaptive;
    const Objective f = [](const std::vector<double>& x) { return SphereAt(x, 0.37); };
    auto opt = Make(options);
    const std::vector<Candidate> all = Drive(*opt, f, 30 * 11);
    const double start = Spread(std::vector<Candidate>(all.begin(), all.begin() + 30));
    // Collapse the swarm after 10 iterations, then let it run to t = T/2.
    ASSERT_TRUE(opt->Load(Collapse(opt->Save(), 10)).ok());
    const std::vector<Candidate> next = Drive(*opt, f, 30);
    EXPECT_LT(Spread(next) / start, 1e-8);
    const std::vector<Candidate> later = Drive(*opt, f, 30 * 40);
    const double ratio = Spread(std::vector<Candidate>(later.end() - 30, later.end())) / start;
    if (adaptive) {
      EXPECT_GT(ratio, 1e-2 / 30);  // back near its target
      EXPECT_LT(ratio, 1e-2 * 30);
    } else {
      EXPECT_LT(ratio, 1e-4);  // a = 2 - 2t/T alone leaves it far below
    }
  }
}

TEST(WoaTest, RepairNeverLeavesTheCubeAndReachesItsBounds) {
  // The optimum in a corner: the improved update reaches the bounds exactly, and stays in the cube.
  WoaOptions options = Improved(4, 1, 5);
  options.max_iterations = 60;
  auto opt = Make(options);
  double best = 1e9;
  const Objective corner = [&](const std::vector<double>& x) {
    const double y = (x[0] - 1) * (x[0] - 1) + x[1] * x[1] + x[2] * x[2] + (x[3] - 1) * (x[3] - 1);
    best = std::min(best, y);
    return std::vector<double>{y};
  };
  const std::vector<Candidate> all = Drive(*opt, corner, 30 * 121);
  for (const Candidate& c : all) {
    for (double g : c.x) {
      ASSERT_GE(g, 0.0);
      ASSERT_LE(g, 1.0);
    }
  }
  EXPECT_EQ(best, 0.0);
}

TEST(WoaTest, FeasibleBeatsInfeasible) {
  // Minimise Σ x² subject to x0 >= 0.6 (violation 0.6 - x0): the unconstrained optimum is infeasible.
  WoaOptions options = Improved(3, 1, 17);
  options.max_iterations = 80;
  auto opt = Make(options);
  double best_feasible = 1e9;
  size_t told = 0, feasible_late = 0;
  while (told < 30 * 161) {
    for (const Candidate& c : opt->Ask(1000)) {
      const double violation = std::max(0.0, 0.6 - c.x[0]);
      const double f = SphereAt(c.x, 0.0)[0];
      if (violation == 0) best_feasible = std::min(best_feasible, f);
      if (told >= 30 * 141 && violation == 0) ++feasible_late;
      ASSERT_TRUE(opt->Tell(c, std::vector<double>{f}, violation).ok());
      ++told;
    }
  }
  EXPECT_NEAR(best_feasible, 0.36, 1e-3);
  EXPECT_GT(feasible_late, 30u * 20 / 3);  // most of the last iterations' candidates are feasible
}

// ---- search quality (fixed seeds) ---------------------------------------------------------------------

TEST(WoaTest, ImprovedSolvesTheShifted10dSphere) {
  for (uint64_t seed : {1, 2, 3}) {
    WoaOptions options = Improved(10, 1, seed);
    options.max_iterations = 100;
    const problems::ScalarProblem p = *problems::MakeClassic(1, 10, seed);
    EXPECT_LT(BestError(options, p, 30 * 201), 1e-2) << seed;
  }
}

TEST(WoaTest, ImprovedIsTranslationInvariantTheOriginalIsNot) {
  // Mean log10 error over 5 seeds, 10-D, on the classic F1 (sphere) and F9 (Rastrigin) with the optimum
  // at the centre of the box (unshifted) and at a random point away from it (shifted).
  WoaOptions improved = Improved(10, 1, 0);
  improved.max_iterations = 200;
  WoaOptions original = WoaOptions::Original({.dims = 10, .num_objectives = 1, .seed = 0});
  original.max_iterations = 200;
  for (int number : {1, 9}) {
    SCOPED_TRACE(number);
    const double shifted = LogError(improved, number, 10, true, 5, 30 * 401);
    const double unshifted = LogError(improved, number, 10, false, 5, 30 * 401);
    EXPECT_LT(std::fabs(shifted - unshifted), 1.0);  // within a factor 10
    const double original_shifted = LogError(original, number, 10, true, 5, 30 * 201);
    EXPECT_LT(shifted, original_shifted);
  }
  // The flaw: the original's results depend on where the optimum lies in the coordinates. On the sphere
  // it is more than 30 times worse once the optimum leaves the centre of the box, while the improved
  // update does as well anywhere (above).
  const double original_shifted = LogError(original, 1, 10, true, 5, 30 * 201);
  const double original_unshifted = LogError(original, 1, 10, false, 5, 30 * 201);
  EXPECT_GT(original_shifted - original_unshifted, 1.5);
}

TEST(WoaTest, MultiObjectiveImprovedCoversZdt1) {
  // 25,000 evaluations; the true front's hypervolume with reference (1.1, 1.1) is 1.21 - 1/3.
  const problems::Problem zdt1 = *problems::MakeProblem("zdt1", 30);
  for (uint64_t seed : {1, 2}) {
    WoaOptions options = Improved(30, 2, seed);
    options.max_iterations = 25000 / 60;
    auto opt = Make(options);
    std::vector<std::vector<double>> seen;
    const Objective f = [&](const std::vector<double>& x) {
      seen.push_back(zdt1.evaluate(x));
      return seen.back();
    };
    Drive(*opt, f, 25000);
    EXPECT_GE(Hypervolume2d(seen, 1.1, 1.1) / (1.21 - 1.0 / 3.0), 0.9) << seed;
  }
}

TEST(WoaTest, Hypervolume2dHelperIsExact) {
  EXPECT_DOUBLE_EQ(Hypervolume2d({{0.0, 1.0}, {1.0, 0.0}}, 2, 2), 3.0);
  EXPECT_DOUBLE_EQ(Hypervolume2d({{0.5, 0.5}, {0.6, 0.6}, {3, 0}}, 1, 1), 0.25);
  EXPECT_DOUBLE_EQ(Hypervolume2d({}, 1, 1), 0.0);
}

}  // namespace
}  // namespace hpo::search
