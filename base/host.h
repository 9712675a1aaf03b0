// Facts about the machine this process runs on, read from /proc (Linux; elsewhere the answers are the
// "unknown" ones). Free functions; safe to call from any thread.
#ifndef HPO_BASE_HOST_H_
#define HPO_BASE_HOST_H_

#include <string>
#include <string_view>

namespace hpo {

// The "model name" of the first processor listed in `cpuinfo` (text in /proc/cpuinfo's format), without
// surrounding white space, e.g. "Intel(R) Xeon(R) Platinum 8480+"; "unknown cpu" when no such line has
// a non-empty value.
std::string CpuModelNameFrom(std::string_view cpuinfo);

// CpuModelNameFrom(the contents of /proc/cpuinfo); "unknown cpu" when it cannot be read.
std::string CpuModelName();

}  // namespace hpo

#endif  // HPO_BASE_HOST_H_
