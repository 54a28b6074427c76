// util::LatencyHistogram: the cumulative shape Prometheus wants, from one writer's records.
#include <gtest/gtest.h>

#include "util/latency_histogram.h"

namespace musqratt::util {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(LatencyHistogram, CumulativeCountsPerUpperBound) {
  LatencyHistogram h;
  h.record(microseconds(50));    // <= 100 us
  h.record(microseconds(100));   // <= 100 us (bounds are inclusive, as Prometheus' le)
  h.record(milliseconds(3));     // <= 5 ms
  h.record(seconds(30));         // beyond 10 s: +Inf only
  auto s = h.snapshot();
  ASSERT_EQ(s.upper_bounds.size(), s.cumulative.size());
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.cumulative.front(), 2u);  // le 0.0001
  auto at = [&](double bound) {
    for (size_t i = 0; i < s.upper_bounds.size(); ++i)
      if (s.upper_bounds[i] == bound) return s.cumulative[i];
    ADD_FAILURE() << bound;
    return uint64_t{0};
  };
  EXPECT_EQ(at(0.0025), 2u);
  EXPECT_EQ(at(0.005), 3u);
  EXPECT_EQ(at(10.0), 3u);
  EXPECT_NEAR(s.sum_seconds, 30.00315, 1e-9);
  for (size_t i = 1; i < s.cumulative.size(); ++i) EXPECT_LE(s.cumulative[i - 1], s.cumulative[i]);
}

TEST(LatencyHistogram, EmptyIsAllZero) {
  auto s = LatencyHistogram().snapshot();
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.sum_seconds, 0.0);
  for (uint64_t c : s.cumulative) EXPECT_EQ(c, 0u);
}

}  // namespace
}  // namespace musqratt::util
