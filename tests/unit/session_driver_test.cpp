// SessionDriver driven with raw encoded packets against a real Broker: CONNECT handling,
// timers, session takeover, limits and shutdown.
#include <gtest/gtest.h>

#include "broker/session_driver.h"
#include "handler_fixture.h"

namespace musqratt::test {
namespace {

// ------------------------------------------------------------------ CONNECT

TEST_F(HandlerTest, Connect311GetsPlainConnack) {
  auto& c = client(Version::V311);
  EXPECT_FALSE(c.handler.connected());
  c.send(make_connect(Version::V311, "c1", true, 30), T0);
  EXPECT_EQ(c.take_raw(), bytes({0x20, 0x02, 0x00, 0x00}));
  EXPECT_TRUE(c.handler.connected());
  EXPECT_FALSE(c.handler.closing());
  EXPECT_EQ(c.handler.client_id(), "c1");
  EXPECT_EQ(broker->session_count(), 1u);
}

TEST_F(HandlerTest, Connect31) {
  auto& c = client(Version::V31);
  c.send(make_connect(Version::V31, "old", true), T0);
  EXPECT_EQ(c.take_raw(), bytes({0x20, 0x02, 0x00, 0x00}));
  EXPECT_TRUE(c.handler.connected());
}

TEST_F(HandlerTest, Connect5PropertiesInConnack) {
  BrokerConfig cfg;
  cfg.receive_maximum = 10;
  cfg.max_session_expiry = 100;
  cfg.topic_alias_maximum = 8;
  cfg.maximum_qos = 1;
  cfg.max_packet_size = 5000;
  start(cfg);
  auto& c = client(Version::V5);
  auto conn = make_connect(Version::V5, "", true);
  conn.properties.session_expiry_interval = 1000;
  c.send(conn, T0);
  auto out = c.take();
  ASSERT_EQ(out.size(), 1u);
  auto* ack = at<pr::Connack>(out, 0);
  ASSERT_NE(ack, nullptr);
  EXPECT_EQ(ack->reason, Reason::Success);
  EXPECT_FALSE(ack->session_present);
  ASSERT_TRUE(ack->properties.assigned_client_identifier.has_value());
  EXPECT_FALSE(ack->properties.assigned_client_identifier->empty());
  EXPECT_EQ(*ack->properties.assigned_client_identifier, c.handler.client_id());
  EXPECT_EQ(ack->properties.receive_maximum, 10);
  EXPECT_EQ(ack->properties.session_expiry_interval, 100u);  // capped
  EXPECT_EQ(ack->properties.topic_alias_maximum, 8);
  EXPECT_EQ(ack->properties.maximum_qos, 1);
  EXPECT_EQ(ack->properties.maximum_packet_size, 5000u);
  EXPECT_FALSE(ack->properties.retain_available.has_value());
}

TEST_F(HandlerTest, Connect5WithinLimitsOmitsSessionExpiryAndAssignedId) {
  auto& c = client(Version::V5);
  auto conn = make_connect(Version::V5, "named", true);
  conn.properties.session_expiry_interval = 60;
  c.send(conn, T0);
  auto out = c.take();
  auto* ack = at<pr::Connack>(out, 0);
  ASSERT_NE(ack, nullptr);
  EXPECT_FALSE(ack->properties.session_expiry_interval.has_value());
  EXPECT_FALSE(ack->properties.assigned_client_identifier.has_value());
  EXPECT_FALSE(ack->properties.receive_maximum.has_value());  // default 65535 not announced
}

TEST_F(HandlerTest, AssignedClientIdsAreUnique) {
  auto& a = client(Version::V5);
  auto& b = client(Version::V311);
  a.send(make_connect(Version::V5, ""), T0);
  b.send(make_connect(Version::V311, ""), T0);
  EXPECT_TRUE(a.handler.connected());
  EXPECT_TRUE(b.handler.connected());
  EXPECT_FALSE(a.handler.client_id().empty());
  EXPECT_NE(a.handler.client_id(), b.handler.client_id());
}

TEST_F(HandlerTest, EmptyClientIdWithoutCleanSession311IsRejected) {
  auto& c = client(Version::V311);
  c.send(make_connect(Version::V311, "", false), T0);
  EXPECT_EQ(c.take_raw(), bytes({0x20, 0x02, 0x00, 0x02}));
  EXPECT_TRUE(c.handler.closing());
  EXPECT_FALSE(c.handler.connected());
}

TEST_F(HandlerTest, UnsupportedProtocolLevelGetsConnack) {
  auto& c = client(Version::V311);
  std::string body;
  pr::wire::put_string(body, "MQTT");
  body += bytes({0x07, 0x02, 0x00, 0x00});
  pr::wire::put_string(body, "c");
  c.send_raw(frame(0x10, body), T0);
  EXPECT_EQ(c.take_raw(), bytes({0x20, 0x02, 0x00, 0x01}));
  EXPECT_TRUE(c.handler.closing());
}

TEST_F(HandlerTest, PacketBeforeConnectCloses) {
  auto& c = client(Version::V311);
  c.send(pr::Pingreq{}, T0);
  EXPECT_TRUE(c.handler.closing());
  EXPECT_TRUE(c.handler.pending_output().empty());
  EXPECT_FALSE(c.handler.connected());
  // Nothing more is processed.
  c.send(make_connect(Version::V311, "late"), T0);
  EXPECT_TRUE(c.handler.pending_output().empty());
  EXPECT_EQ(broker->session_count(), 0u);
}

TEST_F(HandlerTest, SecondConnectIsProtocolError) {
  auto& c = connect(Version::V5, "twice");
  c.send(make_connect(Version::V5, "twice"), T0);
  auto out = c.take();
  ASSERT_EQ(out.size(), 1u);
  auto* d = at<pr::Disconnect>(out, 0);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->reason, Reason::ProtocolError);
  EXPECT_TRUE(c.handler.closing());
}

TEST_F(HandlerTest, SecondConnect311ClosesSilently) {
  auto& c = connect(Version::V311, "twice");
  c.send(make_connect(Version::V311, "twice"), T0);
  EXPECT_TRUE(c.handler.pending_output().empty());
  EXPECT_TRUE(c.handler.closing());
}

TEST_F(HandlerTest, ConnectSplitAcrossManyReads) {
  auto& c = client(Version::V5);
  auto conn = make_connect(Version::V5, "split", true, 10);
  conn.properties.user_properties = {{"a", "b"}};
  std::string wire = encode(conn, Version::V5) + encode(pr::Pingreq{}, Version::V5);
  for (char ch : wire) c.send_raw(std::string_view(&ch, 1), T0);
  auto out = c.take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NE(at<pr::Connack>(out, 0), nullptr);
  EXPECT_NE(at<pr::Pingresp>(out, 1), nullptr);
}

TEST_F(HandlerTest, OversizedPacketRejectedOnHeader) {
  BrokerConfig cfg;
  cfg.max_packet_size = 64;
  start(cfg);
  auto& c = connect(Version::V5, "small");
  // Exactly at the limit: accepted.
  std::string ok = encode(make_publish("t", std::string(64 - 2 - 3 - 1, 'x')), Version::V5);
  ASSERT_EQ(ok.size(), 64u);
  c.send_raw(ok, T0);
  EXPECT_FALSE(c.handler.closing());
  EXPECT_TRUE(c.handler.pending_output().empty());
  // Only the fixed header of a 1000-byte PUBLISH: refused before the body arrives.
  c.send_raw(bytes({0x30, 0xE8, 0x07}), T0);
  auto out = c.take();
  ASSERT_EQ(out.size(), 1u);
  auto* d = at<pr::Disconnect>(out, 0);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->reason, Reason::PacketTooLarge);
  EXPECT_TRUE(c.handler.closing());
}

