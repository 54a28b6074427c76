#include "scenario.hpp"

#include <netdb.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "engine.hpp"
#include "procfs.hpp"
#include "report.hpp"

namespace mqb {

namespace {

void raise_fd_limit(uint64_t need) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur < need)
    std::fprintf(stderr, "musqratt-bench: warning: open file limit %llu < %llu connections; raise ulimit -n\n",
                 (unsigned long long)rl.rlim_cur, (unsigned long long)need);
}

std::string sub_filter(const Options& o, uint32_t i) {
  const std::string& p = o.topic_prefix;
  switch (o.scenario) {
    case Scenario::p2p: return p + "/p2p/" + std::to_string(i);
    case Scenario::queue: return p + "/queue/" + std::to_string(i);
    case Scenario::fanout: return p + "/fanout";
    case Scenario::fanin: return p + "/+/fanin";
    case Scenario::persist: return p + "/persist";
    case Scenario::idle: return {};
  }
  return {};
}

std::string pub_topic(const Options& o, uint32_t i) {
  const std::string& p = o.topic_prefix;
  switch (o.scenario) {
    case Scenario::p2p: return p + "/p2p/" + std::to_string(i);
    case Scenario::queue: return p + "/queue/" + std::to_string(i);
    case Scenario::fanout: return p + "/fanout";
    case Scenario::fanin: return p + "/" + std::to_string(i) + "/fanin";
    case Scenario::persist: return p + "/persist";
    case Scenario::idle: return {};
  }
  return {};
}

struct Totals {
  uint64_t sent = 0, completed = 0, unique = 0, received = 0, connected = 0, connect_errors = 0, closed = 0,
           pubs_done = 0, window_delivered = 0;
  int64_t last_delivery = 0, last_pub_done = 0;
};

Totals totals(const std::vector<std::unique_ptr<Engine>>& engines) {
  Totals t;
  for (auto& e : engines) {
    auto& c = e->counters;
    auto ld = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    t.sent += ld(c.sent);
    t.completed += ld(c.completed);
    t.unique += ld(c.unique);
    t.received += ld(c.received);
    t.connected += ld(c.connected);
    t.connect_errors += ld(c.connect_errors);
    t.closed += ld(c.closed);
    t.pubs_done += ld(c.pubs_done);
    t.window_delivered += ld(c.window_delivered);
    t.last_delivery = std::max(t.last_delivery, c.last_delivery_ns.load(std::memory_order_relaxed));
    t.last_pub_done = std::max(t.last_pub_done, c.last_pub_done_ns.load(std::memory_order_acquire));
  }
  return t;
}

// Samples CPU time (the broker's with --broker-pid, and this process's) when the measured
// window opens and closes, and the broker's RSS when it closes.
class Window {
 public:
  explicit Window(int broker_pid) : pid_(broker_pid) {}
  bool is_open() const { return opened_ != 0; }
  bool is_closed() const { return closed_; }
  void open() {
    opened_ = mono_ns();
    gen0_ = procfs::self_cpu_seconds();
    if (pid_) cpu0_ = procfs::cpu_seconds(pid_);
  }
  void close(Results& r) {
    if (!is_open()) open();
    closed_ = true;
    r.window_s = double(mono_ns() - opened_) / 1e9;
    r.generator_cpu_s = procfs::self_cpu_seconds() - gen0_;
    if (!pid_) return;
    const double cpu1 = procfs::cpu_seconds(pid_);
    if (cpu0_ >= 0 && cpu1 >= 0) r.broker_cpu_s = cpu1 - cpu0_;
    r.broker_rss_kb = procfs::status_kb(pid_, "VmRSS");
    r.broker_hwm_kb = procfs::status_kb(pid_, "VmHWM");
  }

 private:
  int pid_;
  int64_t opened_ = 0;
  bool closed_ = false;
  double gen0_ = 0, cpu0_ = -1;
};

}  // namespace

