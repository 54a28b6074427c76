// protocol::ConnectionEngine on its own, in both roles: packet order, per-direction checks,
// pause/resume, topic aliases both ways, keep-alive, the peer's limits, and how each protocol
// version ends a connection. No broker anywhere.
#include <gtest/gtest.h>

#include <array>
#include <memory>

#include "protocol/connection_engine.h"
#include "test_support.h"

namespace musqratt::test {
namespace {

using pr::ConnectionEngine;
using pr::PacketType;
using pr::Reason;
using pr::Role;
using pr::Version;
using namespace std::chrono_literals;

const util::TimePoint T0 = util::TimePoint{} + 1000h;

/// Records every event; accepts CONNECTs unless told otherwise.
struct Recorder : pr::EngineEvents {
  ConnectionEngine* engine = nullptr;
  bool auto_accept = true;
  std::vector<std::string> log;
  std::vector<pr::Publish> publishes;
  std::optional<pr::Connect> connect;
  std::optional<Reason> violation;

  void on_connect(pr::Connect& c) override {
    log.push_back("connect " + c.client_id);
    connect = c;
    if (auto_accept) {
      pr::Connack ack;
      engine->accept(c, ack, c.keep_alive);
    }
  }
  void on_connack(const pr::Connack& c) override { log.push_back("connack " + std::to_string(int(c.reason))); }
  void on_publish(pr::Publish& p) override {
    log.push_back("publish " + p.topic);
    publishes.push_back(p);
  }
  void on_ack(const pr::Ack& a) override { log.push_back("ack " + std::to_string(a.packet_id)); }
  void on_subscribe(pr::Subscribe& s) override { log.push_back("subscribe " + std::to_string(s.packet_id)); }
  void on_unsubscribe(pr::Unsubscribe&) override { log.push_back("unsubscribe"); }
  void on_suback(const pr::Suback& s) override { log.push_back("suback " + std::to_string(s.packet_id)); }
  void on_unsuback(const pr::Unsuback&) override { log.push_back("unsuback"); }
  void on_disconnect(const pr::Disconnect&) override { log.push_back("disconnect"); }
  void on_violation(Reason r, const char* why) override {
    violation = r;
    log.push_back(std::string("violation ") + why);
  }
};

struct Side {
  explicit Side(Role role) : engine(role) { ev.engine = &engine; }
  void feed(std::string_view bytes, util::TimePoint now = T0) { engine.receive(as_span(bytes), ev, now); }
  std::string take() {
    std::string out(engine.pending_output());
    engine.consume_output(out.size());
    return out;
  }
  ConnectionEngine engine;
  Recorder ev;
};

pr::Connect connect_packet(Version v, std::string id, uint16_t keep_alive = 0) {
  pr::Connect c;
  c.version = v;
  c.protocol_name = v == Version::V31 ? "MQIsdp" : "MQTT";
  c.client_id = std::move(id);
  c.keep_alive = keep_alive;
  return c;
}

pr::Publish publish(std::string topic, uint8_t qos = 0, uint16_t id = 0) {
  pr::Publish p;
  p.topic = std::move(topic);
  p.payload = "x";
  p.qos = qos;
  p.packet_id = id;
  return p;
}

// ------------------------------------------------------------------ server role

TEST(ConnectionEngineServer, FirstPacketMustBeConnectAndNothingIsSaid) {
  Side s(Role::Server);
  s.feed(encode(pr::Pingreq{}, Version::V311));
  EXPECT_TRUE(s.engine.closing());
  EXPECT_EQ(s.take(), "");  // [MQTT-3.1.0-1]: closed without a word
  ASSERT_TRUE(s.ev.violation);
}

TEST(ConnectionEngineServer, ConnectThenPacketsInOrder) {
  Side s(Role::Server);
  std::string in = encode(connect_packet(Version::V311, "c"), Version::V311) +
                   encode(publish("a/b"), Version::V311) + encode(pr::Pingreq{}, Version::V311);
  s.feed(in);
  EXPECT_EQ(s.ev.log, (std::vector<std::string>{"connect c", "publish a/b"}));
  EXPECT_TRUE(s.engine.established());
  auto out = decode_stream(s.take(), Version::V311);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<pr::Connack>(out[0]));
  EXPECT_TRUE(std::holds_alternative<pr::Pingresp>(out[1]));
}

TEST(ConnectionEngineServer, NothingOfOnePublishReachesTheNextOnAnotherConnection) {
  // PUBLISHes are decoded into one Publish per thread: what a 5.0 client's message carried (and
  // what a receiver moved out of it) must not show in the next one, on any connection.
  struct Mover : Recorder {
    void on_publish(pr::Publish& p) override {
      Recorder::on_publish(p);
      pr::Properties taken = std::move(p.properties);  // as the session driver does
      std::string topic = std::move(p.topic);
    }
  };
  Side v5(Role::Server), v311(Role::Server);
  Mover m5, m311;
  m5.engine = &v5.engine;
  m311.engine = &v311.engine;
  v5.engine.receive(as_span(encode(connect_packet(Version::V5, "five"), Version::V5)), m5, T0);
  v311.engine.receive(as_span(encode(connect_packet(Version::V311, "three"), Version::V311)), m311, T0);
  pr::Publish with = publish("a/with", 1, 7);
  with.properties.message_expiry_interval = 60;
  with.properties.content_type = "text/plain";
  with.properties.user_properties.push_back({"k", "v"});
  v5.engine.receive(as_span(encode(with, Version::V5)), m5, T0);
  v311.engine.receive(as_span(encode(publish("b/plain", 1, 8), Version::V311)), m311, T0);
  v5.engine.receive(as_span(encode(publish("c/none"), Version::V5)), m5, T0);
  ASSERT_EQ(m5.publishes.size(), 2u);
  ASSERT_EQ(m311.publishes.size(), 1u);
  EXPECT_EQ(m5.publishes[0].properties.message_expiry_interval, 60u);
  EXPECT_EQ(m5.publishes[0].properties.user_properties.size(), 1u);
  EXPECT_EQ(m311.publishes[0].topic, "b/plain");
  EXPECT_EQ(m311.publishes[0].packet_id, 8);
  EXPECT_EQ(m311.publishes[0].properties, pr::Properties{});
  EXPECT_EQ(m5.publishes[1].topic, "c/none");
  EXPECT_EQ(m5.publishes[1].packet_id, 0);
  EXPECT_EQ(m5.publishes[1].qos, 0);
  EXPECT_EQ(m5.publishes[1].properties, pr::Properties{});
}

TEST(ConnectionEngineServer, SecondConnectIsAProtocolError) {
  Side s(Role::Server);
  s.feed(encode(connect_packet(Version::V5, "c"), Version::V5));
  s.take();
  s.feed(encode(connect_packet(Version::V5, "c"), Version::V5));
  EXPECT_TRUE(s.engine.closing());
  EXPECT_EQ(s.ev.violation, Reason::ProtocolError);
  auto out = decode_stream(s.take(), Version::V5);
  ASSERT_EQ(out.size(), 1u);
  auto* d = std::get_if<pr::Disconnect>(&out[0]);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->reason, Reason::ProtocolError);
}

