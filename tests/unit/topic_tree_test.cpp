// The subscription index: subscribe/unsubscribe, node pruning, wildcard matching, shared groups.
#include "broker/topic_tree.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "broker/session.h"

namespace musqratt::broker {
namespace {

using protocol::SubscribeOptions;
using protocol::Version;

SessionPtr make_session(const std::string& id, uint64_t n) {
  return std::make_shared<Session>(id, n, Version::V5, QueueLimits{});
}

Subscriber sub(const SessionPtr& s, uint8_t qos = 0, uint32_t sid = 0) {
  return Subscriber{s, SubscribeOptions{qos}, sid};
}

/// Client ids of the matches for `topic`, sorted.
std::vector<std::string> matches(const TopicTree& t, std::string_view topic) {
  std::vector<Match> out;
  t.collect_matches(topic, out, nullptr);
  std::vector<std::string> ids;
  for (const auto& m : out) ids.push_back(m.sub.session->client_id());
  std::sort(ids.begin(), ids.end());
  return ids;
}

using Ids = std::vector<std::string>;

class TopicTreeTest : public ::testing::Test {
 protected:
  TopicTree tree;
  SessionPtr a = make_session("a", 1);
  SessionPtr b = make_session("b", 2);
  SessionPtr c = make_session("c", 3);
};

TEST_F(TopicTreeTest, SubscribeAndUnsubscribe) {
  EXPECT_EQ(tree.node_count(), 0u);
  EXPECT_TRUE(tree.subscribe("a/b/c", sub(a)));
  EXPECT_EQ(tree.node_count(), 3u);
  EXPECT_EQ(tree.subscription_count(), 1u);
  EXPECT_FALSE(tree.subscribe("a/b/c", sub(a, 2)));  // replaced, not new
  EXPECT_EQ(tree.subscription_count(), 1u);
  EXPECT_TRUE(tree.subscribe("a/b/c", sub(b)));
  EXPECT_EQ(tree.subscription_count(), 2u);
  EXPECT_TRUE(tree.subscribe("a/b", sub(a)));
  EXPECT_EQ(tree.node_count(), 3u);
  EXPECT_EQ(matches(tree, "a/b/c"), (Ids{"a", "b"}));
  EXPECT_EQ(matches(tree, "a/b"), (Ids{"a"}));
  EXPECT_TRUE(tree.has_subscribers("a/b"));
  EXPECT_FALSE(tree.has_subscribers("a"));

  // Replacement keeps the new options.
  std::vector<Match> out;
  tree.collect_matches("a/b/c", out, nullptr);
  for (const auto& m : out) {
    if (m.sub.session == a) {
      EXPECT_EQ(m.sub.options.qos, 2);
    }
  }

  EXPECT_TRUE(tree.unsubscribe("a/b/c", a.get()));
  EXPECT_FALSE(tree.unsubscribe("a/b/c", a.get()));
  EXPECT_FALSE(tree.unsubscribe("x/y", a.get()));
  EXPECT_EQ(matches(tree, "a/b/c"), (Ids{"b"}));
  EXPECT_EQ(tree.subscription_count(), 2u);
  EXPECT_TRUE(tree.unsubscribe("a/b/c", b.get()));
  EXPECT_EQ(tree.node_count(), 2u);  // "a/b" still subscribed
  EXPECT_TRUE(tree.unsubscribe("a/b", a.get()));
  EXPECT_EQ(tree.node_count(), 0u);
  EXPECT_EQ(tree.subscription_count(), 0u);
  EXPECT_TRUE(matches(tree, "a/b").empty());
}

TEST_F(TopicTreeTest, UnsubscribeOfOtherSessionKeepsNode) {
  tree.subscribe("x", sub(a));
  EXPECT_FALSE(tree.unsubscribe("x", b.get()));
  EXPECT_EQ(tree.node_count(), 1u);
  EXPECT_EQ(matches(tree, "x"), (Ids{"a"}));
  tree.unsubscribe("x", a.get());
}

TEST_F(TopicTreeTest, NodeCountReturnsToZeroAfterThousandsOfTopics) {
  constexpr int kTopics = 5000;
  for (int i = 0; i < kTopics; ++i) {
    std::string f = "dev/" + std::to_string(i % 50) + "/sensor/" + std::to_string(i);
    ASSERT_TRUE(tree.subscribe(f, sub(i % 2 ? a : b)));
  }
  EXPECT_EQ(tree.subscription_count(), size_t{kTopics});
  // 1 "dev" + 50 groups + 50 "sensor" + 5000 leaves.
  EXPECT_EQ(tree.node_count(), 1u + 50 + 50 + kTopics);
  EXPECT_EQ(matches(tree, "dev/7/sensor/107"), (Ids{"a"}));
  for (int i = 0; i < kTopics; ++i) {
    std::string f = "dev/" + std::to_string(i % 50) + "/sensor/" + std::to_string(i);
    ASSERT_TRUE(tree.unsubscribe(f, (i % 2 ? a : b).get()));
  }
  EXPECT_EQ(tree.node_count(), 0u);
  EXPECT_EQ(tree.subscription_count(), 0u);
}

TEST_F(TopicTreeTest, WildcardMatches) {
  tree.subscribe("sport/#", sub(a));
  tree.subscribe("sport/+/player1", sub(b));
  tree.subscribe("+/tennis/#", sub(c));
  EXPECT_EQ(matches(tree, "sport"), (Ids{"a"}));
  EXPECT_EQ(matches(tree, "sport/tennis/player1"), (Ids{"a", "b", "c"}));
  EXPECT_EQ(matches(tree, "sport/tennis"), (Ids{"a", "c"}));
  EXPECT_EQ(matches(tree, "sport/golf/player1"), (Ids{"a", "b"}));
  EXPECT_EQ(matches(tree, "news/tennis/x/y"), (Ids{"c"}));
  EXPECT_TRUE(matches(tree, "news").empty());
  EXPECT_TRUE(matches(tree, "sports").empty());
}

TEST_F(TopicTreeTest, EmptyLevelsAndPlus) {
  tree.subscribe("+/+", sub(a));
  tree.subscribe("/+", sub(b));
  tree.subscribe("+", sub(c));
  EXPECT_EQ(matches(tree, "/finance"), (Ids{"a", "b"}));
  EXPECT_EQ(matches(tree, "/"), (Ids{"a", "b"}));
  EXPECT_EQ(matches(tree, "x"), (Ids{"c"}));
  EXPECT_EQ(matches(tree, "x/y"), (Ids{"a"}));
}

TEST_F(TopicTreeTest, WildcardNodesRemovedWithTheirLastSubscriberAndMadeAgain) {
  // A node keeps direct pointers to its "+" and "#" children: they must follow pruning.
  for (int round = 0; round < 3; ++round) {
    tree.subscribe("a/+", sub(a));
    tree.subscribe("a/#", sub(b));
    tree.subscribe("a/x", sub(c));
    EXPECT_EQ(matches(tree, "a/x"), (Ids{"a", "b", "c"}));
    EXPECT_TRUE(tree.unsubscribe("a/+", a.get()));
    EXPECT_TRUE(tree.unsubscribe("a/#", b.get()));
    EXPECT_EQ(matches(tree, "a/x"), (Ids{"c"}));
    EXPECT_TRUE(matches(tree, "a/y").empty());
    EXPECT_TRUE(matches(tree, "a").empty());
    EXPECT_TRUE(tree.unsubscribe("a/x", c.get()));
    EXPECT_EQ(tree.node_count(), 0u);
  }
}

TEST_F(TopicTreeTest, DeepTopicsWithWildcardsAtEveryLevel) {
  // Many branches alive at once in the walk (its stack grows past any small size).
  std::string filter, topic;
  for (int i = 0; i < 40; ++i) {
    filter += (i ? "/" : "") + std::string("+");
    topic += (i ? "/" : "") + std::to_string(i);
    tree.subscribe(filter + "/#", sub(a));
  }
  tree.subscribe(filter, sub(b));
  auto ids = matches(tree, topic);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "a"), 40);  // "+/#" .. 40 levels of "+" then "#"
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "b"), 1);
}

