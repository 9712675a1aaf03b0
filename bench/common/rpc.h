// What the benches that drive a real coordinator over gRPC share: a deadline-bound client context and a
// failed call as a Status naming the call. Header-only, so that hpo_bench_common itself needs no gRPC; a
// bench that includes it links gRPC already.
#ifndef HPO_BENCH_COMMON_RPC_H_
#define HPO_BENCH_COMMON_RPC_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "base/status.h"

namespace hpo::bench {

// OK, or INTERNAL "<call>: code N: <message>".
inline Status RpcStatus(const char* call, const grpc::Status& status) {
  if (status.ok()) return Status::Ok();
  return InternalError(std::string(call) + ": code " + std::to_string(status.error_code()) + ": " +
                       status.error_message());
}

// A client context whose call must end within 60 s.
inline std::unique_ptr<grpc::ClientContext> RpcContext() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return context;
}

}  // namespace hpo::bench

#endif  // HPO_BENCH_COMMON_RPC_H_
