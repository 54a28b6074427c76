#include "broker/message.h"

namespace musqratt::broker {

Message::~Message() {
  if (MemoryBudget* b = budget.get()) b->release(footprint());
}

std::optional<uint32_t> Message::remaining_expiry(util::TimePoint now) const {
  if (!expires_at) return std::nullopt;
  if (now >= *expires_at) return 0;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*expires_at - now).count();
  return static_cast<uint32_t>((left + 999) / 1000);
}

}  // namespace musqratt::broker
