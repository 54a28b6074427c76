#pragma once
// The io_uring worker: one thread, one ring owning its connections for their whole life, driving
// broker::SessionDriver exactly as the epoll worker does (one read and one write submission per
// connection per loop turn, back-pressure through the handler's pending output).
//
// Accepts: a multishot accept on every shared listener (several workers arm one each).
// Receives: a multishot recv per connection into a provided-buffer ring when the kernel has
// both (>= 6.0), else a single-shot recv into the connection's own buffer, re-armed once per
// turn. Sends: the handler's pending output is copied into the connection's send buffer (the
// handler's string may grow and move while the send is in flight) and consumed when the CQE
// says how much went out. TLS listeners: the same TlsStream as the epoll worker, between the
// received buffers and the handler, and between the handler and the send buffer. Wake-ups: an
// eventfd read through the ring. Timers: the wait's 250 ms timeout. With SQPOLL a kernel thread
// (one shared by all workers' rings) takes submissions without system calls.
#include <liburing.h>

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/accept_throttle.h"
#include "net/connection_driver.h"
#include "net/transport.h"

namespace musqratt::net {

/// A connection's io_uring state.
struct UringIo {
  int fd = -1;
  bool recv_armed = false;       // a recv (single or multishot) is outstanding
  bool send_inflight = false;    // send_buf is owned by the kernel until the CQE
  bool recv_cancelling = false;  // too many buffers held: the multishot recv is being stopped
  bool in_backlog = false;
  unsigned ops = 0;              // outstanding requests that carry this connection's address
  std::string send_buf;          // a stable copy of output taken from the Endpoint
  size_t send_off = 0;           // bytes of send_buf already sent
  std::vector<uint8_t> recv_buf; // single-shot mode only
  // Multishot mode: provided buffers received but not yet given to the Endpoint (the read
  // budget of the turn was spent), oldest first; the head is rx_queue[rx_head].
  std::vector<std::pair<uint16_t, uint32_t>> rx_queue;  // (buffer id, length)
  size_t rx_head = 0;
  uint64_t rx_turn = 0;   // the turn rx_bytes belongs to
  size_t rx_bytes = 0;    // bytes given to the Endpoint in that turn
};

/// The io_uring transport's worker. Thread: everything but the WorkerBase wake API runs on the
/// worker's own thread.
class UringWorker final : public ConnectionDriver<UringWorker, UringIo> {
 public:
  /// Creates the ring; fails with the reason when the kernel refuses io_uring (seccomp, sysctl
  /// kernel.io_uring_disabled, ENOSYS), so the caller can fall back to epoll. With
  /// `settings.sqpoll` the ring polls its submissions from a kernel thread, that of the ring
  /// `attach_fd` when there is one (IORING_SETUP_ATTACH_WQ); if the kernel refuses SQPOLL the
  /// ring is made without it and the reason logged.
  static std::expected<std::unique_ptr<UringWorker>, std::string> create(unsigned index, broker::Broker& broker,
                                                                         std::vector<Listener> listeners,
                                                                         const UringSettings& settings,
                                                                         int attach_fd);
  /// Whether io_uring can be used at all here; the error text says why not.
  static std::expected<void, std::string> probe();
  /// Whether the kernel lets this process create an SQPOLL ring.
  static std::expected<void, std::string> probe_sqpoll();
  ~UringWorker() override;
  int ring_fd() const { return ring_ok_ ? ring_.ring_fd : -1; }

  // The transport's part of ConnectionDriver.
  std::optional<size_t> write_some(Connection& c, std::string_view bytes);
  std::optional<size_t> write_gather(Connection& c, std::span<const std::string_view> runs);
  std::optional<size_t> write_final(Connection& c, std::string_view bytes);
  void set_write_interest(Connection&, bool) {}  // a send's completion marks the connection dirty
  bool drained(const Connection& c) const { return !c.io.send_inflight && c.io.send_off >= c.io.send_buf.size(); }
  bool shutdown_write(Connection& c);
  bool release(Connection& c);

  void add_listener(Listener l) override;
  void remove_listener(size_t slot, std::function<void()> done) override;

 protected:
  void run() override;
  void notify() override;

 private:
  enum Op : uint64_t { kRecv = 1, kSend = 2 };

  UringWorker(unsigned index, broker::Broker& broker, std::vector<Listener> listeners);
  io_uring_sqe* get_sqe();
  void setup_buffer_ring();
  void arm_event_read();
  void arm_accept(size_t listener);
  /// Arms every listener's accept that is not armed (and not removed).
  void arm_accepts();
  void arm_recv(Connection& c);
  void submit_send(Connection& c);
  void handle_cqe(const io_uring_cqe& cqe, util::TimePoint now);
  void handle_accept(size_t listener, const io_uring_cqe& cqe, util::TimePoint now);
  void handle_recv(Connection& c, const io_uring_cqe& cqe, util::TimePoint now);
  void handle_send(Connection& c, const io_uring_cqe& cqe, util::TimePoint now);
  void recycle_buffer(uint16_t bid);
  /// Gives queued buffers to the Endpoint within the turn's read budget.
  void drain_rx(Connection& c, util::TimePoint now, bool all = false);
  void release_rx(Connection& c);
  /// Re-arms the recv of connections visited this turn (after ConnectionDriver's flush).
  void rearm(Connection& c);
  /// Drops one outstanding op; frees a released connection when none remain.
  void op_done(Connection& c);
  void cancel(Connection& c, Op op);

  std::vector<Listener> listeners_;  // by slot; a removed one keeps its slot with fd -1
  // Per slot: a removal waiting for the listener's accept to end (its cancel's last CQE).
  std::vector<std::function<void()>> removed_when_accept_ends_;
  io_uring ring_{};
  bool ring_ok_ = false;
  bool ring_disabled_ = false;  // created with IORING_SETUP_R_DISABLED: enable on the worker
  bool sqpoll_ = false;         // created with IORING_SETUP_SQPOLL
  bool draining_ = false;       // stopping: received bytes are dropped
  int event_fd_ = -1;
  uint64_t event_value_ = 0;
  bool multishot_accept_ = true;
  std::vector<bool> accept_armed_;
  std::vector<bool> accept_rotating_;  // a cancel is on its way to re-arm at the tail
  AcceptThrottle throttle_;
  util::TimePoint accept_retry_at_{};
  // Provided-buffer ring for multishot recv.
  bool multishot_recv_ = false;
  io_uring_buf_ring* buf_ring_ = nullptr;
  size_t buf_ring_bytes_ = 0;
  uint8_t* buf_base_ = nullptr;
  std::vector<uint64_t> inbox_swap_;
  std::vector<uint64_t> rx_backlog_;  // connections with queued received buffers
  std::vector<uint64_t> to_rearm_;    // connections whose recv may need re-arming
  uint64_t turn_ = 0;
};

}  // namespace musqratt::net
