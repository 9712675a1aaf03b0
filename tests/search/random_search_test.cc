#include "search/random_search.h"

#include <gtest/gtest.h>

#include <set>

namespace hpo::search {
namespace {

std::unique_ptr<Optimizer> Make(uint64_t seed, size_t dims = 4, size_t objectives = 2) {
  Result<std::unique_ptr<Optimizer>> opt =
      MakeRandomSearch({.dims = dims, .num_objectives = objectives, .seed = seed});
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
  std::vector<std::string> bad = {"", "garbage", "hpo.random_search v2\n",
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
  for (const std::string& state : bad) {
    EXPECT_EQ(opt->Load(state).code(), StatusCode::kDataLoss) << state.substr(0, 60);
  }
  EXPECT_EQ(opt->Save(), before);
  // A real state of another shape is refused as the wrong argument.
  EXPECT_EQ(opt->Load(Make(8, 5, 2)->Save()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(opt->Load(Make(8, 4, 3)->Save()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(opt->Save(), before);
}

}  // namespace
}  // namespace hpo::search
