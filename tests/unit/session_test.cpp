// Session: queueing, the send window, packet ids, QoS 1/2 outgoing flows, resend after
// reconnect, queue limits, ownership and expiry.
#include "broker/session.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace musqratt::broker {
namespace {

using protocol::Version;
using test::RecordingWaker;
using namespace std::chrono_literals;

const util::TimePoint T0 = util::TimePoint{} + 1000h;

MessagePtr msg(std::string topic, std::string payload, uint8_t qos = 1,
               std::optional<util::TimePoint> expires = std::nullopt) {
  auto m = std::make_shared<Message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->qos = qos;
  m->expires_at = expires;
  return m;
}

Outbound ob(MessagePtr m, uint8_t qos) {
  Outbound o;
  o.msg = std::move(m);
  o.qos = qos;
  return o;
}

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() { session.attach(Link{&waker, kToken}, Version::V5); }

  Session::DeliverResult put(const std::string& payload, uint8_t qos = 1) {
    Link wake;
    return session.deliver(ob(msg("t", payload, qos), qos), wake);
  }
  std::vector<Sendable> take(size_t window = 100, size_t max = 100, util::TimePoint now = T0) {
    std::vector<Sendable> out;
    session.take_sendable(kToken, out, window, max, now);
    return out;
  }

  static constexpr uint64_t kToken = 7;
  RecordingWaker waker;
  Session session{"client", 1, Version::V5, QueueLimits{}};
};

TEST_F(SessionTest, DeliverWakesOnceUntilTaken) {
  Link wake;
  EXPECT_EQ(session.deliver(ob(msg("t", "1"), 1), wake), Session::DeliverResult::QueuedWake);
  EXPECT_EQ(wake.token, kToken);
  EXPECT_EQ(wake.waker, &waker);
  Link wake2;
  EXPECT_EQ(session.deliver(ob(msg("t", "2"), 1), wake2), Session::DeliverResult::Queued);
  EXPECT_FALSE(wake2);
  EXPECT_EQ(session.queued_count(), 2u);
  EXPECT_EQ(take().size(), 2u);
  EXPECT_EQ(put("3"), Session::DeliverResult::QueuedWake);
}

TEST_F(SessionTest, TakeSendableRespectsWindowAndAssignsIds) {
  for (int i = 0; i < 5; ++i) put(std::to_string(i));
  auto first = take(2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].packet_id, 1);
  EXPECT_EQ(first[1].packet_id, 2);
  EXPECT_EQ(first[0].out.msg->payload, "0");
  EXPECT_EQ(first[1].out.msg->payload, "1");
  EXPECT_EQ(first[0].kind, Sendable::Kind::Publish);
  EXPECT_FALSE(first[0].dup);
  EXPECT_EQ(session.inflight_count(), 2u);
  EXPECT_EQ(session.queued_count(), 3u);
  EXPECT_TRUE(take(2).empty());  // window full
  EXPECT_TRUE(session.on_puback(1));
  auto next = take(2);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].packet_id, 3);
  EXPECT_EQ(next[0].out.msg->payload, "2");
}

TEST_F(SessionTest, MaxCountLimitsOneTake) {
  for (int i = 0; i < 5; ++i) put(std::to_string(i), 0);
  EXPECT_EQ(take(100, 3).size(), 3u);
  EXPECT_EQ(session.queued_count(), 2u);
  auto rest = take(100, 3);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[1].out.msg->payload, "4");
}

TEST_F(SessionTest, Qos0IgnoresWindowAndHasNoPacketId) {
  put("a", 0);
  put("b", 0);
  auto out = take(0);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].packet_id, 0);
  EXPECT_EQ(session.inflight_count(), 0u);
}

TEST_F(SessionTest, Qos0BehindBlockedQos1KeepsOrder) {
  put("q1", 1);
  put("q0", 0);
  EXPECT_TRUE(take(0).empty());
  EXPECT_EQ(session.queued_count(), 2u);
  auto out = take(1);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].out.msg->payload, "q1");
  EXPECT_EQ(out[1].out.msg->payload, "q0");
}

TEST_F(SessionTest, PacketIdsWrapAndSkipIdsInUse) {
  put("held");
  auto first = take();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].packet_id, 1);  // stays in flight throughout
  for (uint32_t expected = 2; expected <= 65535; ++expected) {
    put("x");
    auto s = take();
    ASSERT_EQ(s.size(), 1u);
    ASSERT_EQ(s[0].packet_id, expected);
    ASSERT_TRUE(session.on_puback(s[0].packet_id));
  }
  put("wrapped");
  auto w = take();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].packet_id, 2);  // 0 is never used and 1 is still in flight
  EXPECT_TRUE(session.on_puback(1));
  EXPECT_TRUE(session.on_puback(2));
  put("again");
  EXPECT_EQ(take()[0].packet_id, 3);
}

