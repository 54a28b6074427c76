#pragma once
// Kernel options of an accepted connection's socket, set once when it is accepted.
//
// Why the send buffer of a nearby peer is capped: Linux grows a TCP socket's send buffer with
// the data waiting in it (tcp_wmem, up to 4 MiB by default). For a peer on the same machine or
// the same LAN segment that only adds a queue the broker cannot see: bytes handed to the kernel
// are out of reach of the broker's own queue limits, its QoS 0 drop policy and its metrics,
// and by the time the peer reads them they have left the CPU caches. When a subscriber reads a
// large-message stream a little slower than it arrives, that queue fills to megabytes, every
// message is copied cold, the broker gets slower, and the queue stays full (measured on
// loopback with 16 KiB messages: a third of the throughput). A peer under a millisecond away
// needs far less: 256 KiB (the kernel doubles it) covers the bandwidth-delay product of such a
// path beyond 4 Gbit/s. A distant peer keeps the kernel's autotuning, which a long path needs
// to keep it full. See docs/transports.md ("Send buffers of nearby peers").

#include <cstdint>

namespace musqratt::net {

struct AcceptedSocketOptions {
  /// SO_SNDBUF for a peer whose round trip at accept time is under kNearbyRttUs; zero leaves
  /// the kernel's autotuning on for every peer.
  uint32_t local_send_buffer = 256 * 1024;
};

/// A peer whose handshake round trip was shorter than this is "nearby".
constexpr uint32_t kNearbyRttUs = 1000;

/// Whether a connection whose measured round trip is `rtt_us` (0 = none measured) is nearby.
constexpr bool is_nearby_peer(uint32_t rtt_us) { return rtt_us > 0 && rtt_us < kNearbyRttUs; }

/// The round trip the kernel measured for `fd` (TCP_INFO tcpi_rtt, microseconds; the
/// handshake's when called right after accept), or 0 when it has none.
uint32_t measured_rtt_us(int fd);

/// TCP_NODELAY, and the send-buffer cap for a nearby peer. Returns whether the cap was set.
bool tune_accepted_socket(int fd, const AcceptedSocketOptions& options);

}  // namespace musqratt::net
