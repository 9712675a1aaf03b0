// HttpServer: a small HTTP/1.1 server (Boost.Beast on Boost.Asio) for the coordinator's dashboard and
// /metrics. It parses requests, hands each one to a handler as a plain HttpRequest, and writes the
// HttpResponse the handler returns; routing and content are the handler's (coordinator/dashboard_api.h),
// so they are tested without sockets.
//
// Bounded by its options: a fixed number of threads, caps on open connections (in all, and from one
// client address), limits on a request's header and body sizes (431 and 413), a short timeout for a
// request's header to arrive whole (from the connection's start, or from the last answer on a kept-alive
// one) and a longer one for the rest of a request and for writing a response. Connections are kept
// alive as HTTP/1.1 says.
//
// Slow or half-open clients cannot lock it: a connection still waiting for a request's header is the
// first to go. A new connection past either cap takes the place of the oldest connection that waits for a
// header (from the same address, when it is that address's cap), which is closed; only when every
// connection is inside a request is the new one closed at once. So 200 connections that send half a
// request and wait hold no place a real client needs for longer than it takes to open its own, and each
// is closed after header_timeout anyway (/healthz, /metrics and the API stay answerable).
//
// Start() returns once the server listens. Shutdown() (idempotent, thread-safe) stops accepting, drops the
// open connections and joins the threads; the handler is not called after it returns. The handler is
// called from any of the server's threads, concurrently, and must be thread-safe; it must outlive the
// server (or its Shutdown()).
#ifndef HPO_COORDINATOR_HTTP_SERVER_H_
#define HPO_COORDINATOR_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace hpo::coordinator {

struct HttpRequest {
  std::string method;         // "GET", "HEAD", ...
  std::string target;         // as sent: path and query, e.g. "/api/v1/studies/3?token=..."
  std::string host;           // the Host header; "" when absent
  std::string authorization;  // the Authorization header; "" when absent
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // added to the response as given
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  // host:port to listen on ("127.0.0.1:8080", "[::1]:8080", "localhost:8080", "0.0.0.0:8080"); port 0
  // picks a free one (HttpServer::port).
  std::string address = "127.0.0.1:8080";
  int threads = 2;                         // REQUIRES >= 1
  size_t max_connections = 64;             // open at once; REQUIRES >= 1
  size_t max_connections_per_client = 32;  // open at once from one client address; REQUIRES >= 1
  size_t max_header_bytes = 16 << 10;      // a larger request header is answered 431
  size_t max_body_bytes = 64 << 10;        // a larger request body is answered 413
  // For a request's header to arrive whole (a kept-alive connection's wait for its next request too).
  std::chrono::milliseconds header_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // to read the body, or write a response
};

class HttpServer {
 public:
  // INVALID_ARGUMENT naming the option for a bad address or limit; UNAVAILABLE when it cannot listen
  // (the port is taken, the host does not resolve).
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port it listens on.
  int port() const;

  void Shutdown();

  struct Impl;  // defined in http_server.cc only

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Splits "host:port" ("[v6]:port" for IPv6); INVALID_ARGUMENT naming `what` when it is not of that form or
// the port is not 0..65535.
Result<std::pair<std::string, int>> SplitHostPort(const std::string& address, const std::string& what);

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_HTTP_SERVER_H_
