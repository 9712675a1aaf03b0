#include "coordinator/http_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/log.h"

namespace hpo::coordinator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
class Session;
}  // namespace

struct HttpServer::Impl {
  Impl(const HttpServerOptions& o, HttpHandler h) : options(o), handler(std::move(h)) {}

  void Accept();
  void Shutdown();

  // The open connections, by id (ids ascend in the order of acceptance, so the first is the oldest).
  struct Connection {
    std::weak_ptr<Session> session;
    std::string address;
    bool waiting = true;  // for a request's header: the first to give its place
  };
  // Registers a new connection from `address`, making room past a cap by closing the oldest one that
  // waits for a header; 0 when there is no room (every connection is inside a request).
  uint64_t Admit(const std::string& address, std::weak_ptr<Session> session);
  void SetWaiting(uint64_t id, bool waiting);
  void Forget(uint64_t id);

  const HttpServerOptions options;
  const HttpHandler handler;
  // Declared before io: sessions still held by io's handlers forget themselves when io is destroyed.
  std::mutex mu;
  std::map<uint64_t, Connection> connections;  // guarded by mu
  std::map<std::string, size_t> per_address;   // guarded by mu
  uint64_t next_id = 1;                        // guarded by mu
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::vector<std::thread> threads;
  int port = 0;
  std::once_flag shutdown_once;
};

namespace {

// One connection: reads requests one after another, answers each, until the client closes, an error, a
// timeout, or a response that closes the connection.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl* server) : stream_(std::move(socket)), server_(server) {}
  ~Session() {
    if (id_ != 0) server_->Forget(id_);
  }

  // Serves the connection as number `id` (Impl::Admit), or closes it when `id` is 0 (no room).
  void Start(uint64_t id) {
    id_ = id;
    if (id_ == 0) return Close();
    Read();
  }

  // Waits for the next request: its header within header_timeout, then the rest within timeout.
  void Read() {
    server_->SetWaiting(id_, true);
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(server_->options.max_body_bytes);
    stream_.expires_after(server_->options.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  // Closes the connection on its own executor (from another thread: the acceptor making room).
  void Evict() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->Close(); });
  }

 private:
  void OnHeader(beast::error_code error, size_t bytes) {
    if (error) return OnRead(error, bytes);
    server_->SetWaiting(id_, false);
    stream_.expires_after(server_->options.timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code error, size_t /*bytes*/) {
    if (error == http::error::header_limit) return Refuse(http::status::request_header_fields_too_large);
    if (error == http::error::body_limit) return Refuse(http::status::payload_too_large);
    if (error == http::error::end_of_stream || error == beast::error::timeout ||
        error == asio::error::operation_aborted || error == asio::error::connection_reset) {
      return Close();
    }
    if (error) return Refuse(http::status::bad_request);  // a request that does not parse

    const http::request<http::string_body>& request = parser_->get();
    HttpRequest in;
    in.method = std::string(request.method_string());
    in.target = std::string(request.target());
    in.host = std::string(request[http::field::host]);
    in.authorization = std::string(request[http::field::authorization]);
    HttpResponse out;
    try {
      out = server_->handler(in);
    } catch (const std::exception& e) {  // the server's edge: nothing thrown may end the process
      log::Error("http handler failed", {{"target", in.target}, {"error", e.what()}});
      out = HttpResponse{500, "application/json", "{\"error\":\"internal error\"}\n", {}};
    }
    auto response = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(out.status),
                                                                        request.version());
    response->set(http::field::server, "hpo-coordinator");
    response->set(http::field::content_type, out.content_type);
    for (const auto& [name, value] : out.headers) response->set(name, value);
    response->keep_alive(request.keep_alive());
    const size_t length = out.body.size();
    if (request.method() != http::verb::head) response->body() = std::move(out.body);
    response->content_length(length);  // a HEAD answer says the length of the body it leaves out
    Write(std::move(response));
  }

  // Answers `status` to a request that cannot be read (whole), and closes the connection.
  void Refuse(http::status status) {
    auto response = std::make_shared<http::response<http::string_body>>(status, 11);
    response->set(http::field::server, "hpo-coordinator");
    response->set(http::field::content_type, "application/json");
    response->body() = "{\"error\":\"" + std::string(http::obsolete_reason(status)) + "\"}\n";
    response->keep_alive(false);
    response->prepare_payload();
    Write(std::move(response));
  }

  void Write(std::shared_ptr<http::response<http::string_body>> response) {
    stream_.expires_after(server_->options.timeout);
    const bool close = !response->keep_alive();
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response, close](beast::error_code error, size_t) {
                        if (error) return self->Close();
                        if (close) return self->Close();
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  HttpServer::Impl* const server_;
  uint64_t id_ = 0;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

uint64_t HttpServer::Impl::Admit(const std::string& address, std::weak_ptr<Session> session) {
  std::shared_ptr<Session> evicted;
  uint64_t id = 0;
  {
    std::lock_guard lock(mu);
    // The oldest connection that waits for a header, from `from` ("" for any address).
    const auto oldest_waiting = [&](const std::string& from) {
      for (auto it = connections.begin(); it != connections.end(); ++it) {
        if (it->second.waiting && (from.empty() || it->second.address == from)) return it;
      }
      return connections.end();
    };
    const bool client_full = per_address[address] >= options.max_connections_per_client;
    if (client_full || connections.size() >= options.max_connections) {
      auto victim = oldest_waiting(client_full ? address : "");
      if (victim == connections.end()) {
        if (per_address[address] == 0) per_address.erase(address);
        return 0;
      }
      evicted = victim->second.session.lock();
      if (--per_address[victim->second.address] == 0) per_address.erase(victim->second.address);
      connections.erase(victim);
    }
    id = next_id++;
    connections[id] = Connection{std::move(session), address, true};
    ++per_address[address];
  }
  if (evicted) evicted->Evict();
  return id;
}

void HttpServer::Impl::SetWaiting(uint64_t id, bool waiting) {
  std::lock_guard lock(mu);
  auto it = connections.find(id);
  if (it != connections.end()) it->second.waiting = waiting;
}

void HttpServer::Impl::Forget(uint64_t id) {
  std::lock_guard lock(mu);
  auto it = connections.find(id);
  if (it == connections.end()) return;  // evicted: already forgotten
  if (--per_address[it->second.address] == 0) per_address.erase(it->second.address);
  connections.erase(it);
}

void HttpServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code error, tcp::socket socket) {
    if (error == asio::error::operation_aborted || !acceptor.is_open()) return;  // shutting down
    if (!error) {
      beast::error_code unknown;
      const tcp::endpoint peer = socket.remote_endpoint(unknown);
      auto session = std::make_shared<Session>(std::move(socket), this);
      // With no room (or a peer already gone) it is closed before anything is read.
      session->Start(unknown ? 0 : Admit(peer.address().to_string(), session));
    }
    Accept();
  });
}

