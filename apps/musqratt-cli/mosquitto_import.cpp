#include "mosquitto_import.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>

namespace musqratt::cli {
namespace {

/// Directives that differ only in name from ours, or that MusQraTT does not have, with why.
const std::map<std::string, std::string>& not_carried() {
  static const std::map<std::string, std::string> m = {
      {"pid_file", "MusQraTT writes no pid file: systemd knows the service's main process (Type=notify)"},
      {"user", "the service runs as the user of its systemd unit (musqratt); MusQraTT does not switch users itself"},
      {"persistence_file", "MusQraTT keeps its own SQLite store in persistence_dir; Mosquitto's database is not read, so retained messages and sessions start empty"},
      {"autosave_interval", "MusQraTT writes each QoS 1/2 message to disk before acknowledging it (persistence_sync): there is no periodic save to set"},
      {"autosave_on_changes", "MusQraTT writes each QoS 1/2 message to disk before acknowledging it (persistence_sync): there is no periodic save to set"},
      {"message_size_limit", "deprecated in Mosquitto; MusQraTT limits whole packets: set max_packet_size to the payload limit plus the topic and header (a few hundred bytes)"},
      {"memory_limit", "MusQraTT has no broker-wide memory limit setting; per-client queues are bounded by max_queued_messages and max_queued_bytes"},
      {"max_inflight_bytes", "MusQraTT bounds in-flight messages by count (max_inflight), not bytes"},
      {"upgrade_outgoing_qos", "MusQraTT delivers with the lower of the published and the subscribed QoS, as the specification says"},
      {"check_retain_source", "MusQraTT checks the subscriber's ACL on every delivered message, retained ones included, not the publisher's"},
      {"clientid_prefixes", "MusQraTT cannot restrict client ids by prefix: use per-user ACLs instead"},
      {"auto_id_prefix", "MusQraTT assigns random client ids of its own form"},
      {"set_tcp_nodelay", "not configurable in MusQraTT"},
      {"retry_interval", "removed in Mosquitto 1.6; MusQraTT resends unacknowledged messages on reconnection, as the specification says"},
      {"store_clean_interval", "removed in Mosquitto; not needed"},
      {"mount_point", "MusQraTT has no per-listener topic prefix"},
      {"bind_interface", "MusQraTT binds listeners to addresses, not interfaces: give the interface's address to listen"},
      {"use_subject_as_username", "MusQraTT can use the certificate's CN as the user name (tls_use_identity_as_username), not the whole subject"},
      {"use_username_as_clientid", "not available in MusQraTT"},
      {"capath", "MusQraTT reads CA certificates from one file (tls_ca): concatenate the directory's certificates into one PEM file"},
      {"crlfile", "certificate revocation lists are not supported"},
      {"dhparamfile", "not needed: MusQraTT's TLS uses elliptic-curve key exchange"},
      {"ciphers", "MusQraTT uses OpenSSL's default cipher list"},
      {"ciphers_tls1.3", "MusQraTT uses OpenSSL's default cipher suites"},
      {"tls_version", "MusQraTT accepts the TLS versions OpenSSL's defaults allow (1.2 and 1.3 on Debian 12)"},
      {"tls_engine", "OpenSSL engines are not supported"},
      {"tls_keyform", "OpenSSL engines are not supported"},
      {"tls_engine_kpass_sha1", "OpenSSL engines are not supported"},
      {"psk_hint", "TLS with pre-shared keys is not supported"},
      {"psk_file", "TLS with pre-shared keys is not supported"},
      {"http_dir", "MusQraTT serves no HTTP files"},
      {"websockets_headers_size", "MQTT over WebSockets is not served by this MusQraTT"},
      {"websockets_log_level", "MQTT over WebSockets is not served by this MusQraTT"},
      {"auth_plugin", "MusQraTT has no plugin interface: use the password file and ACL"},
      {"plugin", "MusQraTT has no plugin interface: use the password file and ACL"},
      {"global_plugin", "MusQraTT has no plugin interface: use the password file and ACL"},
      {"auth_plugin_deny_special_chars", "MusQraTT has no plugin interface"},
      {"log_timestamp", "MusQraTT always writes an ISO 8601 UTC time (text) or a time field (JSON)"},
      {"log_timestamp_format", "MusQraTT always writes an ISO 8601 UTC time (text) or a time field (JSON)"},
      {"log_facility", "MusQraTT logs to syslog's daemon facility"},
      {"connection_messages", "MusQraTT always logs connections and disconnections at level info"},
      {"allow_duplicate_messages", "MusQraTT delivers one copy to a client whose subscriptions overlap, as the specification allows"},
      {"max_inflight_messages_per_client", "not a Mosquitto 2.0 directive"},
      {"enable_control_api", "MusQraTT has no control API"},
  };
  return m;
}

const std::set<std::string> kBridgeOnly = {
    "address", "addresses", "topic", "remote_clientid", "clientid", "remote_username", "username", "remote_password",
    "password", "bridge_protocol_version", "cleansession", "local_cleansession", "keepalive_interval", "bridge_cafile",
    "bridge_capath", "bridge_certfile", "bridge_keyfile", "bridge_insecure", "bridge_tls_version", "bridge_alpn",
    "bridge_identity", "bridge_psk", "bridge_require_ocsp", "restart_timeout", "try_private", "notifications",
    "notification_topic", "notifications_local_only", "start_type", "idle_timeout", "threshold", "round_robin",
    "local_clientid", "local_username", "local_password", "bridge_attempt_unsubscribe", "bridge_outgoing_retain",
    "bridge_max_packet_size", "bridge_bind_address"};

std::optional<long long> number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  long long v = strtoll(s.c_str(), &end, 10);
  if (*end != '\0' || errno) return std::nullopt;
  return v;
}

std::optional<bool> boolean(const std::string& s) {
  if (s == "true") return true;
  if (s == "false") return false;
  return std::nullopt;
}

/// Mosquitto's durations: a number and h, d, w, m (30 days) or y.
std::optional<long long> duration_seconds(const std::string& s) {
  if (s.size() < 2) return std::nullopt;
  auto n = number(s.substr(0, s.size() - 1));
  if (!n || *n < 0) return std::nullopt;
  switch (s.back()) {
    case 'h': return *n * 3600;
    case 'd': return *n * 86400;
    case 'w': return *n * 604800;
    case 'm': return *n * 2592000;
    case 'y': return *n * 31536000;
    default: return std::nullopt;
  }
}

std::string unquote(const std::string& s) { return s == "\"\"" ? std::string() : s; }

struct Listener {
  std::string source;                // the `listener` (or `port`) line
  std::vector<std::string> sources;  // every line that shaped it, that one first
  std::string port, bind;
  std::string protocol = "mqtt";
  std::string socket_domain;
  std::string certfile, keyfile, cafile;
  std::optional<bool> require_certificate, use_identity_as_username;
  std::optional<long long> max_connections;
  std::optional<std::string> password_file, acl_file;
  std::optional<bool> allow_anonymous;
  std::string security_source;
};

/// One pass over the directives, then the listeners and security settings put together.
class Translator {
 public:
  ImportedConfig run(const std::vector<MosquittoDirective>& ds) {
    for (const auto& d : ds)
      if (d.name == "per_listener_settings" && !d.args.empty()) per_listener_ = d.args[0] == "true";
    for (const auto& d : ds) one(d);
    finish_listeners();
    finish_security();
    finish_logging();
    return std::move(out_);
  }

