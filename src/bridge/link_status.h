#pragma once
// What a bridge's link is doing, written by its worker and read by $SYS publication from the
// housekeeping thread: a few atomics, no lock.
#include <atomic>
#include <cstdint>

namespace musqratt::bridge {

enum class LinkState : uint8_t { Down, Connecting, Connected };

inline const char* link_state_name(LinkState s) {
  switch (s) {
    case LinkState::Down: return "down";
    case LinkState::Connecting: return "connecting";
    case LinkState::Connected: return "connected";
  }
  return "?";
}

/// Thread: written by the bridge's worker, read from any thread.
struct LinkStatus {
  std::atomic<LinkState> state{LinkState::Down};
  /// Messages the upstream acknowledged (PUBACK, PUBCOMP; QoS 0 once written).
  std::atomic<uint64_t> sent{0};
  /// Messages given up on the way out for another reason than a full buffer: refused by the
  /// upstream (an error PUBACK/PUBREC), too large for it, or matching no rule any more.
  std::atomic<uint64_t> rejected{0};
  /// Messages from the upstream published locally.
  std::atomic<uint64_t> received{0};
};

}  // namespace musqratt::bridge
