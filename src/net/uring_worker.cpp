#include "net/uring_worker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/accepted_socket.h"
#include "net/address.h"
#include "util/log.h"

namespace musqratt::net {

namespace {
// CQE user data: a connection's address with the operation in the low bits (Connection is
// 16-byte aligned), or one of these small loop tags.
constexpr uint64_t kEventTag = 1;
constexpr uint64_t kCancelTag = 2;  // results of cancel requests and shutdowns: ignored
constexpr uint64_t kAcceptTagBase = 16;  // + listener position
constexpr uint64_t kMaxTag = 1 << 16;
constexpr uint64_t kOpMask = 0x7;  // Connection is at least 8-byte aligned

constexpr unsigned kSqEntries = 1024;
constexpr unsigned kCqEntries = 16384;
constexpr unsigned kCqeBatch = 256;  // CQEs handled per loop turn
constexpr uint16_t kBufGroup = 0;
constexpr unsigned kBufCount = 512;      // provided buffers per worker (power of two)
constexpr size_t kBufSize = 16 * 1024;   // bytes per provided buffer
constexpr size_t kSingleRecv = 16 * 1024;
// Bytes fed to one connection's handler per loop turn (the epoll worker's one 64 KiB read): a
// flooding client cannot starve the others, and its input cannot outrun the output the turn
// produces. Beyond kMaxHeld buffers queued the multishot recv is cancelled, so unread data
// stays in the socket and TCP pushes back; it is re-armed once the queue is half empty.
constexpr size_t kReadBudget = 64 * 1024;
constexpr size_t kMaxHeld = 8;
constexpr size_t kRotateFrom = 4;  // connections a worker takes before it yields the accept

std::string errno_text(int err) { return std::string(strerror(err)); }

/// SQPOLL ring setups to try, best first; older kernels reject the newer flags with EINVAL.
/// (SQPOLL excludes the task-run flags: completions are not run by the submitting thread.)
/// With `attach_fd` the ring shares that ring's SQ thread, so N workers cost one polling
/// thread rather than N, which matters when there are no more cores than workers.
int init_sqpoll_ring(io_uring& ring, unsigned idle_ms, int attach_fd) {
  const unsigned variants[] = {IORING_SETUP_SUBMIT_ALL, 0};
  int r = -EINVAL;
  for (bool attach : {attach_fd >= 0, false}) {
    for (unsigned flags : variants) {
      io_uring_params p{};
      p.flags = flags | IORING_SETUP_SQPOLL | IORING_SETUP_CQSIZE | (attach ? IORING_SETUP_ATTACH_WQ : 0);
      p.cq_entries = kCqEntries;
      p.sq_thread_idle = idle_ms;
      p.wq_fd = attach ? static_cast<unsigned>(attach_fd) : 0;
      r = io_uring_queue_init_params(kSqEntries, &ring, &p);
      if (r == 0) return 0;
      if (r != -EINVAL) return r;  // EPERM and the like: SQPOLL itself is refused
    }
    if (!attach) break;
  }
  return r;
}

/// Ring setups to try, best first; older kernels reject the newer flags with EINVAL.
int init_ring(io_uring& ring, bool& disabled) {
  const unsigned variants[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED | IORING_SETUP_SUBMIT_ALL,
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
      0,
  };
  int r = -EINVAL;
  for (unsigned flags : variants) {
    io_uring_params p{};
    p.flags = flags | IORING_SETUP_CQSIZE;
    p.cq_entries = kCqEntries;
    r = io_uring_queue_init_params(kSqEntries, &ring, &p);
    if (r == 0) {
      disabled = (flags & IORING_SETUP_R_DISABLED) != 0;
      return 0;
    }
    if (r != -EINVAL) return r;  // EPERM, ENOSYS, ENOMEM: no use trying other flags
  }
  return r;
}
}  // namespace

std::expected<void, std::string> UringWorker::probe() {
  io_uring ring{};
  int r = io_uring_queue_init(8, &ring, 0);
  if (r < 0) return std::unexpected("io_uring_queue_init: " + errno_text(-r));
  io_uring_queue_exit(&ring);
  return {};
}

std::expected<void, std::string> UringWorker::probe_sqpoll() {
  io_uring ring{};
  int r = init_sqpoll_ring(ring, 10, -1);
  if (r < 0) return std::unexpected("io_uring_queue_init with IORING_SETUP_SQPOLL: " + errno_text(-r));
  io_uring_queue_exit(&ring);
  return {};
}

std::expected<std::unique_ptr<UringWorker>, std::string> UringWorker::create(unsigned index, broker::Broker& broker,
                                                                             std::vector<Listener> listeners,
                                                                             const UringSettings& settings,
                                                                             int attach_fd) {
  std::unique_ptr<UringWorker> w(new UringWorker(index, broker, std::move(listeners)));
  int r = -EINVAL;
  if (settings.sqpoll) {
    r = init_sqpoll_ring(w->ring_, settings.sqpoll_idle_ms, attach_fd);
    if (r == 0) {
      w->sqpoll_ = true;
      bool shared = (w->ring_.flags & IORING_SETUP_ATTACH_WQ) != 0;
      LOG_INFO("worker %u: io_uring SQPOLL active (%s, sleeps after %u ms idle)", index,
               shared ? "sharing the first worker's SQ thread" : "own SQ thread", settings.sqpoll_idle_ms);
    } else {
      LOG_WARN("worker %u: io_uring SQPOLL refused (%s): ring without SQPOLL", index, errno_text(-r).c_str());
    }
  }
  if (r < 0) r = init_ring(w->ring_, w->ring_disabled_);
  if (r < 0) return std::unexpected("io_uring_queue_init: " + errno_text(-r));
  w->ring_ok_ = true;
  w->event_fd_ = eventfd(0, EFD_CLOEXEC);  // blocking: the ring polls it
  if (w->event_fd_ < 0) return std::unexpected("eventfd: " + errno_text(errno));
  return w;
}

UringWorker::UringWorker(unsigned index, broker::Broker& broker, std::vector<Listener> listeners)
    : ConnectionDriver(index, broker), listeners_(std::move(listeners)),
      removed_when_accept_ends_(listeners_.size()),
      accept_armed_(listeners_.size(), false),
      accept_rotating_(listeners_.size(), false) {}

UringWorker::~UringWorker() {
  join();
  if (ring_ok_) io_uring_queue_exit(&ring_);  // cancels whatever is still outstanding
  connections_.clear();
  if (buf_ring_ != nullptr) munmap(buf_ring_, buf_ring_bytes_ + kBufCount * kBufSize);
  if (event_fd_ >= 0) close(event_fd_);
}

void UringWorker::notify() {
  uint64_t one = 1;
  ssize_t ignored = write(event_fd_, &one, sizeof one);
  (void)ignored;
}

io_uring_sqe* UringWorker::get_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {  // submission queue full: hand it to the kernel and retry
    io_uring_submit(&ring_);
    // With SQPOLL, submitting only wakes the SQ thread: wait until it has made room.
    if (sqpoll_) io_uring_sqring_wait(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void UringWorker::setup_buffer_ring() {
  // Multishot recv (6.0) came with IORING_OP_SEND_ZC; provided-buffer rings (5.19) are
  // detected by registering one.
  io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
  bool have_multishot = probe != nullptr && io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
  if (probe != nullptr) io_uring_free_probe(probe);
  if (!have_multishot) {
    LOG_INFO("worker %u: io_uring multishot recv unsupported: single-shot recv per turn", index_);
    return;
  }
  buf_ring_bytes_ = kBufCount * sizeof(io_uring_buf);
  void* mem = mmap(nullptr, buf_ring_bytes_ + kBufCount * kBufSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return;
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(mem);
  reg.ring_entries = kBufCount;
  reg.bgid = kBufGroup;
  int r = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (r != 0) {
    munmap(mem, buf_ring_bytes_ + kBufCount * kBufSize);
    LOG_INFO("worker %u: io_uring buffer ring unavailable (%s): single-shot recv per turn", index_,
             errno_text(-r).c_str());
    return;
  }
  buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
  buf_base_ = static_cast<uint8_t*>(mem) + buf_ring_bytes_;
  io_uring_buf_ring_init(buf_ring_);
  for (unsigned i = 0; i < kBufCount; ++i)
    io_uring_buf_ring_add(buf_ring_, buf_base_ + i * kBufSize, kBufSize, static_cast<unsigned short>(i),
                          io_uring_buf_ring_mask(kBufCount), static_cast<int>(i));
  io_uring_buf_ring_advance(buf_ring_, kBufCount);
  multishot_recv_ = true;
}

void UringWorker::recycle_buffer(uint16_t bid) {
  io_uring_buf_ring_add(buf_ring_, buf_base_ + size_t{bid} * kBufSize, kBufSize, bid,
                        io_uring_buf_ring_mask(kBufCount), 0);
  io_uring_buf_ring_advance(buf_ring_, 1);
}

void UringWorker::arm_event_read() {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_read(sqe, event_fd_, &event_value_, sizeof event_value_, 0);
  io_uring_sqe_set_data64(sqe, kEventTag);
}

void UringWorker::arm_accept(size_t i) {
  io_uring_sqe* sqe = get_sqe();
  if (multishot_accept_)
    io_uring_prep_multishot_accept(sqe, listeners_[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
  else
    io_uring_prep_accept(sqe, listeners_[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, kAcceptTagBase + i);
  accept_armed_[i] = true;
}

void UringWorker::arm_accepts() {
  for (size_t i = 0; i < listeners_.size(); ++i)
    if (!accept_armed_[i] && listeners_[i].fd >= 0) arm_accept(i);
}

void UringWorker::add_listener(Listener l) {
  listeners_.push_back(std::move(l));
  removed_when_accept_ends_.emplace_back();
  accept_armed_.push_back(false);
  accept_rotating_.push_back(false);
  // Armed at the end of this loop turn, unless accepting is paused.
}

void UringWorker::remove_listener(size_t slot, std::function<void()> done) {
  if (slot >= listeners_.size() || !accept_armed_[slot]) {
    if (slot < listeners_.size()) listeners_[slot].fd = -1;
    return done();
  }
  // The armed accept holds the socket open: it is cancelled, and the server may close the
  // socket once its last completion has arrived (handle_accept).
  listeners_[slot].fd = -1;
  removed_when_accept_ends_[slot] = std::move(done);
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel64(sqe, kAcceptTagBase + slot, 0);
  io_uring_sqe_set_data64(sqe, kCancelTag);
}

void UringWorker::arm_recv(Connection& c) {
  io_uring_sqe* sqe = get_sqe();
  if (multishot_recv_) {
    io_uring_prep_recv_multishot(sqe, c.io.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufGroup;
  } else {
    if (c.io.recv_buf.empty()) c.io.recv_buf.resize(kSingleRecv);
    io_uring_prep_recv(sqe, c.io.fd, c.io.recv_buf.data(), c.io.recv_buf.size(), 0);
  }
  io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(&c) | kRecv);
  c.io.recv_armed = true;
  ++c.io.ops;
}

void UringWorker::cancel(Connection& c, Op op) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel64(sqe, reinterpret_cast<uint64_t>(&c) | op, 0);
  io_uring_sqe_set_data64(sqe, kCancelTag);
}

void UringWorker::run() {
  static_assert(alignof(Connection) >= 8, "op tags live in the low bits of a Connection's address");
  if (ring_disabled_) {
    // SINGLE_ISSUER binds the ring to the thread that enables it: this one.
    // (liburing 2.3 declares io_uring_enable_rings() but does not export it.)
    long r = syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
    if (r < 0) LOG_ERROR("worker %u: enabling the io_uring: %s", index_, errno_text(errno).c_str());
  }
  setup_buffer_ring();
  arm_event_read();
  arm_accepts();

  io_uring_cqe* cqes[kCqeBatch];
  while (!stop_requested()) {
    __kernel_timespec ts{};
    ts.tv_nsec = 250'000'000;
    io_uring_cqe* first = nullptr;
    wait_begins();
    int r = rx_backlog_.empty() ? io_uring_submit_and_wait_timeout(&ring_, &first, 1, &ts, nullptr)
                                : io_uring_submit_and_wait(&ring_, 0);  // queued input: no waiting
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN)
      LOG_WARN("worker %u: io_uring wait: %s", index_, errno_text(-r).c_str());
    util::TimePoint now = util::now();
    wait_ends(now);
    ++turn_;
    // Input held back in earlier turns comes first, in order, each within its budget.
    if (!rx_backlog_.empty()) {
      std::vector<uint64_t> backlog;
      backlog.swap(rx_backlog_);
      for (uint64_t t : backlog) {
        Connection* c = find(t);
        if (c == nullptr || c->released) continue;
        c->io.in_backlog = false;
        drain_rx(*c, now);
      }
    }
    unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kCqeBatch);
    for (unsigned i = 0; i < n; ++i) handle_cqe(*cqes[i], now);
    io_uring_cq_advance(&ring_, n);
    run_local_work(now);
    if (now >= accept_retry_at_ && !throttle_.paused(now)) arm_accepts();
    // One send submission per connection per loop turn, then recvs to re-arm.
    flush_dirty(now);
    for (uint64_t t : to_rearm_)
      if (Connection* c = find(t)) rearm(*c);
    to_rearm_.clear();
    flush_remote_wakes();
  }
  // Let sends in flight finish (briefly), so the shutdown notices follow them in order.
  draining_ = true;
  util::TimePoint deadline = util::now() + util::Millis(200);
  auto sending = [this] {
    for (auto& [token, c] : connections_)
      if (!c.released && c.io.send_inflight) return true;
    return false;
  };
  while (sending() && util::now() < deadline) {
    __kernel_timespec ts{};
    ts.tv_nsec = 10'000'000;
    io_uring_cqe* first = nullptr;
    io_uring_submit_and_wait_timeout(&ring_, &first, 1, &ts, nullptr);
    unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kCqeBatch);
    for (unsigned i = 0; i < n; ++i)
      if (io_uring_cqe_get_data64(cqes[i]) >= kMaxTag) handle_cqe(*cqes[i], util::now());
    io_uring_cq_advance(&ring_, n);
  }
  shutdown_connections(util::now());
  io_uring_submit(&ring_);
}

void UringWorker::handle_cqe(const io_uring_cqe& cqe, util::TimePoint now) {
  uint64_t data = io_uring_cqe_get_data64(&cqe);
  if (data < kMaxTag) {
    if (data == kEventTag) {
      if (cqe.res < 0 && cqe.res != -EINTR && cqe.res != -EAGAIN && cqe.res != -ECANCELED)
        LOG_WARN("worker %u: eventfd read: %s", index_, errno_text(-cqe.res).c_str());
      arm_event_read();
      take_inbox(inbox_swap_);
      process_wakes(inbox_swap_, now);
      inbox_swap_.clear();
    } else if (data >= kAcceptTagBase && data - kAcceptTagBase < listeners_.size()) {
      handle_accept(data - kAcceptTagBase, cqe, now);
    }
    return;
  }
  auto* c = reinterpret_cast<Connection*>(data & ~kOpMask);
  switch (data & kOpMask) {
    case kRecv: handle_recv(*c, cqe, now); break;
    case kSend: handle_send(*c, cqe, now); break;
    default: break;
  }
}

void UringWorker::handle_accept(size_t i, const io_uring_cqe& cqe, util::TimePoint now) {
  if (!(cqe.flags & IORING_CQE_F_MORE)) {
    accept_armed_[i] = false;  // re-armed at the turn's end, unless removed
    accept_rotating_[i] = false;
    if (auto done = std::move(removed_when_accept_ends_[i])) {
      removed_when_accept_ends_[i] = nullptr;
      done();
    }
  }
  if (cqe.res < 0) {
    int err = -cqe.res;
    if (err == EINVAL && multishot_accept_) {
      LOG_INFO("worker %u: io_uring multishot accept unsupported: single-shot accept", index_);
      multishot_accept_ = false;
    } else if (AcceptThrottle::is_exhaustion(err) && listeners_[i].fd >= 0) {
      throttle_.on_exhausted(listeners_[i].fd, err, broker_.stats(), now);
      if (accept_armed_[i]) {  // stop the multishot accept until the pause is over
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_cancel64(sqe, kAcceptTagBase + i, 0);
        io_uring_sqe_set_data64(sqe, kCancelTag);
      }
    } else if (err != EAGAIN && err != EINTR && err != ECONNABORTED && err != ECANCELED) {
      LOG_WARN_LIMITED("net.accept", "accept failed: %s", errno_text(err).c_str());
      accept_retry_at_ = now + util::Millis(100);
    }
    return;
  }
  throttle_.on_accepted();
  if (accept_armed_[i] && !accept_rotating_[i] && listeners_[i].fd >= 0 && connection_count() >= kRotateFrom) {
    // A listener's multishot accept keeps its place in the socket's wait queue, so the
    // worker that armed first would take every connection. Once it has a few, re-arming
    // puts it behind the others: connections spread over the workers. (A client's
    // successive connections stay on one worker at first, so a DISCONNECT is handled before
    // the same client's next CONNECT, as a single-threaded broker would.)
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, kAcceptTagBase + i, 0);
    io_uring_sqe_set_data64(sqe, kCancelTag);
    accept_rotating_[i] = true;
  }
  int fd = cqe.res;
  tune_accepted_socket(fd, listeners_[i].accepted);
  std::string peer = peer_name(fd);
  LOG_DEBUG("worker %u: accepted connection from %s", index_, peer.c_str());
  UringIo io;
  io.fd = fd;
  Connection& c = add(next_token(), std::move(io), listeners_[i], std::move(peer), now);
  arm_recv(c);
}

void UringWorker::handle_recv(Connection& c, const io_uring_cqe& cqe, util::TimePoint now) {
  bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  if (!more) {
    c.io.recv_armed = false;
    if (!c.released) to_rearm_.push_back(c.token);
  }
  int res = cqe.res;
  if (res > 0) {
    if (cqe.flags & IORING_CQE_F_BUFFER) {
      uint16_t bid = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
      if (c.released || draining_) {
        recycle_buffer(bid);
      } else {
        c.io.rx_queue.emplace_back(bid, static_cast<uint32_t>(res));
        drain_rx(c, now);
        if (more && !c.io.recv_cancelling && c.io.rx_queue.size() - c.io.rx_head >= kMaxHeld) {
          cancel(c, kRecv);
          c.io.recv_cancelling = true;
        }
      }
    } else if (!c.released && !draining_) {
      received(c, {c.io.recv_buf.data(), static_cast<size_t>(res)}, now);
    }
  } else if (res == -ECANCELED && c.io.recv_cancelling) {
    // stopped because too many buffers were held: re-armed once they are consumed
  } else if (!c.released) {
    int err = -res;
    bool transient = err == ENOBUFS || err == EAGAIN || err == EINTR;
    if ((res == 0 || !transient) && c.io.rx_head < c.io.rx_queue.size() && !draining_) {
      drain_rx(c, now, /*all=*/true);  // what came before the end of the stream goes first
    }
    if (c.released) {
      // closed while its last input was handled
    } else if (res == 0) {
      ended(c, now);  // orderly shutdown by the peer
    } else if (transient) {
      // out of provided buffers (or spurious): re-armed at the turn's end
    } else if (err == EINVAL && multishot_recv_) {
      LOG_INFO("worker %u: io_uring multishot recv refused: single-shot recv per turn", index_);
      multishot_recv_ = false;
    } else {
      ended(c, now);
    }
  }
  if (!more) {
    c.io.recv_cancelling = false;
    op_done(c);
  }
}

void UringWorker::drain_rx(Connection& c, util::TimePoint now, bool all) {
  UringIo& io = c.io;
  if (io.rx_turn != turn_) {
    io.rx_turn = turn_;
    io.rx_bytes = 0;
  }
  while (io.rx_head < io.rx_queue.size() && (all || io.rx_bytes < kReadBudget) && !c.released) {
    auto [bid, len] = io.rx_queue[io.rx_head++];
    received(c, {buf_base_ + size_t{bid} * kBufSize, len}, now);
    recycle_buffer(bid);
    io.rx_bytes += len;
  }
  if (c.released) return;
  if (io.rx_head == io.rx_queue.size()) {
    io.rx_queue.clear();
    io.rx_head = 0;
    if (!io.recv_armed) to_rearm_.push_back(c.token);
  } else if (!io.in_backlog) {
    io.in_backlog = true;
    rx_backlog_.push_back(c.token);
  }
}

void UringWorker::release_rx(Connection& c) {
  for (size_t i = c.io.rx_head; i < c.io.rx_queue.size(); ++i) recycle_buffer(c.io.rx_queue[i].first);
  c.io.rx_queue.clear();
  c.io.rx_head = 0;
}

void UringWorker::rearm(Connection& c) {
  if (c.released || c.io.recv_armed || draining_) return;
  if (c.io.rx_queue.size() - c.io.rx_head <= kMaxHeld / 2) arm_recv(c);
}

void UringWorker::submit_send(Connection& c) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_send(sqe, c.io.fd, c.io.send_buf.data() + c.io.send_off, c.io.send_buf.size() - c.io.send_off,
                     MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(&c) | kSend);
  c.io.send_inflight = true;
  ++c.io.ops;
}

std::optional<size_t> UringWorker::write_some(Connection& c, std::string_view bytes) {
  return write_gather(c, std::span<const std::string_view>(&bytes, 1));
}

std::optional<size_t> UringWorker::write_gather(Connection& c, std::span<const std::string_view> runs) {
  UringIo& io = c.io;
  if (io.send_inflight) return 0;  // its completion marks the connection dirty
  if (io.send_off < io.send_buf.size()) {  // a short send: the rest goes first
    submit_send(c);
    return 0;
  }
  // The copy is stable while the kernel reads it; the Endpoint's own buffer may grow and
  // move meanwhile, and its held payloads are let go once taken. Gathered, a large payload is
  // copied once (here), not twice (into the Endpoint's buffer, then here).
  io.send_buf.clear();
  for (std::string_view r : runs) io.send_buf.append(r);
  io.send_off = 0;
  submit_send(c);
  return io.send_buf.size();
}

void UringWorker::handle_send(Connection& c, const io_uring_cqe& cqe, util::TimePoint now) {
  c.io.send_inflight = false;
  if (!c.released) {
    int res = cqe.res;
    if (res >= 0) {
      c.io.send_off += static_cast<size_t>(res);
      if (c.io.send_off >= c.io.send_buf.size()) {
        c.io.send_buf.clear();
        c.io.send_off = 0;
        mark_dirty(c);  // room for what the Endpoint has next
      } else {
        // A short send: the rest is ours alone (the Endpoint counted it as taken), so it goes
        // now; waiting for the Endpoint to have more output could wait forever.
        submit_send(c);
      }
    } else if (res == -EAGAIN || res == -EINTR) {
      submit_send(c);  // the same bytes again
    } else {
      close_now(c, now);  // broken; the node stays until op_done below
    }
  }
  op_done(c);
}

std::optional<size_t> UringWorker::write_final(Connection& c, std::string_view bytes) {
  // The ring is about to stop: a plain send, behind what a short send left over.
  if (c.io.send_inflight) return std::nullopt;
  std::string out = c.io.send_buf.substr(std::min(c.io.send_off, c.io.send_buf.size()));
  c.io.send_buf.clear();
  c.io.send_off = 0;
  out.append(bytes);
  ssize_t n = send(c.io.fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < static_cast<ssize_t>(out.size())) return std::nullopt;
  return bytes.size();
}

bool UringWorker::shutdown_write(Connection& c) {
  // Synchronous: it only queues a FIN behind the data already in the socket.
  return shutdown(c.io.fd, SHUT_WR) == 0;
}

bool UringWorker::release(Connection& c) {
  // Outstanding requests keep the socket open and (sends) read send_buf: cancel them; the
  // connection is freed when their last CQE arrives.
  if (c.io.recv_armed) cancel(c, kRecv);
  if (c.io.send_inflight) cancel(c, kSend);
  release_rx(c);
  close(c.io.fd);
  c.io.fd = -1;
  return c.io.ops == 0;
}

void UringWorker::op_done(Connection& c) {
  if (--c.io.ops == 0 && c.released) forget(c.token);
}

}  // namespace musqratt::net
