#include "options.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace mqb {

const char* scenario_name(Scenario s) {
  switch (s) {
    case Scenario::p2p: return "p2p";
    case Scenario::fanout: return "fanout";
    case Scenario::fanin: return "fanin";
    case Scenario::idle: return "idle";
    case Scenario::persist: return "persist";
    case Scenario::queue: return "queue";
  }
  return "?";
}

namespace {

const char* kUsage =
    "usage: musqratt-bench [options]\n"
    "  --host H            broker address (default 127.0.0.1)\n"
    "  --port P            broker port (default 1883)\n"
    "  --scenario S        p2p | fanout | fanin | idle | persist | queue (default p2p)\n"
    "                      queue: p2p pairs whose subscribers stop reading after SUBACK;\n"
    "                      the --count messages stay queued in the broker, then the\n"
    "                      broker's RSS and the bytes in kernel socket queues are sampled\n"
    "  --pairs N           p2p/queue: publisher/subscriber pairs (default 1)\n"
    "  --sub-port P        subscribers connect to this port of --host instead (another\n"
    "                      node of a cluster: publishers on one node, subscribers on another)\n"
    "  --publishers N      fanout/persist: default 1, fanin: default 10\n"
    "  --subscribers N     fanout/persist: default 10, fanin: default 1\n"
    "  --connections N     idle: connections to open (default 1000)\n"
    "  --qos 0|1|2         publish and subscribe QoS (default 0, persist: 1)\n"
    "  --size BYTES        payload size, >= 16 (default 64)\n"
    "  --count N           messages per publisher (default 100000)\n"
    "  --duration S        publish for S seconds instead of --count\n"
    "  --warmup S          with --duration: publish S seconds more before the measured\n"
    "                      window (latency, window deliveries and CPU cover the window only)\n"
    "  --rate R            total msgs/s over all publishers, paced, publishers evenly\n"
    "                      staggered (default unlimited)\n"
    "  --inflight N        QoS 1/2 unacknowledged window per publisher (default 20;\n"
    "                      v5: capped by the server's Receive Maximum)\n"
    "  --threads N         generator threads (default 1)\n"
    "  --v5                speak MQTT 5.0 (default 3.1.1)\n"
    "  --hold S            idle: keep the connections open S seconds (default 0);\n"
    "                      queue: wait S s after the last publish before sampling (default 1)\n"
    "  --drain S           wait S s without deliveries before counting losses (default 2)\n"
    "  --drain-max S       end the drain after S s even while deliveries still trickle in;\n"
    "                      the rest counts as lost (default 0: no limit)\n"
    "  --connect-timeout S give up on connections after S s (default 30)\n"
    "  --connect-concurrency N  handshakes in flight at once (default 64)\n"
    "  --keepalive S       MQTT keep alive (default 60)\n"
    "  --topic-prefix P    first topic level (default bench)\n"
    "  --websocket PATH    MQTT over WebSocket: upgrade on ws://HOST:PORT/PATH (subprotocol mqtt), one\n"
    "                      masked binary frame per write\n"
    "  --client-prefix P   client id prefix (default mqb-<pid>)\n"
    "  --ready-file PATH   idle: create PATH once all connections are up;\n"
    "                      queue: once the queued state has been sampled;\n"
    "                      others: when the measured window opens\n"
    "  --broker-pid PID    sample the broker's CPU time (utime+stime) and RSS from /proc/PID\n"
    "                      over the measured window; report them and CPU per delivery\n"
    "  --json              print one JSON object on stdout instead of the table\n"
    "  --no-progress       no live progress line on stderr\n"
    "  --expect-no-loss    exit 1 if any message was lost\n"
    "exit status: 0 ok, 1 loss with --expect-no-loss, 2 usage error, 3 connection errors\n";

template <class T>
bool num(std::string_view s, T& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool real(std::string_view s, double& out) {
  std::string tmp(s);
  char* end = nullptr;
  out = std::strtod(tmp.c_str(), &end);
  return !tmp.empty() && end && *end == '\0' && out >= 0;
}

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "musqratt-bench: %s\n(see --help)\n", msg.c_str());
  return 2;
}

int resolve(Options& o) {
  auto pick = [](int given, int def) { return given >= 0 ? given : def; };
  switch (o.scenario) {
    case Scenario::p2p:
    case Scenario::queue:
      o.publishers = o.subscribers = pick(o.opt_pairs, pick(o.opt_publishers, pick(o.opt_subscribers, 1)));
      break;
    case Scenario::fanout:
      o.publishers = pick(o.opt_publishers, 1);
      o.subscribers = pick(o.opt_subscribers, pick(o.opt_pairs, 10));
      break;
    case Scenario::fanin:
      o.publishers = pick(o.opt_publishers, pick(o.opt_pairs, 10));
      o.subscribers = pick(o.opt_subscribers, 1);
      break;
    case Scenario::idle:
      o.publishers = 0;
      o.subscribers = pick(o.opt_connections, pick(o.opt_subscribers, pick(o.opt_pairs, 1000)));
      break;
    case Scenario::persist:
      o.publishers = pick(o.opt_publishers, 1);
      o.subscribers = pick(o.opt_subscribers, pick(o.opt_pairs, 10));
      if (!o.qos_given) o.qos = 1;
      if (o.qos == 0) return usage_error("persist needs --qos 1 or 2 (QoS 0 is not queued for offline sessions)");
      if (o.duration > 0) return usage_error("persist needs --count, not --duration");
      break;
  }
  if (o.subscribers <= 0 || (o.scenario != Scenario::idle && o.publishers <= 0))
    return usage_error("need at least one publisher and one subscriber/connection");
  if (o.size < wire_min_size()) return usage_error("--size must be >= 16");
  if (o.scenario == Scenario::queue && o.duration > 0) return usage_error("queue needs --count, not --duration");
  if (o.warmup > 0 && o.duration <= 0) return usage_error("--warmup needs --duration");
  if (o.scenario == Scenario::queue && !o.hold_given) o.hold = 1;
  if (o.count == 0 && o.duration <= 0) o.count = 100000;
  if (o.count > 0xffffffffull) return usage_error("--count must fit in 32 bits");
  if (o.threads < 1) o.threads = 1;
  if (o.inflight < 1) o.inflight = 1;
  if (o.inflight > 32768) o.inflight = 32768;
  if (o.connect_concurrency < 1) o.connect_concurrency = 1;
  if (o.client_prefix.empty()) o.client_prefix = "mqb-" + std::to_string(::getpid());
  return 0;
}

}  // namespace

