#include "client/cli.h"

#include <gtest/gtest.h>

#include <string>

namespace hpo::client {
namespace {

TEST(ParseStudyIdTest, AcceptsPositiveIntegers) {
  EXPECT_EQ(*ParseStudyId("1"), 1u);
  EXPECT_EQ(*ParseStudyId("42"), 42u);
  EXPECT_EQ(*ParseStudyId("007"), 7u);
  EXPECT_EQ(*ParseStudyId("18446744073709551615"), 18446744073709551615u);
}

TEST(ParseStudyIdTest, RejectsEverythingElse) {
  for (const std::string text :
       {"", "0", "00", "-1", "+1", " 1", "1 ", "1a", "0x10", "1.0", "1e3", "18446744073709551616", "abc"}) {
    auto id = ParseStudyId(text);
    ASSERT_FALSE(id.ok()) << "'" << text << "'";
    EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument) << "'" << text << "'";
    EXPECT_NE(id.status().message().find("STUDY"), std::string::npos) << id.status().message();
  }
}

TEST(ExitCodeTest, DocumentedValues) {
  EXPECT_EQ(kExitOk, 0);
  EXPECT_EQ(kExitFailed, 1);
  EXPECT_EQ(kExitUsage, 2);
  EXPECT_EQ(kExitUnreachable, 3);
}

TEST(ExitCodeTest, TransportErrorsAreThreeOthersOne) {
  EXPECT_TRUE(IsTransportError(StatusCode::kUnavailable));
  EXPECT_TRUE(IsTransportError(StatusCode::kDeadlineExceeded));
  EXPECT_FALSE(IsTransportError(StatusCode::kNotFound));
  EXPECT_EQ(ExitCodeForRpcError(UnavailableError("connection refused")), kExitUnreachable);
  EXPECT_EQ(ExitCodeForRpcError(DeadlineExceededError("slow")), kExitUnreachable);
  EXPECT_EQ(ExitCodeForRpcError(NotFoundError("study 9")), kExitFailed);
  EXPECT_EQ(ExitCodeForRpcError(InvalidArgumentError("spec.objectives")), kExitFailed);
  EXPECT_EQ(ExitCodeForRpcError(UnauthenticatedError("token")), kExitFailed);
}

TEST(WatchExitCodeTest, CompletedIsZeroFailedAndCancelledOne) {
  EXPECT_FALSE(IsFinalState(v1::STUDY_RUNNING));
  EXPECT_FALSE(IsFinalState(v1::STUDY_STATE_UNSPECIFIED));
  EXPECT_TRUE(IsFinalState(v1::STUDY_COMPLETED));
  EXPECT_TRUE(IsFinalState(v1::STUDY_FAILED));
  EXPECT_TRUE(IsFinalState(v1::STUDY_CANCELLED));
  EXPECT_EQ(WatchExitCode(v1::STUDY_COMPLETED), 0);
  EXPECT_EQ(WatchExitCode(v1::STUDY_FAILED), 1);
  EXPECT_EQ(WatchExitCode(v1::STUDY_CANCELLED), 1);
}

}  // namespace
}  // namespace hpo::client
