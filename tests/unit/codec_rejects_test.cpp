// Every rejection rule of the codec: fixed-header flags, malformed lengths, invalid strings,
// CONNECT flag rules, protocol versions and property rules.
#include <gtest/gtest.h>

#include "protocol/codec.h"
#include "protocol/utf8.h"
#include "test_support.h"

namespace musqratt::test {
namespace {

using pr::PacketType;
using pr::Reason;
using pr::Version;
namespace w = pr::wire;

/// Decodes a body and expects the given error reason.
void expect_reject(uint8_t first, std::string_view body, Version v, Reason expected) {
  auto d = decode_body(first, body, v);
  ASSERT_FALSE(d.has_value()) << "accepted " << hex(body) << " (first byte " << int{first} << ")";
  EXPECT_EQ(d.error().reason, expected) << d.error().detail << " for " << hex(body);
}

void expect_accept(uint8_t first, std::string_view body, Version v) {
  auto d = decode_body(first, body, v);
  EXPECT_TRUE(d.has_value()) << (d ? "" : d.error().detail) << " for " << hex(body);
}

/// CONNECT body with the given name, level and flags, followed by `rest`.
std::string connect_body(std::string_view name, uint8_t level, uint8_t flags, std::string_view rest) {
  std::string b;
  w::put_string(b, name);
  w::put_u8(b, level);
  w::put_u8(b, flags);
  w::put_u16(b, 30);
  b.append(rest);
  return b;
}

/// A publish body (topic, optional id, 5.0 properties block given raw) for first byte checks.
std::string publish_body(std::string_view topic, uint16_t id, std::string_view props5 = {}, bool v5 = false) {
  std::string b;
  w::put_string(b, topic);
  if (id) w::put_u16(b, id);
  if (v5) {
    w::put_varint(b, static_cast<uint32_t>(props5.size()));
    b.append(props5);
  }
  b.append("payload");
  return b;
}

std::string client_id_field(std::string_view id) {
  std::string b;
  w::put_string(b, id);
  return b;
}

/// A valid body for each packet type, decodable when the flags are right.
std::string valid_body(PacketType t, Version v) {
  switch (t) {
    case PacketType::Connect: return connect_body("MQTT", v == Version::V5 ? 5 : 4, 0x02,
                                                   (v == Version::V5 ? std::string(1, '\0') : std::string()) + client_id_field("c"));
    case PacketType::Connack: return v == Version::V5 ? bytes({0, 0, 0}) : bytes({0, 0});
    case PacketType::Publish: return publish_body("t", 0, {}, v == Version::V5);
    case PacketType::Puback:
    case PacketType::Pubrec:
    case PacketType::Pubrel:
    case PacketType::Pubcomp: return bytes({0x00, 0x01});
    case PacketType::Subscribe: {
      std::string b = bytes({0x00, 0x01});
      if (v == Version::V5) b.push_back(0);
      w::put_string(b, "a");
      b.push_back(1);
      return b;
    }
    case PacketType::Suback: return v == Version::V5 ? bytes({0x00, 0x01, 0x00, 0x01}) : bytes({0x00, 0x01, 0x01});
    case PacketType::Unsubscribe: {
      std::string b = bytes({0x00, 0x01});
      if (v == Version::V5) b.push_back(0);
      w::put_string(b, "a");
      return b;
    }
    case PacketType::Unsuback: return v == Version::V5 ? bytes({0x00, 0x01, 0x00}) : bytes({0x00, 0x01});
    case PacketType::Pingreq:
    case PacketType::Pingresp:
    case PacketType::Disconnect:
    case PacketType::Auth: return {};
  }
  return {};
}

// ------------------------------------------------------------------ fixed header

TEST(CodecRejects, ReservedFixedHeaderFlagsForEveryType) {
  for (Version v : {Version::V311, Version::V5}) {
    for (int t = 1; t <= 15; ++t) {
      auto type = static_cast<PacketType>(t);
      if (type == PacketType::Publish) continue;
      if (type == PacketType::Auth && v != Version::V5) continue;
      SCOPED_TRACE(std::string(pr::packet_type_name(type)) + (v == Version::V5 ? " v5" : " v311"));
      uint8_t required = (type == PacketType::Pubrel || type == PacketType::Subscribe ||
                          type == PacketType::Unsubscribe) ? 0x02 : 0x00;
      std::string body = valid_body(type, v);
      expect_accept(static_cast<uint8_t>(t << 4 | required), body, v);
      for (int flags = 0; flags < 16; ++flags) {
        if (flags == required) continue;
        expect_reject(static_cast<uint8_t>(t << 4 | flags), body, v, Reason::MalformedPacket);
      }
    }
  }
}

TEST(CodecRejects, PublishFlags) {
  std::string q0 = publish_body("t", 0);
  std::string q1 = publish_body("t", 1);
  expect_accept(0x30, q0, Version::V311);
  expect_accept(0x31, q0, Version::V311);  // retain
  expect_accept(0x3A, q1, Version::V311);  // DUP QoS 1
  expect_reject(0x36, q1, Version::V311, Reason::MalformedPacket);  // QoS 3
  expect_reject(0x37, q1, Version::V5, Reason::MalformedPacket);
  expect_reject(0x38, q0, Version::V311, Reason::MalformedPacket);  // DUP on QoS 0
  expect_reject(0x39, q0, Version::V5, Reason::MalformedPacket);
}

TEST(CodecRejects, RemainingLengthOfFiveBytesIsMalformed) {
  pr::FrameHeader h;
  auto five = bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01});
  EXPECT_EQ(pr::read_frame_header(as_span(five), h), pr::FrameStatus::Malformed);
  auto five_zero = bytes({0x30, 0x80, 0x80, 0x80, 0x80, 0x00});
  EXPECT_EQ(pr::read_frame_header(as_span(five_zero), h), pr::FrameStatus::Malformed);
  auto exactly_four_continuations = bytes({0x30, 0x80, 0x80, 0x80, 0x80});
  EXPECT_EQ(pr::read_frame_header(as_span(exactly_four_continuations), h), pr::FrameStatus::Malformed);
}

