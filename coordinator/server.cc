#include "coordinator/server.h"

#include <boost/asio/post.hpp>
#include <cstdio>
#include <exception>

namespace hpo::coordinator {

Server::Server(const ServerOptions& options)
    : options_(options), work_(boost::asio::make_work_guard(io_)), tick_(io_) {}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  if (options.db_path.empty()) return InvalidArgumentError("db: a database file is required");
  std::unique_ptr<Server> server(new Server(options));
  HPO_ASSIGN_OR_RETURN(server->store_, storage::Store::Open(options.db_path));
  CoreOptions core_options;
  core_options.clock = options.clock;
  core_options.heartbeat_ms = options.heartbeat_ms;
  HPO_ASSIGN_OR_RETURN(server->core_, Core::Open(server->store_.get(), core_options));
  server->study_service_ = std::make_unique<StudyServiceImpl>(server->core_.get());
  server->worker_service_ = std::make_unique<WorkerServiceImpl>(server->core_.get());
  Server* raw = server.get();
  // New work answers parked polls at once, on the event loop rather than on the caller's thread.
  server->core_->SetWorkListener(
      [raw] { boost::asio::post(raw->io_, [raw] { raw->worker_service_->ServeWaiting(); }); });

  grpc::ServerBuilder builder;
  // A second coordinator on a taken port must fail, not silently share the port's traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(options.listen_address, grpc::InsecureServerCredentials(), &server->port_);
  builder.RegisterService(server->study_service_.get());
  builder.RegisterService(server->worker_service_.get());
  server->grpc_server_ = builder.BuildAndStart();
  if (server->grpc_server_ == nullptr || server->port_ == 0) {
    return UnavailableError("cannot listen on " + options.listen_address);
  }
  server->ScheduleTick();
  server->io_thread_ = std::thread([raw] { raw->io_.run(); });
  return server;
}

void Server::ScheduleTick() {
  tick_.expires_after(std::chrono::milliseconds(options_.tick_ms));
  tick_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;  // cancelled at shutdown
    // The event loop is an edge: nothing thrown below may end the process.
    try {
      const Status expired = core_->ExpireLeases();
      if (!expired.ok())
        std::fprintf(stderr, "hpo-coordinator: lease expiry: %s\n", expired.ToString().c_str());
      worker_service_->ServeWaiting();
      worker_service_->ReleaseDone();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "hpo-coordinator: event loop: %s\n", e.what());
    }
    ScheduleTick();
  });
}

void Server::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    // A server whose Start() failed part-way has only some of its parts.
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
