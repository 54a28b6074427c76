// HoldStore's own lock: holding ("nobody listens") and draining ("a subscriber arrived") never
// interleave, so no message stays held once its subscriber exists, however the threads race.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "broker/broker.h"
#include "test_support.h"

namespace musqratt::broker {
namespace {

using protocol::Version;
using test::RecordingWaker;

TEST(HoldStore, MessagesAreReachableOnlyUnderItsLock) {
  HoldStore h(HoldLimits{100, 0});
  auto m = std::make_shared<Message>();
  m->topic = "t";
  m->payload = "x";
  {
    HoldStore::Locked held = h.lock();
    held->hold(m);
    EXPECT_EQ(held->message_count(), 1u);
  }
  EXPECT_EQ(h.message_count(), 1u);
  EXPECT_EQ(h.lock()->take_matching("t", util::now()).size(), 1u);
  EXPECT_EQ(h.message_count(), 0u);
}

TEST(HoldStore, NoMessageStaysHeldWhenASubscriberArrivesMidStream) {
  for (int round = 0; round < 20; ++round) {
    BrokerConfig c;
    c.sys_interval = 0;
    c.max_queued_messages = 0;
    c.max_queued_bytes = 0;
    c.hold_unsubscribed = {"jobs/#"};
    c.hold_max_messages_per_topic = 0;
    c.hold_max_bytes = 0;
    Broker broker(c);
    RecordingWaker waker;
    auto sub = broker.connect(ConnectRequest{"worker", true, 0, Version::V5, Link{&waker, 1}}, util::now()).session;
    constexpr int kThreads = 3, kEach = 300;
    std::atomic<int> started{0};
    std::vector<std::thread> publishers;
    for (int t = 0; t < kThreads; ++t)
      publishers.emplace_back([&, t] {
        ++started;
        for (int i = 0; i < kEach; ++i) {
          auto m = broker.new_message(util::now());
          m->topic = "jobs/" + std::to_string(t);
          m->payload = std::to_string(i);
          m->qos = 1;
          broker.publish(m, util::now());
        }
      });
    while (started.load() < kThreads) std::this_thread::yield();
    broker.subscribe(sub, protocol::Subscription{"jobs/#", {.qos = 1}}, 0, util::now());
    for (auto& p : publishers) p.join();
    EXPECT_EQ(broker.held_count(), 0u) << "round " << round;
    EXPECT_EQ(sub->queued_count(), size_t{kThreads} * kEach) << "round " << round;
  }
}

}  // namespace
}  // namespace musqratt::broker
