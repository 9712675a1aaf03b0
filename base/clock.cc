#include "base/clock.h"

#include <chrono>

namespace hpo {

int64_t SystemClock::NowMs() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

const Clock* SystemClock::Default() {
  static const SystemClock* clock = new SystemClock();
  return clock;
}

}  // namespace hpo
