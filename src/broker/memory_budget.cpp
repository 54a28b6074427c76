#include "broker/memory_budget.h"

#include "broker/stats.h"

namespace musqratt::broker {

uint64_t MemoryBudget::used() const {
  int64_t sum = total_.load(std::memory_order_relaxed);
  for (const Slot& s : slots_) sum += s.pending.load(std::memory_order_relaxed);
  return sum < 0 ? 0 : static_cast<uint64_t>(sum);
}

}  // namespace musqratt::broker
