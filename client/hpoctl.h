// hpoctl, the command-line client of the coordinator's StudyService, as a function: the command line
// in, an exit code out, with everything it touches outside itself (the environment, the coordinator,
// the streams, the clock, the terminal) passed in, so that tests can run every command against a fake
// coordinator.
//
//   hpoctl [--coordinator ADDR] [--token-file FILE] [--tls-ca PEM] [--deadline-ms N] COMMAND ...
//     submit FILE                 create a study from a JSON (or YAML) study file; print its id
//     studies                     list the studies [--format table|csv|json]
//     show STUDY                  one study: state, counts, budget, algorithm, objectives, space, the
//                                 front's hypervolume [--format text|json]
//     trials STUDY                its trials [--state S,...] [--format table|csv|json] [-o FILE]
//     watch STUDY                 follow it to its end with a progress bar and the front's hypervolume
//     pareto STUDY                its Pareto front [--objectives a,b] [--constraint 'm<=v' ...]
//                                 [--format table|csv|json|svg] [-o FILE]
//     export STUDY                study, spec, trials and front as one JSON document [-o FILE]
//     cancel STUDY                cancel it
//     delete STUDY                delete it and its trials (a running one only with --force)
//     workers                     the coordinator's workers: labels, device, slots in use, live or lost
//     analyze STUDY               each parameter's importance per objective and the front's summary
//                                 [--format table|json] [--trees N] [-o FILE]
//
// RunHpoctl blocks the calling thread until the command is done. It keeps no state between calls; the
// HpoctlEnv's members are borrowed and must outlive the call.
#ifndef HPO_CLIENT_HPOCTL_H_
#define HPO_CLIENT_HPOCTL_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "base/clock.h"
#include "client/study_client.h"

namespace hpo::client {

// The environment variables hpoctl reads. Flags override them.
inline constexpr char kCoordinatorEnvVar[] = "HPO_COORDINATOR";  // --coordinator
inline constexpr char kTokenFileEnvVar[] = "HPO_TOKEN_FILE";     // --token-file
// ($HPO_TOKEN, base/credentials.h, holds the token itself and is used when no token file is named.)

// The coordinator address when neither --coordinator nor $HPO_COORDINATOR names one.
inline constexpr char kDefaultCoordinator[] = "127.0.0.1:50051";

// What hpoctl reads from and writes to.
struct HpoctlEnv {
  // The value of an environment variable, or nullptr when it is unset. Default: std::getenv.
  std::function<const char*(const char*)> getenv;
  // Makes the client for `address`. Default: StudyClient::Connect.
  std::function<std::unique_ptr<StudyApi>(const std::string& address, const StudyClientOptions& options)>
      connect;
  std::istream* in = &std::cin;    // `submit -` reads the study file here
  std::ostream* out = &std::cout;  // results
  std::ostream* err = &std::cerr;  // errors, as "hpoctl: <message>"
  // True when `out` is a terminal: `watch` then rewrites a progress bar in place.
  bool out_is_terminal = false;
  size_t columns = 0;  // the terminal's width; 0: unknown
  const Clock* clock = SystemClock::Default();
  // Waits between watch polls; empty means std::this_thread::sleep_for.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// The help text's section on exit codes and environment variables (also printed by every --help).
extern const char kHpoctlExitHelp[];

// Runs hpoctl with argv[0..argc). Returns the exit code (kExit* in client/cli.h).
int RunHpoctl(int argc, const char* const* argv, const HpoctlEnv& env);

}  // namespace hpo::client

#endif  // HPO_CLIENT_HPOCTL_H_
