// Topic names, filters, matching and the $share prefix (section 4.7, 4.8).
#include "protocol/topic.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace musqratt::protocol {
namespace {

TEST(Topic, ValidTopicNames) {
  for (const char* t : {"a", "a/b", "/", "/a", "a/", "//", "sport/tennis/player1", "$SYS/broker", " ", "a b"})
    EXPECT_TRUE(valid_topic_name(t)) << t;
  for (const char* t : {"", "+", "#", "a/+", "a/#", "a+b", "sport/tennis#", "#/a"})
    EXPECT_FALSE(valid_topic_name(t)) << t;
}

TEST(Topic, ValidTopicFilters) {
  for (const char* f : {"a", "#", "+", "a/#", "a/+", "+/+", "+/a/#", "/+", "/#", "a//b", "sport/+/player1",
                        "+/tennis/#", "$SYS/#", "a/+/+/#", "/", "//"})
    EXPECT_TRUE(valid_topic_filter(f)) << f;
  for (const char* f : {"", "a#", "a/#/b", "#/", "##", "a/b#", "sport/tennis#", "a+", "+a", "a/+b", "a/b+/c",
                        "++", "#+", "+#"})
    EXPECT_FALSE(valid_topic_filter(f)) << f;
}

TEST(Topic, HasWildcard) {
  EXPECT_TRUE(has_wildcard("a/+"));
  EXPECT_TRUE(has_wildcard("#"));
  EXPECT_FALSE(has_wildcard("a/b"));
  EXPECT_FALSE(has_wildcard("$share/g/a"));
}

struct MatchCase {
  const char* filter;
  const char* topic;
  bool match;
};

TEST(Topic, Matching) {
  const std::vector<MatchCase> cases = {
      // Exact.
      {"a/b", "a/b", true},
      {"a/b", "a/b/c", false},
      {"a/b/c", "a/b", false},
      {"a/b", "a/c", false},
      {"a", "A", false},
      // Multi-level wildcard.
      {"#", "a", true},
      {"#", "a/b/c", true},
      {"#", "/", true},
      {"sport/#", "sport", true},  // parent level [MQTT-4.7.1-2]
      {"sport/#", "sport/", true},
      {"sport/#", "sport/tennis/player1", true},
      {"sport/#", "sports", false},
      {"sport/tennis/#", "sport", false},
      {"a/b/#", "a/b", true},
      {"a/b/#", "a/c", false},
      // Single-level wildcard.
      {"+", "a", true},
      {"+", "a/b", false},
      {"+", "/", false},
      {"+/+", "/", true},  // two empty levels
      {"+/+", "/finance", true},
      {"/+", "/finance", true},
      {"+", "/finance", false},
      {"a/+", "a/", true},  // empty level matched by '+'
      {"a/+", "a", false},
      {"a/+/c", "a/b/c", true},
      {"a/+/c", "a//c", true},
      {"a/+/c", "a/b/d", false},
      {"sport/tennis/+", "sport/tennis/player1", true},
      {"sport/tennis/+", "sport/tennis/player1/ranking", false},
      {"sport/+", "sport", false},
      {"sport/+", "sport/", true},
      {"+/+/#", "a/b", true},
      {"+/+/#", "a", false},
      {"+/#", "a", true},
      // $-topics [MQTT-4.7.2-1].
      {"#", "$SYS", false},
      {"#", "$SYS/broker/uptime", false},
      {"+/broker/uptime", "$SYS/broker/uptime", false},
      {"+", "$SYS", false},
      {"$SYS/#", "$SYS/broker/uptime", true},
      {"$SYS/#", "$SYS", true},
      {"$SYS/+/uptime", "$SYS/broker/uptime", true},
      {"$SYS/broker/uptime", "$SYS/broker/uptime", true},
      {"a/#", "a/$x", true},  // '$' only matters in the first level
      {"+/$x", "a/$x", true},
  };
  for (const auto& c : cases)
    EXPECT_EQ(topic_matches(c.filter, c.topic), c.match) << "filter '" << c.filter << "' topic '" << c.topic << "'";
}

TEST(Topic, ParseSharedFilter) {
  EXPECT_FALSE(parse_shared_filter("a/b").has_value());
  EXPECT_FALSE(parse_shared_filter("$share").has_value());
  EXPECT_FALSE(parse_shared_filter("$SHARE/g/a").has_value());
  EXPECT_FALSE(parse_shared_filter("$shared/g/a").has_value());
  EXPECT_FALSE(parse_shared_filter("x$share/g/a").has_value());

  auto s = parse_shared_filter("$share/group/a/b/#");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->group, "group");
  EXPECT_EQ(s->filter, "a/b/#");

  s = parse_shared_filter("$share/g/+");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->group, "g");
  EXPECT_EQ(s->filter, "+");

  // Malformed shared subscriptions: recognised, with an empty part.
  s = parse_shared_filter("$share/g");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->group, "g");
  EXPECT_TRUE(s->filter.empty());

  s = parse_shared_filter("$share/");
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->group.empty());

  s = parse_shared_filter("$share//a");
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->group.empty());
  EXPECT_EQ(s->filter, "a");

  s = parse_shared_filter("$share/g+/a");  // wildcard in the share name [MQTT-4.8.2-2]
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->group.empty());

  s = parse_shared_filter("$share/g#/a");
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->group.empty());

  s = parse_shared_filter("$share/g/");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->group, "g");
  EXPECT_TRUE(s->filter.empty());
}

}  // namespace
}  // namespace musqratt::protocol
