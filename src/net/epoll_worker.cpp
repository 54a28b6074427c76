#include "net/epoll_worker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "net/accepted_socket.h"
#include "net/address.h"
#include "util/log.h"

namespace musqratt::net {

namespace {
// epoll user data: tokens of connections have the worker index in the top byte and a sequence
// below; these small values are never connection tokens.
constexpr uint64_t kEventFdTag = 0;
constexpr uint64_t kListenerTagBase = 1;  // + listener position
// 256 KiB: large messages arrive whole more often (fewer partial packets to buffer); the
// buffer is one per worker, so it costs nothing per connection.
constexpr size_t kReadChunk = 256 * 1024;
// A read of a batch (io_batch.h): when several connections are readable in one turn, as is
// usual under load, each gets this much, and what stays in a socket is read the next turn.
// A lone readable connection gets kReadChunk.
constexpr size_t kBatchRead = 32 * 1024;
constexpr int kAcceptsPerTurn = 64;
}  // namespace

// The driver's flags share the last word of the epoll state (see Connection).
static_assert(sizeof(EpollWorker::Connection) == 24);

EpollWorker::EpollWorker(unsigned index, broker::Broker& broker, std::vector<Listener> listeners, bool batch_io,
                         std::chrono::microseconds busy_poll)
    : ConnectionDriver(index, broker), listeners_(std::move(listeners)), batch_io_(batch_io), busy_poll_(busy_poll) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kEventFdTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev);
  for (size_t i = 0; i < listeners_.size(); ++i) watch_listener(i, true);
}

EpollWorker::~EpollWorker() {
  join();
  if (event_fd_ >= 0) close(event_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

void EpollWorker::notify() {
  uint64_t one = 1;
  ssize_t ignored = write(event_fd_, &one, sizeof one);
  (void)ignored;
}

void EpollWorker::prepare() {
  // The ring is the thread's own (it is created here, on it).
  std::string why = batch_io_ ? io_.open() : "epoll_batch_io = false";
  if (why.empty()) {
    batch_reads_ = std::make_unique_for_overwrite<uint8_t[]>(IoBatch::kMaxCalls * kBatchRead);
    LOG_DEBUG("worker %u: a turn's reads and sends each go to the kernel in one io_uring_enter", index_);
  } else {
    LOG_INFO("worker %u: one recv and one sendmsg per connection per turn (not batched: %s)", index_, why.c_str());
  }
  if (busy_poll_.window().count() > 0)
    LOG_DEBUG("worker %u: after a turn that read or wrote %zu KiB or more it polls up to %lld us before sleeping", index_,
              BusyPoll::kAfterBytes / 1024, static_cast<long long>(busy_poll_.window().count()));
}

void EpollWorker::run() {
  std::vector<epoll_event> events(512);
  std::vector<uint64_t> inbox_swap;
  while (!stop_requested()) {
    wait_begins();
    const int room = static_cast<int>(events.size());
    int n = busy_poll_.before_sleeping([&] { return epoll_wait(epoll_fd_, events.data(), room, 0); });
    if (n <= 0) n = epoll_wait(epoll_fd_, events.data(), room, static_cast<int>(wait_budget(util::Millis(250)).count()));
    util::TimePoint now = util::now();
    wait_ends(now);
    bool woken = false;
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kEventFdTag) {
        woken = true;
        continue;
      }
      if (tag < kFirstTokenSeq) {
        accept_from(tag - kListenerTagBase, now);
        continue;
      }
      Connection* c = find(tag);
      if (c == nullptr || c->released) continue;
      if (c->io.connecting) {
        if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) finish_connect(*c, now);
        continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
        readable_.push_back({tag, events[i].events});  // read below, with the others
        continue;
      }
      if (events[i].events & EPOLLOUT) mark_dirty(*c);
    }
    read_all(now);
    // Wake-ups from other threads after this turn's input: a connection asked to hand its
    // session over first reads what its client already sent (a DISCONNECT, say).
    if (woken) {
      uint64_t v;
      ssize_t ignored = read(event_fd_, &v, sizeof v);
      (void)ignored;
      take_inbox(inbox_swap);
      process_wakes(inbox_swap, now);
      inbox_swap.clear();
    }
    run_local_work(now);
    if (!listening_ && !throttle_.paused(now)) set_listening(true);
    // Other workers hear of their messages before this one spends the turn's sends (one
    // system call per connection), so they deliver meanwhile; what the sends produce for
    // them (rare) goes at the end.
    flush_remote_wakes();
    flush_dirty(now);
    flush_remote_wakes();
  }
  shutdown_connections(util::now());
  if (busy_poll_.found() + busy_poll_.slept() > 0)
    LOG_DEBUG("worker %u: polled before sleeping %llu times, %llu of them found input", index_,
              static_cast<unsigned long long>(busy_poll_.found() + busy_poll_.slept()),
              static_cast<unsigned long long>(busy_poll_.found()));
}

