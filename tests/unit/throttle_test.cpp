// util::Throttle: one event per interval, the others counted; exactly one winner per interval
// when threads race.
#include "util/throttle.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace musqratt::util {
namespace {

using namespace std::chrono_literals;
const TimePoint T0 = TimePoint{} + 1000h;

TEST(Throttle, OncePerIntervalWithSuppressedCount) {
  Throttle t(10s);
  uint64_t suppressed = 99;
  EXPECT_TRUE(t.allow(T0, suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_FALSE(t.allow(T0 + 1s, suppressed));
  EXPECT_FALSE(t.allow(T0 + 9s, suppressed));
  EXPECT_TRUE(t.allow(T0 + 10s, suppressed));
  EXPECT_EQ(suppressed, 2u);
  EXPECT_FALSE(t.allow(T0 + 11s, suppressed));
  EXPECT_TRUE(t.allow(T0 + 100s, suppressed));
  EXPECT_EQ(suppressed, 1u);
}

TEST(Throttle, OneWinnerAmongRacingThreads) {
  Throttle t(1h);
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      uint64_t s;
      for (int k = 0; k < 10'000; ++k)
        if (t.allow(T0, s)) ++winners;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(winners.load(), 1);
  uint64_t suppressed = 0;
  EXPECT_TRUE(t.allow(T0 + 2h, suppressed));
  EXPECT_EQ(suppressed, 40'000u - 1);
}

}  // namespace
}  // namespace musqratt::util
