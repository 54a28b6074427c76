#pragma once
// The epoll worker: one thread, one epoll loop owning its connections for their whole life
// (FlashMQ's model). Wake-ups from other threads arrive through WorkerBase's inbox and an
// eventfd. The connection life cycle is ConnectionDriver's; this file is only epoll and
// socket calls.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "net/accept_throttle.h"
#include "net/connection_driver.h"
#include "net/listener.h"

namespace musqratt::net {

/// A connection's epoll state.
struct EpollIo {
  int fd = -1;
  bool want_write = false;  // EPOLLOUT armed
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
  bool drained(const Connection&) const { return true; }  // the kernel holds what was sent
  void set_write_interest(Connection& c, bool want);
  bool shutdown_write(Connection& c);
  bool release(Connection& c);

 protected:
  void run() override;
  void notify() override;

 private:
  void accept_from(size_t listener, util::TimePoint now);
  void read_from(Connection& c, util::TimePoint now);
  void set_listening(bool on);

  const std::vector<Listener> listeners_;
  int epoll_fd_ = -1;
  int event_fd_ = -1;
  AcceptThrottle throttle_;
  bool listening_ = true;
};

}  // namespace musqratt::net
