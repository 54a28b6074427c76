#pragma once
// The broker's figures as Prometheus metrics (GET /metrics). The figures are collected into a
// plain struct first, so that what other rooms count (the network layer, the store, bridges)
// can be filled in by whoever wires them, and so that the text can be tested without a broker.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/clock.h"
#include "web/prometheus_writer.h"

namespace musqratt::broker {
class Broker;
}

namespace musqratt::web {

/// What /metrics shows. Figures the broker does not count yet are optional or empty and then
/// left out of the output: the text never shows a number that nobody measured.
struct BrokerFigures {
  std::string version;
  double uptime_seconds = 0;

  // Clients and sessions ($SYS/broker/clients/...).
  uint64_t clients_connected = 0;        // MQTT connections now (after CONNACK)
  uint64_t connections_accepted = 0;     // MQTT connections accepted since start
  uint64_t sessions = 0;                 // sessions held, online and offline
  std::optional<uint64_t> subscriptions; // $SYS/broker/subscriptions/count (no public accessor yet)
  uint64_t topics = 0;                   // topic tree nodes
  std::optional<uint64_t> retained_messages;  // $SYS/broker/retained/count (no public accessor yet)

  // Traffic. Per-QoS counts replace the totals in the output when they exist (label qos).
  uint64_t messages_received = 0, messages_sent = 0;
  std::optional<std::array<uint64_t, 3>> messages_received_by_qos, messages_sent_by_qos;
  uint64_t bytes_received = 0, bytes_sent = 0;

  /// Messages dropped, by reason (label values such as "queue_full", "hold_full").
  std::vector<std::pair<std::string, uint64_t>> dropped_by_reason;

  std::optional<uint64_t> queued_messages;  // in session queues, all sessions
  uint64_t held_messages = 0;               // held for topics nobody subscribes to
  uint64_t held_delivered = 0;

  /// Time from a write's submission until it is durable, in seconds (store thread).
  struct Histogram {
    std::vector<double> upper_bounds;   // ascending, +Inf implied
    std::vector<uint64_t> cumulative;   // per bound
    double sum = 0;
    uint64_t count = 0;
  };
  std::optional<Histogram> persistence_commit_seconds;

  /// Time each worker spent handling events (not waiting), in seconds since start.
  struct Worker {
    std::string name;  // "0", "1", ...
    double busy_seconds = 0;
    uint64_t connections = 0;
  };
  std::vector<Worker> workers;

  /// Bridges (outgoing links), when configured.
  struct Bridge {
    std::string name;
    std::string state;  // one of kBridgeStates
    uint64_t backlog_messages = 0;
  };
  std::vector<Bridge> bridges;
  static constexpr std::array<const char*, 3> kBridgeStates = {"connected", "connecting", "disconnected"};
};

/// The figures that the broker keeps today, the same counters $SYS publishes
/// (Broker::publish_sys). Thread: any (Broker's public API is thread-safe).
BrokerFigures collect_broker_figures(broker::Broker& broker, util::TimePoint now);

/// Writes every family under musqratt_ (names in docs/web.md).
void write_broker_metrics(const BrokerFigures& f, PrometheusWriter& w);
/// The whole exposition text.
std::string render_broker_metrics(const BrokerFigures& f);

}  // namespace musqratt::web
