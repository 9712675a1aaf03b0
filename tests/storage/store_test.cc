#include "storage/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "storage/schema.h"
#include "tests/testing/temp_dir.h"

namespace hpo::storage {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    path_ = dir_.File("hpo.db");
  }

  static std::string ReadAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  static v1::StudySpec Spec() {
    v1::StudySpec spec;
    spec.set_name("round-trip");
    spec.set_seed(7);
    auto* p = spec.add_parameters();
    p->set_name("lr");
    p->mutable_float_()->set_low(1e-4);
    p->mutable_float_()->set_high(1e-1);
    p->mutable_float_()->set_log(true);
    auto* o = spec.add_objectives();
    o->set_name("accuracy");
    o->set_direction(v1::MAXIMIZE);
    spec.mutable_budget()->set_max_trials(5);
    return spec;
  }

  // Makes a plain SQLite file with `sql` run in it.
  void MakeSqlite(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }

  hpo::testing::TempDir dir_;
  std::string path_;
};

TEST_F(StoreTest, NewFileGetsCurrentSchemaInWalMode) {
  auto store = Store::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->schema_version(), Store::kSchemaVersion);
  store->reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(StoreTest, MigratesAnEmptyFile) {
  { std::ofstream(path_, std::ios::binary); }  // zero bytes
  auto store = Store::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->schema_version(), Store::kSchemaVersion);
  // Reopening an up-to-date file changes nothing and keeps the data.
  auto id = (*store)->CreateStudy(Spec(), 1000, "state");
  ASSERT_TRUE(id.ok());
  store->reset();
  auto again = Store::Open(path_);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  auto study = (*again)->GetStudy(*id);
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->study.spec().name(), "round-trip");
}

TEST_F(StoreTest, RefusesNonSqliteFileAndLeavesItUntouched) {
  { std::ofstream(path_, std::ios::binary) << "this is not a database, it is a shopping list\n"; }
  const std::string before = ReadAll(path_);
  auto store = Store::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(store.status().message().find("not an SQLite file"), std::string::npos);
  EXPECT_EQ(ReadAll(path_), before);
}

TEST_F(StoreTest, RefusesDamagedSqliteFileNamingItAndLeavesItUntouched) {
  // SQLite's header, then bytes that are no database.
  std::string bytes("SQLite format 3\0", 16);
  for (int i = 0; i < 4096; ++i) bytes.push_back(static_cast<char>((i * 7919 + 13) & 0xff));
  { std::ofstream(path_, std::ios::binary) << bytes; }
  auto store = Store::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(store.status().message().find("database " + path_ + " is not a readable SQLite database"),
            std::string::npos)
      << store.status().message();
  EXPECT_EQ(ReadAll(path_), bytes);
  EXPECT_FALSE(fs::exists(path_ + "-wal"));
  EXPECT_FALSE(fs::exists(path_ + "-journal"));
}

TEST_F(StoreTest, RefusesNewerSchemaAndLeavesItUntouched) {
  MakeSqlite("CREATE TABLE future (x); PRAGMA user_version = 99;");
  const std::string before = ReadAll(path_);
  auto store = Store::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("schema version 99"), std::string::npos)
      << store.status().message();
  EXPECT_EQ(ReadAll(path_), before);
  EXPECT_FALSE(fs::exists(path_ + "-wal"));
}

TEST_F(StoreTest, RefusesForeignDatabase) {
  MakeSqlite("CREATE TABLE customers (name TEXT);");
  const std::string before = ReadAll(path_);
  auto store = Store::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("not hpo's"), std::string::npos);
  EXPECT_EQ(ReadAll(path_), before);
}