TEST_F(TopicTreeTest, DollarTopicsNotMatchedByLeadingWildcards) {
  tree.subscribe("#", sub(a));
  tree.subscribe("+/broker/#", sub(b));
  tree.subscribe("$SYS/#", sub(c));
  EXPECT_EQ(matches(tree, "$SYS/broker/uptime"), (Ids{"c"}));
  EXPECT_EQ(matches(tree, "$SYS"), (Ids{"c"}));
  EXPECT_EQ(matches(tree, "x/broker/uptime"), (Ids{"a", "b"}));
}

TEST_F(TopicTreeTest, SubscriptionIdsAndOptionsAreCarried) {
  tree.subscribe("a/+", Subscriber{a, SubscribeOptions{1, true, true, 2}, 42});
  std::vector<Match> out;
  tree.collect_matches("a/x", out, nullptr);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].sub.subscription_id, 42u);
  EXPECT_EQ(out[0].sub.options.qos, 1);
  EXPECT_TRUE(out[0].sub.options.no_local);
  EXPECT_EQ(out[0].sub.options.retain_handling, 2);
  EXPECT_EQ(out[0].share_filter, nullptr);
}

TEST_F(TopicTreeTest, OverlappingSubscriptionsOfOneSessionAllMatch) {
  tree.subscribe("a/#", sub(a, 0, 1));
  tree.subscribe("a/+", sub(a, 1, 2));
  tree.subscribe("a/b", sub(a, 2, 3));
  std::vector<Match> out;
  tree.collect_matches("a/b", out, nullptr);
  std::set<uint32_t> ids;
  for (const auto& m : out) ids.insert(m.sub.subscription_id);
  EXPECT_EQ(ids, (std::set<uint32_t>{1, 2, 3}));
}

