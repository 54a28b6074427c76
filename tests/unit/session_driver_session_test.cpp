// SessionDriver and persistent sessions: offline queueing, resend, message expiry, session
// expiry and the hold for unsubscribed topics.
#include <gtest/gtest.h>

#include "broker/session_driver.h"
#include "handler_fixture.h"

namespace musqratt::test {
namespace {

// ------------------------------------------------------------------ persistent sessions

TEST_F(HandlerTest, PersistentSessionQueuesWhileOffline) {
  auto& s1 = connect(Version::V5, "persist", true, 3600u);
  subscribe(s1, "p/#", 1);
  s1.send(pr::Disconnect{}, T0);
  s1.handler.on_closed(T0);
  EXPECT_EQ(broker->session_count(), 1u);

  auto& pub = connect(Version::V311, "pub");
  pub.send(make_publish("p/1", "one", 1, 1), T0);
  pub.send(make_publish("p/0", "qos0", 0), T0);  // QoS 0 is not kept offline
  pub.send(make_publish("p/2", "two", 1, 2), T0);
  pub.send(make_publish("p/3", "three", 1, 3), T0);

  auto& s2 = client(Version::V5, T0 + 1s);
  auto conn = make_connect(Version::V5, "persist", false);
  conn.properties.session_expiry_interval = 3600;
  s2.send(conn, T0 + 1s);
  auto out = s2.take();
  ASSERT_EQ(out.size(), 4u);
  auto* ack = at<pr::Connack>(out, 0);
  ASSERT_NE(ack, nullptr);
  EXPECT_TRUE(ack->session_present);
  std::vector<std::string> got;
  uint16_t last_id = 0;
  for (size_t i = 1; i < out.size(); ++i) {
    auto* p = at<pr::Publish>(out, i);
    ASSERT_NE(p, nullptr);
    got.push_back(p->payload);
    EXPECT_EQ(p->qos, 1);
    EXPECT_GT(p->packet_id, last_id);
    last_id = p->packet_id;
  }
  EXPECT_EQ(got, (std::vector<std::string>{"one", "two", "three"}));
}

TEST_F(HandlerTest, UnacknowledgedMessagesResentWithDupOnReconnect) {
  auto& s1 = connect(Version::V311, "resend", false);
  subscribe(s1, "r", 1);
  auto& pub = connect(Version::V311, "pub");
  pub.send(make_publish("r", "m", 1, 1), T0);
  s1.handler.on_wake(T0);
  auto out = s1.take();
  ASSERT_EQ(out.size(), 1u);
  uint16_t id = at<pr::Publish>(out, 0)->packet_id;
  s1.handler.on_closed(T0);  // no PUBACK
  auto& s2 = client(Version::V311);
  s2.send(make_connect(Version::V311, "resend", false), T0);
  out = s2.take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(at<pr::Connack>(out, 0)->session_present);
  auto* p = at<pr::Publish>(out, 1);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->dup);
  EXPECT_EQ(p->packet_id, id);
  EXPECT_EQ(p->payload, "m");
}

TEST_F(HandlerTest, CleanStartDiscardsSession) {
  auto& s1 = connect(Version::V5, "gone", true, 3600u);
  subscribe(s1, "g", 1);
  s1.handler.on_closed(T0);
  auto& pub = connect(Version::V311, "pub");
  pub.send(make_publish("g", "x", 1, 1), T0);
  auto& s2 = client(Version::V5);
  auto conn = make_connect(Version::V5, "gone", true);
  conn.properties.session_expiry_interval = 3600;
  s2.send(conn, T0);
  auto out = s2.take();
  ASSERT_EQ(out.size(), 1u) << "queued message of the discarded session was delivered";
  ASSERT_NE(at<pr::Connack>(out, 0), nullptr);
  EXPECT_FALSE(at<pr::Connack>(out, 0)->session_present);
}

TEST_F(HandlerTest, SessionExpiryZeroEndsSessionOnClose) {
  auto& s1 = connect(Version::V5, "brief");
  subscribe(s1, "b", 1);
  s1.handler.on_closed(T0);
  EXPECT_EQ(broker->session_count(), 0u);
  EXPECT_EQ(broker->topic_count(), 0u);
}

TEST_F(HandlerTest, MessageExpiryDropsQueuedMessages) {
  auto& s1 = connect(Version::V5, "exp", true, 3600u);
  subscribe(s1, "e/#", 1);
  s1.handler.on_closed(T0);
  auto& pub = connect(Version::V5, "pub");
  auto short_lived = make_publish("e/short", "short", 1, 1);
  short_lived.properties.message_expiry_interval = 10;
  auto long_lived = make_publish("e/long", "long", 1, 2);
  long_lived.properties.message_expiry_interval = 100;
  pub.send(short_lived, T0);
  pub.send(long_lived, T0);
  pub.send(make_publish("e/none", "none", 1, 3), T0);

  auto& s2 = client(Version::V5, T0 + 40s);
  auto conn = make_connect(Version::V5, "exp", false);
  conn.properties.session_expiry_interval = 3600;
  s2.send(conn, T0 + 40s);
  auto out = s2.take();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(at<pr::Connack>(out, 0)->session_present);
  auto* p1 = at<pr::Publish>(out, 1);
  auto* p2 = at<pr::Publish>(out, 2);
  ASSERT_NE(p1, nullptr);
  ASSERT_NE(p2, nullptr);
  EXPECT_EQ(p1->payload, "long");
  EXPECT_EQ(p1->properties.message_expiry_interval, 60u);  // remaining interval [MQTT-3.3.2-6]
  EXPECT_EQ(p2->payload, "none");
  EXPECT_FALSE(p2->properties.message_expiry_interval.has_value());
}

TEST_F(HandlerTest, OfflineSessionExpiresInHousekeeping) {
  auto& s1 = connect(Version::V5, "short", true, 30u);
  subscribe(s1, "s", 1);
  s1.handler.on_closed(T0);
  broker->housekeeping(T0 + 29s);
  EXPECT_EQ(broker->session_count(), 1u);
  broker->housekeeping(T0 + 31s);
  EXPECT_EQ(broker->session_count(), 0u);
  EXPECT_EQ(broker->topic_count(), 0u);
}

// ------------------------------------------------------------------ hold for unsubscribed topics

TEST_F(HandlerTest, HoldUnsubscribedDeliversOnceInOrder) {
  BrokerConfig cfg;
  cfg.hold_unsubscribed = {"jobs/#"};
  start(cfg);
  auto& pub = connect(Version::V5, "pub");
  pub.send(make_publish("jobs/1", "a", 1, 1), T0);
  pub.send(make_publish("jobs/2", "b", 1, 2), T0);
  pub.send(make_publish("jobs/1", "c", 1, 3), T0);
  pub.send(make_publish("free/x", "d", 1, 4), T0);  // not a hold topic
  auto acks = pub.take();
  ASSERT_EQ(acks.size(), 4u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(at<pr::Ack>(acks, i)->reason, Reason::Success) << i;
  EXPECT_EQ(at<pr::Ack>(acks, 3)->reason, Reason::NoMatchingSubscribers);
  EXPECT_EQ(broker->held_count(), 3u);

  auto& sub = connect(Version::V5, "worker");
  sub.send(make_subscribe(1, "jobs/#", 1), T0);
  auto out = sub.take();
  ASSERT_EQ(out.size(), 4u);
  ASSERT_NE(at<pr::Suback>(out, 0), nullptr);
  std::vector<std::string> got;
  for (size_t i = 1; i < out.size(); ++i) {
    auto* p = at<pr::Publish>(out, i);
    ASSERT_NE(p, nullptr);
    got.push_back(p->topic + "=" + p->payload);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"jobs/1=a", "jobs/2=b", "jobs/1=c"}));
  EXPECT_EQ(broker->held_count(), 0u);

