#include "bench/load/optuna_peer.h"

#include <charconv>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "bench/common/child.h"

namespace hpo::bench {
namespace {

size_t ValueStart(std::string_view line, std::string_view key) {
  const std::string quoted = JsonQuote(key) + ":";
  size_t at = line.find(quoted);
  if (at == std::string_view::npos) return at;
  at += quoted.size();
  while (at < line.size() && line[at] == ' ') ++at;
  return at;
}

}  // namespace

std::optional<double> JsonNumberField(std::string_view line, std::string_view key) {
  const size_t at = ValueStart(line, key);
  if (at == std::string_view::npos) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(line.data() + at, line.data() + line.size(), value);
  if (ec != std::errc() || end == line.data() + at) return std::nullopt;
  return value;
}

std::optional<std::string> JsonStringField(std::string_view line, std::string_view key) {
  const size_t at = ValueStart(line, key);
  if (at == std::string_view::npos || at >= line.size() || line[at] != '"') return std::nullopt;
  const size_t end = line.find('"', at + 1);
  if (end == std::string_view::npos) return std::nullopt;
  return std::string(line.substr(at + 1, end - at - 1));
}

OptunaPeer OptunaPeer::Probe(std::string python, std::string script) {
  OptunaPeer peer(std::move(python), std::move(script));
  const Result<ChildOutput> probe =
      RunChild({peer.python_, "-c", "import optuna; print(optuna.__version__)"}, {}, /*quiet=*/true);
  if (probe.ok() && probe->exit_code == 0) peer.version_ = std::string(Trim(probe->out));
  return peer;
}

Result<OptunaFigures> OptunaPeer::Run(const OptunaRun& run) const {
  if (!available()) return FailedPreconditionError("Optuna is not installed");
  HPO_ASSIGN_OR_RETURN(const ChildOutput child,
                       RunChild({python_, script_, "--trials", std::to_string(run.trials), "--dir", run.dir,
                                 "--storage", run.storage, "--processes", std::to_string(run.processes)},
                                {}, /*quiet=*/false));
  const std::string_view line = FindLastLine(
      child.out, [](std::string_view l) { return !l.empty() && l.front() == '{' && l.back() == '}'; });
  if (line.empty()) {
    return InternalError(script_ + " printed no JSON line (exit status " + std::to_string(child.exit_code) +
                         ")");
  }
  if (const auto error = JsonStringField(line, "error")) return InternalError(script_ + ": " + *error);
  const auto rate = JsonNumberField(line, "trials_per_s");
  if (child.exit_code != 0 || !rate) {
    return InternalError(script_ + " exited with status " + std::to_string(child.exit_code) +
                         " and printed: " + std::string(line));
  }
  OptunaFigures figures;
  figures.storage = JsonStringField(line, "storage").value_or(run.storage);
  figures.processes = static_cast<int>(JsonNumberField(line, "processes").value_or(run.processes));
  figures.trials = static_cast<int>(JsonNumberField(line, "trials").value_or(run.trials));
  figures.retries = static_cast<int>(JsonNumberField(line, "retries").value_or(0));
  figures.completed = static_cast<int>(JsonNumberField(line, "completed").value_or(-1));
  figures.seconds = JsonNumberField(line, "seconds").value_or(0);
  figures.trials_per_s = *rate;
  figures.cycle_ms_p50 = JsonNumberField(line, "cycle_ms_p50").value_or(0);
  figures.cycle_ms_p99 = JsonNumberField(line, "cycle_ms_p99").value_or(0);
  return figures;
}

}  // namespace hpo::bench
