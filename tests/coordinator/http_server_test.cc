// The HTTP server on loopback: requests reach the handler as sent, answers go back whole (HEAD without
// its body), connections are kept alive, and the limits hold: header and body sizes, open connections,
// and the timeout on a client that sends nothing.
#include "coordinator/http_server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/http_client.h"

namespace hpo::coordinator {
namespace {

using namespace std::chrono_literals;
using hpo::testing::HttpClient;

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions options = {}) {
    options.address = "127.0.0.1:0";
    auto server = HttpServer::Start(options, [this](const HttpRequest& request) {
      {
        std::lock_guard lock(mu_);
        seen_.push_back(request);
      }
      HttpResponse response;
      response.content_type = "text/plain";
      response.body = request.method + " " + request.target;
      response.headers.emplace_back("X-Test", "yes");
      return response;
    });
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    ASSERT_GT(server_->port(), 0);
  }

  std::vector<HttpRequest> Seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::vector<HttpRequest> seen_;
};

TEST_F(HttpServerTest, HandsTheRequestToTheHandlerAndItsAnswerBack) {
  Start();
  HttpClient client(server_->port());
  const auto got =
      client.Get("/api/v1/studies?token=a%20b", {{"Authorization", "Bearer xyz"}, {"Host", "localhost:1"}});
  ASSERT_EQ(got.status, 200) << got.error;
  EXPECT_EQ(got.body, "GET /api/v1/studies?token=a%20b");
  EXPECT_EQ(got.headers.at("content-type"), "text/plain");
  EXPECT_EQ(got.headers.at("x-test"), "yes");
  EXPECT_EQ(got.headers.at("server"), "hpo-coordinator");
  const auto seen = Seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/api/v1/studies?token=a%20b");
  EXPECT_EQ(seen[0].authorization, "Bearer xyz");
  EXPECT_EQ(seen[0].host, "localhost:1");
}

TEST_F(HttpServerTest, KeepsTheConnectionAliveAcrossRequests) {
  Start();
  HttpClient client(server_->port());
  for (int i = 0; i < 5; ++i) {
    const auto got = client.Get("/n" + std::to_string(i));
    ASSERT_EQ(got.status, 200) << got.error;
    EXPECT_EQ(got.body, "GET /n" + std::to_string(i));
    EXPECT_TRUE(client.connected());
  }
  const auto closing = client.Get("/last", {{"Connection", "close"}});
  EXPECT_EQ(closing.status, 200);
  EXPECT_FALSE(client.connected());
}

TEST_F(HttpServerTest, HeadAnswersTheLengthWithoutTheBody) {
  Start();
  HttpClient client(server_->port());
  const auto got = client.Request("HEAD", "/abc");
  ASSERT_EQ(got.status, 200) << got.error;
  EXPECT_EQ(got.body, "");
  EXPECT_EQ(got.headers.at("content-length"), std::to_string(std::string("HEAD /abc").size()));
  // The connection still works after a body-less answer.
  EXPECT_EQ(client.Get("/after").body, "GET /after");
}

