#include "engine.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "procfs.hpp"

namespace mqb {

int64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr int64_t kIdleWaitNs = 5'000'000;  // how often an idle engine looks at the phase
// queue: a stalled subscriber's receive buffer, small so that most queued messages stay in the broker.
constexpr int kStalledRcvBuf = 4096;
}  // namespace

Engine::Engine(const Options& o, Shared& sh, const sockaddr_storage& addr, const sockaddr_storage& sub_addr,
               socklen_t addrlen, int concurrency)
    : o_(o), sh_(sh), addr_(addr), sub_addr_(sub_addr), addrlen_(addrlen), concurrency_(concurrency < 1 ? 1 : concurrency) {
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  if (ep_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
}

Engine::~Engine() {
  for (auto& c : clients_)
    if (c->fd >= 0) ::close(c->fd);
  if (ep_ >= 0) ::close(ep_);
}

void Engine::add(std::unique_ptr<Client> c) {
  if (c->role == Role::pub) pubs_.push_back(c.get());
  clients_.push_back(std::move(c));
}

void Engine::enter(Phase ph, int64_t now) {
  switch (ph) {
    case Phase::connect_subs:
    case Phase::subs_reconnect:
      for (auto& c : clients_)
        if (c->role != Role::pub) {
          c->clean = !(o_.scenario == Scenario::persist);
          to_connect_.push_back(c.get());
        }
      break;
    case Phase::connect_pubs:
      for (Client* c : pubs_) to_connect_.push_back(c);
      break;
    case Phase::subs_offline:
      for (auto& c : clients_)
        if (c->role == Role::sub && c->state == State::ready) {
          wire::disconnect(c->out, o_.v5);
          flush(c.get(), now);
          close_client(c.get(), false);
        }
      break;
    case Phase::run: {
      running_ = true;
      run_start_ = sh_.run_start_ns;
      deadline_ = sh_.publish_end_ns;
      stats.window_start_ns = sh_.window_start_ns;
      stats.window_end_ns = sh_.window_end_ns;
      rate_per_ns_ = o_.rate > 0 ? o_.rate / double(o_.publishers) / 1e9 : 0;
      std::size_t len = pubs_.empty() ? 0 : pubs_.front()->tmpl.bytes.size();
      // 64 KiB, or 16 messages when they are large: with room for only two, a 16 KiB flood
      // made a system call per four messages and the generator, not the broker, set the rate.
      high_water_ = std::max<std::size_t>(64 * 1024, 16 * len);
      if (rate_per_ns_ > 0)
        for (Client* c : pubs_) {
          if (c->state == State::ready) push_due(c, due_at(c));
          else finishing_.push_back(c);
        }
      break;
    }
    case Phase::sample:
      counters.kernel_queued_bytes.store(kernel_queued_bytes(), std::memory_order_release);
      break;
    case Phase::disconnect:
      running_ = false;
      to_connect_.clear();
      for (auto& c : clients_)
        if (c->fd >= 0) {
          if (c->state == State::ready) {
            wire::disconnect(c->out, o_.v5, !c->clean);
            flush(c.get(), now);
          }
          close_client(c.get(), false);
        }
      break;
    default:
      break;
  }
}

void Engine::start_connects(int64_t now) {
  while (handshakes_ < concurrency_ && !to_connect_.empty()) {
    Client* c = to_connect_.front();
    to_connect_.pop_front();
    begin_connect(c, now);
  }
}

void Engine::begin_connect(Client* c, int64_t now) {
  c->in.clear();
  c->out.clear();
  c->ws_out.clear();
  c->ws = o_.websocket_path.empty() ? nullptr : std::make_unique<WsFraming>();
  c->closing = false;
  c->armed_out = true;
  c->inflight = 0;
  c->connect_start = now;
  ++handshakes_;
  int fd = ::socket(addr_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    c->state = State::closed;
    handshake_done(c, false, now);
    return;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (o_.scenario == Scenario::queue && c->role == Role::sub) {
    // Before connect(), so the window it announces stays small.
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kStalledRcvBuf, sizeof kStalledRcvBuf);
  }
  c->fd = fd;
  c->state = State::tcp_connecting;
  const sockaddr_storage& to = c->role == Role::pub ? addr_ : sub_addr_;
  int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&to), addrlen_);
  if (r < 0 && errno != EINPROGRESS) {
    close_client(c, true);
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.ptr = c;
  if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) < 0) close_client(c, true);
}

void Engine::handshake_done(Client* c, bool ok, int64_t now) {
  --handshakes_;
  if (ok) {
    ++stats.connected;
    stats.connect.record(uint64_t(now - c->connect_start));
  } else {
    ++stats.connect_errors;
  }
}

