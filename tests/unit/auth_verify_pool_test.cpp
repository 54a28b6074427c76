// VerifyPool: checks off the caller's thread, bounded queue, back-off applied, cancelled on stop.
#include "auth/verify_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

using namespace musqratt::auth;
using musqratt::util::Millis;
using S = VerifyPool::Submit;

namespace {

/// A gate the checks wait at until the test opens it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int waiting = 0;
  void wait() {
    std::unique_lock l(mu);
    ++waiting;
    cv.notify_all();
    cv.wait(l, [&] { return open; });
  }
  void wait_for_waiters(int n) {
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(5), [&] { return waiting >= n; }));
  }
  void release() {
    std::lock_guard l(mu);
    open = true;
    cv.notify_all();
  }
};

VerifyPoolOptions small(unsigned threads, size_t queue) {
  VerifyPoolOptions o;
  o.threads = threads;
  o.max_queue = queue;
  o.backoff.free_failures = 2;
  o.backoff.base_delay = Millis(150);
  o.backoff.max_delay = Millis(150);
  o.backoff.max_wait = Millis(500);
  return o;
}

}  // namespace

TEST(VerifyPool, ChecksRunOnPoolThreadsAndCompleteOnce) {
  const auto caller = std::this_thread::get_id();
  VerifyPool pool(small(2, 16), [](const VerifyRequest& r) { return r.password == "right"; });
  std::promise<std::pair<VerifyOutcome, std::thread::id>> good, bad;
  ASSERT_EQ(pool.submit({"alice", "right", "c1", ""}, [&](VerifyOutcome o) { good.set_value({o, std::this_thread::get_id()}); }), S::Queued);
  ASSERT_EQ(pool.submit({"alice", "wrong", "c2", ""}, [&](VerifyOutcome o) { bad.set_value({o, std::this_thread::get_id()}); }), S::Queued);
  auto g = good.get_future().get();
  auto b = bad.get_future().get();
  EXPECT_TRUE(g.first.accepted);
  EXPECT_FALSE(b.first.accepted);
  EXPECT_FALSE(b.first.cancelled);
  EXPECT_NE(g.second, caller);
  EXPECT_NE(b.second, caller);
}

TEST(VerifyPool, ChecksRunInParallelUpToTheThreadCount) {
  Gate gate;
  VerifyPool pool(small(2, 16), [&](const VerifyRequest&) {
    gate.wait();
    return true;
  });
  std::atomic<int> done{0};
  for (int i = 0; i < 3; ++i) ASSERT_EQ(pool.submit({"u", "p", "c", ""}, [&](VerifyOutcome) { ++done; }), S::Queued);
  gate.wait_for_waiters(2);
  EXPECT_EQ(done.load(), 0);
  EXPECT_EQ(pool.queued(), 1u) << "two running, one waiting";
  gate.release();
  pool.stop();
  EXPECT_EQ(done.load(), 3);
}

TEST(VerifyPool, AFullQueueAnswersBusyAtOnce) {
  Gate gate;
  VerifyPool pool(small(1, 2), [&](const VerifyRequest&) {
    gate.wait();
    return false;
  });
  std::atomic<int> done{0};
  ASSERT_EQ(pool.submit({"u", "p", "c", ""}, [&](VerifyOutcome) { ++done; }), S::Queued);
  gate.wait_for_waiters(1);  // running, so out of the queue
  EXPECT_EQ(pool.submit({"u", "p", "c", ""}, [&](VerifyOutcome) { ++done; }), S::Queued);
  EXPECT_EQ(pool.submit({"u", "p", "c", ""}, [&](VerifyOutcome) { ++done; }), S::Queued);
  EXPECT_EQ(pool.submit({"u", "p", "c", ""}, [&](VerifyOutcome) { ++done; }), S::Busy);
  gate.release();
  pool.stop();
  EXPECT_EQ(done.load(), 3) << "a Busy submission is never completed";
}

TEST(VerifyPool, FailuresFromAnAddressDelayItsNextChecksThenRefuse) {
  std::atomic<int> checks{0};
  VerifyPool pool(small(2, 16), [&](const VerifyRequest&) {
    ++checks;
    return false;
  });
  for (int i = 0; i < 2; ++i) {
    std::promise<VerifyOutcome> p;
    ASSERT_EQ(pool.submit({"u", "x", "c", "192.0.2.7"}, [&](VerifyOutcome o) { p.set_value(o); }), S::Queued);
    EXPECT_EQ(p.get_future().get().delayed, Millis(0));
  }
  // Two failures on record: the next check from that address waits 150 ms, the ones after it
  // are spaced by 150 ms (300, 450), and what would wait over 500 ms is refused without a check.
  auto start = std::chrono::steady_clock::now();
  std::promise<VerifyOutcome> p3;
  ASSERT_EQ(pool.submit({"u", "x", "c", "192.0.2.7"}, [&](VerifyOutcome o) { p3.set_value(o); }), S::Queued);
  std::vector<S> more;
  for (int i = 0; i < 4; ++i) more.push_back(pool.submit({"u", "x", "c", "192.0.2.7"}, [](VerifyOutcome) {}));
  EXPECT_EQ(more[0], S::Queued);
  EXPECT_EQ(more[1], S::Queued);
  EXPECT_EQ(more[2], S::Refused);
  EXPECT_EQ(more[3], S::Refused);
  VerifyOutcome o3 = p3.get_future().get();
  EXPECT_GE(std::chrono::steady_clock::now() - start, Millis(140));
  EXPECT_GE(o3.delayed, Millis(140));
  // Another address is checked at once.
  std::promise<VerifyOutcome> other;
  auto t = std::chrono::steady_clock::now();
  ASSERT_EQ(pool.submit({"u", "x", "c", "198.51.100.1"}, [&](VerifyOutcome o) { other.set_value(o); }), S::Queued);
  EXPECT_EQ(other.get_future().get().delayed, Millis(0));
  EXPECT_LT(std::chrono::steady_clock::now() - t, Millis(140));
}

TEST(VerifyPool, StopCancelsWhatHasNotRun) {
  Gate gate;
  VerifyPool pool(small(1, 1'000'000), [&](const VerifyRequest&) {
    gate.wait();
    return true;
  });
  std::atomic<int> cancelled{0}, accepted{0};
  auto done = [&](VerifyOutcome o) { o.cancelled ? ++cancelled : (o.accepted ? ++accepted : 0); };
  int queued = 0;
  for (int i = 0; i < 4; ++i) queued += pool.submit({"u", "p", "c", ""}, done) == S::Queued;
  gate.wait_for_waiters(1);
  std::thread stopper([&] { pool.stop(); });
  // Submissions are queued until stop() has begun, and refused from then on.
  while (pool.submit({"u", "p", "c", ""}, done) == S::Queued) ++queued;
  gate.release();
  stopper.join();
  EXPECT_EQ(accepted.load(), 1) << "the check that was running finishes";
  EXPECT_EQ(cancelled.load(), queued - 1) << "every other completion is called, cancelled";
}
