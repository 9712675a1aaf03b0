#include "worker/child_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/process_state.h"

namespace hpo::worker {
namespace {

using std::chrono::milliseconds;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Polls until no pid of `pids` runs; whether that happened within `limit`.
bool AllGone(const std::vector<pid_t>& pids, milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    bool any = false;
    for (pid_t pid : pids) any |= testing::ProcessRunning(pid);
    if (!any) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
}

// The whitespace-separated pids in `text`.
std::vector<pid_t> Pids(const std::string& text) {
  std::istringstream in(text);
  std::vector<pid_t> pids;
  for (pid_t pid = 0; in >> pid;) pids.push_back(pid);
  return pids;
}

Result<ChildResult> RunShell(const std::string& script, const ChildOptions& options = ChildOptions()) {
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start({"/bin/sh", "-c", script}, options);
  if (!child.ok()) return child.status();
  return (*child)->Wait();
}

TEST(ChildProcessTest, CapturesBothStreamsAndExitStatus) {
  const Result<ChildResult> r = RunShell("echo out; echo err >&2; exit 3");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->exited);
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->term_signal, 0);
  EXPECT_FALSE(r->killed);
  EXPECT_FALSE(r->Succeeded());
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_GE(r->elapsed_s, 0.0);
}

TEST(ChildProcessTest, ExitZeroSucceeds) {
  const Result<ChildResult> r = RunShell("printf 'a b'");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->Succeeded());
  EXPECT_EQ(r->out, "a b");
  EXPECT_EQ(r->err, "");
}

TEST(ChildProcessTest, PassesArgumentsVerbatim) {
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(
      {"/bin/sh", "-c", "for a in \"$@\"; do echo \"[$a]\"; done", "sh", "--x=1 2", "", "*"});
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  const Result<ChildResult> r = (*child)->Wait();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "[--x=1 2]\n[]\n[*]\n");
}

TEST(ChildProcessTest, ReportsDeathBySignal) {
  const Result<ChildResult> r = RunShell("kill -SEGV $$");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->exited);
  EXPECT_EQ(r->term_signal, SIGSEGV);
  EXPECT_FALSE(r->killed);
}

TEST(ChildProcessTest, KillStopsTheWholeProcessGroup) {
  // The shell waits for a background grandchild that holds the pipes: both must die.
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start({"/bin/sh", "-c", "sleep 30 & wait"});
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  ChildProcess* process = child->get();
  std::thread killer([process] {
    std::this_thread::sleep_for(milliseconds(200));
    process->Kill(milliseconds(5000));
  });
  const auto start = std::chrono::steady_clock::now();
  const Result<ChildResult> r = process->Wait();
  killer.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->killed);
  EXPECT_FALSE(r->exited);
  EXPECT_EQ(r->term_signal, SIGTERM);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
}

TEST(ChildProcessTest, KillEscalatesToSigkillAfterGrace) {
  Result<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start({"/bin/sh", "-c", "trap '' TERM; echo ready; sleep 30"});
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  ChildProcess* process = child->get();
  std::thread killer([process] {
    std::this_thread::sleep_for(milliseconds(500));  // let the shell install its trap
    process->Kill(milliseconds(200));
  });
  const auto start = std::chrono::steady_clock::now();
  const Result<ChildResult> r = process->Wait();
  killer.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->killed);
  EXPECT_EQ(r->term_signal, SIGKILL);
  EXPECT_EQ(r->out, "ready\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(ChildProcessTest, KillAfterExitChangesNothing) {
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start({"/bin/sh", "-c", "exit 0"});
  ASSERT_TRUE(child.ok());
  const Result<ChildResult> r = (*child)->Wait();
  ASSERT_TRUE(r.ok());
  (*child)->Kill(milliseconds(0));
  EXPECT_TRUE(r->Succeeded());
  EXPECT_FALSE(r->killed);
}

TEST(ChildProcessTest, KillAfterExitBeforeWaitChangesNothing) {
  // The child has exited but is not reaped yet (Wait() not called): a Kill() then is too late.
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start({"/bin/sh", "-c", "echo done"});
  ASSERT_TRUE(child.ok());
  std::this_thread::sleep_for(milliseconds(300));
  (*child)->Kill(milliseconds(0));
  const Result<ChildResult> r = (*child)->Wait();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->Succeeded());
  EXPECT_FALSE(r->killed);
  EXPECT_EQ(r->out, "done\n");
}