TEST_F(SessionTest, PubackFlow) {
  put("a");
  auto s = take();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_FALSE(session.on_puback(99));
  EXPECT_FALSE(session.on_pubcomp(s[0].packet_id));  // wrong kind of acknowledgement
  EXPECT_FALSE(session.on_pubrec(s[0].packet_id, false));
  EXPECT_TRUE(session.on_puback(s[0].packet_id));
  EXPECT_FALSE(session.on_puback(s[0].packet_id));
  EXPECT_EQ(session.inflight_count(), 0u);
}

TEST_F(SessionTest, Qos2Flow) {
  put("a", 2);
  auto s = take();
  ASSERT_EQ(s.size(), 1u);
  uint16_t id = s[0].packet_id;
  EXPECT_FALSE(session.on_puback(id));
  EXPECT_FALSE(session.on_pubcomp(id));  // PUBREC first
  EXPECT_TRUE(session.on_pubrec(id, false));
  EXPECT_EQ(session.inflight_count(), 1u);
  EXPECT_TRUE(session.on_pubrec(id, false));  // duplicate PUBREC: still in PUBREL state
  EXPECT_TRUE(session.on_pubcomp(id));
  EXPECT_EQ(session.inflight_count(), 0u);
  EXPECT_FALSE(session.on_pubcomp(id));
}

TEST_F(SessionTest, Qos2PubrecErrorEndsExchange) {
  put("a", 2);
  auto s = take();
  EXPECT_TRUE(session.on_pubrec(s[0].packet_id, true));
  EXPECT_EQ(session.inflight_count(), 0u);
  EXPECT_FALSE(session.on_pubcomp(s[0].packet_id));
}

TEST_F(SessionTest, ResendInflightWithDupAndPubrel) {
  put("one", 1);
  put("two", 2);
  put("three", 1);
  auto s = take();
  ASSERT_EQ(s.size(), 3u);
  ASSERT_TRUE(session.on_pubrec(s[1].packet_id, false));
  ASSERT_TRUE(session.on_puback(s[2].packet_id));
  // Reconnect with a new token.
  ASSERT_TRUE(session.detach(kToken, T0));
  std::vector<Sendable> none;
  session.resend_inflight(kToken, none);
  EXPECT_TRUE(none.empty());
  session.attach(Link{&waker, 8}, Version::V5);
  std::vector<Sendable> old_owner;
  session.resend_inflight(kToken, old_owner);
  EXPECT_TRUE(old_owner.empty());
  std::vector<Sendable> r;
  session.resend_inflight(8, r);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].kind, Sendable::Kind::Publish);
  EXPECT_TRUE(r[0].dup);
  EXPECT_EQ(r[0].packet_id, s[0].packet_id);
  EXPECT_EQ(r[0].out.msg->payload, "one");
  EXPECT_EQ(r[0].out.qos, 1);
  EXPECT_EQ(r[1].kind, Sendable::Kind::Pubrel);
  EXPECT_EQ(r[1].packet_id, s[1].packet_id);
  EXPECT_FALSE(r[1].dup);
}

TEST_F(SessionTest, ResendInflightQos2BeforePubrecIsPublishWithDup) {
  put("q2", 2);
  auto s = take();
  session.attach(Link{&waker, 9}, Version::V5);
  std::vector<Sendable> r;
  session.resend_inflight(9, r);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].kind, Sendable::Kind::Publish);
  EXPECT_TRUE(r[0].dup);
  EXPECT_EQ(r[0].out.qos, 2);
}

TEST_F(SessionTest, TakeSendableIgnoresNonOwner) {
  put("a");
  std::vector<Sendable> out;
  session.take_sendable(kToken + 1, out, 100, 100, T0);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(session.queued_count(), 1u);
}

