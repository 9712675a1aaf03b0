#include "client/yaml.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "client/study_file.h"
#include "tests/testing/temp_dir.h"

namespace hpo::client {
namespace {

using google::protobuf::util::MessageDifferencer;

constexpr char kYaml[] = R"(# A study in YAML, in the styles people write.
---
name: "yaml: study"   # quoted, with a colon
parameters:
- name: lr
  float: {low: 1e-4, high: 0.1, log: true}
- name: width
  categorical:
    choices: [32, 64,
              128]
- name: act
  categorical: {choices: [relu, 'ge''lu']}
  condition: {parent: width, values: ["64"]}
objectives:
  - name: accuracy
    direction: MAXIMIZE
  - {name: latency_ms, direction: MINIMIZE}
algorithm:
  nsga2:
    population: 16
    mode: STEADY_STATE
    crossover_prob: .9
budget: {max_trials: 40, maxParallel: 4}
task:
  builtin:
    fixed: {epochs: 1, optimizer: adamw, dropout: 0.1, bias: true, note: ~, tag: "7"}
    train_limit: 6000
seed: 18446744073709551615
worker_selector:
  gpu: H100
  count: 2        # a map of strings: "2"
)";

constexpr char kJson[] = R"({
  "name": "yaml: study",
  "parameters": [
    {"name": "lr", "float": {"low": 0.0001, "high": 0.1, "log": true}},
    {"name": "width", "categorical": {"choices": ["32", "64", "128"]}},
    {"name": "act", "categorical": {"choices": ["relu", "ge'lu"]},
     "condition": {"parent": "width", "values": ["64"]}}
  ],
  "objectives": [
    {"name": "accuracy", "direction": "MAXIMIZE"},
    {"name": "latency_ms", "direction": "MINIMIZE"}
  ],
  "algorithm": {"nsga2": {"population": 16, "mode": "STEADY_STATE", "crossover_prob": 0.9}},
  "budget": {"max_trials": 40, "max_parallel": 4},
  "task": {"builtin": {"fixed": {"epochs": 1, "optimizer": "adamw", "dropout": 0.1, "bias": true,
                                  "note": null, "tag": "7"},
                       "train_limit": 6000}},
  "seed": "18446744073709551615",
  "worker_selector": {"gpu": "H100", "count": "2"}
})";

TEST(YamlStudySpecTest, ReadsTheSameSpecAsTheJson) {
  auto from_yaml = ParseStudySpecYaml(kYaml, "study.yaml");
  ASSERT_TRUE(from_yaml.ok()) << from_yaml.status().ToString();
  auto from_json = ParseStudySpec(kJson, "study.json");
  ASSERT_TRUE(from_json.ok()) << from_json.status().ToString();
  std::string difference;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&difference);
  EXPECT_TRUE(differencer.Compare(*from_yaml, *from_json)) << difference;
  EXPECT_EQ(from_yaml->seed(), 18446744073709551615ULL);
  EXPECT_EQ(from_yaml->parameters(1).categorical().choices(2), "128");
  EXPECT_EQ(from_yaml->task().builtin().fixed().fields().at("tag").string_value(), "7");
  EXPECT_EQ(from_yaml->task().builtin().fixed().fields().at("epochs").number_value(), 1);
}

