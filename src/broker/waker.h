#pragma once
#include <cstdint>

namespace musqratt::broker {

/// How broker logic tells the thread that owns a connection that the connection has work
/// (messages queued, a takeover). Implemented by the transport layer, which batches wake-ups
/// per loop turn. Thread: wake() may be called from any worker thread.
class Waker {
 public:
  virtual ~Waker() = default;
  virtual void wake(uint64_t connection_token) = 0;
};

/// The live connection a session is attached to.
struct Link {
  Waker* waker = nullptr;
  uint64_t token = 0;
  explicit operator bool() const { return waker != nullptr; }
};

}  // namespace musqratt::broker
