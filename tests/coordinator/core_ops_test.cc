// The Core's operations side: its workers live and lost on a FakeClock (ListWorkers, Study.waiting) and
// the deletion of studies (DeleteStudy), on a real SQLite file.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "coordinator/core.h"
#include "tests/testing/temp_dir.h"

namespace hpo::coordinator {
namespace {

class CoreOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::Store::Open(dir_.File("hpo.db"));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    CoreOptions options;
    options.clock = &clock_;
    options.heartbeat_ms = 1000;
    options.worker_lost_ms = 5000;
    auto core = Core::Open(store_.get(), options);
    ASSERT_TRUE(core.ok()) << core.status().ToString();
    core_ = std::move(*core);
  }

  static v1::StudySpec Spec(const std::map<std::string, std::string>& selector = {}) {
    v1::StudySpec spec;
    spec.set_name("ops");
    spec.set_seed(3);
    spec.mutable_task()->mutable_synthetic()->set_function("zdt1");
    spec.mutable_task()->mutable_synthetic()->set_dims(3);
    for (const char* name : {"f1", "f2"}) spec.add_objectives()->set_name(name);
    spec.mutable_budget()->set_max_trials(4);
    spec.mutable_budget()->set_max_parallel(2);
    spec.mutable_budget()->set_lease_seconds(10);
    spec.mutable_algorithm()->mutable_random();
    spec.mutable_worker_selector()->insert(selector.begin(), selector.end());
    return spec;
  }

  uint64_t Register(const std::string& name, uint32_t slots,
                    const std::map<std::string, std::string>& labels) {
    v1::RegisterWorkerRequest request;
    request.set_name(name);
    request.set_slots(slots);
    request.set_device("cpu");
    request.mutable_labels()->insert(labels.begin(), labels.end());
    auto response = core_->RegisterWorker(request);
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    return response.ok() ? response->worker_id() : 0;
  }

  v1::AcquireTrialResponse Acquire(uint64_t worker) {
    auto got = core_->TryAcquire(worker);
    EXPECT_TRUE(got.ok() && got->has_value()) << got.status().ToString();
    return got.ok() ? got->value_or(v1::AcquireTrialResponse()) : v1::AcquireTrialResponse();
  }

  Status Complete(const v1::AcquireTrialResponse& a) {
    v1::CompleteTrialRequest request;
    request.set_worker_id(a.trial().worker_id());
    request.set_trial_id(a.trial().id());
    request.set_lease_token(a.lease().token());
    (*request.mutable_metrics())["f1"] = 0.5;
    (*request.mutable_metrics())["f2"] = 0.5;
    return core_->CompleteTrial(request);
  }

  Status Heartbeat(uint64_t worker) {
    v1::HeartbeatRequest request;
    request.set_worker_id(worker);
    return core_->Heartbeat(request).status();
  }

  std::string Waiting(uint64_t study) {
    auto got = core_->GetStudy(study);
    EXPECT_TRUE(got.ok());
    return got.ok() ? got->waiting() : "?";
  }

  hpo::testing::TempDir dir_;
  FakeClock clock_{1'000'000};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Core> core_;
};

