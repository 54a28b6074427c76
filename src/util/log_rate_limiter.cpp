#include "util/log_rate_limiter.h"

#include <algorithm>

namespace musqratt::util {

LogRateLimiter::LogRateLimiter(Limits limits) : per_second_(limits.per_second), burst_(limits.burst) {}

void LogRateLimiter::set_limits(Limits limits) {
  per_second_.store(limits.per_second, std::memory_order_relaxed);
  burst_.store(std::max<uint32_t>(limits.burst, 1), std::memory_order_relaxed);
}

LogRateLimiter::Limits LogRateLimiter::limits() const {
  return {per_second_.load(std::memory_order_relaxed), burst_.load(std::memory_order_relaxed)};
}

uint16_t LogRateLimiter::key(std::string_view name) {
  std::lock_guard lock(names_mu_);
  auto it = std::find(names_.begin(), names_.end(), name);
  if (it != names_.end()) return static_cast<uint16_t>(it - names_.begin());
  if (names_.size() + 1 >= kMaxKeys) {
    // Full: every further kind shares the last slot.
    if (names_.size() + 1 == kMaxKeys) names_.emplace_back("other");
    return static_cast<uint16_t>(kMaxKeys - 1);
  }
  names_.emplace_back(name);
  return static_cast<uint16_t>(names_.size() - 1);
}

std::string LogRateLimiter::name(uint16_t key) const {
  std::lock_guard lock(names_mu_);
  return key < names_.size() ? names_[key] : std::string("?");
}

LogRateLimiter::Admission LogRateLimiter::admit(uint16_t key, int level, TimePoint now) {
  const uint32_t rate = per_second_.load(std::memory_order_relaxed);
  const uint32_t burst = std::max<uint32_t>(burst_.load(std::memory_order_relaxed), 1);
  Bucket& b = buckets_[key < kMaxKeys ? key : kMaxKeys - 1];
  std::lock_guard lock(b.mu);
  Admission a;
  if (rate == 0) {
    a.write = true;
  } else {
    if (!b.started) {
      b.started = true;
      b.tokens = burst;
    } else if (now > b.refilled) {
      double elapsed = std::chrono::duration<double>(now - b.refilled).count();
      b.tokens = std::min<double>(burst, b.tokens + elapsed * rate);
    }
    b.refilled = std::max(b.refilled, now);
    if (b.tokens >= 1.0) {
      b.tokens -= 1.0;
      a.write = true;
    }
  }
  if (a.write) {
    a.suppressed_before = b.suppressed;
    if (b.suppressed) a.suppressed_over = std::chrono::duration_cast<Millis>(now - b.first_suppressed);
    b.suppressed = 0;
  } else {
    if (b.suppressed++ == 0) b.first_suppressed = now;
    b.level = level;
  }
  return a;
}

void LogRateLimiter::take_due(TimePoint now, Millis interval, std::vector<Summary>& out) {
  size_t n;
  {
    std::lock_guard lock(names_mu_);
    n = names_.size();
  }
  for (size_t k = 0; k < n; ++k) {
    Bucket& b = buckets_[k];
    std::lock_guard lock(b.mu);
    if (b.suppressed == 0 || now - b.first_suppressed < interval) continue;
    out.push_back({static_cast<uint16_t>(k), b.suppressed, b.level,
                   std::chrono::duration_cast<Millis>(now - b.first_suppressed)});
    b.suppressed = 0;
  }
}

}  // namespace musqratt::util
