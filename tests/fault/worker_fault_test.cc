// Worker faults (issue 5, part 1): a worker daemon killed, its trial process killed, a worker cut off for
// longer than its lease, a worker told to stop. Real hpo-coordinator and hpo-worker processes; the
// database is checked row by row afterwards.
#include <gtest/gtest.h>

#include <set>

#include "tests/fault/harness.h"

namespace hpo::fault {
namespace {

using namespace std::chrono_literals;

class WorkerFaultTest : public FaultTest {};

// kill -9 of a worker daemon mid-trial: its lease runs out, the trial goes back to the queue with
// attempt + 1 and a second worker completes it; the study ends with exactly max_trials completed.
TEST_F(WorkerFaultTest, KilledWorkerTrialIsRequeuedAndCompletedByAnother) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  uint64_t study = 0;
  ASSERT_NO_FATAL_FAILURE(CreateStudy(StudyJson(/*max_trials=*/3, /*max_parallel=*/1, /*max_attempts=*/3,
                                                /*lease_seconds=*/1),
                                      &study));
  Process* doomed = StartWorker("doomed", 1, 60.0);
  const int64_t doomed_id = WaitWorkerId("doomed", 10s);
  ASSERT_NE(doomed_id, 0);
  const std::optional<TrialRow> taken = WaitRunning(study, 0, doomed_id, 1, 10s);
  ASSERT_TRUE(taken.has_value()) << "trial #0 never ran on the first worker";
  ASSERT_TRUE(WaitFor([&] { return TrainerPids().size() == 1; }, 10s)) << "its trial process never started";
  ASSERT_TRUE(doomed->Signal(SIGKILL));
  ASSERT_TRUE(doomed->Wait(5s).has_value());

  StartWorker("survivor", 1, 0.1);
  const int64_t survivor_id = WaitWorkerId("survivor", 10s);
  ASSERT_NE(survivor_id, 0);
  ASSERT_EQ(WaitStudyDone(study, 30s), v1::STUDY_COMPLETED);
  EXPECT_EQ(Terminate(workers_["survivor"].get(), 10s), 0);
  EXPECT_EQ(Terminate(coordinator(), 10s), 0);

  const std::vector<TrialRow> rows = db().Trials(study);
  ASSERT_EQ(rows.size(), 3u);
  for (const TrialRow& row : rows) {
    SCOPED_TRACE("trial #" + std::to_string(row.number));
    EXPECT_EQ(row.state, v1::TRIAL_COMPLETED) << StateName(row.state) << " " << row.error;
    EXPECT_EQ(row.worker_id, survivor_id);
    EXPECT_EQ(row.attempt, row.number == 0 ? 2 : 1);
    EXPECT_EQ(row.metric_rows, 1);
    EXPECT_TRUE(row.loss.has_value());
    EXPECT_EQ(row.error, "");
    EXPECT_EQ(row.device, "fake trainer");
  }
  EXPECT_NE(rows[0].lease_token, taken->lease_token) << "trial #0 finished under the dead worker's lease";
  const WorkerLog log = ParseWorkerLog(workers_["survivor"]->Log());
  EXPECT_TRUE(log.stopped);
  EXPECT_EQ(log.completed, 3u);
  for (const TrialRow& row : rows) EXPECT_EQ(log.acknowledged.count(static_cast<uint64_t>(row.id)), 1u);
}

// A trial whose worker is killed on every attempt ends FAILED after max_attempts, with the last lease's
// reason; the study goes on with its other trials.
TEST_F(WorkerFaultTest, TrialLostOnEveryAttemptFailsAfterMaxAttempts) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  uint64_t study = 0;
  ASSERT_NO_FATAL_FAILURE(CreateStudy(StudyJson(/*max_trials=*/2, /*max_parallel=*/1, /*max_attempts=*/2,
                                                /*lease_seconds=*/1),
                                      &study));
  int64_t last_id = 0;
  for (int attempt = 1; attempt <= 2; ++attempt) {
    const std::string name = "doomed-" + std::to_string(attempt);
    Process* doomed = StartWorker(name, 1, 60.0);
    last_id = WaitWorkerId(name, 10s);
    ASSERT_NE(last_id, 0);
    ASSERT_TRUE(WaitRunning(study, 0, last_id, attempt, 10s).has_value())
        << "trial #0 attempt " << attempt << " never ran";
    ASSERT_TRUE(WaitFor([&] { return TrainerPids().size() == static_cast<size_t>(attempt); }, 10s))
        << "the trial process of attempt " << attempt << " never started";
    ASSERT_TRUE(doomed->Signal(SIGKILL));
    ASSERT_TRUE(doomed->Wait(5s).has_value());
  }
  // Trial #0 fails when the second lease runs out; then trial #1 may be handed out.
  StartWorker("survivor", 1, 0.1);
  const int64_t survivor_id = WaitWorkerId("survivor", 10s);
  ASSERT_EQ(WaitStudyDone(study, 30s), v1::STUDY_COMPLETED);
  EXPECT_EQ(Terminate(workers_["survivor"].get(), 10s), 0);
  EXPECT_EQ(Terminate(coordinator(), 10s), 0);