TEST(CodecRejects, PacketTypeZeroIsMalformed) {
  pr::FrameHeader h;
  auto zero = bytes({0x00, 0x00});
  EXPECT_EQ(pr::read_frame_header(as_span(zero), h), pr::FrameStatus::Malformed);
}

TEST(CodecRejects, NeedMoreOnPartialInput) {
  pr::FrameHeader h;
  EXPECT_EQ(pr::read_frame_header({}, h), pr::FrameStatus::NeedMore);
  for (auto partial : {bytes({0x30}), bytes({0x30, 0x80}), bytes({0x30, 0x80, 0x80}), bytes({0x30, 0xFF, 0xFF, 0xFF})}) {
    EXPECT_EQ(pr::read_frame_header(as_span(partial), h), pr::FrameStatus::NeedMore) << hex(partial);
  }
  // The header can be complete while the body is not: the caller compares total_size.
  std::string wire = encode(make_publish("topic", "payload"), Version::V311);
  for (size_t n = 2; n < wire.size(); ++n) {
    ASSERT_EQ(pr::read_frame_header(as_span(wire).first(n), h), pr::FrameStatus::Complete);
    EXPECT_GT(h.total_size(), n);
  }
}

TEST(CodecRejects, WireReaderVarintOfFiveBytesFails) {
  auto data = bytes({0x80, 0x80, 0x80, 0x80, 0x01});
  w::Reader r(as_span(data));
  uint32_t v;
  EXPECT_FALSE(r.varint(v));
  EXPECT_FALSE(r.ok());
}

TEST(CodecRejects, TruncatedBodies) {
  // Topic length says 10 bytes but only 2 follow.
  expect_reject(0x30, bytes({0x00, 0x0A, 'a', 'b'}), Version::V311, Reason::MalformedPacket);
  // QoS 1 without room for the packet id.
  expect_reject(0x32, bytes({0x00, 0x01, 'a', 0x00}), Version::V311, Reason::MalformedPacket);
  // PUBACK with one byte.
  expect_reject(0x40, bytes({0x00}), Version::V311, Reason::MalformedPacket);
  // CONNECT cut before the client id.
  expect_reject(0x10, connect_body("MQTT", 4, 0x02, ""), Version::V311, Reason::MalformedPacket);
  // SUBSCRIBE filter without its options byte.
  std::string sub = bytes({0x00, 0x01});
  w::put_string(sub, "a");
  expect_reject(0x82, sub, Version::V311, Reason::MalformedPacket);
}

// ------------------------------------------------------------------ packet identifiers

