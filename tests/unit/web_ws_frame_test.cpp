// WebSocket framing (src/web/ws_frame.h) and the incremental decoder (src/web/ws_decoder.h).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "web/utf8_validator.h"
#include "web/ws_decoder.h"
#include "web/ws_frame.h"

namespace musqratt::web {
namespace {

std::string B(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}
std::span<const uint8_t> span_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

struct Recorder : WsDecoder::Handler {
  struct Message {
    WsOpcode type;
    std::string data;
    bool complete = false;
  };
  std::vector<Message> messages;
  std::vector<std::pair<WsOpcode, std::string>> controls;
  size_t data_calls = 0;
  void on_message_begin(WsOpcode t) override { messages.push_back({t, {}, false}); }
  void on_message_data(std::span<const uint8_t> d) override {
    ++data_calls;
    messages.back().data.append(reinterpret_cast<const char*>(d.data()), d.size());
  }
  void on_message_end() override { messages.back().complete = true; }
  void on_control(WsOpcode op, std::span<const uint8_t> p) override {
    controls.emplace_back(op, std::string(reinterpret_cast<const char*>(p.data()), p.size()));
  }
};

WsDecoder client_side(uint64_t max = 1 << 20) {
  return WsDecoder({.role = WsDecoder::Role::Client, .max_frame_payload = max, .max_message_size = max});
}
WsDecoder server_side(uint64_t max = 1 << 20, bool text = true) {
  return WsDecoder({.role = WsDecoder::Role::Server, .max_frame_payload = max, .max_message_size = max,
                    .accept_text = text});
}

// Feeds `bytes` whole, then again one byte at a time into a fresh copy of the decoder; both
// must give the same events.
std::expected<size_t, WsDecodeError> feed_both_ways(WsDecoder proto, const std::string& bytes, Recorder& rec) {
  WsDecoder whole = proto;
  auto r = whole.feed(span_of(bytes), rec);
  WsDecoder bytewise = proto;
  Recorder rec2;
  std::expected<size_t, WsDecodeError> r2 = size_t{0};
  size_t used = 0;
  for (size_t i = 0; i < bytes.size() && r2; ++i) {
    r2 = bytewise.feed(span_of(bytes).subspan(i, 1), rec2);
    if (r2) used += *r2;
  }
  EXPECT_EQ(r.has_value(), r2.has_value());
  if (r && r2) {
    EXPECT_EQ(*r, used);
  }
  if (!r && !r2) {
    EXPECT_EQ(r.error().code, r2.error().code);
  }
  // On an error the data delivered before it may differ by a chunk: only the code must agree.
  if (!r) return r;
  EXPECT_EQ(rec.messages.size(), rec2.messages.size());
  for (size_t i = 0; i < std::min(rec.messages.size(), rec2.messages.size()); ++i)
    EXPECT_EQ(rec.messages[i].data, rec2.messages[i].data);
  EXPECT_EQ(rec.controls, rec2.controls);
  return r;
}

// RFC 6455 section 5.7 examples.
TEST(WsDecoder, RfcExamples) {
  {
    Recorder rec;
    auto r = feed_both_ways(client_side(), B({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}), rec);
    ASSERT_TRUE(r);
    ASSERT_EQ(rec.messages.size(), 1u);
    EXPECT_EQ(rec.messages[0].type, WsOpcode::Text);
    EXPECT_EQ(rec.messages[0].data, "Hello");
    EXPECT_TRUE(rec.messages[0].complete);
  }
  {
    Recorder rec;
    auto r = feed_both_ways(server_side(), B({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}), rec);
    ASSERT_TRUE(r);
    EXPECT_EQ(rec.messages.at(0).data, "Hello");
  }
  {
    Recorder rec;
    auto r = feed_both_ways(client_side(), B({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f}), rec);
    ASSERT_TRUE(r);
    ASSERT_EQ(rec.messages.size(), 1u);
    EXPECT_EQ(rec.messages[0].data, "Hello");
    EXPECT_TRUE(rec.messages[0].complete);
  }
  {
    Recorder rec;
    ASSERT_TRUE(feed_both_ways(client_side(), B({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}), rec));
    ASSERT_EQ(rec.controls.size(), 1u);
    EXPECT_EQ(rec.controls[0].first, WsOpcode::Ping);
    EXPECT_EQ(rec.controls[0].second, "Hello");
  }
  {
    std::string f = B({0x82, 0x7E, 0x01, 0x00}) + std::string(256, 'x');
    std::string g = B({0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}) + std::string(65536, 'y');
    Recorder rec;
    WsDecoder d = client_side();
    ASSERT_TRUE(d.feed(span_of(f + g), rec));
    ASSERT_EQ(rec.messages.size(), 2u);
    EXPECT_EQ(rec.messages[0].data, std::string(256, 'x'));
    EXPECT_EQ(rec.messages[1].data, std::string(65536, 'y'));
    EXPECT_EQ(rec.messages[1].type, WsOpcode::Binary);
  }
}

TEST(WsDecoder, ControlFramesBetweenFragmentsAndEmptyFrames) {
  std::string s;
  const auto key = WsMaskKey{1, 2, 3, 4};
  append_ws_frame(s, WsOpcode::Binary, std::string_view("ab"), false, key);
  append_ws_frame(s, WsOpcode::Ping, std::string_view("p"), true, key);
  append_ws_frame(s, WsOpcode::Continuation, std::string_view(""), false, key);
  append_ws_frame(s, WsOpcode::Pong, std::string_view(""), true, key);
  append_ws_frame(s, WsOpcode::Continuation, std::string_view("cd"), true, key);
  append_ws_frame(s, WsOpcode::Binary, std::string_view(""), true, key);
  Recorder rec;
  auto r = feed_both_ways(server_side(), s, rec);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, s.size());
  ASSERT_EQ(rec.messages.size(), 2u);
  EXPECT_EQ(rec.messages[0].data, "abcd");
  EXPECT_TRUE(rec.messages[0].complete);
  EXPECT_EQ(rec.messages[1].data, "");
  EXPECT_TRUE(rec.messages[1].complete);
  ASSERT_EQ(rec.controls.size(), 2u);
  EXPECT_EQ(rec.controls[0], std::make_pair(WsOpcode::Ping, std::string("p")));
  EXPECT_EQ(rec.controls[1].first, WsOpcode::Pong);
}

TEST(WsDecoder, StopsAfterCloseAndReportsItsCode) {
  std::string s;
  append_ws_close(s, WsCloseCode::GoingAway, "bye", WsMaskKey{9, 8, 7, 6});
  const size_t close_size = s.size();
  append_ws_frame(s, WsOpcode::Binary, std::string_view("after"), true, WsMaskKey{1, 1, 1, 1});
  WsDecoder d = server_side();
  Recorder rec;
  auto r = d.feed(span_of(s), rec);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, close_size);
  EXPECT_TRUE(d.close_received());
  EXPECT_TRUE(rec.messages.empty());
  ASSERT_EQ(rec.controls.size(), 1u);
  auto c = WsDecoder::parse_close(span_of(rec.controls[0].second));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->code, 1001);
  EXPECT_EQ(c->reason, "bye");
  EXPECT_EQ(*d.feed(span_of(s).subspan(close_size), rec), 0u);
  EXPECT_EQ(WsDecoder::parse_close({})->code, 1005);
}

