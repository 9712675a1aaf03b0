#include "kernels/cpu_thread_pool.h"

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
