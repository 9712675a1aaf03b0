// Credentials shared by the coordinator, the worker and hpoctl: the bearer token (from a file, or from
// $HPO_TOKEN when no file is named), PEM files for TLS, and a constant-time comparison for secrets.
//
// Only the reading and checking lives here (standard library only); each binary turns the results into
// its own gRPC credentials. Free functions; safe to call from any thread.
#ifndef HPO_BASE_CREDENTIALS_H_
#define HPO_BASE_CREDENTIALS_H_

#include <string>
#include <string_view>

#include "base/status.h"

namespace hpo {

// The environment variable that holds the token when no token file is named.
inline constexpr char kTokenEnvVar[] = "HPO_TOKEN";

// Checks a token: not empty, and only visible ASCII (0x21..0x7e), so that "Bearer <token>" can travel as
// gRPC metadata. Returns OK, or INVALID_ARGUMENT whose message starts with `source` and says what is wrong.
Status ValidateToken(std::string_view token, std::string_view source);

// A token the coordinator accepts to guard the service: at least kMinTokenLength characters, of which at
// least kMinTokenDistinct different ones (a guessable "aaaaaaaaaaaaaaaa" or "abababababababab" is refused).
// Clients send whatever token they are given; the coordinator refuses to start with a weak one.
inline constexpr size_t kMinTokenLength = 16;
inline constexpr size_t kMinTokenDistinct = 8;

// OK, or INVALID_ARGUMENT whose message starts with `source`, states the rule and says how to make a good
// token. REQUIRES: ValidateToken(token) is OK.
Status CheckTokenStrength(std::string_view token, std::string_view source);

// A new random token: 32 bytes from the kernel's random source (getrandom), in unpadded base64url (43
// characters). INTERNAL when the kernel gives no random bytes.
Result<std::string> NewToken();

// The token in the file at `path`: its contents less surrounding white space (a trailing newline is
// fine). Returns INVALID_ARGUMENT, naming the file, when it cannot be read or the token is empty or not
// valid (ValidateToken).
Result<std::string> ReadTokenFile(const std::string& path);

// The token a binary uses: ReadTokenFile(token_file) when token_file is not empty; else `env_value` (the
// value of $HPO_TOKEN, nullptr when unset) trimmed, which must then be a valid token; else "" (no token).
// Errors are INVALID_ARGUMENT, naming the file or the variable.
Result<std::string> LoadToken(const std::string& token_file, const char* env_value);

// The contents of a PEM file (`what` names it in errors, e.g. "TLS certificate"): INVALID_ARGUMENT, naming
// the file, when it cannot be read or holds no "-----BEGIN " block.
Result<std::string> ReadPemFile(const std::string& path, std::string_view what);

// What a client should add to a failed call's message when the transport says the two ends disagree on
// TLS: gRPC reports a plaintext client at a TLS server only as "Socket closed", and a TLS client at a
// plaintext server as an SSL "wrong version number". Returns " (...)", naming --tls-ca, or "" when the
// message is about something else.
std::string TransportHint(std::string_view message);

// True when a == b. The time taken depends on the lengths only, never on where the first difference is,
// so that comparing a caller's secret with the real one leaks nothing of the real one's contents.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace hpo

#endif  // HPO_BASE_CREDENTIALS_H_
