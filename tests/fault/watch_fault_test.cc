// hpoctl watch across a coordinator restart: SIGTERM to the coordinator in the middle of a study, a
// second started on the same database and port; the watch rides out the outage (docs/cli.md, --retry-s)
// and exits 0 when the study completes. Real hpo-coordinator, hpo-worker and hpoctl processes.
#include <gtest/gtest.h>

#include <csignal>
#include <string>
#include <thread>

#include "tests/fault/harness.h"

namespace hpo::fault {
namespace {

using namespace std::chrono_literals;

class WatchFaultTest : public FaultTest {};

TEST_F(WatchFaultTest, WatchRidesOutACoordinatorRestartAndExitsZeroWhenTheStudyCompletes) {
  constexpr uint32_t kMaxTrials = 16;
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  uint64_t study = 0;
  ASSERT_NO_FATAL_FAILURE(CreateStudy(StudyJson(kMaxTrials, /*max_parallel=*/2, /*max_attempts=*/3,
                                                /*lease_seconds=*/5),
                                      &study));
  StartWorker("w1", 2, 0.3);
  Process watch({BinPath("hpoctl"), "--coordinator", address(), "--deadline-ms", "2000", "watch",
                 std::to_string(study), "--interval-ms", "50", "--retry-s", "60", "--no-hypervolume"},
                File("watch.log"));
  ASSERT_TRUE(watch.running()) << watch.error();
  ASSERT_TRUE(WaitFor([&] { return db().Count(study, v1::TRIAL_COMPLETED) >= 3; }, 30s)) << "no progress:\n"
                                                                                         << watch.Log();
  ASSERT_EQ(db().StudyState(study), v1::STUDY_RUNNING);

  EXPECT_EQ(Terminate(coordinator(), 10s), 0);
  std::this_thread::sleep_for(1500ms);  // the coordinator is down: watch keeps trying
  EXPECT_FALSE(watch.Wait(0ms).has_value()) << "watch gave up during the outage:\n" << watch.Log();
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());

  const std::optional<int> status = watch.Wait(90s);
  ASSERT_TRUE(status.has_value()) << "watch did not end:\n" << watch.Log();
  EXPECT_EQ(Process::ExitCode(*status), 0) << watch.Log();
  EXPECT_EQ(db().StudyState(study), v1::STUDY_COMPLETED);
  EXPECT_EQ(db().Count(study, v1::TRIAL_COMPLETED), kMaxTrials);
  const std::string log = watch.Log();
  EXPECT_NE(log.find("; retrying for up to 60s\n"), std::string::npos) << log;
  const std::string done = "/" + std::to_string(kMaxTrials) + " finished (" + std::to_string(kMaxTrials) +
                           " completed, 0 failed), 0 running, took ";
  EXPECT_NE(log.find(done), std::string::npos) << log;
  EXPECT_EQ(log.substr(log.size() - std::string(", completed\n").size()), ", completed\n") << log;
}

}  // namespace
}  // namespace hpo::fault
