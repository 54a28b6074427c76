#include "settings.h"

#include "allocator.h"

#include <algorithm>
#include <tuple>
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <variant>
#include <limits>
#include <span>
#include <stdexcept>
#include <toml++/toml.h>
#include <unistd.h>

#include "bridge/config_parser.h"

#include "util/log.h"

namespace musqratt::app {
namespace {

/// Where an option lives in Settings, typed: the compiler checks that a key declared as a
/// 16-bit number really names a 16-bit field, so no option can write over its neighbour.
template <class T>
using FieldRef = T& (*)(Settings&);
using Field = std::variant<FieldRef<bool>, FieldRef<uint8_t>, FieldRef<uint16_t>, FieldRef<uint32_t>,
                           FieldRef<uint64_t>, FieldRef<std::string>, FieldRef<std::vector<std::string>>>;

struct Option {
  const char* key;
  const char* help;
  Field field;
  uint64_t max = 0;  // numbers: largest value accepted (0 = the type's own maximum)
};

std::vector<Option> option_table() {
  using S = Settings;
  return {
      {"listen", "listener address HOST:PORT (repeatable; port 0 = any free port)", [](S& s) -> auto& { return s.listen; }},
      {"threads", "worker threads (0 = one per CPU but one, at least one)", [](S& s) -> auto& { return s.threads; }, 1024},
      {"transport", "network backend of the workers: epoll, io_uring or dpdk (lwIP over DPDK, one worker; needs a MUSQRATT_DPDK build)", [](S& s) -> auto& { return s.transport; }},
      {"log_level", "trace, debug, info, warn, error or off", [](S& s) -> auto& { return s.log_level; }},
      {"max_packet_size", "largest packet accepted from a client, bytes (announced in CONNACK)", [](S& s) -> auto& { return s.broker.max_packet_size; }},
      {"receive_maximum", "incoming QoS 1/2 messages in flight per client (announced in CONNACK)", [](S& s) -> auto& { return s.broker.receive_maximum; }},
      {"max_inflight", "outgoing QoS 1/2 messages in flight per client", [](S& s) -> auto& { return s.broker.max_inflight; }},
      {"topic_alias_maximum", "topic aliases a client may use towards the broker (0 = none)", [](S& s) -> auto& { return s.broker.topic_alias_maximum; }},
      {"maximum_qos", "highest QoS accepted and granted (0, 1 or 2)", [](S& s) -> auto& { return s.broker.maximum_qos; }, 2},
      {"retain_available", "whether retained messages are supported", [](S& s) -> auto& { return s.broker.retain_available; }},
      {"max_queued_messages", "messages queued per client beyond those in flight (0 = unlimited); newer messages are dropped when full", [](S& s) -> auto& { return s.broker.max_queued_messages; }},
      {"max_queued_bytes", "payload bytes queued per client (0 = unlimited)", [](S& s) -> auto& { return s.broker.max_queued_bytes; }},
      {"queue_qos0_offline", "queue QoS 0 messages for offline persistent sessions", [](S& s) -> auto& { return s.broker.queue_qos0_offline; }},
      {"session_expiry_default", "session expiry for MQTT 3.1/3.1.1 clients with clean session 0, seconds (4294967295 = never)", [](S& s) -> auto& { return s.broker.session_expiry_default; }},
      {"max_session_expiry", "largest session expiry granted, seconds (announced in CONNACK when it cuts)", [](S& s) -> auto& { return s.broker.max_session_expiry; }},
      {"max_keepalive", "largest keep-alive accepted from MQTT 5 clients, seconds (announced as Server Keep Alive)", [](S& s) -> auto& { return s.broker.max_keepalive; }},
      {"server_keepalive", "keep-alive imposed on MQTT 5 clients, seconds (0 = the client's own)", [](S& s) -> auto& { return s.broker.server_keepalive; }},
      {"connect_timeout", "seconds a new connection may take to send CONNECT", [](S& s) -> auto& { return s.broker.connect_timeout; }},
      {"default_message_expiry", "expiry for messages published without one, seconds (0 = none)", [](S& s) -> auto& { return s.broker.default_message_expiry; }},
      {"max_message_expiry", "cap on any message's expiry, seconds (0 = no cap)", [](S& s) -> auto& { return s.broker.max_message_expiry; }},
      {"max_connections", "concurrent client connections (0 = unlimited)", [](S& s) -> auto& { return s.broker.max_connections; }},
      {"auth_threads", "threads that check passwords (a slow key derivation), so no check runs on a worker", [](S& s) -> auto& { return s.auth_threads; }, 64},
      {"auth_backoff_failures", "failed password checks from one address before its next ones wait, longer after each further failure (0 = no back-off)", [](S& s) -> auto& { return s.auth_backoff_failures; }},
      {"max_connections_per_ip", "concurrent connections from one IP address (0 = unlimited)", [](S& s) -> auto& { return s.broker.max_connections_per_ip; }},
      {"max_publish_rate", "PUBLISH packets per second per client, in bursts of up to one second's worth; beyond it the client is disconnected (5.0: 0x96) (0 = unlimited)", [](S& s) -> auto& { return s.broker.max_publish_rate; }},
      {"max_subscriptions_per_client", "subscriptions per session (0 = unlimited)", [](S& s) -> auto& { return s.broker.max_subscriptions_per_client; }},
      {"max_topic_levels", "levels in a topic name or filter (0 = unlimited)", [](S& s) -> auto& { return s.broker.max_topic_levels; }},
      {"max_topic_length", "bytes in a topic name or filter", [](S& s) -> auto& { return s.broker.max_topic_length; }},
      {"hold_unsubscribed", "topic filters whose messages are held while no one subscribes (repeatable)", [](S& s) -> auto& { return s.broker.hold_unsubscribed; }},
      {"hold_max_messages_per_topic", "held messages per topic; the oldest is dropped beyond it", [](S& s) -> auto& { return s.broker.hold_max_messages_per_topic; }},
      {"hold_max_bytes", "held bytes in the whole broker; the oldest are dropped beyond it", [](S& s) -> auto& { return s.broker.hold_max_bytes; }},
      {"hold_default_expiry", "expiry for held messages that carry none, seconds (0 = none)", [](S& s) -> auto& { return s.broker.hold_default_expiry; }},
      {"tls_listen", "TLS listener address HOST:PORT (repeatable)", [](S& s) -> auto& { return s.tls_listen; }},
      {"tls_cert", "PEM certificate chain of the TLS listeners", [](S& s) -> auto& { return s.tls_cert; }},
      {"tls_key", "PEM private key of tls_cert", [](S& s) -> auto& { return s.tls_key; }},
      {"tls_ca", "PEM CA bundle that client certificates are verified against (empty = none requested)", [](S& s) -> auto& { return s.tls_ca; }},
      {"tls_require_certificate", "refuse TLS clients without a valid certificate (needs tls_ca)", [](S& s) -> auto& { return s.tls_require_certificate; }},
      {"tls_use_identity_as_username", "a verified client certificate's CN becomes the MQTT user name, with no password", [](S& s) -> auto& { return s.tls_use_identity_as_username; }},
      {"ws_listen", "MQTT over WebSocket listener address HOST:PORT (repeatable); also serves the status page at /", [](S& s) -> auto& { return s.ws_listen; }},
      {"wss_listen", "MQTT over secure WebSocket (TLS, the tls_cert/tls_key/tls_ca settings) listener address HOST:PORT (repeatable)", [](S& s) -> auto& { return s.wss_listen; }},
      {"ws_path", "URL path of the WebSocket listeners' MQTT endpoint", [](S& s) -> auto& { return s.ws_path; }},
      {"http_listen", "HTTP listener for operators HOST:PORT (/metrics, /healthz, /readyz, /api/v1, the status page); empty = off", [](S& s) -> auto& { return s.http_listen; }},
      {"http_admins", "users of password_file allowed on the HTTP API with HTTP Basic (repeatable)", [](S& s) -> auto& { return s.http_admins; }},
      {"http_token_file", "file of bearer tokens for the HTTP API, one per line (compared in constant time); empty = none", [](S& s) -> auto& { return s.http_token_file; }},
      {"password_file", "password file (USER:HASH lines, managed with `musqratt-cli passwd`); empty = none", [](S& s) -> auto& { return s.broker.password_file; }},
      {"acl_file", "ACL file of topic rules; when set, anything not allowed is denied", [](S& s) -> auto& { return s.broker.acl_file; }},
      {"allow_anonymous", "auto, true or false; auto allows clients without a user name only when every listener is on loopback and no password file is set", [](S& s) -> auto& { return s.allow_anonymous; }},
      {"persistence", "keep sessions, queued/in-flight QoS 1/2 messages, retained and held messages and pending wills on disk", [](S& s) -> auto& { return s.persistence; }},
      {"persistence_dir", "directory of the database (created if missing)", [](S& s) -> auto& { return s.persistence_dir; }},
      {"persistence_sync", "always (commit as soon as anything waits) or batch (commit every persistence_sync_interval ms); QoS 1/2 are acknowledged only once committed either way", [](S& s) -> auto& { return s.persistence_sync; }},
      {"persistence_sync_interval", "milliseconds between commits with persistence_sync = batch", [](S& s) -> auto& { return s.persistence_sync_interval; }},
      {"persistence_memory_queue", "queued messages of one persistent session held in memory; the rest wait on disk and are read back as the queue drains (0 = all in memory)", [](S& s) -> auto& { return s.persistence_memory_queue; }},
      {"persistence_max_size", "bytes the database may grow to (0 = as far as the disk allows); reaching it is handled like a full disk", [](S& s) -> auto& { return s.persistence_max_size; }},
      {"sys_interval", "seconds between $SYS updates (0 = off)", [](S& s) -> auto& { return s.broker.sys_interval; }},
      {"epoll_batch_io", "transport epoll: each loop turn's reads, then its sends, go to the kernel in one io_uring_enter instead of one recv or sendmsg per connection (when the build and the kernel have io_uring; otherwise the plain calls)", [](S& s) -> auto& { return s.epoll_batch_io; }},
      {"epoll_busy_poll_us", "transport epoll: after a loop turn that read or wrote 64 KiB or more, a worker polls for input this many microseconds before it sleeps, so a client streaming large messages does not have to wake it for each one (0 = never; at most 10000)", [](S& s) -> auto& { return s.epoll_busy_poll_us; }},
      {"local_send_buffer", "transports epoll and io_uring: kernel send buffer (SO_SNDBUF, bytes; the kernel doubles it and clamps it to net.core.wmem_max) of a connection whose handshake round trip was under 1 ms, instead of the kernel's autotuning up to 4 MiB, so that what a nearby subscriber has not read yet waits in the broker's queue, under its limits, rather than in a deep kernel queue (0 = autotuning for every peer; else 16384 to 67108864)", [](S& s) -> auto& { return s.local_send_buffer; }},
      {"uring_sqpoll", "transport io_uring: a kernel thread polls the submission queues (IORING_SETUP_SQPOLL, one thread shared by the workers), so busy workers submit without system calls; falls back to plain rings if the kernel refuses", [](S& s) -> auto& { return s.uring_sqpoll; }},
      {"uring_sqpoll_idle_ms", "transport io_uring with uring_sqpoll: milliseconds without submissions after which the polling thread sleeps (it spins until then)", [](S& s) -> auto& { return s.uring_sqpoll_idle_ms; }},
      {"dpdk_eal_args", "transport dpdk: DPDK EAL arguments, e.g. \"--no-huge --no-pci --vdev=net_af_packet0,iface=veth1\"", [](S& s) -> auto& { return s.dpdk_eal_args; }},
      {"dpdk_port", "transport dpdk: DPDK port id", [](S& s) -> auto& { return s.dpdk_port; }},
      {"dpdk_ip", "transport dpdk: IPv4 address of the lwIP interface (required)", [](S& s) -> auto& { return s.dpdk_ip; }},
      {"dpdk_netmask", "transport dpdk: netmask of the lwIP interface", [](S& s) -> auto& { return s.dpdk_netmask; }},
      {"dpdk_gateway", "transport dpdk: default gateway (empty = none)", [](S& s) -> auto& { return s.dpdk_gateway; }},
      {"dpdk_mac", "transport dpdk: MAC address aa:bb:cc:dd:ee:ff (empty = the port's own)", [](S& s) -> auto& { return s.dpdk_mac; }},
      {"dpdk_mtu", "transport dpdk: MTU of the port and the lwIP interface", [](S& s) -> auto& { return s.dpdk_mtu; }},
      {"dpdk_idle_sleep_us", "transport dpdk: microseconds to sleep when the poll loop is idle (0 = busy-poll)", [](S& s) -> auto& { return s.dpdk_idle_sleep_us; }},
      {"dpdk_queues", "transport dpdk: RX/TX queue pairs of the port (1 to what the port supports); the one lwIP worker polls every RX queue, RSS spreads flows over them where the port has it", [](S& s) -> auto& { return s.dpdk_queues; }},
      {"log_dest", "where log lines go: stderr, syslog (facility daemon) or file (log_file, reopened on SIGUSR1)", [](S& s) -> auto& { return s.log_dest; }},
      {"log_file", "log file path when log_dest = \"file\" (appended to, created 0640)", [](S& s) -> auto& { return s.log_file; }},
      {"log_format", "text, or json (one JSON object per line: time, level, message and fields)", [](S& s) -> auto& { return s.log_format; }},
      {"log_rate_limit", "log lines a remote peer can trigger (refused connections, protocol errors, failed authentications), per second and kind; the rest are counted in one 'suppressed N similar messages' line (0 = unlimited)", [](S& s) -> auto& { return s.log_rate_limit; }},
      {"log_rate_burst", "lines of one such kind written at once before log_rate_limit applies", [](S& s) -> auto& { return s.log_rate_burst; }, 1000000},
      {"max_memory", "bytes the whole broker may hold in queued, in-flight, retained and held messages and partly received packets (0 = unlimited); past 7/8 of it new QoS 0 messages are dropped, past all of it QoS 1/2 messages are refused too (MQTT 5: 0x97 Quota exceeded); counted in $SYS/broker/memory/refused", [](S& s) -> auto& { return s.broker.max_memory; }},
  };
}

/// A named sub-table of the TOML file ([cluster]) with options of its own, each also a flag
/// --NAME-KEY. `given` is set when the table or any of its flags appears, so a table that is
/// absent changes nothing; sub-tables are printed (and documented) after the top-level keys,
/// commented out while not given. Arrays of tables ([[bridge]]) can reuse the same options.
struct Section {
  const char* name;
  const char* help;
  FieldRef<bool> given;
  std::vector<Option> options;
  /// Semantic checks once everything is read: "" or an error that names the key.
  std::string (*check)(const Settings&);
};

std::vector<Section> section_table() {
  using S = Settings;
  return {
      {"cluster", "a MusQraTT cluster on NATS: several nodes behaving as one broker (docs/cluster.md)",
       [](S& s) -> auto& { return s.cluster_given; },
       {
           {"nats", "NATS server URLs nats://HOST:PORT or tls://HOST:PORT (repeatable)", [](S& s) -> auto& { return s.cluster.nats; }},
           {"node", "this node's name, unique in the cluster (A-Z a-z 0-9 _ -)", [](S& s) -> auto& { return s.cluster.node; }},
           {"user", "NATS user name", [](S& s) -> auto& { return s.cluster.user; }},
           {"password", "NATS password (with user)", [](S& s) -> auto& { return s.cluster.password; }},
           {"token", "NATS authentication token", [](S& s) -> auto& { return s.cluster.token; }},
           {"credentials", "NATS .creds file (user JWT and NKey seed)", [](S& s) -> auto& { return s.cluster.credentials; }},
           {"tls", "connect to NATS over TLS (also implied by a tls:// URL)", [](S& s) -> auto& { return s.cluster.tls; }},
           {"tls_ca", "PEM CA bundle the NATS servers' certificates are verified against", [](S& s) -> auto& { return s.cluster.tls_ca; }},
           {"tls_cert", "PEM client certificate presented to NATS", [](S& s) -> auto& { return s.cluster.tls_cert; }},
           {"tls_key", "PEM private key of tls_cert", [](S& s) -> auto& { return s.cluster.tls_key; }},
           {"replicas", "replicas of the JetStream streams and buckets the cluster creates: 1 or 3", [](S& s) -> auto& { return s.cluster.replicas; }},
           {"subject_prefix", "first token of every NATS subject and stream name, so several clusters can share one NATS", [](S& s) -> auto& { return s.cluster.subject_prefix; }},
           {"storage", "JetStream storage of the streams and buckets: file or memory", [](S& s) -> auto& { return s.cluster.storage; }},
           {"stream_max_age", "seconds QoS 1/2 messages stay in the message stream (replay for sessions moved from a failed node)", [](S& s) -> auto& { return s.cluster.stream_max_age; }},
           {"stream_max_bytes", "bytes of the message stream (0 = no limit but stream_max_age); JetStream reserves this much on each replica; the oldest messages go beyond it", [](S& s) -> auto& { return s.cluster.stream_max_bytes; }},
           {"publish_timeout_ms", "milliseconds to wait for JetStream to acknowledge a QoS 1/2 message before sending it again", [](S& s) -> auto& { return s.cluster.publish_timeout_ms; }},
           {"max_pending", "QoS 1/2 messages kept while awaiting JetStream's acknowledgement (NATS unreachable); beyond it the oldest are dropped and counted", [](S& s) -> auto& { return s.cluster.max_pending; }},
           {"takeover_timeout_ms", "milliseconds a node has to hand over a session another node takes over; after that the session is rebuilt from its checkpoint", [](S& s) -> auto& { return s.cluster.takeover_timeout_ms; }},
           {"checkpoint_interval", "seconds between checkpoints of persistent sessions in the session bucket", [](S& s) -> auto& { return s.cluster.checkpoint_interval; }},
       },
       [](const Settings& s) { return cluster::validate(s.cluster); }},
  };
}

std::string flag_of(const char* key) {
  std::string f = "--";
  for (const char* p = key; *p; ++p) f.push_back(*p == '_' ? '-' : *p);
  return f;
}

std::string flag_of(const Section& sec, const Option& opt) { return flag_of(sec.name) + "-" + flag_of(opt.key).substr(2); }

uint64_t parse_uint(const std::string& text, uint64_t max, const std::string& name) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v > max || text[0] == '-')
    throw std::runtime_error(name + ": expected an integer from 0 to " + std::to_string(max) + ", got '" + text + "'");
  return v;
}

