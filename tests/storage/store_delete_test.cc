// Store::DeleteStudy and the study timing the Store derives from its trials (first start, compute time).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "storage/store.h"
#include "tests/testing/temp_dir.h"

namespace hpo::storage {
namespace {

v1::StudySpec Spec(const std::string& name) {
  v1::StudySpec spec;
  spec.set_name(name);
  auto* p = spec.add_parameters();
  p->set_name("lr");
  p->mutable_float_()->set_low(0.1);
  p->mutable_float_()->set_high(0.2);
  spec.add_objectives()->set_name("loss");
  spec.mutable_budget()->set_max_trials(100);
  return spec;
}

// `count` trials of `study` numbered from 0, each with a parameter and a metric, started at 1000 + 10 n
// and (all but a running last one) finished 5 ms later.
Status AddTrials(Store& store, uint64_t study, uint32_t count) {
  std::vector<TrialRecord> records(count);
  Changes changes;
  for (uint32_t n = 0; n < count; ++n) {
    v1::Trial& t = records[n].trial;
    t.set_study_id(study);
    t.set_number(n);
    const bool last = n + 1 == count;
    t.set_state(last ? v1::TRIAL_RUNNING : v1::TRIAL_COMPLETED);
    t.set_started_ms(1000 + 10 * n);
    if (!last) t.set_finished_ms(1005 + 10 * n);
    (*t.mutable_params())["lr"].set_double_value(0.1 + n * 1e-3);
    (*t.mutable_metrics())["loss"] = n;
    records[n].x = {0.5};
    changes.trials.push_back(&records[n]);
  }
  return store.Apply(changes);
}

// The one integer `sql` reads from the file, through a connection of its own.
int64_t Query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  int64_t value = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
      value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return value;
}

class StoreDeleteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("hpo.db");
    auto opened = Store::Open(path_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }

  hpo::testing::TempDir dir_;
  std::string path_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreDeleteTest, DeletesTheStudyAndEveryRowOfItsTrialsOnly) {
  auto kept = store_->CreateStudy(Spec("kept"), 1, "");
  auto gone = store_->CreateStudy(Spec("gone"), 2, "");
  ASSERT_TRUE(kept.ok() && gone.ok());
  ASSERT_TRUE(AddTrials(*store_, *kept, 3).ok());
  ASSERT_TRUE(AddTrials(*store_, *gone, 300).ok());
  const int64_t pages = Query(path_, "PRAGMA page_count");

  auto deleted = store_->DeleteStudy(*gone);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 300u);
  EXPECT_EQ(store_->GetStudy(*gone).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->ListTrials(*gone).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Query(path_, "SELECT COUNT(*) FROM trials WHERE study_id = " + std::to_string(*gone)), 0);
  EXPECT_EQ(Query(path_, "SELECT COUNT(*) FROM trial_params WHERE trial_id NOT IN (SELECT id FROM trials)"),
            0);
  EXPECT_EQ(Query(path_, "SELECT COUNT(*) FROM trial_metrics WHERE trial_id NOT IN (SELECT id FROM trials)"),
            0);
  // The other study is whole.
  auto rest = store_->ListTrials(*kept);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 3u);
  EXPECT_EQ(rest->at(1).trial.params().at("lr").double_value(), 0.101);
  EXPECT_EQ(rest->at(1).trial.metrics().at("loss"), 1.0);
  auto studies = store_->ListStudies();
  ASSERT_TRUE(studies.ok());
  ASSERT_EQ(studies->size(), 1u);
  EXPECT_EQ(studies->front().study.id(), *kept);
  // The pages of 300 trials went back to the file system: a new file runs with incremental auto_vacuum.
  EXPECT_EQ(Query(path_, "PRAGMA auto_vacuum"), 2);
  EXPECT_EQ(Query(path_, "PRAGMA freelist_count"), 0);
  EXPECT_LT(Query(path_, "PRAGMA page_count"), pages);
}

TEST_F(StoreDeleteTest, UnknownStudyIsNotFoundAndNothingChanges) {
  auto id = store_->CreateStudy(Spec("kept"), 1, "");
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(AddTrials(*store_, *id, 2).ok());
  auto deleted = store_->DeleteStudy(*id + 1);
  EXPECT_EQ(deleted.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(deleted.status().message(), "study " + std::to_string(*id + 1) + " not found");
  EXPECT_EQ(Query(path_, "SELECT COUNT(*) FROM trials"), 2);
  EXPECT_EQ(Query(path_, "SELECT COUNT(*) FROM studies"), 1);
}

// The coordinator numbers trials from LastTrialId: a deleted study's ids are not handed out again, nor is
// a deleted study's id.
TEST_F(StoreDeleteTest, IdsOfADeletedStudyAreNotUsedAgain) {
  auto first = store_->CreateStudy(Spec("first"), 1, "");
  auto last = store_->CreateStudy(Spec("last"), 1, "");
  ASSERT_TRUE(first.ok() && last.ok());
  ASSERT_TRUE(AddTrials(*store_, *first, 2).ok());
  ASSERT_TRUE(AddTrials(*store_, *last, 5).ok());
  ASSERT_EQ(*store_->LastTrialId(), 7u);
  ASSERT_TRUE(store_->DeleteStudy(*last).ok());
  EXPECT_EQ(*store_->LastTrialId(), 7u);
  store_.reset();  // as after a restart
  auto reopened = Store::Open(path_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(*(*reopened)->LastTrialId(), 7u);
  auto next = (*reopened)->CreateStudy(Spec("next"), 1, "");
  ASSERT_TRUE(next.ok());
  EXPECT_GT(*next, *last);
}

TEST_F(StoreDeleteTest, StudyCarriesItsFirstTrialStartAndComputeTime) {
  auto id = store_->CreateStudy(Spec("timed"), 1, "");
  ASSERT_TRUE(id.ok());
  auto empty = store_->GetStudy(*id);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->study.first_trial_started_ms(), 0);
  EXPECT_EQ(empty->study.compute_ms(), 0);
  // Trials start at 1000, 1010, 1020, 1030; the first three ran 5 ms each, the last still runs.
  ASSERT_TRUE(AddTrials(*store_, *id, 4).ok());
  auto study = store_->GetStudy(*id);
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->study.first_trial_started_ms(), 1000);
  EXPECT_EQ(study->study.compute_ms(), 15);
}

}  // namespace
}  // namespace hpo::storage
