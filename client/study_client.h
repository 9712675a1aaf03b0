// StudyApi: the StudyService's RPCs as plain calls that return Result<T>; StudyClient implements it over
// gRPC with a deadline on each call (tests put a fake in its place).
//
// StudyClient is thread-safe: every method may be called from several threads at once (gRPC stubs are).
// It shares ownership of its channel. grpc::Status becomes hpo::Status in one place (the codes are the
// same numbers); a coordinator that cannot be reached reads as UNAVAILABLE, a call that outlives its
// deadline as DEADLINE_EXCEEDED, each with a message in words that names the address (DescribeNoAnswer,
// client/cli.h: "cannot reach 127.0.0.1:50051: connection refused (...)").
#ifndef HPO_CLIENT_STUDY_CLIENT_H_
#define HPO_CLIENT_STUDY_CLIENT_H_

#include <grpcpp/channel.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "hpo/v1/service.grpc.pb.h"

namespace hpo::client {

struct StudyClientOptions {
  // Deadline of each unary call, from the moment it starts.
  std::chrono::milliseconds deadline{10'000};
  // When not empty, every call carries the metadata "authorization: Bearer <auth_token>". Default "".
  std::string auth_token;
  // For Connect: PEM root certificates to verify the coordinator's TLS certificate with; not empty means
  // connect with TLS. Default "": plaintext.
  std::string tls_root_certs;
};

class StudyApi {
 public:
  virtual ~StudyApi() = default;

  // Each returns the coordinator's answer, or its error (INVALID_ARGUMENT naming the field, NOT_FOUND
  // for an unknown study, ...), or UNAVAILABLE / DEADLINE_EXCEEDED when no answer came.
  virtual Result<v1::Study> CreateStudy(const v1::StudySpec& spec) = 0;
  virtual Result<v1::Study> GetStudy(uint64_t study_id) = 0;
  virtual Result<v1::ListStudiesResponse> ListStudies() = 0;
  virtual Result<v1::Study> CancelStudy(uint64_t study_id) = 0;
  virtual Result<v1::ListTrialsResponse> ListTrials(uint64_t study_id) = 0;
  // The front with its hypervolume over `reference_point` (one value per objective in its own units;
  // empty: the coordinator's rule, GetParetoFrontRequest.reference_point).
  virtual Result<v1::GetParetoFrontResponse> GetParetoFront(
      uint64_t study_id, const std::vector<double>& reference_point = {}) = 0;
  // FAILED_PRECONDITION for a running study unless `force`. Default: UNIMPLEMENTED (for fakes).
  virtual Result<v1::DeleteStudyResponse> DeleteStudy(uint64_t study_id, bool force);
  // With `all`, also the workers not heard from since the coordinator started. Default: UNIMPLEMENTED.
  virtual Result<v1::ListWorkersResponse> ListWorkers(bool all);
  // Parameter importance per objective and the front's summary; `trees` 0: the coordinator's default.
  // UNIMPLEMENTED unless overridden (fakes that do not need it).
  virtual Result<v1::AnalyzeStudyResponse> AnalyzeStudy(uint64_t study_id, uint32_t trees);
};

class StudyClient final : public StudyApi {
 public:
  // A client on `channel`; `address` names it in the messages of calls that get no answer.
  // REQUIRES: channel != nullptr
  StudyClient(std::shared_ptr<grpc::ChannelInterface> channel, StudyClientOptions options,
              std::string address = "the coordinator");

  // A client on a channel to `address` ("host:port"): TLS when options.tls_root_certs is set, plaintext
  // otherwise. Connects lazily: an unreachable address (or a failed TLS handshake) shows up as
  // UNAVAILABLE on the first call, not here.
  static std::unique_ptr<StudyClient> Connect(const std::string& address, StudyClientOptions options);

  Result<v1::Study> CreateStudy(const v1::StudySpec& spec) override;
  Result<v1::Study> GetStudy(uint64_t study_id) override;
  Result<v1::ListStudiesResponse> ListStudies() override;
  Result<v1::Study> CancelStudy(uint64_t study_id) override;
  Result<v1::ListTrialsResponse> ListTrials(uint64_t study_id) override;
  Result<v1::GetParetoFrontResponse> GetParetoFront(uint64_t study_id,
                                                    const std::vector<double>& reference_point = {}) override;
  Result<v1::DeleteStudyResponse> DeleteStudy(uint64_t study_id, bool force) override;
  Result<v1::ListWorkersResponse> ListWorkers(bool all) override;
  Result<v1::AnalyzeStudyResponse> AnalyzeStudy(uint64_t study_id, uint32_t trees) override;

 private:
  // Calls `method` on the stub with a fresh context carrying the deadline.
  template <typename Response, typename Request, typename Method>
  Result<Response> Call(Method method, const Request& request);

  std::unique_ptr<v1::StudyService::Stub> stub_;
  StudyClientOptions options_;
  std::string address_;
};

// The hpo::Status for a gRPC status (same code; the message, or the code's name when it has none).
Status FromGrpcStatus(const grpc::Status& status);

}  // namespace hpo::client

#endif  // HPO_CLIENT_STUDY_CLIENT_H_
