// hpoctl: the command-line client of the hpo coordinator's StudyService.
//
//   hpoctl [--coordinator ADDR] [--deadline-ms N] [--token-file FILE] [--tls-ca PEM]
//          submit FILE | studies | trials STUDY |
//          watch STUDY [--interval-ms N] [--retry-s N] | pareto STUDY [--format table|csv|json] |
//          cancel STUDY
//
// --token-file (default: $HPO_TOKEN when set) sends "authorization: Bearer <token>" with every call;
// --tls-ca connects with TLS, verifying the coordinator's certificate against those roots.
//
// Results go to stdout, errors to stderr as "hpoctl: <CODE>: <message>". Exit codes: see kExitHelp.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/credentials.h"
#include "base/status.h"
#include "client/cli.h"
#include "client/format.h"
#include "client/progress.h"
#include "client/study_client.h"
#include "client/study_file.h"
#include "client/watch.h"

namespace {

using hpo::Result;
using hpo::Status;
using hpo::client::kExitFailed;
using hpo::client::kExitOk;
using hpo::client::kExitUnreachable;
using hpo::client::kExitUsage;
using hpo::client::StudyApi;
using hpo::client::StudyClient;

constexpr char kDefaultCoordinator[] = "127.0.0.1:50051";

constexpr char kExitHelp[] =
    "Exit status:\n"
    "  0  success; for watch: the study completed\n"
    "  1  the request failed (unreadable or invalid study file, or the coordinator refused it, e.g.\n"
    "     INVALID_ARGUMENT naming the field, NOT_FOUND); for watch: the study failed or was cancelled\n"
    "  2  usage error (bad command line, STUDY not a positive integer, unreadable or empty token file,\n"
    "     unreadable CA file)\n"
    "  3  the coordinator could not be reached or did not answer within the deadline; for watch: any\n"
    "     RPC error (after --retry-s of retrying transient ones)\n"
    "Errors are printed on stderr as \"hpoctl: <CODE>: <message>\".\n";

void PrintError(const Status& status) { std::cerr << "hpoctl: " << status.ToString() << std::endl; }

// Prints a failed RPC's status and returns its exit code.
int RpcFailed(const Status& status) {
  PrintError(status);
  return hpo::client::ExitCodeForRpcError(status);
}

int64_t NowMs() { return hpo::SystemClock::Default()->NowMs(); }

Result<hpo::v1::StudySpec> ReadSpec(const std::string& file) {
  if (file != "-") return hpo::client::LoadStudySpec(file);
  const std::string json((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  return hpo::client::ParseStudySpec(json, "study file <stdin>");
}

int Submit(StudyApi& client, const std::string& file) {
  auto spec = ReadSpec(file);
  if (!spec.ok()) {
    PrintError(spec.status());
    return kExitFailed;
  }
  auto study = client.CreateStudy(*spec);
  if (!study.ok()) return RpcFailed(study.status());
  std::cout << study->id() << std::endl;
  return kExitOk;
}

int Studies(StudyApi& client) {
  auto studies = client.ListStudies();
  if (!studies.ok()) return RpcFailed(studies.status());
  std::cout << hpo::client::FormatStudiesTable(*studies) << std::flush;
  return kExitOk;
}

int Trials(StudyApi& client, uint64_t study_id) {
  auto study = client.GetStudy(study_id);
  if (!study.ok()) return RpcFailed(study.status());
  auto trials = client.ListTrials(study_id);
  if (!trials.ok()) return RpcFailed(trials.status());
  std::cout << hpo::client::FormatTrialsTable(*trials, study->spec()) << std::flush;
  return kExitOk;
}

int Pareto(StudyApi& client, uint64_t study_id, const std::string& format_name) {
  auto format = hpo::client::ParseOutputFormat(format_name);
  if (!format.ok()) {
    PrintError(format.status());
    return kExitUsage;
  }
  auto study = client.GetStudy(study_id);
  if (!study.ok()) return RpcFailed(study.status());
  auto front = client.GetParetoFront(study_id);
  if (!front.ok()) return RpcFailed(front.status());
  std::cout << hpo::client::FormatParetoFront(*front, study->spec(), *format) << std::flush;
  if (front->trials().empty() && *format == hpo::client::OutputFormat::kTable) {
    std::cerr << "hpoctl: study " << study_id << " has no completed trials yet" << std::endl;
  }
  return kExitOk;
}

int Cancel(StudyApi& client, uint64_t study_id) {
  auto study = client.CancelStudy(study_id);
  if (!study.ok()) return RpcFailed(study.status());
  std::cout << hpo::client::FormatProgressLine(*study, NowMs()) << std::endl;
  return kExitOk;
}

struct WatchArgs {
  int interval_ms = 1000;
  int retry_s = 30;
};

int Watch(StudyApi& api, uint64_t study_id, const WatchArgs& args) {
  hpo::client::WatchOptions options;
  options.interval = std::chrono::milliseconds(args.interval_ms);
  options.retry = std::chrono::seconds(args.retry_s);
  options.rewrite_line = isatty(STDOUT_FILENO) == 1;
  auto study = hpo::client::WatchStudy(api, study_id, options);
  if (!study.ok()) {
    PrintError(study.status());
    return kExitUnreachable;
  }
  if (study->state() == hpo::v1::STUDY_COMPLETED) return kExitOk;
  auto trials = api.ListTrials(study_id);  // best effort: the last trial error says what went wrong
  std::cerr << "hpoctl: " << hpo::client::DescribeUnsuccessfulEnd(*study, trials.ok() ? &*trials : nullptr)
            << std::endl;
  return hpo::client::WatchExitCode(study->state());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hpoctl: submit, watch and query hyperparameter studies on an hpo coordinator.", "hpoctl"};
  app.footer(kExitHelp);
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "hpoctl: " + std::string(e.what()) + "\nRun with --help for more information.\n";
  });
  app.require_subcommand(1);

  std::string coordinator = kDefaultCoordinator;
  int deadline_ms = 10'000;
  app.add_option("--coordinator", coordinator, "Coordinator address host:port")
      ->envname("HPO_COORDINATOR")
      ->capture_default_str();
  app.add_option("--deadline-ms", deadline_ms, "Deadline of each RPC in milliseconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  std::string token_file;
  std::string tls_ca;
  app.add_option("--token-file", token_file, "Bearer token file (default: $HPO_TOKEN when set)");
  app.add_option("--tls-ca", tls_ca, "PEM root certificates: connect with TLS");

  std::string file;
  CLI::App* submit = app.add_subcommand("submit", "Create a study from a JSON study file; print its id");
  submit->add_option("FILE", file, "Study file (StudySpec as JSON); - reads stdin")->required();

  CLI::App* studies = app.add_subcommand("studies", "List the studies");

  std::string study_arg;
  CLI::App* trials = app.add_subcommand("trials", "List a study's trials");
  trials->add_option("STUDY", study_arg, "Study id")->required();

  WatchArgs watch_args;
  CLI::App* watch = app.add_subcommand(
      "watch", "Follow a study until it ends: exit 0 if it completed, 1 if it failed or was cancelled");
  watch->add_option("STUDY", study_arg, "Study id")->required();
  watch->add_option("--interval-ms", watch_args.interval_ms, "Polling interval in milliseconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  watch
      ->add_option("--retry-s", watch_args.retry_s,
                   "Keep polling through UNAVAILABLE / DEADLINE_EXCEEDED for this many seconds (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();

  std::string format = "table";
  CLI::App* pareto = app.add_subcommand("pareto", "Print a study's Pareto front");
  pareto->add_option("STUDY", study_arg, "Study id")->required();
  pareto->add_option("--format", format, "Output format")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();

  CLI::App* cancel = app.add_subcommand("cancel", "Cancel a study");
  cancel->add_option("STUDY", study_arg, "Study id")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;  // --help is a "ParseError" that exits 0
  }

  uint64_t study_id = 0;
  if (!submit->parsed() && !studies->parsed()) {
    auto id = hpo::client::ParseStudyId(study_arg);
    if (!id.ok()) {
      std::cerr << "hpoctl: " << id.status().message() << std::endl;
      return kExitUsage;
    }
    study_id = *id;
  }

  hpo::client::StudyClientOptions options;
  options.deadline = std::chrono::milliseconds(deadline_ms);
  auto token = hpo::LoadToken(token_file, std::getenv(hpo::kTokenEnvVar));
  if (!token.ok()) {
    std::cerr << "hpoctl: " << token.status().message() << std::endl;
    return kExitUsage;
  }
  options.auth_token = *token;
  if (!tls_ca.empty()) {
    auto roots = hpo::ReadPemFile(tls_ca, "TLS CA file");
    if (!roots.ok()) {
      std::cerr << "hpoctl: " << roots.status().message() << std::endl;
      return kExitUsage;
    }
    options.tls_root_certs = *roots;
  }
  const std::unique_ptr<StudyClient> client = StudyClient::Connect(coordinator, options);
  if (submit->parsed()) return Submit(*client, file);
  if (studies->parsed()) return Studies(*client);
  if (trials->parsed()) return Trials(*client, study_id);
  if (watch->parsed()) return Watch(*client, study_id, watch_args);
  if (pareto->parsed()) return Pareto(*client, study_id, format);
  if (cancel->parsed()) return Cancel(*client, study_id);
  return kExitUsage;
}
