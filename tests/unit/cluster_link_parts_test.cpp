// The NATS link's own bookkeeping, without NATS: the acknowledgement watermark a publisher's
// PUBACK can wait for, the per-filter interest counts, and the task queue's order.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "cluster/ack_tracker.h"
#include "cluster/interest_table.h"
#include "cluster/task_queue.h"
#include "test_support.h"

namespace musqratt::cluster {
namespace {

TEST(ClusterAckTracker, WatermarkIsContiguousAndWakesWaitersInTurn) {
  AckTracker t;
  test::RecordingWaker w;
  uint64_t a = t.issue(), b = t.issue(), c = t.issue();
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(t.outstanding(), 3u);
  EXPECT_TRUE(t.wait(b, broker::Link{&w, 20}));
  EXPECT_TRUE(t.wait(c, broker::Link{&w, 30}));
  std::vector<broker::Link> wake;
  t.settle(b, wake);  // out of order: nothing below it is held yet
  EXPECT_EQ(t.acked(), 0u);
  EXPECT_TRUE(wake.empty());
  t.settle(a, wake);  // now 1 and 2 are
  EXPECT_EQ(t.acked(), 2u);
  ASSERT_EQ(wake.size(), 1u);
  EXPECT_EQ(wake[0].token, 20u);
  EXPECT_FALSE(t.wait(b, broker::Link{&w, 21}));  // already held: nothing to wait for
  wake.clear();
  t.settle(c, wake);
  EXPECT_EQ(t.acked(), 3u);
  ASSERT_EQ(wake.size(), 1u);
  EXPECT_EQ(wake[0].token, 30u);
  t.settle(c, wake);  // settling twice changes nothing
  EXPECT_EQ(t.outstanding(), 0u);
}

// The link drops: every waiter is woken at once. One that looks only after the link is back
// finds its number unsettled and waits on, so the later settle must still wake it.
TEST(ClusterAckTracker, WakingEveryoneOnADropKeepsThemForTheSettle) {
  AckTracker t;
  test::RecordingWaker w;
  uint64_t a = t.issue();
  EXPECT_TRUE(t.wait(a, broker::Link{&w, 7}));
  std::vector<broker::Link> wake;
  t.wake_all(wake);
  ASSERT_EQ(wake.size(), 1u);
  EXPECT_EQ(wake[0].token, 7u);
  wake.clear();
  t.settle(a, wake);
  ASSERT_EQ(wake.size(), 1u);
  EXPECT_EQ(wake[0].token, 7u);
  wake.clear();
  t.wake_all(wake);  // settled waiters are gone
  EXPECT_TRUE(wake.empty());
}

TEST(ClusterInterestTable, FirstAndLastOnly) {
  InterestTable t;
  EXPECT_TRUE(t.add("a/#"));
  EXPECT_FALSE(t.add("a/#"));
  EXPECT_TRUE(t.add("$share/g/a"));
  EXPECT_EQ(t.count("a/#"), 2u);
  EXPECT_FALSE(t.remove("a/#"));
  EXPECT_TRUE(t.remove("a/#"));
  EXPECT_FALSE(t.remove("a/#"));  // unknown: nothing happens
  EXPECT_EQ(t.keys(), std::vector<std::string>{"$share/g/a"});
  EXPECT_EQ(t.size(), 1u);
}

TEST(ClusterTaskQueue, RunsInDueOrderAndDropsTheRestOnStop) {
  TaskQueue q;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> order;
  auto record = [&](int n) {
    std::lock_guard lock(mu);
    order.push_back(n);
    cv.notify_all();
  };
  q.post_after(util::Millis(60), [&] { record(3); });
  q.post([&] { record(1); });
  q.post_after(util::Millis(20), [&] { record(2); });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return order.size() == 3; }));
  }
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  std::atomic<bool> ran{false};
  q.post_after(util::Millis(10'000), [&] { ran = true; });
  EXPECT_EQ(q.pending(), 1u);
  q.stop();
  EXPECT_FALSE(ran);
  q.post([&] { ran = true; });  // after stop: ignored
  EXPECT_EQ(q.pending(), 0u);
}

}  // namespace
}  // namespace musqratt::cluster