TEST(CodecRejects, PacketIdZero) {
  std::string q1 = bytes({0x00, 0x01, 't', 0x00, 0x00});
  expect_reject(0x32, q1, Version::V311, Reason::MalformedPacket);
  expect_reject(0x34, q1, Version::V311, Reason::MalformedPacket);
  for (uint8_t first : {0x40, 0x50, 0x62, 0x70}) expect_reject(first, bytes({0, 0}), Version::V5, Reason::MalformedPacket);
  std::string sub = bytes({0x00, 0x00});
  w::put_string(sub, "a");
  sub.push_back(0);
  expect_reject(0x82, sub, Version::V311, Reason::MalformedPacket);
  std::string unsub = bytes({0x00, 0x00});
  w::put_string(unsub, "a");
  expect_reject(0xA2, unsub, Version::V311, Reason::MalformedPacket);
}

// ------------------------------------------------------------------ UTF-8

TEST(Utf8, Validation) {
  EXPECT_TRUE(pr::valid_mqtt_utf8(""));
  EXPECT_TRUE(pr::valid_mqtt_utf8("plain/ascii"));
  EXPECT_TRUE(pr::valid_mqtt_utf8("caf\xC3\xA9"));            // U+00E9
  EXPECT_TRUE(pr::valid_mqtt_utf8("\xE2\x82\xAC"));           // U+20AC
  EXPECT_TRUE(pr::valid_mqtt_utf8("\xEF\xBB\xBF"));           // U+FEFF
  EXPECT_TRUE(pr::valid_mqtt_utf8("\xF0\x9D\x84\x9E"));       // U+1D11E
  EXPECT_TRUE(pr::valid_mqtt_utf8("\xF4\x8F\xBF\xBF"));       // U+10FFFF
  EXPECT_TRUE(pr::valid_mqtt_utf8("\xED\x9F\xBF"));           // U+D7FF, just below surrogates
  EXPECT_FALSE(pr::valid_mqtt_utf8(std::string_view("a\0b", 3)));  // U+0000
  EXPECT_FALSE(pr::valid_mqtt_utf8("\xED\xA0\x80"));          // U+D800 surrogate
  EXPECT_FALSE(pr::valid_mqtt_utf8("\xED\xBF\xBF"));          // U+DFFF surrogate
  EXPECT_FALSE(pr::valid_mqtt_utf8("\xC0\x80"));              // overlong U+0000
  EXPECT_FALSE(pr::valid_mqtt_utf8("\xC1\xBF"));              // overlong U+007F
  EXPECT_FALSE(pr::valid_mqtt_utf8("\xE0\x80\xAF"));          // overlong '/'
  EXPECT_FALSE(pr::valid_mqtt_utf8("\xF0\x80\x80\xAF"));      // overlong '/'
  EXPECT_FALSE(pr::valid_mqtt_utf8("\xF4\x90\x80\x80"));      // above U+10FFFF
  EXPECT_FALSE(pr::valid_mqtt_utf8("\x80"));                  // lone continuation
  EXPECT_FALSE(pr::valid_mqtt_utf8("\xE2\x82"));              // truncated sequence
  EXPECT_FALSE(pr::valid_mqtt_utf8("\xC3("));                 // bad continuation
  EXPECT_FALSE(pr::valid_mqtt_utf8("\xFF"));
  EXPECT_FALSE(pr::valid_mqtt_utf8("\xF8\x88\x80\x80\x80"));  // 5-byte form
}

