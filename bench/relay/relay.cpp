// musqratt-relay: a trivial MQTT relay for calibrating musqratt-bench. Not a broker.
// One thread, epoll. CONNECT -> CONNACK, SUBSCRIBE -> SUBACK (QoS 0 granted), PUBLISH bytes
// are copied to every matching subscriber (re-encoded as QoS 0 when they came with QoS 1/2;
// PUBACK / PUBREC+PUBCOMP answered as a courtesy). Writes are coalesced: one send() per
// connection per loop turn. No sessions, no retained messages, no will, no auth; publishers
// and subscribers must speak the same protocol version. A subscriber whose unsent output
// exceeds --max-queue bytes loses messages (counted, printed on exit).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "buffer.hpp"

namespace {

using mqb::Buf;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Conn {
  int fd = -1;
  uint8_t version = 4;
  bool dirty = false, armed = false, dead = false;
  Buf in, out;
  std::vector<std::string> filters;
  // Per-publisher cache of the last topic's targets (valid while gen matches).
  std::string last_topic;
  std::vector<Conn*> targets;
  uint64_t gen = 0;
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

bool matches(std::string_view filter, std::string_view topic) {
  for (;;) {
    auto fs = filter.find('/'), ts = topic.find('/');
    std::string_view f = filter.substr(0, fs), t = topic.substr(0, ts);
    if (f == "#") return true;
    if (f != "+" && f != t) return false;
    if (fs == std::string_view::npos || ts == std::string_view::npos)
      return fs == ts || (ts == std::string_view::npos && filter.substr(fs + 1) == "#");
    filter.remove_prefix(fs + 1);
    topic.remove_prefix(ts + 1);
  }
}

class Relay {
 public:
  Relay(int lfd, std::size_t max_queue) : lfd_(lfd), max_queue_(max_queue) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    epoll_ctl(ep_, EPOLL_CTL_ADD, lfd_, &ev);
  }

  void run() {
    std::vector<epoll_event> evs(1024);
    while (!g_stop) {
      for (Conn* c : dirty_) {
        c->dirty = false;
        flush(c);
      }
      dirty_.clear();
      graveyard_.clear();
      int n = epoll_wait(ep_, evs.data(), int(evs.size()), 200);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::perror("epoll_wait");
        return;
      }
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<Conn*>(evs[std::size_t(i)].data.ptr);
        if (!c) {
          accept_all();
          continue;
        }
        if (c->dead) continue;
        uint32_t e = evs[std::size_t(i)].events;
        if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) readable(c);
        if (!c->dead && (e & EPOLLOUT)) flush(c);
      }
    }
    std::fprintf(stderr, "musqratt-relay: forwarded %llu, dropped %llu\n", (unsigned long long)forwarded_,
                 (unsigned long long)dropped_);
  }

 private:
  void accept_all() {
    for (;;) {
      int fd = accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = c.get();
      epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
      conns_.emplace(c.get(), std::move(c));
    }
  }

  void mark(Conn* c) {
    if (!c->dirty) {
      c->dirty = true;
      dirty_.push_back(c);
    }
  }

  void kill(Conn* c) {
    if (c->dead) return;
    c->dead = true;
    ::close(c->fd);
    for (auto& f : c->filters) {
      auto& v = f.find_first_of("+#") == std::string::npos ? exact_[f] : wild_[f];
      std::erase(v, c);
    }
    ++gen_;
    auto it = conns_.find(c);
    graveyard_.push_back(std::move(it->second));  // freed after this loop turn
    conns_.erase(it);
  }

  void flush(Conn* c) {
    if (c->dead) return;
    while (!c->out.empty()) {
      ssize_t r = ::send(c->fd, c->out.begin(), c->out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (r > 0) {
        c->out.consume(std::size_t(r));
        if (!c->out.empty()) break;
      } else if (r < 0 && errno == EINTR) {
        continue;
      } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        kill(c);
        return;
      }
    }
    bool want = !c->out.empty();
    if (want != c->armed) {
      epoll_event ev{};
      ev.events = want ? uint32_t(EPOLLIN | EPOLLOUT) : uint32_t(EPOLLIN);
      ev.data.ptr = c;
      epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev);
      c->armed = want;
    }
  }

  void readable(Conn* c) {
    for (int i = 0; i < 4; ++i) {
      uint8_t* p = c->in.reserve(64 * 1024);
      std::size_t room = c->in.room();
      ssize_t r = ::recv(c->fd, p, room, MSG_DONTWAIT);
      if (r > 0) {
        c->in.commit(std::size_t(r));
        if (!process(c)) {
          kill(c);
          return;
        }
        if (std::size_t(r) < room) return;
      } else if (r < 0 && errno == EINTR) {
        continue;
      } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
      } else {
        kill(c);
        return;
      }
    }
  }

  static bool header(const uint8_t* p, std::size_t n, uint32_t& rem, std::size_t& hl) {
    rem = 0;
    for (std::size_t i = 1; i < 5 && i < n; ++i) {
      rem |= uint32_t(p[i] & 0x7f) << (7 * (i - 1));
      if (!(p[i] & 0x80)) {
        hl = i + 1;
        return true;
      }
    }
    hl = 0;
    return false;
  }

  static std::size_t varint(const uint8_t* p, std::size_t n, uint32_t& v) {
    v = 0;
    for (std::size_t i = 0; i < 4 && i < n; ++i) {
      v |= uint32_t(p[i] & 0x7f) << (7 * i);
      if (!(p[i] & 0x80)) return i + 1;
    }
    return 0;
  }

  static void put(Buf& b, std::initializer_list<uint8_t> bytes) { b.append(bytes.begin(), bytes.size()); }

  const std::vector<Conn*>& targets(Conn* c, std::string_view topic) {
    if (c->gen == gen_ && c->last_topic == topic) return c->targets;
    c->last_topic.assign(topic);
    c->gen = gen_;
    c->targets.clear();
    if (auto it = exact_.find(topic); it != exact_.end()) c->targets = it->second;
    for (auto& [f, v] : wild_)
      if (matches(f, topic))
        for (Conn* s : v) c->targets.push_back(s);
    return c->targets;
  }

  void forward(Conn* from, const uint8_t* pkt, std::size_t total, std::size_t hl, uint32_t rem) {
    const uint8_t* body = pkt + hl;
    int qos = (pkt[0] >> 1) & 3;
    uint16_t tlen = uint16_t(body[0] << 8 | body[1]);
    if (std::size_t(2) + tlen + (qos ? 2 : 0) > rem) return;
    std::string_view topic(reinterpret_cast<const char*>(body + 2), tlen);
    const auto& ts = targets(from, topic);
    for (Conn* s : ts) {
      if (s->out.size() > max_queue_) {
        ++dropped_;
        continue;
      }
      if (qos == 0) {
        s->out.append(pkt, total);
      } else {  // re-encode as QoS 0: drop the packet id
        uint32_t nrem = rem - 2;
        uint8_t* p = s->out.reserve(5 + nrem);
        std::size_t k = 0;
        p[k++] = 0x30;
        uint32_t v = nrem;
        do {
          uint8_t b = v & 0x7f;
          v >>= 7;
          p[k++] = b | (v ? 0x80 : 0);
        } while (v);
        std::memcpy(p + k, body, 2 + tlen);
        k += 2 + tlen;
        std::memcpy(p + k, body + 2 + tlen + 2, rem - 2 - tlen - 2);
        k += rem - 2 - tlen - 2;
        s->out.commit(k);
      }
      ++forwarded_;
      mark(s);
    }
    uint16_t pid = qos ? uint16_t(body[2 + tlen] << 8 | body[3 + tlen]) : 0;
    if (qos == 1) put(from->out, {0x40, 2, uint8_t(pid >> 8), uint8_t(pid)});
    if (qos == 2) put(from->out, {0x50, 2, uint8_t(pid >> 8), uint8_t(pid)});
    if (qos) mark(from);
  }

  bool process(Conn* c) {
    const uint8_t* base = c->in.begin();
    std::size_t n = c->in.size(), used = 0;
    bool ok = true;
    while (ok && n - used >= 2) {
      const uint8_t* p = base + used;
      uint32_t rem;
      std::size_t hl;
      if (!header(p, n - used, rem, hl)) {
        if (hl == 0 && n - used >= 5) ok = false;
        break;
      }
      std::size_t total = hl + rem;
      if (n - used < total) break;
      const uint8_t* body = p + hl;
      switch (p[0] >> 4) {
        case 3:
          if (rem < 2) ok = false;
          else forward(c, p, total, hl, rem);
          break;
        case 1:  // CONNECT
          if (rem < 7) { ok = false; break; }
          c->version = body[6];
          if (c->version == 5) put(c->out, {0x20, 3, 0, 0, 0});
          else put(c->out, {0x20, 2, 0, 0});
          mark(c);
          break;
        case 8:  // SUBSCRIBE
        case 10: {  // UNSUBSCRIBE
          bool sub = (p[0] >> 4) == 8;
          if (rem < 2) { ok = false; break; }
          std::size_t off = 2;
          if (c->version == 5) {
            uint32_t pl;
            std::size_t k = varint(body + off, rem - off, pl);
            if (!k) { ok = false; break; }
            off += k + pl;
          }
          std::vector<uint8_t> codes;
          while (off + 2 <= rem) {
            uint16_t fl = uint16_t(body[off] << 8 | body[off + 1]);
            if (off + 2 + fl + (sub ? 1 : 0) > rem) { ok = false; break; }
            std::string f(reinterpret_cast<const char*>(body + off + 2), fl);
            off += 2 + fl + (sub ? 1 : 0);
            bool wild = f.find_first_of("+#") != std::string::npos;
            auto& v = wild ? wild_[f] : exact_[f];
            std::erase(v, c);
            std::erase(c->filters, f);
            if (sub) {
              v.push_back(c);
              c->filters.push_back(f);
            }
            codes.push_back(0);
          }
          if (!ok) break;
          ++gen_;
          bool v5 = c->version == 5;
          std::size_t r = 2 + (v5 ? 1 : 0) + ((sub || v5) ? codes.size() : 0);
          put(c->out, {uint8_t(sub ? 0x90 : 0xB0), uint8_t(r), body[0], body[1]});
          if (v5) put(c->out, {0});
          if (sub || v5) c->out.append(codes.data(), codes.size());
          mark(c);
          break;
        }
        case 6:  // PUBREL
          if (rem < 2) { ok = false; break; }
          put(c->out, {0x70, 2, body[0], body[1]});
          mark(c);
          break;
        case 12:  // PINGREQ
          put(c->out, {0xD0, 0});
          mark(c);
          break;
        case 14:  // DISCONNECT
          ok = false;
          break;
        default:  // PUBACK/PUBREC/PUBCOMP from subscribers and the rest: ignored
          break;
      }
      used += total;
    }
    c->in.consume(used);
    return ok;
  }

  int lfd_, ep_;
  std::size_t max_queue_;
  uint64_t gen_ = 1, forwarded_ = 0, dropped_ = 0;
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
  std::unordered_map<std::string, std::vector<Conn*>, StringHash, std::equal_to<>> exact_, wild_;
  std::vector<Conn*> dirty_;
  std::vector<std::unique_ptr<Conn>> graveyard_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 1884;
  std::size_t max_queue = 64u << 20;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if ((a == "--listen" || a == "-l") && i + 1 < argc) {
      std::string v = argv[++i];
      auto colon = v.rfind(':');
      if (colon == std::string::npos) { std::fprintf(stderr, "--listen HOST:PORT\n"); return 2; }
      host = v.substr(0, colon);
      port = std::atoi(v.c_str() + colon + 1);
    } else if (a == "--port" && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if (a == "--max-queue" && i + 1 < argc) {
      max_queue = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr,
                   "usage: musqratt-relay [--listen HOST:PORT | --port P] [--max-queue BYTES]\n"
                   "  port 0 picks a free port; the listening address is printed on stdout\n");
      return a == "-h" || a == "--help" ? 0 : 2;
    }
  }
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t(port));
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
    std::fprintf(stderr, "musqratt-relay: bad IPv4 address %s\n", host.c_str());
    return 2;
  }
  if (bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 || listen(lfd, 4096) < 0) {
    std::fprintf(stderr, "musqratt-relay: cannot listen on %s:%d: %s\n", host.c_str(), port, std::strerror(errno));
    return 1;
  }
  socklen_t len = sizeof sa;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len);
  std::printf("musqratt-relay listening on %s:%u\n", host.c_str(), ntohs(sa.sin_port));
  std::fflush(stdout);
  Relay(lfd, max_queue).run();
  return 0;
}
