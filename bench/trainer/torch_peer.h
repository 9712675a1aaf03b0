// TorchPeer: PyTorch measuring the same models beside hpo, in a child process. hpo-bench-trainer runs
// bench/trainer/torch_step.py with Debian's /usr/bin/python3 (where python3-torch lives), in the bench's
// own environment (so OMP_WAIT_POLICY, when set, applies to both sides alike) with
// torch.set_num_threads(the bench's threads), and reads the one JSON line it prints: a flat object of
// numbers and strings (see the script's docstring for the keys). The script warms PyTorch up (a
// throwaway trainer and forward passes of the first shape) before it times anything.
//
// Not thread-safe; the bench runs one child at a time. The child inherits stderr, so PyTorch's own
// warnings and errors show up there.
#ifndef HPO_BENCH_TRAINER_TORCH_PEER_H_
#define HPO_BENCH_TRAINER_TORCH_PEER_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace hpo::bench {

// What one run of the script measured.
struct TorchFigures {
  std::map<std::string, double> numbers;       // every number field (null fields are left out)
  std::map<std::string, std::string> strings;  // every string field

  std::optional<double> Number(const std::string& key) const;
};

// Parses one flat JSON object: string keys; values that are strings, numbers, true/false or null.
// INVALID_ARGUMENT for anything else (nested objects and arrays included), naming the offset.
Result<TorchFigures> ParseFlatJson(std::string_view text);

struct TorchPeerOptions {
  std::string python = "/usr/bin/python3";
  std::string script;          // torch_step.py
  int threads = 1;             // passed as --threads
  std::string device = "cpu";  // passed as --device: "cpu" or "cuda"
};

class TorchPeer {
 public:
  // Runs `python -c 'import torch; print(torch.__version__)'`; available() tells whether it worked.
  static TorchPeer Probe(const TorchPeerOptions& options);

  bool available() const { return available_; }
  const std::string& version() const { return version_; }  // "1.13.0", or "" when unavailable
  const TorchPeerOptions& options() const { return options_; }

  // The same peer (python, threads, device, availability) running another script: e.g. torch_arch.py
  // beside torch_step.py.
  TorchPeer WithScript(std::string script) const {
    TorchPeer peer = *this;
    peer.options_.script = std::move(script);
    return peer;
  }

  // Runs the script with --mode `mode`, --threads, --device and `args`. The figures, or: FAILED_PRECONDITION
  // when the peer is unavailable; INTERNAL when the child cannot be started, fails or prints no JSON
  // object (the script's {"error": ...} message included when it printed one).
  Result<TorchFigures> Run(const std::string& mode, const std::vector<std::string>& args) const;

 private:
  explicit TorchPeer(TorchPeerOptions options) : options_(std::move(options)) {}

  TorchPeerOptions options_;
  bool available_ = false;
  std::string version_;
};

}  // namespace hpo::bench

#endif  // HPO_BENCH_TRAINER_TORCH_PEER_H_