TEST_F(HandlerTest, MalformedPacketAfterConnect) {
  auto& c = connect(Version::V5, "bad");
  c.send_raw(bytes({0x38, 0x03, 0x00, 0x01, 't'}), T0);  // DUP on QoS 0
  auto out = c.take();
  ASSERT_EQ(out.size(), 1u);
  auto* d = at<pr::Disconnect>(out, 0);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->reason, Reason::MalformedPacket);
  EXPECT_TRUE(c.handler.closing());
}

TEST_F(HandlerTest, PingreqGetsPingresp) {
  auto& c = connect(Version::V311, "ping");
  c.send(pr::Pingreq{}, T0);
  EXPECT_EQ(c.take_raw(), bytes({0xD0, 0x00}));
}

// ------------------------------------------------------------------ timers

TEST_F(HandlerTest, KeepAliveTimeout) {
  auto& c = client(Version::V5);
  c.send(make_connect(Version::V5, "ka", true, 10), T0);
  c.take();
  c.handler.on_tick(T0 + 14s);
  EXPECT_FALSE(c.handler.closing());
  c.send(pr::Pingreq{}, T0 + 10s);  // activity resets the timer
  c.take();
  c.handler.on_tick(T0 + 24s);
  EXPECT_FALSE(c.handler.closing());
  EXPECT_TRUE(c.handler.pending_output().empty());
  c.handler.on_tick(T0 + 26s);  // > 1.5 x 10 s after the last packet
  EXPECT_TRUE(c.handler.closing());
  auto out = c.take();
  ASSERT_EQ(out.size(), 1u);
  auto* d = at<pr::Disconnect>(out, 0);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->reason, Reason::KeepAliveTimeout);
}

