// Fitter: the coordinator's background thread for model fits (the model-based sampler's jobs,
// search/optimizer.h), so that no RPC ever waits on one and the Core's mutex is never held during one.
//
// Tasks run one at a time, in the order posted, on one thread of the Fitter's own, at nice 10: on a
// machine whose cores also serve RPCs and commits, one fit at a time, yielding to them, is what leaves
// them room.
//
// Thread-safe. The destructor drops the tasks not yet started, waits for the one running, and joins the
// thread; whatever a task uses must outlive the Fitter.
#ifndef HPO_COORDINATOR_FITTER_H_
#define HPO_COORDINATOR_FITTER_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace hpo::coordinator {

class Fitter {
 public:
  Fitter();
  ~Fitter();
  Fitter(const Fitter&) = delete;
  Fitter& operator=(const Fitter&) = delete;

  // Queues `task` to run on the fitter's thread. Ignored once the destructor has begun.
  void Post(std::function<void()> task);

  // Tasks posted and not yet finished (queued or running).
  size_t Backlog();

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;  // GUARDED_BY(mu_)
  size_t running_ = 0;                       // GUARDED_BY(mu_)
  bool stopping_ = false;                    // GUARDED_BY(mu_)
  std::thread thread_;                       // started last, joined first
};

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_FITTER_H_
