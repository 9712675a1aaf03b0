// hpo-coordinator: serves studies to users and trials to workers, on one SQLite file.
//
// Security: it listens on loopback (127.0.0.1:50051) unless --listen says otherwise. --token-file (or
// $HPO_TOKEN) makes every call need "authorization: Bearer <token>"; --tls-cert and --tls-key make it
// serve TLS. Exit codes: 0 after SIGINT/SIGTERM, 1 when it cannot start (database, port), 2 for a bad
// command line or an unusable token or certificate file.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "base/credentials.h"
#include "coordinator/server.h"

namespace {

constexpr int kExitBadConfig = 2;

// True for a listen address only this machine can reach.
bool IsLoopback(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address.rfind("localhost:", 0) == 0 ||
         address.rfind("[::1]:", 0) == 0 || address.rfind("unix:", 0) == 0;
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
  std::string port_file;
  app.add_option("--port-file", port_file, "write the port it listens on to this file (for --listen HOST:0)");
  std::string token_file;
  app.add_option("--token-file", token_file,
                 "file holding the bearer token every call must carry (default: $HPO_TOKEN when set; "
                 "neither: no token needed)");
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitBadConfig;  // --help is a "ParseError" that exits 0
  }

  auto token = hpo::LoadToken(token_file, std::getenv(hpo::kTokenEnvVar));
  if (!token.ok()) {
    std::fprintf(stderr, "hpo-coordinator: %s\n", token.status().message().c_str());
    return kExitBadConfig;
  }
  options.auth_token = *token;
  if (!tls_cert.empty()) {
    auto cert = hpo::ReadPemFile(tls_cert, "TLS certificate");
    auto key = hpo::ReadPemFile(tls_key, "TLS key");
    if (!cert.ok() || !key.ok()) {
      std::fprintf(stderr, "hpo-coordinator: %s\n",
                   (!cert.ok() ? cert.status() : key.status()).message().c_str());
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
    std::fprintf(stderr, "hpo-coordinator: %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "hpo-coordinator: listening on %s (port %d, %s, %s), database %s\n",
               options.listen_address.c_str(), (*server)->port(), (*server)->tls() ? "TLS" : "plaintext",
               (*server)->auth() ? "token required" : "no token", options.db_path.c_str());
  if (!(*server)->auth() && !IsLoopback(options.listen_address)) {
    std::fprintf(stderr,
                 "hpo-coordinator: warning: %s is reachable from other machines and no token is set: "
                 "anyone who can connect may create studies and take trials (--token-file)\n",
                 options.listen_address.c_str());
  }
  if (!port_file.empty()) {
    std::ofstream out(port_file + ".tmp");
    out << (*server)->port() << "\n";
    out.close();
    if (!out || std::rename((port_file + ".tmp").c_str(), port_file.c_str()) != 0) {
      std::fprintf(stderr, "hpo-coordinator: cannot write port file %s\n", port_file.c_str());
      return 1;
    }
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::fprintf(stderr, "hpo-coordinator: signal %d, shutting down\n", signal_number);
  (*server)->Shutdown();
  return 0;
}
