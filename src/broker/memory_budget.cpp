#include "broker/memory_budget.h"

#include "broker/stats.h"

namespace musqratt::broker {

static_assert(MemoryBudget::kSlots == Stats::kSlots, "the budget uses the Stats thread slots");

void MemoryBudget::add(int64_t delta) {
  Slot& s = slots_[Stats::thread_slot()];
  int64_t pending = s.pending.fetch_add(delta, std::memory_order_relaxed) + delta;
  if (pending >= kBatch || pending <= -kBatch) total_.fetch_add(s.pending.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
}

uint64_t MemoryBudget::used() const {
  int64_t sum = total_.load(std::memory_order_relaxed);
  for (const Slot& s : slots_) sum += s.pending.load(std::memory_order_relaxed);
  return sum < 0 ? 0 : static_cast<uint64_t>(sum);
}

}  // namespace musqratt::broker