TEST_F(TopicTreeTest, SharedGroupRoundRobin) {
  tree.subscribe("$share/g/jobs/+", sub(a));
  tree.subscribe("$share/g/jobs/+", sub(b));
  tree.subscribe("$share/g/jobs/+", sub(c));
  EXPECT_EQ(tree.subscription_count(), 3u);
  std::map<std::string, int> counts;
  for (int i = 0; i < 300; ++i) {
    std::vector<Match> out;
    tree.collect_matches("jobs/1", out, nullptr);
    ASSERT_EQ(out.size(), 1u);  // one member per group
    ASSERT_NE(out[0].share_filter, nullptr);
    EXPECT_EQ(*out[0].share_filter, "$share/g/jobs/+");
    counts[out[0].sub.session->client_id()]++;
  }
  EXPECT_EQ(counts["a"], 100);
  EXPECT_EQ(counts["b"], 100);
  EXPECT_EQ(counts["c"], 100);
}

TEST_F(TopicTreeTest, SharedGroupsAndPlainSubscriptionsEachGetACopy) {
  tree.subscribe("$share/g1/t", sub(a));
  tree.subscribe("$share/g1/t", sub(b));
  tree.subscribe("$share/g2/t", sub(c));
  tree.subscribe("t", sub(a));
  std::vector<Match> out;
  tree.collect_matches("t", out, nullptr);
  ASSERT_EQ(out.size(), 3u);
  int plain = 0, g1 = 0, g2 = 0;
  for (const auto& m : out) {
    if (!m.share_filter) ++plain;
    else if (*m.share_filter == "$share/g1/t") ++g1;
    else if (*m.share_filter == "$share/g2/t") ++g2;
  }
  EXPECT_EQ(plain, 1);
  EXPECT_EQ(g1, 1);
  EXPECT_EQ(g2, 1);
}

TEST_F(TopicTreeTest, SharedPreferMemberSkipsNonPreferred) {
  tree.subscribe("$share/g/t", sub(a));
  tree.subscribe("$share/g/t", sub(b));
  for (int i = 0; i < 10; ++i) {
    std::vector<Match> out;
    tree.collect_matches("t", out, [&](const Session* s) { return s == b.get(); });
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].sub.session, b);
  }
  // Nobody preferred: still delivered to someone.
  std::vector<Match> out;
  tree.collect_matches("t", out, [](const Session*) { return false; });
  EXPECT_EQ(out.size(), 1u);
}

TEST_F(TopicTreeTest, SharedUnsubscribeAndPickMember) {
  tree.subscribe("$share/g/t/#", sub(a));
  tree.subscribe("$share/g/t/#", sub(b));
  Match m;
  ASSERT_TRUE(tree.pick_shared_member("$share/g/t/#", a.get(), m));
  EXPECT_EQ(m.sub.session, b);
  EXPECT_FALSE(tree.pick_shared_member("$share/other/t/#", a.get(), m));
  EXPECT_FALSE(tree.pick_shared_member("t/#", a.get(), m));
  EXPECT_TRUE(tree.unsubscribe("$share/g/t/#", b.get()));
  EXPECT_FALSE(tree.pick_shared_member("$share/g/t/#", a.get(), m));
  EXPECT_EQ(matches(tree, "t/x"), (Ids{"a"}));
  EXPECT_EQ(tree.subscription_count(), 1u);
  EXPECT_TRUE(tree.unsubscribe("$share/g/t/#", a.get()));
  EXPECT_EQ(tree.node_count(), 0u);
  EXPECT_EQ(tree.subscription_count(), 0u);
  EXPECT_TRUE(matches(tree, "t/x").empty());
}

// Routes are remembered per thread (topic_route_cache.h): every test below asks twice or more for
// the same topic, so the second answer comes from the cache, and checks it against what changed.

