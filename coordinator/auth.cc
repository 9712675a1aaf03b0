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

}  // namespace

Status TokenAuth::Check(const grpc::ServerContextBase& context) const {
  if (!enabled()) return Status::Ok();
  std::vector<std::string_view> values;
  const auto [begin, end] =
      context.client_metadata().equal_range(grpc::string_ref(kMetadataKey.data(), kMetadataKey.size()));
  for (auto it = begin; it != end; ++it) values.emplace_back(it->second.data(), it->second.size());
  return CheckAuthorization(values);
}

Status TokenAuth::CheckAuthorization(const std::vector<std::string_view>& values) const {
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
  if (!ConstantTimeEquals(value.substr(kScheme.size()), token_)) {
    return UnauthenticatedError("invalid bearer token");
  }
  return Status::Ok();
}

}  // namespace hpo::coordinator
