// The Uplink against a scripted upstream: a server-role ConnectionEngine on the other end of a
// byte pipe, no socket. What it sends (CONNECT, PUBLISH with DUP or not, SUBSCRIBE), what it
// does with what comes back, and how a link ends.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "bridge/bridge.h"
#include "bridge/buffer.h"
#include "bridge/uplink.h"
#include "test_support.h"

namespace musqratt::bridge {
namespace {

namespace pr = protocol;
using test::as;
using test::as_span;
using test::RecordingWaker;
using namespace std::chrono_literals;

const util::TimePoint T0 = util::TimePoint{} + 1000h;

/// The other end: a server engine that records every packet and answers as the test says.
struct Upstream : pr::EngineEvents {
  pr::ConnectionEngine engine{pr::Role::Server};
  std::vector<pr::Packet> got;
  std::optional<pr::Connect> connect;
  bool auto_accept = true;
  bool session_present = false;
  std::optional<pr::Reason> refuse;

  void on_connect(pr::Connect& c) override {
    connect = c;
    if (refuse) return engine.refuse(*refuse, "refused by the test");
    if (!auto_accept) return;
    pr::Connack ack;
    ack.session_present = session_present;
    engine.accept(c, ack, c.keep_alive);
  }
  void on_publish(pr::Publish& p) override { got.push_back(p); }
  void on_ack(const pr::Ack& a) override { got.push_back(a); }
  void on_subscribe(pr::Subscribe& s) override { got.push_back(s); }
  void on_disconnect(const pr::Disconnect& d) override { got.push_back(d); }
  void on_violation(pr::Reason, const char*) override {}

  std::vector<pr::Publish> publishes() const {
    std::vector<pr::Publish> out;
    for (const auto& p : got)
      if (auto* x = as<pr::Publish>(p)) out.push_back(*x);
    return out;
  }
  void ack_all(pr::PacketType type = pr::PacketType::Puback, pr::Reason reason = pr::Reason::Success) {
    for (const auto& p : publishes()) engine.send_ack(type, p.packet_id, reason);
    got.clear();
  }
};

struct Host : UplinkHost {
  std::vector<bool> ups;  // session_present of each link up
  std::vector<LinkEnd> downs;
  void on_link_up(bool session_present, util::TimePoint) override { ups.push_back(session_present); }
  void on_link_down(const LinkEnd& end, util::TimePoint) override { downs.push_back(end); }
};

/// A broker with a bridge's buffer, and Uplinks to a scripted upstream made on demand.
struct Rig {
  explicit Rig(BridgeConfig c, broker::Persistence* store = nullptr) : config(std::move(c)), topics(config.topics) {
    if (store) broker.attach_persistence(store, broker::RestoredState{}, T0);
    session = open_buffer(broker, config, topics, &waker, T0);
  }

  std::unique_ptr<Uplink> connect(uint64_t token, util::TimePoint now = T0) {
    up = std::make_unique<Upstream>();
    UplinkContext ctx{config, topics, broker, session, status, host, log, config.try_private};
    return std::make_unique<Uplink>(ctx, &waker, token, "upstream:1883", now);
  }

  /// Moves bytes both ways until neither side has anything to say.
  void exchange(Uplink& u, util::TimePoint now = T0) {
    for (int i = 0; i < 100; ++i) {
      std::string a(u.pending_output());
      u.consume_output(a.size(), now);
      if (!a.empty()) up->engine.receive(as_span(a), *up, now);
      std::string b(up->engine.pending_output());
      up->engine.consume_output(b.size());
      if (!b.empty()) u.on_bytes(as_span(b), now);
      if (a.empty() && b.empty()) return;
    }
    ADD_FAILURE() << "the two ends never went quiet";
  }

  void publish_local(const std::string& topic, const std::string& payload, uint8_t qos = 1, bool retain = false) {
    auto m = std::make_shared<broker::Message>();
    m->topic = topic;
    m->payload = payload;
    m->qos = qos;
    m->retain = retain;
    broker.publish(m, T0);
  }

