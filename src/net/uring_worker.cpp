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

#include "net/address.h"
#include "util/log.h"

namespace musqratt::net {

namespace {
// CQE user data: a connection's address with the operation in the low bits (Connection is
// 16-byte aligned), or one of these small loop tags.
constexpr uint64_t kEventTag = 1;
constexpr uint64_t kCancelTag = 2;  // results of cancel requests: ignored
constexpr uint64_t kAcceptTagBase = 16;  // + listener position
constexpr uint64_t kMaxTag = 1 << 16;
constexpr uint64_t kOpMask = 0xF;

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
                                                                             std::vector<int> listeners,
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

UringWorker::UringWorker(unsigned index, broker::Broker& broker, std::vector<int> listeners)
    : WorkerBase(index, broker), listeners_(std::move(listeners)),
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
    io_uring_prep_multishot_accept(sqe, listeners_[i], nullptr, nullptr, SOCK_CLOEXEC);
  else
    io_uring_prep_accept(sqe, listeners_[i], nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, kAcceptTagBase + i);
  accept_armed_[i] = true;
}

void UringWorker::arm_recv(Connection& c) {
  io_uring_sqe* sqe = get_sqe();
  if (multishot_recv_) {
    io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufGroup;
  } else {
    if (c.recv_buf.empty()) c.recv_buf.resize(kSingleRecv);
    io_uring_prep_recv(sqe, c.fd, c.recv_buf.data(), c.recv_buf.size(), 0);
  }
  io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(&c) | kRecv);
  c.recv_armed = true;
  ++c.ops;
}

void UringWorker::mark_dirty(Connection& c) {
  if (!c.dirty) {
    c.dirty = true;
    dirty_.push_back(c.token);
  }
}

void UringWorker::run() {
  if (ring_disabled_) {
    // SINGLE_ISSUER binds the ring to the thread that enables it: this one.
    // (liburing 2.3 declares io_uring_enable_rings() but does not export it.)
    long r = syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
    if (r < 0) LOG_ERROR("worker %u: enabling the io_uring: %s", index_, errno_text(errno).c_str());
  }
  setup_buffer_ring();
  arm_event_read();
  for (size_t i = 0; i < listeners_.size(); ++i) arm_accept(i);

  io_uring_cqe* cqes[kCqeBatch];
  while (!stop_requested()) {
    __kernel_timespec ts{};
    ts.tv_nsec = 250'000'000;
    io_uring_cqe* first = nullptr;
    int r = rx_backlog_.empty() ? io_uring_submit_and_wait_timeout(&ring_, &first, 1, &ts, nullptr)
                                : io_uring_submit_and_wait(&ring_, 0);  // queued input: no waiting
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN)
      LOG_WARN("worker %u: io_uring wait: %s", index_, errno_text(-r).c_str());
    util::TimePoint now = util::now();
    ++turn_;
    // Input held back in earlier turns comes first, in order, each within its budget.
    if (!rx_backlog_.empty()) {
      std::vector<uint64_t> backlog;
      backlog.swap(rx_backlog_);
      for (uint64_t t : backlog) {
        auto it = connections_.find(t);
        if (it == connections_.end() || it->second->closed) continue;
        it->second->in_backlog = false;
        drain_rx(*it->second, now);
      }
    }
    unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kCqeBatch);
    for (unsigned i = 0; i < n; ++i) handle_cqe(*cqes[i], now);
    io_uring_cq_advance(&ring_, n);
    run_local_work(now);
    if (now >= accept_retry_at_)
      for (size_t i = 0; i < listeners_.size(); ++i)
        if (!accept_armed_[i]) arm_accept(i);
    // One send submission (and recv re-arm) per connection per loop turn.
    for (size_t i = 0; i < dirty_.size(); ++i) {
      auto it = connections_.find(dirty_[i]);
      if (it == connections_.end()) continue;
      it->second->dirty = false;
      flush(*it->second, now);
    }
    dirty_.clear();
    flush_remote_wakes();
  }
  shutdown_connections();
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
    case kRecv:
      handle_recv(*c, cqe, now);
      break;
    case kSend:
      handle_send(*c, cqe, now);
      break;
    default:
      break;
  }
}

