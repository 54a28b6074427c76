// Packet body decoding, one function per packet type, each enforcing the fixed-header flag
// rules and body layout of its section of the specification. Spec statement ids name the
// specification they come from (3.1.1 and 5.0 number their statements differently); reason
// codes are checked against protocol/reason_table.h.
#include "protocol/codec.h"
#include "protocol/property_codec.h"
#include "protocol/wire.h"

namespace musqratt::protocol {
namespace {

using Result = std::expected<Packet, DecodeError>;

std::unexpected<DecodeError> malformed(const char* detail) {
  return std::unexpected(DecodeError{Reason::MalformedPacket, detail});
}
std::unexpected<DecodeError> protocol_error(const char* detail) {
  return std::unexpected(DecodeError{Reason::ProtocolError, detail});
}
std::unexpected<DecodeError> truncated(const wire::Reader& in) {
  return malformed(in.utf8_error() ? "invalid UTF-8 string" : "packet shorter than its fields");
}

Result decode_connect(wire::Reader& in) {
  Connect c;
  uint8_t level, flags;
  if (!in.utf8(c.protocol_name) || !in.u8(level)) return truncated(in);
  // A 3.1/3.1.1 bridge sets the level's top bit (0x83, 0x84: Mosquitto's convention, not the
  // specification's) to ask for No Local and Retain As Published on its subscriptions.
  if (level == 0x83 || level == 0x84) {
    c.bridge = true;
    level &= 0x7F;
  }
  // [MQTT-3.1.2-1], [MQTT-3.1.2-2] (3.1.1 and 5.0): an unknown name or level is answered with
  // CONNACK 0x01 (3.1.1) or 0x84 (5.0).
  if (!((c.protocol_name == "MQTT" && (level == 4 || level == 5)) ||
        (c.protocol_name == "MQIsdp" && level == 3)))
    return std::unexpected(DecodeError{Reason::UnsupportedProtocolVersion, "unsupported protocol name or level"});
  c.version = static_cast<Version>(level);
  if (!in.u8(flags) || !in.u16(c.keep_alive)) return truncated(in);
  if (flags & 0x01) return malformed("reserved CONNECT flag set");  // [MQTT-3.1.2-3, 3.1.1 and 5.0]
  c.clean_start = flags & 0x02;
  bool will_flag = flags & 0x04;
  uint8_t will_qos = (flags >> 3) & 0x03;
  bool will_retain = flags & 0x20;
  bool password_flag = flags & 0x40;
  bool username_flag = flags & 0x80;
  if (will_qos == 3) return malformed("will QoS 3");  // [MQTT-3.1.2-14, 3.1.1], [MQTT-3.1.2-12, 5.0]
  // [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15] (3.1.1); [MQTT-3.1.2-11], [MQTT-3.1.2-13] (5.0).
  if (!will_flag && (will_qos != 0 || will_retain)) return malformed("will QoS/retain without will flag");
  if (c.version != Version::V5 && password_flag && !username_flag)
    return malformed("password without user name");  // [MQTT-3.1.2-22, 3.1.1]
  DecodeError err;
  if (c.version == Version::V5 && !decode_properties(in, PropertyContext::Connect, c.properties, err))
    return std::unexpected(err);
  if (!in.utf8(c.client_id)) return truncated(in);
  if (will_flag) {
    Will w;
    w.qos = will_qos;
    w.retain = will_retain;
    if (c.version == Version::V5 && !decode_properties(in, PropertyContext::Will, w.properties, err))
      return std::unexpected(err);
    if (!in.utf8(w.topic) || !in.binary(w.payload)) return truncated(in);
    c.will = std::move(w);
  }
  if (username_flag) {
    std::string u;
    if (!in.utf8(u)) return truncated(in);
    c.username = std::move(u);
  }
  if (password_flag) {
    std::string p;
    if (!in.binary(p)) return truncated(in);
    c.password = std::move(p);
  }
  if (!in.at_end()) return malformed("trailing bytes after CONNECT payload");
  return c;
}

Result decode_connack(wire::Reader& in, Version v) {
  Connack c;
  uint8_t flags, code;
  if (!in.u8(flags) || !in.u8(code)) return truncated(in);
  if (flags & 0xFE) return malformed("reserved CONNACK flags set");
  c.session_present = flags & 1;
  // 5.0: a code of table 3-1 [MQTT-3.2.2-8, 5.0]; 3.1/3.1.1: return codes 0..5 (table 3.1,
  // 6..255 reserved), read as the 5.0 reasons they stand for.
  auto reason = reason_from_wire(code, v, PacketType::Connack);
  if (!reason) return malformed("invalid CONNACK reason code");
  c.reason = *reason;
  DecodeError err;
  if (v == Version::V5 && !decode_properties(in, PropertyContext::Connack, c.properties, err))
    return std::unexpected(err);
  if (!in.at_end()) return malformed("trailing bytes after CONNACK");
  return c;
}

/// Fills `p`, whose properties must be empty. Returns the error, if any.
std::optional<DecodeError> decode_publish_fields(uint8_t first, wire::Reader& in, Version v, Publish& p) {
  auto fail = [](Result r) { return std::optional<DecodeError>(r.error()); };
  p.retain = first & 0x01;
  p.qos = (first >> 1) & 0x03;
  p.dup = first & 0x08;
  p.packet_id = 0;
  if (p.qos == 3) return fail(malformed("PUBLISH QoS 3"));  // [MQTT-3.3.1-4, 3.1.1 and 5.0]
  if (p.qos == 0 && p.dup) return fail(malformed("DUP set on QoS 0 PUBLISH"));  // [MQTT-3.3.1-2, 3.1.1 and 5.0]
  if (!in.utf8(p.topic)) return fail(truncated(in));
  if (p.qos > 0) {
    if (!in.u16(p.packet_id)) return fail(truncated(in));
    if (p.packet_id == 0) return fail(malformed("packet identifier 0"));  // [MQTT-2.3.1-1, 3.1.1], [MQTT-2.2.1-3, 5.0]
  }
  DecodeError err;
  if (v == Version::V5 && !decode_properties(in, PropertyContext::Publish, p.properties, err)) return err;
  auto rest = in.rest();
  p.payload.assign(reinterpret_cast<const char*>(rest.data()), rest.size());
  return std::nullopt;
}

Result decode_publish(uint8_t first, wire::Reader& in, Version v) {
  Publish p;
  if (auto err = decode_publish_fields(first, in, v, p)) return std::unexpected(*err);
  return p;
}

Result decode_ack(PacketType t, wire::Reader& in, Version v) {
  Ack a;
  a.type = t;
  if (!in.u16(a.packet_id)) return truncated(in);
  if (a.packet_id == 0) return malformed("packet identifier 0");
  if (v == Version::V5 && !in.at_end()) {
    uint8_t code;
    in.u8(code);
    // Tables 3-4..3-7 [MQTT-3.4.2-1], [MQTT-3.5.2-1], [MQTT-3.6.2-1], [MQTT-3.7.2-1] (5.0).
    auto reason = reason_from_wire(code, v, t);
    if (!reason) return malformed("invalid reason code for acknowledgement");
    a.reason = *reason;
    DecodeError err;
    if (!in.at_end() && !decode_properties(in, context_of(t), a.properties, err))
      return std::unexpected(err);
  }
  if (!in.at_end()) return malformed("trailing bytes after acknowledgement");
  return a;
}

Result decode_subscribe(wire::Reader& in, Version v) {
  Subscribe s;
  if (!in.u16(s.packet_id)) return truncated(in);
  if (s.packet_id == 0) return malformed("packet identifier 0");
  DecodeError err;
  if (v == Version::V5 && !decode_properties(in, PropertyContext::Subscribe, s.properties, err))
    return std::unexpected(err);
  while (!in.at_end()) {
    Subscription sub;
    uint8_t opts;
    if (!in.utf8(sub.filter) || !in.u8(opts)) return truncated(in);
    sub.options.qos = opts & 0x03;
    // [MQTT-3-8.3-4, 3.1.1] (printed so in 3.1.1, for 3.8.3-4); 5.0 section 3.8.3.1 calls a
    // Maximum QoS of 3 a Protocol Error, but it is answered as Malformed Packet in both.
    if (sub.options.qos == 3) return malformed("subscription QoS 3");
    if (v == Version::V5) {
      sub.options.no_local = opts & 0x04;
      sub.options.retain_as_published = opts & 0x08;
      sub.options.retain_handling = (opts >> 4) & 0x03;
      if (sub.options.retain_handling == 3) return protocol_error("retain handling 3");  // 5.0 section 3.8.3.1
      if (opts & 0xC0) return malformed("reserved subscription option bits set");  // [MQTT-3.8.3-5, 5.0]
    } else if (opts & 0xFC) {
      return malformed("reserved subscription option bits set");  // [MQTT-3-8.3-4, 3.1.1]
    }
    s.subscriptions.push_back(std::move(sub));
  }
  if (s.subscriptions.empty()) {
    return v == Version::V5 ? protocol_error("SUBSCRIBE without topic filters")
                            : malformed("SUBSCRIBE without topic filters");  // [MQTT-3.8.3-3, 3.1.1], [MQTT-3.8.3-2, 5.0]
  }
  return s;
}

Result decode_suback(wire::Reader& in, Version v) {
  Suback s;
  if (!in.u16(s.packet_id)) return truncated(in);
  DecodeError err;
  if (v == Version::V5 && !decode_properties(in, PropertyContext::Suback, s.properties, err))
    return std::unexpected(err);
  while (!in.at_end()) {
    uint8_t code;
    in.u8(code);
    auto reason = reason_from_wire(code, v, PacketType::Suback);  // [MQTT-3.9.3-2, 3.1.1 and 5.0]
    if (!reason) return malformed("invalid SUBACK reason code");
    s.reasons.push_back(*reason);
  }
  return s;
}

Result decode_unsubscribe(wire::Reader& in, Version v) {
  Unsubscribe u;
  if (!in.u16(u.packet_id)) return truncated(in);
  if (u.packet_id == 0) return malformed("packet identifier 0");
  DecodeError err;
  if (v == Version::V5 && !decode_properties(in, PropertyContext::Unsubscribe, u.properties, err))
    return std::unexpected(err);
  while (!in.at_end()) {
    std::string f;
    if (!in.utf8(f)) return truncated(in);
    u.filters.push_back(std::move(f));
  }
  if (u.filters.empty()) {
    return v == Version::V5 ? protocol_error("UNSUBSCRIBE without topic filters")
                            : malformed("UNSUBSCRIBE without topic filters");  // [MQTT-3.10.3-2, 3.1.1 and 5.0]
  }
  return u;
}

Result decode_unsuback(wire::Reader& in, Version v) {
  Unsuback u;
  if (!in.u16(u.packet_id)) return truncated(in);
  if (v == Version::V5) {
    DecodeError err;
    if (!decode_properties(in, PropertyContext::Unsuback, u.properties, err)) return std::unexpected(err);
    while (!in.at_end()) {
      uint8_t code;
      in.u8(code);
      auto reason = reason_from_wire(code, v, PacketType::Unsuback);  // [MQTT-3.11.3-2, 5.0]
      if (!reason) return malformed("invalid UNSUBACK reason code");
      u.reasons.push_back(*reason);
    }
  }
  if (!in.at_end()) return malformed("trailing bytes after UNSUBACK");
  return u;
}

/// DISCONNECT and AUTH: optional reason code, optional properties (5.0 only). The code must be
/// one of table 3-10 [MQTT-3.14.2-1, 5.0] or table 3-11 [MQTT-3.15.2-1, 5.0].
template <typename T>
Result decode_reason_packet(PacketType t, wire::Reader& in, Version v) {
  T p;
  if (v == Version::V5) {
    if (!in.at_end()) {
      uint8_t code;
      in.u8(code);
      auto reason = reason_from_wire(code, v, t);
      if (!reason) return malformed("invalid reason code");
      p.reason = *reason;
    }
    DecodeError err;
    if (!in.at_end() && !decode_properties(in, context_of(t), p.properties, err))
      return std::unexpected(err);
  }
  if (!in.at_end()) return malformed("trailing bytes");
  return p;
}

}  // namespace

FrameStatus read_frame_header(std::span<const uint8_t> data, FrameHeader& out) {
  if (data.empty()) return FrameStatus::NeedMore;
  out.first_byte = data[0];
  if ((data[0] >> 4) == 0) return FrameStatus::Malformed;  // type 0 is reserved
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) {
    if (1 + i >= data.size()) return FrameStatus::NeedMore;
    uint8_t b = data[1 + i];
    value |= uint32_t{b & 0x7Fu} << (7 * i);
    if ((b & 0x80) == 0) {
      out.remaining_length = value;
      out.header_size = static_cast<uint8_t>(2 + i);
      return FrameStatus::Complete;
    }
  }
  return FrameStatus::Malformed;
}

