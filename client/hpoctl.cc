#include "client/hpoctl.h"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <vector>

#include "base/credentials.h"
#include "base/status.h"
#include "client/analyze.h"
#include "client/cli.h"
#include "client/export.h"
#include "client/format.h"
#include "client/front.h"
#include "client/progress.h"
#include "client/proto_json.h"
#include "client/study_file.h"
#include "client/svg.h"
#include "client/watch.h"
#include "client/workers.h"

namespace hpo::client {

const char kHpoctlExitHelp[] =
    "Exit status: 0 done (watch: the study completed), 1 the request failed (watch: the study failed or\n"
    "was cancelled), 2 usage error, 3 the coordinator could not be reached. Environment: HPO_COORDINATOR,\n"
    "HPO_TOKEN_FILE, HPO_TOKEN. More in docs/cli.md.\n";

namespace {

// One hpoctl run: the environment and the client, and a method per command.
class Hpoctl {
 public:
  // `missing_token_file`: the path $HPO_TOKEN_FILE named when that file does not exist (no token is
  // sent then; a call the coordinator refuses for want of one says so); "" otherwise.
  Hpoctl(const HpoctlEnv& env, std::unique_ptr<StudyApi> api, std::string missing_token_file)
      : env_(env), api_(std::move(api)), missing_token_file_(std::move(missing_token_file)) {}

  struct TrialsArgs {
    std::string states;
    std::string format = "table";
    std::string output;
  };
  struct ParetoArgs {
    std::string objectives;
    std::vector<std::string> constraints;
    std::string format = "table";
    std::string output;
  };
  struct WatchArgs {
    int interval_ms = 1000;
    int retry_s = 30;
    std::string reference;
    bool no_hypervolume = false;
  };

  int Submit(const std::string& file);
  int Studies(const std::string& format);
  int Show(uint64_t study_id, const std::string& format);
  int Trials(uint64_t study_id, const TrialsArgs& args);
  int Watch(uint64_t study_id, const WatchArgs& args);
  int Pareto(uint64_t study_id, const ParetoArgs& args);
  int Export(uint64_t study_id, const std::string& output);
  int Cancel(uint64_t study_id);
  int Delete(uint64_t study_id, bool force);
  int Workers(bool all, const std::string& format);
  int Analyze(uint64_t study_id, const std::string& format, uint32_t trees, const std::string& output);

 private:
  // "hpoctl: CODE: message"; the message alone when it says the coordinator gave no answer ("cannot
  // reach ...", DescribeNoAnswer).
  void PrintError(const Status& status) {
    *env_.err << "hpoctl: " << (IsNoAnswerMessage(status.message()) ? status.message() : status.ToString())
              << std::endl;
  }
  // A usage error: the message alone, exit 2.
  int Usage(const Status& status) {
    *env_.err << "hpoctl: " << status.message() << std::endl;
    return kExitUsage;
  }
  // A failed RPC: its status, and `code`; or, when the coordinator asked for the token that
  // $HPO_TOKEN_FILE's missing file would have held, that, as a usage error.
  int RpcFailed(const Status& status, int code) {
    if (status.code() == StatusCode::kUnauthenticated && !missing_token_file_.empty()) {
      return Usage(InvalidArgumentError("the coordinator asks for a token, and HPO_TOKEN_FILE names '" +
                                        missing_token_file_ + "', which does not exist (" +
                                        status.ToString() + ")"));
    }
    PrintError(status);
    return code;
  }
  int RpcFailed(const Status& status) { return RpcFailed(status, ExitCodeForRpcError(status)); }
  // Writes `text` to `path`, or to the output stream when `path` is empty.
  int Emit(const std::string& text, const std::string& path);

