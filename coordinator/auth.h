// TokenAuth: the coordinator's bearer-token check, by role. When it holds a token, every StudyService and
// WorkerService call must carry the metadata "authorization: Bearer <token>": each RPC handler asks
// Check() before it does anything else, so a refused call changes nothing. The standard gRPC health
// service (grpc.health.v1.Health) does not ask, so probes and load balancers need no token.
//
// Up to three tokens, one per role (AuthTokens), so that a credential stolen from one place cannot do
// everything:
//   user    every method: StudyService, WorkerService (the Python client's ask/tell of an external study
//           calls WorkerService), the dashboard's API and /metrics. For hpoctl and the Python client.
//   worker  WorkerService only. For hpo-worker: a trial that reads its worker's token cannot create or
//           cancel studies, nor read them.
//   read    the read-only StudyService methods (GetStudy, ListStudies, ListTrials, GetParetoFront,
//   ListWorkers), the
//           dashboard's API and /metrics. For the dashboard and Prometheus.
// A token of the wrong role is refused PERMISSION_DENIED naming its role and the method; an unknown one
// UNAUTHENTICATED.
//
// The check is in the handlers rather than in a grpc::AuthMetadataProcessor because gRPC 1.51 lets a
// processor be set on TLS credentials only, and the coordinator also serves without TLS (loopback).
//
// Immutable after construction; thread-safe. A TokenAuth with no user token lets every call through.
#ifndef HPO_COORDINATOR_AUTH_H_
#define HPO_COORDINATOR_AUTH_H_

#include <grpcpp/server_context.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace hpo::coordinator {

// What a method asks of its caller's token.
enum class Access {
  kRead,    // reads studies: StudyService's Get/List methods, the dashboard's API, /metrics
  kWrite,   // changes studies: StudyService.CreateStudy, CancelStudy, DeleteStudy
  kWorker,  // WorkerService: takes and reports trials
};

// The tokens of each role. Each one set must be valid (ValidateToken, base/credentials.h) and differ from
// the others; worker and read need user (ValidateAuthTokens).
struct AuthTokens {
  std::string user;    // every method; "" (the default): no check at all
  std::string worker;  // Access::kWorker only; "" (the default): workers use the user token
  std::string read;    // Access::kRead only; "" (the default): no read-only token
};

// OK, or INVALID_ARGUMENT naming the option (`user_name`, `worker_name`, `read_name`, e.g. "--token-file")
// whose token is not valid, not strong enough (CheckTokenStrength), the same as another, or given without
// a user token.
Status ValidateAuthTokens(const AuthTokens& tokens, std::string_view user_name, std::string_view worker_name,
                          std::string_view read_name);

class TokenAuth {
 public:
  // No token: every call passes.
  TokenAuth() = default;
  // Calls must carry `token`, which may do everything; an empty `token` means no check.
  // REQUIRES: ValidateToken(token) when not empty (base/credentials.h).
  explicit TokenAuth(std::string token) : tokens_{std::move(token), {}, {}} {}
  // One token per role. REQUIRES: ValidateAuthTokens(tokens) is OK.
  explicit TokenAuth(AuthTokens tokens) : tokens_(std::move(tokens)) {}

  bool enabled() const { return !tokens_.user.empty(); }
  bool has_worker_token() const { return !tokens_.worker.empty(); }
  bool has_read_token() const { return !tokens_.read.empty(); }

  // OK when the call may proceed; UNAUTHENTICATED saying what is missing or wrong; PERMISSION_DENIED
  // naming the token's role and `method` (e.g. "StudyService.CreateStudy") when its role may not `access`.
  Status Check(const grpc::ServerContextBase& context, Access access, std::string_view method) const;

  // The same decision for the values of a call's "authorization" metadata. The scheme "Bearer" is
  // matched case-insensitively (RFC 7235); the token exactly, in constant time.
  Status CheckAuthorization(const std::vector<std::string_view>& values, Access access,
                            std::string_view method) const;

 private:
  const AuthTokens tokens_;
};

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_AUTH_H_
