#pragma once
// The packet I/O interface between a user-level TCP/IP stack and a NIC driver: bursts of
// Ethernet frames in and out, nothing else. dpdk_port.cpp implements it with rte_ethdev;
// lwip_stack.cpp drives lwIP's netif from it. Neither side sees the other's headers.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace musqratt::net::dpdk {

using MacAddress = std::array<uint8_t, 6>;

/// A received frame, borrowed from the driver until release_rx().
struct RxFrame {
  const uint8_t* data = nullptr;
  uint16_t len = 0;
  void* handle = nullptr;
};

struct PacketIoCounters {
  uint64_t rx_frames = 0;
  uint64_t tx_frames = 0;
  uint64_t tx_dropped = 0;  // no buffer, or the queue was full after retries
  uint64_t rx_missed = 0;   // driver: frames the NIC (or kernel ring) dropped for lack of room
  uint64_t rx_errors = 0;   // driver: bad frames, and no RX buffer
  uint64_t tx_errors = 0;   // driver
  std::vector<uint64_t> rx_queue_frames;  // rx_frames per RX queue (index = queue)
};

/// Thread: one thread (the worker that polls it), after attach_thread().
class PacketIo {
 public:
  virtual ~PacketIo() = default;
  /// Makes the calling thread the one that polls (registers it with the driver if needed).
  virtual void attach_thread() {}
  /// Number of RX queues; the caller polls each of them every turn.
  virtual unsigned rx_queues() const { return 1; }
  /// Receives up to `max` frames of RX queue `queue` (< rx_queues()) into `out`; returns how many.
  virtual unsigned rx_burst(unsigned queue, RxFrame* out, unsigned max) = 0;
  /// Gives received frames back to the driver.
  virtual void release_rx(RxFrame* frames, unsigned n) = 0;
  /// A writable buffer for one outgoing frame of `len` bytes, sent at the next tx_flush()
  /// (or earlier, when a full burst has accumulated). nullptr if no buffer is free.
  virtual uint8_t* tx_frame(uint16_t len) = 0;
  /// Hands the frames queued since the last call to the NIC. Returns how many were sent.
  virtual unsigned tx_flush() = 0;
  virtual MacAddress mac() const = 0;
  virtual uint16_t mtu() const = 0;
  virtual PacketIoCounters counters() const = 0;
};

}  // namespace musqratt::net::dpdk
