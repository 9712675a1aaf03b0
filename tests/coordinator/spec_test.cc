#include "coordinator/spec.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <limits>

namespace hpo::coordinator {
namespace {

v1::StudySpec Parse(const std::string& json) {
  v1::StudySpec spec;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &spec);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return spec;
}

constexpr char kGood[] = R"({
  "name": "ok",
  "parameters": [
    {"name": "lr", "float": {"low": 0.0001, "high": 0.01, "log": true}},
    {"name": "width", "int": {"low": 16, "high": 256, "log": true}},
    {"name": "activation", "categorical": {"choices": ["relu", "tanh"]}}
  ],
  "objectives": [{"name": "accuracy"}, {"name": "latency_ms"}],
  "budget": {"max_trials": 10},
  "task": {"builtin": {"fixed": {"epochs": 2}}}
})";

// Replaces the first occurrence of `from` in kGood with `to`, and returns the error message.
std::string ErrorOf(const std::string& from, const std::string& to) {
  std::string json = kGood;
  const size_t at = json.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  json.replace(at, from.size(), to);
  auto result = NormalizeSpec(Parse(json));
  EXPECT_FALSE(result.ok()) << json;
  if (result.ok()) return "";
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  return result.status().message();
}

TEST(SpecTest, GoodSpecGetsDefaults) {
  auto spec = NormalizeSpec(Parse(kGood));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->objectives(0).direction(), v1::MAXIMIZE);  // accuracy is maximised by default
  EXPECT_EQ(spec->objectives(1).direction(), v1::MINIMIZE);
  EXPECT_EQ(spec->budget().max_parallel(), 10u);
  EXPECT_EQ(spec->budget().max_attempts(), 3u);
  EXPECT_EQ(spec->budget().lease_seconds(), 30u);
  EXPECT_TRUE(spec->algorithm().has_random());
}

TEST(SpecTest, UnknownParameterIsNamed) {
  const std::string m = ErrorOf(R"("name": "width")", R"("name": "widht")");
  EXPECT_NE(m.find("parameters[1] (widht)"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown parameter"), std::string::npos) << m;
}

TEST(SpecTest, LowAboveHighIsNamed) {
  const std::string m = ErrorOf(R"("low": 16, "high": 256)", R"("low": 256, "high": 16)");
  EXPECT_NE(m.find("parameters[1] (width)"), std::string::npos) << m;
}

TEST(SpecTest, EmptyChoiceListIsNamed) {
  const std::string m = ErrorOf(R"(["relu", "tanh"])", "[]");
  EXPECT_NE(m.find("parameters[2] (activation)"), std::string::npos) << m;
}

TEST(SpecTest, NonPositiveLogBoundIsNamed) {
  const std::string m = ErrorOf(R"("low": 0.0001)", R"("low": 0)");
  EXPECT_NE(m.find("parameters[0] (lr)"), std::string::npos) << m;
  EXPECT_NE(m.find("log"), std::string::npos) << m;
}

TEST(SpecTest, UnknownObjectiveIsNamed) {
  const std::string m = ErrorOf(R"({"name": "latency_ms"})", R"({"name": "speed"})");
  EXPECT_NE(m.find("objectives[1] (speed)"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown objective"), std::string::npos) << m;
}

TEST(SpecTest, KnobRangesAndTypesAreEnforced) {
  EXPECT_NE(ErrorOf(R"("high": 256)", R"("high": 100000)").find("parameters[1] (width)"), std::string::npos);
  EXPECT_NE(ErrorOf(R"(["relu", "tanh"])", R"(["relu", "swish"])").find("parameters[2] (activation)"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"("epochs": 2)", R"("epochs": 2.5)").find("task.builtin.fixed.epochs"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"("epochs": 2)", R"("epoch": 2)").find("task.builtin.fixed.epoch"), std::string::npos);
  EXPECT_NE(ErrorOf(R"("epochs": 2)", R"("lr": 0.1)").find("both fixed and searched"), std::string::npos);
}

TEST(SpecTest, ConditionNamesAnEarlierCategoricalParent) {
  const std::string m = ErrorOf(R"({"name": "lr", "float": {"low": 0.0001, "high": 0.01, "log": true}})",
                                R"({"name": "lr", "float": {"low": 0.0001, "high": 0.01, "log": true},
                                    "condition": {"parent": "activation", "values": ["relu"]}})");
  EXPECT_NE(m.find("parameters[0] (lr)"), std::string::npos) << m;
  EXPECT_NE(m.find("activation"), std::string::npos) << m;
}

TEST(SpecTest, BudgetAndTaskAreRequired) {
  EXPECT_NE(ErrorOf(R"("max_trials": 10)", R"("max_trials": 0)").find("budget.max_trials"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"("task": {"builtin": {"fixed": {"epochs": 2}}})", R"("seed": 1)").find("task"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"("objectives": [{"name": "accuracy"}, {"name": "latency_ms"}])", R"("objectives": [])")
                .find("objectives"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"name": "latency_ms"})", R"({"name": "accuracy"})").find("named twice"),
            std::string::npos);
}

TEST(SpecTest, SyntheticTaskFillsItsVariables) {
  auto spec = NormalizeSpec(Parse(R"({"objectives": [{"name": "f1"}, {"name": "f2"}],
      "budget": {"max_trials": 5}, "task": {"synthetic": {"function": "zdt1", "dims": 4}}})"));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_EQ(spec->parameters_size(), 4);
  EXPECT_EQ(spec->parameters(3).name(), "x4");
  EXPECT_EQ(spec->parameters(3).float_().high(), 1.0);
  EXPECT_EQ(spec->objectives(0).direction(), v1::MINIMIZE);

  auto bad = NormalizeSpec(Parse(R"({"objectives": [{"name": "f3"}],
      "budget": {"max_trials": 5}, "task": {"synthetic": {"function": "zdt1", "dims": 4}}})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("objectives[0] (f3)"), std::string::npos);
  auto unknown = NormalizeSpec(Parse(R"({"objectives": [{"name": "f1"}],
      "budget": {"max_trials": 5}, "task": {"synthetic": {"function": "nope"}}})"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("task.synthetic"), std::string::npos);
}

TEST(SpecTest, ShiftedClassicFunctionIsASyntheticTask) {
  auto spec = NormalizeSpec(Parse(R"({"objectives": [{"name": "f1"}], "budget": {"max_trials": 5},
      "algorithm": {"woa": {}},
      "task": {"synthetic": {"function": "f9_rastrigin", "dims": 5, "shift_seed": 3}}})"));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_EQ(spec->parameters_size(), 5);
  EXPECT_EQ(spec->parameters(0).float_().low(), -5.12);
  auto two =
      NormalizeSpec(Parse(R"({"objectives": [{"name": "f1"}, {"name": "f2"}], "budget": {"max_trials": 5},
      "task": {"synthetic": {"function": "f9_rastrigin", "dims": 5}}})"));
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.status().message().find("objectives[1] (f2)"), std::string::npos);
  auto shifted_zdt = NormalizeSpec(Parse(R"({"objectives": [{"name": "f1"}], "budget": {"max_trials": 5},
      "task": {"synthetic": {"function": "zdt1", "shift_seed": 3}}})"));
  ASSERT_FALSE(shifted_zdt.ok());
  EXPECT_NE(shifted_zdt.status().message().find("task.synthetic"), std::string::npos);
}