 private:
  void carried(const MosquittoDirective& d, const std::string& key, const std::string& value) {
    out_.set(key, value, src(d));
    out_.count_carried();
  }
  void skip(const MosquittoDirective& d, const std::string& why) { out_.skip(src(d), why); }
  static std::string src(const MosquittoDirective& d) { return d.where() + ": " + d.text; }
  Listener& current() {
    if (listeners_.empty()) listeners_.push_back({});  // the default listener (port / bind_address)
    return listeners_.back();
  }
  /// A directive that shapes the current listener.
  Listener& listener_part(const MosquittoDirective& d) {
    out_.count_carried();
    current().sources.push_back(src(d));
    return current();
  }
  bool need(const MosquittoDirective& d, size_t n) {
    if (d.args.size() >= n) return true;
    skip(d, "missing value");
    return false;
  }

  void number_key(const MosquittoDirective& d, const std::string& key, long long min, long long max,
                  std::optional<long long> zero_means = std::nullopt) {
    if (!need(d, 1)) return;
    auto n = number(d.args[0]);
    if (!n || *n < min || *n > max) {
      if (n && zero_means && *n == 0) return carried(d, key, std::to_string(*zero_means));
      return skip(d, "not a number from " + std::to_string(min) + " to " + std::to_string(max));
    }
    if (zero_means && *n == 0) return carried(d, key, std::to_string(*zero_means));
    carried(d, key, std::to_string(*n));
  }

