#include "web/broker_metrics.h"

#include <algorithm>
#include <chrono>

#include "broker/broker.h"

namespace musqratt::web {

BrokerFigures collect_broker_figures(broker::Broker& b, util::TimePoint now) {
  using broker::Counter;
  const broker::Stats& s = b.stats();
  BrokerFigures f;
  f.version = MUSQRATT_VERSION;
  f.uptime_seconds = std::chrono::duration<double>(now - b.started()).count();
  f.clients_connected = s.get(Counter::ClientsConnected);
  f.connections_accepted = s.get(Counter::ClientsConnectedEver);
  f.sessions = b.session_count();
  f.topics = b.topic_count();
  f.messages_received_by_qos = {s.get(Counter::MessagesReceivedQos0), s.get(Counter::MessagesReceivedQos1),
                                s.get(Counter::MessagesReceivedQos2)};
  f.messages_sent_by_qos = {s.get(Counter::MessagesSentQos0), s.get(Counter::MessagesSentQos1),
                            s.get(Counter::MessagesSentQos2)};
  f.messages_received = (*f.messages_received_by_qos)[0] + (*f.messages_received_by_qos)[1] + (*f.messages_received_by_qos)[2];
  f.messages_sent = (*f.messages_sent_by_qos)[0] + (*f.messages_sent_by_qos)[1] + (*f.messages_sent_by_qos)[2];
  f.subscriptions = b.subscription_count();
  f.retained_messages = b.retained_count();
  // A sum over the sessions at scrape time (one short lock each) rather than a counter kept on
  // the publish path, which would cost every message.
  uint64_t queued = 0;
  for (const auto& session : b.sessions()) queued += session->queued_count();
  f.queued_messages = queued;
  f.bytes_received = s.get(Counter::BytesReceived);
  f.bytes_sent = s.get(Counter::BytesSent);
  // "queue_full" is $SYS/broker/messages/dropped; "hold_full" is $SYS/broker/hold/dropped.
  f.dropped_by_reason = {{"queue_full", s.get(Counter::PublishDropped)}, {"hold_full", s.get(Counter::HoldDropped)}};
  f.held_messages = b.held_count();
  f.held_delivered = s.get(Counter::HoldDelivered);
  return f;
}

void write_broker_metrics(const BrokerFigures& f, PrometheusWriter& w) {
  w.family("musqratt_build_info", MetricType::Gauge, "Always 1; the label says which version runs.");
  w.sample({{"version", f.version}}, uint64_t{1});
  w.gauge("musqratt_uptime_seconds", "Time since the broker started.", f.uptime_seconds);

  w.gauge("musqratt_clients_connected", "MQTT clients connected now.", f.clients_connected);
  w.counter("musqratt_connections_accepted_total", "MQTT connections accepted (CONNACK success) since start.",
            f.connections_accepted);
  w.family("musqratt_sessions", MetricType::Gauge, "Sessions held, by whether their client is connected.");
  const uint64_t online = std::min(f.clients_connected, f.sessions);
  w.sample({{"state", "online"}}, online);
  w.sample({{"state", "offline"}}, f.sessions - online);
  if (f.subscriptions) w.gauge("musqratt_subscriptions", "Subscriptions, all sessions.", *f.subscriptions);
  w.gauge("musqratt_topics", "Topic tree nodes (topics and their parent levels in use).", f.topics);
  if (f.retained_messages) w.gauge("musqratt_retained_messages", "Retained messages stored.", *f.retained_messages);

  auto by_qos = [&](const char* name, const char* help, uint64_t total,
                    const std::optional<std::array<uint64_t, 3>>& q) {
    w.family(name, MetricType::Counter, help);
    if (!q) {
      w.sample(total);
      return;
    }
    static constexpr const char* kQos[] = {"0", "1", "2"};
    for (size_t i = 0; i < 3; ++i) w.sample({{"qos", kQos[i]}}, (*q)[i]);
  };
  by_qos("musqratt_messages_received_total", "PUBLISH packets received from clients.", f.messages_received,
         f.messages_received_by_qos);
  by_qos("musqratt_messages_sent_total", "PUBLISH packets sent to clients.", f.messages_sent,
         f.messages_sent_by_qos);
  w.counter("musqratt_received_bytes_total", "Bytes received from MQTT clients.", f.bytes_received);
  w.counter("musqratt_sent_bytes_total", "Bytes sent to MQTT clients.", f.bytes_sent);

  if (!f.dropped_by_reason.empty()) {
    w.family("musqratt_messages_dropped_total", MetricType::Counter,
             "Messages dropped, by reason: queue_full (a client's queue was full), hold_full (the hold "
             "for unsubscribed topics made room).");
    for (const auto& [reason, n] : f.dropped_by_reason) w.sample({{"reason", reason}}, n);
  }
  if (f.queued_messages)
    w.gauge("musqratt_queued_messages", "Messages waiting in session queues.", *f.queued_messages);
  w.gauge("musqratt_held_messages", "Messages held for topics nobody subscribes to yet.", f.held_messages);
  w.counter("musqratt_held_messages_delivered_total", "Held messages handed to a first subscriber.",
            f.held_delivered);

  if (f.persistence_commit_seconds) {
    const auto& h = *f.persistence_commit_seconds;
    w.family("musqratt_persistence_commit_duration_seconds", MetricType::Histogram,
             "Time from a store write's submission until it is durable.");
    w.histogram({}, HistogramValue{h.upper_bounds, h.cumulative, h.sum, h.count});
  }
  if (!f.workers.empty()) {
    w.family("musqratt_worker_busy_seconds_total", MetricType::Counter,
             "Time each worker thread spent handling events rather than waiting for them.");
    for (const auto& wk : f.workers) w.sample({{"worker", wk.name}}, wk.busy_seconds);
    w.family("musqratt_worker_connections", MetricType::Gauge,
             "Connections each worker thread serves (accepted or opened, until closed).");
    for (const auto& wk : f.workers) w.sample({{"worker", wk.name}}, wk.connections);
  }
  if (!f.bridges.empty()) {
    w.family("musqratt_bridge_state", MetricType::Gauge, "1 for the state each bridge is in, 0 for the others.");
    for (const auto& b : f.bridges)
      for (const char* st : BrokerFigures::kBridgeStates)
        w.sample({{"bridge", b.name}, {"state", st}}, uint64_t{b.state == st});
    w.family("musqratt_bridge_backlog_messages", MetricType::Gauge, "Messages waiting to be forwarded, per bridge.");
    for (const auto& b : f.bridges) w.sample({{"bridge", b.name}}, b.backlog_messages);
  }
}

std::string render_broker_metrics(const BrokerFigures& f) {
  PrometheusWriter w;
  write_broker_metrics(f, w);
  return w.take();
}

}  // namespace musqratt::web
