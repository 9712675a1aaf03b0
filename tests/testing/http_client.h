// HttpClient: a plain blocking HTTP/1.1 client (Boost.Beast) for the tests of the coordinator's HTTP
// server: one connection, kept alive across requests, to 127.0.0.1:port.
//
// Not thread-safe; owned by the test that made it. Errors (refused connection, closed socket, timeout)
// come back as status 0 with the reason in `error`, never as exceptions.
#ifndef HPO_TESTS_TESTING_HTTP_CLIENT_H_
#define HPO_TESTS_TESTING_HTTP_CLIENT_H_

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hpo::testing {

struct HttpResult {
  int status = 0;                              // 0: no answer (see error)
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string error;
};

class HttpClient {
 public:
  explicit HttpClient(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : port_(port), timeout_(timeout), stream_(io_) {}

  // Sends `method target` with `headers` (Host: 127.0.0.1:port unless given) on the open connection,
  // connecting first if needed, and reads the answer.
  HttpResult Request(const std::string& method, const std::string& target,
                     const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    namespace http = boost::beast::http;
    HttpResult result;
    try {
      if (!connected_) {
        stream_.expires_after(timeout_);
        stream_.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                       static_cast<unsigned short>(port_)));
        connected_ = true;
      }
      http::request<http::string_body> request(http::string_to_verb(method), target, 11);
      request.set(http::field::host, "127.0.0.1:" + std::to_string(port_));
      for (const auto& [name, value] : headers) request.set(name, value);
      request.prepare_payload();
      stream_.expires_after(timeout_);
      http::write(stream_, request);
      boost::beast::flat_buffer buffer;
      http::response_parser<http::string_body> parser;
      parser.body_limit(64 << 20);
      if (method == "HEAD") parser.skip(true);
      http::read(stream_, buffer, parser);
      const auto& response = parser.get();
      result.status = response.result_int();
      for (const auto& field : response) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        result.headers[name] = std::string(field.value());
      }
      result.body = response.body();
      if (!response.keep_alive()) Close();
    } catch (const std::exception& e) {
      result.status = 0;
      result.error = e.what();
      Close();
    }
    return result;
  }

  HttpResult Get(const std::string& target,
                 const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return Request("GET", target, headers);
  }

  // Writes `bytes` as they are (a hand-made request) and reads whatever answer comes.
  HttpResult Raw(const std::string& bytes) {
    namespace http = boost::beast::http;
    HttpResult result;
    try {
      if (!connected_) {
        stream_.expires_after(timeout_);
        stream_.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                       static_cast<unsigned short>(port_)));
        connected_ = true;
      }
      stream_.expires_after(timeout_);
      boost::asio::write(stream_, boost::asio::buffer(bytes));
      boost::beast::flat_buffer buffer;
      http::response<http::string_body> response;
      http::read(stream_, buffer, response);
      result.status = response.result_int();
      result.body = response.body();
    } catch (const std::exception& e) {
      result.error = e.what();
      Close();
    }
    return result;
  }

  bool connected() const { return connected_; }

  void Close() {
    boost::beast::error_code ignored;
    stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    connected_ = false;
  }

 private:
  int port_;
  std::chrono::milliseconds timeout_;
  boost::asio::io_context io_;
  boost::beast::tcp_stream stream_;
  bool connected_ = false;
};

// `count` connections to 127.0.0.1:port that each send half a request header and then nothing, as a
// slow or hostile client does; a connection that fails is kept (closed) all the same.
inline std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> HalfOpenConnections(
    boost::asio::io_context& io, int port, int count) {
  namespace asio = boost::asio;
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> sockets;
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"),
                                         static_cast<unsigned short>(port));
  for (int i = 0; i < count; ++i) {
    auto socket = std::make_unique<asio::ip::tcp::socket>(io);
    boost::system::error_code error;
    socket->connect(endpoint, error);
    if (!error)
      asio::write(*socket, asio::buffer(std::string("GET /api/v1/studies HTTP/1.1\r\nHost: h\r\n")), error);
    sockets.push_back(std::move(socket));
  }
  return sockets;
}

}  // namespace hpo::testing

#endif  // HPO_TESTS_TESTING_HTTP_CLIENT_H_