  void bool_key(const MosquittoDirective& d, const std::string& key) {
    if (!need(d, 1)) return;
    auto b = boolean(d.args[0]);
    if (!b) return skip(d, "expected true or false");
    carried(d, key, *b ? "true" : "false");
  }

  void one(const MosquittoDirective& d) {
    const std::string& n = d.name;
    if (kBridgeOnly.contains(n)) return bridge_directive(d);
    if (auto it = not_carried().find(n); it != not_carried().end()) return skip(d, it->second);
    if (n.rfind("auth_opt_", 0) == 0 || n.rfind("plugin_opt_", 0) == 0)
      return skip(d, "MusQraTT has no plugin interface: use the password file and ACL");
    if (n == "per_listener_settings") {
      out_.count_carried();
      if (!per_listener_) out_.same(src(d), "one password file, ACL and anonymous policy for the broker");
      else out_.note("from " + src(d) + ": MusQraTT's password file, ACL and anonymous policy apply to every "
                                   "listener; the listeners' own settings were merged (see below where they differ)");
      return;
    }
    if (n == "include_dir") {
      out_.count_carried();
      if (d.included) return skip(d, "Mosquitto reads include_dir in the main file only");
      out_.note("from " + src(d) + ": the *.conf files of that directory are imported here with the rest");
      return;
    }
    if (n == "connection") {
      if (!need(d, 1)) return;
      out_.count_carried();
      // A [[bridge]] name is letters, digits, '_', '.' and '-' (it is a $SYS topic level and part
      // of the buffer's session id); anything else becomes '_'.
      std::string name = d.args[0].substr(0, 64);
      for (char& ch : name)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '.' && ch != '-') ch = '_';
      bridge_ = &out_.add_bridge(name, src(d));
      if (name != d.args[0])
        bridge_->comments.push_back("named '" + name + "': '" + d.args[0] +
                                    "' has characters a bridge name cannot have (letters, digits, _ . - only)");
      // Mosquitto's defaults, written out: the bridge's own defaults may differ.
      bridge_->set("protocol", toml_string("mqttv311"));
      bridge_->set("clean_start", "false");
      bridge_->set("keepalive", "60");
      bridge_->set("reconnect_min_ms", "5000");
      bridge_->set("reconnect_max_ms", "30000");
      bridge_->comments.push_back("protocol, clean_start, keepalive and reconnect_* start at Mosquitto's defaults");
      return;
    }
    if (n == "listener") {
      if (!need(d, 1)) return;
      out_.count_carried();
      if (listeners_.empty()) listeners_.push_back({});  // [0] stays the default listener (port / bind_address)
      listeners_.push_back({});
      Listener& l = listeners_.back();
      l.source = src(d);
      l.sources.push_back(l.source);
      l.port = d.args[0];
      if (d.args.size() > 1) l.bind = d.args[1];
      return;
    }
    if (n == "port" || n == "bind_address") {
      if (!need(d, 1)) return;
      out_.count_carried();
      if (listeners_.empty()) listeners_.push_back({});
      Listener& l = listeners_[0];
      (n == "port" ? l.port : l.bind) = d.args[0];
      if (n == "port") l.source = src(d);
      l.sources.push_back(src(d));
      return;
    }
    if (n == "socket_domain" || n == "protocol") {
      if (!need(d, 1)) return;
      Listener& l = listener_part(d);
      (n == "protocol" ? l.protocol : l.socket_domain) = d.args[0];
      return;
    }
    if (n == "certfile" || n == "keyfile" || n == "cafile") {
      if (!need(d, 1)) return;
      Listener& l = listener_part(d);
      (n == "certfile" ? l.certfile : n == "keyfile" ? l.keyfile : l.cafile) = d.args[0];
      return;
    }
    if (n == "require_certificate" || n == "use_identity_as_username") {
      if (!need(d, 1)) return;
      auto b = boolean(d.args[0]);
      if (!b) return skip(d, "expected true or false");
      Listener& l = listener_part(d);
      (n == "require_certificate" ? l.require_certificate : l.use_identity_as_username) = *b;
      return;
    }
    if (n == "max_connections") {
      if (!need(d, 1)) return;
      auto v = number(d.args[0]);
      if (!v) return skip(d, "not a number");
      listener_part(d).max_connections = *v;
      if (*v >= 0) max_connections_sources_.push_back(src(d));
      return;
    }
    if (n == "password_file" || n == "acl_file" || n == "allow_anonymous") return security(d);
    if (n == "allow_zero_length_clientid") {
      if (!need(d, 1)) return;
      if (d.args[0] == "false")
        return skip(d, "MusQraTT always accepts an empty client id with a clean session (3.1.1) or clean start (5.0), "
                       "assigning one");
      out_.count_carried();
      out_.same(src(d), "an empty client id with a clean session gets one assigned");
      return;
    }
    if (n == "persistence") return bool_key(d, "persistence");
    if (n == "persistence_location") {
      if (!need(d, 1)) return;
      carried(d, "persistence_dir", toml_string(d.args[0]));
      out_.note("persistence_dir: the packaged service may write only under /var/lib/musqratt (ReadWritePaths= of "
                "musqratt.service): use that directory, or add this one to the unit");
      return;
    }
    if (n == "persistent_client_expiration") {
      if (!need(d, 1)) return;
      auto s = duration_seconds(d.args[0]);
      if (!s || *s > 0xFFFFFFFFll) return skip(d, "expected a duration such as 14d (h, d, w, m, y)");
      return carried(d, "session_expiry_default", std::to_string(*s));
    }
    if (n == "max_inflight_messages") return number_key(d, "max_inflight", 0, 65535, 65535);
    if (n == "max_queued_messages") return number_key(d, "max_queued_messages", 0, 0xFFFFFFFFll);
    if (n == "max_queued_bytes") return number_key(d, "max_queued_bytes", 0, 1ll << 62);
    if (n == "max_packet_size") return number_key(d, "max_packet_size", 20, 268435460, 268435460);
    if (n == "max_keepalive") return number_key(d, "max_keepalive", 0, 65535);
    if (n == "max_qos") return number_key(d, "maximum_qos", 0, 2);
    if (n == "max_topic_alias") return number_key(d, "topic_alias_maximum", 0, 65535);
    if (n == "sys_interval") return number_key(d, "sys_interval", 0, 0xFFFFFFFFll);
    if (n == "retain_available") return bool_key(d, "retain_available");
    if (n == "queue_qos0_messages") return bool_key(d, "queue_qos0_offline");
    if (n == "log_dest") {
      if (!need(d, 1)) return;
      log_dests_.push_back(d);
      return;
    }
    if (n == "log_type") {
      if (!need(d, 1)) return;
      log_types_.push_back(d);
      return;
    }
    skip(d, "not a Mosquitto 2.0 directive this importer knows");
  }