TEST(CodecRejects, InvalidUtf8InStrings) {
  const std::string bad[] = {std::string("a\0b", 3), "a\xED\xA0\x80", "\xC0\xAF", "\xE0\x80\xAF", "\xF4\x90\x80\x80", "\x80"};
  for (const auto& s : bad) {
    SCOPED_TRACE(hex(s));
    // PUBLISH topic.
    expect_reject(0x30, publish_body(s, 0), Version::V311, Reason::MalformedPacket);
    // CONNECT client id.
    expect_reject(0x10, connect_body("MQTT", 4, 0x02, client_id_field(s)), Version::V311, Reason::MalformedPacket);
    // CONNECT user name.
    expect_reject(0x10, connect_body("MQTT", 4, 0x82, client_id_field("c") + client_id_field(s)), Version::V311,
                  Reason::MalformedPacket);
    // SUBSCRIBE filter.
    std::string sub = bytes({0x00, 0x01});
    w::put_string(sub, s);
    sub.push_back(0);
    expect_reject(0x82, sub, Version::V311, Reason::MalformedPacket);
    // UNSUBSCRIBE filter.
    std::string unsub = bytes({0x00, 0x01});
    w::put_string(unsub, s);
    expect_reject(0xA2, unsub, Version::V311, Reason::MalformedPacket);
    // 5.0 user property value.
    std::string props;
    props.push_back(0x26);
    w::put_string(props, "k");
    w::put_string(props, s);
    expect_reject(0x30, publish_body("t", 0, props, true), Version::V5, Reason::MalformedPacket);
  }
  // Binary fields (password, will payload, correlation data) may hold any bytes.
  std::string pw;
  w::put_string(pw, "c");
  w::put_string(pw, "u");
  w::put_string(pw, std::string("\xED\xA0\x80\0", 4));
  expect_accept(0x10, connect_body("MQTT", 4, 0xC2, pw), Version::V311);
}

// ------------------------------------------------------------------ CONNECT rules

TEST(CodecRejects, ConnectReservedFlag) {
  expect_reject(0x10, connect_body("MQTT", 4, 0x03, client_id_field("c")), Version::V311, Reason::MalformedPacket);
  expect_reject(0x10, connect_body("MQTT", 5, 0x03, std::string(1, '\0') + client_id_field("c")), Version::V311,
                Reason::MalformedPacket);
}

TEST(CodecRejects, WillQosOrRetainWithoutWillFlag) {
  auto rest = client_id_field("c");
  expect_reject(0x10, connect_body("MQTT", 4, 0x02 | 0x08, rest), Version::V311, Reason::MalformedPacket);  // QoS 1
  expect_reject(0x10, connect_body("MQTT", 4, 0x02 | 0x10, rest), Version::V311, Reason::MalformedPacket);  // QoS 2
  expect_reject(0x10, connect_body("MQTT", 4, 0x02 | 0x20, rest), Version::V311, Reason::MalformedPacket);  // retain
  // Will flag with QoS 3.
  std::string will = client_id_field("c") + client_id_field("w/t") + client_id_field("p");
  expect_reject(0x10, connect_body("MQTT", 4, 0x02 | 0x04 | 0x18, will), Version::V311, Reason::MalformedPacket);
  expect_accept(0x10, connect_body("MQTT", 4, 0x02 | 0x04 | 0x10 | 0x20, will), Version::V311);
}

TEST(CodecRejects, PasswordWithoutUsernameIn311) {
  std::string rest = client_id_field("c") + client_id_field("pw");
  expect_reject(0x10, connect_body("MQTT", 4, 0x42, rest), Version::V311, Reason::MalformedPacket);
  expect_reject(0x10, connect_body("MQIsdp", 3, 0x42, rest), Version::V311, Reason::MalformedPacket);
  // 5.0 allows it.
  auto d = decode_body(0x10, connect_body("MQTT", 5, 0x42, std::string(1, '\0') + rest), Version::V311);
  ASSERT_TRUE(d) << d.error().detail;
  EXPECT_FALSE(std::get<pr::Connect>(*d).username.has_value());
  EXPECT_EQ(std::get<pr::Connect>(*d).password, "pw");
}

TEST(CodecRejects, UnsupportedProtocolNameOrLevel) {
  auto rest = client_id_field("c");
  expect_reject(0x10, connect_body("MQTT", 3, 0x02, rest), Version::V311, Reason::UnsupportedProtocolVersion);
  expect_reject(0x10, connect_body("MQTT", 6, 0x02, rest), Version::V311, Reason::UnsupportedProtocolVersion);
  expect_reject(0x10, connect_body("MQTT", 0, 0x02, rest), Version::V311, Reason::UnsupportedProtocolVersion);
  expect_reject(0x10, connect_body("MQIsdp", 4, 0x02, rest), Version::V311, Reason::UnsupportedProtocolVersion);
  expect_reject(0x10, connect_body("MQTX", 4, 0x02, rest), Version::V311, Reason::UnsupportedProtocolVersion);
  expect_reject(0x10, connect_body("mqtt", 4, 0x02, rest), Version::V311, Reason::UnsupportedProtocolVersion);
  expect_accept(0x10, connect_body("MQIsdp", 3, 0x02, rest), Version::V311);
}

