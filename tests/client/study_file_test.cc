#include "client/study_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <utility>

#include "client/yaml.h"
#include "tests/testing/temp_dir.h"

namespace hpo::client {
namespace {

constexpr char kGoodSpec[] = R"json({
  "name": "fmnist-quick",
  "parameters": [
    {"name": "lr", "float": {"low": 1e-4, "high": 0.1, "log": true}},
    {"name": "layers", "int": {"low": 1, "high": 4}},
    {"name": "activation", "categorical": {"choices": ["relu", "gelu"]}}
  ],
  "objectives": [
    {"name": "accuracy", "direction": "MAXIMIZE"},
    {"name": "latency_ms", "direction": "MINIMIZE"}
  ],
  "algorithm": {"random": {}},
  "budget": {"maxTrials": 12, "max_parallel": 2},
  "task": {"builtin": {"fixed": {"epochs": 1, "optimizer": "adamw"}, "train_limit": 5000}},
  "seed": "42"
})json";

// A fresh directory per test, removed afterwards.
class StudyFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_.File(name);
    std::ofstream(path) << text;
    return path;
  }

  hpo::testing::TempDir dir_;
};

TEST_F(StudyFileTest, LoadsAGoodSpec) {
  const std::string path = Write("good.json", kGoodSpec);
  auto spec = LoadStudySpec(path);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name(), "fmnist-quick");
  ASSERT_EQ(spec->parameters_size(), 3);
  EXPECT_EQ(spec->parameters(0).name(), "lr");
  EXPECT_TRUE(spec->parameters(0).float_().log());
  EXPECT_DOUBLE_EQ(spec->parameters(0).float_().low(), 1e-4);
  EXPECT_EQ(spec->parameters(1).int_().high(), 4);
  ASSERT_EQ(spec->parameters(2).categorical().choices_size(), 2);
  EXPECT_EQ(spec->parameters(2).categorical().choices(1), "gelu");
  ASSERT_EQ(spec->objectives_size(), 2);
  EXPECT_EQ(spec->objectives(0).direction(), v1::MAXIMIZE);
  EXPECT_EQ(spec->objectives(1).name(), "latency_ms");
  EXPECT_TRUE(spec->algorithm().has_random());
  EXPECT_EQ(spec->budget().max_trials(), 12u);   // lowerCamelCase key
  EXPECT_EQ(spec->budget().max_parallel(), 2u);  // snake_case key
  EXPECT_EQ(spec->task().builtin().train_limit(), 5000u);
  EXPECT_EQ(spec->task().builtin().fixed().fields().at("optimizer").string_value(), "adamw");
  EXPECT_EQ(spec->seed(), 42u);
}

TEST_F(StudyFileTest, UnknownFieldIsNamed) {
  const std::string path = Write("typo.json", R"({"name": "x", "budget": {"max_trails": 3}})");
  auto spec = LoadStudySpec(path);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find(path), std::string::npos) << spec.status().message();
  EXPECT_NE(spec.status().message().find("max_trails"), std::string::npos) << spec.status().message();
}

TEST_F(StudyFileTest, BadJsonIsInvalidArgument) {
  const std::string path = Write("bad.json", R"({"name": "x", "objectives": [)");
  auto spec = LoadStudySpec(path);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find(path), std::string::npos) << spec.status().message();
}

TEST_F(StudyFileTest, WrongTypeIsInvalidArgument) {
  const std::string path = Write("type.json", R"({"budget": {"max_trials": "many"}})");
  auto spec = LoadStudySpec(path);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find(path), std::string::npos) << spec.status().message();
}

TEST_F(StudyFileTest, MissingFileIsNotFound) {
  const std::string path = dir_.File("absent.json");
  auto spec = LoadStudySpec(path);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kNotFound);
  EXPECT_NE(spec.status().message().find(path), std::string::npos) << spec.status().message();
}

TEST_F(StudyFileTest, DirectoryIsInvalidArgument) {
  auto spec = LoadStudySpec(dir_.path());
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find(dir_.path()), std::string::npos) << spec.status().message();
}

