// The WebSocket stream layer (src/web/websocket_layer.h) between a fake socket and a fake
// upper Endpoint.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "web/websocket_layer.h"
#include "web/ws_frame.h"
#include "web_fake_endpoint.h"

namespace musqratt::web {
namespace {

using test::FakeEndpoint;
using namespace std::chrono_literals;
using namespace std::string_literals;

std::span<const uint8_t> span_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string upgrade_request(std::string_view extra = "Sec-WebSocket-Protocol: mqtt\r\n") {
  return "GET /mqtt HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
         std::string(extra) + "\r\n";
}

std::string client_frame(WsOpcode op, std::string_view payload, bool fin = true) {
  std::string s;
  append_ws_frame(s, op, payload, fin, WsMaskKey{0x5a, 0xa5, 0x0f, 0xf0});
  return s;
}

// What the server wrote, read as a client would: the HTTP answer, then frames.
struct ClientView : WsDecoder::Handler {
  std::string http;
  std::vector<std::pair<WsOpcode, std::string>> frames;  // messages and control frames
  std::string wire;
  std::string raw;  // every byte, as written
  WsDecoder decoder{{.role = WsDecoder::Role::Client}};
  bool head_done = false;
  bool failed = false;

  void take(std::string_view bytes) {
    raw.append(bytes);
    wire.append(bytes);
    if (!head_done) {
      size_t end = wire.find("\r\n\r\n");
      if (end == std::string::npos) return;
      http = wire.substr(0, end + 4);
      wire.erase(0, end + 4);
      head_done = true;
    }
    auto r = decoder.feed(span_of(wire), *this);
    failed = failed || !r;
    wire.clear();
  }
  void on_message_begin(WsOpcode t) override { frames.emplace_back(t, ""); }
  void on_message_data(std::span<const uint8_t> d) override {
    frames.back().second.append(reinterpret_cast<const char*>(d.data()), d.size());
  }
  void on_control(WsOpcode op, std::span<const uint8_t> p) override {
    frames.emplace_back(op, std::string(reinterpret_cast<const char*>(p.data()), p.size()));
  }
  uint16_t close_code() const {
    for (const auto& [op, p] : frames)
      if (op == WsOpcode::Close) return p.size() >= 2 ? static_cast<uint16_t>((uint8_t(p[0]) << 8) | uint8_t(p[1])) : 1005;
    return 0;
  }
};

struct Harness {
  util::TimePoint t0 = util::TimePoint{} + 1000s;
  FakeEndpoint* upper = nullptr;
  int factory_calls = 0;
  WsUpgrade last_upgrade;
  std::unique_ptr<WebSocketLayer> layer;
  ClientView client;

