#pragma once
// The epoll worker: one thread, one epoll loop owning its connections for their whole life
// (FlashMQ's model). Wake-ups from other threads arrive through WorkerBase's inbox and an
// eventfd. The connection life cycle is ConnectionDriver's; this file is only epoll and
// socket calls.
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/accept_throttle.h"
#include "net/busy_poll.h"
#include "net/connection_driver.h"
#include "net/listener.h"
#include "net/io_batch.h"

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
  /// `batch_io`: a turn's reads and sends through an IoBatch when the kernel allows it.
  /// `busy_poll`: how long to poll for input before sleeping after a large turn (busy_poll.h).
  EpollWorker(unsigned index, broker::Broker& broker, std::vector<Listener> listeners, bool batch_io = true,
              std::chrono::microseconds busy_poll = {});
  ~EpollWorker() override;

  // The transport's part of ConnectionDriver.
  std::optional<size_t> write_some(Connection& c, std::string_view bytes);
  std::optional<size_t> write_final(Connection& c, std::string_view bytes) { return write_some(c, bytes); }
  std::optional<size_t> write_gather(Connection& c, std::span<const std::string_view> runs);
  // A turn's sends in one system call, when the kernel lets us (io_batch.h).
  bool queueing_writes() const { return io_.is_open(); }
  bool write_queue_full() const { return io_.full(); }
  bool queue_write(Connection& c, std::span<const std::string_view> runs);
  void submit_writes() { io_.submit(); }
  std::optional<size_t> queued_result(size_t i);
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
  void prepare() override;
  void run() override;
  void notify() override;
  void tick(util::TimePoint now) override;

 private:
  void finish_connect(Connection& c, util::TimePoint now);
  void accept_from(size_t listener, util::TimePoint now);
  /// A connection epoll found readable, and what else it reported.
  struct Readable {
    uint64_t token;
    uint32_t events;
  };
  void read_all(util::TimePoint now);
  void read_batch(std::span<const Readable> ready, util::TimePoint now);
  void read_from(Connection& c, util::TimePoint now);
  void after_read(Connection& c, ssize_t result, const uint8_t* data, util::TimePoint now);
  /// After a readable connection's read: the EPOLLOUT epoll reported with it, if it is still open.
  void after_event(const Readable& r);
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
  bool batch_io_;
  IoBatch io_;
  BusyPoll busy_poll_;
  std::vector<Readable> readable_;  // this turn's
  // The buffers of a batch of reads, one slice of kBatchRead bytes per read: touched only as
  // far as data arrives, so a worker that rarely has many readable connections at once keeps
  // most of it out of memory.
  std::unique_ptr<uint8_t[]> batch_reads_;
};

}  // namespace musqratt::net
