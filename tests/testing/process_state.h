// What tests know about a process by its pid, from /proc: whether it still runs.
#ifndef HPO_TESTS_TESTING_PROCESS_STATE_H_
#define HPO_TESTS_TESTING_PROCESS_STATE_H_

#include <signal.h>
#include <sys/types.h>

#include <fstream>
#include <sstream>
#include <string>

namespace hpo::testing {

// Whether `pid` runs. A zombie (dead, not yet reaped by whoever adopted it; PID 1 in a container may never
// reap) does not.
inline bool ProcessRunning(pid_t pid) {
  if (kill(pid, 0) != 0) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::stringstream text;
  text << in.rdbuf();
  const std::string stat = text.str();
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

}  // namespace hpo::testing

#endif  // HPO_TESTS_TESTING_PROCESS_STATE_H_
