#include "bridge/config_parser.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include "bridge/topic_mapping.h"

namespace musqratt::bridge {

namespace {

/// Where a value was read, for messages: the file, the table and the line of the node.
struct Reader {
  const std::string& source;
  std::string table;  // "[[bridge]] 'edge' (table 1)"

  [[noreturn]] void fail(const toml::node* at, std::string_view key, const std::string& why) const {
    std::string msg = source;
    if (at && at->source().begin.line) msg += ":" + std::to_string(at->source().begin.line);
    msg += ": " + table;
    if (!key.empty()) msg += ": key '" + std::string(key) + "'";
    throw ConfigError(msg + ": " + why);
  }
  std::string string(const toml::node& n, std::string_view key) const {
    if (!n.is_string()) fail(&n, key, "expected a string");
    return *n.value<std::string>();
  }
  bool boolean(const toml::node& n, std::string_view key) const {
    if (!n.is_boolean()) fail(&n, key, "expected true or false");
    return *n.value<bool>();
  }
  uint64_t number(const toml::node& n, std::string_view key, uint64_t min, uint64_t max) const {
    if (!n.is_integer()) fail(&n, key, "expected an integer");
    int64_t v = *n.value<int64_t>();
    if (v < 0 || static_cast<uint64_t>(v) < min || static_cast<uint64_t>(v) > max)
      fail(&n, key, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) + ", got " +
                        std::to_string(v));
    return static_cast<uint64_t>(v);
  }
};

std::string quote(std::string_view v) {
  std::string out = "\"";
  for (char ch : v) {
    if (ch == '"' || ch == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7F) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(static_cast<unsigned char>(ch)));
      out += buf;
    } else {
      out.push_back(ch);
    }
  }
  return out + "\"";
}

/// One key of a [[bridge]] table: how it is read, how it is printed (nullopt: left out).
struct Key {
  const char* name;
  const char* help;
  std::function<void(BridgeConfig&, const toml::node&, const Reader&)> set;
  std::function<std::optional<std::string>(const BridgeConfig&)> print;
};

Key text_key(const char* name, const char* help, std::string BridgeConfig::*f) {
  return {name, help, [=](BridgeConfig& c, const toml::node& n, const Reader& r) { c.*f = r.string(n, name); },
          [=](const BridgeConfig& c) -> std::optional<std::string> { return quote(c.*f); }};
}

Key optional_text_key(const char* name, const char* help, std::optional<std::string> BridgeConfig::*f) {
  return {name, help, [=](BridgeConfig& c, const toml::node& n, const Reader& r) { c.*f = r.string(n, name); },
          [=](const BridgeConfig& c) -> std::optional<std::string> {
            if (!(c.*f)) return std::nullopt;
            return quote(*(c.*f));
          }};
}

Key bool_key(const char* name, const char* help, bool BridgeConfig::*f) {
  return {name, help, [=](BridgeConfig& c, const toml::node& n, const Reader& r) { c.*f = r.boolean(n, name); },
          [=](const BridgeConfig& c) -> std::optional<std::string> { return c.*f ? "true" : "false"; }};
}

template <class T>
Key number_key(const char* name, const char* help, T BridgeConfig::*f, uint64_t min,
               uint64_t max = std::numeric_limits<T>::max()) {
  return {name, help,
          [=](BridgeConfig& c, const toml::node& n, const Reader& r) { c.*f = static_cast<T>(r.number(n, name, min, max)); },
          [=](const BridgeConfig& c) -> std::optional<std::string> { return std::to_string(c.*f); }};
}

