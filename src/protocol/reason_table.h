#pragma once
// The one table of reason codes. For every (reason, protocol version, packet type) it says
// which byte goes on the wire, whether the reason may appear there, and its name. The encoder,
// the decoder and everything above them ask these functions; no other code maps reasons to
// bytes or chooses `v5 ? A : B`.
//
// What the table follows (docs/reason-codes.md has the full picture):
// - MQTT 5.0: the per-packet tables the sender MUST use — 3-1 CONNACK [MQTT-3.2.2-8, 5.0],
//   3-4..3-7 PUBACK, PUBREC, PUBREL, PUBCOMP [MQTT-3.4.2-1], [MQTT-3.5.2-1], [MQTT-3.6.2-1],
//   [MQTT-3.7.2-1] (5.0), 3-8 SUBACK [MQTT-3.9.3-2, 5.0], 3-9 UNSUBACK [MQTT-3.11.3-2, 5.0],
//   3-10 DISCONNECT [MQTT-3.14.2-1, 5.0], 3-11 AUTH [MQTT-3.15.2-1, 5.0]. The summary in
//   section 2.4 (table 2-6) differs from them twice — it lists 0x8C for DISCONNECT, which
//   table 3-10 does not, and leaves 0x99 out of CONNACK, which table 3-1 has — and the
//   per-packet tables win.
// - MQTT 3.1.1: CONNACK return codes 0x00..0x05 (table 3.1, section 3.2.2.3; 6..255 reserved)
//   and SUBACK return codes 0x00, 0x01, 0x02, 0x80 [MQTT-3.9.3-2, 3.1.1]. No other packet has
//   a reason byte; those packets imply success.
// - MQTT 3.1: the same CONNACK codes. Its SUBACK carries only granted QoS values; 0x80 is
//   sent and accepted for 3.1 as for 3.1.1, as this broker always did.
//
// A 5.0 reason sent to a 3.1/3.1.1 peer in CONNACK or SUBACK becomes the nearest 3.x code
// (ReasonUse::Mapped): server-side conditions become 0x03 "server unavailable", refusals of the
// client become 0x05 "not authorized", every SUBACK failure becomes 0x80.
//
// Thread: pure functions over constant data; safe from any thread.
#include <cstdint>
#include <optional>

#include "protocol/types.h"

namespace musqratt::protocol {

/// How a reason may appear in one packet type of one protocol version.
enum class ReasonUse : uint8_t {
  Forbidden,  ///< may not appear there (or the packet does not exist in that version)
  Allowed,    ///< one of the packet's own codes, sent as its own byte
  Mapped,     ///< 3.1/3.1.1 CONNACK and SUBACK: no code of its own; sent as the nearest 3.x code
  Implied,    ///< the packet has no reason byte in that version and means success (3.x PUBACK...)
};

/// Does `type` carry a reason code (or a list of them, SUBACK/UNSUBACK) in `version`?
bool carries_reason(Version version, PacketType type);

ReasonUse reason_use(Reason reason, Version version, PacketType type);

/// May `reason` appear in a `type` packet of `version`, as itself (Allowed) or as the success
/// a packet without reason byte stands for (Implied)?
inline bool reason_allowed(Reason reason, Version version, PacketType type) {
  ReasonUse u = reason_use(reason, version, type);
  return u == ReasonUse::Allowed || u == ReasonUse::Implied;
}

/// The byte `reason` is sent as: its own code where Allowed, the 3.x code where Mapped (e.g.
/// QuotaExceeded in a 3.1.1 CONNACK is 0x03). nullopt where it is Forbidden, and where the
/// packet has no reason byte.
std::optional<uint8_t> wire_byte(Reason reason, Version version, PacketType type);

/// The reason a received byte stands for in a `type` packet of `version`; nullopt if the byte
/// is not one of that packet's codes (the decoder treats that as a Malformed Packet) or the
/// packet has no reason byte in that version.
std::optional<Reason> reason_from_wire(uint8_t byte, Version version, PacketType type);

/// What is sent in place of a reason the packet cannot carry: the packet's generic failure
/// (0x80 where the packet has it, 0x92 for PUBREL/PUBCOMP, 0x18 for AUTH, 0x05 for a 3.x
/// CONNACK). It never turns a reason into success. Success for packets with no reason byte.
Reason fallback_reason(Version version, PacketType type);

/// The reason a peer speaking `version` reads when `wanted` is sent in a `type` packet:
/// `wanted` itself where Allowed, the reason of the 3.x code it is Mapped to, Success where the
/// packet has no reason byte, fallback_reason() where it is Forbidden. This replaces
/// `v5 ? A : B` at call sites: reason_for(v, PacketType::Connack, Reason::QuotaExceeded) is
/// ServerUnavailable for 3.1.1 and QuotaExceeded for 5.0; reason_for(v, PacketType::Puback,
/// Reason::NotAuthorized) is Success for 3.1.1, whose PUBACK says only "received".
Reason reason_for(Version version, PacketType type, Reason wanted);

/// The byte the encoder writes for `reason` in a packet that carries a reason byte:
/// wire_byte(reason_for(version, type, reason)). Call only when carries_reason() is true.
uint8_t encoded_reason(Reason reason, Version version, PacketType type);

/// The name of section 2.4, lower case ("not authorized"); "unknown reason" for a value that is
/// not a reason code. Sent as the Reason String of negative acknowledgements, so stable.
const char* reason_name(Reason reason);

/// The name the specification gives the code in that packet and version, for messages shown
/// to people: "normal disconnection" for 0x00 in a 5.0 DISCONNECT, "granted QoS 0" in SUBACK,
/// "identifier rejected" for a 3.1.1 CONNACK 0x02, "failure" for a 3.1.1 SUBACK 0x80;
/// reason_name(reason) everywhere else.
const char* reason_name(Reason reason, Version version, PacketType type);

/// Reason codes of 0x80 or more report a failure (section 2.4).
inline bool is_error(Reason reason) { return static_cast<uint8_t>(reason) >= 0x80; }

}  // namespace musqratt::protocol
