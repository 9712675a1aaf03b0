#include "client/cli.h"

#include <charconv>
#include <string>

#include "base/credentials.h"

namespace hpo::client {

Result<uint64_t> ParseStudyId(std::string_view text) {
  std::string quoted = "'";
  quoted += text;
  quoted += '\'';
  if (text.empty()) return InvalidArgumentError("STUDY must be a positive integer, got an empty string");
  for (char c : text) {
    if (c < '0' || c > '9') return InvalidArgumentError("STUDY must be a positive integer, got " + quoted);
  }
  uint64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec == std::errc::result_out_of_range) {
    return InvalidArgumentError("STUDY is out of range: " + quoted);
  }
  if (ec != std::errc() || end != text.data() + text.size() || id == 0) {
    return InvalidArgumentError("STUDY must be a positive integer, got " + quoted);
  }
  return id;
}

bool IsTransportError(StatusCode code) {
  return code == StatusCode::kUnavailable || code == StatusCode::kDeadlineExceeded;
}

int ExitCodeForRpcError(const Status& status) {
  return IsTransportError(status.code()) ? kExitUnreachable : kExitFailed;
}

namespace {

constexpr std::string_view kCannotReach = "cannot reach ";
constexpr std::string_view kNoAnswerFrom = "no answer from ";

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// The reason in words for gRPC's transport message, or "" when it is not one of the transport's.
std::string TransportReason(std::string_view message) {
  if (Contains(message, "Connection refused"))
    return "connection refused (is hpo-coordinator running there?)";
  if (Contains(message, "DNS resolution failed") || Contains(message, "Domain name not found") ||
      Contains(message, "Name or service not known") || Contains(message, "name resolution")) {
    return "the host name does not resolve";
  }
  if (Contains(message, "Connection timed out") || Contains(message, "Timeout occurred")) {
    return "the connection timed out";
  }
  if (Contains(message, "No route to host")) return "no route to host";
  if (Contains(message, "Network is unreachable")) return "the network is unreachable";
  if (Contains(message, "Connection reset by peer")) return "the connection was reset";
  if (Contains(message, "Socket closed") || Contains(message, "wrong version number") ||
      Contains(message, "andshake failed")) {
    const std::string hint = TransportHint(message);  // " (...)", naming --tls-ca
    if (Contains(message, "Socket closed")) return "the connection was closed" + hint;
    return "the TLS handshake failed" + hint;
  }
  if (Contains(message, "failed to connect to all addresses") || Contains(message, "empty address list") ||
      Contains(message, "Failed to connect")) {
    return "could not connect";
  }
  return "";
}

}  // namespace

std::optional<std::string> DescribeNoAnswer(std::string_view address, const Status& status,
                                            int64_t deadline_ms) {
  if (status.code() == StatusCode::kDeadlineExceeded) {
    return std::string(kNoAnswerFrom) + std::string(address) + " within " + std::to_string(deadline_ms) +
           " ms (--deadline-ms)";
  }
  if (status.code() != StatusCode::kUnavailable) return std::nullopt;
  const std::string reason = TransportReason(status.message());
  if (reason.empty()) return std::nullopt;
  return std::string(kCannotReach) + std::string(address) + ": " + reason;
}

bool IsNoAnswerMessage(std::string_view message) {
  return message.starts_with(kCannotReach) || message.starts_with(kNoAnswerFrom);
}

bool IsFinalState(v1::StudyState state) {
  return state == v1::STUDY_COMPLETED || state == v1::STUDY_FAILED || state == v1::STUDY_CANCELLED;
}

int WatchExitCode(v1::StudyState state) { return state == v1::STUDY_COMPLETED ? kExitOk : kExitFailed; }

}  // namespace hpo::client
