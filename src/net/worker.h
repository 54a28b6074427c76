#pragma once
// One worker thread: an epoll loop owning its connections for their whole life (FlashMQ's
// model). Other threads reach a worker only through its wake inbox: a vector swapped out under
// a mutex, plus an eventfd written only when the inbox goes from empty to non-empty.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "broker/broker.h"
#include "broker/client_handler.h"
#include "broker/waker.h"

namespace musqratt::net {

class Worker : public broker::Waker {
 public:
  Worker(unsigned index, broker::Broker& broker, std::vector<int> listeners);
  ~Worker() override;

  /// All workers, so wake-ups for another worker can be batched per loop turn.
  void set_peers(std::vector<Worker*> peers) { peers_ = std::move(peers); }
  void start();
  void request_stop();
  void join();

  /// Thread: any. From this worker's own thread the wake is handled this loop turn; from
  /// another worker it is batched until the end of that worker's turn; otherwise posted.
  void wake(uint64_t token) override;

 private:
  struct Connection {
    int fd = -1;
    uint64_t token = 0;
    bool want_write = false;  // EPOLLOUT armed
    bool dirty = false;       // has output or is closing: visit at the end of the turn
    std::unique_ptr<broker::ClientHandler> handler;
  };

  void run();
  void accept_from(int listener, util::TimePoint now);
  /// Returns false if the connection was closed (and destroyed).
  bool read_from(Connection& c, util::TimePoint now);
  void mark_dirty(Connection& c);
  /// Writes pending output; closes the connection if it is done. Returns false if closed.
  bool flush(Connection& c, util::TimePoint now);
  void close_connection(Connection& c, util::TimePoint now);
  void process_wakes(std::vector<uint64_t>& tokens, util::TimePoint now);
  void post(const std::vector<uint64_t>& tokens);
  void flush_remote_wakes();
  void tick(util::TimePoint now);
  void shutdown_connections();

  const unsigned index_;
  broker::Broker& broker_;
  const std::vector<int> listeners_;
  std::vector<Worker*> peers_;
  int epoll_fd_ = -1;
  int event_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};

  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  uint64_t next_seq_ = 1;
  std::vector<uint64_t> local_wakes_;
  std::vector<uint64_t> dirty_;
  std::vector<std::vector<uint64_t>> remote_batches_;  // indexed by peer

  std::mutex inbox_mu_;
  std::vector<uint64_t> inbox_;  // guarded by inbox_mu_
};

}  // namespace musqratt::net
