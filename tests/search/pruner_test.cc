#include "search/pruner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "base/rng.h"

namespace hpo::search {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A single-objective trial that reported values[s - 1] at step s; NaN stays NaN (a report, not a gap).
PrunerTrial Single(uint64_t id, const std::vector<double>& values, bool finished = false) {
  PrunerTrial trial{.id = id, .history = {}, .finished = finished};
  for (double v : values) trial.history.push_back({v});
  return trial;
}

// A trial with whole objective vectors per step; {} is a gap.
PrunerTrial Multi(uint64_t id, std::vector<std::vector<double>> history, bool finished = false) {
  return PrunerTrial{.id = id, .history = std::move(history), .finished = finished};
}

std::unique_ptr<Pruner> Make(const PrunerOptions& options) {
  Result<std::unique_ptr<Pruner>> pruner = MakePruner(options);
  EXPECT_TRUE(pruner.ok()) << pruner.status().ToString();
  return std::move(pruner).value();
}

std::unique_ptr<Pruner> Median(size_t startup, uint64_t warmup, bool finished_only = false) {
  return Make(
      {.kind = PrunerKind::kMedian,
       .median = {.n_startup_trials = startup, .n_warmup_steps = warmup, .finished_only = finished_only}});
}

AshaOptions Asha(uint64_t min, uint64_t eta, uint64_t max, uint64_t rate = 0) {
  return {.min_resource = min, .reduction_factor = eta, .max_resource = max, .min_early_stopping_rate = rate};
}

std::unique_ptr<Pruner> MakeAsha(const AshaOptions& options) {
  return Make({.kind = PrunerKind::kAsha, .asha = options});
}

std::unique_ptr<Pruner> MakeMoAsha(const AshaOptions& options) {
  return Make({.kind = PrunerKind::kMultiObjectiveAsha, .asha = options});
}

std::string ErrorOf(const PrunerOptions& options) { return MakePruner(options).status().message(); }

// "rank X of N" from a rung reason, for comparing ASHA with MO-ASHA.
std::string RankPart(const std::string& reason) {
  const size_t at = reason.find("rank ");
  if (at == std::string::npos) return "";
  const size_t of = reason.find(" of ", at);
  size_t end = of + 4;
  while (end < reason.size() && std::isdigit(static_cast<unsigned char>(reason[end]))) ++end;
  return reason.substr(at, end - at);
}

// ---------------------------------------------------------------------------------------------------
// Options

TEST(PrunerOptionsTest, ErrorsNameTheField) {
  EXPECT_EQ(ErrorOf({.kind = PrunerKind::kAsha, .asha = Asha(1, 1, 27)}),
            "pruner.asha.reduction_factor: must be at least 2");
  EXPECT_EQ(ErrorOf({.kind = PrunerKind::kAsha, .asha = Asha(0, 3, 27)}),
            "pruner.asha.min_resource: must be at least 1");
  EXPECT_EQ(
      ErrorOf({.kind = PrunerKind::kAsha, .asha = AshaOptions{}}).rfind("pruner.asha.max_resource: ", 0), 0u);
  EXPECT_EQ(
      ErrorOf({.kind = PrunerKind::kAsha, .asha = Asha(3, 3, 3)}).rfind("pruner.asha.max_resource: ", 0), 0u);
  EXPECT_EQ(ErrorOf({.kind = PrunerKind::kAsha, .asha = Asha(1, 3, kMaxPrunerResource + 1)}),
            "pruner.asha.max_resource: must be at most 1099511627776");
  // Rungs 1, 3, 9 lie below 27; from rate 3 on the first rung (27) does not.
  EXPECT_TRUE(MakePruner({.kind = PrunerKind::kAsha, .asha = Asha(1, 3, 27, 2)}).ok());
  EXPECT_EQ(ErrorOf({.kind = PrunerKind::kAsha, .asha = Asha(1, 3, 27, 3)})
                .rfind("pruner.asha.min_early_stopping_rate: ", 0),
            0u);
  EXPECT_EQ(ErrorOf({.kind = PrunerKind::kAsha, .asha = Asha(1, 3, 27, uint64_t{1} << 62)})
                .rfind("pruner.asha.min_early_stopping_rate: ", 0),
            0u);
  // MO-ASHA reads the asha options.
  EXPECT_EQ(ErrorOf({.kind = PrunerKind::kMultiObjectiveAsha, .asha = Asha(1, 1, 27)}),
            "pruner.asha.reduction_factor: must be at least 2");
  EXPECT_EQ(
      ErrorOf({.kind = PrunerKind::kHyperband, .hyperband = {.reduction_factor = 1, .max_resource = 27}}),
      "pruner.hyperband.reduction_factor: must be at least 2");
  EXPECT_EQ(ErrorOf({.kind = PrunerKind::kHyperband, .hyperband = {.min_resource = 0, .max_resource = 27}}),
            "pruner.hyperband.min_resource: must be at least 1");
  EXPECT_EQ(
      ErrorOf({.kind = PrunerKind::kHyperband, .hyperband = {}}).rfind("pruner.hyperband.max_resource: ", 0),
      0u);
  EXPECT_EQ(ErrorOf({.kind = PrunerKind::kMedian, .median = {.n_startup_trials = 0}}),
            "pruner.median.n_startup_trials: must be at least 1");
  EXPECT_EQ(ErrorOf({.kind = static_cast<PrunerKind>(99)}),
            "pruner.kind: must be none, median, asha, hyperband or mo_asha");
  EXPECT_EQ(MakePruner({.kind = PrunerKind::kAsha, .asha = Asha(1, 1, 27)}).status().code(),
            StatusCode::kInvalidArgument);
  // Only the chosen kind's options are checked; the defaults of none and median are valid.
  EXPECT_TRUE(ValidatePrunerOptions({.kind = PrunerKind::kMedian, .asha = Asha(0, 0, 0)}).ok());
  EXPECT_TRUE(ValidatePrunerOptions({}).ok());
  EXPECT_TRUE(ValidatePrunerOptions({.kind = PrunerKind::kMedian}).ok());
  // Extreme but valid: eta far above the budget leaves one rung.
  EXPECT_EQ(AshaRungSteps(Asha(1, std::numeric_limits<uint64_t>::max(), 100)), std::vector<uint64_t>{1});
}

TEST(PrunerOptionsTest, NoPrunerNeverPrunes) {
  auto pruner = Make({});
  std::vector<PrunerTrial> all = {Single(0, {1}), Single(1, {2}), Single(2, {3}), Single(3, {4})};
  PruneDecision d = pruner->Decide(Single(9, {100}), all);
  EXPECT_FALSE(d.prune);
  EXPECT_EQ(d.reason, "no pruner");
  EXPECT_FALSE(pruner->IsDecisionStep(9, 0, 1));
}

// ---------------------------------------------------------------------------------------------------
// Median stopping rule

// Five trials over three steps; their running bests at step 3 are 3, 2, 1, 4, 8 (median 3), while their
// values at step 3 are 3, 2, 9, 4, 8 (median 4).
std::vector<PrunerTrial> FiveOthers() {
  return {Single(0, {5, 4, 3}), Single(1, {6, 6, 2}), Single(2, {1, 9, 9}), Single(3, {7, 5, 4}),
          Single(4, {8, 8, 8})};
}

TEST(MedianPrunerTest, PrunesWorseThanTheMedianOfRunningBestsKeepsTheRest) {
  auto pruner = Median(5, 0);
  const std::vector<PrunerTrial> all = FiveOthers();
  PruneDecision worse = pruner->Decide(Single(9, {9, 5, 3.5}), all);
  EXPECT_TRUE(worse.prune);
  EXPECT_EQ(worse.reason,
            "median: step 3: best so far 3.5 is worse than the median 3 of 5 other trials (each by its best "
            "so far)");
  // Equal to the median: not strictly worse.
  PruneDecision equal = pruner->Decide(Single(9, {9, 9, 3}), all);
  EXPECT_FALSE(equal.prune);
  EXPECT_EQ(equal.reason,
            "median: step 3: best so far 3 is no worse than the median 3 of 5 other trials (each by its best "
            "so far)");
  // The trial's own best so far counts, not its last value: 2.5 at step 1.
  EXPECT_FALSE(pruner->Decide(Single(9, {2.5, 7, 7}), all).prune);
  // At step 1 the others' values are 5, 6, 1, 7, 8: median 6.
  EXPECT_TRUE(pruner->Decide(Single(9, {6.5}), all).prune);
  EXPECT_FALSE(pruner->Decide(Single(9, {6}), all).prune);
}

TEST(MedianPrunerTest, EvenCountTakesTheMeanOfTheMiddleTwo) {
  auto pruner = Median(1, 0);
  std::vector<PrunerTrial> all = {Single(0, {1}), Single(1, {2}), Single(2, {3}), Single(3, {4})};
  EXPECT_TRUE(pruner->Decide(Single(9, {2.75}), all).prune);
  PruneDecision at = pruner->Decide(Single(9, {2.5}), all);
  EXPECT_FALSE(at.prune);
  EXPECT_NE(at.reason.find("the median 2.5 of 4 other trials"), std::string::npos) << at.reason;
}

TEST(MedianPrunerTest, StartupCountsTrialsThatReachedTheStep) {
  auto pruner = Median(5, 0);
  std::vector<PrunerTrial> all = FiveOthers();
  all[4].history.resize(2);  // trial 4 has reached step 2 only
  PruneDecision d = pruner->Decide(Single(9, {100, 100, 100}), all);
  EXPECT_FALSE(d.prune);
  EXPECT_EQ(d.reason, "median: step 3: 4 other trials reached it, 5 needed");
  // At step 2 all five count: running bests 4, 6, 1, 5, 8, median 5.
  EXPECT_TRUE(pruner->Decide(Single(9, {100, 100}), all).prune);
  // The deciding trial's own entry in `all` is not an other trial.
  all[4] = Single(9, {1, 1, 1});
  EXPECT_FALSE(pruner->Decide(Single(9, {100, 100, 100}), all).prune);
}

TEST(MedianPrunerTest, WarmupStepsAreNeverDecided) {
  auto pruner = Median(1, 3);
  std::vector<PrunerTrial> all = {Single(0, {1, 1, 1, 1, 1}), Single(1, {2, 2, 2, 2, 2})};
  PruneDecision warm = pruner->Decide(Single(9, {50, 50, 50}), all);
  EXPECT_FALSE(warm.prune);
  EXPECT_EQ(warm.reason, "median: step 3: a warm-up step (decisions from step 4)");
  EXPECT_TRUE(pruner->Decide(Single(9, {50, 50, 50, 50}), all).prune);
  EXPECT_FALSE(pruner->IsDecisionStep(9, 2, 3));
  EXPECT_TRUE(pruner->IsDecisionStep(9, 3, 4));
}

TEST(MedianPrunerTest, FinishedOnlyCountsFinishedTrials) {
  auto pruner = Median(2, 0, /*finished_only=*/true);
  std::vector<PrunerTrial> all = {Single(0, {1}, true), Single(1, {2}), Single(2, {3}),
                                  Single(3, {10}, true)};
  // Finished: 1 and 10, median 5.5; with every trial it would be 2.5.
  EXPECT_FALSE(pruner->Decide(Single(9, {5}), all).prune);
  EXPECT_TRUE(pruner->Decide(Single(9, {6}), all).prune);
  all[3].finished = false;
  EXPECT_EQ(pruner->Decide(Single(9, {6}), all).reason,
            "median: step 1: 1 finished other trial reached it, 2 needed");
}

TEST(MedianPrunerTest, UsesTheFirstObjectiveAndSkipsNaN) {
  auto pruner = Median(3, 0);
  std::vector<PrunerTrial> all = {Multi(0, {{1, 100}}), Multi(1, {{2, 100}}), Multi(2, {{3, 100}}),
                                  Multi(3, {{kNaN, 0}})};  // no number by step 1: not counted
  EXPECT_TRUE(pruner->Decide(Multi(9, {{2.5, 0}}), all).prune);
  EXPECT_FALSE(pruner->Decide(Multi(9, {{2, 1000}}), all).prune);
  // A NaN step is skipped in the trial's own best (the median at step 2 is 2); all NaN is pruned.
  std::vector<PrunerTrial> two = {Single(0, {1, 1}), Single(1, {2, 2}), Single(2, {3, 3})};
  EXPECT_FALSE(pruner->Decide(Single(9, {1, kNaN}), two).prune);
  EXPECT_TRUE(pruner->Decide(Single(9, {3, kNaN}), two).prune);
  PruneDecision nan = pruner->Decide(Single(9, {kNaN, kNaN}), two);
  EXPECT_TRUE(nan.prune);
  EXPECT_EQ(nan.reason, "median: step 2: no value so far is a number");
}

TEST(MedianPrunerTest, FinishedTrialsAndGapsAreNotDecided) {
  auto pruner = Median(1, 0);
  std::vector<PrunerTrial> all = {Single(0, {1, 1}), Single(1, {2, 2})};
  EXPECT_FALSE(pruner->Decide(Single(9, {50, 50}, /*finished=*/true), all).prune);
  PruneDecision gap = pruner->Decide(Multi(9, {{50}, {}}), all);
  EXPECT_FALSE(gap.prune);
  EXPECT_EQ(gap.reason, "median: no report at the trial's last step");
  EXPECT_FALSE(pruner->Decide(PrunerTrial{.id = 9}, all).prune);
  // Gaps in the others' histories: trial 2 reached step 2 and its running best there is 0.5.
  all.push_back(Multi(2, {{0.5}, {}}));
  all.push_back(Multi(3, {{}, {0.1}}));  // first report at step 2
  // Running bests at step 2: 1, 2, 0.5, 0.1: median 0.75.
  EXPECT_TRUE(pruner->Decide(Single(9, {0.8, 0.8}), all).prune);
  EXPECT_FALSE(pruner->Decide(Single(9, {0.7, 0.8}), all).prune);
}

// ---------------------------------------------------------------------------------------------------
// ASHA

TEST(AshaPrunerTest, RungsAreGeometricBelowMaxResource) {
  EXPECT_EQ(AshaRungSteps(Asha(1, 3, 27)), (std::vector<uint64_t>{1, 3, 9}));
  EXPECT_EQ(AshaRungSteps(Asha(1, 3, 28)), (std::vector<uint64_t>{1, 3, 9, 27}));
  EXPECT_EQ(AshaRungSteps(Asha(1, 3, 27, 1)), (std::vector<uint64_t>{3, 9}));
  EXPECT_EQ(AshaRungSteps(Asha(2, 2, 20)), (std::vector<uint64_t>{2, 4, 8, 16}));
  EXPECT_EQ(AshaRungSteps(Asha(5, 4, 100, 1)), (std::vector<uint64_t>{20, 80}));
  EXPECT_TRUE(AshaRungSteps(Asha(1, 1, 27)).empty());  // refused options
}

TEST(AshaPrunerTest, FourthTrialAtRungZeroKeepsOnlyTheFloorOfNOverEta) {
  auto pruner = MakeAsha(Asha(1, 3, 27));
  const std::vector<PrunerTrial> three = {Single(0, {1}), Single(1, {3}), Single(2, {4})};
  // n = 4, keep floor(4 / 3) = 1: the second best of four goes.
  PruneDecision second = pruner->Decide(Single(3, {2}), three);
  EXPECT_TRUE(second.prune);
  EXPECT_EQ(second.reason, "asha: rung 0 (step 1): rank 2 of 4, promoting the best 1");
  PruneDecision best = pruner->Decide(Single(3, {0.5}), three);
  EXPECT_FALSE(best.prune);
  EXPECT_EQ(best.reason, "asha: rung 0 (step 1): rank 1 of 4, promoting the best 1");
  // n = 6, keep 2: the second best of six goes on, the third does not.
  std::vector<PrunerTrial> five = {Single(0, {1}), Single(1, {3}), Single(2, {4}), Single(3, {5}),
                                   Single(4, {6})};
  EXPECT_FALSE(pruner->Decide(Single(5, {2}), five).prune);
  PruneDecision third = pruner->Decide(Single(5, {3.5}), five);
  EXPECT_TRUE(third.prune);
  EXPECT_EQ(third.reason, "asha: rung 0 (step 1): rank 3 of 6, promoting the best 2");
}

TEST(AshaPrunerTest, FewerThanEtaAtARungPromotesOnlyTheBestSoFar) {
  auto pruner = MakeAsha(Asha(1, 3, 27));
  PruneDecision first = pruner->Decide(Single(0, {5}), {});
  EXPECT_FALSE(first.prune);
  EXPECT_EQ(first.reason,
            "asha: rung 0 (step 1): rank 1 of 1, promoting only the best while fewer than 3 reached it");
  const std::vector<PrunerTrial> one = {Single(0, {5})};
  EXPECT_TRUE(pruner->Decide(Single(1, {6}), one).prune);
  EXPECT_FALSE(pruner->Decide(Single(1, {4}), one).prune);
  // Ties go by lower id: of two equal values, only the earlier trial is the best.
  EXPECT_TRUE(pruner->Decide(Single(1, {5}), one).prune);
  EXPECT_FALSE(pruner->Decide(Single(0, {5}), std::vector<PrunerTrial>{Single(1, {5})}).prune);
}

TEST(AshaPrunerTest, DecidesOnlyWhenAReportReachesARung) {
  auto pruner = MakeAsha(Asha(1, 3, 9));  // rungs 1, 3
  const std::vector<PrunerTrial> all = {Single(0, {1, 1, 1, 1, 1, 1, 1, 1, 1}), Single(1, {1, 1, 1, 1, 1}),
                                        Single(2, {1, 1, 1})};
  PruneDecision off = pruner->Decide(Single(3, {0, 100}), all);
  EXPECT_FALSE(off.prune);
  EXPECT_EQ(off.reason, "asha: step 2 is not a rung (next: step 3)");
  EXPECT_TRUE(pruner->Decide(Single(3, {0, 100, 100}), all).prune);
  PruneDecision past = pruner->Decide(Single(3, {0, 0, 0, 100}), all);
  EXPECT_FALSE(past.prune);
  EXPECT_EQ(past.reason, "asha: step 4 is not a rung (no rung after it: the trial runs to the end)");
  // At max_resource (9) the trial has its full budget.
  EXPECT_FALSE(pruner->Decide(Single(3, std::vector<double>(9, 100)), all).prune);
  EXPECT_TRUE(pruner->IsDecisionStep(3, 0, 1));
  EXPECT_FALSE(pruner->IsDecisionStep(3, 1, 2));
  EXPECT_TRUE(pruner->IsDecisionStep(3, 2, 3));
  EXPECT_TRUE(pruner->IsDecisionStep(3, 1, 4));  // a gap over rung 3
  EXPECT_FALSE(pruner->IsDecisionStep(3, 3, 9));
}

TEST(AshaPrunerTest, RanksByTheValueAtTheRungAmongTrialsThatReachedIt) {
  auto pruner = MakeAsha(Asha(1, 2, 27));  // rungs 1, 2, 4, 8, 16
  // At rung 2 (step 4): trial 0's value there is 4 (its 1 at step 1 does not count); trial 1 is at step 3
  // only, so it has not reached the rung; trial 2's value there is 3, trial 3's 10.
  const std::vector<PrunerTrial> all = {Single(0, {1, 1, 1, 4, 0}), Single(1, {0, 0, 0}),
                                        Single(2, {9, 9, 9, 3}), Single(3, {9, 9, 9, 10})};
  // 3 < 3.5 < 4 < 10: rank 2 of 4, keep 2. Counting trial 0's best (0) or trial 1 would make it rank 3.
  PruneDecision d = pruner->Decide(Single(4, {9, 9, 9, 3.5}), all);
  EXPECT_FALSE(d.prune);
  EXPECT_EQ(d.reason, "asha: rung 2 (step 4): rank 2 of 4, promoting the best 2");
  EXPECT_TRUE(pruner->Decide(Single(4, {9, 9, 9, 5}), all).prune);
}

TEST(AshaPrunerTest, GapsJudgeAtTheFirstReportAtOrAfterARung) {
  auto pruner = MakeAsha(Asha(1, 3, 27));  // rungs 1, 3, 9
  // Competitors at rung 1 (step 3): trial 0 reported at steps 1 and 5 only: its value there is 2 (step 5);
  // trial 1's is 4 (step 3); trial 2's 1.
  const std::vector<PrunerTrial> all = {Multi(0, {{7}, {}, {}, {}, {2}}), Single(1, {0, 0, 4}),
                                        Single(2, {5, 5, 1})};
  // Reporting at step 4 after step 1 passes rung 3 with the step-4 value: 3, rank 3 of 4, keep 1.
  PruneDecision d = pruner->Decide(Multi(3, {{0}, {}, {}, {3}}), all);
  EXPECT_TRUE(d.prune);
  EXPECT_EQ(d.reason, "asha: rung 1 (step 3): rank 3 of 4, promoting the best 1");
  // A report that passes two rungs is judged at each: rung 1 passes (0.5 is the best), rung 2 (step 9) has
  // only this trial: promoted, and the reason is the last rung's.
  PruneDecision both = pruner->Decide(Multi(3, {{0}, {}, {}, {}, {}, {}, {}, {}, {}, {0.5}}), all);
  EXPECT_FALSE(both.prune);
  EXPECT_EQ(both.reason,
            "asha: rung 2 (step 9): rank 1 of 1, promoting only the best while fewer than 3 reached it");
  // Pruned at the first rung it fails.
  std::vector<PrunerTrial> with_nine = all;
  with_nine.push_back(Single(4, std::vector<double>(9, 0.1)));
  PruneDecision second = pruner->Decide(Multi(3, {{0}, {}, {}, {}, {}, {}, {}, {}, {}, {0.5}}), with_nine);
  EXPECT_TRUE(second.prune);
  EXPECT_EQ(second.reason,
            "asha: rung 1 (step 3): rank 2 of 5, promoting the best 1");  // trial 4's 0.1 at step 3 beats 0.5
}

TEST(AshaPrunerTest, NaNAtARungIsPrunedAndCompetesWithNoOne) {
  auto pruner = MakeAsha(Asha(1, 3, 27));
  const std::vector<PrunerTrial> all = {Single(0, {1}), Single(1, {kNaN}), Single(2, {kNaN})};
  PruneDecision nan = pruner->Decide(Single(3, {kNaN}), all);
  EXPECT_TRUE(nan.prune);
  EXPECT_EQ(nan.reason, "asha: rung 0 (step 1): the value is not a number");
  // The NaN trials do not count: n = 2, and 0.5 is the best.
  PruneDecision d = pruner->Decide(Single(3, {0.5}), all);
  EXPECT_FALSE(d.prune);
  EXPECT_EQ(RankPart(d.reason), "rank 1 of 2");
  // Infinities compare as numbers.
  EXPECT_TRUE(pruner->Decide(Single(3, {std::numeric_limits<double>::infinity()}), all).prune);
}

TEST(AshaPrunerTest, DecisionDoesNotDependOnTheOrderOfTrials) {
  auto pruner = MakeAsha(Asha(1, 3, 27));
  std::vector<PrunerTrial> all;
  Rng rng(7);
  for (uint64_t id = 0; id < 12; ++id) {
    std::vector<double> values;
    for (int s = 0; s < 4; ++s) values.push_back(static_cast<double>(rng.UniformInt(5)));  // ties on purpose
    all.push_back(Single(id, values));
  }
  for (uint64_t step = 1; step <= 4; ++step) {
    for (const PrunerTrial& trial : all) {
      PrunerTrial now = trial;
      now.history.resize(step);
      const PruneDecision expected = pruner->Decide(now, all);
      std::vector<PrunerTrial> shuffled = all;
      for (int round = 0; round < 10; ++round) {
        for (size_t i = shuffled.size() - 1; i > 0; --i)
          std::swap(shuffled[i], shuffled[rng.UniformInt(i + 1)]);
        const PruneDecision got = pruner->Decide(now, shuffled);
        EXPECT_EQ(got.prune, expected.prune);
        EXPECT_EQ(got.reason, expected.reason);
      }
    }
  }
}

// Trials reach rung 0 one at a time in each of the 120 orders of five values; each is decided against
// those that came before it. Whatever the order, the best trial goes on and the worst stops (it is never
// the best so far once another has arrived; first alone it is promoted, as ASHA promotes early).
TEST(AshaPrunerTest, ArrivalOrderBestAlwaysPromotedPromotionsDependOnlyOnThoseBefore) {
  auto pruner = MakeAsha(Asha(1, 3, 27));
  const std::vector<double> values = {0.3, 0.1, 0.5, 0.2, 0.4};  // ids 0..4; best is id 1, worst id 2
  std::vector<size_t> order = {0, 1, 2, 3, 4};
  int orders = 0;
  int worst_promoted = 0;
  do {
    std::vector<PrunerTrial> before;
    for (size_t k = 0; k < order.size(); ++k) {
      const PrunerTrial trial = Single(order[k], {values[order[k]]});
      const bool prune = pruner->Decide(trial, before).prune;
      if (order[k] == 1) {
        EXPECT_FALSE(prune);
      }
      if (order[k] == 2 && !prune) {
        ++worst_promoted;
        EXPECT_EQ(k, 0u);
      }
      // The decision is the same for any order of those before: reverse them.
      std::vector<PrunerTrial> reversed(before.rbegin(), before.rend());
      EXPECT_EQ(pruner->Decide(trial, reversed).prune, prune);
      before.push_back(trial);
    }
    ++orders;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(orders, 120);
  EXPECT_EQ(worst_promoted, 24);  // exactly the orders that start with it
}

// ---------------------------------------------------------------------------------------------------
// Hyperband

TEST(HyperbandPrunerTest, BracketsFollowOptunasBudgets) {
  const std::vector<HyperbandBracket> b =
      HyperbandBrackets({.min_resource = 1, .reduction_factor = 3, .max_resource = 27});
  ASSERT_EQ(b.size(), 4u);
  // budget_i = ceil(B eta^s / (s + 1)), s = B - 1 - i: ceil(4*27/4), ceil(4*9/3), ceil(4*3/2), ceil(4/1).
  EXPECT_EQ(b[0].budget, 27u);
  EXPECT_EQ(b[1].budget, 12u);
  EXPECT_EQ(b[2].budget, 6u);
  EXPECT_EQ(b[3].budget, 4u);
  EXPECT_EQ(b[0].rung_steps, (std::vector<uint64_t>{1, 3, 9}));
  EXPECT_EQ(b[1].rung_steps, (std::vector<uint64_t>{3, 9}));
  EXPECT_EQ(b[2].rung_steps, (std::vector<uint64_t>{9}));
  EXPECT_TRUE(b[3].rung_steps.empty());
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(b[i].min_early_stopping_rate, i);
  // R / r = 26: floor(log_3 26) + 1 = 3 brackets, budgets ceil(3*9/3), ceil(3*3/2), ceil(3/1).
  const std::vector<HyperbandBracket> c =
      HyperbandBrackets({.min_resource = 1, .reduction_factor = 3, .max_resource = 26});
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].budget, 9u);
  EXPECT_EQ(c[1].budget, 5u);
  EXPECT_EQ(c[2].budget, 3u);
  EXPECT_EQ(c[2].rung_steps, (std::vector<uint64_t>{9}));
  EXPECT_TRUE(HyperbandBrackets({.reduction_factor = 1, .max_resource = 27}).empty());
}

