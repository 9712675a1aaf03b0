// Store: the SQLite database that is the source of truth of hpo: studies, trials with their parameters,
// metrics, last progress and step history, each study's optimizer state, and workers with their labels.
//
// Open() creates a new file or migrates an older schema forward (PRAGMA user_version); it refuses a
// file that is not SQLite, one whose schema is newer than this build, and one holding tables that are
// not hpo's, and leaves such a file untouched. The database runs in WAL mode with synchronous=FULL: when
// Apply() returns OK its changes are committed and survive a crash of the process or the machine.
//
// Thread-safe: one internal mutex serialises every call. The Store owns its connection.
#ifndef HPO_STORAGE_STORE_H_
#define HPO_STORAGE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "hpo/v1/study.pb.h"

namespace hpo::storage {

class Db;

// A trial as stored: the API record plus what the coordinator needs to resume it after a restart.
struct TrialRecord {
  v1::Trial trial;          // trial.id() == 0 for a trial not yet stored
  std::string lease_token;  // empty unless running
  int64_t lease_expires_ms = 0;
  uint64_t candidate_id = 0;  // the optimizer's id of the candidate
  std::vector<double> x;      // the candidate on the unit cube
  v1::TrialHistory history;   // every step reported on the current attempt, oldest first (the pruner's)
  // Set by the store on each write (read back by ListTrials): the database's change counter at that
  // write. Larger for a later write of any trial; ignored when writing.
  uint64_t change_seq = 0;
};

// One study's trials changed after a sequence (Store::ListTrialsSince).
struct TrialChanges {
  std::vector<TrialRecord> trials;  // by number: those whose change_seq is above the one asked for
  // The change counter as of the read: every write committed before it has a sequence <= cursor, and
  // any later write one above it. Ask with it next time to get exactly the trials written since.
  uint64_t cursor = 0;
};

struct StudyRecord {
  v1::Study study;  // counts filled in from the trials
  std::string optimizer_state;
};

// A registered worker as stored.
struct WorkerRecord {
  uint64_t id = 0;
  std::string name;
  uint32_t slots = 0;
  std::string device;
  int64_t registered_ms = 0;
  std::map<std::string, std::string> labels;  // as registered (hpo-worker --label), by name
};

// A change to one study's row.
struct StudyChange {
  uint64_t study_id = 0;
  std::optional<v1::StudyState> state;
  std::optional<int64_t> finished_ms;
  std::optional<std::string> optimizer_state;
  std::optional<std::string> error = std::nullopt;  // why the study failed (Study.error)
};

// What one Apply() commits atomically.
struct Changes {
  // Written whole (row, parameters, metrics), in order. A trial with id 0 is inserted and its id set
  // here; one with an id that has no row yet is inserted under that id.
  std::vector<TrialRecord*> trials;
  std::vector<StudyChange> studies;
};

class Store {
 public:
  static constexpr int kSchemaVersion = 4;

  // Opens or creates the database at `path` (see the class comment for what is refused).
  static Result<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schema_version();

  // Stores a new study in state RUNNING and returns its id.
  Result<uint64_t> CreateStudy(const v1::StudySpec& spec, int64_t created_ms,
                               const std::string& optimizer_state);
  // NOT_FOUND for an unknown id.
  Result<StudyRecord> GetStudy(uint64_t study_id);
  // Every study, oldest first.
  Result<std::vector<StudyRecord>> ListStudies();
  // Deletes the study and its trials (their parameters and metrics) in one transaction: all of it or, on
  // error, none. Returns how many trials went. NOT_FOUND for an unknown id. Neither its id nor its trials'
  // are used again. The pages freed are reused by later writes; a database created by this hpo (which
  // runs with auto_vacuum=INCREMENTAL) also gives them back to the file system (at the next checkpoint).
  Result<uint32_t> DeleteStudy(uint64_t study_id);

  // Commits `changes` in one transaction: all of them or, on error, none.
  Status Apply(Changes& changes);

  // NOT_FOUND for an unknown id.
  Result<TrialRecord> GetTrial(uint64_t trial_id);
  // The largest trial id ever stored (a deleted study's trials included), 0 when there is none.
  Result<uint64_t> LastTrialId();
  // The study's trials by number. NOT_FOUND for an unknown study.
  Result<std::vector<TrialRecord>> ListTrials(uint64_t study_id);
  // The study's trials written after change sequence `since` (0: all of them), by number, and the cursor
  // to ask with next. A `since` above the store's counter (a cursor of another database) is taken as 0.
  // NOT_FOUND for an unknown study.
  Result<TrialChanges> ListTrialsSince(uint64_t study_id, uint64_t since);

  // Records a worker's registration, with its labels, in one transaction and returns its new id.
  Result<uint64_t> RegisterWorker(const std::string& name, uint32_t slots, const std::string& device,
                                  int64_t now_ms, const std::map<std::string, std::string>& labels = {});
  // The ids of every worker ever registered, ascending.
  Result<std::vector<uint64_t>> WorkerIds();
  // Every worker ever registered, with its labels, by id.
  Result<std::vector<WorkerRecord>> ListWorkers();

 private:
  explicit Store(std::unique_ptr<Db> db);
  Result<StudyRecord> ReadStudy(uint64_t study_id);  // REQUIRES: mu_ held
  // The trials matching `where`, whose placeholders take `keys` in order. REQUIRES: mu_ held.
  Result<std::vector<TrialRecord>> ReadTrials(const char* where, const std::vector<int64_t>& keys);
  Status WriteTrial(TrialRecord& record);  // REQUIRES: mu_ held, in a transaction

  std::mutex mu_;
  std::unique_ptr<Db> db_;  // GUARDED_BY(mu_)
  // GUARDED_BY(mu_); the last change sequence taken by a trial write; outside Apply, the largest committed.
  uint64_t change_seq_ = 0;
};

}  // namespace hpo::storage

#endif  // HPO_STORAGE_STORE_H_
