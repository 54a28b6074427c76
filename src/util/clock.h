#pragma once
#include <chrono>

namespace musqratt::util {
/// Monotonic time for every deadline in the broker (keep-alive, expiry, will delay).
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Seconds = std::chrono::seconds;
using Millis = std::chrono::milliseconds;
inline TimePoint now() { return Clock::now(); }
}  // namespace musqratt::util
