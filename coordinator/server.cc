#include "coordinator/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>

#include <boost/asio/post.hpp>
#include <exception>

#include "base/credentials.h"
#include "base/log.h"

namespace hpo::coordinator {

namespace {

// True for a host only this machine can reach.
bool IsLoopbackHost(const std::string& host) {
  return host.rfind("127.", 0) == 0 || host == "localhost" || host == "::1";
}

AuthTokens Tokens(const ServerOptions& options) {
  return AuthTokens{options.auth_token, options.worker_auth_token, options.read_auth_token};
}

// Checks the security and limit options; says which one is wrong.
Status ValidateOptions(const ServerOptions& options) {
  if (options.db_path.empty()) return InvalidArgumentError("db: a database file is required");
  HPO_RETURN_IF_ERROR(
      ValidateAuthTokens(Tokens(options), "auth_token", "worker_auth_token", "read_auth_token"));
  if (options.tls_cert_pem.empty() != options.tls_key_pem.empty()) {
    return InvalidArgumentError("tls: a certificate needs its private key, and a key its certificate");
  }
  if (options.max_request_bytes <= 0) return InvalidArgumentError("max_request_bytes: must be positive");
  if (!options.http_address.empty()) {
    HPO_ASSIGN_OR_RETURN(const auto host_port, SplitHostPort(options.http_address, "http"));
    if (options.http_threads < 1) return InvalidArgumentError("http_threads: must be at least 1");
    if (!IsLoopbackHost(host_port.first) && !options.http_insecure) {
      return InvalidArgumentError(
          "http: " + options.http_address +
          " is reachable from other machines, and the dashboard speaks plain HTTP (its token and the "
          "studies would cross the network in clear): serve it on loopback and reach it through an SSH "
          "tunnel or a TLS proxy, or pass --http-insecure to serve it so anyway");
    }
  }
  return Status::Ok();
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const ServerOptions& options) {
  if (options.tls_cert_pem.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({options.tls_key_pem, options.tls_cert_pem});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

Server::Server(const ServerOptions& options)
    : options_(options), auth_(Tokens(options)), work_(boost::asio::make_work_guard(io_)), tick_(io_) {}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  HPO_RETURN_IF_ERROR(ValidateOptions(options));
  std::unique_ptr<Server> server(new Server(options));
  HPO_ASSIGN_OR_RETURN(server->store_, storage::Store::Open(options.db_path));
  CoreOptions core_options;
  core_options.clock = options.clock;
  core_options.heartbeat_ms = options.heartbeat_ms;
  core_options.worker_lost_ms = options.worker_lost_ms;
  HPO_ASSIGN_OR_RETURN(server->core_, Core::Open(server->store_.get(), core_options));
  server->study_service_ = std::make_unique<StudyServiceImpl>(server->core_.get(), &server->auth_);
  server->worker_service_ = std::make_unique<WorkerServiceImpl>(server->core_.get(), &server->auth_);
  Server* raw = server.get();
  // New work answers parked polls at once, on the event loop rather than on the caller's thread.
  server->core_->SetWorkListener(
      [raw] { boost::asio::post(raw->io_, [raw] { raw->worker_service_->ServeWaiting(); }); });

  // grpc.health.v1.Health, served by gRPC itself and open without a token (it says nothing of studies);
  // server reflection, for grpcurl and grpc_cli, likewise (it tells the schema, which is public).
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(MakeRpcMetricsInterceptorFactory(&server->rpc_metrics_));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  // A second coordinator on a taken port must fail, not silently share the port's traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // An oversized request is refused by gRPC before any handler sees it.
  builder.SetMaxReceiveMessageSize(options.max_request_bytes);
  builder.AddListeningPort(options.listen_address, MakeServerCredentials(options), &server->port_);
  builder.RegisterService(server->study_service_.get());
  builder.RegisterService(server->worker_service_.get());
  server->grpc_server_ = builder.BuildAndStart();
  if (server->grpc_server_ == nullptr || server->port_ == 0) {
    return UnavailableError(
        "cannot listen on " + options.listen_address +
        (options.tls_cert_pem.empty()
             ? ""
             : " with TLS (is the port taken, or are the certificate and key not a pair?)"));
  }
  server->ScheduleTick();
  server->io_thread_ = std::thread([raw] { raw->io_.run(); });

  if (!options.http_address.empty()) {
    HttpServerOptions http;
    http.address = options.http_address;
    http.threads = options.http_threads;
    DashboardOptions dashboard;
    dashboard.loopback_only = IsLoopbackHost(SplitHostPort(options.http_address, "http")->first);
    server->dashboard_ =
        std::make_unique<DashboardApi>(server->core_.get(), &server->auth_, &server->rpc_metrics_, dashboard);
    DashboardApi* api = server->dashboard_.get();
    auto http_server =
        HttpServer::Start(http, [api](const HttpRequest& request) { return api->Handle(request); });
    if (!http_server.ok()) {
      server->Shutdown();
      return http_server.status();
    }
    server->http_server_ = std::move(*http_server);
    server->http_port_ = server->http_server_->port();
  }
  return server;
}

void Server::ScheduleTick() {
  tick_.expires_after(std::chrono::milliseconds(options_.tick_ms));
  tick_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;  // cancelled at shutdown
    // The event loop is an edge: nothing thrown below may end the process.
    try {
      const Status expired = core_->ExpireLeases();
      if (!expired.ok()) log::Error("lease expiry failed", {{"error", expired.ToString()}});
      worker_service_->ServeWaiting();
      worker_service_->ReleaseDone();
    } catch (const std::exception& e) {
      log::Error("event loop", {{"error", e.what()}});
    }
    ScheduleTick();
  });
}

void Server::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    // A server whose Start() failed part-way has only some of its parts. HTTP first: its handlers read
    // through the Core.
    if (http_server_) http_server_->Shutdown();
    if (worker_service_) worker_service_->FinishAllWaiting();
    if (grpc_server_) grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    boost::asio::post(io_, [this] { tick_.cancel(); });
    work_.reset();
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
    if (worker_service_) worker_service_->ReleaseDone();
  });
}

Server::~Server() { Shutdown(); }

}  // namespace hpo::coordinator