TEST(CodecRejects, TrailingBytes) {
  expect_reject(0x10, connect_body("MQTT", 4, 0x02, client_id_field("c") + "x"), Version::V311, Reason::MalformedPacket);
  expect_reject(0x20, bytes({0x00, 0x00, 0x00}), Version::V311, Reason::MalformedPacket);   // CONNACK
  expect_reject(0x20, bytes({0x02, 0x00}), Version::V311, Reason::MalformedPacket);         // CONNACK flags
  expect_reject(0x40, bytes({0x00, 0x01, 0x00}), Version::V311, Reason::MalformedPacket);   // PUBACK 3.1.1
  expect_reject(0x62, bytes({0x00, 0x01, 0x00, 0x00, 0x99}), Version::V5, Reason::MalformedPacket);
  expect_reject(0xB0, bytes({0x00, 0x01, 0x00}), Version::V311, Reason::MalformedPacket);   // UNSUBACK 3.1.1
  expect_reject(0xC0, bytes({0x00}), Version::V311, Reason::MalformedPacket);               // PINGREQ
  expect_reject(0xD0, bytes({0x00}), Version::V5, Reason::MalformedPacket);                 // PINGRESP
  expect_reject(0xE0, bytes({0x00}), Version::V311, Reason::MalformedPacket);               // DISCONNECT 3.1.1
  expect_reject(0xE0, bytes({0x00, 0x00, 0x00}), Version::V5, Reason::MalformedPacket);     // after props
}

TEST(CodecRejects, AuthBefore5) {
  expect_reject(0xF0, "", Version::V311, Reason::MalformedPacket);
  expect_accept(0xF0, "", Version::V5);
}

TEST(CodecRejects, AckReasonCodeNotValidForType) {
  expect_reject(0x40, bytes({0x00, 0x01, 0x92}), Version::V5, Reason::MalformedPacket);  // PUBACK 0x92
  expect_reject(0x62, bytes({0x00, 0x01, 0x10}), Version::V5, Reason::MalformedPacket);  // PUBREL 0x10
  expect_reject(0x70, bytes({0x00, 0x01, 0x80}), Version::V5, Reason::MalformedPacket);  // PUBCOMP 0x80
  expect_accept(0x40, bytes({0x00, 0x01, 0x97}), Version::V5);
  expect_accept(0x70, bytes({0x00, 0x01, 0x92}), Version::V5);
}

// ------------------------------------------------------------------ SUBSCRIBE rules

TEST(CodecRejects, EmptySubscribeAndUnsubscribe) {
  expect_reject(0x82, bytes({0x00, 0x01}), Version::V311, Reason::MalformedPacket);
  expect_reject(0x82, bytes({0x00, 0x01, 0x00}), Version::V5, Reason::ProtocolError);
  expect_reject(0xA2, bytes({0x00, 0x01}), Version::V311, Reason::MalformedPacket);
  expect_reject(0xA2, bytes({0x00, 0x01, 0x00}), Version::V5, Reason::ProtocolError);
}

std::string subscribe_with_options(uint8_t opts, bool v5) {
  std::string b = bytes({0x00, 0x01});
  if (v5) b.push_back(0);
  w::put_string(b, "a/b");
  b.push_back(static_cast<char>(opts));
  return b;
}

TEST(CodecRejects, SubscriptionOptionReservedBits) {
  // 3.1.1: only the QoS bits.
  for (uint8_t bit : {0x04, 0x08, 0x10, 0x20, 0x40, 0x80})
    expect_reject(0x82, subscribe_with_options(bit, false), Version::V311, Reason::MalformedPacket);
  // 5.0: bits 6 and 7 reserved.
  expect_reject(0x82, subscribe_with_options(0x40, true), Version::V5, Reason::MalformedPacket);
  expect_reject(0x82, subscribe_with_options(0x80, true), Version::V5, Reason::MalformedPacket);
  // QoS 3.
  expect_reject(0x82, subscribe_with_options(0x03, false), Version::V311, Reason::MalformedPacket);
  expect_reject(0x82, subscribe_with_options(0x03, true), Version::V5, Reason::MalformedPacket);
  // All valid 5.0 options decode.
  auto d = decode_body(0x82, subscribe_with_options(0x2E, true), Version::V5);
  ASSERT_TRUE(d) << d.error().detail;
  const auto& o = std::get<pr::Subscribe>(*d).subscriptions.at(0).options;
  EXPECT_EQ(o.qos, 2);
  EXPECT_TRUE(o.no_local);
  EXPECT_TRUE(o.retain_as_published);
  EXPECT_EQ(o.retain_handling, 2);
}

