#pragma once
// Polling a little before sleeping, after a loop turn that moved a stream's worth of bytes.
//
// Why: on loopback (and on any virtual machine) a sleeping reader is the expensive case for its
// writer: the writer's next send has to wake it, and that wake-up is paid in the writer's
// thread. A worker that has just read a large turn (a client streaming big messages) usually
// has the next bytes of that stream within microseconds; asking epoll without sleeping for that
// long keeps the worker awake through the gap, and the stream's sender stops paying for wake-ups.
// Bytes written count too: the worker writing that stream to its subscriber is woken by the
// worker that reads it (the hand-off of the next messages) and by the subscriber's reads making
// room again, and is as sure to have more within microseconds.
// A worker whose turns are small (many clients at a few messages a second each, the latency
// case) never polls: its next input is far away, and polling for it would only burn CPU.
// See docs/transports.md ("Polling before sleeping") for what it bought and what it costs.

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace musqratt::net {

class BusyPoll {
 public:
  /// A turn must have read and written at least this much together for the worker to poll
  /// after it: four 16 KiB messages, or a thousand small ones.
  static constexpr size_t kAfterBytes = 64 * 1024;

  /// `window`: how long to poll before sleeping; zero turns polling off.
  explicit BusyPoll(std::chrono::microseconds window) : window_(window) {}

  std::chrono::microseconds window() const { return window_; }

  /// Counts what this turn read from a socket or wrote to one.
  void moved(size_t bytes) { turn_bytes_ += bytes; }

  /// Before the blocking wait: when the turn that just ended moved kAfterBytes or more, calls
  /// `poll()` (a wait that does not sleep; it returns how many events are ready, or -1) until it
  /// reports events or `window` has passed. Returns what the last poll reported (0 when nothing
  /// came, or when the turn was too small to poll after); the caller sleeps only on 0. Starts
  /// the count of the next turn.
  template <typename Clock = std::chrono::steady_clock, typename Poll>
  int before_sleeping(Poll&& poll) {
    bool busy = turn_bytes_ >= kAfterBytes && window_.count() > 0;
    turn_bytes_ = 0;
    if (!busy) return 0;
    const auto until = Clock::now() + window_;
    do {
      int n = poll();
      if (n > 0) {
        ++found_;
        return n;
      }
    } while (Clock::now() < until);
    ++slept_;
    return 0;
  }

  /// Polls that found input in time, and polls that ran out and let the worker sleep.
  uint64_t found() const { return found_; }
  uint64_t slept() const { return slept_; }

 private:
  std::chrono::microseconds window_;
  size_t turn_bytes_ = 0;
  uint64_t found_ = 0;
  uint64_t slept_ = 0;
};

}  // namespace musqratt::net
