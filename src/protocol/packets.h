#pragma once
// The fifteen MQTT control packets as plain values. The codec turns bytes into these and back;
// nothing here knows about sessions or sockets.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "protocol/properties.h"
#include "protocol/types.h"

namespace musqratt::protocol {

struct Will {
  std::string topic;
  std::string payload;
  uint8_t qos = 0;
  bool retain = false;
  Properties properties;
  bool operator==(const Will&) const = default;
};

struct Connect {
  Version version = Version::V311;
  std::string protocol_name = "MQTT";
  bool clean_start = true;
  uint16_t keep_alive = 0;
  std::string client_id;
  std::optional<Will> will;
  std::optional<std::string> username;
  std::optional<std::string> password;
  Properties properties;
  /// 3.1/3.1.1: the client is a bridge (the protocol level's top bit, as Mosquitto sends it):
  /// what it publishes must not come back to it, and retained flags pass through unchanged.
  bool bridge = false;
  bool operator==(const Connect&) const = default;
};

struct Connack {
  bool session_present = false;
  Reason reason = Reason::Success;
  Properties properties;
  bool operator==(const Connack&) const = default;
};

struct Publish {
  std::string topic;
  std::string payload;
  uint8_t qos = 0;
  bool retain = false;
  bool dup = false;
  uint16_t packet_id = 0;
  Properties properties;
  bool operator==(const Publish&) const = default;
};

/// PUBACK, PUBREC, PUBREL and PUBCOMP share one shape.
struct Ack {
  PacketType type = PacketType::Puback;
  uint16_t packet_id = 0;
  Reason reason = Reason::Success;
  Properties properties;
  bool operator==(const Ack&) const = default;
};

struct SubscribeOptions {
  uint8_t qos = 0;
  bool no_local = false;
  bool retain_as_published = false;
  uint8_t retain_handling = 0;
  bool operator==(const SubscribeOptions&) const = default;
};

struct Subscription {
  std::string filter;
  SubscribeOptions options;
  bool operator==(const Subscription&) const = default;
};

struct Subscribe {
  uint16_t packet_id = 0;
  std::vector<Subscription> subscriptions;
  Properties properties;
  bool operator==(const Subscribe&) const = default;
};

struct Suback {
  uint16_t packet_id = 0;
  std::vector<Reason> reasons;
  Properties properties;
  bool operator==(const Suback&) const = default;
};

struct Unsubscribe {
  uint16_t packet_id = 0;
  std::vector<std::string> filters;
  Properties properties;
  bool operator==(const Unsubscribe&) const = default;
};

struct Unsuback {
  uint16_t packet_id = 0;
  std::vector<Reason> reasons;  // MQTT 5 only; empty in 3.1.1
  Properties properties;
  bool operator==(const Unsuback&) const = default;
};

struct Pingreq {
  bool operator==(const Pingreq&) const = default;
};
struct Pingresp {
  bool operator==(const Pingresp&) const = default;
};

struct Disconnect {
  Reason reason = Reason::Success;
  Properties properties;
  bool operator==(const Disconnect&) const = default;
};

struct Auth {
  Reason reason = Reason::Success;
  Properties properties;
  bool operator==(const Auth&) const = default;
};

using Packet = std::variant<Connect, Connack, Publish, Ack, Subscribe, Suback, Unsubscribe,
                            Unsuback, Pingreq, Pingresp, Disconnect, Auth>;

PacketType packet_type(const Packet& p);
const char* packet_type_name(PacketType t);

}  // namespace musqratt::protocol
