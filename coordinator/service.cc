#include "coordinator/service.h"

#include <algorithm>
#include <set>

namespace hpo::coordinator {
namespace {

using Steady = std::chrono::steady_clock;

// The longest AcquireTrial wait the coordinator honours.
constexpr uint32_t kMaxWaitMs = 60'000;

grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context, const Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Starts an operation that calls back once its change is durable, and answers the call then: no thread
// waits for the commit.
template <typename Start>
grpc::ServerUnaryReactor* AnswerWhenDurable(grpc::CallbackServerContext* context, Start start) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  start([reactor](const Status& status) { reactor->Finish(ToGrpcStatus(status)); });
  return reactor;
}

// Stores a Result's value in *response and answers with its status.
template <typename T, typename Response>
grpc::ServerUnaryReactor* AnswerWith(grpc::CallbackServerContext* context, Result<T> result,
                                     Response* response) {
  if (result.ok()) *response = std::move(*result);
  return Answer(context, result.status());
}

// Answers the call UNAUTHENTICATED or PERMISSION_DENIED and returns its reactor when `auth` refuses
// `method` (e.g. "StudyService.CreateStudy"), which needs `access`; nullptr when the call may proceed (or
// there is no auth).
grpc::ServerUnaryReactor* Refused(const TokenAuth* auth, grpc::CallbackServerContext* context, Access access,
                                  std::string_view method) {
  if (auth == nullptr) return nullptr;
  const Status status = auth->Check(*context, access, method);
  return status.ok() ? nullptr : Answer(context, status);
}

}  // namespace

grpc::Status ToGrpcStatus(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message());
}

// ---- StudyService ----

grpc::ServerUnaryReactor* StudyServiceImpl::CreateStudy(grpc::CallbackServerContext* context,
                                                        const v1::CreateStudyRequest* request,
                                                        v1::Study* response) {
  if (grpc::ServerUnaryReactor* refused = Refused(auth_, context, Access::kWrite, "StudyService.CreateStudy"))
    return refused;
  return AnswerWith(context, core_->CreateStudy(request->spec()), response);
}

grpc::ServerUnaryReactor* StudyServiceImpl::GetStudy(grpc::CallbackServerContext* context,
                                                     const v1::GetStudyRequest* request,
                                                     v1::Study* response) {
  if (grpc::ServerUnaryReactor* refused = Refused(auth_, context, Access::kRead, "StudyService.GetStudy"))
    return refused;
  return AnswerWith(context, core_->GetStudy(request->study_id()), response);
}

grpc::ServerUnaryReactor* StudyServiceImpl::ListStudies(grpc::CallbackServerContext* context,
                                                        const v1::ListStudiesRequest* /*request*/,
                                                        v1::ListStudiesResponse* response) {
  if (grpc::ServerUnaryReactor* refused = Refused(auth_, context, Access::kRead, "StudyService.ListStudies"))
    return refused;
  auto studies = core_->ListStudies();
  if (studies.ok()) response->mutable_studies()->Assign(studies->begin(), studies->end());
  return Answer(context, studies.status());
}

grpc::ServerUnaryReactor* StudyServiceImpl::CancelStudy(grpc::CallbackServerContext* context,
                                                        const v1::CancelStudyRequest* request,
                                                        v1::Study* response) {
  if (grpc::ServerUnaryReactor* refused = Refused(auth_, context, Access::kWrite, "StudyService.CancelStudy"))
    return refused;
  return AnswerWith(context, core_->CancelStudy(request->study_id()), response);
}

grpc::ServerUnaryReactor* StudyServiceImpl::ListTrials(grpc::CallbackServerContext* context,
                                                       const v1::ListTrialsRequest* request,
                                                       v1::ListTrialsResponse* response) {
  if (grpc::ServerUnaryReactor* refused = Refused(auth_, context, Access::kRead, "StudyService.ListTrials"))
    return refused;
  auto page = core_->ListTrials(request->study_id(), {.updated_since = request->updated_since(),
                                                      .include_history = request->include_history()});
  if (page.ok()) {
    response->mutable_trials()->Assign(std::make_move_iterator(page->trials.begin()),
                                       std::make_move_iterator(page->trials.end()));
    response->set_cursor(page->cursor);
  }
  return Answer(context, page.status());
}

grpc::ServerUnaryReactor* StudyServiceImpl::AnalyzeStudy(grpc::CallbackServerContext* context,
                                                         const v1::AnalyzeStudyRequest* request,
                                                         v1::AnalyzeStudyResponse* response) {
  if (grpc::ServerUnaryReactor* refused = Refused(auth_, context, Access::kRead, "StudyService.AnalyzeStudy"))
    return refused;
  return AnswerWith(context, core_->AnalyzeStudy(request->study_id(), request->trees()), response);
}

grpc::ServerUnaryReactor* StudyServiceImpl::GetParetoFront(grpc::CallbackServerContext* context,
                                                           const v1::GetParetoFrontRequest* request,
                                                           v1::GetParetoFrontResponse* response) {
  if (grpc::ServerUnaryReactor* refused =
          Refused(auth_, context, Access::kRead, "StudyService.GetParetoFront"))
    return refused;
  return AnswerWith(context,
                    core_->GetParetoFront(request->study_id(), request->include_infeasible(),
                                          {request->reference_point().data(),
                                           static_cast<size_t>(request->reference_point_size())}),
                    response);
}

