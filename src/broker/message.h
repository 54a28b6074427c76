#pragma once
// An application message as the broker routes it: immutable once published and shared by every
// queue that holds it, so fan-out to N receivers copies a pointer, not the payload.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "broker/memory_budget.h"
#include "protocol/properties.h"
#include "util/clock.h"

namespace musqratt::broker {

struct Message {
  Message() = default;
  /// A copy is a new message: not charged, and given its own id by whoever makes it.
  Message(const Message&) = default;
  /// Not assignable: a charged message's size must stay what was charged.
  Message& operator=(const Message&) = delete;
  /// Gives the message's bytes back to the budget it was charged to, if any.
  ~Message();

  std::string topic;
  std::string payload;
  uint8_t qos = 0;
  bool retain = false;
  /// Properties forwarded to receivers (payload format, content type, response topic,
  /// correlation data, user properties), or null when there are none — most messages — which
  /// keeps a queued message small. Message expiry lives in `expires_at` instead, because what
  /// is forwarded is the remaining interval [MQTT-3.3.2-6, 5.0].
  std::shared_ptr<const protocol::Properties> properties;
  std::optional<util::TimePoint> expires_at;
  /// Session id of the publisher, for No Local; 0 for messages the broker makes itself.
  uint64_t origin = 0;
  /// Identity in durable storage, unique for the life of the data directory: given by the
  /// broker (Broker::new_message, MessageIds); 0 until then.
  uint64_t id = 0;
  /// The memory budget this message is counted in (set once, when the broker accepts it).
  BudgetLink budget;
  /// When this process made the message (published, or read back from storage at a
  /// restart): how long a queue has been waiting (a bridge's oldest_queued_age). Set by
  /// whoever makes it (Broker::new_message); the epoch when nobody did.
  util::TimePoint created{};

  bool expired(util::TimePoint now) const { return expires_at && now >= *expires_at; }
  /// Seconds left, rounded up, for the Message Expiry Interval sent to a receiver.
  std::optional<uint32_t> remaining_expiry(util::TimePoint now) const;
  size_t footprint() const { return sizeof(Message) + topic.size() + payload.size(); }
};

using MessagePtr = std::shared_ptr<const Message>;

/// Charges `m` to `budget` unless it is already charged somewhere. Thread: any.
inline void charge(MemoryBudget& budget, const Message& m) {
  if (m.budget.link(&budget)) budget.charge(m.footprint());
}

/// The ids a thread claimed from a MessageIds and has not used yet.
struct MessageIdBlock {
  uint64_t epoch = 0;  // of the MessageIds (and its reservation) the block came from
  uint64_t next = 0;
  uint64_t end = 0;
};

/// Where message ids come from: one counter per broker, continuing after the highest id the
/// store holds. Ids are unique; they are not in publishing order across threads.
///
/// Each thread takes ids from a block of kBlock it claimed from the shared counter: one atomic
/// add on a shared counter for every message was a cache line bouncing between the workers on
/// every publish (3 % of the broker's time at QoS 1 in perf). A thread's block is given up when
/// the counter has moved kStale past it (an idle thread's ids stay near everyone else's, which
/// the cluster's duplicate window relies on) and when the ids are reserved again after a restore.
/// Thread: any. Ownership: a member of the Broker.
class MessageIds {
 public:
  static constexpr uint64_t kBlock = 64;
  static constexpr uint64_t kStale = 4096;

  MessageIds() : epoch_(new_epoch()) {}
  MessageIds(const MessageIds&) = delete;
  MessageIds& operator=(const MessageIds&) = delete;

  uint64_t next() {
    Block& b = block_;
    if (b.epoch != epoch_.load(std::memory_order_acquire) || b.next == b.end ||
        next_.load(std::memory_order_relaxed) > b.end + kStale)
      claim(b);
    return b.next++;
  }
  /// After a restart: ids up to `max` are taken by stored messages.
  void reserve(uint64_t max) {
    uint64_t cur = next_.load(std::memory_order_relaxed);
    while (cur <= max && !next_.compare_exchange_weak(cur, max + 1, std::memory_order_relaxed)) {
    }
    epoch_.store(new_epoch(), std::memory_order_release);  // blocks claimed before are given up
  }

 private:
  using Block = MessageIdBlock;
  void claim(Block& b) {
    b.epoch = epoch_.load(std::memory_order_acquire);
    b.next = next_.fetch_add(kBlock, std::memory_order_relaxed);
    b.end = b.next + kBlock;
  }
  /// Unique across every MessageIds of the process (tests run several brokers in one thread).
  static uint64_t new_epoch() {
    static std::atomic<uint64_t> last{0};
    return last.fetch_add(1, std::memory_order_relaxed) + 1;
  }

  static inline thread_local Block block_;
  alignas(64) std::atomic<uint64_t> next_{1};
  alignas(64) std::atomic<uint64_t> epoch_;  // read on every call, written once or twice: its own line
};

}  // namespace musqratt::broker