TEST(HyperbandPrunerTest, BracketOfAnIdIsDeterministicAndSpreadsByBudget) {
  const HyperbandOptions options{.min_resource = 1, .reduction_factor = 3, .max_resource = 27, .seed = 42};
  const double expected[4] = {27.0 / 49, 12.0 / 49, 6.0 / 49, 4.0 / 49};
  std::vector<int> count(4, 0);
  const int n = 10000;
  std::vector<size_t> first(n);
  for (int id = 0; id < n; ++id) {
    first[id] = HyperbandBracketOf(options, id);
    ASSERT_LT(first[id], 4u);
    ++count[first[id]];
  }
  for (int i = 0; i < 4; ++i)
    EXPECT_NEAR(count[i] / static_cast<double>(n), expected[i], 0.02) << "bracket " << i;
  int moved = 0;
  HyperbandOptions other_seed = options;
  other_seed.seed = 43;
  for (int id = 0; id < n; ++id) {
    EXPECT_EQ(HyperbandBracketOf(options, id), first[id]);
    moved += HyperbandBracketOf(other_seed, id) != first[id];
  }
  EXPECT_GT(moved, n / 3);  // another study, another assignment
}

TEST(HyperbandPrunerTest, RanksOnlyWithinTheTrialsBracket) {
  const HyperbandOptions options{.min_resource = 1, .reduction_factor = 3, .max_resource = 27, .seed = 5};
  auto pruner = Make({.kind = PrunerKind::kHyperband, .hyperband = options});
  std::map<size_t, std::vector<uint64_t>> ids;  // bracket -> its first ids
  for (uint64_t id = 0; id < 400; ++id) ids[HyperbandBracketOf(options, id)].push_back(id);
  ASSERT_EQ(ids.size(), 4u);
  const uint64_t a = ids[0][0], b = ids[0][1];
  // Trials of other brackets with better values at step 1 do not count.
  std::vector<PrunerTrial> all;
  for (size_t bracket = 1; bracket < 4; ++bracket) {
    for (int k = 0; k < 3; ++k) all.push_back(Single(ids[bracket][k], {0.0}));
  }
  PruneDecision alone = pruner->Decide(Single(a, {5}), all);
  EXPECT_FALSE(alone.prune);
  EXPECT_EQ(
      alone.reason,
      "hyperband: bracket 0 of 4: rung 0 (step 1): rank 1 of 1, promoting only the best while fewer than 3 "
      "reached it");
  all.push_back(Single(b, {1}));
  EXPECT_TRUE(pruner->Decide(Single(a, {5}), all).prune);
  // Bracket 1 decides first at step 3; bracket 3 never.
  const uint64_t c = ids[1][3];
  EXPECT_FALSE(pruner->IsDecisionStep(c, 0, 1));
  EXPECT_TRUE(pruner->IsDecisionStep(c, 2, 3));
  EXPECT_EQ(pruner->Decide(Single(c, {100}), all).reason,
            "hyperband: bracket 1 of 4: step 1 is not a rung (next: step 3)");
  const uint64_t d = ids[3][3];
  for (uint64_t step = 1; step <= 27; ++step) EXPECT_FALSE(pruner->IsDecisionStep(d, step - 1, step));
  EXPECT_FALSE(pruner->Decide(Single(d, std::vector<double>(10, 100)), all).prune);
  // Within bracket 1 at step 3: the ids[1][0..2] trials have reached step 1 only; give two of them step 3.
  std::vector<PrunerTrial> third = {Single(ids[1][0], {0, 0, 1}), Single(ids[1][1], {0, 0, 2}),
                                    Single(ids[0][2], {0, 0, 0})};
  PruneDecision ranked = pruner->Decide(Single(c, {9, 9, 1.5}), third);
  EXPECT_TRUE(ranked.prune);
  EXPECT_EQ(ranked.reason, "hyperband: bracket 1 of 4: rung 0 (step 3): rank 2 of 3, promoting the best 1");
}