TEST(SessionLimits, MaxMessagesDropsNew) {
  RecordingWaker w;
  Session s("c", 1, Version::V5, QueueLimits{.max_messages = 2});
  s.attach(Link{&w, 1}, Version::V5);
  Link l;
  EXPECT_NE(s.deliver(ob(msg("t", "1"), 1), l), Session::DeliverResult::Dropped);
  EXPECT_NE(s.deliver(ob(msg("t", "2"), 1), l), Session::DeliverResult::Dropped);
  EXPECT_EQ(s.deliver(ob(msg("t", "3"), 1), l), Session::DeliverResult::Dropped);
  EXPECT_EQ(s.queued_count(), 2u);
  std::vector<Sendable> out;
  s.take_sendable(1, out, 100, 100, T0);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].out.msg->payload, "1");  // oldest kept, newest dropped
  EXPECT_EQ(out[1].out.msg->payload, "2");
  EXPECT_NE(s.deliver(ob(msg("t", "4"), 1), l), Session::DeliverResult::Dropped);  // room again
}

TEST(SessionLimits, MaxBytesDropsNew) {
  RecordingWaker w;
  Session s("c", 1, Version::V5, QueueLimits{.max_bytes = 10});
  s.attach(Link{&w, 1}, Version::V5);
  Link l;
  EXPECT_NE(s.deliver(ob(msg("t", "123456"), 1), l), Session::DeliverResult::Dropped);
  EXPECT_EQ(s.deliver(ob(msg("t", "12345"), 1), l), Session::DeliverResult::Dropped);  // 11 > 10
  EXPECT_NE(s.deliver(ob(msg("t", "1234"), 1), l), Session::DeliverResult::Dropped);   // exactly 10
  EXPECT_EQ(s.queued_count(), 2u);
  std::vector<Sendable> out;
  s.take_sendable(1, out, 100, 100, T0);
  EXPECT_EQ(out.size(), 2u);
  // Bytes were released by taking.
  EXPECT_NE(s.deliver(ob(msg("t", "1234567890"), 1), l), Session::DeliverResult::Dropped);
}

TEST(SessionOffline, Qos0NotKeptOffline) {
  RecordingWaker w;
  Session s("c", 1, Version::V5, QueueLimits{});
  Link l;
  // Never attached: offline. Not kept, and not a drop of a full queue either.
  EXPECT_EQ(s.deliver(ob(msg("t", "q0", 0), 0), l), Session::DeliverResult::NotQueued);
  EXPECT_EQ(s.dropped_count(), 0u);
  EXPECT_EQ(s.deliver(ob(msg("t", "q1", 1), 1), l), Session::DeliverResult::Queued);
  EXPECT_FALSE(l);
  // Online QoS 0 queued, then dropped on detach; QoS 1 stays.
  s.attach(Link{&w, 1}, Version::V5);
  EXPECT_NE(s.deliver(ob(msg("t", "q0-online", 0), 0), l), Session::DeliverResult::Dropped);
  EXPECT_EQ(s.queued_count(), 2u);
  ASSERT_TRUE(s.detach(1, T0));
  EXPECT_EQ(s.queued_count(), 1u);
  s.attach(Link{&w, 2}, Version::V5);
  std::vector<Sendable> out;
  s.take_sendable(2, out, 100, 100, T0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].out.msg->payload, "q1");
}

TEST(SessionOffline, Qos0KeptWhenConfigured) {
  Session s("c", 1, Version::V5, QueueLimits{.queue_qos0_offline = true});
  Link l;
  EXPECT_EQ(s.deliver(ob(msg("t", "q0", 0), 0), l), Session::DeliverResult::Queued);
  EXPECT_EQ(s.queued_count(), 1u);
}

TEST_F(SessionTest, ExpiredMessagesDroppedWhenTaken) {
  Link l;
  session.deliver(ob(msg("t", "short", 1, T0 + 5s), 1), l);
  session.deliver(ob(msg("t", "long", 1, T0 + 60s), 1), l);
  session.deliver(ob(msg("t", "none", 1), 1), l);
  auto out = take(100, 100, T0 + 10s);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].out.msg->payload, "long");
  EXPECT_EQ(out[0].packet_id, 1);  // the expired one took no id
  EXPECT_EQ(out[1].out.msg->payload, "none");
  EXPECT_EQ(session.queued_count(), 0u);
}

TEST(MessageExpiry, RemainingRoundsUp) {
  Message m;
  EXPECT_FALSE(m.remaining_expiry(T0).has_value());
  EXPECT_FALSE(m.expired(T0));
  m.expires_at = T0 + 10s;
  EXPECT_EQ(m.remaining_expiry(T0), 10u);
  EXPECT_EQ(m.remaining_expiry(T0 + 1500ms), 9u);
  EXPECT_EQ(m.remaining_expiry(T0 + 9999ms), 1u);
  EXPECT_EQ(m.remaining_expiry(T0 + 10s), 0u);
  EXPECT_FALSE(m.expired(T0 + 9s));
  EXPECT_TRUE(m.expired(T0 + 10s));
}