TEST(CodecRejects, RetainHandling3) {
  expect_reject(0x82, subscribe_with_options(0x30, true), Version::V5, Reason::ProtocolError);
}

// ------------------------------------------------------------------ properties

std::string prop_u16(pr::PropertyId id, uint16_t v) {
  std::string s;
  s.push_back(static_cast<char>(id));
  w::put_u16(s, v);
  return s;
}
std::string prop_u32(pr::PropertyId id, uint32_t v) {
  std::string s;
  s.push_back(static_cast<char>(id));
  w::put_u32(s, v);
  return s;
}
std::string prop_u8(pr::PropertyId id, uint8_t v) {
  std::string s;
  s.push_back(static_cast<char>(id));
  s.push_back(static_cast<char>(v));
  return s;
}
std::string prop_str(pr::PropertyId id, std::string_view v) {
  std::string s;
  s.push_back(static_cast<char>(id));
  w::put_string(s, v);
  return s;
}
std::string prop_varint(pr::PropertyId id, uint32_t v) {
  std::string s;
  s.push_back(static_cast<char>(id));
  w::put_varint(s, v);
  return s;
}

/// A 5.0 CONNECT body with the given raw connect-properties block.
std::string connect5_with_props(std::string_view props) {
  std::string rest;
  w::put_varint(rest, static_cast<uint32_t>(props.size()));
  rest.append(props);
  w::put_string(rest, "c");
  return connect_body("MQTT", 5, 0x02, rest);
}

TEST(CodecRejects, DuplicateProperty) {
  using Id = pr::PropertyId;
  expect_reject(0x30, publish_body("t", 0, prop_str(Id::ContentType, "a") + prop_str(Id::ContentType, "b"), true),
                Version::V5, Reason::ProtocolError);
  expect_reject(0x10, connect5_with_props(prop_u32(Id::SessionExpiryInterval, 1) + prop_u32(Id::SessionExpiryInterval, 2)),
                Version::V5, Reason::ProtocolError);
  expect_reject(0x10, connect5_with_props(prop_u16(Id::ReceiveMaximum, 1) + prop_u16(Id::ReceiveMaximum, 1)),
                Version::V5, Reason::ProtocolError);
  // Subscription Identifier may repeat in PUBLISH but not in SUBSCRIBE.
  std::string sub = bytes({0x00, 0x01});
  std::string sp = prop_varint(Id::SubscriptionIdentifier, 1) + prop_varint(Id::SubscriptionIdentifier, 2);
  w::put_varint(sub, static_cast<uint32_t>(sp.size()));
  sub += sp;
  w::put_string(sub, "a");
  sub.push_back(0);
  expect_reject(0x82, sub, Version::V5, Reason::ProtocolError);
  auto d = decode_body(0x30, publish_body("t", 0, sp, true), Version::V5);
  ASSERT_TRUE(d) << d.error().detail;
  EXPECT_EQ(std::get<pr::Publish>(*d).properties.subscription_identifiers, (std::vector<uint32_t>{1, 2}));
  // User Property may repeat anywhere.
  std::string up = prop_str(Id::UserProperty, "k").append(client_id_field("v"));
  auto d2 = decode_body(0x10, connect5_with_props(up + up), Version::V5);
  ASSERT_TRUE(d2) << d2.error().detail;
  EXPECT_EQ(std::get<pr::Connect>(*d2).properties.user_properties.size(), 2u);
}