TEST_F(CoreOpsTest, WorkersAreLiveWhileTheyCallAndLostAfter) {
  EXPECT_TRUE(core_->ListWorkers(false).workers().empty());
  const uint64_t a = Register("a", 2, {{"gpu", "H100"}});
  const uint64_t b = Register("b", 1, {});
  auto study = core_->CreateStudy(Spec());
  ASSERT_TRUE(study.ok());
  const auto trial = Acquire(a);
  clock_.AdvanceMs(4000);
  ASSERT_TRUE(Heartbeat(a).ok());
  clock_.AdvanceMs(1500);  // b: 5.5 s without a call, past worker_lost_ms; a: 1.5 s

  const v1::ListWorkersResponse listed = core_->ListWorkers(false);
  EXPECT_EQ(listed.lost_after_ms(), 5000);
  ASSERT_EQ(listed.workers_size(), 2);
  const v1::WorkerInfo& wa = listed.workers(0);
  EXPECT_EQ(wa.id(), a);
  EXPECT_EQ(wa.name(), "a");
  EXPECT_EQ(wa.state(), v1::WORKER_LIVE);
  EXPECT_EQ(wa.slots(), 2u);
  EXPECT_EQ(wa.slots_in_use(), 1u);
  EXPECT_EQ(wa.last_heartbeat_ms(), 1'004'000);
  EXPECT_EQ(wa.registered_ms(), 1'000'000);
  EXPECT_EQ(wa.labels().at("gpu"), "H100");
  EXPECT_EQ(wa.labels().at("device"), "cpu");
  const v1::WorkerInfo& wb = listed.workers(1);
  EXPECT_EQ(wb.id(), b);
  EXPECT_EQ(wb.state(), v1::WORKER_LOST);
  EXPECT_EQ(wb.slots_in_use(), 0u);
  EXPECT_EQ(core_->LiveWorkers(), 1u);
  EXPECT_EQ(core_->RegisteredWorkers(), 2u);

  // Any call brings a lost worker back; a finished trial frees its slot.
  ASSERT_TRUE(Heartbeat(b).ok());
  ASSERT_TRUE(Complete(trial).ok());
  const v1::ListWorkersResponse again = core_->ListWorkers(false);
  EXPECT_EQ(again.workers(1).state(), v1::WORKER_LIVE);
  EXPECT_EQ(again.workers(0).slots_in_use(), 0u);
  EXPECT_EQ(core_->LiveWorkers(), 2u);
}

TEST_F(CoreOpsTest, AfterARestartStoredWorkersAreListedOnlyWithAll) {
  Register("old", 1, {});
  core_.reset();  // a new Core on the same file, as after a restart
  store_.reset();
  SetUp();
  EXPECT_TRUE(core_->ListWorkers(false).workers().empty());
  const v1::ListWorkersResponse all = core_->ListWorkers(true);
  ASSERT_EQ(all.workers_size(), 1);
  EXPECT_EQ(all.workers(0).name(), "old");
  EXPECT_EQ(all.workers(0).state(), v1::WORKER_LOST);
  EXPECT_EQ(all.workers(0).last_heartbeat_ms(), 0);
}

TEST_F(CoreOpsTest, AStudyNoLiveWorkerMatchesSaysItWaits) {
  auto study = core_->CreateStudy(Spec({{"gpu", "H100"}, {"zone", "a"}}));
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->waiting(), "no live worker matches selector gpu=H100,zone=a");
  auto any = core_->CreateStudy(Spec());
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->waiting(), "no live worker");

  Register("a100", 1, {{"gpu", "A100"}, {"zone", "a"}});
  EXPECT_EQ(Waiting(study->id()), "no live worker matches selector gpu=H100,zone=a");
  EXPECT_EQ(Waiting(any->id()), "");
  const uint64_t h100 = Register("h100", 1, {{"gpu", "H100"}, {"zone", "a"}});
  EXPECT_EQ(Waiting(study->id()), "");
  auto listed = core_->ListStudies();
  ASSERT_TRUE(listed.ok());
  for (const v1::Study& s : *listed) EXPECT_EQ(s.waiting(), "") << s.id();

  clock_.AdvanceMs(6000);  // both lost
  EXPECT_EQ(Waiting(study->id()), "no live worker matches selector gpu=H100,zone=a");
  EXPECT_EQ(Waiting(any->id()), "no live worker");
  ASSERT_TRUE(Heartbeat(h100).ok());
  EXPECT_EQ(Waiting(study->id()), "");
  // An ended study waits for nothing.
  auto cancelled = core_->CancelStudy(any->id());
  ASSERT_TRUE(cancelled.ok());
  clock_.AdvanceMs(6000);
  EXPECT_EQ(Waiting(any->id()), "");
}