  const std::vector<TrialRow> rows = db().Trials(study);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].state, v1::TRIAL_FAILED) << StateName(rows[0].state);
  EXPECT_EQ(rows[0].attempt, 2);
  EXPECT_EQ(rows[0].worker_id, last_id);
  EXPECT_EQ(rows[0].error, "lease expired on attempt 2 of 2 (worker " + std::to_string(last_id) + " lost)");
  EXPECT_EQ(rows[0].metric_rows, 0);
  EXPECT_EQ(rows[1].state, v1::TRIAL_COMPLETED) << StateName(rows[1].state) << " " << rows[1].error;
  EXPECT_EQ(rows[1].attempt, 1);
  EXPECT_EQ(rows[1].worker_id, survivor_id);
  EXPECT_EQ(rows[1].metric_rows, 1);
}

// kill -9 of the trial process alone (the worker's child): the worker survives, reports the trial FAILED
// with the signal as its reason at once, and does not retry it (a trial that crashes its process is the
// trial's failure, not a lost worker: max_attempts is not spent on it). Every trial here dies, so the
// study ends FAILED.
TEST_F(WorkerFaultTest, KilledTrialProcessFailsTheTrialAndTheWorkerCarriesOn) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  uint64_t study = 0;
  ASSERT_NO_FATAL_FAILURE(CreateStudy(StudyJson(/*max_trials=*/3, /*max_parallel=*/1, /*max_attempts=*/2,
                                                /*lease_seconds=*/1),
                                      &study));
  Process* worker = StartWorker("steady", 1, 60.0);
  const int64_t worker_id = WaitWorkerId("steady", 10s);
  ASSERT_NE(worker_id, 0);
  for (size_t n = 0; n < 3; ++n) {
    SCOPED_TRACE("trial #" + std::to_string(n));
    std::vector<pid_t> pids;
    ASSERT_TRUE(WaitFor(
        [&] {
          pids = TrainerPids();
          return pids.size() > n;
        },
        10s))
        << "the trial process never started";
    ASSERT_EQ(pids.size(), n + 1);
    ASSERT_EQ(kill(pids[n], SIGKILL), 0);
    // Wait for the failure to land before killing the next run.
    ASSERT_TRUE(
        WaitFor([&] { return db().Count(study, v1::TRIAL_FAILED) == static_cast<int64_t>(n + 1); }, 10s));
    // The trial's own child (its sleep), orphaned by the kill, was killed by the worker as a straggler.
  }
  ASSERT_EQ(WaitStudyDone(study, 10s), v1::STUDY_FAILED);
  EXPECT_TRUE(worker->running()) << "the worker died with its trial";
  EXPECT_EQ(Terminate(worker, 10s), 0);
  EXPECT_EQ(Terminate(coordinator(), 10s), 0);

  const std::vector<TrialRow> rows = db().Trials(study);
  ASSERT_EQ(rows.size(), 3u);
  for (const TrialRow& row : rows) {
    SCOPED_TRACE("trial #" + std::to_string(row.number));
    EXPECT_EQ(row.state, v1::TRIAL_FAILED) << StateName(row.state);
    EXPECT_EQ(row.attempt, 1);
    EXPECT_EQ(row.worker_id, worker_id);
    // The stand-in trainer's own `sleep`, when it had started it, outlived it: the worker killed it and
    // says so.
    const std::string killed = "hpo-train killed by signal 9 (Killed)";
    const std::string straggler = "; hpo-train left 1 process running when it ended (";
    EXPECT_EQ(row.error.substr(0, killed.size()), killed) << row.error;
    if (row.error.size() > killed.size()) {
      EXPECT_EQ(row.error.substr(killed.size(), straggler.size()), straggler) << row.error;
      EXPECT_EQ(row.error.substr(row.error.size() - 10), ")); killed") << row.error;
    }
    EXPECT_EQ(row.metric_rows, 0);
  }
  const WorkerLog log = ParseWorkerLog(worker->Log());
  EXPECT_TRUE(log.stopped);
  EXPECT_EQ(log.failed, 3u);
  EXPECT_EQ(log.completed + log.lost + log.released, 0u);
}

