#include "search/gp_sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "search/gp_proposal.h"
#include "search/hypervolume.h"
#include "search/random_search.h"

namespace hpo::search {
namespace {

using Objectives = std::function<std::vector<double>(const std::vector<double>&)>;

// ZDT1 with two variables on the unit cube.
std::vector<double> Zdt1(const std::vector<double>& x) {
  const double g = 1 + 9 * x[1];
  return {x[0], g * (1 - std::sqrt(x[0] / g))};
}

std::unique_ptr<Optimizer> MakeGp(GpSamplerOptions options) {
  Result<std::unique_ptr<Optimizer>> made = MakeGpSampler(options);
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  return std::move(made).value();
}

// Runs `budget` sequential evaluations; returns every objective vector told.
std::vector<std::vector<double>> RunSequential(Optimizer& optimizer, size_t budget, const Objectives& f) {
  std::vector<std::vector<double>> told;
  while (told.size() < budget) {
    const std::vector<Candidate> asked = optimizer.Ask(1);
    EXPECT_EQ(asked.size(), 1u);
    if (asked.empty()) break;
    told.push_back(f(asked[0].x));
    EXPECT_TRUE(optimizer.Tell(asked[0], told.back()).ok());
  }
  return told;
}

double Hv(const std::vector<std::vector<double>>& points, std::vector<double> reference) {
  return Hypervolume(points, reference).value().value;
}

TEST(GpSamplerTest, ValidatesOptions) {
  EXPECT_EQ(MakeGpSampler({.base = {.dims = 0, .num_objectives = 2, .seed = 1}}).status().code(),
            StatusCode::kInvalidArgument);
  Result<std::unique_ptr<Optimizer>> four =
      MakeGpSampler({.base = {.dims = 2, .num_objectives = 4, .seed = 1}});
  ASSERT_FALSE(four.ok());
  EXPECT_NE(four.status().message().find("gp.num_objectives"), std::string::npos);
  EXPECT_EQ(MakeGpSampler({.base = {.dims = 2, .num_objectives = 2, .seed = 1}, .max_observations = 3})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  Result<SearchSpace> space = SearchSpace::Create({{.name = "a", .low = 0, .high = 1}});
  ASSERT_TRUE(space.ok());
  EXPECT_EQ(
      MakeGpSampler({.base = {.dims = 2, .num_objectives = 2, .seed = 1}, .space = *space}).status().code(),
      StatusCode::kInvalidArgument);
}

TEST(GpSamplerTest, BeatsRandomSearchAtThirtyEvaluations) {
  // Two-variable ZDT1, 30 evaluations, three seeds each: the sampler's front dominates more than random
  // search's in every seed, and gets within 5% of the true front's hypervolume (1.1^2 - 1/3 at (1.1, 1.1)
  // is 0.8767; the g = 1 + 9 x2 ramp makes this a search for x2 = 0).
  const std::vector<double> reference = {1.1, 1.1};
  const double true_hv = 1.1 * 1.1 - 1.0 / 3.0;
  for (uint64_t seed : {1u, 2u, 3u}) {
    auto gp = MakeGp({.base = {.dims = 2, .num_objectives = 2, .seed = seed}});
    auto random = MakeRandomSearch({.dims = 2, .num_objectives = 2, .seed = seed}).value();
    const double gp_hv = Hv(RunSequential(*gp, 30, Zdt1), reference);
    const double random_hv = Hv(RunSequential(*random, 30, Zdt1), reference);
    EXPECT_GT(gp_hv, random_hv + 0.05) << "seed " << seed;
    EXPECT_GT(gp_hv, 0.95 * true_hv) << "seed " << seed;
  }
}

TEST(GpSamplerTest, SameSeedSameProposalsAndSaveLoadContinuesExactly) {
  const GpSamplerOptions options{.base = {.dims = 3, .num_objectives = 2, .seed = 9}};
  auto f = [](const std::vector<double>& x) {
    return std::vector<double>{x[0] + x[2], 1 - x[0] + x[1] * x[1]};
  };
  auto a = MakeGp(options), b = MakeGp(options);
  RunSequential(*a, 14, f);
  RunSequential(*b, 14, f);
  // One outstanding candidate across the save.
  const std::vector<Candidate> pending_a = a->Ask(1), pending_b = b->Ask(1);
  ASSERT_EQ(pending_a[0].x, pending_b[0].x);
  const std::string state = a->Save();
  auto c = MakeGp(options);
  ASSERT_TRUE(c->Load(state).ok());
  EXPECT_EQ(c->Save(), state);
  ASSERT_TRUE(a->Tell(pending_a[0], f(pending_a[0].x)).ok());
  ASSERT_TRUE(c->Tell(pending_a[0], f(pending_a[0].x)).ok());
  for (int k = 0; k < 4; ++k) {
    const std::vector<Candidate> next_a = a->Ask(1), next_c = c->Ask(1);
    ASSERT_EQ(next_a[0].id, next_c[0].id);
    ASSERT_EQ(next_a[0].x, next_c[0].x) << "ask " << k;
    ASSERT_TRUE(a->Tell(next_a[0], f(next_a[0].x)).ok());
    ASSERT_TRUE(c->Tell(next_c[0], f(next_c[0].x)).ok());
  }
  // Bad states change nothing.
  EXPECT_EQ(c->Load("hpo.gp_sampler v1 garbage").code(), StatusCode::kDataLoss);
  EXPECT_EQ(c->Load(state.substr(0, state.size() / 2)).code(), StatusCode::kDataLoss);
  auto other = MakeGp({.base = {.dims = 4, .num_objectives = 2, .seed = 9}});
  EXPECT_EQ(other->Load(state).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c->Tell(Candidate{999, {0, 0, 0}}, std::vector<double>{1, 1}).code(), StatusCode::kNotFound);
}

TEST(GpSamplerTest, OutstandingCandidatesAreNotProposedAgain) {
  // A batch of four asked at once (the kriging believer): after the initial design, no two proposals in
  // a batch are near each other.
  auto gp = MakeGp({.base = {.dims = 2, .num_objectives = 2, .seed = 4}, .initial_design = 6});
  RunSequential(*gp, 12, Zdt1);
  for (int round = 0; round < 3; ++round) {
    const std::vector<Candidate> batch = gp->Ask(4);
    ASSERT_EQ(batch.size(), 4u);
    for (size_t i = 0; i < batch.size(); ++i) {
      for (size_t j = i + 1; j < batch.size(); ++j) {
        const double dx = batch[i].x[0] - batch[j].x[0], dy = batch[i].x[1] - batch[j].x[1];
        EXPECT_GT(std::sqrt(dx * dx + dy * dy), 1e-3) << "round " << round << " pair " << i << "," << j;
      }
    }
    for (const Candidate& c : batch) ASSERT_TRUE(gp->Tell(c, Zdt1(c.x)).ok());
  }
}

TEST(GpSamplerTest, BackgroundJobsFeedTheQueueAndAskNeverFits) {
  auto gp = MakeGp({.base = {.dims = 2, .num_objectives = 2, .seed = 5},
                    .initial_design = 5,
                    .background = true,
                    .wait_for_fits = true});
  EXPECT_EQ(gp->TakeJob(), nullptr);  // nothing to fit yet
  RunSequential(*gp, 5, Zdt1);        // the initial design
  std::unique_ptr<OptimizerJob> job = gp->TakeJob();
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(gp->TakeJob(), nullptr);  // one job at a time
  // Nothing outstanding and a fit in flight: the study waits for the model.
  EXPECT_TRUE(gp->Ask(1).empty());
  job->Run();
  gp->FinishJob(std::move(job));
  const std::vector<Candidate> first = gp->Ask(2);  // the job's two proposals
  ASSERT_EQ(first.size(), 2u);
  // With candidates outstanding and the queue empty, Ask falls back at once instead of waiting.
  std::unique_ptr<OptimizerJob> second = gp->TakeJob();
  ASSERT_NE(second, nullptr);
  const std::vector<Candidate> fallback = gp->Ask(1);
  ASSERT_EQ(fallback.size(), 1u);
  // A job dropped without running changes nothing but lets the next be taken.
  gp->FinishJob(std::move(second));
  EXPECT_NE(gp->TakeJob(), nullptr);
}

TEST(GpSamplerTest, ConstraintsKeepProposalsFeasible) {
  // Minimise (x0, x1) subject to x0 + x1 >= 0.8: the front is the segment x0 + x1 = 0.8. After the
  // initial design most proposals are feasible, and the elite is all feasible.
  auto gp = MakeGp(
      {.base = {.dims = 2, .num_objectives = 2, .seed = 6}, .num_constraints = 1, .initial_design = 8});
  size_t feasible_late = 0;
  for (int t = 0; t < 30; ++t) {
    const std::vector<Candidate> c = gp->Ask(1);
    ASSERT_EQ(c.size(), 1u);
    const std::vector<double> objectives = {c[0].x[0], c[0].x[1]};
    const std::vector<double> g = {0.8 - c[0].x[0] - c[0].x[1]};
    if (t >= 10 && g[0] <= 0.02) ++feasible_late;
    ASSERT_TRUE(gp->TellConstrained(c[0], objectives, g).ok());
  }
  EXPECT_GE(feasible_late, 15u);
  const std::vector<Evaluation> elite = gp->Elite();
  ASSERT_FALSE(elite.empty());
  for (const Evaluation& e : elite) EXPECT_GE(e.objectives[0] + e.objectives[1], 0.8 - 1e-12);
  // The sampler wants the values, not the total.
  const std::vector<Candidate> c = gp->Ask(1);
  EXPECT_EQ(gp->Tell(c[0], std::vector<double>{0.5, 0.5}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(gp->TellConstrained(c[0], std::vector<double>{0.5, 0.5}, std::vector<double>{0, 1}).code(),
            StatusCode::kInvalidArgument);
}

TEST(GpSamplerTest, MixedAndConditionalSpaces) {
  // A float, an int, a categorical and a float that exists only under kind = "b". The best is kind "b"
  // with depth 1, lr near 0.3 and scale near 0.7; the other kinds cost 1 more.
  Result<SearchSpace> space = SearchSpace::Create({
      {.name = "lr", .low = 0, .high = 1},
      {.name = "depth", .kind = ParamKind::kInt, .low = 1, .high = 6},
      {.name = "kind", .kind = ParamKind::kCategorical, .choices = {"a", "b", "c"}},
      {.name = "scale", .low = 0, .high = 1, .parent = "kind", .parent_values = {"b"}},
  });
  ASSERT_TRUE(space.ok()) << space.status().ToString();
  auto gp = MakeGp({.base = {.dims = 4, .num_objectives = 1, .seed = 2}, .space = *space});
  double best = 1e9;
  std::vector<Value> best_values;
  for (int t = 0; t < 30; ++t) {
    const std::vector<Candidate> c = gp->Ask(1);
    ASSERT_EQ(c.size(), 1u);
    // Discrete genes sit at the centre of their value's share.
    const std::vector<Value> values = space->Decode(c[0].x);
    const std::vector<double> encoded = space->Encode(values).value();
    EXPECT_EQ(c[0].x[1], encoded[1]);
    EXPECT_EQ(c[0].x[2], encoded[2]);
    const bool b = std::get<std::string>(values[2]) == "b";
    const double lr = std::get<double>(values[0]);
    const double depth = static_cast<double>(std::get<int64_t>(values[1]));
    const double f = (lr - 0.3) * (lr - 0.3) + 0.1 * (depth - 1) +
                     (b ? (std::get<double>(values[3]) - 0.7) * (std::get<double>(values[3]) - 0.7) : 1.0);
    if (f < best) {
      best = f;
      best_values = values;
    }
    ASSERT_TRUE(gp->Tell(c[0], std::vector<double>{f}).ok());
  }
  EXPECT_LT(best, 0.05);
  EXPECT_EQ(std::get<std::string>(best_values[2]), "b");
  EXPECT_EQ(std::get<int64_t>(best_values[1]), 1);
}

}  // namespace
}  // namespace hpo::search

namespace hpo::search {
namespace {

TEST(GpSamplerPrunedTest, PrunedResultsAreModelledButNeverOnTheFront) {
  auto gp = MakeGpSampler({.base = {.dims = 1, .num_objectives = 2, .seed = 3}, .initial_design = 5}).value();
  std::vector<Candidate> asked = gp->Ask(3);
  ASSERT_EQ(asked.size(), 3u);
  ASSERT_TRUE(gp->Tell(asked[0], std::vector<double>{0.5, 0.5}).ok());
  ASSERT_TRUE(gp->Tell(asked[1], std::vector<double>{0.6, 0.6}).ok());
  // Pruned at (0.1, 0.1): it would dominate both, but a pruned result never stands on the front.
  ASSERT_TRUE(gp->TellPruned(asked[2], std::vector<double>{0.1, 0.1}, {}).ok());
  const std::vector<Evaluation> elite = gp->Elite();
  ASSERT_EQ(elite.size(), 1u);
  EXPECT_EQ(elite[0].objectives, (std::vector<double>{0.5, 0.5}));
  // It is kept in the state (the models see it), and survives a save and load.
  const std::string state = gp->Save();
  EXPECT_NE(state.find(" 1 0 0\n"), std::string::npos);  // pruned, not warm, no curve
  auto copy =
      MakeGpSampler({.base = {.dims = 1, .num_objectives = 2, .seed = 3}, .initial_design = 5}).value();
  ASSERT_TRUE(copy->Load(state).ok());
  EXPECT_EQ(copy->Save(), state);
  EXPECT_EQ(copy->Elite().size(), 1u);
  // States of version 1 (no flags), 2 (no warm flag) and 3 (no curves), none leaving results out, still
  // load.
  auto fresh =
      MakeGpSampler({.base = {.dims = 1, .num_objectives = 2, .seed = 3}, .initial_design = 5}).value();
  std::vector<Candidate> one = fresh->Ask(1);
  ASSERT_TRUE(fresh->Tell(one[0], std::vector<double>{0.5, 0.5}).ok());
  const std::string v4 = fresh->Save();
  auto replaced = [](std::string text, const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return text;
  };
  const std::string v3 =
      replaced(replaced(replaced(v4, "v4", "v3"), "curves 0\n", ""), " 0 0 0\nhyper", " 0 0\nhyper");
  const std::string v2 =
      replaced(replaced(replaced(v3, "v3", "v2"), "observations 1 0\n", "observations 1\n"), " 0 0\nhyper",
               " 0\nhyper");
  const std::string v1 = replaced(replaced(v2, "v2", "v1"), " 0\nhyper", "\nhyper");
  for (const std::string& old_state : {v1, v2, v3}) {
    auto old =
        MakeGpSampler({.base = {.dims = 1, .num_objectives = 2, .seed = 3}, .initial_design = 5}).value();
    ASSERT_TRUE(old->Load(old_state).ok()) << old_state;
    EXPECT_EQ(old->Save(), v4);
  }
  // Without the constraint values it needs, a pruned trial is dropped like a failure.
  auto constrained =
      MakeGpSampler({.base = {.dims = 1, .num_objectives = 2, .seed = 3}, .num_constraints = 1}).value();
  std::vector<Candidate> c = constrained->Ask(1);
  ASSERT_TRUE(constrained->TellPruned(c[0], std::vector<double>{0.1, 0.1}, {}).ok());
  EXPECT_TRUE(constrained->Elite().empty());
  EXPECT_EQ(constrained->TellFailed(c[0]).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace hpo::search

namespace hpo::search {
namespace {

TEST(GpSamplerStateTest, ResultsLeftOutOfTheStateComeBackThroughRestore) {
  // The service's setting: the state stays small however many results, and Load + Restore (the results
  // in the order told) continues exactly as never stopping.
  const GpSamplerOptions options{.base = {.dims = 2, .num_objectives = 2, .seed = 8},
                                 .results_in_state = false};
  auto a = MakeGpSampler(options).value();
  std::vector<Evaluation> told;
  for (int t = 0; t < 12; ++t) {
    const std::vector<Candidate> c = a->Ask(1);
    const std::vector<double> f = {c[0].x[0], 1 - c[0].x[0] + c[0].x[1]};
    ASSERT_TRUE(a->Tell(c[0], f).ok());
    told.push_back({c[0], f, 0.0});
  }
  const std::string state = a->Save();
  EXPECT_NE(state.find("observations 0 12\n"), std::string::npos);
  auto b = MakeGpSampler(options).value();
  ASSERT_TRUE(b->Load(state).ok());
  EXPECT_TRUE(b->Elite().empty());  // nothing until the results come back
  ASSERT_TRUE(b->Restore(told).ok());
  EXPECT_EQ(b->Elite().size(), a->Elite().size());
  EXPECT_TRUE(b->Restore(told).ok());  // a second Restore adds nothing
  EXPECT_EQ(b->Save(), state);
  for (int k = 0; k < 3; ++k) {
    const std::vector<Candidate> x = a->Ask(1), y = b->Ask(1);
    ASSERT_EQ(x[0].x, y[0].x) << "ask " << k;
    const std::vector<double> f = {x[0].x[0], 1 - x[0].x[0]};
    ASSERT_TRUE(a->Tell(x[0], f).ok());
    ASSERT_TRUE(b->Tell(y[0], f).ok());
  }
}

}  // namespace
}  // namespace hpo::search

namespace hpo::search {
namespace {

// An observation with objectives `final` and curve `points` ({step, {objective values}}).
GpObservation Observed(std::vector<double> final, std::vector<CurvePoint> points, bool pruned) {
  GpObservation o;
  o.x = {0.5};
  o.objectives = std::move(final);
  o.curve = std::move(points);
  o.pruned = pruned;
  return o;
}

TEST(GpSamplerCurveTest, PrunedResultsAreProjectedByTheCompletedCurvesGainsAfterTheirStep) {
  // Objectives (-accuracy, latency). Completed runs gained 0.05, 0.03 and 0.10 in accuracy after step 1
  // (median 0.05), and 0.02, 0.04 and 0.01 after step 3 (median 0.02); latency never moved.
  std::vector<GpObservation> obs = {
      Observed({-0.85, 2.0}, {{1, {-0.80, 2.0}}, {3, {-0.83, 2.0}}, {4, {-0.85, 2.0}}}, false),
      Observed({-0.83, 1.0}, {{1, {-0.80, 1.0}}, {3, {-0.79, 1.0}}, {4, {-0.83, 1.0}}}, false),
      Observed({-0.90, 3.0}, {{1, {-0.80, 3.0}}, {3, {-0.89, 3.0}}, {4, {-0.90, 3.0}}}, false),
      Observed({-0.70, 0.5}, {{1, {-0.70, 0.5}}}, true),                     // pruned at step 1
      Observed({-0.82, 0.7}, {{1, {-0.75, 0.7}}, {3, {-0.82, 0.7}}}, true),  // pruned at step 3
      Observed({-0.60, 0.4}, {}, true),                                      // pruned, no curve
      Observed({-0.60, 0.4}, {{2, {-0.60, 0.4}}}, true),  // pruned at step 2: no completed run reported it
  };
  const std::vector<std::vector<double>> modelled = ModelledObjectives(obs);
  ASSERT_EQ(modelled.size(), obs.size());
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(modelled[i], obs[i].objectives) << i;  // completed: as told
  EXPECT_NEAR(modelled[3][0], -0.75, 1e-12);
  EXPECT_NEAR(modelled[3][1], 0.5, 1e-12);
  EXPECT_NEAR(modelled[4][0], -0.84, 1e-12);
  EXPECT_NEAR(modelled[4][1], 0.7, 1e-12);
  EXPECT_EQ(modelled[5], obs[5].objectives);
  EXPECT_EQ(modelled[6], obs[6].objectives);

  // An even count takes the mean of the two middle gains; fewer than kGpMinCurves leaves the value alone.
  obs.erase(obs.begin() + 2);  // gains after step 1 now 0.05 and 0.03
  EXPECT_NEAR(ModelledObjectives(obs)[2][0], -0.74, 1e-12);
  obs.erase(obs.begin() + 1);
  ASSERT_LT(size_t{1}, kGpMinCurves);
  EXPECT_EQ(ModelledObjectives(obs)[1], obs[1].objectives);
}

TEST(GpSamplerCurveTest, TellCurveIsCheckedKeptWithTheResultAndSaved) {
  const GpSamplerOptions options{.base = {.dims = 1, .num_objectives = 2, .seed = 4}, .initial_design = 5};
  auto gp = MakeGpSampler(options).value();
  std::vector<Candidate> asked = gp->Ask(3);
  ASSERT_EQ(asked.size(), 3u);
  EXPECT_EQ(gp->TellCurve(99, {{1, {0.1, 0.2}}}).code(), StatusCode::kNotFound);
  // Steps must be positive and ascending, each with two finite objectives.
  for (const std::vector<CurvePoint>& bad :
       std::vector<std::vector<CurvePoint>>{{{0, {0.1, 0.2}}},
                                            {{2, {0.1, 0.2}}, {2, {0.1, 0.2}}},
                                            {{2, {0.1, 0.2}}, {1, {0.1, 0.2}}},
                                            {{1, {0.1}}},
                                            {{1, {0.1, std::nan("")}}}}) {
    const Status status = gp->TellCurve(asked[0].id, bad);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find("curve point"), std::string_view::npos) << status.ToString();
  }
  // A curve told for an outstanding candidate is in the state; then it goes with the result.
  ASSERT_TRUE(gp->TellCurve(asked[0].id, {{1, {0.3, 0.2}}, {3, {0.25, 0.2}}}).ok());
  ASSERT_TRUE(gp->TellCurve(asked[1].id, {{1, {0.4, 0.1}}}).ok());
  std::string state = gp->Save();
  EXPECT_NE(state.find("curves 2\n0 2 1 "), std::string::npos) << state;  // id 0: 2 points, step 1 first
  auto copy = MakeGpSampler(options).value();
  ASSERT_TRUE(copy->Load(state).ok());
  EXPECT_EQ(copy->Save(), state);
  ASSERT_TRUE(gp->Tell(asked[0], std::vector<double>{0.2, 0.2}).ok());
  ASSERT_TRUE(gp->TellFailed(asked[1]).ok());  // a failed candidate's curve is dropped
  state = gp->Save();
  EXPECT_NE(state.find("curves 0\n"), std::string::npos) << state;
  EXPECT_NE(state.find(" 0 0 2 1 "), std::string::npos) << state;  // not pruned, not warm, 2 points
  ASSERT_TRUE(copy->Load(state).ok());
  EXPECT_EQ(copy->Save(), state);
  const std::vector<Evaluation> elite = copy->Elite();
  ASSERT_EQ(elite.size(), 1u);
  ASSERT_EQ(elite[0].curve.size(), 2u);
  EXPECT_EQ(elite[0].curve[1].step, 3u);
  EXPECT_EQ(elite[0].curve[1].objectives, (std::vector<double>{0.25, 0.2}));
  // A curve in a state must be ascending too.
  std::string descending = state;
  descending.replace(descending.find(" 0 0 2 1 "), 9, " 0 0 2 4 ");  // steps 4, then 3
  EXPECT_EQ(MakeGpSampler(options).value()->Load(descending).code(), StatusCode::kDataLoss);
  // Restore and Warm check the curves they are given.
  Evaluation bad_curve{Candidate{0, {0.5}}, {0.1, 0.1}};
  bad_curve.curve = {{3, {0.1, 0.1}}, {3, {0.1, 0.1}}};
  EXPECT_EQ(MakeGpSampler(options).value()->Warm({bad_curve}).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hpo::search
