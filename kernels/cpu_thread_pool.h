// ThreadPool: the CPU backend's own worker threads for splitting one operation (a large GEMM) into parts.
// A pool of `threads` runs a call's parts on threads - 1 std::threads it owns plus the calling thread.
// Idle workers block on a condition variable: nothing spins between calls, so a pool costs no CPU time
// while the backend runs its single-threaded element loops or the trial waits. Parts go to whichever
// thread is free first (the caller takes the parts no worker has started, so a worker that the OS is slow
// to wake on a busy machine delays nothing). Which thread runs which part never changes a result: callers
// make each part a function of its index alone.
//
// Not thread-safe: one owner calls Run at a time (the backend that owns it). The destructor joins the
// workers; it must not run while Run does.
#ifndef HPO_KERNELS_CPU_THREAD_POOL_H_
#define HPO_KERNELS_CPU_THREAD_POOL_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hpo::kernels::cpu {

class ThreadPool {
 public:
  // Starts threads - 1 workers. REQUIRES: threads >= 1.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs part(i) once for every i in [0, parts) and returns when all have returned. Part 0 runs on the
  // calling thread, the others on the first threads free; `part` must not throw.
  // REQUIRES: 1 <= parts <= threads().
  void Run(int parts, const std::function<void(int)>& part);

  // Runs range(begin, end) over consecutive ranges that cover [0, n): one range per thread, each a whole
  // number of `grain`s (the last may end short) and at least `min_range` long, so that a small n runs on
  // the calling thread alone. For element-wise work, whose results do not depend on the split.
  // REQUIRES: n >= 0, grain >= 1, min_range >= 1.
  void RunRanges(int64_t n, int64_t grain, int64_t min_range,
                 const std::function<void(int64_t begin, int64_t end)>& range);

 private:
  // Runs unstarted parts of the current call until none is left. REQUIRES: lock holds mu_.
  void RunParts(std::unique_lock<std::mutex>& lock);
  void WorkerLoop();

  std::mutex mu_;
  std::condition_variable wake_;                    // workers wait here for a new generation
  std::condition_variable done_;                    // Run waits here for the last part
  uint64_t generation_ = 0;                         // GUARDED_BY(mu_); bumped by each Run with workers
  int parts_ = 0;                                   // GUARDED_BY(mu_); parts of the current call
  int next_part_ = 0;                               // GUARDED_BY(mu_); the first part not yet started
  int unfinished_ = 0;                              // GUARDED_BY(mu_); parts 1.. not yet finished
  bool stopping_ = false;                           // GUARDED_BY(mu_)
  const std::function<void(int)>* part_ = nullptr;  // GUARDED_BY(mu_); valid during Run
  std::vector<std::thread> workers_;
};

}  // namespace hpo::kernels::cpu

#endif  // HPO_KERNELS_CPU_THREAD_POOL_H_
