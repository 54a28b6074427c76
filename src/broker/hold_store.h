#pragma once
// Store-and-forward for topics nobody subscribes to yet (MusQraTT's own semantics): a message
// published to such a topic, when the topic matches a configured hold filter, waits here until
// the first matching SUBSCRIBE and is then handed to that subscriber only (work-queue style).
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "broker/message.h"
#include "broker/persistence.h"

namespace musqratt::broker {

struct HoldLimits {
  uint32_t max_messages_per_topic = 1000;
  uint64_t max_bytes = 64ull << 20;
};

/// Thread: not locked itself; the Broker serialises access with its hold mutex, which also
/// orders holding against subscribing (see Broker::subscribe).
class HoldStore {
 public:
  explicit HoldStore(HoldLimits limits) : limits_(limits) {}
  void set_persistence(Persistence* p) { store_ = p; }
  /// New limits (configuration reload); they apply from the next hold().
  void set_limits(HoldLimits limits) { limits_ = limits; }
  /// Puts back a message from durable storage (start-up only).
  void restore(uint64_t seq, const MessagePtr& msg);

  /// Holds `msg`. Returns how many older messages were dropped to make room (oldest first).
  size_t hold(const MessagePtr& msg);
  /// Removes and returns, in publish order across all topics, every unexpired held message
  /// whose topic matches `filter`.
  std::vector<MessagePtr> take_matching(std::string_view filter, util::TimePoint now);
  /// Drops expired messages; returns how many.
  size_t expire(util::TimePoint now);

  size_t message_count() const { return messages_; }
  uint64_t byte_count() const { return bytes_; }
  size_t topic_count() const { return topics_.size(); }

 private:
  struct Held {
    uint64_t seq;
    MessagePtr msg;
  };
  void drop_front(std::map<std::string, std::deque<Held>, std::less<>>::iterator it);

  HoldLimits limits_;
  Persistence* store_ = nullptr;
  std::map<std::string, std::deque<Held>, std::less<>> topics_;
  uint64_t next_seq_ = 0;
  size_t messages_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace musqratt::broker
