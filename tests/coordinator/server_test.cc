// The coordinator server's defaults and the checks Start() makes on its options before it opens anything.
#include "coordinator/server.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/testing/temp_dir.h"

namespace hpo::coordinator {
namespace {

TEST(ServerOptionsTest, DefaultsListenOnLoopbackOnlyWithAFourMebibyteRequestLimit) {
  const ServerOptions options;
  EXPECT_EQ(options.listen_address, "127.0.0.1:50051");
  EXPECT_EQ(options.max_request_bytes, 4 * 1024 * 1024);
  EXPECT_EQ(options.auth_token, "");
  EXPECT_EQ(options.tls_cert_pem, "");
  EXPECT_EQ(options.tls_key_pem, "");
}

TEST(ServerOptionsTest, StartRefusesBadSecurityOptionsBeforeOpeningTheDatabase) {
  hpo::testing::TempDir dir;
  ServerOptions base;
  base.listen_address = "127.0.0.1:0";
  base.db_path = dir.File("never.db");

  ServerOptions cert_only = base;
  cert_only.tls_cert_pem = "-----BEGIN CERTIFICATE-----\n";
  auto started = Server::Start(cert_only);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(started.status().message().find("tls"), std::string::npos);

  ServerOptions key_only = base;
  key_only.tls_key_pem = "-----BEGIN PRIVATE KEY-----\n";
  EXPECT_EQ(Server::Start(key_only).status().code(), StatusCode::kInvalidArgument);

  ServerOptions bad_token = base;
  bad_token.auth_token = "two words";
  started = Server::Start(bad_token);
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.status().message().find("auth_token"), std::string::npos);

  ServerOptions weak_token = base;
  weak_token.auth_token = "short-token";
  started = Server::Start(weak_token);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(started.status().message().find("auth_token: the token is too weak"), std::string::npos)
      << started.status().message();

  ServerOptions no_limit = base;
  no_limit.max_request_bytes = 0;
  started = Server::Start(no_limit);
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.status().message().find("max_request_bytes"), std::string::npos);

  EXPECT_FALSE(std::filesystem::exists(base.db_path));
}

}  // namespace
}  // namespace hpo::coordinator
