// What a cluster keeps of a session and moves between nodes: the bucket record, the transfer
// form, and Session::absorb (an earlier state goes first, duplicates by tag dropped).
#include <gtest/gtest.h>

#include "broker/session.h"
#include "cluster/envelope.h"
#include "cluster/session_record.h"
#include "cluster/session_transfer.h"
#include "test_support.h"

namespace musqratt::cluster {
namespace {

protocol::SubscribeOptions opts(uint8_t qos, bool nl = false, bool rap = false, uint8_t rh = 0) {
  protocol::SubscribeOptions o;
  o.qos = qos;
  o.no_local = nl;
  o.retain_as_published = rap;
  o.retain_handling = rh;
  return o;
}

TEST(ClusterSessionRecord, RoundTrips) {
  SessionRecord r;
  r.node = "node-2";
  r.instance = 0xfeedface12345678ull;
  r.expiry = 3600;
  r.connected = false;
  r.disconnected_ms = 1700000000123;
  r.floor_ms = 1700000000000;
  r.subscriptions = {{"a/+/c", opts(1, true, true, 2), 7}, {"$share/g/x/#", opts(2), 0}, {"sp ace\n/x", opts(0), 268435455}};
  std::string text = encode_record(r);
  EXPECT_EQ(text.find('\n', text.size() - 1), std::string::npos);  // no trailing newline
  auto back = decode_record(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, r);
  EXPECT_EQ(record_key("c/1"), "s.632f31");
}

TEST(ClusterSessionRecord, RefusesWhatItCannotRead) {
  SessionRecord r;
  r.node = "a";
  std::string good = encode_record(r);
  EXPECT_TRUE(decode_record(good));
  EXPECT_FALSE(decode_record(""));  // an emptied record: no session
  EXPECT_FALSE(decode_record("musqratt-session 2\nnode a"));
  EXPECT_FALSE(decode_record("musqratt-session 1\nexpiry 1"));  // no node
  EXPECT_FALSE(decode_record(good + "\nexpiry -1"));
  EXPECT_FALSE(decode_record(good + "\nsub 64 0 61"));  // options out of range
  EXPECT_FALSE(decode_record(good + "\nsub 1 0 6"));   // odd hex
  EXPECT_FALSE(decode_record(good + "\nsub 1 0 "));    // empty filter
  EXPECT_TRUE(decode_record(good + "\nfuture something"));  // unknown keys are skipped
}

broker::MessagePtr msg(std::string topic, std::string payload, uint8_t qos, uint64_t origin = 0) {
  auto m = std::make_shared<broker::Message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->qos = qos;
  m->origin = origin;
  return m;
}

TEST(ClusterSessionTransfer, RoundTripsTheWholeState) {
  broker::RestoredSession s;
  s.client_id = "c";
  s.expiry = 120;
  s.disconnected_wall_ms = 1234;
  s.subscriptions = {{"a/#", {opts(1, false, true), 3}}, {"b", {opts(2), 0}}};
  uint64_t remote = remote_origin({9, 9});
  s.outbound.push_back({0, msg("a/1", "inflight", 1, 5), 1, false, {3}, broker::OutboundState::AwaitPuback, 7});
  s.outbound.push_back({0, nullptr, 2, false, {}, broker::OutboundState::AwaitPubcomp, 8});
  s.outbound.push_back({0, msg("b", "queued", 2, remote), 2, true, {}, broker::OutboundState::Queued, 0});
  s.incoming_qos2 = {4, 5};
  std::string blob;
  encode_transfer(blob, s, /*instance=*/42);
  auto back = decode_transfer({reinterpret_cast<const uint8_t*>(blob.data()), blob.size()}, "c");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->expiry, 120u);
  EXPECT_EQ(back->disconnected_wall_ms, std::optional<int64_t>(1234));
  EXPECT_EQ(back->subscriptions.size(), 2u);
  EXPECT_EQ(back->subscriptions[0].first, "a/#");
  EXPECT_TRUE(back->subscriptions[0].second.first.retain_as_published);
  EXPECT_EQ(back->subscriptions[0].second.second, 3u);
  ASSERT_EQ(back->outbound.size(), 3u);
  EXPECT_EQ(back->outbound[0].packet_id, 7);
  EXPECT_EQ(back->outbound[0].state, broker::OutboundState::AwaitPuback);
  EXPECT_EQ(back->outbound[0].msg->payload, "inflight");
  // A message published on the sending node gets the tag other nodes give it.
  EXPECT_EQ(back->outbound[0].msg->origin, remote_origin({42, s.outbound[0].msg->id}));
  EXPECT_FALSE(back->outbound[1].msg);
  EXPECT_EQ(back->outbound[2].msg->origin, remote);  // one from another node keeps its tag
  EXPECT_TRUE(back->outbound[2].retain);
  EXPECT_EQ(back->incoming_qos2, (std::vector<uint16_t>{4, 5}));
  // Truncated or altered forms are refused.
  for (size_t cut = 0; cut < blob.size(); cut += 7)
    EXPECT_FALSE(decode_transfer({reinterpret_cast<const uint8_t*>(blob.data()), cut}, "c")) << cut;
}

TEST(ClusterSessionAbsorb, EarlierStateGoesFirstWithoutDuplicates) {
  broker::Session s("c", 1, protocol::Version::V5, broker::QueueLimits{});
  test::RecordingWaker waker;
  s.attach(broker::Link{&waker, 1}, protocol::Version::V5);
  auto tag = [](const broker::Message& m) { return message_tag(m, 77); };
  // Queued here meanwhile: one the earlier state also holds (same tag), one it does not.
  auto both = msg("t", "both", 1, remote_origin({1, 1}));
  auto only_here = msg("t", "new", 1, remote_origin({1, 2}));
  broker::Link wake;
  s.deliver(broker::Outbound{both, 1, false, {}, nullptr, 0}, wake);
  s.deliver(broker::Outbound{only_here, 1, false, {}, nullptr, 0}, wake);
  broker::RestoredSession earlier;
  earlier.client_id = "c";
  earlier.expiry = 60;
  earlier.subscriptions = {{"t", {opts(1), 0}}, {"u", {opts(0), 0}}};
  earlier.outbound.push_back({0, msg("t", "inflight", 1, remote_origin({1, 0})), 1, false, {}, broker::OutboundState::AwaitPuback, 9});
  earlier.outbound.push_back({0, msg("t", "both", 1, remote_origin({1, 1})), 1, false, {}, broker::OutboundState::Queued, 0});
  earlier.incoming_qos2 = {3};
  s.add_subscription("t", broker::SubscriptionRecord{opts(1), 0});
  auto added = s.absorb(earlier, tag);
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0].first, "u");
  EXPECT_EQ(s.expiry_interval(), 60u);
  EXPECT_TRUE(s.incoming_qos2_seen(3));
  std::vector<broker::Sendable> out;
  s.resend_inflight(1, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].packet_id, 9);
  EXPECT_TRUE(out[0].dup);
  out.clear();
  s.take_sendable(1, out, 10, 10, util::now());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].out.msg->payload, "both");
  EXPECT_EQ(out[1].out.msg->payload, "new");
  EXPECT_NE(out[0].packet_id, 9);  // the in-flight id stays reserved
  EXPECT_NE(out[1].packet_id, 9);
}

}  // namespace
}  // namespace musqratt::cluster