  void security(const MosquittoDirective& d) {
    if (!need(d, 1)) return;
    const std::string& n = d.name;
    std::optional<bool> b;
    if (n == "allow_anonymous" && !(b = boolean(d.args[0]))) return skip(d, "expected true or false");
    out_.count_carried();
    if (per_listener_) {
      Listener& l = current();
      if (n == "password_file") l.password_file = d.args[0];
      else if (n == "acl_file") l.acl_file = d.args[0];
      else l.allow_anonymous = b;
      l.security_source += (l.security_source.empty() ? "" : "\n# from ") + src(d);
      return;
    }
    if (n == "password_file") out_.set("password_file", toml_string(d.args[0]), src(d));
    else if (n == "acl_file") out_.set("acl_file", toml_string(d.args[0]), src(d));
    else out_.set("allow_anonymous", toml_string(*b ? "true" : "false"), src(d));
  }

  void bridge_directive(const MosquittoDirective& d) {
    const std::string& n = d.name;
    if (!bridge_) return skip(d, "a bridge directive outside any `connection` section");
    ImportedBridge& b = *bridge_;
    auto note = [&](const std::string& why) { skip(d, "bridge '" + b.name + "': " + why); };
    auto take = [&](const std::string& key, const std::string& value) {
      b.set(key, value);
      b.comments.push_back("from " + src(d));
      out_.count_carried();
    };
    if (!need(d, 1)) return;
    if (n == "address" || n == "addresses") {
      std::vector<std::string> addrs;
      for (const auto& a : d.args) addrs.push_back(a.find(':') == std::string::npos ? a + ":1883" : a);
      return take("address", toml_list(addrs));
    }
    if (n == "topic") {
      ImportedBridgeTopic t;
      t.filter = d.args[0];
      if (d.args.size() > 1) t.direction = d.args[1];
      if (t.direction != "in" && t.direction != "out" && t.direction != "both") return note("direction must be in, out or both");
      if (d.args.size() > 2) {
        auto q = number(d.args[2]);
        if (!q || *q < 0 || *q > 2) return note("QoS must be 0, 1 or 2");
        t.qos = static_cast<int>(*q);
      }
      if (d.args.size() > 3) t.local_prefix = unquote(d.args[3]);
      if (d.args.size() > 4) t.remote_prefix = unquote(d.args[4]);
      if (t.filter == "\"\"") t.filter.clear();
      b.topics.push_back(t);
      b.comments.push_back("from " + src(d));
      out_.count_carried();
      return;
    }
    if (n == "remote_clientid" || n == "clientid") return take("client_id", toml_string(d.args[0]));
    if (n == "remote_username" || n == "username") return take("username", toml_string(d.args[0]));
    if (n == "remote_password" || n == "password") {
      out_.mark_secret();
      return take("password", toml_string(d.args[0]));
    }
    if (n == "bridge_protocol_version") {
      if (d.args[0] == "mqttv50") return take("protocol", toml_string("mqttv5"));
      if (d.args[0] == "mqttv311") return take("protocol", toml_string("mqttv311"));
      if (d.args[0] == "mqttv31") {
        b.set("protocol", toml_string("mqttv311"));
        return note("MQTT 3.1 towards the upstream is not offered: written as mqttv311");
      }
      return note("unknown protocol version");
    }
    if (n == "cleansession") {
      auto v = boolean(d.args[0]);
      if (!v) return note("expected true or false");
      return take("clean_start", *v ? "true" : "false");
    }
    if (n == "keepalive_interval") {
      auto v = number(d.args[0]);
      if (!v || *v < 0 || *v > 65535) return note("not a number from 0 to 65535");
      return take("keepalive", std::to_string(*v));
    }
    if (n == "bridge_cafile") return take("tls_ca", toml_string(d.args[0]));
    if (n == "bridge_certfile") return take("tls_cert", toml_string(d.args[0]));
    if (n == "bridge_keyfile") return take("tls_key", toml_string(d.args[0]));
    if (n == "bridge_insecure") {
      auto v = boolean(d.args[0]);
      if (!v) return note("expected true or false");
      return take("tls_verify_hostname", *v ? "false" : "true");
    }
    if (n == "restart_timeout") {
      auto lo = number(d.args[0]);
      auto hi = d.args.size() > 1 ? number(d.args[1]) : lo;
      if (!lo || !hi || *lo < 0 || *hi < *lo) return note("expected one or two numbers of seconds");
      take("reconnect_min_ms", std::to_string(*lo * 1000));
      b.set("reconnect_max_ms", std::to_string(*hi * 1000));
      return;
    }
    if (n == "start_type" && d.args[0] == "automatic") {
      out_.count_carried();
      b.comments.push_back("from " + src(d) + " (the bridge always starts with the broker)");
      return;
    }
    if (n == "try_private") {
      // The same bridge bit in the 3.1.1 protocol level; MQTT 5 links use No Local instead.
      auto v = boolean(d.args[0]);
      if (!v) return note("expected true or false");
      return take("try_private", *v ? "true" : "false");
    }
    if (n == "round_robin") return note("addresses are tried in order, from the first, after each failure");
    if (n == "notifications" || n == "notification_topic" || n == "notifications_local_only")
      return note("the bridge's state is published under $SYS/broker/bridges/NAME/state instead");
    if (n == "bridge_capath") return note("one CA file (tls_ca): concatenate the directory's certificates");
    if (n == "local_clientid" || n == "local_username" || n == "local_password")
      return note("MusQraTT's bridge is inside the broker: it has no local client to name");
    note("not available in MusQraTT's bridge");
  }