TEST(ConnectionEngineServer, ServerToClientPacketFromAClientIsRefused) {
  Side s(Role::Server);
  s.feed(encode(connect_packet(Version::V311, "c"), Version::V311));
  s.take();
  pr::Suback sa;
  sa.packet_id = 1;
  sa.reasons = {Reason::Success};
  s.feed(encode(sa, Version::V311));
  EXPECT_TRUE(s.engine.closing());
  EXPECT_EQ(s.ev.violation, Reason::ProtocolError);
  EXPECT_EQ(s.take(), "");  // 3.1.1 has no DISCONNECT from a server
}

TEST(ConnectionEngineServer, PausedUntilAcceptedThenKeptInputFollows) {
  Side s(Role::Server);
  s.ev.auto_accept = false;
  s.feed(encode(connect_packet(Version::V311, "c"), Version::V311) + encode(publish("t/1"), Version::V311));
  EXPECT_TRUE(s.engine.paused());
  s.feed(encode(publish("t/2"), Version::V311));
  EXPECT_EQ(s.ev.log, (std::vector<std::string>{"connect c"}));
  pr::Connack ack;
  s.engine.accept(*s.ev.connect, ack, 0);
  s.engine.resume(s.ev, T0);
  EXPECT_EQ(s.ev.log, (std::vector<std::string>{"connect c", "publish t/1", "publish t/2"}));
}