void UringWorker::handle_accept(size_t i, const io_uring_cqe& cqe, util::TimePoint now) {
  if (!(cqe.flags & IORING_CQE_F_MORE)) {
    accept_armed_[i] = false;  // re-armed at the turn's end
    accept_rotating_[i] = false;
  }
  if (cqe.res < 0) {
    int err = -cqe.res;
    if (err == EINVAL && multishot_accept_) {
      LOG_INFO("worker %u: io_uring multishot accept unsupported: single-shot accept", index_);
      multishot_accept_ = false;
    } else if (err != EAGAIN && err != EINTR && err != ECONNABORTED && err != ECANCELED) {
      LOG_WARN("accept failed: %s", errno_text(err).c_str());
      accept_retry_at_ = now + util::Millis(100);  // EMFILE and the like: do not spin
    }
    return;
  }
  if (accept_armed_[i] && !accept_rotating_[i] && connections_.size() >= kRotateFrom) {
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
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto c = std::make_unique<Connection>();
  c->fd = fd;
  c->token = next_token();
  std::string peer = peer_name(fd);
  c->handler = std::make_unique<broker::SessionDriver>(broker_, this, c->token, peer, now);
  c->tls = tls_stream_for(tls_listeners_, listeners_[i]);
  LOG_DEBUG("worker %u: accepted connection from %s", index_, peer.c_str());
  Connection& ref = *c;
  connections_.emplace(c->token, std::move(c));
  arm_recv(ref);
}

void UringWorker::handle_recv(Connection& c, const io_uring_cqe& cqe, util::TimePoint now) {
  bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  if (!more) c.recv_armed = false;
  int res = cqe.res;
  if (!more && !c.closed) mark_dirty(c);  // flush() re-arms it
  if (res > 0) {
    if (cqe.flags & IORING_CQE_F_BUFFER) {
      uint16_t bid = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
      if (c.closed || draining_) {
        recycle_buffer(bid);
      } else {
        c.rx_queue.emplace_back(bid, static_cast<uint32_t>(res));
        drain_rx(c, now);
        if (more && !c.recv_cancelling && c.rx_queue.size() - c.rx_head >= kMaxHeld) {
          io_uring_sqe* sqe = get_sqe();
          io_uring_prep_cancel64(sqe, reinterpret_cast<uint64_t>(&c) | kRecv, 0);
          io_uring_sqe_set_data64(sqe, kCancelTag);
          c.recv_cancelling = true;
        }
      }
    } else if (!c.closed && !draining_) {
      deliver(c, {c.recv_buf.data(), static_cast<size_t>(res)}, now);  // marks it dirty: the recv to re-arm
    }
  } else if (res == -ECANCELED && c.recv_cancelling) {
    // stopped because too many buffers were held: re-armed by flush() once they are consumed
  } else if (!c.closed) {
    int err = -res;
    if ((res == 0 || (err != ENOBUFS && err != EAGAIN && err != EINTR)) && c.rx_head < c.rx_queue.size() &&
        !draining_) {
      drain_rx(c, now, /*all=*/true);  // what came before the end of the stream goes first
    }
    if (res == 0) {
      close_connection(c, now);  // orderly shutdown by the peer
    } else if (err == ENOBUFS || err == EAGAIN || err == EINTR) {
      mark_dirty(c);  // out of provided buffers (or spurious): re-armed at the turn's end
    } else if (err == EINVAL && multishot_recv_) {
      LOG_INFO("worker %u: io_uring multishot recv refused: single-shot recv per turn", index_);
      multishot_recv_ = false;
      mark_dirty(c);
    } else {
      close_connection(c, now);
    }
  }
  if (!more) {
    c.recv_cancelling = false;
    op_done(c);
  }
}

void UringWorker::drain_rx(Connection& c, util::TimePoint now, bool all) {
  if (c.rx_turn != turn_) {
    c.rx_turn = turn_;
    c.rx_bytes = 0;
  }
  while (c.rx_head < c.rx_queue.size() && (all || c.rx_bytes < kReadBudget)) {
    auto [bid, len] = c.rx_queue[c.rx_head++];
    deliver(c, {buf_base_ + size_t{bid} * kBufSize, len}, now);
    recycle_buffer(bid);
    c.rx_bytes += len;
  }
  if (c.rx_head == c.rx_queue.size()) {
    c.rx_queue.clear();
    c.rx_head = 0;
  } else if (!c.in_backlog) {
    c.in_backlog = true;
    rx_backlog_.push_back(c.token);
  }
}

void UringWorker::deliver(Connection& c, std::span<const uint8_t> bytes, util::TimePoint now) {
  if (!c.tls) {
    c.handler->on_bytes(bytes, now);
  } else if (!c.tls_failed && c.tls->receive(bytes, *c.handler, now)) {
    c.tls_failed = true;  // flush() sends the queued alert, if any, then closes
  }
  mark_dirty(c);
}

void UringWorker::release_rx(Connection& c) {
  for (size_t i = c.rx_head; i < c.rx_queue.size(); ++i) recycle_buffer(c.rx_queue[i].first);
  c.rx_queue.clear();
  c.rx_head = 0;
}

void UringWorker::handle_send(Connection& c, const io_uring_cqe& cqe, util::TimePoint now) {
  c.send_inflight = false;
  if (!c.closed) {
    int res = cqe.res;
    if (res >= 0) {
      c.send_off += static_cast<size_t>(res);
      if (!c.tls) {  // TLS plaintext was consumed when it was encrypted
        broker::SessionDriver& h = *c.handler;
        h.consume_output(static_cast<size_t>(res));
        if (h.pending_output().empty()) h.on_output_drained(now);  // may encode more queued messages
      }
      mark_dirty(c);
    } else if (res == -EAGAIN || res == -EINTR) {
      mark_dirty(c);
    } else {
      close_connection(c, now);
    }
  }
  op_done(c);
}

void UringWorker::flush(Connection& c, util::TimePoint now) {
  if (c.closed) return;
  broker::SessionDriver& h = *c.handler;
  if (!c.send_inflight) {
    if (c.send_off >= c.send_buf.size()) fill_send_buf(c, now);
    // else: a short send; the rest of the copy is still the head of the output.
    if (c.send_off < c.send_buf.size()) {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_send(sqe, c.fd, c.send_buf.data() + c.send_off, c.send_buf.size() - c.send_off, MSG_NOSIGNAL);
      io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(&c) | kSend);
      c.send_inflight = true;
      ++c.ops;
    } else if (h.closing() || c.tls_failed) {
      close_connection(c, now);
      return;
    }
  }
  if (!c.recv_armed && !c.tls_failed && c.rx_queue.size() - c.rx_head <= kMaxHeld / 2) arm_recv(c);
}