// ---------------------------------------------------------------------------------------------------
// MO-ASHA

TEST(MoAshaPrunerTest, PromotesExactlyTheNondominatedTrialsOfARung) {
  auto pruner = MakeMoAsha(Asha(1, 3, 27));
  // Ids 0 and 1 are non-dominated; 2 and 4 are dominated by 0, 3 by 1, 5 by all.
  const std::vector<PrunerTrial> all = {Multi(0, {{1, 4}}), Multi(1, {{4, 1}}), Multi(2, {{2, 5}}),
                                        Multi(3, {{5, 2}}), Multi(4, {{3, 6}}), Multi(5, {{6, 6}})};
  std::vector<uint64_t> promoted;
  for (const PrunerTrial& trial : all) {
    const PruneDecision d = pruner->Decide(trial, all);
    if (!d.prune) promoted.push_back(trial.id);
  }
  EXPECT_EQ(promoted, (std::vector<uint64_t>{0, 1}));
  const PruneDecision d = pruner->Decide(all[3], all);
  EXPECT_EQ(d.reason,
            "mo-asha: rung 0 (step 1): rank 4 of 6 (front 2, crowding distance inf), promoting the best 2");
  EXPECT_EQ(pruner->Decide(all[0], all).reason,
            "mo-asha: rung 0 (step 1): rank 1 of 6 (front 1, crowding distance inf), promoting the best 2");
}

