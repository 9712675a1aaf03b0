// Server: a running coordinator: the Store on its SQLite file, the Core, the gRPC services, the event
// loop (Boost.Asio) that answers parked long polls and expires leases, and, when asked for, the HTTP
// server of the dashboard and /metrics (coordinator/dashboard_api.h).
//
// Security (DESIGN.md): it listens on loopback unless told otherwise; with a token, every StudyService and
// WorkerService call must carry "authorization: Bearer <token>" of a role that may make it (TokenAuth: a
// user token, and optionally a worker and a read-only token); with a certificate and key
// it serves TLS only. The standard health service (grpc.health.v1.Health) and server reflection
// (grpc.reflection.v1alpha.ServerReflection, the schema only) answer without a token. Every call is
// counted and timed by method for /metrics (an interceptor; the services know nothing of it).
// Requests larger than max_request_bytes are refused RESOURCE_EXHAUSTED before any handler sees them.
//
// Start() returns once the server listens; Shutdown() (idempotent, thread-safe) stops it and waits.
#ifndef HPO_COORDINATOR_SERVER_H_
#define HPO_COORDINATOR_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/status.h"
#include "coordinator/auth.h"
#include "coordinator/core.h"
#include "coordinator/dashboard_api.h"
#include "coordinator/http_server.h"
#include "coordinator/metrics.h"
#include "coordinator/service.h"
#include "storage/store.h"

namespace hpo::coordinator {

// The default request size limit: 4 MiB, gRPC's own default, stated here so that it is a decision.
inline constexpr int kDefaultMaxRequestBytes = 4 << 20;

struct ServerOptions {
  std::string listen_address = "127.0.0.1:50051";  // loopback only; port 0 picks a free one (Server::port)
  std::string db_path;                             // REQUIRED: the SQLite file
  uint32_t heartbeat_ms = 1000;                    // how often workers heartbeat
  int64_t worker_lost_ms = 10'000;                 // CoreOptions::worker_lost_ms
  uint32_t tick_ms = 100;                          // how often parked polls and leases are checked
  const Clock* clock = SystemClock::Default();     // must outlive the Server
  // When not empty, the user token: every StudyService and WorkerService call must carry a token (else
  // UNAUTHENTICATED), and this one may call them all. Must be a valid, strong token (ValidateToken and
  // CheckTokenStrength, base/credentials.h). Default "": no check.
  std::string auth_token;
  // When not empty, the worker token: it may call WorkerService only (a trial that reads its worker's
  // token cannot create studies); the read-only token: StudyService's reads, the dashboard's API and
  // /metrics only. Each needs auth_token, must be valid and strong, and must differ from the others
  // (ValidateAuthTokens, coordinator/auth.h). Default "": none.
  std::string worker_auth_token;
  std::string read_auth_token;
  // PEM certificate chain and its private key: serve TLS (and nothing else). Both or neither. Default "":
  // plaintext.
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // The largest request message accepted, in bytes; a larger one is refused RESOURCE_EXHAUSTED and stores
  // nothing. REQUIRES > 0.
  int max_request_bytes = kDefaultMaxRequestBytes;
  // host:port for the dashboard and /metrics over HTTP (port 0 picks a free one: Server::http_port);
  // "" (the default): no HTTP. With auth_token set, the HTTP API asks for the user or the read-only token.
  std::string http_address;
  int http_threads = 2;  // REQUIRES >= 1
  // The dashboard speaks plain HTTP, so an http_address beyond loopback is refused (its token and the
  // studies would cross the network in clear) unless this is set: for a port behind a TLS proxy, or on a
  // network the operator trusts.
  bool http_insecure = false;
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options);
  ~Server();

  // The port it listens on; the HTTP port (0 without HTTP).
  int port() const { return port_; }
  int http_port() const { return http_port_; }
  // True when it serves TLS; true when calls need a token.
  bool tls() const { return !options_.tls_cert_pem.empty(); }
  bool auth() const { return auth_.enabled(); }

  void Shutdown();

 private:
  explicit Server(const ServerOptions& options);
  void ScheduleTick();

  const ServerOptions options_;
  const TokenAuth auth_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Core> core_;
  std::unique_ptr<StudyServiceImpl> study_service_;
  std::unique_ptr<WorkerServiceImpl> worker_service_;
  RpcMetrics rpc_metrics_;  // fed by the gRPC interceptor; read by /metrics
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<DashboardApi> dashboard_;
  std::unique_ptr<HttpServer> http_server_;
  int http_port_ = 0;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer tick_;
  std::thread io_thread_;
  int port_ = 0;
  std::once_flag shutdown_once_;
};

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_SERVER_H_
