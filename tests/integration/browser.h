// Browser: Debian's headless Chromium, driven over the DevTools protocol (a WebSocket, with Boost.Beast),
// for the dashboard's end-to-end test: it opens a page and evaluates JavaScript in it, so that the test
// reads what the page shows as the page changes, and can hover and click.
//
// Chromium runs as a child process (tests/fault/process.h) in its own process group, with a profile in a
// directory of the test's; the destructor kills the group. Not thread-safe; owned by one test.
#ifndef HPO_TESTS_INTEGRATION_BROWSER_H_
#define HPO_TESTS_INTEGRATION_BROWSER_H_

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "base/strings.h"
#include "tests/fault/process.h"
#include "tests/testing/http_client.h"

namespace hpo::testing {

// The Chromium to run: $HPO_CHROMIUM, else the first of chromium, chromium-browser, google-chrome found
// on the usual paths; "" when there is none.
inline std::string FindChromium() {
  if (const char* env = std::getenv("HPO_CHROMIUM"); env != nullptr && *env != '\0') return env;
  for (const char* path : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome",
                           "/usr/local/bin/chromium"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

class Browser {
 public:
  // Starts Chromium on `url`, with its profile under `dir` and its output in `dir`/chromium.log, and
  // connects to the page. On failure returns nullptr and says why in *error.
  static std::unique_ptr<Browser> Launch(const std::string& chromium, const std::string& url,
                                         const std::string& dir, std::string* error) {
    std::unique_ptr<Browser> browser(new Browser());
    browser->log_ = dir + "/chromium.log";
    const std::string profile = dir + "/chromium-profile";
    std::filesystem::create_directories(profile);
    browser->process_ = std::make_unique<fault::Process>(
        std::vector<std::string>{chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                 "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                                 "--disable-extensions", "--remote-debugging-port=0",
                                 "--remote-debugging-address=127.0.0.1", "--user-data-dir=" + profile,
                                 "--window-size=1280,900", url},
        browser->log_);
    if (!browser->process_->running()) {
      *error = "cannot start " + chromium + ": " + browser->process_->error();
      return nullptr;
    }
    // Chromium writes the port it chose to DevToolsActivePort in its profile.
    int port = 0;
    const bool up = fault::WaitFor(
        [&] {
          std::ifstream in(profile + "/DevToolsActivePort");
          return static_cast<bool>(in >> port) && port > 0;
        },
        std::chrono::seconds(30));
    if (!up) {
      *error = "Chromium did not open its DevTools port within 30 s:\n" + fault::ReadFile(browser->log_);
      return nullptr;
    }
    // The page's WebSocket address, from the list of targets.
    std::string ws_path;
    fault::WaitFor(
        [&] {
          const HttpResult targets = HttpClient(port).Get("/json/list");
          google::protobuf::ListValue list;
          if (targets.status != 200 ||
              !google::protobuf::util::JsonStringToMessage(targets.body, &list).ok()) {
            return false;
          }
          for (const auto& target : list.values()) {
            const auto& fields = target.struct_value().fields();
            if (fields.count("type") && fields.at("type").string_value() == "page" &&
                fields.count("webSocketDebuggerUrl")) {
              const std::string ws =
                  fields.at("webSocketDebuggerUrl").string_value();  // ws://host:port/devtools/...
              ws_path = ws.substr(ws.find('/', std::string("ws://").size()));
              return true;
            }
          }
          return false;
        },
        std::chrono::seconds(15));
    if (ws_path.empty()) {
      *error = "Chromium lists no page target:\n" + fault::ReadFile(browser->log_);
      return nullptr;
    }
    try {
      browser->ws_ =
          std::make_unique<boost::beast::websocket::stream<boost::asio::ip::tcp::socket>>(browser->io_);
      browser->ws_->next_layer().connect(boost::asio::ip::tcp::endpoint(
          boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
      browser->ws_->handshake("127.0.0.1:" + std::to_string(port), ws_path);
    } catch (const std::exception& e) {
      *error = std::string("cannot connect to Chromium's DevTools: ") + e.what();
      return nullptr;
    }
    return browser;
  }

  ~Browser() {
    if (ws_) {
      boost::beast::error_code ignored;
      ws_->next_layer().close(ignored);
    }
    // Chromium's own children (renderer, utility processes) are in its group.
    if (process_ && process_->running()) kill(-process_->pid(), SIGKILL);
  }

  // Evaluates `expression` in the page (a promise is awaited) and returns its value as JSON, or nullopt
  // with the reason in *error (an exception in the page, a broken connection).
  std::optional<google::protobuf::Value> Evaluate(const std::string& expression, std::string* error) {
    const std::optional<google::protobuf::Struct> answer = Call(
        "Runtime.evaluate",
        "{\"expression\":" + JsonQuote(expression) + ",\"returnByValue\":true,\"awaitPromise\":true}", error);
    if (!answer) {
      if (error->rfind("DevTools error", 0) == 0) *error = "DevTools error for " + expression;
      return std::nullopt;
    }
    const auto& result = answer->fields();
    if (result.count("exceptionDetails")) {
      std::string text;
      (void)google::protobuf::util::MessageToJsonString(result.at("exceptionDetails"), &text);
      *error = "the page threw on " + expression + ": " + text;
      return std::nullopt;
    }
    const auto& value = result.at("result").struct_value().fields();
    if (!value.count("value")) return google::protobuf::Value();  // undefined
    return value.at("value");
  }

  // Calls DevTools method `method` with `params` (a JSON object) and returns its result, or nullopt with
  // the reason in *error.
  std::optional<google::protobuf::Struct> Call(const std::string& method, const std::string& params,
                                               std::string* error) {
    const int id = ++next_id_;
    const std::string request =
        "{\"id\":" + std::to_string(id) + ",\"method\":" + JsonQuote(method) + ",\"params\":" + params + "}";
    try {
      ws_->text(true);
      ws_->write(boost::asio::buffer(request));
      for (;;) {
        boost::beast::flat_buffer buffer;
        ws_->read(buffer);
        google::protobuf::Struct message;
        if (!google::protobuf::util::JsonStringToMessage(boost::beast::buffers_to_string(buffer.data()),
                                                         &message)
                 .ok()) {
          continue;
        }
        const auto& fields = message.fields();
        if (!fields.count("id") || static_cast<int>(fields.at("id").number_value()) != id) continue;
        if (fields.count("error")) {
          *error = "DevTools error for " + method;
          return std::nullopt;
        }
        return fields.at("result").struct_value();
      }
    } catch (const std::exception& e) {
      *error = std::string("DevTools connection: ") + e.what() + "\n" + fault::ReadFile(log_);
      return std::nullopt;
    }
  }

  // Writes a PNG of the whole page (`width` CSS pixels wide, as tall as the page) to `path`. False, with
  // the reason in *error, on failure.
  bool Screenshot(const std::string& path, int width, std::string* error) {
    const auto height = Evaluate("document.documentElement.scrollHeight", error);
    if (!height) return false;
    const int h = static_cast<int>(height->number_value());
    if (!Call("Emulation.setDeviceMetricsOverride",
              "{\"width\":" + std::to_string(width) + ",\"height\":" + std::to_string(h) +
                  ",\"deviceScaleFactor\":1,\"mobile\":false}",
              error))
      return false;
    const auto shot = Call("Page.captureScreenshot", "{\"format\":\"png\"}", error);
    if (!shot || !shot->fields().count("data")) return false;
    const std::string& encoded = shot->fields().at("data").string_value();
    std::string png(boost::beast::detail::base64::decoded_size(encoded.size()), '\0');
    const auto decoded = boost::beast::detail::base64::decode(png.data(), encoded.data(), encoded.size());
    png.resize(decoded.first);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << png;
    if (!out) {
      *error = "cannot write " + path;
      return false;
    }
    return true;
  }

  // Evaluates the boolean `expression` every 50 ms until it is true (returns true) or `limit` passes.
  bool WaitUntil(const std::string& expression, std::chrono::milliseconds limit, std::string* error) {
    return fault::WaitFor(
        [&] {
          const auto value = Evaluate(expression, error);
          if (value.has_value() && value->bool_value()) return true;
          std::this_thread::sleep_for(std::chrono::milliseconds(40));
          return false;
        },
        limit);
  }

 private:
  Browser() = default;

  std::string log_;
  std::unique_ptr<fault::Process> process_;
  boost::asio::io_context io_;
  std::unique_ptr<boost::beast::websocket::stream<boost::asio::ip::tcp::socket>> ws_;
  int next_id_ = 0;
};

}  // namespace hpo::testing

#endif  // HPO_TESTS_INTEGRATION_BROWSER_H_
