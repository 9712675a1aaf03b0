// Integration: a hostile command trial cannot act as the cluster. hpo-coordinator runs with a user, a
// worker and a read-only token; hpo-worker runs as another user (nobody) with the worker token, and with
// the user token and its file's path in its environment, as an operator's shell might leave them. The
// study's one trial is tests/integration/credential_hunt.py, which tries every way it knows to reach a
// credential: its own environment and argv, the environ, cmdline, open files, working directory and memory
// of its parent chain (the worker first) and of every hpo-worker process (its guard), every process's
// command line, guessable paths and the neighbours of every path seen; then tries to create a study with
// each token found.
//
// It must not get the user or the read-only token, nor see a variable that holds or names a credential;
// the worker's environ and memory must be closed to it. The worker's own token file stays readable to a
// trial of the same user and its path is on the worker's command line: the hunter finds it, and that token
// must be refused PERMISSION_DENIED for StudyService.CreateStudy (README "Security" says so). The same
// study file is then accepted with the user token, so the refusals were the role's, not the file's.
//
// A second case runs the worker as root with `--trial-user nobody` and a token file only root may read: the
// trial then finds no token at all.
//
// Running the worker or its trials as another user needs root: without it the tests are skipped.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "base/credentials.h"
#include "hpo/v1/service.grpc.pb.h"
#include "tests/fault/process.h"
#include "tests/testing/sqlite_rows.h"

namespace hpo {
namespace {

using namespace std::chrono_literals;
using fault::Process;
using fault::ReadFile;
using fault::WaitFor;

constexpr uid_t kNobody = 65534;

// The report's list `name` (of objects), as Structs.
std::vector<google::protobuf::Struct> List(const google::protobuf::Struct& report, const std::string& name) {
  std::vector<google::protobuf::Struct> items;
  const auto it = report.fields().find(name);
  if (it == report.fields().end()) return items;
  for (const auto& value : it->second.list_value().values()) items.push_back(value.struct_value());
  return items;
}

// An item's text field, "" when it has none.
std::string Text(const google::protobuf::Struct& item, const std::string& field) {
  const auto it = item.fields().find(field);
  return it == item.fields().end() ? "" : it->second.string_value();
}

class CredentialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "runs hpo-worker as the user nobody, which needs root";
    dir_ = std::filesystem::temp_directory_path() / ("hpo_credential_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "loot");
    std::filesystem::permissions(dir_, std::filesystem::perms(0755));
    std::filesystem::permissions(dir_ / "loot", std::filesystem::perms(0777));
    for (std::string* token : {&user_token_, &worker_token_, &read_token_}) {
      auto made = NewToken();
      ASSERT_TRUE(made.ok()) << made.status().ToString();
      *token = *made;
    }
    // The user's and the dashboard's tokens belong to root (each test places the worker's).
    WriteToken("user.token", user_token_, 0, 0600);
    WriteToken("read.token", read_token_, 0, 0600);
  }

  void TearDown() override {
    for (auto& p : processes_) {
      if (p->running()) p->Signal(SIGTERM);
    }
    for (auto& p : processes_) (void)p->Wait(10s);
    processes_.clear();
    if (!HasFailure() && !dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string File(const std::string& name) const { return (dir_ / name).string(); }

  // The hunter reads every process's command line, so under a parallel ctest it may also find tokens of
  // other tests' clusters (their token files are theirs to protect): what it found of this test's tokens,
  // and the submits it made with them.
  std::vector<google::protobuf::Struct> OurTokens(const google::protobuf::Struct& report) const {
    std::vector<google::protobuf::Struct> ours;
    for (const auto& found : List(report, "tokens")) {
      const std::string token = Text(found, "token");
      if (token == user_token_ || token == worker_token_ || token == read_token_) ours.push_back(found);
    }
    return ours;
  }
  std::vector<google::protobuf::Struct> OurSubmits(const google::protobuf::Struct& report) const {
    std::set<std::string> sources;
    for (const auto& found : OurTokens(report)) sources.insert(Text(found, "source"));
    std::vector<google::protobuf::Struct> ours;
    for (const auto& submit : List(report, "submits")) {
      if (sources.count(Text(submit, "source")) != 0) ours.push_back(submit);
    }
    return ours;
  }

  void WriteToken(const std::string& name, const std::string& token, uid_t owner, mode_t mode) {
    { std::ofstream(File(name)) << token << "\n"; }
    ASSERT_EQ(chown(File(name).c_str(), owner, owner), 0);
    ASSERT_EQ(chmod(File(name).c_str(), mode), 0);
  }

  Process* Start(const std::vector<std::string>& argv, const std::string& log,
                 const std::vector<std::string>& env = {}) {
    processes_.push_back(std::make_unique<Process>(argv, File(log), env));
    EXPECT_TRUE(processes_.back()->running()) << processes_.back()->error();
    return processes_.back().get();
  }

  std::string Logs() const {
    std::string all;
    for (const char* log : {"coordinator.log", "worker.log"}) {
      all += std::string("== ") + log + "\n" + ReadFile(File(log));
    }
    return all;
  }

  void Hunt(const std::vector<std::string>& prefix, const std::vector<std::string>& suffix,
            v1::StudySpec* spec_out, v1::Study* study_out, google::protobuf::Struct* report_out);

  // One CreateStudy of `spec` carrying `token`.
  grpc::Status CreateStudy(const std::string& token, const v1::StudySpec& spec, v1::Study* study) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    v1::CreateStudyRequest request;
    *request.mutable_spec() = spec;
    return studies_->CreateStudy(&context, request, study);
  }

  std::filesystem::path dir_;
  std::string user_token_, worker_token_, read_token_;
  std::string address_;
  std::unique_ptr<v1::StudyService::Stub> studies_;
  std::vector<std::unique_ptr<Process>> processes_;
};

// Starts the coordinator and a worker (`prefix`, hpo-worker and its flags, `suffix`), runs the hunter as
// the one trial of a study, and reads its report into *report_out (and the study into *study_out, its spec
// into *spec_out); checks what must hold whoever the trial
// runs as: no user or read-only token found, no credential in the trial's environment or argv, the
// worker's and its guards' environ, memory, open files and working directory closed to it.
void CredentialTest::Hunt(const std::vector<std::string>& prefix, const std::vector<std::string>& suffix,
                          v1::StudySpec* spec_out, v1::Study* study_out,
                          google::protobuf::Struct* report_out) {
  const std::string db = File("hpo.db");
  Start({HPO_BIN_DIR "/hpo-coordinator", "--listen", "127.0.0.1:0", "--port-file", File("port"), "--db", db,
         "--heartbeat-ms", "500", "--token-file", File("user.token"), "--worker-token-file",
         File("worker.token"), "--read-token-file", File("read.token")},
        "coordinator.log");
  ASSERT_TRUE(WaitFor([&] { return !ReadFile(File("port")).empty(); }, 15s)) << Logs();
  address_ = "127.0.0.1:" + std::to_string(std::stoi(ReadFile(File("port"))));
  studies_ = v1::StudyService::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));

