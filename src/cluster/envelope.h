#pragma once
// What travels over NATS for one MQTT message: the payload behind a small binary header that
// carries what a subject cannot (QoS, retain, expiry, MQTT 5 properties) and the message's
// cluster-wide identity (the node instance that published it and that node's message id).
// The topic is the subject (subject_map.h). Format, version 1, all integers big-endian:
//
//   0x4D 0x01 FLAGS INSTANCE(8) ID(8) [EXPIRY(8)] [PROPERTIES] PAYLOAD
//   FLAGS: bit 0 retain, bits 1-2 QoS, bit 3 EXPIRY present (wall-clock ms since the epoch),
//          bit 4 PROPERTIES present (an MQTT 5 property list as in PUBLISH: payload format,
//          content type, response topic, correlation data, user properties).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "broker/message.h"
#include "util/clock.h"

namespace musqratt::cluster {

/// A message's identity cluster-wide: the instance of the node that published it (random per
/// process start) and the id it had there (broker::Message::id).
struct MessageIdentity {
  uint64_t instance = 0;
  uint64_t id = 0;
  bool operator==(const MessageIdentity&) const = default;
};

/// Message::origin for a message that came from another node: the top bit is set, so it never
/// equals a local session id (No Local applies only on the publisher's own node), and the rest
/// is a hash of its identity, so one message has the same origin on every node.
uint64_t remote_origin(const MessageIdentity& who);
inline bool is_remote_origin(uint64_t origin) { return origin >> 63; }

/// Appends the envelope of `msg` to `out`.
void encode_envelope(std::string& out, const broker::Message& msg, const MessageIdentity& who);

struct Decoded {
  broker::MessagePtr msg;
  MessageIdentity who;
};
/// Rebuilds the message published on `topic` from an envelope; nullopt if it is not one.
std::optional<Decoded> decode_envelope(std::string topic, std::span<const uint8_t> data);

}  // namespace musqratt::cluster