/// A topics entry written as a Mosquitto `topic` line: "pattern [direction [qos [local remote]]]",
/// "" for an empty word.
TopicRule rule_from_line(const std::string& line, const toml::node& n, const Reader& r) {
  std::vector<std::string> words;
  std::istringstream in(line);
  std::string w;
  while (in >> w) words.push_back(w == "\"\"" ? std::string() : w);
  if (words.empty() || words.size() > 5 || words.size() == 4)
    r.fail(&n, "topics", "'" + line + "': expected \"pattern [out|in|both [qos [local_prefix remote_prefix]]]\"");
  TopicRule rule;
  rule.filter = words[0];
  if (words.size() > 1) {
    if (words[1] == "out") rule.direction = Direction::Out;
    else if (words[1] == "in") rule.direction = Direction::In;
    else if (words[1] == "both") rule.direction = Direction::Both;
    else r.fail(&n, "topics", "'" + line + "': direction must be out, in or both");
  }
  if (words.size() > 2) {
    if (words[2] != "0" && words[2] != "1" && words[2] != "2") r.fail(&n, "topics", "'" + line + "': qos must be 0, 1 or 2");
    rule.qos = static_cast<uint8_t>(words[2][0] - '0');
  }
  if (words.size() == 5) {
    rule.local_prefix = words[3];
    rule.remote_prefix = words[4];
  }
  return rule;
}

TopicRule rule_from_table(const toml::table& t, const Reader& r) {
  TopicRule rule;
  bool has_filter = false;
  for (const auto& [k, v] : t) {
    std::string key(k.str());
    if (key == "filter") {
      rule.filter = r.string(v, key);
      has_filter = true;
    } else if (key == "direction") {
      std::string d = r.string(v, key);
      if (d == "out") rule.direction = Direction::Out;
      else if (d == "in") rule.direction = Direction::In;
      else if (d == "both") rule.direction = Direction::Both;
      else r.fail(&v, key, "must be \"out\", \"in\" or \"both\", got \"" + d + "\"");
    } else if (key == "qos") {
      rule.qos = static_cast<uint8_t>(r.number(v, key, 0, 2));
    } else if (key == "local_prefix") {
      rule.local_prefix = r.string(v, key);
    } else if (key == "remote_prefix") {
      rule.remote_prefix = r.string(v, key);
    } else {
      r.fail(&v, key, "unknown key (a topics entry has filter, direction, qos, local_prefix, remote_prefix)");
    }
  }
  if (!has_filter) r.fail(&t, "filter", "missing (use \"\" with both prefixes to map one topic to another)");
  return rule;
}

std::string format_rule(const TopicRule& t) {
  std::string out = "{ filter = " + quote(t.filter) + ", direction = " + quote(direction_name(t.direction)) +
                    ", qos = " + std::to_string(t.qos);
  if (!t.local_prefix.empty()) out += ", local_prefix = " + quote(t.local_prefix);
  if (!t.remote_prefix.empty()) out += ", remote_prefix = " + quote(t.remote_prefix);
  return out + " }";
}