TEST(ChildProcessTest, DestructorKillsARunningChild) {
  pid_t pid = 0;
  {
    Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start({"/bin/sh", "-c", "sleep 30"});
    ASSERT_TRUE(child.ok());
    pid = (*child)->pid();
    ASSERT_EQ(kill(pid, 0), 0);
  }
  EXPECT_NE(kill(pid, 0), 0);  // reaped: no such process
}

TEST(ChildProcessTest, MegabyteOnBothPipesDoesNotDeadlock) {
  const Result<ChildResult> r = RunShell(
      "head -c 1048576 /dev/zero | tr '\\000' b >&2; head -c 1048576 /dev/zero | tr '\\000' a; "
      "head -c 1048576 /dev/zero | tr '\\000' c >&2");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->Succeeded());
  ASSERT_EQ(r->out.size(), 1048576u);
  ASSERT_EQ(r->err.size(), 2u * 1048576u);
  EXPECT_EQ(r->out, std::string(1048576, 'a'));
  EXPECT_EQ(r->err, std::string(1048576, 'b') + std::string(1048576, 'c'));
  EXPECT_FALSE(r->out_truncated);
}

TEST(ChildProcessTest, KeepsTheTailWhenOutputIsTooLarge) {
  ChildOptions options;
  options.max_capture_bytes = 1000;
  const Result<ChildResult> r = RunShell("seq 1 100000", options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->out_truncated);
  ASSERT_EQ(r->out.size(), 1000u);
  EXPECT_EQ(r->out.substr(r->out.size() - 13), "99999\n100000\n");
}

TEST(ChildProcessTest, SetsEnvironmentAndStdinIsEmpty) {
  ChildOptions options;
  options.env = {{"HPO_CHILD_TEST", "hello"}, {"HOME", "/nowhere"}};
  const Result<ChildResult> r = RunShell("echo \"$HPO_CHILD_TEST $HOME\"; cat; echo end", options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out, "hello /nowhere\nend\n");
}

TEST(ChildProcessTest, TheWorkersTokenIsNotInherited) {
  ::setenv("HPO_TOKEN", "secret-token", 1);
  ::setenv("HPO_TOKEN_LIKE", "kept", 1);
  const Result<ChildResult> r = RunShell("echo \"${HPO_TOKEN-unset} $HPO_TOKEN_LIKE\"");
  ::unsetenv("HPO_TOKEN");
  ::unsetenv("HPO_TOKEN_LIKE");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out, "unset kept\n");
}

// Nor any variable that names where a credential is: a trial could read the file.
TEST(ChildProcessTest, VariablesNamingACredentialAreNotInherited) {
  const std::vector<std::string> secret = {
      "HPO_TOKEN_FILE", "HPO_WORKER_TOKEN", "HPO_WORKER_TOKEN_FILE", "HPO_READ_TOKEN_FILE",
      "HPO_TLS_CA",     "HPO_TLS_KEY",      "CREDENTIALS_DIRECTORY"};
  const std::vector<std::string> kept = {"HPO_TOKENS_SEEN", "HPO_COORDINATOR", "MY_TOKEN_FILE"};
  std::string script;
  for (const std::string& name : secret) {
    ::setenv(name.c_str(), "/etc/hpo/secret", 1);
    script += "echo " + name + "=${" + name + "-unset};";
  }
  for (const std::string& name : kept) {
    ::setenv(name.c_str(), "kept", 1);
    script += "echo " + name + "=${" + name + "-unset};";
  }
  const Result<ChildResult> r = RunShell(script);
  for (const std::string& name : secret) ::unsetenv(name.c_str());
  for (const std::string& name : kept) ::unsetenv(name.c_str());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string expected;
  for (const std::string& name : secret) expected += name + "=unset\n";
  for (const std::string& name : kept) expected += name + "=kept\n";
  EXPECT_EQ(r->out, expected);
}

