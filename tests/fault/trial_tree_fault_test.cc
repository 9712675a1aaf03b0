// A trial's process tree and its worker (issue 13, item 11): kill -9 of a worker daemon takes its trial
// down with it, the trial's program and everything that program started, within a second; nothing is
// left running (and holding a GPU) while the trial is run again elsewhere.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "tests/fault/harness.h"
#include "tests/testing/process_state.h"

namespace hpo::fault {
namespace {

using namespace std::chrono_literals;

std::vector<pid_t> Pids(const std::string& text) {
  std::istringstream in(text);
  std::vector<pid_t> pids;
  for (pid_t pid = 0; in >> pid;) pids.push_back(pid);
  return pids;
}

class TrialTreeFaultTest : public FaultTest {
 protected:
  // Replaces the stand-in trainer with one that builds a tree and then sleeps: a background sleep, and
  // in the foreground a shell that starts a sleep of its own and waits for it. Every pid of the tree
  // goes to tree.pids (the trainer's own to trainer.pids too, as the harness expects).
  void UseTreeTrainer() {
    const std::string trainer = File("hpo-train");
    const std::string tree = File("tree.pids");
    std::ofstream(trainer) << "#!/bin/sh\n"
                              "echo $$ >> '"
                           << File("trainer.pids") << "'\necho $$ >> '" << tree
                           << "'\n"
                              "sleep 60 & echo $! >> '"
                           << tree << "'\nsh -c 'sleep 60 & echo $$ $! >> \"$0\"; wait' '" << tree << "'\n";
    ASSERT_EQ(chmod(trainer.c_str(), 0755), 0);
  }
};

TEST_F(TrialTreeFaultTest, KilledWorkersTrialTreeIsGoneWithinASecond) {
  ASSERT_NO_FATAL_FAILURE(UseTreeTrainer());
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  uint64_t study = 0;
  ASSERT_NO_FATAL_FAILURE(CreateStudy(StudyJson(/*max_trials=*/1, /*max_parallel=*/1, /*max_attempts=*/2,
                                                /*lease_seconds=*/60),
                                      &study));
  Process* worker = StartWorker("doomed", 1, 60.0);
  ASSERT_NE(WaitWorkerId("doomed", 10s), 0);
  std::vector<pid_t> tree;
  ASSERT_TRUE(WaitFor(
      [&] {
        tree = Pids(ReadFile(File("tree.pids")));
        return tree.size() == 4;
      },
      10s))
      << "the trial's process tree never started: " << ReadFile(File("tree.pids"));
  for (pid_t pid : tree) ASSERT_TRUE(testing::ProcessRunning(pid)) << pid;

  ASSERT_TRUE(worker->Signal(SIGKILL));
  ASSERT_TRUE(worker->Wait(5s).has_value());
  const bool gone = WaitFor(
      [&] {
        for (pid_t pid : tree) {
          if (testing::ProcessRunning(pid)) return false;
        }
        return true;
      },
      1s);
  std::string left;
  for (pid_t pid : tree) {
    if (!testing::ProcessRunning(pid)) continue;
    left += ' ';
    left += std::to_string(pid);
  }
  EXPECT_TRUE(gone) << "still running a second after the worker died:" << left;
  if (!gone) {
    for (pid_t pid : tree) kill(pid, SIGKILL);  // only what this test's trial started
  }
}

}  // namespace
}  // namespace hpo::fault