TEST_F(StudyFileTest, UnreadableFileIsInvalidArgument) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  const std::string path = Write("secret.json", kGoodSpec);
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  auto spec = LoadStudySpec(path);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find(path), std::string::npos) << spec.status().message();
}

TEST(ParseStudySpecTest, NamesTheSourceAndTheField) {
  auto spec = ParseStudySpec(R"({"parameters": [{"name": "lr", "flaot": {}}]})", "<stdin>");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message().rfind("<stdin>: ", 0), 0u) << spec.status().message();
  EXPECT_NE(spec.status().message().find("flaot"), std::string::npos) << spec.status().message();
}

TEST(ParseStudySpecTest, EmptyObjectIsAnEmptySpec) {
  auto spec = ParseStudySpec("{}", "<test>");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->parameters_size(), 0);
}

}  // namespace
// Protobuf's JSON parser keeps the last of two equal keys; a study file that gives one twice is refused,
// naming the key by its path and both lines.
TEST(ParseStudySpecTest, RefusesADuplicateKeyNamingItsPathAndLines) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"name": "a", "name": "b"})", "line 1: the key 'name' is given twice (first on line 1)"},
      {"{\n  \"name\": \"x\",\n  \"budget\": {\"max_trials\": 5,\n             \"max_trials\": 7}\n}",
       "line 4: the key 'budget.max_trials' is given twice (first on line 3)"},
      // Two spellings of one field are one key.
      {"{\"budget\": {\"max_trials\": 5,\n\"maxTrials\": 7}}",
       "line 2: the key 'budget.maxTrials' is given twice (first on line 1, as 'max_trials')"},
      {R"({"parameters": [{"name": "a", "float": {"low": 1, "high": 2}},
                          {"name": "b", "float": {"low": 1, "high": 2, "low": 0}}]})",
       "line 2: the key 'parameters[1].float.low' is given twice (first on line 2)"},
      {R"({"task": {"builtin": {"fixed": {"epochs": 1, "x": {"a": [1, {"b": 2, "b": 3}]}}}}})",
       "line 1: the key 'task.builtin.fixed.x.a[1].b' is given twice (first on line 1)"},
      {R"({"worker_selector": {"gpu": "H100", "gpu": "A100"}})",
       "line 1: the key 'worker_selector.gpu' is given twice (first on line 1)"},
      // Escapes are resolved as the parser resolves them: \u005f is '_'.
      {R"({"budget": {"max_trials": 5, "max\u005ftrials": 7}})",
       "line 1: the key 'budget.max_trials' is given twice (first on line 1)"},
  };
  for (const auto& [json, says] : cases) {
    auto spec = ParseStudySpec(json, "study.json");
    ASSERT_FALSE(spec.ok()) << json;
    EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(spec.status().message(), std::string("study.json: ") + says) << json;
  }
}

TEST(ParseStudySpecTest, KeysAreComparedPerObjectAndOutsideStrings) {
  // The same key in different objects; braces, quotes and escapes inside strings; a map field's and a
  // Struct's keys as written (there, max_trials and maxTrials are two keys).
  auto spec = ParseStudySpec(R"({
    "name": "a \"{\" } [ \\\"name\": ,",
    "parameters": [{"name": "p", "int": {"low": 1, "high": 2}},
                   {"name": "q", "int": {"low": 1, "high": 3}}],
    "worker_selector": {"max_trials": "1", "maxTrials": "2"},
    "task": {"builtin": {"fixed": {"train_limit": 1, "trainLimit": 2, "x": {"name": 1}}}}
  })",
                             "study.json");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name(), "a \"{\" } [ \\\"name\": ,");
  EXPECT_EQ(spec->parameters(1).int_().high(), 3);
  EXPECT_EQ(spec->worker_selector().at("maxTrials"), "2");
  EXPECT_EQ(spec->task().builtin().fixed().fields().at("trainLimit").number_value(), 2);
}