void EpollWorker::watch_listener(size_t slot, bool on) {
  if (listeners_[slot].fd < 0) return;  // removed on a reload
  if (!on) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listeners_[slot].fd, nullptr);
    return;
  }
  // EPOLLEXCLUSIVE: one worker is woken per incoming connection, not all of them.
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ev.data.u64 = kListenerTagBase + slot;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listeners_[slot].fd, &ev);
}

void EpollWorker::set_listening(bool on) {
  // While accepting is paused the listeners leave the epoll set: a pending connection would
  // otherwise wake the loop again and again.
  for (size_t i = 0; i < listeners_.size(); ++i) watch_listener(i, on);
  listening_ = on;
}

void EpollWorker::add_listener(Listener l) {
  listeners_.push_back(std::move(l));
  if (listening_) watch_listener(listeners_.size() - 1, true);
}

void EpollWorker::remove_listener(size_t slot, std::function<void()> done) {
  if (slot < listeners_.size()) {
    if (listening_) watch_listener(slot, false);
    listeners_[slot].fd = -1;
  }
  done();  // out of the epoll set: nothing here uses the socket any more
}

void EpollWorker::accept_from(size_t index, util::TimePoint now) {
  if (index >= listeners_.size() || listeners_[index].fd < 0) return;
  const Listener& listener = listeners_[index];
  for (int i = 0; i < kAcceptsPerTurn; ++i) {
    int fd = accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (AcceptThrottle::is_exhaustion(err)) {
        throttle_.on_exhausted(listener.fd, err, broker_.stats(), now);
        if (listening_) set_listening(false);
      } else if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR && err != ECONNABORTED) {
        LOG_WARN_LIMITED("net.accept", "accept failed: %s", strerror(err));
      }
      return;
    }
    throttle_.on_accepted();
    tune_accepted_socket(fd, listener.accepted);
    uint64_t token = next_token();
    std::string peer = peer_name(fd);
    LOG_DEBUG("worker %u: accepted connection from %s", index_, peer.c_str());
    Connection& c = add(token, EpollIo{fd, false}, listener, std::move(peer), now);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = token;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) close_now(c, now);
  }
}

// One read per readable connection per turn keeps a flooding client from starving the others.
void EpollWorker::read_all(util::TimePoint now) {
  for (size_t i = 0; i < readable_.size(); i += IoBatch::kMaxCalls) {
    std::span<const Readable> ready(readable_.data() + i, std::min(IoBatch::kMaxCalls, readable_.size() - i));
    if (ready.size() > 1 && io_.is_open()) {
      read_batch(ready, now);
      continue;
    }
    for (const Readable& r : ready) {
      Connection* c = find(r.token);
      if (c == nullptr || c->released) continue;  // an earlier one's input closed it
      read_from(*c, now);
      after_event(r);
    }
  }
  readable_.clear();
}

void EpollWorker::after_event(const Readable& r) {
  Connection* c = find(r.token);  // the read may have closed it
  if (c != nullptr && !c->released && (r.events & EPOLLOUT)) mark_dirty(*c);
}

void EpollWorker::read_batch(std::span<const Readable> ready, util::TimePoint now) {
  for (size_t k = 0; k < ready.size(); ++k) {
    Connection* c = find(ready[k].token);
    // A connection an earlier batch's input closed keeps its slot with an empty read on no
    // descriptor (it fails with EBADF); its result is skipped below.
    int fd = c == nullptr || c->released ? -1 : c->io.fd;
    io_.add_recv(fd, {batch_reads_.get() + k * kBatchRead, fd < 0 ? 0 : kBatchRead});
  }
  io_.submit();
  for (size_t k = 0; k < ready.size(); ++k) {
    Connection* c = find(ready[k].token);
    // Only this loop ran since the reads; input an earlier connection's closed this one with
    // is dropped with it, as the socket would have been.
    if (c == nullptr || c->released) continue;
    after_read(*c, io_.result(k), batch_reads_.get() + k * kBatchRead, now);
    after_event(ready[k]);
  }
}

void EpollWorker::read_from(Connection& c, util::TimePoint now) {
  thread_local std::vector<uint8_t> buf(kReadChunk);
  ssize_t n = recv(c.io.fd, buf.data(), buf.size(), 0);
  after_read(c, n >= 0 ? n : -errno, buf.data(), now);
}

