// AuthBackoff: failed authentications from one address space out that address's next checks.
#include "auth/auth_backoff.h"

#include <gtest/gtest.h>

using namespace musqratt::auth;
using musqratt::util::Millis;
using musqratt::util::Seconds;
using musqratt::util::TimePoint;
using V = AuthBackoff::Verdict;

namespace {
const TimePoint t0 = TimePoint{} + Seconds(100'000);
BackoffOptions opts() {
  BackoffOptions o;
  o.free_failures = 3;
  o.base_delay = Millis(100);
  o.max_delay = Millis(1600);
  o.max_wait = Millis(5000);
  o.forget_after = Seconds(60);
  o.max_addresses = 100;
  return o;
}
}  // namespace

TEST(AuthBackoff, FirstFailuresCostNothing) {
  AuthBackoff b(opts());
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(b.schedule("10.0.0.1", t0).verdict, V::Now);
    b.record_failure("10.0.0.1", t0);
  }
  EXPECT_EQ(b.schedule("10.0.0.1", t0).verdict, V::Now);
  EXPECT_EQ(b.failures("10.0.0.1", t0), 2u);
}

TEST(AuthBackoff, DelaysDoubleUpToTheCap) {
  AuthBackoff b(opts());
  TimePoint now = t0;
  std::vector<Millis> waits;
  for (int i = 0; i < 9; ++i) {
    auto d = b.schedule("a", now);
    ASSERT_NE(d.verdict, V::Refuse);
    if (d.verdict == V::Later) {
      waits.push_back(std::chrono::duration_cast<Millis>(d.not_before - now));
      now = d.not_before;
    }
    b.record_failure("a", now);
  }
  // After 3 free failures: 100, 200, 400, 800, 1600, 1600 ms.
  std::vector<Millis> expected{Millis(100), Millis(200), Millis(400), Millis(800), Millis(1600), Millis(1600)};
  EXPECT_EQ(waits, expected);
}

TEST(AuthBackoff, ParallelAttemptsAreSpacedAndTheExcessRefused) {
  AuthBackoff b(opts());
  for (int i = 0; i < 8; ++i) b.record_failure("a", t0);  // delay now 1600 ms
  std::vector<TimePoint> turns;
  int refused = 0;
  for (int i = 0; i < 20; ++i) {
    auto d = b.schedule("a", t0);
    if (d.verdict == V::Refuse) ++refused;
    else turns.push_back(d.not_before);
  }
  ASSERT_GE(turns.size(), 3u);
  for (size_t i = 1; i < turns.size(); ++i) EXPECT_EQ(turns[i] - turns[i - 1], Millis(1600));
  EXPECT_LE(turns.back() - t0, Millis(5000));
  EXPECT_EQ(refused, 20 - static_cast<int>(turns.size()));
  EXPECT_EQ(b.schedule("b", t0).verdict, V::Now) << "other addresses are not affected";
}

TEST(AuthBackoff, SuccessClearsAndQuietForgets) {
  AuthBackoff b(opts());
  for (int i = 0; i < 5; ++i) b.record_failure("a", t0);
  b.record_success("a");
  EXPECT_EQ(b.schedule("a", t0).verdict, V::Now);
  EXPECT_EQ(b.tracked(), 0u);
  for (int i = 0; i < 5; ++i) b.record_failure("c", t0);
  EXPECT_EQ(b.schedule("c", t0 + Millis(10)).verdict, V::Later);
  EXPECT_EQ(b.schedule("c", t0 + Seconds(61)).verdict, V::Now);
  EXPECT_EQ(b.failures("c", t0 + Seconds(61)), 0u);
}

TEST(AuthBackoff, MemoryIsBounded) {
  AuthBackoff b(opts());
  for (int i = 0; i < 1000; ++i) b.record_failure("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256), t0);
  EXPECT_EQ(b.tracked(), 100u);
  EXPECT_EQ(b.failures("10.1.3.231", t0), 1u) << "the most recent stay";
  EXPECT_EQ(b.failures("10.1.0.0", t0), 0u) << "the oldest went";
}