const std::vector<Key>& keys() {
  using C = BridgeConfig;
  static const std::vector<Key> table = {
      text_key("name", "the bridge's name (letters, digits, _ . -), unique: its status is $SYS/broker/bridges/NAME/...", &C::name),
      {"address", "upstream HOST:PORT, or a list of them tried in order when one fails (required)",
       [](C& c, const toml::node& n, const Reader& r) {
         c.addresses.clear();
         if (const toml::array* a = n.as_array()) {
           for (const toml::node& item : *a) c.addresses.push_back(r.string(item, "address"));
         } else {
           c.addresses.push_back(r.string(n, "address"));
         }
       },
       [](const C& c) -> std::optional<std::string> {
         if (c.addresses.size() == 1) return quote(c.addresses[0]);
         std::string out = "[";
         for (const auto& a : c.addresses) out += (out.size() > 1 ? ", " : "") + quote(a);
         return out + "]";
       }},
      {"protocol", "mqttv311 or mqttv5",
       [](C& c, const toml::node& n, const Reader& r) {
         std::string p = r.string(n, "protocol");
         if (p == "mqttv311") c.version = protocol::Version::V311;
         else if (p == "mqttv5") c.version = protocol::Version::V5;
         else r.fail(&n, "protocol", "must be \"mqttv311\" or \"mqttv5\", got \"" + p + "\"");
       },
       [](const C& c) -> std::optional<std::string> {
         return quote(c.version == protocol::Version::V5 ? "mqttv5" : "mqttv311");
       }},
      text_key("client_id", "client id towards the upstream (default: <host name>.<name>)", &C::client_id),
      optional_text_key("username", "user name towards the upstream (none if absent)", &C::username),
      optional_text_key("password", "password towards the upstream (needs username under mqttv311)", &C::password),
      number_key<uint16_t>("keepalive", "keep-alive in seconds: a PINGREQ after this long without sending, and a link silent for 1.5 times it is dropped and reconnected (0 = none)", &C::keepalive, 0),
      bool_key("clean_start", "start a new session upstream at every connection (false: the upstream keeps the bridge's session and its subscriptions)", &C::clean_start),
      number_key<uint32_t>("session_expiry", "mqttv5: seconds the upstream keeps the bridge's session after the link drops (4294967295 = never)", &C::session_expiry, 0),
      bool_key("try_private", "mqttv311: announce a bridge (protocol level 0x84, as Mosquitto does) so the upstream does not send the bridge's own messages back; retried without it if the upstream refuses it", &C::try_private),
      bool_key("tls", "TLS to the upstream (default: on when tls_ca or tls_cert is set)", &C::tls),
      text_key("tls_ca", "PEM CA bundle the upstream's certificate is verified against (empty = the system's CA store)", &C::tls_ca),
      text_key("tls_cert", "PEM client certificate presented to the upstream (with tls_key)", &C::tls_cert),
      text_key("tls_key", "PEM private key of tls_cert", &C::tls_key),
      bool_key("tls_verify_hostname", "the upstream's certificate must name the host connected to (or tls_server_name)", &C::tls_verify_hostname),
      text_key("tls_server_name", "name sent as SNI and checked in the certificate (default: the host of the address)", &C::tls_server_name),
      number_key<uint32_t>("reconnect_min_ms", "first delay before reconnecting, milliseconds; it doubles (with jitter) after each failed round up to reconnect_max_ms", &C::reconnect_min_ms, 10),
      number_key<uint32_t>("reconnect_max_ms", "longest delay between reconnection attempts, milliseconds", &C::reconnect_max_ms, 10),
      number_key<uint32_t>("connect_timeout_ms", "milliseconds for TCP, TLS and the CONNACK together before an attempt counts as failed", &C::connect_timeout_ms, 100),
      number_key<uint16_t>("max_inflight", "QoS 1/2 messages sent upstream and not yet acknowledged (also bounded by the upstream's Receive Maximum); at most this many are sent twice after a crash", &C::max_inflight, 1),
      {"topics", "what is carried: a list of { filter, direction = out|in|both, qos, local_prefix, remote_prefix }, or Mosquitto topic lines \"filter out 1 local/ remote/\" (required)",
       [](C& c, const toml::node& n, const Reader& r) {
         const toml::array* a = n.as_array();
         if (!a) r.fail(&n, "topics", "expected a list of tables { filter = ..., direction = ... }");
         c.topics.clear();
         for (size_t i = 0; i < a->size(); ++i) {
           const toml::node& item = *a->get(i);
           Reader sub{r.source, r.table + ": topics[" + std::to_string(i) + "]"};
           TopicRule rule;
           if (const toml::table* t = item.as_table()) rule = rule_from_table(*t, sub);
           else if (item.is_string()) rule = rule_from_line(*item.value<std::string>(), item, sub);
           else sub.fail(&item, "", "expected a table { filter = ..., direction = ... } or a topic line");
           if (std::string err = check_rule(rule); !err.empty()) sub.fail(&item, "", err);
           c.topics.push_back(std::move(rule));
         }
       },
       [](const C& c) -> std::optional<std::string> {
         std::string out = "[";
         for (const auto& t : c.topics) out += "\n  " + format_rule(t) + ",";
         return out + (c.topics.empty() ? "]" : "\n]");
       }},
      number_key<uint32_t>("buffer_max_messages", "messages the buffer holds for the upstream beyond those in flight (0 = unlimited); on disk with persistence = true", &C::buffer_max_messages, 0),
      number_key<uint64_t>("buffer_max_bytes", "payload bytes the buffer holds (0 = unlimited)", &C::buffer_max_bytes, 0),
      {"buffer_full", "drop_oldest or drop_newest: what a full buffer gives up (never a message in flight); counted in $SYS/broker/bridges/NAME/dropped",
       [](C& c, const toml::node& n, const Reader& r) {
         std::string v = r.string(n, "buffer_full");
         if (v == "drop_oldest") c.buffer_full = BufferFull::DropOldest;
         else if (v == "drop_newest") c.buffer_full = BufferFull::DropNewest;
         else r.fail(&n, "buffer_full", "must be \"drop_oldest\" or \"drop_newest\", got \"" + v + "\"");
       },
       [](const C& c) -> std::optional<std::string> { return quote(buffer_full_name(c.buffer_full)); }},
      bool_key("forward_qos0", "keep QoS 0 messages in the buffer while the link is down (they are always forwarded while it is up)", &C::forward_qos0),
  };
  return table;
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
           ch == '.';
  });
}

