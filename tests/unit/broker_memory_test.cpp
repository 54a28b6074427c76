// The broker-wide memory budget: QoS 0 shed first, then QoS 1/2 refused; counted; messages
// accepted before are still delivered; room again once queues drain; everything given back.
// Also: message ids come from the broker.
#include <gtest/gtest.h>

#include "broker/broker.h"
#include "test_support.h"

namespace musqratt::broker {
namespace {

using protocol::Version;
using test::RecordingWaker;
using namespace std::chrono_literals;

const util::TimePoint T0 = util::TimePoint{} + 1000h;
constexpr size_t kPayload = 64 * 1024;

class BrokerMemoryTest : public ::testing::Test {
 protected:
  BrokerMemoryTest() {
    BrokerConfig c;
    c.sys_interval = 0;
    c.max_queued_bytes = 0;  // only the broker-wide budget limits here
    c.max_queued_messages = 0;
    c.max_memory = 4u << 20;
    broker = std::make_unique<Broker>(c);
    stuck = broker->connect(ConnectRequest{"stuck", true, 0, Version::V5, Link{&waker, 1}}, T0).session;
    broker->subscribe(stuck, protocol::Subscription{"t/#", {.qos = 1}}, 0, T0);
  }

  RouteResult publish(uint8_t qos, std::string topic = "t/x", bool retain = false, size_t size = kPayload) {
    auto m = broker->new_message(util::now());
    m->topic = std::move(topic);
    m->payload = std::string(size, 'x');
    m->qos = qos;
    m->retain = retain;
    return broker->publish(m, T0);
  }
  /// Takes everything queued for the stuck client and acknowledges it.
  size_t drain() {
    size_t n = 0;
    while (true) {
      std::vector<Sendable> out;
      stuck->take_sendable(1, out, 100, 100, T0);
      if (out.empty()) return n;
      for (const Sendable& s : out)
        if (s.out.qos == 1) stuck->on_puback(s.packet_id);
      n += out.size();
    }
  }

  RecordingWaker waker;
  std::unique_ptr<Broker> broker;
  SessionPtr stuck;
};

TEST_F(BrokerMemoryTest, ShedsQos0FirstThenRefusesAndCounts) {
  const uint64_t limit = broker->memory().limit();
  int accepted0 = 0;
  while (!publish(0).refused) ++accepted0;  // a stuck subscriber's queue grows...
  // ...until 7/8 of the budget: QoS 0 goes first (within a batch of accounting slack).
  EXPECT_GE(broker->memory().used(), limit - limit / 8 - MemoryBudget::kBatch);
  EXPECT_FALSE(broker->memory_available(0));
  EXPECT_TRUE(broker->memory_available(1));
  EXPECT_FALSE(publish(1).refused);  // the reserve is for QoS 1/2
  int accepted1 = 1;
  while (!publish(1).refused) ++accepted1;
  EXPECT_GT(accepted1, 0);
  EXPECT_FALSE(broker->memory_available(2));
  EXPECT_TRUE(publish(2).refused);
  // Bounded: at most one message beyond the budget (plus the accounting slack).
  EXPECT_LE(broker->memory().used(), limit + kPayload + 2 * MemoryBudget::kBatch);
  EXPECT_EQ(broker->stats().get(Counter::MemoryRefused), 3u);
  // Removing a retained message frees memory: never refused.
  EXPECT_FALSE(publish(0, "t/x", true, 0).refused);

  // Everything accepted is still delivered (with the zero-byte retained message, which
  // subscribers get too [MQTT-3.3.1-10]); then there is room again.
  EXPECT_EQ(drain(), size_t(accepted0 + accepted1 + 1));
  EXPECT_TRUE(broker->memory_available(0));
  EXPECT_FALSE(publish(0).refused);
  drain();
  EXPECT_LT(broker->memory().used(), uint64_t{MemoryBudget::kBatch});
}

TEST_F(BrokerMemoryTest, EndingTheSessionGivesEverythingBack) {
  for (int i = 0; i < 20; ++i) ASSERT_FALSE(publish(1).refused);
  EXPECT_GT(broker->memory().used(), 20 * kPayload);
  broker->disconnect(stuck, 1, std::nullopt, T0);  // session expiry 0: it ends
  stuck.reset();
  EXPECT_EQ(broker->memory().used(), 0u);
}

TEST_F(BrokerMemoryTest, RetainedAndHeldMessagesAreCounted) {
  const uint64_t before = broker->memory().used();
  ASSERT_FALSE(publish(0, "r/1", true).refused);
  drain();
  EXPECT_GE(broker->memory().used(), before + kPayload);  // the retained copy stays
  ASSERT_FALSE(publish(0, "r/1", true, 0).refused);  // removed
  EXPECT_LT(broker->memory().used(), before + kPayload);
}

TEST(BrokerMessageIds, NewMessagesGetIncreasingIdsFromTheirBroker) {
  Broker a(BrokerConfig{}), b(BrokerConfig{});
  uint64_t a1 = a.new_message(util::now())->id, a2 = a.new_message(util::now())->id;
  EXPECT_GT(a1, 0u);
  EXPECT_GT(a2, a1);
  EXPECT_EQ(b.new_message(util::now())->id, a1);  // no counter shared between brokers
}

}  // namespace
}  // namespace musqratt::broker
