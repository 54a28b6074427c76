#pragma once
// The server's settings: one table of options, each reachable both as a TOML key and as a
// command-line flag (`some_key` <-> `--some-key`), so the two can never drift apart.
#include <map>
#include <string>
#include <vector>

#include "bridge/bridge_config.h"
#include "broker/config.h"
#include "cluster/cluster_config.h"

namespace musqratt::app {

struct Settings {
  std::vector<std::string> listen{"127.0.0.1:1883"};
  unsigned threads = 0;  // 0 = one per CPU but one, at least one (worker_count.h)
  uint32_t auth_threads = 2;          // password checks running at once, off the workers
  uint32_t auth_backoff_failures = 5;  // failed logins from one address before its checks wait (0 = no back-off)
  std::string log_level = "info";
  std::string log_dest = "stderr";  // stderr, syslog or file
  std::string log_file;             // log_dest = "file"
  std::string log_format = "text";  // text or json
  uint32_t log_rate_limit = 10;     // lines a remote peer can trigger: per second per kind
  uint32_t log_rate_burst = 50;
  std::string transport = "epoll";
  std::string config_file;  // set when --config was given
  std::string allow_anonymous = "auto";
  std::vector<std::string> tls_listen;
  std::string tls_cert, tls_key, tls_ca;
  bool tls_require_certificate = false;
  bool tls_use_identity_as_username = false;
  // MQTT over WebSockets and the HTTP endpoint for operators (see docs/web.md).
  std::vector<std::string> ws_listen, wss_listen;
  std::string ws_path = "/mqtt";
  std::string http_listen;  // empty = off
  std::vector<std::string> http_admins;
  std::string http_token_file;
  bool persistence = false;
  std::string persistence_dir = "musqratt-data";
  std::string persistence_sync = "always";
  uint32_t persistence_sync_interval = 10;
  uint32_t persistence_memory_queue = 1000;
  uint64_t persistence_max_size = 0;
  // transport = "epoll": a turn's reads and sends batched through a small ring (net::IoBatch).
  bool epoll_batch_io = true;
  // transport = "epoll": polling before sleeping after a large turn (net::BusyPoll).
  uint32_t epoll_busy_poll_us = 50;
  static constexpr uint32_t kMaxBusyPollUs = 10000;
  // transports epoll and io_uring: SO_SNDBUF of accepted connections from nearby peers
  // (net::AcceptedSocketOptions); 0 = the kernel's autotuning for every peer.
  uint32_t local_send_buffer = 256 * 1024;
  static constexpr uint32_t kMinLocalSendBuffer = 16 * 1024;
  static constexpr uint32_t kMaxLocalSendBuffer = 64 * 1024 * 1024;
  // transport = "io_uring": SQPOLL rings (see net::UringSettings).
  bool uring_sqpoll = false;
  uint32_t uring_sqpoll_idle_ms = 1000;
  // transport = "dpdk": lwIP over a DPDK port (built with MUSQRATT_DPDK); the MQTT port is the
  // `listen` setting's.
  std::string dpdk_eal_args = "--no-huge --no-pci";
  uint16_t dpdk_port = 0;
  std::string dpdk_ip;
  std::string dpdk_netmask = "255.255.255.0";
  std::string dpdk_gateway;
  std::string dpdk_mac;  // empty = the port's own
  uint16_t dpdk_mtu = 1500;
  uint32_t dpdk_idle_sleep_us = 0;
  uint16_t dpdk_queues = 1;  // RX/TX queue pairs, all polled by the one worker
  broker::BrokerConfig broker;
  // [cluster] (a named sub-table): set when the table or any --cluster-* flag is given.
  bool cluster_given = false;
  cluster::ClusterConfig cluster;
  // [[bridge]] tables: links to upstream brokers (docs/bridge.md). In the TOML file only: a
  // list of tables with lists inside has no sensible flag form.
  std::vector<bridge::BridgeConfig> bridges;
};

enum class ParseOutcome { Run, ExitOk, ExitError, CheckConfig };

/// Where each key's value came from: "FILE:LINE" for the config file, "--flag" for the command
/// line. Keys left at their defaults are absent.
using Origins = std::map<std::string, std::string>;

/// Parses argv (and the TOML file named by --config, flags winning over the file), then
/// validate_settings(). Prints --help / --version / --print-config and every error itself.
/// CheckConfig: --check-config was given; `out` and `origins` hold what was read.
ParseOutcome parse_settings(int argc, char** argv, Settings& out, Origins& origins);

/// Reads the file named by --config and the flags into `out`, collecting every error (as
/// "FILE:LINE: KEY: message" or "--flag: message") instead of stopping at the first. Prints
/// nothing: used at start-up, on reload and by --check-config. A TOML syntax error refuses the
/// whole file (one error: the first).
std::vector<std::string> read_settings(int argc, char** argv, Settings& out, Origins& origins);

/// Values that must be one of a list, and rules across keys (at least one listener; TLS
/// listeners need a certificate and key; ...). Resolves allow_anonymous (see
/// resolve_access_policy). Each error names where the offending key was set.
std::vector<std::string> validate_settings(Settings& s, const Origins& origins);

/// "FILE:LINE: KEY" or "--flag" or "KEY" (at its default): where `key` was set.
std::string origin_of(const Origins& origins, const std::string& key);

/// Keys that differ between the running settings and `next` and cannot change without a
/// restart; their running values are copied into `next`, so what a reload applies is exactly
/// the rest.
std::vector<std::string> keep_restart_only_values(const Settings& running, Settings& next);

/// Resolves allow_anonymous against the listeners: returns an error message if a listener off
/// loopback would accept anyone without that being asked for explicitly.
std::string resolve_access_policy(Settings& s);

/// True for a HOST:PORT on loopback (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(const std::string& listen);

/// Markdown table of every option (used to check docs/configuration.md stays complete).
std::string options_reference();

}  // namespace musqratt::app
