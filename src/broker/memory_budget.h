#pragma once
// The broker-wide memory budget (`max_memory`): bytes held by queued, in-flight, retained and
// held messages, pending retained deliveries and partly received packets. Past it the broker
// sheds load by a fixed policy instead of growing until the kernel kills it:
//
//   used >= 7/8 of the budget   new QoS 0 PUBLISHes are dropped (counted)
//   used >= the budget          new QoS 1/2 PUBLISHes are refused too (MQTT 5: 0x97 Quota
//                               exceeded), and a connection should not buffer a large packet
//
// Deliveries of messages already accepted (queues, retained messages on SUBSCRIBE, held
// messages) go on, so nothing accepted is lost to the budget; the reserve between 7/8 and the
// full budget is what they use first.
//
// Accounting is on the publish path, so it must cost next to nothing: each thread adds to a
// slot of its own (the Stats thread slot, one cache line each) and moves the sum into the
// shared total only when it passes kBatch bytes either way. The shared total is therefore off by
// at most kBatch per thread, which is what the cheap checks read; used() sums the slots exactly.
#include <array>
#include <atomic>
#include <cstdint>

#include "broker/stats.h"

namespace musqratt::broker {

/// Thread: every method may be called from any thread. Ownership: owned by the Broker, which
/// outlives every message and session charged to it (see Broker::~Broker).
class MemoryBudget {
 public:
  static constexpr int64_t kBatch = 64 * 1024;
  static constexpr unsigned kSlots = Stats::kSlots;  // one per thread slot

  /// `limit` in bytes; 0 = unlimited (still counted, for $SYS).
  explicit MemoryBudget(uint64_t limit) : limit_(limit) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  void charge(uint64_t bytes) { adjust(static_cast<int64_t>(bytes)); }
  void release(uint64_t bytes) { adjust(-static_cast<int64_t>(bytes)); }
  /// Charges (delta > 0) or releases (delta < 0). Inline: called for every message accepted
  /// and freed, and for every queue entry.
  void adjust(int64_t delta) {
    Slot& s = slots_[Stats::thread_slot()];
    int64_t pending = s.pending.fetch_add(delta, std::memory_order_relaxed) + delta;
    if (pending >= kBatch || pending <= -kBatch) flush(s);
  }

  uint64_t limit() const { return limit_; }
  /// Bytes in use, to within kBatch per thread: one relaxed load.
  uint64_t used_approx() const {
    int64_t t = total_.load(std::memory_order_relaxed);
    return t < 0 ? 0 : static_cast<uint64_t>(t);
  }
  /// Bytes in use, exactly (sums every slot): for $SYS and housekeeping, not per message.
  uint64_t used() const;

  /// Whether a new PUBLISH of this QoS is accepted now (see the policy above).
  bool accepts(uint8_t qos) const {
    if (!limit_) return true;
    uint64_t used = used_approx();
    return qos == 0 ? used < limit_ - limit_ / 8 : used < limit_;
  }
  /// Whether `bytes` more (a packet being received, say) still fit in the budget.
  bool has_room(uint64_t bytes) const { return !limit_ || used_approx() + bytes <= limit_; }

 private:
  struct alignas(64) Slot {
    std::atomic<int64_t> pending{0};
  };
  void flush(Slot& s) { total_.fetch_add(s.pending.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed); }

  const uint64_t limit_;
  std::atomic<int64_t> total_{0};
  std::array<Slot, kSlots> slots_{};
};

/// The link from an object (a Message) to the budget it was charged to. Copies start
/// uncharged: a copy is new memory, charged by whoever makes it.
/// Thread: link() may race with itself (exactly one caller wins); get() from any thread.
class BudgetLink {
 public:
  BudgetLink() = default;
  BudgetLink(const BudgetLink&) noexcept {}
  BudgetLink& operator=(const BudgetLink&) noexcept { return *this; }

  /// Links to `budget` unless already linked; true if this call made the link (and so must
  /// charge the budget).
  bool link(MemoryBudget* budget) const {
    MemoryBudget* none = nullptr;
    return to_.compare_exchange_strong(none, budget, std::memory_order_relaxed);
  }
  MemoryBudget* get() const { return to_.load(std::memory_order_relaxed); }

 private:
  mutable std::atomic<MemoryBudget*> to_{nullptr};
};

/// Bytes charged by their holder and given back when it goes (a partly received packet's
/// buffer, say). Thread: the holder's. Movable, not copyable.
class MemoryCharge {
 public:
  MemoryCharge() = default;
  explicit MemoryCharge(MemoryBudget* budget) : budget_(budget) {}
  MemoryCharge(MemoryCharge&& o) noexcept : budget_(o.budget_), bytes_(o.bytes_) { o.bytes_ = 0; }
  MemoryCharge& operator=(MemoryCharge&& o) noexcept {
    if (this != &o) {
      set(0);
      budget_ = o.budget_;
      bytes_ = o.bytes_;
      o.bytes_ = 0;
    }
    return *this;
  }
  ~MemoryCharge() { set(0); }

  /// Makes the charge `bytes` in all, charging or releasing the difference.
  void set(uint64_t bytes) {
    if (!budget_ || bytes == bytes_) return;
    if (bytes > bytes_) budget_->charge(bytes - bytes_);
    else budget_->release(bytes_ - bytes);
    bytes_ = bytes;
  }
  uint64_t bytes() const { return bytes_; }

 private:
  MemoryBudget* budget_ = nullptr;
  uint64_t bytes_ = 0;
};

}  // namespace musqratt::broker
