#pragma once
// A mutex in four bytes (std::mutex takes forty). Every session carries one, and an edge
// broker holds tens of thousands of mostly idle sessions, so the difference is paid per
// connection. The algorithm is the three-state futex mutex of Drepper's "Futexes Are Tricky":
// uncontended lock and unlock are one atomic operation each, like pthread's; a waiter sleeps in
// the kernel instead of spinning. Sleeping is a raw futex on Linux, std::atomic wait/notify
// elsewhere.
#include <atomic>
#include <cstdint>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace musqratt::util {

class CompactMutex {
 public:
  void lock() {
    uint32_t seen = kUnlocked;
    if (state_.compare_exchange_strong(seen, kLocked, std::memory_order_acquire)) return;
    // Critical sections here are short: a brief spin often avoids the sleep.
    for (int i = 0; i < 64; ++i) {
      seen = kUnlocked;
      if (state_.load(std::memory_order_relaxed) == kUnlocked &&
          state_.compare_exchange_weak(seen, kLocked, std::memory_order_acquire))
        return;
    }
    // From here on the lock is marked contended, so the unlocker knows to wake someone.
    if (seen != kContended) seen = state_.exchange(kContended, std::memory_order_acquire);
    while (seen != kUnlocked) {
      sleep_while_contended();
      seen = state_.exchange(kContended, std::memory_order_acquire);
    }
  }
  bool try_lock() {
    uint32_t seen = kUnlocked;
    return state_.compare_exchange_strong(seen, kLocked, std::memory_order_acquire);
  }
  void unlock() {
    if (state_.exchange(kUnlocked, std::memory_order_release) == kContended) wake_one();
  }

 private:
#ifdef __linux__
  // Returns at once if the state is no longer kContended; spurious returns are fine (the caller
  // loops).
  void sleep_while_contended() {
    ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&state_), FUTEX_WAIT_PRIVATE, kContended, nullptr, nullptr, 0);
  }
  void wake_one() { ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&state_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0); }
#else
  void sleep_while_contended() { state_.wait(kContended, std::memory_order_relaxed); }
  void wake_one() { state_.notify_one(); }
#endif
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) && std::atomic<uint32_t>::is_always_lock_free);
  static constexpr uint32_t kUnlocked = 0, kLocked = 1, kContended = 2;
  std::atomic<uint32_t> state_{kUnlocked};
};

}  // namespace musqratt::util
