// The coordinator's core without gRPC: leases on a FakeClock, completions, failures, cancellation,
// restarts on the same database, and refusal of bad specs with nothing stored.
#include "coordinator/core.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/temp_dir.h"

namespace hpo::coordinator {
namespace {

class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    Reopen();
  }
  void TearDown() override {
    core_.reset();
    store_.reset();
  }

  void Reopen() {
    core_.reset();
    store_.reset();
    auto store = storage::Store::Open(dir_.File("hpo.db"));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    CoreOptions options;
    options.clock = &clock_;
    auto core = Core::Open(store_.get(), options);
    ASSERT_TRUE(core.ok()) << core.status().ToString();
    core_ = std::move(*core);
  }

  static v1::StudySpec Spec(uint32_t max_trials, uint32_t max_parallel) {
    v1::StudySpec spec;
    spec.set_name("core");
    spec.set_seed(11);
    spec.mutable_task()->mutable_synthetic()->set_function("zdt1");
    spec.mutable_task()->mutable_synthetic()->set_dims(3);
    for (const char* name : {"f1", "f2"}) spec.add_objectives()->set_name(name);
    spec.mutable_budget()->set_max_trials(max_trials);
    spec.mutable_budget()->set_max_parallel(max_parallel);
    spec.mutable_budget()->set_max_attempts(2);
    spec.mutable_budget()->set_lease_seconds(10);
    // Random search: these tests are about the runner, with proposals that depend on nothing but the
    // seed and the order of results (the model-based default's also depend on when its fits finish).
    spec.mutable_algorithm()->mutable_random();
    return spec;
  }

  // A trial for `worker`, waiting (on the work listener) while the study has none to hand out yet, as a
  // parked long poll would; nullopt when none comes within 30 s.
  std::optional<v1::AcquireTrialResponse> AcquireWaiting(uint64_t worker) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      uint64_t seen = 0;
      {
        std::lock_guard lock(work_mu_);
        seen = work_signals_;
      }
      auto got = core_->TryAcquire(worker);
      EXPECT_TRUE(got.ok()) << got.status().ToString();
      if (!got.ok()) return std::nullopt;
      if (got->has_value()) return **got;
      std::unique_lock lock(work_mu_);
      work_cv_.wait_until(lock, deadline, [&] { return work_signals_ != seen; });
    }
    return std::nullopt;
  }

  void ListenForWork() {
    core_->SetWorkListener([this] {
      std::lock_guard lock(work_mu_);
      ++work_signals_;
      work_cv_.notify_all();
    });
  }

  uint64_t Register(const std::map<std::string, std::string>& labels = {}, const std::string& device = "") {
    v1::RegisterWorkerRequest request;
    request.set_name("w");
    request.set_slots(1);
    request.set_device(device);
    request.mutable_labels()->insert(labels.begin(), labels.end());
    auto response = core_->RegisterWorker(request);
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    return response.ok() ? response->worker_id() : 0;
  }

  Status Progress(const v1::AcquireTrialResponse& a, uint64_t step, double loss) {
    v1::ReportProgressRequest request;
    request.set_worker_id(a.trial().worker_id());
    request.set_trial_id(a.trial().id());
    request.set_lease_token(a.lease().token());
    request.set_step(step);
    (*request.mutable_metrics())["loss"] = loss;
    return core_->ReportProgress(request).status();
  }

  int64_t Rows(const std::string& table) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(dir_.File("hpo.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, ("SELECT COUNT(*) FROM " + table).c_str(), -1, &stmt, nullptr),
              SQLITE_OK);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    const int64_t n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return n;
  }

  v1::AcquireTrialResponse Acquire(uint64_t worker) {
    auto got = core_->TryAcquire(worker);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(got->has_value());
    return got->value_or(v1::AcquireTrialResponse());
  }

  Status Complete(const v1::AcquireTrialResponse& a, double f1, double f2) {
    v1::CompleteTrialRequest request;
    request.set_worker_id(a.trial().worker_id());
    request.set_trial_id(a.trial().id());
    request.set_lease_token(a.lease().token());
    (*request.mutable_metrics())["f1"] = f1;
    (*request.mutable_metrics())["f2"] = f2;
    return core_->CompleteTrial(request);
  }

  v1::Trial Stored(uint64_t trial_id) {
    auto record = store_->GetTrial(trial_id);
    EXPECT_TRUE(record.ok());
    return record->trial;
  }

  std::mutex work_mu_;
  std::condition_variable work_cv_;
  uint64_t work_signals_ = 0;  // GUARDED_BY(work_mu_)
  hpo::testing::TempDir dir_;
  FakeClock clock_{1'000'000};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Core> core_;
};

TEST_F(CoreTest, HandsOutUpToMaxParallelAndFinishesTheStudy) {
  auto study = core_->CreateStudy(Spec(3, 2));
  ASSERT_TRUE(study.ok()) << study.status().ToString();
  const uint64_t worker = Register();
  const auto a = Acquire(worker);
  const auto b = Acquire(worker);
  EXPECT_EQ(a.trial().number(), 0u);
  EXPECT_EQ(b.trial().number(), 1u);
  EXPECT_EQ(a.trial().attempt(), 1u);
  EXPECT_EQ(a.trial().params().size(), 3u);
  EXPECT_EQ(a.task().synthetic().function(), "zdt1");
  EXPECT_NE(a.lease().token(), b.lease().token());
  EXPECT_FALSE(core_->TryAcquire(worker)->has_value());  // max_parallel 2

  ASSERT_TRUE(Complete(a, 0.1, 0.9).ok());
  const auto c = Acquire(worker);
  EXPECT_EQ(c.trial().number(), 2u);
  EXPECT_FALSE(core_->TryAcquire(worker)->has_value());  // budget spent
  ASSERT_TRUE(Complete(b, 0.2, 0.95).ok());              // dominated by a
  ASSERT_TRUE(Complete(c, 0.05, 1.5).ok());
  // A repeated completion under the same lease (its answer was lost) is acknowledged, counts nothing.
  EXPECT_TRUE(Complete(c, 0.0, 0.0).ok());
  EXPECT_EQ(Stored(c.trial().id()).metrics().at("f1"), 0.05);
  // Under another token it is refused.
  v1::AcquireTrialResponse forged = c;
  forged.mutable_lease()->set_token("0123456789abcdef0123456789abcdef");
  EXPECT_EQ(Complete(forged, 0.0, 0.0).code(), StatusCode::kFailedPrecondition);

  auto done = core_->GetStudy(study->id());
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state(), v1::STUDY_COMPLETED);
  EXPECT_EQ(done->counts().completed(), 3u);
  auto front = core_->GetParetoFront(study->id());
  ASSERT_TRUE(front.ok());
  ASSERT_EQ(front->trials_size(), 2);
  EXPECT_EQ(front->trials(0).number(), 2u);  // best f1 first
  EXPECT_EQ(front->trials(1).number(), 0u);
  EXPECT_EQ(Stored(c.trial().id()).metrics().at("f1"), 0.05);
}

