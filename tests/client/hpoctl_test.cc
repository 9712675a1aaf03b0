// hpoctl as a whole, against a fake coordinator: every command's output, its exit code, and where the
// address and the token come from.
#include "client/hpoctl.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "base/credentials.h"
#include "client/cli.h"
#include "tests/testing/spec_builders.h"
#include "tests/testing/temp_dir.h"

namespace hpo::client {
namespace {

constexpr int64_t kNowMs = 1'700'000'100'000;

// One study (id 3: accuracy max, latency_ms min, parameter lr) with five completed trials, one failed
// and one running. Records the calls it gets; `error`, when set, is every call's answer.
class FakeCoordinator final : public StudyApi {
 public:
  FakeCoordinator() {
    study_.set_id(3);
    study_.set_state(v1::STUDY_RUNNING);
    study_.set_created_ms(kNowMs - 60'000);
    v1::StudySpec& spec = *study_.mutable_spec();
    spec.set_name("quick");
    spec.mutable_budget()->set_max_trials(10);
    testing::AddAccuracyAndLatency(&spec);
    auto* lr = spec.add_parameters();
    lr->set_name("lr");
    lr->mutable_float_()->set_low(0.001);
    lr->mutable_float_()->set_high(0.1);
    // (accuracy, latency): front 3, 0, 1 (best accuracy first); 2 and 4 dominated.
    const double values[][2] = {{0.90, 1.0}, {0.85, 0.5}, {0.80, 0.7}, {0.95, 3.0}, {0.95, 3.5}};
    for (uint32_t n = 0; n < 7; ++n) {
      v1::Trial* trial = trials_.add_trials();
      trial->set_id(30 + n);
      trial->set_study_id(3);
      trial->set_number(n);
      trial->set_attempt(1);
      (*trial->mutable_params())["lr"].set_double_value(0.01 * (n + 1));
      if (n < 5) {
        trial->set_state(v1::TRIAL_COMPLETED);
        (*trial->mutable_metrics())["accuracy"] = values[n][0];
        (*trial->mutable_metrics())["latency_ms"] = values[n][1];
        (*trial->mutable_metrics())["params"] = 1000.0 * (5 - n);
      } else {
        trial->set_state(n == 5 ? v1::TRIAL_FAILED : v1::TRIAL_RUNNING);
        if (n == 5) trial->set_error("exit status 1");
      }
    }
    study_.mutable_counts()->set_completed(5);
    study_.mutable_counts()->set_failed(1);
    study_.mutable_counts()->set_running(1);
    for (int n : {3, 0, 1}) *front_.add_trials() = trials_.trials(n);
    *front_.mutable_objectives() = study_.spec().objectives();
    // As the coordinator computes it: accuracy 0.8..0.95 and latency 0.5..3.5 give the reference point
    // (0.785, 3.8); the front (0.95, 3), (0.9, 1), (0.85, 0.5) dominates 0.05 * 0.8 + 0.05 * 2.8 +
    // 0.065 * 3.3 = 0.3945 of it.
    front_.set_hypervolume(0.3945);
    front_.add_reference_point(0.785);
    front_.add_reference_point(3.8);
    front_.set_reference_rule("worst + 10% of range");
    front_.set_considered_trials(5);
  }

  Result<v1::Study> CreateStudy(const v1::StudySpec& spec) override {
    calls.push_back("CreateStudy");
    if (!error.ok()) return error;
    created = spec;
    v1::Study study;
    study.set_id(9);
    *study.mutable_spec() = spec;
    return study;
  }
  Result<v1::Study> GetStudy(uint64_t id) override { return Answer("GetStudy", id, study_); }
  Result<v1::ListStudiesResponse> ListStudies() override {
    calls.push_back("ListStudies");
    if (!error.ok()) return error;
    v1::ListStudiesResponse response;
    *response.add_studies() = study_;
    return response;
  }
  Result<v1::Study> CancelStudy(uint64_t id) override {
    v1::Study cancelled = study_;
    cancelled.set_state(v1::STUDY_CANCELLED);
    cancelled.set_finished_ms(kNowMs);
    return Answer("CancelStudy", id, cancelled);
  }
  Result<v1::ListTrialsResponse> ListTrials(uint64_t id) override {
    return Answer("ListTrials", id, trials_);
  }
  Result<v1::GetParetoFrontResponse> GetParetoFront(uint64_t id,
                                                    const std::vector<double>& reference = {}) override {
    references.push_back(reference);
    if (reference.empty()) return Answer("GetParetoFront", id, front_);
    v1::GetParetoFrontResponse given = front_;
    given.clear_reference_point();
    for (double v : reference) given.add_reference_point(v);
    given.set_reference_rule("given");
    given.set_hypervolume(1.5);
    return Answer("GetParetoFront", id, given);
  }
  // Refuses the running study 3 without force, as the coordinator does.
  Result<v1::DeleteStudyResponse> DeleteStudy(uint64_t id, bool force) override {
    v1::DeleteStudyResponse deleted;
    *deleted.mutable_study() = study_;
    deleted.set_trials_deleted(static_cast<uint32_t>(trials_.trials_size()));
    auto answer = Answer(force ? "DeleteStudy --force" : "DeleteStudy", id, deleted);
    if (answer.ok() && !force && study_.state() == v1::STUDY_RUNNING) {
      return FailedPreconditionError("study 3 is running; cancel it first, or force the deletion");
    }
    return answer;
  }
  Result<v1::ListWorkersResponse> ListWorkers(bool all) override {
    calls.push_back(all ? "ListWorkers --all" : "ListWorkers");
    if (!error.ok()) return error;
    return workers;
  }
  Result<v1::AnalyzeStudyResponse> AnalyzeStudy(uint64_t id, uint32_t trees) override {
    analyzed_trees = trees;
    v1::AnalyzeStudyResponse analysis;
    *analysis.mutable_objectives() = study_.spec().objectives();
    analysis.set_method("fanova (random forest, 64 trees)");
    for (const char* objective : {"accuracy", "latency_ms"}) {
      v1::ObjectiveImportance* o = analysis.add_importance();
      o->set_objective(objective);
      o->set_trials(5);
      const bool accuracy = std::string(objective) == "accuracy";
      v1::ParameterImportance* lr = o->add_parameters();
      lr->set_parameter("lr");
      lr->set_importance(accuracy ? 0.875 : 0.25);
      lr->set_stddev(0.0625);
      v1::ParameterImportance* width = o->add_parameters();
      width->set_parameter("width");
      width->set_importance(accuracy ? 0.125 : 0.75);
      width->set_stddev(0.03125);
    }
    v1::FrontSummary* front = analysis.mutable_front();
    for (int n : {3, 0}) {
      v1::FrontTrialSummary* t = front->add_trials();
      t->set_trial_id(trials_.trials(n).id());
      t->set_number(trials_.trials(n).number());
      t->add_objectives(trials_.trials(n).metrics().at("accuracy"));
      t->add_objectives(trials_.trials(n).metrics().at("latency_ms"));
    }
    front->set_hypervolume(1.5);
    front->add_reference(0.5);
    front->add_reference(4);
    front->add_best(0.95);
    front->add_best(0.5);
    front->add_best_trial_ids(33);
    front->add_best_trial_ids(31);
    front->set_completed(5);
    return Answer("AnalyzeStudy", id, analysis);
  }

  v1::Study& study() { return study_; }
  v1::ListWorkersResponse workers;
  uint32_t analyzed_trees = 0;

  std::vector<std::string> calls;
  std::vector<std::vector<double>> references;  // of each GetParetoFront call
  Status error;
  v1::StudySpec created;

 private:
  template <typename T>
  Result<T> Answer(const char* name, uint64_t id, const T& value) {
    calls.push_back(name);
    if (!error.ok()) return error;
    if (id != 3) return NotFoundError("study " + std::to_string(id) + " not found");
    return value;
  }

  v1::Study study_;
  v1::ListTrialsResponse trials_;
  v1::GetParetoFrontResponse front_;
};

// Runs hpoctl with a fake coordinator, a fake environment and string streams.
struct Hpoctl {
  FakeCoordinator coordinator;
  std::map<std::string, std::string> environment;
  std::string stdin_text;
  bool terminal = false;
  // What connect was called with.
  std::string address;
  StudyClientOptions options;
  int connects = 0;
  std::string out, err;
  FakeClock clock{kNowMs};