TEST(ConnectionEngineServer, EveryWayOfSplittingTheStreamGivesTheSamePackets) {
  // A packet begun in one read is completed from the next; the rest of that read is handled
  // where it lies. Two reads split at every byte, then three reads at many pairs of points.
  pr::Publish big = publish("big/one", 1, 9);
  big.payload = std::string(300, 'p');  // a two-byte remaining length
  std::string in = encode(connect_packet(Version::V311, "c"), Version::V311) + encode(publish("a/1"), Version::V311) +
                   encode(big, Version::V311) + encode(publish("a/2", 1, 10), Version::V311) +
                   encode(pr::Pingreq{}, Version::V311) + encode(publish("a/3"), Version::V311);
  Side whole(Role::Server);
  whole.feed(in);
  const std::vector<std::string> expected = whole.ev.log;
  const std::string expected_out = whole.take();  // CONNACK, two PUBACKs, PINGRESP
  ASSERT_EQ(expected.size(), 5u);
  auto check = [&](std::vector<size_t> cuts) {
    Side s(Role::Server);
    size_t from = 0;
    cuts.push_back(in.size());
    for (size_t cut : cuts) {
      s.feed(std::string_view(in).substr(from, cut - from));
      from = cut;
    }
    EXPECT_EQ(s.ev.log, expected) << "cut at " << cuts[0];
    EXPECT_EQ(s.ev.publishes.at(1).payload, big.payload);
    EXPECT_EQ(s.engine.buffered_input(), 0u);
    EXPECT_EQ(s.take(), expected_out);
  };
  for (size_t cut = 0; cut <= in.size(); ++cut) check({cut});
  for (size_t a = 0; a <= in.size(); a += 7)
    for (size_t b = a; b <= in.size(); b += 13) check({a, b});
}

TEST(ConnectionEngineServer, PausedWhileCompletingAKeptPacketKeepsTheRestOfTheRead) {
  Side s(Role::Server);
  s.ev.auto_accept = false;
  std::string connect = encode(connect_packet(Version::V311, "c"), Version::V311);
  std::string rest = encode(publish("t/1"), Version::V311) + encode(publish("t/2"), Version::V311);
  s.feed(std::string_view(connect).substr(0, 5));
  s.feed(connect.substr(5) + rest);  // completes the CONNECT, which pauses the engine
  EXPECT_TRUE(s.engine.paused());
  EXPECT_EQ(s.engine.buffered_input(), rest.size());
  pr::Connack ack;
  s.engine.accept(*s.ev.connect, ack, 0);
  s.engine.resume(s.ev, T0);
  EXPECT_EQ(s.ev.log, (std::vector<std::string>{"connect c", "publish t/1", "publish t/2"}));
}

TEST(ConnectionEngineServer, OversizedHeaderCompletedByTheNextReadIsRefused) {
  Side s(Role::Server);
  s.engine.set_max_incoming_packet(100);
  s.feed(encode(connect_packet(Version::V5, "c"), Version::V5));
  s.take();
  s.feed(bytes({0x30, 0xE8}));  // the length is not known yet
  EXPECT_FALSE(s.engine.closing());
  s.feed(bytes({0x07, 0x00, 0x03}));
  EXPECT_TRUE(s.engine.closing());
  EXPECT_EQ(s.ev.violation, Reason::PacketTooLarge);
  EXPECT_EQ(s.engine.buffered_input(), 0u);
}

TEST(ConnectionEngineServer, Malformed311ConnectClosesWithoutConnack) {
  // Reserved flag bit set in the CONNECT flags [MQTT-3.1.2-3, 3.1.1] -> no CONNACK [MQTT-3.1.4-1].
  std::string c = encode(connect_packet(Version::V311, "c"), Version::V311);
  c[9] = static_cast<char>(c[9] | 0x01);
  Side s(Role::Server);
  s.feed(c);
  EXPECT_TRUE(s.engine.closing());
  EXPECT_EQ(s.take(), "");
  EXPECT_TRUE(s.ev.violation);
}

TEST(ConnectionEngineServer, Malformed5ConnectGetsConnackWithReason) {
  std::string c = encode(connect_packet(Version::V5, "c"), Version::V5);
  c[9] = static_cast<char>(c[9] | 0x01);
  Side s(Role::Server);
  s.feed(c);
  EXPECT_TRUE(s.engine.closing());
  auto out = decode_stream(s.take(), Version::V5);
  ASSERT_EQ(out.size(), 1u);
  auto* ack = std::get_if<pr::Connack>(&out[0]);
  ASSERT_NE(ack, nullptr);
  EXPECT_TRUE(pr::is_error(ack->reason));
}

