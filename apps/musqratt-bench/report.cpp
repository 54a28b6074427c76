#include "report.hpp"

#include <unistd.h>

#include <cstdarg>
#include <string>

#include "engine.hpp"
#include "scenario.hpp"

namespace mqb {

Progress::Progress(const Options& o) : enabled_(o.progress && ::isatty(STDERR_FILENO)) {}

bool Progress::due() {
  if (!enabled_) return false;
  int64_t now = mono_ns();
  if (now < next_) return false;
  next_ = now + 500'000'000;
  return true;
}

void Progress::line(const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "\r\033[K%s", buf);
  std::fflush(stderr);
  printed_ = true;
}

void Progress::connecting(const char* what, uint64_t ok, uint64_t failed, uint64_t target) {
  if (due()) line("[%s] %llu/%llu up, %llu failed", what, (unsigned long long)ok, (unsigned long long)target,
                  (unsigned long long)failed);
}

void Progress::holding(uint64_t connections, double left_s) {
  if (due()) line("[hold] %llu connections open, %.0f s left", (unsigned long long)connections, left_s);
}

void Progress::running(uint64_t sent, uint64_t delivered, double elapsed_s) {
  if (!due()) return;
  int64_t now = mono_ns();
  double dt = last_t_ ? double(now - last_t_) / 1e9 : 0;
  double sr = dt > 0 ? double(sent - last_sent_) / dt : 0, dr = dt > 0 ? double(delivered - last_delivered_) / dt : 0;
  last_t_ = now;
  last_sent_ = sent;
  last_delivered_ = delivered;
  line("[run %.1fs] sent %llu (%.0f/s)  delivered %llu (%.0f/s)", elapsed_s, (unsigned long long)sent, sr,
       (unsigned long long)delivered, dr);
}

void Progress::draining(uint64_t sent, uint64_t delivered, uint64_t expected) {
  if (due()) line("[drain] sent %llu  delivered %llu/%llu", (unsigned long long)sent, (unsigned long long)delivered,
                  (unsigned long long)expected);
}

void Progress::done() {
  if (printed_) std::fprintf(stderr, "\r\033[K");
}

namespace {
double us(uint64_t ns) { return double(ns) / 1000.0; }

std::string json_str(const std::string& in) {
  std::string out;
  for (char ch : in) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
    } else {
      out += ch;
    }
  }
  return out;
}

std::string human(double v) {
  char b[32];
  if (v >= 1e6) std::snprintf(b, sizeof b, "%.2f M", v / 1e6);
  else if (v >= 1e4) std::snprintf(b, sizeof b, "%.1f k", v / 1e3);
  else std::snprintf(b, sizeof b, "%.0f", v);
  return b;
}
}  // namespace

void print_table(std::FILE* f, const Options& o, const Results& r) {
  std::fprintf(f, "musqratt-bench %s  %s:%u  MQTT %s", scenario_name(o.scenario), o.host.c_str(), o.port,
               o.v5 ? "5.0" : "3.1.1");
  if (o.scenario == Scenario::idle) {
    std::fprintf(f, "  connections=%d  threads=%d\n", o.subscribers, o.threads);
  } else {
    std::fprintf(f, "  pub=%d sub=%d qos=%d size=%zu", o.publishers, o.subscribers, o.qos, o.size);
    if (o.count) std::fprintf(f, " count=%llu", (unsigned long long)o.count);
    else std::fprintf(f, " duration=%gs", o.duration);
    if (o.rate > 0) std::fprintf(f, " rate=%g/s", o.rate);
    else std::fprintf(f, " rate=unlimited");
    if (o.qos) std::fprintf(f, " inflight=%d", o.inflight);
    std::fprintf(f, " threads=%d\n", o.threads);
  }
  auto row = [&](const char* k, const std::string& v) { std::fprintf(f, "  %-18s %s\n", k, v.c_str()); };
  auto n = [](uint64_t v) { return std::to_string(v); };
  char b[128];
  if (o.scenario == Scenario::idle) {
    row("connections", n(r.connections));
    std::snprintf(b, sizeof b, "%.3f s", r.connect_time_s);
    row("connect time", b);
    row("connect rate", human(r.connect_rate) + " conn/s");
  } else {
    row("sent", n(r.sent));
    row("delivered", n(r.delivered) + " of " + n(r.expected) + " expected");
    row("publish rate", human(r.msgs_per_s) + " msg/s");
    row("delivery rate", human(r.deliveries_per_s) + " msg/s");
    std::snprintf(b, sizeof b, "%.3f s (publish %.3f s, drain %.3f s)", r.duration_s, r.publish_s, r.drain_s);
    row("duration", b);
    row("lost", n(r.lost));
    if (r.drain_cut) row("drain", "cut by --drain-max while deliveries were still arriving");
    row("duplicates", n(r.dup));
    row("out of order", n(r.out_of_order));
    if (r.unexpected) row("unexpected", n(r.unexpected));
    std::snprintf(b, sizeof b, "p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f", us(r.latency.quantile(0.5)),
                  us(r.latency.quantile(0.9)), us(r.latency.quantile(0.99)), us(r.latency.quantile(0.999)),
                  us(r.latency.max()));
    row("latency (us)", b);
    if (o.warmup > 0) {
      std::snprintf(b, sizeof b, "%.3f s after %.3g s warm-up, %llu delivered (%s msg/s)", r.window_s, o.warmup,
                    (unsigned long long)r.window_delivered,
                    human(r.window_s > 0 ? double(r.window_delivered) / r.window_s : 0).c_str());
      row("measured window", b);
    }
  }
  if (o.scenario == Scenario::queue) {
    std::snprintf(b, sizeof b, "%lld bytes (PUBLISH packet %llu bytes)", (long long)r.kernel_queued_bytes,
                  (unsigned long long)r.packet_bytes);
    row("in kernel queues", b);
  }
  std::snprintf(b, sizeof b, "%.2f s over %.2f s (%.0f %% of one core)", r.generator_cpu_s, r.window_s,
                r.window_s > 0 ? 100 * r.generator_cpu_s / r.window_s : 0);
  row("generator CPU", b);
  if (o.broker_pid) {
    const uint64_t d = o.scenario == Scenario::queue ? r.sent : r.window_delivered;
    std::snprintf(b, sizeof b, "%.2f s (%.2f us per %s), RSS %lld KiB before, %lld KiB after (peak %lld)",
                  r.broker_cpu_s, d && r.broker_cpu_s >= 0 ? r.broker_cpu_s * 1e6 / double(d) : 0.0,
                  o.scenario == Scenario::queue ? "message sent" : "delivery", (long long)r.broker_rss_before_kb,
                  (long long)r.broker_rss_kb, (long long)r.broker_hwm_kb);
    row("broker", b);
  }
  std::snprintf(b, sizeof b, "p50 %.1f  p99 %.1f  max %.1f", us(r.connect.quantile(0.5)), us(r.connect.quantile(0.99)),
                us(r.connect.max()));
  row("connect (us)", b);
  row("connect errors", n(r.connect_errors));
  if (r.publish_errors) row("publish errors", n(r.publish_errors));
  if (r.disconnects) row("disconnects", n(r.disconnects));
}

