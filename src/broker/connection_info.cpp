#include "broker/connection_info.h"

#include <algorithm>
#include <cstring>

namespace musqratt::broker {
namespace {

struct Header {
  int64_t connected_at_ns;
  uint16_t peer_len;
  uint16_t username_len;
  uint8_t version;
};

}  // namespace

PackedConnectionInfo::PackedConnectionInfo(const ConnectionInfo& info) {
  Header h{};
  h.connected_at_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(info.connected_at.time_since_epoch()).count();
  h.peer_len = static_cast<uint16_t>(std::min(info.peer.size(), kMaxField));
  h.username_len = static_cast<uint16_t>(std::min(info.username.size(), kMaxField));
  h.version = static_cast<uint8_t>(info.version);
  bytes_ = std::make_unique_for_overwrite<char[]>(sizeof(Header) + h.peer_len + h.username_len);
  std::memcpy(bytes_.get(), &h, sizeof h);
  std::memcpy(bytes_.get() + sizeof h, info.peer.data(), h.peer_len);
  std::memcpy(bytes_.get() + sizeof h + h.peer_len, info.username.data(), h.username_len);
}

std::optional<ConnectionInfo> PackedConnectionInfo::unpack() const {
  if (!bytes_) return std::nullopt;
  Header h;
  std::memcpy(&h, bytes_.get(), sizeof h);
  ConnectionInfo info;
  info.connected_at = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(h.connected_at_ns)));
  info.version = static_cast<protocol::Version>(h.version);
  const char* text = bytes_.get() + sizeof h;
  info.peer.assign(text, h.peer_len);
  info.username.assign(text + h.peer_len, h.username_len);
  return info;
}

}  // namespace musqratt::broker
