#pragma once
// lwIP (single-threaded, NO_SYS, raw API) with one Ethernet netif over a PacketIo. Only this
// TU and lwip_worker.cpp include lwIP headers; neither includes DPDK's.
#include <cstdint>
#include <expected>
#include <memory>
#include <string>

#include "net/dpdk/packet_io.h"

namespace musqratt::net::dpdk {

struct LwipStackOptions {
  std::string ip;       // dotted quad
  std::string netmask;  // dotted quad
  std::string gateway;  // dotted quad; empty or 0.0.0.0 = none
};

/// lwIP keeps global state, so there is one stack per process. Thread: created on any thread,
/// then used only by the thread that polls it (lwIP is not thread-safe with NO_SYS).
class LwipStack {
 public:
  static std::expected<std::unique_ptr<LwipStack>, std::string> create(PacketIo& io, const LwipStackOptions& options);
  ~LwipStack();
  LwipStack(const LwipStack&) = delete;
  LwipStack& operator=(const LwipStack&) = delete;

  /// Receives one burst from each RX queue of the port and feeds it to lwIP (TCP callbacks run
  /// from here). Returns the frames.
  unsigned poll_rx();
  /// Runs lwIP's due timers (TCP fast/slow timers, ARP ageing, reassembly).
  void check_timeouts();
  /// Sends the frames lwIP produced since the last call (one rte_eth_tx_burst).
  unsigned flush_tx();
  PacketIo& io() { return io_; }
  std::string address() const;
  /// One line of lwIP's counters (TCP segments, retransmissions, drops, memory errors).
  std::string stats() const;

 private:
  explicit LwipStack(PacketIo& io) : io_(io) {}
  unsigned input_burst(unsigned queue);
  PacketIo& io_;
  void* netif_ = nullptr;  // struct netif*, kept opaque here
};

}  // namespace musqratt::net::dpdk