TEST(SpecTest, AlgorithmOptionsAreCheckedWhenTheOptimizerIsMade) {
  auto spec =
      NormalizeSpec(Parse(R"({"objectives": [{"name": "f1"}, {"name": "f2"}], "budget": {"max_trials": 50},
      "algorithm": {"nsga2": {"population": 2}},
      "task": {"synthetic": {"function": "zdt1", "dims": 4}}})"));
  ASSERT_TRUE(spec.ok());
  auto optimizer = MakeOptimizer(*spec, 4);
  ASSERT_FALSE(optimizer.ok());
  EXPECT_EQ(optimizer.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(optimizer.status().message().rfind("algorithm.nsga2.population", 0), 0u)
      << optimizer.status().message();
  spec->mutable_algorithm()->mutable_nsga2()->set_population(8);
  EXPECT_TRUE(MakeOptimizer(*spec, 4).ok());
  spec->mutable_algorithm()->mutable_woa()->set_population(10);
  EXPECT_TRUE(MakeOptimizer(*spec, 4).ok());
}

TEST(SpecTest, MinimisedObjectivesNegateMaximised) {
  auto spec = NormalizeSpec(Parse(kGood));
  ASSERT_TRUE(spec.ok());
  google::protobuf::Map<std::string, double> metrics;
  metrics["accuracy"] = 0.9;
  metrics["latency_ms"] = 0.2;
  auto objectives = MinimisedObjectives(*spec, metrics);
  ASSERT_TRUE(objectives.ok());
  EXPECT_EQ(*objectives, (std::vector<double>{-0.9, 0.2}));
  metrics["latency_ms"] = std::numeric_limits<double>::infinity();
  EXPECT_EQ(MinimisedObjectives(*spec, metrics).status().message(), "non-finite metric latency_ms");
  metrics.erase("accuracy");
  EXPECT_EQ(MinimisedObjectives(*spec, metrics).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace hpo::coordinator
