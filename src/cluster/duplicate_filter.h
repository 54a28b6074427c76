#pragma once
// Remembers which messages a node has already routed, by cluster-wide identity, so a message
// that reaches the node more than once (several NATS subscriptions of the node match it: "a/+"
// and "a/b"; a JetStream redelivery; a held message taken after it was also delivered live) is
// routed once. One sliding window of ids per publishing node instance.
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "cluster/envelope.h"
#include "util/clock.h"

namespace musqratt::cluster {

/// Thread: none (the link serialises calls). Memory: window_bits / 8 bytes per origin seen.
class DuplicateFilter {
 public:
  /// `window_bits`: a power of two; repeats are recognised at least 7/8 of it back (in the
  /// origin's message ids) from the newest id seen.
  explicit DuplicateFilter(uint32_t window_bits = 1u << 20) : bits_(window_bits) {}

  /// True the first time `who` is seen; false for a repeat. An id older than the window is
  /// reported as new (a possible duplicate beats a certain loss for QoS 1) and counted.
  bool first_time(const MessageIdentity& who, util::TimePoint now);
  /// Drops the windows of origins not seen since `before` (nodes gone or restarted).
  size_t forget_idle(util::TimePoint before);

  size_t origins() const { return windows_.size(); }
  uint64_t too_old() const { return too_old_; }

 private:
  struct Window {
    uint64_t base = 0;  // lowest id the window covers; it covers [base, base + bits_)
    std::vector<uint64_t> words;
    util::TimePoint seen{};
  };
  bool test_and_set(Window& w, uint64_t id);
  void clear_bit(Window& w, uint64_t id);

  const uint32_t bits_;
  std::unordered_map<uint64_t, Window> windows_;
  uint64_t too_old_ = 0;
};

}  // namespace musqratt::cluster