bool parse_bool(const std::string& text, const std::string& name) {
  if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "0" || text == "no" || text == "off") return false;
  throw std::runtime_error(name + ": expected true or false, got '" + text + "'");
}

template <class T>
constexpr bool kIsNumber = std::is_integral_v<T> && !std::is_same_v<T, bool>;

bool is_list(const Option& opt) { return std::holds_alternative<FieldRef<std::vector<std::string>>>(opt.field); }

/// Sets `opt` from text; a list option appends (the caller clears it on first use).
void assign_text(const Option& opt, Settings& s, const std::string& text, const std::string& name) {
  std::visit(
      [&](auto ref) {
        auto& field = ref(s);
        using T = std::remove_reference_t<decltype(field)>;
        if constexpr (std::is_same_v<T, bool>) {
          field = parse_bool(text, name);
        } else if constexpr (kIsNumber<T>) {
          field = static_cast<T>(parse_uint(text, opt.max ? opt.max : std::numeric_limits<T>::max(), name));
        } else if constexpr (std::is_same_v<T, std::string>) {
          field = text;
        } else {
          field.push_back(text);
        }
      },
      opt.field);
}

std::string node_text(const toml::node& n, const std::string& name) {
  if (auto b = n.value<bool>(); b && n.is_boolean()) return *b ? "true" : "false";
  if (n.is_integer()) return std::to_string(*n.value<int64_t>());
  if (n.is_string()) return *n.value<std::string>();
  if (n.is_table() || n.is_array_of_tables()) throw std::runtime_error(name + ": expected a value, not a table");
  if (n.is_array()) throw std::runtime_error(name + ": expected a single value, not a list");
  throw std::runtime_error(name + ": unsupported value type (numbers are integers, strings are quoted)");
}