  int operator()(std::vector<std::string> args) {
    args.insert(args.begin(), "hpoctl");
    std::vector<const char*> argv;
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    std::istringstream in(stdin_text);
    std::ostringstream out_stream, err_stream;
    HpoctlEnv env;
    env.getenv = [this](const char* name) -> const char* {
      const auto it = environment.find(name);
      return it == environment.end() ? nullptr : it->second.c_str();
    };
    env.connect = [this](const std::string& to, const StudyClientOptions& with) -> std::unique_ptr<StudyApi> {
      ++connects;
      address = to;
      options = with;
      return std::make_unique<Borrowed>(&coordinator);
    };
    env.in = &in;
    env.out = &out_stream;
    env.err = &err_stream;
    env.out_is_terminal = terminal;
    env.columns = 200;
    env.clock = &clock;
    env.sleep = [this](std::chrono::milliseconds ms) {
      clock.AdvanceMs(ms.count());
      coordinator.study().set_state(v1::STUDY_COMPLETED);  // the study ends during the first wait
      coordinator.study().set_finished_ms(clock.NowMs());
    };
    const int code = RunHpoctl(static_cast<int>(argv.size()), argv.data(), env);
    out = out_stream.str();
    err = err_stream.str();
    return code;
  }

  // Passes calls to a FakeCoordinator that the Hpoctl owns.
  class Borrowed final : public StudyApi {
   public:
    explicit Borrowed(FakeCoordinator* fake) : fake_(fake) {}
    Result<v1::Study> CreateStudy(const v1::StudySpec& spec) override { return fake_->CreateStudy(spec); }
    Result<v1::Study> GetStudy(uint64_t id) override { return fake_->GetStudy(id); }
    Result<v1::ListStudiesResponse> ListStudies() override { return fake_->ListStudies(); }
    Result<v1::Study> CancelStudy(uint64_t id) override { return fake_->CancelStudy(id); }
    Result<v1::ListTrialsResponse> ListTrials(uint64_t id) override { return fake_->ListTrials(id); }
    Result<v1::GetParetoFrontResponse> GetParetoFront(uint64_t id,
                                                      const std::vector<double>& reference) override {
      return fake_->GetParetoFront(id, reference);
    }
    Result<v1::DeleteStudyResponse> DeleteStudy(uint64_t id, bool force) override {
      return fake_->DeleteStudy(id, force);
    }
    Result<v1::ListWorkersResponse> ListWorkers(bool all) override { return fake_->ListWorkers(all); }
    Result<v1::AnalyzeStudyResponse> AnalyzeStudy(uint64_t id, uint32_t trees) override {
      return fake_->AnalyzeStudy(id, trees);
    }