TEST_F(HandlerTest, KeepAliveZeroNeverTimesOut) {
  auto& c = connect(Version::V5, "forever");
  c.handler.on_tick(T0 + 100000s);
  EXPECT_FALSE(c.handler.closing());
}

TEST_F(HandlerTest, ServerKeepAliveOverridesClient) {
  BrokerConfig cfg;
  cfg.max_keepalive = 20;
  start(cfg);
  auto& c = client(Version::V5);
  c.send(make_connect(Version::V5, "k", true, 0), T0);
  auto out = c.take();
  ASSERT_NE(at<pr::Connack>(out, 0), nullptr);
  EXPECT_EQ(at<pr::Connack>(out, 0)->properties.server_keep_alive, 20);
  c.handler.on_tick(T0 + 29s);
  EXPECT_FALSE(c.handler.closing());
  c.handler.on_tick(T0 + 31s);
  EXPECT_TRUE(c.handler.closing());
}

TEST_F(HandlerTest, ConnectTimeout) {
  BrokerConfig cfg;
  cfg.connect_timeout = 5;
  start(cfg);
  auto& c = client(Version::V311, T0);
  c.handler.on_tick(T0 + 5s);
  EXPECT_FALSE(c.handler.closing());
  c.handler.on_tick(T0 + 6s);
  EXPECT_TRUE(c.handler.closing());
  EXPECT_TRUE(c.handler.pending_output().empty());
}

// ------------------------------------------------------------------ takeover

TEST_F(HandlerTest, SessionTakeoverCleanStart) {
  auto& old_conn = connect(Version::V5, "same");
  waker.tokens.clear();
  auto& new_conn = connect(Version::V5, "same", true);
  EXPECT_TRUE(waker.woke(token_of(old_conn)));
  EXPECT_FALSE(old_conn.handler.closing());  // notices on its wake-up
  old_conn.handler.on_wake(T0);
  auto out = old_conn.take();
  ASSERT_EQ(out.size(), 1u);
  auto* d = at<pr::Disconnect>(out, 0);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->reason, Reason::SessionTakenOver);
  EXPECT_TRUE(old_conn.handler.closing());
  old_conn.handler.on_closed(T0);
  EXPECT_TRUE(new_conn.handler.connected());
  EXPECT_EQ(broker->session_count(), 1u);
}

TEST_F(HandlerTest, SessionTakeoverResumeKeepsSession) {
  auto& old_conn = connect(Version::V5, "same", true, 600u);
  subscribe(old_conn, "keep/#", 1);
  waker.tokens.clear();
  // Resuming a session another connection holds: the CONNACK waits until the holder has
  // processed what it already received and left.
  auto& new_conn = client(Version::V5);
  auto conn = make_connect(Version::V5, "same", false);
  conn.properties.session_expiry_interval = 600u;
  new_conn.send(conn, T0);
  EXPECT_TRUE(new_conn.take().empty());
  EXPECT_TRUE(waker.woke(token_of(old_conn)));
  old_conn.handler.on_wake(T0);
  auto out = old_conn.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(at<pr::Disconnect>(out, 0)->reason, Reason::SessionTakenOver);
  EXPECT_TRUE(waker.woke(token_of(new_conn)));
  new_conn.handler.on_wake(T0);
  out = new_conn.take();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_NE(at<pr::Connack>(out, 0), nullptr);
  EXPECT_TRUE(at<pr::Connack>(out, 0)->session_present);
  old_conn.handler.on_closed(T0);  // must not detach the new owner
  // The subscription survived and is delivered to the new connection.
  auto& pub = connect(Version::V311, "pub");
  pub.send(make_publish("keep/x", "still here", 1, 1), T0);
  new_conn.handler.on_wake(T0);
  out = new_conn.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(at<pr::Publish>(out, 0)->payload, "still here");
}