TEST(ParseStudySpecTest, RefusesNestingDeeperThanTheCap) {
  // The spec itself, task, builtin, fixed, then `open` until `depth` (objects are the deepest for
  // protobuf's own limit: three messages a level inside a Struct).
  const auto nested = [](int depth, const std::string& open, const std::string& close) {
    std::string json = R"({"task": {"builtin": {"fixed": {"a": )";
    for (int k = 5; k < depth; ++k) json += open;
    json += "{}";
    for (int k = 5; k < depth; ++k) json += close;
    return json + "}}}}";
  };
  const std::pair<std::string, std::string> objects{R"({"a": )", "}"}, arrays{"[", "]"};
  for (const auto& [open, close] : {objects, arrays}) {
    auto deepest = ParseStudySpec(nested(kMaxNesting, open, close), "study.json");
    EXPECT_TRUE(deepest.ok()) << deepest.status().ToString();
  }
  const std::string rule = "more than " + std::to_string(kMaxNesting) +
                           " levels of nested objects and arrays (the limit for a study file)";
  for (int depth : {kMaxNesting + 1, 10000}) {
    for (const auto& [open, close] : {objects, arrays}) {
      auto spec = ParseStudySpec(nested(depth, open, close), "study.json");
      ASSERT_FALSE(spec.ok()) << depth << " " << open;
      EXPECT_EQ(spec.status().message(), "study.json: line 1: " + rule);
    }
  }
}

TEST(ParseStudySpecTest, MalformedJsonIsStillNamedByTheParser) {
  for (const char* json :
       {R"({"name": "x", "name)", R"({"name": "x", "budget": })", R"({"a": ]})", R"([}})"}) {
    auto spec = ParseStudySpec(json, "study.json");
    ASSERT_FALSE(spec.ok()) << json;
    EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(spec.status().message().find("given twice"), std::string::npos) << spec.status().message();
  }
}

TEST(ParseStudySpecTest, YamlRefusesAFieldUnderBothSpellings) {
  auto spec = ParseStudySpecYaml("name: x\nbudget:\n  max_trials: 5\n  maxTrials: 7\n", "study.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().message(),
            "study.yaml: the key 'budget.maxTrials' is given twice (also as 'max_trials')");
  auto same = ParseStudySpecYaml("name: x\nbudget:\n  max_trials: 5\n  max_trials: 7\n", "study.yaml");
  ASSERT_FALSE(same.ok());
  EXPECT_EQ(same.status().message(),
            "study.yaml: line 4: the key 'budget.max_trials' is given twice (first on line 3)");
}

}  // namespace hpo::client

namespace hpo::client {
namespace {

TEST(ParseStudySpecTest, DirectionIsReadInAnyCaseInJsonAndYaml) {
  for (const char* direction : {"maximize", "Maximize", "MAXIMIZE", "maXimize"}) {
    SCOPED_TRACE(direction);
    const std::string d = direction;
    auto json = ParseStudySpec(R"({"objectives": [{"name": "acc", "direction": ")" + d +
                                   R"("}, {"name": "ms", "direction": "minimize"}]})",
                               "study.json");
    ASSERT_TRUE(json.ok()) << json.status().ToString();
    EXPECT_EQ(json->objectives(0).direction(), v1::MAXIMIZE);
    EXPECT_EQ(json->objectives(1).direction(), v1::MINIMIZE);
    auto yaml = ParseStudySpecYaml(
        "objectives:\n  - {name: acc, direction: " + d + "}\n  - name: ms\n    direction: Minimize\n",
        "study.yaml");
    ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
    EXPECT_EQ(yaml->objectives(0).direction(), v1::MAXIMIZE);
    EXPECT_EQ(yaml->objectives(1).direction(), v1::MINIMIZE);
  }
  // A word that is no direction in any case is still refused, naming the value.
  auto bad = ParseStudySpec(R"({"objectives": [{"name": "acc", "direction": "maximise"}]})", "study.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      bad.status().message(),
      "study.json: objectives[0].direction: \"maximise\" is not one of minimize, maximize (in any case)");
}

}  // namespace
}  // namespace hpo::client
