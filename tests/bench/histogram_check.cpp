// Checks musqratt-bench's histogram: every value lands in a bucket that contains it,
// buckets are at most 1 % wide, quantiles are within 1 % of the exact ones.
// Built and run by test_histogram.py.
#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "histogram.hpp"

int main() {
  using mqb::Histogram;
  int failures = 0;
  for (uint64_t v = 0; v <= Histogram::kMax; v = v < 1000 ? v + 1 : v + v / 997) {
    std::size_t i = Histogram::index(v);
    uint64_t lo = Histogram::bucket_low(i), hi = Histogram::bucket_high(i);
    if (v < lo || v > hi) { std::printf("value %llu outside its bucket\n", (unsigned long long)v); ++failures; break; }
    if (lo >= 256 && double(hi - lo + 1) / double(lo) > 0.01) { std::printf("bucket at %llu too wide\n", (unsigned long long)lo); ++failures; break; }
  }
  Histogram h, a, b;
  std::mt19937_64 rng(42);
  std::vector<uint64_t> xs;
  for (int i = 0; i < 200000; ++i) {
    uint64_t x = 1000 + rng() % 50'000'000;  // 1 us .. 50 ms
    xs.push_back(x);
    h.record(x);
    (i % 2 ? a : b).record(x);
  }
  a.merge(b);
  std::sort(xs.begin(), xs.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    double exact = double(xs[std::size_t(q * double(xs.size())) - 1]);
    double got = double(h.quantile(q));
    if (got < exact * 0.99 || got > exact * 1.01) { std::printf("q%.3f: %.0f vs exact %.0f\n", q, got, exact); ++failures; }
    if (a.quantile(q) != h.quantile(q)) { std::printf("merge differs at q%.3f\n", q); ++failures; }
  }
  if (h.max() != xs.back() || h.count() != xs.size() || a.max() != h.max()) { std::printf("max/count wrong\n"); ++failures; }
  h.record(Histogram::kMax * 10);
  if (h.max() != Histogram::kMax) { std::printf("no clamp at 60 s\n"); ++failures; }
  std::printf(failures ? "FAILED\n" : "OK\n");
  return failures ? 1 : 0;
}