// hpo-worker --trial-user: the child takes the user's uid, gid, groups and HOME/USER/LOGNAME, and can no
// longer read a file only the caller may.
TEST(ChildProcessTest, RunsAsAnotherUserWhenAsked) {
  if (geteuid() != 0) GTEST_SKIP() << "starting a child as another user needs root";
  const Result<RunAs> nobody = LookUpRunAs("nobody");
  ASSERT_TRUE(nobody.ok()) << nobody.status().ToString();
  const std::string secret =
      std::filesystem::temp_directory_path() / ("hpo_run_as_" + std::to_string(getpid()));
  { std::ofstream(secret) << "worker-token\n"; }
  ASSERT_EQ(chmod(secret.c_str(), 0600), 0);
  ChildOptions options;
  options.run_as = *nobody;
  const Result<ChildResult> r = RunShell(
      "id -u; id -g; echo \"$HOME $USER $LOGNAME\"; cat '" + secret + "' 2>/dev/null || echo refused",
      options);
  std::filesystem::remove(secret);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out, std::to_string(nobody->uid) + "\n" + std::to_string(nobody->gid) + "\n" + nobody->home +
                        " nobody nobody\nrefused\n");
}

TEST(ChildProcessTest, LookUpRunAsRefusesRootAndUnknownUsers) {
  const Result<RunAs> root = LookUpRunAs("root");
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().message(), "user root: is root; trials must not run as root");
  const Result<RunAs> unknown = LookUpRunAs("no-such-hpo-user");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("user no-such-hpo-user: "), std::string::npos);
}

TEST(ChildProcessTest, OtherFileDescriptorsAreClosed) {
  const int fd = open("/dev/null", O_RDONLY);  // no O_CLOEXEC: would leak without closefrom
  ASSERT_GE(fd, 0);
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const Result<ChildResult> r = RunShell("if [ -e " + path + " ]; then echo open; else echo closed; fi");
  close(fd);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out, "closed\n");
}

TEST(ChildProcessTest, RunsInItsOwnProcessGroup) {
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start({"/bin/sh", "-c", "sleep 0.2"});
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(getpgid((*child)->pid()), (*child)->pid());
  EXPECT_NE(getpgid((*child)->pid()), getpgrp());
  ASSERT_TRUE((*child)->Wait().ok());
}

TEST(ChildProcessTest, MissingProgramFailsToStart) {
  const Result<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start({"/nonexistent/hpo-train", "--x=1"});
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.status().code(), StatusCode::kNotFound);
  EXPECT_NE(child.status().message().find("/nonexistent/hpo-train"), std::string::npos);
  EXPECT_EQ(ChildProcess::Start({}).status().code(), StatusCode::kInvalidArgument);
}

TEST(ChildProcessTest, WaitTwiceFails) {
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start({"/bin/sh", "-c", "exit 0"});
  ASSERT_TRUE(child.ok());
  ASSERT_TRUE((*child)->Wait().ok());
  EXPECT_EQ((*child)->Wait().status().code(), StatusCode::kFailedPrecondition);
}

TEST(ChildProcessTest, StdoutLinesArriveOneByOneInOrder) {
  ChildOptions options;
  std::vector<std::string> lines;
  options.on_stdout_line = [&](std::string_view line) { lines.emplace_back(line); };
  // Pieces split across writes and a last line without '\n' come out whole.
  const Result<ChildResult> r =
      RunShell("printf 'a\\nb'; sleep 0.05; printf 'b\\n\\nlast'; echo err >&2", options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "bb", "", "last"}));
  EXPECT_EQ(r->out, "a\nbb\n\nlast");  // captured as before
}