TEST_F(SessionTest, OwnershipDetachAndRevoke) {
  EXPECT_TRUE(session.online());
  EXPECT_TRUE(session.is_owner(kToken));
  EXPECT_FALSE(session.is_owner(kToken + 1));
  EXPECT_FALSE(session.detach(kToken + 1, T0));  // not the owner
  EXPECT_TRUE(session.online());
  EXPECT_TRUE(session.detach(kToken, T0));
  EXPECT_FALSE(session.online());
  EXPECT_FALSE(session.is_owner(kToken));
  EXPECT_FALSE(session.detach(kToken, T0));

  session.attach(Link{&waker, 20}, Version::V311);
  EXPECT_TRUE(session.is_owner(20));
  EXPECT_EQ(session.link().token, 20u);
  Link old = session.revoke();
  EXPECT_EQ(old.token, 20u);
  EXPECT_EQ(old.waker, &waker);
  EXPECT_TRUE(session.revoked());
  EXPECT_FALSE(session.is_owner(20));
  EXPECT_FALSE(session.online());
  Link l;
  EXPECT_EQ(session.deliver(ob(msg("t", "x"), 1), l), Session::DeliverResult::NotQueued);
}

TEST_F(SessionTest, ExpiresAt) {
  session.set_expiry_interval(60);
  EXPECT_EQ(session.expiry_interval(), 60u);
  EXPECT_FALSE(session.expires_at().has_value());  // online
  ASSERT_TRUE(session.detach(kToken, T0));
  ASSERT_TRUE(session.expires_at().has_value());
  EXPECT_EQ(*session.expires_at(), T0 + 60s);
  session.set_expiry_interval(0);
  EXPECT_EQ(*session.expires_at(), T0);
  session.set_expiry_interval(0xFFFFFFFF);  // never
  EXPECT_FALSE(session.expires_at().has_value());
  session.set_expiry_interval(10);
  session.attach(Link{&waker, 1}, Version::V5);
  EXPECT_FALSE(session.expires_at().has_value());

  Session never_attached("x", 2, Version::V5, QueueLimits{});
  never_attached.set_expiry_interval(5);
  EXPECT_FALSE(never_attached.expires_at().has_value());
}

TEST_F(SessionTest, IncomingQos2Tracking) {
  EXPECT_FALSE(session.incoming_qos2_seen(5));
  session.incoming_qos2_add(5);
  session.incoming_qos2_add(6);
  session.incoming_qos2_add(5);
  EXPECT_TRUE(session.incoming_qos2_seen(5));
  EXPECT_EQ(session.incoming_qos2_count(), 2u);
  EXPECT_TRUE(session.incoming_qos2_release(5));
  EXPECT_FALSE(session.incoming_qos2_release(5));
  EXPECT_FALSE(session.incoming_qos2_seen(5));
  EXPECT_EQ(session.incoming_qos2_count(), 1u);
}

TEST_F(SessionTest, Subscriptions) {
  EXPECT_TRUE(session.add_subscription("b/#", SubscriptionRecord{{1}, 3}));
  EXPECT_TRUE(session.add_subscription("a", SubscriptionRecord{{0}, 0}));
  EXPECT_FALSE(session.add_subscription("a", SubscriptionRecord{{2}, 0}));
  EXPECT_EQ(session.subscription_count(), 2u);
  EXPECT_EQ(session.subscription_filters(), (std::vector<std::string>{"a", "b/#"}));
  EXPECT_TRUE(session.remove_subscription("a"));
  EXPECT_FALSE(session.remove_subscription("a"));
  EXPECT_EQ(session.subscription_count(), 1u);
}

TEST_F(SessionTest, DrainAllReturnsInflightThenQueued) {
  put("inflight", 1);
  put("released", 2);
  take();
  ASSERT_TRUE(session.on_pubrec(2, false));  // payload dropped: not handed on
  put("queued", 1);
  auto all = session.drain_all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].msg->payload, "inflight");
  EXPECT_EQ(all[1].msg->payload, "queued");
  EXPECT_EQ(session.queued_count(), 0u);
  EXPECT_EQ(session.inflight_count(), 0u);
}

TEST_F(SessionTest, DropInflight) {
  put("a");
  auto s = take();
  session.drop_inflight(s[0].packet_id);
  EXPECT_EQ(session.inflight_count(), 0u);
  EXPECT_FALSE(session.on_puback(s[0].packet_id));
}

}  // namespace
}  // namespace musqratt::broker
