#include "coordinator/fitter.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <exception>

#include "base/log.h"

namespace hpo::coordinator {
namespace {

constexpr int kNice = 19;  // the fitting thread's nice value: the least share of a busy core

}  // namespace

Fitter::Fitter() : thread_([this] { Loop(); }) {}

Fitter::~Fitter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    tasks_.clear();
  }
  wake_.notify_all();
  thread_.join();
}

void Fitter::Post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
}

size_t Fitter::Backlog() {
  std::lock_guard lock(mu_);
  return tasks_.size() + running_;
}

void Fitter::Loop() {
  // Fits yield to the threads that answer RPCs and commit: when the cores are busy, proposals fall back
  // rather than calls slow down. Best effort: an unprivileged thread may always raise its nice value.
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kNice);
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    if (stopping_) return;
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    ++running_;
    lock.unlock();
    try {
      task();
    } catch (const std::exception& e) {
      // A fit that throws (bad_alloc) loses its proposals; the study falls back and goes on.
      log::Error("model fit failed", {{"error", e.what()}});
    }
    lock.lock();
    --running_;
  }
}

}  // namespace hpo::coordinator