  const HpoctlEnv& env_;
  std::unique_ptr<StudyApi> api_;
  std::string missing_token_file_;
};

int Hpoctl::Emit(const std::string& text, const std::string& path) {
  if (path.empty()) {
    *env_.out << text << std::flush;
    return kExitOk;
  }
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) {
    *env_.err << "hpoctl: cannot write '" << path << "': " << std::strerror(errno) << std::endl;
    return kExitFailed;
  }
  return kExitOk;
}

int Hpoctl::Submit(const std::string& file) {
  Result<v1::StudySpec> spec = InvalidArgumentError("no study file");
  if (file == "-") {
    const std::string text((std::istreambuf_iterator<char>(*env_.in)), std::istreambuf_iterator<char>());
    spec = ParseStudySpecAnyFormat(text, "study file <stdin>");
  } else {
    spec = LoadStudySpec(file);
  }
  if (!spec.ok()) {
    PrintError(spec.status());
    return kExitFailed;
  }
  auto study = api_->CreateStudy(*spec);
  if (!study.ok()) return RpcFailed(study.status());
  *env_.out << study->id() << std::endl;
  return kExitOk;
}

int Hpoctl::Studies(const std::string& format) {
  auto parsed = ParseOutputFormat(format);
  if (!parsed.ok()) {
    return Usage(InvalidArgumentError("--format: expected table, csv or json, got '" + format + "'"));
  }
  auto studies = api_->ListStudies();
  if (!studies.ok()) return RpcFailed(studies.status());
  return Emit(FormatStudies(*studies, *parsed), "");
}

int Hpoctl::Show(uint64_t study_id, const std::string& format) {
  auto study = api_->GetStudy(study_id);
  if (!study.ok()) return RpcFailed(study.status());
  if (format == "json") return Emit(MessageToJsonWithSafeNumbers(*study), "");
  auto front = api_->GetParetoFront(study_id);
  if (!front.ok()) return RpcFailed(front.status());
  return Emit(FormatStudySummary(*study, &*front), "");
}

int Hpoctl::Trials(uint64_t study_id, const TrialsArgs& args) {
  std::vector<v1::TrialState> states;
  if (!args.states.empty()) {
    auto parsed = ParseTrialStates(args.states);
    if (!parsed.ok()) return Usage(parsed.status());
    states = *parsed;
  }
  auto format = ParseOutputFormat(args.format);
  if (!format.ok()) {
    return Usage(InvalidArgumentError("--format: expected table, csv or json, got '" + args.format + "'"));
  }
  auto study = api_->GetStudy(study_id);
  if (!study.ok()) return RpcFailed(study.status());
  auto trials = api_->ListTrials(study_id);
  if (!trials.ok()) return RpcFailed(trials.status());
  return Emit(FormatTrials(FilterTrials(*trials, states), study->spec(), *format), args.output);
}

int Hpoctl::Watch(uint64_t study_id, const WatchArgs& args) {
  WatchOptions options;
  options.interval = std::chrono::milliseconds(args.interval_ms);
  options.retry = std::chrono::seconds(args.retry_s);
  options.rewrite_line = env_.out_is_terminal;
  options.columns = env_.columns;
  options.hypervolume = !args.no_hypervolume;
  if (!args.reference.empty()) {
    auto reference = ParseNumberList(args.reference, "--reference");
    if (!reference.ok()) return Usage(reference.status());
    auto study = api_->GetStudy(study_id);
    if (!study.ok()) return RpcFailed(study.status());
    if (static_cast<int>(reference->size()) != study->spec().objectives_size()) {
      return Usage(InvalidArgumentError("--reference: " + std::to_string(reference->size()) +
                                        " values for the study's " +
                                        std::to_string(study->spec().objectives_size()) + " objectives"));
    }
    options.reference = *reference;
  }
  WatchEnv watch_env;
  watch_env.clock = env_.clock;
  watch_env.sleep = env_.sleep;
  watch_env.out = env_.out;
  watch_env.err = env_.err;
  auto study = WatchStudy(*api_, study_id, options, watch_env);
  if (!study.ok()) return RpcFailed(study.status(), kExitUnreachable);
  if (study->state() == v1::STUDY_COMPLETED) return kExitOk;
  auto trials = api_->ListTrials(study_id);  // best effort: the last trial error says what went wrong
  *env_.err << "hpoctl: " << DescribeUnsuccessfulEnd(*study, trials.ok() ? &*trials : nullptr) << std::endl;
  return WatchExitCode(study->state());
}

int Hpoctl::Pareto(uint64_t study_id, const ParetoArgs& args) {
  const bool svg = args.format == "svg";
  std::optional<OutputFormat> format;
  if (!svg) {
    auto parsed = ParseOutputFormat(args.format);
    if (!parsed.ok())
      return Usage(
          InvalidArgumentError("--format: expected table, csv, json or svg, got '" + args.format + "'"));
    format = *parsed;
  }
  std::vector<Constraint> constraints;
  for (const std::string& text : args.constraints) {
    auto constraint = ParseConstraint(text);
    if (!constraint.ok()) return Usage(constraint.status());
    constraints.push_back(*constraint);
  }
  std::vector<ObjectiveChoice> choices;
  if (!args.objectives.empty()) {
    auto parsed = ParseObjectiveList(args.objectives);
    if (!parsed.ok()) return Usage(parsed.status());
    choices = *parsed;
  }
  auto study = api_->GetStudy(study_id);
  if (!study.ok()) return RpcFailed(study.status());
  const v1::StudySpec& spec = study->spec();
  const bool local = !choices.empty() || !constraints.empty();

  if (!local && !svg) {  // the coordinator's front as it is
    auto front = api_->GetParetoFront(study_id);
    if (!front.ok()) return RpcFailed(front.status());
    if (front->trials().empty() && *format == OutputFormat::kTable) {
      *env_.err << "hpoctl: study " << study_id << " has no completed trials yet" << std::endl;
    }
    return Emit(FormatParetoFront(*front, spec, *format), args.output);
  }

  auto listed = api_->ListTrials(study_id);
  if (!listed.ok()) return RpcFailed(listed.status());
  const std::vector<v1::Trial> trials(listed->trials().begin(), listed->trials().end());
  std::vector<v1::Objective> objectives = SpecObjectives(spec);
  if (!choices.empty()) {
    auto resolved = ResolveObjectives(choices, spec, trials);
    if (!resolved.ok()) return Usage(resolved.status());
    objectives = *resolved;
  }
  if (const Status checked = CheckConstraintMetrics(constraints, spec, trials); !checked.ok()) {
    return Usage(checked);
  }
  LocalFront front = ComputeFront(trials, objectives, constraints);
  if (!local) {  // svg of the coordinator's own front
    auto server_front = api_->GetParetoFront(study_id);
    if (!server_front.ok()) return RpcFailed(server_front.status());
    front.front.assign(server_front->trials().begin(), server_front->trials().end());
  }
  if (front.front.empty()) {
    *env_.err << "hpoctl: study " << study_id
              << (constraints.empty() ? " has no completed trials yet"
                                      : ": no completed trial meets the constraints")
              << std::endl;
  }
  if (svg) {
    SvgOptions options;
    options.title = "study " + std::to_string(study_id) + (spec.name().empty() ? "" : " " + spec.name()) +
                    ": Pareto front";
    for (size_t i = 0; i < constraints.size(); ++i) {
      options.title += (i == 0 ? " where " : ", ") + ConstraintText(constraints[i]);
    }
    return Emit(FormatParetoSvg(front, spec, options), args.output);
  }
  v1::GetParetoFrontResponse response;
  for (const v1::Trial& trial : front.front) *response.add_trials() = trial;
  v1::StudySpec columns = spec;  // the chosen objectives become the columns
  columns.clear_objectives();
  for (const v1::Objective& objective : objectives) {
    *response.add_objectives() = objective;
    *columns.add_objectives() = objective;
  }
  return Emit(FormatParetoFront(response, columns, *format), args.output);
}

int Hpoctl::Export(uint64_t study_id, const std::string& output) {
  auto study = api_->GetStudy(study_id);
  if (!study.ok()) return RpcFailed(study.status());
  auto trials = api_->ListTrials(study_id);
  if (!trials.ok()) return RpcFailed(trials.status());
  auto front = api_->GetParetoFront(study_id);
  if (!front.ok()) return RpcFailed(front.status());
  return Emit(FormatExport(*study, *trials, *front, env_.clock->NowMs()), output);
}

int Hpoctl::Cancel(uint64_t study_id) {
  auto study = api_->CancelStudy(study_id);
  if (!study.ok()) return RpcFailed(study.status());
  *env_.out << FormatProgressLine(*study, env_.clock->NowMs()) << std::endl;
  return kExitOk;
}

int Hpoctl::Delete(uint64_t study_id, bool force) {
  auto deleted = api_->DeleteStudy(study_id, force);
  if (!deleted.ok()) return RpcFailed(deleted.status());
  *env_.out << FormatDeleted(*deleted) << std::endl;
  return kExitOk;
}

int Hpoctl::Workers(bool all, const std::string& format) {
  auto workers = api_->ListWorkers(all);
  if (!workers.ok()) return RpcFailed(workers.status());
  if (format == "json") {
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    options.add_whitespace = true;
    std::string json;
    if (!google::protobuf::util::MessageToJsonString(*workers, &json, options).ok()) json = "{}\n";
    return Emit(json, "");
  }
  return Emit(FormatWorkersTable(*workers, env_.clock->NowMs()), "");
}

int Hpoctl::Analyze(uint64_t study_id, const std::string& format, uint32_t trees, const std::string& output) {
  auto analysis = api_->AnalyzeStudy(study_id, trees);
  if (!analysis.ok()) return RpcFailed(analysis.status());
  auto text = FormatAnalysis(*analysis, format);
  if (!text.ok()) return Usage(text.status());
  return Emit(*text, output);
}

}  // namespace

