// Storage faults: a commit that the disk refuses (full, failing), a database this process may not
// write, and a damaged write-ahead log. What hpo must do: answer UNAVAILABLE with what happened and keep
// working once the fault clears; refuse at open, naming the file; say in its log what SQLite recovered
// and what it dropped.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "base/log.h"
#include "tests/testing/fault_vfs.h"
#include "storage/sqlite.h"
#include "storage/store.h"
#include "storage/wal_scan.h"
#include "tests/testing/temp_dir.h"

namespace hpo::storage {
namespace {

namespace fs = std::filesystem;

// Before any test touches SQLite: its log is taken only before it is initialised.
const bool kLogRouted = InitSqlite();

constexpr uid_t kNobody = 65534;

v1::StudySpec Spec() {
  v1::StudySpec spec;
  spec.set_name("faults");
  spec.set_seed(3);
  auto* p = spec.add_parameters();
  p->set_name("x");
  p->mutable_float_()->set_low(0);
  p->mutable_float_()->set_high(1);
  spec.add_objectives()->set_name("f");
  spec.mutable_budget()->set_max_trials(100);
  return spec;
}

TrialRecord Trial(uint64_t study_id, uint32_t number) {
  TrialRecord record;
  record.trial.set_study_id(study_id);
  record.trial.set_number(number);
  record.trial.set_state(v1::TRIAL_COMPLETED);
  record.trial.set_seed(number);
  (*record.trial.mutable_metrics())["f"] = 0.5 + number;
  record.x = {0.25};
  return record;
}

Status ApplyOne(Store& store, TrialRecord& record) {
  Changes changes;
  changes.trials.push_back(&record);
  return store.Apply(changes);
}

// Captures the process's log lines for the life of the object.
class LogCapture {
 public:
  LogCapture() {
    log::SetSink([this](std::string_view line) {
      std::lock_guard lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { log::SetSink(nullptr); }
  // The captured lines that contain every one of `parts`.
  std::vector<std::string> Matching(const std::vector<std::string>& parts) {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const std::string& line : lines_) {
      bool all = true;
      for (const std::string& part : parts) all = all && line.find(part) != std::string::npos;
      if (all) out.push_back(line);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

class StoreFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kLogRouted);
    ASSERT_TRUE(testing::InstallFaultVfs());
    ASSERT_FALSE(dir_.path().empty());
    path_ = dir_.File("hpo.db");
  }
  void TearDown() override { testing::SetWriteFault(SQLITE_OK); }

  hpo::testing::TempDir dir_;
  std::string path_;
};

class FullDiskTest : public StoreFaultTest, public ::testing::WithParamInterface<int> {};

TEST_P(FullDiskTest, FailedCommitIsUnavailableStoresNothingAndTheStoreWritesOnceTheFaultClears) {
  auto store = Store::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto study = (*store)->CreateStudy(Spec(), 1, "");
  ASSERT_TRUE(study.ok()) << study.status().ToString();

  testing::SetWriteFault(GetParam());
  TrialRecord refused = Trial(*study, 0);
  const Status status = ApplyOne(**store, refused);
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  EXPECT_NE(status.message().find(path_), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("retry"), std::string::npos) << status.message();
  if (GetParam() == SQLITE_FULL) {
    EXPECT_NE(status.message().find("full"), std::string::npos) << status.message();
  }
  EXPECT_GT(testing::FailedWrites(), 0);

  testing::SetWriteFault(SQLITE_OK);
  auto none = (*store)->ListTrials(*study);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty()) << "a failed commit stored a trial";

  TrialRecord again = Trial(*study, 0);
  ASSERT_TRUE(ApplyOne(**store, again).ok());
  auto stored = (*store)->ListTrials(*study);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ(stored->front().trial.metrics().at("f"), 0.5);
}

INSTANTIATE_TEST_SUITE_P(Codes, FullDiskTest,
                         ::testing::Values(SQLITE_FULL, SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC));

TEST_F(StoreFaultTest, DatabaseThatCannotBeWrittenAtStartIsRefusedNamingIt) {
  ASSERT_TRUE(Store::Open(path_).ok());  // made, then closed
  testing::SetWriteFault(SQLITE_FULL);
  auto store = Store::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("database " + path_ + " cannot be written"), std::string::npos)
      << store.status().ToString();
}

// Store::Open(path) in a child process that file modes bind: as root (which ignores them) the child
// drops to the user nobody first. Returns "<code>:<message>", or "child failed".
std::string OpenAsUnprivileged(const std::string& path) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (geteuid() == 0 && (setgid(kNobody) != 0 || setuid(kNobody) != 0)) _exit(3);
    auto store = Store::Open(path);
    const std::string out =
        std::to_string(static_cast<int>(store.status().code())) + ":" + store.status().message();
    const ssize_t wrote = write(fds[1], out.data(), out.size());
    _exit(wrote == static_cast<ssize_t>(out.size()) ? 0 : 4);
  }
  close(fds[1]);
  std::string out;
  char buffer[512];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof(buffer))) > 0;) out.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) return "child failed";
  return out;
}

