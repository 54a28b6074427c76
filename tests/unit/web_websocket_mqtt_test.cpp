// MQTT over the WebSocket layer with the real connection engine above it: what a browser's
// MQTT.js does, without a socket. The adapter below stands in for the session driver that
// src/net will put there.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "handler_fixture.h"
#include "web/websocket_layer.h"
#include "web/ws_frame.h"

namespace musqratt::web {
namespace {

using namespace test;

class HandlerEndpoint : public net::Endpoint {
 public:
  HandlerEndpoint(broker::Broker& b, broker::Waker* w, uint64_t token, util::TimePoint now)
      : h_(b, w, token, "ws-peer", now) {}
  void on_bytes(std::span<const uint8_t> d, util::TimePoint now) override { h_.on_bytes(d, now); }
  std::string_view pending_output() override { return h_.pending_output(); }
  void consume_output(size_t n, util::TimePoint now) override {
    h_.consume_output(n);
    if (h_.pending_output().empty()) h_.on_output_drained(now);
  }
  bool closing() const override { return h_.closing(); }
  void on_wake(util::TimePoint now) override { h_.on_wake(now); }
  void on_tick(util::TimePoint now) override { h_.on_tick(now); }
  void on_shutdown() override { h_.on_shutdown(); }
  void on_closed(util::TimePoint now) override { h_.on_closed(now); }

 private:
  broker::SessionDriver h_;
};

// One browser-like client: upgrade, then MQTT packets in masked binary frames.
struct WsClient : WsDecoder::Handler {
  std::unique_ptr<WebSocketLayer> layer;
  WsDecoder decoder{{.role = WsDecoder::Role::Client}};
  std::string http, mqtt;  // the 101 answer; the MQTT byte stream received
  bool head_done = false;
  uint16_t close_code = 0;

  WsClient(broker::Broker& b, RecordingWaker& w, uint64_t token) {
    layer = std::make_unique<WebSocketLayer>(
        WebSocketOptions{}, [&b, &w, token](const WsUpgrade&) { return std::make_unique<HandlerEndpoint>(b, &w, token, T0); },
        T0);
    send_raw("GET /mqtt HTTP/1.1\r\nHost: broker\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Protocol: mqtt\r\n\r\n");
  }
  void send_raw(std::string_view s) {
    layer->on_bytes(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()), T0);
    drain();
  }
  // A packet split over two frames of one message, as a stream may cut it.
  void send(const pr::Packet& p, pr::Version v) {
    const std::string bytes = encode(p, v);
    const size_t half = bytes.size() / 2;
    std::string frames;
    append_ws_frame(frames, WsOpcode::Binary, std::string_view(bytes).substr(0, half), false, WsMaskKey{7, 7, 7, 7});
    append_ws_frame(frames, WsOpcode::Continuation, std::string_view(bytes).substr(half), true, WsMaskKey{1, 2, 3, 4});
    send_raw(frames);
  }
  void drain() {
    std::string out(layer->pending_output());
    layer->consume_output(out.size(), T0);
    if (!head_done) {
      const size_t end = out.find("\r\n\r\n");
      ASSERT_NE(end, std::string::npos);
      http = out.substr(0, end + 4);
      out.erase(0, end + 4);
      head_done = true;
    }
    ASSERT_TRUE(decoder.feed(std::span(reinterpret_cast<const uint8_t*>(out.data()), out.size()), *this));
  }
  std::vector<pr::Packet> take(pr::Version v) { return decode_stream(std::exchange(mqtt, {}), v); }
  void on_message_data(std::span<const uint8_t> d) override {
    mqtt.append(reinterpret_cast<const char*>(d.data()), d.size());
  }
  void on_control(WsOpcode op, std::span<const uint8_t> p) override {
    if (op == WsOpcode::Close && p.size() >= 2) close_code = static_cast<uint16_t>((p[0] << 8) | p[1]);
  }
};

class WebSocketMqtt : public HandlerTest {};

TEST_F(WebSocketMqtt, ConnectSubscribePublishAcrossTheLayer) {
  start();
  WsClient sub(*broker, waker, 101), pub(*broker, waker, 102);
  ASSERT_TRUE(sub.http.starts_with("HTTP/1.1 101 ")) << sub.http;
  sub.send(make_connect(Version::V5, "ws-sub"), Version::V5);
  auto out = sub.take(Version::V5);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_NE(at<pr::Connack>(out, 0), nullptr);
  EXPECT_EQ(at<pr::Connack>(out, 0)->reason, Reason::Success);
  sub.send(make_subscribe(1, "room/+", 1), Version::V5);
  ASSERT_NE(at<pr::Suback>(sub.take(Version::V5), 0), nullptr);

  pub.send(make_connect(Version::V311, "ws-pub"), Version::V311);
  pub.take(Version::V311);
  pub.send(make_publish("room/1", std::string(70000, 'z'), 1, 5), Version::V311);  // spans frames both ways
  auto acks = pub.take(Version::V311);
  ASSERT_EQ(acks.size(), 1u);
  ASSERT_NE(at<pr::Ack>(acks, 0), nullptr);

  ASSERT_TRUE(waker.woke(101));  // the broker queued the message for the subscriber's connection
  sub.layer->on_wake(T0);
  sub.drain();
  auto got = sub.take(Version::V5);
  ASSERT_EQ(got.size(), 1u);
  auto* p = at<pr::Publish>(got, 0);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->topic, "room/1");
  EXPECT_EQ(p->payload, std::string(70000, 'z'));

  // A DISCONNECT ends the MQTT session; the layer then closes the WebSocket with 1000.
  sub.send(pr::Disconnect{}, Version::V5);
  EXPECT_EQ(sub.close_code, 1000);
}

}  // namespace
}  // namespace musqratt::web