// A worker cut off from the coordinator for longer than its lease (SIGSTOP, then SIGCONT): meanwhile its
// trial is re-queued and run by another worker; the late completion is refused (stale lease) and dropped,
// and the trial is completed once, by the other worker.
TEST_F(WorkerFaultTest, CutOffWorkersLateCompletionIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  uint64_t study = 0;
  ASSERT_NO_FATAL_FAILURE(CreateStudy(StudyJson(/*max_trials=*/2, /*max_parallel=*/1, /*max_attempts=*/3,
                                                /*lease_seconds=*/1),
                                      &study));
  // The cut-off worker's trial ends while it is stopped; the other worker's runs long enough that the
  // late completion arrives while it still holds the trial.
  Process* frozen = StartWorker("frozen", 1, 0.4);
  const int64_t frozen_id = WaitWorkerId("frozen", 10s);
  ASSERT_NE(frozen_id, 0);
  const std::optional<TrialRow> first = WaitRunning(study, 0, frozen_id, 1, 10s);
  ASSERT_TRUE(first.has_value());
  // Cut off mid-trial: once its trial process runs (the row says RUNNING before the worker has the
  // answer).
  ASSERT_TRUE(WaitFor([&] { return TrainerPids().size() == 1; }, 10s));
  ASSERT_TRUE(frozen->Signal(SIGSTOP));
  const auto stopped_at = std::chrono::steady_clock::now();

  StartWorker("other", 1, 2.0);
  const int64_t other_id = WaitWorkerId("other", 10s);
  ASSERT_NE(other_id, 0);
  const std::optional<TrialRow> second = WaitRunning(study, 0, other_id, 2, 10s);
  ASSERT_TRUE(second.has_value()) << "trial #0 was not re-queued to the other worker";
  // Longer than the lease for certain, and the frozen worker's trial process has long exited.
  std::this_thread::sleep_until(stopped_at + 1500ms);
  ASSERT_TRUE(frozen->Signal(SIGCONT));

  ASSERT_TRUE(WaitFor([&] { return !ParseWorkerLog(frozen->Log()).lease_lost.empty(); }, 10s))
      << "the late completion was not refused";
  ASSERT_EQ(WaitStudyDone(study, 30s), v1::STUDY_COMPLETED);
  EXPECT_EQ(Terminate(frozen, 10s), 0);
  EXPECT_EQ(Terminate(workers_["other"].get(), 10s), 0);
  EXPECT_EQ(Terminate(coordinator(), 10s), 0);

  const std::vector<TrialRow> rows = db().Trials(study);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].state, v1::TRIAL_COMPLETED) << StateName(rows[0].state) << " " << rows[0].error;
  EXPECT_EQ(rows[0].attempt, 2);
  EXPECT_EQ(rows[0].worker_id, other_id);
  EXPECT_EQ(rows[0].lease_token, second->lease_token);
  EXPECT_EQ(rows[0].metric_rows, 1);
  EXPECT_EQ(rows[1].state, v1::TRIAL_COMPLETED) << StateName(rows[1].state) << " " << rows[1].error;
  EXPECT_EQ(rows[1].attempt, 1);
  EXPECT_EQ(rows[1].metric_rows, 1);

  const WorkerLog frozen_log = ParseWorkerLog(frozen->Log());
  const WorkerLog other_log = ParseWorkerLog(workers_["other"]->Log());
  const auto trial0 = static_cast<uint64_t>(rows[0].id);
  const auto trial1 = static_cast<uint64_t>(rows[1].id);
  EXPECT_EQ(frozen_log.lease_lost, (std::map<uint64_t, int>{{trial0, 1}}));
  EXPECT_EQ(frozen_log.acknowledged.count(trial0), 0u);
  EXPECT_EQ(frozen_log.lost, 1u);
  EXPECT_EQ(other_log.acknowledged.count(trial0), 1u);
  // Trial #1 is completed once, by whichever worker took it, and the row names that worker.
  EXPECT_EQ(frozen_log.acknowledged.count(trial1) + other_log.acknowledged.count(trial1), 1u);
  EXPECT_EQ(rows[1].worker_id, frozen_log.acknowledged.count(trial1) != 0 ? frozen_id : other_id);
}