/// Sets one option from a TOML value (a list replaces what the option held).
void assign_node(const Option& opt, Settings& s, const toml::node& node, const std::string& name) {
  if (is_list(opt)) {
    auto* list = &std::get<FieldRef<std::vector<std::string>>>(opt.field)(s);
    list->clear();
    if (const toml::array* arr = node.as_array()) {
      for (const auto& item : *arr) list->push_back(node_text(item, name));
    } else {
      list->push_back(node_text(node, name));
    }
  } else {
    assign_text(opt, s, node_text(node, name), name);
  }
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return {};
  return buf;
}

/// Reads the TOML file into `s`; every bad key is an error of its own, so one run of
/// --check-config lists them all.
void load_toml(const std::string& path, Settings& s, const std::vector<Option>& table,
               const std::vector<Section>& sections, Origins& origins, std::vector<std::string>& errors) {
  toml::table doc;
  try {
    doc = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    errors.push_back(path + ":" + std::to_string(at.line) + ": " + std::string(e.description()) + " at line " +
                     std::to_string(at.line) + ", column " + std::to_string(at.column));
    return;
  }
  // In file order (the table is sorted by key), so errors read top to bottom.
  std::vector<std::pair<std::string, const toml::node*>> keys;
  for (const auto& [k, node] : doc) keys.emplace_back(std::string(k.str()), &node);
  // (line, column, key) orders every key; std::sort needs no temporary buffer, whose
  // libstdc++ helper newer compilers flag as deprecated.
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    const auto& pa = a.second->source().begin;
    const auto& pb = b.second->source().begin;
    return std::tie(pa.line, pa.column, a.first) < std::tie(pb.line, pb.column, b.first);
  });
  for (const auto& [key, node_ptr] : keys) {
    const toml::node& node = *node_ptr;
    const std::string where = path + ":" + std::to_string(node.source().begin.line);
    auto sec = std::find_if(sections.begin(), sections.end(), [&](const Section& x) { return key == x.name; });
    if (sec != sections.end()) {
      const toml::table* sub = node.as_table();
      if (!sub) {
        errors.push_back(where + ": '" + key + "' must be a table ([" + key + "])");
        continue;
      }
      sec->given(s) = true;
      origins[key] = where;
      for (const auto& [k2, node2] : *sub) {
        const std::string key2(k2.str());
        const std::string where2 = path + ":" + std::to_string(node2.source().begin.line);
        auto opt = std::find_if(sec->options.begin(), sec->options.end(), [&](const Option& o) { return key2 == o.key; });
        if (opt == sec->options.end()) {
          errors.push_back(where2 + ": unknown key '" + key2 + "' in [" + key + "]");
          continue;
        }
        try {
          assign_node(*opt, s, node2, where2 + ": [" + key + "] " + key2);
          origins[key + "." + key2] = where2;
        } catch (const std::exception& e) {
          errors.push_back(e.what());
        }
      }
      continue;
    }
    if (key == "bridge") {  // [[bridge]] tables have a parser of their own
      try {
        s.bridges = bridge::parse_bridges(node, path, host_name());
        origins[key] = where;
      } catch (const std::exception& e) {
        errors.push_back(e.what());
      }
      continue;
    }
    auto opt = std::find_if(table.begin(), table.end(), [&](const Option& o) { return key == o.key; });
    if (opt == table.end()) {
      errors.push_back(where + (node.is_table() ? ": unknown table [" + key + "]" : ": unknown key '" + key + "'"));
      continue;
    }
    std::string name = where + ": " + key;
    try {
      assign_node(*opt, s, node, name);
      origins[key] = where;
    } catch (const std::exception& e) {
      errors.push_back(e.what());
    }
  }
}