  // The worker, its environment holding what an operator's shell might: the user token, the path of its
  // file, a TLS file and systemd's credentials directory.
  std::vector<std::string> argv = prefix;
  for (const std::string& arg :
       {std::string(HPO_BIN_DIR "/hpo-worker"), std::string("--coordinator"), address_, std::string("--name"),
        std::string("hunted"), std::string("--slots"), std::string("1"), std::string("--wait-ms"),
        std::string("500"), std::string("--token-file"), File("worker.token")}) {
    argv.push_back(arg);
  }
  argv.insert(argv.end(), suffix.begin(), suffix.end());
  Process* worker = Start(argv, "worker.log",
                          {"HPO_TOKEN=" + user_token_, "HPO_TOKEN_FILE=" + File("user.token"),
                           "HPO_TLS_CA=" + File("ca.pem"), "CREDENTIALS_DIRECTORY=" + dir_.string()});

  const std::string report_path = File("loot/report.json");
  v1::StudySpec spec;
  spec.set_name("hunt");
  spec.set_seed(1);
  for (const char* name : {"found", "created"}) {
    v1::Objective& objective = *spec.add_objectives();
    objective.set_name(name);
    objective.set_direction(v1::MINIMIZE);
  }
  spec.mutable_budget()->set_max_trials(1);
  v1::Parameter& x = *spec.add_parameters();
  x.set_name("x");
  x.mutable_float_()->set_low(0);
  x.mutable_float_()->set_high(1);
  v1::CommandTask& task = *spec.mutable_task()->mutable_command();
  for (const std::string arg :
       {"/usr/bin/python3", HPO_SOURCE_DIR "/tests/integration/credential_hunt.py", "--report",
        report_path.c_str(), "--hpoctl", HPO_BIN_DIR "/hpoctl", "--coordinator", address_.c_str()}) {
    task.add_argv(arg);
  }
  task.set_timeout_s(120);
  v1::Study& study = *study_out;
  {
    const grpc::Status status = CreateStudy(user_token_, spec, &study);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        grpc::ClientContext context;
        context.AddMetadata("authorization", "Bearer " + read_token_);
        v1::GetStudyRequest request;
        request.set_study_id(study.id());
        return studies_->GetStudy(&context, request, &study).ok() && study.state() != v1::STUDY_RUNNING;
      },
      120s))
      << Logs();
  ASSERT_EQ(study.counts().completed(), 1u) << Logs();

  google::protobuf::Struct& report = *report_out;
  const std::string json = ReadFile(report_path);
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &report).ok()) << json;
  SCOPED_TRACE(json);

  // No way gave the user or the read-only token.
  for (const auto& found : List(report, "tokens")) {
    const std::string token = Text(found, "token");
    EXPECT_NE(token, user_token_) << "the user token, from " << Text(found, "source");
    EXPECT_NE(token, read_token_) << "the read-only token, from " << Text(found, "source");
  }
  // The trial's environment and argv name no credential, nor where one is.
  const auto& env = report.fields().at("env").struct_value().fields();
  for (const char* name : {"HPO_TOKEN", "HPO_TOKEN_FILE", "HPO_TLS_CA", "CREDENTIALS_DIRECTORY"}) {
    EXPECT_EQ(env.count(name), 0u) << name;
  }
  for (const auto& [name, value] : env) {
    for (const std::string& secret :
         {user_token_, worker_token_, read_token_, File("user.token"), File("worker.token")}) {
      EXPECT_EQ(value.string_value().find(secret), std::string::npos) << "$" << name;
    }
  }
  for (const auto& arg : report.fields().at("argv").list_value().values()) {
    EXPECT_EQ(arg.string_value().find("token"), std::string::npos) << arg.string_value();
  }
  // Its parent is the worker; the worker and its guards (forks of it) keep their environ, memory, open
  // files and working directory from it.
  const auto& chain = report.fields().at("chain").list_value().values();
  ASSERT_GE(chain.size(), 1);
  EXPECT_EQ(static_cast<pid_t>(chain[0].number_value()), worker->pid());
  const auto& workers = report.fields().at("workers").list_value().values();
  EXPECT_GE(workers.size(), 2) << "the worker and the guard of the hunter's trial";
  *spec_out = spec;
  for (const auto& pid : workers) {
    const std::string proc = "/proc/" + std::to_string(static_cast<pid_t>(pid.number_value()));
    for (const std::string what : {"/environ", "/mem", "/fd", "/cwd"}) {
      bool tried = false;
      for (const auto& way : List(report, "ways")) {
        if (Text(way, "way") != proc + what) continue;
        tried = true;
        EXPECT_EQ(Text(way, "outcome").rfind("blocked", 0), 0u)
            << proc + what << ": " << Text(way, "outcome");
      }
      EXPECT_TRUE(tried) << proc + what;
    }
  }
}

