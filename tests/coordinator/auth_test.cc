#include "coordinator/auth.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace hpo::coordinator {
namespace {

using Values = std::vector<std::string_view>;

TEST(TokenAuthTest, WithoutATokenEveryCallPasses) {
  const TokenAuth open;
  EXPECT_FALSE(open.enabled());
  EXPECT_TRUE(open.CheckAuthorization({}, Access::kWrite, "StudyService.CreateStudy").ok());
  EXPECT_TRUE(
      open.CheckAuthorization(Values{"Bearer anything"}, Access::kWrite, "StudyService.CreateStudy").ok());
  EXPECT_FALSE(TokenAuth("").enabled());
}

TEST(TokenAuthTest, MissingHeaderIsUnauthenticatedAndSaysWhatIsNeeded) {
  const TokenAuth auth("s3cret");
  ASSERT_TRUE(auth.enabled());
  const Status status = auth.CheckAuthorization({}, Access::kWrite, "StudyService.CreateStudy");
  EXPECT_EQ(status.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(status.message().find("authorization: Bearer <token>"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("--token-file"), std::string::npos) << status.message();
}

TEST(TokenAuthTest, OnlyTheExactTokenUnderTheBearerSchemePasses) {
  const TokenAuth auth("s3cret");
  EXPECT_TRUE(
      auth.CheckAuthorization(Values{"Bearer s3cret"}, Access::kWrite, "StudyService.CreateStudy").ok());
  EXPECT_TRUE(auth.CheckAuthorization(Values{"bearer s3cret"}, Access::kWrite, "StudyService.CreateStudy")
                  .ok());  // the scheme is case-insensitive
  EXPECT_TRUE(
      auth.CheckAuthorization(Values{"BEARER s3cret"}, Access::kWrite, "StudyService.CreateStudy").ok());

  for (const std::string_view wrong : {"Bearer s3cre", "Bearer s3cret2", "Bearer S3CRET", "Bearer  s3cret",
                                       "Bearer s3cret ", "Bearer ", "Bearer"}) {
    const Status status = auth.CheckAuthorization(Values{wrong}, Access::kWrite, "StudyService.CreateStudy");
    EXPECT_EQ(status.code(), StatusCode::kUnauthenticated) << wrong;
  }
  EXPECT_EQ(
      auth.CheckAuthorization(Values{"Bearer wrong"}, Access::kWrite, "StudyService.CreateStudy").message(),
      "invalid bearer token");
  for (const std::string_view not_bearer : {"s3cret", "Basic czNjcmV0", "Token s3cret"}) {
    const Status status =
        auth.CheckAuthorization(Values{not_bearer}, Access::kWrite, "StudyService.CreateStudy");
    EXPECT_EQ(status.code(), StatusCode::kUnauthenticated) << not_bearer;
    EXPECT_NE(status.message().find("Bearer <token>"), std::string::npos) << status.message();
  }
}

TEST(TokenAuthTest, TwoAuthorizationEntriesAreRefusedEvenIfOneIsRight) {
  const TokenAuth auth("s3cret");
  const Status status = auth.CheckAuthorization(Values{"Bearer wrong", "Bearer s3cret"}, Access::kWrite,
                                                "StudyService.CreateStudy");
  EXPECT_EQ(status.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(status.message().find("more than one"), std::string::npos);
}

constexpr char kUser[] = "user-token-0123456789";
constexpr char kWorker[] = "worker-token-0123456789";
constexpr char kRead[] = "read-token-0123456789";

Status As(const TokenAuth& auth, const std::string& token, Access access, std::string_view method) {
  const std::string value = "Bearer " + token;
  return auth.CheckAuthorization(Values{value}, access, method);
}

TEST(TokenAuthTest, EachRoleMayCallItsMethodsOnly) {
  const TokenAuth auth(AuthTokens{kUser, kWorker, kRead});
  ASSERT_TRUE(auth.enabled());
  EXPECT_TRUE(auth.has_worker_token());
  EXPECT_TRUE(auth.has_read_token());
  for (const Access access : {Access::kRead, Access::kWrite, Access::kWorker}) {
    EXPECT_TRUE(As(auth, kUser, access, "any").ok());
  }
  EXPECT_TRUE(As(auth, kWorker, Access::kWorker, "WorkerService.AcquireTrial").ok());
  EXPECT_TRUE(As(auth, kRead, Access::kRead, "StudyService.ListStudies").ok());

  const Status worker_creates = As(auth, kWorker, Access::kWrite, "StudyService.CreateStudy");
  EXPECT_EQ(worker_creates.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(worker_creates.message().rfind("the worker token may not call StudyService.CreateStudy: it may "
                                           "call WorkerService methods only",
                                           0),
            0u)
      << worker_creates.message();
  EXPECT_EQ(As(auth, kWorker, Access::kRead, "StudyService.ListStudies").code(),
            StatusCode::kPermissionDenied);

  const Status reader_creates = As(auth, kRead, Access::kWrite, "StudyService.CancelStudy");
  EXPECT_EQ(reader_creates.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(reader_creates.message().find("the read-only token may not call StudyService.CancelStudy"),
            std::string::npos)
      << reader_creates.message();
  const Status reader_works = As(auth, kRead, Access::kWorker, "WorkerService.RegisterWorker");
  EXPECT_EQ(reader_works.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(reader_works.message().find("WorkerService.RegisterWorker"), std::string::npos);

  // An unknown token is still UNAUTHENTICATED, whatever the method.
  EXPECT_EQ(As(auth, "other-token-0123456789", Access::kWorker, "x").code(), StatusCode::kUnauthenticated);
}

TEST(TokenAuthTest, WithoutRoleTokensTheUserTokenDoesEverything) {
  const TokenAuth auth(AuthTokens{kUser, "", ""});
  EXPECT_FALSE(auth.has_worker_token());
  EXPECT_FALSE(auth.has_read_token());
  for (const Access access : {Access::kRead, Access::kWrite, Access::kWorker}) {
    EXPECT_TRUE(As(auth, kUser, access, "any").ok());
    // An empty role token never matches an empty bearer value.
    EXPECT_EQ(As(auth, "", access, "any").code(), StatusCode::kUnauthenticated);
  }
}

TEST(ValidateAuthTokensTest, RefusesWeakSharedOrOrphanRoleTokensNamingTheOption) {
  EXPECT_TRUE(ValidateAuthTokens({}, "u", "w", "r").ok());
  EXPECT_TRUE(ValidateAuthTokens({kUser, kWorker, kRead}, "u", "w", "r").ok());
  EXPECT_TRUE(ValidateAuthTokens({kUser, kWorker, ""}, "u", "w", "r").ok());

  const Status weak = ValidateAuthTokens({kUser, "short-1234", ""}, "u", "--worker-token-file", "r");
  EXPECT_EQ(weak.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(weak.message().rfind("--worker-token-file: the token is too weak", 0), 0u) << weak.message();

  const Status shared = ValidateAuthTokens({kUser, kUser, ""}, "--token-file", "--worker-token-file", "r");
  EXPECT_EQ(shared.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(shared.message(),
            "--worker-token-file: the same token as --token-file; each role needs a token of its own");
  const Status shared_read = ValidateAuthTokens({kUser, kWorker, kWorker}, "u", "w", "r");
  EXPECT_EQ(shared_read.message(), "r: the same token as w; each role needs a token of its own");

  const Status orphan = ValidateAuthTokens({"", "", kRead}, "--token-file", "w", "--read-token-file");
  EXPECT_EQ(orphan.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(orphan.message().find("--read-token-file: a role token needs the user token (--token-file)"),
            std::string::npos)
      << orphan.message();
}

}  // namespace
}  // namespace hpo::coordinator