int RunHpoctl(int argc, const char* const* argv, const HpoctlEnv& env) {
  auto getenv = [&](const char* name) -> const char* {
    return env.getenv ? env.getenv(name) : std::getenv(name);
  };
  std::ostream& out = *env.out;
  std::ostream& err = *env.err;

  CLI::App app{"hpoctl: submit, watch and query hyperparameter studies on an hpo coordinator.", "hpoctl"};
  app.footer(kHpoctlExitHelp);
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "hpoctl: " + std::string(e.what()) + "\nRun with --help for more information.\n";
  });
  app.require_subcommand(1);

  std::string coordinator;
  int deadline_ms = 10'000;
  std::string token_file;
  std::string tls_ca;
  app.add_option("--coordinator", coordinator,
                 "Coordinator address host:port (default: $HPO_COORDINATOR, else " +
                     std::string(kDefaultCoordinator) + ")");
  app.add_option("--deadline-ms", deadline_ms, "Deadline of each RPC in milliseconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--token-file", token_file,
                 "Bearer token file (default: $HPO_TOKEN_FILE; with neither, the token in $HPO_TOKEN)");
  app.add_option("--tls-ca", tls_ca, "PEM root certificates: connect with TLS");

  // `details` opens the command's --help footer, before the exit codes.
  auto add_command = [&](const char* name, const std::string& description, const std::string& details = "") {
    CLI::App* command = app.add_subcommand(name, description);
    command->footer(details.empty() ? std::string(kHpoctlExitHelp) : details + "\n\n" + kHpoctlExitHelp);
    return command;
  };
  std::string study_arg;
  auto add_study = [&](CLI::App* command) {
    command->add_option("STUDY", study_arg, "Study id")->required();
  };

  std::string file;
  CLI::App* submit = add_command(
      "submit", "Create a study from a study file; print its id",
      "A study file is a StudySpec in protobuf's JSON mapping (examples/*.json), or the same keys in YAML\n"
      "when its name ends in .yaml or .yml (block and flow mappings and sequences, plain and quoted\n"
      "scalars, comments; no anchors, tags or block scalars). From stdin (-), text starting with '{'\n"
      "is JSON, anything else YAML. Unknown keys are errors, named.");
  submit->add_option("FILE", file, "Study file (.json, .yaml, .yml); - reads stdin")->required();

  std::string studies_format = "table";
  CLI::App* studies = add_command("studies", "List the studies");
  studies->add_option("--format", studies_format, "table, csv or json")->capture_default_str();

  std::string show_format = "text";
  CLI::App* show = add_command("show", "Show one study: state, trial counts, budget, algorithm, task, space");
  add_study(show);
  show->add_option("--format", show_format, "text, or json (the Study in protobuf's JSON mapping)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  Hpoctl::TrialsArgs trials_args;
  CLI::App* trials = add_command("trials", "List a study's trials");
  add_study(trials);
  trials->add_option("--state", trials_args.states,
                     "Only trials in these states, comma-separated: pending, running, completed, pruned, "
                     "failed, cancelled");
  trials->add_option("--format", trials_args.format, "table, csv or json")->capture_default_str();
  trials->add_option("-o,--output", trials_args.output, "Write to this file instead of stdout");

  Hpoctl::WatchArgs watch_args;
  CLI::App* watch = add_command(
      "watch", "Follow a study until it ends: exit 0 if it completed, 1 if it failed or was cancelled",
      "On a terminal, a progress bar rewritten in place: '#' completed, '~' pruned (stopped early by the\n"
      "study's pruner: finished, not failed), 'x' failed, '>' running trials of the budget, then the\n"
      "counts, the hypervolume of the front (hv), the elapsed time and\n"
      "the time left at the pace since its first trial started (once it ended: what it took, wall and\n"
      "compute time), and why it waits when no live worker can run it. Otherwise (a pipe, a file) one\n"
      "plain line per change, and at least every 10 s. The coordinator computes the hypervolume, as the\n"
      "dashboard shows it: its reference point is, per objective, the worst value among the completed\n"
      "trials plus a tenth of their range (rule \"worst + 10% of range\"), or the --reference you give,\n"
      "in the objectives' own units; each line says which.");
  add_study(watch);
  watch->add_option("--interval-ms", watch_args.interval_ms, "Polling interval in milliseconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  watch
      ->add_option(
          "--retry-s", watch_args.retry_s,
          "Keep polling through UNAVAILABLE / DEADLINE_EXCEEDED / CANCELLED (a coordinator restart) for this "
          "many seconds (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  watch->add_option("--reference", watch_args.reference,
                    "Hypervolume reference point, one value per objective in its own units, e.g. 0.5,10 "
                    "(default: per objective, the worst value seen plus a tenth of the range seen)");
  watch->add_flag("--no-hypervolume", watch_args.no_hypervolume,
                  "Do not fetch the front to show the hypervolume");

  Hpoctl::ParetoArgs pareto_args;
  CLI::App* pareto = add_command(
      "pareto", "Print a study's Pareto front (table, csv, json, or an svg scatter plot)",
      "Without --objectives and --constraint: the coordinator's front over the study's objectives.\n"
      "With them: the front recomputed here over the named objectives, among the completed trials\n"
      "that meet every constraint, e.g.\n"
      "  hpoctl pareto 3 --objectives accuracy,latency_ms --constraint 'latency_ms<=2' --format csv\n"
      "--format svg writes a standalone scatter plot of all completed trials (first two objectives),\n"
      "the front highlighted and joined, a tooltip on each point:\n"
      "  hpoctl pareto 3 --format svg -o front.svg");
  add_study(pareto);
  pareto->add_option("--objectives", pareto_args.objectives,
                     "Objectives to rank by, comma-separated, e.g. accuracy,latency_ms; another metric "
                     "needs its direction: params:min");
  pareto->add_option("--constraint", pareto_args.constraints,
                     "Keep trials meeting METRIC<=VALUE (also >=, <, >), e.g. 'latency_ms<=2'; repeatable");
  pareto
      ->add_option("--format", pareto_args.format,
                   "table, csv, json, or svg (a scatter plot of all completed trials, the front highlighted)")
      ->capture_default_str();
  pareto->add_option("-o,--output", pareto_args.output, "Write to this file instead of stdout");

  std::string export_output;
  CLI::App* export_command = add_command(
      "export", "Print the study, its spec, all trials and the Pareto front as one JSON document",
      "Layout: {\"format\": \"hpo.export.v1\", \"exported_ms\": ..., \"study\": {...}, \"trials\": [...],\n"
      "\"pareto_front\": {\"trials\": [...], \"objectives\": [...]}}, each part in protobuf's JSON mapping\n"
      "of hpo.v1 (snake_case names, enums by name, 64-bit integers as strings, defaults included).");
  add_study(export_command);
  export_command->add_option("-o,--output", export_output, "Write to this file instead of stdout");

  CLI::App* cancel = add_command("cancel", "Cancel a study");
  add_study(cancel);

  bool delete_force = false;
  CLI::App* delete_command = add_command(
      "delete", "Delete a study and all its trials",
      "The study's rows (its trials, their parameters, metrics and progress) are deleted in one\n"
      "transaction and their space in the database file is reused. A running study is refused unless\n"
      "--force, which cancels it first (its workers stop its trials at their next heartbeat).");
  add_study(delete_command);
  delete_command->add_flag("--force", delete_force, "Delete a running study too (it is cancelled first)");

  bool workers_all = false;
  std::string workers_format = "table";
  CLI::App* workers_command = add_command(
      "workers", "List the coordinator's workers: state (live/lost), slots in use, last heartbeat, labels",
      "A worker is live while it heartbeats, lost when the coordinator has not heard from it for longer\n"
      "than its --worker-lost-ms (10 s by default). The list holds the workers heard from since the\n"
      "coordinator started; --all adds every worker ever registered with its database.");
  workers_command->add_flag("--all", workers_all,
                            "Also workers not heard from since the coordinator started");
  workers_command
      ->add_option("--format", workers_format,
                   "table, or json (ListWorkersResponse in protobuf's JSON mapping)")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();

  std::string analyze_format = "table";
  uint32_t analyze_trees = 0;
  std::string analyze_output;
  CLI::App* analyze = add_command(
      "analyze", "Print each parameter's importance for each objective and a summary of the Pareto front",
      "Importance is fANOVA on a random forest fitted by the coordinator to the completed trials: the\n"
      "share of an objective's variance over the search space that each parameter's main effect explains\n"
      "(each objective's shares sum to 1), with its standard deviation over the trees. The front: its\n"
      "trials, hypervolume and reference point, and the best value of each objective. The dashboard shows\n"
      "the same numbers. Needs at least 2 completed trials for importance.\n"
      "  hpoctl analyze 3 --format json");
  add_study(analyze);
  analyze->add_option("--format", analyze_format, "table or json (protobuf's JSON mapping)")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  analyze->add_option("--trees", analyze_trees, "Trees of each random forest (default: 64)")
      ->check(CLI::Range(1, 1024));
  analyze->add_option("-o,--output", analyze_output, "Write to this file instead of stdout");

  CLI::App* token_command = add_command(
      "token", "Print a new random bearer token (32 random bytes, base64url); contacts no coordinator",
      "For example: hpoctl token > hpo.token && chmod 600 hpo.token, then hpo-coordinator\n"
      "--token-file hpo.token. The coordinator refuses tokens shorter than 16 characters or with\n"
      "fewer than 8 different ones.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const std::vector<std::string> rest = app.remaining();
    if (app.get_subcommands().empty() && !rest.empty() && e.get_exit_code() != 0) {
      err << "hpoctl: unknown command '" << rest.front() << "'\nRun with --help for more information."
          << std::endl;
      return kExitUsage;
    }
    return app.exit(e, out, err) == 0 ? kExitOk : kExitUsage;  // --help is a "ParseError" that exits 0
  }

  if (token_command->parsed()) {
    Result<std::string> made = NewToken();
    if (!made.ok()) {
      err << "hpoctl: " << made.status().message() << std::endl;
      return kExitFailed;
    }
    out << *made << std::endl;
    return kExitOk;
  }

  uint64_t study_id = 0;
  if (!submit->parsed() && !studies->parsed() && !workers_command->parsed()) {
    auto id = ParseStudyId(study_arg);
    if (!id.ok()) {
      err << "hpoctl: " << id.status().message() << std::endl;
      return kExitUsage;
    }
    study_id = *id;
  }

  if (coordinator.empty()) {
    const char* from_env = getenv(kCoordinatorEnvVar);
    coordinator = from_env != nullptr && *from_env != '\0' ? from_env : kDefaultCoordinator;
  }
  // A token file named by $HPO_TOKEN_FILE that does not exist is an error only if the coordinator asks
  // for a token (one shell profile may serve coordinators with and without); --token-file must exist.
  std::string missing_token_file;
  if (token_file.empty()) {
    const char* from_env = getenv(kTokenFileEnvVar);
    if (from_env != nullptr) token_file = from_env;
    std::error_code ec;
    if (!token_file.empty() &&
        std::filesystem::status(token_file, ec).type() == std::filesystem::file_type::not_found) {
      missing_token_file = token_file;
    }
  }
  StudyClientOptions options;
  options.deadline = std::chrono::milliseconds(deadline_ms);
  auto token = missing_token_file.empty() ? LoadToken(token_file, getenv(kTokenEnvVar))
                                          : Result<std::string>(std::string());
  if (!token.ok()) {
    err << "hpoctl: " << token.status().message() << std::endl;
    return kExitUsage;
  }
  options.auth_token = *token;
  if (!tls_ca.empty()) {
    auto roots = ReadPemFile(tls_ca, "TLS CA file");
    if (!roots.ok()) {
      err << "hpoctl: " << roots.status().message() << std::endl;
      return kExitUsage;
    }
    options.tls_root_certs = *roots;
  }
  std::unique_ptr<StudyApi> api =
      env.connect ? env.connect(coordinator, options) : StudyClient::Connect(coordinator, options);
  Hpoctl hpoctl(env, std::move(api), missing_token_file);
  if (submit->parsed()) return hpoctl.Submit(file);
  if (studies->parsed()) return hpoctl.Studies(studies_format);
  if (show->parsed()) return hpoctl.Show(study_id, show_format);
  if (trials->parsed()) return hpoctl.Trials(study_id, trials_args);
  if (watch->parsed()) return hpoctl.Watch(study_id, watch_args);
  if (pareto->parsed()) return hpoctl.Pareto(study_id, pareto_args);
  if (export_command->parsed()) return hpoctl.Export(study_id, export_output);
  if (cancel->parsed()) return hpoctl.Cancel(study_id);
  if (delete_command->parsed()) return hpoctl.Delete(study_id, delete_force);
  if (workers_command->parsed()) return hpoctl.Workers(workers_all, workers_format);
  if (analyze->parsed()) return hpoctl.Analyze(study_id, analyze_format, analyze_trees, analyze_output);
  return kExitUsage;
}

}  // namespace hpo::client