TEST_F(HttpServerTest, RefusesOversizedHeadersAndBodiesAndGarbage) {
  HttpServerOptions options;
  options.max_header_bytes = 2048;
  options.max_body_bytes = 100;
  Start(options);
  {
    HttpClient client(server_->port());
    const auto got = client.Get("/x", {{"X-Big", std::string(4000, 'a')}});
    EXPECT_EQ(got.status, 431) << got.error;
  }
  {
    HttpClient client(server_->port());
    const auto got =
        client.Raw("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'b'));
    EXPECT_EQ(got.status, 413) << got.error;
  }
  {
    HttpClient client(server_->port());
    const auto got = client.Raw("this is not http\r\n\r\n");
    EXPECT_EQ(got.status, 400) << got.error;
  }
  EXPECT_TRUE(Seen().empty());  // none of them reached the handler
}

TEST_F(HttpServerTest, ClosesAConnectionThatSendsNothingWithinTheHeaderTimeout) {
  HttpServerOptions options;
  options.header_timeout = 200ms;
  Start(options);
  HttpClient client(server_->port(), 5s);
  ASSERT_EQ(client.Get("/first").status, 200);
  std::this_thread::sleep_for(600ms);  // idle past the timeout: the server has closed the connection
  const auto got = client.Raw("GET /late HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(got.status, 0);
  EXPECT_FALSE(got.error.empty());
}

// Whether the server closed `socket` (a read ends at once with an error) within `within`.
bool ClosedByServer(boost::asio::ip::tcp::socket& socket, std::chrono::milliseconds within) {
  pollfd fd{socket.native_handle(), POLLIN, 0};
  if (::poll(&fd, 1, static_cast<int>(within.count())) <= 0) return false;
  char byte;
  return ::recv(socket.native_handle(), &byte, 1, MSG_DONTWAIT) <= 0;
}

TEST_F(HttpServerTest, HalfOpenConnectionsGiveTheirPlaceAndTimeOut) {
  HttpServerOptions options;
  options.header_timeout = 1s;
  Start(options);  // 64 connections, 32 from one address
  boost::asio::io_context io;
  auto held = hpo::testing::HalfOpenConnections(io, server_->port(), 200);
  // Clients from the same address as the 200 are still served, again and again.
  for (int i = 0; i < 5; ++i) {
    HttpClient client(server_->port(), 2s);
    const auto got = client.Get("/healthz");
    ASSERT_EQ(got.status, 200) << i << ": " << got.error;
  }
  // Every half-open connection is closed: given up for a newer one, or after the header timeout.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  size_t closed = 0;
  for (auto& socket : held) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    closed += ClosedByServer(*socket, std::max(left, 1ms)) ? 1 : 0;
  }
  EXPECT_EQ(closed, held.size());
}

TEST_F(HttpServerTest, PastTheCapTheOldestWaitingConnectionGivesItsPlace) {
  HttpServerOptions options;
  options.max_connections = 2;
  Start(options);
  HttpClient a(server_->port(), 2s);
  HttpClient b(server_->port(), 2s);
  ASSERT_EQ(a.Get("/a").status, 200);
  ASSERT_EQ(b.Get("/b").status, 200);
  // Both wait for their next request: a third takes the place of the oldest, a.
  HttpClient c(server_->port(), 2s);
  EXPECT_EQ(c.Get("/c").status, 200);
  EXPECT_EQ(a.Get("/a2").status, 0);
  EXPECT_EQ(b.Get("/b2").status, 200);
}

TEST(HttpServerCapTest, WithEveryConnectionInsideARequestANewOneIsClosed) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  int inside = 0;
  HttpServerOptions options;
  options.address = "127.0.0.1:0";
  options.max_connections = 2;
  options.threads = 3;  // two held in the handler, one to accept
  auto server = HttpServer::Start(options, [&](const HttpRequest& request) {
    if (request.target == "/slow") {
      std::unique_lock lock(mu);
      ++inside;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
    }
    return HttpResponse{200, "text/plain", "ok", {}};
  });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = (*server)->port();
  std::vector<std::thread> slow;
  std::atomic<int> answered{0};
  for (int i = 0; i < 2; ++i) {
    slow.emplace_back([&] { answered += HttpClient(port, 10s).Get("/slow").status == 200 ? 1 : 0; });
  }
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return inside == 2; }));
  }
  EXPECT_EQ(HttpClient(port, 2s).Get("/c").status, 0);  // no place to take: closed before it is read
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  for (std::thread& t : slow) t.join();
  EXPECT_EQ(answered.load(), 2);
}

TEST_F(HttpServerTest, ShutdownStopsServingAndIsIdempotent) {
  Start();
  const int port = server_->port();
  ASSERT_EQ(HttpClient(port).Get("/").status, 200);
  server_->Shutdown();
  server_->Shutdown();
  server_.reset();
  EXPECT_EQ(HttpClient(port, 1s).Get("/").status, 0);
}

TEST(HttpServerStartTest, RefusesBadAddressesAndATakenPort) {
  const auto handler = [](const HttpRequest&) { return HttpResponse{}; };
  for (const char* bad : {"8080", "127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000", ":8080", "::1:8080"}) {
    HttpServerOptions options;
    options.address = bad;
    const auto started = HttpServer::Start(options, handler);
    ASSERT_FALSE(started.ok()) << bad;
    EXPECT_EQ(started.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(started.status().message().find("http address"), std::string::npos)
        << started.status().message();
  }
  HttpServerOptions first;
  first.address = "127.0.0.1:0";
  auto running = HttpServer::Start(first, handler);
  ASSERT_TRUE(running.ok());
  HttpServerOptions second;
  second.address = "127.0.0.1:" + std::to_string((*running)->port());
  const auto taken = HttpServer::Start(second, handler);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.status().code(), StatusCode::kUnavailable);
}

TEST(SplitHostPortTest, SplitsHostsAndBracketedIpv6) {
  EXPECT_EQ(*SplitHostPort("127.0.0.1:8080", "x"), std::make_pair(std::string("127.0.0.1"), 8080));
  EXPECT_EQ(*SplitHostPort("localhost:0", "x"), std::make_pair(std::string("localhost"), 0));
  EXPECT_EQ(*SplitHostPort("[::1]:9", "x"), std::make_pair(std::string("::1"), 9));
  const auto bad = SplitHostPort("nohost", "--http");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("--http: \"nohost\"", 0), 0u) << bad.status().message();
}

}  // namespace
}  // namespace hpo::coordinator
