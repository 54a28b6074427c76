// The bridge's buffer: a broker session with limits of its own, a drop-oldest policy that
// never drops what is in flight (also from the part of the queue on disk), drop counts, and
// the subscriptions open_buffer gives it.
#include <gtest/gtest.h>

#include <map>

#include "bridge/buffer.h"
#include "broker/session.h"
#include "test_support.h"

namespace musqratt::bridge {
namespace {

using broker::Outbound;
using broker::OutboundState;
using broker::QueueLimits;
using broker::QueueOverflow;
using broker::Session;
using test::RecordingWaker;
using namespace std::chrono_literals;

const util::TimePoint T0 = util::TimePoint{} + 1000h;

/// Queue rows in a map, as the SQLite store keeps them; page reads answered when asked.
class RowStore : public broker::Persistence {
 public:
  explicit RowStore(uint32_t limit) : limit_(limit) {}
  std::map<uint64_t, std::pair<Outbound, OutboundState>> rows;
  std::vector<std::function<void()>> pending_reads;

  void answer_reads() {
    auto reads = std::move(pending_reads);
    pending_reads.clear();
    for (auto& r : reads) r();
  }
  uint32_t memory_queue_limit() const override { return limit_; }
  void load_queued(const std::string&, uint64_t from, uint32_t limit,
                   std::function<void(std::vector<broker::RestoredOutbound>)> done) override {
    std::vector<broker::RestoredOutbound> page;
    for (auto it = rows.lower_bound(from); it != rows.end() && page.size() < limit; ++it) {
      if (it->second.second != OutboundState::Queued) continue;
      const Outbound& o = it->second.first;
      page.push_back({o.seq, o.msg, o.qos, o.retain, o.subscription_ids, OutboundState::Queued, 0});
    }
    pending_reads.push_back([page, done] { done(page); });
  }
  void outbound_saved(const std::string&, uint64_t seq, const Outbound& out, OutboundState state, uint16_t) override {
    rows[seq] = {out, state};
  }
  void outbound_deleted(const std::string&, uint64_t seq) override { rows.erase(seq); }
  void session_saved(const std::string&, uint32_t, std::optional<int64_t>) override {}
  void session_deleted(const std::string&) override {}
  void subscription_saved(const std::string&, const std::string&, const protocol::SubscribeOptions&, uint32_t) override {}
  void subscription_deleted(const std::string&, const std::string&) override {}
  void incoming_qos2_saved(const std::string&, uint16_t) override {}
  void incoming_qos2_deleted(const std::string&, uint16_t) override {}
  void retained_saved(const broker::MessagePtr&) override {}
  void retained_deleted(const std::string&) override {}
  void held_saved(uint64_t, const broker::MessagePtr&) override {}
  void held_deleted(uint64_t) override {}
  void will_saved(const std::string&, const broker::MessagePtr&, int64_t) override {}
  void will_deleted(const std::string&) override {}
  uint64_t last_issued() const override { return 0; }
  uint64_t committed() const override { return 0; }
  void notify_when_durable(uint64_t, broker::Link) override {}