void UringWorker::fill_send_buf(Connection& c, util::TimePoint now) {
  // The buffer is stable while the kernel reads it; the handler's own buffer (and the TLS
  // one) may grow and move meanwhile.
  c.send_off = 0;
  if (c.tls) {
    if (!c.tls_failed) c.tls->encrypt_output(*c.handler, now);
    c.tls->take_unsent(c.send_buf);
  } else {
    std::string_view out = c.handler->pending_output();
    c.send_buf.assign(out.data(), out.size());
  }
}

void UringWorker::close_connection(Connection& c, util::TimePoint now) {
  if (c.closed) return;
  c.closed = true;
  // Outstanding requests keep the socket open and (sends) read send_buf: cancel them; the
  // connection is freed when their last CQE arrives.
  if (c.recv_armed) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, reinterpret_cast<uint64_t>(&c) | kRecv, 0);
    io_uring_sqe_set_data64(sqe, kCancelTag);
  }
  if (c.send_inflight) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, reinterpret_cast<uint64_t>(&c) | kSend, 0);
    io_uring_sqe_set_data64(sqe, kCancelTag);
  }
  release_rx(c);
  close(c.fd);
  c.fd = -1;
  c.handler->on_closed(now);
  if (c.ops == 0) connections_.erase(c.token);
}

void UringWorker::op_done(Connection& c) {
  if (--c.ops == 0 && c.closed) connections_.erase(c.token);
}

void UringWorker::process_wakes(std::vector<uint64_t>& tokens, util::TimePoint now) {
  for (uint64_t t : tokens) {
    auto it = connections_.find(t);
    if (it == connections_.end() || it->second->closed) continue;
    it->second->handler->on_wake(now);
    mark_dirty(*it->second);
  }
}

void UringWorker::tick(util::TimePoint now) {
  for (auto& [token, c] : connections_) {
    if (c->closed) continue;
    c->handler->on_tick(now);
    if (c->handler->closing()) mark_dirty(*c);
  }
}

void UringWorker::shutdown_connections() {
  // Let sends in flight finish (briefly), so the shutdown notice follows them in order.
  draining_ = true;
  util::TimePoint deadline = util::now() + util::Millis(200);
  io_uring_cqe* cqes[kCqeBatch];
  auto sending = [this] {
    for (auto& [token, c] : connections_)
      if (!c->closed && c->send_inflight) return true;
    return false;
  };
  while (sending() && util::now() < deadline) {
    __kernel_timespec ts{};
    ts.tv_nsec = 10'000'000;
    io_uring_cqe* first = nullptr;
    io_uring_submit_and_wait_timeout(&ring_, &first, 1, &ts, nullptr);
    unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kCqeBatch);
    for (unsigned i = 0; i < n; ++i) {
      uint64_t data = io_uring_cqe_get_data64(cqes[i]);
      if (data >= kMaxTag) handle_cqe(*cqes[i], util::now());
    }
    io_uring_cq_advance(&ring_, n);
  }
  util::TimePoint now = util::now();
  std::vector<uint64_t> tokens;
  for (auto& [token, c] : connections_)
    if (!c->closed) tokens.push_back(token);
  for (uint64_t t : tokens) {
    auto it = connections_.find(t);
    if (it == connections_.end() || it->second->closed) continue;
    Connection& c = *it->second;
    c.handler->on_shutdown();
    if (!c.send_inflight) {
      // Best effort, the socket closes next. TLS: the rest of the ciphertext copy, then the
      // shutdown notice encrypted behind it (one send, so nothing can come between them).
      std::string tls_out;
      if (c.tls) {
        tls_out.assign(c.send_buf, std::min(c.send_off, c.send_buf.size()));
        c.tls->encrypt_output(*c.handler, now);
        tls_out += c.tls->unsent();
      }
      std::string_view out = c.tls ? std::string_view(tls_out) : c.handler->pending_output();
      if (!out.empty()) {
        ssize_t ignored = send(c.fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)ignored;
      }
    }
    close_connection(c, now);
  }
  io_uring_submit(&ring_);
}

}  // namespace musqratt::net
