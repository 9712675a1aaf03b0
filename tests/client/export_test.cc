#include "client/export.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace hpo::client {
namespace {

using google::protobuf::util::MessageDifferencer;

// `value` (a part of the parsed document) read back into a message of type M.
template <typename M>
M ReadBack(const google::protobuf::Value& value) {
  std::string json;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(value, &json).ok());
  M message;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return message;
}

TEST(FormatExportTest, EveryPartReadsBackToTheSameMessages) {
  v1::Study study;
  study.set_id(7);
  study.set_state(v1::STUDY_COMPLETED);
  study.set_created_ms(1'700'000'000'000);
  study.set_finished_ms(1'700'000'060'000);
  study.mutable_counts()->set_completed(2);
  study.mutable_counts()->set_failed(1);
  v1::StudySpec& spec = *study.mutable_spec();
  spec.set_name("export \"me\"");
  spec.set_seed(18'446'744'073'709'551'615ULL);  // needs all 64 bits: a string in JSON
  spec.mutable_budget()->set_max_trials(3);
  auto* objective = spec.add_objectives();
  objective->set_name("f1");
  objective->set_direction(v1::MINIMIZE);
  auto* x = spec.add_parameters();
  x->set_name("x");
  x->mutable_float_()->set_high(1);
  spec.mutable_task()->mutable_synthetic()->set_function("zdt1");

  v1::ListTrialsResponse trials;
  for (uint32_t n = 0; n < 3; ++n) {
    v1::Trial* trial = trials.add_trials();
    trial->set_id(40 + n);
    trial->set_study_id(7);
    trial->set_number(n);
    trial->set_state(n == 2 ? v1::TRIAL_FAILED : v1::TRIAL_COMPLETED);
    (*trial->mutable_params())["x"].set_double_value(0.1 + 0.1 * n);
    if (n < 2) (*trial->mutable_metrics())["f1"] = n == 0 ? 0.30000000000000004 : 1e-300;
    if (n == 2) trial->set_error("exit status 1\nsecond line");
  }
  v1::GetParetoFrontResponse front;
  *front.add_trials() = trials.trials(1);
  *front.add_objectives() = *objective;

  const std::string json = FormatExport(study, trials, front, 1'700'000'099'000);
  EXPECT_EQ(json.back(), '\n');
  google::protobuf::Struct document;
  const auto parsed = google::protobuf::util::JsonStringToMessage(json, &document);
  ASSERT_TRUE(parsed.ok()) << parsed.ToString() << "\n" << json;
  const auto& fields = document.fields();
  EXPECT_EQ(fields.at("format").string_value(), "hpo.export.v1");
  EXPECT_EQ(fields.at("exported_ms").number_value(), 1'700'000'099'000.0);
  EXPECT_TRUE(MessageDifferencer::Equals(ReadBack<v1::Study>(fields.at("study")), study));
  const auto& listed = fields.at("trials").list_value();
  ASSERT_EQ(listed.values_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(ReadBack<v1::Trial>(listed.values(i)), trials.trials(i))) << i;
  }
  EXPECT_TRUE(
      MessageDifferencer::Equals(ReadBack<v1::GetParetoFrontResponse>(fields.at("pareto_front")), front));
  // snake_case names, enums by name, 64-bit integers as strings, defaults included.
  EXPECT_NE(json.find("\"max_trials\":3"), std::string::npos) << json;
  EXPECT_NE(json.find("\"seed\":\"18446744073709551615\""), std::string::npos);
  EXPECT_NE(json.find("\"state\":\"TRIAL_FAILED\""), std::string::npos);
  EXPECT_NE(json.find("\"max_parallel\":0"), std::string::npos);
  // One line per trial.
  EXPECT_NE(json.find("\"trials\": [\n    {"), std::string::npos);
}

TEST(FormatExportTest, AStudyWithoutTrials) {
  v1::Study study;
  study.set_id(1);
  const std::string json = FormatExport(study, {}, {}, 5);
  google::protobuf::Struct document;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &document).ok()) << json;
  EXPECT_EQ(document.fields().at("trials").list_value().values_size(), 0);
  EXPECT_EQ(document.fields().at("study").struct_value().fields().at("id").string_value(), "1");
}

}  // namespace
}  // namespace hpo::client
