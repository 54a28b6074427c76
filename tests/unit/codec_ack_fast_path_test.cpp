// The acknowledgement fast paths agree with the general codec: encode_ack makes the bytes
// encode_packet makes for the same Ack, and plain_ack_id accepts exactly the bodies that
// decode_packet decodes into an Ack with only an id.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/codec.h"
#include "protocol/reason_table.h"

namespace musqratt::protocol {
namespace {

constexpr PacketType kAcks[] = {PacketType::Puback, PacketType::Pubrec, PacketType::Pubrel, PacketType::Pubcomp};

TEST(CodecAckFastPath, EncodeAckMatchesEncodePacketForEveryReason) {
  for (Version v : {Version::V31, Version::V311, Version::V5}) {
    for (PacketType t : kAcks) {
      for (unsigned r = 0; r < 256; ++r) {
        Ack a;
        a.type = t;
        a.packet_id = static_cast<uint16_t>(0x1234 + r);
        a.reason = static_cast<Reason>(r);
        std::string general, fast;
        size_t n_general = encode_packet(a, v, general);
        size_t n_fast = encode_ack(t, a.packet_id, a.reason, v, fast);
        ASSERT_EQ(fast, general) << packet_type_name(t) << " reason " << r << " version " << static_cast<int>(v);
        ASSERT_EQ(n_fast, n_general);
      }
    }
  }
}

TEST(CodecAckFastPath, PlainAckIdAcceptsOnlyWhatDecodesToAPlainAck) {
  for (unsigned first = 0; first < 256; ++first) {
    for (std::vector<uint8_t> body : {std::vector<uint8_t>{0x00, 0x07}, std::vector<uint8_t>{0x00, 0x00},
                                      std::vector<uint8_t>{0xFF, 0xFF}, std::vector<uint8_t>{0x00, 0x07, 0x00},
                                      std::vector<uint8_t>{0x00}}) {
      auto fast = plain_ack_id(static_cast<uint8_t>(first), body);
      if (!fast) continue;
      for (Version v : {Version::V311, Version::V5}) {
        auto decoded = decode_packet(static_cast<uint8_t>(first), body, v);
        ASSERT_TRUE(decoded.has_value()) << "first byte " << first;
        const Ack* a = std::get_if<Ack>(&*decoded);
        ASSERT_NE(a, nullptr);
        EXPECT_EQ(a->packet_id, *fast);
        EXPECT_EQ(a->reason, Reason::Success);
        EXPECT_EQ(a->properties, Properties{});
        EXPECT_EQ(a->type, static_cast<PacketType>(first >> 4));
      }
    }
  }
  // What it turns away: wrong flags (PUBREL needs 0x2), id 0, other types, longer bodies.
  const std::vector<uint8_t> id7{0x00, 0x07};
  EXPECT_TRUE(plain_ack_id(0x62, id7));
  EXPECT_FALSE(plain_ack_id(0x60, id7));
  EXPECT_FALSE(plain_ack_id(0x41, id7));
  EXPECT_FALSE(plain_ack_id(0x40, std::vector<uint8_t>{0x00, 0x00}));
  EXPECT_FALSE(plain_ack_id(0x90, id7));
  EXPECT_FALSE(plain_ack_id(0x40, std::vector<uint8_t>{0x00, 0x07, 0x10}));
}

}  // namespace
}  // namespace musqratt::protocol
