// The small rules of `hpoctl` that are worth testing apart from gRPC: its exit codes, what counts as a
// transport error, and how a STUDY argument is read.
//
// Pure functions, safe from any thread.
#ifndef HPO_CLIENT_CLI_H_
#define HPO_CLIENT_CLI_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "hpo/v1/study.pb.h"

namespace hpo::client {

// hpoctl's exit codes.
inline constexpr int kExitOk = 0;      // done; for watch: the study completed
inline constexpr int kExitFailed = 1;  // the request failed; for watch: the study failed or was cancelled
inline constexpr int kExitUsage = 2;   // bad command line
inline constexpr int kExitUnreachable = 3;  // the coordinator could not be reached (for watch: any RPC error)

// Reads a study id: a positive decimal integer that fits in 64 bits, nothing else (no sign, no blanks).
// Returns the id, or INVALID_ARGUMENT saying what was wrong.
Result<uint64_t> ParseStudyId(std::string_view text);

// True for the codes that mean the coordinator was not reached or did not answer in time (UNAVAILABLE,
// DEADLINE_EXCEEDED), as opposed to an answer that refused the request.
bool IsTransportError(StatusCode code);

// The exit code for a failed RPC: kExitUnreachable for transport errors, kExitFailed otherwise.
// REQUIRES: !status.ok()
int ExitCodeForRpcError(const Status& status);

// What a call that got no answer from the coordinator at `address` says, in words, in place of gRPC's
// resolver and socket internals: for UNAVAILABLE from the transport (gRPC's "failed to connect to all
// addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Failed to connect to remote host: Connection
// refused"), "cannot reach 127.0.0.1:1: connection refused (is hpo-coordinator running there?)"; the
// same for a name that does not resolve, a timeout, no route, a reset or closed connection and a TLS
// mismatch (with a hint naming --tls-ca); for DEADLINE_EXCEEDED, "no answer from <address> within
// <deadline_ms> ms (--deadline-ms)". Returns nullopt for every other status, including an UNAVAILABLE
// that the coordinator itself answered with (its message is kept).
std::optional<std::string> DescribeNoAnswer(std::string_view address, const Status& status,
                                            int64_t deadline_ms);

// True when `message` is one that DescribeNoAnswer wrote: hpoctl prints it without the code.
bool IsNoAnswerMessage(std::string_view message);

// True when a study in `state` will not change any more.
bool IsFinalState(v1::StudyState state);

// The exit code of `hpoctl watch` for a study that ended in `state`: kExitOk for STUDY_COMPLETED,
// kExitFailed for STUDY_FAILED and STUDY_CANCELLED.
// REQUIRES: IsFinalState(state)
int WatchExitCode(v1::StudyState state);

}  // namespace hpo::client

#endif  // HPO_CLIENT_CLI_H_
