#pragma once
// The epoll worker: one thread, one epoll loop owning its connections for their whole life
// (FlashMQ's model). Wake-ups from other threads arrive through WorkerBase's inbox and an eventfd.
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "broker/broker.h"
#include "broker/session_driver.h"
#include "net/tls_stream.h"
#include "net/worker_base.h"

namespace musqratt::net {

/// The epoll transport's worker. Thread: everything but the WorkerBase wake API runs on the
/// worker's own thread.
class EpollWorker : public WorkerBase {
 public:
  EpollWorker(unsigned index, broker::Broker& broker, std::vector<int> listeners);
  ~EpollWorker() override;

 protected:
  void run() override;
  void notify() override;
  bool supports_tls() const override { return true; }

 private:
  /// Lives in its node of connections_, handler included: one allocation per connection.
  struct Connection {
    Connection(int socket, uint64_t tok, broker::Broker& broker, broker::Waker* waker, std::string peer,
               util::TimePoint now)
        : fd(socket), token(tok), handler(broker, waker, tok, std::move(peer), now) {}
    int fd;
    uint64_t token;
    bool want_write = false;  // EPOLLOUT armed
    bool dirty = false;       // has output or is closing: visit at the end of the turn
    std::unique_ptr<TlsStream> tls;  // TLS listeners only
    broker::SessionDriver handler;
  };

  void accept_from(int listener, util::TimePoint now);
  /// Returns false if the connection was closed (and destroyed).
  bool read_from(Connection& c, util::TimePoint now);
  void mark_dirty(Connection& c);
  /// Writes pending output; closes the connection if it is done. Returns false if closed.
  bool flush(Connection& c, util::TimePoint now);
  bool flush_tls(Connection& c, util::TimePoint now);
  void arm_write(Connection& c, bool pending);
  void close_connection(Connection& c, util::TimePoint now);
  void process_wakes(std::vector<uint64_t>& tokens, util::TimePoint now) override;
  void tick(util::TimePoint now) override;
  void shutdown_connections();

  const std::vector<int> listeners_;
  int epoll_fd_ = -1;
  int event_fd_ = -1;
  std::unordered_map<uint64_t, Connection> connections_;
  std::vector<uint64_t> dirty_;
};

}  // namespace musqratt::net