TEST(MoAshaPrunerTest, CrowdingDistanceThenIdOrderAFront) {
  auto pruner = MakeMoAsha(Asha(1, 3, 27));
  // One front of three, keep 1: the extremes (ids 1 and 2) have infinite distance, the middle (id 0) 2;
  // the lower id of the extremes goes on.
  const std::vector<PrunerTrial> all = {Multi(0, {{2, 2}}), Multi(1, {{3, 1}}), Multi(2, {{1, 3}})};
  EXPECT_TRUE(pruner->Decide(all[0], all).prune);
  EXPECT_FALSE(pruner->Decide(all[1], all).prune);
  EXPECT_TRUE(pruner->Decide(all[2], all).prune);
  EXPECT_EQ(pruner->Decide(all[0], all).reason,
            "mo-asha: rung 0 (step 1): rank 3 of 3 (front 1, crowding distance 2), promoting the best 1");
  // Three objectives; a report with another number of objectives is no competitor.
  // Trials 1, 3 and itself take part; 1 and itself make front 1, both extremes (infinite distance), so the
  // lower id is first.
  const std::vector<PrunerTrial> three = {Multi(1, {{1, 1, 1}}), Multi(2, {{0, 0}}), Multi(3, {{2, 2, 2}})};
  const PruneDecision d = pruner->Decide(Multi(0, {{0.5, 3, 3}}), three);
  EXPECT_EQ(RankPart(d.reason), "rank 1 of 3");
  EXPECT_FALSE(d.prune);
  EXPECT_TRUE(pruner->Decide(Multi(4, {{0.5, 3, 3}}), three).prune);  // rank 2 of 3
  // Any NaN objective: pruned.
  EXPECT_TRUE(pruner->Decide(Multi(0, {{0.5, kNaN, 3}}), three).prune);
}

