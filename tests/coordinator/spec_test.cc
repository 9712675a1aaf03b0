#include "coordinator/spec.h"

#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <limits>
#include <string>
#include <vector>

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
  EXPECT_TRUE(spec->algorithm().has_gp());  // the model-based sampler: a budget under 500 trials
}

TEST(SpecTest, DefaultAlgorithmFollowsTheBudget) {
  // Under 500 trials the model-based sampler, from 500 on NSGA-II.
  std::string json = kGood;
  json.replace(json.find(R"("max_trials": 10)"), 16, R"("max_trials": 499)");
  auto small = NormalizeSpec(Parse(json));
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  EXPECT_TRUE(small->algorithm().has_gp());
  json.replace(json.find(R"("max_trials": 499)"), 17, R"("max_trials": 500)");
  auto large = NormalizeSpec(Parse(json));
  ASSERT_TRUE(large.ok()) << large.status().ToString();
  EXPECT_TRUE(large->algorithm().has_nsga2());
  // Normalising again keeps what was chosen, and the optimizer builds.
  auto again = NormalizeSpec(*small);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->algorithm().has_gp());
  EXPECT_TRUE(MakeOptimizer(*small, static_cast<size_t>(small->parameters_size())).ok());
}

TEST(SpecTest, ConstraintsAreKeptAndGiveTheirValues) {
  v1::StudySpec spec = Parse(kGood);
  v1::Constraint* c = spec.add_constraints();
  c->set_metric("latency_ms");
  c->set_max(2);
  c = spec.add_constraints();
  c->set_metric("accuracy");
  c->set_min(0.8);
  c->set_max(0.99);
  auto normal = NormalizeSpec(spec);
  ASSERT_TRUE(normal.ok()) << normal.status().ToString();
  ASSERT_EQ(normal->constraints_size(), 2);
  EXPECT_EQ(ConstraintCount(*normal), 3u);
  google::protobuf::Map<std::string, double> metrics;
  metrics["latency_ms"] = 2.5;
  metrics["accuracy"] = 0.85;
  auto values = ConstraintValues(*normal, metrics);
  ASSERT_TRUE(values.ok());
  ASSERT_EQ(values->size(), 3u);
  EXPECT_NEAR((*values)[0], 0.5, 1e-12);    // 2.5 - 2
  EXPECT_NEAR((*values)[1], -0.14, 1e-12);  // 0.85 - 0.99
  EXPECT_NEAR((*values)[2], -0.05, 1e-12);  // 0.8 - 0.85
  EXPECT_EQ(ViolatedConstraints(*normal, metrics), std::vector<std::string>{"latency_ms <= 2"});
  metrics.erase("latency_ms");
  EXPECT_EQ(ConstraintValues(*normal, metrics).status().code(), StatusCode::kNotFound);
}

TEST(SpecTest, GpOptionsAreChecked) {
  v1::StudySpec spec = Parse(kGood);
  spec.mutable_algorithm()->mutable_gp()->set_initial_design(11);
  auto refused = NormalizeSpec(spec);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message().rfind("algorithm.gp.initial_design", 0), 0u)
      << refused.status().message();
  spec.mutable_algorithm()->mutable_gp()->set_initial_design(4);
  spec.mutable_algorithm()->mutable_gp()->set_max_observations(5);
  refused = NormalizeSpec(spec);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message().rfind("algorithm.gp.max_observations", 0), 0u)
      << refused.status().message();
  spec.mutable_algorithm()->mutable_gp()->set_max_observations(50);
  EXPECT_TRUE(NormalizeSpec(spec).ok());
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

TEST(SpecTest, AlgorithmOptionsAreCheckedBeforeTheSpecIsAccepted) {
  const std::string json = R"({"objectives": [{"name": "f1"}, {"name": "f2"}], "budget": {"max_trials": 50},
      "algorithm": {"nsga2": {"population": 2}},
      "task": {"synthetic": {"function": "zdt1", "dims": 4}}})";
  auto refused = NormalizeSpec(Parse(json));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message().rfind("algorithm.nsga2.population", 0), 0u)
      << refused.status().message();

  v1::StudySpec spec = Parse(json);
  spec.mutable_algorithm()->mutable_nsga2()->set_population(8);
  auto accepted = NormalizeSpec(spec);
  ASSERT_TRUE(accepted.ok()) << accepted.status().ToString();
  EXPECT_TRUE(MakeOptimizer(*accepted, 4).ok());
  accepted->mutable_algorithm()->mutable_woa()->set_population(10);
  EXPECT_TRUE(MakeOptimizer(*accepted, 4).ok());
  // MakeOptimizer still names the field for a spec that did not come through NormalizeSpec.
  accepted->mutable_algorithm()->mutable_woa()->set_population(1);
  EXPECT_EQ(MakeOptimizer(*accepted, 4).status().message().rfind("algorithm.woa.population", 0), 0u);
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

// ---- every field: one case per way a field is refused, and the message starts with the field ----

// A spec NormalizeSpec accepts that sets nearly every field: a builtin task, all three kinds of parameter,
// a conditional one, NSGA-II and a full budget. Each case below breaks it (or kSynthetic) in one field.
constexpr char kFull[] = R"({
  "name": "full",
  "parameters": [
    {"name": "lr", "float": {"low": 0.0001, "high": 0.01, "log": true}},
    {"name": "width", "int": {"low": 16, "high": 256, "step": 16}},
    {"name": "optimizer", "categorical": {"choices": ["sgd", "adamw"]}},
    {"name": "momentum", "float": {"low": 0.5, "high": 0.99},
     "condition": {"parent": "optimizer", "values": ["sgd"]}}
  ],
  "objectives": [{"name": "accuracy", "direction": "MAXIMIZE"}, {"name": "latency_ms"}],
  "algorithm": {"nsga2": {"population": 8, "mode": "GENERATIONAL"}},
  "budget": {"max_trials": 10, "max_parallel": 2, "max_attempts": 3, "lease_seconds": 60},
  "task": {"builtin": {"fixed": {"epochs": 2}, "train_limit": 1000}},
  "seed": 5
})";

constexpr char kSynthetic[] = R"({"name": "zdt", "objectives": [{"name": "f1"}, {"name": "f2"}],
  "budget": {"max_trials": 10}, "task": {"synthetic": {"function": "zdt1", "dims": 3}}})";

// A command task with every field set, on workers labelled gpu=H100.
constexpr char kCommand[] = R"({"name": "mlp",
  "parameters": [{"name": "lr", "float": {"low": 0.001, "high": 0.1, "log": true}},
                 {"name": "hidden", "int": {"low": 16, "high": 256}}],
  "objectives": [{"name": "accuracy", "direction": "MAXIMIZE"}, {"name": "latency_ms", "direction": "MINIMIZE"}],
  "budget": {"max_trials": 4},
  "task": {"command": {"argv": ["python3", "examples/train_mlp.py", "--epochs=2"], "timeout_s": 600,
                       "env": {"OMP_NUM_THREADS": "1", "DATA_DIR": "/data"}}},
  "worker_selector": {"gpu": "H100", "zone": "a"}})";

struct FieldCase {
  std::string name;   // the test's name
  std::string field;  // what the message must start with
  const char* base;   // kFull or kSynthetic
  std::function<void(v1::StudySpec&)> breaks;
};

void PrintTo(const FieldCase& c, std::ostream* out) { *out << c.name; }

