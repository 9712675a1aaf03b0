#include "bench/trainer/torch_peer.h"

#include <cctype>
#include <charconv>
#include <string>
#include <utility>

#include "base/strings.h"
#include "bench/common/child.h"

namespace hpo::bench {
namespace {

// A small recursive-descent reader for one flat JSON object.
class FlatJsonReader {
 public:
  explicit FlatJsonReader(std::string_view text) : text_(text) {}

  Result<TorchFigures> Read() {
    TorchFigures figures;
    SkipSpace();
    if (!Eat('{')) return Error("expected '{'");
    SkipSpace();
    if (Eat('}')) return End(std::move(figures));
    for (;;) {
      SkipSpace();
      std::string key;
      if (!ReadString(key)) return Error("expected a string key");
      SkipSpace();
      if (!Eat(':')) return Error("expected ':'");
      SkipSpace();
      if (Peek() == '"') {
        std::string value;
        if (!ReadString(value)) return Error("bad string");
        figures.strings[key] = std::move(value);
      } else if (Word("null") || Word("true") || Word("false")) {
        // Not a figure.
      } else {
        double value = 0;
        const char* begin = text_.data() + pos_;
        const auto [end, ec] = std::from_chars(begin, text_.data() + text_.size(), value);
        if (ec != std::errc() || end == begin)
          return Error("expected a string, a number, true, false or null");
        pos_ += static_cast<size_t>(end - begin);
        figures.numbers[key] = value;
      }
      SkipSpace();
      if (Eat('}')) return End(std::move(figures));
      if (!Eat(',')) return Error("expected ',' or '}'");
    }
  }

 private:
  Result<TorchFigures> End(TorchFigures figures) {
    SkipSpace();
    if (pos_ != text_.size()) return Error("text after the object");
    return figures;
  }
  Status Error(const std::string& what) const {
    return InvalidArgumentError("JSON at offset " + std::to_string(pos_) + ": " + what);
  }
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool Eat(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  bool Word(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  // A JSON string; escapes other than \uXXXX are decoded, \uXXXX is kept as written (keys and the
  // script's messages are ASCII).
  bool ReadString(std::string& out) {
    if (!Eat('"')) return false;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) return false;
      const char e = text_[pos_++];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u':
          out += "\\u";
          break;
        default:
          out += e;  // \" \\ \/
      }
    }
    return false;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<double> TorchFigures::Number(const std::string& key) const {
  const auto it = numbers.find(key);
  if (it == numbers.end()) return std::nullopt;
  return it->second;
}

Result<TorchFigures> ParseFlatJson(std::string_view text) { return FlatJsonReader(text).Read(); }

TorchPeer TorchPeer::Probe(const TorchPeerOptions& options) {
  TorchPeer peer(options);
  const Result<ChildOutput> probe =
      RunChild({options.python, "-c", "import torch; print(torch.__version__)"}, {}, /*quiet=*/true);
  if (probe.ok() && probe->exit_code == 0) {
    peer.available_ = true;
    peer.version_ = std::string(Trim(probe->out));
  }
  return peer;
}

Result<TorchFigures> TorchPeer::Run(const std::string& mode, const std::vector<std::string>& args) const {
  if (!available_) return FailedPreconditionError("PyTorch is not installed");
  std::vector<std::string> argv = {
      options_.python, options_.script, "--mode", mode, "--threads", std::to_string(options_.threads),
      "--device",      options_.device};
  argv.insert(argv.end(), args.begin(), args.end());
  // The bench's own environment, OMP_WAIT_POLICY included: both sides run under the same OpenMP settings.
  HPO_ASSIGN_OR_RETURN(const ChildOutput child, RunChild(argv, {}, /*quiet=*/false));
  const std::string_view line = FindLastLine(
      child.out, [](std::string_view l) { return !l.empty() && l.front() == '{' && l.back() == '}'; });
  if (line.empty()) {
    return InternalError(options_.script + " --mode " + mode + " printed no JSON line (exit status " +
                         std::to_string(child.exit_code) + ")");
  }
  HPO_ASSIGN_OR_RETURN(TorchFigures figures, ParseFlatJson(line));
  if (const auto error = figures.strings.find("error"); error != figures.strings.end()) {
    return InternalError(error->second);
  }
  if (child.exit_code != 0) {
    return InternalError(options_.script + " exited with status " + std::to_string(child.exit_code));
  }
  return figures;
}

}  // namespace hpo::bench
