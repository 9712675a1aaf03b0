#include "base/host.h"

#include <fstream>
#include <sstream>

#include "base/strings.h"

namespace hpo {

std::string CpuModelNameFrom(std::string_view cpuinfo) {
  constexpr std::string_view kKey = "model name";
  size_t begin = 0;
  while (begin < cpuinfo.size()) {
    size_t end = cpuinfo.find('\n', begin);
    if (end == std::string_view::npos) end = cpuinfo.size();
    const std::string_view line = cpuinfo.substr(begin, end - begin);
    begin = end + 1;
    if (line.substr(0, kKey.size()) != kKey) continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view model = Trim(line.substr(colon + 1));
    if (!model.empty()) return std::string(model);
  }
  return "unknown cpu";
}

std::string CpuModelName() {
  // /proc files report size 0: read them as a stream.
  std::ifstream in("/proc/cpuinfo");
  std::ostringstream text;
  if (in) text << in.rdbuf();
  return CpuModelNameFrom(text.str());
}

}  // namespace hpo
