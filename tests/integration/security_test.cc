// Integration: the coordinator's security over real loopback gRPC, on a real SQLite file. The bearer token
// guards every StudyService and WorkerService method (missing, wrong and right token; a worker and a
// read-only token make their roles' calls only), while the standard
// health service answers without one; TLS works with a certificate made at run time by the `openssl`
// tool and refuses plaintext clients and clients that trust another certificate; a request over the size
// limit is refused RESOURCE_EXHAUSTED. A refused call stores nothing.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/cli.h"
#include "client/study_client.h"
#include "coordinator/server.h"
#include "hpo/v1/service.grpc.pb.h"
#include "tests/testing/sqlite_rows.h"
#include "tests/testing/temp_dir.h"
#include "worker/worker.h"

namespace hpo {
namespace {

using namespace std::chrono_literals;

constexpr char kToken[] = "s3cret-Token.42-of-hpo";
constexpr char kStudyJson[] = R"({"name": "secure", "objectives": [{"name": "f1"}, {"name": "f2"}],
    "budget": {"max_trials": 6, "max_parallel": 2},
    "task": {"synthetic": {"function": "zdt1", "dims": 4}}, "seed": 1})";

v1::StudySpec StudySpec() {
  v1::StudySpec spec;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(kStudyJson, &spec).ok());
  return spec;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Certificate {
  std::string cert_pem;
  std::string key_pem;
};

// A fresh self-signed certificate for localhost and 127.0.0.1 (one day), made by the openssl tool in
// `dir`; nullopt, with the tool's output in *log, when it fails.
std::optional<Certificate> MakeCertificate(const hpo::testing::TempDir& dir, const std::string& name,
                                           std::string* log) {
  const std::string cert = dir.File(name + ".crt");
  const std::string key = dir.File(name + ".key");
  const std::string out = dir.File(name + ".log");
  const std::string command =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost"
      " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" +
      key + "' -out '" + cert + "' >'" + out + "' 2>&1";
  const int rc = std::system(command.c_str());
  *log = "`" + command + "` exited " + std::to_string(rc) + ": " + ReadAll(out);
  if (rc != 0) return std::nullopt;
  Certificate certificate{ReadAll(cert), ReadAll(key)};
  if (certificate.cert_pem.empty() || certificate.key_pem.empty()) return std::nullopt;
  return certificate;
}

std::shared_ptr<grpc::ChannelCredentials> TrustOnly(const Certificate& certificate) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = certificate.cert_pem;
  return grpc::SslCredentials(ssl);
}

// A context with a deadline and, when `token` is not empty, "authorization: Bearer <token>".
std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + 10s);
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  return context;
}

