// Clock: where hpo reads the time, so that leases and deadlines can be tested with a FakeClock.
//
// SystemClock is thread-safe and stateless. FakeClock is thread-safe; it moves only when told to.
#ifndef HPO_BASE_CLOCK_H_
#define HPO_BASE_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace hpo {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (wall time, for timestamps and lease expiries).
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
  // The process-wide instance; never destroyed.
  static const Clock* Default();
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'000'000) : now_ms_(start_ms) {}
  int64_t NowMs() const override { return now_ms_.load(); }
  void AdvanceMs(int64_t ms) { now_ms_ += ms; }
  void SetMs(int64_t ms) { now_ms_ = ms; }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace hpo

#endif  // HPO_BASE_CLOCK_H_