TEST_F(CoreOpsTest, DeleteRefusesARunningStudyUnlessForced) {
  const uint64_t worker = Register("w", 2, {});
  auto study = core_->CreateStudy(Spec());
  ASSERT_TRUE(study.ok());
  const auto running = Acquire(worker);

  auto refused = core_->DeleteStudy(study->id(), /*force=*/false);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.status().message(), "study " + std::to_string(study->id()) +
                                            " is running; cancel it first, or force the deletion (hpoctl "
                                            "delete " +
                                            std::to_string(study->id()) + " --force)");
  auto kept = core_->ListTrials(study->id());
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->size(), 1u);
  EXPECT_EQ(kept->front().state(), v1::TRIAL_RUNNING);

  auto deleted = core_->DeleteStudy(study->id(), /*force=*/true);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted->study().id(), study->id());
  EXPECT_EQ(deleted->study().state(), v1::STUDY_CANCELLED);
  EXPECT_EQ(deleted->trials_deleted(), 1u);
  EXPECT_EQ(core_->GetStudy(study->id()).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(core_->ListTrials(study->id()).status().code(), StatusCode::kNotFound);
  // The worker's late report is refused and stores nothing; the heartbeat tells it to stop.
  EXPECT_FALSE(Complete(running).ok());
  v1::HeartbeatRequest beat;
  beat.set_worker_id(worker);
  *beat.add_leases() = running.lease();
  auto answer = core_->Heartbeat(beat);
  ASSERT_TRUE(answer.ok());
  ASSERT_EQ(answer->stop_trial_ids_size(), 1);
  EXPECT_EQ(answer->stop_trial_ids(0), running.trial().id());
  EXPECT_FALSE(store_->GetTrial(running.trial().id()).ok());
  EXPECT_EQ(core_->ListWorkers(false).workers(0).slots_in_use(), 0u);
}

TEST_F(CoreOpsTest, DeleteOfAFinishedStudyLeavesTheOthersAndIdsAreNotReused) {
  const uint64_t worker = Register("w", 4, {});
  auto done = core_->CreateStudy(Spec());
  ASSERT_TRUE(done.ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Complete(Acquire(worker)).ok());
  ASSERT_EQ(core_->GetStudy(done->id())->state(), v1::STUDY_COMPLETED);
  auto other = core_->CreateStudy(Spec());
  ASSERT_TRUE(other.ok());
  const auto running = Acquire(worker);

  auto deleted = core_->DeleteStudy(done->id(), /*force=*/false);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted->trials_deleted(), 4u);
  EXPECT_EQ(deleted->study().state(), v1::STUDY_COMPLETED);
  EXPECT_EQ(core_->DeleteStudy(done->id(), false).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(core_->DeleteStudy(999, true).status().code(), StatusCode::kNotFound);
  // The other study runs on.
  ASSERT_TRUE(Complete(running).ok());
  const auto next = Acquire(worker);
  EXPECT_GT(next.trial().id(), running.trial().id());
  auto studies = core_->ListStudies();
  ASSERT_TRUE(studies.ok());
  ASSERT_EQ(studies->size(), 1u);
  EXPECT_EQ(studies->front().id(), other->id());
  EXPECT_EQ(studies->front().counts().completed(), 1u);
}

TEST_F(CoreOpsTest, StudyTimesCountFromTheFirstTrial) {
  const uint64_t worker = Register("w", 1, {});
  auto study = core_->CreateStudy(Spec());
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->first_trial_started_ms(), 0);
  clock_.AdvanceMs(60'000);  // a minute before a worker takes the first trial
  const auto first = Acquire(worker);
  clock_.AdvanceMs(2000);
  ASSERT_TRUE(Complete(first).ok());
  const auto second = Acquire(worker);
  clock_.AdvanceMs(3000);
  ASSERT_TRUE(Complete(second).ok());
  auto got = core_->GetStudy(study->id());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->first_trial_started_ms(), 1'060'000);
  EXPECT_EQ(got->compute_ms(), 5000);
}

}  // namespace
}  // namespace hpo::coordinator