  // Delivered once: a second subscriber gets nothing.
  auto& sub2 = connect(Version::V5, "worker2");
  sub2.send(make_subscribe(1, "jobs/#", 1), T0);
  EXPECT_EQ(sub2.take().size(), 1u);

  // With a subscriber present, new messages are routed, not held.
  pub.send(make_publish("jobs/3", "e", 1, 5), T0);
  EXPECT_EQ(broker->held_count(), 0u);
}

TEST_F(HandlerTest, HoldOnlyMatchingSubscriberTakesItsTopics) {
  BrokerConfig cfg;
  cfg.hold_unsubscribed = {"q/#"};
  start(cfg);
  auto& pub = connect(Version::V311, "pub");
  pub.send(make_publish("q/a", "a1", 1, 1), T0);
  pub.send(make_publish("q/b", "b1", 1, 2), T0);
  auto& sub = connect(Version::V311, "w");
  sub.send(make_subscribe(1, "q/b", 1), T0);
  auto out = sub.take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(at<pr::Publish>(out, 1)->payload, "b1");
  EXPECT_EQ(broker->held_count(), 1u);
}

// ------------------------------------------------------------------ delayed wills

pr::Connect delayed_will_connect(const std::string& id, uint32_t delay, uint32_t expiry) {
  auto c = connect_with_will(Version::V5, id);
  c.will->properties.will_delay_interval = delay;
  c.properties.session_expiry_interval = expiry;
  return c;
}

