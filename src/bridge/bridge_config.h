#pragma once
// What one [[bridge]] table configures: a link to an upstream broker, the topics carried each
// way, and the buffer that holds what the upstream has not acknowledged yet. Defaults here
// are the documented ones (docs/bridge.md). Parsed and checked by config_parser.h.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/types.h"

namespace musqratt::bridge {

enum class Direction : uint8_t { Out, In, Both };

/// One `topics` entry, with the meaning of a Mosquitto `topic` bridge line: an `out` rule
/// subscribes locally to local_prefix + filter and publishes upstream with local_prefix
/// replaced by remote_prefix; an `in` rule subscribes upstream to remote_prefix + filter and
/// publishes locally with remote_prefix replaced by local_prefix. An empty filter with both
/// prefixes set maps one topic to another.
struct TopicRule {
  std::string filter;
  Direction direction = Direction::Out;
  uint8_t qos = 1;
  std::string local_prefix;
  std::string remote_prefix;
  bool operator==(const TopicRule&) const = default;
};

/// What a full buffer gives up.
enum class BufferFull : uint8_t { DropOldest, DropNewest };

struct BridgeConfig {
  std::string name;                    // [A-Za-z0-9_.-]+, unique: $SYS/broker/bridges/NAME
  std::vector<std::string> addresses;  // HOST:PORT, tried in order
  protocol::Version version = protocol::Version::V311;
  std::string client_id;  // towards the upstream; default "<host name>.<name>"
  std::optional<std::string> username;
  std::optional<std::string> password;
  uint16_t keepalive = 60;       // seconds; 0 = no keep-alive (a silent link goes unnoticed)
  bool clean_start = false;      // false: the upstream keeps the bridge's session
  uint32_t session_expiry = 86400;  // 5.0: seconds the upstream keeps it (3.1.1: until it ends)
  bool try_private = true;       // 3.1.1: the bridge bit in the protocol level (Mosquitto's)
  // TLS to the upstream.
  bool tls = false;              // on by default once tls_ca or tls_cert is given
  std::string tls_ca;            // empty = the system's CA store
  std::string tls_cert;
  std::string tls_key;
  bool tls_verify_hostname = true;
  std::string tls_server_name;   // SNI and the name checked; default: the address's host
  // Reconnecting.
  uint32_t reconnect_min_ms = 1000;
  uint32_t reconnect_max_ms = 60000;
  uint32_t connect_timeout_ms = 10000;  // TCP, TLS and CONNACK together
  uint16_t max_inflight = 100;          // QoS 1/2 messages sent and not yet acknowledged
  std::vector<TopicRule> topics;
  // The buffer: the bridge's queue of messages the upstream has not acknowledged.
  uint32_t buffer_max_messages = 1'000'000;  // 0 = unlimited
  uint64_t buffer_max_bytes = 0;             // payload bytes; 0 = unlimited
  BufferFull buffer_full = BufferFull::DropOldest;
  bool forward_qos0 = false;  // buffer QoS 0 messages while the link is down

  bool operator==(const BridgeConfig&) const = default;
};

/// The local session that holds a bridge's buffer: "$bridge/NAME" (no network client may
/// use such an id).
inline std::string session_client_id(const BridgeConfig& c) { return "$bridge/" + c.name; }

const char* direction_name(Direction d);
const char* buffer_full_name(BufferFull b);

}  // namespace musqratt::bridge
