// The reason-code table itself: one row per 5.0 reason code, and the few functions that read
// it. Lookups are O(1) through indexes built at compile time, since the encoder asks for every
// acknowledgement it writes.
#include "protocol/reason_table.h"

#include <array>
#include <cstddef>
#include <iterator>

namespace musqratt::protocol {
namespace {

constexpr uint16_t bit(PacketType t) { return static_cast<uint16_t>(1u << static_cast<unsigned>(t)); }

constexpr uint16_t CONNACK = bit(PacketType::Connack);
constexpr uint16_t PUBACK = bit(PacketType::Puback);
constexpr uint16_t PUBREC = bit(PacketType::Pubrec);
constexpr uint16_t PUBREL = bit(PacketType::Pubrel);
constexpr uint16_t PUBCOMP = bit(PacketType::Pubcomp);
constexpr uint16_t SUBACK = bit(PacketType::Suback);
constexpr uint16_t UNSUBACK = bit(PacketType::Unsuback);
constexpr uint16_t DISCONNECT = bit(PacketType::Disconnect);
constexpr uint16_t AUTH = bit(PacketType::Auth);
/// Packets that carry a reason code in 5.0 (section 2.4) and in 3.1/3.1.1 (CONNACK, SUBACK).
constexpr uint16_t kCarries5 = CONNACK | PUBACK | PUBREC | PUBREL | PUBCOMP | SUBACK | UNSUBACK | DISCONNECT | AUTH;
constexpr uint16_t kCarries3 = CONNACK | SUBACK;

/// A reason in a 3.1/3.1.1 CONNACK or SUBACK: the 3.x code it is sent as, whether that code
/// is its own (Allowed, with the 3.1.1 name) or only the nearest one (Mapped), or Forbidden.
struct Code3 {
  ReasonUse use = ReasonUse::Forbidden;
  uint8_t byte = 0;
  const char* name = nullptr;
};
constexpr Code3 own(uint8_t byte, const char* name) { return {ReasonUse::Allowed, byte, name}; }
constexpr Code3 as(uint8_t byte) { return {ReasonUse::Mapped, byte, nullptr}; }
constexpr Code3 kNo{};

// The 3.x codes 5.0 reasons are mapped to (section 3.2.2.3 of 3.1.1, table 3.1).
constexpr uint8_t kServerUnavailable3 = 0x03;  // a condition of the server
constexpr uint8_t kNotAuthorized3 = 0x05;      // the server refuses what the client sent
constexpr uint8_t kFailure3 = 0x80;            // SUBACK failure

struct Row {
  Reason reason;
  const char* name;  // section 2.4, lower case
  uint16_t v5;       // packets whose 5.0 table lists it
  Code3 connack3;    // 3.1/3.1.1 CONNACK
  Code3 suback3;     // 3.1/3.1.1 SUBACK
  const char* name_in_disconnect = nullptr;  // 5.0 name where it differs (only 0x00 has one)
  const char* name_in_suback = nullptr;
};

// One row per 5.0 reason code: its name, the 5.0 packets whose table lists it, and what it is
// in a 3.1/3.1.1 CONNACK and SUBACK.
constexpr Row kRows[] = {
  {Reason::Success, "success", CONNACK | PUBACK | PUBREC | PUBREL | PUBCOMP | SUBACK | UNSUBACK | DISCONNECT | AUTH,
   own(0x00, "connection accepted"), own(0x00, "granted QoS 0"), "normal disconnection", "granted QoS 0"},
  {Reason::GrantedQos1, "granted QoS 1", SUBACK, kNo, own(0x01, "granted QoS 1")},
  {Reason::GrantedQos2, "granted QoS 2", SUBACK, kNo, own(0x02, "granted QoS 2")},
  {Reason::DisconnectWithWill, "disconnect with will message", DISCONNECT, kNo, kNo},
  {Reason::NoMatchingSubscribers, "no matching subscribers", PUBACK | PUBREC, kNo, kNo},
  {Reason::NoSubscriptionExisted, "no subscription existed", UNSUBACK, kNo, kNo},
  {Reason::ContinueAuthentication, "continue authentication", AUTH, kNo, kNo},
  {Reason::ReAuthenticate, "re-authenticate", AUTH, kNo, kNo},
  {Reason::UnspecifiedError, "unspecified error", CONNACK | PUBACK | PUBREC | SUBACK | UNSUBACK | DISCONNECT,
   as(kNotAuthorized3), own(kFailure3, "failure")},
  {Reason::MalformedPacket, "malformed packet", CONNACK | DISCONNECT, as(kNotAuthorized3), kNo},
  {Reason::ProtocolError, "protocol error", CONNACK | DISCONNECT, as(kNotAuthorized3), kNo},
  {Reason::ImplementationSpecificError, "implementation specific error",
   CONNACK | PUBACK | PUBREC | SUBACK | UNSUBACK | DISCONNECT, as(kNotAuthorized3), as(kFailure3)},
  {Reason::UnsupportedProtocolVersion, "unsupported protocol version", CONNACK,
   own(0x01, "unacceptable protocol version"), kNo},
  {Reason::ClientIdentifierNotValid, "client identifier not valid", CONNACK, own(0x02, "identifier rejected"), kNo},
  {Reason::BadUserNameOrPassword, "bad user name or password", CONNACK, own(0x04, "bad user name or password"), kNo},
  {Reason::NotAuthorized, "not authorized", CONNACK | PUBACK | PUBREC | SUBACK | UNSUBACK | DISCONNECT,
   own(0x05, "not authorized"), as(kFailure3)},
  {Reason::ServerUnavailable, "server unavailable", CONNACK, own(0x03, "server unavailable"), kNo},
  {Reason::ServerBusy, "server busy", CONNACK | DISCONNECT, as(kServerUnavailable3), kNo},
  {Reason::Banned, "banned", CONNACK, as(kNotAuthorized3), kNo},
  {Reason::ServerShuttingDown, "server shutting down", DISCONNECT, kNo, kNo},
  // Table 2-6 also lists DISCONNECT for 0x8C; table 3-10 does not.
  {Reason::BadAuthenticationMethod, "bad authentication method", CONNACK, as(kNotAuthorized3), kNo},
  {Reason::KeepAliveTimeout, "keep alive timeout", DISCONNECT, kNo, kNo},
  {Reason::SessionTakenOver, "session taken over", DISCONNECT, kNo, kNo},
  {Reason::TopicFilterInvalid, "topic filter invalid", SUBACK | UNSUBACK | DISCONNECT, kNo, as(kFailure3)},
  {Reason::TopicNameInvalid, "topic name invalid", CONNACK | PUBACK | PUBREC | DISCONNECT, as(kNotAuthorized3), kNo},
  {Reason::PacketIdentifierInUse, "packet identifier in use", PUBACK | PUBREC | SUBACK | UNSUBACK, kNo, as(kFailure3)},
  {Reason::PacketIdentifierNotFound, "packet identifier not found", PUBREL | PUBCOMP, kNo, kNo},
  {Reason::ReceiveMaximumExceeded, "receive maximum exceeded", DISCONNECT, kNo, kNo},
  {Reason::TopicAliasInvalid, "topic alias invalid", DISCONNECT, kNo, kNo},
  {Reason::PacketTooLarge, "packet too large", CONNACK | DISCONNECT, as(kNotAuthorized3), kNo},
  {Reason::MessageRateTooHigh, "message rate too high", DISCONNECT, kNo, kNo},
  {Reason::QuotaExceeded, "quota exceeded", CONNACK | PUBACK | PUBREC | SUBACK | DISCONNECT, as(kServerUnavailable3),
   as(kFailure3)},
  {Reason::AdministrativeAction, "administrative action", DISCONNECT, kNo, kNo},
  // Table 3-1 lists CONNACK for 0x99 (a will payload not in its declared format); table 2-6 does not.
  {Reason::PayloadFormatInvalid, "payload format invalid", CONNACK | PUBACK | PUBREC | DISCONNECT, as(kNotAuthorized3),
   kNo},
  {Reason::RetainNotSupported, "retain not supported", CONNACK | DISCONNECT, as(kNotAuthorized3), kNo},
  {Reason::QosNotSupported, "QoS not supported", CONNACK | DISCONNECT, as(kNotAuthorized3), kNo},
  {Reason::UseAnotherServer, "use another server", CONNACK | DISCONNECT, as(kServerUnavailable3), kNo},
  {Reason::ServerMoved, "server moved", CONNACK | DISCONNECT, as(kServerUnavailable3), kNo},
  {Reason::SharedSubscriptionsNotSupported, "shared subscriptions not supported", SUBACK | DISCONNECT, kNo,
   as(kFailure3)},
  {Reason::ConnectionRateExceeded, "connection rate exceeded", CONNACK | DISCONNECT, as(kServerUnavailable3), kNo},
  {Reason::MaximumConnectTime, "maximum connect time", DISCONNECT, kNo, kNo},
  {Reason::SubscriptionIdentifiersNotSupported, "subscription identifiers not supported", SUBACK | DISCONNECT, kNo,
   as(kFailure3)},
  {Reason::WildcardSubscriptionsNotSupported, "wildcard subscriptions not supported", SUBACK | DISCONNECT, kNo,
   as(kFailure3)},
};

constexpr uint8_t kNoRow = 0xFF;
static_assert(std::size(kRows) < kNoRow);

/// Row index by 5.0 byte (the Reason value).
constexpr auto kByReason = [] {
  std::array<uint8_t, 256> index{};
  index.fill(kNoRow);
  for (size_t i = 0; i < std::size(kRows); ++i) index[static_cast<uint8_t>(kRows[i].reason)] = static_cast<uint8_t>(i);
  return index;
}();

/// Row index by 3.x code, for the codes that are some reason's own (Allowed) code.
template <Code3 Row::*Column>
constexpr auto by_code3() {
  std::array<uint8_t, 256> index{};
  index.fill(kNoRow);
  for (size_t i = 0; i < std::size(kRows); ++i) {
    const Code3& c = kRows[i].*Column;
    if (c.use == ReasonUse::Allowed) index[c.byte] = static_cast<uint8_t>(i);
  }
  return index;
}
constexpr auto kByConnack3 = by_code3<&Row::connack3>();
constexpr auto kBySuback3 = by_code3<&Row::suback3>();

// The table is consistent: one row per reason, every 3.x code is some reason's own code
// exactly once, and every Mapped code is a code some reason owns.
constexpr bool table_is_consistent() {
  for (size_t i = 0; i < std::size(kRows); ++i) {
    for (size_t j = i + 1; j < std::size(kRows); ++j)
      if (kRows[i].reason == kRows[j].reason) return false;
    const Row& r = kRows[i];
    if (r.v5 & ~kCarries5) return false;
    // A 3.x code is only defined for reasons that 5.0 allows in that packet.
    if (r.connack3.use != ReasonUse::Forbidden && !(r.v5 & CONNACK)) return false;
    if (r.suback3.use != ReasonUse::Forbidden && !(r.v5 & SUBACK)) return false;
    if (r.connack3.use == ReasonUse::Mapped && kByConnack3[r.connack3.byte] == kNoRow) return false;
    if (r.suback3.use == ReasonUse::Mapped && kBySuback3[r.suback3.byte] == kNoRow) return false;
  }
  int own_connack = 0, own_suback = 0;
  for (uint8_t b = 0; b <= 5; ++b) own_connack += kByConnack3[b] != kNoRow;
  for (uint8_t b : {0x00, 0x01, 0x02, 0x80}) own_suback += kBySuback3[b] != kNoRow;
  return own_connack == 6 && own_suback == 4;
}
static_assert(table_is_consistent());

const Row* row_of(Reason r) {
  uint8_t i = kByReason[static_cast<uint8_t>(r)];
  return i == kNoRow ? nullptr : &kRows[i];
}

bool is_v5(Version v) { return v == Version::V5; }

const Code3* code3_of(const Row& row, PacketType t) {
  if (t == PacketType::Connack) return &row.connack3;
  if (t == PacketType::Suback) return &row.suback3;
  return nullptr;
}

}  // namespace

bool carries_reason(Version version, PacketType type) {
  return ((is_v5(version) ? kCarries5 : kCarries3) & bit(type)) != 0;
}

ReasonUse reason_use(Reason reason, Version version, PacketType type) {
  const Row* row = row_of(reason);
  if (!row) return ReasonUse::Forbidden;
  if (is_v5(version)) return (row->v5 & bit(type)) ? ReasonUse::Allowed : ReasonUse::Forbidden;
  if (const Code3* c = code3_of(*row, type)) return c->use;
  // 3.x packets without a reason byte mean success; AUTH does not exist before 5.0.
  bool packet_exists = type != PacketType::Auth;
  return packet_exists && reason == Reason::Success ? ReasonUse::Implied : ReasonUse::Forbidden;
}

std::optional<uint8_t> wire_byte(Reason reason, Version version, PacketType type) {
  const Row* row = row_of(reason);
  if (!row) return std::nullopt;
  if (is_v5(version)) {
    if (row->v5 & bit(type)) return static_cast<uint8_t>(reason);
    return std::nullopt;
  }
  const Code3* c = code3_of(*row, type);
  if (!c || c->use == ReasonUse::Forbidden) return std::nullopt;
  return c->byte;
}

std::optional<Reason> reason_from_wire(uint8_t byte, Version version, PacketType type) {
  if (is_v5(version)) {
    const Row* row = row_of(static_cast<Reason>(byte));
    if (row && (row->v5 & bit(type))) return row->reason;
    return std::nullopt;
  }
  uint8_t i = kNoRow;
  if (type == PacketType::Connack) i = kByConnack3[byte];
  else if (type == PacketType::Suback) i = kBySuback3[byte];
  if (i == kNoRow) return std::nullopt;
  return kRows[i].reason;
}

Reason fallback_reason(Version version, PacketType type) {
  if (!carries_reason(version, type)) return Reason::Success;
  switch (type) {
    case PacketType::Connack: return is_v5(version) ? Reason::UnspecifiedError : Reason::NotAuthorized;
    case PacketType::Pubrel:
    case PacketType::Pubcomp: return Reason::PacketIdentifierNotFound;
    case PacketType::Auth: return Reason::ContinueAuthentication;
    default: return Reason::UnspecifiedError;  // PUBACK, PUBREC, SUBACK, UNSUBACK, DISCONNECT
  }
}

Reason reason_for(Version version, PacketType type, Reason wanted) {
  if (!carries_reason(version, type)) return Reason::Success;
  switch (reason_use(wanted, version, type)) {
    case ReasonUse::Allowed: return wanted;
    case ReasonUse::Mapped: return *reason_from_wire(*wire_byte(wanted, version, type), version, type);
    case ReasonUse::Implied: return Reason::Success;
    case ReasonUse::Forbidden: break;
  }
  return fallback_reason(version, type);  // always one of the packet's own codes
}

uint8_t encoded_reason(Reason reason, Version version, PacketType type) {
  // reason_for() returns a reason the packet carries, so the byte exists.
  return wire_byte(reason_for(version, type, reason), version, type).value_or(0x80);
}

const char* reason_name(Reason reason) {
  const Row* row = row_of(reason);
  return row ? row->name : "unknown reason";
}

const char* reason_name(Reason reason, Version version, PacketType type) {
  const Row* row = row_of(reason);
  if (!row) return "unknown reason";
  if (is_v5(version)) {
    if (type == PacketType::Disconnect && row->name_in_disconnect) return row->name_in_disconnect;
    if (type == PacketType::Suback && row->name_in_suback) return row->name_in_suback;
    return row->name;
  }
  const Code3* c = code3_of(*row, type);
  if (c && c->use == ReasonUse::Allowed) return c->name;
  return row->name;
}

}  // namespace musqratt::protocol