TEST_F(TopicTreeTest, RememberedRouteSeesNodesMadeAndRemovedLater) {
  tree.subscribe("x/y", sub(a));
  EXPECT_EQ(matches(tree, "x/y"), (Ids{"a"}));
  EXPECT_EQ(matches(tree, "x/y"), (Ids{"a"}));
  tree.subscribe("x/+", sub(b));  // a new node that matches
  EXPECT_EQ(matches(tree, "x/y"), (Ids{"a", "b"}));
  tree.subscribe("#", sub(c));
  EXPECT_EQ(matches(tree, "x/y"), (Ids{"a", "b", "c"}));
  EXPECT_TRUE(tree.unsubscribe("x/+", b.get()));  // the node is removed
  EXPECT_EQ(matches(tree, "x/y"), (Ids{"a", "c"}));
  EXPECT_TRUE(tree.unsubscribe("x/y", a.get()));
  EXPECT_EQ(matches(tree, "x/y"), (Ids{"c"}));
  EXPECT_TRUE(tree.unsubscribe("#", c.get()));
  EXPECT_TRUE(matches(tree, "x/y").empty());
  EXPECT_EQ(tree.node_count(), 0u);
}

TEST_F(TopicTreeTest, RememberedRouteSeesSubscribersOfExistingNodes) {
  tree.subscribe("x/y", sub(a));
  tree.subscribe("x/y/z", sub(c));  // keeps x/y's node when a leaves
  EXPECT_EQ(matches(tree, "x/y"), (Ids{"a"}));
  tree.subscribe("x/y", sub(b));  // same node: no new generation, read live
  EXPECT_EQ(matches(tree, "x/y"), (Ids{"a", "b"}));
  EXPECT_TRUE(tree.unsubscribe("x/y", a.get()));
  EXPECT_EQ(matches(tree, "x/y"), (Ids{"b"}));
  EXPECT_TRUE(tree.unsubscribe("x/y", b.get()));
  EXPECT_TRUE(matches(tree, "x/y").empty());
  tree.subscribe("$share/g/x/y", sub(a));
  tree.subscribe("$share/g/x/y", sub(b));
  std::set<std::string> chosen;
  for (int i = 0; i < 4; ++i) {
    auto got = matches(tree, "x/y");
    ASSERT_EQ(got.size(), 1u);
    chosen.insert(got[0]);
  }
  EXPECT_EQ(chosen, (std::set<std::string>{"a", "b"}));  // still round-robin
}

TEST_F(TopicTreeTest, TreesOnOneThreadDoNotShareRoutes) {
  for (int round = 0; round < 50; ++round) {
    auto first = std::make_unique<TopicTree>();
    auto second = std::make_unique<TopicTree>();
    first->subscribe("t/" + std::to_string(round % 3), sub(a));
    second->subscribe("t/+", sub(b));
    std::string topic = "t/" + std::to_string(round % 3);
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(matches(*first, topic), (Ids{"a"}));
      EXPECT_EQ(matches(*second, topic), (Ids{"b"}));
    }
  }  // freed each round, so a later tree may sit at an earlier one's address
}

TEST_F(TopicTreeTest, LongTopicsManyFiltersAndCollidingSlots) {
  std::string long_topic(300, 'l');
  long_topic += "/end";
  tree.subscribe(long_topic, sub(a));
  tree.subscribe("+/end", sub(b));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(matches(tree, long_topic), (Ids{"a", "b"}));
  // Six nodes reach "m/n/o": more than a remembered route holds.
  auto d = make_session("d", 4), e = make_session("e", 5), f = make_session("f", 6);
  tree.subscribe("m/n/o", sub(a));
  tree.subscribe("m/n/+", sub(b));
  tree.subscribe("m/+/o", sub(c));
  tree.subscribe("+/n/o", sub(d));
  tree.subscribe("m/#", sub(e));
  tree.subscribe("#", sub(f));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(matches(tree, "m/n/o"), (Ids{"a", "b", "c", "d", "e", "f"}));
  tree.unsubscribe("#", f.get());
  // More topics than slots: neighbours evict each other and every answer stays right.
  std::vector<SessionPtr> owners;
  for (int i = 0; i < 10000; ++i) {
    owners.push_back(make_session("s" + std::to_string(i), 100 + i));
    tree.subscribe("many/" + std::to_string(i), sub(owners.back()));
  }
  for (int pass = 0; pass < 2; ++pass)
    for (int i = 0; i < 10000; i += 7) {
      auto got = matches(tree, "many/" + std::to_string(i));
      ASSERT_EQ(got, (Ids{"s" + std::to_string(i)})) << i;
    }
}

}  // namespace
}  // namespace musqratt::broker
