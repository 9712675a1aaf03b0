#include "base/credentials.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "base/strings.h"

namespace hpo {
namespace {

// The whole file at `path`, or INVALID_ARGUMENT "<what> <path>: cannot read (<reason>)".
Result<std::string> ReadWholeFile(const std::string& path, std::string_view what) {
  const auto failed = [&](int error) {
    return InvalidArgumentError(std::string(what) + " " + path + ": cannot read (" + std::strerror(error) +
                                ")");
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failed(errno);
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;  // e.g. EISDIR
      ::close(fd);
      return failed(error);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

}  // namespace

Status ValidateToken(std::string_view token, std::string_view source) {
  if (token.empty()) return InvalidArgumentError(std::string(source) + ": the token is empty");
  for (const char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return InvalidArgumentError(std::string(source) +
                                  ": the token may hold only visible ASCII characters (no blanks inside)");
    }
  }
  return Status::Ok();
}

Status CheckTokenStrength(std::string_view token, std::string_view source) {
  bool seen[256] = {};
  size_t distinct = 0;
  for (const char c : token) {
    bool& was = seen[static_cast<unsigned char>(c)];
    distinct += was ? 0 : 1;
    was = true;
  }
  if (token.size() >= kMinTokenLength && distinct >= kMinTokenDistinct) return Status::Ok();
  return InvalidArgumentError(std::string(source) + ": the token is too weak (" +
                              std::to_string(token.size()) + " characters, " + std::to_string(distinct) +
                              " different): it needs at least " + std::to_string(kMinTokenLength) +
                              " characters with at least " + std::to_string(kMinTokenDistinct) +
                              " different ones; make one with `hpoctl token > hpo.token`");
}

Result<std::string> NewToken() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return InternalError(std::string("no random bytes from the kernel: ") + std::strerror(errno));
    got += static_cast<size_t>(n);
  }
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string token;
  // Every 3 bytes make 4 characters; the last 2 bytes make 3 (no padding).
  for (size_t i = 0; i < sizeof bytes; i += 3) {
    const size_t n = std::min<size_t>(3, sizeof bytes - i);
    uint32_t group = 0;
    for (size_t k = 0; k < 3; ++k) group = (group << 8) | (k < n ? bytes[i + k] : 0);
    for (size_t k = 0; k < n + 1; ++k) token.push_back(kAlphabet[(group >> (18 - 6 * k)) & 0x3f]);
  }
  return token;
}

Result<std::string> ReadTokenFile(const std::string& path) {
  HPO_ASSIGN_OR_RETURN(const std::string text, ReadWholeFile(path, "token file"));
  std::string token(Trim(text));
  HPO_RETURN_IF_ERROR(ValidateToken(token, "token file " + path));
  return token;
}

Result<std::string> LoadToken(const std::string& token_file, const char* env_value) {
  if (!token_file.empty()) return ReadTokenFile(token_file);
  if (env_value == nullptr) return std::string();
  std::string token(Trim(env_value));
  HPO_RETURN_IF_ERROR(ValidateToken(token, std::string("$") + kTokenEnvVar));
  return token;
}

Result<std::string> ReadPemFile(const std::string& path, std::string_view what) {
  HPO_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path, what));
  if (text.find("-----BEGIN ") == std::string::npos) {
    return InvalidArgumentError(std::string(what) + " " + path +
                                ": not a PEM file (no \"-----BEGIN \" line)");
  }
  return text;
}

std::string TransportHint(std::string_view message) {
  if (message.find("Socket closed") != std::string_view::npos) {
    return " (the coordinator may require TLS: connect with --tls-ca and its certificate or CA)";
  }
  if (message.find("wrong version number") != std::string_view::npos) {
    return " (the coordinator does not serve TLS at this address: leave out --tls-ca, or check the address)";
  }
  if (message.find("andshake failed") != std::string_view::npos) {
    return " (the TLS handshake failed: --tls-ca must hold the coordinator's certificate or its CA, and the "
           "certificate must name the address dialled)";
  }
  return "";
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Every byte of the longer string is visited and folded into `diff` without branching on contents;
  // volatile keeps the compiler from ending the loop early once `diff` is non-zero.
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = diff | static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

}  // namespace hpo
