// The gRPC face of the coordinator: StudyService for users and WorkerService for worker daemons.
//
// Each RPC is a few lines: call the Core, map the Status. AcquireTrial is a long poll on the callback
// API: a call that finds no work is parked without holding a thread, and answered when work appears
// (ServeWaiting, driven by the server's event loop) or when its wait runs out.
//
// Each RPC first asks the TokenAuth, when there is one, for its access (StudyService's reads, its writes,
// or WorkerService: coordinator/auth.h): a call it refuses is answered UNAUTHENTICATED or
// PERMISSION_DENIED and changes nothing.
//
// Thread-safe. The Core and the TokenAuth must outlive the services.
#ifndef HPO_COORDINATOR_SERVICE_H_
#define HPO_COORDINATOR_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <list>
#include <map>
#include <memory>
#include <mutex>

#include "base/status.h"
#include "coordinator/auth.h"
#include "coordinator/core.h"
#include "hpo/v1/service.grpc.pb.h"

namespace hpo::coordinator {

// The one mapping of hpo::Status to grpc::Status.
grpc::Status ToGrpcStatus(const Status& status);

class StudyServiceImpl final : public v1::StudyService::CallbackService {
 public:
  // `auth` may be null: no check.
  explicit StudyServiceImpl(Core* core, const TokenAuth* auth = nullptr) : core_(core), auth_(auth) {}

  grpc::ServerUnaryReactor* CreateStudy(grpc::CallbackServerContext* context,
                                        const v1::CreateStudyRequest* request, v1::Study* response) override;
  grpc::ServerUnaryReactor* GetStudy(grpc::CallbackServerContext* context, const v1::GetStudyRequest* request,
                                     v1::Study* response) override;
  grpc::ServerUnaryReactor* ListStudies(grpc::CallbackServerContext* context,
                                        const v1::ListStudiesRequest* request,
                                        v1::ListStudiesResponse* response) override;
  grpc::ServerUnaryReactor* CancelStudy(grpc::CallbackServerContext* context,
                                        const v1::CancelStudyRequest* request, v1::Study* response) override;
  grpc::ServerUnaryReactor* ListTrials(grpc::CallbackServerContext* context,
                                       const v1::ListTrialsRequest* request,
                                       v1::ListTrialsResponse* response) override;
  grpc::ServerUnaryReactor* GetParetoFront(grpc::CallbackServerContext* context,
                                           const v1::GetParetoFrontRequest* request,
                                           v1::GetParetoFrontResponse* response) override;
  grpc::ServerUnaryReactor* DeleteStudy(grpc::CallbackServerContext* context,
                                        const v1::DeleteStudyRequest* request,
                                        v1::DeleteStudyResponse* response) override;
  grpc::ServerUnaryReactor* ListWorkers(grpc::CallbackServerContext* context,
                                        const v1::ListWorkersRequest* request,
                                        v1::ListWorkersResponse* response) override;
  grpc::ServerUnaryReactor* AnalyzeStudy(grpc::CallbackServerContext* context,
                                         const v1::AnalyzeStudyRequest* request,
                                         v1::AnalyzeStudyResponse* response) override;

 private:
  Core* const core_;
  const TokenAuth* const auth_;
};

class WorkerServiceImpl final : public v1::WorkerService::CallbackService {
 public:
  // `auth` may be null: no check.
  explicit WorkerServiceImpl(Core* core, const TokenAuth* auth = nullptr);
  ~WorkerServiceImpl() override;

  grpc::ServerUnaryReactor* RegisterWorker(grpc::CallbackServerContext* context,
                                           const v1::RegisterWorkerRequest* request,
                                           v1::RegisterWorkerResponse* response) override;
  grpc::ServerUnaryReactor* AcquireTrial(grpc::CallbackServerContext* context,
                                         const v1::AcquireTrialRequest* request,
                                         v1::AcquireTrialResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const v1::HeartbeatRequest* request,
                                      v1::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* CompleteTrial(grpc::CallbackServerContext* context,
                                          const v1::CompleteTrialRequest* request,
                                          v1::CompleteTrialResponse* response) override;
  grpc::ServerUnaryReactor* FailTrial(grpc::CallbackServerContext* context,
                                      const v1::FailTrialRequest* request,
                                      v1::FailTrialResponse* response) override;
  grpc::ServerUnaryReactor* ReleaseTrial(grpc::CallbackServerContext* context,
                                         const v1::ReleaseTrialRequest* request,
                                         v1::ReleaseTrialResponse* response) override;
  grpc::ServerUnaryReactor* ReportProgress(grpc::CallbackServerContext* context,
                                           const v1::ReportProgressRequest* request,
                                           v1::ReportProgressResponse* response) override;

  // Answers each parked AcquireTrial that can now get a trial, or whose wait has run out. Call it from
  // one thread at a time (the server's event loop).
  void ServeWaiting();
  // Reactors whose calls are done, freed here rather than inside their own callbacks.
  void ReleaseDone();
  // Answers every parked call at once (no trial), e.g. before shutdown.
  void FinishAllWaiting();

 private:
  class AcquireReactor;
  friend class AcquireReactor;
  // Called by a reactor whose call was cancelled, and when it is done.
  void OnCancelled(AcquireReactor* reactor);
  void OnDone(AcquireReactor* reactor);

  Core* const core_;
  const TokenAuth* const auth_;
  std::mutex mu_;
  std::list<AcquireReactor*> waiting_;                               // GUARDED_BY(mu_)
  std::map<AcquireReactor*, std::unique_ptr<AcquireReactor>> live_;  // GUARDED_BY(mu_)
  std::list<AcquireReactor*> done_;                                  // GUARDED_BY(mu_)
};

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_SERVICE_H_