Results run_scenario(const Options& o) {
  Results res;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* ai = nullptr;
  std::string port = std::to_string(o.port);
  if (int rc = getaddrinfo(o.host.c_str(), port.c_str(), &hints, &ai); rc != 0 || !ai) {
    res.error = std::string("cannot resolve ") + o.host + ": " + gai_strerror(rc);
    return res;
  }
  sockaddr_storage addr{};
  std::memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
  socklen_t addrlen = ai->ai_addrlen;
  freeaddrinfo(ai);
  sockaddr_storage sub_addr = addr;
  if (o.sub_port) {
    // The same host, another port: the port field sits at the same place for IPv4 and IPv6.
    if (addr.ss_family == AF_INET) reinterpret_cast<sockaddr_in&>(sub_addr).sin_port = htons(o.sub_port);
    else reinterpret_cast<sockaddr_in6&>(sub_addr).sin6_port = htons(o.sub_port);
  }

  const uint64_t nconn = uint64_t(o.publishers) + uint64_t(o.subscribers);
  raise_fd_limit(nconn + 64);

  Shared sh;
  std::vector<std::unique_ptr<Engine>> engines;
  const int nthreads = o.threads;
  for (int t = 0; t < nthreads; ++t)
    engines.push_back(std::make_unique<Engine>(o, sh, addr, sub_addr, addrlen,
                                               std::max(1, o.connect_concurrency / nthreads)));

  const uint64_t bitmap_words = o.count ? o.count / 64 + 1 : 1024;
  for (int i = 0; i < o.subscribers; ++i) {
    auto c = std::make_unique<Client>();
    c->role = o.scenario == Scenario::idle ? Role::idle : Role::sub;
    c->index = uint32_t(i);
    c->client_id = o.client_prefix + (o.scenario == Scenario::idle ? "-c" : "-s") + std::to_string(i);
    c->filter = sub_filter(o, uint32_t(i));
    if (o.scenario != Scenario::idle) {
      const bool pairs = o.scenario == Scenario::p2p || o.scenario == Scenario::queue;
      std::size_t nstreams = pairs ? 1 : std::size_t(o.publishers);
      c->stream_base = pairs ? uint32_t(i) : 0;
      c->streams.resize(nstreams);
      for (auto& s : c->streams) s.seen.reserve(bitmap_words);
    }
    engines[std::size_t(i % nthreads)]->add(std::move(c));
  }
  for (int i = 0; i < o.publishers; ++i) {
    auto c = std::make_unique<Client>();
    c->role = Role::pub;
    c->index = uint32_t(i);
    c->client_id = o.client_prefix + "-p" + std::to_string(i);
    c->tmpl = wire::make_publish(pub_topic(o, uint32_t(i)), o.qos, o.v5, o.size, uint32_t(i));
    // p2p: keep a pair's publisher and subscriber on the same thread.
    engines[std::size_t(i % nthreads)]->add(std::move(c));
  }

  std::vector<std::thread> threads;
  for (auto& e : engines)
    threads.emplace_back([&e] {
      try {
        e->run();
      } catch (const std::exception& ex) {
        std::fprintf(stderr, "musqratt-bench: generator thread: %s\n", ex.what());
        std::_Exit(3);
      }
    });

  Progress progress(o);
  const int64_t t0 = mono_ns();
  auto set_phase = [&](Phase p) { sh.phase.store(int(p), std::memory_order_release); };
  auto sleep_ms = [](int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
  auto wait_connected = [&](uint64_t target, const char* what) {
    const int64_t start = mono_ns();
    for (;;) {
      Totals t = totals(engines);
      progress.connecting(what, t.connected, t.connect_errors, target);
      if (t.connected + t.connect_errors >= target) return;
      if (mono_ns() - start > int64_t(o.connect_timeout * 1e9)) return;
      sleep_ms(2);
    }
  };

  // 1. Subscribers (or idle connections).
  set_phase(Phase::connect_subs);
  wait_connected(uint64_t(o.subscribers), o.scenario == Scenario::idle ? "connect" : "subscribe");
  const int64_t t_subs = mono_ns();
  res.connect_time_s = double(t_subs - t0) / 1e9;
  res.connect_rate = res.connect_time_s > 0 ? double(totals(engines).connected) / res.connect_time_s : 0;

  if (o.scenario == Scenario::idle) {
    Totals t = totals(engines);
    res.connections = t.connected;
    if (!o.ready_file.empty()) std::ofstream(o.ready_file) << t.connected << "\n";
    const int64_t until = mono_ns() + int64_t(o.hold * 1e9);
    while (mono_ns() < until) {
      progress.holding(t.connected, double(until - mono_ns()) / 1e9);
      sleep_ms(20);
    }
    res.duration_s = double(mono_ns() - t0) / 1e9;
  } else {
    uint64_t target = uint64_t(o.subscribers);
    if (o.scenario == Scenario::persist) {
      set_phase(Phase::subs_offline);
      uint64_t up = totals(engines).connected;
      const int64_t start = mono_ns();
      while (totals(engines).closed < up && mono_ns() - start < 10'000'000'000) sleep_ms(2);
      sleep_ms(100);  // let the broker notice the disconnects before publishing
    }
    set_phase(Phase::connect_pubs);
    target += uint64_t(o.publishers);
    wait_connected(target, "connect publishers");

    if (o.broker_pid) res.broker_rss_before_kb = procfs::status_kb(o.broker_pid, "VmRSS");

    // 2. Publish. The measured window opens at once, or after --warmup.
    const int64_t run_start = mono_ns();
    sh.run_start_ns = run_start;
    sh.window_start_ns = run_start;
    if (o.duration > 0) {
      sh.window_start_ns = run_start + int64_t(o.warmup * 1e9);
      sh.window_end_ns = sh.window_start_ns + int64_t(o.duration * 1e9);
      sh.publish_end_ns = sh.window_end_ns;
    }
    Window window(o.broker_pid);
    // Profilers attached from outside (bench/profile.sh) start when the window opens.
    auto open_window = [&] {
      window.open();
      if (!o.ready_file.empty() && o.scenario != Scenario::queue) std::ofstream(o.ready_file) << "window\n";
    };
    set_phase(Phase::run);
    if (o.warmup <= 0) open_window();
    uint64_t last_progress_mark = ~0ull;
    int64_t last_change = run_start;
    const int64_t stall_ns = int64_t(std::max(5.0, o.drain) * 1e9);
    for (;;) {
      Totals t = totals(engines);
      progress.running(t.sent, t.unique, double(mono_ns() - run_start) / 1e9);
      int64_t now = mono_ns();
      if (!window.is_open() && now >= sh.window_start_ns) open_window();
      if (o.duration > 0 && !window.is_closed() && now >= sh.window_end_ns) window.close(res);
      if (t.pubs_done >= uint64_t(o.publishers)) break;
      uint64_t mark = t.sent + t.completed + t.unique;
      if (mark != last_progress_mark) {
        last_progress_mark = mark;
        last_change = now;
      } else if (now - last_change > stall_ns) {
        sh.stop_publishing.store(true);  // broker stopped acknowledging: give up on the window
        if (now - last_change > 2 * stall_ns) break;
      }
      sleep_ms(1);
    }
    if (o.duration > 0 && !window.is_closed()) window.close(res);  // stopped early (stalled broker)
    if (o.scenario == Scenario::queue) {
      // Everything sent is now queued for the stalled subscribers: let the broker settle, then
      // sample its RSS and what the kernel holds of it.
      sleep_ms(int(o.hold * 1000));
      window.close(res);
      set_phase(Phase::sample);
      int64_t kernel = 0;
      for (auto& e : engines) {
        const int64_t start = mono_ns();
        int64_t v;
        while ((v = e->counters.kernel_queued_bytes.load(std::memory_order_acquire)) == Counters::kNotSampled &&
               mono_ns() - start < 10'000'000'000)
          sleep_ms(1);
        kernel = (v < 0 || kernel < 0) ? -1 : kernel + v;
      }
      res.kernel_queued_bytes = kernel;
      uint64_t bytes = 0;
      for (int i = 0; i < o.publishers; ++i)
        bytes += wire::make_publish(pub_topic(o, uint32_t(i)), o.qos, o.v5, o.size, uint32_t(i)).bytes.size();
      res.packet_bytes = bytes / uint64_t(o.publishers);
      if (!o.ready_file.empty()) std::ofstream(o.ready_file) << totals(engines).sent << "\n";
    }
    int64_t reconnect_start = 0;
    if (o.scenario == Scenario::persist) {
      reconnect_start = mono_ns();
      set_phase(Phase::subs_reconnect);
      wait_connected(target + uint64_t(o.subscribers), "reconnect subscribers");
    }

    // 3. Drain (queue: nothing is delivered, nothing to wait for).
    Totals t = totals(engines);
    const uint64_t per_sub_all = t.sent;
    uint64_t expected = o.scenario == Scenario::queue ? 0
                        : o.scenario == Scenario::p2p ? t.sent
                                                      : per_sub_all * uint64_t(o.subscribers);
    uint64_t last_unique = t.unique;
    last_change = mono_ns();
    const int64_t drain_start = last_change;
    for (;;) {
      t = totals(engines);
      int64_t now = mono_ns();
      progress.draining(t.sent, t.unique, expected);
      if (t.unique >= expected) break;
      // A broker far behind can keep a drain going for many minutes, one delivery at a time.
      if (o.drain_max > 0 && now - drain_start > int64_t(o.drain_max * 1e9)) {
        res.drain_cut = true;
        break;
      }
      if (t.unique != last_unique) {
        last_unique = t.unique;
        last_change = now;
      } else if (now - last_change > int64_t(o.drain * 1e9)) {
        break;
      }
      sleep_ms(1);
    }
    res.expected = expected;
    t = totals(engines);
    const int64_t end = std::max(t.last_delivery, t.last_pub_done);
    res.publish_s = t.last_pub_done > run_start ? double(t.last_pub_done - run_start) / 1e9 : 0;
    res.duration_s = end > run_start ? double(end - run_start) / 1e9 : 0;
    if (o.scenario == Scenario::persist) {
      res.drain_s = t.last_delivery > reconnect_start ? double(t.last_delivery - reconnect_start) / 1e9 : 0;
    } else {
      res.drain_s = t.last_delivery > t.last_pub_done ? double(t.last_delivery - t.last_pub_done) / 1e9 : 0;
    }
    res.connections = t.connected;
    if (!window.is_closed()) window.close(res);  // --count: the window ends with the drain
    res.window_delivered = t.window_delivered;
  }

  set_phase(Phase::disconnect);
  sleep_ms(20);
  set_phase(Phase::exit);
  for (auto& th : threads) th.join();
  progress.done();

  for (auto& e : engines) {
    const Stats& s = e->stats;
    res.sent += s.sent;
    res.completed += s.completed;
    res.delivered += s.unique;
    res.received += s.received;
    res.dup += s.dup;
    res.out_of_order += s.out_of_order;
    res.unexpected += s.unexpected;
    res.connect_errors += s.connect_errors;
    res.publish_errors += s.publish_errors;
    res.disconnects += s.disconnects;
    res.latency.merge(s.latency);
    res.connect.merge(s.connect);
  }
  // Connections that never completed their handshake before the timeout count as errors too.
  uint64_t attempted = o.scenario == Scenario::persist ? nconn + uint64_t(o.subscribers) : nconn;
  uint64_t ok = 0;
  for (auto& e : engines) ok += e->stats.connected;
  if (ok + res.connect_errors < attempted) res.connect_errors = attempted - ok;
  if (o.scenario != Scenario::idle) {
    res.lost = res.expected > res.delivered ? res.expected - res.delivered : 0;
    if (res.publish_s > 0) res.msgs_per_s = double(res.sent) / res.publish_s;
    double deliver_s = o.scenario == Scenario::persist ? res.drain_s : res.duration_s;
    if (deliver_s > 0) res.deliveries_per_s = double(res.delivered) / deliver_s;
  }
  return res;
}

}  // namespace mqb
