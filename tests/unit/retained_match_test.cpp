// RetainedStore's level tree and expiry index, checked against a brute-force match
// (protocol::topic_matches over every stored topic) on random topics and filters.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>

#include "broker/retained_store.h"
#include "protocol/topic.h"

namespace musqratt::broker {
namespace {

using namespace std::chrono_literals;
const util::TimePoint T0 = util::TimePoint{} + 1000h;

MessagePtr msg(std::string topic, std::string payload, std::optional<util::TimePoint> expires = std::nullopt) {
  auto m = std::make_shared<Message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->retain = true;
  m->expires_at = expires;
  return m;
}

std::vector<std::string> topics_of(const std::vector<MessagePtr>& v) {
  std::vector<std::string> out;
  for (const auto& m : v) out.push_back(m->topic);
  return out;
}

std::string random_levels(std::mt19937& rng, const std::vector<std::string>& alphabet, int max_levels) {
  int n = std::uniform_int_distribution<int>(1, max_levels)(rng);
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i) s += '/';
    s += alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(rng)];
  }
  return s;
}

std::string random_topic(std::mt19937& rng) {
  static const std::vector<std::string> first = {"a", "b", "c", "", "$SYS", "$x", "ab"};
  static const std::vector<std::string> rest = {"a", "b", "c", "", "$x", "ab"};
  std::string t = first[std::uniform_int_distribution<size_t>(0, first.size() - 1)(rng)];
  if (t.empty() || std::uniform_int_distribution<int>(0, 4)(rng)) t += "/" + random_levels(rng, rest, 4);
  return t;
}

std::string random_filter(std::mt19937& rng) {
  static const std::vector<std::string> levels = {"a", "b", "c", "", "+", "+", "$x", "$SYS", "ab"};
  std::string f = random_levels(rng, levels, 5);
  if (f.empty()) f = "/";  // "" is not a filter; "/" is two empty levels
  int r = std::uniform_int_distribution<int>(0, 3)(rng);
  if (r == 0) f += "/#";
  if (r == 1 && std::uniform_int_distribution<int>(0, 3)(rng) == 0) f = "#";
  return f;
}

// ------------------------------------------------------------------ matching

TEST(RetainedMatch, RandomTopicsAndFiltersAgreeWithBruteForce) {
  for (uint32_t seed : {1u, 2u, 3u, 4u, 5u}) {
    std::mt19937 rng(seed);
    RetainedStore store;
    std::map<std::string, MessagePtr> reference;  // what should be stored, unexpired at T0
    for (int i = 0; i < 400; ++i) {
      std::string t = random_topic(rng);
      ASSERT_TRUE(protocol::valid_topic_name(t)) << t;
      int action = std::uniform_int_distribution<int>(0, 9)(rng);
      if (action == 0) {  // an empty payload removes ([MQTT-3.3.1-6, 5.0])
        store.put(msg(t, ""));
        reference.erase(t);
      } else if (action == 1) {  // already expired: never returned
        store.put(msg(t, "old", T0 - 1s));
        reference.erase(t);
      } else {
        auto m = msg(t, "v" + std::to_string(i), action == 2 ? std::optional(T0 + 1h) : std::nullopt);
        store.put(m);
        reference[t] = m;
      }
    }
    int nonempty = 0;
    for (int i = 0; i < 600; ++i) {
      std::string f = random_filter(rng);
      ASSERT_TRUE(protocol::valid_topic_filter(f)) << "'" << f << "'";
      std::vector<std::string> want;
      for (const auto& [t, m] : reference)
        if (protocol::topic_matches(f, t)) want.push_back(t);
      std::vector<MessagePtr> got_msgs = store.matching(f, T0);
      std::vector<std::string> got = topics_of(got_msgs);
      std::sort(got.begin(), got.end());
      ASSERT_EQ(got, want) << "filter '" << f << "', seed " << seed;
      nonempty += !want.empty();
      for (const auto& m : got_msgs) ASSERT_EQ(m, reference[m->topic]);  // the newest message
    }
    EXPECT_GT(nonempty, 150) << "too few filters matched anything to tell";
  }
}

TEST(RetainedMatch, DollarTopicsOnlyForFiltersNamingTheirFirstLevel) {
  RetainedStore s;
  for (const char* t : {"$SYS/broker/uptime", "$x", "a/$b", "a"}) s.put(msg(t, "v"));
  auto sorted = [&](std::string_view f) {
    auto v = topics_of(s.matching(f, T0));
    std::sort(v.begin(), v.end());
    return v;
  };
  using Strs = std::vector<std::string>;
  EXPECT_EQ(sorted("#"), (Strs{"a", "a/$b"}));  // [MQTT-4.7.2-1, 3.1.1 and 5.0]
  EXPECT_EQ(sorted("+"), (Strs{"a"}));
  EXPECT_EQ(sorted("+/broker/#"), Strs{});
  EXPECT_EQ(sorted("$SYS/#"), (Strs{"$SYS/broker/uptime"}));
  EXPECT_EQ(sorted("$SYS/+/uptime"), (Strs{"$SYS/broker/uptime"}));
  EXPECT_EQ(sorted("$x"), (Strs{"$x"}));
  EXPECT_EQ(sorted("a/+"), (Strs{"a/$b"}));  // '$' matters only at the first level
}

