// The global operator new and delete of hpo-bench-search, counting the bytes live and their peak (see
// report.h). glibc's malloc_usable_size gives a block's size at delete, so no header is added and the
// alignment is malloc's. libstdc++'s array, nothrow and sized forms call these; the sized delete is
// replaced too, for a library that calls it directly.
#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "bench/common/report.h"

namespace hpo::bench {
namespace {

std::atomic<size_t> live_bytes{0};
std::atomic<size_t> peak_bytes{0};

}  // namespace

void HeapAdded(size_t bytes) {
  const size_t now = live_bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  size_t peak = peak_bytes.load(std::memory_order_relaxed);
  while (now > peak && !peak_bytes.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void HeapRemoved(size_t bytes) { live_bytes.fetch_sub(bytes, std::memory_order_relaxed); }

size_t HeapLiveBytes() { return live_bytes.load(std::memory_order_relaxed); }
size_t HeapPeakBytes() { return peak_bytes.load(std::memory_order_relaxed); }
void ResetHeapPeak() {
  peak_bytes.store(live_bytes.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

}  // namespace hpo::bench

void* operator new(std::size_t size) {
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  hpo::bench::HeapAdded(malloc_usable_size(p));
  return p;
}

void operator delete(void* p) noexcept {
  if (p == nullptr) return;
  hpo::bench::HeapRemoved(malloc_usable_size(p));
  std::free(p);
}

void operator delete(void* p, std::size_t) noexcept { operator delete(p); }
