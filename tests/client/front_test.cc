#include "client/front.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "tests/testing/spec_builders.h"

namespace hpo::client {
namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

v1::Trial MakeTrial(uint32_t number, double accuracy, double latency_ms,
                    v1::TrialState state = v1::TRIAL_COMPLETED) {
  v1::Trial trial;
  trial.set_id(100 + number);
  trial.set_number(number);
  trial.set_state(state);
  (*trial.mutable_metrics())["accuracy"] = accuracy;
  (*trial.mutable_metrics())["latency_ms"] = latency_ms;
  (*trial.mutable_metrics())["params"] = 1000.0 * (number + 1);
  return trial;
}

v1::StudySpec MakeSpec() {
  v1::StudySpec spec;
  testing::AddAccuracyAndLatency(&spec);
  return spec;
}

std::vector<uint32_t> Numbers(const std::vector<v1::Trial>& trials) {
  std::vector<uint32_t> numbers;
  for (const v1::Trial& trial : trials) numbers.push_back(trial.number());
  return numbers;
}

TEST(ParseConstraintTest, ReadsEachComparison) {
  struct Case {
    const char* text;
    const char* metric;
    Constraint::Op op;
    double bound;
  };
  const Case cases[] = {
      {"latency_ms<=2", "latency_ms", Constraint::Op::kLessEqual, 2},
      {"accuracy>=0.9", "accuracy", Constraint::Op::kGreaterEqual, 0.9},
      {"latency_ms<2.5", "latency_ms", Constraint::Op::kLess, 2.5},
      {"params>1e-3", "params", Constraint::Op::kGreater, 1e-3},
      {"  latency_ms <=  2 ", "latency_ms", Constraint::Op::kLessEqual, 2},
      {"f1<=-3", "f1", Constraint::Op::kLessEqual, -3},
      {"f1>=+4", "f1", Constraint::Op::kGreaterEqual, 4},
  };
  for (const Case& c : cases) {
    auto constraint = ParseConstraint(c.text);
    ASSERT_TRUE(constraint.ok()) << c.text << ": " << constraint.status().ToString();
    EXPECT_EQ(constraint->metric, c.metric) << c.text;
    EXPECT_EQ(constraint->op, c.op) << c.text;
    EXPECT_EQ(constraint->bound, c.bound) << c.text;
  }
}

TEST(ParseConstraintTest, SaysWhatIsWrong) {
  struct Case {
    const char* text;
    const char* says;
  };
  const Case cases[] = {
      {"latency_ms", "expected METRIC<=VALUE"},
      {"latency_ms=2", "unknown comparison '='"},
      {"latency_ms==2", "unknown comparison '=='"},
      {"latency_ms=<2", "unknown comparison '=<'"},
      {"latency_ms!=2", "unknown comparison '!='"},
      {"<=2", "no metric before '<='"},
      {"latency_ms<=", "no value after '<='"},
      {"latency_ms<=abc", "'abc' is not a finite number"},
      {"latency_ms<=2ms", "'2ms' is not a finite number"},
      {"latency_ms<=inf", "'inf' is not a finite number"},
      {"latency_ms<=nan", "'nan' is not a finite number"},
      {"latency ms<=2", "'latency ms' is not a metric name"},
  };
  for (const Case& c : cases) {
    auto constraint = ParseConstraint(c.text);
    ASSERT_FALSE(constraint.ok()) << c.text;
    EXPECT_EQ(constraint.status().code(), StatusCode::kInvalidArgument);
    const std::string message = constraint.status().message();
    std::string quoted = "constraint '";
    quoted += c.text;
    quoted += '\'';
    EXPECT_NE(message.find(quoted), std::string::npos) << message;
    EXPECT_NE(message.find(c.says), std::string::npos) << message;
  }
}

TEST(ParseConstraintTest, WritesBackWhatItReads) {
  for (const char* text : {"latency_ms<=2", "accuracy>=0.9", "f1<0.0003", "f2>-1e-05"}) {
    auto constraint = ParseConstraint(text);
    ASSERT_TRUE(constraint.ok()) << text;
    EXPECT_EQ(ConstraintText(*constraint), text);
  }
}

TEST(SatisfiesTest, BoundsAreInclusiveOrStrictAsWritten) {
  const v1::Trial trial = MakeTrial(0, 0.9, 2.0);
  EXPECT_TRUE(Satisfies(trial, *ParseConstraint("latency_ms<=2")));
  EXPECT_FALSE(Satisfies(trial, *ParseConstraint("latency_ms<2")));
  EXPECT_TRUE(Satisfies(trial, *ParseConstraint("latency_ms>=2")));
  EXPECT_FALSE(Satisfies(trial, *ParseConstraint("latency_ms>2")));
  EXPECT_TRUE(Satisfies(trial, *ParseConstraint("accuracy>0.8")));
  EXPECT_FALSE(Satisfies(trial, *ParseConstraint("accuracy>=0.95")));
  EXPECT_FALSE(Satisfies(trial, *ParseConstraint("memory_mb<=1e9")));  // not reported
  v1::Trial nan = trial;
  (*nan.mutable_metrics())["latency_ms"] = kNan;
  EXPECT_FALSE(Satisfies(nan, *ParseConstraint("latency_ms<=2")));
  EXPECT_FALSE(Satisfies(nan, *ParseConstraint("latency_ms>2")));
}

TEST(ParseObjectiveListTest, NamesWithOptionalDirections) {
  auto choices = ParseObjectiveList(" accuracy , params:min,latency_ms:max");
  ASSERT_TRUE(choices.ok()) << choices.status().ToString();
  ASSERT_EQ(choices->size(), 3u);
  EXPECT_EQ((*choices)[0].name, "accuracy");
  EXPECT_EQ((*choices)[0].direction, v1::DIRECTION_UNSPECIFIED);
  EXPECT_EQ((*choices)[1].name, "params");
  EXPECT_EQ((*choices)[1].direction, v1::MINIMIZE);
  EXPECT_EQ((*choices)[2].name, "latency_ms");
  EXPECT_EQ((*choices)[2].direction, v1::MAXIMIZE);
}

TEST(ParseObjectiveListTest, RefusesEmptyUnknownDirectionAndRepeats) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "no objective named"},
      {"accuracy,,latency_ms", "an empty name between commas"},
      {"accuracy,", "an empty name between commas"},
      {"accuracy:up", "must be min or max, not 'up'"},
      {":min", "has no name"},
      {"accuracy,accuracy:max", "'accuracy' is named twice"},
  };
  for (const auto& [text, says] : cases) {
    auto choices = ParseObjectiveList(text);
    ASSERT_FALSE(choices.ok()) << text;
    EXPECT_EQ(choices.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(choices.status().message().find(says), std::string::npos) << choices.status().message();
  }
}