TEST(ConnectionEngineServer, UnsupportedLevelGetsReturnCode1) {
  std::string c = encode(connect_packet(Version::V311, "c"), Version::V311);
  c[8] = 9;  // protocol level
  Side s(Role::Server);
  s.feed(c);
  EXPECT_EQ(s.take(), bytes({0x20, 0x02, 0x00, 0x01}));  // [MQTT-3.1.2-2, 3.1.1]
}

TEST(ConnectionEngineServer, V31ConnackNeverCarriesSessionPresent) {
  Side s(Role::Server);
  s.ev.auto_accept = false;
  s.feed(encode(connect_packet(Version::V31, "c"), Version::V31));
  pr::Connack ack;
  ack.session_present = true;
  s.engine.accept(*s.ev.connect, ack, 0);
  EXPECT_EQ(s.take(), bytes({0x20, 0x02, 0x00, 0x00}));  // the first byte is reserved in 3.1
}

TEST(ConnectionEngineServer, PacketOverTheLimitIsRefusedOnItsHeader) {
  Side s(Role::Server);
  s.engine.set_max_incoming_packet(100);
  s.feed(encode(connect_packet(Version::V5, "c"), Version::V5));
  s.take();
  // Only the fixed header of a 1000-byte PUBLISH: refused before its body arrives.
  s.feed(bytes({0x30, 0xE8, 0x07}));
  EXPECT_TRUE(s.engine.closing());
  EXPECT_EQ(s.ev.violation, Reason::PacketTooLarge);
}

TEST(ConnectionEngineServer, IncomingTopicAliasesResolve) {
  Side s(Role::Server);
  s.engine.set_incoming_alias_max(2);
  s.feed(encode(connect_packet(Version::V5, "c"), Version::V5));
  pr::PublishView v;
  v.topic = "long/topic";
  v.payload = "1";
  v.topic_alias = 1;
  std::string in;
  pr::encode_publish(v, Version::V5, in);
  v.topic = {};
  pr::encode_publish(v, Version::V5, in);
  s.feed(in);
  ASSERT_EQ(s.ev.publishes.size(), 2u);
  EXPECT_EQ(s.ev.publishes[1].topic, "long/topic");
  EXPECT_FALSE(s.ev.publishes[1].properties.topic_alias);
}

TEST(ConnectionEngineServer, AliasOutOfRangeOrUnknownIsRefused) {
  for (uint16_t alias : {uint16_t{3}, uint16_t{100}}) {
    Side s(Role::Server);
    s.engine.set_incoming_alias_max(2);
    s.feed(encode(connect_packet(Version::V5, "c"), Version::V5));
    pr::PublishView v;
    v.topic = "t";
    v.topic_alias = alias;
    std::string in;
    pr::encode_publish(v, Version::V5, in);
    s.feed(in);
    EXPECT_EQ(s.ev.violation, Reason::TopicAliasInvalid) << alias;
  }
  Side s(Role::Server);
  s.engine.set_incoming_alias_max(2);
  s.feed(encode(connect_packet(Version::V5, "c"), Version::V5));
  pr::PublishView v;
  v.topic_alias = 2;  // never registered
  std::string in;
  pr::encode_publish(v, Version::V5, in);
  s.feed(in);
  EXPECT_EQ(s.ev.violation, Reason::ProtocolError);
}

TEST(ConnectionEngineServer, SubscriptionIdentifierFromAClientIsAProtocolError) {
  Side s(Role::Server);
  s.feed(encode(connect_packet(Version::V5, "c"), Version::V5));
  auto p = publish("t");
  p.properties.subscription_identifiers = {7};
  s.feed(encode(p, Version::V5));
  EXPECT_EQ(s.ev.violation, Reason::ProtocolError);  // [MQTT-3.3.4-6, 5.0]
}

TEST(ConnectionEngineServer, KeepAliveTimeoutAfterOneAndAHalfTimes) {
  Side s(Role::Server);
  s.feed(encode(connect_packet(Version::V5, "c", 10), Version::V5), T0);
  s.take();
  s.engine.tick(s.ev, T0 + 14s);
  EXPECT_FALSE(s.engine.closing());
  s.engine.tick(s.ev, T0 + 16s);
  EXPECT_TRUE(s.engine.closing());
  EXPECT_EQ(s.ev.violation, Reason::KeepAliveTimeout);
}