TEST_F(CredentialTest, ATrialOfTheWorkersUserGetsNoUserTokenAndTheWorkerTokenCannotCreateStudies) {
  // The worker as nobody, its token nobody's and 0400: a trial of the same user can read it.
  WriteToken("worker.token", worker_token_, kNobody, 0400);
  v1::StudySpec spec;
  v1::Study study;
  google::protobuf::Struct report;
  ASSERT_NO_FATAL_FAILURE(Hunt({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"},
                               {}, &spec, &study, &report));
  SCOPED_TRACE(ReadFile(File("loot/report.json")));
  const std::string db = File("hpo.db");
  bool found_worker_token = false;
  for (const auto& found : OurTokens(report)) found_worker_token |= Text(found, "token") == worker_token_;

  // What cannot be closed: the worker's own token file, named on its command line. It cannot create a
  // study, through hpoctl or directly.
  EXPECT_TRUE(found_worker_token) << "the hunter should find the worker token through its path";
  for (const auto& submit : OurSubmits(report)) {
    EXPECT_NE(static_cast<int>(submit.fields().at("exit").number_value()), 0) << Text(submit, "output");
    EXPECT_NE(Text(submit, "output").find("the worker token may not call StudyService.CreateStudy"),
              std::string::npos)
        << Text(submit, "output");
  }
  v1::Study evil;
  const grpc::Status refused = CreateStudy(worker_token_, spec, &evil);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED) << refused.error_message();
  EXPECT_EQ(hpo::testing::CountRows(db, "studies"), 1) << "a study was created by the trial";

  // The hunter's study file is valid: with the user token it is accepted.
  Process* submit = Start({HPO_BIN_DIR "/hpoctl", "--coordinator", address_, "--token-file",
                           File("user.token"), "submit", File("loot/evil.json")},
                          "submit.log");
  ASSERT_TRUE(submit->Wait(30s).has_value());
  EXPECT_EQ(hpo::testing::CountRows(db, "studies"), 2) << ReadFile(File("submit.log"));
}

// hpo-worker --trial-user: the worker runs as root with a token only root may read; its trials run as
// nobody and find no token at all.
TEST_F(CredentialTest, ATrialRunAsAnotherUserFindsNoToken) {
  WriteToken("worker.token", worker_token_, 0, 0600);
  v1::StudySpec spec;
  v1::Study study;
  google::protobuf::Struct report;
  ASSERT_NO_FATAL_FAILURE(Hunt({}, {"--trial-user", "nobody"}, &spec, &study, &report));
  SCOPED_TRACE(ReadFile(File("loot/report.json")));
  const auto& env = report.fields().at("env").struct_value().fields();
  EXPECT_EQ(env.at("USER").string_value(), "nobody");
  bool tried_worker_file = false;
  for (const auto& way : List(report, "ways")) {
    if (Text(way, "way") != "read " + File("worker.token")) continue;
    tried_worker_file = true;
    EXPECT_EQ(Text(way, "outcome"), "blocked: Permission denied");
  }
  EXPECT_TRUE(tried_worker_file) << "the hunter should find the worker token's path on the command line";
  EXPECT_EQ(OurTokens(report).size(), 0u);
  EXPECT_EQ(OurSubmits(report).size(), 0u);
  EXPECT_EQ(hpo::testing::CountRows(File("hpo.db"), "studies"), 1);
}

}  // namespace
}  // namespace hpo