TEST(YamlStudySpecTest, UnknownKeysAreNamed) {
  auto spec = ParseStudySpecYaml("name: x\nbudget:\n  max_trails: 3\n", "study.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find("study.yaml: "), std::string::npos);
  EXPECT_NE(spec.status().message().find("max_trails"), std::string::npos) << spec.status().message();
  auto wrong_type = ParseStudySpecYaml("budget:\n  max_trials: many\n", "study.yaml");
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_NE(wrong_type.status().message().find("max_trials"), std::string::npos);
  auto not_a_map = ParseStudySpecYaml("- a\n- b\n", "study.yaml");
  ASSERT_FALSE(not_a_map.ok());
  EXPECT_NE(not_a_map.status().message().find("expected a mapping"), std::string::npos);
}

TEST(ParseYamlTest, ScalarsQuotesAndEscapes) {
  auto node = ParseYaml(
      "a: plain text, with commas\n"
      "b: 'it''s # not a comment'\n"
      "c: \"tab\\there \\u00e9 \\\"q\\\"\"  # a comment\n"
      "d:\n"
      "e: http://host:80/x\n"
      "f: a#b\n");
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  ASSERT_EQ(node->kind, YamlNode::Kind::kMap);
  ASSERT_EQ(node->map.size(), 6u);
  EXPECT_EQ(node->map[0].second.text, "plain text, with commas");
  EXPECT_FALSE(node->map[0].second.quoted);
  EXPECT_EQ(node->map[1].second.text, "it's # not a comment");
  EXPECT_TRUE(node->map[1].second.quoted);
  EXPECT_EQ(node->map[2].second.text, "tab\there \xc3\xa9 \"q\"");
  EXPECT_EQ(node->map[3].second.text, "");  // null
  EXPECT_EQ(node->map[4].second.text, "http://host:80/x");
  EXPECT_EQ(node->map[5].second.text, "a#b");
}

TEST(ParseYamlTest, NestedSequencesAndLineNumbers) {
  auto node = ParseYaml("x:\n  - - 1\n    - 2\n  - [3, [4, 5]]\n  -\n    k: v\n");
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  const YamlNode& x = node->map.at(0).second;
  ASSERT_EQ(x.kind, YamlNode::Kind::kSeq);
  ASSERT_EQ(x.seq.size(), 3u);
  ASSERT_EQ(x.seq[0].kind, YamlNode::Kind::kSeq);
  EXPECT_EQ(x.seq[0].seq.size(), 2u);
  EXPECT_EQ(x.seq[0].seq[1].text, "2");
  EXPECT_EQ(x.seq[1].seq[1].seq[1].text, "5");
  EXPECT_EQ(x.seq[2].map.at(0).first, "k");
  EXPECT_EQ(x.seq[2].line, 6);
  EXPECT_EQ(node->map.at(0).second.line, 2);
}

TEST(ParseYamlTest, GenericScalarsBecomeJsonByTheirLook) {
  auto node = ParseYaml(
      "{n: ~, e: , t: true, F: False, i: +007, neg: -12, f: 1.5e3, g: .5, h: 1e-4, s: yes, q: '1', "
      "big: 123456789012345678901234567890, inf: .inf}");
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  // For an unknown message (no field matches), every value is a guess.
  EXPECT_EQ(YamlToJson(*node, v1::Budget::descriptor()),
            "{\"n\":null,\"e\":null,\"t\":true,\"F\":false,\"i\":7,\"neg\":-12,\"f\":1500,\"g\":0.5,"
            "\"h\":1e-04,\"s\":\"yes\",\"q\":\"1\",\"big\":123456789012345678901234567890,\"inf\":\".inf\"}");
}

TEST(ParseYamlTest, RefusesWhatStudyFilesDoNotUseNamingTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"a: 1\n\tb: 2\n", "line 2: a tab in the indentation"},
      {"a: &x 1\nb: *x\n", "line 1: '&'"},
      {"a: |\n  text\n", "line 1: '|'"},
      {"a: !!str 1\n", "line 1: '!'"},
      {"a: 1\na: 2\n", "line 2: the key 'a' is given twice"},
      {"a: 1\n   b: 2\n", "line 2: unexpected indentation"},
      {"a:\n    b: 1\n  c: 2\n", "line 3: unexpected indentation"},
      {"a: 'open\n", "line 1: unterminated 'quoted string"},
      {"a: [1, 2\n", "line 1: no closing ']'"},
      {"a: {b 1}\n", "line 1: expected ':' after the key 'b 1'"},
      {"a: 1\n---\nb: 2\n", "line 2: a second document"},
      {"a: 1\njust text\n", "line 2: expected 'key: value', got 'just text'"},
      {"a:\n  - 1\n  b: 2\n", "line 3: "},
      {"a: \"bad \\q\"\n", "line 1: unknown escape \\q"},
  };
  for (const auto& [text, says] : cases) {
    auto node = ParseYaml(text);
    ASSERT_FALSE(node.ok()) << text;
    EXPECT_EQ(node.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(node.status().message().find(says), std::string::npos) << text << "\n"
                                                                     << node.status().message();
  }
}