TEST_F(StoreTest, StudyAndTrialRoundTrip) {
  auto opened = Store::Open(path_);
  ASSERT_TRUE(opened.ok());
  Store& store = **opened;
  const v1::StudySpec spec = Spec();
  auto id = store.CreateStudy(spec, 1234, "opt-state-0");
  ASSERT_TRUE(id.ok());

  TrialRecord a;
  a.trial.set_study_id(*id);
  a.trial.set_number(0);
  a.trial.set_state(v1::TRIAL_RUNNING);
  a.trial.set_seed(99);
  a.trial.set_attempt(1);
  a.trial.set_created_ms(2000);
  (*a.trial.mutable_params())["lr"].set_double_value(0.0031);
  (*a.trial.mutable_params())["width"].set_int_value(64);
  (*a.trial.mutable_params())["activation"].set_string_value("gelu");
  a.lease_token = "tok-1";
  a.lease_expires_ms = 5000;
  a.candidate_id = 0;
  a.x = {0.25, 1.0 / 3.0, 0.0};
  Changes insert;
  insert.trials = {&a};
  insert.studies.push_back({*id, std::nullopt, std::nullopt, std::string("opt-state-1")});
  ASSERT_TRUE(store.Apply(insert).ok());
  ASSERT_NE(a.trial.id(), 0u);

  a.trial.set_state(v1::TRIAL_COMPLETED);
  (*a.trial.mutable_metrics())["accuracy"] = 0.875;
  (*a.trial.mutable_metrics())["latency_ms"] = 0.0421;
  a.trial.set_device("cpu: test");
  a.lease_token.clear();
  Changes complete;
  complete.trials = {&a};
  ASSERT_TRUE(store.Apply(complete).ok());

  auto got = store.GetTrial(a.trial.id());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->trial.SerializeAsString().size(), a.trial.SerializeAsString().size());
  EXPECT_EQ(got->trial.state(), v1::TRIAL_COMPLETED);
  EXPECT_EQ(got->trial.params().at("lr").double_value(), 0.0031);
  EXPECT_EQ(got->trial.params().at("width").int_value(), 64);
  EXPECT_EQ(got->trial.params().at("activation").string_value(), "gelu");
  EXPECT_EQ(got->trial.metrics().at("accuracy"), 0.875);
  EXPECT_EQ(got->trial.metrics().at("latency_ms"), 0.0421);
  EXPECT_EQ(got->trial.device(), "cpu: test");
  EXPECT_EQ(got->trial.seed(), 99u);
  EXPECT_EQ(got->x, a.x);
  EXPECT_TRUE(got->lease_token.empty());

  auto study = store.GetStudy(*id);
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->optimizer_state, "opt-state-1");
  EXPECT_EQ(study->study.counts().completed(), 1u);
  EXPECT_EQ(study->study.state(), v1::STUDY_RUNNING);
  EXPECT_EQ(study->study.created_ms(), 1234);
  EXPECT_EQ(study->study.spec().SerializeAsString(), spec.SerializeAsString());

  auto trials = store.ListTrials(*id);
  ASSERT_TRUE(trials.ok());
  ASSERT_EQ(trials->size(), 1u);
  EXPECT_EQ(trials->front().trial.metrics().size(), 2u);
}

TEST_F(StoreTest, ApplyIsAllOrNothing) {
  auto opened = Store::Open(path_);
  ASSERT_TRUE(opened.ok());
  Store& store = **opened;
  auto id = store.CreateStudy(Spec(), 1, "s0");
  ASSERT_TRUE(id.ok());
  TrialRecord t;
  t.trial.set_study_id(*id);
  t.trial.set_state(v1::TRIAL_PENDING);
  Changes changes;
  changes.trials = {&t};
  changes.studies.push_back({*id + 100, v1::STUDY_COMPLETED, 5, std::nullopt});  // no such study
  const Status status = store.Apply(changes);
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_EQ(t.trial.id(), 0u);
  auto trials = store.ListTrials(*id);
  ASSERT_TRUE(trials.ok());
  EXPECT_TRUE(trials->empty());
  // Two trials with the same number in one study violate the schema and store neither.
  TrialRecord u = t, v = t;
  Changes dup;
  dup.trials = {&u, &v};
  EXPECT_FALSE(store.Apply(dup).ok());
  EXPECT_TRUE(store.ListTrials(*id)->empty());
}

TEST_F(StoreTest, UnknownIdsAreNotFound) {
  auto opened = Store::Open(path_);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ((*opened)->GetStudy(42).status().code(), StatusCode::kNotFound);
  EXPECT_EQ((*opened)->GetTrial(42).status().code(), StatusCode::kNotFound);
  EXPECT_EQ((*opened)->ListTrials(42).status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, WorkersRegister) {
  auto opened = Store::Open(path_);
  ASSERT_TRUE(opened.ok());
  auto a = (*opened)->RegisterWorker("node-a", 2, "cpu", 10);
  auto b = (*opened)->RegisterWorker("node-b", 1, "cpu", 11);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  auto ids = (*opened)->WorkerIds();
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<uint64_t>{*a, *b}));
}

