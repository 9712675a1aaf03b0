#include "storage/schema.h"

namespace hpo::storage {
namespace {

constexpr std::string_view kMigrations[] = {
    // 0 -> 1: studies, trials, their parameters and metrics, workers.
    R"sql(
CREATE TABLE studies (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  spec BLOB NOT NULL,
  state INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  finished_ms INTEGER NOT NULL DEFAULT 0,
  optimizer_state BLOB NOT NULL DEFAULT x''
);
CREATE TABLE trials (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  study_id INTEGER NOT NULL REFERENCES studies(id),
  number INTEGER NOT NULL,
  state INTEGER NOT NULL,
  worker_id INTEGER NOT NULL DEFAULT 0,
  device TEXT NOT NULL DEFAULT '',
  attempt INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  started_ms INTEGER NOT NULL DEFAULT 0,
  finished_ms INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  seed INTEGER NOT NULL,
  lease_token TEXT NOT NULL DEFAULT '',
  lease_expires_ms INTEGER NOT NULL DEFAULT 0,
  candidate_id INTEGER NOT NULL,
  candidate BLOB NOT NULL,
  UNIQUE (study_id, number)
);
CREATE TABLE trial_params (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  name TEXT NOT NULL,
  real_value REAL,
  int_value INTEGER,
  text_value TEXT,
  PRIMARY KEY (trial_id, name)
);
CREATE TABLE trial_metrics (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  name TEXT NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (trial_id, name)
);
CREATE TABLE workers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  slots INTEGER NOT NULL,
  device TEXT NOT NULL,
  registered_ms INTEGER NOT NULL
);
)sql",
    // 1 -> 2: a worker's labels (matched against a study's worker_selector) and a running trial's last
    // progress (a serialized hpo.v1.TrialProgress; empty when it reported none).
    R"sql(
CREATE TABLE worker_labels (
  worker_id INTEGER NOT NULL REFERENCES workers(id),
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (worker_id, name)
);
ALTER TABLE trials ADD COLUMN progress BLOB NOT NULL DEFAULT x'';
)sql",
    // 2 -> 3: every step a trial reported (a serialized hpo.v1.TrialHistory; empty when none), which the
    // study's pruner judges, so that a restarted coordinator judges as the one before it did; and why a
    // study failed (its fail-fast limit: the last failures' reasons).
    R"sql(
ALTER TABLE trials ADD COLUMN history BLOB NOT NULL DEFAULT x'';
ALTER TABLE studies ADD COLUMN error TEXT NOT NULL DEFAULT '';
)sql",
    // 3 -> 4: each trial's change sequence: the value of a counter, shared by every trial of the database,
    // taken each time the trial's row is written, so that a reader asks for the trials changed since the
    // last sequence it saw (ListTrials' updated_since). Rows from before take their id (all below any new
    // one, as new sequences start above the largest stored).
    R"sql(
ALTER TABLE trials ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
UPDATE trials SET change_seq = id;
CREATE INDEX trials_study_change ON trials (study_id, change_seq);
)sql",
};

}  // namespace

std::span<const std::string_view> Migrations() { return kMigrations; }

}  // namespace hpo::storage
