// RetainedStore and HoldStore.
#include <gtest/gtest.h>

#include <algorithm>

#include "broker/hold_store.h"
#include "broker/retained_store.h"

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

/// "topic=payload" for every match, sorted.
std::vector<std::string> query(const RetainedStore& s, std::string_view filter, util::TimePoint now = T0) {
  std::vector<std::string> out;
  s.for_each_matching(filter, now, [&](const MessagePtr& m) { out.push_back(m->topic + "=" + m->payload); });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> payloads(const std::vector<MessagePtr>& v) {
  std::vector<std::string> out;
  for (const auto& m : v) out.push_back(m->payload);
  return out;
}

using Strs = std::vector<std::string>;

// ------------------------------------------------------------------ RetainedStore

TEST(RetainedStore, PutReplacesAndEmptyPayloadClears) {
  RetainedStore s;
  s.put(msg("a/b", "1"));
  s.put(msg("a/c", "2"));
  EXPECT_EQ(s.size(), 2u);
  s.put(msg("a/b", "3"));  // replaces
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(query(s, "a/b"), (Strs{"a/b=3"}));
  s.put(msg("a/b", ""));  // clears [MQTT-3.3.1-6]
  EXPECT_EQ(s.size(), 1u);
  EXPECT_TRUE(query(s, "a/b").empty());
  s.put(msg("nothing/here", ""));  // clearing an absent topic is harmless
  EXPECT_EQ(s.size(), 1u);
}

TEST(RetainedStore, WildcardQueries) {
  RetainedStore s;
  for (const char* t : {"sport/tennis/p1", "sport/tennis/p2", "sport/golf/p1", "sports", "news", "/x", "$SYS/uptime"})
    s.put(msg(t, "v"));
  EXPECT_EQ(query(s, "sport/tennis/+"), (Strs{"sport/tennis/p1=v", "sport/tennis/p2=v"}));
  EXPECT_EQ(query(s, "sport/+/p1"), (Strs{"sport/golf/p1=v", "sport/tennis/p1=v"}));
  EXPECT_EQ(query(s, "+"), (Strs{"news=v", "sports=v"}));
  EXPECT_EQ(query(s, "+/+"), (Strs{"/x=v"}));
  EXPECT_EQ(query(s, "#"), (Strs{"/x=v", "news=v", "sport/golf/p1=v", "sport/tennis/p1=v", "sport/tennis/p2=v", "sports=v"}));
  EXPECT_EQ(query(s, "$SYS/#"), (Strs{"$SYS/uptime=v"}));
  EXPECT_EQ(query(s, "sports"), (Strs{"sports=v"}));
  EXPECT_TRUE(query(s, "sport").empty());
}

// BUG: for_each_matching scans only topics starting with the filter's literal prefix
// ("sport/" for "sport/#"), so the parent topic "sport", which "sport/#" matches
// [MQTT-4.7.1-2], is never found: a retained message on "sport" is not sent on SUBSCRIBE
// to "sport/#".
TEST(RetainedStore, MultiLevelWildcardMatchesParentTopic) {
  RetainedStore s;
  s.put(msg("sport", "parent"));
  s.put(msg("sport/tennis", "child"));
  EXPECT_EQ(query(s, "sport/#"), (Strs{"sport/tennis=child", "sport=parent"}));
}

TEST(RetainedStore, Expiry) {
  RetainedStore s;
  s.put(msg("a", "short", T0 + 5s));
  s.put(msg("b", "long", T0 + 60s));
  s.put(msg("c", "forever"));
  EXPECT_EQ(query(s, "#", T0), (Strs{"a=short", "b=long", "c=forever"}));
  // Expired messages are not returned even before expire() runs.
  EXPECT_EQ(query(s, "#", T0 + 5s), (Strs{"b=long", "c=forever"}));
  EXPECT_TRUE(query(s, "a", T0 + 6s).empty());
  EXPECT_EQ(s.expire(T0 + 10s), 1u);
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(s.expire(T0 + 61s), 1u);
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.expire(T0 + 1000h), 0u);
}

// ------------------------------------------------------------------ HeldMessages (the hold, unlocked)

TEST(HeldMessages, TakeMatchingReturnsPublishOrderAndEmpties) {
  HeldMessages h(HoldLimits{100, 0});
  h.hold(msg("jobs/a", "a1"));
  h.hold(msg("jobs/b", "b1"));
  h.hold(msg("jobs/a", "a2"));
  h.hold(msg("other", "o1"));
  h.hold(msg("jobs/b", "b2"));
  EXPECT_EQ(h.message_count(), 5u);
  EXPECT_EQ(h.topic_count(), 3u);
  EXPECT_GT(h.byte_count(), 0u);
  auto taken = h.take_matching("jobs/#", T0);
  EXPECT_EQ(payloads(taken), (Strs{"a1", "b1", "a2", "b2"}));
  EXPECT_EQ(h.message_count(), 1u);
  EXPECT_EQ(h.topic_count(), 1u);
  EXPECT_TRUE(h.take_matching("jobs/#", T0).empty());  // handed out once
  EXPECT_TRUE(h.take_matching("nomatch", T0).empty());
  EXPECT_EQ(payloads(h.take_matching("other", T0)), (Strs{"o1"}));
  EXPECT_EQ(h.message_count(), 0u);
  EXPECT_EQ(h.byte_count(), 0u);
  EXPECT_EQ(h.topic_count(), 0u);
}

