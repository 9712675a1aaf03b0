#include "coordinator/auth.h"

#include <cctype>

#include "base/credentials.h"

namespace hpo::coordinator {
namespace {

constexpr std::string_view kMetadataKey = "authorization";  // gRPC keys are lower case
constexpr std::string_view kScheme = "bearer ";

bool StartsWithIgnoringCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

enum class Role { kNone, kUser, kWorker, kRead };

// What a role may do, in words, for PERMISSION_DENIED.
std::string_view RoleName(Role role) { return role == Role::kWorker ? "worker" : "read-only"; }
std::string_view RoleScope(Role role) {
  return role == Role::kWorker
             ? "WorkerService methods only (workers take and report trials with it; studies need the user "
               "token)"
             : "the read-only StudyService methods (GetStudy, ListStudies, ListTrials, GetParetoFront, "
               "ListWorkers), the "
               "dashboard's API and /metrics only";
}

bool Allows(Role role, Access access) {
  switch (role) {
    case Role::kUser:
      return true;
    case Role::kWorker:
      return access == Access::kWorker;
    case Role::kRead:
      return access == Access::kRead;
    case Role::kNone:
      return false;
  }
  return false;
}

}  // namespace

Status ValidateAuthTokens(const AuthTokens& tokens, std::string_view user_name, std::string_view worker_name,
                          std::string_view read_name) {
  const struct {
    const std::string& token;
    std::string_view name;
  } all[] = {{tokens.user, user_name}, {tokens.worker, worker_name}, {tokens.read, read_name}};
  for (const auto& [token, name] : all) {
    if (token.empty()) continue;
    HPO_RETURN_IF_ERROR(ValidateToken(token, name));
    HPO_RETURN_IF_ERROR(CheckTokenStrength(token, name));
  }
  for (const auto& [token, name] : {all[1], all[2]}) {
    if (!token.empty() && tokens.user.empty()) {
      return InvalidArgumentError(std::string(name) + ": a role token needs the user token (" +
                                  std::string(user_name) + ") too, which may do everything");
    }
  }
  for (size_t i = 0; i < 3; ++i) {
    for (size_t j = i + 1; j < 3; ++j) {
      if (!all[i].token.empty() && ConstantTimeEquals(all[i].token, all[j].token)) {
        return InvalidArgumentError(std::string(all[j].name) + ": the same token as " +
                                    std::string(all[i].name) + "; each role needs a token of its own");
      }
    }
  }
  return Status::Ok();
}

Status TokenAuth::Check(const grpc::ServerContextBase& context, Access access,
                        std::string_view method) const {
  if (!enabled()) return Status::Ok();
  std::vector<std::string_view> values;
  const auto [begin, end] =
      context.client_metadata().equal_range(grpc::string_ref(kMetadataKey.data(), kMetadataKey.size()));
  for (auto it = begin; it != end; ++it) values.emplace_back(it->second.data(), it->second.size());
  return CheckAuthorization(values, access, method);
}

Status TokenAuth::CheckAuthorization(const std::vector<std::string_view>& values, Access access,
                                     std::string_view method) const {
  if (!enabled()) return Status::Ok();
  if (values.empty()) {
    return UnauthenticatedError(
        "missing credentials: this coordinator requires the metadata \"authorization: Bearer <token>\" "
        "(hpoctl and hpo-worker send it when given --token-file or $HPO_TOKEN)");
  }
  if (values.size() > 1) return UnauthenticatedError("more than one \"authorization\" metadata entry");
  const std::string_view value = values.front();
  if (!StartsWithIgnoringCase(value, kScheme)) {
    return UnauthenticatedError("the \"authorization\" metadata is not of the form \"Bearer <token>\"");
  }
  const std::string_view presented = value.substr(kScheme.size());
  // Every token is compared, whichever matches, so that the time taken says nothing of which role it is.
  Role role = Role::kNone;
  const bool user = ConstantTimeEquals(presented, tokens_.user);
  const bool worker = has_worker_token() && ConstantTimeEquals(presented, tokens_.worker);
  const bool read = has_read_token() && ConstantTimeEquals(presented, tokens_.read);
  if (user) role = Role::kUser;
  if (worker) role = Role::kWorker;
  if (read) role = Role::kRead;
  if (role == Role::kNone) return UnauthenticatedError("invalid bearer token");
  if (!Allows(role, access)) {
    return Status(StatusCode::kPermissionDenied, "the " + std::string(RoleName(role)) +
                                                     " token may not call " + std::string(method) +
                                                     ": it may call " + std::string(RoleScope(role)));
  }
  return Status::Ok();
}

}  // namespace hpo::coordinator
