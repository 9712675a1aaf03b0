#include "client/study_client.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <utility>

#include "base/credentials.h"
#include "client/cli.h"

namespace hpo::client {

Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return Status::Ok();
  const int raw = static_cast<int>(status.error_code());
  const auto code = raw > 0 && raw <= static_cast<int>(StatusCode::kUnauthenticated)
                        ? static_cast<StatusCode>(raw)
                        : StatusCode::kUnknown;
  std::string message = status.error_message();
  if (message.empty()) message = std::string(StatusCodeName(code));
  if (code == StatusCode::kUnavailable) message += TransportHint(message);
  return Status(code, std::move(message));
}

Result<v1::DeleteStudyResponse> StudyApi::DeleteStudy(uint64_t /*study_id*/, bool /*force*/) {
  return UnimplementedError("DeleteStudy is not implemented by this client");
}

Result<v1::ListWorkersResponse> StudyApi::ListWorkers(bool /*all*/) {
  return UnimplementedError("ListWorkers is not implemented by this client");
}

StudyClient::StudyClient(std::shared_ptr<grpc::ChannelInterface> channel, StudyClientOptions options,
                         std::string address)
    : stub_(v1::StudyService::NewStub(std::move(channel))),
      options_(std::move(options)),
      address_(std::move(address)) {}

std::unique_ptr<StudyClient> StudyClient::Connect(const std::string& address, StudyClientOptions options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options.tls_root_certs.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls_root_certs;
    credentials = grpc::SslCredentials(ssl);
  }
  return std::make_unique<StudyClient>(grpc::CreateChannel(address, credentials), std::move(options),
                                       address);
}

template <typename Response, typename Request, typename Method>
Result<Response> StudyClient::Call(Method method, const Request& request) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.deadline);
  if (!options_.auth_token.empty()) context.AddMetadata("authorization", "Bearer " + options_.auth_token);
  Response response;
  const grpc::Status status = ((*stub_).*method)(&context, request, &response);
  if (!status.ok()) {
    Status failed = FromGrpcStatus(status);
    if (auto words = DescribeNoAnswer(address_, failed, options_.deadline.count())) {
      return Status(failed.code(), std::move(*words));
    }
    return failed;
  }
  return response;
}

Result<v1::Study> StudyClient::CreateStudy(const v1::StudySpec& spec) {
  v1::CreateStudyRequest request;
  *request.mutable_spec() = spec;
  return Call<v1::Study>(&v1::StudyService::Stub::CreateStudy, request);
}

Result<v1::Study> StudyClient::GetStudy(uint64_t study_id) {
  v1::GetStudyRequest request;
  request.set_study_id(study_id);
  return Call<v1::Study>(&v1::StudyService::Stub::GetStudy, request);
}

Result<v1::ListStudiesResponse> StudyClient::ListStudies() {
  return Call<v1::ListStudiesResponse>(&v1::StudyService::Stub::ListStudies, v1::ListStudiesRequest());
}

Result<v1::Study> StudyClient::CancelStudy(uint64_t study_id) {
  v1::CancelStudyRequest request;
  request.set_study_id(study_id);
  return Call<v1::Study>(&v1::StudyService::Stub::CancelStudy, request);
}

Result<v1::ListTrialsResponse> StudyClient::ListTrials(uint64_t study_id) {
  v1::ListTrialsRequest request;
  request.set_study_id(study_id);
  return Call<v1::ListTrialsResponse>(&v1::StudyService::Stub::ListTrials, request);
}

Result<v1::GetParetoFrontResponse> StudyClient::GetParetoFront(uint64_t study_id,
                                                               const std::vector<double>& reference_point) {
  v1::GetParetoFrontRequest request;
  request.set_study_id(study_id);
  for (double v : reference_point) request.add_reference_point(v);
  return Call<v1::GetParetoFrontResponse>(&v1::StudyService::Stub::GetParetoFront, request);
}

Result<v1::DeleteStudyResponse> StudyClient::DeleteStudy(uint64_t study_id, bool force) {
  v1::DeleteStudyRequest request;
  request.set_study_id(study_id);
  request.set_force(force);
  return Call<v1::DeleteStudyResponse>(&v1::StudyService::Stub::DeleteStudy, request);
}

Result<v1::ListWorkersResponse> StudyClient::ListWorkers(bool all) {
  v1::ListWorkersRequest request;
  request.set_all(all);
  return Call<v1::ListWorkersResponse>(&v1::StudyService::Stub::ListWorkers, request);
}

Result<v1::AnalyzeStudyResponse> StudyApi::AnalyzeStudy(uint64_t, uint32_t) {
  return UnimplementedError("AnalyzeStudy is not implemented by this client");
}

Result<v1::AnalyzeStudyResponse> StudyClient::AnalyzeStudy(uint64_t study_id, uint32_t trees) {
  v1::AnalyzeStudyRequest request;
  request.set_study_id(study_id);
  request.set_trees(trees);
  return Call<v1::AnalyzeStudyResponse>(&v1::StudyService::Stub::AnalyzeStudy, request);
}

}  // namespace hpo::client
