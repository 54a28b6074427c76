#pragma once
// What a worker does when it cannot accept for lack of descriptors (EMFILE, ENFILE) or kernel
// memory (ENOBUFS, ENOMEM). Retrying at once would spin a core and, with a log line per try,
// fill the disk. Instead: a reserve descriptor is given up for a moment to accept the waiting
// connection and close it at once (its client sees a refusal instead of hanging), accepting
// pauses for a back-off that doubles up to a second while the condition lasts, the condition is
// logged once per interval with a count, and counted in $SYS. Accepting resumes by itself.
#include <cstdint>

#include "broker/stats.h"
#include "util/clock.h"

namespace musqratt::net {

/// Thread: one per worker, used by that worker only.
class AcceptThrottle {
 public:
  AcceptThrottle();
  ~AcceptThrottle();
  AcceptThrottle(const AcceptThrottle&) = delete;
  AcceptThrottle& operator=(const AcceptThrottle&) = delete;

  /// Whether `err` (an accept errno) means the process or system is out of a resource.
  static bool is_exhaustion(int err);
  /// accept() on `listener` failed with exhaustion error `err`: refuses one waiting connection
  /// with the reserve descriptor, counts it, logs (at most once a second) and starts a pause.
  void on_exhausted(int listener, int err, broker::Stats& stats, util::TimePoint now);
  /// accept() worked: the back-off starts from the beginning next time.
  void on_accepted() { backoff_ = util::Millis(0); }
  /// True while accepting is paused.
  bool paused(util::TimePoint now) const { return now < resume_at_; }
  util::TimePoint resume_at() const { return resume_at_; }

 private:
  int reserve_fd_ = -1;
  util::Millis backoff_{0};
  util::TimePoint resume_at_{};
  util::TimePoint next_log_{};
  uint64_t refused_since_log_ = 0;
};

}  // namespace musqratt::net
