#include "cluster/ack_tracker.h"

namespace musqratt::cluster {

void AckTracker::settle(uint64_t seq, std::vector<broker::Link>& wake) {
  std::lock_guard lock(mu_);
  uint64_t w = watermark_.load(std::memory_order_relaxed);
  if (seq <= w) return;
  if (seq != w + 1) {
    settled_above_.insert(seq);
    return;
  }
  w = seq;
  while (!settled_above_.empty() && *settled_above_.begin() == w + 1) {
    w = *settled_above_.begin();
    settled_above_.erase(settled_above_.begin());
  }
  watermark_.store(w, std::memory_order_release);
  auto end = waiters_.upper_bound(w);
  for (auto it = waiters_.begin(); it != end; ++it) wake.push_back(it->second);
  waiters_.erase(waiters_.begin(), end);
}

bool AckTracker::wait(uint64_t seq, broker::Link link) {
  std::lock_guard lock(mu_);
  if (watermark_.load(std::memory_order_relaxed) >= seq) return false;
  waiters_.emplace(seq, link);
  return true;
}

uint64_t AckTracker::outstanding() const {
  std::lock_guard lock(mu_);
  uint64_t issued = next_.load(std::memory_order_relaxed) - 1;
  return issued - watermark_.load(std::memory_order_relaxed) - settled_above_.size();
}

void AckTracker::wake_all(std::vector<broker::Link>& wake) const {
  std::lock_guard lock(mu_);
  for (const auto& [seq, link] : waiters_) wake.push_back(link);
}

}  // namespace musqratt::cluster