TEST(ResolveObjectivesTest, DirectionsFromTheSpecOrTheChoice) {
  const std::vector<v1::Trial> trials = {MakeTrial(0, 0.9, 1.0)};
  auto objectives =
      ResolveObjectives(*ParseObjectiveList("latency_ms,params:min,accuracy:min"), MakeSpec(), trials);
  ASSERT_TRUE(objectives.ok()) << objectives.status().ToString();
  ASSERT_EQ(objectives->size(), 3u);
  EXPECT_EQ((*objectives)[0].name(), "latency_ms");
  EXPECT_EQ((*objectives)[0].direction(), v1::MINIMIZE);
  EXPECT_EQ((*objectives)[1].name(), "params");
  EXPECT_EQ((*objectives)[1].direction(), v1::MINIMIZE);
  EXPECT_EQ((*objectives)[2].name(), "accuracy");
  EXPECT_EQ((*objectives)[2].direction(), v1::MINIMIZE);  // the choice overrides the spec
}

TEST(ResolveObjectivesTest, UnknownNamesAndMetricsWithoutDirection) {
  const std::vector<v1::Trial> trials = {MakeTrial(0, 0.9, 1.0)};
  auto unknown = ResolveObjectives(*ParseObjectiveList("accuracy,latncy_ms"), MakeSpec(), trials);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(unknown.status().message(),
            "--objectives: unknown objective 'latncy_ms'; the study's objectives are accuracy, latency_ms "
            "(other metrics the trials report: params)");
  auto no_direction = ResolveObjectives(*ParseObjectiveList("params"), MakeSpec(), trials);
  ASSERT_FALSE(no_direction.ok());
  EXPECT_NE(no_direction.status().message().find("say which way is better: params:min or params:max"),
            std::string::npos)
      << no_direction.status().message();
}

