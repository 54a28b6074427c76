#pragma once
// What operators are told about a session's connection (HTTP API), and the form a session
// keeps it in. Every connection has one, so its size is paid once per idle client: packed, it
// is one pointer in the session and one allocation of exactly its bytes, where four separate
// fields behind a shared pointer took a 112-byte block and 16 bytes of atomic pointer.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/types.h"

namespace musqratt::broker {

/// The facts about a session's current (or last) connection.
struct ConnectionInfo {
  std::string username;  // empty: none given
  std::string peer;      // "address:port"
  protocol::Version version = protocol::Version::V311;
  std::chrono::system_clock::time_point connected_at{};

  bool operator==(const ConnectionInfo&) const = default;
};

/// A ConnectionInfo in one block: [connected_at][version][peer length][username length]
/// [peer][username]. Immutable once made; replaced whole at each CONNECT.
class PackedConnectionInfo {
 public:
  PackedConnectionInfo() = default;
  explicit PackedConnectionInfo(const ConnectionInfo& info);

  bool empty() const { return !bytes_; }
  /// The facts, or nullopt before the first CONNECT.
  std::optional<ConnectionInfo> unpack() const;

 private:
  // Longer names than fit the length fields are cut (a peer address is under 64 bytes, a
  // user name the operator chose; both far under 64 KiB).
  static constexpr size_t kMaxField = 0xFFFF;
  std::unique_ptr<char[]> bytes_;
};

}  // namespace musqratt::broker
