// hpoctl: the command-line client of the hpo coordinator's StudyService. The commands, their options,
// the environment variables and the exit codes are described in client/hpoctl.h and by `hpoctl --help`.
#include <sys/ioctl.h>
#include <unistd.h>

#include "client/hpoctl.h"

int main(int argc, char** argv) {
  hpo::client::HpoctlEnv env;
  env.out_is_terminal = isatty(STDOUT_FILENO) == 1;
  winsize size{};
  if (env.out_is_terminal && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0) env.columns = size.ws_col;
  return hpo::client::RunHpoctl(argc, argv, env);
}
