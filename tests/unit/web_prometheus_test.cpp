// Prometheus text exposition (src/web/prometheus_writer.h) and the broker's metrics
// (src/web/broker_metrics.h), checked by promtool (Debian package prometheus).
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>

#include "handler_fixture.h"
#include "web/broker_metrics.h"
#include "web/prometheus_writer.h"

namespace musqratt::web {
namespace {

struct PromtoolResult {
  int status = -1;
  std::string output;
};

// Runs `promtool check metrics` on `text`: exit status 0 means it parses and passes the lint
// rules (names, _total on counters, HELP present).
PromtoolResult promtool_check(const std::string& text) {
  char path[] = "/tmp/musqratt-metrics-XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << text;
  PromtoolResult r;
  std::string cmd = std::string("promtool check metrics < ") + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  char buf[512];
  while (p && fgets(buf, sizeof buf, p)) r.output += buf;
  const int st = p ? pclose(p) : -1;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::remove(path);
  return r;
}

bool have_promtool() { return std::system("command -v promtool >/dev/null 2>&1") == 0; }

TEST(PrometheusWriter, WritesFamiliesWithHelpTypeAndEscapes) {
  PrometheusWriter w;
  w.family("app_requests_total", MetricType::Counter, "Requests\\served\nby path.");
  w.sample({{"path", "/a\"b\\c\nd"}, {"code", "200"}}, uint64_t{42});
  w.gauge("app_temperature_celsius", "Temperature.", -3.25);
  w.family("app_ratio", MetricType::Gauge, "Special values.");
  w.sample({{"k", "nan"}}, std::numeric_limits<double>::quiet_NaN());
  w.sample({{"k", "inf"}}, std::numeric_limits<double>::infinity());
  w.sample({{"k", "big"}}, 1e21);
  EXPECT_EQ(w.text(),
            "# HELP app_requests_total Requests\\\\served\\nby path.\n"
            "# TYPE app_requests_total counter\n"
            "app_requests_total{path=\"/a\\\"b\\\\c\\nd\",code=\"200\"} 42\n"
            "# HELP app_temperature_celsius Temperature.\n"
            "# TYPE app_temperature_celsius gauge\n"
            "app_temperature_celsius -3.25\n"
            "# HELP app_ratio Special values.\n"
            "# TYPE app_ratio gauge\n"
            "app_ratio{k=\"nan\"} NaN\n"
            "app_ratio{k=\"inf\"} +Inf\n"
            "app_ratio{k=\"big\"} 1e+21\n");
}

TEST(PrometheusWriter, Histogram) {
  PrometheusWriter w;
  w.family("app_latency_seconds", MetricType::Histogram, "Latency.");
  const double bounds[] = {0.001, 0.01, 0.1};
  const uint64_t counts[] = {3, 7, 9};
  w.histogram({}, HistogramValue{bounds, counts, 0.25, 10});
  EXPECT_EQ(w.text(),
            "# HELP app_latency_seconds Latency.\n"
            "# TYPE app_latency_seconds histogram\n"
            "app_latency_seconds_bucket{le=\"0.001\"} 3\n"
            "app_latency_seconds_bucket{le=\"0.01\"} 7\n"
            "app_latency_seconds_bucket{le=\"0.1\"} 9\n"
            "app_latency_seconds_bucket{le=\"+Inf\"} 10\n"
            "app_latency_seconds_sum 0.25\n"
            "app_latency_seconds_count 10\n");
}

TEST(PrometheusWriter, RefusesWhatTheFormatForbids) {
  PrometheusWriter w;
  EXPECT_THROW(w.sample(uint64_t{1}), std::logic_error);  // no family yet
  EXPECT_THROW(w.family("1abc", MetricType::Gauge, "x"), std::logic_error);
  EXPECT_THROW(w.family("a-b", MetricType::Gauge, "x"), std::logic_error);
  EXPECT_THROW(w.family("requests", MetricType::Counter, "x"), std::logic_error);
  EXPECT_THROW(w.family("size_total", MetricType::Gauge, "x"), std::logic_error);
  w.family("ok_total", MetricType::Counter, "x");
  EXPECT_THROW(w.sample({{"__reserved", "v"}}, uint64_t{1}), std::logic_error);
  EXPECT_THROW(w.sample({{"bad-label", "v"}}, uint64_t{1}), std::logic_error);
  EXPECT_THROW(w.family("ok_total", MetricType::Counter, "again"), std::logic_error);
  EXPECT_TRUE(PrometheusWriter::valid_metric_name("ns:sub_metric"));
  EXPECT_FALSE(PrometheusWriter::valid_label_name("ns:label"));
}

BrokerFigures every_figure() {
  BrokerFigures f;
  f.version = "0.1.0";
  f.uptime_seconds = 12.5;
  f.clients_connected = 3;
  f.connections_accepted = 10;
  f.sessions = 5;
  f.subscriptions = 7;
  f.topics = 9;
  f.retained_messages = 2;
  f.messages_received_by_qos = std::array<uint64_t, 3>{100, 20, 3};
  f.messages_sent_by_qos = std::array<uint64_t, 3>{200, 40, 6};
  f.bytes_received = 1000;
  f.bytes_sent = 2000;
  f.dropped_by_reason = {{"queue_full", 4}, {"hold_full", 1}};
  f.queued_messages = 11;
  f.held_messages = 2;
  f.held_delivered = 8;
  f.persistence_commit_seconds = BrokerFigures::Histogram{{0.0005, 0.001, 0.005}, {1, 5, 9}, 0.02, 10};
  f.workers = {{"0", 1.5, 7}, {"1", 2.25, 6}};
  f.bridges = {{"cloud \"main\"", "connected", 0}, {"backup", "connecting", 120}};
  return f;
}

TEST(BrokerMetrics, EveryFamilyPassesPromtool) {
  ASSERT_TRUE(have_promtool()) << "promtool not found (Debian package prometheus; scripts/install-deps.sh)";
  const std::string text = render_broker_metrics(every_figure());
  auto r = promtool_check(text);
  EXPECT_EQ(r.status, 0) << r.output << "\n" << text;
  EXPECT_EQ(r.output, "");
  for (const char* line :
       {"musqratt_build_info{version=\"0.1.0\"} 1\n", "musqratt_clients_connected 3\n",
        "musqratt_connections_accepted_total 10\n", "musqratt_sessions{state=\"online\"} 3\n",
        "musqratt_sessions{state=\"offline\"} 2\n", "musqratt_subscriptions 7\n", "musqratt_retained_messages 2\n",
        "musqratt_messages_received_total{qos=\"1\"} 20\n", "musqratt_messages_sent_total{qos=\"2\"} 6\n",
        "musqratt_received_bytes_total 1000\n", "musqratt_messages_dropped_total{reason=\"queue_full\"} 4\n",
        "musqratt_queued_messages 11\n", "musqratt_persistence_commit_duration_seconds_bucket{le=\"0.001\"} 5\n",
        "musqratt_persistence_commit_duration_seconds_count 10\n",
        "musqratt_worker_busy_seconds_total{worker=\"1\"} 2.25\n", "musqratt_worker_connections{worker=\"0\"} 7\n",
        "musqratt_bridge_state{bridge=\"cloud \\\"main\\\"\",state=\"connected\"} 1\n",
        "musqratt_bridge_state{bridge=\"backup\",state=\"connected\"} 0\n",
        "musqratt_bridge_backlog_messages{bridge=\"backup\"} 120\n"})
    EXPECT_NE(text.find(line), std::string::npos) << line;
}

TEST(BrokerMetrics, PromtoolCatchesABrokenText) {
  // The check above can fail: promtool refuses a counter without _total.
  ASSERT_TRUE(have_promtool());
  auto r = promtool_check("# HELP x_count x\n# TYPE x_count counter\nx_count 1\n");
  EXPECT_NE(r.status, 0);
}

class BrokerMetricsFromBroker : public test::HandlerTest {};

TEST_F(BrokerMetricsFromBroker, AgreeWithTheBrokersCounters) {
  using namespace test;
  auto& sub = connect(pr::Version::V311, "sub");
  subscribe(sub, "t/#", 0);
  auto& pub = connect(pr::Version::V5, "pub");
  pub.send(make_publish("t/1", "hello"), T0);
  pub.send(make_publish("t/2", "world"), T0);
  sub.take();

  BrokerFigures f = collect_broker_figures(*broker, T0 + std::chrono::seconds(30));
  EXPECT_EQ(f.clients_connected, 2u);
  EXPECT_EQ(f.connections_accepted, 2u);
  EXPECT_EQ(f.sessions, 2u);
  EXPECT_EQ(f.messages_received, 2u);
  EXPECT_EQ(f.messages_received, broker->stats().messages_received());
  EXPECT_EQ(f.messages_sent, broker->stats().messages_sent());
  EXPECT_EQ(f.bytes_received, broker->stats().get(broker::Counter::BytesReceived));
  EXPECT_EQ(f.topics, broker->topic_count());
  ASSERT_TRUE(f.subscriptions);
  EXPECT_EQ(*f.subscriptions, 1u);
  ASSERT_TRUE(f.retained_messages);
  EXPECT_EQ(*f.retained_messages, broker->retained_count());
  ASSERT_TRUE(f.messages_received_by_qos);
  EXPECT_EQ((*f.messages_received_by_qos)[0], 2u);
  EXPECT_EQ((*f.messages_received_by_qos)[1], 0u);
  ASSERT_TRUE(f.queued_messages);
  EXPECT_EQ(*f.queued_messages,
            broker->find_session("sub")->queued_count() + broker->find_session("pub")->queued_count());
  // Figures of other rooms (the store, the workers) are filled by whoever wires them: left
  // out rather than shown as 0.
  EXPECT_FALSE(f.persistence_commit_seconds);
  EXPECT_TRUE(f.workers.empty());

  const std::string text = render_broker_metrics(f);
  EXPECT_NE(text.find("musqratt_clients_connected 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("musqratt_messages_received_total{qos=\"0\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("musqratt_subscriptions 1\n"), std::string::npos);
  EXPECT_EQ(text.find("musqratt_persistence_commit"), std::string::npos);
  EXPECT_EQ(text.find("musqratt_bridge"), std::string::npos);
  ASSERT_TRUE(have_promtool());
  auto r = promtool_check(text);
  EXPECT_EQ(r.status, 0) << r.output << "\n" << text;
}

}  // namespace
}  // namespace musqratt::web