v1::Parameter* P(v1::StudySpec& s, int i) { return s.mutable_parameters(i); }
v1::Condition* Cond(v1::StudySpec& s) { return P(s, 3)->mutable_condition(); }
v1::Nsga2* Nsga2(v1::StudySpec& s) { return s.mutable_algorithm()->mutable_nsga2(); }
v1::Woa* Woa(v1::StudySpec& s) { return s.mutable_algorithm()->mutable_woa(); }
v1::BuiltinTask* Builtin(v1::StudySpec& s) { return s.mutable_task()->mutable_builtin(); }
v1::SyntheticTask* Synthetic(v1::StudySpec& s) { return s.mutable_task()->mutable_synthetic(); }
v1::CommandTask* Command(v1::StudySpec& s) { return s.mutable_task()->mutable_command(); }
google::protobuf::Map<std::string, std::string>& Env(v1::StudySpec& s) { return *Command(s)->mutable_env(); }
google::protobuf::Map<std::string, std::string>& Selector(v1::StudySpec& s) {
  return *s.mutable_worker_selector();
}
// map[key] = value, by erase and insert: GCC 12 warns falsely (-Wrestrict) on assigning a literal there.
void Put(google::protobuf::Map<std::string, std::string>& map, const std::string& key,
         const std::string& value) {
  map.erase(key);
  map.insert({key, value});
}
// "p3" for ("p", 3). Built by append: GCC 12 warns falsely (-Wrestrict) on "p" + std::to_string(i).
std::string Indexed(const char* prefix, int i) {
  std::string name(prefix);
  name += std::to_string(i);
  return name;
}
void AddParameters(v1::StudySpec& s, int n) {
  for (int i = 0; i < n; ++i) {
    v1::Parameter* p = s.add_parameters();
    p->set_name(Indexed("p", i));
    p->mutable_float_()->set_high(1);
  }
}