/// What a read gave: `result` bytes at `data`, 0 at the end of the stream, or -errno.
void EpollWorker::after_read(Connection& c, ssize_t result, const uint8_t* data, util::TimePoint now) {
  if (result > 0) {
    busy_poll_.moved(static_cast<size_t>(result));
    return received(c, {data, static_cast<size_t>(result)}, now);
  }
  if (result == -EAGAIN || result == -EWOULDBLOCK || result == -EINTR) return;
  if (result < 0) return failed(c, strerror(static_cast<int>(-result)), now);  // reset, timed out, ...
  ended(c, now);  // EOF
}

std::optional<size_t> EpollWorker::write_some(Connection& c, std::string_view bytes) {
  return write_gather(c, std::span<const std::string_view>(&bytes, 1));
}

std::optional<size_t> EpollWorker::write_gather(Connection& c, std::span<const std::string_view> runs) {
  if (c.io.connecting) return 0;
  std::array<iovec, kMaxRuns> iov;
  size_t count = std::min(runs.size(), iov.size());
  for (size_t i = 0; i < count; ++i) iov[i] = {const_cast<char*>(runs[i].data()), runs[i].size()};
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = count;
  while (true) {
    ssize_t n = sendmsg(c.io.fd, &msg, MSG_NOSIGNAL);
    if (n >= 0) {
      busy_poll_.moved(static_cast<size_t>(n));
      return static_cast<size_t>(n);
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (errno != EINTR) return std::nullopt;
  }
}

bool EpollWorker::queue_write(Connection& c, std::span<const std::string_view> runs) {
  static_assert(IoBatch::kMaxRuns >= kMaxRuns, "a queued send takes every run the driver gathers");
  if (c.io.connecting) return false;
  io_.add_send(c.io.fd, runs);
  return true;
}

std::optional<size_t> EpollWorker::queued_result(size_t i) {
  ssize_t r = io_.result(i);
  if (r >= 0) {
    busy_poll_.moved(static_cast<size_t>(r));
    return static_cast<size_t>(r);
  }
  if (r == -EAGAIN || r == -EWOULDBLOCK || r == -EINTR) return 0;  // EPOLLOUT tells when to go on
  return std::nullopt;
}

void EpollWorker::set_write_interest(Connection& c, bool want) {
  want = want || c.io.connecting;  // EPOLLOUT tells us the connect completed
  if (want == c.io.want_write) return;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (want ? uint32_t{EPOLLOUT} : 0u);
  ev.data.u64 = c.token;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.io.fd, &ev);
  c.io.want_write = want;
}

bool EpollWorker::shutdown_write(Connection& c) {
  set_write_interest(c, false);
  return shutdown(c.io.fd, SHUT_WR) == 0;
}

bool EpollWorker::release(Connection& c) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.io.fd, nullptr);
  close(c.io.fd);
  c.io.fd = -1;
  return true;
}

}  // namespace musqratt::net

namespace musqratt::net {

std::expected<uint64_t, std::string> EpollWorker::connect(const sockaddr* addr, socklen_t len, std::string peer,
                                                          util::Millis timeout, const EndpointFactory& make,
                                                          util::TimePoint now) {
  int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(std::string("socket: ") + strerror(errno));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  bool in_progress = false;
  while (::connect(fd, addr, len) != 0) {
    if (errno == EINTR) continue;
    if (errno == EINPROGRESS) {
      in_progress = true;
      break;
    }
    std::string err = strerror(errno);
    close(fd);
    return std::unexpected(err);
  }
  uint64_t token = next_token();
  Connection& c = add(token, EpollIo{fd, false, in_progress}, make, std::move(peer), now);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (in_progress ? uint32_t{EPOLLOUT} : 0u);
  ev.data.u64 = token;
  c.io.want_write = in_progress;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    std::string err = std::string("epoll_ctl: ") + strerror(errno);
    failed(c, err, now);
    return token;  // the Endpoint was told; it is the caller's connection, now closed
  }
  if (in_progress) connecting_.push_back({token, now + timeout, timeout});
  return token;
}

void EpollWorker::finish_connect(Connection& c, util::TimePoint now) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c.io.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) return failed(c, strerror(err), now);
  c.io.connecting = false;
  mark_dirty(c);  // what the Endpoint queued meanwhile goes out now
}

void EpollWorker::tick(util::TimePoint now) {
  if (!connecting_.empty()) {
    std::vector<Connecting> pending;
    pending.swap(connecting_);  // an Endpoint told of a failure may open another connection
    for (const Connecting& k : pending) {
      Connection* c = find(k.token);
      if (c == nullptr || c->released || !c->io.connecting) continue;
      if (now >= k.deadline) {
        failed(*c, "no answer within " + std::to_string(k.timeout.count()) + " ms (connect timeout)", now);
        continue;
      }
      connecting_.push_back(k);
    }
  }
  ConnectionDriver::tick(now);
}

}  // namespace musqratt::net