// `text` nested `depth` deep: `open` repeated, then `inner`, then `close` repeated.
std::string Nested(const std::string& open, int depth, const std::string& inner, const std::string& close) {
  std::string text;
  for (int k = 0; k < depth; ++k) text += open;
  text += inner;
  for (int k = 0; k < depth; ++k) text += close;
  return text;
}

// Before the cap, 10,000 levels of flow style overflowed the stack (hpoctl submit died of SIGSEGV).
TEST(ParseYamlTest, RefusesNestingDeeperThanTheCapInFlowAndBlockStyle) {
  const std::string rule = "more than " + std::to_string(kMaxNesting) +
                           " levels of nested mappings and sequences (the limit for a study file)";
  const std::string cases[] = {
      "name: x\nfixed: " + Nested("[", 10000, "", "]") + "\n",
      "name: x\ntask: " + Nested("{a: ", 10000, "1", "}") + "\n",
      "name: x\nfixed: " + Nested("[{a: ", 5000, "1", "}]") + "\n",
      "name: x\nfixed:\n  " + Nested("- ", 10000, "x", "") + "\n",
      "name: x\nfixed: [\n" + Nested("[\n", 10000, "", "]") + "]\n",
      Nested("[", 10000, "", "]") + ": 1\n",  // as a block key
  };
  for (const std::string& text : cases) {
    auto node = ParseYaml(text);
    ASSERT_FALSE(node.ok()) << text.substr(0, 40);
    EXPECT_EQ(node.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(node.status().message().find(rule), std::string::npos) << node.status().message();
    EXPECT_EQ(node.status().message().rfind("line ", 0), 0u) << node.status().message();
  }
  // The line is where the level too many opens: the flow collection continued over lines, the block
  // mappings nested by indentation.
  auto spread = ParseYaml("a: [\n" + Nested("[\n", 80, "", "]") + "]\n");
  ASSERT_FALSE(spread.ok());
  EXPECT_EQ(spread.status().message(), "line " + std::to_string(kMaxNesting) + ": " + rule);
  std::string block;
  for (int k = 0; k < 70; ++k) block += std::string(k, ' ') + "k" + std::to_string(k) + ":\n";
  auto indented = ParseYaml(block);
  ASSERT_FALSE(indented.ok());
  EXPECT_EQ(indented.status().message(), "line " + std::to_string(kMaxNesting + 1) + ": " + rule);
  auto file = ParseStudySpecYaml("name: x\nfixed: " + Nested("[", 10000, "", "]") + "\n", "study.yaml");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().message(), "study.yaml: line 2: " + rule);
}

TEST(ParseYamlTest, NestingUpToTheCapIsRead) {
  // The root mapping is one level, so its value may nest kMaxNesting - 1 more.
  for (const std::string& text : {"a: " + Nested("[", kMaxNesting - 1, "7", "]") + "\n",
                                  "a:\n" + Nested("  - ", kMaxNesting - 1, "7", "") + "\n"}) {
    auto node = ParseYaml(text);
    ASSERT_TRUE(node.ok()) << node.status().ToString();
    const YamlNode* inner = &node->map.at(0).second;
    int depth = 1;
    while (inner->kind == YamlNode::Kind::kSeq) {
      ASSERT_EQ(inner->seq.size(), 1u);
      inner = &inner->seq[0];
      ++depth;
    }
    EXPECT_EQ(depth, kMaxNesting);
    EXPECT_EQ(inner->text, "7");
  }
  EXPECT_FALSE(ParseYaml("a: " + Nested("[", kMaxNesting, "7", "]") + "\n").ok());
  EXPECT_FALSE(ParseYaml("a:\n" + Nested("  - ", kMaxNesting, "7", "") + "\n").ok());
}

