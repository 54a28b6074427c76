// Packet encoding. Control packets other than PUBLISH are rare, so they are built into a
// scratch body and then framed; PUBLISH has its own size-first encoder in publish_encoder.cpp.
#include "protocol/codec.h"
#include "protocol/property_codec.h"
#include "protocol/publish_encoder.h"
#include "protocol/wire.h"

namespace musqratt::protocol {
namespace {

using namespace wire;

/// 3.1.1 CONNACK return codes for the 5.0 reason codes a server refuses a connection with.
uint8_t v311_connack_code(Reason r) {
  switch (r) {
    case Reason::Success: return 0x00;
    case Reason::UnsupportedProtocolVersion: return 0x01;
    case Reason::ClientIdentifierNotValid: return 0x02;
    case Reason::ServerUnavailable:
    case Reason::ServerBusy:
    case Reason::ServerShuttingDown: return 0x03;
    case Reason::BadUserNameOrPassword: return 0x04;
    default: return 0x05;  // not authorized
  }
}

/// 3.1.1 SUBACK codes: granted QoS or 0x80 failure.
uint8_t v311_suback_code(Reason r) { return is_error(r) ? 0x80 : static_cast<uint8_t>(r); }

void body_connect(const Connect& c, std::string& b) {
  put_string(b, c.version == Version::V31 ? "MQIsdp" : "MQTT");
  put_u8(b, static_cast<uint8_t>(c.version));
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

void body_ack(const Ack& a, Version v, std::string& b) {
  put_u16(b, a.packet_id);
  if (v != Version::V5) return;
  bool has_props = a.properties != Properties{};
  // [MQTT-3.4.2-1]: reason and properties may be omitted when success without properties.
  if (a.reason == Reason::Success && !has_props) return;
  put_u8(b, static_cast<uint8_t>(a.reason));
  if (has_props) encode_properties(b, a.properties);
}

template <typename T>
void body_reason_packet(const T& p, Version v, std::string& b) {
  if (v != Version::V5) return;
  bool has_props = p.properties != Properties{};
  if (p.reason == Reason::Success && !has_props) return;
  put_u8(b, static_cast<uint8_t>(p.reason));
  if (has_props) encode_properties(b, p.properties);
}

uint8_t first_byte_of(const Packet& p) {
  PacketType t = packet_type(p);
  uint8_t flags = 0;
  if (t == PacketType::Pubrel || t == PacketType::Subscribe || t == PacketType::Unsubscribe) flags = 0x02;
  return static_cast<uint8_t>(static_cast<uint8_t>(t) << 4 | flags);
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
      put_u8(body, v5 ? static_cast<uint8_t>(c.reason) : v311_connack_code(c.reason));
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
      for (Reason r : s.reasons) put_u8(body, v5 ? static_cast<uint8_t>(r) : v311_suback_code(r));
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
        for (Reason r : u.reasons) put_u8(body, static_cast<uint8_t>(r));
      }
      break;
    }
    case PacketType::Pingreq:
    case PacketType::Pingresp: break;
    case PacketType::Disconnect: body_reason_packet(std::get<Disconnect>(packet), v, body); break;
    case PacketType::Auth: body_reason_packet(std::get<Auth>(packet), v, body); break;
    case PacketType::Publish: break;  // handled above
  }
  size_t before = out.size();
  put_u8(out, first_byte_of(packet));
  put_varint(out, static_cast<uint32_t>(body.size()));
  out.append(body);
  return out.size() - before;
}

}  // namespace musqratt::protocol
