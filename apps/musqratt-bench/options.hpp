// Command-line options of musqratt-bench.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace mqb {

enum class Scenario { p2p, fanout, fanin, idle, persist, queue };
const char* scenario_name(Scenario s);

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 1883;
  uint16_t sub_port = 0;  // subscribers connect here instead (another node of a cluster); 0 = port
  Scenario scenario = Scenario::p2p;
  int publishers = 0;   // resolved counts (after resolve())
  int subscribers = 0;  // for idle: the number of connections
  int qos = 0;
  std::size_t size = 64;
  uint64_t count = 0;     // messages per publisher; 0 when --duration is used
  double duration = 0;    // seconds of publishing (measured; --warmup comes before)
  double warmup = 0;      // seconds of publishing before the measured window (needs --duration)
  double rate = 0;        // total msgs/s over all publishers, 0 = unlimited
  int inflight = 20;      // QoS 1/2 publish window per publisher (v5: capped by Receive Maximum)
  int threads = 1;
  bool v5 = false;
  bool json = false;
  bool expect_no_loss = false;
  bool progress = true;   // live line on stderr (only when it is a terminal)
  double hold = 0;        // idle: seconds to keep the connections open; queue: settle time (default 1)
  double drain = 2.0;     // seconds without a new delivery before the rest counts as lost
  double drain_max = 0;   // seconds the whole drain may take, however deliveries trickle (0 = no limit)
  double connect_timeout = 30;
  int connect_concurrency = 64;   // TCP+MQTT handshakes in flight at once (all threads)
  uint16_t keepalive = 60;
  std::string topic_prefix = "bench";
  std::string websocket_path;  // --websocket PATH: MQTT over WebSocket (ws://host:port/PATH)
  std::string client_prefix;  // default: mqb-<pid>
  std::string ready_file;     // idle: all connections up; queue: sampled; others: window opened
  int broker_pid = 0;         // > 0: sample this process's CPU time and RSS (/proc) over the window

  // Raw values as given, used by resolve().
  int opt_pairs = -1, opt_publishers = -1, opt_subscribers = -1, opt_connections = -1;
  bool qos_given = false;
  bool hold_given = false;
};

// Parses argv. Returns 0 on success, 1 if help was printed, 2 on a usage error (message on stderr).
int parse_options(int argc, char** argv, Options& o);
std::size_t wire_min_size();

}  // namespace mqb