// SIGTERM to a worker with running trials: it exits 0 promptly and gives its trials back (ReleaseTrial):
// they are pending again at once with their attempt not spent, and another worker finishes them on
// attempt 1.
TEST_F(WorkerFaultTest, TerminatedWorkerReleasesItsTrials) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  uint64_t study = 0;
  ASSERT_NO_FATAL_FAILURE(CreateStudy(StudyJson(/*max_trials=*/3, /*max_parallel=*/2, /*max_attempts=*/3,
                                                /*lease_seconds=*/1),
                                      &study));
  Process* leaving = StartWorker("leaving", 2, 60.0);
  const int64_t leaving_id = WaitWorkerId("leaving", 10s);
  ASSERT_NE(leaving_id, 0);
  ASSERT_TRUE(WaitRunning(study, 0, leaving_id, 1, 10s).has_value());
  ASSERT_TRUE(WaitRunning(study, 1, leaving_id, 1, 10s).has_value());
  // Both trial processes are up (so that SIGTERM meets running children).
  ASSERT_TRUE(WaitFor([&] { return TrainerPids().size() == 2; }, 10s));

  const auto signalled = std::chrono::steady_clock::now();
  EXPECT_EQ(Terminate(leaving, 10s), 0);
  const double exit_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  EXPECT_LT(exit_s, 3.0) << "the worker took " << exit_s << " s to stop";

  // Well within the lease: the trials are pending because they were released, not expired.
  {
    const std::vector<TrialRow> rows = db().Trials(study);
    ASSERT_EQ(rows.size(), 2u);
    for (const TrialRow& row : rows) {
      SCOPED_TRACE("trial #" + std::to_string(row.number));
      EXPECT_EQ(row.state, v1::TRIAL_PENDING) << StateName(row.state);
      EXPECT_EQ(row.attempt, 0) << "the released attempt was counted";
      EXPECT_EQ(row.worker_id, 0);
      EXPECT_EQ(row.lease_token, "");
      EXPECT_EQ(row.metric_rows, 0);
    }
  }
  const WorkerLog leaving_log = ParseWorkerLog(leaving->Log());
  EXPECT_TRUE(leaving_log.stopped);
  EXPECT_EQ(leaving_log.released, 2u);
  EXPECT_EQ(leaving_log.completed + leaving_log.failed + leaving_log.lost, 0u);

  StartWorker("finisher", 2, 0.1);
  const int64_t finisher_id = WaitWorkerId("finisher", 10s);
  ASSERT_EQ(WaitStudyDone(study, 30s), v1::STUDY_COMPLETED);
  EXPECT_EQ(Terminate(workers_["finisher"].get(), 10s), 0);
  EXPECT_EQ(Terminate(coordinator(), 10s), 0);

  const std::vector<TrialRow> rows = db().Trials(study);
  ASSERT_EQ(rows.size(), 3u);
  for (const TrialRow& row : rows) {
    SCOPED_TRACE("trial #" + std::to_string(row.number));
    EXPECT_EQ(row.state, v1::TRIAL_COMPLETED) << StateName(row.state) << " " << row.error;
    EXPECT_EQ(row.attempt, 1);
    EXPECT_EQ(row.worker_id, finisher_id);
    EXPECT_EQ(row.metric_rows, 1);
  }
}