const std::vector<FieldCase>& FieldCases() {
  static const auto* cases = new std::vector<FieldCase>{
      // StudySpec.name
      {"NameTooLong", "name", kFull, [](auto& s) { s.set_name(std::string(201, 'n')); }},
      {"NameControlCharacter", "name", kFull, [](auto& s) { s.set_name("two\nlines"); }},
      {"NameNotUtf8", "name", kFull, [](auto& s) { s.set_name("caf\xe9"); }},
      // Any field this schema does not know, at any depth.
      {"UnknownField", "parameters[1].<field 99>", kFull,
       [](auto& s) { P(s, 1)->GetReflection()->MutableUnknownFields(P(s, 1))->AddVarint(99, 1); }},
      // StudySpec.parameters
      {"ParametersMissing", "parameters", kFull, [](auto& s) { s.clear_parameters(); }},
      {"ParametersTooMany", "parameters", kSynthetic, [](auto& s) { AddParameters(s, 10'001); }},
      {"ParameterNameEmpty", "parameters[1].name", kFull, [](auto& s) { P(s, 1)->clear_name(); }},
      {"ParameterNameCharacters", "parameters[1].name", kFull, [](auto& s) { P(s, 1)->set_name("wi dth"); }},
      {"ParameterNameTooLong", "parameters[1].name", kFull,
       [](auto& s) { P(s, 1)->set_name(std::string(65, 'w')); }},
      {"ParameterNamedTwice", "parameters[1] (lr).name", kFull, [](auto& s) { P(s, 1)->set_name("lr"); }},
      {"ParameterKindMissing", "parameters[1] (width)", kFull, [](auto& s) { P(s, 1)->clear_kind(); }},
      {"UnknownKnob", "parameters[1] (widht)", kFull, [](auto& s) { P(s, 1)->set_name("widht"); }},
      {"KnobOfAnotherKind", "parameters[1] (width)", kFull,
       [](auto& s) { P(s, 1)->mutable_float_()->set_high(64); }},
      // Parameter.float
      {"FloatLowAboveHigh", "parameters[0] (lr)", kFull, [](auto& s) { P(s, 0)->mutable_float_()->set_low(1); }},
      {"FloatBoundNotFinite", "parameters[0] (lr)", kFull,
       [](auto& s) { P(s, 0)->mutable_float_()->set_high(std::numeric_limits<double>::infinity()); }},
      {"FloatLogWithLowZero", "parameters[0] (lr)", kFull, [](auto& s) { P(s, 0)->mutable_float_()->set_low(0); }},
      {"FloatLogWithStep", "parameters[0] (lr)", kFull,
       [](auto& s) { P(s, 0)->mutable_float_()->set_step(0.001); }},
      {"FloatStepNegative", "parameters[3] (momentum)", kFull,
       [](auto& s) { P(s, 3)->mutable_float_()->set_step(-0.1); }},
      {"FloatStepTooLarge", "parameters[3] (momentum)", kFull,
       [](auto& s) { P(s, 3)->mutable_float_()->set_step(1); }},
      {"FloatOutsideKnobRange", "parameters[0] (lr).float.high", kFull,
       [](auto& s) { P(s, 0)->mutable_float_()->set_high(20); }},
      // Parameter.int
      {"IntLowAboveHigh", "parameters[1] (width)", kFull, [](auto& s) { P(s, 1)->mutable_int_()->set_low(512); }},
      {"IntBoundBeyond2To40", "parameters[1] (width)", kFull,
       [](auto& s) { P(s, 1)->mutable_int_()->set_high(int64_t{1} << 41); }},
      {"IntStepNegative", "parameters[1] (width)", kFull, [](auto& s) { P(s, 1)->mutable_int_()->set_step(-16); }},
      {"IntLogWithStep", "parameters[1] (width)", kFull, [](auto& s) { P(s, 1)->mutable_int_()->set_log(true); }},
      {"IntOutsideKnobRange", "parameters[1] (width).int.high", kFull,
       [](auto& s) { P(s, 1)->mutable_int_()->set_high(8192); }},
      // Parameter.categorical
      {"ChoicesEmpty", "parameters[2] (optimizer)", kFull,
       [](auto& s) {
         s.mutable_parameters()->RemoveLast();
         P(s, 2)->mutable_categorical()->clear_choices();
       }},
      {"ChoiceTwice", "parameters[2] (optimizer)", kFull,
       [](auto& s) { P(s, 2)->mutable_categorical()->add_choices("sgd"); }},
      {"ChoicesTooMany", "parameters[2] (optimizer).categorical.choices", kFull,
       [](auto& s) {
         for (int i = 0; i < 1000; ++i) P(s, 2)->mutable_categorical()->add_choices(Indexed("c", i));
       }},
      {"ChoiceControlCharacter", "parameters[2] (optimizer).categorical.choices[1]", kFull,
       [](auto& s) { P(s, 2)->mutable_categorical()->set_choices(1, "adam\tw"); }},
      {"ChoiceTooLong", "parameters[2] (optimizer).categorical.choices[0]", kFull,
       [](auto& s) { P(s, 2)->mutable_categorical()->set_choices(0, std::string(201, 's')); }},
      {"ChoiceNotAKnobValue", "parameters[2] (optimizer).categorical.choices[1]", kFull,
       [](auto& s) { P(s, 2)->mutable_categorical()->set_choices(1, "adam"); }},
      // Parameter.condition
      {"ConditionValuesWithoutParent", "parameters[3] (momentum).condition.parent", kFull,
       [](auto& s) { Cond(s)->clear_parent(); }},
      {"ConditionParentUnknown", "parameters[3] (momentum).condition.parent", kFull,
       [](auto& s) { Cond(s)->set_parent("optimiser"); }},
      {"ConditionParentItself", "parameters[3] (momentum).condition.parent", kFull,
       [](auto& s) { Cond(s)->set_parent("momentum"); }},
      {"ConditionParentLater", "parameters[0] (lr).condition.parent", kFull,
       [](auto& s) { *P(s, 0)->mutable_condition() = *Cond(s); }},
      {"ConditionParentNotCategorical", "parameters[3] (momentum).condition.parent", kFull,
       [](auto& s) { Cond(s)->set_parent("width"); }},
      {"ConditionValuesEmpty", "parameters[3] (momentum).condition.values", kFull,
       [](auto& s) { Cond(s)->clear_values(); }},
      {"ConditionValueNotAChoice", "parameters[3] (momentum).condition.values[1]", kFull,
       [](auto& s) { Cond(s)->add_values("adam"); }},
      {"ConditionValueTwice", "parameters[3] (momentum).condition.values[1]", kFull,
       [](auto& s) { Cond(s)->add_values("sgd"); }},
      // StudySpec.objectives
      {"ObjectivesMissing", "objectives", kFull, [](auto& s) { s.clear_objectives(); }},
      {"ObjectivesTooMany", "objectives", kFull,
       [](auto& s) {
         for (const char* name : {"loss", "params", "model_bytes"}) s.add_objectives()->set_name(name);
       }},
      {"ObjectiveNameEmpty", "objectives[1].name", kFull, [](auto& s) { s.mutable_objectives(1)->clear_name(); }},
      {"ObjectiveNameNotText", "objectives[1].name", kFull,
       [](auto& s) { s.mutable_objectives(1)->set_name(std::string(1, '\0')); }},
      {"ObjectiveUnknown", "objectives[1] (speed)", kFull,
       [](auto& s) { s.mutable_objectives(1)->set_name("speed"); }},
      {"ObjectiveTwice", "objectives[1] (accuracy)", kFull,
       [](auto& s) { s.mutable_objectives(1)->set_name("accuracy"); }},
      {"ObjectiveNotSynthetic", "objectives[1] (f3)", kSynthetic,
       [](auto& s) { s.mutable_objectives(1)->set_name("f3"); }},
      {"ObjectiveDirectionUnknown", "objectives[0] (accuracy).direction", kFull,
       [](auto& s) { s.mutable_objectives(0)->set_direction(static_cast<v1::Direction>(7)); }},
      // StudySpec.constraints
      {"ConstraintWithoutBound", "constraints[0] (latency_ms)", kFull,
       [](auto& s) { s.add_constraints()->set_metric("latency_ms"); }},
      {"ConstraintEmptyMetric", "constraints[0].metric", kFull, [](auto& s) { s.add_constraints()->set_max(2); }},
      {"ConstraintUnknownBuiltinMetric", "constraints[0] (latncy_ms)", kFull,
       [](auto& s) {
         s.add_constraints()->set_metric("latncy_ms");
         s.mutable_constraints(0)->set_max(2);
       }},
      {"ConstraintUnknownSyntheticMetric", "constraints[0] (f3)", kSynthetic,
       [](auto& s) {
         s.add_constraints()->set_metric("f3");
         s.mutable_constraints(0)->set_max(2);
       }},
      {"ConstraintMinAboveMax", "constraints[0] (latency_ms)", kFull,
       [](auto& s) {
         v1::Constraint* c = s.add_constraints();
         c->set_metric("latency_ms");
         c->set_min(3);
         c->set_max(2);
       }},
      {"ConstraintNotFinite", "constraints[0] (latency_ms).max", kFull,
       [](auto& s) {
         s.add_constraints()->set_metric("latency_ms");
         s.mutable_constraints(0)->set_max(std::numeric_limits<double>::infinity());
       }},
      {"ConstraintTwice", "constraints[1] (latency_ms)", kFull,
       [](auto& s) {
         for (int i = 0; i < 2; ++i) {
           s.add_constraints()->set_metric("latency_ms");
           s.mutable_constraints(i)->set_max(2 + i);
         }
       }},
      {"ConstraintsTooMany", "constraints", kCommand,
       [](auto& s) {
         for (int i = 0; i < 17; ++i) {
           s.add_constraints()->set_metric(Indexed("m", i));
           s.mutable_constraints(i)->set_max(1);
         }
       }},
      // StudySpec.pruner and budget.max_failed_trials
      {"AshaWithoutMaxResource", "pruner.asha.max_resource", kSynthetic,
       [](auto& s) { s.mutable_pruner()->mutable_asha(); }},
      {"AshaReductionFactorOne", "pruner.asha.reduction_factor", kFull,
       [](auto& s) { s.mutable_pruner()->mutable_asha()->set_reduction_factor(1); }},
      {"HyperbandWithoutMaxResource", "pruner.hyperband.max_resource", kCommand,
       [](auto& s) { s.mutable_pruner()->mutable_hyperband(); }},
      {"MaxFailedAboveMaxTrials", "budget.max_failed_trials", kFull,
       [](auto& s) { s.mutable_budget()->set_max_failed_trials(11); }},
      // StudySpec.algorithm
      {"LatinHypercubeTooLarge", "algorithm.random.latin_hypercube", kFull,
       [](auto& s) { s.mutable_algorithm()->mutable_random()->set_latin_hypercube(1u << 21); }},
      {"Nsga2PopulationTooSmall", "algorithm.nsga2.population", kFull, [](auto& s) { Nsga2(s)->set_population(2); }},
      {"Nsga2PopulationTooManyGenes", "algorithm.nsga2.population", kFull,
       [](auto& s) { Nsga2(s)->set_population(1'000'000); }},
      {"Nsga2ModeUnknown", "algorithm.nsga2.mode", kFull,
       [](auto& s) { Nsga2(s)->set_mode(static_cast<v1::Nsga2::Mode>(9)); }},
      {"Nsga2CrossoverProb", "algorithm.nsga2.crossover_prob", kFull,
       [](auto& s) { Nsga2(s)->set_crossover_prob(1.5); }},
      {"Nsga2EtaC", "algorithm.nsga2.eta_c", kFull, [](auto& s) { Nsga2(s)->set_eta_c(-1); }},
      {"Nsga2EtaM", "algorithm.nsga2.eta_m", kFull,
       [](auto& s) { Nsga2(s)->set_eta_m(std::numeric_limits<double>::quiet_NaN()); }},
      {"Nsga2MutationProb", "algorithm.nsga2.mutation_prob", kFull, [](auto& s) { Nsga2(s)->set_mutation_prob(2); }},
      {"WoaVariantUnknown", "algorithm.woa.variant", kFull,
       [](auto& s) { Woa(s)->set_variant(static_cast<v1::Woa::Variant>(5)); }},
      {"WoaPopulation", "algorithm.woa.population", kFull, [](auto& s) { Woa(s)->set_population(3); }},
      {"WoaPopulationTooManyGenes", "algorithm.woa.population", kFull,
       [](auto& s) { Woa(s)->set_population(1u << 20); }},
      {"WoaMaxIterations", "algorithm.woa.max_iterations", kFull, [](auto& s) { Woa(s)->set_max_iterations(0); }},
      {"WoaArchiveSize", "algorithm.woa.archive_size", kFull, [](auto& s) { Woa(s)->set_archive_size(0); }},
      // StudySpec.budget (max_parallel above max_trials is lowered to it, not refused)
      {"MaxTrialsZero", "budget.max_trials", kFull, [](auto& s) { s.mutable_budget()->set_max_trials(0); }},
      {"MaxTrialsTooMany", "budget.max_trials", kFull,
       [](auto& s) { s.mutable_budget()->set_max_trials(1'000'001); }},
      {"MaxAttemptsTooMany", "budget.max_attempts", kFull,
       [](auto& s) { s.mutable_budget()->set_max_attempts(101); }},
      {"LeaseSecondsTooMany", "budget.lease_seconds", kFull,
       [](auto& s) { s.mutable_budget()->set_lease_seconds(86'401); }},
      // StudySpec.task
      {"TaskMissing", "task", kFull, [](auto& s) { s.clear_task(); }},
      {"FixedUnknownKnob", "task.builtin.fixed.epoch", kFull,
       [](auto& s) { (*Builtin(s)->mutable_fixed()->mutable_fields())["epoch"].set_number_value(2); }},
      {"FixedKeyNotAName", "task.builtin.fixed", kFull,
       [](auto& s) { (*Builtin(s)->mutable_fixed()->mutable_fields())["ep ochs"].set_number_value(2); }},
      {"FixedOutOfRange", "task.builtin.fixed.epochs", kFull,
       [](auto& s) { (*Builtin(s)->mutable_fixed()->mutable_fields())["epochs"].set_number_value(0); }},
      {"FixedNotANumberOrString", "task.builtin.fixed.epochs", kFull,
       [](auto& s) { (*Builtin(s)->mutable_fixed()->mutable_fields())["epochs"].set_bool_value(true); }},
      {"FixedAndSearched", "task.builtin.fixed.lr", kFull,
       [](auto& s) { (*Builtin(s)->mutable_fixed()->mutable_fields())["lr"].set_number_value(0.1); }},
      {"TrainLimitTooLarge", "task.builtin.train_limit", kFull,
       [](auto& s) { Builtin(s)->set_train_limit(50'001); }},
      {"SyntheticFunctionMissing", "task.synthetic.function", kSynthetic,
       [](auto& s) { Synthetic(s)->clear_function(); }},
      {"SyntheticFunctionUnknown", "task.synthetic.function", kSynthetic,
       [](auto& s) { Synthetic(s)->set_function("zdt9"); }},
      {"SyntheticDimsTooFew", "task.synthetic.dims", kSynthetic, [](auto& s) { Synthetic(s)->set_dims(1); }},
      {"SyntheticDimsTooMany", "task.synthetic.dims", kSynthetic, [](auto& s) { Synthetic(s)->set_dims(10'001); }},
      {"SyntheticShiftSeedOnZdt", "task.synthetic.shift_seed", kSynthetic,
       [](auto& s) { Synthetic(s)->set_shift_seed(1); }},
      {"SyntheticParameterCount", "parameters", kSynthetic, [](auto& s) { AddParameters(s, 2); }},
      {"SyntheticParameterName", "parameters[0] (p0)", kSynthetic, [](auto& s) { AddParameters(s, 3); }},
      {"SyntheticParameterOutsideDomain", "parameters[0] (x1)", kSynthetic,
       [](auto& s) {
         AddParameters(s, 3);
         for (int i = 0; i < 3; ++i) P(s, i)->set_name(Indexed("x", i + 1));
         P(s, 0)->mutable_float_()->set_high(2);
       }},
      // task.command
      {"CommandArgvEmpty", "task.command.argv", kCommand, [](auto& s) { Command(s)->clear_argv(); }},
      {"CommandArgvTooMany", "task.command.argv", kCommand,
       [](auto& s) {
         for (int i = 0; i < 254; ++i) Command(s)->add_argv("--x");
       }},
      {"CommandProgramEmpty", "task.command.argv[0]", kCommand, [](auto& s) { Command(s)->set_argv(0, ""); }},
      {"CommandArgControlCharacter", "task.command.argv[2]", kCommand,
       [](auto& s) { Command(s)->set_argv(2, "--epochs=2\n--rm"); }},
      {"CommandArgNul", "task.command.argv[1]", kCommand,
       [](auto& s) { Command(s)->set_argv(1, std::string("train.py\0x", 10)); }},
      {"CommandArgTooLong", "task.command.argv[1]", kCommand,
       [](auto& s) { Command(s)->set_argv(1, std::string(4097, 'a')); }},
      {"CommandTimeoutTooLong", "task.command.timeout_s", kCommand,
       [](auto& s) { Command(s)->set_timeout_s(604'801); }},
      {"CommandEnvNameEmpty", "task.command.env", kCommand, [](auto& s) { Put(Env(s), "", "x"); }},
      {"CommandEnvNameCharacters", "task.command.env", kCommand, [](auto& s) { Put(Env(s), "MY-VAR", "x"); }},
      {"CommandEnvNameLeadingDigit", "task.command.env", kCommand, [](auto& s) { Put(Env(s), "1X", "x"); }},
      {"CommandEnvNameTooLong", "task.command.env", kCommand,
       [](auto& s) { Put(Env(s), std::string(129, 'V'), "x"); }},
      {"CommandEnvNameReserved", "task.command.env", kCommand, [](auto& s) { Put(Env(s), "HPO_PARAMS", "{}"); }},
      {"CommandEnvValueControlCharacter", "task.command.env[DATA_DIR]", kCommand,
       [](auto& s) { Put(Env(s), "DATA_DIR", "a\tb"); }},
      {"CommandEnvValueTooLong", "task.command.env[DATA_DIR]", kCommand,
       [](auto& s) { Put(Env(s), "DATA_DIR", std::string(4097, 'd')); }},
      {"CommandEnvTooMany", "task.command.env", kCommand,
       [](auto& s) {
         for (int i = 0; i < 99; ++i) Put(Env(s), Indexed("V", i), "x");
       }},
      {"CommandObjectiveWithoutDirection", "objectives[1] (latency_ms).direction", kCommand,
       [](auto& s) { s.mutable_objectives(1)->clear_direction(); }},
      {"CommandObjectiveDevice", "objectives[1] (device)", kCommand,
       [](auto& s) { s.mutable_objectives(1)->set_name("device"); }},
      {"ExternalObjectiveWithoutDirection", "objectives[0] (accuracy).direction", kCommand,
       [](auto& s) {
         s.mutable_task()->mutable_external();
         s.mutable_objectives(0)->clear_direction();
       }},
      // worker_selector
      {"SelectorKeyEmpty", "worker_selector", kCommand, [](auto& s) { Put(Selector(s), "", "x"); }},
      {"SelectorKeyCharacters", "worker_selector", kCommand, [](auto& s) { Put(Selector(s), "gpu type", "x"); }},
      {"SelectorKeyLeadingDash", "worker_selector", kFull, [](auto& s) { Put(Selector(s), "-gpu", "x"); }},
      {"SelectorKeyTooLong", "worker_selector", kSynthetic,
       [](auto& s) { Put(Selector(s), std::string(64, 'k'), "x"); }},
      {"SelectorValueControlCharacter", "worker_selector", kCommand,
       [](auto& s) { Put(Selector(s), "gpu", "H100\n"); }},
      {"SelectorValueTooLong", "worker_selector", kCommand,
       [](auto& s) { Put(Selector(s), "gpu", std::string(257, 'h')); }},
      {"SelectorTooMany", "worker_selector", kCommand,
       [](auto& s) {
         for (int i = 0; i < 31; ++i) Put(Selector(s), Indexed("k", i), "v");
       }},
  };
  return *cases;
}

class SpecFieldTest : public ::testing::TestWithParam<FieldCase> {};

TEST_P(SpecFieldTest, IsRefusedNamingTheField) {
  const FieldCase& c = GetParam();
  v1::StudySpec spec = Parse(c.base);
  ASSERT_TRUE(NormalizeSpec(spec).ok()) << NormalizeSpec(spec).status().ToString();
  c.breaks(spec);
  auto result = NormalizeSpec(spec);
  ASSERT_FALSE(result.ok()) << spec.DebugString();
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message().rfind(c.field + ":", 0), 0u)
      << "expected \"" << c.field << ": ...\", got \"" << result.status().message() << "\"";
}

INSTANTIATE_TEST_SUITE_P(EveryField, SpecFieldTest, ::testing::ValuesIn(FieldCases()),
                         [](const ::testing::TestParamInfo<FieldCase>& test) { return test.param.name; });

TEST(SpecTest, PrunerOptionsFollowTheStudy) {
  // kFull: a builtin task with 2 epochs fixed and two objectives: ASHA's full budget is those epochs, and
  // with two objectives it ranks rungs by non-dominated sorting.
  v1::StudySpec spec = Parse(kFull);
  spec.mutable_pruner()->mutable_asha()->set_reduction_factor(2);
  auto normal = NormalizeSpec(spec);
  ASSERT_TRUE(normal.ok()) << normal.status().ToString();
  auto options = MakePrunerOptions(*normal);
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->kind, search::PrunerKind::kMultiObjectiveAsha);
  EXPECT_EQ(options->asha.max_resource, 2u);
  EXPECT_EQ(options->asha.reduction_factor, 2u);
  spec.mutable_pruner()->mutable_median()->set_n_warmup_steps(1);
  options = MakePrunerOptions(*NormalizeSpec(spec));
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->kind, search::PrunerKind::kMedian);
  EXPECT_EQ(options->median.n_warmup_steps, 1u);
  EXPECT_EQ(options->median.n_startup_trials, 5u);
  spec.clear_pruner();
  EXPECT_EQ(MakePrunerOptions(*NormalizeSpec(spec))->kind, search::PrunerKind::kNone);
}

TEST(SpecTest, LimitsAreInclusive) {
  // The largest sizes accepted: a 200-byte study name, 50000 training images, 10000 parameters, a 64-byte
  // parameter name (refused here only as an unknown knob).
  v1::StudySpec spec = Parse(kFull);
  spec.set_name(std::string(200, 'n'));
  Builtin(spec)->set_train_limit(50'000);
  EXPECT_TRUE(NormalizeSpec(spec).ok()) << NormalizeSpec(spec).status().ToString();
  spec.set_name("caf\xc3\xa9 \xe2\x9c\x93");  // UTF-8 beyond ASCII is fine
  EXPECT_TRUE(NormalizeSpec(spec).ok()) << NormalizeSpec(spec).status().ToString();

  v1::StudySpec synthetic = Parse(kSynthetic);
  Synthetic(synthetic)->set_dims(10'000);
  auto wide = NormalizeSpec(synthetic);
  ASSERT_TRUE(wide.ok()) << wide.status().ToString();
  EXPECT_EQ(wide->parameters_size(), 10'000);

  const std::string name(64, 'w');
  P(spec, 1)->set_name(name);
  EXPECT_EQ(
      NormalizeSpec(spec).status().message().rfind("parameters[1] (" + name + "): unknown parameter", 0), 0u)
      << NormalizeSpec(spec).status().message();
}

TEST(SpecTest, CommandTaskAndSelectorAreKeptAsGiven) {
  auto spec = NormalizeSpec(Parse(kCommand));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->task().command().argv_size(), 3);
  EXPECT_EQ(spec->task().command().argv(1), "examples/train_mlp.py");
  EXPECT_EQ(spec->task().command().timeout_s(), 600u);
  EXPECT_EQ(spec->task().command().env().at("OMP_NUM_THREADS"), "1");
  EXPECT_EQ(spec->worker_selector().at("gpu"), "H100");
  EXPECT_EQ(spec->worker_selector_size(), 2);
  EXPECT_EQ(spec->objectives(0).direction(), v1::MAXIMIZE);
  // Any metric name goes for a command task, unlike the builtin trainer's catalog.
  v1::StudySpec own = Parse(kCommand);
  own.mutable_objectives(0)->set_name("val_f1");
  EXPECT_TRUE(NormalizeSpec(own).ok()) << NormalizeSpec(own).status().ToString();
}

TEST(SpecTest, CommandAndSelectorLimitsAreInclusive) {
  v1::StudySpec spec = Parse(kCommand);
  for (int i = 0; i < 253; ++i) Command(spec)->add_argv("--x");  // 256 entries
  Command(spec)->set_argv(1, std::string(4096, 'a'));
  Command(spec)->set_timeout_s(604'800);
  for (int i = 0; i < 98; ++i) Put(Env(spec), Indexed("V", i), "x");  // 100 variables
  Put(Env(spec), std::string(128, 'V'), std::string(4096, 'v'));
  Env(spec).erase("OMP_NUM_THREADS");
  for (int i = 0; i < 30; ++i) Put(Selector(spec), Indexed("k", i), "v");  // 32 labels
  Put(Selector(spec), std::string(63, 'k'), std::string(256, 'v'));
  Selector(spec).erase("zone");
  Put(Selector(spec), "topology.kubernetes.io/zone", "eu-west-1a");
  Selector(spec).erase(Indexed("k", 0));
  Put(Selector(spec), "device", "cpu: AMD EPYC 7B13 (2 threads)");
  Selector(spec).erase(Indexed("k", 1));
  EXPECT_EQ(Command(spec)->argv_size(), 256);
  EXPECT_EQ(Env(spec).size(), 100u);
  EXPECT_EQ(Selector(spec).size(), 32u);
  EXPECT_TRUE(NormalizeSpec(spec).ok()) << NormalizeSpec(spec).status().ToString();
}

TEST(SpecTest, RefusalsNameTheKey) {
  v1::StudySpec spec = Parse(kCommand);
  Put(Selector(spec), "gpu type", "H100");
  EXPECT_EQ(NormalizeSpec(spec).status().message(),
            "worker_selector: key \"gpu type\" may hold only letters, digits, '_', '-', '.' and '/'");
  spec = Parse(kCommand);
  Put(Env(spec), "HPO_SEED", "1");
  EXPECT_EQ(NormalizeSpec(spec).status().message().rfind(
                "task.command.env: key \"HPO_SEED\" names starting with HPO_", 0),
            0u)
      << NormalizeSpec(spec).status().message();
  spec = Parse(kCommand);
  Command(spec)->clear_argv();
  EXPECT_EQ(NormalizeSpec(spec).status().message().rfind("task.command.argv: must not be empty", 0), 0u);
}

TEST(SpecTest, SelectorMatchingNeedsEveryPair) {
  google::protobuf::Map<std::string, std::string> selector;
  EXPECT_EQ(SelectorMismatch(selector, {}), "");  // an empty selector takes any worker
  selector["gpu"] = "H100";
  selector["zone"] = "a";
  EXPECT_EQ(SelectorMismatch(selector, {{"gpu", "H100"}, {"zone", "a"}, {"device", "x"}}), "");
  EXPECT_EQ(SelectorMismatch(selector, {{"gpu", "H100"}}), "wants zone=a, the worker has no label zone");
  EXPECT_EQ(SelectorMismatch(selector, {{"gpu", "A100"}, {"zone", "a"}}),
            "wants gpu=H100, the worker has gpu=A100");
  EXPECT_EQ(SelectorMismatch(selector, {}), "wants gpu=H100, the worker has no label gpu");
}

TEST(SpecTest, ReportedMetricsMustBeFiniteAndNamed) {
  google::protobuf::Map<std::string, double> metrics;
  metrics["loss"] = 0.5;
  metrics["accuracy"] = 0.8;
  EXPECT_TRUE(CheckReportedMetrics("metrics", metrics).ok());
  metrics["loss"] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(CheckReportedMetrics("metrics", metrics).message(), "metrics[loss]: not a finite number");
  metrics["loss"] = 0.5;
  metrics[""] = 1;
  EXPECT_EQ(CheckReportedMetrics("metrics", metrics).message(), "metrics: a name is empty");
  metrics.erase("");
  metrics[std::string(65, 'm')] = 1;
  EXPECT_EQ(CheckReportedMetrics("metrics", metrics).code(), StatusCode::kInvalidArgument);
  metrics.clear();
  for (int i = 0; i < 101; ++i) metrics[Indexed("m", i)] = i;
  EXPECT_EQ(CheckReportedMetrics("metrics", metrics).message(), "metrics: at most 100 values, got 101");
}

// Every Unicode bidirectional control in UTF-8, with the name messages give it.
const std::vector<std::pair<std::string, std::string>>& BidiControls() {
  static const auto* controls = new std::vector<std::pair<std::string, std::string>>{
      {"\xd8\x9c", "U+061C"},     {"\xe2\x80\x8e", "U+200E"}, {"\xe2\x80\x8f", "U+200F"},
      {"\xe2\x80\xaa", "U+202A"}, {"\xe2\x80\xab", "U+202B"}, {"\xe2\x80\xac", "U+202C"},
      {"\xe2\x80\xad", "U+202D"}, {"\xe2\x80\xae", "U+202E"}, {"\xe2\x81\xa6", "U+2066"},
      {"\xe2\x81\xa7", "U+2067"}, {"\xe2\x81\xa8", "U+2068"}, {"\xe2\x81\xa9", "U+2069"},
  };
  return *controls;
}

constexpr char kRlo[] = "\xe2\x80\xae";  // U+202E RIGHT-TO-LEFT OVERRIDE

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

TEST(SpecTest, BidirectionalControlsAreRefusedInEveryName) {
  for (const auto& [utf8, code_point] : BidiControls()) {
    v1::StudySpec spec = Parse(kCommand);
    spec.set_name("mlp" + utf8 + "gnp.exe");
    EXPECT_EQ(NormalizeSpec(spec).status().message(),
              "name: holds the bidirectional control " + code_point + " (at byte 3)");
  }
  // Text that only looks unusual is still a name: accents, other scripts, symbols.
  v1::StudySpec accepted = Parse(kCommand);
  accepted.set_name("caf\xc3\xa9 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xe2\x9c\x93");
  EXPECT_TRUE(NormalizeSpec(accepted).ok()) << NormalizeSpec(accepted).status().ToString();

  auto message = [](const std::function<void(v1::StudySpec&)>& breaks) {
    v1::StudySpec spec = Parse(kCommand);
    breaks(spec);
    auto result = NormalizeSpec(spec);
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
    return result.status().message();
  };
  EXPECT_EQ(message([](auto& s) { P(s, 1)->set_name(std::string("hid") + kRlo + "den"); }),
            "parameters[1].name: may hold only letters, digits, '_', '-' and '.'");
  EXPECT_EQ(message([](auto& s) {
              v1::Parameter* p = s.add_parameters();
              p->set_name("act");
              p->mutable_categorical()->add_choices("relu");
              p->mutable_categorical()->add_choices(std::string("ul") + kRlo + "er");
            }),
            "parameters[2] (act).categorical.choices[1]: holds the bidirectional control U+202E (at byte 2)");
  EXPECT_EQ(
      message([](auto& s) { s.mutable_objectives(1)->set_name(std::string("latency") + kRlo + "sm_"); }),
      "objectives[1].name: holds the bidirectional control U+202E (at byte 7)");
  EXPECT_EQ(message([](auto& s) {
              v1::Constraint* c = s.add_constraints();
              c->set_metric(std::string("\xe2\x81\xa6") + "latency_ms");
              c->set_max(2);
            }),
            "constraints[0].metric: holds the bidirectional control U+2066 (at byte 0)");
  EXPECT_EQ(message([](auto& s) { Command(s)->set_argv(1, std::string("train") + kRlo + "yp.py"); }),
            "task.command.argv[1]: holds the bidirectional control U+202E (at byte 5)");
  EXPECT_EQ(message([](auto& s) { Put(Selector(s), "gpu", std::string("H100") + kRlo); }),
            "worker_selector: value of \"gpu\" holds the bidirectional control U+202E (at byte 4)");
  // C1 controls (U+0080..U+009F; U+009B is a terminal's CSI) are control characters too.
  EXPECT_EQ(message([](auto& s) {
              s.set_name(
                  "mlp\xc2\x9b"
                  "2J");
            }),
            "name: holds a control character (at byte 3)");
}

TEST(SpecTest, ReportedMetricNamesAreTextWithoutControlsOrBidirectionalControls) {
  auto message = [](const std::string& name) {
    google::protobuf::Map<std::string, double> metrics;
    metrics["loss"] = 0.5;
    metrics[name] = 1;
    const Status status = CheckReportedMetrics("metrics", metrics);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << name;
    return status.message();
  };
  // The name is shown escaped in the message, so that the message is safe to print.
  EXPECT_EQ(message("acc\x1b[2J"), "metrics: name \"acc\\x1b[2J\" holds a control character (at byte 3)");
  EXPECT_EQ(message("acc\nloss"), "metrics: name \"acc\\nloss\" holds a control character (at byte 3)");
  EXPECT_EQ(message("acc\x7f"), "metrics: name \"acc\\x7f\" holds a control character (at byte 3)");
  EXPECT_EQ(message("acc\xff"), "metrics: name \"acc\\xff\" not valid UTF-8 (at byte 3)");
  for (const auto& [utf8, code_point] : BidiControls()) {
    EXPECT_EQ(message("ycarucca" + utf8), "metrics: name \"ycarucca\\u" + Lower(code_point.substr(2)) +
                                              "\" holds the bidirectional control " + code_point +
                                              " (at byte 8)");
  }
  EXPECT_EQ(message(std::string(100'000, 'm')),
            "metrics: name \"" + std::string(64, 'm') + "...\" longer than 64 bytes");

  // A completion's metrics follow the same rules, but a non-finite value is left to the caller.
  google::protobuf::Map<std::string, double> metrics;
  metrics[std::string(64, 'm')] = std::numeric_limits<double>::infinity();
  metrics["caf\xc3\xa9"] = 1;
  EXPECT_EQ(CheckReportedMetrics("metrics", metrics).message(),
            "metrics[" + std::string(64, 'm') + "]: not a finite number");
  EXPECT_TRUE(CheckReportedMetrics("metrics", metrics, NonFinite::kAccept).ok());
  metrics[std::string("acc") + kRlo] = 1;
  EXPECT_EQ(CheckReportedMetrics("metrics", metrics, NonFinite::kAccept).code(),
            StatusCode::kInvalidArgument);
  metrics.clear();
  for (int i = 0; i < 100'000; ++i) metrics[Indexed("m", i)] = i;
  EXPECT_EQ(CheckReportedMetrics("metrics", metrics, NonFinite::kAccept).message(),
            "metrics: at most 100 values, got 100000");
}

TEST(SpecTest, ReportedDeviceIsShortText) {
  EXPECT_TRUE(CheckReportedDevice("device", "").ok());
  EXPECT_TRUE(CheckReportedDevice("device", "NVIDIA H100 80GB HBM3").ok());
  EXPECT_TRUE(CheckReportedDevice("device", std::string(256, 'd')).ok());
  EXPECT_EQ(CheckReportedDevice("device", std::string(257, 'd')).message(), "device: longer than 256 bytes");
  EXPECT_EQ(CheckReportedDevice("device", std::string(3 << 20, 'd')).message(),
            "device: longer than 256 bytes");
  EXPECT_EQ(CheckReportedDevice("device", "cpu\x1b]0;owned\x07").message(),
            "device: holds a control character (at byte 3)");
  EXPECT_EQ(CheckReportedDevice("device", std::string("H100") + kRlo).code(), StatusCode::kInvalidArgument);
}

TEST(SpecTest, FailureReasonIsStoredAsSentUpTo2048BytesAndCutBeyond) {
  EXPECT_EQ(StoredFailureReason(""), "");
  EXPECT_EQ(StoredFailureReason("hpo-train: out of memory"), "hpo-train: out of memory");
  EXPECT_EQ(StoredFailureReason(std::string(2048, 'e')), std::string(2048, 'e'));
  EXPECT_EQ(StoredFailureReason(std::string(3 << 20, 'e')),
            std::string(2048, 'e') + " ... (" + std::to_string((3 << 20) - 2048) + " bytes cut)");
  // "é" (2 bytes) across the limit: cut before it, never inside it.
  const std::string accented = std::string(2047, 'e') + "\xc3\xa9" + std::string(10, 'e');
  EXPECT_EQ(StoredFailureReason(accented), std::string(2047, 'e') + " ... (12 bytes cut)");
}

TEST(SpecTest, AConditionalKnobGetsTheCatalogsConditionWhenItsParentIsSearched) {
  const std::string parameters = R"({"name": "c", "objectives": [{"name": "accuracy"}],
    "budget": {"max_trials": 10}, "task": {"builtin": {}}, "parameters": [
      {"name": "optimizer", "categorical": {"choices": ["sgd", "adamw"]}},
      {"name": "schedule", "categorical": {"choices": ["cosine", "warmup_cosine", "constant"]}},
      {"name": "momentum", "float": {"low": 0.5, "high": 0.99}},
      {"name": "nesterov", "categorical": {"choices": ["false", "true"]}},
      {"name": "warmup_fraction", "float": {"low": 0.0, "high": 0.2}}]})";
  auto spec = NormalizeSpec(Parse(parameters));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  for (int i : {2, 3}) {
    EXPECT_EQ(spec->parameters(i).condition().parent(), "optimizer");
    EXPECT_EQ(std::vector<std::string>(spec->parameters(i).condition().values().begin(),
                                       spec->parameters(i).condition().values().end()),
              std::vector<std::string>{"sgd"});
  }
  EXPECT_EQ(spec->parameters(4).condition().parent(), "schedule");
  EXPECT_EQ(spec->parameters(4).condition().values_size(), 1);
  EXPECT_EQ(spec->parameters(4).condition().values(0), "warmup_cosine");
  EXPECT_FALSE(spec->parameters(0).has_condition());
  // Normalising again changes nothing; the space models the three as conditional.
  auto again = NormalizeSpec(*spec);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->DebugString(), spec->DebugString());
}

TEST(SpecTest, AConditionalKnobWhoseParentNeverActivatesItIsRefused) {
  const auto error =
      [](const std::string& parameters, const std::string& fixed) {
        auto spec = NormalizeSpec(Parse(R"({"name": "c", "objectives": [{"name": "accuracy"}],
      "budget": {"max_trials": 10}, "task": {"builtin": {"fixed": {)" +
                                        fixed + R"(}}},
      "parameters": [)" + parameters + "]}"));
        EXPECT_FALSE(spec.ok());
        return spec.ok() ? std::string() : spec.status().message();
      };
  const std::string momentum = R"({"name": "momentum", "float": {"low": 0.5, "high": 0.99}})";
  EXPECT_EQ(error(momentum, ""),
            "parameters[0] (momentum): has an effect only when optimizer is sgd, and optimizer is adamw (its "
            "default) here: search optimizer or fix it to a value where this knob counts");
  EXPECT_EQ(error(momentum, R"("optimizer": "adamw")"),
            "parameters[0] (momentum): has an effect only when optimizer is sgd, and optimizer is adamw "
            "(task.builtin.fixed) here: search optimizer or fix it to a value where this knob counts");
  EXPECT_EQ(error(R"({"name": "schedule", "categorical": {"choices": ["constant", "cosine"]}},
                     {"name": "warmup_fraction", "float": {"low": 0.0, "high": 0.2}})",
                  ""),
            "parameters[1] (warmup_fraction): has an effect only when schedule is warmup_cosine, and "
            "parameters[0] (schedule) never chooses it");
  EXPECT_EQ(error(momentum + R"(, {"name": "optimizer", "categorical": {"choices": ["sgd", "adamw"]}})", ""),
            "parameters[0] (momentum): has an effect only when optimizer is sgd; list parameters[1] "
            "(optimizer) before it, so that it can depend on it");
  // Fixed where it counts: searched with no condition.
  auto fixed = NormalizeSpec(Parse(R"({"name": "c", "objectives": [{"name": "accuracy"}],
      "budget": {"max_trials": 10}, "task": {"builtin": {"fixed": {"optimizer": "sgd"}}},
      "parameters": [)" + momentum +
                                   "]}"));
  ASSERT_TRUE(fixed.ok()) << fixed.status().ToString();
  EXPECT_FALSE(fixed->parameters(0).has_condition());
}

TEST(SpecTest, FamilyKnobsNestUnderTheirFirstSearchedAncestor) {
  const auto normalize = [](const std::string& parameters, const std::string& fixed) {
    return NormalizeSpec(Parse(R"({"name": "arch", "objectives": [{"name": "accuracy"}],
      "budget": {"max_trials": 10}, "task": {"builtin": {"fixed": {)" +
                               fixed + R"(}}}, "parameters": [)" + parameters + "]}"));
  };
  const auto condition = [](const v1::Parameter& p) {
    std::string out = p.condition().parent() + ":";
    for (const std::string& v : p.condition().values()) out += " " + v;
    return out;
  };
  // model searched: each family's knobs hang under it, and a knob under a searched knob under model hangs
  // under that knob (whose own condition carries the rest of the chain).
  auto spec = normalize(R"({"name": "model", "categorical": {"choices": ["mlp", "cnn", "vit"]}},
      {"name": "width", "int": {"low": 16, "high": 256}},
      {"name": "activation", "categorical": {"choices": ["relu", "gelu"]}},
      {"name": "stages", "categorical": {"choices": ["1", "2", "3"]}},
      {"name": "stage3_channels", "int": {"low": 8, "high": 64}},
      {"name": "attention", "categorical": {"choices": ["full", "sliding_window"]}},
      {"name": "window", "int": {"low": 4, "high": 64}},
      {"name": "lr", "float": {"low": 0.001, "high": 0.1}})",
                        "");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_FALSE(spec->parameters(0).has_condition());
  EXPECT_EQ(condition(spec->parameters(1)), "model: mlp");
  EXPECT_EQ(condition(spec->parameters(2)), "model: mlp cnn");
  EXPECT_EQ(condition(spec->parameters(3)), "model: cnn");
  EXPECT_EQ(condition(spec->parameters(4)), "stages: 3");
  EXPECT_EQ(condition(spec->parameters(5)), "model: vit");
  EXPECT_EQ(condition(spec->parameters(6)), "attention: sliding_window");
  EXPECT_FALSE(spec->parameters(7).has_condition());
  // A parent fixed where the knob counts passes the condition on to the next searched ancestor.
  auto fixed = normalize(R"({"name": "model", "categorical": {"choices": ["vit", "cnn"]}},
      {"name": "window", "int": {"low": 4, "high": 64}})",
                         R"("attention": "sliding_window")");
  ASSERT_TRUE(fixed.ok()) << fixed.status().ToString();
  EXPECT_EQ(condition(fixed->parameters(1)), "model: vit");
  // Refused: a knob whose chain can never count.
  const auto error = [&](const std::string& parameters, const std::string& fixed_knobs) {
    auto bad = normalize(parameters, fixed_knobs);
    EXPECT_FALSE(bad.ok()) << parameters;
    return bad.ok() ? std::string() : bad.status().message();
  };
  EXPECT_EQ(
      error(R"({"name": "window", "int": {"low": 4, "high": 64}})", R"("model": "vit")"),
      "parameters[0] (window): has an effect only when attention is sliding_window, and attention is full "
      "(its default) here: search attention or fix it to a value where this knob counts");
  EXPECT_EQ(
      error(R"({"name": "window", "int": {"low": 4, "high": 64}})", R"("attention": "sliding_window")"),
      "parameters[0] (window): has an effect only when attention does, which is when model is vit or lm, "
      "and model is mlp (its default) here: search model or fix it to a value where this knob counts");
  EXPECT_EQ(error(R"({"name": "model", "categorical": {"choices": ["mlp", "cnn"]}},
                     {"name": "stage2_channels", "int": {"low": 8, "high": 64}})",
                  R"("stages": "1")"),
            "parameters[1] (stage2_channels): has an effect only when stages is 2 or 3 or 4, and stages is 1 "
            "(task.builtin.fixed) here: search stages or fix it to a value where this knob counts");
  EXPECT_EQ(
      error(R"({"name": "model", "categorical": {"choices": ["mlp", "cnn"]}},
                     {"name": "d_model", "int": {"low": 32, "high": 64}})",
            ""),
      "parameters[1] (d_model): has an effect only when model is vit or lm, and parameters[0] (model) never "
      "chooses it");
  // The knobs of today's MLP studies still need nothing: model is mlp by default.
  auto mlp = normalize(R"({"name": "hidden_layers", "int": {"low": 1, "high": 3}})", "");
  ASSERT_TRUE(mlp.ok()) << mlp.status().ToString();
  EXPECT_FALSE(mlp->parameters(0).has_condition());
}

TEST(SpecTest, TheLanguageModelAndTextGoTogether) {
  const auto normalize = [](const std::string& parameters, const std::string& fixed, bool text) {
    return NormalizeSpec(Parse(R"({"name": "lm", "objectives": [{"name": "bits_per_byte"}],
      "budget": {"max_trials": 10}, "task": {"builtin": {"fixed": {)" +
                               fixed + "}" + (text ? R"(, "text": {"path": "/usr/include/sqlite3.h"})" : "") +
                               R"(}}, "parameters": [)" + parameters + "]}"));
  };
  const std::string lr = R"({"name": "lr", "float": {"low": 0.001, "high": 0.01}})";
  auto ok = normalize(lr, R"("model": "lm")", true);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(normalize(R"({"name": "model", "categorical": {"choices": ["lm"]}}, )" + lr, "", true).ok());
  const auto error = [&](const std::string& parameters, const std::string& fixed, bool text) {
    auto spec = normalize(parameters, fixed, text);
    EXPECT_FALSE(spec.ok()) << parameters << " " << fixed;
    return spec.ok() ? std::string() : spec.status().message();
  };
  EXPECT_EQ(error(lr, "", true),
            "task.builtin.text: trains model lm only: fix model to lm (it is mlp by default)");
  EXPECT_EQ(error(lr, R"("model": "vit")", true),
            "task.builtin.fixed.model: is vit, but task.builtin.text trains model lm only");
  EXPECT_EQ(error(R"({"name": "model", "categorical": {"choices": ["lm", "cnn"]}}, )" + lr, "", true),
            "parameters[0] (model): chooses cnn, but task.builtin.text trains model lm only");
  EXPECT_EQ(error(lr, R"("model": "lm")", false),
            "task.builtin.fixed.model: is lm, which trains on a text file: give task.builtin.text");
  EXPECT_EQ(error(R"({"name": "model", "categorical": {"choices": ["mlp", "lm"]}}, )" + lr, "", false),
            "parameters[0] (model): chooses lm, which trains on a text file: give task.builtin.text");
}

TEST(SpecTest, UsersOwnDataNamesAbsolutePathsAndSaneFractions) {
  const auto normalized = [](const std::string& npy) {
    return NormalizeSpec(Parse(R"({"name": "own", "objectives": [{"name": "accuracy"}],
      "budget": {"max_trials": 10}, "parameters": [{"name": "lr", "float": {"low": 0.001, "high": 0.1}}],
      "task": {"builtin": {"train_limit": 200000, "npy": )" +
                               npy + "}}}"));
  };
  // train_limit is not bounded by Fashion-MNIST's 50,000 with the user's own data.
  auto ok = normalized(R"({"train_images": "/d/x.npy", "train_labels": "/d/y.npy", "layout": "nchw",
                           "validation_fraction": 0.1, "test_fraction": 0.2})");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->task().builtin().npy().layout(), "nchw");
  const auto error = [&](const std::string& npy) {
    auto spec = normalized(npy);
    EXPECT_FALSE(spec.ok()) << npy;
    return spec.ok() ? std::string() : spec.status().message();
  };
  EXPECT_EQ(error(R"({"train_images": "/d/x.npy"})"),
            "task.builtin.npy.train_labels: required: the path of an .npy file on the workers");
  EXPECT_EQ(error(R"({"train_images": "x.npy", "train_labels": "/d/y.npy"})"),
            "task.builtin.npy.train_images: must be an absolute path (it is read on each worker): \"x.npy\"");
  EXPECT_EQ(error(R"({"train_images": "/d/x.npy", "train_labels": "/d/y.npy", "test_images": "/d/t.npy"})"),
            "task.builtin.npy: give test_images and test_labels together, or neither");
  EXPECT_EQ(error(R"({"train_images": "/d/x.npy", "train_labels": "/d/y.npy", "layout": "chw"})"),
            "task.builtin.npy.layout: must be nhwc or nchw, not \"chw\"");
  EXPECT_EQ(error(R"({"train_images": "/d/x.npy", "train_labels": "/d/y.npy", "validation_fraction": 1})"),
            "task.builtin.npy.validation_fraction: must be in [0, 1)");
  EXPECT_EQ(error(R"({"train_images": "/d/x.npy", "train_labels": "/d/y.npy", "validation_fraction": 0.5,
                      "test_fraction": 0.5})"),
            "task.builtin.npy: validation_fraction and test_fraction together must be below 1");
  EXPECT_EQ(error(R"({"train_images": "/d/x\u0007.npy", "train_labels": "/d/y.npy"})"),
            "task.builtin.npy.train_images: holds a control character (at byte 4)");
}

TEST(SpecTest, UsersIdxFilesAndTextAreCheckedFieldByField) {
  const auto normalized = [](const std::string& data) {
    // Text trains the language model only.
    const std::string model =
        data.find("\"text\"") != std::string::npos ? R"("fixed": {"model": "lm"}, )" : "";
    return NormalizeSpec(Parse(R"({"name": "own", "objectives": [{"name": "accuracy"}],
      "budget": {"max_trials": 10}, "parameters": [{"name": "lr", "float": {"low": 0.001, "high": 0.1}}],
      "task": {"builtin": {"train_limit": 200000, )" +
                               model + data + "}}}"));
  };
  const auto error = [&](const std::string& data) {
    auto spec = normalized(data);
    EXPECT_FALSE(spec.ok()) << data;
    return spec.ok() ? std::string() : spec.status().message();
  };
  // Good: train_limit is not bounded by Fashion-MNIST's 50,000 with either.
  auto idx = normalized(R"("idx": {"train_images": "/d/x.gz", "train_labels": "/d/y.gz",
                                   "test_images": "/d/tx", "test_labels": "/d/ty", "validation_fraction": 0.2})");
  ASSERT_TRUE(idx.ok()) << idx.status().ToString();
  EXPECT_EQ(idx->task().builtin().idx().test_labels(), "/d/ty");
  auto text = normalized(R"("text": {"path": "/usr/include/sqlite3.h", "validation_fraction": 0.05,
                                     "test_fraction": 0.05})");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(text->task().builtin().text().path(), "/usr/include/sqlite3.h");
  EXPECT_TRUE(normalized(R"("text": {"path": "/d/corpus.txt"})").ok());

  // IDX: as npy, named idx.
  EXPECT_EQ(error(R"("idx": {"train_labels": "/d/y.gz"})"),
            "task.builtin.idx.train_images: required: the path of an IDX file on the workers");
  EXPECT_EQ(
      error(R"("idx": {"train_images": "/d/x.gz", "train_labels": "data/y.gz"})"),
      "task.builtin.idx.train_labels: must be an absolute path (it is read on each worker): \"data/y.gz\"");
  EXPECT_EQ(error(R"("idx": {"train_images": "/d/x.gz", "train_labels": "/d/y.gz", "test_labels": "/d/ty"})"),
            "task.builtin.idx: give test_images and test_labels together, or neither");
  EXPECT_EQ(error(R"("idx": {"train_images": "/d/x.gz", "train_labels": "/d/y.gz", "test_images": "/d/tx",
                             "test_labels": "/d/t\ny"})"),
            "task.builtin.idx.test_labels: holds a control character (at byte 4)");
  EXPECT_EQ(error(R"("idx": {"train_images": "/d/x.gz", "train_labels": "/d/y.gz", "test_images": "/d/tx",
                             "test_labels": "/d/ty", "test_fraction": 0.1})"),
            "task.builtin.idx.test_fraction: only without test files (they are the test split)");
  EXPECT_EQ(
      error(R"("idx": {"train_images": "/d/x.gz", "train_labels": "/d/y.gz", "validation_fraction": 0.9})"),
      "task.builtin.idx: validation_fraction and test_fraction together must be below 1");
  // Text.
  EXPECT_EQ(error(R"("text": {})"),
            "task.builtin.text.path: required: the path of a text file on the workers");
  EXPECT_EQ(error(R"("text": {"path": "corpus.txt"})"),
            "task.builtin.text.path: must be an absolute path (it is read on each worker): \"corpus.txt\"");
  EXPECT_EQ(error(R"("text": {"path": "/d/c\u001b.txt"})"),
            "task.builtin.text.path: holds a control character (at byte 4)");
  EXPECT_EQ(error(R"("text": {"path": "/d/c.txt", "test_fraction": -0.1})"),
            "task.builtin.text.test_fraction: must be in [0, 1)");
  EXPECT_EQ(error(R"("text": {"path": "/d/c.txt", "validation_fraction": 0.95})"),
            "task.builtin.text: validation_fraction and test_fraction together must be below 1");
  // One source of data.
  EXPECT_EQ(
      error(R"("npy": {"train_images": "/d/x.npy", "train_labels": "/d/y.npy"},
                     "text": {"path": "/d/c.txt"})"),
      "task.builtin: give at most one of npy, idx and text (the data of every trial), not npy and text");
  EXPECT_EQ(
      error(R"("npy": {}, "idx": {}, "text": {})"),
      "task.builtin: give at most one of npy, idx and text (the data of every trial), not npy, idx and text");
  EXPECT_EQ(
      error(R"("idx": {"train_images": "/d/x.gz", "train_labels": "/d/y.gz"}, "text": {"path": "/c"})"),
      "task.builtin: give at most one of npy, idx and text (the data of every trial), not idx and text");
  // Without data of one's own, train_limit is Fashion-MNIST's.
  EXPECT_EQ(error(R"("fixed": {})"),
            "task.builtin.train_limit: must be at most 50000 (the training images; 0: all)");
}

TEST(SpecTest, MaxParallelAboveMaxTrialsIsLowered) {
  v1::StudySpec spec = Parse(kFull);
  spec.mutable_budget()->set_max_parallel(100);
  auto normal = NormalizeSpec(spec);
  ASSERT_TRUE(normal.ok()) << normal.status().ToString();
  EXPECT_EQ(normal->budget().max_parallel(), 10u);
}

TEST(SpecTest, NormalisingTwiceChangesNothing) {
  for (const char* json : {kGood, kFull, kSynthetic, kCommand}) {
    auto once = NormalizeSpec(Parse(json));
    ASSERT_TRUE(once.ok()) << once.status().ToString();
    auto twice = NormalizeSpec(*once);
    ASSERT_TRUE(twice.ok()) << twice.status().ToString();
    // Compared as messages: maps (env, worker_selector) serialise in no fixed order.
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*twice, *once)) << twice->DebugString();
  }
}

}  // namespace
}  // namespace hpo::coordinator