std::size_t wire_min_size() { return 16; }

int parse_options(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    std::string_view val;
    bool has_val = false;
    if (auto eq = a.find('='); a.starts_with("--") && eq != std::string_view::npos) {
      val = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_val = true;
    }
    auto next = [&](std::string_view& v) {
      if (has_val) { v = val; return true; }
      if (i + 1 >= argc) return false;
      v = argv[++i];
      return true;
    };
    std::string_view v;
    auto need = [&](auto&& parse) -> int {
      if (!next(v)) return usage_error(std::string(a) + " needs a value");
      if (!parse(v)) return usage_error("bad value for " + std::string(a) + ": " + std::string(v));
      return 0;
    };
    int rc = 0;
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 1;
    } else if (a == "--host") rc = need([&](auto s) { o.host = std::string(s); return !s.empty(); });
    else if (a == "--port") rc = need([&](auto s) { return num(s, o.port) && o.port != 0; });
    else if (a == "--sub-port") rc = need([&](auto s) { return num(s, o.sub_port) && o.sub_port != 0; });
    else if (a == "--scenario") rc = need([&](auto s) {
      if (s == "p2p") o.scenario = Scenario::p2p;
      else if (s == "fanout") o.scenario = Scenario::fanout;
      else if (s == "fanin") o.scenario = Scenario::fanin;
      else if (s == "idle") o.scenario = Scenario::idle;
      else if (s == "persist") o.scenario = Scenario::persist;
      else if (s == "queue") o.scenario = Scenario::queue;
      else return false;
      return true;
    });
    else if (a == "--pairs") rc = need([&](auto s) { return num(s, o.opt_pairs) && o.opt_pairs > 0; });
    else if (a == "--publishers") rc = need([&](auto s) { return num(s, o.opt_publishers) && o.opt_publishers > 0; });
    else if (a == "--subscribers") rc = need([&](auto s) { return num(s, o.opt_subscribers) && o.opt_subscribers > 0; });
    else if (a == "--connections") rc = need([&](auto s) { return num(s, o.opt_connections) && o.opt_connections > 0; });
    else if (a == "--qos") rc = need([&](auto s) { o.qos_given = true; return num(s, o.qos) && o.qos >= 0 && o.qos <= 2; });
    else if (a == "--size") rc = need([&](auto s) { return num(s, o.size) && o.size <= 64u * 1024 * 1024; });
    else if (a == "--count") rc = need([&](auto s) { return num(s, o.count) && o.count > 0; });
    else if (a == "--duration") rc = need([&](auto s) { return real(s, o.duration) && o.duration > 0; });
    else if (a == "--rate") rc = need([&](auto s) { return real(s, o.rate); });
    else if (a == "--inflight") rc = need([&](auto s) { return num(s, o.inflight); });
    else if (a == "--threads") rc = need([&](auto s) { return num(s, o.threads) && o.threads > 0 && o.threads <= 256; });
    else if (a == "--hold") rc = need([&](auto s) { o.hold_given = true; return real(s, o.hold); });
    else if (a == "--warmup") rc = need([&](auto s) { return real(s, o.warmup); });
    else if (a == "--broker-pid") rc = need([&](auto s) { return num(s, o.broker_pid) && o.broker_pid > 0; });
    else if (a == "--drain") rc = need([&](auto s) { return real(s, o.drain); });
    else if (a == "--drain-max") rc = need([&](auto s) { return real(s, o.drain_max) && o.drain_max >= 0; });
    else if (a == "--connect-timeout") rc = need([&](auto s) { return real(s, o.connect_timeout); });
    else if (a == "--connect-concurrency") rc = need([&](auto s) { return num(s, o.connect_concurrency); });
    else if (a == "--keepalive") rc = need([&](auto s) { return num(s, o.keepalive); });
    else if (a == "--websocket") rc = need([&](auto s) { o.websocket_path = std::string(s); return s.starts_with("/"); });
    else if (a == "--topic-prefix") rc = need([&](auto s) { o.topic_prefix = std::string(s); return !s.empty(); });
    else if (a == "--client-prefix") rc = need([&](auto s) { o.client_prefix = std::string(s); return true; });
    else if (a == "--ready-file") rc = need([&](auto s) { o.ready_file = std::string(s); return true; });
    else if (a == "--v5") o.v5 = true;
    else if (a == "--json") o.json = true;
    else if (a == "--no-progress") o.progress = false;
    else if (a == "--expect-no-loss") o.expect_no_loss = true;
    else return usage_error("unknown option " + std::string(a));
    if (rc) return rc;
    if (has_val && (a == "--v5" || a == "--json" || a == "--no-progress" || a == "--expect-no-loss"))
      return usage_error(std::string(a) + " takes no value");
  }
  if (o.count > 0 && o.duration > 0) return usage_error("use either --count or --duration");
  return resolve(o);
}

}  // namespace mqb