/// "HOST:PORT" or "[V6]:PORT" with a port from 1 to 65535.
bool valid_address(const std::string& a) {
  size_t colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == a.size()) return false;
  std::string host = a.substr(0, colon), port = a.substr(colon + 1);
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) return false;
  } else if (host.find(':') != std::string::npos) {
    return false;  // an IPv6 address needs brackets
  }
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    return false;
  int p = std::stoi(port);
  return p >= 1 && p <= 65535;
}

void check_file(const std::string& path, const toml::node* at, const char* key, const Reader& r) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) r.fail(at, key, "file '" + path + "' does not exist");
  if (access(path.c_str(), R_OK) != 0) r.fail(at, key, "file '" + path + "' cannot be read");
}

/// Checks a table once all its keys are read; fills in defaults that depend on others.
void finish(BridgeConfig& c, const toml::table& t, const Reader& r, const std::string& host_name) {
  auto at = [&](const char* key) -> const toml::node* {
    const toml::node* n = t.get(key);
    return n ? n : &t;
  };
  if (c.name.empty()) r.fail(&t, "name", "missing");
  if (!valid_name(c.name)) r.fail(at("name"), "name", "'" + c.name + "' must be 1 to 64 letters, digits, '_', '.' or '-'");
  if (c.addresses.empty()) r.fail(at("address"), "address", "missing: give HOST:PORT or a list of them");
  for (const auto& a : c.addresses)
    if (!valid_address(a)) r.fail(at("address"), "address", "'" + a + "' is not HOST:PORT (an IPv6 address in brackets)");
  if (c.topics.empty()) r.fail(at("topics"), "topics", "missing or empty: a bridge carries at least one topic filter");
  if (c.client_id.empty()) c.client_id = (host_name.empty() ? std::string("musqratt") : host_name) + "." + c.name;
  if (c.client_id.size() > 65535) r.fail(at("client_id"), "client_id", "longer than 65535 bytes");
  // [MQTT-3.1.2-22, 3.1.1]: no password without a user name.
  if (c.password && !c.username && c.version != protocol::Version::V5)
    r.fail(at("password"), "password", "needs username under mqttv311");
  if (c.reconnect_min_ms > c.reconnect_max_ms)
    r.fail(at("reconnect_min_ms"), "reconnect_min_ms",
           std::to_string(c.reconnect_min_ms) + " is more than reconnect_max_ms (" + std::to_string(c.reconnect_max_ms) + ")");
  bool tls_given = t.contains("tls");
  if (!tls_given && (!c.tls_ca.empty() || !c.tls_cert.empty())) c.tls = true;
  if (!c.tls) {
    for (const char* k : {"tls_ca", "tls_cert", "tls_key", "tls_server_name"})
      if (t.contains(k)) r.fail(at(k), k, "set while tls = false");
    return;
  }
  if (!c.tls_cert.empty() && c.tls_key.empty()) r.fail(at("tls_cert"), "tls_key", "missing: tls_cert needs its private key");
  if (c.tls_cert.empty() && !c.tls_key.empty()) r.fail(at("tls_key"), "tls_cert", "missing: tls_key needs its certificate");
  if (!c.tls_ca.empty()) check_file(c.tls_ca, at("tls_ca"), "tls_ca", r);
  if (!c.tls_cert.empty()) check_file(c.tls_cert, at("tls_cert"), "tls_cert", r);
  if (!c.tls_key.empty()) check_file(c.tls_key, at("tls_key"), "tls_key", r);
}

}  // namespace

