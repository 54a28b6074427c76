// LogRateLimiter: per-kind token buckets and their "suppressed N" accounting.
#include "util/log_rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

using musqratt::util::LogRateLimiter;
using musqratt::util::Millis;
using musqratt::util::Seconds;
using musqratt::util::TimePoint;

namespace {
const TimePoint t0 = TimePoint{} + Seconds(1000);
}

TEST(LogRateLimiter, BurstPassesThenLinesAreCountedNotWritten) {
  LogRateLimiter rl({.per_second = 2, .burst = 5});
  uint16_t k = rl.key("auth.failure");
  int written = 0;
  for (int i = 0; i < 100; ++i) written += rl.admit(k, 3, t0).write;
  EXPECT_EQ(written, 5);
  // Half a second refills one token: the next line passes and reports the 95 held back.
  auto a = rl.admit(k, 3, t0 + Millis(500));
  EXPECT_TRUE(a.write);
  EXPECT_EQ(a.suppressed_before, 95u);
  EXPECT_EQ(a.suppressed_over, Millis(500));
  EXPECT_FALSE(rl.admit(k, 3, t0 + Millis(500)).write);
}

TEST(LogRateLimiter, SustainedRateIsTheConfiguredOne) {
  LogRateLimiter rl({.per_second = 10, .burst = 10});
  uint16_t k = rl.key("net.accept");
  int written = 0;
  // 100 lines a second for 10 s, after the initial burst: 10 a second pass.
  for (int ms = 0; ms < 10'000; ms += 10) written += rl.admit(k, 3, t0 + Millis(ms)).write;
  EXPECT_GE(written, 10 + 99);
  EXPECT_LE(written, 10 + 101);
}

TEST(LogRateLimiter, KindsHaveSeparateBuckets) {
  LogRateLimiter rl({.per_second = 1, .burst = 1});
  uint16_t a = rl.key("a"), b = rl.key("b");
  EXPECT_NE(a, b);
  EXPECT_EQ(rl.key("a"), a);
  EXPECT_EQ(rl.name(b), "b");
  EXPECT_TRUE(rl.admit(a, 3, t0).write);
  EXPECT_FALSE(rl.admit(a, 3, t0).write);
  EXPECT_TRUE(rl.admit(b, 3, t0).write);
}

TEST(LogRateLimiter, ZeroRateMeansNoLimit) {
  LogRateLimiter rl({.per_second = 0, .burst = 1});
  uint16_t k = rl.key("x");
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(rl.admit(k, 3, t0).write);
}

TEST(LogRateLimiter, SummariesComeOncePerIntervalAndReset) {
  LogRateLimiter rl({.per_second = 1, .burst = 1});
  uint16_t k = rl.key("proto.violation");
  rl.admit(k, 2, t0);
  for (int i = 0; i < 7; ++i) rl.admit(k, 2, t0 + Millis(100));
  std::vector<LogRateLimiter::Summary> due;
  rl.take_due(t0 + Seconds(5), Seconds(10), due);
  EXPECT_TRUE(due.empty()) << "not yet an interval since the first suppressed line";
  rl.take_due(t0 + Millis(10'100), Seconds(10), due);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].key, k);
  EXPECT_EQ(due[0].suppressed, 7u);
  EXPECT_EQ(due[0].level, 2);
  EXPECT_EQ(due[0].over, Seconds(10));
  due.clear();
  rl.take_due(t0 + Seconds(30), Seconds(10), due);
  EXPECT_TRUE(due.empty()) << "counts are reset once reported";
}

TEST(LogRateLimiter, NewLimitsApplyAtOnce) {
  LogRateLimiter rl({.per_second = 1, .burst = 1});
  uint16_t k = rl.key("x");
  EXPECT_TRUE(rl.admit(k, 3, t0).write);
  EXPECT_FALSE(rl.admit(k, 3, t0).write);
  rl.set_limits({.per_second = 0, .burst = 1});
  EXPECT_TRUE(rl.admit(k, 3, t0).write);
}

TEST(LogRateLimiter, KeysBeyondTheTableShareOneSlot) {
  LogRateLimiter rl;
  uint16_t last = 0;
  for (size_t i = 0; i < LogRateLimiter::kMaxKeys + 10; ++i) last = rl.key("k" + std::to_string(i));
  EXPECT_EQ(last, LogRateLimiter::kMaxKeys - 1);
  EXPECT_EQ(rl.name(last), "other");
}

TEST(LogRateLimiter, ThreadsNeverPassMoreThanTheBucketHolds) {
  LogRateLimiter rl({.per_second = 1, .burst = 100});
  uint16_t k = rl.key("flood");
  constexpr int kThreads = 4, kEach = 20'000;
  std::atomic<int> written{0};
  std::atomic<uint64_t> reported{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        auto a = rl.admit(k, 3, t0);  // one instant: no refill
        written += a.write;
        reported += a.suppressed_before;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(written.load(), 100);
  std::vector<LogRateLimiter::Summary> due;
  rl.take_due(t0 + Seconds(60), Seconds(10), due);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].suppressed + reported.load(), uint64_t{kThreads * kEach - 100}) << "every line is written or counted";
}
