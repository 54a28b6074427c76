#include "broker/stats.h"

namespace musqratt::broker {
void Stats::add(Counter c, int64_t n) {
  slots_[thread_slot_].v[static_cast<unsigned>(c)].fetch_add(n, std::memory_order_relaxed);
}

uint64_t Stats::get(Counter c) const {
  int64_t sum = 0;
  for (const auto& s : slots_) sum += s.v[static_cast<unsigned>(c)].load(std::memory_order_relaxed);
  return sum < 0 ? 0 : static_cast<uint64_t>(sum);
}

}  // namespace musqratt::broker
