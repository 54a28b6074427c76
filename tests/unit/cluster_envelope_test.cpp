// The cluster message envelope (src/cluster/envelope.h) and the duplicate filter.
#include "cluster/envelope.h"

#include <gtest/gtest.h>

#include <random>

#include "cluster/duplicate_filter.h"

namespace musqratt::cluster {
namespace {

std::span<const uint8_t> span_of(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

TEST(ClusterEnvelope, RoundTripsEverythingAReceiverNeeds) {
  broker::Message m;
  m.topic = "a/b";
  m.payload = std::string("x\0y", 3);
  m.qos = 2;
  m.retain = true;
  m.expires_at = util::now() + util::Seconds(100);
  auto p = std::make_shared<protocol::Properties>();
  p->payload_format_indicator = 1;
  p->content_type = "text/plain";
  p->response_topic = "r/t";
  p->correlation_data = std::string("\x01\x00\x02", 3);
  p->user_properties = {{"k", "v"}, {"k", "w"}};
  m.properties = p;
  std::string wire;
  encode_envelope(wire, m, {7, 42});
  auto d = decode_envelope("a/b", span_of(wire));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->who, (MessageIdentity{7, 42}));
  EXPECT_EQ(d->msg->topic, "a/b");
  EXPECT_EQ(d->msg->payload, m.payload);
  EXPECT_EQ(d->msg->qos, 2);
  EXPECT_TRUE(d->msg->retain);
  ASSERT_TRUE(d->msg->properties);
  EXPECT_EQ(*d->msg->properties, *p);
  ASSERT_TRUE(d->msg->expires_at);
  auto left = d->msg->remaining_expiry(util::now());
  ASSERT_TRUE(left);
  EXPECT_GE(*left, 99u);
  EXPECT_LE(*left, 100u);
  EXPECT_TRUE(is_remote_origin(d->msg->origin));
  EXPECT_EQ(d->msg->origin, remote_origin({7, 42}));
}

TEST(ClusterEnvelope, PlainMessageIsNineteenBytesOfHeader) {
  broker::Message m;
  m.topic = "t";
  m.payload = "hello";
  std::string wire;
  encode_envelope(wire, m, {1, 2});
  EXPECT_EQ(wire.size(), 19u + 5u);
  auto d = decode_envelope("t", span_of(wire));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->msg->qos, 0);
  EXPECT_FALSE(d->msg->retain);
  EXPECT_FALSE(d->msg->properties);
  EXPECT_FALSE(d->msg->expires_at);
  EXPECT_EQ(d->msg->payload, "hello");
}

TEST(ClusterEnvelope, RefusesWhatItDoesNotMake) {
  broker::Message m;
  m.payload = "p";
  std::string good;
  encode_envelope(good, m, {1, 2});
  auto bad = [&](std::string w) { return !decode_envelope("t", span_of(w)).has_value(); };
  EXPECT_TRUE(bad(""));
  EXPECT_TRUE(bad(good.substr(0, 18)));
  std::string w = good;
  w[0] = 'X';
  EXPECT_TRUE(bad(w));
  w = good;
  w[1] = 2;  // a future version
  EXPECT_TRUE(bad(w));
  w = good;
  w[2] = 3 << 1;  // QoS 3
  EXPECT_TRUE(bad(w));
  w = good;
  w[2] = 0x40;  // unknown flag
  EXPECT_TRUE(bad(w));
  w = good;
  w[2] = 1 << 3;  // expiry announced, 8 bytes missing (payload is one byte)
  EXPECT_TRUE(bad(w));
  // A property a broker never forwards (topic alias) inside the list.
  w = good.substr(0, 19);
  w[2] = 1 << 4;
  w += std::string("\x03\x23\x00\x01", 4);
  EXPECT_TRUE(bad(w));
}

TEST(ClusterEnvelope, RandomBytesNeverCrash) {
  std::mt19937 rng(3);
  for (int i = 0; i < 20000; ++i) {
    std::string w(std::uniform_int_distribution<int>(0, 40)(rng), '\0');
    for (char& c : w) c = static_cast<char>(rng());
    if (w.size() > 2 && i % 2) {
      w[0] = 0x4D;
      w[1] = 1;
      w[2] = static_cast<char>(w[2] & 0x1F);
    }
    (void)decode_envelope("t", span_of(w));
  }
}

TEST(ClusterDuplicateFilter, SeesEachIdentityOnce) {
  DuplicateFilter f(1024);
  auto now = util::now();
  EXPECT_TRUE(f.first_time({1, 100}, now));
  EXPECT_FALSE(f.first_time({1, 100}, now));
  EXPECT_TRUE(f.first_time({2, 100}, now));  // another origin
  EXPECT_TRUE(f.first_time({1, 99}, now));   // a little out of order is fine
  EXPECT_FALSE(f.first_time({1, 99}, now));
  for (uint64_t id = 101; id < 5000; ++id) ASSERT_TRUE(f.first_time({1, id}, now));
  for (uint64_t id = 5000 - 7 * 1024 / 8; id < 5000; ++id) ASSERT_FALSE(f.first_time({1, id}, now)) << id;
  // Far behind the window: reported new, and counted.
  EXPECT_TRUE(f.first_time({1, 100}, now));
  EXPECT_EQ(f.too_old(), 1u);
  // A jump far ahead clears the window without false repeats.
  EXPECT_TRUE(f.first_time({1, 1'000'000}, now));
  EXPECT_TRUE(f.first_time({1, 999'999}, now));
  EXPECT_FALSE(f.first_time({1, 1'000'000}, now));
  EXPECT_EQ(f.origins(), 2u);
  EXPECT_EQ(f.forget_idle(now + util::Seconds(1)), 2u);
}

TEST(ClusterDuplicateFilter, RandomOrderWithinTheWindowIsExact) {
  DuplicateFilter f(1 << 12);
  std::mt19937 rng(5);
  std::vector<uint64_t> ids;
  for (uint64_t i = 1; i <= 50000; ++i) ids.push_back(i);
  // Shuffle in blocks of 256: arrivals out of order by less than the window.
  for (size_t b = 0; b < ids.size(); b += 256) std::shuffle(ids.begin() + b, ids.begin() + std::min(ids.size(), b + 256), rng);
  auto now = util::now();
  size_t firsts = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    firsts += f.first_time({9, ids[i]}, now);
    if (i >= 100) {
      ASSERT_FALSE(f.first_time({9, ids[i - 100]}, now));  // a repeat a bit later
    }
  }
  EXPECT_EQ(firsts, ids.size());
}

}  // namespace
}  // namespace musqratt::cluster
