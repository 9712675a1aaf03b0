#include "client/study_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

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
}  // namespace hpo::client
