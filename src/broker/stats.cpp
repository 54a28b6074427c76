#include "broker/stats.h"

namespace musqratt::broker {
namespace {
thread_local unsigned t_slot = 0;
}

void Stats::set_thread_slot(unsigned slot) { t_slot = slot % kSlots; }
unsigned Stats::thread_slot() { return t_slot; }

void Stats::add(Counter c, int64_t n) {
  slots_[t_slot].v[static_cast<unsigned>(c)].fetch_add(n, std::memory_order_relaxed);
}

uint64_t Stats::get(Counter c) const {
  int64_t sum = 0;
  for (const auto& s : slots_) sum += s.v[static_cast<unsigned>(c)].load(std::memory_order_relaxed);
  return sum < 0 ? 0 : static_cast<uint64_t>(sum);
}

}  // namespace musqratt::broker