   private:
    FakeCoordinator* fake_;
  };
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(HpoctlTest, HelpOnEveryCommandDocumentsExitCodesAndEnvironment) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{{"--help"},
                                                                                    {"submit", "--help"},
                                                                                    {"studies", "--help"},
                                                                                    {"show", "--help"},
                                                                                    {"trials", "--help"},
                                                                                    {"watch", "--help"},
                                                                                    {"pareto", "--help"},
                                                                                    {"export", "--help"},
                                                                                    {"cancel", "--help"},
                                                                                    {"analyze", "--help"},
                                                                                    {"token", "--help"}}) {
    Hpoctl run;
    EXPECT_EQ(run(args), kExitOk) << args[0];
    // One short footer: the exit codes and the environment in three lines, once.
    const size_t footer = run.out.find("Exit status: ");
    ASSERT_NE(footer, std::string::npos) << args[0] << "\n" << run.out;
    EXPECT_EQ(run.out.find("Exit status", footer + 1), std::string::npos) << args[0];
    EXPECT_EQ(run.out.substr(footer), kHpoctlExitHelp + std::string("\n")) << args[0];
    EXPECT_EQ(std::count(run.out.begin() + static_cast<long>(footer), run.out.end(), '\n'), 4) << args[0];
    for (const char* says : {"3 the coordinator could not be reached", "HPO_COORDINATOR", "HPO_TOKEN_FILE"}) {
      EXPECT_NE(run.out.find(says, footer), std::string::npos) << args[0] << ": " << says;
    }
    EXPECT_EQ(run.connects, 0);
  }
  Hpoctl run;
  ASSERT_EQ(run({"pareto", "--help"}), kExitOk);
  for (const char* option : {"--objectives", "--constraint", "--format", "--output", "svg"}) {
    EXPECT_NE(run.out.find(option), std::string::npos) << option;
  }
}

TEST(HpoctlTest, TokenPrintsANewStrongTokenWithoutCallingTheCoordinator) {
  Hpoctl first, second;
  ASSERT_EQ(first({"token"}), kExitOk) << first.err;
  ASSERT_EQ(second({"token"}), kExitOk) << second.err;
  const std::vector<std::string> lines = Lines(first.out);
  ASSERT_EQ(lines.size(), 1u) << first.out;
  EXPECT_EQ(lines[0].size(), 43u);
  EXPECT_TRUE(CheckTokenStrength(lines[0], "hpoctl token").ok());
  EXPECT_NE(first.out, second.out);
  EXPECT_EQ(first.connects, 0);
  EXPECT_EQ(first.err, "");
}

TEST(HpoctlTest, UsageErrorsExitTwoWithoutCallingTheCoordinator) {
  struct Case {
    std::vector<std::string> args;
    const char* says;
  };
  const Case cases[] = {
      {{}, "A subcommand is required"},
      {{"frobnicate"}, "unknown command 'frobnicate'"},
      {{"trials"}, "STUDY is required"},
      {{"trials", "x3"}, "STUDY must be a positive integer, got 'x3'"},
      {{"trials", "3", "--state", "done"}, "--state: unknown state 'done'"},
      {{"trials", "3", "--format", "xml"}, "--format: expected table, csv or json, got 'xml'"},
      {{"pareto", "3", "--constraint", "latency_ms=2"}, "constraint 'latency_ms=2': unknown comparison '='"},
      {{"pareto", "3", "--constraint", "latency_ms<=fast"}, "'fast' is not a finite number"},
      {{"pareto", "3", "--objectives", "accuracy,,x"}, "--objectives 'accuracy,,x': an empty name"},
      {{"pareto", "3", "--format", "png"}, "--format: expected table, csv, json or svg, got 'png'"},
      {{"watch", "3", "--reference", "1,x"}, "--reference '1,x': 'x' is not a finite number"},
      {{"show", "3", "--format", "yaml"}, "--format"},
  };
  for (const Case& c : cases) {
    Hpoctl run;
    EXPECT_EQ(run(c.args), kExitUsage) << (c.args.empty() ? "" : c.args[0]);
    EXPECT_NE(run.err.find(c.says), std::string::npos) << run.err;
    EXPECT_EQ(run.err.rfind("hpoctl: ", 0), 0u) << run.err;
    EXPECT_TRUE(run.coordinator.calls.empty());
    EXPECT_EQ(run.out, "");
  }
}

TEST(HpoctlTest, NamesTheStudyDoesNotKnowAreUsageErrors) {
  Hpoctl run;
  EXPECT_EQ(run({"pareto", "3", "--objectives", "accuracy,latency"}), kExitUsage);
  EXPECT_NE(run.err.find("--objectives: unknown objective 'latency'; the study's objectives are accuracy, "
                         "latency_ms (other metrics the trials report: params)"),
            std::string::npos)
      << run.err;
  Hpoctl constraint;
  EXPECT_EQ(constraint({"pareto", "3", "--constraint", "latncy_ms<=2"}), kExitUsage);
  EXPECT_NE(constraint.err.find("unknown metric 'latncy_ms'; known metrics: accuracy, latency_ms, params"),
            std::string::npos)
      << constraint.err;
  Hpoctl reference;
  EXPECT_EQ(reference({"watch", "3", "--reference", "1,2,3"}), kExitUsage);
  EXPECT_NE(reference.err.find("--reference: 3 values for the study's 2 objectives"), std::string::npos);
}

TEST(HpoctlTest, AddressAndTokenFromTheEnvironmentFlagsOverride) {
  hpo::testing::TempDir dir;
  WriteFile(dir.File("env.token"), "from-env-file\n");
  WriteFile(dir.File("flag.token"), "from-flag-file");
  {
    Hpoctl run;  // nothing set: the default address, no token
    ASSERT_EQ(run({"studies"}), kExitOk) << run.err;
    EXPECT_EQ(run.address, kDefaultCoordinator);
    EXPECT_EQ(run.options.auth_token, "");
  }
  {
    Hpoctl run;
    run.environment = {{"HPO_COORDINATOR", "coord:7000"},
                       {"HPO_TOKEN_FILE", dir.File("env.token")},
                       {"HPO_TOKEN", "from-env"}};
    ASSERT_EQ(run({"studies"}), kExitOk) << run.err;
    EXPECT_EQ(run.address, "coord:7000");
    EXPECT_EQ(run.options.auth_token, "from-env-file");  // the file wins over $HPO_TOKEN
  }
  {
    Hpoctl run;
    run.environment = {{"HPO_COORDINATOR", "coord:7000"}, {"HPO_TOKEN_FILE", dir.File("env.token")}};
    ASSERT_EQ(run({"--coordinator", "other:8000", "--token-file", dir.File("flag.token"), "studies"}),
              kExitOk);
    EXPECT_EQ(run.address, "other:8000");
    EXPECT_EQ(run.options.auth_token, "from-flag-file");
  }
  {
    Hpoctl run;
    run.environment = {{"HPO_TOKEN", "from-env"}};
    ASSERT_EQ(run({"--deadline-ms", "250", "studies"}), kExitOk);
    EXPECT_EQ(run.options.auth_token, "from-env");
    EXPECT_EQ(run.options.deadline, std::chrono::milliseconds(250));
  }
  {
    Hpoctl run;  // --token-file naming a file that is not there is a usage error, before any call
    EXPECT_EQ(run({"--token-file", dir.File("missing.token"), "studies"}), kExitUsage);
    EXPECT_NE(run.err.find("missing.token"), std::string::npos) << run.err;
    EXPECT_EQ(run.connects, 0);
  }
}

TEST(HpoctlTest, AMissingHpoTokenFileIsAnErrorOnlyWhenTheCoordinatorAsksForAToken) {
  hpo::testing::TempDir dir;
  const std::string missing = dir.File("missing.token");
  {
    Hpoctl run;  // a coordinator without a token: no token is sent, all is well
    run.environment = {{"HPO_TOKEN_FILE", missing}, {"HPO_TOKEN", "not-used"}};
    ASSERT_EQ(run({"studies"}), kExitOk) << run.err;
    EXPECT_EQ(run.options.auth_token, "");
    EXPECT_EQ(run.err, "");
  }
  for (const char* command : {"studies", "watch"}) {
    Hpoctl run;  // one that asks for a token: the error says which file is missing
    run.environment = {{"HPO_TOKEN_FILE", missing}};
    run.coordinator.error = UnauthenticatedError("missing bearer token");
    std::vector<std::string> args = {command};
    if (std::string(command) != "studies") args.push_back("3");
    EXPECT_EQ(run(args), kExitUsage) << command;
    EXPECT_EQ(run.err, "hpoctl: the coordinator asks for a token, and HPO_TOKEN_FILE names '" + missing +
                           "', which does not exist (UNAUTHENTICATED: missing bearer token)\n")
        << command;
  }
  {
    Hpoctl run;  // an existing but empty file is still an error at once
    WriteFile(dir.File("empty.token"), "");
    run.environment = {{"HPO_TOKEN_FILE", dir.File("empty.token")}};
    EXPECT_EQ(run({"studies"}), kExitUsage);
    EXPECT_NE(run.err.find("empty.token"), std::string::npos) << run.err;
    EXPECT_EQ(run.connects, 0);
  }
}

TEST(HpoctlTest, RefusalsExitOneAndTransportErrorsThree) {
  Hpoctl missing;
  EXPECT_EQ(missing({"show", "4"}), kExitFailed);
  EXPECT_EQ(missing.err, "hpoctl: NOT_FOUND: study 4 not found\n");
  Hpoctl denied;
  denied.coordinator.error = UnauthenticatedError("missing or wrong bearer token");
  EXPECT_EQ(denied({"trials", "3"}), kExitFailed);
  EXPECT_EQ(denied.err, "hpoctl: UNAUTHENTICATED: missing or wrong bearer token\n");
  for (const char* command : {"studies", "show", "trials", "pareto", "export", "cancel", "watch"}) {
    Hpoctl down;
    down.coordinator.error = UnavailableError("connection refused");
    std::vector<std::string> args = {command};
    if (std::string(command) != "studies") args.push_back("3");
    EXPECT_EQ(down(args), kExitUnreachable) << command;
    EXPECT_NE(down.err.find("UNAVAILABLE: connection refused"), std::string::npos) << command;
  }
  // No answer at all (StudyClient's words, DescribeNoAnswer): the words alone, without the code.
  for (const char* command : {"studies", "show", "watch"}) {
    Hpoctl down;
    down.coordinator.error = UnavailableError(
        "cannot reach 127.0.0.1:50051: connection refused (is hpo-coordinator running there?)");
    std::vector<std::string> args = {command};
    if (std::string(command) != "studies") args.push_back("3");
    EXPECT_EQ(down(args), kExitUnreachable) << command;
    EXPECT_EQ(
        down.err,
        "hpoctl: cannot reach 127.0.0.1:50051: connection refused (is hpo-coordinator running there?)\n")
        << command;
  }
}

TEST(HpoctlTest, SubmitPrintsTheIdAndRefusesABadFile) {
  hpo::testing::TempDir dir;
  WriteFile(
      dir.File("study.json"),
      R"({"name": "s", "objectives": [{"name": "f1", "direction": "MINIMIZE"}], "budget": {"max_trials": 4}})");
  Hpoctl run;
  ASSERT_EQ(run({"submit", dir.File("study.json")}), kExitOk) << run.err;
  EXPECT_EQ(run.out, "9\n");
  EXPECT_EQ(run.coordinator.created.name(), "s");
  EXPECT_EQ(run.coordinator.created.budget().max_trials(), 4u);

  Hpoctl from_stdin;
  from_stdin.stdin_text = R"({"name": "piped"})";
  ASSERT_EQ(from_stdin({"submit", "-"}), kExitOk);
  EXPECT_EQ(from_stdin.coordinator.created.name(), "piped");

  Hpoctl misspelt;
  WriteFile(dir.File("bad.json"), R"({"name": "s", "budgte": {}})");
  EXPECT_EQ(misspelt({"submit", dir.File("bad.json")}), kExitFailed);
  EXPECT_NE(misspelt.err.find("budgte"), std::string::npos) << misspelt.err;
  EXPECT_TRUE(misspelt.coordinator.calls.empty());

  Hpoctl refused;
  refused.coordinator.error = InvalidArgumentError("spec.budget.max_trials: must be at least 1");
  EXPECT_EQ(refused({"submit", dir.File("study.json")}), kExitFailed);
  EXPECT_EQ(refused.err, "hpoctl: INVALID_ARGUMENT: spec.budget.max_trials: must be at least 1\n");
}

TEST(HpoctlTest, TrialsFilteredByStateInEachFormat) {
  Hpoctl run;
  ASSERT_EQ(run({"trials", "3", "--state", "failed,running", "--format", "csv"}), kExitOk) << run.err;
  EXPECT_EQ(
      run.out,
      "trial,id,state,attempt,step,accuracy,latency_ms,lr,device,worker_id,started_ms,finished_ms,error\n"
      "5,35,failed,1,,,,0.06,,,,,exit status 1\n"
      "6,36,running,1,,,,0.07,,,,,\n");
  Hpoctl table;
  ASSERT_EQ(table({"trials", "3", "--state", "completed"}), kExitOk);
  EXPECT_EQ(Lines(table.out).size(), 6u);  // header and five
  Hpoctl json;
  ASSERT_EQ(json({"trials", "3", "--format", "json"}), kExitOk);
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage("{\"t\": " + json.out + "}", &parsed).ok())
      << json.out;
  EXPECT_EQ(parsed.fields().at("t").list_value().values_size(), 7);
}

TEST(HpoctlTest, ParetoFromTheCoordinatorOrRecomputedHere) {
  Hpoctl plain;
  ASSERT_EQ(plain({"pareto", "3", "--format", "csv"}), kExitOk) << plain.err;
  EXPECT_EQ(plain.out,
            "trial,accuracy,latency_ms,lr\n"
            "3,0.95,3,0.04\n"
            "0,0.9,1,0.01\n"
            "1,0.85,0.5,0.02\n");
  EXPECT_EQ(plain.coordinator.calls, (std::vector<std::string>{"GetStudy", "GetParetoFront"}));

  Hpoctl constrained;
  ASSERT_EQ(constrained({"pareto", "3", "--constraint", "latency_ms<=2", "--format", "csv"}), kExitOk);
  EXPECT_EQ(constrained.out, "trial,accuracy,latency_ms,lr\n0,0.9,1,0.01\n1,0.85,0.5,0.02\n");
  EXPECT_EQ(constrained.coordinator.calls, (std::vector<std::string>{"GetStudy", "ListTrials"}));

  // params (fewer is better) against accuracy: params is 1000 * (5 - n), so trial 4 has the fewest and
  // ties 3 for the best accuracy: it dominates every other trial.
  Hpoctl chosen;
  ASSERT_EQ(chosen({"pareto", "3", "--objectives", "params:min,accuracy", "--constraint", "accuracy>0.5",
                    "--constraint", "latency_ms<10", "--format", "json"}),
            kExitOk)
      << chosen.err;
  EXPECT_EQ(
      chosen.out,
      "[\n  {\"trial\": 4, \"objectives\": {\"params\": 1000, \"accuracy\": 0.95}, \"params\": {\"lr\": "
      "0.05}}\n]\n");

  Hpoctl none;
  ASSERT_EQ(none({"pareto", "3", "--constraint", "latency_ms<0.1"}), kExitOk);
  EXPECT_NE(none.err.find("no completed trial meets the constraints"), std::string::npos);
}

TEST(HpoctlTest, ParetoSvgToAFile) {
  hpo::testing::TempDir dir;
  Hpoctl run;
  ASSERT_EQ(run({"pareto", "3", "--format", "svg", "-o", dir.File("front.svg")}), kExitOk) << run.err;
  EXPECT_EQ(run.out, "");
  const std::string svg = ReadFile(dir.File("front.svg"));
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  size_t front = 0, others = 0;
  for (size_t at = svg.find("<circle class=\"front\""); at != std::string::npos;
       at = svg.find("<circle class=\"front\"", at + 1)) {
    ++front;
  }
  for (size_t at = svg.find("<circle class=\"trial\""); at != std::string::npos;
       at = svg.find("<circle class=\"trial\"", at + 1)) {
    ++others;
  }
  EXPECT_EQ(front, 3u);   // the coordinator's front
  EXPECT_EQ(others, 2u);  // the other completed trials
  EXPECT_NE(svg.find("study 3 quick: Pareto front"), std::string::npos);

  Hpoctl constrained;
  ASSERT_EQ(constrained({"pareto", "3", "--format", "svg", "--constraint", "latency_ms<=2"}), kExitOk);
  EXPECT_NE(constrained.out.find("study 3 quick: Pareto front where latency_ms&lt;=2"), std::string::npos);
  EXPECT_NE(constrained.out.find("<circle class=\"infeasible\" data-trial=\"3\""), std::string::npos);

  Hpoctl unwritable;
  EXPECT_EQ(unwritable({"pareto", "3", "-o", dir.File("no/such/dir/front.csv")}), kExitFailed);
  EXPECT_NE(unwritable.err.find("cannot write"), std::string::npos) << unwritable.err;
}

TEST(HpoctlTest, ExportIsOneJsonDocumentWithEverything) {
  Hpoctl run;
  ASSERT_EQ(run({"export", "3"}), kExitOk) << run.err;
  google::protobuf::Struct document;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(run.out, &document).ok()) << run.out;
  const auto& fields = document.fields();
  EXPECT_EQ(fields.at("format").string_value(), "hpo.export.v1");
  EXPECT_EQ(fields.at("exported_ms").number_value(), static_cast<double>(kNowMs));
  EXPECT_EQ(
      fields.at("study").struct_value().fields().at("spec").struct_value().fields().at("name").string_value(),
      "quick");
  EXPECT_EQ(fields.at("trials").list_value().values_size(), 7);
  EXPECT_EQ(fields.at("pareto_front").struct_value().fields().at("trials").list_value().values_size(), 3);
}

