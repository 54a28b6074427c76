#pragma once
// Numbers the QoS 1/2 messages a node hands to JetStream and knows which are acknowledged:
// acked() is the highest number below which every message is held by the cluster, so a
// publisher's acknowledgement can wait for it (see ClusterLink::notify_when_acked).
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "broker/waker.h"

namespace musqratt::cluster {

/// Thread: every method from any thread (a mutex inside; acked() reads an atomic).
class AckTracker {
 public:
  /// The next number, in the order messages are handed to NATS.
  uint64_t issue() { return next_.fetch_add(1, std::memory_order_relaxed); }
  /// `seq` is settled: acknowledged by JetStream, or given up (dropped and counted elsewhere,
  /// so nobody waits for it forever). Appends the links to wake to `wake`.
  void settle(uint64_t seq, std::vector<broker::Link>& wake);
  uint64_t acked() const { return watermark_.load(std::memory_order_acquire); }
  /// Registers `link` to be woken once acked() >= seq; false (and nothing registered) if it
  /// already is.
  bool wait(uint64_t seq, broker::Link link);
  /// Appends every waiter to `wake` (the link went down: nobody waits for JetStream now) and
  /// keeps them registered. A waiter woken here may look only after the link is back, find its
  /// number unsettled and wait on; the settle that follows must still reach it.
  void wake_all(std::vector<broker::Link>& wake) const;
  /// Issued and not settled yet.
  uint64_t outstanding() const;

 private:
  std::atomic<uint64_t> next_{1};
  std::atomic<uint64_t> watermark_{0};
  mutable std::mutex mu_;
  std::set<uint64_t> settled_above_;  // settled numbers beyond watermark_ + 1 (out of order)
  std::multimap<uint64_t, broker::Link> waiters_;
};

}  // namespace musqratt::cluster