TEST(HeldMessages, TakeMatchingSingleTopicFilter) {
  HeldMessages h(HoldLimits{100, 0});
  for (int i = 0; i < 5; ++i) h.hold(msg("t", std::to_string(i)));
  h.hold(msg("t/sub", "s"));
  EXPECT_EQ(payloads(h.take_matching("t", T0)), (Strs{"0", "1", "2", "3", "4"}));
  EXPECT_EQ(h.message_count(), 1u);
}

TEST(HeldMessages, PerTopicLimitDropsOldest) {
  HeldMessages h(HoldLimits{3, 0});
  EXPECT_EQ(h.hold(msg("t", "1")), 0u);
  EXPECT_EQ(h.hold(msg("t", "2")), 0u);
  EXPECT_EQ(h.hold(msg("t", "3")), 0u);
  EXPECT_EQ(h.hold(msg("u", "u1")), 0u);  // other topics have their own limit
  EXPECT_EQ(h.hold(msg("t", "4")), 1u);
  EXPECT_EQ(h.hold(msg("t", "5")), 1u);
  EXPECT_EQ(h.message_count(), 4u);
  EXPECT_EQ(payloads(h.take_matching("t", T0)), (Strs{"3", "4", "5"}));
  EXPECT_EQ(payloads(h.take_matching("u", T0)), (Strs{"u1"}));
}

TEST(HeldMessages, PerTopicLimitOfOne) {
  HeldMessages h(HoldLimits{1, 0});
  h.hold(msg("t", "1"));
  EXPECT_EQ(h.hold(msg("t", "2")), 1u);
  EXPECT_EQ(h.message_count(), 1u);
  EXPECT_EQ(h.topic_count(), 1u);
  EXPECT_EQ(payloads(h.take_matching("t", T0)), (Strs{"2"}));
}

TEST(HeldMessages, ByteLimitDropsGloballyOldest) {
  const uint64_t one = msg("aa", "xxxxxxxxxx")->footprint();
  HeldMessages h(HoldLimits{0, one * 3});
  h.hold(msg("aa", "xxxxxxxxx1"));
  h.hold(msg("bb", "xxxxxxxxx2"));
  h.hold(msg("aa", "xxxxxxxxx3"));
  EXPECT_EQ(h.byte_count(), one * 3);
  EXPECT_EQ(h.hold(msg("bb", "xxxxxxxxx4")), 1u);  // drops "1", the oldest overall
  EXPECT_EQ(h.message_count(), 3u);
  EXPECT_LE(h.byte_count(), one * 3);
  EXPECT_EQ(payloads(h.take_matching("#", T0)), (Strs{"xxxxxxxxx2", "xxxxxxxxx3", "xxxxxxxxx4"}));
}

TEST(HeldMessages, ByteLimitKeepsASingleOversizedMessage) {
  HeldMessages h(HoldLimits{0, 10});
  h.hold(msg("a", "small"));
  EXPECT_EQ(h.hold(msg("b", std::string(100, 'x'))), 1u);  // drops the older one
  EXPECT_EQ(h.message_count(), 1u);
  EXPECT_EQ(payloads(h.take_matching("b", T0)).size(), 1u);
}

TEST(HeldMessages, Expiry) {
  HeldMessages h(HoldLimits{100, 0});
  h.hold(msg("t", "short", T0 + 5s));
  h.hold(msg("t", "long", T0 + 60s));
  h.hold(msg("u", "short-u", T0 + 5s));
  EXPECT_EQ(h.expire(T0 + 1s), 0u);
  EXPECT_EQ(h.expire(T0 + 10s), 2u);
  EXPECT_EQ(h.message_count(), 1u);
  EXPECT_EQ(h.topic_count(), 1u);  // "u" is gone entirely
  EXPECT_EQ(payloads(h.take_matching("#", T0 + 10s)), (Strs{"long"}));
}

TEST(HeldMessages, TakeMatchingSkipsExpiredButRemovesThem) {
  HeldMessages h(HoldLimits{100, 0});
  h.hold(msg("t", "old", T0 + 5s));
  h.hold(msg("t", "fresh"));
  EXPECT_EQ(payloads(h.take_matching("t", T0 + 10s)), (Strs{"fresh"}));
  EXPECT_EQ(h.message_count(), 0u);
  EXPECT_EQ(h.byte_count(), 0u);
}

TEST(HeldMessages, DollarTopicsNotTakenByHash) {
  HeldMessages h(HoldLimits{100, 0});
  h.hold(msg("$SYS/x", "sys"));
  EXPECT_TRUE(h.take_matching("#", T0).empty());
  EXPECT_EQ(payloads(h.take_matching("$SYS/#", T0)), (Strs{"sys"}));
}

}  // namespace
}  // namespace musqratt::broker