TEST(ParseYamlTest, DuplicateKeysAreNamedByPathAndLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"name: x\nbudget:\n  max_trials: 5\n  max_trials: 7\n",
       "line 4: the key 'budget.max_trials' is given twice (first on line 3)"},
      {"name: x\nbudget: {max_trials: 5, max_trials: 7}\n",
       "line 2: the key 'budget.max_trials' is given twice (first on line 2)"},
      {"budget: {max_trials: 5,\n         max_trials: 7}\n",
       "line 2: the key 'budget.max_trials' is given twice (first on line 1)"},
      {"parameters:\n- name: a\n  float: {low: 1, high: 2}\n- name: b\n  float: {low: 1, low: 2}\n",
       "line 5: the key 'parameters[1].float.low' is given twice (first on line 5)"},
      {"parameters:\n  - name: a\n    name: b\n",
       "line 3: the key 'parameters[0].name' is given twice (first on line 2)"},
      {"task:\n  builtin:\n    fixed: {epochs: 1, 'epochs': 2}\n",
       "line 3: the key 'task.builtin.fixed.epochs' is given twice (first on line 3)"},
      {"name: x\n\"name\": y\n", "line 2: the key 'name' is given twice (first on line 1)"},
      {"a: [{b: [1, {c: 1, c: 2}]}]\n", "line 1: the key 'a[0].b[1].c' is given twice (first on line 1)"},
  };
  for (const auto& [text, says] : cases) {
    auto node = ParseYaml(text);
    ASSERT_FALSE(node.ok()) << text;
    EXPECT_EQ(node.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(node.status().message(), says) << text;
  }
  // The same key in different mappings is no duplicate.
  auto fine = ParseYaml("a: {low: 1}\nb: {low: 1}\nc:\n  - low: 1\n  - low: 2\n");
  EXPECT_TRUE(fine.ok()) << fine.status().ToString();
}

TEST(ParseYamlTest, RefusesACollectionAsAFlowKey) {
  auto node = ParseYaml("a: {[b]: 1}\n");
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().message(), "line 1: a key must be a scalar, not a collection ('[')");
}

TEST(ParseYamlTest, EmptyDocumentsAndCrLf) {
  auto empty = ParseYaml("# nothing\n\n");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->kind, YamlNode::Kind::kScalar);
  auto crlf = ParseYaml("a: 1\r\nb:\r\n  - x\r\n");
  ASSERT_TRUE(crlf.ok()) << crlf.status().ToString();
  EXPECT_EQ(crlf->map[1].second.seq[0].text, "x");
}

TEST(StudyFileFormatTest, ByExtensionAndOnStdinByTheFirstCharacter) {
  hpo::testing::TempDir dir;
  std::ofstream(dir.File("s.yaml")) << kYaml;
  std::ofstream(dir.File("s.yml")) << kYaml;
  std::ofstream(dir.File("s.json")) << kJson;
  for (const char* name : {"s.yaml", "s.yml", "s.json"}) {
    auto spec = LoadStudySpec(dir.File(name));
    ASSERT_TRUE(spec.ok()) << name << ": " << spec.status().ToString();
    EXPECT_EQ(spec->name(), "yaml: study") << name;
  }
  std::ofstream(dir.File("yaml-as.json")) << kYaml;  // the name says JSON
  EXPECT_FALSE(LoadStudySpec(dir.File("yaml-as.json")).ok());
  EXPECT_EQ(ParseStudySpecAnyFormat(kYaml, "<stdin>")->name(), "yaml: study");
  EXPECT_EQ(ParseStudySpecAnyFormat(std::string("\n  ") + kJson, "<stdin>")->name(), "yaml: study");
  auto bad = ParseStudySpecAnyFormat("name: [x\n", "study file <stdin>");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "study file <stdin>: line 1: no closing ']'");
}

}  // namespace
}  // namespace hpo::client