const char* arg_of(const Option& o) {
  return std::holds_alternative<FieldRef<bool>>(o.field) ? " BOOL"
         : std::holds_alternative<FieldRef<std::string>>(o.field) || is_list(o) ? " VALUE"
                                                                                : " N";
}

void print_help(const std::vector<Option>& table) {
  printf("Usage: musqratt [options]\n\n"
         "MusQraTT, a multithreaded MQTT 3.1/3.1.1/5.0 broker. With no options it listens on\n"
         "127.0.0.1:1883 with embedded defaults. Every option is also a key of the TOML config file.\n\n"
         "  --config FILE          read settings from a TOML file (flags override it)\n"
         "  --print-config         print every setting as TOML (after --config and flags) and exit\n"
         "  --check-config         check the settings (--config FILE and flags), the password, ACL and\n"
         "                         TLS files they name; print every error with FILE:LINE and key;\n"
         "                         exit 0 if all is well, 1 if not\n"
         "  --version              print the version and exit\n"
         "  --help                 print this help and exit\n");
  for (const auto& o : table) printf("  %-34s %s\n", (flag_of(o.key) + arg_of(o)).c_str(), o.help);
}

void print_section_help(const std::vector<Section>& sections) {
  for (const Section& sec : sections) {
    printf("\n[%s]: %s. TOML keys of the table [%s], or these flags:\n", sec.name, sec.help, sec.name);
    for (const auto& o : sec.options) printf("  %-34s %s\n", (flag_of(sec, o) + arg_of(o)).c_str(), o.help);
  }
}