// One unary call of `method` ("/package.Service/Method") with raw request bytes, through a generic stub.
grpc::Status GenericCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                         const std::string& token, const std::string& request_bytes,
                         std::string* response_bytes = nullptr) {
  grpc::GenericStub stub(channel);
  auto context = Context(token);
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(context.get(), method, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  const grpc::Status status = done.get_future().get();
  if (status.ok() && response_bytes != nullptr) {
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(response.Dump(&slices).ok());
    response_bytes->clear();
    for (const grpc::Slice& s : slices)
      response_bytes->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return status;
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }

  void TearDown() override {
    if (server_) server_->Shutdown();
    server_.reset();
  }

  // Starts the coordinator with `options` on a free loopback port and the test's database.
  void StartServer(coordinator::ServerOptions options) {
    db_path_ = dir_.File("hpo.db");
    options.listen_address = "127.0.0.1:0";
    options.db_path = db_path_;
    options.heartbeat_ms = 200;
    auto server = coordinator::Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    address_ = "127.0.0.1:" + std::to_string(server_->port());
  }

  void StartServerWithToken() {
    coordinator::ServerOptions options;
    options.auth_token = kToken;
    StartServer(options);
  }

  std::shared_ptr<grpc::Channel> Plaintext() {
    return grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  }

  // Polls the study (with `token`) until it is no longer running, up to 60 s; its last state in `study`.
  void WaitForEnd(const std::shared_ptr<grpc::Channel>& channel, const std::string& token, uint64_t id,
                  v1::Study* study) {
    auto stub = v1::StudyService::NewStub(channel);
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
      v1::GetStudyRequest request;
      request.set_study_id(id);
      ASSERT_TRUE(stub->GetStudy(Context(token).get(), request, study).ok());
      if (study->state() != v1::STUDY_RUNNING) return;
      std::this_thread::sleep_for(50ms);
    }
  }

  grpc::Status CreateStudy(const std::shared_ptr<grpc::Channel>& channel, const std::string& token,
                           const v1::StudySpec& spec, v1::Study* study = nullptr) {
    v1::CreateStudyRequest request;
    *request.mutable_spec() = spec;
    v1::Study response;
    const grpc::Status status =
        v1::StudyService::NewStub(channel)->CreateStudy(Context(token).get(), request, &response);
    if (study != nullptr) *study = response;
    return status;
  }

  grpc::Status ListStudies(const std::shared_ptr<grpc::Channel>& channel, const std::string& token,
                           v1::ListStudiesResponse* response) {
    return v1::StudyService::NewStub(channel)->ListStudies(Context(token).get(), v1::ListStudiesRequest(),
                                                           response);
  }

  grpc::Status RegisterWorker(const std::shared_ptr<grpc::Channel>& channel, const std::string& token,
                              v1::RegisterWorkerResponse* response, const std::string& device = "cpu") {
    v1::RegisterWorkerRequest request;
    request.set_name("security-test");
    request.set_slots(1);
    request.set_device(device);
    return v1::WorkerService::NewStub(channel)->RegisterWorker(Context(token).get(), request, response);
  }

  int64_t CountRows(const std::string& table) { return hpo::testing::CountRows(db_path_, table); }

  // A Worker on `channel`, quiet, polling briefly.
  std::unique_ptr<worker::Worker> MakeWorker(std::shared_ptr<grpc::Channel> channel,
                                             const std::string& token) {
    worker::WorkerOptions options;
    options.name = "secure-worker";
    options.slots = 2;
    options.wait_ms = 500;
    options.auth_token = token;
    options.register_timeout = 5s;
    options.log = [](const std::string&) {};
    return std::make_unique<worker::Worker>(std::move(channel), options);
  }

  hpo::testing::TempDir dir_;
  std::string db_path_;
  std::string address_;
  std::unique_ptr<coordinator::Server> server_;
};

// ---- the bearer token ----

