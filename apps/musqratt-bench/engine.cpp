#include "engine.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace mqb {

int64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr int64_t kIdleWaitNs = 5'000'000;  // how often an idle engine looks at the phase
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
      deadline_ = o_.duration > 0 ? run_start_ + int64_t(o_.duration * 1e9) : 0;
      rate_per_ns_ = o_.rate > 0 ? o_.rate / double(o_.publishers) / 1e9 : 0;
      std::size_t len = pubs_.empty() ? 0 : pubs_.front()->tmpl.bytes.size();
      high_water_ = std::max<std::size_t>(64 * 1024, 2 * len);
      break;
    }
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
  ev.events = want ? uint32_t(EPOLLIN | EPOLLOUT) : uint32_t(EPOLLIN);
  ev.data.ptr = c;
  epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev);
  c->armed_out = want;
}

void Engine::mark_dirty(Client* c) {
  if (!c->dirty) {
    c->dirty = true;
    dirty_.push_back(c);
  }
}

void Engine::flush(Client* c, int64_t now) {
  if (c->fd < 0 || c->state == State::tcp_connecting) return;
  while (!c->out.empty()) {
    ssize_t r = ::send(c->fd, c->out.begin(), c->out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r > 0) {
      c->out.consume(std::size_t(r));
      c->last_send = now;
      if (!c->out.empty()) break;  // socket buffer full: wait for EPOLLOUT
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      close_client(c, true);
      return;
    }
  }
  set_out_interest(c, !c->out.empty());
}

void Engine::flush_dirty(int64_t now) {
  for (Client* c : dirty_) {
    c->dirty = false;
    flush(c, now);
  }
  dirty_.clear();
}

void Engine::after_input(Client* c, State before, int64_t now) {
  if (before != State::ready && c->state == State::ready) handshake_done(c, true, now);
  if (!c->out.empty()) mark_dirty(c);
}

void Engine::on_readable(Client* c, int64_t now) {
  for (int i = 0; i < 4 && c->fd >= 0; ++i) {
    uint8_t* p = c->in.reserve(kReadChunk);
    std::size_t room = c->in.room();
    ssize_t r = ::recv(c->fd, p, room, MSG_DONTWAIT);
    if (r > 0) {
      c->in.commit(std::size_t(r));
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
    c->start_session(o_);
    flush(c, now);
    return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c, now);
  if (c->fd >= 0 && (events & EPOLLOUT)) flush(c, now);
}

void Engine::produce(int64_t now) {
  const bool stop = sh_.stop_publishing.load(std::memory_order_relaxed) || (deadline_ && now >= deadline_);
  for (Client* c : pubs_) {
    if (c->state != State::ready || c->pub_done) continue;
    uint64_t limit = stop ? 0 : (o_.count ? o_.count - c->seq : 0xffffffffull - c->seq);
    const std::size_t len = c->tmpl.bytes.size();
    if (c->out.size() >= high_water_) continue;
    limit = std::min<uint64_t>(limit, (high_water_ - c->out.size()) / len + 1);
    if (o_.qos) limit = std::min<uint64_t>(limit, uint64_t(c->window) - std::min(c->inflight, c->window));
    if (rate_per_ns_ > 0) {
      uint64_t due = uint64_t(double(now - run_start_) * rate_per_ns_) + 1;
      limit = due > c->seq ? std::min<uint64_t>(limit, due - c->seq) : 0;
    }
    if (limit) {
      c->publish(stats, uint32_t(limit), now);
      mark_dirty(c);
    }
  }
}

// After flushing: how long epoll may sleep. 0 if some publisher can generate right away.
// Also notices publishers that are finished.
int64_t Engine::next_wait(int64_t now) {
  int64_t wait = kIdleWaitNs;
  if (!running_) return wait;
  const bool stop = sh_.stop_publishing.load(std::memory_order_relaxed) || (deadline_ && now >= deadline_);
  if (deadline_ && !stop) wait = std::min(wait, deadline_ - now);
  for (Client* c : pubs_) {
    if (c->pub_done) continue;
    bool exhausted = stop || (o_.count && c->seq >= o_.count);
    if (c->state == State::closed || (exhausted && c->out.empty() && c->inflight == 0)) {
      c->pub_done = true;
      ++counters.pubs_done;  // single writer
      stats.last_pub_done_ns = now;
      continue;
    }
    if (c->state != State::ready || exhausted) continue;
    if (c->out.size() >= high_water_) continue;                                   // EPOLLOUT wakes us
    if (o_.qos && c->inflight >= c->window) continue;                 // an ack wakes us
    if (rate_per_ns_ > 0) {
      int64_t due_at = run_start_ + int64_t(double(c->seq) / rate_per_ns_);
      wait = std::min(wait, std::max<int64_t>(0, due_at - now));
    } else {
      wait = 0;
    }
  }
  return wait;
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
