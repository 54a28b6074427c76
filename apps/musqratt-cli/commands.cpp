#include "commands.hpp"

#include <unistd.h>

#include <array>
#include <chrono>
#include "strformat.hpp"
#include <span>
#include <thread>

#include "help.hpp"
#include "payload.hpp"
#include "reason.hpp"
#include "topic.hpp"

namespace musqratt::cli {
namespace {

constexpr Connection::Seconds kAckTimeout{10.0};

/// Parses args against spec or prints a usage error for `command`.
std::expected<ParsedArgs, std::string> parse_for(std::string_view command, const Words& args,
                                                 std::span<const OptionSpec> spec) {
  auto parsed = parse_args(args, spec);
  if (!parsed) return std::unexpected(strformat("{}: {}", command, parsed.error()));
  return parsed;
}

std::string usage_error(std::string_view command) {
  const CommandHelp* h = find_command_help(command);
  return strformat("usage: {}", h ? h->usage : command);
}

std::expected<int, std::string> qos_option(const ParsedArgs& p) {
  auto q = p.get("--qos");
  if (!q) return 0;
  auto v = parse_int(*q, "QoS", 0, 2);
  if (!v) return std::unexpected(v.error());
  return static_cast<int>(*v);
}

}  // namespace

CommandRunner::CommandRunner(ShellSettings settings)
    : settings_(std::move(settings)), format_(settings_.format) {}

bool CommandRunner::fail(const std::string& message) {
  Output::get().error(message);
  return false;
}

bool CommandRunner::run(const Words& words) {
  if (words.empty()) return true;
  static constexpr std::array<std::pair<std::string_view, Handler>, 12> table{{
      {"connect", &CommandRunner::cmd_connect},
      {"disconnect", &CommandRunner::cmd_disconnect},
      {"sub", &CommandRunner::cmd_sub},
      {"unsub", &CommandRunner::cmd_unsub},
      {"pub", &CommandRunner::cmd_pub},
      {"status", &CommandRunner::cmd_status},
      {"use", &CommandRunner::cmd_use},
      {"format", &CommandRunner::cmd_format},
      {"wait", &CommandRunner::cmd_wait},
      {"help", &CommandRunner::cmd_help},
      {"quit", &CommandRunner::cmd_quit},
      {"exit", &CommandRunner::cmd_quit},
  }};
  for (const auto& [name, handler] : table)
    if (words[0] == name) return (this->*handler)(Words(words.begin() + 1, words.end()));
  return fail(strformat("unknown command '{}' (try 'help')", words[0]));
}

std::vector<std::string> CommandRunner::connection_names() const {
  std::vector<std::string> names;
  for (const auto& e : registry_.entries()) names.push_back(e->name);
  return names;
}

std::string CommandRunner::prompt() {
  auto* e = registry_.current();
  if (!e) return "musqratt> ";
  return strformat("musqratt[{}{}]> ", e->name,
                     e->connection && e->connection->connected() ? "" : " (disconnected)");
}

ConnectionRegistry::Entry* CommandRunner::require_connected() {
  auto* e = registry_.current();
  if (!e) {
    fail("not connected (use 'connect' first)");
    return nullptr;
  }
  if (!e->connection || !e->connection->connected()) {
    fail(strformat("not connected: '{}' is disconnected (use 'connect {}')", e->name,
                     e->name));
    return nullptr;
  }
  return e;
}

void CommandRunner::on_message(Message&& m) {
  Output::get().line(render_shell_message(m, format_.load(), registry_.size() > 1));
  std::lock_guard lock(arrivals_mutex_);
  ++received_;
  arrived_.notify_all();
}

bool CommandRunner::cmd_connect(const Words& args) {
  static constexpr OptionSpec spec[] = {
      {"--host", true},     {"--port", true},       {"--v5", false},
      {"--v311", false},    {"--keepalive", true},  {"--session-expiry", true},
      {"--clean", false},   {"--resume", false},    {"--user", true},
      {"--password", true}, {"--name", true},       {"--timeout", true}};
  auto p = parse_for("connect", args, spec);
  if (!p) return fail(p.error());
  if (p->positional.size() > 1) return fail(usage_error("connect"));
  if (p->has("--v5") && p->has("--v311")) return fail("connect: choose one of --v5 and --v311");
  if (p->has("--clean") && p->has("--resume"))
    return fail("connect: choose one of --clean and --resume");

  ConnectOptions o;
  o.host = p->get("--host").value_or(settings_.default_host);
  o.port = settings_.default_port;
  if (auto v = p->get("--port")) {
    auto port = parse_int(*v, "port", 1, 65535);
    if (!port) return fail(port.error());
    o.port = static_cast<int>(*port);
  }
  o.version = p->has("--v311") ? 4 : 5;
  if (auto v = p->get("--keepalive")) {
    auto k = parse_int(*v, "keepalive", 0, 65535);
    if (!k) return fail(k.error());
    o.keepalive = static_cast<int>(*k);
  }
  if (auto v = p->get("--session-expiry")) {
    if (o.version != 5) return fail("--session-expiry needs MQTT 5.0 (--v5)");
    auto s = parse_int(*v, "session expiry", 0, 0xFFFFFFFFLL);
    if (!s) return fail(s.error());
    o.session_expiry = static_cast<std::uint32_t>(*s);
  }
  o.clean = !p->has("--resume");
  o.user = p->get("--user");
  o.password = p->get("--password");
  if (o.password && !o.user) return fail("connect: --password needs --user");
  Connection::Seconds timeout{10.0};
  if (auto v = p->get("--timeout")) {
    auto t = parse_seconds(*v, "timeout");
    if (!t) return fail(t.error());
    timeout = Connection::Seconds{*t};
  }
  if (!p->positional.empty()) {
    o.client_id = p->positional[0];
  } else {
    o.client_id = strformat("musqratt-cli-{}-{}", ::getpid(), ++generated_ids_);
  }
  std::string name = p->get("--name").value_or(o.client_id);
  if (name.empty()) return fail("connect: the connection needs a name (--name)");

  if (auto* existing = registry_.find(name);
      existing && existing->connection && existing->connection->connected())
    return fail(strformat("'{}' is already connected (disconnect it first)", name));

  auto conn = std::make_unique<Connection>(name, o, [this](Message&& m) {
    on_message(std::move(m));
  });
  auto session_present = conn->connect(timeout);
  if (!session_present) return fail(session_present.error());
  registry_.put(name, std::move(conn), *session_present);
  Output::get().line(strformat("connected {} (session present: {})", name,
                                 *session_present ? "yes" : "no"));
  return true;
}

bool CommandRunner::cmd_disconnect(const Words& args) {
  if (args.size() > 1) return fail(usage_error("disconnect"));
  ConnectionRegistry::Entry* e = nullptr;
  if (args.empty()) {
    e = registry_.current();
    if (!e) return fail("not connected (use 'connect' first)");
  } else {
    e = registry_.find(args[0]);
    if (!e) return fail(strformat("no connection named '{}'", args[0]));
  }
  if (!e->connection || !e->connection->connected())
    return fail(strformat("not connected: '{}' is already disconnected", e->name));
  e->connection->disconnect();
  Output::get().line(strformat("disconnected {}", e->name));
  return true;
}

bool CommandRunner::cmd_sub(const Words& args) {
  static constexpr OptionSpec spec[] = {{"--qos", true}};
  auto p = parse_for("sub", args, spec);
  if (!p) return fail(p.error());
  if (p->positional.empty()) return fail(usage_error("sub"));
  auto qos = qos_option(*p);
  if (!qos) return fail(qos.error());
  for (const auto& f : p->positional)
    if (auto err = topic_filter_error(f)) return fail(*err);
  auto* e = require_connected();
  if (!e) return false;
  bool ok = true;
  for (const auto& f : p->positional) {
    auto granted = e->connection->subscribe(f, *qos, kAckTimeout);
    if (!granted) {
      ok = fail(granted.error());
      continue;
    }
    std::erase_if(e->subscriptions, [&](const auto& s) { return s.filter == f; });
    e->subscriptions.push_back({f, *granted});
    Output::get().line(strformat("subscribed {} (granted qos {})", f, *granted));
  }
  return ok;
}

bool CommandRunner::cmd_unsub(const Words& args) {
  auto p = parse_for("unsub", args, {});
  if (!p) return fail(p.error());
  if (p->positional.empty()) return fail(usage_error("unsub"));
  for (const auto& f : p->positional)
    if (auto err = topic_filter_error(f)) return fail(*err);
  auto* e = require_connected();
  if (!e) return false;
  bool ok = true;
  for (const auto& f : p->positional) {
    auto r = e->connection->unsubscribe(f, kAckTimeout);
    if (!r) {
      ok = fail(r.error());
      continue;
    }
    std::erase_if(e->subscriptions, [&](const auto& s) { return s.filter == f; });
    Output::get().line(strformat("unsubscribed {}", f));
  }
  return ok;
}

bool CommandRunner::cmd_pub(const Words& args) {
  static constexpr OptionSpec spec[] = {{"--qos", true}, {"--retain", false}, {"--expiry", true}};
  auto p = parse_for("pub", args, spec);
  if (!p) return fail(p.error());
  if (p->positional.size() != 2) return fail(usage_error("pub"));
  const std::string& topic = p->positional[0];
  auto qos = qos_option(*p);
  if (!qos) return fail(qos.error());
  if (auto err = topic_name_error(topic)) return fail(*err);
  std::optional<std::uint32_t> expiry;
  if (auto v = p->get("--expiry")) {
    auto s = parse_int(*v, "expiry", 0, 0xFFFFFFFFLL);
    if (!s) return fail(s.error());
    expiry = static_cast<std::uint32_t>(*s);
  }
  auto* e = require_connected();
  if (!e) return false;
  auto payload = resolve_payload(p->positional[1], settings_.stdin_free);
  if (!payload) return fail(payload.error());
  auto r = e->connection->publish(topic, *payload, *qos, p->has("--retain"), expiry, kAckTimeout);
  if (!r) return fail(r.error());
  std::string detail = strformat("qos {}", *qos);
  if (*qos > 0) detail += strformat(", packet id {}", r->packet_id);
  if (r->reason != 0)
    detail += ", " + describe_reason(r->reason, e->connection->options().version,
                                     *qos == 1 ? protocol::PacketType::Puback : protocol::PacketType::Pubrec);
  Output::get().line(strformat("published {} ({})", topic, detail));
  return true;
}

bool CommandRunner::cmd_status(const Words& args) {
  if (!args.empty()) return fail(usage_error("status"));
  if (registry_.entries().empty()) {
    Output::get().line("no connections");
    return true;
  }
  const auto* current = registry_.current();
  for (const auto& e : registry_.entries()) {
    const auto& o = e->connection->options();
    std::string subs;
    for (const auto& s : e->subscriptions)
      subs += strformat("{}{} (qos {})", subs.empty() ? "" : ", ", s.filter, s.qos);
    Output::get().line(strformat("{} {} {}:{} {} {} subscriptions: {}",
                                   e.get() == current ? '*' : ' ', e->name, o.host, o.port,
                                   o.version == 5 ? "v5" : "v311",
                                   e->connection->connected() ? "connected" : "disconnected",
                                   subs.empty() ? "none" : subs));
  }
  return true;
}

bool CommandRunner::cmd_use(const Words& args) {
  if (args.size() != 1) return fail(usage_error("use"));
  if (!registry_.use(args[0])) return fail(strformat("no connection named '{}'", args[0]));
  Output::get().line(strformat("using {}", args[0]));
  return true;
}

bool CommandRunner::cmd_format(const Words& args) {
  if (args.size() != 1) return fail(usage_error("format"));
  if (args[0] == "json")
    format_ = Format::json;
  else if (args[0] == "text")
    format_ = Format::text;
  else
    return fail(strformat("bad format '{}': expected json or text", args[0]));
  Output::get().line(strformat("format {}", args[0]));
  return true;
}

bool CommandRunner::cmd_wait(const Words& args) {
  static constexpr OptionSpec spec[] = {{"--count", true}, {"--timeout", true}};
  auto p = parse_for("wait", args, spec);
  if (!p) return fail(p.error());
  if (p->has("--count")) {
    if (!p->positional.empty()) return fail(usage_error("wait"));
    auto n = parse_int(*p->get("--count"), "count", 0, 1'000'000'000);
    if (!n) return fail(n.error());
    double seconds = 10.0;
    if (auto v = p->get("--timeout")) {
      auto t = parse_seconds(*v, "timeout");
      if (!t) return fail(t.error());
      seconds = *t;
    }
    std::unique_lock lock(arrivals_mutex_);
    auto want = static_cast<std::uint64_t>(*n);
    bool got = arrived_.wait_for(lock, std::chrono::duration<double>(seconds),
                                 [&] { return received_ - consumed_ >= want; });
    if (!got) {
      std::uint64_t have = received_ - consumed_;
      consumed_ = received_;
      lock.unlock();
      return fail(strformat("wait: {} of {} messages arrived within {:g} s", have, want,
                              seconds));
    }
    consumed_ += want;
    return true;
  }
  if (p->positional.size() != 1 || p->has("--timeout")) return fail(usage_error("wait"));
  auto seconds = parse_seconds(p->positional[0], "wait time");
  if (!seconds) return fail(seconds.error());
  std::this_thread::sleep_for(std::chrono::duration<double>(*seconds));
  std::lock_guard lock(arrivals_mutex_);
  consumed_ = received_;
  return true;
}

bool CommandRunner::cmd_help(const Words& args) {
  if (args.empty()) {
    Output::get().line(shell_help_overview());
    return true;
  }
  if (args.size() > 1) return fail(usage_error("help"));
  const CommandHelp* h = find_command_help(args[0]);
  if (!h) return fail(strformat("unknown command '{}' (try 'help')", args[0]));
  std::string text = strformat("usage: {}\n{}.", h->usage, h->summary);
  if (!h->details.empty()) text += strformat("\n{}", h->details);
  Output::get().line(text);
  return true;
}

bool CommandRunner::cmd_quit(const Words& args) {
  if (!args.empty()) return fail(usage_error("quit"));
  quit_ = true;
  return true;
}

}  // namespace musqratt::cli