TEST(HpoctlTest, ShowStudiesAndCancel) {
  Hpoctl show;
  ASSERT_EQ(show({"show", "3"}), kExitOk) << show.err;
  EXPECT_NE(show.out.find("state         running\n"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("pareto front  3 trials\n"), std::string::npos) << show.out;
  EXPECT_NE(
      show.out.find("hypervolume   0.3945 (reference point [accuracy 0.785, latency_ms 3.8], rule: worst + "
                    "10% of range)\n"),
      std::string::npos)
      << show.out;
  EXPECT_NE(show.out.find("  lr          float [0.001, 0.1]\n"), std::string::npos) << show.out;
  Hpoctl json;
  ASSERT_EQ(json({"show", "3", "--format", "json"}), kExitOk);
  v1::Study study;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.out, &study).ok()) << json.out;
  EXPECT_EQ(study.spec().name(), "quick");
  EXPECT_NE(json.out.find("\"id\": 3,"), std::string::npos) << json.out;  // a number, not "3"
  EXPECT_NE(json.out.find("\"created_ms\": 1700000040000,"), std::string::npos) << json.out;
  Hpoctl studies;
  ASSERT_EQ(studies({"studies"}), kExitOk);
  EXPECT_EQ(Lines(studies.out).size(), 2u);
  Hpoctl cancel;
  ASSERT_EQ(cancel({"cancel", "3"}), kExitOk);
  EXPECT_EQ(cancel.out,
            "study 3 quick: 6/10 finished (5 completed, 1 failed), 1 running, took 1m00s wall, 0s compute, "
            "cancelled\n");
}