// The coordinator numbers trials itself before their group commits: a trial with an id and no row is
// inserted under that id, and written again in the same transaction it is updated.
TEST_F(StoreTest, TrialWithAnIdAndNoRowIsInsertedUnderIt) {
  auto opened = Store::Open(path_);
  ASSERT_TRUE(opened.ok());
  Store& store = **opened;
  EXPECT_EQ(*store.LastTrialId(), 0u);
  auto id = store.CreateStudy(Spec(), 1, "s0");
  ASSERT_TRUE(id.ok());
  TrialRecord first;
  first.trial.set_id(40);
  first.trial.set_study_id(*id);
  first.trial.set_state(v1::TRIAL_RUNNING);
  first.lease_token = "t";
  TrialRecord again = first;
  again.trial.set_state(v1::TRIAL_COMPLETED);
  (*again.trial.mutable_metrics())["accuracy"] = 0.5;
  Changes changes;
  changes.trials = {&first, &again};
  ASSERT_TRUE(store.Apply(changes).ok());
  auto stored = store.GetTrial(40);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->trial.state(), v1::TRIAL_COMPLETED);
  EXPECT_EQ(stored->trial.metrics().at("accuracy"), 0.5);
  EXPECT_EQ(*store.LastTrialId(), 40u);
  // A trial without an id still gets the next one.
  TrialRecord next;
  next.trial.set_study_id(*id);
  next.trial.set_number(1);
  Changes more;
  more.trials = {&next};
  ASSERT_TRUE(store.Apply(more).ok());
  EXPECT_EQ(next.trial.id(), 41u);
  EXPECT_EQ(store.ListTrials(*id)->size(), 2u);
}

TEST_F(StoreTest, WorkerLabelsAreStoredWithTheWorker) {
  {
    auto opened = Store::Open(path_);
    ASSERT_TRUE(opened.ok());
    ASSERT_TRUE((*opened)->RegisterWorker("node-a", 2, "cpu: A", 10, {{"gpu", "H100"}, {"zone", "a"}}).ok());
    ASSERT_TRUE((*opened)->RegisterWorker("node-b", 1, "cpu: B", 11).ok());
  }
  auto reopened = Store::Open(path_);  // what a restarted coordinator reads
  ASSERT_TRUE(reopened.ok());
  auto workers = (*reopened)->ListWorkers();
  ASSERT_TRUE(workers.ok()) << workers.status().ToString();
  ASSERT_EQ(workers->size(), 2u);
  const WorkerRecord& a = (*workers)[0];
  EXPECT_EQ(a.name, "node-a");
  EXPECT_EQ(a.slots, 2u);
  EXPECT_EQ(a.device, "cpu: A");
  EXPECT_EQ(a.registered_ms, 10);
  EXPECT_EQ(a.labels, (std::map<std::string, std::string>{{"gpu", "H100"}, {"zone", "a"}}));
  EXPECT_TRUE((*workers)[1].labels.empty());
  EXPECT_EQ(*(*reopened)->WorkerIds(), (std::vector<uint64_t>{a.id, (*workers)[1].id}));
}

