#include "client/watch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <sstream>
#include <string>
#include <vector>

namespace hpo::client {
namespace {

constexpr int64_t kStartMs = 1'700'000'000'000;

// Answers GetStudy from a script, one entry per call (the last entry repeats); the rest is unused.
class FakeStudyApi final : public StudyApi {
 public:
  explicit FakeStudyApi(std::deque<Result<v1::Study>> script) : script_(std::move(script)) {}

  Result<v1::Study> GetStudy(uint64_t study_id) override {
    ids_.push_back(study_id);
    Result<v1::Study> next = script_.front();
    if (script_.size() > 1) script_.pop_front();
    return next;
  }
  Result<v1::Study> CreateStudy(const v1::StudySpec&) override { return UnimplementedError("fake"); }
  Result<v1::ListStudiesResponse> ListStudies() override { return UnimplementedError("fake"); }
  Result<v1::Study> CancelStudy(uint64_t) override { return UnimplementedError("fake"); }
  Result<v1::ListTrialsResponse> ListTrials(uint64_t) override {
    ++list_calls_;
    if (trials.trials().empty()) return UnimplementedError("fake");
    return trials;
  }
  Result<v1::GetParetoFrontResponse> GetParetoFront(uint64_t, const std::vector<double>& reference) override {
    references.push_back(reference);
    if (!front.has_hypervolume()) return UnimplementedError("fake");
    return front;
  }

  const std::vector<uint64_t>& ids() const { return ids_; }
  int list_calls() const { return list_calls_; }

  v1::ListTrialsResponse trials;     // what ListTrials answers (UNIMPLEMENTED while empty)
  v1::GetParetoFrontResponse front;  // what GetParetoFront answers (UNIMPLEMENTED without a hypervolume)
  std::vector<std::vector<double>> references;  // the reference point of each GetParetoFront call