void print_json(std::FILE* f, const Options& o, const Results& r) {
  auto hist = [&](const Histogram& h) {
    std::fprintf(f, "{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"count\":%llu}",
                 us(h.quantile(0.5)), us(h.quantile(0.9)), us(h.quantile(0.99)), us(h.quantile(0.999)), us(h.max()),
                 (unsigned long long)h.count());
  };
  auto u = [](uint64_t v) { return (unsigned long long)v; };
  std::fprintf(f, "{\"scenario\":\"%s\",", scenario_name(o.scenario));
  std::fprintf(f,
               "\"params\":{\"host\":\"%s\",\"port\":%u,\"protocol\":\"%s\",\"publishers\":%d,\"subscribers\":%d,"
               "\"qos\":%d,\"size\":%zu,\"count\":%llu,\"duration\":%g,\"rate\":%g,\"inflight\":%d,\"threads\":%d,"
               "\"drain\":%g,\"drain_max\":%g},",
               json_str(o.host).c_str(), o.port, o.v5 ? "5.0" : "3.1.1", o.publishers, o.subscribers, o.qos, o.size,
               u(o.count), o.duration, o.rate, o.inflight, o.threads, o.drain, o.drain_max);
  std::fprintf(f,
               "\"sent\":%llu,\"acked\":%llu,\"expected\":%llu,\"delivered\":%llu,\"received\":%llu,"
               "\"msgs_per_s\":%.1f,\"deliveries_per_s\":%.1f,\"lost\":%llu,\"dup\":%llu,\"out_of_order\":%llu,"
               "\"unexpected\":%llu,\"connect_errors\":%llu,\"publish_errors\":%llu,\"disconnects\":%llu,",
               u(r.sent), u(r.completed), u(r.expected), u(r.delivered), u(r.received), r.msgs_per_s,
               r.deliveries_per_s, u(r.lost), u(r.dup), u(r.out_of_order), u(r.unexpected), u(r.connect_errors),
               u(r.publish_errors), u(r.disconnects));
  std::fprintf(f, "\"latency_us\":");
  hist(r.latency);
  std::fprintf(f, ",\"connect_us\":");
  hist(r.connect);
  std::fprintf(f,
               ",\"connections\":%llu,\"connect_time_s\":%.6f,\"connect_rate\":%.1f,\"publish_s\":%.6f,"
               "\"drain_s\":%.6f,\"drain_cut\":%s,\"duration_s\":%.6f,",
               u(r.connections), r.connect_time_s, r.connect_rate, r.publish_s, r.drain_s,
               r.drain_cut ? "true" : "false", r.duration_s);
  std::fprintf(f, "\"window\":{\"warmup_s\":%g,\"seconds\":%.6f,\"delivered\":%llu,\"generator_cpu_s\":%.3f}",
               o.warmup, r.window_s, u(r.window_delivered), r.generator_cpu_s);
  if (o.broker_pid)
    std::fprintf(f,
                 ",\"broker\":{\"pid\":%d,\"cpu_s\":%.3f,\"rss_before_kb\":%lld,\"rss_kb\":%lld,\"hwm_kb\":%lld}",
                 o.broker_pid, r.broker_cpu_s, (long long)r.broker_rss_before_kb, (long long)r.broker_rss_kb,
                 (long long)r.broker_hwm_kb);
  if (o.scenario == Scenario::queue)
    std::fprintf(f, ",\"queue\":{\"kernel_bytes\":%lld,\"packet_bytes\":%llu}", (long long)r.kernel_queued_bytes,
                 u(r.packet_bytes));
  std::fprintf(f, "}\n");
}

}  // namespace mqb
