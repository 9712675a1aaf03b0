#include "search/random_search.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "base/rng.h"

namespace hpo::search {
namespace {

std::unique_ptr<Optimizer> Make(uint64_t seed, size_t dims = 4, size_t objectives = 2) {
  Result<std::unique_ptr<Optimizer>> opt =
      MakeRandomSearch({.dims = dims, .num_objectives = objectives, .seed = seed});
  EXPECT_TRUE(opt.ok()) << opt.status().ToString();
  return std::move(opt).value();
}

std::unique_ptr<Optimizer> MakeLhs(uint64_t seed, size_t lhs, size_t dims = 4, size_t objectives = 2) {
  Result<std::unique_ptr<Optimizer>> opt = MakeRandomSearch(
      {.base = {.dims = dims, .num_objectives = objectives, .seed = seed}, .latin_hypercube = lhs});
  EXPECT_TRUE(opt.ok()) << opt.status().ToString();
  return std::move(opt).value();
}

void ExpectSame(const std::vector<Candidate>& a, const std::vector<Candidate>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id);
    EXPECT_EQ(a[i].x, b[i].x);
  }
}

TEST(RandomSearchTest, ValidatesOptions) {
  EXPECT_EQ(MakeRandomSearch({.dims = 0, .num_objectives = 2, .seed = 1}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeRandomSearch({.dims = 3, .num_objectives = 0, .seed = 1}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(RandomSearchTest, IdsCountUpAndGenesStayInTheCube) {
  auto opt = Make(1, 7);
  EXPECT_TRUE(opt->Ask(0).empty());
  uint64_t next = 0;
  double sum = 0;
  for (int round = 0; round < 100; ++round) {
    for (const Candidate& c : opt->Ask(10)) {
      EXPECT_EQ(c.id, next++);
      ASSERT_EQ(c.x.size(), 7u);
      for (double g : c.x) {
        ASSERT_GE(g, 0.0);
        ASSERT_LT(g, 1.0);
        sum += g;
      }
    }
  }
  EXPECT_NEAR(sum / 7000.0, 0.5, 0.02);
}

TEST(RandomSearchTest, SameSeedSameAsksDifferentSeedDifferent) {
  auto a = Make(99), b = Make(99), c = Make(100);
  const std::vector<Candidate> first = a->Ask(20);
  ExpectSame(first, b->Ask(20));
  const std::vector<Candidate> other = c->Ask(20);
  for (size_t i = 0; i < first.size(); ++i) EXPECT_NE(first[i].x, other[i].x);
}

TEST(RandomSearchTest, SaveLoadContinuesExactly) {
  auto straight = Make(5);
  auto interrupted = Make(5);
  const std::vector<double> objectives = {1.0, 2.0};
  for (auto* opt : {straight.get(), interrupted.get()}) {
    const std::vector<Candidate> asked = opt->Ask(6);
    ASSERT_TRUE(opt->Tell(asked[0], objectives).ok());
    ASSERT_TRUE(opt->TellFailed(asked[3]).ok());
    ASSERT_TRUE(opt->Tell(asked[5], objectives, 0.5).ok());
  }
  const std::string state = interrupted->Save();
  interrupted.reset();
  auto resumed = Make(12345);  // a different seed: everything comes from the state
  ASSERT_TRUE(resumed->Load(state).ok());
  EXPECT_EQ(resumed->Save(), state);
  ExpectSame(resumed->Ask(50), straight->Ask(50));
  // The outstanding candidates survived: 1, 2 and 4 can still be told; 0, 3, 5 cannot.
  for (uint64_t id : {1, 2, 4}) EXPECT_TRUE(resumed->Tell({.id = id, .x = {}}, objectives).ok()) << id;
  for (uint64_t id : {0, 3, 5})
    EXPECT_EQ(resumed->TellFailed({.id = id, .x = {}}).code(), StatusCode::kNotFound);
}

TEST(RandomSearchTest, TellValidates) {
  auto opt = Make(3, 2, 2);
  const std::vector<Candidate> asked = opt->Ask(2);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(opt->Tell(asked[0], std::vector<double>{1.0}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(opt->Tell(asked[0], std::vector<double>{1.0, nan}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(opt->Tell(asked[0], std::vector<double>{1.0, 2.0}, -1.0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(opt->Tell(asked[0], std::vector<double>{1.0, 2.0}, nan).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(opt->Tell({.id = 7, .x = {}}, std::vector<double>{1.0, 2.0}).code(), StatusCode::kNotFound);
  EXPECT_EQ(opt->TellFailed({.id = 2, .x = {}}).code(), StatusCode::kNotFound);
  // The refused tells changed nothing: candidate 0 is still outstanding, once.
  EXPECT_TRUE(opt->Tell(asked[0], std::vector<double>{1.0, 2.0}).ok());
  EXPECT_EQ(opt->Tell(asked[0], std::vector<double>{1.0, 2.0}).code(), StatusCode::kNotFound);
  EXPECT_TRUE(opt->TellFailed(asked[1]).ok());
}

TEST(RandomSearchTest, LoadRefusesGarbageAndChangesNothing) {
  auto opt = Make(8);
  opt->Ask(3);
  const std::string before = opt->Save();
  std::vector<std::string> bad = {"", "garbage", "hpo.random_search v3\n",
                                  before.substr(0, before.size() / 2), before.substr(0, 40)};
  std::string replaced = before;
  replaced.replace(replaced.find("next_id 3"), 9, "next_id x");
  bad.push_back(replaced);
  replaced = before;
  replaced.replace(replaced.find("next_id 3"), 9, "next_id 1");  // outstanding ids >= next_id
  bad.push_back(replaced);
  replaced = before;
  replaced.replace(replaced.find("outstanding 3 0 1 2"), 19, "outstanding 3 0 2 1");
  bad.push_back(replaced);
  replaced = before;
  replaced.replace(replaced.find("rng "), 4, "rng x");
  bad.push_back(replaced);
  const size_t lhs_at = before.find("latin_hypercube 0 ");
  ASSERT_NE(lhs_at, std::string::npos);
  replaced = before;
  replaced.replace(lhs_at, 18, "latin_hypercube x ");
  bad.push_back(replaced);
  replaced = before;
  replaced.replace(lhs_at, 18, "latin_hypercube 0 -");
  bad.push_back(replaced);
  replaced = before;  // a design too large to rebuild
  replaced.replace(lhs_at, 18, "latin_hypercube " + std::to_string(kMaxLatinHypercubeGenes) + " ");
  bad.push_back(replaced);
  replaced = before;  // version 1 has no latin_hypercube line
  replaced.replace(0, 20, "hpo.random_search v1");
  bad.push_back(replaced);
  for (const std::string& state : bad) {
    EXPECT_EQ(opt->Load(state).code(), StatusCode::kDataLoss) << state.substr(0, 60);
  }
  EXPECT_EQ(opt->Save(), before);
  // A real state of another shape is refused as the wrong argument.
  EXPECT_EQ(opt->Load(Make(8, 5, 2)->Save()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(opt->Load(Make(8, 4, 3)->Save()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(opt->Save(), before);
}

// floor(x * n) of every candidate in one dimension: a permutation of 0..n-1 when stratified.
void ExpectStratified(const std::vector<Candidate>& design, size_t dims) {
  const size_t n = design.size();
  for (size_t j = 0; j < dims; ++j) {
    std::vector<size_t> strata;
    for (const Candidate& c : design) {
      ASSERT_EQ(c.x.size(), dims);
      ASSERT_GE(c.x[j], 0.0);
      ASSERT_LT(c.x[j], 1.0);
      strata.push_back(static_cast<size_t>(std::floor(c.x[j] * static_cast<double>(n))));
    }
    std::sort(strata.begin(), strata.end());
    std::vector<size_t> expected(n);
    std::iota(expected.begin(), expected.end(), size_t{0});
    EXPECT_EQ(strata, expected) << "dimension " << j;
  }
}

TEST(RandomSearchTest, LatinHypercubeHitsEveryStratumOncePerDimension) {
  for (const auto& [n, dims] : std::vector<std::pair<size_t, size_t>>{{1, 3}, {2, 1}, {37, 5}, {1000, 3}}) {
    SCOPED_TRACE(std::to_string(n) + " x " + std::to_string(dims));
    auto opt = MakeLhs(42, n, dims);
    // Asked in uneven batches: the design spans calls.
    std::vector<Candidate> design = opt->Ask(n / 3);
    EXPECT_TRUE(opt->Ask(0).empty());
    for (const Candidate& c : opt->Ask(n - n / 3)) design.push_back(c);
    ASSERT_EQ(design.size(), n);
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(design[i].id, i);
    ExpectStratified(design, dims);
  }
  // Not a fixed pattern: the strata are matched to candidates at random, differently per dimension
  // and per seed.
  const std::vector<Candidate> a = MakeLhs(1, 50, 2)->Ask(50), b = MakeLhs(2, 50, 2)->Ask(50);
  size_t same_order = 0, same_across_seeds = 0;
  for (size_t i = 0; i < 50; ++i) {
    same_order += std::floor(a[i].x[0] * 50) == std::floor(a[i].x[1] * 50);
    same_across_seeds += std::floor(a[i].x[0] * 50) == std::floor(b[i].x[0] * 50);
  }
  EXPECT_LT(same_order, 5u);
  EXPECT_LT(same_across_seeds, 5u);
}

TEST(RandomSearchTest, AfterTheDesignComeTheUniformDraws) {
  // The design has its own generator: what follows it is what a search without one asks first.
  auto with = MakeLhs(9, 20, 3);
  auto without = Make(9, 3);
  with->Ask(20);
  const std::vector<Candidate> after = with->Ask(30), plain = without->Ask(30);
  for (size_t i = 0; i < 30; ++i) {
    EXPECT_EQ(after[i].id, 20 + i);
    EXPECT_EQ(after[i].x, plain[i].x);
  }
  // latin_hypercube = 0 is the plain search, and the OptimizerOptions overload is the same.
  ExpectSame(MakeLhs(9, 0, 3)->Ask(10), Make(9, 3)->Ask(10));
}

TEST(RandomSearchTest, LatinHypercubeSameSeedSameAsks) {
  auto a = MakeLhs(77, 16), b = MakeLhs(77, 16);
  ExpectSame(a->Ask(5), b->Ask(5));
  ExpectSame(a->Ask(40), b->Ask(40));
  const std::vector<Candidate> first = MakeLhs(77, 16)->Ask(16), other = MakeLhs(78, 16)->Ask(16);
  for (size_t i = 0; i < 16; ++i) EXPECT_NE(first[i].x, other[i].x);
}

TEST(RandomSearchTest, LatinHypercubeSaveLoadContinuesExactly) {
  for (size_t stop_at : {0, 1, 7, 16, 25}) {
    SCOPED_TRACE(stop_at);
    auto straight = MakeLhs(5, 16);
    auto interrupted = MakeLhs(5, 16);
    const std::vector<double> objectives = {1.0, 2.0};
    for (auto* opt : {straight.get(), interrupted.get()}) {
      const std::vector<Candidate> asked = opt->Ask(stop_at);
      if (!asked.empty()) {
        ASSERT_TRUE(opt->Tell(asked[0], objectives).ok());
      }
    }
    const std::string state = interrupted->Save();
    interrupted.reset();
    auto resumed = Make(12345);  // another seed and no start: the design comes from the state
    ASSERT_TRUE(resumed->Load(state).ok());
    EXPECT_EQ(resumed->Save(), state);
    std::vector<Candidate> rest = resumed->Ask(40);
    ExpectSame(rest, straight->Ask(40));
    if (stop_at == 0) {
      rest.resize(16);
      ExpectStratified(rest, 4);
    }
  }
}

TEST(RandomSearchTest, LoadsVersionOneStates) {
  // What the version 1 code saved after Ask(3) of 4 genes (12 draws) and telling candidate 0.
  Rng rng(5);
  for (int i = 0; i < 12; ++i) rng.Uniform01();
  const std::string v1 =
      "hpo.random_search v1\ndims 4 objectives 2\nnext_id 3\noutstanding 2 1 2\nrng " + rng.Save();
  auto straight = Make(5);
  straight->Ask(3);
  auto loaded = MakeLhs(999, 8);
  ASSERT_TRUE(loaded->Load(v1).ok());
  EXPECT_EQ(loaded->Tell({.id = 0, .x = {}}, std::vector<double>{1, 2}).code(), StatusCode::kNotFound);
  EXPECT_TRUE(loaded->Tell({.id = 2, .x = {}}, std::vector<double>{1, 2}).ok());
  ExpectSame(loaded->Ask(10), straight->Ask(10));  // no design: v1 had none
  EXPECT_EQ(loaded->Save().substr(0, 20), "hpo.random_search v2");
}

TEST(RandomSearchTest, RefusesOversizedDesigns) {
  EXPECT_TRUE(
      MakeRandomSearch({.base = {.dims = 4, .num_objectives = 1, .seed = 1}, .latin_hypercube = 1000}).ok());
  const Result<std::unique_ptr<Optimizer>> big =
      MakeRandomSearch({.base = {.dims = 4, .num_objectives = 1, .seed = 1},
                        .latin_hypercube = kMaxLatinHypercubeGenes / 4 + 1});
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("latin_hypercube"), std::string::npos);
  EXPECT_EQ(MakeRandomSearch({.base = {.dims = 0, .num_objectives = 1, .seed = 1}, .latin_hypercube = 3})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hpo::search