void Engine::close_client(Client* c, bool error) {
  State was = c->state;
  if (c->fd >= 0) {
    ::close(c->fd);  // also removes it from the epoll set
    c->fd = -1;
  }
  c->state = State::closed;
  c->out.clear();
  c->in.clear();
  if (was == State::closed || was == State::init) return;
  ++stats.closed;
  if (was != State::ready) {
    handshake_done(c, false, 0);
  } else if (error && !c->closing) {
    ++stats.disconnects;
  }
  c->closing = false;
}

void Engine::set_out_interest(Client* c, bool want) {
  if (c->armed_out == want || c->fd < 0) return;
  epoll_event ev{};
  const uint32_t in = c->stalled ? 0u : uint32_t(EPOLLIN);
  ev.events = want ? in | uint32_t(EPOLLOUT) : in;
  ev.data.ptr = c;
  epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev);
  c->armed_out = want;
}

// queue: the subscriber stops reading; what the broker sends it from now on stays queued.
void Engine::stall(Client* c) {
  c->stalled = true;
  epoll_event ev{};
  ev.events = c->armed_out ? uint32_t(EPOLLOUT) : 0u;
  ev.data.ptr = c;
  epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev);
}

// queue: bytes the stalled subscribers' connections hold in the kernel, the subscriber's unread
// receive queue plus the broker's send queue (read from /proc/net/tcp: on loopback both ends
// are on this machine). -1 when the broker's side cannot be found.
int64_t Engine::kernel_queued_bytes() {
  int64_t total = 0;
  for (auto& c : clients_) {
    if (c->role != Role::sub || c->fd < 0) continue;
    int unread = 0;
    if (::ioctl(c->fd, FIONREAD, &unread) == 0) total += unread;
    sockaddr_storage local{}, peer{};
    socklen_t ll = sizeof local, pl = sizeof peer;
    if (::getsockname(c->fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0 ||
        ::getpeername(c->fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0)
      return -1;
    int64_t q = procfs::tcp_send_queue(peer, local);
    if (q < 0) return -1;
    total += q;
  }
  return total;
}

void Engine::mark_dirty(Client* c) {
  if (!c->dirty) {
    c->dirty = true;
    dirty_.push_back(c);
  }
}

void Engine::flush(Client* c, int64_t now) {
  if (c->fd < 0 || c->state == State::tcp_connecting) return;
  Buf* raw = &c->out;
  if (c->ws) {
    if (c->ws->open()) c->ws->frame(c->out, c->ws_out);
    raw = &c->ws_out;
  }
  while (!raw->empty()) {
    ssize_t r = ::send(c->fd, raw->begin(), raw->size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r > 0) {
      raw->consume(std::size_t(r));
      c->last_send = now;
      if (!raw->empty()) break;  // socket buffer full: wait for EPOLLOUT
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      close_client(c, true);
      return;
    }
  }
  set_out_interest(c, !raw->empty());
}

void Engine::flush_dirty(int64_t now) {
  for (Client* c : dirty_) {
    c->dirty = false;
    flush(c, now);
  }
  dirty_.clear();
}

void Engine::after_input(Client* c, State before, int64_t now) {
  if (before != State::ready && c->state == State::ready) {
    handshake_done(c, true, now);
    if (o_.scenario == Scenario::queue && c->role == Role::sub) stall(c);
  }
  if (c->unsent()) mark_dirty(c);
}

void Engine::on_readable(Client* c, int64_t now) {
  for (int i = 0; i < 4 && c->fd >= 0; ++i) {
    uint8_t* p = c->in.reserve(kReadChunk);
    std::size_t room = c->in.room();
    ssize_t r = ::recv(c->fd, p, room, MSG_DONTWAIT);
    if (r > 0 && c->ws) {
      // The bytes read are frames: unframe them into the MQTT input instead.
      thread_local Buf raw;
      raw.clear();
      raw.append(p, std::size_t(r));
      bool opened = false;
      if (!c->ws->on_bytes(raw.begin(), raw.size(), c->in, c->ws_out, opened)) {
        close_client(c, true);
        return;
      }
      if (opened) c->start_session(o_);  // CONNECT goes once the upgrade is accepted
      if (c->in.empty()) {
        if (c->unsent()) mark_dirty(c);
        if (std::size_t(r) < room) return;
        continue;
      }
    } else if (r > 0) {
      c->in.commit(std::size_t(r));
    }
    if (r > 0) {
      State before = c->state;
      bool ok = c->on_input(stats, o_, now);
      after_input(c, before, now);
      if (!ok) {
        close_client(c, true);
        return;
      }
      if (std::size_t(r) < room) return;
    } else if (r == 0) {
      close_client(c, true);
      return;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;
    } else {
      close_client(c, true);
      return;
    }
  }
}

void Engine::on_event(Client* c, uint32_t events, int64_t now) {
  if (c->fd < 0) return;
  if (c->state == State::tcp_connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err || (events & (EPOLLERR | EPOLLHUP))) {
      close_client(c, true);
      return;
    }
    if (!(events & EPOLLOUT)) return;
    if (c->ws) {
      c->state = State::wait_connack;  // after the upgrade: see on_readable
      c->ws->start(o_.host, o_.port, o_.websocket_path, c->ws_out);
    } else {
      c->start_session(o_);
    }
    flush(c, now);
    return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c, now);
  if (c->fd >= 0 && (events & EPOLLOUT)) flush(c, now);
}

bool Engine::stopping(int64_t now) const {
  return sh_.stop_publishing.load(std::memory_order_relaxed) || (deadline_ && now >= deadline_);
}

// How many PUBLISH packets publisher c may write now, leaving rate and count aside: bounded by
// its unsent bytes (QoS 0: TCP back-pressure sets the pace) and by its QoS 1/2 window.
uint64_t Engine::room(const Client* c) const {
  const std::size_t len = c->tmpl.bytes.size();
  if (c->unsent() >= high_water_) return 0;
  uint64_t r = (high_water_ - c->unsent()) / len + 1;
  if (o_.qos) r = std::min<uint64_t>(r, uint64_t(c->window) - std::min(c->inflight, c->window));
  return r;
}

// Paced: when publisher c's next message (number c->seq) is due. Publisher i of P is offset by
// i/P of its interval, so the publishers together send evenly instead of all at once.
int64_t Engine::due_at(const Client* c) const {
  const double phase = double(c->index) / double(o_.publishers);
  return run_start_ + int64_t((double(c->seq) + phase) / rate_per_ns_);
}

void Engine::push_due(Client* c, int64_t at) {
  due_.push_back({at, c});
  std::push_heap(due_.begin(), due_.end(), std::greater<>{});
}

void Engine::produce(int64_t now) {
  const bool stop = stopping(now);
  if (rate_per_ns_ > 0) {
    produce_paced(now, stop);
    return;
  }
  if (stop) return;
  for (Client* c : pubs_) {
    if (c->state != State::ready || c->pub_done) continue;
    uint64_t limit = o_.count ? o_.count - c->seq : 0xffffffffull - c->seq;
    limit = std::min(limit, room(c));
    if (limit) {
      c->publish(stats, uint32_t(limit), now);
      mark_dirty(c);
    }
  }
}

void Engine::produce_paced(int64_t now, bool stop) {
  if (stop) {
    for (const Due& d : due_) finishing_.push_back(d.c);
    due_.clear();
    finishing_.insert(finishing_.end(), blocked_.begin(), blocked_.end());
    blocked_.clear();
    return;
  }
  // Publishers held back earlier: an ack or EPOLLOUT may have made room. Their due time is past.
  for (std::size_t i = 0; i < blocked_.size();) {
    Client* c = blocked_[i];
    if (c->state != State::ready || room(c)) {
      blocked_[i] = blocked_.back();
      blocked_.pop_back();
      if (c->state == State::ready) push_due(c, now);
      else finishing_.push_back(c);
    } else {
      ++i;
    }
  }
  while (!due_.empty() && due_.front().at <= now) {
    std::pop_heap(due_.begin(), due_.end(), std::greater<>{});
    Client* c = due_.back().c;
    due_.pop_back();
    if (c->state != State::ready) {
      finishing_.push_back(c);
      continue;
    }
    // Messages due by now, so a publisher that fell behind catches up in one batch.
    const double phase = double(c->index) / double(o_.publishers);
    const uint64_t due = uint64_t(std::max(0.0, double(now - run_start_) * rate_per_ns_ - phase)) + 1;
    uint64_t n = due > c->seq ? due - c->seq : 1;
    if (o_.count) n = std::min<uint64_t>(n, o_.count - c->seq);
    n = std::min(n, room(c));
    if (n == 0) {
      blocked_.push_back(c);
      continue;
    }
    c->publish(stats, uint32_t(n), now);
    mark_dirty(c);
    if (o_.count && c->seq >= o_.count) finishing_.push_back(c);
    else push_due(c, due_at(c));
  }
}

// A publisher is finished once closed, or once it has nothing left to publish, every byte is
// written and every QoS 1/2 publish acknowledged. queue: it then also sends a PINGREQ and waits
// for the PINGRESP, so the broker has handled every PUBLISH before the queued state is sampled.
bool Engine::finished(Client* c, bool exhausted, int64_t now) {
  if (c->state != State::closed) {
    if (!exhausted || c->unsent() || c->inflight != 0) return false;
    if (o_.scenario == Scenario::queue && !c->pinged) {
      c->pinged = c->ping_pending = true;
      wire::pingreq(c->out);
      flush(c, now);
      return false;
    }
    if (c->ping_pending) return false;
  }
  c->pub_done = true;
  ++counters.pubs_done;  // single writer
  stats.last_pub_done_ns = now;
  return true;
}

// After flushing: how long epoll may sleep. 0 if some publisher can generate right away.
// Also notices publishers that are finished.
int64_t Engine::next_wait(int64_t now) {
  int64_t wait = kIdleWaitNs;
  if (!running_) return wait;
  const bool stop = stopping(now);
  if (deadline_ && !stop) wait = std::min(wait, deadline_ - now);
  if (rate_per_ns_ > 0) return std::min(wait, next_wait_paced(now, stop));
  for (Client* c : pubs_) {
    if (c->pub_done) continue;
    const bool exhausted = stop || (o_.count && c->seq >= o_.count);
    if (finished(c, exhausted, now)) continue;
    if (c->state != State::ready || exhausted) continue;
    if (room(c) == 0) continue;  // EPOLLOUT or an ack wakes us
    wait = 0;
  }
  return wait;
}

int64_t Engine::next_wait_paced(int64_t now, bool stop) {
  for (std::size_t i = 0; i < finishing_.size();) {
    Client* c = finishing_[i];
    if (c->pub_done || finished(c, true, now)) {
      finishing_[i] = finishing_.back();
      finishing_.pop_back();
    } else {
      ++i;
    }
  }
  if (stop || due_.empty()) return kIdleWaitNs;
  return std::max<int64_t>(0, due_.front().at - now);
}

void Engine::keepalive(int64_t now) {
  if (now < next_keepalive_ || o_.keepalive == 0) return;
  next_keepalive_ = now + 1'000'000'000;
  const int64_t half = int64_t(o_.keepalive) * 500'000'000;
  for (auto& c : clients_)
    if (c->state == State::ready && now - c->last_send > half) {
      wire::pingreq(c->out);
      mark_dirty(c.get());
    }
}

void Engine::publish_counters() {
  auto put = [](std::atomic<uint64_t>& a, uint64_t v) { a.store(v, std::memory_order_relaxed); };
  put(counters.sent, stats.sent);
  put(counters.completed, stats.completed);
  put(counters.unique, stats.unique);
  put(counters.received, stats.received);
  put(counters.connected, stats.connected);
  put(counters.connect_errors, stats.connect_errors);
  put(counters.closed, stats.closed);
  put(counters.disconnects, stats.disconnects);
  put(counters.window_delivered, stats.window_delivered);
  counters.last_delivery_ns.store(stats.last_delivery_ns, std::memory_order_relaxed);
  counters.last_pub_done_ns.store(stats.last_pub_done_ns, std::memory_order_release);
}

// epoll_pwait2 has a nanosecond timeout (needed for --rate pacing); where the kernel or
// valgrind lacks it, fall back to epoll_wait with millisecond timeouts (sub-ms waits poll).
int Engine::wait_events(std::vector<epoll_event>& evs, int64_t wait_ns) {
  static std::atomic<bool> have_pwait2{true};
  if (have_pwait2.load(std::memory_order_relaxed)) {
    timespec ts{wait_ns / 1'000'000'000, wait_ns % 1'000'000'000};
    int n = epoll_pwait2(ep_, evs.data(), int(evs.size()), &ts, nullptr);
    if (n >= 0 || errno != ENOSYS) return n;
    have_pwait2.store(false, std::memory_order_relaxed);
  }
  return epoll_wait(ep_, evs.data(), int(evs.size()), int(wait_ns / 1'000'000));
}

void Engine::run() {
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // precise pacing for --rate
  Phase cur = Phase::init;
  std::vector<epoll_event> evs(1024);
  for (;;) {
    int64_t now = mono_ns();
    auto ph = Phase(sh_.phase.load(std::memory_order_acquire));
    if (ph != cur) {
      cur = ph;
      enter(ph, now);
      if (ph == Phase::exit) break;
    }
    start_connects(now);
    if (running_) produce(now);
    keepalive(now);
    flush_dirty(now);
    int64_t wait = next_wait(now);
    publish_counters();
    int n = wait_events(evs, wait);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("epoll wait: ") + std::strerror(errno));
    }
    now = mono_ns();
    for (int i = 0; i < n; ++i) on_event(static_cast<Client*>(evs[std::size_t(i)].data.ptr), evs[std::size_t(i)].events, now);
  }
  publish_counters();
}

}  // namespace mqb