  broker::Broker broker{broker::BrokerConfig{}};
  BridgeConfig config;
  TopicMap topics;
  RecordingWaker waker;
  broker::SessionPtr session;
  LinkStatus status;
  Host host;
  LogThrottle log{util::Seconds(10)};
  std::unique_ptr<Upstream> up;
};

BridgeConfig bridge(pr::Version v = pr::Version::V5, std::vector<TopicRule> topics = {{"s/#", Direction::Out, 1, "", "site/"}}) {
  BridgeConfig c;
  c.name = "cloud";
  c.addresses = {"upstream:1883"};
  c.client_id = "edge-1";
  c.version = v;
  c.keepalive = 10;
  c.max_inflight = 100;
  c.topics = std::move(topics);
  return c;
}

TEST(BridgeUplink, ConnectCarriesTheConfiguredIdentityAndTheBridgeBit) {
  BridgeConfig c = bridge(pr::Version::V311);
  c.username = "u";
  c.password = "p";
  Rig rig(c);
  auto u = rig.connect(11);
  rig.exchange(*u);
  ASSERT_TRUE(rig.up->connect);
  const pr::Connect& conn = *rig.up->connect;
  EXPECT_EQ(conn.version, pr::Version::V311);
  EXPECT_TRUE(conn.bridge) << "protocol level 0x84, as Mosquitto's bridges send it";
  EXPECT_EQ(conn.client_id, "edge-1");
  EXPECT_FALSE(conn.clean_start);
  EXPECT_EQ(conn.keep_alive, 10);
  EXPECT_EQ(conn.username, "u");
  EXPECT_EQ(conn.password, "p");
  EXPECT_TRUE(u->established());
  EXPECT_EQ(rig.host.ups, std::vector<bool>{false});
  EXPECT_TRUE(rig.session->online());

  Rig v5(bridge(pr::Version::V5));
  auto u5 = v5.connect(12);
  v5.exchange(*u5);
  EXPECT_FALSE(v5.up->connect->bridge);
  EXPECT_EQ(v5.up->connect->properties.session_expiry_interval, 86400u);
}

TEST(BridgeUplink, WhatWasBufferedGoesUpMappedInOrderAndLeavesOnPuback) {
  Rig rig(bridge());
  for (int i = 0; i < 5; ++i) rig.publish_local("s/t", std::to_string(i));
  rig.publish_local("other/t", "not for the bridge");
  EXPECT_EQ(rig.session->queued_count(), 5u);
  auto u = rig.connect(11);
  rig.exchange(*u);
  auto pubs = rig.up->publishes();
  ASSERT_EQ(pubs.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(pubs[i].topic, "site/s/t");
    EXPECT_EQ(pubs[i].payload, std::to_string(i));
    EXPECT_EQ(pubs[i].qos, 1);
    EXPECT_FALSE(pubs[i].dup);
  }
  EXPECT_EQ(rig.session->inflight_count(), 5u);
  rig.up->ack_all();
  rig.exchange(*u);
  EXPECT_EQ(rig.session->inflight_count(), 0u);
  EXPECT_EQ(rig.status.sent.load(), 5u);
  // While up, a new message is sent at once (the session wakes the link).
  rig.waker.tokens.clear();
  rig.publish_local("s/live", "now");
  EXPECT_TRUE(rig.waker.woke(11));
  u->on_wake(T0);
  rig.exchange(*u);
  ASSERT_EQ(rig.up->publishes().size(), 1u);
  EXPECT_EQ(rig.up->publishes()[0].topic, "site/s/live");
}

TEST(BridgeUplink, NoMoreThanMaxInflightAreUnacknowledged) {
  BridgeConfig c = bridge();
  c.max_inflight = 3;
  Rig rig(c);
  for (int i = 0; i < 10; ++i) rig.publish_local("s/t", std::to_string(i));
  auto u = rig.connect(11);
  rig.exchange(*u);
  EXPECT_EQ(rig.up->publishes().size(), 3u);
  rig.up->ack_all();
  rig.exchange(*u);
  EXPECT_EQ(rig.up->publishes().size(), 3u);
  EXPECT_EQ(rig.up->publishes()[0].payload, "3");
}

TEST(BridgeUplink, AReconnectResendsWhatWasNotAcknowledgedWithDupOnlyWhereTheUpstreamKeptTheSession) {
  for (bool kept : {true, false}) {
    Rig rig(bridge());
    for (int i = 0; i < 3; ++i) rig.publish_local("s/t", std::to_string(i));
    auto first = rig.connect(11);
    rig.exchange(*first);
    ASSERT_EQ(rig.up->publishes().size(), 3u);
    first->on_closed(T0);  // the link drops before any PUBACK
    ASSERT_EQ(rig.host.downs.size(), 1u);
    EXPECT_TRUE(rig.host.downs[0].established);
    EXPECT_FALSE(rig.session->online());
    rig.publish_local("s/t", "3");  // buffered meanwhile

    auto second = rig.connect(12);
    rig.up->session_present = kept;
    rig.exchange(*second);
    auto pubs = rig.up->publishes();
    ASSERT_EQ(pubs.size(), 4u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(pubs[i].payload, std::to_string(i)) << "the original order";
    for (int i = 0; i < 3; ++i) EXPECT_EQ(pubs[i].dup, kept) << "DUP [MQTT-3.3.1-1]";
    EXPECT_FALSE(pubs[3].dup);
    rig.up->ack_all();
    rig.exchange(*second);
    EXPECT_EQ(rig.session->inflight_count() + rig.session->queued_count(), 0u);
  }
}

TEST(BridgeUplink, Qos2GoesThroughPubrecPubrelPubcomp) {
  Rig rig(bridge(pr::Version::V5, {{"s/#", Direction::Out, 2, "", ""}}));
  rig.publish_local("s/t", "x", 2);
  auto u = rig.connect(11);
  rig.exchange(*u);
  auto pubs = rig.up->publishes();
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_EQ(pubs[0].qos, 2);
  rig.up->engine.send_ack(pr::PacketType::Pubrec, pubs[0].packet_id, pr::Reason::Success);
  rig.up->got.clear();
  rig.exchange(*u);
  ASSERT_EQ(rig.up->got.size(), 1u);
  const auto* rel = as<pr::Ack>(rig.up->got[0]);
  ASSERT_NE(rel, nullptr);
  EXPECT_EQ(rel->type, pr::PacketType::Pubrel);
  EXPECT_EQ(rig.status.sent.load(), 0u);
  rig.up->engine.send_ack(pr::PacketType::Pubcomp, pubs[0].packet_id, pr::Reason::Success);
  rig.exchange(*u);
  EXPECT_EQ(rig.status.sent.load(), 1u);
  EXPECT_EQ(rig.session->inflight_count(), 0u);
}

TEST(BridgeUplink, InRulesSubscribeUpstreamAndPublishLocallyWithoutEcho) {
  for (pr::Version v : {pr::Version::V311, pr::Version::V5}) {
    Rig rig(bridge(v, {{"cmd/#", Direction::Both, 1, "local/", "remote/"}}));
    RecordingWaker local_waker;
    test::TestClient local(rig.broker, local_waker, 99, pr::Version::V5, T0);
    local.send(test::make_connect(pr::Version::V5, "watcher"), T0);
    local.send(test::make_subscribe(1, "local/#", 1), T0);
    local.take();
    auto u = rig.connect(11);
    rig.exchange(*u);
    // SUBSCRIBE to the remote filter; 5.0 with No Local, Retain As Published, retained once.
    const pr::Subscribe* sub = nullptr;
    for (const auto& p : rig.up->got)
      if (auto* s = as<pr::Subscribe>(p)) sub = s;
    ASSERT_NE(sub, nullptr);
    ASSERT_EQ(sub->subscriptions.size(), 1u);
    EXPECT_EQ(sub->subscriptions[0].filter, "remote/cmd/#");
    EXPECT_EQ(sub->subscriptions[0].options.no_local, v == pr::Version::V5);
    EXPECT_EQ(sub->subscriptions[0].options.retain_as_published, v == pr::Version::V5);
    // Nothing new goes out before the SUBACK (its packet id is the bridge's own).
    rig.publish_local("local/cmd/early", "e");
    local.handler.on_wake(T0);
    local.take();  // the watcher has it too
    u->on_wake(T0);
    rig.exchange(*u);
    EXPECT_TRUE(rig.up->publishes().empty());
    pr::Suback ack;
    ack.packet_id = sub->packet_id;
    ack.reasons = {pr::Reason::GrantedQos1};
    rig.up->engine.send(ack);
    rig.up->got.clear();
    rig.exchange(*u);
    ASSERT_EQ(rig.up->publishes().size(), 1u);
    EXPECT_EQ(rig.up->publishes()[0].topic, "remote/cmd/early");
    rig.up->ack_all();
    rig.exchange(*u);

    // Down: published locally under the local prefix, acknowledged upstream, not sent back.
    pr::Publish down = test::make_publish("remote/cmd/valve", "open", 1, 77, true);
    rig.up->engine.send_publish(pr::PublishView{down.topic, down.payload, 1, true, false, 77});
    rig.exchange(*u);
    local.handler.on_wake(T0);
    auto got = local.take();
    ASSERT_EQ(got.size(), 1u);
    const auto* p = as<pr::Publish>(got[0]);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->topic, "local/cmd/valve");
    EXPECT_EQ(p->payload, "open");
    bool acked = false;
    for (const auto& x : rig.up->got)
      if (auto* a = as<pr::Ack>(x)) acked = acked || (a->type == pr::PacketType::Puback && a->packet_id == 77);
    EXPECT_TRUE(acked);
    EXPECT_TRUE(rig.up->publishes().empty()) << "No Local on the buffer: nothing echoes back";
    EXPECT_EQ(rig.session->queued_count() + rig.session->inflight_count(), 0u);
    EXPECT_EQ(rig.status.received.load(), 1u);
  }
}

TEST(BridgeUplink, ARefusedConnectSaysWhy) {
  Rig rig(bridge(pr::Version::V5));
  auto u = rig.connect(11);
  rig.up->refuse = pr::Reason::NotAuthorized;
  rig.exchange(*u);
  EXPECT_TRUE(u->closing());
  u->on_closed(T0);
  ASSERT_EQ(rig.host.downs.size(), 1u);
  const LinkEnd& end = rig.host.downs[0];
  EXPECT_FALSE(end.established);
  EXPECT_EQ(end.refused, pr::Reason::NotAuthorized);
  EXPECT_NE(end.reason.find("refused by the upstream"), std::string::npos) << end.reason;
  EXPECT_NE(end.reason.find("0x87"), std::string::npos) << end.reason;
  EXPECT_FALSE(rig.session->online());
}

TEST(BridgeUplink, AnUpstreamThatNeverAnswersTimesOut) {
  BridgeConfig c = bridge();
  c.connect_timeout_ms = 2000;
  Rig rig(c);
  auto u = rig.connect(11);
  rig.up->auto_accept = false;  // takes the CONNECT, never answers
  rig.exchange(*u);
  u->on_tick(T0 + 1s);
  EXPECT_FALSE(u->closing());
  u->on_tick(T0 + 3s);
  EXPECT_TRUE(u->closing());
  u->on_closed(T0 + 3s);
  ASSERT_EQ(rig.host.downs.size(), 1u);
  EXPECT_NE(rig.host.downs[0].reason.find("no CONNACK within 2000 ms (timeout)"), std::string::npos);
}

TEST(BridgeUplink, ALinkThatGoesSilentIsDroppedByKeepAlive) {
  Rig rig(bridge());
  auto u = rig.connect(11);
  rig.exchange(*u);
  ASSERT_TRUE(u->established());
  u->on_tick(T0 + 10s);  // keep-alive 10 s: a PINGREQ
  std::string ping(u->pending_output());
  EXPECT_EQ(ping, std::string("\xC0\x00", 2));
  u->consume_output(ping.size(), T0 + 10s);
  u->on_tick(T0 + 14s);
  EXPECT_FALSE(u->closing());
  u->on_tick(T0 + 16s);  // nothing from the upstream for 1.5 x keep-alive
  EXPECT_TRUE(u->closing());
  u->on_closed(T0 + 16s);
  ASSERT_EQ(rig.host.downs.size(), 1u);
  EXPECT_TRUE(rig.host.downs[0].established);
  EXPECT_NE(rig.host.downs[0].reason.find("silent"), std::string::npos) << rig.host.downs[0].reason;
}

TEST(BridgeUplink, ATransportErrorIsTheReasonGiven) {
  Rig rig(bridge());
  auto u = rig.connect(11);
  u->on_transport_error("TLS: certificate verify failed");
  u->on_closed(T0);
  ASSERT_EQ(rig.host.downs.size(), 1u);
  EXPECT_EQ(rig.host.downs[0].reason, "TLS: certificate verify failed");
}

TEST(BridgeUplink, RefusedMessagesAreCounted) {
  Rig rig(bridge(pr::Version::V5));
  rig.publish_local("s/a", "1");
  rig.publish_local("s/b", "2");
  auto u = rig.connect(11);
  rig.exchange(*u);
  auto pubs = rig.up->publishes();
  ASSERT_EQ(pubs.size(), 2u);
  rig.up->engine.send_ack(pr::PacketType::Puback, pubs[0].packet_id, pr::Reason::NotAuthorized);
  rig.up->engine.send_ack(pr::PacketType::Puback, pubs[1].packet_id, pr::Reason::NoMatchingSubscribers);
  rig.exchange(*u);
  EXPECT_EQ(rig.status.rejected.load(), 1u);
  EXPECT_EQ(rig.status.sent.load(), 1u) << "0x10 is a success";
  EXPECT_EQ(rig.session->inflight_count(), 0u);
}

/// committed() moves only when the test says: the durable-ack and durable-window rules.
class SlowStore : public broker::Persistence {
 public:
  uint64_t issued = 0, done = 0;
  std::multimap<uint64_t, broker::Link> waiters;
  void advance() {
    done = issued;
    for (auto& [seq, l] : waiters) l.waker->wake(l.token);
    waiters.clear();
  }
  uint64_t last_issued() const override { return issued; }
  uint64_t committed() const override { return done; }
  void notify_when_durable(uint64_t seq, broker::Link link) override {
    if (done >= seq) link.waker->wake(link.token);
    else waiters.emplace(seq, link);
  }
  uint32_t memory_queue_limit() const override { return 0; }
  void load_queued(const std::string&, uint64_t, uint32_t, std::function<void(std::vector<broker::RestoredOutbound>)>) override {}
  void session_saved(const std::string&, uint32_t, std::optional<int64_t>) override { ++issued; }
  void session_deleted(const std::string&) override { ++issued; }
  void subscription_saved(const std::string&, const std::string&, const pr::SubscribeOptions&, uint32_t) override { ++issued; }
  void subscription_deleted(const std::string&, const std::string&) override { ++issued; }
  void outbound_saved(const std::string&, uint64_t, const broker::Outbound&, broker::OutboundState, uint16_t) override { ++issued; }
  void outbound_deleted(const std::string&, uint64_t) override { ++issued; }
  void incoming_qos2_saved(const std::string&, uint16_t) override { ++issued; }
  void incoming_qos2_deleted(const std::string&, uint16_t) override { ++issued; }
  void retained_saved(const broker::MessagePtr&) override { ++issued; }
  void retained_deleted(const std::string&) override { ++issued; }
  void held_saved(uint64_t, const broker::MessagePtr&) override { ++issued; }
  void held_deleted(uint64_t) override { ++issued; }
  void will_saved(const std::string&, const broker::MessagePtr&, int64_t) override { ++issued; }
  void will_deleted(const std::string&) override { ++issued; }
};

TEST(BridgeUplink, AcknowledgementsNotYetDurableHoldTheWindow) {
  SlowStore store;
  BridgeConfig c = bridge();
  c.max_inflight = 2;
  Rig rig(c, &store);
  ASSERT_TRUE(rig.session->persistent());
  for (int i = 0; i < 6; ++i) rig.publish_local("s/t", std::to_string(i));
  store.advance();
  auto u = rig.connect(11);
  rig.exchange(*u);
  ASSERT_EQ(rig.up->publishes().size(), 2u);
  rig.up->ack_all();
  rig.exchange(*u);
  // Their removal is not durable yet: after a crash both would go again, so nothing more
  // may be in the air (at most max_inflight sent twice).
  EXPECT_TRUE(rig.up->publishes().empty());
  rig.waker.tokens.clear();
  store.advance();
  EXPECT_TRUE(rig.waker.woke(11));
  u->on_wake(T0);
  rig.exchange(*u);
  EXPECT_EQ(rig.up->publishes().size(), 2u);
  EXPECT_EQ(rig.up->publishes()[0].payload, "2");
}

TEST(BridgeUplink, MessagesFromTheUpstreamAreAcknowledgedOnceDurable) {
  SlowStore store;
  Rig rig(bridge(pr::Version::V5, {{"cmd/#", Direction::In, 1, "", ""}}), &store);
  RecordingWaker lw;
  test::TestClient keeper(rig.broker, lw, 99, pr::Version::V5, T0);
  pr::Connect conn = test::make_connect(pr::Version::V5, "keeper", false);
  conn.properties.session_expiry_interval = 3600;  // a persistent receiver: its queue is stored
  keeper.send(conn, T0);
  keeper.send(test::make_subscribe(1, "cmd/#", 1), T0);
  keeper.handler.on_closed(T0);
  store.advance();
  auto u = rig.connect(11);
  rig.exchange(*u);
  for (const auto& p : rig.up->got)
    if (auto* s = as<pr::Subscribe>(p)) {
      pr::Suback ack;
      ack.packet_id = s->packet_id;
      ack.reasons = {pr::Reason::GrantedQos1};
      rig.up->engine.send(ack);
    }
  rig.up->got.clear();
  rig.exchange(*u);
  rig.up->engine.send_publish(pr::PublishView{"cmd/x", "go", 1, false, false, 5});
  rig.exchange(*u);
  EXPECT_TRUE(rig.up->got.empty()) << "no PUBACK before the stored copy is durable";
  rig.waker.tokens.clear();
  store.advance();
  u->on_wake(T0);
  rig.exchange(*u);
  ASSERT_EQ(rig.up->got.size(), 1u);
  const auto* ack = as<pr::Ack>(rig.up->got[0]);
  ASSERT_NE(ack, nullptr);
  EXPECT_EQ(ack->type, pr::PacketType::Puback);
  EXPECT_EQ(ack->packet_id, 5);
}

TEST(BridgeUplink, BackoffDoublesWithJitterWithinTheBounds) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 200; ++i) {
    auto d1 = backoff_delay(1, 100, 10000, rng).count();
    EXPECT_GE(d1, 100);
    EXPECT_LE(d1, 200);
    auto d4 = backoff_delay(4, 100, 10000, rng).count();
    EXPECT_GE(d4, 800);
    EXPECT_LE(d4, 1600);
    auto d20 = backoff_delay(20, 100, 10000, rng).count();
    EXPECT_EQ(d20, 10000) << "capped";
  }
  // Jittered: not every delay is the same.
  std::set<long> seen;
  for (int i = 0; i < 50; ++i) seen.insert(static_cast<long>(backoff_delay(3, 100, 10000, rng).count()));
  EXPECT_GT(seen.size(), 10u);
}

}  // namespace
}  // namespace musqratt::bridge
