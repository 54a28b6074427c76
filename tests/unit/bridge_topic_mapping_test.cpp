// Topic mapping with the semantics of Mosquitto's `topic` bridge lines.
#include <gtest/gtest.h>

#include "bridge/topic_mapping.h"

namespace musqratt::bridge {
namespace {

TopicRule rule(std::string filter, Direction d, std::string local = "", std::string remote = "", uint8_t qos = 1) {
  return TopicRule{std::move(filter), d, qos, std::move(local), std::move(remote)};
}

TEST(BridgeTopicMapping, OutRuleWithoutPrefixesKeepsTheTopic) {
  TopicMap m({rule("sensors/#", Direction::Out)});
  EXPECT_EQ(m.to_remote("sensors/a/b"), "sensors/a/b");
  EXPECT_EQ(m.to_remote("other/a"), std::nullopt);
  EXPECT_EQ(m.to_local("sensors/a"), std::nullopt) << "an out rule carries nothing in";
  ASSERT_EQ(m.local_subscriptions().size(), 1u);
  EXPECT_EQ(m.local_subscriptions()[0].filter, "sensors/#");
  EXPECT_TRUE(m.remote_subscriptions().empty());
}

TEST(BridgeTopicMapping, PrefixesAreReplacedOneByTheOther) {
  // topic # both 2 local/topic/ remote/topic/  (Mosquitto's example)
  TopicMap m({rule("#", Direction::Both, "local/topic/", "remote/topic/", 2)});
  EXPECT_EQ(m.local_subscriptions()[0].filter, "local/topic/#");
  EXPECT_EQ(m.local_subscriptions()[0].qos, 2);
  EXPECT_EQ(m.remote_subscriptions()[0].filter, "remote/topic/#");
  EXPECT_EQ(m.to_remote("local/topic/a/b"), "remote/topic/a/b");
  EXPECT_EQ(m.to_local("remote/topic/a/b"), "local/topic/a/b");
  // "local/topic/#" matches "local/topic" itself: the prefix then stands for that level.
  EXPECT_EQ(m.to_remote("local/topic"), "remote/topic");
  EXPECT_EQ(m.to_local("remote/topic"), "local/topic");
}

TEST(BridgeTopicMapping, PrefixesAreConcatenatedAsTheyAre) {
  TopicMap m({rule("temp", Direction::Out, "a/", "site1-")});
  EXPECT_EQ(m.local_subscriptions()[0].filter, "a/temp");
  EXPECT_EQ(m.to_remote("a/temp"), "site1-temp");
}

TEST(BridgeTopicMapping, AnEmptyFilterMapsOneTopicToAnother) {
  TopicMap m({rule("", Direction::Both, "local/alarm", "alarms/site7")});
  EXPECT_EQ(m.local_subscriptions()[0].filter, "local/alarm");
  EXPECT_EQ(m.remote_subscriptions()[0].filter, "alarms/site7");
  EXPECT_EQ(m.to_remote("local/alarm"), "alarms/site7");
  EXPECT_EQ(m.to_local("alarms/site7"), "local/alarm");
  EXPECT_EQ(m.to_remote("local/alarm/x"), std::nullopt);
}

TEST(BridgeTopicMapping, InRulesSubscribeUpstreamAndMapDown) {
  TopicMap m({rule("cmd/+/set", Direction::In, "from-cloud/", "site7/")});
  EXPECT_TRUE(m.local_subscriptions().empty());
  EXPECT_EQ(m.remote_subscriptions()[0].filter, "site7/cmd/+/set");
  EXPECT_EQ(m.to_local("site7/cmd/valve/set"), "from-cloud/cmd/valve/set");
  EXPECT_EQ(m.to_local("site7/cmd/valve/get"), std::nullopt);
  EXPECT_EQ(m.to_remote("from-cloud/cmd/valve/set"), std::nullopt);
}

TEST(BridgeTopicMapping, TheFirstMatchingRuleWins) {
  TopicMap m({rule("a/#", Direction::Out, "", "first/"), rule("a/b", Direction::Out, "", "second/"),
              rule("#", Direction::Out, "", "catch-all/")});
  EXPECT_EQ(m.to_remote("a/b"), "first/a/b");
  EXPECT_EQ(m.to_remote("z"), "catch-all/z");
}

TEST(BridgeTopicMapping, WildcardsAtTheTopDoNotCatchDollarTopics) {
  // [MQTT-4.7.2-1]: $SYS is not forwarded by a "#" rule.
  TopicMap m({rule("#", Direction::Out)});
  EXPECT_EQ(m.to_remote("$SYS/broker/uptime"), std::nullopt);
  TopicMap sys({rule("$SYS/#", Direction::Out, "", "")});
  EXPECT_EQ(sys.to_remote("$SYS/broker/uptime"), "$SYS/broker/uptime");
}

TEST(BridgeTopicMapping, AMappingThatWouldMakeAnInvalidTopicIsRefused) {
  // "a/#" matches "a"; with no remote prefix that level has no name upstream.
  TopicMap m({rule("#", Direction::Out, "a/", "")});
  EXPECT_EQ(m.to_remote("a"), std::nullopt);
  EXPECT_EQ(m.to_remote("a/x"), "x");
}

TEST(BridgeTopicMapping, RulesAreChecked) {
  EXPECT_EQ(check_rule(rule("a/#", Direction::Out, "l/", "r/")), "");
  EXPECT_EQ(check_rule(rule("", Direction::Out, "l/x", "r/y")), "");
  EXPECT_NE(check_rule(rule("a/#", Direction::Out, "l/+/", "")).find("local_prefix 'l/+/' contains a wildcard"),
            std::string::npos);
  EXPECT_NE(check_rule(rule("a/#", Direction::In, "", "r/#")).find("remote_prefix 'r/#' contains a wildcard"),
            std::string::npos);
  EXPECT_NE(check_rule(rule("a/#/b", Direction::Out)).find("not a valid topic filter"), std::string::npos);
  EXPECT_NE(check_rule(rule("a+", Direction::Out)).find("not a valid topic filter"), std::string::npos);
  EXPECT_NE(check_rule(rule("", Direction::Out, "l/x", "")).find("must both be set"), std::string::npos);
  EXPECT_NE(check_rule(rule("$share/g/a", Direction::Out)).find("shared subscription"), std::string::npos);
  TopicRule q = rule("a", Direction::Out);
  q.qos = 3;
  EXPECT_NE(check_rule(q).find("qos"), std::string::npos);
  EXPECT_NE(check_rule(rule("a", Direction::Out, std::string("l\0x", 3), "")).find("NUL"), std::string::npos);
}

}  // namespace
}  // namespace musqratt::bridge
