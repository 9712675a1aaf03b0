#include "kernels/cpu_thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>
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

TEST(ThreadPoolTest, RunRangesCoversEachIndexOnceInWholeGrains) {
  struct Case {
    int threads;
    int64_t n, grain, min_range;
    int expected_ranges;
  };
  const Case cases[] = {
      {1, 100000, 1024, 1, 1},    // one thread: one range
      {3, 0, 8, 1, 0},            // nothing to do: no call
      {3, 5, 8, 1, 1},            // less than a grain
      {3, 1000, 8, 600, 1},       // below twice the minimum: the caller alone
      {3, 1300, 8, 600, 2},       // room for two
      {3, 100000, 1024, 1, 3},    // one per thread
      {4, 3 * 1024, 1024, 1, 3},  // no more ranges than grains
      {4, 10 * 1024 + 1, 1024, 1, 4},
  };
  for (const Case& c : cases) {
    ThreadPool pool(c.threads);
    std::vector<std::atomic<int>> hits(static_cast<size_t>(c.n));
    std::mutex mu;
    std::vector<std::pair<int64_t, int64_t>> ranges;
    pool.RunRanges(c.n, c.grain, c.min_range, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
      std::lock_guard<std::mutex> lock(mu);
      ranges.emplace_back(begin, end);
    });
    SCOPED_TRACE(::testing::Message() << c.threads << " threads, n " << c.n);
    EXPECT_EQ(static_cast<int>(ranges.size()), c.expected_ranges);
    for (int64_t i = 0; i < c.n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << i;
    for (const auto& [begin, end] : ranges) {
      EXPECT_EQ(begin % c.grain, 0);
      EXPECT_LT(begin, end);
      if (end != c.n) {
        EXPECT_EQ(end % c.grain, 0);
      }
    }
  }
}

}  // namespace
}  // namespace hpo::kernels::cpu