TEST_F(SecurityTest, StudyServiceRefusesAMissingOrWrongTokenAndStoresNothing) {
  StartServerWithToken();
  const auto channel = Plaintext();

  grpc::Status missing = CreateStudy(channel, "", StudySpec());
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(missing.error_message().find("authorization: Bearer <token>"), std::string::npos)
      << missing.error_message();
  const grpc::Status wrong = CreateStudy(channel, "not-the-token", StudySpec());
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(wrong.error_message(), "invalid bearer token");
  EXPECT_EQ(CountRows("studies"), 0);
  EXPECT_EQ(CountRows("trials"), 0);

  v1::ListStudiesResponse studies;
  EXPECT_EQ(ListStudies(channel, "", &studies).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListStudies(channel, std::string(kToken) + "x", &studies).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  v1::Study study;
  const grpc::Status right = CreateStudy(channel, kToken, StudySpec(), &study);
  ASSERT_TRUE(right.ok()) << right.error_message();
  EXPECT_EQ(CountRows("studies"), 1);
  ASSERT_TRUE(ListStudies(channel, kToken, &studies).ok());
  ASSERT_EQ(studies.studies_size(), 1);
  EXPECT_EQ(studies.studies(0).id(), study.id());
}

TEST_F(SecurityTest, WorkerServiceRefusesAMissingOrWrongToken) {
  StartServerWithToken();
  const auto channel = Plaintext();
  auto stub = v1::WorkerService::NewStub(channel);

  v1::RegisterWorkerResponse registered;
  EXPECT_EQ(RegisterWorker(channel, "", &registered).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(RegisterWorker(channel, "wrong", &registered).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(CountRows("workers"), 0);
  const grpc::Status right = RegisterWorker(channel, kToken, &registered);
  ASSERT_TRUE(right.ok()) << right.error_message();
  EXPECT_GT(registered.worker_id(), 0u);
  EXPECT_EQ(CountRows("workers"), 1);

  // A known worker id is no credential: its heartbeat and polls still need the token.
  v1::HeartbeatRequest heartbeat;
  heartbeat.set_worker_id(registered.worker_id());
  v1::HeartbeatResponse beat;
  EXPECT_EQ(stub->Heartbeat(Context("").get(), heartbeat, &beat).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(stub->Heartbeat(Context(kToken).get(), heartbeat, &beat).ok());

  // A long poll without the token is refused at once, not parked for its wait.
  ASSERT_TRUE(CreateStudy(channel, kToken, StudySpec()).ok());
  v1::AcquireTrialRequest acquire;
  acquire.set_worker_id(registered.worker_id());
  acquire.set_wait_ms(5000);
  v1::AcquireTrialResponse response;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(stub->AcquireTrial(Context("wrong").get(), acquire, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_FALSE(response.has_trial());
  const grpc::Status acquired = stub->AcquireTrial(Context(kToken).get(), acquire, &response);
  ASSERT_TRUE(acquired.ok()) << acquired.error_message();
  EXPECT_TRUE(response.has_trial());
}

// Every method the two services declare (read from the proto descriptors, so a method added later is
// covered) refuses a call without the token and one with a wrong token.
TEST_F(SecurityTest, EveryMethodOfBothServicesNeedsTheToken) {
  StartServerWithToken();
  const auto channel = Plaintext();
  int methods = 0;
  for (const char* name : {"hpo.v1.StudyService", "hpo.v1.WorkerService"}) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string method = "/" + service->full_name() + "/" + service->method(i)->name();
      for (const std::string token : {"", "wrong-token"}) {
        const grpc::Status status = GenericCall(channel, method, token, "");
        EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
            << method << " with token '" << token << "': " << status.error_message();
      }
      ++methods;
    }
  }
  EXPECT_GE(methods, 11);
  EXPECT_EQ(CountRows("studies"), 0);
  EXPECT_EQ(CountRows("workers"), 0);
  EXPECT_EQ(CountRows("trials"), 0);
}

TEST_F(SecurityTest, HealthCheckAnswersWithoutAToken) {
  StartServerWithToken();
  std::string response;
  // HealthCheckRequest{service: ""} is the empty message; HealthCheckResponse{status: SERVING} is 08 01.
  const grpc::Status status = GenericCall(Plaintext(), "/grpc.health.v1.Health/Check", "", "", &response);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  EXPECT_EQ(response, std::string("\x08\x01", 2));
}

// With a worker and a read-only token, each may make its role's calls only: a refused call is
// PERMISSION_DENIED naming the role and the method, and stores nothing.
TEST_F(SecurityTest, WorkerAndReadTokensMayMakeTheirRolesCallsOnly) {
  constexpr char kWorkerToken[] = "worker-Token.42-of-hpo";
  constexpr char kReadToken[] = "read-Token.42-of-hpo";
  coordinator::ServerOptions options;
  options.auth_token = kToken;
  options.worker_auth_token = kWorkerToken;
  options.read_auth_token = kReadToken;
  StartServer(options);
  const auto channel = Plaintext();

  const grpc::Status worker_creates = CreateStudy(channel, kWorkerToken, StudySpec());
  EXPECT_EQ(worker_creates.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(worker_creates.error_message().rfind("the worker token may not call StudyService.CreateStudy", 0),
            0u)
      << worker_creates.error_message();
  const grpc::Status reader_creates = CreateStudy(channel, kReadToken, StudySpec());
  EXPECT_EQ(reader_creates.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(reader_creates.error_message().find("the read-only token may not call StudyService.CreateStudy"),
            std::string::npos)
      << reader_creates.error_message();
  v1::RegisterWorkerResponse registered;
  const grpc::Status reader_registers = RegisterWorker(channel, kReadToken, &registered);
  EXPECT_EQ(reader_registers.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(reader_registers.error_message().find("WorkerService.RegisterWorker"), std::string::npos);
  v1::ListStudiesResponse studies;
  EXPECT_EQ(ListStudies(channel, kWorkerToken, &studies).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CountRows("studies"), 0);
  EXPECT_EQ(CountRows("workers"), 0);

  // The user creates a study; a worker with the worker token runs it to the end; the reader follows it.
  v1::Study study;
  ASSERT_TRUE(CreateStudy(channel, kToken, StudySpec(), &study).ok());
  auto worker =
      MakeWorker(worker::MakeWorkerChannel(address_, grpc::InsecureChannelCredentials()), kWorkerToken);
  std::thread run([&worker] {
    const Status status = worker->Run();
    EXPECT_TRUE(status.ok()) << status.ToString();
  });
  v1::Study current;
  ASSERT_NO_FATAL_FAILURE(WaitForEnd(channel, kReadToken, study.id(), &current));
  worker->Stop();
  run.join();
  EXPECT_EQ(current.state(), v1::STUDY_COMPLETED);
  EXPECT_EQ(current.counts().completed(), 6u);
  ASSERT_TRUE(ListStudies(channel, kReadToken, &studies).ok());
  EXPECT_EQ(studies.studies_size(), 1);
  // The reader cannot cancel it.
  v1::CancelStudyRequest cancel;
  cancel.set_study_id(study.id());
  EXPECT_EQ(v1::StudyService::NewStub(channel)
                ->CancelStudy(Context(kReadToken).get(), cancel, &current)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

// hpoctl's client sends the token it is given.
TEST_F(SecurityTest, StudyClientSendsItsToken) {
  StartServerWithToken();
  client::StudyClientOptions options;
  auto anonymous = client::StudyClient::Connect(address_, options)->ListStudies();
  ASSERT_FALSE(anonymous.ok());
  EXPECT_EQ(anonymous.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(client::ExitCodeForRpcError(anonymous.status()), client::kExitFailed);

  options.auth_token = kToken;
  auto client = client::StudyClient::Connect(address_, options);
  auto created = client->CreateStudy(StudySpec());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto listed = client->ListStudies();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(listed->studies_size(), 1);
}

// ---- TLS ----

TEST_F(SecurityTest, TlsServerServesClientsThatTrustItsCertificateOnly) {
  std::string log;
  const auto certificate = MakeCertificate(dir_, "server", &log);
  ASSERT_TRUE(certificate.has_value()) << log;
  const auto stranger = MakeCertificate(dir_, "stranger", &log);
  ASSERT_TRUE(stranger.has_value()) << log;
  coordinator::ServerOptions options;
  options.tls_cert_pem = certificate->cert_pem;
  options.tls_key_pem = certificate->key_pem;
  StartServer(options);
  EXPECT_TRUE(server_->tls());

  // The handshake succeeds for a client that trusts the certificate (checked against 127.0.0.1).
  v1::ListStudiesResponse studies;
  const auto trusted = grpc::CreateChannel(address_, TrustOnly(*certificate));
  const grpc::Status listed = ListStudies(trusted, "", &studies);
  ASSERT_TRUE(listed.ok()) << listed.error_code() << ": " << listed.error_message();
  EXPECT_EQ(studies.studies_size(), 0);

  // A plaintext client, and a client that trusts another certificate, never get an answer.
  const grpc::Status plaintext = CreateStudy(Plaintext(), "", StudySpec());
  EXPECT_EQ(plaintext.error_code(), grpc::StatusCode::UNAVAILABLE) << plaintext.error_message();
  const grpc::Status untrusted =
      CreateStudy(grpc::CreateChannel(address_, TrustOnly(*stranger)), "", StudySpec());
  EXPECT_EQ(untrusted.error_code(), grpc::StatusCode::UNAVAILABLE) << untrusted.error_message();
  EXPECT_EQ(CountRows("studies"), 0);

  // hpoctl's client without --tls-ca is told that TLS may be needed.
  client::StudyClientOptions plain_options;
  plain_options.deadline = std::chrono::seconds(5);
  auto refused = client::StudyClient::Connect(address_, plain_options)->ListStudies();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("may require TLS: connect with --tls-ca"), std::string::npos)
      << refused.status().message();

  // hpoctl's client with --tls-ca.
  client::StudyClientOptions client_options;
  client_options.tls_root_certs = certificate->cert_pem;
  auto created = client::StudyClient::Connect(address_, client_options)->CreateStudy(StudySpec());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(CountRows("studies"), 1);
}

// A worker with --tls-ca and the token runs a study to the end over TLS; one with a wrong token stops
// with UNAUTHENTICATED instead of retrying for ever.
TEST_F(SecurityTest, WorkerRunsAStudyOverTlsWithTheTokenAndStopsOnAWrongOne) {
  std::string log;
  const auto certificate = MakeCertificate(dir_, "server", &log);
  ASSERT_TRUE(certificate.has_value()) << log;
  coordinator::ServerOptions options;
  options.auth_token = kToken;
  options.tls_cert_pem = certificate->cert_pem;
  options.tls_key_pem = certificate->key_pem;
  StartServer(options);

  auto impostor = MakeWorker(worker::MakeWorkerChannel(address_, TrustOnly(*certificate)), "wrong-token");
  const Status refused = impostor->Run();
  EXPECT_EQ(refused.code(), StatusCode::kUnauthenticated) << refused.ToString();

  const auto channel = grpc::CreateChannel(address_, TrustOnly(*certificate));
  v1::Study study;
  ASSERT_TRUE(CreateStudy(channel, kToken, StudySpec(), &study).ok());
  auto worker = MakeWorker(worker::MakeWorkerChannel(address_, TrustOnly(*certificate)), kToken);
  std::thread run([&worker] {
    const Status status = worker->Run();
    EXPECT_TRUE(status.ok()) << status.ToString();
  });
  v1::Study current;
  ASSERT_NO_FATAL_FAILURE(WaitForEnd(channel, kToken, study.id(), &current));
  worker->Stop();
  run.join();
  EXPECT_EQ(current.state(), v1::STUDY_COMPLETED);
  EXPECT_EQ(current.counts().completed(), 6u);
  EXPECT_EQ(worker->stats().completed, 6u);
}

TEST_F(SecurityTest, ATlsClientAtAPlaintextServerIsToldSo) {
  std::string log;
  const auto certificate = MakeCertificate(dir_, "server", &log);
  ASSERT_TRUE(certificate.has_value()) << log;
  StartServer(coordinator::ServerOptions{});
  EXPECT_FALSE(server_->tls());
  client::StudyClientOptions options;
  options.deadline = std::chrono::seconds(5);
  options.tls_root_certs = certificate->cert_pem;
  auto refused = client::StudyClient::Connect(address_, options)->ListStudies();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("does not serve TLS at this address: leave out --tls-ca"),
            std::string::npos)
      << refused.status().message();
}

TEST_F(SecurityTest, TlsStartFailsForACertificateWithAnotherKey) {
  std::string log;
  const auto certificate = MakeCertificate(dir_, "server", &log);
  ASSERT_TRUE(certificate.has_value()) << log;
  const auto other = MakeCertificate(dir_, "other", &log);
  ASSERT_TRUE(other.has_value()) << log;
  coordinator::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.db_path = dir_.File("mismatch.db");
  options.tls_cert_pem = certificate->cert_pem;
  options.tls_key_pem = other->key_pem;
  auto server = coordinator::Server::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("TLS"), std::string::npos) << server.status().ToString();
}

// ---- request size ----

TEST_F(SecurityTest, RequestOverTheDefaultLimitIsRefusedAndStoresNothing) {
  StartServer(coordinator::ServerOptions());
  const auto channel = Plaintext();
  v1::StudySpec huge = StudySpec();
  huge.set_name(std::string(coordinator::kDefaultMaxRequestBytes + 1, 'x'));
  const grpc::Status status = CreateStudy(channel, "", huge);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  v1::RegisterWorkerResponse registered;
  EXPECT_EQ(RegisterWorker(channel, "", &registered, std::string(5 << 20, 'd')).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(CountRows("studies"), 0);
  EXPECT_EQ(CountRows("trials"), 0);
  EXPECT_EQ(CountRows("workers"), 0);

  // The server is unharmed: an ordinary request right after is served.
  ASSERT_TRUE(CreateStudy(channel, "", StudySpec()).ok());
  EXPECT_EQ(CountRows("studies"), 1);
}

TEST_F(SecurityTest, RequestLimitIsConfigurable) {
  coordinator::ServerOptions options;
  options.max_request_bytes = 64 * 1024;
  StartServer(options);
  v1::StudySpec big = StudySpec();
  big.set_name(std::string(100 * 1024, 'x'));
  EXPECT_EQ(CreateStudy(Plaintext(), "", big).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(CountRows("studies"), 0);
}

}  // namespace
}  // namespace hpo
