#include "broker/message.h"

namespace musqratt::broker {

namespace {
std::atomic<uint64_t> g_next_id{1};
}

uint64_t Message::next_id() { return g_next_id.fetch_add(1, std::memory_order_relaxed); }

void Message::reserve_ids(uint64_t max) {
  uint64_t cur = g_next_id.load();
  while (cur <= max && !g_next_id.compare_exchange_weak(cur, max + 1)) {
  }
}

std::optional<uint32_t> Message::remaining_expiry(util::TimePoint now) const {
  if (!expires_at) return std::nullopt;
  if (now >= *expires_at) return 0;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*expires_at - now).count();
  return static_cast<uint32_t>((left + 999) / 1000);
}

}  // namespace musqratt::broker
