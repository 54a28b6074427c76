#pragma once
// Broker counters. Each thread adds to its own cache line; readers sum the slots, so the
// publish path never contends on a shared counter.
#include <array>
#include <atomic>
#include <cstdint>

namespace musqratt::broker {

enum class Counter : unsigned {
  // PUBLISH packets by QoS: the totals are sums, so counting by QoS costs the publish path
  // nothing over counting the total.
  MessagesReceivedQos0, MessagesReceivedQos1, MessagesReceivedQos2,
  MessagesSentQos0, MessagesSentQos1, MessagesSentQos2,
  BytesReceived, BytesSent, PublishDropped,
  ClientsConnected, ClientsTotal, ClientsConnectedEver, HoldDropped, HoldDelivered,
  MemoryRefused,  // publishes refused or dropped because the memory budget was spent
  ConnectionsRefusedExhausted,  // accept failed for lack of descriptors or memory
  Count
};

class Stats {
 public:
  static constexpr unsigned kSlots = 64;
  /// The slot the calling thread adds to (set by each worker when it starts).
  static void set_thread_slot(unsigned slot) { thread_slot_ = slot % kSlots; }
  /// The calling thread's slot (0 for threads that never set one). Other per-thread counters
  /// (the memory budget) use the same slots. Inline: it is read on the publish path.
  static unsigned thread_slot() { return thread_slot_; }

  void add(Counter c, int64_t n = 1);
  uint64_t get(Counter c) const;

  static Counter received_counter(uint8_t qos) {
    return static_cast<Counter>(static_cast<unsigned>(Counter::MessagesReceivedQos0) + (qos > 2 ? 2 : qos));
  }
  static Counter sent_counter(uint8_t qos) {
    return static_cast<Counter>(static_cast<unsigned>(Counter::MessagesSentQos0) + (qos > 2 ? 2 : qos));
  }
  /// PUBLISH packets received from clients (and wills published), all QoS.
  uint64_t messages_received() const {
    return get(Counter::MessagesReceivedQos0) + get(Counter::MessagesReceivedQos1) + get(Counter::MessagesReceivedQos2);
  }
  /// PUBLISH packets sent to clients, all QoS.
  uint64_t messages_sent() const {
    return get(Counter::MessagesSentQos0) + get(Counter::MessagesSentQos1) + get(Counter::MessagesSentQos2);
  }

 private:
  struct alignas(64) Slot {
    std::array<std::atomic<int64_t>, static_cast<unsigned>(Counter::Count)> v{};
  };
  std::array<Slot, kSlots> slots_{};
  static inline thread_local unsigned thread_slot_ = 0;
};

}  // namespace musqratt::broker