std::string toml_quote(const std::string& v) {
  std::string out = "\"";
  for (char ch : v) {
    if (ch == '"' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  return out + "\"";
}

/// The value of `opt` in `s`, as TOML.
std::string toml_value(const Option& opt, Settings& s) {
  return std::visit(
      [&](auto ref) -> std::string {
        auto& field = ref(s);
        using T = std::remove_reference_t<decltype(field)>;
        if constexpr (std::is_same_v<T, bool>) {
          return field ? "true" : "false";
        } else if constexpr (kIsNumber<T>) {
          return std::to_string(field);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return toml_quote(field);
        } else {
          std::string out = "[";
          for (const auto& v : field) out += (out.size() > 1 ? ", " : "") + toml_quote(v);
          return out + "]";
        }
      },
      opt.field);
}

/// Every setting as a commented TOML file that --config reads back unchanged.
void print_config(Settings& s, const std::vector<Option>& table, const std::vector<Section>& sections) {
  printf("# MusQraTT configuration: every key, with its value (musqratt --print-config).\n"
         "# See docs/configuration.md for what each one means.\n");
  for (const auto& o : table) printf("\n# %s\n%s = %s\n", o.help, o.key, toml_value(o, s).c_str());
  // Tables come after every top-level key (TOML): the [[bridge]] tables, then named sub-tables.
  // A sub-table not given stays commented out, so reading this file back changes nothing.
  std::string bridges = s.bridges.empty() ? bridge::describe_bridge_keys() : bridge::format_bridges(s.bridges);
  fputs(bridges.c_str(), stdout);
  for (const Section& sec : sections) {
    bool on = sec.given(s);
    const char* c = on ? "" : "# ";
    printf("\n# [%s]: %s%s\n%s[%s]\n", sec.name, sec.help, on ? "" : " (not enabled; uncomment to use)", c, sec.name);
    const char* blank = on ? "" : "#";
    for (const auto& o : sec.options) printf("%s\n%s# %s\n%s%s = %s\n", blank, c, o.help, c, o.key, toml_value(o, s).c_str());
  }
}

}  // namespace

std::string options_reference() {
  std::string out = "| key / flag | meaning |\n|---|---|\n";
  for (const auto& o : option_table()) out += "| `" + std::string(o.key) + "` / `" + flag_of(o.key) + "` | " + o.help + " |\n";
  for (const auto& sec : section_table())
    for (const auto& o : sec.options)
      out += "| `[" + std::string(sec.name) + "] " + o.key + "` / `" + flag_of(sec, o) + "` | " + o.help + " |\n";
  return out;
}

bool is_loopback_host(const std::string& listen) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string resolve_access_policy(Settings& s) {
  // The dpdk transport listens on dpdk_ip, never on loopback.
  bool all_loopback = s.transport != "dpdk" && std::all_of(s.listen.begin(), s.listen.end(), is_loopback_host) &&
                      std::all_of(s.tls_listen.begin(), s.tls_listen.end(), is_loopback_host) &&
                      std::all_of(s.ws_listen.begin(), s.ws_listen.end(), is_loopback_host) &&
                      std::all_of(s.wss_listen.begin(), s.wss_listen.end(), is_loopback_host);
  if (s.allow_anonymous == "true") {
    s.broker.allow_anonymous = true;
  } else if (s.allow_anonymous == "false") {
    s.broker.allow_anonymous = false;
  } else if (s.allow_anonymous == "auto") {
    if (!s.broker.password_file.empty()) {
      s.broker.allow_anonymous = false;
    } else if (!all_loopback) {
      return "a listener is not on loopback and no password_file is set: anyone could connect. "
             "Set password_file, or allow_anonymous = true to accept that";
    } else {
      s.broker.allow_anonymous = true;
    }
  } else {
    return "allow_anonymous must be auto, true or false";
  }
  return {};
}

std::vector<std::string> read_settings(int argc, char** argv, Settings& s, Origins& origins) {
  const auto table = option_table();
  const auto sections = section_table();
  std::vector<std::string> errors;
  // The config file first, so flags given anywhere on the line win over it.
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" || a.rfind("--config=", 0) == 0) {
      std::string path = a == "--config" ? (i + 1 < argc ? argv[++i] : "") : a.substr(9);
      if (path.empty()) {
        errors.push_back("--config needs a file");
        continue;
      }
      load_toml(path, s, table, sections, origins, errors);
      s.config_file = path;
    }
  }
  std::vector<std::string> lists_seen;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config") {
      ++i;
      continue;
    }
    if (a.rfind("--config=", 0) == 0 || a == "--print-config" || a == "--check-config" || a == "--help" ||
        a == "-h" || a == "--version")
      continue;
    std::string value;
    bool has_value = false;
    if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_value = true;
    }
    const Option* opt = nullptr;
    std::string origin_key;
    for (const Option& o : table)
      if (a == flag_of(o.key)) opt = &o, origin_key = o.key;
    for (const Section& sec : sections) {
      for (const Option& o : sec.options) {
        if (opt || a != flag_of(sec, o)) continue;
        opt = &o;
        origin_key = std::string(sec.name) + "." + o.key;
        sec.given(s) = true;
      }
    }
    if (!opt) {
      errors.push_back("unknown option '" + a + "' (see --help)");
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        errors.push_back(a + " needs a value");
        continue;
      }
      value = argv[++i];
    }
    if (is_list(*opt) && std::find(lists_seen.begin(), lists_seen.end(), a) == lists_seen.end()) {
      std::get<FieldRef<std::vector<std::string>>>(opt->field)(s).clear();  // flags replace the file's list
      lists_seen.push_back(a);
    }
    try {
      assign_text(*opt, s, value, a);
      origins[origin_key] = a;
    } catch (const std::exception& e) {
      errors.push_back(e.what());
    }
  }
  return errors;
}

