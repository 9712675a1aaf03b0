// AnalyzeTrials: importance per objective over a spec's parameters (log floats, ints, categoricals,
// conditional ones), the front's summary, and the hypervolume trial by trial.
#include "coordinator/analysis.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "base/rng.h"

namespace hpo::coordinator {
namespace {

v1::StudySpec Spec() {
  v1::StudySpec spec;
  spec.set_seed(4);
  auto* lr = spec.add_parameters();
  lr->set_name("lr");
  lr->mutable_float_()->set_low(1e-4);
  lr->mutable_float_()->set_high(1e-1);
  lr->mutable_float_()->set_log(true);
  auto* width = spec.add_parameters();
  width->set_name("width");
  width->mutable_int_()->set_low(16);
  width->mutable_int_()->set_high(256);
  auto* act = spec.add_parameters();
  act->set_name("act");
  for (const char* c : {"relu", "gelu", "tanh"}) act->mutable_categorical()->add_choices(c);
  auto* slope = spec.add_parameters();
  slope->set_name("slope");
  slope->mutable_float_()->set_low(0);
  slope->mutable_float_()->set_high(1);
  slope->mutable_condition()->set_parent("act");
  slope->mutable_condition()->add_values("relu");
  auto* loss = spec.add_objectives();
  loss->set_name("loss");
  loss->set_direction(v1::MINIMIZE);
  auto* acc = spec.add_objectives();
  acc->set_name("acc");
  acc->set_direction(v1::MAXIMIZE);
  return spec;
}

// Trials where loss depends on lr only and acc on act (and, for relu, on slope).
std::vector<v1::Trial> Trials(int n) {
  Rng rng(5);
  std::vector<v1::Trial> trials;
  for (int i = 0; i < n; ++i) {
    v1::Trial t;
    t.set_id(100 + static_cast<uint64_t>(i));
    t.set_number(static_cast<uint32_t>(i));
    t.set_state(i % 10 == 9 ? v1::TRIAL_FAILED : v1::TRIAL_COMPLETED);
    const double lr = std::pow(10.0, -4 + 3 * rng.Uniform01());
    const auto width = static_cast<int64_t>(16 + rng.UniformInt(241));
    const char* act = std::vector<const char*>{"relu", "gelu", "tanh"}[rng.UniformInt(3)];
    (*t.mutable_params())["lr"].set_double_value(lr);
    (*t.mutable_params())["width"].set_int_value(width);
    (*t.mutable_params())["act"].set_string_value(act);
    double acc = std::string(act) == "tanh" ? 0.5 : 0.8;
    if (std::string(act) == "relu") {
      const double slope = rng.Uniform01();
      (*t.mutable_params())["slope"].set_double_value(slope);
      acc += 0.1 * slope;
    }
    if (t.state() == v1::TRIAL_COMPLETED) {
      (*t.mutable_metrics())["loss"] = std::pow(std::log10(lr) + 2.5, 2);
      (*t.mutable_metrics())["acc"] = acc;
    }
    trials.push_back(t);
  }
  return trials;
}

TEST(AnalyzeTrialsTest, RanksTheParameterEachObjectiveDependsOnFirst) {
  const auto analysis = AnalyzeTrials(Spec(), Trials(120));
  ASSERT_TRUE(analysis.ok()) << analysis.status().ToString();
  EXPECT_EQ(analysis->method(), "fanova (random forest, 64 trees)");
  ASSERT_EQ(analysis->importance_size(), 2);
  const auto& loss = analysis->importance(0);
  EXPECT_EQ(loss.objective(), "loss");
  EXPECT_EQ(loss.trials(), 108u);  // the failed ones have no metrics
  ASSERT_EQ(loss.parameters_size(), 4);
  EXPECT_EQ(loss.parameters(0).parameter(), "lr");
  EXPECT_GT(loss.parameters(0).importance(), 0.9);
  const auto& acc = analysis->importance(1);
  EXPECT_EQ(acc.parameters(0).parameter(), "act");
  EXPECT_EQ(acc.parameters(1).parameter(), "slope");  // it matters, where it is active
  double sum = 0;
  for (const auto& p : acc.parameters()) sum += p.importance();
  EXPECT_NEAR(sum, 1.0, 1e-12);
  // Fewer trees is a different forest of the same data, with the same ranking.
  AnalysisOptions few;
  few.trees = 8;
  const auto small = AnalyzeTrials(Spec(), Trials(120), few);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->method(), "fanova (random forest, 8 trees)");
  EXPECT_EQ(small->importance(0).parameters(0).parameter(), "lr");
  // Thinned to 30 trials spread over the study.
  AnalysisOptions thin;
  thin.max_trials = 30;
  const auto thinned = AnalyzeTrials(Spec(), Trials(120), thin);
  ASSERT_TRUE(thinned.ok());
  EXPECT_EQ(thinned->importance(0).trials(), 30u);
  EXPECT_EQ(thinned->importance(0).parameters(0).parameter(), "lr");
}

TEST(AnalyzeTrialsTest, FrontSummaryBestValuesAndHypervolumeHistory) {
  v1::StudySpec spec = Spec();
  std::vector<v1::Trial> trials;
  // (loss min, acc max): (1, 0.5), (2, 0.9), (1.5, 0.6), (3, 0.4) (dominated), (0.5, 0.95) infeasible.
  const double values[][2] = {{1, 0.5}, {2, 0.9}, {1.5, 0.6}, {3, 0.4}, {0.5, 0.95}};
  for (int i = 0; i < 5; ++i) {
    v1::Trial t;
    t.set_id(10 + static_cast<uint64_t>(i));
    t.set_number(static_cast<uint32_t>(i));
    t.set_state(v1::TRIAL_COMPLETED);
    (*t.mutable_metrics())["loss"] = values[i][0];
    (*t.mutable_metrics())["acc"] = values[i][1];
    if (i == 4) t.add_violated("latency_ms <= 2");
    trials.push_back(t);
  }
  const auto analysis = AnalyzeTrials(spec, trials);
  ASSERT_TRUE(analysis.ok()) << analysis.status().ToString();
  const v1::FrontSummary& front = analysis->front();
  ASSERT_EQ(front.trials_size(), 3);
  EXPECT_EQ(front.trials(0).trial_id(), 10u);  // best loss first
  EXPECT_EQ(front.trials(1).trial_id(), 12u);
  EXPECT_EQ(front.trials(2).trial_id(), 11u);
  EXPECT_EQ(front.trials(2).objectives(1), 0.9);
  EXPECT_EQ(front.completed(), 5u);
  EXPECT_EQ(front.infeasible(), 1u);
  ASSERT_EQ(front.best_size(), 2);
  EXPECT_EQ(front.best(0), 1.0);  // the infeasible 0.5 does not count
  EXPECT_EQ(front.best_trial_ids(0), 10u);
  EXPECT_EQ(front.best(1), 0.9);
  // The hypervolume as GetParetoFront answers it: over the feasible completed trials, against their worst
  // values plus a tenth of their range: loss 3 + 0.2 = 3.2, acc 0.4 - 0.05 = 0.35.
  ASSERT_EQ(front.reference_size(), 2);
  EXPECT_DOUBLE_EQ(front.reference(0), 3.2);
  EXPECT_DOUBLE_EQ(front.reference(1), 0.35);
  ASSERT_EQ(front.history_size(), 4);  // the feasible trials, by number
  // After trial 0 alone: (3.2 - 1) * (0.5 - 0.35).
  EXPECT_NEAR(front.history(0).hypervolume(), 2.2 * 0.15, 1e-12);
  for (int i = 1; i < 4; ++i) EXPECT_GE(front.history(i).hypervolume(), front.history(i - 1).hypervolume());
  EXPECT_EQ(front.history(3).hypervolume(), front.history(2).hypervolume());  // trial 3 is dominated
  EXPECT_DOUBLE_EQ(front.history(3).hypervolume(), front.hypervolume());
}

TEST(AnalyzeTrialsTest, TooFewTrialsGiveNoImportanceAndBadTreesAreRefused) {
  const auto none = AnalyzeTrials(Spec(), {});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->importance_size(), 0);
  EXPECT_EQ(none->front().trials_size(), 0);
  EXPECT_EQ(none->front().reference_size(), 0);
  AnalysisOptions bad;
  bad.trees = 0;
  const auto refused = AnalyzeTrials(Spec(), Trials(10), bad);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("trees"), std::string::npos);
}

}  // namespace
}  // namespace hpo::coordinator
