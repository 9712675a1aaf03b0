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
  EXPECT_TRUE(open.CheckAuthorization({}).ok());
  EXPECT_TRUE(open.CheckAuthorization(Values{"Bearer anything"}).ok());
  EXPECT_FALSE(TokenAuth("").enabled());
}

TEST(TokenAuthTest, MissingHeaderIsUnauthenticatedAndSaysWhatIsNeeded) {
  const TokenAuth auth("s3cret");
  ASSERT_TRUE(auth.enabled());
  const Status status = auth.CheckAuthorization({});
  EXPECT_EQ(status.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(status.message().find("authorization: Bearer <token>"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("--token-file"), std::string::npos) << status.message();
}

TEST(TokenAuthTest, OnlyTheExactTokenUnderTheBearerSchemePasses) {
  const TokenAuth auth("s3cret");
  EXPECT_TRUE(auth.CheckAuthorization(Values{"Bearer s3cret"}).ok());
  EXPECT_TRUE(auth.CheckAuthorization(Values{"bearer s3cret"}).ok());  // the scheme is case-insensitive
  EXPECT_TRUE(auth.CheckAuthorization(Values{"BEARER s3cret"}).ok());

  for (const std::string_view wrong : {"Bearer s3cre", "Bearer s3cret2", "Bearer S3CRET", "Bearer  s3cret",
                                       "Bearer s3cret ", "Bearer ", "Bearer"}) {
    const Status status = auth.CheckAuthorization(Values{wrong});
    EXPECT_EQ(status.code(), StatusCode::kUnauthenticated) << wrong;
  }
  EXPECT_EQ(auth.CheckAuthorization(Values{"Bearer wrong"}).message(), "invalid bearer token");
  for (const std::string_view not_bearer : {"s3cret", "Basic czNjcmV0", "Token s3cret"}) {
    const Status status = auth.CheckAuthorization(Values{not_bearer});
    EXPECT_EQ(status.code(), StatusCode::kUnauthenticated) << not_bearer;
    EXPECT_NE(status.message().find("Bearer <token>"), std::string::npos) << status.message();
  }
}

TEST(TokenAuthTest, TwoAuthorizationEntriesAreRefusedEvenIfOneIsRight) {
  const TokenAuth auth("s3cret");
  const Status status = auth.CheckAuthorization(Values{"Bearer wrong", "Bearer s3cret"});
  EXPECT_EQ(status.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(status.message().find("more than one"), std::string::npos);
}

}  // namespace
}  // namespace hpo::coordinator
