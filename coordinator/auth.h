// TokenAuth: the coordinator's bearer-token check. When it holds a token, every StudyService and
// WorkerService call must carry the metadata "authorization: Bearer <token>": each RPC handler asks
// Check() before it does anything else, so a refused call changes nothing. The standard gRPC health
// service (grpc.health.v1.Health) does not ask, so probes and load balancers need no token.
//
// The check is in the handlers rather than in a grpc::AuthMetadataProcessor because gRPC 1.51 lets a
// processor be set on TLS credentials only, and the coordinator also serves without TLS (loopback).
//
// Immutable after construction; thread-safe. A TokenAuth with no token lets every call through.
#ifndef HPO_COORDINATOR_AUTH_H_
#define HPO_COORDINATOR_AUTH_H_

#include <grpcpp/server_context.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace hpo::coordinator {

class TokenAuth {
 public:
  // No token: every call passes.
  TokenAuth() = default;
  // Calls must carry `token`; an empty `token` means no check. REQUIRES: ValidateToken(token) when not
  // empty (base/credentials.h).
  explicit TokenAuth(std::string token) : token_(std::move(token)) {}

  bool enabled() const { return !token_.empty(); }

  // OK when the call may proceed; UNAUTHENTICATED saying what is missing or wrong otherwise.
  Status Check(const grpc::ServerContextBase& context) const;

  // The same decision for the values of a call's "authorization" metadata. The scheme "Bearer" is
  // matched case-insensitively (RFC 7235); the token exactly, in constant time.
  Status CheckAuthorization(const std::vector<std::string_view>& values) const;

 private:
  const std::string token_;
};

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_AUTH_H_
