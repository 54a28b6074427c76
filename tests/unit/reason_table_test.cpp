// The reason-code table against the specifications. Every expected value below is copied from
// the specification text, not computed from the table: MQTT 5.0 section 2.4 (names) and the
// per-packet tables 3-1 and 3-4 .. 3-11 (which codes each packet may carry); MQTT 3.1.1 table
// 3.1 (CONNACK return codes) and section 3.9.3 (SUBACK return codes). The 5.0 -> 3.1.1 CONNACK
// mapping is the one docs/reason-codes.md documents.
#include "protocol/reason_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <vector>

#include "test_support.h"

namespace musqratt::test {
namespace {

using pr::PacketType;
using pr::Reason;
using pr::ReasonUse;
using pr::Version;

/// MQTT 5.0 section 2.4, table 2-6: every reason code and its name.
const std::map<uint8_t, std::string> kSpecNames = {
    {0x00, "Success"},
    {0x01, "Granted QoS 1"},
    {0x02, "Granted QoS 2"},
    {0x04, "Disconnect with Will Message"},
    {0x10, "No matching subscribers"},
    {0x11, "No subscription existed"},
    {0x18, "Continue authentication"},
    {0x19, "Re-authenticate"},
    {0x80, "Unspecified error"},
    {0x81, "Malformed Packet"},
    {0x82, "Protocol Error"},
    {0x83, "Implementation specific error"},
    {0x84, "Unsupported Protocol Version"},
    {0x85, "Client Identifier not valid"},
    {0x86, "Bad User Name or Password"},
    {0x87, "Not authorized"},
    {0x88, "Server unavailable"},
    {0x89, "Server busy"},
    {0x8A, "Banned"},
    {0x8B, "Server shutting down"},
    {0x8C, "Bad authentication method"},
    {0x8D, "Keep Alive timeout"},
    {0x8E, "Session taken over"},
    {0x8F, "Topic Filter invalid"},
    {0x90, "Topic Name invalid"},
    {0x91, "Packet Identifier in use"},
    {0x92, "Packet Identifier not found"},
    {0x93, "Receive Maximum exceeded"},
    {0x94, "Topic Alias invalid"},
    {0x95, "Packet too large"},
    {0x96, "Message rate too high"},
    {0x97, "Quota exceeded"},
    {0x98, "Administrative action"},
    {0x99, "Payload format invalid"},
    {0x9A, "Retain not supported"},
    {0x9B, "QoS not supported"},
    {0x9C, "Use another server"},
    {0x9D, "Server moved"},
    {0x9E, "Shared Subscriptions not supported"},
    {0x9F, "Connection rate exceeded"},
    {0xA0, "Maximum connect time"},
    {0xA1, "Subscription Identifiers not supported"},
    {0xA2, "Wildcard Subscriptions not supported"},
};

struct PacketTable {
  PacketType type;
  const char* source;
  std::vector<uint8_t> codes;
};

/// MQTT 5.0 per-packet tables: the codes the sender MUST use.
const std::vector<PacketTable> kSpec5 = {
    {PacketType::Connack, "table 3-1",
     {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B,
      0x9C, 0x9D, 0x9F}},
    {PacketType::Puback, "table 3-4", {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99}},
    {PacketType::Pubrec, "table 3-5", {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99}},
    {PacketType::Pubrel, "table 3-6", {0x00, 0x92}},
    {PacketType::Pubcomp, "table 3-7", {0x00, 0x92}},
    {PacketType::Suback, "table 3-8", {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2}},
    {PacketType::Unsuback, "table 3-9", {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91}},
    {PacketType::Disconnect, "table 3-10",
     {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94,
      0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2}},
    {PacketType::Auth, "table 3-11", {0x00, 0x18, 0x19}},
};

const PacketType kReasonPackets[] = {PacketType::Connack, PacketType::Puback,   PacketType::Pubrec,
                                     PacketType::Pubrel,  PacketType::Pubcomp,  PacketType::Suback,
                                     PacketType::Unsuback, PacketType::Disconnect, PacketType::Auth};

/// MQTT 3.1.1 table 3.1 (3.1 has the same codes): CONNACK return code -> the 5.0 reason it is.
const std::map<uint8_t, Reason> kConnack311 = {
    {0x00, Reason::Success},
    {0x01, Reason::UnsupportedProtocolVersion},
    {0x02, Reason::ClientIdentifierNotValid},
    {0x03, Reason::ServerUnavailable},
    {0x04, Reason::BadUserNameOrPassword},
    {0x05, Reason::NotAuthorized},
};
/// MQTT 3.1.1 section 3.9.3: SUBACK return codes.
const std::map<uint8_t, Reason> kSuback311 = {
    {0x00, Reason::Success}, {0x01, Reason::GrantedQos1}, {0x02, Reason::GrantedQos2}, {0x80, Reason::UnspecifiedError}};

/// The 3.1.1 CONNACK code each 5.0 CONNACK reason is sent as (docs/reason-codes.md): server-side
/// conditions -> 0x03, refusals of what the client sent -> 0x05.
const std::map<uint8_t, uint8_t> kConnack5To311 = {
    {0x00, 0x00}, {0x80, 0x05}, {0x81, 0x05}, {0x82, 0x05}, {0x83, 0x05}, {0x84, 0x01}, {0x85, 0x02}, {0x86, 0x04},
    {0x87, 0x05}, {0x88, 0x03}, {0x89, 0x03}, {0x8A, 0x05}, {0x8C, 0x05}, {0x90, 0x05}, {0x95, 0x05}, {0x97, 0x03},
    {0x99, 0x05}, {0x9A, 0x05}, {0x9B, 0x05}, {0x9C, 0x03}, {0x9D, 0x03}, {0x9F, 0x03},
};

const Version kVersions3[] = {Version::V31, Version::V311};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool listed(const std::vector<uint8_t>& codes, uint8_t b) {
  return std::find(codes.begin(), codes.end(), b) != codes.end();
}

std::string where(Version v, PacketType t, int byte) {
  char buf[64];
  snprintf(buf, sizeof buf, "level %d %s byte 0x%02X", static_cast<int>(v), pr::packet_type_name(t), byte);
  return buf;
}

// ------------------------------------------------------------------ names

TEST(ReasonTable, NamesAreThoseOfSection24) {
  for (const auto& [byte, name] : kSpecNames) {
    SCOPED_TRACE(name);
    EXPECT_EQ(lower(pr::reason_name(static_cast<Reason>(byte))), lower(name));
  }
}

TEST(ReasonTable, ValuesThatAreNoReasonCodeHaveNoName) {
  for (int b = 0; b < 256; ++b) {
    if (kSpecNames.contains(static_cast<uint8_t>(b))) continue;
    EXPECT_STREQ(pr::reason_name(static_cast<Reason>(b)), "unknown reason") << b;
  }
}

TEST(ReasonTable, NamesThatDependOnThePacket) {
  // 5.0 table 3-10 and table 3-8 name 0x00 differently.
  EXPECT_EQ(lower(pr::reason_name(Reason::Success, Version::V5, PacketType::Disconnect)), "normal disconnection");
  EXPECT_EQ(lower(pr::reason_name(Reason::Success, Version::V5, PacketType::Suback)), "granted qos 0");
  EXPECT_EQ(lower(pr::reason_name(Reason::Success, Version::V5, PacketType::Puback)), "success");
  // 3.1.1 table 3.1 ("Connection Refused, identifier rejected", ...).
  const std::map<uint8_t, std::string> connack311 = {
      {0x00, "connection accepted"},       {0x01, "unacceptable protocol version"}, {0x02, "identifier rejected"},
      {0x03, "server unavailable"},        {0x04, "bad user name or password"},     {0x05, "not authorized"}};
  for (const auto& [code, name] : connack311) {
    EXPECT_EQ(pr::reason_name(kConnack311.at(code), Version::V311, PacketType::Connack), name) << int{code};
  }
  // 3.1.1 section 3.9.3: "0x80 - Failure".
  EXPECT_STREQ(pr::reason_name(Reason::UnspecifiedError, Version::V311, PacketType::Suback), "failure");
}

TEST(ReasonTable, ErrorsAreTheCodesFrom0x80) {
  for (const auto& [byte, name] : kSpecNames) EXPECT_EQ(pr::is_error(static_cast<Reason>(byte)), byte >= 0x80) << name;
}

// ------------------------------------------------------------------ MQTT 5.0

TEST(ReasonTable, V5EveryPacketCarriesExactlyTheCodesOfItsTable) {
  for (const PacketTable& t : kSpec5) {
    EXPECT_TRUE(pr::carries_reason(Version::V5, t.type)) << t.source;
    for (int b = 0; b < 256; ++b) {
      auto byte = static_cast<uint8_t>(b);
      SCOPED_TRACE(std::string(t.source) + ", " + where(Version::V5, t.type, b));
      auto decoded = pr::reason_from_wire(byte, Version::V5, t.type);
      if (listed(t.codes, byte)) {
        ASSERT_TRUE(decoded.has_value());
        EXPECT_EQ(static_cast<uint8_t>(*decoded), byte);  // a 5.0 reason is its own byte
        EXPECT_EQ(pr::reason_use(*decoded, Version::V5, t.type), ReasonUse::Allowed);
        EXPECT_TRUE(pr::reason_allowed(*decoded, Version::V5, t.type));
        EXPECT_EQ(pr::wire_byte(*decoded, Version::V5, t.type), byte);  // round trip
        EXPECT_EQ(pr::reason_for(Version::V5, t.type, *decoded), *decoded);
        EXPECT_EQ(pr::encoded_reason(*decoded, Version::V5, t.type), byte);
      } else {
        EXPECT_FALSE(decoded.has_value());
      }
    }
  }
}

TEST(ReasonTable, V5ReasonsNotInAPacketTableAreRefusedAndReplacedByAFailure) {
  for (const PacketTable& t : kSpec5) {
    Reason fallback = pr::fallback_reason(Version::V5, t.type);
    // The fallback is one of the packet's own codes and never success.
    EXPECT_TRUE(listed(t.codes, static_cast<uint8_t>(fallback))) << t.source;
    EXPECT_NE(fallback, Reason::Success) << t.source;
    for (const auto& [byte, name] : kSpecNames) {
      if (listed(t.codes, byte)) continue;
      auto r = static_cast<Reason>(byte);
      SCOPED_TRACE(std::string(t.source) + ": " + name);
      EXPECT_EQ(pr::reason_use(r, Version::V5, t.type), ReasonUse::Forbidden);
      EXPECT_FALSE(pr::reason_allowed(r, Version::V5, t.type));
      EXPECT_FALSE(pr::wire_byte(r, Version::V5, t.type).has_value());
      EXPECT_EQ(pr::reason_for(Version::V5, t.type, r), fallback);
      EXPECT_EQ(pr::encoded_reason(r, Version::V5, t.type), static_cast<uint8_t>(fallback));
    }
  }
  // The generic failures the specification offers each packet.
  EXPECT_EQ(pr::fallback_reason(Version::V5, PacketType::Disconnect), Reason::UnspecifiedError);
  EXPECT_EQ(pr::fallback_reason(Version::V5, PacketType::Connack), Reason::UnspecifiedError);
  EXPECT_EQ(pr::fallback_reason(Version::V5, PacketType::Pubcomp), Reason::PacketIdentifierNotFound);
  EXPECT_EQ(pr::fallback_reason(Version::V5, PacketType::Auth), Reason::ContinueAuthentication);
}

TEST(ReasonTable, V5PacketsWithoutReasonCode) {
  for (PacketType t : {PacketType::Connect, PacketType::Publish, PacketType::Subscribe, PacketType::Unsubscribe,
                       PacketType::Pingreq, PacketType::Pingresp}) {
    EXPECT_FALSE(pr::carries_reason(Version::V5, t)) << pr::packet_type_name(t);
    for (int b = 0; b < 256; ++b) EXPECT_FALSE(pr::reason_from_wire(static_cast<uint8_t>(b), Version::V5, t));
  }
}

// ------------------------------------------------------------------ MQTT 3.1 and 3.1.1

TEST(ReasonTable, V3ConnackReturnCodesAreTable31) {
  for (Version v : kVersions3) {
    EXPECT_TRUE(pr::carries_reason(v, PacketType::Connack));
    for (int b = 0; b < 256; ++b) {
      SCOPED_TRACE(where(v, PacketType::Connack, b));
      auto decoded = pr::reason_from_wire(static_cast<uint8_t>(b), v, PacketType::Connack);
      auto spec = kConnack311.find(static_cast<uint8_t>(b));
      if (spec == kConnack311.end()) {
        EXPECT_FALSE(decoded.has_value());  // 6..255 are reserved
        continue;
      }
      ASSERT_TRUE(decoded.has_value());
      EXPECT_EQ(*decoded, spec->second);
      EXPECT_EQ(pr::reason_use(*decoded, v, PacketType::Connack), ReasonUse::Allowed);
      EXPECT_EQ(pr::wire_byte(*decoded, v, PacketType::Connack), b);  // round trip
    }
  }
}

TEST(ReasonTable, V3ConnackMapsEvery5ReasonOntoAReturnCode) {
  const auto& connack5 = kSpec5.front().codes;
  for (Version v : kVersions3) {
    for (const auto& [byte, name] : kSpecNames) {
      auto r = static_cast<Reason>(byte);
      SCOPED_TRACE(where(v, PacketType::Connack, byte) + " " + name);
      if (!listed(connack5, byte)) {
        // Not a CONNACK reason in 5.0 either: refused, and sent as 0x05 "not authorized".
        EXPECT_EQ(pr::reason_use(r, v, PacketType::Connack), ReasonUse::Forbidden);
        EXPECT_FALSE(pr::wire_byte(r, v, PacketType::Connack).has_value());
        EXPECT_EQ(pr::reason_for(v, PacketType::Connack, r), Reason::NotAuthorized);
        EXPECT_EQ(pr::encoded_reason(r, v, PacketType::Connack), 0x05);
        continue;
      }
      uint8_t code = kConnack5To311.at(byte);
      EXPECT_EQ(pr::wire_byte(r, v, PacketType::Connack), code);
      EXPECT_EQ(pr::encoded_reason(r, v, PacketType::Connack), code);
      EXPECT_EQ(pr::reason_for(v, PacketType::Connack, r), kConnack311.at(code));
      bool own_code = kConnack311.at(code) == r;
      EXPECT_EQ(pr::reason_use(r, v, PacketType::Connack), own_code ? ReasonUse::Allowed : ReasonUse::Mapped);
    }
  }
}

TEST(ReasonTable, V3SubackReturnCodes) {
  const auto& suback5 = kSpec5[5].codes;
  ASSERT_EQ(kSpec5[5].type, PacketType::Suback);
  for (Version v : kVersions3) {
    EXPECT_TRUE(pr::carries_reason(v, PacketType::Suback));
    for (int b = 0; b < 256; ++b) {
      auto decoded = pr::reason_from_wire(static_cast<uint8_t>(b), v, PacketType::Suback);
      auto spec = kSuback311.find(static_cast<uint8_t>(b));
      if (spec == kSuback311.end()) {
        EXPECT_FALSE(decoded.has_value()) << where(v, PacketType::Suback, b);  // [MQTT-3.9.3-2, 3.1.1]
      } else {
        ASSERT_TRUE(decoded.has_value()) << where(v, PacketType::Suback, b);
        EXPECT_EQ(*decoded, spec->second);
        EXPECT_EQ(pr::wire_byte(*decoded, v, PacketType::Suback), b);
      }
    }
    // Every 5.0 SUBACK failure is the one 3.1.1 failure code; other reasons are refused.
    for (const auto& [byte, name] : kSpecNames) {
      auto r = static_cast<Reason>(byte);
      SCOPED_TRACE(where(v, PacketType::Suback, byte) + " " + name);
      if (!listed(suback5, byte)) {
        EXPECT_FALSE(pr::wire_byte(r, v, PacketType::Suback).has_value());
        EXPECT_EQ(pr::encoded_reason(r, v, PacketType::Suback), 0x80);
      } else if (byte >= 0x80) {
        EXPECT_EQ(pr::wire_byte(r, v, PacketType::Suback), 0x80);
        EXPECT_EQ(pr::reason_for(v, PacketType::Suback, r), Reason::UnspecifiedError);
      } else {
        EXPECT_EQ(pr::wire_byte(r, v, PacketType::Suback), byte);  // granted QoS 0, 1, 2
      }
    }
  }
}

TEST(ReasonTable, V3OtherPacketsHaveNoReasonByteAndMeanSuccess) {
  for (Version v : kVersions3) {
    for (PacketType t : {PacketType::Puback, PacketType::Pubrec, PacketType::Pubrel, PacketType::Pubcomp,
                         PacketType::Unsuback, PacketType::Disconnect}) {
      SCOPED_TRACE(where(v, t, 0));
      EXPECT_FALSE(pr::carries_reason(v, t));
      EXPECT_EQ(pr::reason_use(Reason::Success, v, t), ReasonUse::Implied);
      EXPECT_TRUE(pr::reason_allowed(Reason::Success, v, t));
      for (int b = 0; b < 256; ++b) EXPECT_FALSE(pr::reason_from_wire(static_cast<uint8_t>(b), v, t));
      for (const auto& [byte, name] : kSpecNames) {
        auto r = static_cast<Reason>(byte);
        EXPECT_FALSE(pr::wire_byte(r, v, t).has_value()) << name;
        EXPECT_EQ(pr::reason_for(v, t, r), Reason::Success) << name;
        if (r != Reason::Success) {
          EXPECT_EQ(pr::reason_use(r, v, t), ReasonUse::Forbidden) << name;
        }
      }
    }
    // There is no AUTH packet before 5.0.
    EXPECT_FALSE(pr::carries_reason(v, PacketType::Auth));
    EXPECT_EQ(pr::reason_use(Reason::Success, v, PacketType::Auth), ReasonUse::Forbidden);
  }
}

// ------------------------------------------------------------------ the call-site helper

TEST(ReasonTable, ReasonForReplacesVersionChoices) {
  // A connection limit: 5.0 says quota exceeded, 3.1.1 server unavailable.
  EXPECT_EQ(pr::reason_for(Version::V5, PacketType::Connack, Reason::QuotaExceeded), Reason::QuotaExceeded);
  EXPECT_EQ(pr::reason_for(Version::V311, PacketType::Connack, Reason::QuotaExceeded), Reason::ServerUnavailable);
  // A publish denied by ACL: 5.0 PUBACK says not authorized; a 3.1.1 PUBACK can only say
  // "received" [MQTT-3.3.5-2, 3.1.1].
  for (PacketType t : {PacketType::Puback, PacketType::Pubrec}) {
    EXPECT_EQ(pr::reason_for(Version::V5, t, Reason::NotAuthorized), Reason::NotAuthorized);
    EXPECT_EQ(pr::reason_for(Version::V311, t, Reason::NotAuthorized), Reason::Success);
    EXPECT_EQ(pr::reason_for(Version::V5, t, Reason::NoMatchingSubscribers), Reason::NoMatchingSubscribers);
    EXPECT_EQ(pr::reason_for(Version::V311, t, Reason::NoMatchingSubscribers), Reason::Success);
  }
}

// ------------------------------------------------------------------ through the codec

/// A 5.0 body holding just `code` (plus what the packet needs before it) for `t`.
std::string body_with_code(PacketType t, uint8_t code) {
  switch (t) {
    case PacketType::Connack: return bytes({0x00, code, 0x00});
    case PacketType::Puback:
    case PacketType::Pubrec:
    case PacketType::Pubrel:
    case PacketType::Pubcomp: return bytes({0x00, 0x01, code});
    case PacketType::Suback:
    case PacketType::Unsuback: return bytes({0x00, 0x01, 0x00, code});
    default: return bytes({code});  // DISCONNECT, AUTH
  }
}

TEST(ReasonTable, DecoderAcceptsTheTableCodesAndRefusesTheRest) {
  for (const PacketTable& t : kSpec5) {
    uint8_t first = static_cast<uint8_t>(static_cast<uint8_t>(t.type) << 4 | (t.type == PacketType::Pubrel ? 0x02 : 0));
    for (int b = 0; b < 256; ++b) {
      auto byte = static_cast<uint8_t>(b);
      auto d = decode_body(first, body_with_code(t.type, byte), Version::V5);
      if (listed(t.codes, byte)) {
        EXPECT_TRUE(d.has_value()) << t.source << " 0x" << std::hex << b << ": " << (d ? "" : d.error().detail);
      } else {
        ASSERT_FALSE(d.has_value()) << t.source << " accepted 0x" << std::hex << b;
        EXPECT_EQ(d.error().reason, Reason::MalformedPacket);
      }
    }
  }
  // 3.1.1: reserved CONNACK and SUBACK return codes.
  for (int b = 0; b < 256; ++b) {
    auto byte = static_cast<uint8_t>(b);
    EXPECT_EQ(decode_body(0x20, bytes({0x00, byte}), Version::V311).has_value(), kConnack311.contains(byte)) << b;
    EXPECT_EQ(decode_body(0x90, bytes({0x00, 0x01, byte}), Version::V311).has_value(), kSuback311.contains(byte)) << b;
  }
}

TEST(ReasonTable, EncoderNeverWritesACodeThePacketCannotCarry) {
  // A DISCONNECT with a CONNACK-only reason (what a second CONNECT with an unknown protocol
  // level would produce) goes out as 0x80, not as the invalid 0x84.
  EXPECT_EQ(encode(pr::Disconnect{Reason::UnsupportedProtocolVersion, {}}, Version::V5), bytes({0xE0, 0x01, 0x80}));
  EXPECT_EQ(encode(pr::Disconnect{Reason::BadAuthenticationMethod, {}}, Version::V5), bytes({0xE0, 0x01, 0x80}));
  // PUBCOMP has one failure code.
  pr::Ack comp{PacketType::Pubcomp, 7, Reason::QuotaExceeded, {}};
  EXPECT_EQ(encode(comp, Version::V5), bytes({0x70, 0x03, 0x00, 0x07, 0x92}));
  // 3.1.1 CONNACK and SUBACK: the nearest return code.
  EXPECT_EQ(encode(pr::Connack{false, Reason::QuotaExceeded, {}}, Version::V311), bytes({0x20, 0x02, 0x00, 0x03}));
  EXPECT_EQ(encode(pr::Connack{false, Reason::Banned, {}}, Version::V311), bytes({0x20, 0x02, 0x00, 0x05}));
  pr::Suback s{3, {Reason::GrantedQos2, Reason::NoMatchingSubscribers, Reason::QuotaExceeded}, {}};
  EXPECT_EQ(encode(s, Version::V311), bytes({0x90, 0x05, 0x00, 0x03, 0x02, 0x80, 0x80}));
  // 5.0 UNSUBACK: a reason of another packet becomes 0x80.
  pr::Unsuback u{4, {Reason::Success, Reason::GrantedQos1}, {}};
  EXPECT_EQ(encode(u, Version::V5), bytes({0xB0, 0x05, 0x00, 0x04, 0x00, 0x00, 0x80}));
}

}  // namespace
}  // namespace musqratt::test