TEST(ConnectionEngineServer, OutgoingAliasesAndPeerMaximumPacketSize) {
  Side s(Role::Server);
  auto c = connect_packet(Version::V5, "c");
  c.properties.topic_alias_maximum = 1;
  c.properties.maximum_packet_size = 64;
  s.feed(encode(c, Version::V5));
  s.take();
  pr::PublishView v;
  v.topic = "some/topic";
  v.payload = "p";
  EXPECT_GT(s.engine.send_publish(v), 0u);
  EXPECT_GT(s.engine.send_publish(v), 0u);
  auto out = decode_stream(s.take(), Version::V5);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<pr::Publish>(out[0]).topic, "some/topic");
  EXPECT_EQ(std::get<pr::Publish>(out[0]).properties.topic_alias, 1);
  EXPECT_EQ(std::get<pr::Publish>(out[1]).topic, "");  // sent by alias alone
  std::string big(100, 'x');
  v.payload = big;
  EXPECT_EQ(s.engine.send_publish(v), 0u);  // [MQTT-3.1.2-25, 5.0]: not sent at all
  EXPECT_EQ(s.take(), "");
}

/// Large payloads go out by reference: the runs output_segments() hands over, written in any
/// pieces, make exactly the bytes a copying engine writes, and the message is let go once
/// its payload is written.
struct HeldOutput {
  Side held{Role::Server};
  Side copied{Role::Server};
  std::shared_ptr<const std::string> big = std::make_shared<const std::string>(std::string(20000, 'b'));
  std::shared_ptr<const std::string> small = std::make_shared<const std::string>(std::string(100, 's'));

  HeldOutput() {
    for (Side* s : {&held, &copied}) {
      s->feed(encode(connect_packet(Version::V311, "c"), Version::V311));
      s->take();
    }
    // An ack, a large payload, another large one right behind it, a small one, an ack.
    for (Side* s : {&held, &copied}) {
      const bool by_ref = s == &held;
      s->engine.send_ack(PacketType::Puback, 1, Reason::Success);
      for (const auto& payload : {big, big, small}) {
        pr::PublishView v;
        v.topic = "t";
        v.payload = *payload;
        v.qos = 1;
        v.packet_id = 7;
        if (by_ref) v.payload_owner = payload;
        EXPECT_EQ(s->engine.send_publish(v), pr::publish_size(v, Version::V311));
      }
      s->engine.send_ack(PacketType::Puback, 2, Reason::Success);
    }
  }
  std::string reference() { return copied.take(); }
};

TEST(ConnectionEngineServer, LargePayloadsAreWrittenFromWhereTheyLie) {
  HeldOutput o;
  const std::string want = o.reference();
  EXPECT_EQ(o.held.engine.pending_size(), want.size());
  EXPECT_EQ(o.big.use_count(), 3);    // held twice, not copied
  EXPECT_EQ(o.small.use_count(), 1);  // small: copied, not held
  std::array<std::string_view, 16> runs;
  size_t n = o.held.engine.output_segments(runs);
  ASSERT_EQ(n, 5u);  // ack + head, payload, head, payload, head + small payload + ack
  EXPECT_EQ(runs[1].data(), o.big->data());  // the message's own bytes
  std::string all;
  for (size_t i = 0; i < n; ++i) all += runs[i];
  EXPECT_EQ(all, want);

  // Written two runs at a time, in pieces that end everywhere: inside a head, inside a
  // payload, on a boundary.
  std::string written;
  size_t piece = 1;
  while (o.held.engine.pending_size() > 0) {
    std::array<std::string_view, 2> two;
    size_t k = o.held.engine.output_segments(two);
    ASSERT_GT(k, 0u);
    std::string avail;
    for (size_t i = 0; i < k; ++i) avail += two[i];
    size_t take = std::min(avail.size(), piece);
    written += avail.substr(0, take);
    o.held.engine.consume_output(take);
    piece = piece * 3 + 1;
    if (piece > 9000) piece = 5;
  }
  EXPECT_EQ(written, want);
  EXPECT_EQ(o.big.use_count(), 1);  // written: let go
  EXPECT_EQ(o.held.engine.output_segments(runs), 0u);
}