TEST(CodecRejects, PropertyNotAllowedInPacket) {
  using Id = pr::PropertyId;
  expect_reject(0x10, connect5_with_props(prop_u16(Id::TopicAlias, 1)), Version::V5, Reason::ProtocolError);
  expect_reject(0x10, connect5_with_props(prop_u32(Id::WillDelayInterval, 1)), Version::V5, Reason::ProtocolError);
  expect_reject(0x10, connect5_with_props(prop_u32(Id::MessageExpiryInterval, 1)), Version::V5, Reason::ProtocolError);
  expect_reject(0x10, connect5_with_props(prop_str(Id::ReasonString, "r")), Version::V5, Reason::ProtocolError);
  expect_reject(0x30, publish_body("t", 0, prop_u32(Id::SessionExpiryInterval, 1), true), Version::V5,
                Reason::ProtocolError);
  expect_reject(0x30, publish_body("t", 0, prop_u16(Id::ReceiveMaximum, 1), true), Version::V5, Reason::ProtocolError);
  expect_reject(0x30, publish_body("t", 0, prop_str(Id::ReasonString, "r"), true), Version::V5, Reason::ProtocolError);
  // Reason String in PUBACK is fine; Topic Alias is not.
  std::string ack = bytes({0x00, 0x01, 0x00});
  std::string p = prop_str(Id::ReasonString, "r");
  w::put_varint(ack, static_cast<uint32_t>(p.size()));
  expect_accept(0x40, ack + p, Version::V5);
  std::string ack2 = bytes({0x00, 0x01, 0x00, 0x03});
  expect_reject(0x40, ack2 + prop_u16(Id::TopicAlias, 1), Version::V5, Reason::ProtocolError);
  // Will properties: Will Delay allowed there, Topic Alias not.
  auto will_connect = [](std::string_view wprops) {
    std::string rest(1, '\0');
    w::put_string(rest, "c");
    w::put_varint(rest, static_cast<uint32_t>(wprops.size()));
    rest.append(wprops);
    w::put_string(rest, "w");
    w::put_string(rest, "p");
    return connect_body("MQTT", 5, 0x06, rest);
  };
  auto d = decode_body(0x10, will_connect(prop_u32(Id::WillDelayInterval, 9)), Version::V5);
  ASSERT_TRUE(d) << d.error().detail;
  EXPECT_EQ(std::get<pr::Connect>(*d).will->properties.will_delay_interval, 9u);
  expect_reject(0x10, will_connect(prop_u16(Id::TopicAlias, 1)), Version::V5, Reason::ProtocolError);
  expect_reject(0x10, will_connect(prop_u32(Id::SessionExpiryInterval, 1)), Version::V5, Reason::ProtocolError);
}

TEST(CodecRejects, PropertyValueRules) {
  using Id = pr::PropertyId;
  expect_reject(0x10, connect5_with_props(prop_u16(Id::ReceiveMaximum, 0)), Version::V5, Reason::ProtocolError);
  expect_reject(0x10, connect5_with_props(prop_u32(Id::MaximumPacketSize, 0)), Version::V5, Reason::ProtocolError);
  expect_reject(0x10, connect5_with_props(prop_u8(Id::RequestProblemInformation, 2)), Version::V5, Reason::ProtocolError);
  expect_reject(0x30, publish_body("t", 0, prop_u8(Id::PayloadFormatIndicator, 2), true), Version::V5,
                Reason::ProtocolError);
  expect_reject(0x30, publish_body("t", 0, prop_varint(Id::SubscriptionIdentifier, 0), true), Version::V5,
                Reason::ProtocolError);
  expect_reject(0x20, bytes({0x00, 0x00, 0x02}) + prop_u8(Id::MaximumQos, 2), Version::V5, Reason::ProtocolError);
  expect_accept(0x10, connect5_with_props(prop_u16(Id::ReceiveMaximum, 1)), Version::V5);
}

TEST(CodecRejects, MalformedPropertyBlocks) {
  // Unknown identifier.
  expect_reject(0x30, publish_body("t", 0, bytes({0x7F, 0x00}), true), Version::V5, Reason::MalformedPacket);
  // Property length beyond the packet: declare 10, packet ends after "payload" (7 bytes).
  std::string b;
  w::put_string(b, "t");
  b.push_back(0x7F);  // 127 > bytes left
  b.append("abc");
  expect_reject(0x30, b, Version::V5, Reason::MalformedPacket);
  // Truncated value inside the block.
  expect_reject(0x30, publish_body("t", 0, bytes({0x02, 0x00, 0x00}), true), Version::V5, Reason::MalformedPacket);
  // Invalid UTF-8 in a string property.
  expect_reject(0x30, publish_body("t", 0, prop_str(pr::PropertyId::ContentType, "\xED\xA0\x80"), true), Version::V5,
                Reason::MalformedPacket);
}

}  // namespace
}  // namespace musqratt::test
