// hpo-coordinator: serves studies to users and trials to workers, on one SQLite file.
//
// Security: it listens on loopback (127.0.0.1:50051) unless --listen says otherwise. --token-file (or
// $HPO_TOKEN) makes every call need "authorization: Bearer <token>"; that token is the user's and may make
// every call. --worker-token-file adds a token for hpo-worker that may call WorkerService only, and
// --read-token-file one for the dashboard and Prometheus that may only read (coordinator/auth.h), so that
// a token stolen from a worker node cannot submit studies. --tls-cert and --tls-key make it serve TLS.
// --http HOST:PORT also serves the dashboard and Prometheus's /metrics over HTTP (with a token, the HTTP
// API asks for the user or the read-only one). Logs go to stderr, one line per event (--log-level,
// --log-format).
// Exit codes: 0 after SIGINT/SIGTERM, 1 when it cannot start (database, port), 2 for a bad command line
// or an unusable token or certificate file.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "base/credentials.h"
#include "base/log.h"
#include "coordinator/auth.h"
#include "coordinator/server.h"

namespace {

constexpr int kExitBadConfig = 2;

// True for a listen address only this machine can reach.
bool IsLoopback(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address.rfind("localhost:", 0) == 0 ||
         address.rfind("[::1]:", 0) == 0 || address.rfind("unix:", 0) == 0;
}

// Writes `port` to `path` through a temporary file, so that a reader never sees half of it.
bool WritePortFile(const std::string& path, int port) {
  std::ofstream out(path + ".tmp");
  out << port << "\n";
  out.close();
  return out && std::rename((path + ".tmp").c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  hpo::coordinator::ServerOptions options;
  CLI::App app{"hpo-coordinator: the hpo search service"};
  app.add_option("--listen", options.listen_address, "address to serve gRPC on (default: loopback only)")
      ->capture_default_str();
  app.add_option("--db", options.db_path, "SQLite database file (created when missing)")->required();
  app.add_option("--heartbeat-ms", options.heartbeat_ms, "how often workers heartbeat")
      ->capture_default_str()
      ->check(CLI::Range(50u, 60'000u));
  app.add_option(
         "--worker-lost-ms", options.worker_lost_ms,
         "a worker not heard from for longer (and than three heartbeats) is lost: hpoctl workers says "
         "so, and a study only lost workers could run says it is waiting")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{100}, int64_t{3'600'000}));
  std::string port_file;
  app.add_option("--port-file", port_file, "write the port it listens on to this file (for --listen HOST:0)");
  std::string token_file;
  app.add_option("--token-file", token_file,
                 "file holding the user token, which may make every call (default: $HPO_TOKEN when set; "
                 "neither: no token needed)");
  std::string worker_token_file;
  app.add_option("--worker-token-file", worker_token_file,
                 "file holding the worker token, which may call WorkerService only: give it to hpo-worker, "
                 "so that a trial that reads it cannot create studies (needs --token-file)");
  std::string read_token_file;
  app.add_option("--read-token-file", read_token_file,
                 "file holding the read-only token: StudyService's reads, the dashboard's API and /metrics "
                 "(for the dashboard and Prometheus; needs --token-file)");
  std::string tls_cert;
  std::string tls_key;
  auto* cert_option = app.add_option("--tls-cert", tls_cert, "PEM certificate chain: serve TLS");
  auto* key_option = app.add_option("--tls-key", tls_key, "PEM private key of --tls-cert");
  cert_option->needs(key_option);
  key_option->needs(cert_option);
  app.add_option("--max-request-bytes", options.max_request_bytes,
                 "largest request accepted; larger ones are refused RESOURCE_EXHAUSTED")
      ->capture_default_str()
      ->check(CLI::Range(1024, 1 << 30));
  app.add_option("--http", options.http_address,
                 "HOST:PORT to serve the dashboard and /metrics on over HTTP, e.g. 127.0.0.1:8080 (default: "
                 "no HTTP)");
  app.add_flag("--http-insecure", options.http_insecure,
               "serve --http beyond loopback although it is plain HTTP (behind a TLS proxy, or on a trusted "
               "network); without it such an address is refused");
  std::string http_port_file;
  app.add_option("--http-port-file", http_port_file, "write the HTTP port to this file (for --http HOST:0)");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug, info, warn or error")->capture_default_str();
  std::string log_format = "text";
  app.add_option("--log-format", log_format, "text (logfmt key=value lines) or json (one object a line)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitBadConfig;  // --help is a "ParseError" that exits 0
  }
  const auto level = hpo::log::ParseLevel(log_level);
  const auto format = hpo::log::ParseFormat(log_format);
  if (!level.ok() || !format.ok()) {
    std::fprintf(stderr, "hpo-coordinator: %s\n",
                 (!level.ok() ? level.status() : format.status()).message().c_str());
    return kExitBadConfig;
  }
  hpo::log::Configure(*level, *format);
  if (!options.http_address.empty()) {
    if (const auto http = hpo::coordinator::SplitHostPort(options.http_address, "--http"); !http.ok()) {
      hpo::log::Error("bad command line", {{"error", http.status().message()}});
      return kExitBadConfig;
    }
    if (!IsLoopback(options.http_address) && !options.http_insecure) {
      hpo::log::Error("bad command line",
                      {{"error", "--http " + options.http_address +
                                     " is reachable from other machines and the dashboard is plain HTTP: "
                                     "use a loopback address (and an SSH tunnel or a TLS proxy), or add "
                                     "--http-insecure"}});
      return kExitBadConfig;
    }
  }

  auto token = hpo::LoadToken(token_file, std::getenv(hpo::kTokenEnvVar));
  auto worker_token = hpo::LoadToken(worker_token_file, nullptr);
  auto read_token = hpo::LoadToken(read_token_file, nullptr);
  for (const auto* loaded : {&token, &worker_token, &read_token}) {
    if (!loaded->ok()) {
      hpo::log::Error("bad token", {{"error", loaded->status().message()}});
      return kExitBadConfig;
    }
  }
  const hpo::Status roles = hpo::coordinator::ValidateAuthTokens(
      {*token, *worker_token, *read_token},
      !token_file.empty()                         ? "token file " + token_file
      : std::getenv(hpo::kTokenEnvVar) != nullptr ? std::string("$") + hpo::kTokenEnvVar
                                                  : std::string("--token-file or $") + hpo::kTokenEnvVar,
      "worker token file " + worker_token_file, "read token file " + read_token_file);
  if (!roles.ok()) {
    hpo::log::Error("bad token", {{"error", roles.message()}});
    return kExitBadConfig;
  }
  options.auth_token = *token;
  options.worker_auth_token = *worker_token;
  options.read_auth_token = *read_token;
  if (!tls_cert.empty()) {
    auto cert = hpo::ReadPemFile(tls_cert, "TLS certificate");
    auto key = hpo::ReadPemFile(tls_key, "TLS key");
    if (!cert.ok() || !key.ok()) {
      hpo::log::Error("bad TLS file", {{"error", (!cert.ok() ? cert.status() : key.status()).message()}});
      return kExitBadConfig;
    }
    options.tls_cert_pem = *cert;
    options.tls_key_pem = *key;
  }

  // Block the stop signals before any thread starts, and wait for them here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto server = hpo::coordinator::Server::Start(options);
  if (!server.ok()) {
    hpo::log::Error("cannot start", {{"error", server.status().ToString()}});
    return 1;
  }
  hpo::log::Info("listening", {{"address", options.listen_address},
                               {"port", (*server)->port()},
                               {"tls", (*server)->tls()},
                               {"token_required", (*server)->auth()},
                               {"worker_token", !options.worker_auth_token.empty()},
                               {"read_token", !options.read_auth_token.empty()},
                               {"database", options.db_path}});
  if (!(*server)->auth() && !IsLoopback(options.listen_address)) {
    hpo::log::Warn(
        "reachable from other machines and no token is set: anyone who can connect may create "
        "studies and take trials (--token-file)",
        {{"address", options.listen_address}});
  }
  if ((*server)->http_port() != 0) {
    hpo::log::Info("serving the dashboard and /metrics over HTTP",
                   {{"address", options.http_address}, {"port", (*server)->http_port()}});
    if (!(*server)->auth() && !IsLoopback(options.http_address)) {
      hpo::log::Warn("the dashboard is reachable from other machines and no token is set (--token-file)",
                     {{"address", options.http_address}});
    }
  }
  if (!port_file.empty() && !WritePortFile(port_file, (*server)->port())) {
    hpo::log::Error("cannot write the port file", {{"path", port_file}});
    return 1;
  }
  if (!http_port_file.empty() && !WritePortFile(http_port_file, (*server)->http_port())) {
    hpo::log::Error("cannot write the HTTP port file", {{"path", http_port_file}});
    return 1;
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  hpo::log::Info("shutting down", {{"signal", signal_number}});
  (*server)->Shutdown();
  hpo::log::Info("stopped");
  return 0;
}