TEST(RetainedMatch, HashMatchesTheParentLevelToo) {
  RetainedStore s;
  for (const char* t : {"b", "a/y", "a", "a/x/1", "a/x", "c/a"}) s.put(msg(t, "v"));
  auto sorted = [&](std::string_view f) {
    auto v = topics_of(s.matching(f, T0));
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(sorted("#"), (std::vector<std::string>{"a", "a/x", "a/x/1", "a/y", "b", "c/a"}));
  EXPECT_EQ(sorted("a/#"), (std::vector<std::string>{"a", "a/x", "a/x/1", "a/y"}));  // section 4.7.1.2
  EXPECT_EQ(sorted("+/x/#"), (std::vector<std::string>{"a/x", "a/x/1"}));
  EXPECT_EQ(sorted("a/x/1/#"), (std::vector<std::string>{"a/x/1"}));
}

TEST(RetainedMatch, RemovingPrunesAndReplacingKeepsOne) {
  RetainedStore s;
  s.put(msg("a/b/c", "1"));
  s.put(msg("a/b", "2"));
  s.put(msg("a/b/c", "3"));
  EXPECT_EQ(s.size(), 2u);
  s.put(msg("a/b/c", ""));
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(topics_of(s.matching("#", T0)), (std::vector<std::string>{"a/b"}));
  s.put(msg("a/b", ""));
  s.put(msg("a/b", ""));  // twice: harmless
  s.put(msg("a", ""));    // a level without a message: harmless
  EXPECT_EQ(s.size(), 0u);
  EXPECT_TRUE(s.matching("#", T0).empty());
  s.put(msg("a/b", "again"));
  EXPECT_EQ(topics_of(s.matching("a/+", T0)), (std::vector<std::string>{"a/b"}));
}

TEST(RetainedMatch, VeryDeepTopicDoesNotRecurse) {
  std::string deep = "x";
  for (int i = 0; i < 20000; ++i) deep += "/x";
  RetainedStore s;
  s.put(msg(deep, "deep"));
  EXPECT_EQ(s.matching("#", T0).size(), 1u);
  EXPECT_EQ(s.matching(deep, T0).size(), 1u);
  s.put(msg(deep, ""));
  EXPECT_EQ(s.size(), 0u);
}

// ------------------------------------------------------------------ expiry index

TEST(RetainedExpiry, OnlyDueMessagesAreRemoved) {
  RetainedStore s;
  for (int i = 0; i < 100; ++i) s.put(msg("forever/" + std::to_string(i), "v"));
  s.put(msg("e/1", "v", T0 + 1s));
  s.put(msg("e/2", "v", T0 + 2s));
  s.put(msg("e/3", "v", T0 + 3s));
  EXPECT_EQ(s.expire(T0), 0u);
  EXPECT_EQ(s.expire(T0 + 2s), 2u);
  EXPECT_EQ(s.size(), 101u);
  EXPECT_EQ(topics_of(s.matching("e/#", T0)), (std::vector<std::string>{"e/3"}));
  EXPECT_EQ(s.expire(T0 + 1000h), 1u);
  EXPECT_EQ(s.size(), 100u);
  EXPECT_EQ(s.expire(T0 + 2000h), 0u);  // messages without expiry never go
}

TEST(RetainedExpiry, ReplacedOrRemovedMessagesLeaveTheIndex) {
  RetainedStore s;
  s.put(msg("t", "short", T0 + 1s));
  s.put(msg("t", "forever"));  // the replaced message's expiry no longer applies
  EXPECT_EQ(s.expire(T0 + 10s), 0u);
  EXPECT_EQ(s.size(), 1u);
  s.put(msg("t", "long", T0 + 100s));
  s.put(msg("t", ""));
  EXPECT_EQ(s.expire(T0 + 1000s), 0u);
  EXPECT_EQ(s.size(), 0u);
  s.put(msg("u", "a", T0 + 5s));
  s.put(msg("u", "b", T0 + 50s));
  EXPECT_EQ(s.expire(T0 + 10s), 0u);
  EXPECT_EQ(s.expire(T0 + 60s), 1u);
}

TEST(RetainedExpiry, MassExpiryInChunksRemovesEverythingDue) {
  RetainedStore s;
  for (int i = 0; i < 5000; ++i) s.put(msg("m/" + std::to_string(i), "v", T0 + std::chrono::seconds(i % 3)));
  s.put(msg("m/keep", "v"));
  EXPECT_EQ(s.expire(T0 + 1s), 3334u);
  EXPECT_EQ(s.expire(T0 + 5s), 1666u);
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(topics_of(s.matching("m/#", T0)), (std::vector<std::string>{"m/keep"}));
}

}  // namespace
}  // namespace musqratt::broker