TEST(CheckConstraintMetricsTest, ObjectivesAndReportedMetricsAreKnown) {
  const std::vector<v1::Trial> trials = {MakeTrial(0, 0.9, 1.0)};
  EXPECT_TRUE(CheckConstraintMetrics({*ParseConstraint("latency_ms<=2"), *ParseConstraint("params<5000")},
                                     MakeSpec(), trials)
                  .ok());
  EXPECT_TRUE(CheckConstraintMetrics({*ParseConstraint("accuracy>=0.5")}, MakeSpec(), {}).ok());
  const Status status = CheckConstraintMetrics({*ParseConstraint("latency<=2")}, MakeSpec(), trials);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "constraint 'latency<=2': unknown metric 'latency'; known metrics: accuracy, latency_ms, params");
}

// accuracy (max) against latency_ms (min), worked by hand:
//   0: 0.90, 1.0   front
//   1: 0.85, 0.5   front
//   2: 0.80, 0.7   dominated by 1
//   3: 0.95, 3.0   front
//   4: 0.95, 3.5   dominated by 3
//   5: 0.99, 9.0   running: ignored
//   6: NaN,  0.1   ignored
TEST(ComputeFrontTest, HandWorkedFrontSortedBestFirst) {
  std::vector<v1::Trial> trials = {MakeTrial(0, 0.90, 1.0), MakeTrial(1, 0.85, 0.5),
                                   MakeTrial(2, 0.80, 0.7), MakeTrial(3, 0.95, 3.0),
                                   MakeTrial(4, 0.95, 3.5), MakeTrial(5, 0.99, 9.0, v1::TRIAL_RUNNING),
                                   MakeTrial(6, kNan, 0.1)};
  const std::vector<v1::Objective> objectives = SpecObjectives(MakeSpec());
  const LocalFront front = ComputeFront(trials, objectives, {});
  EXPECT_EQ(Numbers(front.front), (std::vector<uint32_t>{3, 0, 1}));  // accuracy, best first
  EXPECT_EQ(Numbers(front.feasible), (std::vector<uint32_t>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(front.infeasible.empty());

  // latency_ms <= 2 removes 3 and 4: 0 and 1 remain on the front.
  const LocalFront fast = ComputeFront(trials, objectives, {*ParseConstraint("latency_ms<=2")});
  EXPECT_EQ(Numbers(fast.front), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(Numbers(fast.feasible), (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(Numbers(fast.infeasible), (std::vector<uint32_t>{3, 4}));

  // Only latency: the fastest alone (6: its NaN accuracy no longer matters), then with two constraints
  // the fastest of what is left.
  v1::Objective latency = objectives[1];
  EXPECT_EQ(Numbers(ComputeFront(trials, {latency}, {}).front), (std::vector<uint32_t>{6}));
  EXPECT_EQ(Numbers(ComputeFront(trials, {latency},
                                 {*ParseConstraint("accuracy>=0.9"), *ParseConstraint("latency_ms>0.9")})
                        .front),
            (std::vector<uint32_t>{0}));
  // Nothing meets an impossible bound.
  EXPECT_TRUE(ComputeFront(trials, objectives, {*ParseConstraint("latency_ms<0")}).front.empty());
}

// The front equals a brute-force front on pseudo-random points, with duplicates, in 2 and 3 objectives.
TEST(ComputeFrontTest, MatchesBruteForce) {
  uint64_t state = 12345;
  auto next = [&] {  // a small LCG: enough spread for this, and the same on every machine
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>((state >> 33) % 20) / 4.0;
  };
  const std::string names[] = {"f1", "f2", "f3"};
  for (int m : {2, 3}) {
    std::vector<v1::Objective> objectives;
    for (int j = 0; j < m; ++j) {
      v1::Objective objective;
      objective.set_name(names[j]);
      objective.set_direction(j == 1 ? v1::MAXIMIZE : v1::MINIMIZE);
      objectives.push_back(objective);
    }
    std::vector<v1::Trial> trials;
    for (uint32_t n = 0; n < 200; ++n) {
      v1::Trial trial;
      trial.set_id(n + 1);
      trial.set_number(n);
      trial.set_state(v1::TRIAL_COMPLETED);
      for (int j = 0; j < m; ++j) (*trial.mutable_metrics())[names[j]] = next();
      trials.push_back(trial);
    }
    auto better_or_equal = [&](const v1::Trial& a, const v1::Trial& b, int j) {
      const double va = a.metrics().at(names[j]), vb = b.metrics().at(names[j]);
      return j == 1 ? va >= vb : va <= vb;
    };
    auto dominates = [&](const v1::Trial& a, const v1::Trial& b) {
      bool strictly = false;
      for (int j = 0; j < m; ++j) {
        if (!better_or_equal(a, b, j)) return false;
        if (!better_or_equal(b, a, j)) strictly = true;
      }
      return strictly;
    };
    std::set<uint32_t> expected;
    for (const v1::Trial& candidate : trials) {
      bool dominated = false;
      for (const v1::Trial& other : trials) dominated = dominated || dominates(other, candidate);
      if (!dominated) expected.insert(candidate.number());
    }
    const LocalFront front = ComputeFront(trials, objectives, {});
    const std::vector<uint32_t> got = Numbers(front.front);
    EXPECT_EQ(std::set<uint32_t>(got.begin(), got.end()), expected) << m << " objectives";
    EXPECT_EQ(got.size(), expected.size());
    for (size_t i = 1; i < front.front.size(); ++i) {
      EXPECT_LE(front.front[i - 1].metrics().at("f1"), front.front[i].metrics().at("f1"));
    }
  }
}

TEST(DescribeHypervolumeTest, SaysTheValueTheReferencePointByObjectiveAndTheRule) {
  v1::GetParetoFrontResponse front;
  *front.mutable_objectives() = MakeSpec().objectives();  // accuracy (max), latency (min)
  EXPECT_EQ(DescribeHypervolume(front), "");              // none: an empty front, or an older coordinator
  EXPECT_EQ(DescribeReferencePoint(front), "");
  front.set_hypervolume(0.28400000001);
  front.add_reference_point(0.68);
  front.add_reference_point(3.2);
  front.set_reference_rule("worst + 10% of range");
  EXPECT_EQ(
      DescribeHypervolume(front),
      "hypervolume 0.284 (reference point [accuracy 0.68, latency_ms 3.2], rule: worst + 10% of range)");
  EXPECT_EQ(DescribeReferencePoint(front),
            "reference point [accuracy 0.68, latency_ms 3.2], rule: worst + 10% of range");
  // Names from the coordinator reach the terminal escaped.
  front.mutable_objectives(0)->set_name("acc\x1b[2J");
  EXPECT_EQ(DescribeReferencePoint(front),
            "reference point [acc\\x1b[2J 0.68, latency_ms 3.2], rule: worst + 10% of range");
}

TEST(ParseNumberListTest, FiniteNumbersSeparatedByCommas) {
  EXPECT_EQ(*ParseNumberList("0.5, 10,-1e3", "--reference"), (std::vector<double>{0.5, 10, -1000}));
  auto bad = ParseNumberList("0.5,,1", "--reference");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "--reference '0.5,,1': '' is not a finite number");
  EXPECT_FALSE(ParseNumberList("0.5,x", "--reference").ok());
  EXPECT_FALSE(ParseNumberList("inf", "--reference").ok());
}

}  // namespace
}  // namespace hpo::client