TEST_F(CoreTest, ExpiredLeaseRequeuesThenFails) {
  auto study = core_->CreateStudy(Spec(1, 1));
  ASSERT_TRUE(study.ok());
  const uint64_t worker = Register();
  const auto first = Acquire(worker);

  // A heartbeat renews the lease.
  clock_.AdvanceMs(8'000);
  v1::HeartbeatRequest beat;
  beat.set_worker_id(worker);
  *beat.add_leases() = first.lease();
  auto renewed = core_->Heartbeat(beat);
  ASSERT_TRUE(renewed.ok());
  EXPECT_EQ(renewed->renewed_size(), 1);
  EXPECT_EQ(renewed->stop_trial_ids_size(), 0);
  clock_.AdvanceMs(8'000);
  ASSERT_TRUE(core_->ExpireLeases().ok());
  EXPECT_EQ(Stored(first.trial().id()).state(), v1::TRIAL_RUNNING);

  // Without one it runs out: the trial is re-queued and the old lease is stale.
  clock_.AdvanceMs(10'001);
  ASSERT_TRUE(core_->ExpireLeases().ok());
  EXPECT_EQ(Stored(first.trial().id()).state(), v1::TRIAL_PENDING);
  EXPECT_EQ(Complete(first, 0.1, 0.1).code(), StatusCode::kFailedPrecondition);
  auto stale = core_->Heartbeat(beat);
  ASSERT_TRUE(stale.ok());
  ASSERT_EQ(stale->stop_trial_ids_size(), 1);
  EXPECT_EQ(stale->stop_trial_ids(0), first.trial().id());

  const auto second = Acquire(worker);
  EXPECT_EQ(second.trial().id(), first.trial().id());
  EXPECT_EQ(second.trial().attempt(), 2u);
  EXPECT_EQ(second.trial().params().at("x1").double_value(), first.trial().params().at("x1").double_value());

  // The last attempt runs out too: the trial fails and, with the budget spent, so does the study.
  clock_.AdvanceMs(10'001);
  ASSERT_TRUE(core_->ExpireLeases().ok());
  const v1::Trial failed = Stored(first.trial().id());
  EXPECT_EQ(failed.state(), v1::TRIAL_FAILED);
  EXPECT_NE(failed.error().find("lease expired on attempt 2 of 2"), std::string::npos) << failed.error();
  EXPECT_EQ(core_->GetStudy(study->id())->state(), v1::STUDY_FAILED);
}

TEST_F(CoreTest, FailuresAndBadMetricsFailTheTrial) {
  auto study = core_->CreateStudy(Spec(3, 3));
  ASSERT_TRUE(study.ok());
  const uint64_t worker = Register();
  const auto a = Acquire(worker);
  const auto b = Acquire(worker);
  v1::FailTrialRequest fail;
  fail.set_worker_id(worker);
  fail.set_trial_id(a.trial().id());
  fail.set_lease_token(a.lease().token());
  fail.set_error("hpo-train: out of memory");
  ASSERT_TRUE(core_->FailTrial(fail).ok());
  EXPECT_EQ(Stored(a.trial().id()).error(), "hpo-train: out of memory");
  // A reason of megabytes fails its trial all the same, stored cut to 2048 bytes.
  const auto c = Acquire(worker);
  fail.set_trial_id(c.trial().id());
  fail.set_lease_token(c.lease().token());
  fail.set_error(std::string(3 << 20, 'x'));
  ASSERT_TRUE(core_->FailTrial(fail).ok());
  EXPECT_EQ(Stored(c.trial().id()).state(), v1::TRIAL_FAILED);
  EXPECT_EQ(Stored(c.trial().id()).error().substr(2048),
            " ... (" + std::to_string((3 << 20) - 2048) + " bytes cut)");

  ASSERT_TRUE(Complete(b, std::nan(""), 1.0).ok());
  const v1::Trial bad = Stored(b.trial().id());
  EXPECT_EQ(bad.state(), v1::TRIAL_FAILED);
  EXPECT_EQ(bad.error(), "non-finite metric f1");

  v1::CompleteTrialRequest wrong_token;
  wrong_token.set_worker_id(worker);
  wrong_token.set_trial_id(b.trial().id());
  wrong_token.set_lease_token("not-the-token");
  EXPECT_EQ(core_->CompleteTrial(wrong_token).code(), StatusCode::kFailedPrecondition);
  wrong_token.set_trial_id(999);
  EXPECT_EQ(core_->CompleteTrial(wrong_token).code(), StatusCode::kNotFound);
}

TEST_F(CoreTest, CancelStopsRunningTrials) {
  auto study = core_->CreateStudy(Spec(5, 2));
  ASSERT_TRUE(study.ok());
  const uint64_t worker = Register();
  const auto a = Acquire(worker);
  auto cancelled = core_->CancelStudy(study->id());
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->state(), v1::STUDY_CANCELLED);
  EXPECT_EQ(Stored(a.trial().id()).state(), v1::TRIAL_CANCELLED);
  EXPECT_EQ(Complete(a, 0.1, 0.1).code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(core_->TryAcquire(worker)->has_value());
  EXPECT_EQ(core_->CancelStudy(12345).status().code(), StatusCode::kNotFound);
}

TEST_F(CoreTest, RestartContinuesTheStudy) {
  auto study = core_->CreateStudy(Spec(3, 3));
  ASSERT_TRUE(study.ok());
  const uint64_t worker = Register();
  const auto a = Acquire(worker);
  const auto b = Acquire(worker);
  ASSERT_TRUE(Complete(a, 0.3, 0.3).ok());

  Reopen();  // as if the coordinator restarted on the same file
  // The running trial's lease survives, the worker is still known, and the search continues where it was.
  ASSERT_TRUE(Complete(b, 0.2, 0.4).ok());
  const auto c = Acquire(worker);
  EXPECT_EQ(c.trial().number(), 2u);
  ASSERT_TRUE(Complete(c, 0.4, 0.2).ok());
  EXPECT_EQ(core_->GetStudy(study->id())->state(), v1::STUDY_COMPLETED);
  EXPECT_EQ(core_->ListTrials(study->id())->size(), 3u);
}

TEST_F(CoreTest, OnlyTheHoldingWorkerMayReportOrRenew) {
  auto study = core_->CreateStudy(Spec(2, 2));
  ASSERT_TRUE(study.ok());
  const uint64_t holder = Register();
  const uint64_t other = Register();
  const auto a = Acquire(holder);
  // The right token from another registered worker: refused, and the trial is untouched.
  v1::AcquireTrialResponse stolen = a;
  stolen.mutable_trial()->set_worker_id(other);
  const Status refused = Complete(stolen, 0.1, 0.1);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("held by worker " + std::to_string(holder)), std::string::npos)
      << refused.ToString();
  v1::FailTrialRequest fail;
  fail.set_worker_id(other);
  fail.set_trial_id(a.trial().id());
  fail.set_lease_token(a.lease().token());
  EXPECT_EQ(core_->FailTrial(fail).code(), StatusCode::kFailedPrecondition);
  v1::HeartbeatRequest beat;
  beat.set_worker_id(other);
  *beat.add_leases() = a.lease();
  auto renewed = core_->Heartbeat(beat);
  ASSERT_TRUE(renewed.ok());
  EXPECT_EQ(renewed->renewed_size(), 0);
  EXPECT_EQ(renewed->stop_trial_ids_size(), 1);
  // An unregistered worker id is NOT_FOUND.
  stolen.mutable_trial()->set_worker_id(4242);
  EXPECT_EQ(Complete(stolen, 0.1, 0.1).code(), StatusCode::kNotFound);
  const v1::Trial stored = Stored(a.trial().id());
  EXPECT_EQ(stored.state(), v1::TRIAL_RUNNING);
  EXPECT_EQ(stored.worker_id(), holder);
  EXPECT_TRUE(stored.metrics().empty());
  // The holder's own report goes through.
  EXPECT_TRUE(Complete(a, 0.1, 0.1).ok());
  EXPECT_EQ(Stored(a.trial().id()).state(), v1::TRIAL_COMPLETED);
}

TEST_F(CoreTest, ReleasedTrialIsRequeuedAtOnceWithoutSpendingAnAttempt) {
  auto study = core_->CreateStudy(Spec(1, 1));  // max_attempts 2
  ASSERT_TRUE(study.ok());
  const uint64_t worker = Register();
  uint64_t trial_id = 0;
  // Released three times, more than max_attempts: it stays pending each time, on attempt 1.
  for (int round = 0; round < 3; ++round) {
    const auto a = Acquire(worker);
    EXPECT_EQ(a.trial().attempt(), 1u);
    trial_id = a.trial().id();
    v1::ReleaseTrialRequest release;
    release.set_worker_id(worker);
    release.set_trial_id(a.trial().id());
    release.set_lease_token(a.lease().token());
    release.set_reason("worker stopping");
    ASSERT_TRUE(core_->ReleaseTrial(release).ok());
    const v1::Trial stored = Stored(a.trial().id());
    EXPECT_EQ(stored.state(), v1::TRIAL_PENDING);
    EXPECT_EQ(stored.worker_id(), 0u);
    // The old lease is dead: a late report or a second release is refused.
    EXPECT_EQ(Complete(a, 0.1, 0.1).code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(core_->ReleaseTrial(release).code(), StatusCode::kFailedPrecondition);
  }
  const auto last = Acquire(worker);
  EXPECT_EQ(last.trial().id(), trial_id);
  ASSERT_TRUE(Complete(last, 0.2, 0.2).ok());
  EXPECT_EQ(core_->GetStudy(study->id())->state(), v1::STUDY_COMPLETED);
  EXPECT_EQ(core_->ListTrials(study->id())->size(), 1u);
}

TEST_F(CoreTest, AnyNonFiniteMetricFailsTheTrialAndNothingNonFiniteIsStored) {
  auto study = core_->CreateStudy(Spec(1, 1));
  ASSERT_TRUE(study.ok());
  const auto a = Acquire(Register());
  v1::CompleteTrialRequest request;
  request.set_worker_id(a.trial().worker_id());
  request.set_trial_id(a.trial().id());
  request.set_lease_token(a.lease().token());
  (*request.mutable_metrics())["f1"] = 0.5;
  (*request.mutable_metrics())["f2"] = 0.5;
  (*request.mutable_metrics())["train_time_s"] = std::numeric_limits<double>::infinity();
  ASSERT_TRUE(core_->CompleteTrial(request).ok());
  const v1::Trial stored = Stored(a.trial().id());
  EXPECT_EQ(stored.state(), v1::TRIAL_FAILED);
  EXPECT_EQ(stored.error(), "non-finite metric train_time_s");
  EXPECT_EQ(stored.metrics().count("train_time_s"), 0u);
  EXPECT_EQ(stored.metrics().at("f1"), 0.5);
}

// "m3" for ("m", 3). Built by append: GCC 12 warns falsely on "m" + std::to_string(i).
std::string Name(const char* prefix, int i) {
  std::string name(prefix);
  name += std::to_string(i);
  return name;
}

TEST_F(CoreTest, ACompletionIsCheckedAsAProgressReportIsAndABadOneStoresNothing) {
  ASSERT_TRUE(core_->CreateStudy(Spec(1, 1)).ok());
  const auto a = Acquire(Register());
  auto good = [&] {
    v1::CompleteTrialRequest request;
    request.set_worker_id(a.trial().worker_id());
    request.set_trial_id(a.trial().id());
    request.set_lease_token(a.lease().token());
    (*request.mutable_metrics())["f1"] = 0.2;
    (*request.mutable_metrics())["f2"] = 0.3;
    request.set_device("cpu");
    return request;
  };
  struct Case {
    std::function<void(v1::CompleteTrialRequest&)> breaks;
    std::string message;
  };
  const std::string rlo = "\xe2\x80\xae";  // U+202E
  const std::vector<Case> cases = {
      {[](auto& r) {
         for (int i = 0; i < 100'000; ++i) (*r.mutable_metrics())[Name("m", i)] = i;
       },
       "metrics: at most 100 values, got 100002"},
      {[](auto& r) { (*r.mutable_metrics())[""] = 1; }, "metrics: a name is empty"},
      {[](auto& r) { (*r.mutable_metrics())["f3\x1b[31m"] = 1; },
       "metrics: name \"f3\\x1b[31m\" holds a control character (at byte 2)"},
      {[](auto& r) { (*r.mutable_metrics())["f3\nf4"] = 1; },
       "metrics: name \"f3\\nf4\" holds a control character (at byte 2)"},
      {[](auto& r) { (*r.mutable_metrics())[std::string(100'000, 'm')] = 1; },
       "metrics: name \"" + std::string(64, 'm') + "...\" longer than 64 bytes"},
      {[&](auto& r) { (*r.mutable_metrics())["3f" + rlo] = 1; },
       "metrics: name \"3f\\u202e\" holds the bidirectional control U+202E (at byte 2)"},
      {[](auto& r) { r.set_device(std::string(3 << 20, 'd')); }, "device: longer than 256 bytes"},
      {[](auto& r) { r.set_device("cpu\x1b]0;owned\x07"); }, "device: holds a control character (at byte 3)"},
      {[&](auto& r) { r.set_device("H100" + rlo); },
       "device: holds the bidirectional control U+202E (at byte 4)"},
  };
  for (const Case& c : cases) {
    v1::CompleteTrialRequest request = good();
    c.breaks(request);
    const Status refused = core_->CompleteTrial(request);
    EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument) << c.message;
    EXPECT_EQ(refused.message(), c.message);
    // Nothing stored: the trial still runs under its lease, with no metrics and no device.
    const v1::Trial stored = Stored(a.trial().id());
    EXPECT_EQ(stored.state(), v1::TRIAL_RUNNING) << c.message;
    EXPECT_TRUE(stored.metrics().empty()) << c.message;
    EXPECT_EQ(stored.device(), "") << c.message;
    EXPECT_EQ(Rows("trial_metrics"), 0) << c.message;
  }
  // A progress report is held to the same limits.
  v1::ReportProgressRequest progress;
  progress.set_worker_id(a.trial().worker_id());
  progress.set_trial_id(a.trial().id());
  progress.set_lease_token(a.lease().token());
  (*progress.mutable_metrics())["loss" + rlo] = 0.5;
  EXPECT_EQ(core_->ReportProgress(progress).status().message(),
            "metrics: name \"loss\\u202e\" holds the bidirectional control U+202E (at byte 4)");
  EXPECT_FALSE(Stored(a.trial().id()).has_progress());

  // The limits are inclusive, and the lease still holds: the same completion within them is stored.
  v1::CompleteTrialRequest request = good();
  for (int i = 0; i < 97; ++i) (*request.mutable_metrics())[Name("m", i)] = i;
  (*request.mutable_metrics())[std::string(64, 'n')] = 1;
  request.set_device(std::string(256, 'd'));
  ASSERT_TRUE(core_->CompleteTrial(request).ok()) << core_->CompleteTrial(request).ToString();
  const v1::Trial stored = Stored(a.trial().id());
  EXPECT_EQ(stored.state(), v1::TRIAL_COMPLETED);
  EXPECT_EQ(stored.metrics_size(), 100);
  EXPECT_EQ(stored.device(), std::string(256, 'd'));
}

// Runs `sql` on the database through a second connection, as an outside writer would.
void ExecSideways(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

// A commit that fails answers the operation with its error, and the next operation rebuilds the Core's
// state from the database: nothing of the failed change remains, and the trial can be reported again.
TEST_F(CoreTest, AFailedCommitIsReportedAndTheStateReloaded) {
  auto study = core_->CreateStudy(Spec(1, 1));
  ASSERT_TRUE(study.ok());
  const uint64_t worker = Register();
  const auto a = Acquire(worker);
  ExecSideways(
      dir_.File("hpo.db"),
      "CREATE TRIGGER refuse BEFORE UPDATE ON trials BEGIN SELECT RAISE(ABORT, 'disk says no'); END");
  const Status failed = Complete(a, 0.1, 0.2);
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("disk says no"), std::string::npos) << failed.ToString();
  EXPECT_EQ(Stored(a.trial().id()).state(), v1::TRIAL_RUNNING);
  ExecSideways(dir_.File("hpo.db"), "DROP TRIGGER refuse");
  // In memory the completion was made, but the reload forgets it: the same report now goes through.
  ASSERT_TRUE(Complete(a, 0.1, 0.2).ok());
  const v1::Trial done = Stored(a.trial().id());
  EXPECT_EQ(done.state(), v1::TRIAL_COMPLETED);
  EXPECT_EQ(done.metrics().at("f2"), 0.2);
  EXPECT_EQ(core_->GetStudy(study->id())->state(), v1::STUDY_COMPLETED);
  EXPECT_GE(core_->commit_stats().groups, 3u);
}

TEST_F(CoreTest, BadSpecStoresNothing) {
  v1::StudySpec spec = Spec(3, 1);
  spec.mutable_objectives(1)->set_name("f9");
  auto refused = core_->CreateStudy(spec);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("objectives[1] (f9)"), std::string::npos);
  EXPECT_TRUE(core_->ListStudies()->empty());
}

TEST_F(CoreTest, LeaseShorterThanThreeHeartbeatsIsRefused) {
  v1::StudySpec spec = Spec(3, 1);
  spec.mutable_budget()->set_lease_seconds(2);  // heartbeats every second by default
  auto refused = core_->CreateStudy(spec);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("budget.lease_seconds"), std::string::npos);
  EXPECT_TRUE(core_->ListStudies()->empty());
}

TEST_F(CoreTest, UnknownWorkersAreNotFound) {
  EXPECT_EQ(core_->TryAcquire(77).status().code(), StatusCode::kNotFound);
  v1::HeartbeatRequest beat;
  beat.set_worker_id(77);
  EXPECT_EQ(core_->Heartbeat(beat).status().code(), StatusCode::kNotFound);
}

TEST_F(CoreTest, StudyThatCannotResumeIsFailedAndOthersGoOn) {
  auto broken = core_->CreateStudy(Spec(3, 1));
  auto fine = core_->CreateStudy(Spec(3, 1));
  ASSERT_TRUE(broken.ok() && fine.ok());
  core_.reset();
  store_.reset();
  {
    // Damage the first study's optimizer state behind the coordinator's back.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir_.File("hpo.db").c_str(), &db), SQLITE_OK);
    const std::string sql =
        "UPDATE studies SET optimizer_state = x'00ff' WHERE id = " + std::to_string(broken->id());
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  Reopen();
  EXPECT_EQ(core_->GetStudy(broken->id())->state(), v1::STUDY_FAILED);
  EXPECT_EQ(core_->GetStudy(fine->id())->state(), v1::STUDY_RUNNING);
  const auto a = Acquire(Register());
  EXPECT_EQ(a.trial().study_id(), fine->id());
}

TEST_F(CoreTest, ConditionalParametersExistOnlyUnderTheirParentsValue) {
  v1::StudySpec spec;
  spec.set_seed(3);
  spec.mutable_task()->mutable_builtin();
  spec.add_objectives()->set_name("accuracy");
  spec.mutable_budget()->set_max_trials(60);
  v1::Parameter* optimizer = spec.add_parameters();
  optimizer->set_name("optimizer");
  optimizer->mutable_categorical()->add_choices("sgd");
  optimizer->mutable_categorical()->add_choices("adamw");
  v1::Parameter* momentum = spec.add_parameters();
  momentum->set_name("momentum");
  momentum->mutable_float_()->set_low(0.5);
  momentum->mutable_float_()->set_high(0.99);
  momentum->mutable_condition()->set_parent("optimizer");
  momentum->mutable_condition()->add_values("sgd");
  ASSERT_TRUE(core_->CreateStudy(spec).ok());
  const uint64_t worker = Register();
  int sgd = 0, adamw = 0;
  for (int i = 0; i < 60; ++i) {
    const auto a = Acquire(worker);
    const bool is_sgd = a.trial().params().at("optimizer").string_value() == "sgd";
    EXPECT_EQ(a.trial().params().count("momentum"), is_sgd ? 1u : 0u);
    (is_sgd ? sgd : adamw)++;
  }
  EXPECT_GT(sgd, 10);
  EXPECT_GT(adamw, 10);
}

// The optimizer's state is stored once per commit group; a coordinator that restarts after every
// operation must still propose exactly the trials of one that never restarts.
TEST_F(CoreTest, RestartAfterEveryOperationProposesTheSameTrials) {
  auto run = [&](bool restart) {
    auto study = core_->CreateStudy(Spec(12, 3));
    EXPECT_TRUE(study.ok());
    const uint64_t worker = Register();
    std::vector<std::string> proposed;
    for (int round = 0; round < 4; ++round) {
      std::vector<v1::AcquireTrialResponse> batch;
      for (int i = 0; i < 3; ++i) {
        batch.push_back(Acquire(worker));
        if (restart) Reopen();
      }
      for (const auto& a : batch) {
        proposed.push_back(a.trial().params().at("x1").DebugString() +
                           a.trial().params().at("x2").DebugString());
        const double x1 = a.trial().params().at("x1").double_value();
        EXPECT_TRUE(Complete(a, x1, 1 - x1).ok());
        if (restart) Reopen();
      }
    }
    EXPECT_EQ(core_->GetStudy(study->id())->state(), v1::STUDY_COMPLETED);
    return proposed;
  };
  const std::vector<std::string> steady = run(false);
  const std::vector<std::string> restarted = run(true);
  ASSERT_EQ(steady.size(), 12u);
  EXPECT_EQ(steady, restarted);
}

TEST_F(CoreTest, SameSeedSameTrials) {
  auto one = core_->CreateStudy(Spec(2, 2));
  auto two = core_->CreateStudy(Spec(2, 2));
  ASSERT_TRUE(one.ok() && two.ok());
  const uint64_t worker = Register();
  std::map<uint64_t, std::vector<double>> x1;
  for (int i = 0; i < 4; ++i) {
    const auto a = Acquire(worker);
    x1[a.trial().study_id()].push_back(a.trial().params().at("x1").double_value());
  }
  EXPECT_EQ(x1[one->id()], x1[two->id()]);
  EXPECT_NE(x1[one->id()][0], x1[one->id()][1]);
}

// ---- worker labels and worker_selector ----

TEST_F(CoreTest, SelectorKeepsAStudyToWorkersWithItsLabels) {
  v1::StudySpec spec = Spec(2, 2);
  (*spec.mutable_worker_selector())["gpu"] = "H100";
  auto selecting = core_->CreateStudy(spec);
  ASSERT_TRUE(selecting.ok()) << selecting.status().ToString();
  const uint64_t plain = Register();
  const uint64_t other_gpu = Register({{"gpu", "A100"}});
  const uint64_t h100 = Register({{"gpu", "H100"}, {"zone", "a"}});
  // Without the label, or with another value, nothing: neither from "any study" nor by naming it.
  EXPECT_FALSE(core_->TryAcquire(plain)->has_value());
  EXPECT_FALSE(core_->TryAcquire(other_gpu)->has_value());
  auto named = core_->TryAcquire(other_gpu, selecting->id());
  EXPECT_EQ(named.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(named.status().message().find("wants gpu=H100, the worker has gpu=A100"), std::string::npos)
      << named.status().message();
  // The worker with the label gets both trials (its extra label does not matter).
  const auto a = Acquire(h100);
  const auto b = Acquire(h100);
  EXPECT_EQ(a.trial().study_id(), selecting->id());
  EXPECT_EQ(b.trial().number(), 1u);
  EXPECT_EQ(Stored(a.trial().id()).worker_id(), h100);

  // A study without a selector goes to any worker, the unlabelled one included.
  auto open = core_->CreateStudy(Spec(1, 1));
  ASSERT_TRUE(open.ok());
  const auto c = Acquire(plain);
  EXPECT_EQ(c.trial().study_id(), open->id());
}

TEST_F(CoreTest, DeviceIsALabelToo) {
  v1::StudySpec spec = Spec(1, 1);
  (*spec.mutable_worker_selector())["device"] = "cpu: Test CPU (2 threads)";
  ASSERT_TRUE(core_->CreateStudy(spec).ok());
  EXPECT_FALSE(core_->TryAcquire(Register({}, "cpu: Other CPU (2 threads)"))->has_value());
  // A "device" label of the worker's own wins over its device description.
  EXPECT_FALSE(core_->TryAcquire(Register({{"device", "gpu"}}, "cpu: Test CPU (2 threads)"))->has_value());
  const auto got = Acquire(Register({}, "cpu: Test CPU (2 threads)"));
  EXPECT_EQ(got.trial().number(), 0u);
}

TEST_F(CoreTest, LabelsSurviveARestart) {
  const uint64_t h100 = Register({{"gpu", "H100"}});
  const uint64_t plain = Register();
  Reopen();  // the coordinator restarts; the workers carry on under their ids
  v1::StudySpec spec = Spec(1, 1);
  (*spec.mutable_worker_selector())["gpu"] = "H100";
  ASSERT_TRUE(core_->CreateStudy(spec).ok());
  EXPECT_FALSE(core_->TryAcquire(plain)->has_value());
  const auto got = Acquire(h100);
  EXPECT_EQ(got.trial().worker_id(), h100);
  EXPECT_EQ(Rows("worker_labels"), 1);
}

TEST_F(CoreTest, BadLabelsAreRefusedNamingThemAndNothingIsStored) {
  v1::RegisterWorkerRequest request;
  request.set_name("w");
  request.set_slots(1);
  (*request.mutable_labels())["gpu type"] = "H100";
  auto refused = core_->RegisterWorker(request);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(),
            "labels: key \"gpu type\" may hold only letters, digits, '_', '-', '.' and '/'");
  request.clear_labels();
  (*request.mutable_labels())["gpu"] = std::string(257, 'h');
  EXPECT_EQ(
      core_->RegisterWorker(request).status().message().rfind("labels: value of \"gpu\" longer than", 0), 0u);
  request.clear_labels();
  request.set_device("cpu\nfake=1");  // offered as the label "device", it must make a valid one
  EXPECT_EQ(core_->RegisterWorker(request).status().message(),
            "device: holds a control character (at byte 3)");
  // A worker that gives its own "device" label still has its device name stored and shown: checked too.
  (*request.mutable_labels())["device"] = "cpu";
  request.set_device(std::string(3 << 20, 'd'));
  EXPECT_EQ(core_->RegisterWorker(request).status().message(), "device: longer than 256 bytes");
  EXPECT_EQ(Rows("workers"), 0);
  EXPECT_EQ(Rows("worker_labels"), 0);
}

TEST_F(CoreTest, BadCommandSpecStoresNothing) {
  v1::StudySpec spec = Spec(2, 1);
  spec.mutable_task()->mutable_command();  // no argv
  spec.clear_parameters();
  spec.add_parameters()->set_name("lr");
  spec.mutable_parameters(0)->mutable_float_()->set_high(1);
  for (auto& o : *spec.mutable_objectives()) o.set_direction(v1::MINIMIZE);
  auto refused = core_->CreateStudy(spec);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message().rfind("task.command.argv: must not be empty", 0), 0u)
      << refused.status().message();
  spec.mutable_task()->mutable_command()->add_argv("train");
  (*spec.mutable_worker_selector())[""] = "x";
  EXPECT_EQ(core_->CreateStudy(spec).status().message().rfind("worker_selector: key \"\" is empty", 0), 0u);
  EXPECT_TRUE(core_->ListStudies()->empty());
  EXPECT_EQ(Rows("studies"), 0);
}

// ---- external studies (ask/tell) ----

TEST_F(CoreTest, ExternalStudyHandsOutTrialsOnlyToThoseWhoNameIt) {
  v1::StudySpec spec = Spec(2, 2);
  spec.mutable_task()->mutable_external();
  for (const char* name : {"x1", "x2"}) {
    v1::Parameter* p = spec.add_parameters();
    p->set_name(name);
    p->mutable_float_()->set_high(1);
  }
  for (auto& o : *spec.mutable_objectives()) o.set_direction(v1::MINIMIZE);
  auto external = core_->CreateStudy(spec);
  ASSERT_TRUE(external.ok()) << external.status().ToString();
  const uint64_t daemon = Register();
  const uint64_t client = Register();
  EXPECT_FALSE(core_->TryAcquire(daemon)->has_value());  // any study: never an external one
  auto got = core_->TryAcquire(client, external->id());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  const v1::AcquireTrialResponse& a = **got;
  EXPECT_TRUE(a.task().has_external());
  EXPECT_EQ(a.trial().study_id(), external->id());
  EXPECT_EQ(a.objectives_size(), 2);
  ASSERT_TRUE(Complete(a, 0.3, 0.4).ok());  // the client tells its result like a worker
  EXPECT_EQ(Stored(a.trial().id()).state(), v1::TRIAL_COMPLETED);

  // Naming a study: NOT_FOUND for an unknown one; a study with other work is not handed out instead.
  EXPECT_EQ(core_->TryAcquire(client, 999).status().code(), StatusCode::kNotFound);
  auto other = core_->CreateStudy(Spec(1, 1));
  ASSERT_TRUE(other.ok());
  const auto b = *core_->TryAcquire(client, external->id());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->trial().study_id(), external->id());
  EXPECT_FALSE(core_->TryAcquire(client, external->id())->has_value());  // budget of 2 handed out
  ASSERT_TRUE(Complete(*b, 0.1, 0.9).ok());
  // Finished: asking it again says so rather than waiting for nothing.
  auto done = core_->TryAcquire(client, external->id());
  EXPECT_EQ(done.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(done.status().message().find("is completed"), std::string::npos) << done.status().message();
  // The daemon gets the other study's trial.
  EXPECT_EQ(Acquire(daemon).trial().study_id(), other->id());
}

// ---- progress ----

TEST_F(CoreTest, ProgressIsStoredAndRefusedWithAStaleToken) {
  ASSERT_TRUE(core_->CreateStudy(Spec(1, 1)).ok());
  const uint64_t worker = Register();
  const auto a = Acquire(worker);
  clock_.AdvanceMs(9'000);
  ASSERT_TRUE(Progress(a, 1, 0.9).ok());
  clock_.AdvanceMs(500);
  ASSERT_TRUE(Progress(a, 2, 0.5).ok());
  v1::Trial stored = Stored(a.trial().id());
  EXPECT_EQ(stored.progress().step(), 2u);
  EXPECT_EQ(stored.progress().metrics().at("loss"), 0.5);
  EXPECT_EQ(stored.progress().reported_ms(), 1'009'500);
  EXPECT_EQ(stored.state(), v1::TRIAL_RUNNING);
  // A report renews the lease as a heartbeat does: 9.5 s in, a 10 s lease still runs at 15 s.
  clock_.AdvanceMs(5'500);
  ASSERT_TRUE(core_->ExpireLeases().ok());
  EXPECT_EQ(Stored(a.trial().id()).state(), v1::TRIAL_RUNNING);

  // Another token, another worker, an unknown trial, a non-finite value: refused, nothing changes.
  v1::AcquireTrialResponse forged = a;
  forged.mutable_lease()->set_token("0123456789abcdef0123456789abcdef");
  EXPECT_EQ(Progress(forged, 3, 0.1).code(), StatusCode::kFailedPrecondition);
  v1::AcquireTrialResponse stranger = a;
  stranger.mutable_trial()->set_worker_id(Register());
  EXPECT_EQ(Progress(stranger, 3, 0.1).code(), StatusCode::kFailedPrecondition);
  v1::AcquireTrialResponse unknown = a;
  unknown.mutable_trial()->set_id(12345);
  EXPECT_EQ(Progress(unknown, 3, 0.1).code(), StatusCode::kNotFound);
  const Status nan = Progress(a, 3, std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(nan.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(nan.message(), "metrics[loss]: not a finite number");
  EXPECT_EQ(Stored(a.trial().id()).progress().step(), 2u);

  // The progress is kept once the trial ends; a late one under the finishing token changes nothing.
  ASSERT_TRUE(Complete(a, 0.2, 0.3).ok());
  EXPECT_TRUE(Progress(a, 9, 0.0).ok());
  stored = Stored(a.trial().id());
  EXPECT_EQ(stored.state(), v1::TRIAL_COMPLETED);
  EXPECT_EQ(stored.progress().step(), 2u);
  EXPECT_EQ(core_->ListTrials(stored.study_id())->front().progress().metrics().at("loss"), 0.5);
}

TEST_F(CoreTest, ARequeuedTrialStartsWithoutProgressAndTheOldLeaseIsRefused) {
  ASSERT_TRUE(core_->CreateStudy(Spec(1, 1)).ok());
  const uint64_t worker = Register();
  const auto first = Acquire(worker);
  ASSERT_TRUE(Progress(first, 4, 0.7).ok());
  clock_.AdvanceMs(10'001);  // the lease runs out
  ASSERT_TRUE(core_->ExpireLeases().ok());
  v1::Trial stored = Stored(first.trial().id());
  EXPECT_EQ(stored.state(), v1::TRIAL_PENDING);
  EXPECT_FALSE(stored.has_progress());
  EXPECT_EQ(Progress(first, 5, 0.6).code(), StatusCode::kFailedPrecondition);
  const auto second = Acquire(worker);
  EXPECT_EQ(second.trial().attempt(), 2u);
  EXPECT_FALSE(second.trial().has_progress());
  Reopen();  // and what is stored survives a restart
  ASSERT_TRUE(Progress(second, 1, 0.8).ok());
  Reopen();
  EXPECT_EQ(Stored(second.trial().id()).progress().step(), 1u);
}

}  // namespace
}  // namespace hpo::coordinator

namespace hpo::coordinator {
namespace {

// ---- the model-based sampler and constraints ----

TEST_F(CoreTest, ModelBasedDefaultRunsItsFitsInTheBackgroundAndFinishesTheStudy) {
  // No algorithm and a small budget: the model-based sampler. One worker at a time (nothing else in
  // flight), so after the initial design each trial waits for its fit, which the fitting thread delivers
  // through the work listener; with ZDT1 on 3 variables, 20 trials find f2 well below random's.
  ListenForWork();
  v1::StudySpec spec = Spec(20, 1);
  spec.clear_algorithm();
  auto study = core_->CreateStudy(spec);
  ASSERT_TRUE(study.ok()) << study.status().ToString();
  EXPECT_TRUE(study->spec().algorithm().has_gp());
  const uint64_t worker = Register();
  double best_f2_at_f1_below_half = 1e9;
  for (int t = 0; t < 20; ++t) {
    std::optional<v1::AcquireTrialResponse> a = AcquireWaiting(worker);
    ASSERT_TRUE(a.has_value()) << "no trial " << t << " within 30 s";
    std::vector<double> x;
    for (const char* name : {"x1", "x2", "x3"}) x.push_back(a->trial().params().at(name).double_value());
    const double g = 1 + 9 * (x[1] + x[2]) / 2;
    const double f1 = x[0], f2 = g * (1 - std::sqrt(f1 / g));
    if (f1 < 0.5) best_f2_at_f1_below_half = std::min(best_f2_at_f1_below_half, f2);
    ASSERT_TRUE(Complete(*a, f1, f2).ok());
  }
  EXPECT_EQ(core_->GetStudy(study->id())->state(), v1::STUDY_COMPLETED);
  EXPECT_LT(best_f2_at_f1_below_half, 1.2);  // g near 1: the sampler found x2 = x3 = 0
  // A restart rebuilds the sampler from its stored state.
  Reopen();
  EXPECT_EQ(core_->GetStudy(study->id())->counts().completed(), 20u);
}

TEST_F(CoreTest, ModelBasedStudyWithOthersInFlightNeverWaitsForAFit) {
  // Four trials in flight: every acquire is answered at once (a queued proposal or a fallback).
  v1::StudySpec spec = Spec(40, 4);
  spec.mutable_algorithm()->mutable_gp()->set_initial_design(5);
  auto study = core_->CreateStudy(spec);
  ASSERT_TRUE(study.ok()) << study.status().ToString();
  const uint64_t worker = Register();
  std::vector<v1::AcquireTrialResponse> running;
  for (int i = 0; i < 4; ++i) running.push_back(Acquire(worker));
  for (int done = 0; done < 36; ++done) {
    const v1::AcquireTrialResponse a = running.front();
    running.erase(running.begin());
    const double x1 = a.trial().params().at("x1").double_value();
    ASSERT_TRUE(Complete(a, x1, 1 - x1).ok());
    running.push_back(Acquire(worker));  // EXPECTs a trial now
  }
  for (const auto& a : running) ASSERT_TRUE(Complete(a, 0.5, 0.5).ok());
  EXPECT_EQ(core_->GetStudy(study->id())->state(), v1::STUDY_COMPLETED);
}

TEST_F(CoreTest, ConstraintsKeepInfeasibleTrialsOffTheFrontAndAreMarked) {
  // f1 >= 0.5: trials with f1 < 0.5 complete but are infeasible, marked, and never on the front.
  ListenForWork();
  v1::StudySpec spec = Spec(24, 1);
  spec.clear_algorithm();  // the model-based sampler, modelling the constraint
  v1::Constraint* c = spec.add_constraints();
  c->set_metric("f1");
  c->set_min(0.5);
  auto study = core_->CreateStudy(spec);
  ASSERT_TRUE(study.ok()) << study.status().ToString();
  const uint64_t worker = Register();
  int infeasible = 0, infeasible_late = 0;
  for (int t = 0; t < 24; ++t) {
    std::optional<v1::AcquireTrialResponse> a = AcquireWaiting(worker);
    ASSERT_TRUE(a.has_value());
    const double x1 = a->trial().params().at("x1").double_value();
    infeasible += x1 < 0.5;
    infeasible_late += t >= 12 && x1 < 0.5;
    ASSERT_TRUE(Complete(*a, x1, 1 - x1 + a->trial().params().at("x2").double_value()).ok());
  }
  EXPECT_GT(infeasible, 0);       // the initial design samples the whole cube
  EXPECT_LE(infeasible_late, 3);  // the model learns where the constraint holds
  auto front = core_->GetParetoFront(study->id());
  ASSERT_TRUE(front.ok());
  ASSERT_GT(front->trials_size(), 0);
  for (const v1::Trial& t : front->trials()) {
    EXPECT_GE(t.metrics().at("f1"), 0.5);
    EXPECT_TRUE(t.violated().empty());
  }
  auto trials = core_->ListTrials(study->id());
  ASSERT_TRUE(trials.ok());
  for (const v1::Trial& t : *trials) {
    if (t.metrics().at("f1") < 0.5) {
      ASSERT_EQ(t.violated_size(), 1);
      EXPECT_EQ(t.violated(0), "f1 >= 0.5");
    } else {
      EXPECT_EQ(t.violated_size(), 0);
    }
  }
  // Asked for, the front of every completed trial includes infeasible ones (f1 < 0.5 has the least f1).
  auto all = core_->GetParetoFront(study->id(), /*include_infeasible=*/true);
  ASSERT_TRUE(all.ok());
  EXPECT_LT(all->trials(0).metrics().at("f1"), 0.5);
}

TEST_F(CoreTest, AConstraintMetricMissingFailsTheTrial) {
  v1::StudySpec spec = Spec(2, 1);
  spec.mutable_task()->clear_synthetic();
  spec.mutable_task()->mutable_external();
  spec.clear_parameters();
  v1::Parameter* p = spec.add_parameters();
  p->set_name("x");
  p->mutable_float_()->set_high(1);
  for (v1::Objective& o : *spec.mutable_objectives()) o.set_direction(v1::MINIMIZE);
  v1::Constraint* c = spec.add_constraints();
  c->set_metric("latency_ms");
  c->set_max(2);
  auto study = core_->CreateStudy(spec);
  ASSERT_TRUE(study.ok()) << study.status().ToString();
  const uint64_t worker = Register();
  auto got = core_->TryAcquire(worker, study->id());
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status().ToString();
  ASSERT_TRUE(Complete(**got, 0.1, 0.2).ok());  // no latency_ms
  const v1::Trial stored = Stored((*got)->trial().id());
  EXPECT_EQ(stored.state(), v1::TRIAL_FAILED);
  EXPECT_EQ(stored.error(), "missing constraint metric latency_ms");
}

}  // namespace
}  // namespace hpo::coordinator

namespace hpo::coordinator {
namespace {

// ---- early stopping and fail fast ----

// An external (ask/tell) study of `trials` trials on one float x, one objective "loss" minimised,
// ASHA over 9 steps with eta 3 (rungs at steps 1 and 3).
v1::StudySpec AshaSpec(uint32_t trials) {
  v1::StudySpec spec;
  spec.set_name("asha");
  spec.set_seed(3);
  v1::Parameter* p = spec.add_parameters();
  p->set_name("x");
  p->mutable_float_()->set_high(1);
  v1::Objective* o = spec.add_objectives();
  o->set_name("loss");
  o->set_direction(v1::MINIMIZE);
  spec.mutable_budget()->set_max_trials(trials);
  spec.mutable_budget()->set_max_parallel(trials);
  spec.mutable_algorithm()->mutable_random();
  spec.mutable_task()->mutable_external();
  v1::AshaPruner* asha = spec.mutable_pruner()->mutable_asha();
  asha->set_max_resource(9);
  asha->set_reduction_factor(3);
  return spec;
}

TEST_F(CoreTest, AshaPrunesAtRungsAndAPrunedTrialKeepsItsLastMetrics) {
  auto study = core_->CreateStudy(AshaSpec(6));
  ASSERT_TRUE(study.ok()) << study.status().ToString();
  const uint64_t worker = Register();
  std::vector<v1::AcquireTrialResponse> trials;
  for (int i = 0; i < 6; ++i) {
    auto got = core_->TryAcquire(worker, study->id());
    ASSERT_TRUE(got.ok() && got->has_value());
    trials.push_back(**got);
  }
  // Step 1 (rung 0), trials in order with losses 0.5, 0.4, 0.9, 0.3, 0.8, 0.7: with eta 3 the k-th
  // arrival goes on iff it ranks within max(1, floor(k / 3)).
  const std::vector<double> loss = {0.5, 0.4, 0.9, 0.3, 0.8, 0.7};
  std::vector<bool> pruned(6);
  for (int i = 0; i < 6; ++i) {
    v1::ReportProgressRequest request;
    request.set_worker_id(worker);
    request.set_trial_id(trials[i].trial().id());
    request.set_lease_token(trials[i].lease().token());
    request.set_step(1);
    (*request.mutable_metrics())["loss"] = loss[i];
    (*request.mutable_metrics())["latency_ms"] = 2.0 + i;
    auto answer = core_->ReportProgress(request);
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    pruned[i] = answer->should_prune();
    if (pruned[i]) {
      EXPECT_NE(answer->reason().find("asha"), std::string::npos) << answer->reason();
    }
  }
  // 0.5 first (best so far), 0.4 (best so far), 0.9 (rank 3 of 3, keep 1), 0.3 (best), 0.8 (rank 5 of 5,
  // keep 1), 0.7 (rank 4 of 6, keep 2).
  EXPECT_EQ(pruned, (std::vector<bool>{false, false, true, false, true, true}));
  const v1::Trial stopped = Stored(trials[2].trial().id());
  EXPECT_EQ(stopped.state(), v1::TRIAL_PRUNED);
  EXPECT_EQ(stopped.metrics().at("loss"), 0.9);
  EXPECT_EQ(stopped.metrics().at("latency_ms"), 4.0);
  EXPECT_EQ(stopped.error().rfind("pruned at step 1: asha", 0), 0u) << stopped.error();
  // A completion from a worker that missed the answer is acknowledged and changes nothing; a repeated
  // progress says pruned again.
  EXPECT_TRUE(Complete(trials[2], 0.1, 0.1).ok());
  EXPECT_EQ(Stored(trials[2].trial().id()).state(), v1::TRIAL_PRUNED);
  EXPECT_EQ(Stored(trials[2].trial().id()).metrics().at("loss"), 0.9);
  v1::ReportProgressRequest again;
  again.set_worker_id(worker);
  again.set_trial_id(trials[2].trial().id());
  again.set_lease_token(trials[2].lease().token());
  again.set_step(2);
  (*again.mutable_metrics())["loss"] = 0.1;
  auto repeated = core_->ReportProgress(again);
  ASSERT_TRUE(repeated.ok());
  EXPECT_TRUE(repeated->should_prune());
  EXPECT_EQ(core_->GetStudy(study->id())->counts().pruned(), 3u);
  // The front never holds a pruned trial.
  auto front = core_->GetParetoFront(study->id());
  ASSERT_TRUE(front.ok());
  EXPECT_EQ(front->trials_size(), 0);
}

TEST_F(CoreTest, ARestartMidRungJudgesAsTheCoordinatorBeforeIt) {
  // The same reports with a restart between every two: the same decisions, from the stored histories.
  auto run = [&](bool restart) {
    auto study = core_->CreateStudy(AshaSpec(5));
    EXPECT_TRUE(study.ok());
    const uint64_t worker = Register();
    std::vector<v1::AcquireTrialResponse> trials;
    for (int i = 0; i < 5; ++i) trials.push_back(**core_->TryAcquire(worker, study->id()));
    std::vector<bool> decisions;
    const std::vector<std::vector<double>> losses = {
        {0.9, 0.8, 0.7}, {0.5, 0.4, 0.3}, {0.6, 0.5, 0.1}, {0.4, 0.45, 0.5}, {0.7, 0.2, 0.1}};
    for (uint64_t step = 1; step <= 3; ++step) {
      for (int i = 0; i < 5; ++i) {
        if (Stored(trials[i].trial().id()).state() != v1::TRIAL_RUNNING) continue;
        v1::ReportProgressRequest request;
        request.set_worker_id(worker);
        request.set_trial_id(trials[i].trial().id());
        request.set_lease_token(trials[i].lease().token());
        request.set_step(step);
        (*request.mutable_metrics())["loss"] = losses[i][step - 1];
        auto answer = core_->ReportProgress(request);
        EXPECT_TRUE(answer.ok()) << answer.status().ToString();
        decisions.push_back(answer.ok() && answer->should_prune());
        if (restart) Reopen();
      }
    }
    return decisions;
  };
  const std::vector<bool> steady = run(false);
  const std::vector<bool> restarted = run(true);
  EXPECT_EQ(steady, restarted);
  EXPECT_GT(std::count(steady.begin(), steady.end(), true), 0);
}

TEST_F(CoreTest, FailFastEndsTheStudyFailedWithTheLastReasons) {
  v1::StudySpec spec = Spec(20, 2);
  spec.mutable_budget()->set_max_failed_trials(3);
  auto study = core_->CreateStudy(spec);
  ASSERT_TRUE(study.ok()) << study.status().ToString();
  const uint64_t worker = Register();
  for (int i = 0; i < 3; ++i) {
    const auto a = Acquire(worker);
    v1::FailTrialRequest request;
    request.set_worker_id(worker);
    request.set_trial_id(a.trial().id());
    request.set_lease_token(a.lease().token());
    request.set_error("exit status 1 (try " + std::to_string(i) + ")");
    ASSERT_TRUE(core_->FailTrial(request).ok());
  }
  auto done = core_->GetStudy(study->id());
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state(), v1::STUDY_FAILED);
  EXPECT_EQ(done->counts().failed(), 3u);
  EXPECT_EQ(done->counts().completed() + done->counts().running() + done->counts().pending(), 0u);
  EXPECT_NE(done->error().find("3 trials failed (budget.max_failed_trials 3)"), std::string::npos)
      << done->error();
  EXPECT_NE(done->error().find("exit status 1 (try 2)"), std::string::npos);
  EXPECT_FALSE(core_->TryAcquire(worker)->has_value());
  // The reasons survive a restart.
  Reopen();
  EXPECT_EQ(core_->GetStudy(study->id())->error(), done->error());
}

}  // namespace
}  // namespace hpo::coordinator

namespace hpo::coordinator {
namespace {

// ---- enqueued configurations and warm starts ----

TEST_F(CoreTest, EnqueuedConfigurationsAreTheFirstTrialsPartialOnesFilledIn) {
  for (bool model_based : {false, true}) {
    v1::StudySpec spec = Spec(5, 5);
    if (model_based) spec.mutable_algorithm()->mutable_gp();
    auto* first = spec.add_enqueue()->mutable_params()->mutable_fields();
    (*first)["x1"].set_number_value(0.25);
    (*first)["x2"].set_number_value(0.5);
    (*first)["x3"].set_number_value(0.75);
    (*spec.add_enqueue()->mutable_params()->mutable_fields())["x2"].set_number_value(0.125);
    auto study = core_->CreateStudy(spec);
    ASSERT_TRUE(study.ok()) << study.status().ToString();
    const uint64_t worker = Register();
    const auto a = Acquire(worker), b = Acquire(worker), c = Acquire(worker);
    EXPECT_EQ(a.trial().params().at("x1").double_value(), 0.25);
    EXPECT_EQ(a.trial().params().at("x2").double_value(), 0.5);
    EXPECT_EQ(a.trial().params().at("x3").double_value(), 0.75);
    EXPECT_EQ(b.trial().params().at("x2").double_value(), 0.125);
    EXPECT_NE(b.trial().params().at("x1").double_value(), 0.25);  // proposed by the algorithm
    EXPECT_NE(c.trial().params().at("x2").double_value(), 0.125);
    for (const auto* t : {&a, &b, &c}) {
      const double x1 = t->trial().params().at("x1").double_value();
      ASSERT_TRUE(Complete(*t, x1, 1 - x1).ok());
    }
    // The model-based sampler learned the enqueued points as its own (3 results in its state).
    if (model_based) {
      auto stored = store_->GetStudy(study->id());
      ASSERT_TRUE(stored.ok());
      // (its saved state leaves its own results out: they are the trials)
      EXPECT_NE(stored->optimizer_state.find("observations 0 3\n"), std::string::npos);
    }
    ASSERT_TRUE(core_->CancelStudy(study->id()).ok());  // the next round's trials come from its own study
  }
}

TEST_F(CoreTest, BadEnqueuedValuesAreRefusedNamingThem) {
  v1::StudySpec spec = Spec(5, 5);
  (*spec.add_enqueue()->mutable_params()->mutable_fields())["x9"].set_number_value(0.5);
  auto refused = core_->CreateStudy(spec);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message().rfind("enqueue[0].params: unknown parameter", 0), 0u)
      << refused.status().message();
  spec.clear_enqueue();
  (*spec.add_enqueue()->mutable_params()->mutable_fields())["x1"].set_number_value(3.0);  // zdt1: [0, 1]
  refused = core_->CreateStudy(spec);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message().rfind("enqueue[0].params: ", 0), 0u) << refused.status().message();
  EXPECT_NE(refused.status().message().find("x1"), std::string::npos);
  EXPECT_EQ(Rows("studies"), 0);
}

TEST_F(CoreTest, AWarmStartSeedsTheModelWithTheEarlierStudysTrials) {
  // An earlier study of 12 trials, then a warm-started one and a cold one with the same seed.
  auto earlier = core_->CreateStudy(Spec(12, 12));
  ASSERT_TRUE(earlier.ok());
  const uint64_t worker = Register();
  for (int i = 0; i < 12; ++i) {
    const auto a = Acquire(worker);
    const double x1 = a.trial().params().at("x1").double_value();
    ASSERT_TRUE(Complete(a, x1, 1 - x1 + a.trial().params().at("x2").double_value()).ok());
  }
  v1::StudySpec spec = Spec(10, 1);
  spec.mutable_algorithm()->mutable_gp();
  auto cold = core_->CreateStudy(spec);
  spec.mutable_warm_start()->set_from_study(earlier->id());
  auto warm = core_->CreateStudy(spec);
  ASSERT_TRUE(cold.ok() && warm.ok()) << warm.status().ToString();
  const std::string state = store_->GetStudy(warm->id())->optimizer_state;
  EXPECT_NE(state.find("observations 12 0\n"), std::string::npos);  // the model holds the old trials
  ListenForWork();
  auto first = [&](uint64_t study_id) {
    std::optional<v1::AcquireTrialResponse> a;
    for (int tries = 0; tries < 3000 && !a; ++tries) {
      auto got = core_->TryAcquire(worker);
      if (got.ok() && got->has_value() && (**got).trial().study_id() == study_id) a = **got;
      if (!a) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return a;
  };
  const auto cold_first = first(cold->id());
  const auto warm_first = first(warm->id());
  ASSERT_TRUE(cold_first && warm_first);
  EXPECT_NE(cold_first->trial().params().at("x1").double_value(),
            warm_first->trial().params().at("x1").double_value());
}

TEST_F(CoreTest, AnIncompatibleWarmStartIsRefusedNamingWhatDiffers) {
  auto earlier = core_->CreateStudy(Spec(2, 2));
  ASSERT_TRUE(earlier.ok());
  v1::StudySpec spec = Spec(5, 1);
  spec.mutable_warm_start()->set_from_study(earlier->id());
  spec.mutable_task()->mutable_synthetic()->set_dims(4);  // x4 is new here
  auto refused = core_->CreateStudy(spec);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "warm_start.from_study: study " + std::to_string(earlier->id()) + " has no parameter \"x4\"");
  spec.mutable_task()->mutable_synthetic()->set_dims(3);
  spec.mutable_warm_start()->set_from_study(999);
  refused = core_->CreateStudy(spec);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(), "warm_start.from_study: study 999 not found");
}

}  // namespace
}  // namespace hpo::coordinator