struct BadFrame {
  const char* name;
  std::string bytes;
  WsCloseCode code;
  bool server = true;
  uint64_t max = 1 << 20;
  bool accept_text = true;
};

std::string masked(WsOpcode op, std::string_view payload, bool fin = true) {
  std::string s;
  append_ws_frame(s, op, payload, fin, WsMaskKey{0x11, 0x22, 0x33, 0x44});
  return s;
}

class WsDecoderRejects : public ::testing::TestWithParam<BadFrame> {};

TEST_P(WsDecoderRejects, WithTheRightCloseCode) {
  const BadFrame& b = GetParam();
  WsDecoder proto({.role = b.server ? WsDecoder::Role::Server : WsDecoder::Role::Client,
                   .max_frame_payload = b.max, .max_message_size = b.max, .accept_text = b.accept_text});
  Recorder rec;
  auto r = feed_both_ways(proto, b.bytes, rec);
  ASSERT_FALSE(r) << b.name;
  EXPECT_EQ(r.error().code, b.code) << b.name << ": " << r.error().reason;
  // A failed decoder stays failed.
  WsDecoder d = proto;
  ASSERT_FALSE(d.feed(span_of(b.bytes), rec));
  EXPECT_FALSE(d.feed(span_of(masked(WsOpcode::Binary, "ok")), rec));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, WsDecoderRejects,
    ::testing::Values(
        BadFrame{"unmasked client frame", B({0x82, 0x01, 0x00}), WsCloseCode::ProtocolError},
        BadFrame{"masked server frame", masked(WsOpcode::Binary, "x"), WsCloseCode::ProtocolError, false},
        BadFrame{"rsv1", B({0xC2, 0x80, 0, 0, 0, 0}), WsCloseCode::ProtocolError},
        BadFrame{"rsv3", B({0x92, 0x80, 0, 0, 0, 0}), WsCloseCode::ProtocolError},
        BadFrame{"opcode 3", B({0x83, 0x80, 0, 0, 0, 0}), WsCloseCode::ProtocolError},
        BadFrame{"opcode 0xB", B({0x8B, 0x80, 0, 0, 0, 0}), WsCloseCode::ProtocolError},
        BadFrame{"fragmented ping", masked(WsOpcode::Ping, "x", false), WsCloseCode::ProtocolError},
        BadFrame{"ping over 125", masked(WsOpcode::Ping, std::string(126, 'p')), WsCloseCode::ProtocolError},
        BadFrame{"continuation first", masked(WsOpcode::Continuation, "x"), WsCloseCode::ProtocolError},
        BadFrame{"new message inside one", masked(WsOpcode::Binary, "a", false) + masked(WsOpcode::Binary, "b"),
                 WsCloseCode::ProtocolError},
        BadFrame{"16-bit length under 126", B({0x82, 0xFE, 0x00, 0x05, 0, 0, 0, 0}), WsCloseCode::ProtocolError},
        BadFrame{"64-bit length under 65536", B({0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0, 0, 0, 0}),
                 WsCloseCode::ProtocolError},
        BadFrame{"64-bit length msb", B({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
                 WsCloseCode::ProtocolError},
        BadFrame{"frame over the limit", masked(WsOpcode::Binary, std::string(101, 'x')), WsCloseCode::TooBig, true,
                 100},
        BadFrame{"message over the limit",
                 masked(WsOpcode::Binary, std::string(60, 'x'), false) +
                     masked(WsOpcode::Continuation, std::string(41, 'x')),
                 WsCloseCode::TooBig, true, 100},
        BadFrame{"text refused", masked(WsOpcode::Text, "hi"), WsCloseCode::UnsupportedData, true, 1 << 20, false},
        BadFrame{"text not UTF-8", masked(WsOpcode::Text, "a\xff"), WsCloseCode::InvalidPayload},
        BadFrame{"text ends mid-character", masked(WsOpcode::Text, "a\xc3"), WsCloseCode::InvalidPayload},
        BadFrame{"text split surrogate",
                 masked(WsOpcode::Text, "\xed", false) + masked(WsOpcode::Continuation, "\xa0\x80"),
                 WsCloseCode::InvalidPayload},
        BadFrame{"close of one byte", masked(WsOpcode::Close, "\x03"), WsCloseCode::ProtocolError},
        BadFrame{"close code 1005", masked(WsOpcode::Close, "\x03\xed"), WsCloseCode::ProtocolError},
        BadFrame{"close code 999", masked(WsOpcode::Close, "\x03\xe7"), WsCloseCode::ProtocolError},
        BadFrame{"close code 5000", masked(WsOpcode::Close, "\x13\x88"), WsCloseCode::ProtocolError},
        BadFrame{"close reason not UTF-8", masked(WsOpcode::Close, "\x03\xe8\xff"), WsCloseCode::InvalidPayload}),
    [](const auto& info) {
      std::string n = info.param.name;
      for (char& c : n)
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

TEST(WsDecoder, TextSplitAcrossFramesAtAnyByteIsValid) {
  const std::string text = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    std::string s = masked(WsOpcode::Text, text.substr(0, cut), false) +
                    masked(WsOpcode::Continuation, text.substr(cut));
    WsDecoder d = server_side();
    Recorder rec;
    ASSERT_TRUE(d.feed(span_of(s), rec)) << cut;
    EXPECT_EQ(rec.messages.at(0).data, text);
  }
}

TEST(WsDecoder, ValidCloseCodes) {
  for (uint16_t c : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999})
    EXPECT_TRUE(ws_close_code_valid_on_wire(c)) << c;
  for (uint16_t c : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535})
    EXPECT_FALSE(ws_close_code_valid_on_wire(c)) << c;
}

TEST(WsFrame, EncoderRoundTripsEveryLengthForm) {
  for (size_t len : {0ul, 1ul, 125ul, 126ul, 127ul, 65535ul, 65536ul, 70000ul}) {
    for (bool mask : {false, true}) {
      std::string payload(len, '\0');
      for (size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(i * 7 + 3);
      std::string s;
      std::optional<WsMaskKey> key;
      if (mask) key = WsMaskKey{0xde, 0xad, 0xbe, 0xef};
      append_ws_frame(s, WsOpcode::Binary, payload, true, key);
      const size_t expect_header = (len < 126 ? 2 : len <= 65535 ? 4 : 10) + (mask ? 4 : 0);
      EXPECT_EQ(s.size(), expect_header + len);
      WsFrameHeader h;
      ASSERT_EQ(parse_ws_frame_header(span_of(s), h), WsHeaderStatus::Complete);
      EXPECT_EQ(h.header_size, expect_header);
      EXPECT_EQ(h.payload_length, len);
      EXPECT_EQ(h.masked, mask);
      WsDecoder d = mask ? server_side() : client_side();
      Recorder rec;
      ASSERT_TRUE(d.feed(span_of(s), rec));
      ASSERT_EQ(rec.messages.size(), 1u);
      EXPECT_EQ(rec.messages[0].data, payload) << len << " masked " << mask;
    }
  }
}

TEST(WsFrame, MaskingAtAnyOffsetMatchesBytewise) {
  const WsMaskKey key{1, 2, 4, 8};
  std::vector<uint8_t> data(100);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
  for (uint64_t offset = 0; offset < 8; ++offset) {
    for (size_t len : {0, 1, 3, 7, 8, 9, 31, 100}) {
      std::vector<uint8_t> a(data.begin(), data.begin() + len);
      ws_apply_mask(a, key, offset);
      for (size_t i = 0; i < len; ++i) ASSERT_EQ(a[i], data[i] ^ key[(offset + i) % 4]);
    }
  }
}

TEST(WsFrame, CloseReasonIsCutAtACharacterBoundary) {
  std::string reason;
  for (int i = 0; i < 100; ++i) reason += "\xc3\xa9";  // 200 bytes of two-byte characters
  std::string s;
  append_ws_close(s, WsCloseCode::ProtocolError, reason);
  WsFrameHeader h;
  ASSERT_EQ(parse_ws_frame_header(span_of(s), h), WsHeaderStatus::Complete);
  EXPECT_LE(h.payload_length, 125u);
  auto c = WsDecoder::parse_close(span_of(s).subspan(h.header_size));
  ASSERT_TRUE(c);  // still valid UTF-8
  EXPECT_EQ(c->code, 1002);
  EXPECT_EQ(c->reason.size(), 122u);
}

TEST(Utf8Validator, AcceptsAndRefuses) {
  auto ok = [](std::string_view s) {
    Utf8Validator v;
    return v.feed(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size())) && v.complete();
  };
  EXPECT_TRUE(ok(""));
  EXPECT_TRUE(ok(std::string_view("a\0b", 3)));  // U+0000 is valid in WebSocket text
  EXPECT_TRUE(ok("\xf4\x8f\xbf\xbf"));         // U+10FFFF
  EXPECT_TRUE(ok("\xed\x9f\xbf"));             // U+D7FF
  EXPECT_FALSE(ok("\xf4\x90\x80\x80"));        // above U+10FFFF
  EXPECT_FALSE(ok("\xed\xa0\x80"));            // surrogate
  EXPECT_FALSE(ok("\xc0\xaf"));                // overlong
  EXPECT_FALSE(ok("\xe0\x80\xaf"));            // overlong
  EXPECT_FALSE(ok("\xf0\x80\x80\xaf"));        // overlong
  EXPECT_FALSE(ok("\x80"));                    // stray continuation
  EXPECT_FALSE(ok("\xf5\x80\x80\x80"));
  EXPECT_FALSE(ok("\xe2\x82"));                // incomplete
}

}  // namespace
}  // namespace musqratt::web