TEST(HpoctlTest, StudiesInEachFormat) {
  Hpoctl table;
  ASSERT_EQ(table({"studies", "--format", "table"}), kExitOk) << table.err;
  EXPECT_EQ(table.out,
            "id  name   state    completed  pruned  failed  running  pending  max_trials\n"
            " 3  quick  running          5       0       1        1        0          10\n");
  Hpoctl csv;
  ASSERT_EQ(csv({"studies", "--format", "csv"}), kExitOk) << csv.err;
  EXPECT_EQ(
      csv.out,
      "id,name,state,completed,pruned,failed,running,pending,cancelled,max_trials,created_ms,finished_ms\n"
      "3,quick,running,5,0,1,1,0,0,10,1700000040000,\n");
  Hpoctl json;
  ASSERT_EQ(json({"studies", "--format", "json"}), kExitOk) << json.err;
  EXPECT_EQ(json.out,
            "[\n  {\"id\": 3, \"name\": \"quick\", \"state\": \"running\", \"completed\": 5, \"pruned\": 0, "
            "\"failed\": 1, \"running\": 1, \"pending\": 0, \"cancelled\": 0, \"max_trials\": 10, "
            "\"created_ms\": 1700000040000, \"finished_ms\": null}\n]\n");
  Hpoctl bad;
  EXPECT_EQ(bad({"studies", "--format", "xml"}), kExitUsage);
  EXPECT_EQ(bad.err, "hpoctl: --format: expected table, csv or json, got 'xml'\n");
  EXPECT_TRUE(bad.coordinator.calls.empty());
}