TEST(ChildProcessTest, AnOverlongStdoutLineIsNotPassedOn) {
  ChildOptions options;
  std::vector<std::string> lines;
  options.on_stdout_line = [&](std::string_view line) { lines.emplace_back(line); };
  const Result<ChildResult> r =
      RunShell("echo before; head -c 1100000 /dev/zero | tr '\\000' x; echo; echo after", options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(lines, (std::vector<std::string>{"before", "after"}));
}

TEST(ChildProcessTest, TimeoutKillsTheGroupAndSaysSo) {
  ChildOptions options;
  options.timeout = milliseconds(300);
  options.timeout_grace = milliseconds(200);
  const auto start = std::chrono::steady_clock::now();
  // The shell ignores SIGTERM: SIGKILL follows after the grace period.
  const Result<ChildResult> r = RunShell("trap '' TERM; echo started; sleep 10 & wait", options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->killed);
  EXPECT_FALSE(r->exited);
  EXPECT_EQ(r->term_signal, SIGKILL);
  EXPECT_EQ(r->out, "started\n");
  EXPECT_GE(seconds, 0.5);
  EXPECT_LT(seconds, 3.0);
}

TEST(ChildProcessTest, AChildThatEndsInTimeIsNotTimedOut) {
  ChildOptions options;
  options.timeout = milliseconds(5'000);
  const Result<ChildResult> r = RunShell("exit 0", options);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->Succeeded());
  EXPECT_FALSE(r->timed_out);
}

TEST(ChildProcessTest, SearchPathFindsAProgramByName) {
  ChildOptions options;
  EXPECT_EQ(ChildProcess::Start({"sh", "-c", "exit 0"}, options).status().code(), StatusCode::kNotFound);
  options.search_path = true;
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start({"sh", "-c", "exit 4"}, options);
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  const Result<ChildResult> r = (*child)->Wait();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 4);
}

// A temporary folder with `a/tool` (executable), `b/tool` (executable) and `c/tool` (not executable),
// and PATH set to `path` (folders under it, by letter) while it lives.
class PathFixture {
 public:
  explicit PathFixture(const std::string& path_letters) {
    char dir[] = "/tmp/hpo_resolve_test_XXXXXX";
    EXPECT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    for (const char* sub : {"a", "b", "c"}) {
      std::filesystem::create_directories(dir_ + "/" + sub);
      std::ofstream(dir_ + "/" + sub + "/tool") << "#!/bin/sh\nexit 0\n";
      EXPECT_EQ(chmod((dir_ + "/" + sub + "/tool").c_str(), sub[0] == 'c' ? 0644 : 0755), 0);
    }
    const char* old = std::getenv("PATH");
    old_path_ = old != nullptr ? old : "";
    std::string path;
    for (const char letter : path_letters) path += (path.empty() ? "" : ":") + dir_ + "/" + letter;
    setenv("PATH", path.c_str(), 1);
  }
  ~PathFixture() {
    setenv("PATH", old_path_.c_str(), 1);
    std::filesystem::remove_all(dir_);
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string old_path_;
};

TEST(ResolveExecutableTest, ABareNameIsTheFirstExecutableOnPathInFull) {
  {
    const PathFixture fixture("cab");  // c/tool is not executable: a/tool is the first that runs
    EXPECT_EQ(*ResolveExecutable("tool", true), fixture.dir() + "/a/tool");
  }
  {
    const PathFixture fixture("ba");
    EXPECT_EQ(*ResolveExecutable("tool", true), fixture.dir() + "/b/tool");
    const Result<std::string> missing = ResolveExecutable("no-such-tool-hpo", true);
    EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
    EXPECT_EQ(missing.status().message(), "cannot start no-such-tool-hpo: not found on PATH (" +
                                              fixture.dir() + "/b:" + fixture.dir() + "/a)");
  }
  {
    const PathFixture fixture("c");
    const Result<std::string> denied = ResolveExecutable("tool", true);
    EXPECT_EQ(denied.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(denied.status().message(), "cannot start tool: Permission denied (" + fixture.dir() +
                                             "/c/tool is not executable, and PATH has no other)");
  }
}

TEST(ResolveExecutableTest, APathIsMadeAbsoluteFromTheWorkingDirectory) {
  const std::string cwd = std::filesystem::current_path().string();
  EXPECT_EQ(*ResolveExecutable("/usr/bin/env", true), "/usr/bin/env");
  EXPECT_EQ(*ResolveExecutable("bin/train", true), cwd + "/bin/train");
  EXPECT_EQ(*ResolveExecutable("./train.sh", true), cwd + "/train.sh");
  EXPECT_EQ(*ResolveExecutable("././x/y", false), cwd + "/x/y");
  EXPECT_EQ(*ResolveExecutable("train", false), cwd + "/train");  // no PATH search: a path
  EXPECT_EQ(ResolveExecutable("", true).status().code(), StatusCode::kInvalidArgument);
}

TEST(ChildProcessTest, AnExecutableRunsThatFileWithArgvAsGiven) {
  ChildOptions options;
  options.executable = "/bin/sh";
  Result<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start({"not-a-file-anywhere", "-c", "echo \"$0\"; exit 5"}, options);
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  const Result<ChildResult> r = (*child)->Wait();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 5);
  EXPECT_EQ(r->out, "not-a-file-anywhere\n");  // argv[0] as given
}

TEST(ChildProcessTest, WhatAFinishedChildLeftInItsGroupIsKilledAndNamed) {
  // Exits 0 at once, leaving a background job that would sleep for a minute holding stdout.
  const auto start = std::chrono::steady_clock::now();
  const Result<ChildResult> r = RunShell("sleep 60 & echo $!; exit 0");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(r->Succeeded());
  const std::vector<pid_t> pids = Pids(r->out);
  ASSERT_EQ(pids.size(), 1u) << r->out;
  ASSERT_EQ(r->stragglers.size(), 1u);
  // "sleep (PID)", or "sh (PID)" when the background shell had not yet exec'd sleep.
  const std::string pid_text = " (" + std::to_string(pids[0]) + ")";
  EXPECT_EQ(r->stragglers[0].substr(r->stragglers[0].find(' ')), pid_text) << r->stragglers[0];
  EXPECT_TRUE(AllGone(pids, milliseconds(2000))) << "the background job still runs";
}

TEST(ChildProcessTest, AChildThatLeavesNothingHasNoStragglers) {
  const Result<ChildResult> r = RunShell("sleep 0.1 & wait; echo done");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->Succeeded());
  EXPECT_TRUE(r->stragglers.empty()) << r->stragglers[0];
}