TEST_F(HandlerTest, WillDelayPublishesAfterDelay) {
  auto& sub = connect(Version::V5, "watcher");
  subscribe(sub, "will/#", 0);
  auto& c = client(Version::V5);
  c.send(delayed_will_connect("late", 10, 600), T0);
  c.take();
  c.handler.on_closed(T0);
  broker->housekeeping(T0 + 9s);
  sub.handler.on_wake(T0 + 9s);
  EXPECT_TRUE(sub.take().empty()) << "will sent before its delay";
  broker->housekeeping(T0 + 10s);
  sub.handler.on_wake(T0 + 10s);
  auto out = sub.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(at<pr::Publish>(out, 0)->topic, "will/late");
}

TEST_F(HandlerTest, WillDelayCancelledByReconnect) {
  auto& sub = connect(Version::V5, "watcher");
  subscribe(sub, "will/#", 0);
  auto& c = client(Version::V5);
  c.send(delayed_will_connect("back", 10, 600), T0);
  c.handler.on_closed(T0);
  connect(Version::V5, "back", false, 600u, T0 + 5s, /*expect_present=*/true);
  broker->housekeeping(T0 + 20s);
  sub.handler.on_wake(T0 + 20s);
  EXPECT_TRUE(sub.take().empty());
}

TEST_F(HandlerTest, WillDelayCappedBySessionExpiry) {
  auto& sub = connect(Version::V5, "watcher");
  subscribe(sub, "will/#", 0);
  auto& c = client(Version::V5);
  c.send(delayed_will_connect("capped", 100, 5), T0);
  c.handler.on_closed(T0);
  broker->housekeeping(T0 + 6s);  // session expired: will goes out with it
  EXPECT_EQ(broker->session_count(), 1u);  // the watcher only
  sub.handler.on_wake(T0 + 6s);
  auto out = sub.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(at<pr::Publish>(out, 0)->topic, "will/capped");
}

TEST_F(HandlerTest, DisconnectCannotSetExpiryAfterZero) {
  auto& c = connect(Version::V5, "zero");
  pr::Disconnect d;
  d.properties.session_expiry_interval = 60;
  c.send(d, T0);
  auto out = c.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(at<pr::Disconnect>(out, 0)->reason, Reason::ProtocolError);
}

TEST_F(HandlerTest, DisconnectSessionExpiryZeroEndsPersistentSession) {
  auto& c = connect(Version::V5, "ending", true, 600u);
  pr::Disconnect d;
  d.properties.session_expiry_interval = 0;
  c.send(d, T0);
  EXPECT_TRUE(c.take().empty());
  c.handler.on_closed(T0);
  EXPECT_EQ(broker->session_count(), 0u);
}

}  // namespace
}  // namespace musqratt::test