TEST(HpoctlTest, AnalyzePrintsImportanceAndTheFrontAsATableOrJson) {
  Hpoctl table;
  ASSERT_EQ(table({"analyze", "3"}), kExitOk) << table.err;
  EXPECT_EQ(table.out,
            "Importance (fanova (random forest, 64 trees); share of each objective's variance):\n"
            "parameter  accuracy (5 trials)  latency_ms (5 trials)\n"
            "lr"
            "                0.875 \u00b10.062           0.250 \u00b10.062\n"
            "width"
            "             0.125 \u00b10.031           0.750 \u00b10.031\n"
            "\n"
            "Front: 2 trials of 5 completed (0 infeasible), hypervolume 1.5 (reference 0.5, 4)\n"
            "  best accuracy (max): 0.95 (trial id 33)\n"
            "  best latency_ms (min): 0.5 (trial id 31)\n"
            "number  id  accuracy  latency_ms\n"
            "     3  33      0.95           3\n"
            "     0  30       0.9           1\n");
  EXPECT_EQ(table.coordinator.analyzed_trees, 0u);
  Hpoctl json;
  ASSERT_EQ(json({"analyze", "3", "--format", "json", "--trees", "16"}), kExitOk) << json.err;
  EXPECT_EQ(json.coordinator.analyzed_trees, 16u);
  hpo::testing::TempDir dir;
  Hpoctl to_file;
  ASSERT_EQ(to_file({"analyze", "3", "-o", dir.File("analysis.txt")}), kExitOk) << to_file.err;
  EXPECT_EQ(ReadFile(dir.File("analysis.txt")), table.out);
  EXPECT_EQ(to_file.out, "");
  v1::AnalyzeStudyResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.out, &parsed).ok()) << json.out;
  EXPECT_EQ(parsed.importance(1).parameters(1).importance(), 0.75);
  EXPECT_EQ(parsed.front().trials(0).trial_id(), 33u);
  Hpoctl missing;
  EXPECT_EQ(missing({"analyze", "4"}), kExitFailed);
  EXPECT_NE(missing.err.find("study 4 not found"), std::string::npos);
  Hpoctl bad;
  EXPECT_EQ(bad({"analyze", "3", "--trees", "0"}), kExitUsage);
  EXPECT_EQ(bad({"analyze", "3", "--format", "csv"}), kExitUsage);
}