std::string origin_of(const Origins& origins, const std::string& key) {
  auto it = origins.find(key);
  if (it == origins.end()) return key;
  return it->second.rfind("--", 0) == 0 ? it->second : it->second + ": " + key;
}

std::vector<std::string> validate_settings(Settings& s, const Origins& origins) {
  std::vector<std::string> errors;
  auto bad = [&](const std::string& key, const std::string& message) { errors.push_back(origin_of(origins, key) + ": " + message); };
  auto one_of = [&](const std::string& key, const std::string& value, std::initializer_list<const char*> allowed) {
    for (const char* a : allowed)
      if (value == a) return;
    std::string list;
    for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
    bad(key, "'" + value + "' is not one of " + list);
  };
  util::LogLevel level;
  if (!util::parse_log_level(s.log_level, level)) bad("log_level", "unknown log level '" + s.log_level + "'");
  one_of("log_dest", s.log_dest, {"stderr", "syslog", "file"});
  one_of("log_format", s.log_format, {"text", "json"});
  if (s.log_dest == "file" && s.log_file.empty()) bad("log_dest", "log_dest = \"file\" needs log_file");
  one_of("transport", s.transport, {"epoll", "io_uring", "dpdk"});
  one_of("persistence_sync", s.persistence_sync, {"always", "batch"});
  one_of("allow_anonymous", s.allow_anonymous, {"auto", "true", "false"});
  if (s.epoll_busy_poll_us > Settings::kMaxBusyPollUs)
    bad("epoll_busy_poll_us", std::to_string(s.epoll_busy_poll_us) + " is more than " + std::to_string(Settings::kMaxBusyPollUs) +
                                  " (a worker would spin that long after every large turn)");
  if (s.local_send_buffer != 0 &&
      (s.local_send_buffer < Settings::kMinLocalSendBuffer || s.local_send_buffer > Settings::kMaxLocalSendBuffer))
    bad("local_send_buffer", std::to_string(s.local_send_buffer) + " is outside " + std::to_string(Settings::kMinLocalSendBuffer) +
                                 ".." + std::to_string(Settings::kMaxLocalSendBuffer) + " (0 turns the cap off)");
  if (s.transport == "dpdk") {
    if (s.listen.empty()) bad("listen", "transport dpdk takes its MQTT port from listen, which is empty");
  } else if (s.listen.empty() && s.tls_listen.empty()) {
    bad(origins.contains("listen") ? "listen" : "tls_listen", "no listener configured: set listen, tls_listen or both");
  }
  if (!s.tls_listen.empty()) {
    if (s.tls_cert.empty()) bad("tls_listen", "TLS listeners need tls_cert");
    if (s.tls_key.empty()) bad("tls_listen", "TLS listeners need tls_key");
  }
  if (s.tls_require_certificate && s.tls_ca.empty()) bad("tls_require_certificate", "needs tls_ca");
  if (std::string err = resolve_access_policy(s); !err.empty() && s.allow_anonymous == "auto")
    bad("allow_anonymous", err);
  for (const Section& sec : section_table()) {
    if (!sec.given(s)) continue;
    if (std::string err = sec.check(s); !err.empty()) errors.push_back(origin_of(origins, sec.name) + ": " + err);
  }
  return errors;
}

