// net::BusyPoll: a worker polls before sleeping only after a turn that moved a stream's worth,
// only while polling is on, and never longer than its window; what a poll found is handed back
// so the worker handles it instead of sleeping. Also on a real epoll set.
#include "net/busy_poll.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>

#include <gtest/gtest.h>

namespace musqratt::net {
namespace {

using namespace std::chrono_literals;

// Every reading of this clock moves it 10 µs on: a poll loop sees time pass without sleeping.
struct SteppingClock {
  static inline std::chrono::steady_clock::time_point t{};
  static std::chrono::steady_clock::time_point now() { return t += 10us; }
};

TEST(BusyPoll, OffNeverPolls) {
  BusyPoll p(0us);
  p.moved(1 << 20);
  int polls = 0;
  EXPECT_EQ(p.before_sleeping([&] { return ++polls, 1; }), 0);
  EXPECT_EQ(polls, 0);
}

TEST(BusyPoll, ASmallTurnDoesNotPoll) {
  BusyPoll p(50us);
  p.moved(BusyPoll::kAfterBytes / 2);
  p.moved(BusyPoll::kAfterBytes / 2 - 1);  // one byte short, over two reads
  int polls = 0;
  EXPECT_EQ(p.before_sleeping([&] { return ++polls, 1; }), 0);
  EXPECT_EQ(polls, 0);
  EXPECT_EQ(p.found() + p.slept(), 0u);
}

TEST(BusyPoll, ALargeTurnPollsUntilInputComes) {
  BusyPoll p(1s);
  p.moved(BusyPoll::kAfterBytes);
  int polls = 0;
  EXPECT_EQ(p.before_sleeping([&] { return ++polls < 3 ? 0 : 7; }), 7);
  EXPECT_EQ(polls, 3);
  EXPECT_EQ(p.found(), 1u);
  // The count starts again: a following turn that read nothing sleeps at once.
  polls = 0;
  EXPECT_EQ(p.before_sleeping([&] { return ++polls, 1; }), 0);
  EXPECT_EQ(polls, 0);
}

TEST(BusyPoll, GivesUpWhenTheWindowHasPassed) {
  BusyPoll p(50us);
  p.moved(BusyPoll::kAfterBytes * 4);
  int polls = 0;
  // A failed poll (-1, say EINTR) is no input: polling goes on until the window is over.
  EXPECT_EQ(p.before_sleeping<SteppingClock>([&] { return ++polls % 2 ? -1 : 0; }), 0);
  EXPECT_EQ(polls, 5);  // 10 µs per clock reading: polls at 10, 20, 30, 40 and 50 µs after the start
  EXPECT_EQ(p.slept(), 1u);
  EXPECT_EQ(p.found(), 0u);
}

// The worker's own poll: epoll_wait with no timeout on its epoll set.
struct EpollSet {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event out[4];
  EpollSet() {
    epoll_event e{};
    e.events = EPOLLIN;
    epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e);
  }
  ~EpollSet() {
    close(ev);
    close(ep);
  }
  int poll() { return epoll_wait(ep, out, 4, 0); }
};

TEST(BusyPoll, OnARealEpollSetReturnsWhatIsReady) {
  EpollSet set;
  uint64_t one = 1;
  ASSERT_EQ(write(set.ev, &one, sizeof one), 8);
  BusyPoll p(10ms);
  p.moved(BusyPoll::kAfterBytes);
  EXPECT_EQ(p.before_sleeping([&] { return set.poll(); }), 1);
}

TEST(BusyPoll, OnAnIdleEpollSetPollsForItsWindowThenLetsTheWorkerSleep) {
  EpollSet set;
  BusyPoll p(2ms);
  p.moved(BusyPoll::kAfterBytes);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(p.before_sleeping([&] { return set.poll(); }), 0);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 2ms);
  EXPECT_LT(took, 1s);  // bounded, however loaded the machine
}

}  // namespace
}  // namespace musqratt::net