// SIGTERM to a worker while the coordinator is down: it still exits 0 promptly (its calls waiting for
// the coordinator do not hold it); its trial could not be given back, so the restarted coordinator
// re-queues it when the lease runs out (attempt 2) and another worker completes it.
TEST_F(WorkerFaultTest, TerminatedWorkerExitsPromptlyWhileTheCoordinatorIsDown) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  uint64_t study = 0;
  ASSERT_NO_FATAL_FAILURE(CreateStudy(StudyJson(/*max_trials=*/1, /*max_parallel=*/1, /*max_attempts=*/3,
                                                /*lease_seconds=*/1),
                                      &study));
  Process* leaving = StartWorker("leaving", 1, 60.0);
  const int64_t leaving_id = WaitWorkerId("leaving", 10s);
  ASSERT_NE(leaving_id, 0);
  ASSERT_TRUE(WaitRunning(study, 0, leaving_id, 1, 10s).has_value());
  ASSERT_TRUE(WaitFor([&] { return TrainerPids().size() == 1; }, 10s));
  ASSERT_NO_FATAL_FAILURE(KillCoordinator());
  std::this_thread::sleep_for(1500ms);  // its heartbeats now wait for the coordinator

  const auto signalled = std::chrono::steady_clock::now();
  EXPECT_EQ(Terminate(leaving, 10s), 0);
  const double exit_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  EXPECT_LT(exit_s, 3.0) << "the worker took " << exit_s << " s to stop";
  const WorkerLog leaving_log = ParseWorkerLog(leaving->Log());
  EXPECT_TRUE(leaving_log.stopped);
  EXPECT_EQ(leaving_log.lost, 1u);  // the release that could not be delivered
  EXPECT_EQ(leaving_log.completed + leaving_log.released, 0u);

  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  StartWorker("finisher", 1, 0.1);
  const int64_t finisher_id = WaitWorkerId("finisher", 10s);
  ASSERT_EQ(WaitStudyDone(study, 30s), v1::STUDY_COMPLETED);
  EXPECT_EQ(Terminate(workers_["finisher"].get(), 10s), 0);
  EXPECT_EQ(Terminate(coordinator(), 10s), 0);
  const std::vector<TrialRow> rows = db().Trials(study);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, v1::TRIAL_COMPLETED) << StateName(rows[0].state) << " " << rows[0].error;
  EXPECT_EQ(rows[0].attempt, 2);
  EXPECT_EQ(rows[0].worker_id, finisher_id);
  EXPECT_EQ(rows[0].metric_rows, 1);
}

}  // namespace
}  // namespace hpo::fault