namespace {
/// What a SIGHUP applies to a running broker. Every other key (including keys added later and
/// not listed here) needs a restart. max_packet_size and topic_alias_maximum are fixed per
/// connection when it is accepted (SessionDriver), so a new value reaches new connections only.
/// The other values announced in CONNACK (receive_maximum, maximum_qos, retain_available) are
/// not listed: they are checked against config() on every packet, so a change would break the
/// promise made to the connections already open.
constexpr std::string_view kReloadable[] = {
    "log_level", "log_dest", "log_file", "log_format", "log_rate_limit", "log_rate_burst",
    "max_packet_size", "topic_alias_maximum", "max_inflight", "max_queued_messages", "max_queued_bytes", "queue_qos0_offline",
    "session_expiry_default", "max_session_expiry", "max_keepalive", "server_keepalive", "connect_timeout",
    "default_message_expiry", "max_message_expiry", "max_connections", "max_connections_per_ip",
    "max_publish_rate", "max_subscriptions_per_client", "max_topic_levels", "max_topic_length",
    "hold_unsubscribed", "hold_max_messages_per_topic", "hold_max_bytes", "hold_default_expiry",
    "password_file", "acl_file", "allow_anonymous", "sys_interval",
    // Certificate files are re-read at every reload under the same paths.
};
/// Reloadable too (Server::update_listeners opens and closes them), except under the dpdk
/// transport, whose one listener lives in its own network stack, made at start-up.
constexpr std::string_view kListenerKeys[] = {"listen", "tls_listen", "ws_listen", "wss_listen", "http_listen"};

bool listed(std::span<const std::string_view> keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}
}  // namespace

