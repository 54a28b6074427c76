#pragma once
// A DPDK ethdev port (N RX/TX queue pairs, every RX queue polled by the one thread that owns
// the port) behind the PacketIo interface. Only dpdk_port.cpp includes DPDK headers.
#include <expected>
#include <memory>
#include <optional>
#include <string>

#include "net/dpdk/packet_io.h"

namespace musqratt::net::dpdk {

struct DpdkPortOptions {
  std::string eal_args;  // whitespace-separated EAL arguments, e.g. "--no-huge --no-pci --vdev=..."
  uint16_t port_id = 0;
  uint16_t mtu = 1500;
  std::optional<MacAddress> mac;  // unset: the port's own address
  uint16_t queues = 1;            // RX/TX queue pairs; at most what the port supports
};

/// Initialises the EAL (once per process) and opens and starts the port.
/// Thread: call from the main thread before the worker that polls the port starts.
std::expected<std::unique_ptr<PacketIo>, std::string> open_dpdk_port(const DpdkPortOptions& options);

/// "aa:bb:cc:dd:ee:ff" -> bytes.
std::optional<MacAddress> parse_mac(const std::string& text);

}  // namespace musqratt::net::dpdk
