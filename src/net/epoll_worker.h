#pragma once
// The epoll worker: one thread, one epoll loop owning its connections for their whole life
// (FlashMQ's model). Wake-ups from other threads arrive through WorkerBase's inbox and an
// eventfd. The connection life cycle is ConnectionDriver's; this file is only epoll and
// socket calls.
#include <sys/socket.h>

#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/accept_throttle.h"
#include "net/connection_driver.h"
#include "net/listener.h"

namespace musqratt::net {

/// A connection's epoll state.
struct EpollIo {
  int fd = -1;
  bool want_write = false;  // EPOLLOUT armed
  bool connecting = false;  // an outgoing connect not yet completed
};

/// The epoll transport's worker. Thread: everything but the WorkerBase wake API runs on the
/// worker's own thread.
class EpollWorker final : public ConnectionDriver<EpollWorker, EpollIo> {
 public:
  EpollWorker(unsigned index, broker::Broker& broker, std::vector<Listener> listeners);
  ~EpollWorker() override;

  // The transport's part of ConnectionDriver.
  std::optional<size_t> write_some(Connection& c, std::string_view bytes);
  std::optional<size_t> write_final(Connection& c, std::string_view bytes) { return write_some(c, bytes); }
  std::optional<size_t> write_gather(Connection& c, std::span<const std::string_view> runs);
  bool drained(const Connection&) const { return true; }  // the kernel holds what was sent
  void set_write_interest(Connection& c, bool want);
  bool shutdown_write(Connection& c);
  bool release(Connection& c);

  void add_listener(Listener l) override;
  void remove_listener(size_t slot, std::function<void()> done) override;

  /// Opens an outgoing connection to `addr` without blocking. Its Endpoint stack is built by
  /// `make` at once, so it can queue what it will say first (a CONNECT, a TLS ClientHello),
  /// written as soon as the connection is up. A refusal, or no answer within `timeout`,
  /// reaches the Endpoint through on_transport_error and then on_closed. Returns the
  /// connection's token, or why no connection could even be attempted. Thread: this worker
  /// (a task or timer posted to it).
  std::expected<uint64_t, std::string> connect(const sockaddr* addr, socklen_t len, std::string peer,
                                               util::Millis timeout, const EndpointFactory& make, util::TimePoint now);

 protected:
  void run() override;
  void notify() override;
  void tick(util::TimePoint now) override;

 private:
  void finish_connect(Connection& c, util::TimePoint now);
  void accept_from(size_t listener, util::TimePoint now);
  void read_from(Connection& c, util::TimePoint now);
  void set_listening(bool on);
  void watch_listener(size_t slot, bool on);

  std::vector<Listener> listeners_;  // by slot; a removed one keeps its slot with fd -1
  int epoll_fd_ = -1;
  int event_fd_ = -1;
  AcceptThrottle throttle_;
  bool listening_ = true;
  // Outgoing connections still connecting, with their deadlines (few, and only on a worker
  // that opens connections).
  struct Connecting {
    uint64_t token;
    util::TimePoint deadline;
    util::Millis timeout;
  };
  std::vector<Connecting> connecting_;
};

}  // namespace musqratt::net