  void finish_listeners() {
    std::vector<std::string> plain, tls;
    std::vector<std::string> sources_plain, sources_tls;
    const Listener* first_tls = nullptr;
    bool any = false;
    for (const Listener& l : listeners_) {
      if (l.port.empty()) {
        // Settings for Mosquitto's default listener, which only `port` opens.
        for (const auto& s : l.sources) {
          out_.skip(s, "this sets Mosquitto's default listener, which the file does not open (no `port`)");
          out_.uncount();
        }
        continue;
      }
      any = true;
      if (l.protocol == "websockets") {
        for (const auto& s : l.sources) {
          out_.skip(s, "MQTT over WebSockets is not served by this MusQraTT: the listener is left out");
          out_.uncount();
        }
        continue;
      }
      if (!l.bind.empty() && l.bind[0] == '/') {
        for (const auto& s : l.sources) {
          out_.skip(s, "MusQraTT does not listen on Unix sockets: the listener is left out");
          out_.uncount();
        }
        continue;
      }
      std::vector<std::string> addrs;
      if (!l.bind.empty()) {
        addrs.push_back(l.bind.find(':') != std::string::npos ? "[" + l.bind + "]:" + l.port : l.bind + ":" + l.port);
      } else {
        // No address: every interface, IPv4 and IPv6 (or the one socket_domain names).
        if (l.socket_domain != "ipv6") addrs.push_back("0.0.0.0:" + l.port);
        if (l.socket_domain != "ipv4") addrs.push_back("[::]:" + l.port);
      }
      const bool is_tls = !l.certfile.empty();
      auto& list = is_tls ? tls : plain;
      list.insert(list.end(), addrs.begin(), addrs.end());
      auto& srcs = is_tls ? sources_tls : sources_plain;
      srcs.insert(srcs.end(), l.sources.begin(), l.sources.end());
      if (!is_tls) continue;
      if (!first_tls) {
        first_tls = &l;
      } else if (l.certfile != first_tls->certfile || l.keyfile != first_tls->keyfile || l.cafile != first_tls->cafile ||
                 l.require_certificate != first_tls->require_certificate ||
                 l.use_identity_as_username != first_tls->use_identity_as_username) {
        out_.skip(l.source, "MusQraTT serves the same certificate, CA and client-certificate rules on every TLS "
                            "listener: this listener's differ from the first TLS listener's, whose are used");
      }
    }
    if (!any) {
      out_.set("listen", toml_list({"127.0.0.1:1883", "[::1]:1883"}), "");
      out_.note("no listener in the file: Mosquitto 2.0 then listens on the loopback addresses only, port 1883, and "
                "lets anonymous clients in; so does this file");
      local_only_ = true;
      return;
    }
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& x : v) s += (s.empty() ? "" : "\n# from ") + x;
      return s;
    };
    out_.set("listen", toml_list(plain), join(sources_plain));
    if (!tls.empty()) out_.set("tls_listen", toml_list(tls), join(sources_tls));
    if (first_tls) {
      const Listener& l = *first_tls;
      out_.set("tls_cert", toml_string(l.certfile), "");
      if (!l.keyfile.empty()) out_.set("tls_key", toml_string(l.keyfile), "");
      if (!l.cafile.empty()) out_.set("tls_ca", toml_string(l.cafile), "");
      if (l.require_certificate) out_.set("tls_require_certificate", *l.require_certificate ? "true" : "false", "");
      if (l.use_identity_as_username)
        out_.set("tls_use_identity_as_username", *l.use_identity_as_username ? "true" : "false", "");
    }
    // Mosquitto's limit is per listener, ours for the broker: their sum.
    long long total = 0;
    bool limited = false;
    for (const Listener& l : listeners_)
      if (l.max_connections && *l.max_connections >= 0) {
        total += *l.max_connections;
        limited = true;
      }
    if (limited) {
      out_.set("max_connections", std::to_string(total), "");
      if (max_connections_sources_.size() > 1)
        out_.note("max_connections: Mosquitto limits each listener, MusQraTT the whole broker: the sum is used");
    }
  }

  void finish_security() {
    if (per_listener_) {
      // Merge the listeners' settings: the same everywhere carries over as it is; where they
      // differ, the first password file and ACL and the stricter anonymous policy are used.
      std::optional<std::string> pw, acl;
      std::optional<bool> anon;
      std::string sources;
      bool differ = false;
      for (const Listener& l : listeners_) {
        if (l.security_source.empty()) continue;
        sources += (sources.empty() ? "" : "\n# from ") + l.security_source;
        if (l.password_file) {
          if (pw && *pw != *l.password_file) differ = true;
          if (!pw) pw = l.password_file;
        }
        if (l.acl_file) {
          if (acl && *acl != *l.acl_file) differ = true;
          if (!acl) acl = l.acl_file;
        }
        if (l.allow_anonymous) {
          if (anon && *anon != *l.allow_anonymous) differ = true;
          anon = anon ? (*anon && *l.allow_anonymous) : *l.allow_anonymous;
        }
      }
      if (pw) out_.set("password_file", toml_string(*pw), sources);
      if (acl) out_.set("acl_file", toml_string(*acl), sources);
      if (anon) out_.set("allow_anonymous", toml_string(*anon ? "true" : "false"), sources);
      if (differ)
        out_.note("per_listener_settings: the listeners' password files, ACLs or anonymous policies differ; MusQraTT "
                  "has one of each for the broker: the first password file and ACL were taken, and anonymous access "
                  "only if every listener allowed it");
    }
    if (!out_.has("allow_anonymous")) {
      if (local_only_) out_.set("allow_anonymous", toml_string("true"), "");
      else out_.set("allow_anonymous", toml_string("false"), "");
      out_.note("allow_anonymous: not in the file; Mosquitto 2.0's default is written out (false, or true with no "
                "listener at all)");
    }
    // Mosquitto's defaults where MusQraTT's differ, so the import behaves the same.
    if (!out_.has("max_queued_messages")) {
      out_.set("max_queued_messages", "1000", "");
      out_.note("max_queued_messages = 1000 and max_inflight = 20 are Mosquitto's defaults (not in the file); "
                "MusQraTT's own are 10000 and 100: delete those lines to use them");
    }
    if (!out_.has("max_inflight")) out_.set("max_inflight", "20", "");
  }

  void finish_logging() {
    // log_type lines add up; the most verbose one sets log_level.
    int level = -1;  // 0 error, 1 warn, 2 info, 3 debug
    std::string sources;
    bool off = false;
    for (const auto& d : log_types_) {
      out_.count_carried();
      sources += (sources.empty() ? "" : "\n# from ") + src(d);
      const std::string& t = d.args[0];
      int l = t == "debug" || t == "all" || t == "subscribe" || t == "unsubscribe" || t == "websockets" ? 3
              : t == "information" || t == "notice"                                                      ? 2
              : t == "warning"                                                                           ? 1
              : t == "error"                                                                             ? 0
                                                                                                         : -1;
      if (t == "none") off = true;
      level = std::max(level, l);
    }
    static const char* names[] = {"error", "warn", "info", "debug"};
    if (level >= 0) out_.set("log_level", toml_string(names[level]), sources);
    else if (off) out_.set("log_level", toml_string("off"), sources);
    bool chosen = false;
    for (const auto& d : log_dests_) {
      const std::string& kind = d.args[0];
      if (chosen) {
        skip(d, "MusQraTT writes its log to one destination: the first usable log_dest was taken");
        continue;
      }
      if (kind == "stderr" || kind == "stdout") {
        carried(d, "log_dest", toml_string("stderr"));
        if (kind == "stdout") out_.note("log_dest stdout: MusQraTT logs to standard error instead");
      } else if (kind == "syslog") {
        carried(d, "log_dest", toml_string("syslog"));
      } else if (kind == "file" && d.args.size() > 1) {
        carried(d, "log_dest", toml_string("file"));
        out_.set("log_file", toml_string(d.args[1]), src(d));
        out_.note("log_file: the packaged service may write logs only under /var/log/musqratt (LogsDirectory= of "
                  "musqratt.service), where its logrotate rule looks: use /var/log/musqratt/musqratt.log, or leave "
                  "log_dest at stderr for the journal");
      } else if (kind == "none") {
        carried(d, "log_level", toml_string("off"));
      } else {
        skip(d, "log_dest " + kind + " is not offered (stderr, syslog or file)");
        continue;
      }
      chosen = true;
    }
  }

  ImportedConfig out_;
  bool per_listener_ = false;
  bool local_only_ = false;
  std::vector<Listener> listeners_;
  std::vector<std::string> max_connections_sources_;
  std::vector<MosquittoDirective> log_dests_, log_types_;
  ImportedBridge* bridge_ = nullptr;  // the `connection` section being read
};

