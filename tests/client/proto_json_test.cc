// `hpoctl show --format json`: protobuf's JSON mapping with ids and times as numbers, the rest as it was.
#include "client/proto_json.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <string>

#include "hpo/v1/service.pb.h"
#include "hpo/v1/study.pb.h"

namespace hpo::client {
namespace {

TEST(ProtoJsonTest, IdsCountsAndTimesAreNumbersSeedsAndBoundsStayStrings) {
  v1::Study study;
  study.set_id(42);
  study.set_created_ms(1'796'226'570'186);
  study.set_state(v1::STUDY_RUNNING);
  study.mutable_counts()->set_completed(7);
  v1::StudySpec& spec = *study.mutable_spec();
  spec.set_name("ids \"1\"");
  spec.set_seed(18'446'744'073'709'551'615u);  // beyond 2^53: only a string keeps it exact
  v1::Parameter* width = spec.add_parameters();
  width->set_name("width");
  width->mutable_int_()->set_low(-9'007'199'254'740'993);
  width->mutable_int_()->set_high(512);
  spec.mutable_warm_start()->set_from_study(5);
  const std::string json = MessageToJsonWithSafeNumbers(study);
  EXPECT_NE(json.find("\"id\": 42,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"created_ms\": 1796226570186,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"completed\": 7"), std::string::npos) << json;
  EXPECT_NE(json.find("\"from_study\": 5"), std::string::npos) << json;
  EXPECT_NE(json.find("\"seed\": \"18446744073709551615\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"low\": \"-9007199254740993\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"high\": \"512\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"name\": \"ids \\\"1\\\"\""), std::string::npos) << json;  // a string stays a string
  EXPECT_NE(json.find("\"state\": \"STUDY_RUNNING\""), std::string::npos) << json;
  EXPECT_EQ(json.back(), '\n');
  // It still reads back as the same message.
  v1::Study back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &back).ok()) << json;
  EXPECT_EQ(back.SerializeAsString(), study.SerializeAsString());
}

TEST(ProtoJsonTest, RepeatedMapAndNestedFieldsAreWalked) {
  v1::HeartbeatResponse heartbeat;
  heartbeat.add_stop_trial_ids(7);
  heartbeat.add_stop_trial_ids(8);
  EXPECT_NE(MessageToJsonWithSafeNumbers(heartbeat).find("[\n  7,\n  8\n ]"), std::string::npos)
      << MessageToJsonWithSafeNumbers(heartbeat);
  v1::Trial trial;
  trial.set_id(3);
  trial.set_study_id(1);
  trial.set_seed(123);
  (*trial.mutable_params())["n"].set_int_value(9);  // a parameter's value: any 64-bit integer
  trial.mutable_progress()->set_step(4);
  trial.mutable_progress()->set_reported_ms(99);
  const std::string json = MessageToJsonWithSafeNumbers(trial);
  for (const char* number : {"\"id\": 3", "\"study_id\": 1", "\"seed\": 123", "\"step\": 4",
                             "\"reported_ms\": 99", "\"int_value\": \"9\""}) {
    EXPECT_NE(json.find(number), std::string::npos) << number << "\n" << json;
  }
}

TEST(ProtoJsonTest, OnlyIdsTimesAndKnownCountersAreSafe) {
  const auto* trial = v1::Trial::descriptor();
  EXPECT_TRUE(IsSafeInteger(*trial->FindFieldByName("id")));
  EXPECT_TRUE(IsSafeInteger(*trial->FindFieldByName("worker_id")));
  EXPECT_TRUE(IsSafeInteger(*trial->FindFieldByName("finished_ms")));
  EXPECT_TRUE(IsSafeInteger(*trial->FindFieldByName("seed")));
  EXPECT_FALSE(IsSafeInteger(*trial->FindFieldByName("number")));  // 32 bits: a number already
  EXPECT_FALSE(IsSafeInteger(*v1::StudySpec::descriptor()->FindFieldByName("seed")));
}

}  // namespace
}  // namespace hpo::client