  explicit Harness(WebSocketOptions o = {}, HttpHandler fallback = {}, bool refuse = false) {
    layer = std::make_unique<WebSocketLayer>(
        std::move(o),
        [this, refuse](const WsUpgrade& u) -> std::unique_ptr<net::Endpoint> {
          ++factory_calls;
          last_upgrade = u;
          if (refuse) return nullptr;
          auto e = std::make_unique<FakeEndpoint>();
          upper = e.get();
          return e;
        },
        t0, std::move(fallback));
  }
  void send(std::string_view bytes, util::TimePoint t) { layer->on_bytes(span_of(bytes), t); }
  void send(std::string_view bytes) { send(bytes, t0); }
  // Writes everything the layer has to the client, as a socket that always takes it all.
  void drain(util::TimePoint t) {
    for (int i = 0; i < 1000; ++i) {
      std::string_view out = layer->pending_output();
      if (out.empty()) return;
      client.take(out);
      layer->consume_output(out.size(), t);
    }
  }
  void drain() { drain(t0); }
  void open() {
    send(upgrade_request());
    drain();
    ASSERT_NE(upper, nullptr);
  }
};

TEST(WebSocketLayer, UpgradesThenCreatesTheUpperEndpoint) {
  Harness h;
  const std::string req = upgrade_request("Sec-WebSocket-Protocol: mqttv3.1, mqtt\r\n");
  for (size_t i = 0; i + 1 < req.size(); ++i) h.send(req.substr(i, 1));  // a byte at a time
  EXPECT_EQ(h.factory_calls, 0);
  EXPECT_TRUE(h.layer->pending_output().empty());
  h.send(req.substr(req.size() - 1));
  h.drain();
  EXPECT_EQ(h.factory_calls, 1);
  EXPECT_EQ(h.last_upgrade.subprotocol, "mqttv3.1");
  EXPECT_TRUE(h.layer->upgraded());
  EXPECT_EQ(h.client.http,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: mqttv3.1\r\n\r\n");
  EXPECT_FALSE(h.layer->closing());
}

TEST(WebSocketLayer, BadHandshakeAnswersAndClosesWithoutAnUpperEndpoint) {
  Harness h;
  std::string req = upgrade_request();
  req.replace(req.find("Version: 13"), 11, "Version: 8");
  h.send(req);
  h.drain();
  EXPECT_EQ(h.factory_calls, 0);
  EXPECT_TRUE(h.layer->closing());
  EXPECT_TRUE(h.client.http.starts_with("HTTP/1.1 426 Upgrade Required\r\n")) << h.client.http;
  EXPECT_NE(h.client.http.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
  EXPECT_NE(h.client.http.find("Connection: close\r\n"), std::string::npos);
  EXPECT_NE(h.layer->close_reason().find("426"), std::string::npos);
  // What comes after is ignored.
  h.send(client_frame(WsOpcode::Binary, "x"));
  EXPECT_TRUE(h.layer->pending_output().empty());
}

TEST(WebSocketLayer, MqttBytesToAnHttpPortAreRefusedAtOnce) {
  Harness h;
  h.send(std::string("\x10\x10\x00\x04MQTT\x04\x02\x00\x3c", 12));
  h.drain();
  EXPECT_TRUE(h.layer->closing());
  EXPECT_TRUE(h.client.http.starts_with("HTTP/1.1 400 Bad Request\r\n"));
}

TEST(WebSocketLayer, WrongPathIs404AndRefusedFactoryIs503) {
  Harness h;
  std::string req = upgrade_request();
  req.replace(req.find("/mqtt"), 5, "/other");
  h.send(req);
  h.drain();
  EXPECT_TRUE(h.client.http.starts_with("HTTP/1.1 404 Not Found\r\n"));
  Harness r({}, {}, true);
  r.send(upgrade_request());
  r.drain();
  EXPECT_EQ(r.factory_calls, 1);
  EXPECT_TRUE(r.client.http.starts_with("HTTP/1.1 503 "));
  EXPECT_TRUE(r.layer->closing());
}

TEST(WebSocketLayer, PlainRequestsGoToTheFallbackHandler) {
  Harness h({}, [](const HttpRequest& req) { return HttpResponse::text(200, "page at " + std::string(req.path)); });
  h.send("GET /status/app.js HTTP/1.1\r\nHost: x\r\n\r\n");
  h.drain();
  EXPECT_EQ(h.factory_calls, 0);
  EXPECT_TRUE(h.client.http.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_NE(h.client.http.find("Connection: close\r\n"), std::string::npos);
  EXPECT_NE(h.client.raw.find("page at /status/app.js"), std::string::npos);
  EXPECT_TRUE(h.layer->closing());
}

TEST(WebSocketLayer, TheWebSocketPathKeeps426WithAFallback) {
  Harness h({}, [](const HttpRequest&) { return HttpResponse::text(200, "page"); });
  h.send("GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n");
  h.drain();
  EXPECT_TRUE(h.client.http.starts_with("HTTP/1.1 426 Upgrade Required\r\n")) << h.client.http;
  EXPECT_TRUE(h.layer->closing());
}

TEST(WebSocketLayer, BinaryMessagesBecomeOneByteStream) {
  Harness h;
  h.open();
  // Two MQTT packets in one frame, one packet over two frames of a fragmented message, one
  // packet over two messages, and a frame split over several reads.
  const std::string pingreq = "\xc0\x00"s, connect_part1 = "\x10\x0c\x00\x04MQ"s,
                    connect_part2 = "TT\x04\x02\x00\x3c\x00\x00"s;
  std::string wire = client_frame(WsOpcode::Binary, pingreq + pingreq) +
                     client_frame(WsOpcode::Binary, connect_part1, false) +
                     client_frame(WsOpcode::Continuation, connect_part2) +
                     client_frame(WsOpcode::Binary, "\x30\x03"s) + client_frame(WsOpcode::Binary, "\x00\x01z"s);
  for (size_t i = 0; i < wire.size(); i += 3) h.send(wire.substr(i, 3));
  EXPECT_EQ(h.upper->received, pingreq + pingreq + connect_part1 + connect_part2 + "\x30\x03\x00\x01z"s);
  EXPECT_EQ(h.upper->received.size(), 4u + 14u + 5u);
  EXPECT_FALSE(h.layer->closing());
}

TEST(WebSocketLayer, EarlyFramesAfterTheRequestAreNotLost) {
  Harness h;
  h.send(upgrade_request() + client_frame(WsOpcode::Binary, "early"));
  ASSERT_NE(h.upper, nullptr);
  EXPECT_EQ(h.upper->received, "early");
}

TEST(WebSocketLayer, UpperOutputIsFramedAsBinaryWithACap) {
  WebSocketOptions o;
  o.max_frame_out = 1000;
  Harness h(o);
  h.open();
  h.upper->output = std::string(2500, 'a');
  h.layer->on_wake(h.t0);
  EXPECT_EQ(h.upper->wakes, 1);
  h.drain();
  ASSERT_EQ(h.client.frames.size(), 3u);
  for (const auto& f : h.client.frames) EXPECT_EQ(f.first, WsOpcode::Binary);
  EXPECT_EQ(h.client.frames[0].second.size(), 1000u);
  EXPECT_EQ(h.client.frames[2].second.size(), 500u);
  EXPECT_FALSE(h.client.failed);
  // Output produced while handling input goes out in the same turn: an echo.
  h.upper->echo = true;
  h.send(client_frame(WsOpcode::Binary, std::string("\xd0\x00", 2)));
  h.drain();
  EXPECT_EQ(h.client.frames.back(), std::make_pair(WsOpcode::Binary, std::string("\xd0\x00", 2)));
}

TEST(WebSocketLayer, FramingPausesWhileMuchWaitsBelow) {
  WebSocketOptions o;
  o.max_frame_out = 1000;
  o.output_backlog = 3000;
  Harness h(o);
  h.open();
  h.upper->output = std::string(10000, 'b');
  h.layer->on_wake(h.t0);
  // Three frames fit under the backlog; the rest stays with the upper Endpoint.
  EXPECT_GE(h.layer->pending_output().size(), 3000u);
  EXPECT_LT(h.layer->pending_output().size(), 4100u);
  EXPECT_EQ(h.upper->output_pos, 3000u);
  h.drain();
  EXPECT_EQ(h.upper->output_pos, 10000u);
  std::string all;
  for (const auto& f : h.client.frames) all += f.second;
  EXPECT_EQ(all, std::string(10000, 'b'));
}

TEST(WebSocketLayer, PingIsAnsweredWithPong) {
  Harness h;
  h.open();
  h.send(client_frame(WsOpcode::Ping, "are you there"));
  h.drain();
  ASSERT_EQ(h.client.frames.size(), 1u);
  EXPECT_EQ(h.client.frames[0], std::make_pair(WsOpcode::Pong, std::string("are you there")));
  h.send(client_frame(WsOpcode::Pong, "unsolicited"));
  h.drain();
  EXPECT_EQ(h.client.frames.size(), 1u);
  EXPECT_TRUE(h.upper->received.empty());
}

TEST(WebSocketLayer, PeerCloseIsEchoedAndEndsTheUpperStream) {
  Harness h;
  h.open();
  std::string close;
  append_ws_close(close, WsCloseCode::Normal, "done", WsMaskKey{1, 2, 3, 4});
  h.send(close);
  h.drain();
  EXPECT_EQ(h.client.close_code(), 1000);
  EXPECT_EQ(h.upper->closed_calls, 1);
  EXPECT_TRUE(h.layer->closing());
  h.layer->on_closed(h.t0);
  EXPECT_EQ(h.upper->closed_calls, 1);  // told once
}

struct Violation {
  const char* name;
  std::string frame;
  uint16_t code;
};

class WebSocketLayerFails : public ::testing::TestWithParam<Violation> {};

TEST_P(WebSocketLayerFails, WithACloseCodeAndEndsTheUpperStream) {
  WebSocketOptions o;
  o.max_message_size = 1000;
  Harness h(o);
  h.open();
  h.send(client_frame(WsOpcode::Binary, "ok"));
  h.send(GetParam().frame);
  h.drain();
  EXPECT_EQ(h.client.close_code(), GetParam().code) << GetParam().name;
  EXPECT_TRUE(h.layer->closing());
  EXPECT_EQ(h.upper->received, "ok");
  EXPECT_EQ(h.upper->closed_calls, 1);
  EXPECT_NE(h.layer->close_reason().find("websocket"), std::string_view::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, WebSocketLayerFails,
    ::testing::Values(Violation{"unmasked", "\x82\x01x"s, 1002},
                      Violation{"text", client_frame(WsOpcode::Text, "{}"), 1003},
                      Violation{"too_big", client_frame(WsOpcode::Binary, std::string(1001, 'x')), 1009},
                      Violation{"reserved_bits", "\xa2\x80\x00\x00\x00\x00"s, 1002},
                      Violation{"bad_close_reason", client_frame(WsOpcode::Close, "\x03\xe8\xc3"s), 1007}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(WebSocketLayer, UpperClosingSendsItsOutputThenCloseAndWaitsForThePeer) {
  Harness h;
  h.open();
  h.upper->output = std::string("\xe0\x00", 2);  // DISCONNECT
  h.upper->want_close = true;
  h.layer->on_wake(h.t0);
  h.drain();
  ASSERT_EQ(h.client.frames.size(), 2u);
  EXPECT_EQ(h.client.frames[0].second, std::string("\xe0\x00", 2));
  EXPECT_EQ(h.client.close_code(), 1000);
  EXPECT_FALSE(h.layer->closing());  // the peer's Close is awaited ...
  h.send(client_frame(WsOpcode::Binary, "dropped"));
  EXPECT_TRUE(h.upper->received.empty());
  std::string close;
  append_ws_close(close, WsCloseCode::Normal, "", WsMaskKey{1, 2, 3, 4});
  h.send(close);
  EXPECT_TRUE(h.layer->closing());  // ... and then the server closes
  h.drain();
  int closes = 0;
  for (const auto& f : h.client.frames) closes += f.first == WsOpcode::Close;
  EXPECT_EQ(closes, 1);  // not answered twice
}

TEST(WebSocketLayer, CloseHandshakeTimesOut) {
  Harness h;
  h.open();
  h.upper->want_close = true;
  h.layer->on_tick(h.t0 + 1s);
  h.drain();
  EXPECT_EQ(h.client.close_code(), 1000);
  h.layer->on_tick(h.t0 + 5s);
  EXPECT_FALSE(h.layer->closing());
  h.layer->on_tick(h.t0 + 7s);
  EXPECT_TRUE(h.layer->closing());
  EXPECT_EQ(h.upper->closed_calls, 1);
}

TEST(WebSocketLayer, ShutdownLetsTheUpperSayGoodbyeThenGoingAway) {
  Harness h;
  h.open();
  h.upper->goodbye = std::string("\xe0\x02\x8b\x00", 4);
  h.layer->on_shutdown();
  EXPECT_EQ(h.upper->shutdowns, 1);
  EXPECT_TRUE(h.layer->closing());
  h.drain();
  ASSERT_EQ(h.client.frames.size(), 2u);
  EXPECT_EQ(h.client.frames[0].second, h.upper->goodbye);
  EXPECT_EQ(h.client.close_code(), 1001);
}

TEST(WebSocketLayer, HandshakeTimeout) {
  Harness h;
  h.send("GET /mqtt HTTP/1.1\r\n");
  h.layer->on_tick(h.t0 + 9s);
  EXPECT_FALSE(h.layer->closing());
  h.layer->on_tick(h.t0 + 10s);
  EXPECT_TRUE(h.layer->closing());
  h.drain();
  EXPECT_TRUE(h.client.http.starts_with("HTTP/1.1 408 "));
}

TEST(WebSocketLayer, ForwardsTicksAndPeerIdentityKeptFromBeforeTheUpgrade) {
  Harness h;
  h.layer->on_peer_identity("device-17");  // TLS finished before the upgrade request
  h.open();
  EXPECT_EQ(h.upper->identity, "device-17");
  h.layer->on_tick(h.t0 + 1s);
  EXPECT_EQ(h.upper->ticks, 1);
  h.layer->on_closed(h.t0);
  EXPECT_EQ(h.upper->closed_calls, 1);
}

}  // namespace
}  // namespace musqratt::web