grpc::ServerUnaryReactor* StudyServiceImpl::DeleteStudy(grpc::CallbackServerContext* context,
                                                        const v1::DeleteStudyRequest* request,
                                                        v1::DeleteStudyResponse* response) {
  if (grpc::ServerUnaryReactor* refused = Refused(auth_, context, Access::kWrite, "StudyService.DeleteStudy"))
    return refused;
  return AnswerWith(context, core_->DeleteStudy(request->study_id(), request->force()), response);
}

grpc::ServerUnaryReactor* StudyServiceImpl::ListWorkers(grpc::CallbackServerContext* context,
                                                        const v1::ListWorkersRequest* request,
                                                        v1::ListWorkersResponse* response) {
  if (grpc::ServerUnaryReactor* refused = Refused(auth_, context, Access::kRead, "StudyService.ListWorkers"))
    return refused;
  *response = core_->ListWorkers(request->all());
  return Answer(context, Status::Ok());
}

// ---- WorkerService ----

// One parked AcquireTrial. Finish() is called exactly once, by whoever takes it off the waiting list
// (or, when it never was on it, by the handler).
class WorkerServiceImpl::AcquireReactor final : public grpc::ServerUnaryReactor {
 public:
  AcquireReactor(WorkerServiceImpl* service, uint64_t worker_id, uint64_t study_id,
                 Steady::time_point deadline, v1::AcquireTrialResponse* response)
      : service_(service),
        worker_id_(worker_id),
        study_id_(study_id),
        deadline_(deadline),
        response_(response) {}

  void OnCancel() override { service_->OnCancelled(this); }
  void OnDone() override { service_->OnDone(this); }

  uint64_t worker_id() const { return worker_id_; }
  uint64_t study_id() const { return study_id_; }
  Steady::time_point deadline() const { return deadline_; }
  v1::AcquireTrialResponse* response() { return response_; }
  bool cancelled() const { return cancelled_; }
  void set_cancelled() { cancelled_ = true; }

 private:
  WorkerServiceImpl* const service_;
  const uint64_t worker_id_;
  const uint64_t study_id_;  // 0: any study
  const Steady::time_point deadline_;
  v1::AcquireTrialResponse* const response_;
  bool cancelled_ = false;  // GUARDED_BY(service_->mu_)
};

WorkerServiceImpl::WorkerServiceImpl(Core* core, const TokenAuth* auth) : core_(core), auth_(auth) {}
WorkerServiceImpl::~WorkerServiceImpl() = default;

grpc::ServerUnaryReactor* WorkerServiceImpl::RegisterWorker(grpc::CallbackServerContext* context,
                                                            const v1::RegisterWorkerRequest* request,
                                                            v1::RegisterWorkerResponse* response) {
  if (grpc::ServerUnaryReactor* refused =
          Refused(auth_, context, Access::kWorker, "WorkerService.RegisterWorker"))
    return refused;
  return AnswerWith(context, core_->RegisterWorker(*request), response);
}

grpc::ServerUnaryReactor* WorkerServiceImpl::AcquireTrial(grpc::CallbackServerContext* context,
                                                          const v1::AcquireTrialRequest* request,
                                                          v1::AcquireTrialResponse* response) {
  if (grpc::ServerUnaryReactor* refused =
          Refused(auth_, context, Access::kWorker, "WorkerService.AcquireTrial"))
    return refused;
  const auto deadline = Steady::now() + std::chrono::milliseconds(std::min(request->wait_ms(), kMaxWaitMs));
  auto reactor =
      std::make_unique<AcquireReactor>(this, request->worker_id(), request->study_id(), deadline, response);
  AcquireReactor* raw = reactor.get();
  {
    std::lock_guard lock(mu_);
    live_[raw] = std::move(reactor);  // before anything can finish it
  }
  // A trial handed out now is sent once its assignment is durable.
  auto handed_out = core_->TryAcquire(request->worker_id(), request->study_id(), response,
                                      [raw](const Status& status) { raw->Finish(ToGrpcStatus(status)); });
  if (!handed_out.ok()) {
    raw->Finish(ToGrpcStatus(handed_out.status()));
  } else if (!*handed_out) {
    std::lock_guard lock(mu_);
    if (request->wait_ms() == 0) {
      raw->Finish(grpc::Status::OK);  // no trial, and no wait asked for
    } else if (raw->cancelled()) {
      raw->Finish(grpc::Status::CANCELLED);
    } else {
      waiting_.push_back(raw);  // parked: answered by ServeWaiting
    }
  }
  return raw;
}

void WorkerServiceImpl::OnCancelled(AcquireReactor* reactor) {
  std::lock_guard lock(mu_);
  reactor->set_cancelled();
  auto it = std::find(waiting_.begin(), waiting_.end(), reactor);
  if (it == waiting_.end()) return;  // being served: the server finishes it
  waiting_.erase(it);
  reactor->Finish(grpc::Status::CANCELLED);
}