 private:
  uint32_t limit_;
};

Outbound message(int n, size_t size = 1, uint8_t qos = 1) {
  auto m = std::make_shared<broker::Message>();
  m->topic = "t";
  m->payload = std::to_string(n);
  m->payload.resize(std::max(size, m->payload.size()), ' ');
  m->qos = qos;
  m->created = T0 + std::chrono::milliseconds(n);  // as Broker::new_message stamps it
  Outbound o;
  o.msg = m;
  o.qos = qos;
  return o;
}

int number(const broker::Sendable& s) { return std::stoi(s.out.msg->payload); }

/// Delivers `count` numbered messages to an offline session.
void fill(Session& s, int from, int count, size_t size = 1) {
  for (int i = from; i < from + count; ++i) {
    broker::Link wake;
    s.deliver(message(i, size), wake);
  }
}

/// Everything the session hands out once attached, answering page reads as they come.
std::vector<int> drain(Session& s, const broker::SessionPtr& self, RowStore* store, RecordingWaker& w) {
  s.attach(broker::Link{&w, 7}, protocol::Version::V5);
  std::vector<int> out;
  for (int round = 0; round < 1000; ++round) {
    std::vector<broker::Sendable> batch;
    s.take_sendable(7, batch, 65535, 1000, T0);
    for (auto& b : batch) {
      out.push_back(number(b));
      s.on_puback(b.packet_id);
    }
    if (store) {
      Session::page_in_if_needed(self);
      store->answer_reads();
    }
    if (batch.empty() && (!store || store->pending_reads.empty()) && s.queued_count() == 0) break;
  }
  return out;
}

TEST(BridgeBuffer, DropNewestKeepsTheFirstAndCounts) {
  auto s = std::make_shared<Session>("$bridge/b", 1, protocol::Version::V5,
                                     QueueLimits{.max_messages = 3, .overflow = QueueOverflow::DropNewest});
  fill(*s, 0, 5);
  EXPECT_EQ(s->queued_count(), 3u);
  EXPECT_EQ(s->dropped_count(), 2u);
  RecordingWaker w;
  EXPECT_EQ(drain(*s, s, nullptr, w), (std::vector<int>{0, 1, 2}));
}

TEST(BridgeBuffer, DropOldestKeepsTheNewest) {
  auto s = std::make_shared<Session>("$bridge/b", 1, protocol::Version::V5,
                                     QueueLimits{.max_messages = 3, .overflow = QueueOverflow::DropOldest});
  fill(*s, 0, 5);
  EXPECT_EQ(s->queued_count(), 3u);
  EXPECT_EQ(s->dropped_count(), 2u);
  RecordingWaker w;
  EXPECT_EQ(drain(*s, s, nullptr, w), (std::vector<int>{2, 3, 4}));
}

TEST(BridgeBuffer, DropOldestNeverDropsWhatIsInFlight) {
  auto s = std::make_shared<Session>("$bridge/b", 1, protocol::Version::V5,
                                     QueueLimits{.max_messages = 2, .overflow = QueueOverflow::DropOldest});
  RecordingWaker w;
  s->attach(broker::Link{&w, 7}, protocol::Version::V5);
  fill(*s, 0, 2);
  std::vector<broker::Sendable> flying;
  s->take_sendable(7, flying, 2, 10, T0);
  ASSERT_EQ(flying.size(), 2u);
  fill(*s, 2, 5);  // queued 2..6 for a limit of 2: 2, 3, 4 go
  EXPECT_EQ(s->inflight_count(), 2u);
  EXPECT_EQ(s->queued_count(), 2u);
  EXPECT_EQ(s->dropped_count(), 3u);
  std::vector<broker::Sendable> resent;
  s->resend_inflight(7, resent);
  ASSERT_EQ(resent.size(), 2u);
  EXPECT_EQ(number(resent[0]), 0);
  EXPECT_EQ(number(resent[1]), 1);
}

TEST(BridgeBuffer, DropOldestReachesIntoThePartOnDisk) {
  RowStore store(2);  // two messages in memory, the rest on disk
  auto s = std::make_shared<Session>("$bridge/b", 1, protocol::Version::V5,
                                     QueueLimits{.max_messages = 5, .overflow = QueueOverflow::DropOldest});
  s->set_persistence(&store);
  fill(*s, 0, 12, 10);
  EXPECT_EQ(s->queued_count(), 5u);
  EXPECT_EQ(s->dropped_count(), 7u);
  EXPECT_EQ(s->queued_bytes(), 50u);
  EXPECT_EQ(store.rows.size(), 5u) << "the dropped rows left the disk too";
  RecordingWaker w;
  EXPECT_EQ(drain(*s, s, &store, w), (std::vector<int>{7, 8, 9, 10, 11}));
  EXPECT_EQ(s->queued_bytes(), 0u);
  EXPECT_TRUE(store.rows.empty());
}

TEST(BridgeBuffer, ByteLimitDropsOldestUntilTheNewOneFits) {
  auto s = std::make_shared<Session>("$bridge/b", 1, protocol::Version::V5,
                                     QueueLimits{.max_bytes = 100, .overflow = QueueOverflow::DropOldest});
  fill(*s, 0, 4, 30);       // 120 bytes offered: the first goes
  EXPECT_EQ(s->queued_bytes(), 90u);
  fill(*s, 4, 1, 70);       // 160: two more go
  EXPECT_EQ(s->queued_bytes(), 100u);
  EXPECT_EQ(s->dropped_count(), 3u);
  RecordingWaker w;
  EXPECT_EQ(drain(*s, s, nullptr, w), (std::vector<int>{3, 4}));
}

TEST(BridgeBuffer, OldestCreatedIsThatOfTheFirstUnacknowledged) {
  auto s = std::make_shared<Session>("$bridge/b", 1, protocol::Version::V5, QueueLimits{});
  EXPECT_FALSE(s->oldest_created());
  Outbound first = message(0);
  const util::TimePoint made = first.msg->created;
  broker::Link wake;
  s->deliver(first, wake);
  s->deliver(message(1), wake);
  EXPECT_EQ(s->oldest_created(), made);
  RecordingWaker w;
  s->attach(broker::Link{&w, 7}, protocol::Version::V5);
  std::vector<broker::Sendable> out;
  s->take_sendable(7, out, 1, 10, T0);
  EXPECT_EQ(s->oldest_created(), made) << "in flight, not yet acknowledged";
  s->on_puback(out[0].packet_id);
  EXPECT_NE(s->oldest_created(), made);
}

TEST(BridgeBuffer, OpenBufferSubscribesWithNoLocalAndStaysOffline) {
  broker::Broker b{broker::BrokerConfig{}};
  RecordingWaker w;
  BridgeConfig c;
  c.name = "cloud";
  c.buffer_max_messages = 2;
  c.buffer_full = BufferFull::DropOldest;
  c.topics = {{"a/#", Direction::Out, 1, "", ""}, {"in/#", Direction::In, 1, "", ""}, {"both/#", Direction::Both, 2, "", ""}};
  TopicMap map(c.topics);
  broker::SessionPtr s = open_buffer(b, c, map, &w, T0);
  EXPECT_EQ(s->client_id(), "$bridge/cloud");
  EXPECT_FALSE(s->online());
  EXPECT_EQ(s->subscription_filters(), (std::vector<std::string>{"a/#", "both/#"}));
  auto publish = [&](std::string topic, uint64_t origin) {
    auto m = std::make_shared<broker::Message>();
    m->topic = std::move(topic);
    m->payload = "x";
    m->qos = 1;
    m->origin = origin;
    b.publish(m, T0);
  };
  publish("a/1", 0);
  publish("in/1", 0);                // not an out rule
  publish("both/1", s->id());        // came from the upstream through the bridge: No Local
  EXPECT_EQ(s->queued_count(), 1u);
  publish("a/2", 0);
  publish("a/3", 0);
  EXPECT_EQ(s->queued_count(), 2u) << "the buffer's own limit, not the broker's";
  EXPECT_EQ(s->dropped_count(), 1u);

  // Opened again with other rules: the same session, a filter no longer configured dropped.
  c.topics = {{"a/#", Direction::Out, 1, "", ""}};
  broker::SessionPtr again = open_buffer(b, c, TopicMap(c.topics), &w, T0);
  EXPECT_EQ(again, s);
  EXPECT_EQ(s->subscription_filters(), (std::vector<std::string>{"a/#"}));
  EXPECT_EQ(s->queued_count(), 2u);
}

TEST(BridgeBuffer, AReloadLeavesTheBufferItsOwnLimits) {
  broker::Broker b{broker::BrokerConfig{}};
  RecordingWaker w;
  BridgeConfig c;
  c.name = "cloud";
  c.buffer_max_messages = 2;
  c.topics = {{"a/#", Direction::Out, 1, "", ""}};
  broker::SessionPtr s = open_buffer(b, c, TopicMap(c.topics), &w, T0);
  broker::BrokerConfig next;
  next.max_queued_messages = 100;
  ASSERT_EQ(b.replace_config(next), "");
  for (int i = 0; i < 5; ++i) {
    auto m = std::make_shared<broker::Message>();
    m->topic = "a/x";
    m->qos = 1;
    b.publish(m, T0);
  }
  EXPECT_EQ(s->queued_count(), 2u);
}

TEST(BridgeBuffer, NetworkClientsCannotTakeABuffersId) {
  broker::Broker b{broker::BrokerConfig{}};
  RecordingWaker w;
  test::TestClient client(b, w, 1, protocol::Version::V311, T0);
  client.send(test::make_connect(protocol::Version::V311, "$bridge/cloud", false), T0);
  auto out = client.take();
  ASSERT_EQ(out.size(), 1u);
  const auto* ack = test::as<protocol::Connack>(out[0]);
  ASSERT_NE(ack, nullptr);
  EXPECT_EQ(ack->reason, protocol::Reason::ClientIdentifierNotValid);
}

}  // namespace
}  // namespace musqratt::bridge