int usage() {
  fprintf(stderr,
          "usage: musqratt-cli import-mosquitto-conf MOSQUITTO_CONF [-o FILE]\n"
          "  writes a musqratt.toml doing what MOSQUITTO_CONF does (to FILE, or standard output), with\n"
          "  a comment on every directive that could not be carried over and why. Password and ACL\n"
          "  files are used as they are. Check the result with: musqratt --check-config --config FILE\n");
  return 1;
}

}  // namespace

ImportedConfig import_mosquitto(const std::vector<MosquittoDirective>& directives) {
  return Translator().run(directives);
}

int run_import_mosquitto_conf(int argc, char** argv) {
  std::string in, out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") return usage(), 0;
    if (a == "-o" && i + 1 < argc) out = argv[++i];
    else if (!a.empty() && a[0] == '-') return usage();
    else if (in.empty()) in = a;
    else return usage();
  }
  if (in.empty()) return usage();
  auto directives = read_mosquitto_conf(in);
  if (!directives) {
    fprintf(stderr, "musqratt-cli: %s\n", directives.error().c_str());
    return 1;
  }
  ImportedConfig cfg = import_mosquitto(*directives);
  std::string text = cfg.to_toml(in);
  if (out.empty()) {
    fwrite(text.data(), 1, text.size(), stdout);
  } else {
    // A bridge password makes the file a secret.
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, cfg.has_secret() ? 0600 : 0644);
    if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      fprintf(stderr, "musqratt-cli: %s: %s\n", out.c_str(), strerror(errno));
      if (fd >= 0) ::close(fd);
      return 1;
    }
    if (cfg.has_secret()) fchmod(fd, 0600);
    ::close(fd);
  }
  fprintf(stderr, "musqratt-cli: %zu directive(s) carried over, %zu not (listed at the end of the file)\n",
          cfg.carried(), cfg.skipped());
  return 0;
}

}  // namespace musqratt::cli
