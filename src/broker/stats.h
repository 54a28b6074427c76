#pragma once
// Broker counters. Each thread adds to its own cache line; readers sum the slots, so the
// publish path never contends on a shared counter.
#include <array>
#include <atomic>
#include <cstdint>

namespace musqratt::broker {

enum class Counter : unsigned {
  MessagesReceived, MessagesSent, BytesReceived, BytesSent, PublishDropped,
  ClientsConnected, ClientsTotal, ClientsConnectedEver, HoldDropped, HoldDelivered,
  ConnectionsRefusedExhausted,  // accept failed for lack of descriptors or memory
  Count
};

class Stats {
 public:
  static constexpr unsigned kSlots = 64;
  /// The slot the calling thread adds to (set by each worker when it starts).
  static void set_thread_slot(unsigned slot);

  void add(Counter c, int64_t n = 1);
  uint64_t get(Counter c) const;

 private:
  struct alignas(64) Slot {
    std::array<std::atomic<int64_t>, static_cast<unsigned>(Counter::Count)> v{};
  };
  std::array<Slot, kSlots> slots_{};
};

}  // namespace musqratt::broker
