#include "oneshot.hpp"

#include <csignal>
#include "strformat.hpp"
#include <string>
#include <vector>

#include "command_parser.hpp"
#include "connection.hpp"
#include "help.hpp"
#include "output.hpp"
#include "payload.hpp"
#include "topic.hpp"

namespace musqratt::cli {
namespace {

constexpr Connection::Seconds kTimeout{10.0};

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_signal(int) { g_interrupted = 1; }

int error(const std::string& message) {
  Output::get().error(message);
  return 1;
}

/// Flags both one-shot commands share (connection settings), mosquitto_pub/sub spelling.
constexpr OptionSpec kCommon[] = {{"-h", true}, {"--host", true}, {"-p", true},
                                  {"--port", true}, {"-V", true}, {"-i", true},
                                  {"--id", true}, {"-k", true}, {"-u", true},
                                  {"-P", true}, {"-q", true}, {"--qos", true},
                                  {"-t", true}, {"--topic", true}, {"--help", false}};

std::expected<ConnectOptions, std::string> connect_options(const ParsedArgs& p) {
  ConnectOptions o;
  if (auto v = p.get("-h")) o.host = *v;
  if (auto v = p.get("--host")) o.host = *v;
  auto port_text = p.get("-p") ? p.get("-p") : p.get("--port");
  if (port_text) {
    auto port = parse_int(*port_text, "port", 1, 65535);
    if (!port) return std::unexpected(port.error());
    o.port = static_cast<int>(*port);
  }
  if (auto v = p.get("-V")) {
    if (*v == "5" || *v == "mqttv5")
      o.version = 5;
    else if (*v == "311" || *v == "mqttv311")
      o.version = 4;
    else
      return std::unexpected(strformat("bad protocol version '{}': expected 5 or 311", *v));
  }
  o.client_id = p.get("-i").value_or(p.get("--id").value_or(""));
  if (auto v = p.get("-k")) {
    auto k = parse_int(*v, "keepalive", 0, 65535);
    if (!k) return std::unexpected(k.error());
    o.keepalive = static_cast<int>(*k);
  }
  o.user = p.get("-u");
  o.password = p.get("-P");
  if (o.password && !o.user) return std::unexpected("-P needs -u");
  return o;
}

std::expected<int, std::string> qos_flag(const ParsedArgs& p) {
  auto v = p.get("-q") ? p.get("-q") : p.get("--qos");
  if (!v) return 0;
  auto q = parse_int(*v, "QoS", 0, 2);
  if (!q) return std::unexpected(q.error());
  return static_cast<int>(*q);
}

std::vector<std::string> topics(const ParsedArgs& p) {
  auto t = p.all("-t");
  for (auto& x : p.all("--topic")) t.push_back(x);
  return t;
}

template <std::size_t N>
std::expected<ParsedArgs, std::string> parse_oneshot(int argc, char** argv,
                                                     const OptionSpec (&extra)[N]) {
  std::vector<OptionSpec> spec(std::begin(kCommon), std::end(kCommon));
  spec.insert(spec.end(), std::begin(extra), std::end(extra));
  std::vector<std::string> words(argv, argv + argc);
  auto p = parse_args(words, spec);
  if (!p) return p;
  if (!p->positional.empty())
    return std::unexpected(strformat("unexpected argument '{}'", p->positional[0]));
  return p;
}

}  // namespace

int run_oneshot_pub(int argc, char** argv) {
  static constexpr OptionSpec extra[] = {{"-m", true},       {"--message", true}, {"-f", true},
                                         {"--file", true},   {"-s", false},       {"--stdin-file", false},
                                         {"-n", false},      {"--null-message", false},
                                         {"-r", false},      {"--retain", false}, {"--expiry", true}};
  auto p = parse_oneshot(argc, argv, extra);
  if (!p) return error(strformat("pub: {} (see 'musqratt-cli pub --help')", p.error()));
  if (p->has("--help")) {
    Output::get().line(oneshot_pub_help());
    return 0;
  }
  auto options = connect_options(*p);
  if (!options) return error(options.error());
  auto qos = qos_flag(*p);
  if (!qos) return error(qos.error());
  auto t = topics(*p);
  if (t.size() != 1) return error("pub: give exactly one topic with -t");
  if (auto err = topic_name_error(t[0])) return error(*err);

  int sources = 0;
  std::expected<std::string, std::string> payload = std::string();
  for (const char* flag : {"-m", "--message"})
    if (auto v = p->get(flag)) ++sources, payload = *v;
  for (const char* flag : {"-f", "--file"})
    if (auto v = p->get(flag)) ++sources, payload = read_file(*v);
  if (p->has("-s") || p->has("--stdin-file")) ++sources, payload = read_stdin();
  if (p->has("-n") || p->has("--null-message")) ++sources, payload = std::string();
  if (sources != 1) return error("pub: give exactly one of -m, -f, -s, -n");
  if (!payload) return error(payload.error());

  std::optional<std::uint32_t> expiry;
  if (auto v = p->get("--expiry")) {
    auto s = parse_int(*v, "expiry", 0, 0xFFFFFFFFLL);
    if (!s) return error(s.error());
    if (options->version != 5) return error("--expiry needs MQTT 5.0 (-V 5)");
    expiry = static_cast<std::uint32_t>(*s);
  }

  Connection conn("pub", *options, nullptr);
  auto connected = conn.connect(kTimeout);
  if (!connected) return error(connected.error());
  auto r = conn.publish(t[0], *payload, *qos, p->has("-r") || p->has("--retain"), expiry, kTimeout);
  conn.disconnect();
  if (!r) return error(r.error());
  return 0;
}

int run_oneshot_sub(int argc, char** argv) {
  static constexpr OptionSpec extra[] = {{"-C", true},  {"--count", true},  {"-W", true},
                                         {"--timeout", true}, {"-v", false}, {"--verbose", false},
                                         {"--format", true}};
  auto p = parse_oneshot(argc, argv, extra);
  if (!p) return error(strformat("sub: {} (see 'musqratt-cli sub --help')", p.error()));
  if (p->has("--help")) {
    Output::get().line(oneshot_sub_help());
    return 0;
  }
  auto options = connect_options(*p);
  if (!options) return error(options.error());
  auto qos = qos_flag(*p);
  if (!qos) return error(qos.error());
  auto filters = topics(*p);
  if (filters.empty()) return error("sub: give at least one topic filter with -t");
  for (const auto& f : filters)
    if (auto err = topic_filter_error(f)) return error(*err);
  std::optional<std::uint64_t> limit;
  if (auto v = p->get("-C") ? p->get("-C") : p->get("--count")) {
    auto c = parse_int(*v, "count", 1, 1'000'000'000);
    if (!c) return error(c.error());
    limit = static_cast<std::uint64_t>(*c);
  }
  std::optional<double> wait_seconds;
  if (auto v = p->get("-W") ? p->get("-W") : p->get("--timeout")) {
    auto w = parse_seconds(*v, "timeout");
    if (!w) return error(w.error());
    wait_seconds = *w;
  }
  Format format = Format::text;
  if (auto v = p->get("--format")) {
    if (*v == "json")
      format = Format::json;
    else if (*v != "text")
      return error(strformat("bad format '{}': expected json or text", *v));
  }
  bool verbose = p->has("-v") || p->has("--verbose");

  std::mutex mutex;
  std::condition_variable done;
  std::uint64_t count = 0;
  auto on_message = [&](Message&& m) {
    std::lock_guard lock(mutex);
    if (limit && count >= *limit) return;
    Output::get().line(render_oneshot_message(m, format, verbose));
    ++count;
    done.notify_all();
  };
  Connection conn("sub", *options, on_message);
  auto connected = conn.connect(kTimeout);
  if (!connected) return error(connected.error());
  for (const auto& f : filters) {
    auto granted = conn.subscribe(f, *qos, kTimeout);
    if (!granted) return error(granted.error());
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      std::chrono::duration<double>(wait_seconds.value_or(0)));
  int status = 0;
  std::unique_lock lock(mutex);
  while (true) {
    if (limit && count >= *limit) break;
    if (g_interrupted) break;
    if (!conn.connected()) {
      lock.unlock();
      status = error("connection lost");
      lock.lock();
      break;
    }
    if (wait_seconds && std::chrono::steady_clock::now() >= deadline) {
      Output::get().error(strformat("timed out after {:g} s ({} messages received)",
                                      *wait_seconds, count));
      status = kExitTimeout;
      break;
    }
    done.wait_for(lock, std::chrono::milliseconds(50));
  }
  lock.unlock();
  conn.disconnect();
  return status;
}

}  // namespace musqratt::cli