TEST(ConnectionEngineServer, AWriterThatCannotGatherGetsTheHeldPayloadsCopiedIn) {
  HeldOutput o;
  const std::string want = o.reference();
  const size_t first = 3 + 2 + 1000;  // the ack, and into the first payload
  std::array<std::string_view, 16> runs;
  ASSERT_GT(o.held.engine.output_segments(runs), 1u);
  o.held.engine.consume_output(first);
  EXPECT_EQ(std::string(o.held.engine.pending_output()), want.substr(first));
  EXPECT_EQ(o.big.use_count(), 1);  // copied in: no longer held
  EXPECT_EQ(o.held.engine.output_segments(runs), 1u);
  o.held.engine.consume_output(want.size() - first);
  EXPECT_EQ(o.held.engine.pending_size(), 0u);
}

// ------------------------------------------------------------------ client role

TEST(ConnectionEngineClient, ConnectConnackAndLimits) {
  Side s(Role::Client);
  s.engine.start(connect_packet(Version::V5, "bridge", 30), T0);
  auto out = decode_stream(s.take(), Version::V5);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<pr::Connect>(out[0]).client_id, "bridge");
  EXPECT_FALSE(s.engine.established());
  pr::Connack ack;
  ack.properties.receive_maximum = 5;
  ack.properties.server_keep_alive = 20;
  ack.properties.maximum_packet_size = 1000;
  s.feed(encode(ack, Version::V5));
  EXPECT_TRUE(s.engine.established());
  EXPECT_EQ(s.engine.peer_receive_maximum(), 5);
  EXPECT_EQ(s.engine.keep_alive(), 20);  // [MQTT-3.2.2-21, 5.0]
  EXPECT_EQ(s.engine.peer_max_packet(), 1000u);
  EXPECT_EQ(s.ev.log, (std::vector<std::string>{"connack 0"}));
}

TEST(ConnectionEngineClient, RefusedConnackCloses) {
  Side s(Role::Client);
  s.engine.start(connect_packet(Version::V311, "bridge"), T0);
  s.take();
  s.feed(bytes({0x20, 0x02, 0x00, 0x05}));
  EXPECT_FALSE(s.engine.established());
  EXPECT_TRUE(s.engine.closing());
}

TEST(ConnectionEngineClient, FirstPacketMustBeConnack) {
  Side s(Role::Client);
  s.engine.start(connect_packet(Version::V311, "bridge"), T0);
  s.take();
  s.feed(encode(publish("t"), Version::V311));
  EXPECT_TRUE(s.engine.closing());
  EXPECT_EQ(s.ev.violation, Reason::ProtocolError);
}

TEST(ConnectionEngineClient, ClientToServerPacketsFromAServerAreRefused) {
  Side s(Role::Client);
  s.engine.start(connect_packet(Version::V311, "bridge"), T0);
  s.feed(bytes({0x20, 0x02, 0x00, 0x00}));
  s.take();
  s.feed(encode(pr::Pingreq{}, Version::V311));
  EXPECT_TRUE(s.engine.closing());
}

TEST(ConnectionEngineClient, PingsWhenIdleAndDetectsASilentServer) {
  Side s(Role::Client);
  s.engine.start(connect_packet(Version::V311, "bridge", 10), T0);
  s.feed(bytes({0x20, 0x02, 0x00, 0x00}), T0);
  s.take();
  s.engine.tick(s.ev, T0 + 5s);
  EXPECT_EQ(s.take(), "");
  s.engine.tick(s.ev, T0 + 10s);
  EXPECT_EQ(s.take(), bytes({0xC0, 0x00}));  // PINGREQ after keep-alive seconds of silence
  s.feed(bytes({0xD0, 0x00}), T0 + 10s);    // PINGRESP
  s.engine.tick(s.ev, T0 + 20s);
  EXPECT_EQ(s.take(), bytes({0xC0, 0x00}));
  s.engine.tick(s.ev, T0 + 26s);  // no answer for 16 s > 1.5 x 10 s: the link is dead
  EXPECT_TRUE(s.engine.closing());
  EXPECT_EQ(s.ev.violation, Reason::KeepAliveTimeout);
}

TEST(ConnectionEngineClient, SubackAndPublishFromServer) {
  Side s(Role::Client);
  s.engine.start(connect_packet(Version::V5, "bridge"), T0);
  pr::Connack ack;
  s.feed(encode(ack, Version::V5));
  pr::Suback sa;
  sa.packet_id = 4;
  sa.reasons = {Reason::GrantedQos1};
  s.feed(encode(sa, Version::V5) + encode(publish("up/x", 1, 9), Version::V5));
  EXPECT_EQ(s.ev.log, (std::vector<std::string>{"connack 0", "suback 4", "publish up/x"}));
}

}  // namespace
}  // namespace musqratt::test