void WorkerServiceImpl::OnDone(AcquireReactor* reactor) {
  std::lock_guard lock(mu_);
  done_.push_back(reactor);
}

void WorkerServiceImpl::ReleaseDone() {
  std::lock_guard lock(mu_);
  for (AcquireReactor* reactor : done_) live_.erase(reactor);
  done_.clear();
}

void WorkerServiceImpl::ServeWaiting() {
  std::list<AcquireReactor*> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(waiting_);
  }
  const auto now = Steady::now();
  std::list<AcquireReactor*> still_waiting;
  // Whether a trial is available depends on who asks only through the study it names and the worker's
  // labels: after a poll that gets none when no study passed it over for its labels, the rest that ask
  // for the same (any study, or that study) wait without asking the Core (a tick with 512 parked polls
  // costs one acquire, not 512).
  std::set<uint64_t> exhausted;  // study ids asked for in vain; 0: any study
  for (AcquireReactor* reactor : batch) {
    bool cancelled = false;
    {
      std::lock_guard lock(mu_);
      cancelled = reactor->cancelled();
    }
    if (cancelled) {
      // Never hand a trial to a call that is gone: it would hold a lease nobody renews.
      reactor->Finish(grpc::Status::CANCELLED);
      continue;
    }
    if (reactor->deadline() <= now) {
      reactor->Finish(grpc::Status::OK);  // no trial this time
      continue;
    }
    if (exhausted.count(reactor->study_id()) != 0) {  // none for the one before: none for this one either
      still_waiting.push_back(reactor);
      continue;
    }
    // A trial handed out is sent once its assignment is durable.
    bool only_for_others = false;
    auto handed_out = core_->TryAcquire(
        reactor->worker_id(), reactor->study_id(), reactor->response(),
        [reactor](const Status& status) { reactor->Finish(ToGrpcStatus(status)); }, &only_for_others);
    if (!handed_out.ok()) {
      reactor->Finish(ToGrpcStatus(handed_out.status()));
    } else if (!*handed_out) {
      still_waiting.push_back(reactor);
      if (!only_for_others) exhausted.insert(reactor->study_id());
    }
  }
  std::lock_guard lock(mu_);
  for (AcquireReactor* reactor : still_waiting) {
    if (reactor->cancelled()) {
      reactor->Finish(grpc::Status::CANCELLED);
    } else {
      waiting_.push_back(reactor);
    }
  }
}

void WorkerServiceImpl::FinishAllWaiting() {
  std::lock_guard lock(mu_);
  for (AcquireReactor* reactor : waiting_) reactor->Finish(grpc::Status::OK);
  waiting_.clear();
}

grpc::ServerUnaryReactor* WorkerServiceImpl::Heartbeat(grpc::CallbackServerContext* context,
                                                       const v1::HeartbeatRequest* request,
                                                       v1::HeartbeatResponse* response) {
  if (grpc::ServerUnaryReactor* refused = Refused(auth_, context, Access::kWorker, "WorkerService.Heartbeat"))
    return refused;
  return AnswerWith(context, core_->Heartbeat(*request), response);
}

grpc::ServerUnaryReactor* WorkerServiceImpl::CompleteTrial(grpc::CallbackServerContext* context,
                                                           const v1::CompleteTrialRequest* request,
                                                           v1::CompleteTrialResponse* /*response*/) {
  if (grpc::ServerUnaryReactor* refused =
          Refused(auth_, context, Access::kWorker, "WorkerService.CompleteTrial"))
    return refused;
  return AnswerWhenDurable(context,
                           [&](Core::Done done) { core_->CompleteTrial(*request, std::move(done)); });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::FailTrial(grpc::CallbackServerContext* context,
                                                       const v1::FailTrialRequest* request,
                                                       v1::FailTrialResponse* /*response*/) {
  if (grpc::ServerUnaryReactor* refused = Refused(auth_, context, Access::kWorker, "WorkerService.FailTrial"))
    return refused;
  return AnswerWhenDurable(context, [&](Core::Done done) { core_->FailTrial(*request, std::move(done)); });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::ReleaseTrial(grpc::CallbackServerContext* context,
                                                          const v1::ReleaseTrialRequest* request,
                                                          v1::ReleaseTrialResponse* /*response*/) {
  if (grpc::ServerUnaryReactor* refused =
          Refused(auth_, context, Access::kWorker, "WorkerService.ReleaseTrial"))
    return refused;
  return AnswerWhenDurable(context, [&](Core::Done done) { core_->ReleaseTrial(*request, std::move(done)); });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::ReportProgress(grpc::CallbackServerContext* context,
                                                            const v1::ReportProgressRequest* request,
                                                            v1::ReportProgressResponse* response) {
  if (grpc::ServerUnaryReactor* refused =
          Refused(auth_, context, Access::kWorker, "WorkerService.ReportProgress"))
    return refused;
  return AnswerWhenDurable(
      context, [&](Core::Done done) { core_->ReportProgress(*request, response, std::move(done)); });
}

}  // namespace hpo::coordinator
