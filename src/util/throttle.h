#pragma once
// At most one event per interval, with a count of those let go in between: for log lines a
// remote peer can cause, so that no client can turn the log into a disk-filling weapon.
#include <atomic>
#include <cstdint>

#include "util/clock.h"

namespace musqratt::util {

/// Thread: any; lock-free. Several threads may call allow() at once: exactly one of them gets
/// each interval's turn.
class Throttle {
 public:
  explicit Throttle(Clock::duration interval) : interval_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(interval).count()) {}

  /// True if an event at `now` may be reported; then `suppressed` is how many were not since
  /// the last one that was. False counts the event as suppressed.
  bool allow(TimePoint now, uint64_t& suppressed) {
    int64_t t = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    int64_t next = next_ns_.load(std::memory_order_relaxed);
    if (t >= next && next_ns_.compare_exchange_strong(next, t + interval_ns_, std::memory_order_relaxed)) {
      suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
      return true;
    }
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }

 private:
  const int64_t interval_ns_;
  std::atomic<int64_t> next_ns_{INT64_MIN};
  std::atomic<uint64_t> suppressed_{0};
};

}  // namespace musqratt::util
