// RunChild: runs a peer program (a Python script measuring PyTorch or Optuna) to completion and captures
// its standard output, for the benches that set a peer's figures beside ours.
#ifndef HPO_BENCH_COMMON_CHILD_H_
#define HPO_BENCH_COMMON_CHILD_H_

#include <string>
#include <vector>

#include "base/status.h"

namespace hpo::bench {

struct ChildOutput {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
};

// Runs argv (argv[0] a path) with `extra_env` ("NAME=value") added to this process's environment, stdin
// from /dev/null, stdout captured, stderr inherited (or /dev/null when quiet), and waits for it.
// INTERNAL when it cannot be started.
Result<ChildOutput> RunChild(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                             bool quiet);

// Starts argv (argv[0] a path) as a daemon of this bench: this process's environment less HPO_TOKEN (the
// bench's coordinators require none), stdin from /dev/null, stdout and stderr to the file `log`
// (truncated), and killed (SIGKILL) if the bench dies. Returns its pid, which the caller waits for;
// INTERNAL when it cannot be started.
Result<int> SpawnDaemon(const std::vector<std::string>& argv, const std::string& log);

}  // namespace hpo::bench

#endif  // HPO_BENCH_COMMON_CHILD_H_
