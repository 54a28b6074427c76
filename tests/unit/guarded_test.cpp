// util::Guarded: the value is reachable only under its lock; the lock costs no memory when the
// value has tail padding; a guard can be handed on.
#include "util/guarded.h"

#include <gtest/gtest.h>

#include <optional>
#include <thread>
#include <vector>

#include "util/compact_mutex.h"

namespace musqratt::util {
namespace {

TEST(Guarded, ExcludesUnderContention) {
  Guarded<uint64_t, CompactMutex> counter(0u);
  constexpr int kThreads = 4, kRounds = 100'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) ++*counter.lock();
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(*counter.lock(), uint64_t{kThreads} * kRounds);
}

TEST(Guarded, WithRunsUnderTheLockAndReturns) {
  Guarded<std::vector<int>> v;
  v.with([](std::vector<int>& x) { x.push_back(7); });
  const auto& cv = v;
  EXPECT_EQ(cv.with([](const std::vector<int>& x) { return x.size(); }), 1u);
  EXPECT_EQ(cv.lock()->front(), 7);
}

struct TailPadded {
  void* p = nullptr;
  uint16_t small = 0;  // 6 bytes of tail padding follow
};

TEST(Guarded, SmallMutexFitsInTheValuesTailPadding) {
  EXPECT_EQ(sizeof(Guarded<TailPadded, CompactMutex>), sizeof(TailPadded));
}

TEST(Guarded, MovedGuardKeepsTheLockUntilItGoes) {
  Guarded<int, CompactMutex> g(1);
  int seen = 0;
  {
    std::optional<Guarded<int, CompactMutex>::Locked<int>> held;
    held.emplace(g.lock());  // the lock moves into the optional with the guard
    **held = 2;
    std::thread other([&] { seen = *g.lock(); });
    // Were the lock released by the move, the other thread would read 2 meanwhile.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    **held = 3;
    held.reset();
    other.join();
  }
  EXPECT_EQ(seen, 3);
}

}  // namespace
}  // namespace musqratt::util