TEST(ChildProcessTest, AKilledChildsGroupIsKilledWithoutCountingStragglers) {
  Result<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start({"/bin/sh", "-c", "trap '' TERM; (trap '' TERM; sleep 60) & echo $!; sleep 60"});
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  ChildProcess* process = child->get();
  std::thread killer([process] {
    std::this_thread::sleep_for(milliseconds(300));  // let the shells install their traps
    process->Kill(milliseconds(100));
  });
  const Result<ChildResult> r = process->Wait();
  killer.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->killed);
  EXPECT_TRUE(r->stragglers.empty());
  EXPECT_TRUE(AllGone(Pids(r->out), milliseconds(2000)));
}

TEST(ChildProcessTest, TheWholeGroupDiesWhenTheProcessThatStartedItIsKilled) {
  // A stand-in for the worker: a fork of this test that starts a shell (which starts a background job
  // and a foreground one that starts another), writes the pids, and waits forever. kill -9 of it must
  // take the whole tree down, not just the shell.
  char dir[] = "/tmp/hpo_child_guard_test_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string pid_file = std::string(dir) + "/pids";
  const std::string script =
      "sleep 60 & echo $! >> " + pid_file + "; sh -c 'sleep 60 & echo $$ $! >> " + pid_file + "; wait'";
  const pid_t worker = fork();
  ASSERT_GE(worker, 0);
  if (worker == 0) {
    Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start({"/bin/sh", "-c", script});
    if (!child.ok()) _exit(1);
    std::ofstream(pid_file, std::ios::app) << (*child)->pid() << "\n";
    while (true) pause();
  }
  std::vector<pid_t> tree;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (tree.size() < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
    tree = Pids(ReadFile(pid_file));
  }
  ASSERT_EQ(tree.size(), 4u) << "the trial's tree did not start: " << ReadFile(pid_file);
  for (pid_t pid : tree) EXPECT_TRUE(testing::ProcessRunning(pid)) << pid;

  ASSERT_EQ(kill(worker, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(worker, &status, 0), worker);
  const bool gone = AllGone(tree, milliseconds(1000));
  if (!gone) {
    for (pid_t pid : tree) kill(pid, SIGKILL);
  }
  std::filesystem::remove_all(dir);
  EXPECT_TRUE(gone) << "a process of the trial outlived the worker by a second";
}

TEST(ChildProcessTest, TheLengthOfTheLastLineIsCountedWhole) {
  ChildOptions options;
  options.max_capture_bytes = 1000;
  const Result<ChildResult> r =
      RunShell("echo short; head -c 5000 /dev/zero | tr '\\000' x; echo; echo; printf '  '", options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->out_truncated);
  EXPECT_EQ(r->out_last_line_bytes, 5000u);  // the blank lines after it do not count
}

}  // namespace
}  // namespace hpo::worker
