#pragma once
// Data that can only be reached through its lock (FlashMQ's MutexOwned, Abseil's GUARDED_BY
// made a type): a `Guarded<T>` owns a T and a mutex, and the only way to the T is `lock()`,
// which returns a guard that unlocks when it goes out of scope. Forgetting the lock is then a
// compile error, not a data race found later by TSan.
//
// Layout: the mutex sits after the value, and the value is [[no_unique_address]], so a small
// mutex (util::CompactMutex, four bytes) goes into the tail padding of T when T has some. A
// session's state ends with small fields for exactly that reason: guarding it costs no memory.
#include <mutex>
#include <utility>

namespace musqratt::util {

template <typename T, typename Mutex = std::mutex>
class Guarded {
 public:
  /// The value while the lock is held. Thread: the locking thread, for the guard's lifetime.
  template <typename V>
  class [[nodiscard]] Locked {
   public:
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;
    /// Moving hands the lock on (to a std::optional, say, for a lock taken only sometimes).
    Locked(Locked&& o) noexcept : value_(o.value_), mu_(o.mu_), owns_(std::exchange(o.owns_, false)) {}
    Locked& operator=(Locked&&) = delete;
    ~Locked() {
      if (owns_) mu_.unlock();
    }
    V* operator->() const { return &value_; }
    V& operator*() const { return value_; }

   private:
    friend class Guarded;
    Locked(V& value, Mutex& mu) : value_(value), mu_(mu) { mu_.lock(); }
    V& value_;
    Mutex& mu_;
    bool owns_ = true;
  };

  template <typename... Args>
  explicit Guarded(Args&&... args) : value_(std::forward<Args>(args)...) {}
  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;

  Locked<T> lock() { return Locked<T>(value_, mu_); }
  Locked<const T> lock() const { return Locked<const T>(value_, mu_); }

  /// Runs `f(T&)` under the lock and returns what it returns.
  template <typename F>
  decltype(auto) with(F&& f) {
    Locked<T> l = lock();
    return std::forward<F>(f)(*l);
  }
  template <typename F>
  decltype(auto) with(F&& f) const {
    Locked<const T> l = lock();
    return std::forward<F>(f)(*l);
  }

  /// The value without the lock, for when no other thread can reach it (before it is shared,
  /// or in the owner's destructor). The name is meant to stand out in review.
  T& unguarded() { return value_; }

 private:
  [[no_unique_address]] T value_;
  mutable Mutex mu_;
};

}  // namespace musqratt::util
