#pragma once
// A fixed-bucket histogram of durations, written by one thread and read by any: the shape
// Prometheus wants (cumulative counts per upper bound, a sum and a count), kept with relaxed
// atomics so that recording costs a few additions and no lock.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

namespace musqratt::util {

/// Thread: record() from one thread at a time (the owner); snapshot() from any.
class LatencyHistogram {
 public:
  /// Upper bounds in seconds, from 100 us to 10 s: a commit on a fast SSD takes well under a
  /// millisecond, one on an SD card or a busy disk tens to hundreds.
  static constexpr std::array<double, 14> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                     0.025,  0.05,    0.1,    0.25,  0.5,    1.0,  10.0};

  void record(std::chrono::nanoseconds d) {
    const double s = static_cast<double>(d.count()) * 1e-9;
    size_t i = 0;
    while (i < kBounds.size() && s > kBounds[i]) ++i;
    bump(counts_[i], 1);  // counts_[kBounds.size()] is the +Inf bucket
    bump(sum_ns_, static_cast<uint64_t>(d.count() < 0 ? 0 : d.count()));
  }

  struct Snapshot {
    std::vector<double> upper_bounds;  // ascending, +Inf implied
    std::vector<uint64_t> cumulative;  // per bound
    double sum_seconds = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const {
    Snapshot s;
    s.upper_bounds.assign(kBounds.begin(), kBounds.end());
    uint64_t running = 0;
    for (size_t i = 0; i < kBounds.size(); ++i) {
      running += counts_[i].load(std::memory_order_relaxed);
      s.cumulative.push_back(running);
    }
    s.count = running + counts_[kBounds.size()].load(std::memory_order_relaxed);
    s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) * 1e-9;
    return s;
  }

 private:
  /// One writer: a load and a store, no read-modify-write instruction.
  static void bump(std::atomic<uint64_t>& a, uint64_t n) {
    a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> counts_{};
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace musqratt::util
