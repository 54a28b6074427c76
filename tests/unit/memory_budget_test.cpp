// MemoryBudget: exact and approximate use, the shedding policy, charges that follow their
// holders (messages, packet buffers).
#include "broker/memory_budget.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "broker/message.h"
#include "broker/stats.h"

namespace musqratt::broker {
namespace {

TEST(MemoryBudget, CountsExactlyAndApproximatelyWithinABatchPerThread) {
  MemoryBudget b(0);
  b.charge(100);
  EXPECT_EQ(b.used(), 100u);
  EXPECT_LE(b.used_approx(), 100u);  // still in this thread's slot
  b.charge(MemoryBudget::kBatch);
  EXPECT_EQ(b.used_approx(), 100u + MemoryBudget::kBatch);  // moved to the shared total
  b.release(100 + MemoryBudget::kBatch);
  EXPECT_EQ(b.used(), 0u);
}

TEST(MemoryBudget, ThreadsChargingAndReleasingBalanceOut) {
  MemoryBudget b(0);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 4; ++t)
    threads.emplace_back([&b, t] {
      Stats::set_thread_slot(t + 1);
      for (int i = 0; i < 50'000; ++i) b.charge(1000);
      for (int i = 0; i < 50'000; ++i) b.release(1000);
      b.charge(7);
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(b.used(), 4u * 7);
}

TEST(MemoryBudget, QosZeroIsShedFirstThenEverything) {
  const uint64_t limit = 64 * MemoryBudget::kBatch;
  MemoryBudget b(limit);
  EXPECT_TRUE(b.accepts(0));
  EXPECT_TRUE(b.accepts(1));
  b.charge(limit - limit / 8);  // 7/8
  EXPECT_FALSE(b.accepts(0));
  EXPECT_TRUE(b.accepts(1));
  EXPECT_TRUE(b.accepts(2));
  EXPECT_TRUE(b.has_room(limit / 8));
  EXPECT_FALSE(b.has_room(limit / 8 + 1));
  b.charge(limit / 8);
  EXPECT_FALSE(b.accepts(1));
  EXPECT_FALSE(b.accepts(2));
  b.release(limit / 2);
  EXPECT_TRUE(b.accepts(0));
}

TEST(MemoryBudget, UnlimitedAcceptsEverythingButStillCounts) {
  MemoryBudget b(0);
  b.charge(1ull << 40);
  EXPECT_TRUE(b.accepts(0));
  EXPECT_TRUE(b.has_room(1ull << 40));
  EXPECT_EQ(b.used(), 1ull << 40);
}

TEST(MemoryBudget, MessageIsChargedOnceAndReleasedWhenItGoes) {
  MemoryBudget b(0);
  {
    auto m = std::make_shared<Message>();
    m->topic = "t";
    m->payload = std::string(1000, 'x');
    charge(b, *m);
    charge(b, *m);  // a second charge of the same message does nothing
    EXPECT_EQ(b.used(), m->footprint());
    Message copy(*m);  // a copy is new memory, not charged until someone charges it
    EXPECT_EQ(copy.budget.get(), nullptr);
    EXPECT_EQ(b.used(), m->footprint());
  }
  EXPECT_EQ(b.used(), 0u);
}

TEST(MemoryCharge, FollowsItsHolder) {
  MemoryBudget b(0);
  {
    MemoryCharge c(&b);
    c.set(5000);
    EXPECT_EQ(b.used(), 5000u);
    c.set(200);  // the buffer shrank
    EXPECT_EQ(b.used(), 200u);
    MemoryCharge moved = std::move(c);
    EXPECT_EQ(c.bytes(), 0u);
    EXPECT_EQ(b.used(), 200u);
  }
  EXPECT_EQ(b.used(), 0u);
}

TEST(MessageIds, ContinueAfterReservedAndNeverRepeat) {
  MessageIds ids;
  EXPECT_EQ(ids.next(), 1u);
  EXPECT_EQ(ids.next(), 2u);  // from this thread's block
  ids.reserve(100);
  uint64_t after = ids.next();
  EXPECT_GT(after, 100u);  // the block claimed before the reservation is given up
  ids.reserve(50);         // lower: the counter stays; ids go on rising
  EXPECT_GT(ids.next(), after);
}

TEST(MessageIds, UniqueAcrossThreadsAndAnIdleThreadKeepsUp) {
  MessageIds ids;
  std::set<uint64_t> seen;
  std::mutex mu;
  auto take = [&](int n) {
    std::vector<uint64_t> mine;
    for (int i = 0; i < n; ++i) mine.push_back(ids.next());
    std::lock_guard lock(mu);
    for (uint64_t id : mine) EXPECT_TRUE(seen.insert(id).second) << id;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(take, 10000);
  for (auto& t : threads) t.join();
  EXPECT_EQ(seen.size(), 40000u);

  // A thread that took one id, then idled while others took many, does not go back to its
  // old block: its next id is close to the newest.
  uint64_t first = ids.next();
  std::thread busy([&] {
    for (uint64_t i = 0; i < 10 * MessageIds::kStale; ++i) ids.next();
  });
  busy.join();
  uint64_t later = ids.next();
  EXPECT_GT(later, first + 9 * MessageIds::kStale);
}

}  // namespace
}  // namespace musqratt::broker