TEST(HpoctlTest, WatchPrintsPlainLinesOrABarAndExitsByTheEnd) {
  Hpoctl plain;
  ASSERT_EQ(plain({"watch", "3", "--interval-ms", "500"}), kExitOk) << plain.err;
  const std::vector<std::string> lines = Lines(plain.out);
  ASSERT_EQ(lines.size(), 2u) << plain.out;
  // The coordinator's hypervolume, with its reference point and rule.
  EXPECT_EQ(lines[0],
            "study 3 quick: 6/10 finished (5 completed, 1 failed), 1 running, hypervolume 0.3945 (reference "
            "point [accuracy 0.785, latency_ms 3.8], rule: worst + 10% of range), elapsed 1m00s, about 40s "
            "left");
  EXPECT_EQ(lines[1],
            "study 3 quick: 6/10 finished (5 completed, 1 failed), 1 running, hypervolume 0.3945 (reference "
            "point [accuracy 0.785, latency_ms 3.8], rule: worst + 10% of range), took 1m00s wall, 0s compute, "
            "completed");
  Hpoctl given;
  ASSERT_EQ(given({"watch", "3", "--reference", "0.5,10"}), kExitOk) << given.err;
  EXPECT_EQ(given.coordinator.references.back(), (std::vector<double>{0.5, 10}));
  EXPECT_NE(given.out.find("hypervolume 1.5 (reference point [accuracy 0.5, latency_ms 10], rule: given)"),
            std::string::npos)
      << given.out;
  Hpoctl bar;
  bar.terminal = true;
  ASSERT_EQ(bar({"watch", "3", "--no-hypervolume"}), kExitOk);
  EXPECT_EQ(bar.out.rfind("\r\033[Kstudy 3 quick [############xx>>........] 6/10", 0), 0u) << bar.out;
  EXPECT_EQ(bar.out.find("hv "), std::string::npos);
  EXPECT_EQ(bar.out.back(), '\n');

  Hpoctl cancelled;
  cancelled.coordinator.study().set_state(v1::STUDY_CANCELLED);
  EXPECT_EQ(cancelled({"watch", "3"}), kExitFailed);
  EXPECT_NE(cancelled.err.find("study 3 was cancelled"), std::string::npos);
}

