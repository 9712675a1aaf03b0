#include "client/progress.h"

#include <gtest/gtest.h>

namespace hpo::client {
namespace {

constexpr int64_t kCreatedMs = 1'700'000'000'000;

v1::Study MakeStudy() {
  v1::Study study;
  study.set_id(3);
  study.mutable_spec()->set_name("fmnist-quick");
  study.mutable_spec()->mutable_budget()->set_max_trials(12);
  study.set_state(v1::STUDY_RUNNING);
  study.set_created_ms(kCreatedMs);
  study.mutable_counts()->set_completed(4);
  study.mutable_counts()->set_failed(1);
  study.mutable_counts()->set_running(2);
  return study;
}

TEST(FormatElapsedTest, SecondsMinutesHours) {
  EXPECT_EQ(FormatElapsed(0), "0s");
  EXPECT_EQ(FormatElapsed(999), "0s");
  EXPECT_EQ(FormatElapsed(59'999), "59s");
  EXPECT_EQ(FormatElapsed(60'000), "1m00s");
  EXPECT_EQ(FormatElapsed(125'000), "2m05s");
  EXPECT_EQ(FormatElapsed(3'723'000), "1h02m03s");
  EXPECT_EQ(FormatElapsed(100 * 3'600'000), "100h00m00s");
  EXPECT_EQ(FormatElapsed(-5'000), "0s");
}

TEST(FormatProgressLineTest, RunningStudy) {
  EXPECT_EQ(
      FormatProgressLine(MakeStudy(), kCreatedMs + 35'400),
      "study 3 fmnist-quick: 5/12 finished (4 completed, 1 failed), 2 running, elapsed 35s, about 49s left");
}

TEST(FormatProgressLineTest, NamesPendingAndCancelledTrialsWhenThereAreAny) {
  v1::Study study = MakeStudy();
  study.mutable_counts()->set_pending(3);
  study.mutable_counts()->set_cancelled(1);
  EXPECT_EQ(FormatProgressLine(study, kCreatedMs + 61'000),
            "study 3 fmnist-quick: 5/12 finished (4 completed, 1 failed), 2 running, 3 pending, 1 cancelled, "
            "elapsed 1m01s, about 1m25s left");
}

TEST(FormatProgressLineTest, EndedStudyCountsToItsEndAndSaysHowItEnded) {
  v1::Study study = MakeStudy();
  study.set_state(v1::STUDY_COMPLETED);
  study.set_finished_ms(kCreatedMs + 70'000);
  study.mutable_counts()->set_completed(11);
  study.mutable_counts()->set_running(0);
  EXPECT_EQ(FormatProgressLine(study, kCreatedMs + 999'000),
            "study 3 fmnist-quick: 12/12 finished (11 completed, 1 failed), 0 running, took 1m10s wall, 0s "
            "compute, completed");
}

TEST(FormatProgressLineTest, ANameThatWouldDriveTheTerminalIsShownEscaped) {
  v1::Study study = MakeStudy();
  study.mutable_spec()->set_name("a\x1b]0;owned\x07\rb\xe2\x80\xae");
  const std::string line = FormatProgressLine(study, kCreatedMs + 35'400);
  EXPECT_EQ(line.rfind("study 3 a\\x1b]0;owned\\x07\\rb\\u202e: 5/12 finished", 0), 0u) << line;
  const std::string bar = FormatProgressBar(study, kCreatedMs + 35'400, {}, 200);
  EXPECT_EQ(bar.find('\x1b'), std::string::npos) << bar;
  EXPECT_NE(bar.find("a\\x1b]0;owned\\x07\\rb\\u202e"), std::string::npos) << bar;
}

TEST(FormatProgressLineTest, UnnamedStudy) {
  v1::Study study = MakeStudy();
  study.mutable_spec()->clear_name();
  EXPECT_EQ(FormatProgressLine(study, kCreatedMs).rfind("study 3: 5/12 finished", 0), 0u);
}

TEST(FormatProgressLineTest, ShowsTheHypervolumeWhenKnown) {
  ProgressExtras extras;
  extras.hypervolume = 0.812345;
  EXPECT_EQ(FormatProgressLine(MakeStudy(), kCreatedMs + 10'000, extras),
            "study 3 fmnist-quick: 5/12 finished (4 completed, 1 failed), 2 running, hypervolume 0.8123, "
            "elapsed 10s, about 14s left");
}

TEST(EstimateRemainingMsTest, ElapsedTimesTrialsLeftOverTrialsFinished) {
  v1::Study study = MakeStudy();  // 5 of 12 finished
  EXPECT_EQ(EstimateRemainingMs(study, kCreatedMs + 50'000), 70'000);
  study.mutable_counts()->set_completed(0);
  study.mutable_counts()->set_failed(0);
  EXPECT_EQ(EstimateRemainingMs(study, kCreatedMs + 50'000), std::nullopt);  // no pace yet
  study.mutable_counts()->set_completed(12);
  EXPECT_EQ(EstimateRemainingMs(study, kCreatedMs + 50'000), std::nullopt);  // budget spent
  study.mutable_counts()->set_completed(6);
  study.set_state(v1::STUDY_CANCELLED);
  EXPECT_EQ(EstimateRemainingMs(study, kCreatedMs + 50'000), std::nullopt);  // not running
}

TEST(FormatProgressBarTest, CellsForCompletedFailedRunningAndTheRest) {
  v1::Study study = MakeStudy();  // budget 12: 4 completed, 1 failed, 2 running
  ProgressExtras extras;
  extras.hypervolume = 1.05;
  // 24 cells for 12 trials: 2 cells a trial.
  EXPECT_EQ(
      FormatProgressBar(study, kCreatedMs + 10'000, extras, 0),
      "study 3 fmnist-quick [########xx>>>>..........] 5/12  4 completed  1 failed  2 running  hv 1.05  "
      "elapsed 10s  ~14s left");
  study.mutable_counts()->set_running(40);  // more running than cells left: capped at the end
  EXPECT_EQ(FormatProgressBar(study, kCreatedMs, {}, 0).substr(0, 47),
            "study 3 fmnist-quick [########xx>>>>>>>>>>>>>>]");
  study.set_state(v1::STUDY_COMPLETED);
  study.set_finished_ms(kCreatedMs + 70'000);
  study.mutable_counts()->set_running(0);
  study.mutable_counts()->set_completed(11);
  EXPECT_EQ(FormatProgressBar(study, kCreatedMs + 99'000, {}, 0),
            "study 3 fmnist-quick [######################xx] 12/12  11 completed  1 failed  0 running  "
            "took 1m10s wall, 0s compute  completed");
}

// A study with a pruner: 12/40 finished, 8 completed, 3 pruned, 1 failed.
v1::Study PrunedStudy() {
  v1::Study study = MakeStudy();
  study.mutable_spec()->mutable_budget()->set_max_trials(40);
  study.mutable_spec()->mutable_pruner()->mutable_asha()->set_max_resource(9);
  study.mutable_counts()->set_completed(8);
  study.mutable_counts()->set_pruned(3);
  study.mutable_counts()->set_failed(1);
  return study;
}

TEST(FormatProgressLineTest, PrunedTrialsAreFinishedAndNamed) {
  EXPECT_EQ(
      FormatProgressLine(PrunedStudy(), kCreatedMs + 60'000),
      "study 3 fmnist-quick: 12/40 finished (8 completed, 3 pruned, 1 failed), 2 running, elapsed 1m00s, "
      "about 2m20s left");  // 60 s for 12 finished: 140 s for the other 28
  v1::Study study = PrunedStudy();
  study.mutable_counts()->set_pruned(0);  // a study that prunes says so even before it has
  EXPECT_EQ(FormatProgressLine(study, kCreatedMs + 45'000).substr(0, 58),
            "study 3 fmnist-quick: 9/40 finished (8 completed, 0 pruned");
  study.mutable_spec()->clear_pruner();  // one that does not, only when some were (never here)
  EXPECT_EQ(FormatProgressLine(study, kCreatedMs + 45'000).substr(0, 59),
            "study 3 fmnist-quick: 9/40 finished (8 completed, 1 failed)");
  EXPECT_EQ(EstimateRemainingMs(PrunedStudy(), kCreatedMs + 60'000), 140'000);
  v1::TrialCounts counts = PrunedStudy().counts();
  EXPECT_EQ(FinishedTrials(counts), 12u);
}

TEST(FormatProgressBarTest, PrunedCellsBetweenCompletedAndFailed) {
  v1::Study study = PrunedStudy();
  study.mutable_spec()->mutable_budget()->set_max_trials(12);  // 2 cells a trial
  study.mutable_counts()->set_completed(4);
  study.mutable_counts()->set_pruned(2);
  EXPECT_EQ(
      FormatProgressBar(study, kCreatedMs + 7'000, {}, 0),
      "study 3 fmnist-quick [########~~~~xx>>>>......] 7/12  4 completed  2 pruned  1 failed  2 running  "
      "elapsed 7s  ~5s left");
}

TEST(FormatProgressBarTest, FitsTheTerminalWidth) {
  const v1::Study study = MakeStudy();
  const std::string full = FormatProgressBar(study, kCreatedMs, {}, 0);
  EXPECT_EQ(FormatProgressBar(study, kCreatedMs, {}, full.size() + 1), full);
  const std::string nameless = FormatProgressBar(study, kCreatedMs, {}, full.size());
  EXPECT_EQ(nameless.rfind("study 3 [", 0), 0u) << nameless;  // the name goes first
  EXPECT_LT(nameless.size(), full.size());
  const std::string cut = FormatProgressBar(study, kCreatedMs, {}, 40);
  EXPECT_EQ(cut.size(), 39u);
  EXPECT_EQ(cut, nameless.substr(0, 39));
}

TEST(ProgressReporterTest, ReportsFirstOnChangeAndEveryRefresh) {
  ProgressReporter reporter(10'000);
  v1::Study study = MakeStudy();
  int64_t now = kCreatedMs;
  EXPECT_TRUE(reporter.ShouldReport(study, now));
  EXPECT_FALSE(reporter.ShouldReport(study, now += 1'000));
  EXPECT_FALSE(reporter.ShouldReport(study, now += 8'000));
  study.mutable_counts()->set_completed(5);  // counts changed
  EXPECT_TRUE(reporter.ShouldReport(study, now += 500));
  EXPECT_FALSE(reporter.ShouldReport(study, now += 9'999));
  EXPECT_TRUE(reporter.ShouldReport(study, now += 1));  // 10 s since the last line
  EXPECT_FALSE(reporter.ShouldReport(study, now += 1));
  study.set_state(v1::STUDY_CANCELLED);  // state changed, counts the same
  EXPECT_TRUE(reporter.ShouldReport(study, now += 1));
  EXPECT_FALSE(reporter.ShouldReport(study, now += 1));
  study.mutable_counts()->set_pending(1);  // any count matters
  EXPECT_TRUE(reporter.ShouldReport(study, now += 1));
  study.mutable_counts()->set_pruned(1);  // pruned too
  EXPECT_TRUE(reporter.ShouldReport(study, now += 1));
  EXPECT_FALSE(reporter.ShouldReport(study, now += 1));
}

// The pace counts from the first trial's start: a study that waited for a worker is not thought slow.
TEST(EstimateRemainingMsTest, CountsFromTheFirstTrialsStart) {
  v1::Study study = MakeStudy();  // 5 of 12 finished
  study.set_first_trial_started_ms(kCreatedMs + 30'000);
  EXPECT_EQ(EstimateRemainingMs(study, kCreatedMs + 50'000), 28'000);  // 20 s for 5: 28 s for 7
  EXPECT_EQ(
      FormatProgressLine(study, kCreatedMs + 50'000),
      "study 3 fmnist-quick: 5/12 finished (4 completed, 1 failed), 2 running, elapsed 50s, about 28s left");
}

TEST(FormatTookTest, WallTimeFromCreationAndComputeTimeOfTheTrials) {
  v1::Study study = MakeStudy();
  study.set_state(v1::STUDY_COMPLETED);
  study.set_finished_ms(kCreatedMs + 95'000);
  study.set_compute_ms(190'500);
  EXPECT_EQ(FormatTook(study), "1m35s wall, 3m10s compute");
  EXPECT_NE(FormatProgressBar(study, kCreatedMs + 999'000, {}, 0)
                .find("  took 1m35s wall, 3m10s compute  completed"),
            std::string::npos);
}

TEST(FormatProgressLineTest, AStudyNoWorkerCanRunSaysItWaits) {
  v1::Study study = MakeStudy();
  study.mutable_counts()->Clear();
  study.set_waiting("no live worker matches selector gpu=H100");
  EXPECT_EQ(FormatProgressLine(study, kCreatedMs + 5'000),
            "study 3 fmnist-quick: 0/12 finished (0 completed, 0 failed), 0 running, waiting: no live worker "
            "matches selector gpu=H100, elapsed 5s");
  EXPECT_NE(FormatProgressBar(study, kCreatedMs + 5'000, {}, 0)
                .find("0 running  waiting: no live worker matches selector gpu=H100  elapsed 5s"),
            std::string::npos);
  // A change of what it waits for is worth a new line.
  ProgressReporter reporter(10'000);
  EXPECT_TRUE(reporter.ShouldReport(study, kCreatedMs));
  EXPECT_FALSE(reporter.ShouldReport(study, kCreatedMs + 1'000));
  study.clear_waiting();
  EXPECT_TRUE(reporter.ShouldReport(study, kCreatedMs + 2'000));
}

}  // namespace
}  // namespace hpo::client
