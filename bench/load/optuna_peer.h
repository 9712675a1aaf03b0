// OptunaPeer: Optuna's ask/tell rate on durable storage (SQLite, or the journal file Optuna recommends for
// several processes on one machine), in one process or several sharing the study, measured beside the
// coordinator in a child process: bench/load/optuna_asktell.py run by Debian's /usr/bin/python3 (where
// python3-optuna lives), which prints one flat JSON line (see the script's docstring).
//
// Not thread-safe; one child at a time. The child inherits stderr, so Optuna's warnings show up there.
#ifndef HPO_BENCH_LOAD_OPTUNA_PEER_H_
#define HPO_BENCH_LOAD_OPTUNA_PEER_H_

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace hpo::bench {

// The value of `key` in a flat JSON object `line` written by json.dumps: a number, or a string (without
// escapes); nullopt when the key is missing or holds something else.
std::optional<double> JsonNumberField(std::string_view line, std::string_view key);
std::optional<std::string> JsonStringField(std::string_view line, std::string_view key);

// One run of the script.
struct OptunaRun {
  int trials = 0;
  std::string dir;                 // an existing folder for the study's storage
  std::string storage = "sqlite";  // or "journal"
  int processes = 1;               // processes sharing the study (at most trials)
};

struct OptunaFigures {
  std::string storage;
  int processes = 1;
  int trials = 0;
  int retries = 0;     // writes retried because the database was locked
  int completed = 0;   // trials Optuna's storage holds as COMPLETE at the end
  double seconds = 0;  // the ask/tell loops' wall time, from the processes' start line to the last tell
  double trials_per_s = 0;
  double cycle_ms_p50 = 0;  // one ask + four suggest_float + tell
  double cycle_ms_p99 = 0;
};

class OptunaPeer {
 public:
  // Runs `python -c 'import optuna; print(optuna.__version__)'`; available() says whether it worked.
  static OptunaPeer Probe(std::string python, std::string script);

  bool available() const { return !version_.empty(); }
  const std::string& version() const { return version_; }  // "" when unavailable
  const std::string& python() const { return python_; }

  // Runs the script. FAILED_PRECONDITION when Optuna is unavailable; INTERNAL when the child fails or
  // prints no usable line (its error included).
  Result<OptunaFigures> Run(const OptunaRun& run) const;

 private:
  OptunaPeer(std::string python, std::string script)
      : python_(std::move(python)), script_(std::move(script)) {}

  std::string python_;
  std::string script_;
  std::string version_;
};

}  // namespace hpo::bench

#endif  // HPO_BENCH_LOAD_OPTUNA_PEER_H_
