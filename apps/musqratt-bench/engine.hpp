// One generator thread: an epoll loop driving many non-blocking client connections.
// Writes are coalesced into one send() per connection per loop turn; reads are parsed in bulk.
#pragma once
#include <sys/epoll.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "client.hpp"
#include "options.hpp"

namespace mqb {

enum class Phase : int {
  init, connect_subs, subs_offline, connect_pubs, run, subs_reconnect,
  sample,  // queue: each engine measures what its stalled subscribers hold in kernel queues
  disconnect, exit
};

// Written by the scenario driver, read by every engine.
struct Shared {
  std::atomic<int> phase{int(Phase::init)};
  std::atomic<bool> stop_publishing{false};
  int64_t run_start_ns = 0;  // set before phase becomes run
  int64_t publish_end_ns = 0;  // --duration: run_start + warmup + duration, else 0
  int64_t window_start_ns = 0, window_end_ns = INT64_MAX;  // the measured window
};

// Live figures an engine publishes once per loop turn for the driver and the progress line.
struct alignas(64) Counters {
  std::atomic<uint64_t> sent{0}, completed{0}, unique{0}, received{0}, connected{0}, connect_errors{0},
      closed{0}, pubs_done{0}, disconnects{0}, window_delivered{0};
  // queue: set in Phase::sample (-1: the broker's side was not found); kNotSampled before.
  static constexpr int64_t kNotSampled = INT64_MIN;
  std::atomic<int64_t> kernel_queued_bytes{kNotSampled};
  std::atomic<int64_t> last_delivery_ns{0}, last_pub_done_ns{0};
};

int64_t mono_ns();

class Engine {
 public:
  Engine(const Options& o, Shared& sh, const sockaddr_storage& addr, socklen_t addrlen, int concurrency);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void add(std::unique_ptr<Client> c);
  void run();  // thread body, returns when the phase becomes exit

  Stats stats;
  Counters counters;

 private:
  void enter(Phase ph, int64_t now);
  void start_connects(int64_t now);
  void begin_connect(Client* c, int64_t now);
  void on_event(Client* c, uint32_t events, int64_t now);
  void on_readable(Client* c, int64_t now);
  void after_input(Client* c, State before, int64_t now);
  void flush(Client* c, int64_t now);
  void flush_dirty(int64_t now);
  void mark_dirty(Client* c);
  void set_out_interest(Client* c, bool want);
  void close_client(Client* c, bool error);
  void handshake_done(Client* c, bool ok, int64_t now);
  void produce(int64_t now);
  void produce_paced(int64_t now, bool stop);
  int64_t next_wait(int64_t now);
  int64_t next_wait_paced(int64_t now, bool stop);
  bool stopping(int64_t now) const;
  bool finished(Client* c, bool exhausted, int64_t now);
  uint64_t room(const Client* c) const;
  int64_t due_at(const Client* c) const;
  void push_due(Client* c, int64_t at);
  void stall(Client* c);
  int64_t kernel_queued_bytes();
  void keepalive(int64_t now);
  void publish_counters();
  int wait_events(std::vector<epoll_event>& evs, int64_t wait_ns);

  const Options& o_;
  Shared& sh_;
  sockaddr_storage addr_;
  socklen_t addrlen_;
  int ep_ = -1;
  int concurrency_;
  int handshakes_ = 0;
  bool running_ = false;
  int64_t run_start_ = 0;
  int64_t deadline_ = 0;        // --duration end, 0 = none
  double rate_per_ns_ = 0;      // per publisher
  std::size_t high_water_ = 0;  // QoS 0: stop generating while this much is unsent
  int64_t next_keepalive_ = 0;
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<Client*> pubs_;
  // Paced publishing (--rate): publishers wait in a min-heap by the time their next message is
  // due, so a loop turn touches only the due ones (thousands of publishers at 1 msg/s each).
  struct Due {
    int64_t at;
    Client* c;
    bool operator>(const Due& o) const { return at > o.at; }
  };
  std::vector<Due> due_;
  std::vector<Client*> blocked_;    // paced, due but held back by the QoS window or unsent bytes
  std::vector<Client*> finishing_;  // paced, no more to publish: waiting for acks / the last bytes
  std::vector<Client*> dirty_;
  std::deque<Client*> to_connect_;
};

}  // namespace mqb