std::vector<std::string> keep_restart_only_values(const Settings& running, Settings& next) {
  std::vector<std::string> keys;
  Settings old = running;  // the field references take a mutable Settings
  const bool listeners_reloadable = running.transport != "dpdk";
  for (const auto& o : option_table()) {
    if (listed(kReloadable, o.key) || (listeners_reloadable && listed(kListenerKeys, o.key))) continue;
    if (toml_value(o, old) == toml_value(o, next)) continue;
    keys.push_back(o.key);
    std::visit([&](auto ref) { ref(next) = ref(old); }, o.field);
  }
  // Sub-tables ([cluster]) are set up at start-up: a change waits for a restart.
  for (const Section& sec : section_table()) {
    bool changed = sec.given(old) != sec.given(next);
    for (const auto& o : sec.options) changed = changed || toml_value(o, old) != toml_value(o, next);
    if (!changed) continue;
    keys.push_back(std::string("[") + sec.name + "]");
    sec.given(next) = sec.given(old);
    for (const auto& o : sec.options) std::visit([&](auto ref) { ref(next) = ref(old); }, o.field);
  }
  // Bridges are made at start-up (their buffers, their worker): a change waits for a restart.
  if (running.bridges != next.bridges) {
    keys.push_back("[[bridge]]");
    next.bridges = running.bridges;
  }
  return keys;
}

ParseOutcome parse_settings(int argc, char** argv, Settings& s, Origins& origins) {
  const auto table = option_table();
  bool print = false, check = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      print_help(table);
      print_section_help(section_table());
      return ParseOutcome::ExitOk;
    }
    if (a == "--version") {
      printf("musqratt %s (heap: %s)\n", MUSQRATT_VERSION, app::allocator_name().c_str());
      return ParseOutcome::ExitOk;
    }
    if (a == "--config") ++i;
    print = print || a == "--print-config";
    check = check || a == "--check-config";
  }
  std::vector<std::string> errors = read_settings(argc, argv, s, origins);
  if (check) return ParseOutcome::CheckConfig;  // the caller reports these and more
  if (errors.empty() && print) {
    print_config(s, table, section_table());
    return ParseOutcome::ExitOk;
  }
  if (errors.empty()) errors = validate_settings(s, origins);
  if (!errors.empty()) {
    for (const auto& e : errors) fprintf(stderr, "musqratt: %s\n", e.c_str());
    return ParseOutcome::ExitError;
  }
  return ParseOutcome::Run;
}

}  // namespace musqratt::app
