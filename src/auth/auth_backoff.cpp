#include "auth/auth_backoff.h"

#include <algorithm>

namespace musqratt::auth {

util::Millis AuthBackoff::delay_for(uint32_t failures) const {
  if (failures < options_.free_failures) return util::Millis(0);
  uint32_t doublings = std::min<uint32_t>(failures - options_.free_failures, 30);
  auto d = options_.base_delay * (int64_t{1} << doublings);
  return std::min(d, options_.max_delay);
}

AuthBackoff::Lru::iterator AuthBackoff::find_locked(std::string_view address, util::TimePoint now) {
  auto it = index_.find(address);
  if (it == index_.end()) return lru_.end();
  auto e = it->second;
  if (now - e->last_failure >= options_.forget_after && now >= e->next_turn) {
    index_.erase(it);
    lru_.erase(e);
    return lru_.end();
  }
  return e;
}

AuthBackoff::Decision AuthBackoff::schedule(std::string_view address, util::TimePoint now) {
  std::lock_guard lock(mu_);
  auto e = find_locked(address, now);
  if (e == lru_.end() || e->failures < options_.free_failures) return {};
  util::TimePoint turn = std::max(now, e->next_turn);
  if (turn - now > options_.max_wait) return {Verdict::Refuse, {}};
  e->next_turn = turn + delay_for(e->failures);
  return {turn > now ? Verdict::Later : Verdict::Now, turn};
}

void AuthBackoff::record_failure(std::string_view address, util::TimePoint now) {
  std::lock_guard lock(mu_);
  auto e = find_locked(address, now);
  if (e == lru_.end()) {
    if (lru_.size() >= options_.max_addresses && !lru_.empty()) {
      index_.erase(lru_.back().address);
      lru_.pop_back();
    }
    lru_.push_front(Entry{std::string(address), 0, now, now});
    e = lru_.begin();
    index_.emplace(e->address, e);
  } else {
    lru_.splice(lru_.begin(), lru_, e);  // most recently failed first; iterators stay valid
  }
  ++e->failures;
  e->last_failure = now;
  // The next check waits at least one delay after this failure.
  e->next_turn = std::max(e->next_turn, now + delay_for(e->failures));
}

void AuthBackoff::record_success(std::string_view address) {
  std::lock_guard lock(mu_);
  auto it = index_.find(address);
  if (it == index_.end()) return;
  auto e = it->second;
  index_.erase(it);
  lru_.erase(e);
}

uint32_t AuthBackoff::failures(std::string_view address, util::TimePoint now) {
  std::lock_guard lock(mu_);
  auto e = find_locked(address, now);
  return e == lru_.end() ? 0 : e->failures;
}

size_t AuthBackoff::tracked() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

}  // namespace musqratt::auth
