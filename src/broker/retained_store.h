#pragma once
// Retained messages, one per topic (section 3.3.1.3). Read on SUBSCRIBE, written on PUBLISH
// with RETAIN; an empty payload removes the topic's message ([MQTT-3.3.1-6, 5.0],
// [MQTT-3.3.1-10, 3.1.1]).
//
// Kept in a tree with one node per topic level, so a SUBSCRIBE visits only the branches its
// filter can match (a leading wildcard no longer means a scan of every retained topic), and
// in a time-ordered index of those that expire, so expiry touches only what is due and never
// a message without an expiry.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/message.h"

namespace musqratt::broker {

/// Thread: safe from any thread. Lookups hold a shared lock while they collect pointers and
/// call nothing outside; writers hold the exclusive lock for one topic, expiry for at most a
/// bounded number of messages at a time. Ownership: holds its messages (shared).
class RetainedStore {
 public:
  RetainedStore();
  ~RetainedStore();
  RetainedStore(const RetainedStore&) = delete;
  RetainedStore& operator=(const RetainedStore&) = delete;

  /// Stores `msg` for its topic, or removes the topic's message if the payload is empty.
  void put(const MessagePtr& msg);

  /// Appends to `out` every unexpired retained message whose topic matches `filter`, in no
  /// particular order (the same for the same tree). Topics starting with '$' are matched only
  /// by filters that name their first level [MQTT-4.7.2-1, 3.1.1 and 5.0]. The cost is the
  /// number of tree nodes the filter can reach, not the number of retained messages. The lock
  /// is released on return: callers deliver (or stream the result under flow control) without
  /// holding anything.
  void collect_matching(std::string_view filter, util::TimePoint now, std::vector<MessagePtr>& out) const;
  std::vector<MessagePtr> matching(std::string_view filter, util::TimePoint now) const;
  /// Calls `visit` for each message collect_matching finds, after the lock is released.
  void for_each_matching(std::string_view filter, util::TimePoint now,
                         const std::function<void(const MessagePtr&)>& visit) const;

  /// Drops messages whose expiry has passed; returns how many. Costs one atomic load when
  /// none is due.
  size_t expire(util::TimePoint now);
  size_t size() const { return count_.load(std::memory_order_relaxed); }

 private:
  struct Node;
  class Children;
  /// Takes `msg` out if it is still the message stored for its topic (null otherwise), and
  /// prunes the levels it leaves empty. Exclusive lock held.
  MessagePtr remove_locked(const Message* msg);
  void unindex_locked(const Message& msg);
  void update_next_due_locked();

  mutable std::shared_mutex mu_;
  std::unique_ptr<Node> root_;
  // Messages with an expiry, by when they expire. Guarded by mu_.
  std::set<std::pair<util::TimePoint, const Message*>> by_expiry_;
  // The first time in by_expiry_ (max when empty), readable without the lock.
  std::atomic<util::TimePoint::rep> next_due_;
  std::atomic<size_t> count_{0};
};

}  // namespace musqratt::broker
