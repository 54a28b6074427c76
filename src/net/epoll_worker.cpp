#include "net/epoll_worker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "broker/stats.h"
#include "net/address.h"
#include "util/log.h"

namespace musqratt::net {

namespace {
// epoll user data: tokens of connections have the worker index in the top byte and a sequence
// below; these two small values are never connection tokens.
constexpr uint64_t kEventFdTag = 0;
constexpr uint64_t kListenerTagBase = 1;  // + listener position
// 256 KiB: large messages arrive whole more often (fewer partial packets to buffer); the
// buffer is one per worker, so it costs nothing per connection.
constexpr size_t kReadChunk = 256 * 1024;
}  // namespace

EpollWorker::EpollWorker(unsigned index, broker::Broker& broker, std::vector<int> listeners)
    : WorkerBase(index, broker), listeners_(std::move(listeners)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kEventFdTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev);
  for (size_t i = 0; i < listeners_.size(); ++i) {
    // EPOLLEXCLUSIVE: one worker is woken per incoming connection, not all of them.
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = kListenerTagBase + i;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listeners_[i], &ev);
  }
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

void EpollWorker::mark_dirty(Connection& c) {
  if (!c.dirty) {
    c.dirty = true;
    dirty_.push_back(c.token);
  }
}

void EpollWorker::run() {
  std::vector<epoll_event> events(512);
  std::vector<uint64_t> inbox_swap;
  while (!stop_requested()) {
    int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 250);
    util::TimePoint now = util::now();
    bool woken = false;
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kEventFdTag) {
        woken = true;
        continue;
      }
      if (tag < kFirstTokenSeq) {
        accept_from(listeners_[tag - kListenerTagBase], now);
        continue;
      }
      auto it = connections_.find(tag);
      if (it == connections_.end()) continue;
      Connection& c = it->second;
      if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) && !read_from(c, now)) continue;
      if (events[i].events & EPOLLOUT) mark_dirty(c);
    }
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
    // One write per connection per loop turn, however many messages it was given.
    for (size_t i = 0; i < dirty_.size(); ++i) {
      auto it = connections_.find(dirty_[i]);
      if (it == connections_.end()) continue;
      it->second.dirty = false;
      flush(it->second, now);
    }
    dirty_.clear();
    flush_remote_wakes();
  }
  shutdown_connections();
}

void EpollWorker::process_wakes(std::vector<uint64_t>& tokens, util::TimePoint now) {
  for (uint64_t t : tokens) {
    auto it = connections_.find(t);
    if (it == connections_.end()) continue;
    it->second.handler.on_wake(now);
    mark_dirty(it->second);
  }
}

void EpollWorker::accept_from(int listener, util::TimePoint now) {
  for (int i = 0; i < 64; ++i) {
    int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        LOG_WARN("accept failed: %s", strerror(errno));
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint64_t token = next_token();
    std::string peer = peer_name(fd);
    auto [it, inserted] = connections_.try_emplace(token, fd, token, broker_, this, peer, now);
    Connection& c = it->second;
    c.tls = tls_stream_for(tls_listeners_, listener);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = token;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      close(fd);
      connections_.erase(it);
      continue;
    }
    LOG_DEBUG("worker %u: accepted connection from %s", index_, peer.c_str());
  }
}

bool EpollWorker::read_from(Connection& c, util::TimePoint now) {
  thread_local std::vector<uint8_t> buf(kReadChunk);
  // One read per connection per turn keeps a flooding client from starving the others.
  ssize_t n = recv(c.fd, buf.data(), buf.size(), 0);
  if (n > 0 && c.tls) {
    if (c.tls->receive({buf.data(), static_cast<size_t>(n)}, c.handler, now)) {
      std::string_view alert = c.tls->unsent();  // tells the peer why, if there is room
      if (!alert.empty()) {
        ssize_t ignored = send(c.fd, alert.data(), alert.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)ignored;
      }
      close_connection(c, now);
      return false;
    }
    mark_dirty(c);
    return true;
  }
  if (n > 0) {
    c.handler.on_bytes({buf.data(), static_cast<size_t>(n)}, now);
    mark_dirty(c);
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
  close_connection(c, now);
  return false;
}

void EpollWorker::arm_write(Connection& c, bool pending) {
  if (pending == c.want_write) return;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (pending ? uint32_t{EPOLLOUT} : 0u);
  ev.data.u64 = c.token;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
  c.want_write = pending;
}

bool EpollWorker::flush_tls(Connection& c, util::TimePoint now) {
  broker::SessionDriver& h = c.handler;
  while (true) {
    c.tls->encrypt_output(h, now);
    std::string_view out = c.tls->unsent();
    if (out.empty()) break;
    ssize_t n = send(c.fd, out.data(), out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      close_connection(c, now);
      return false;
    }
    c.tls->sent(static_cast<size_t>(n));
  }
  bool pending = c.tls->output_pending(h);
  if (h.closing() && !pending) {
    close_connection(c, now);
    return false;
  }
  arm_write(c, pending);
  return true;
}

bool EpollWorker::flush(Connection& c, util::TimePoint now) {
  if (c.tls) return flush_tls(c, now);
  broker::SessionDriver& h = c.handler;
  while (true) {
    std::string_view out = h.pending_output();
    if (out.empty()) break;
    ssize_t n = send(c.fd, out.data(), out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      close_connection(c, now);
      return false;
    }
    h.consume_output(static_cast<size_t>(n));
    if (h.pending_output().empty()) h.on_output_drained(now);  // may encode more queued messages
  }
  bool pending = !h.pending_output().empty();
  if (h.closing() && !pending) {
    close_connection(c, now);
    return false;
  }
  arm_write(c, pending);
  return true;
}

void EpollWorker::close_connection(Connection& c, util::TimePoint now) {
  uint64_t token = c.token;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  close(c.fd);
  c.handler.on_closed(now);
  connections_.erase(token);
}

void EpollWorker::tick(util::TimePoint now) {
  for (auto& [token, c] : connections_) {
    c.handler.on_tick(now);
    if (c.handler.closing()) mark_dirty(c);
  }
}

void EpollWorker::shutdown_connections() {
  util::TimePoint now = util::now();
  std::vector<uint64_t> tokens;
  for (auto& [token, c] : connections_) tokens.push_back(token);
  for (uint64_t t : tokens) {
    auto it = connections_.find(t);
    if (it == connections_.end()) continue;
    Connection& c = it->second;
    c.handler.on_shutdown();
    // The shutdown notice, encrypted on a TLS connection; best effort, the socket closes next.
    if (c.tls) c.tls->encrypt_output(c.handler, now);
    std::string_view out = c.tls ? c.tls->unsent() : c.handler.pending_output();
    if (!out.empty()) {
      ssize_t ignored = send(c.fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      (void)ignored;
    }
    close_connection(c, now);
  }
}

}  // namespace musqratt::net
