// Optuna's side of hpo-bench-study: runs optuna_study.py and reads its JSON lines back.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <string_view>

#include "base/strings.h"
#include "bench/common/child.h"
#include "bench/study/study.h"

namespace hpo::bench {
namespace {

// `line` as a JSON object, or nullopt when it is none.
std::optional<google::protobuf::Struct> ParseObject(std::string_view line) {
  line = Trim(line);
  if (line.empty() || line.front() != '{') return std::nullopt;
  google::protobuf::Struct object;
  if (!google::protobuf::util::JsonStringToMessage(std::string(line), &object).ok()) return std::nullopt;
  return object;
}

double Number(const google::protobuf::Struct& object, const std::string& key) {
  const auto it = object.fields().find(key);
  if (it == object.fields().end() || it->second.kind_case() != google::protobuf::Value::kNumberValue) {
    return std::nan("");
  }
  return it->second.number_value();
}

std::string Text(const google::protobuf::Struct& object, const std::string& key) {
  const auto it = object.fields().find(key);
  if (it == object.fields().end() || it->second.kind_case() != google::protobuf::Value::kStringValue) {
    return "";
  }
  return it->second.string_value();
}

}  // namespace

std::string OptunaVersion(const std::string& python) {
  const Result<ChildOutput> probe =
      RunChild({python, "-c", "import optuna; print(optuna.__version__)"}, {}, /*quiet=*/true);
  if (!probe.ok() || probe->exit_code != 0) return "";
  return std::string(Trim(probe->out));
}

Result<RunRecord> RunOptunaStudy(const StudyBenchOptions& options, uint64_t seed,
                                 const std::string& sampler) {
  HPO_ASSIGN_OR_RETURN(
      const ChildOutput child,
      RunChild({options.python, options.optuna_script, "--train-binary", options.bin_dir + "/hpo-train",
                "--seed", std::to_string(seed), "--trials", std::to_string(options.trials), "--jobs",
                std::to_string(options.parallel), "--epochs", std::to_string(options.epochs), "--train-limit",
                std::to_string(options.train_limit), "--sampler", sampler},
               {}, /*quiet=*/false));
  RunRecord run;
  bool done = false;
  std::string version;
  std::string_view rest = child.out;
  while (!rest.empty()) {
    const size_t newline = rest.find('\n');
    const std::string_view line = rest.substr(0, newline);
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
    const std::optional<google::protobuf::Struct> object = ParseObject(line);
    if (!object) continue;
    if (const std::string error = Text(*object, "error"); !error.empty()) {
      if (error.find("cannot import optuna") != std::string::npos) return FailedPreconditionError(error);
      return InternalError(options.optuna_script + ": " + error);
    }
    if (object->fields().count("optuna") != 0) {
      version = Text(*object, "optuna");
    } else if (object->fields().count("done") != 0) {
      run.wall_s = Number(*object, "wall_s");
      done = true;
    } else if (object->fields().count("number") != 0) {
      TrialRecord record;
      record.number = static_cast<uint32_t>(Number(*object, "number"));
      const std::string state = Text(*object, "state");
      record.state = state == "COMPLETE" ? TrialRecord::State::kCompleted : TrialRecord::State::kFailed;
      record.accuracy = Number(*object, "accuracy");
      record.latency_ms = Number(*object, "latency_ms");
      record.epochs = record.state == TrialRecord::State::kCompleted ? options.epochs : 0;
      record.seconds = Number(*object, "seconds");
      if (!std::isfinite(record.seconds)) record.seconds = 0;
      run.trials.push_back(record);
    }
  }
  if (!done || child.exit_code != 0) {
    return InternalError(options.optuna_script + " exited with status " + std::to_string(child.exit_code) +
                         (done ? "" : " before its last line"));
  }
  run.detail = "optuna " + version;
  return run;
}

}  // namespace hpo::bench