std::optional<DecodeError> decode_publish_into(uint8_t first_byte, std::span<const uint8_t> body, Version version,
                                              Publish& out) {
  wire::Reader in(body);
  return decode_publish_fields(first_byte, in, version, out);
}

std::optional<uint16_t> plain_ack_id(uint8_t first_byte, std::span<const uint8_t> body) {
  if (body.size() != 2) return std::nullopt;
  auto type = static_cast<PacketType>(first_byte >> 4);
  if (type != PacketType::Puback && type != PacketType::Pubrec && type != PacketType::Pubrel &&
      type != PacketType::Pubcomp)
    return std::nullopt;
  if ((first_byte & 0x0F) != header_flags(type)) return std::nullopt;
  uint16_t id = static_cast<uint16_t>(body[0] << 8 | body[1]);
  if (id == 0) return std::nullopt;  // malformed: decode_packet says so
  return id;
}

Result decode_packet(uint8_t first_byte, std::span<const uint8_t> body, Version version) {
  auto type = static_cast<PacketType>(first_byte >> 4);
  uint8_t flags = first_byte & 0x0F;
  if (type != PacketType::Publish && flags != header_flags(type))
    return malformed("invalid fixed header flags");
  if (type == PacketType::Auth && version != Version::V5) return malformed("AUTH before MQTT 5");
  wire::Reader in(body);
  switch (type) {
    case PacketType::Connect: return decode_connect(in);
    case PacketType::Connack: return decode_connack(in, version);
    case PacketType::Publish: return decode_publish(first_byte, in, version);
    case PacketType::Puback:
    case PacketType::Pubrec:
    case PacketType::Pubrel:
    case PacketType::Pubcomp: return decode_ack(type, in, version);
    case PacketType::Subscribe: return decode_subscribe(in, version);
    case PacketType::Suback: return decode_suback(in, version);
    case PacketType::Unsubscribe: return decode_unsubscribe(in, version);
    case PacketType::Unsuback: return decode_unsuback(in, version);
    case PacketType::Pingreq:
      if (!body.empty()) return malformed("PINGREQ with a body");
      return Pingreq{};
    case PacketType::Pingresp:
      if (!body.empty()) return malformed("PINGRESP with a body");
      return Pingresp{};
    case PacketType::Disconnect: return decode_reason_packet<Disconnect>(type, in, version);
    case PacketType::Auth: return decode_reason_packet<Auth>(type, in, version);
  }
  return malformed("reserved packet type");
}

}  // namespace musqratt::protocol
