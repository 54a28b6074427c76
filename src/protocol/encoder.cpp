// Packet encoding. Control packets other than PUBLISH are rare, so they are built into a
// scratch body and then framed; PUBLISH has its own size-first encoder in publish_encoder.cpp.
#include "protocol/codec.h"
#include "protocol/property_codec.h"
#include "protocol/publish_encoder.h"
#include "protocol/wire.h"

namespace musqratt::protocol {
namespace {

using namespace wire;

void body_connect(const Connect& c, std::string& b) {
  put_string(b, c.version == Version::V31 ? "MQIsdp" : "MQTT");
  // The bridge bit (see Connect::bridge) exists for 3.1 and 3.1.1 only.
  put_u8(b, static_cast<uint8_t>(c.version) | (c.bridge && c.version != Version::V5 ? 0x80 : 0));
  uint8_t flags = 0;
  if (c.clean_start) flags |= 0x02;
  if (c.will) {
    flags |= 0x04 | (c.will->qos << 3);
    if (c.will->retain) flags |= 0x20;
  }
  if (c.password) flags |= 0x40;
  if (c.username) flags |= 0x80;
  put_u8(b, flags);
  put_u16(b, c.keep_alive);
  bool v5 = c.version == Version::V5;
  if (v5) encode_properties(b, c.properties);
  put_string(b, c.client_id);
  if (c.will) {
    if (v5) encode_properties(b, c.will->properties);
    put_string(b, c.will->topic);
    put_string(b, c.will->payload);
  }
  if (c.username) put_string(b, *c.username);
  if (c.password) put_string(b, *c.password);
}

/// The reason byte and properties of a 5.0 PUBACK, PUBREC, PUBREL, PUBCOMP, DISCONNECT or AUTH.
/// Both may be left out when the reason is Success and there are no properties (5.0 sections
/// 3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1, 3.14.2.1, 3.15.2.1). A reason the packet cannot carry
/// goes out as the packet's fallback failure (reason_table.h), never as an invalid byte.
void reason_and_properties(PacketType t, Reason reason, const Properties& props, Version v, std::string& b) {
  if (!carries_reason(v, t)) return;
  Reason sent = reason_for(v, t, reason);
  bool has_props = props != Properties{};
  if (sent == Reason::Success && !has_props) return;
  put_u8(b, *wire_byte(sent, v, t));
  if (has_props) encode_properties(b, props);
}

void body_ack(const Ack& a, Version v, std::string& b) {
  put_u16(b, a.packet_id);
  reason_and_properties(a.type, a.reason, a.properties, v, b);
}

uint8_t first_byte_of(const Packet& p) {
  PacketType t = packet_type(p);
  return static_cast<uint8_t>(static_cast<uint8_t>(t) << 4 | header_flags(t));
}

}  // namespace

PacketType packet_type(const Packet& p) {
  struct V {
    PacketType operator()(const Connect&) { return PacketType::Connect; }
    PacketType operator()(const Connack&) { return PacketType::Connack; }
    PacketType operator()(const Publish&) { return PacketType::Publish; }
    PacketType operator()(const Ack& a) { return a.type; }
    PacketType operator()(const Subscribe&) { return PacketType::Subscribe; }
    PacketType operator()(const Suback&) { return PacketType::Suback; }
    PacketType operator()(const Unsubscribe&) { return PacketType::Unsubscribe; }
    PacketType operator()(const Unsuback&) { return PacketType::Unsuback; }
    PacketType operator()(const Pingreq&) { return PacketType::Pingreq; }
    PacketType operator()(const Pingresp&) { return PacketType::Pingresp; }
    PacketType operator()(const Disconnect&) { return PacketType::Disconnect; }
    PacketType operator()(const Auth&) { return PacketType::Auth; }
  };
  return std::visit(V{}, p);
}

const char* packet_type_name(PacketType t) {
  static constexpr const char* kNames[] = {"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK",
                                           "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK",
                                           "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP",
                                           "DISCONNECT", "AUTH"};
  auto i = static_cast<unsigned>(t);
  return i < 16 ? kNames[i] : "?";
}

size_t encode_ack(PacketType type, uint16_t packet_id, Reason reason, Version v, std::string& out) {
  const Reason sent = carries_reason(v, type) ? reason_for(v, type, reason) : Reason::Success;
  const bool with_reason = sent != Reason::Success;
  out.push_back(static_cast<char>(static_cast<uint8_t>(type) << 4 | header_flags(type)));
  out.push_back(static_cast<char>(with_reason ? 3 : 2));
  put_u16(out, packet_id);
  if (with_reason) put_u8(out, *wire_byte(sent, v, type));
  return with_reason ? 5 : 4;
}

size_t encode_packet(const Packet& packet, Version v, std::string& out) {
  if (const auto* pub = std::get_if<Publish>(&packet)) {
    PublishView view{pub->topic, pub->payload, pub->qos, pub->retain, pub->dup, pub->packet_id, &pub->properties};
    // The view writes these two per receiver; a Publish value carries them in its properties.
    view.subscription_identifiers = pub->properties.subscription_identifiers;
    view.topic_alias = pub->properties.topic_alias.value_or(0);
    return encode_publish(view, v, out);
  }
  thread_local std::string body;
  body.clear();
  bool v5 = v == Version::V5;
  switch (packet_type(packet)) {
    case PacketType::Connect: body_connect(std::get<Connect>(packet), body); break;
    case PacketType::Connack: {
      const auto& c = std::get<Connack>(packet);
      put_u8(body, c.session_present ? 1 : 0);
      put_u8(body, encoded_reason(c.reason, v, PacketType::Connack));
      if (v5) encode_properties(body, c.properties);
      break;
    }
    case PacketType::Puback:
    case PacketType::Pubrec:
    case PacketType::Pubrel:
    case PacketType::Pubcomp: body_ack(std::get<Ack>(packet), v, body); break;
    case PacketType::Subscribe: {
      const auto& s = std::get<Subscribe>(packet);
      put_u16(body, s.packet_id);
      if (v5) encode_properties(body, s.properties);
      for (const auto& sub : s.subscriptions) {
        put_string(body, sub.filter);
        uint8_t o = sub.options.qos;
        if (v5) {
          o |= (sub.options.no_local ? 0x04 : 0) | (sub.options.retain_as_published ? 0x08 : 0) |
               (sub.options.retain_handling << 4);
        }
        put_u8(body, o);
      }
      break;
    }
    case PacketType::Suback: {
      const auto& s = std::get<Suback>(packet);
      put_u16(body, s.packet_id);
      if (v5) encode_properties(body, s.properties);
      for (Reason r : s.reasons) put_u8(body, encoded_reason(r, v, PacketType::Suback));
      break;
    }
    case PacketType::Unsubscribe: {
      const auto& u = std::get<Unsubscribe>(packet);
      put_u16(body, u.packet_id);
      if (v5) encode_properties(body, u.properties);
      for (const auto& f : u.filters) put_string(body, f);
      break;
    }
    case PacketType::Unsuback: {
      const auto& u = std::get<Unsuback>(packet);
      put_u16(body, u.packet_id);
      if (v5) {
        encode_properties(body, u.properties);
        for (Reason r : u.reasons) put_u8(body, encoded_reason(r, v, PacketType::Unsuback));
      }
      break;
    }
    case PacketType::Pingreq:
    case PacketType::Pingresp: break;
    case PacketType::Disconnect: {
      const auto& d = std::get<Disconnect>(packet);
      reason_and_properties(PacketType::Disconnect, d.reason, d.properties, v, body);
      break;
    }
    case PacketType::Auth: {
      const auto& a = std::get<Auth>(packet);
      reason_and_properties(PacketType::Auth, a.reason, a.properties, v, body);
      break;
    }
    case PacketType::Publish: break;  // handled above
  }
  size_t before = out.size();
  put_u8(out, first_byte_of(packet));
  put_varint(out, static_cast<uint32_t>(body.size()));
  out.append(body);
  return out.size() - before;
}

}  // namespace musqratt::protocol