void HttpServer::Impl::Shutdown() {
  std::call_once(shutdown_once, [this] {
    asio::post(io, [this] {
      beast::error_code ignored;
      acceptor.close(ignored);
    });
    io.stop();
    for (std::thread& thread : threads) {
      if (thread.joinable()) thread.join();
    }
  });
}

Result<std::pair<std::string, int>> SplitHostPort(const std::string& address, const std::string& what) {
  const auto bad = [&](const std::string& why) {
    return InvalidArgumentError(what + ": \"" + address + "\" " + why +
                                " (expected HOST:PORT, e.g. 127.0.0.1:8080)");
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return bad("has no port");
  std::string host = address.substr(0, colon);
  const std::string port_text = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return bad("is an IPv6 address without brackets");
  }
  if (host.empty()) return bad("has no host");
  int port = -1;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() || port < 0 ||
      port > 65535) {
    return bad("has no valid port (0..65535)");
  }
  return std::make_pair(host, port);
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Shutdown(); }

int HttpServer::port() const { return impl_->port; }

void HttpServer::Shutdown() { impl_->Shutdown(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options, HttpHandler handler) {
  HPO_ASSIGN_OR_RETURN(const auto host_port, SplitHostPort(options.address, "http address"));
  if (options.threads < 1) return InvalidArgumentError("http threads: must be at least 1");
  if (options.max_connections < 1) return InvalidArgumentError("http max_connections: must be at least 1");
  if (options.max_connections_per_client < 1) {
    return InvalidArgumentError("http max_connections_per_client: must be at least 1");
  }
  if (options.header_timeout.count() <= 0)
    return InvalidArgumentError("http header_timeout: must be positive");
  if (options.max_header_bytes < 1024)
    return InvalidArgumentError("http max_header_bytes: must be at least 1024");
  if (options.timeout.count() <= 0) return InvalidArgumentError("http timeout: must be positive");
  if (!handler) return InvalidArgumentError("http handler: required");

  auto impl = std::make_unique<Impl>(options, std::move(handler));
  beast::error_code error;
  tcp::resolver resolver(impl->io);
  const auto endpoints = resolver.resolve(host_port.first, std::to_string(host_port.second),
                                          tcp::resolver::passive | tcp::resolver::numeric_service, error);
  if (error || endpoints.empty()) {
    return UnavailableError("http address " + options.address + ": cannot resolve " + host_port.first + ": " +
                            error.message());
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  const auto fail = [&](const char* step) {
    return UnavailableError("cannot listen for http on " + options.address + " (" + step +
                            "): " + error.message());
  };
  if (impl->acceptor.open(endpoint.protocol(), error)) return fail("open");
  // Lets a restarted coordinator take its port back at once; two live listeners still conflict on Linux.
  if (impl->acceptor.set_option(asio::socket_base::reuse_address(true), error)) return fail("reuse_address");
  if (impl->acceptor.bind(endpoint, error)) return fail("bind");
  if (impl->acceptor.listen(asio::socket_base::max_listen_connections, error)) return fail("listen");
  impl->port = impl->acceptor.local_endpoint(error).port();
  if (error) return fail("local_endpoint");

  impl->Accept();
  Impl* raw = impl.get();
  for (int i = 0; i < options.threads; ++i) {
    raw->threads.emplace_back([raw] {
      // The event loop is an edge: a throwing handler is logged and the loop goes on.
      for (;;) {
        try {
          raw->io.run();
          return;
        } catch (const std::exception& e) {
          log::Error("http event loop", {{"error", e.what()}});
        }
      }
    });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

}  // namespace hpo::coordinator
