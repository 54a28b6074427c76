#pragma once
// Password checks off the event loops. A check is a slow key derivation (about 10 ms at our
// default cost): run on a worker it stalls every other connection of that worker, so a flood of
// wrong passwords would stall everyone. The session driver instead hands the check to this
// small pool, parks the connection, and is called back when the answer is known.
//
// Usage (the session driver):
//
//   VerifyPool pool({.threads = 2, .max_queue = 1024},
//                   [&access](const VerifyRequest& r) { return access.check_password(r); });
//   switch (pool.submit({user, password, client_id, peer_ip}, [waker, token](VerifyOutcome o) {
//             // On a pool thread: record the outcome where the connection will find it, then
//             // wake the connection's worker (waker->wake(token)); never touch the connection
//             // itself from here.
//           })) {
//     case VerifyPool::Submit::Queued: park the connection until woken; read nothing more from it.
//     case VerifyPool::Submit::Busy:    refuse now: 5.0 CONNACK 0x89 Server busy, 3.1.1 0x03.
//     case VerifyPool::Submit::Refused: refuse now as a bad password (the address is backing off).
//   }
//
// The per-address back-off (AuthBackoff) is applied here: attempts from an address with too
// many recent failures wait their turn in the queue (their check runs no earlier than that), or
// are refused at submit() without any check. Failures and successes are recorded from the
// check's result. An empty address is never backed off.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "auth/auth_backoff.h"
#include "util/clock.h"

namespace musqratt::auth {

struct VerifyRequest {
  std::string username;
  std::string password;  // wiped once checked
  std::string client_id;
  std::string address;   // the peer's IP address, without port: the back-off key
};

struct VerifyOutcome {
  bool accepted = false;
  bool cancelled = false;    // the pool stopped before the check ran (accepted is false)
  util::Millis delayed{0};   // how long the back-off held the check
};

struct VerifyPoolOptions {
  unsigned threads = 2;      // checks running at once; each takes a core while it runs
  size_t max_queue = 1024;   // checks waiting (including those held by the back-off)
  BackoffOptions backoff;
};

/// Thread: submit() and stop() from any thread; checks and completions run on the pool's
/// threads. Ownership: owns its threads and the queued requests; the completion callbacks must
/// stay valid until they are called, which every queued one is, by stop() at the latest.
class VerifyPool {
 public:
  /// The slow part: true if the request's password is right for its user. Runs on a pool
  /// thread, several at once.
  using Check = std::function<bool(const VerifyRequest&)>;
  /// Called exactly once per Queued submission, on a pool thread.
  using Completion = std::function<void(VerifyOutcome)>;
  enum class Submit : uint8_t { Queued, Busy, Refused };

  VerifyPool(VerifyPoolOptions options, Check check);
  ~VerifyPool();
  VerifyPool(const VerifyPool&) = delete;
  VerifyPool& operator=(const VerifyPool&) = delete;

  Submit submit(VerifyRequest request, Completion done);
  /// Stops the threads; completions of checks not yet run are called with cancelled = true.
  void stop();

  size_t queued() const;
  AuthBackoff& backoff() { return backoff_; }

 private:
  struct Job {
    util::TimePoint not_before;
    uint64_t seq;  // FIFO among jobs due at the same time
    util::TimePoint submitted;
    VerifyRequest request;
    Completion done;
    bool operator>(const Job& o) const { return not_before != o.not_before ? not_before > o.not_before : seq > o.seq; }
  };
  void run();

  const VerifyPoolOptions options_;
  const Check check_;
  AuthBackoff backoff_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Job, std::vector<Job>, std::greater<>> jobs_;  // guarded by mu_
  uint64_t next_seq_ = 0;                                            // guarded by mu_
  bool stopping_ = false;                                            // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace musqratt::auth