 private:
  std::deque<Result<v1::Study>> script_;
  std::vector<uint64_t> ids_;
  int list_calls_ = 0;
};

v1::Study MakeStudy(v1::StudyState state, uint32_t completed, uint32_t failed, uint32_t running) {
  v1::Study study;
  study.set_id(3);
  study.mutable_spec()->set_name("quick");
  study.mutable_spec()->mutable_budget()->set_max_trials(4);
  study.set_state(state);
  study.set_created_ms(kStartMs);
  study.mutable_counts()->set_completed(completed);
  study.mutable_counts()->set_failed(failed);
  study.mutable_counts()->set_running(running);
  if (state != v1::STUDY_RUNNING) study.set_finished_ms(kStartMs + 5'000);
  return study;
}

// Runs WatchStudy on a FakeClock whose sleeps advance it; keeps what was printed.
struct Harness {
  FakeClock clock{kStartMs};
  std::ostringstream out, err;
  std::vector<int64_t> sleeps;

  WatchEnv Env() {
    WatchEnv env;
    env.clock = &clock;
    env.sleep = [this](std::chrono::milliseconds duration) {
      sleeps.push_back(duration.count());
      clock.AdvanceMs(duration.count());
    };
    env.out = &out;
    env.err = &err;
    return env;
  }
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(WatchStudyTest, PrintsOnChangeAndReturnsTheFinalStudy) {
  FakeStudyApi api({MakeStudy(v1::STUDY_RUNNING, 0, 0, 2), MakeStudy(v1::STUDY_RUNNING, 0, 0, 2),
                    MakeStudy(v1::STUDY_RUNNING, 1, 0, 2), MakeStudy(v1::STUDY_RUNNING, 1, 0, 2),
                    MakeStudy(v1::STUDY_COMPLETED, 3, 1, 0)});
  Harness h;
  WatchOptions options;
  options.interval = std::chrono::milliseconds(1'000);
  auto study = WatchStudy(api, 3, options, h.Env());
  ASSERT_TRUE(study.ok()) << study.status().ToString();
  EXPECT_EQ(study->state(), v1::STUDY_COMPLETED);
  EXPECT_EQ(api.ids(), std::vector<uint64_t>(5, 3));
  EXPECT_EQ(h.sleeps, std::vector<int64_t>(4, 1'000));
  const std::vector<std::string> expected = {
      "study 3 quick: 0/4 finished (0 completed, 0 failed), 2 running, elapsed 0s",
      "study 3 quick: 1/4 finished (1 completed, 0 failed), 2 running, elapsed 2s, about 6s left",
      "study 3 quick: 4/4 finished (3 completed, 1 failed), 0 running, took 5s wall, 0s compute, completed",
  };
  EXPECT_EQ(Lines(h.out.str()), expected);
  EXPECT_EQ(h.err.str(), "");
}

TEST(WatchStudyTest, RepeatsAnUnchangedLineEveryRefresh) {
  std::deque<Result<v1::Study>> script(25, MakeStudy(v1::STUDY_RUNNING, 1, 0, 1));
  script.push_back(MakeStudy(v1::STUDY_FAILED, 0, 4, 0));
  FakeStudyApi api(script);
  Harness h;
  WatchOptions options;
  options.interval = std::chrono::milliseconds(1'000);
  options.refresh = std::chrono::milliseconds(10'000);
  auto study = WatchStudy(api, 3, options, h.Env());
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->state(), v1::STUDY_FAILED);
  const std::vector<std::string> lines = Lines(h.out.str());
  ASSERT_EQ(lines.size(), 4u) << h.out.str();  // at 0 s, 10 s, 20 s, and the end
  EXPECT_NE(lines[1].find("elapsed 10s"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("elapsed 20s"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find(", failed"), std::string::npos) << lines[3];
}

TEST(WatchStudyTest, RidesOutAShortOutage) {
  FakeStudyApi api({MakeStudy(v1::STUDY_RUNNING, 0, 0, 1), UnavailableError("connection refused"),
                    DeadlineExceededError("slow"), UnavailableError("connection refused"),
                    MakeStudy(v1::STUDY_CANCELLED, 0, 0, 0)});
  Harness h;
  WatchOptions options;
  options.interval = std::chrono::milliseconds(1'000);
  options.retry = std::chrono::milliseconds(30'000);
  auto study = WatchStudy(api, 3, options, h.Env());
  ASSERT_TRUE(study.ok()) << study.status().ToString();
  EXPECT_EQ(study->state(), v1::STUDY_CANCELLED);
  EXPECT_EQ(h.err.str(), "hpoctl: UNAVAILABLE: connection refused; retrying for up to 30s\n");
  EXPECT_EQ(Lines(h.out.str()).size(), 2u);
}

TEST(WatchStudyTest, GivesUpWhenTheOutageOutlastsTheRetryPeriod) {
  FakeStudyApi api({MakeStudy(v1::STUDY_RUNNING, 0, 0, 1), UnavailableError("connection refused")});
  Harness h;
  WatchOptions options;
  options.interval = std::chrono::milliseconds(1'000);
  options.retry = std::chrono::milliseconds(5'000);
  auto study = WatchStudy(api, 3, options, h.Env());
  ASSERT_FALSE(study.ok());
  EXPECT_EQ(study.status(), UnavailableError("connection refused"));
  EXPECT_EQ(h.clock.NowMs() - kStartMs, 5'000);  // polled at 1..5 s after the last answer
  EXPECT_EQ(api.ids().size(), 6u);
}

TEST(WatchStudyTest, FirstPollAndNonTransportErrorsFailAtOnce) {
  {
    FakeStudyApi api({UnavailableError("connection refused")});
    Harness h;
    auto study = WatchStudy(api, 3, WatchOptions(), h.Env());
    EXPECT_EQ(study.status(), UnavailableError("connection refused"));
    EXPECT_EQ(api.ids().size(), 1u);
    EXPECT_EQ(h.out.str(), "");
  }
  {
    FakeStudyApi api({MakeStudy(v1::STUDY_RUNNING, 0, 0, 1), NotFoundError("study 3")});
    Harness h;
    auto study = WatchStudy(api, 3, WatchOptions(), h.Env());
    EXPECT_EQ(study.status(), NotFoundError("study 3"));
    EXPECT_EQ(api.ids().size(), 2u);
    EXPECT_EQ(h.err.str(), "");
  }
}

TEST(WatchStudyTest, RewritesOneLineOnATerminal) {
  FakeStudyApi api({MakeStudy(v1::STUDY_RUNNING, 0, 0, 1), MakeStudy(v1::STUDY_RUNNING, 0, 0, 1),
                    MakeStudy(v1::STUDY_COMPLETED, 4, 0, 0)});
  Harness h;
  WatchOptions options;
  options.rewrite_line = true;
  auto study = WatchStudy(api, 3, options, h.Env());
  ASSERT_TRUE(study.ok());
  const std::string out = h.out.str();
  EXPECT_EQ(
      out,
      "\r\033[Kstudy 3 quick [>>>>>>..................] 0/4  0 completed  0 failed  1 running  elapsed 0s"
      "\r\033[Kstudy 3 quick [>>>>>>..................] 0/4  0 completed  0 failed  1 running  elapsed 1s"
      "\r\033[Kstudy 3 quick [########################] 4/4  4 completed  0 failed  0 running  took 5s wall, "
      "0s compute  completed\n");
}

// A study of two minimised objectives whose ListTrials answers `trials`.
v1::Study WithObjectives(v1::Study study) {
  for (const char* name : {"f1", "f2"}) {
    v1::Objective* objective = study.mutable_spec()->add_objectives();
    objective->set_name(name);
    objective->set_direction(v1::MINIMIZE);
  }
  return study;
}

// The front's hypervolume as the coordinator answers it: `value` over the reference point (f1 r1, f2 r2).
v1::GetParetoFrontResponse FrontWith(double value, double r1, double r2, const char* rule) {
  v1::GetParetoFrontResponse front;
  *front.mutable_objectives() = WithObjectives(v1::Study()).spec().objectives();
  front.set_hypervolume(value);
  front.add_reference_point(r1);
  front.add_reference_point(r2);
  front.set_reference_rule(rule);
  return front;
}

// The hypervolume is the coordinator's, with the reference point and rule it names; the front is fetched
// only when the number of completed trials changes, and until it has a hypervolume none is shown.
TEST(WatchStudyTest, ShowsTheCoordinatorsHypervolumeWithItsReferencePoint) {
  class GrowingApi final : public StudyApi {
   public:
    Result<v1::Study> GetStudy(uint64_t) override {
      const size_t i = std::min(polls_++, kCompleted.size() - 1);
      v1::Study study = WithObjectives(MakeStudy(
          i + 1 == kCompleted.size() ? v1::STUDY_COMPLETED : v1::STUDY_RUNNING, kCompleted[i], 0, 1));
      completed_ = kCompleted[i];
      return study;
    }
    Result<v1::GetParetoFrontResponse> GetParetoFront(uint64_t,
                                                      const std::vector<double>& reference) override {
      ++front_calls;
      EXPECT_TRUE(reference.empty());
      if (completed_ == 0) return v1::GetParetoFrontResponse();  // an empty front has no hypervolume
      return FrontWith(0.5 * completed_, 4.4, 1.1 * completed_, "worst + 10% of range");
    }
    Result<v1::ListTrialsResponse> ListTrials(uint64_t) override { return UnimplementedError("fake"); }
    Result<v1::Study> CreateStudy(const v1::StudySpec&) override { return UnimplementedError("fake"); }
    Result<v1::ListStudiesResponse> ListStudies() override { return UnimplementedError("fake"); }
    Result<v1::Study> CancelStudy(uint64_t) override { return UnimplementedError("fake"); }
    int front_calls = 0;

   private:
    const std::vector<uint32_t> kCompleted = {0, 0, 2, 2, 3, 4};
    size_t polls_ = 0;
    uint32_t completed_ = 0;
  };
  GrowingApi api;
  Harness h;
  WatchOptions options;
  options.refresh = std::chrono::milliseconds(60'000);
  auto study = WatchStudy(api, 3, options, h.Env());
  ASSERT_TRUE(study.ok()) << study.status().ToString();
  EXPECT_EQ(api.front_calls, 4);  // at 0, 2, 3 and 4 completed
  const std::vector<std::string> lines = Lines(h.out.str());
  ASSERT_EQ(lines.size(), 4u) << h.out.str();
  EXPECT_EQ(lines[0].find("hypervolume"), std::string::npos) << lines[0];  // nothing completed yet
  EXPECT_NE(lines[1].find("1 running, hypervolume 1 (reference point [f1 4.4, f2 2.2], rule: worst + 10% "
                          "of range), elapsed"),
            std::string::npos)
      << lines[1];
  EXPECT_NE(lines[2].find("hypervolume 1.5 (reference point [f1 4.4, f2 3.3], rule: worst + 10% of range),"),
            std::string::npos)
      << lines[2];
  EXPECT_NE(lines[3].find("hypervolume 2 (reference point [f1 4.4, f2 4.4]"), std::string::npos) << lines[3];
}

TEST(WatchStudyTest, AGivenReferenceGoesToTheCoordinator) {
  FakeStudyApi api({WithObjectives(MakeStudy(v1::STUDY_COMPLETED, 2, 0, 0))});
  api.front = FrontWith(7, 4, 4, "given");
  Harness h;
  WatchOptions options;
  options.reference = {4, 4};
  ASSERT_TRUE(WatchStudy(api, 3, options, h.Env()).ok());
  ASSERT_EQ(api.references.size(), 1u);
  EXPECT_EQ(api.references[0], (std::vector<double>{4, 4}));
  EXPECT_NE(h.out.str().find("hypervolume 7 (reference point [f1 4, f2 4], rule: given), took 5s wall"),
            std::string::npos)
      << h.out.str();
  options.hypervolume = false;
  Harness quiet;
  ASSERT_TRUE(WatchStudy(api, 3, options, quiet.Env()).ok());
  EXPECT_EQ(quiet.out.str().find("hypervolume"), std::string::npos);
  EXPECT_EQ(api.references.size(), 1u);
}

TEST(WatchStudyTest, TheBarShowsHvAndSaysItsReferencePointOnceAtTheEnd) {
  FakeStudyApi api({WithObjectives(MakeStudy(v1::STUDY_COMPLETED, 2, 0, 0))});
  api.front = FrontWith(7, 4, 4, "worst + 10% of range");
  Harness h;
  WatchOptions options;
  options.rewrite_line = true;
  ASSERT_TRUE(WatchStudy(api, 3, options, h.Env()).ok());
  const std::string out = h.out.str();
  EXPECT_NE(out.find("  hv 7  took 5s wall, 0s compute  completed\n"), std::string::npos) << out;
  EXPECT_TRUE(out.ends_with("\nhv: reference point [f1 4, f2 4], rule: worst + 10% of range\n")) << out;
}

TEST(WatchStudyTest, PrunedTrialsCountAsFinished) {
  auto pruning = [](v1::StudyState state, uint32_t completed, uint32_t pruned, uint32_t running) {
    v1::Study study = MakeStudy(state, completed, 0, running);
    study.mutable_spec()->mutable_pruner()->mutable_asha()->set_max_resource(9);
    study.mutable_counts()->set_pruned(pruned);
    return study;
  };
  FakeStudyApi api({pruning(v1::STUDY_RUNNING, 0, 1, 2), pruning(v1::STUDY_RUNNING, 1, 1, 2),
                    pruning(v1::STUDY_COMPLETED, 2, 2, 0)});
  Harness h;
  WatchOptions options;
  options.interval = std::chrono::milliseconds(1'000);
  ASSERT_TRUE(WatchStudy(api, 3, options, h.Env()).ok());
  const std::vector<std::string> expected = {
      "study 3 quick: 1/4 finished (0 completed, 1 pruned, 0 failed), 2 running, elapsed 0s, about 0s left",
      "study 3 quick: 2/4 finished (1 completed, 1 pruned, 0 failed), 2 running, elapsed 1s, about 1s left",
      "study 3 quick: 4/4 finished (2 completed, 2 pruned, 0 failed), 0 running, took 5s wall, 0s compute, "
      "completed",
  };
  EXPECT_EQ(Lines(h.out.str()), expected);

  FakeStudyApi bar_api({pruning(v1::STUDY_COMPLETED, 2, 1, 0)});
  Harness bar;
  options.rewrite_line = true;
  ASSERT_TRUE(WatchStudy(bar_api, 3, options, bar.Env()).ok());
  EXPECT_EQ(
      bar.out.str(),
      "\r\033[Kstudy 3 quick [############~~~~~~......] 3/4  2 completed  1 pruned  0 failed  0 running  "
      "took 5s wall, 0s compute  completed\n");
}

TEST(DescribeUnsuccessfulEndTest, CancelledAndFailedWithTheLastError) {
  EXPECT_EQ(DescribeUnsuccessfulEnd(MakeStudy(v1::STUDY_CANCELLED, 1, 0, 0), nullptr),
            "study 3 was cancelled");
  const v1::Study failed = MakeStudy(v1::STUDY_FAILED, 0, 4, 0);
  EXPECT_EQ(DescribeUnsuccessfulEnd(failed, nullptr),
            "study 3 failed: the budget is spent and no trial completed (4 failed)");
  v1::ListTrialsResponse trials;
  for (uint32_t number : {2u, 0u, 3u, 1u}) {
    v1::Trial* trial = trials.add_trials();
    trial->set_number(number);
    trial->set_state(v1::TRIAL_FAILED);
    if (number != 3) trial->set_error("exit status " + std::to_string(number));
  }
  EXPECT_EQ(DescribeUnsuccessfulEnd(failed, &trials),
            "study 3 failed: the budget is spent and no trial completed (4 failed); "
            "last error (trial 2): exit status 2");
  v1::Study pruned = MakeStudy(v1::STUDY_FAILED, 0, 1, 0);
  pruned.mutable_counts()->set_pruned(3);
  EXPECT_EQ(DescribeUnsuccessfulEnd(pruned, nullptr),
            "study 3 failed: the budget is spent and no trial completed (3 pruned, 1 failed)");
  v1::Study fast = MakeStudy(v1::STUDY_FAILED, 1, 2, 0);  // failed fast: the coordinator says why
  fast.set_error("2 trials failed (budget.max_failed_trials 2); the last: trial 0: a; trial 1: b");
  EXPECT_EQ(DescribeUnsuccessfulEnd(fast, &trials),
            "study 3 failed: 2 trials failed (budget.max_failed_trials 2); the last: trial 0: a; trial 1: b");
}

// A call in flight when the coordinator shut down ends CANCELLED: retried as an outage is.
TEST(WatchStudyTest, RetriesACallCancelledByTheCoordinatorsShutdown) {
  FakeStudyApi api({MakeStudy(v1::STUDY_RUNNING, 0, 0, 1), CancelledError("Cancelled"),
                    UnavailableError("connection refused"), MakeStudy(v1::STUDY_COMPLETED, 4, 0, 0)});
  Harness h;
  WatchOptions options;
  options.hypervolume = false;
  auto study = WatchStudy(api, 3, options, h.Env());
  ASSERT_TRUE(study.ok()) << study.status().ToString();
  EXPECT_EQ(study->state(), v1::STUDY_COMPLETED);
  EXPECT_EQ(h.err.str(), "hpoctl: CANCELLED: Cancelled; retrying for up to 30s\n");
  EXPECT_EQ(api.ids().size(), 4u);
  // Past the retry period it ends the watch like any transport error.
  FakeStudyApi down({MakeStudy(v1::STUDY_RUNNING, 0, 0, 1), CancelledError("Cancelled")});
  Harness h2;
  options.retry = std::chrono::milliseconds(3'000);
  auto gave_up = WatchStudy(down, 3, options, h2.Env());
  EXPECT_EQ(gave_up.status().code(), StatusCode::kCancelled);
}

}  // namespace
}  // namespace hpo::client