TEST(MoAshaPrunerTest, AgreesWithAshaOnOneObjective) {
  const AshaOptions options = Asha(1, 2, 40);  // rungs 1, 2, 4, 8, 16, 32
  auto asha = MakeAsha(options);
  auto mo = MakeMoAsha(options);
  Rng rng(11);
  int decisions = 0, pruned = 0;
  for (int study = 0; study < 20; ++study) {
    std::vector<PrunerTrial> all;
    for (uint64_t id = 0; id < 25; ++id) {
      PrunerTrial trial{.id = id * 7 % 25};  // ids not in order of `all`
      const uint64_t steps = 1 + rng.UniformInt(20);
      for (uint64_t s = 0; s < steps; ++s) {
        const uint64_t r = rng.UniformInt(20);
        if (r == 0) {
          trial.history.push_back({});  // a gap
        } else if (r == 1) {
          trial.history.push_back({kNaN});
        } else {
          trial.history.push_back({static_cast<double>(rng.UniformInt(6))});  // many ties
        }
      }
      all.push_back(trial);
    }
    for (const PrunerTrial& trial : all) {
      for (uint64_t step = 1; step <= trial.history.size(); ++step) {
        PrunerTrial now = trial;
        now.history.resize(step);
        const PruneDecision a = asha->Decide(now, all);
        const PruneDecision m = mo->Decide(now, all);
        ASSERT_EQ(a.prune, m.prune) << a.reason << " | " << m.reason;
        ASSERT_EQ(RankPart(a.reason), RankPart(m.reason)) << a.reason << " | " << m.reason;
        ++decisions;
        pruned += a.prune;
      }
    }
  }
  EXPECT_GT(decisions, 1000);
  EXPECT_GT(pruned, 100);  // the comparison covered both answers
}

}  // namespace
}  // namespace hpo::search

