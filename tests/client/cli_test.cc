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

TEST(DescribeNoAnswerTest, SaysWhyTheCoordinatorCannotBeReachedInWords) {
  struct Case {
    const char* grpc;  // the message gRPC gives
    const char* words;
  };
  const Case cases[] = {
      {"failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:50051: Failed to connect to "
       "remote host: Connection refused",
       "cannot reach 127.0.0.1:50051: connection refused (is hpo-coordinator running there?)"},
      {"DNS resolution failed for nosuch.invalid:50051: C-ares status is not ARES_SUCCESS qtype=A "
       "name=nosuch.invalid is_balancer=0: Domain name not found",
       "cannot reach 127.0.0.1:50051: the host name does not resolve"},
      {"failed to connect to all addresses; last error: UNKNOWN: ipv4:10.1.2.3:50051: Failed to connect to "
       "remote host: Connection timed out",
       "cannot reach 127.0.0.1:50051: the connection timed out"},
      {"failed to connect to all addresses; last error: UNKNOWN: ipv4:10.1.2.3:50051: No route to host",
       "cannot reach 127.0.0.1:50051: no route to host"},
      {"Socket closed",
       "cannot reach 127.0.0.1:50051: the connection was closed (the coordinator may require "
       "TLS: connect with --tls-ca and its certificate or CA)"},
      {"failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:50051: Ssl handshake failed: "
       "SSL_ERROR_SSL: error:0A00010B:SSL routines::wrong version number",
       "cannot reach 127.0.0.1:50051: the TLS handshake failed (the coordinator does not serve TLS at this "
       "address: leave out --tls-ca, or check the address)"},
      {"failed to connect to all addresses; last error: UNKNOWN: something new",
       "cannot reach 127.0.0.1:50051: could not connect"},
  };
  for (const Case& c : cases) {
    const auto words = DescribeNoAnswer("127.0.0.1:50051", UnavailableError(c.grpc), 10'000);
    ASSERT_TRUE(words.has_value()) << c.grpc;
    EXPECT_EQ(*words, c.words);
    EXPECT_TRUE(IsNoAnswerMessage(*words));
  }
  EXPECT_EQ(DescribeNoAnswer("coord:7000", DeadlineExceededError("Deadline Exceeded"), 2'500),
            "no answer from coord:7000 within 2500 ms (--deadline-ms)");
  // An answer keeps its own words: the coordinator's UNAVAILABLE, and every other code.
  EXPECT_FALSE(DescribeNoAnswer("a:1", UnavailableError("database is locked"), 10'000).has_value());
  EXPECT_FALSE(DescribeNoAnswer("a:1", NotFoundError("study 9 not found"), 10'000).has_value());
  EXPECT_FALSE(IsNoAnswerMessage("study 9 not found"));
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
