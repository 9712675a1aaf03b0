// What `hpoctl workers` prints: the coordinator's workers (ListWorkers) as a table, and how a study's
// deletion is reported.
//
// Pure functions, safe from any thread.
#ifndef HPO_CLIENT_WORKERS_H_
#define HPO_CLIENT_WORKERS_H_

#include <cstdint>
#include <string>

#include "hpo/v1/service.pb.h"

namespace hpo::client {

// One row per worker, by id, e.g.
//   id  name    state  slots  last heartbeat  device                      labels
//    4  node-a  live   1/2    0s ago          cpu: AMD EPYC (2 threads)  device=cpu: AMD EPYC (2 threads),
//    gpu=H100
// "slots" is the trials it runs of its slots; "last heartbeat" its last call, as an age at `now_ms` (Unix
// ms), "-" when it has not called since the coordinator started. Text from the coordinator is escaped
// for the terminal (base/strings.h EscapeForTerminal). No workers: a line saying so.
std::string FormatWorkersTable(const v1::ListWorkersResponse& workers, int64_t now_ms);

// "deleted study 3 fmnist-quick (completed, 12 trials)".
std::string FormatDeleted(const v1::DeleteStudyResponse& deleted);

}  // namespace hpo::client

#endif  // HPO_CLIENT_WORKERS_H_
