#pragma once
// What every transport's worker shares: its index, the broker, and the cross-thread wake-up
// machinery. A wake for a connection of the calling worker is handled in the same loop turn;
// one for another worker is batched until the end of the caller's turn and then posted with a
// single notify() per target worker, only when that worker's inbox goes from empty to
// non-empty (FlashMQ's scheme). Subclasses supply the event loop and notify().
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "broker/broker.h"
#include "broker/waker.h"
#include "net/listener.h"
#include "util/clock.h"

namespace musqratt::net {

class WorkerBase : public broker::Waker {
 public:
  WorkerBase(unsigned index, broker::Broker& broker) : index_(index), broker_(broker) {}
  ~WorkerBase() override = default;

  /// All workers, so wake-ups for another worker can be batched per loop turn.
  void set_peers(std::vector<WorkerBase*> peers);
  /// Starts the thread and returns once prepare() has run on it: the thread's own files (an
  /// io_uring ring) are open when the server says it is running.
  void start();
  void request_stop();
  void join();

  /// Thread: any.
  void wake(uint64_t token) override;

  /// Time this worker spent handling events rather than waiting for them, since it started.
  /// Thread: any (the worker updates it once per loop turn).
  double busy_seconds() const {
    return static_cast<double>(busy_ns_.load(std::memory_order_relaxed)) * 1e-9;
  }
  /// Connections this worker serves (accepted and opened, until closed). Thread: any.
  uint32_t connections() const { return connections_.load(std::memory_order_relaxed); }
  /// Work for this worker's thread from any thread (what outgoing connections are driven
  /// by: a connect, a reconnect decided elsewhere). Runs in the next loop turn, in order.
  using Task = std::function<void(util::TimePoint now)>;
  void post_task(Task task);
  /// Runs `task` on this worker's thread once `when` has come (within a loop turn of it).
  /// Returns an id for cancel_timer(). Thread: this worker.
  uint64_t add_timer(util::TimePoint when, Task task);
  void cancel_timer(uint64_t id);

  /// Reload: a listener opened after start(), appended (its slot is the next position, the
  /// same on every worker), and one closed (its slot stays, empty: slots never move). After
  /// `done` runs the worker no longer waits on the listener's socket and the server may close
  /// it; a connection accepted just before is served as usual. Thread: this worker (a task).
  /// Transports without kernel listeners (a user-level stack) keep the default: nothing.
  virtual void add_listener(Listener) {}
  virtual void remove_listener(size_t /*slot*/, std::function<void()> done) { done(); }

 protected:
  /// Set-up that must happen on the worker's own thread (a ring bound to its issuer). start()
  /// waits for it.
  virtual void prepare() {}
  /// The event loop; returns when stop_requested().
  virtual void run() = 0;
  /// Makes run() return from its wait soon (eventfd write, ring message, ...). Thread: any.
  virtual void notify() = 0;

  /// Hands wake-ups to this worker's connections. Thread: this worker.
  virtual void process_wakes(std::vector<uint64_t>& tokens, util::TimePoint now) = 0;
  /// Keep-alive and connect timeouts of every connection. Thread: this worker.
  virtual void tick(util::TimePoint now) = 0;
  /// Once per loop turn, after I/O: posted tasks and due timers, deliveries between this
  /// worker's own connections (which may cascade), then tick() every kTickPeriod (or at the next
  /// turn after it, when the loop waited longer). Thread: this worker.
  void run_local_work(util::TimePoint now);
  /// How long the loop may wait for events: `longest`, or less when a timer falls due sooner.
  util::Millis wait_budget(util::Millis longest) const;

  bool stop_requested() const { return stop_.load(std::memory_order_relaxed); }
  /// The event loop calls these around its wait for events: the time from a wait's end to the
  /// next wait's start is busy time. `now` is the loop's own clock reading after the wait, so
  /// measuring costs one clock read per loop turn. Thread: this worker.
  void wait_ends(util::TimePoint now) { busy_since_ = now; }
  void wait_begins() {
    if (busy_since_ == util::TimePoint{}) return;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(util::now() - busy_since_).count();
    busy_ns_.store(busy_ns_.load(std::memory_order_relaxed) + static_cast<uint64_t>(ns), std::memory_order_relaxed);
  }
  /// Moves posted wake tokens into `out`. Thread: this worker.
  void take_inbox(std::vector<uint64_t>& out);
  /// Posts this turn's wake-ups for other workers: at the end of each loop turn, and may be
  /// called earlier in the turn too, so the others start sooner.
  void flush_remote_wakes();
  /// For connections(): the connection table's size after it changed. Thread: this worker.
  void set_connections(size_t n) { connections_.store(static_cast<uint32_t>(n), std::memory_order_relaxed); }
  /// A token for a new connection: worker index in the top byte, a sequence below.
  uint64_t next_token() { return uint64_t{index_} << 56 | next_seq_++; }
  static constexpr uint64_t kFirstTokenSeq = 1 << 16;  // smaller values are free for loop tags

  const unsigned index_;
  broker::Broker& broker_;

 private:
  void post(const std::vector<uint64_t>& tokens);

  std::vector<WorkerBase*> peers_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> busy_ns_{0};  // written by this worker only
  std::atomic<uint32_t> connections_{0};  // written by this worker only
  util::TimePoint busy_since_{};
  uint64_t next_seq_ = kFirstTokenSeq;
  std::vector<uint64_t> local_wakes_;
  std::vector<uint64_t> local_swap_;
  static constexpr util::Millis kTickPeriod{50};
  util::TimePoint next_tick_{};
  std::vector<std::vector<uint64_t>> remote_batches_;  // indexed by peer
  std::mutex inbox_mu_;
  std::vector<uint64_t> inbox_;  // guarded by inbox_mu_
  std::vector<Task> tasks_;      // guarded by inbox_mu_
  std::atomic<bool> has_tasks_{false};
  // Timers of this worker's thread, by due time then id (ids grow, so equal times run in order).
  std::map<std::pair<util::TimePoint, uint64_t>, Task> timers_;
  uint64_t next_timer_id_ = 1;
};

}  // namespace musqratt::net