TEST_F(StoreFaultTest, ReadOnlyFileIsRefusedAtOpenNamingIt) {
  ASSERT_TRUE(Store::Open(path_).ok());
  fs::permissions(dir_.path(), fs::perms(0755));  // the unprivileged child may enter
  fs::permissions(path_, fs::perms(0444));
  const std::string out = OpenAsUnprivileged(path_);
  EXPECT_EQ(out.rfind(std::to_string(static_cast<int>(StatusCode::kPermissionDenied)) + ":", 0), 0u) << out;
  EXPECT_NE(out.find("database " + path_ + " is read-only"), std::string::npos) << out;
}

TEST_F(StoreFaultTest, ReadOnlyDirectoryIsRefusedAtOpenNamingTheFileAndTheDirectory) {
  ASSERT_TRUE(Store::Open(path_).ok());  // closed cleanly: no -wal or -shm beside it
  ASSERT_FALSE(fs::exists(path_ + "-wal"));
  // The file stays writable to the child; only the directory, where SQLite makes its WAL, is not.
  if (geteuid() == 0) {
    ASSERT_EQ(chown(path_.c_str(), kNobody, kNobody), 0);
  }
  fs::permissions(dir_.path(), fs::perms(0555));
  const std::string out = OpenAsUnprivileged(path_);
  fs::permissions(dir_.path(), fs::perms(0755));
  EXPECT_NE(out.rfind("0:", 0), 0u) << "opened: " << out;
  EXPECT_NE(out.find(path_), std::string::npos) << out;
  EXPECT_NE(out.find(path_ + "-wal"), std::string::npos) << out;
  EXPECT_NE(out.find("(" + dir_.path() + ")"), std::string::npos) << out;
}

// Flips `count` bytes in the page of WAL frame `frame` (1-based) of the file at `wal_path`.
void DamageFrame(const std::string& wal_path, uint32_t page_size, int64_t frame, int count) {
  std::fstream file(wal_path, std::ios::binary | std::ios::in | std::ios::out);
  ASSERT_TRUE(file);
  const std::streamoff at = 32 + (frame - 1) * (24 + std::streamoff{page_size}) + 24 + page_size / 2;
  for (int i = 0; i < count; ++i) {
    file.seekg(at + i);
    const int byte = file.get();
    file.seekp(at + i);
    file.put(static_cast<char>(byte ^ 0x5a));
  }
  ASSERT_TRUE(file.good());
}

TEST_F(StoreFaultTest, DamagedWalIsRecoveredAndTheLogSaysWhatWasRecoveredAndWhatWasDropped) {
  LogCapture log;
  const std::string copy = dir_.File("crashed.db");
  constexpr int kTrials = 30;
  {
    auto store = Store::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto study = (*store)->CreateStudy(Spec(), 1, "");
    ASSERT_TRUE(study.ok());
    for (uint32_t i = 0; i < kTrials; ++i) {  // one commit each, as the coordinator's groups are
      TrialRecord record = Trial(*study, i);
      ASSERT_TRUE(ApplyOne(**store, record).ok());
    }
    // The files as a kill -9 leaves them: the WAL not checkpointed (a clean close would fold it in).
    fs::copy_file(path_, copy);
    fs::copy_file(path_ + "-wal", copy + "-wal");
  }
  const WalFrames before = ScanWal(copy + "-wal");
  ASSERT_TRUE(before.present);
  ASSERT_GE(before.commits.size(), static_cast<size_t>(kTrials));
  // Damage a frame in the middle: every commit after it is lost on recovery.
  const int64_t damaged = before.commits[before.commits.size() / 2];
  DamageFrame(copy + "-wal", before.page_size, damaged, 8);
  const int64_t lost = CommitsAfter(before, damaged - 1);
  ASSERT_GT(lost, 1);

  auto store = Store::Open(copy);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto trials = (*store)->ListTrials(1);
  ASSERT_TRUE(trials.ok());
  EXPECT_LT(trials->size(), static_cast<size_t>(kTrials)) << "the damage was meant to lose commits";

  // SQLite's own notice, routed into hpo's log ...
  EXPECT_EQ(log.Matching({"level=info", "msg=\"sqlite log\"", "recovered", copy + "-wal"}).size(), 1u);
  // ... and what it does not say: that committed transactions were dropped, how many, from which file.
  const auto dropped = log.Matching({"level=error", "msg=\"wal recovery dropped committed transactions\"",
                                     "commits_dropped=" + std::to_string(lost), copy + "-wal"});
  EXPECT_EQ(dropped.size(), 1u);
}

TEST_F(StoreFaultTest, CleanRecoveryLogsNoDrop) {
  LogCapture log;
  const std::string copy = dir_.File("crashed.db");
  {
    auto store = Store::Open(path_);
    ASSERT_TRUE(store.ok());
    auto study = (*store)->CreateStudy(Spec(), 1, "");
    ASSERT_TRUE(study.ok());
    TrialRecord record = Trial(*study, 0);
    ASSERT_TRUE(ApplyOne(**store, record).ok());
    fs::copy_file(path_, copy);
    fs::copy_file(path_ + "-wal", copy + "-wal");
  }
  auto store = Store::Open(copy);
  ASSERT_TRUE(store.ok());
  auto trials = (*store)->ListTrials(1);
  ASSERT_TRUE(trials.ok());
  EXPECT_EQ(trials->size(), 1u);
  EXPECT_EQ(log.Matching({"msg=\"sqlite log\"", "recovered"}).size(), 1u);
  EXPECT_TRUE(log.Matching({"wal recovery dropped"}).empty());
}

}  // namespace
}  // namespace hpo::storage