TEST_F(StoreTest, TrialProgressRoundTrips) {
  auto opened = Store::Open(path_);
  ASSERT_TRUE(opened.ok());
  Store& store = **opened;
  auto study = store.CreateStudy(Spec(), 1, "");
  ASSERT_TRUE(study.ok());
  TrialRecord record;
  record.trial.set_study_id(*study);
  record.trial.set_state(v1::TRIAL_RUNNING);
  Changes changes;
  changes.trials = {&record};
  ASSERT_TRUE(store.Apply(changes).ok());
  EXPECT_FALSE(store.GetTrial(record.trial.id())->trial.has_progress());  // none reported yet

  v1::TrialProgress* progress = record.trial.mutable_progress();
  progress->set_step(7);
  (*progress->mutable_metrics())["loss"] = 0.25;
  (*progress->mutable_metrics())["accuracy"] = 0.875;
  progress->set_reported_ms(123'456);
  ASSERT_TRUE(store.Apply(changes).ok());
  auto stored = store.GetTrial(record.trial.id());
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(stored->trial.has_progress());
  EXPECT_EQ(stored->trial.progress().step(), 7u);
  EXPECT_EQ(stored->trial.progress().metrics().at("loss"), 0.25);
  EXPECT_EQ(stored->trial.progress().metrics().at("accuracy"), 0.875);
  EXPECT_EQ(stored->trial.progress().reported_ms(), 123'456);
  EXPECT_TRUE(stored->trial.metrics().empty());  // progress is not the trial's result
  EXPECT_EQ(store.ListTrials(*study)->front().trial.progress().step(), 7u);

  record.trial.clear_progress();  // re-queued: the next attempt starts without
  ASSERT_TRUE(store.Apply(changes).ok());
  EXPECT_FALSE(store.GetTrial(record.trial.id())->trial.has_progress());
}

// A database of schema 1 (before labels, progress, step histories and study errors) is migrated forward
// with everything in it kept.
TEST_F(StoreTest, MigratesSchemaOneKeepingItsRows) {
  ASSERT_GE(Migrations().size(), 2u);
  MakeSqlite(std::string(Migrations()[0]) +
             "PRAGMA user_version = 1; PRAGMA application_id = 1213222705;"
             "INSERT INTO workers (name, slots, device, registered_ms) VALUES ('old', 1, 'cpu', 5);"
             "INSERT INTO studies (name, spec, state, created_ms) VALUES ('s', x'', 1, 6);"
             "INSERT INTO trials (study_id, number, state, created_ms, seed, candidate_id, candidate) "
             "VALUES (1, 0, 3, 7, 9, 0, x'');"
             "INSERT INTO trial_metrics VALUES (1, 'accuracy', 0.5);");
  auto opened = Store::Open(path_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ((*opened)->schema_version(), Store::kSchemaVersion);
  EXPECT_EQ(Store::kSchemaVersion, 4);
  auto workers = (*opened)->ListWorkers();
  ASSERT_TRUE(workers.ok());
  ASSERT_EQ(workers->size(), 1u);
  EXPECT_EQ(workers->front().name, "old");
  EXPECT_TRUE(workers->front().labels.empty());
  auto trial = (*opened)->GetTrial(1);
  ASSERT_TRUE(trial.ok()) << trial.status().ToString();
  EXPECT_EQ(trial->trial.metrics().at("accuracy"), 0.5);
  EXPECT_FALSE(trial->trial.has_progress());
  EXPECT_TRUE(trial->history.steps().empty());
  EXPECT_EQ((*opened)->GetStudy(1)->study.error(), "");
  // The old trial has a change sequence (its id), so that a first incremental read includes it and a
  // reader with the cursor does not see it again.
  EXPECT_EQ(trial->change_seq, 1u);
  auto all = (*opened)->ListTrialsSince(1, 0);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->trials.size(), 1u);
  EXPECT_EQ(all->cursor, 1u);
  EXPECT_TRUE((*opened)->ListTrialsSince(1, all->cursor)->trials.empty());
  // And the new tables and columns take rows.
  EXPECT_TRUE((*opened)->RegisterWorker("new", 1, "cpu", 8, {{"gpu", "H100"}}).ok());
  TrialRecord record = *trial;
  for (uint64_t step = 1; step <= 2; ++step) {
    v1::TrialProgress* p = record.history.add_steps();
    p->set_step(step);
    (*p->mutable_metrics())["loss"] = 1.0 / static_cast<double>(step);
  }
  Changes changes;
  changes.trials.push_back(&record);
  changes.studies.push_back({1, v1::STUDY_FAILED, 9, std::nullopt, std::string("3 trials failed")});
  ASSERT_TRUE((*opened)->Apply(changes).ok());
  auto reread = (*opened)->GetTrial(1);
  ASSERT_TRUE(reread.ok());
  ASSERT_EQ(reread->history.steps_size(), 2);
  EXPECT_EQ(reread->history.steps(1).metrics().at("loss"), 0.5);
  EXPECT_EQ((*opened)->GetStudy(1)->study.error(), "3 trials failed");
  // The write took a sequence above the migrated ones.
  EXPECT_EQ(reread->change_seq, 2u);
  auto since = (*opened)->ListTrialsSince(1, all->cursor);
  ASSERT_TRUE(since.ok());
  ASSERT_EQ(since->trials.size(), 1u);
  EXPECT_EQ(since->cursor, 2u);
}

// ListTrialsSince answers exactly the trials written after the cursor: several writes in one transaction
// (as the group commit makes them, all at the same clock time) each get a sequence of their own, a
// rolled-back write leaves nothing behind, other studies' writes are not answered, and the counter
// carries on across a reopen.
TEST_F(StoreTest, ListTrialsSinceAnswersExactlyTheTrialsWrittenAfterTheCursor) {
  auto opened = Store::Open(path_);
  ASSERT_TRUE(opened.ok());
  Store& store = **opened;
  auto a = store.CreateStudy(Spec(), 1, "");
  auto b = store.CreateStudy(Spec(), 1, "");
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<TrialRecord> trials(4);
  for (uint32_t i = 0; i < 4; ++i) {
    trials[i].trial.set_study_id(i < 3 ? *a : *b);
    trials[i].trial.set_number(i);
    trials[i].trial.set_state(v1::TRIAL_PENDING);
    trials[i].trial.set_created_ms(100);  // the same time for every write
  }
  Changes first;
  for (auto& t : trials) first.trials.push_back(&t);
  ASSERT_TRUE(store.Apply(first).ok());

  auto initial = store.ListTrialsSince(*a, 0);
  ASSERT_TRUE(initial.ok());
  ASSERT_EQ(initial->trials.size(), 3u);
  EXPECT_EQ(initial->cursor, 4u);
  EXPECT_EQ(initial->trials[2].change_seq, 3u);
  EXPECT_TRUE(store.ListTrialsSince(*a, initial->cursor)->trials.empty());

  // Trial 1 changes (same timestamp as before); trial 3 of the other study too.
  trials[1].trial.set_state(v1::TRIAL_RUNNING);
  trials[3].trial.set_state(v1::TRIAL_RUNNING);
  Changes second;
  second.trials = {&trials[1], &trials[3]};
  ASSERT_TRUE(store.Apply(second).ok());
  auto changed = store.ListTrialsSince(*a, initial->cursor);
  ASSERT_TRUE(changed.ok());
  ASSERT_EQ(changed->trials.size(), 1u);
  EXPECT_EQ(changed->trials[0].trial.number(), 1u);
  EXPECT_EQ(changed->trials[0].trial.state(), v1::TRIAL_RUNNING);
  EXPECT_EQ(changed->cursor, 6u);

  // A rolled-back write (a duplicate number) changes nothing a reader sees.
  TrialRecord dup;
  dup.trial.set_study_id(*a);
  dup.trial.set_number(0);
  Changes bad;
  bad.trials = {&trials[2], &dup};
  ASSERT_FALSE(store.Apply(bad).ok());
  auto after_rollback = store.ListTrialsSince(*a, changed->cursor);
  ASSERT_TRUE(after_rollback.ok());
  EXPECT_TRUE(after_rollback->trials.empty());
  EXPECT_EQ(after_rollback->cursor, changed->cursor);

  // Reopened: new writes are still above every cursor handed out before.
  opened->reset();
  auto reopened = Store::Open(path_);
  ASSERT_TRUE(reopened.ok());
  trials[0].trial.set_state(v1::TRIAL_CANCELLED);
  Changes third;
  third.trials = {&trials[0]};
  ASSERT_TRUE((*reopened)->Apply(third).ok());
  auto later = (*reopened)->ListTrialsSince(*a, after_rollback->cursor);
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->trials.size(), 1u);
  EXPECT_EQ(later->trials[0].trial.state(), v1::TRIAL_CANCELLED);
  // A cursor from the future answers every trial.
  EXPECT_EQ((*reopened)->ListTrialsSince(*a, later->cursor + 1000)->trials.size(), 3u);
  EXPECT_EQ((*reopened)->ListTrialsSince(*a + 5, 0).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace hpo::storage