TEST(HpoctlOpsTest, WorkersListsStateSlotsHeartbeatAndLabels) {
  Hpoctl hpoctl;
  v1::WorkerInfo* live = hpoctl.coordinator.workers.add_workers();
  live->set_id(4);
  live->set_name("node-a");
  live->set_device("NVIDIA H100");
  (*live->mutable_labels())["gpu"] = "H100";
  (*live->mutable_labels())["device"] = "NVIDIA H100";
  live->set_slots(2);
  live->set_slots_in_use(1);
  live->set_last_heartbeat_ms(kNowMs - 1'200);
  live->set_state(v1::WORKER_LIVE);
  v1::WorkerInfo* lost = hpoctl.coordinator.workers.add_workers();
  lost->set_id(12);
  lost->set_name("b\x1b[2J");
  lost->set_slots(1);
  lost->set_state(v1::WORKER_LOST);
  ASSERT_EQ(hpoctl({"workers"}), kExitOk) << hpoctl.err;
  EXPECT_EQ(hpoctl.out,
            "id  name      state  slots  last heartbeat  device       labels\n"
            " 4  node-a    live   1/2    1s ago          NVIDIA H100  device=NVIDIA H100, gpu=H100\n"
            "12  b\\x1b[2J  lost   0/1    -\n");
  EXPECT_EQ(hpoctl.coordinator.calls, (std::vector<std::string>{"ListWorkers"}));

  ASSERT_EQ(hpoctl({"workers", "--all", "--format", "json"}), kExitOk) << hpoctl.err;
  EXPECT_NE(hpoctl.out.find("\"state\": \"WORKER_LOST\""), std::string::npos) << hpoctl.out;
  EXPECT_NE(hpoctl.out.find("\"slots_in_use\": 1"), std::string::npos) << hpoctl.out;
  EXPECT_EQ(hpoctl.coordinator.calls.back(), "ListWorkers --all");
  EXPECT_EQ(hpoctl({"workers", "--format", "csv"}), kExitUsage);

  hpoctl.coordinator.workers.Clear();
  ASSERT_EQ(hpoctl({"workers"}), kExitOk);
  EXPECT_EQ(hpoctl.out, "no worker has called this coordinator since it started\n");
  hpoctl.coordinator.error = UnavailableError("connection refused");
  EXPECT_EQ(hpoctl({"workers"}), kExitUnreachable);
}

TEST(HpoctlOpsTest, DeleteRefusesARunningStudyWithoutForce) {
  Hpoctl hpoctl;
  EXPECT_EQ(hpoctl({"delete", "3"}), kExitFailed);
  EXPECT_EQ(hpoctl.err,
            "hpoctl: FAILED_PRECONDITION: study 3 is running; cancel it first, or force the deletion\n");
  EXPECT_EQ(hpoctl.out, "");
  ASSERT_EQ(hpoctl({"delete", "3", "--force"}), kExitOk) << hpoctl.err;
  EXPECT_EQ(hpoctl.out, "deleted study 3 quick (running, 7 trials)\n");
  EXPECT_EQ(hpoctl.coordinator.calls.back(), "DeleteStudy --force");
  EXPECT_EQ(hpoctl({"delete", "4"}), kExitFailed);
  EXPECT_EQ(hpoctl.err, "hpoctl: NOT_FOUND: study 4 not found\n");
  EXPECT_EQ(hpoctl({"delete"}), kExitUsage);
  EXPECT_EQ(hpoctl({"delete", "x"}), kExitUsage);
}

// show: the wait for a worker, the first trial's start, the time left from it, and what an ended study took.
TEST(HpoctlOpsTest, ShowSaysWhatTheStudyWaitsForAndWhatItTook) {
  Hpoctl hpoctl;
  hpoctl.coordinator.study().set_waiting("no live worker matches selector gpu=H100");
  hpoctl.coordinator.study().set_first_trial_started_ms(kNowMs - 30'000);
  ASSERT_EQ(hpoctl({"show", "3"}), kExitOk) << hpoctl.err;
  EXPECT_NE(hpoctl.out.find("\nwaiting "), std::string::npos) << hpoctl.out;
  EXPECT_NE(hpoctl.out.find(" no live worker matches selector gpu=H100\n"), std::string::npos) << hpoctl.out;
  EXPECT_NE(hpoctl.out.find("\nfirst trial "), std::string::npos) << hpoctl.out;
  EXPECT_NE(hpoctl.out.find(" (30s after creation)\n"), std::string::npos) << hpoctl.out;
  EXPECT_EQ(hpoctl.out.find("\ntook"), std::string::npos) << hpoctl.out;

  hpoctl.coordinator.study().set_state(v1::STUDY_COMPLETED);
  hpoctl.coordinator.study().set_finished_ms(kNowMs);
  hpoctl.coordinator.study().set_compute_ms(125'000);
  hpoctl.coordinator.study().clear_waiting();
  ASSERT_EQ(hpoctl({"show", "3"}), kExitOk) << hpoctl.err;
  EXPECT_NE(hpoctl.out.find("\ntook "), std::string::npos) << hpoctl.out;
  EXPECT_NE(hpoctl.out.find(" 1m00s wall, 2m05s compute\n"), std::string::npos) << hpoctl.out;
  EXPECT_EQ(hpoctl.out.find("waiting"), std::string::npos) << hpoctl.out;
}

}  // namespace
}  // namespace hpo::client
