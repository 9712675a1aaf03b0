// hpo-coordinator: serves studies to users and trials to workers, on one SQLite file.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <string>

#include "coordinator/server.h"

int main(int argc, char** argv) {
  hpo::coordinator::ServerOptions options;
  CLI::App app{"hpo-coordinator: the hpo search service"};
  app.add_option("--listen", options.listen_address, "address to serve gRPC on")->capture_default_str();
  app.add_option("--db", options.db_path, "SQLite database file (created when missing)")->required();
  app.add_option("--heartbeat-ms", options.heartbeat_ms, "how often workers heartbeat")
      ->capture_default_str()
      ->check(CLI::Range(50u, 60'000u));
  std::string port_file;
  app.add_option("--port-file", port_file, "write the port it listens on to this file (for --listen HOST:0)");
  CLI11_PARSE(app, argc, argv);

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
  std::fprintf(stderr, "hpo-coordinator: listening on %s (port %d), database %s\n",
               options.listen_address.c_str(), (*server)->port(), options.db_path.c_str());
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
