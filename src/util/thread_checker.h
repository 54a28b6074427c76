#pragma once
// Debug-build checks that state owned by one thread (a worker's connections, the
// housekeeping thread's bookkeeping) is touched only by that thread. With NDEBUG both types
// are empty and every check compiles to nothing, so release builds pay neither memory nor time
// (FlashMQ's ThreadLocked<T>, Chromium's ThreadChecker).
#include <cassert>
#include <thread>
#include <utility>
#ifndef NDEBUG
#include <atomic>
#endif

namespace musqratt::util {

/// Remembers the thread that owns something and asserts that later calls come from it. It binds
/// to the first thread that checks (or to the one that calls bind_to_current_thread()).
/// Thread: any; the owner may be handed on with bind_to_current_thread().
class ThreadChecker {
 public:
#ifndef NDEBUG
  /// True if the calling thread owns (binding it if nothing is bound yet).
  bool called_on_owner() const {
    std::thread::id me = std::this_thread::get_id();
    std::thread::id none{};
    if (owner_.compare_exchange_strong(none, me, std::memory_order_relaxed)) return true;
    return none == me;
  }
  void bind_to_current_thread() { owner_.store(std::this_thread::get_id(), std::memory_order_relaxed); }
  void unbind() { owner_.store(std::thread::id{}, std::memory_order_relaxed); }

 private:
  mutable std::atomic<std::thread::id> owner_{};
#else
  bool called_on_owner() const { return true; }
  void bind_to_current_thread() {}
  void unbind() {}
#endif
};

/// Asserts (debug builds) that the calling thread owns `checker`.
#define MUSQRATT_ASSERT_OWNER(checker) assert((checker).called_on_owner() && "touched by a thread that does not own it")

/// A value owned by one thread: reachable through operator-> and get(), each of which asserts
/// (debug builds) that the caller is the owning thread.
template <typename T>
class ThreadOwned {
 public:
  template <typename... Args>
  explicit ThreadOwned(Args&&... args) : value_(std::forward<Args>(args)...) {}

  T* operator->() { return &get(); }
  const T* operator->() const { return &get(); }
  T& get() {
    MUSQRATT_ASSERT_OWNER(checker_);
    return value_;
  }
  const T& get() const {
    MUSQRATT_ASSERT_OWNER(checker_);
    return value_;
  }
  /// Hands the value to the calling thread (a connection moving to another worker, say).
  void rebind_to_current_thread() { checker_.bind_to_current_thread(); }

 private:
  T value_;
  [[no_unique_address]] ThreadChecker checker_;
};

}  // namespace musqratt::util
