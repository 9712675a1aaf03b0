#include "client/cli.h"

#include <charconv>
#include <string>

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

bool IsFinalState(v1::StudyState state) {
  return state == v1::STUDY_COMPLETED || state == v1::STUDY_FAILED || state == v1::STUDY_CANCELLED;
}

int WatchExitCode(v1::StudyState state) { return state == v1::STUDY_COMPLETED ? kExitOk : kExitFailed; }

}  // namespace hpo::client
