// The coordinator server's defaults and the checks Start() makes on its options before it opens anything.
#include "coordinator/server.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/testing/http_client.h"
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

  ServerOptions shared_token = base;
  shared_token.auth_token = "user-token-0123456789";
  shared_token.worker_auth_token = "user-token-0123456789";
  started = Server::Start(shared_token);
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.status().message().find("worker_auth_token: the same token as auth_token"),
            std::string::npos)
      << started.status().message();

  ServerOptions orphan_read = base;
  orphan_read.read_auth_token = "read-token-0123456789";
  started = Server::Start(orphan_read);
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.status().message().find("read_auth_token: a role token needs the user token"),
            std::string::npos)
      << started.status().message();

  ServerOptions open_http = base;
  open_http.http_address = "0.0.0.0:0";
  started = Server::Start(open_http);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(started.status().message().find("http: 0.0.0.0:0 is reachable from other machines"),
            std::string::npos)
      << started.status().message();
  EXPECT_NE(started.status().message().find("--http-insecure"), std::string::npos);

  ServerOptions no_limit = base;
  no_limit.max_request_bytes = 0;
  started = Server::Start(no_limit);
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.status().message().find("max_request_bytes"), std::string::npos);

  EXPECT_FALSE(std::filesystem::exists(base.db_path));
}

TEST(ServerHttpTest, HttpBeyondLoopbackServesWithHttpInsecure) {
  testing::TempDir dir;
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.db_path = dir.File("hpo.db");
  options.http_address = "0.0.0.0:0";
  options.http_insecure = true;
  auto server = Server::Start(options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_EQ(testing::HttpClient((*server)->http_port(), std::chrono::seconds(5)).Get("/healthz").status, 200);
  (*server)->Shutdown();
}

TEST(ServerHttpTest, TwoHundredHalfOpenConnectionsLeaveTheDashboardAnswering) {
  testing::TempDir dir;
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.db_path = dir.File("hpo.db");
  options.http_address = "127.0.0.1:0";
  options.auth_token = "dashboard-half-open-token";
  auto server = Server::Start(options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = (*server)->http_port();
  // 200 connections that send half a request and hold it, no token needed to do so.
  boost::asio::io_context io;
  const auto held = testing::HalfOpenConnections(io, port, 200);
  testing::HttpClient client(port, std::chrono::seconds(5));
  EXPECT_EQ(client.Get("/healthz").status, 200);
  const auto api = client.Get("/api/v1/studies", {{"Authorization", "Bearer dashboard-half-open-token"}});
  EXPECT_EQ(api.status, 200) << api.error;
  EXPECT_NE(api.body.find("studies"), std::string::npos) << api.body;
  EXPECT_EQ(testing::HttpClient(port, std::chrono::seconds(5)).Get("/api/v1/studies").status, 401);
  (*server)->Shutdown();
}

}  // namespace
}  // namespace hpo::coordinator
