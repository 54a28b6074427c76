#pragma once
// Listener addresses: parsing "HOST:PORT" / "[V6]:PORT" and opening non-blocking listening sockets.
#include <cstdint>
#include <expected>
#include <string>

namespace musqratt::net {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

std::expected<HostPort, std::string> parse_endpoint(const std::string& text);
/// A bound, listening, non-blocking socket; the port actually bound is written back (port 0
/// picks a free one).
std::expected<int, std::string> open_listener(HostPort& ep);
/// "ip:port" of a connected socket's peer, for logs.
std::string peer_name(int fd);
std::string format_endpoint(const HostPort& ep);

}  // namespace musqratt::net
