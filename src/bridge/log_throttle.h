#pragma once
// Log lines a peer can cause over and over (an upstream refusing every message, a link that
// fails the same way every second) are let through once per interval; the rest are counted
// and the count is said with the next line that gets through.
#include <cstdint>

#include "util/clock.h"

namespace musqratt::bridge {

/// Thread: one (the bridge's worker).
class LogThrottle {
 public:
  explicit LogThrottle(util::Millis interval) : interval_(interval) {}

  /// True if a line may be written now; `suppressed` is set to how many were held back since
  /// the last one that was.
  bool allow(util::TimePoint now, uint64_t& suppressed) {
    if (written_ && now - last_ < interval_) {
      ++held_;
      return false;
    }
    written_ = true;
    last_ = now;
    suppressed = held_;
    held_ = 0;
    return true;
  }
  /// Starts afresh (the condition ended): the next line always gets through.
  void reset() {
    written_ = false;
    held_ = 0;
  }

 private:
  util::Millis interval_;
  util::TimePoint last_{};
  uint64_t held_ = 0;
  bool written_ = false;
};

}  // namespace musqratt::bridge