namespace hpo::search {
namespace {

TEST(AshaPrunerFullBudgetTest, AReportAtTheFullBudgetIsNeverPrunedEvenPastAnUnseenRung) {
  // max_resource 4, eta 3: rungs at steps 1 and 3. A trial whose step-3 report was merged into its
  // step-4 one (the worker relays at most two reports a second) has trained its whole budget: stopping it
  // saves nothing and throws a full result away.
  auto asha = MakePruner({.kind = PrunerKind::kAsha,
                          .asha = {.min_resource = 1, .reduction_factor = 3, .max_resource = 4}})
                  .value();
  std::vector<PrunerTrial> others;
  for (uint64_t id = 1; id <= 6; ++id) {
    const double v = 0.1 * static_cast<double>(id);
    others.push_back({id, {{v}, {v}, {v}}, false});  // all better than the trial below at step 3
  }
  const PrunerTrial worst_at_three{7, {{0.05}, {}, {}, {0.9}}, false};  // reports step 1, then step 4
  const PruneDecision at_four = asha->Decide(worst_at_three, others);
  EXPECT_FALSE(at_four.prune) << at_four.reason;
  EXPECT_NE(at_four.reason.find("full budget"), std::string::npos) << at_four.reason;
  // The same value reported at step 3 itself is pruned there.
  const PrunerTrial at_three{8, {{0.05}, {}, {0.9}}, false};
  EXPECT_TRUE(asha->Decide(at_three, others).prune);
}

}  // namespace
}  // namespace hpo::search
