// CompactMutex: mutual exclusion under contention, and sleepers are woken (no lost wake-up).
#include "util/compact_mutex.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

using musqratt::util::CompactMutex;

TEST(CompactMutex, IsFourBytes) { EXPECT_EQ(sizeof(CompactMutex), 4u); }

TEST(CompactMutex, ExcludesUnderContention) {
  CompactMutex mu;
  uint64_t counter = 0;  // plain: a lost update shows a broken lock
  constexpr int kThreads = 4, kRounds = 200'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        std::lock_guard lock(mu);
        ++counter;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(counter, uint64_t{kThreads} * kRounds);
}

TEST(CompactMutex, SleeperIsWokenWhenHolderUnlocks) {
  CompactMutex mu;
  mu.lock();
  bool got = false;
  std::thread waiter([&] {
    std::lock_guard lock(mu);  // spins, then sleeps: the holder keeps the lock for a while
    got = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  mu.unlock();
  waiter.join();  // hangs (and the test times out) if the wake-up were lost
  EXPECT_TRUE(got);
  EXPECT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock());
  mu.unlock();
}
