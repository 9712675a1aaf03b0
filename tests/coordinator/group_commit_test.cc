// Tests coordinator/group_commit.cc on a real Store: concurrent changes all commit, share transactions,
// and a failed group fails what was queued on top of it until Recover().
#include "coordinator/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "tests/testing/temp_dir.h"

namespace hpo::coordinator {
namespace {

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::Store::Open(dir_.File("hpo.db"));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    v1::StudySpec spec;
    spec.set_name("group");
    auto id = store_->CreateStudy(spec, 1, "");
    ASSERT_TRUE(id.ok());
    study_ = *id;
  }

  ChangeSet NewTrial(uint64_t id, uint32_t number, uint64_t study) const {
    ChangeSet changes;
    storage::TrialRecord& record = changes.trials.emplace_back();
    record.trial.set_id(id);
    record.trial.set_study_id(study);
    record.trial.set_number(number);
    record.trial.set_state(v1::TRIAL_PENDING);
    return changes;
  }

  hpo::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  uint64_t study_ = 0;
};

TEST_F(GroupCommitTest, ConcurrentChangesAllCommitInSharedTransactions) {
  GroupCommitter committer(store_.get());
  constexpr int kThreads = 8, kEach = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  std::mutex order;  // stands for the Core's mutex: ids and queue order agree
  std::atomic<uint64_t> next_id{1};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        uint64_t ticket;
        {
          std::lock_guard lock(order);
          const uint64_t id = next_id++;
          ticket = committer.Enqueue(NewTrial(id, static_cast<uint32_t>(id - 1), study_));
        }
        if (!committer.Wait(ticket).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto trials = store_->ListTrials(study_);
  ASSERT_TRUE(trials.ok());
  ASSERT_EQ(trials->size(), size_t{kThreads * kEach});
  for (size_t i = 0; i < trials->size(); ++i) EXPECT_EQ((*trials)[i].trial.id(), i + 1);
  const GroupCommitStats stats = committer.stats();
  EXPECT_EQ(stats.changes, uint64_t{kThreads * kEach});
  EXPECT_LE(stats.groups, stats.changes);

  // Changes queued back to back without waiting share groups: a commit (an fsync) takes far longer
  // than queueing a change.
  const uint64_t groups_before = committer.stats().groups;
  uint64_t last = 0;
  for (uint32_t i = 0; i < 200; ++i) {
    const uint64_t id = next_id++;
    last = committer.Enqueue(NewTrial(id, static_cast<uint32_t>(id - 1), study_));
  }
  ASSERT_TRUE(committer.Wait(last).ok());
  EXPECT_LT(committer.stats().groups - groups_before, 200u);
  EXPECT_EQ(store_->ListTrials(study_)->size(), size_t{kThreads * kEach + 200});
}

TEST_F(GroupCommitTest, AFailedGroupFailsWhatFollowsUntilRecover) {
  GroupCommitter committer(store_.get());
  ASSERT_TRUE(committer.Wait(committer.Enqueue(NewTrial(1, 0, study_))).ok());
  // A trial of a study that does not exist violates a foreign key: the group fails.
  const Status failed = committer.Wait(committer.Enqueue(NewTrial(2, 1, study_ + 7)));
  EXPECT_FALSE(failed.ok());
  EXPECT_TRUE(committer.broken());
  // Until Recover(), every change fails at once with that error, and nothing is written.
  const Status refused = committer.Wait(committer.Enqueue(NewTrial(3, 1, study_)));
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(refused.message(), failed.message());
  EXPECT_EQ(store_->ListTrials(study_)->size(), 1u);
  committer.Recover();
  EXPECT_FALSE(committer.broken());
  ASSERT_TRUE(committer.Wait(committer.Enqueue(NewTrial(3, 1, study_))).ok());
  EXPECT_EQ(store_->ListTrials(study_)->size(), 2u);
  // An empty change set is a barrier: it is done once everything before it is.
  EXPECT_TRUE(committer.Wait(committer.Enqueue(ChangeSet())).ok());
}

TEST_F(GroupCommitTest, CallbacksRunOnceTheirGroupIsDurable) {
  GroupCommitter committer(store_.get());
  std::mutex mu;
  std::vector<std::pair<int, bool>> calls;  // (which, ok)
  std::vector<size_t> rows_seen;
  for (int i = 0; i < 20; ++i) {
    committer.Enqueue(NewTrial(static_cast<uint64_t>(i + 1), static_cast<uint32_t>(i), study_),
                      [&, i](const Status& status) {
                        const size_t rows = store_->ListTrials(study_)->size();
                        std::lock_guard lock(mu);
                        calls.emplace_back(i, status.ok());
                        rows_seen.push_back(rows);
                      });
  }
  for (int spins = 0; spins < 10'000; ++spins) {
    {
      std::lock_guard lock(mu);
      if (calls.size() == 20) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(calls.size(), 20u);
    for (size_t k = 0; k < calls.size(); ++k) {
      EXPECT_EQ(calls[k].first, static_cast<int>(k));  // in queue order
      EXPECT_TRUE(calls[k].second);
      EXPECT_GE(rows_seen[k], k + 1);  // its own row is in the database when it is called
    }
  }
  // A failing group calls back with the error; while broken, callbacks run at once on the caller.
  Status first, second;
  std::promise<void> called;
  committer.Enqueue(NewTrial(99, 50, study_ + 7), [&](const Status& s) {
    first = s;
    called.set_value();
  });
  called.get_future().wait();
  EXPECT_FALSE(first.ok());
  bool inline_call = false;
  committer.Enqueue(NewTrial(100, 51, study_), [&](const Status& s) {
    second = s;
    inline_call = true;
  });
  EXPECT_TRUE(inline_call);
  EXPECT_FALSE(second.ok());
  EXPECT_EQ(store_->ListTrials(study_)->size(), 20u);
}

// Several changes to one trial and one study queued back to back (likely one group, where each row is
// written once): the database ends with the last of each, fields of study changes folded in order.
TEST_F(GroupCommitTest, RepeatedChangesToOneRowEndWithTheLast) {
  GroupCommitter committer(store_.get());
  ChangeSet running = NewTrial(7, 0, study_);
  running.trials[0].trial.set_state(v1::TRIAL_RUNNING);
  running.studies.push_back({study_, std::nullopt, std::nullopt, std::string("state-1")});
  ChangeSet completed = NewTrial(7, 0, study_);
  completed.trials[0].trial.set_state(v1::TRIAL_COMPLETED);
  (*completed.trials[0].trial.mutable_metrics())["f1"] = 0.25;
  completed.studies.push_back({study_, v1::STUDY_COMPLETED, int64_t{99}, std::nullopt});
  ChangeSet other = NewTrial(8, 1, study_);
  other.studies.push_back({study_, std::nullopt, std::nullopt, std::string("state-2")});
  committer.Enqueue(std::move(running));
  committer.Enqueue(std::move(completed));
  ASSERT_TRUE(committer.Wait(committer.Enqueue(std::move(other))).ok());
  auto trial = store_->GetTrial(7);
  ASSERT_TRUE(trial.ok());
  EXPECT_EQ(trial->trial.state(), v1::TRIAL_COMPLETED);
  EXPECT_EQ(trial->trial.metrics().at("f1"), 0.25);
  EXPECT_EQ(store_->ListTrials(study_)->size(), 2u);
  auto study = store_->GetStudy(study_);
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->study.state(), v1::STUDY_COMPLETED);
  EXPECT_EQ(study->study.finished_ms(), 99);
  EXPECT_EQ(study->optimizer_state, "state-2");
}

TEST_F(GroupCommitTest, DestructorCommitsWhatIsQueued) {
  {
    GroupCommitter committer(store_.get());
    for (uint32_t i = 0; i < 50; ++i) committer.Enqueue(NewTrial(i + 1, i, study_));
  }
  EXPECT_EQ(store_->ListTrials(study_)->size(), 50u);
}

}  // namespace
}  // namespace hpo::coordinator