std::vector<BridgeConfig> parse_bridges(const toml::node& node, const std::string& source, const std::string& host_name) {
  const toml::array* arr = node.as_array();
  Reader top{source, "[[bridge]]"};
  if (!arr) top.fail(&node, "", "'bridge' must be an array of tables: write each one as [[bridge]]");
  std::vector<BridgeConfig> out;
  std::set<std::string> names;
  for (size_t i = 0; i < arr->size(); ++i) {
    const toml::node& item = *arr->get(i);
    const toml::table* t = item.as_table();
    std::string label = "[[bridge]] table " + std::to_string(i + 1);
    if (!t) top.fail(&item, "", "entry " + std::to_string(i + 1) + " is not a table");
    if (const toml::node* n = t->get("name"); n && n->is_string()) label = "[[bridge]] '" + *n->value<std::string>() + "'";
    Reader r{source, label};
    BridgeConfig c;
    for (const auto& [k, v] : *t) {
      std::string key(k.str());
      auto it = std::find_if(keys().begin(), keys().end(), [&](const Key& x) { return key == x.name; });
      if (it == keys().end()) r.fail(&v, key, "unknown key (see docs/bridge.md)");
      it->set(c, v, r);
    }
    finish(c, *t, r, host_name);
    if (!names.insert(c.name).second) r.fail(t->get("name"), "name", "another [[bridge]] has the name '" + c.name + "'");
    out.push_back(std::move(c));
  }
  return out;
}

std::string format_bridges(const std::vector<BridgeConfig>& bridges) {
  std::string out;
  for (const BridgeConfig& c : bridges) {
    out += "\n[[bridge]]\n";
    for (const Key& k : keys()) {
      if (std::string(k.name) == "tls_server_name" && !c.tls) continue;
      if (!c.tls && (std::string(k.name) == "tls_ca" || std::string(k.name) == "tls_cert" || std::string(k.name) == "tls_key"))
        continue;
      if (auto v = k.print(c)) out += std::string(k.name) + " = " + *v + "\n";
    }
  }
  return out;
}

std::string describe_bridge_keys() {
  BridgeConfig d;
  d.name = "NAME";
  d.addresses = {"HOST:PORT"};
  d.topics = {TopicRule{"#", Direction::Out, 1, "", ""}};
  std::string out =
      "\n# [[bridge]]: a link to an upstream broker that forwards matching messages and buffers\n"
      "# them (on disk with persistence = true) until the upstream acknowledges them; any number\n"
      "# of tables (docs/bridge.md). Keys, with their defaults:\n#\n# [[bridge]]\n";
  for (const Key& k : keys()) {
    out += "#   # " + std::string(k.help) + "\n";
    std::string text = k.print(d).value_or("\"\"");
    for (size_t pos = 0; (pos = text.find('\n', pos)) != std::string::npos; pos += 5) text.replace(pos, 1, "\n#   ");
    out += "#   " + std::string(k.name) + " = " + text + "\n";
  }
  return out;
}

std::string bridge_keys_reference() {
  BridgeConfig d;
  std::string out = "| key | default | meaning |\n|---|---|---|\n";
  for (const Key& k : keys()) {
    std::string def;
    std::string name = k.name;
    if (name == "name" || name == "address" || name == "topics") def = "(required)";
    else if (name == "client_id") def = "`<host name>.<name>`";
    else if (name == "username" || name == "password") def = "(none)";
    else if (auto v = k.print(d)) def = "`" + *v + "`";
    std::string help = k.help;
    std::replace(help.begin(), help.end(), '|', '/');
    out += "| `" + name + "` | " + def + " | " + help + " |\n";
  }
  return out;
}

}  // namespace musqratt::bridge
