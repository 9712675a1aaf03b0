#include "kernels/cpu_thread_pool.h"

#include <algorithm>
#include <cassert>

namespace hpo::kernels::cpu {

ThreadPool::ThreadPool(int threads) {
  assert(threads >= 1);
  workers_.reserve(static_cast<size_t>(threads > 1 ? threads - 1 : 0));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::Run(int parts, const std::function<void(int)>& part) {
  assert(parts >= 1 && parts <= threads());
  if (parts == 1) {
    part(0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    part_ = &part;
    parts_ = parts;
    next_part_ = 1;
    unfinished_ = parts - 1;
    ++generation_;
  }
  wake_.notify_all();
  part(0);
  std::unique_lock<std::mutex> lock(mu_);
  RunParts(lock);
  done_.wait(lock, [this] { return unfinished_ == 0; });
  part_ = nullptr;
}

void ThreadPool::RunRanges(int64_t n, int64_t grain, int64_t min_range,
                           const std::function<void(int64_t, int64_t)>& range) {
  assert(n >= 0 && grain >= 1 && min_range >= 1);
  const int64_t grains = (n + grain - 1) / grain;
  const int64_t by_size = std::max<int64_t>(1, n / min_range);
  const auto parts = static_cast<int>(std::min({grains, by_size, static_cast<int64_t>(threads())}));
  if (parts <= 1) {
    if (n > 0) range(0, n);
    return;
  }
  // Grains are dealt out evenly: the first grains % parts ranges get one more.
  const int64_t per = grains / parts;
  const int64_t extra = grains % parts;
  Run(parts, [&](int part) {
    const int64_t first = part * per + std::min<int64_t>(part, extra);
    const int64_t count = per + (part < extra ? 1 : 0);
    range(first * grain, std::min(n, (first + count) * grain));
  });
}

void ThreadPool::RunParts(std::unique_lock<std::mutex>& lock) {
  while (next_part_ < parts_) {
    const int index = next_part_++;
    const std::function<void(int)>* part = part_;
    lock.unlock();
    (*part)(index);
    lock.lock();
    if (--unfinished_ == 0) done_.notify_one();
  }
}

void ThreadPool::WorkerLoop() {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
    if (stopping_) return;
    seen = generation_;
    RunParts(lock);
  }
}

}  // namespace hpo::kernels::cpu
