// The Broker's side of a cluster, driven through real SessionDrivers with a recording
// ClusterLink: which hooks fire when, what a cluster changes in local routing, and the methods
// a link calls back (route_remote, route_shared, hand_over, prepare_adoption + absorb).
#include <gtest/gtest.h>

#include "broker/broker.h"
#include "broker/session.h"
#include "test_support.h"

namespace musqratt::test {
namespace {

using pr::PacketType;

struct RecordingLink : broker::ClusterLink {
  struct Published {
    std::string topic;
    bool hold;
  };
  std::vector<Published> published_msgs;
  std::vector<std::string> subs, unsubs, ended_ids;
  std::vector<std::pair<std::string, bool>> connects;
  int disconnects = 0;
  bool defer_resume = false;
  std::vector<std::pair<std::string, broker::Link>> resumes;
  uint64_t next = 0;

  uint64_t published(const broker::MessagePtr& m, bool hold) override {
    published_msgs.push_back({m->topic, hold});
    return m->qos ? ++next : 0;
  }
  uint64_t acked_upto = UINT64_MAX;  // what "JetStream" acknowledged; everything unless a test says
  std::vector<std::pair<uint64_t, broker::Link>> ack_waiters;
  uint64_t acked() const override { return acked_upto; }
  void notify_when_acked(uint64_t seq, broker::Link l) override { ack_waiters.emplace_back(seq, l); }
  void subscribed(const std::shared_ptr<broker::Session>&, const std::string& f, const broker::SubscriptionRecord&) override {
    subs.push_back(f);
  }
  void unsubscribed(const broker::Session&, const std::string& f) override { unsubs.push_back(f); }
  bool resume(const std::string& id, broker::Link waiter) override {
    if (!defer_resume) return false;
    resumes.emplace_back(id, waiter);
    return true;
  }
  void connected(const std::shared_ptr<broker::Session>& s, bool clean) override { connects.emplace_back(s->client_id(), clean); }
  void disconnected(const std::shared_ptr<broker::Session>&) override { ++disconnects; }
  void ended(const std::string& id) override { ended_ids.push_back(id); }
  void sys_values(std::vector<std::pair<std::string, std::string>>& out) override {
    out.emplace_back("$SYS/broker/cluster/node", "test");
  }
};

class ClusterHooks : public ::testing::Test {
 protected:
  ClusterHooks() : broker(config()) { broker.attach_cluster(&link); }
  static broker::BrokerConfig config() {
    broker::BrokerConfig c;
    c.hold_unsubscribed = {"hold/#"};
    c.sys_interval = 1;
    return c;
  }
  std::unique_ptr<TestClient> connect(const std::string& id, bool clean = true, uint32_t expiry = 0) {
    auto c = std::make_unique<TestClient>(broker, waker, ++token, pr::Version::V5, now);
    auto conn = make_connect(pr::Version::V5, id, clean);
    if (expiry) conn.properties.session_expiry_interval = expiry;
    c->send(conn, now);
    return c;
  }
  RecordingLink link;
  broker::Broker broker;
  RecordingWaker waker;
  uint64_t token = 0;
  util::TimePoint now = util::now();
};

TEST_F(ClusterHooks, PublishGoesToTheLinkAfterLocalRoutingWithTheHoldFlag) {
  auto sub = connect("sub");
  sub->send(make_subscribe(1, "a/+", 1), now);
  sub->take();
  auto pub = connect("pub");
  pub->send(make_publish("a/b", "x", 1, 7), now);
  pub->send(make_publish("hold/t", "nobody here", 0), now);
  pub->send(make_publish("other", "nobody here either", 0), now);
  ASSERT_EQ(link.published_msgs.size(), 3u);
  EXPECT_EQ(link.published_msgs[0].topic, "a/b");
  EXPECT_FALSE(link.published_msgs[0].hold);
  EXPECT_TRUE(link.published_msgs[1].hold);   // a hold filter, no receiver on this node
  EXPECT_FALSE(link.published_msgs[2].hold);  // no hold filter
  EXPECT_EQ(broker.held_count(), 0u);         // never held locally: the cluster decides
  // The local subscriber got it once, and the 5.0 PUBACK does not claim "no subscribers".
  sub->handler.on_wake(now);
  auto got = sub->take();
  ASSERT_EQ(got.size(), 1u);
  auto acks = pub->take();
  ASSERT_FALSE(acks.empty());
  EXPECT_EQ(as<pr::Ack>(acks.back())->reason, pr::Reason::Success);
}

TEST_F(ClusterHooks, PubackWaitsUntilTheClusterHoldsTheMessage) {
  link.acked_upto = 0;
  auto pub = connect("pub");
  pub->take();  // CONNACK
  pub->send(make_publish("q/t", "held by the cluster first", 1, 7), now);
  pub->send(make_publish("q/t", "and this one", 1, 8), now);
  EXPECT_TRUE(pub->take().empty()) << "no PUBACK before JetStream acknowledged";
  ASSERT_EQ(link.ack_waiters.size(), 2u);
  EXPECT_EQ(link.ack_waiters[0].first, 1u);
  link.acked_upto = 1;  // the first is stored: its PUBACK goes, the second still waits
  pub->handler.on_wake(now);
  auto acks = pub->take();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(as<pr::Ack>(acks[0])->packet_id, 7);
  link.acked_upto = 2;
  pub->handler.on_wake(now);
  acks = pub->take();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(as<pr::Ack>(acks[0])->packet_id, 8);
}

TEST_F(ClusterHooks, PublishResultCarriesWhatToWaitFor) {
  auto m = std::make_shared<broker::Message>();
  m->topic = "t";
  m->qos = 1;
  broker::RouteResult r = broker.publish(m, now);
  EXPECT_EQ(r.cluster_seq, 1u);
  EXPECT_TRUE(r.remote);
  auto m0 = std::make_shared<broker::Message>();
  m0->topic = "t";
  EXPECT_EQ(broker.publish(m0, now).cluster_seq, 0u);
}

TEST_F(ClusterHooks, InterestIsTheFirstSubscriptionAndTheLast) {
  auto a = connect("a");
  a->send(make_subscribe(1, "x/#", 1), now);
  a->send(make_subscribe(2, "x/#", 2), now);  // replaces: not new
  EXPECT_EQ(link.subs, std::vector<std::string>{"x/#"});
  pr::Unsubscribe u;
  u.packet_id = 3;
  u.filters = {"x/#"};
  a->send(u, now);
  EXPECT_EQ(link.unsubs, std::vector<std::string>{"x/#"});
  a->send(make_subscribe(4, "y", 0), now);
  pr::Disconnect d;
  a->send(d, now);  // expiry 0: the session ends, its subscription goes
  EXPECT_EQ(link.unsubs, (std::vector<std::string>{"x/#", "y"}));
  EXPECT_EQ(link.ended_ids, std::vector<std::string>{"a"});
}

TEST_F(ClusterHooks, SharedGroupsAreServedThroughTheCluster) {
  auto member = connect("m");
  member->send(make_subscribe(1, "$share/g/s", 1), now);
  member->take();
  auto pub = connect("p");
  pub->send(make_publish("s", "one", 1, 1), now);
  EXPECT_TRUE(member->take().empty());  // not picked locally: one member cluster-wide
  auto m = std::make_shared<broker::Message>();
  m->topic = "s";
  m->payload = "picked";
  m->qos = 1;
  EXPECT_TRUE(broker.route_shared("$share/g/s", m));
  member->handler.on_wake(now);
  auto got = member->take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(as<pr::Publish>(got[0])->payload, "picked");
  EXPECT_FALSE(broker.route_shared("$share/other/s", m));
}

TEST_F(ClusterHooks, RemoteMessagesReachPlainSubscriptionsAndNeverTheLink) {
  auto sub = connect("sub");
  sub->send(make_subscribe(1, "r/#", 1), now);
  sub->take();
  size_t before = link.published_msgs.size();
  auto m = std::make_shared<broker::Message>();
  m->topic = "r/1";
  m->payload = "from afar";
  m->qos = 1;
  m->origin = uint64_t{1} << 63 | 5;
  EXPECT_EQ(broker.route_remote(m), 1u);
  EXPECT_EQ(link.published_msgs.size(), before);
  sub->handler.on_wake(now);
  EXPECT_EQ(sub->take().size(), 1u);
}

TEST_F(ClusterHooks, ResumeWaitsForTheLinkThenConnects) {
  link.defer_resume = true;
  auto c = connect("moving", false, 60);
  EXPECT_TRUE(c->take().empty());  // CONNECT parked
  ASSERT_EQ(link.resumes.size(), 1u);
  EXPECT_EQ(link.resumes[0].first, "moving");
  // The link found the session elsewhere and brought it here.
  broker::SubscriptionRecord rec{pr::SubscribeOptions{1}, 0};
  broker.prepare_adoption("moving", 60, {{"m/t", rec}}, now);
  broker::RestoredSession earlier;
  earlier.client_id = "moving";
  earlier.expiry = 60;
  auto queued = std::make_shared<broker::Message>();
  queued->topic = "m/t";
  queued->payload = "was queued over there";
  queued->qos = 1;
  earlier.outbound.push_back({0, queued, 1, false, {}, broker::OutboundState::Queued, 0});
  EXPECT_TRUE(broker.absorb("moving", earlier, [](const broker::Message& m) { return m.id; }));
  broker.resume_locally("moving", link.resumes[0].second);
  ASSERT_TRUE(waker.woke(token));
  c->handler.on_wake(now);  // the parked CONNECT goes on
  c->handler.on_output_drained(now);
  auto out = c->take();
  ASSERT_GE(out.size(), 2u);
  EXPECT_TRUE(as<pr::Connack>(out[0])->session_present);
  EXPECT_EQ(as<pr::Publish>(out[1])->payload, "was queued over there");
  EXPECT_EQ(link.connects.back(), std::make_pair(std::string("moving"), false));
  EXPECT_EQ(link.subs, std::vector<std::string>{"m/t"});
}

TEST_F(ClusterHooks, HandOverLetsTheConnectionGoThenGivesTheState) {
  auto c = connect("h", false, 60);
  c->send(make_subscribe(1, "h/t", 1), now);
  c->take();
  auto m = std::make_shared<broker::Message>();
  m->topic = "h/t";
  m->payload = "queued here";
  m->qos = 1;
  broker.route_remote(m);
  RecordingWaker handover;
  bool waiting = false;
  auto none = broker.hand_over("h", true, broker::Link{&handover, 99}, &waiting);
  EXPECT_FALSE(none);
  EXPECT_TRUE(waiting);
  c->handler.on_wake(now);  // told to go: 5.0 DISCONNECT 0x8E
  auto out = c->take();
  bool got_0x8e = false;
  for (const auto& p : out)
    if (auto d = as<pr::Disconnect>(p)) got_0x8e = d->reason == pr::Reason::SessionTakenOver;
  EXPECT_TRUE(got_0x8e);
  EXPECT_TRUE(handover.woke(99));
  auto state = broker.hand_over("h", true, broker::Link{&handover, 99}, &waiting);
  ASSERT_TRUE(state);
  EXPECT_FALSE(waiting);
  EXPECT_EQ(state->subscriptions.size(), 1u);
  ASSERT_EQ(state->outbound.size(), 1u);  // in flight to the old connection, unacknowledged
  EXPECT_EQ(state->outbound[0].msg->payload, "queued here");
  EXPECT_FALSE(broker.session("h"));
  EXPECT_EQ(link.unsubs, std::vector<std::string>{"h/t"});
  EXPECT_TRUE(link.ended_ids.empty());  // moved, not ended
}

TEST_F(ClusterHooks, SysShowsTheLinksValues) {
  auto c = connect("sys");
  c->send(make_subscribe(1, "$SYS/broker/cluster/#", 0), now);
  c->take();
  broker.housekeeping(now + util::Seconds(2));
  c->handler.on_wake(now);
  auto out = c->take();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(as<pr::Publish>(out[0])->topic, "$SYS/broker/cluster/node");
}

}  // namespace
}  // namespace musqratt::test
