#include "kernels/cpu_thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace hpo::kernels::cpu {
namespace {

TEST(ThreadPoolTest, RunsEveryPartOnceAndPartZeroOnTheCaller) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (int parts = 1; parts <= threads; ++parts) {
      for (int round = 0; round < 50; ++round) {
        std::vector<std::atomic<int>> runs(static_cast<size_t>(parts));
        std::thread::id part0;
        pool.Run(parts, [&](int part) {
          runs[static_cast<size_t>(part)].fetch_add(1);
          if (part == 0) part0 = std::this_thread::get_id();
        });
        for (int p = 0; p < parts; ++p)
          ASSERT_EQ(runs[static_cast<size_t>(p)].load(), 1) << threads << " " << p;
        ASSERT_EQ(part0, std::this_thread::get_id());
      }
    }
  }
}

TEST(ThreadPoolTest, PartsRunConcurrently) {
  // Part 1 waits until part 0 has seen it start: this finishes only when a worker runs part 1 while the
  // caller runs part 0.
  ThreadPool pool(2);
  std::atomic<bool> started{false};
  std::thread::id part1;
  pool.Run(2, [&](int part) {
    if (part == 1) {
      part1 = std::this_thread::get_id();
      started.store(true);
    } else {
      while (!started.load()) std::this_thread::yield();
    }
  });
  EXPECT_NE(part1, std::this_thread::get_id());
}

}  // namespace
}  // namespace hpo::kernels::cpu
