#pragma once
// Token buckets for log lines a remote peer can trigger (a failed accept, a refused CONNECT, a
// protocol violation, an authentication failure). Each kind of line is a key with its own
// bucket: a burst of `burst` lines passes, then `per_second` lines a second; what is held back is
// counted and reported as one "suppressed N similar messages" line, so a flood of connections
// cannot turn the log into a disk-filling weapon.
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "util/clock.h"
#include "util/compact_mutex.h"

namespace musqratt::util {

/// The rate of each kind of line.
struct LogRateLimits {
  uint32_t per_second = 10;  // sustained lines per second per key; 0 = no limit
  uint32_t burst = 50;       // lines that may pass at once after a quiet period
};

/// Thread: every method may be called from any thread. A key's bucket is guarded by its own
/// four-byte mutex held for a few arithmetic operations, so threads logging different kinds
/// never contend and the cost of a suppressed line is one uncontended lock and no formatting.
/// Ownership: keys are registered once per call site and never removed (at most kMaxKeys;
/// further names share the last slot, "other").
class LogRateLimiter {
 public:
  using Limits = LogRateLimits;
  struct Admission {
    bool write = false;              // write this line
    uint64_t suppressed_before = 0;  // lines held back since the last one written: report them first
    Millis suppressed_over{0};       // since the first of those
  };
  struct Summary {
    uint16_t key;
    uint64_t suppressed;
    int level;    // the level of the last suppressed line
    Millis over;  // since the first of them
  };
  static constexpr size_t kMaxKeys = 256;

  explicit LogRateLimiter(Limits limits = {});

  void set_limits(Limits limits);
  Limits limits() const;

  /// The key named `name`, registered on first use.
  uint16_t key(std::string_view name);
  std::string name(uint16_t key) const;

  /// Whether a line of kind `key` may be written now; takes a token if so.
  Admission admit(uint16_t key, int level, TimePoint now);

  /// Summaries due: keys with lines suppressed whose first suppression is at least `interval`
  /// old (so a steady flood yields one summary per interval and key). Resets their counts.
  void take_due(TimePoint now, Millis interval, std::vector<Summary>& out);

 private:
  struct Bucket {
    CompactMutex mu;
    bool started = false;
    double tokens = 0;
    TimePoint refilled{};
    uint64_t suppressed = 0;
    TimePoint first_suppressed{};
    int level = 0;
  };
  std::atomic<uint32_t> per_second_;
  std::atomic<uint32_t> burst_;
  std::array<Bucket, kMaxKeys> buckets_;
  mutable std::mutex names_mu_;
  std::vector<std::string> names_;  // guarded by names_mu_
};

}  // namespace musqratt::util
