#include "client/study_client.h"

#include <gtest/gtest.h>

#include <chrono>

namespace hpo::client {
namespace {

TEST(FromGrpcStatusTest, KeepsCodeAndMessage) {
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::NOT_FOUND, "study 9 not found")),
            NotFoundError("study 9 not found"));
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "spec.budget.max_trials")),
            InvalidArgumentError("spec.budget.max_trials"));
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "")),
            UnauthenticatedError("UNAUTHENTICATED"));
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")).code(),
            StatusCode::kUnavailable);
}

// No server listens on port 1 of the loopback: the call fails at once as a transport error.
TEST(StudyClientTest, UnreachableCoordinatorIsATransportError) {
  StudyClientOptions options;
  options.deadline = std::chrono::milliseconds(3'000);
  auto client = StudyClient::Connect("127.0.0.1:1", options);
  const auto start = std::chrono::steady_clock::now();
  auto study = client->GetStudy(1);
  ASSERT_FALSE(study.ok());
  EXPECT_TRUE(study.status().code() == StatusCode::kUnavailable ||
              study.status().code() == StatusCode::kDeadlineExceeded)
      << study.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  // In words that name the address, not gRPC's resolver and socket internals.
  if (study.status().code() == StatusCode::kUnavailable) {
    EXPECT_EQ(study.status().message(),
              "cannot reach 127.0.0.1:1: connection refused (is hpo-coordinator running there?)");
  } else {
    EXPECT_EQ(study.status().message(), "no answer from 127.0.0.1:1 within 3000 ms (--deadline-ms)");
  }
  auto studies = client->ListStudies();
  ASSERT_FALSE(studies.ok());
  EXPECT_TRUE(studies.status().code() == StatusCode::kUnavailable ||
              studies.status().code() == StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace hpo::client