TEST_F(HandlerTest, DisconnectInFlightBeforeResumeEndsTheSession) {
  // The client sent DISCONNECT (expiry 0) and reconnected at once; the new CONNECT is handled
  // first. The old connection reads its DISCONNECT before leaving: no session is present.
  auto& old_conn = connect(Version::V5, "quick", true);
  auto& new_conn = client(Version::V5);
  new_conn.send(make_connect(Version::V5, "quick", false), T0);
  EXPECT_TRUE(new_conn.take().empty());
  old_conn.send(pr::Disconnect{}, T0);
  old_conn.handler.on_wake(T0);
  new_conn.handler.on_wake(T0);
  auto out = new_conn.take();
  ASSERT_NE(at<pr::Connack>(out, 0), nullptr);
  EXPECT_FALSE(at<pr::Connack>(out, 0)->session_present);
}

TEST_F(HandlerTest, SessionTakeover311ClosesWithoutDisconnect) {
  auto& old_conn = connect(Version::V311, "same");
  connect(Version::V311, "same");
  old_conn.handler.on_wake(T0);
  EXPECT_TRUE(old_conn.handler.closing());
  EXPECT_TRUE(old_conn.handler.pending_output().empty());
}

// ------------------------------------------------------------------ limits

TEST_F(HandlerTest, ReceiveMaximumExceeded) {
  BrokerConfig cfg;
  cfg.receive_maximum = 2;
  start(cfg);
  auto& c = client(Version::V5);
  c.send(make_connect(Version::V5, "flood"), T0);
  auto out = c.take();
  ASSERT_NE(at<pr::Connack>(out, 0), nullptr);
  EXPECT_EQ(at<pr::Connack>(out, 0)->properties.receive_maximum, 2);
  c.send(make_publish("t", "1", 2, 1), T0);
  c.send(make_publish("t", "2", 2, 2), T0);
  out = c.take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(c.handler.closing());
  // Releasing one makes room for another.
  c.send(make_ack(PacketType::Pubrel, 1), T0);
  c.send(make_publish("t", "3", 2, 3), T0);
  out = c.take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(at<pr::Ack>(out, 1)->type, PacketType::Pubrec);
  EXPECT_FALSE(c.handler.closing());
  // Third unreleased QoS 2 exchange.
  c.send(make_publish("t", "4", 2, 4), T0);
  out = c.take();
  ASSERT_EQ(out.size(), 1u);
  auto* d = at<pr::Disconnect>(out, 0);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->reason, Reason::ReceiveMaximumExceeded);
  EXPECT_TRUE(c.handler.closing());
}

TEST_F(HandlerTest, InvalidTopicNameInPublish) {
  auto& c = connect(Version::V5, "c");
  c.send(make_publish("a/+", "x"), T0);
  auto out = c.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(at<pr::Disconnect>(out, 0)->reason, Reason::TopicNameInvalid);
}

TEST_F(HandlerTest, QosAboveMaximum) {
  BrokerConfig cfg;
  cfg.maximum_qos = 1;
  start(cfg);
  auto& c = connect(Version::V5, "c");
  c.send(make_publish("t", "x", 2, 1), T0);
  auto out = c.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(at<pr::Disconnect>(out, 0)->reason, Reason::QosNotSupported);
}

// ------------------------------------------------------------------ shutdown

TEST_F(HandlerTest, ShutdownSends0x8BAndNoWill) {
  auto& sub = connect(Version::V5, "watcher");
  subscribe(sub, "will/#", 0);
  auto& c = client(Version::V5);
  c.send(connect_with_will(Version::V5, "x"), T0);
  c.take();
  c.handler.on_shutdown();
  auto out = c.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(at<pr::Disconnect>(out, 0)->reason, Reason::ServerShuttingDown);
  EXPECT_TRUE(c.handler.closing());
  c.handler.on_closed(T0);
  sub.handler.on_wake(T0);
  EXPECT_TRUE(sub.take().empty());
}

}  // namespace
}  // namespace musqratt::test
