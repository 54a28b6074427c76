// The [cluster] table's checks: every error names the key it is about.
#include "cluster/cluster_config.h"

#include <gtest/gtest.h>

namespace musqratt::cluster {
namespace {

ClusterConfig good() {
  ClusterConfig c;
  c.nats = {"nats://127.0.0.1:4222", "tls://nats.example:4223", "[::1]:4224", "localhost"};
  c.node = "node-1";
  return c;
}

TEST(ClusterConfig, AcceptsAGoodTable) {
  EXPECT_EQ(validate(good()), "");
  ClusterConfig c = good();
  c.replicas = 3;
  c.storage = "memory";
  c.user = "u";
  c.password = "p";
  c.tls_cert = "c.pem";
  c.tls_key = "k.pem";
  EXPECT_EQ(validate(c), "");
}

TEST(ClusterConfig, ParsesUrls) {
  NatsUrl u = parse_nats_url("tls://h:5000");
  EXPECT_TRUE(u.ok);
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "h");
  EXPECT_EQ(u.port, 5000);
  u = parse_nats_url("[::1]:4222");
  EXPECT_TRUE(u.ok);
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(parse_nats_url("h").port, 4222);
}

struct Bad {
  void (*change)(ClusterConfig&);
  const char* key;
  const char* detail;
};

TEST(ClusterConfig, ErrorsNameTheKey) {
  const Bad cases[] = {
      {[](ClusterConfig& c) { c.nats.clear(); }, "nats", "at least one"},
      {[](ClusterConfig& c) { c.nats = {"http://h:1"}; }, "nats", "scheme"},
      {[](ClusterConfig& c) { c.nats = {"nats://h:0"}; }, "nats", "port"},
      {[](ClusterConfig& c) { c.nats = {"nats://h:99999"}; }, "nats", "port"},
      {[](ClusterConfig& c) { c.nats = {"nats://h:"}; }, "nats", "empty port"},
      {[](ClusterConfig& c) { c.nats = {"nats://u:p@h:1"}; }, "nats", "credentials"},
      {[](ClusterConfig& c) { c.nats = {"nats://"}; }, "nats", "no host"},
      {[](ClusterConfig& c) { c.node.clear(); }, "node", "needed"},
      {[](ClusterConfig& c) { c.node = "a.b"; }, "node", "A-Z"},
      {[](ClusterConfig& c) { c.replicas = 2; }, "replicas", "expected 1 or 3, got 2"},
      {[](ClusterConfig& c) { c.subject_prefix = "a.b"; }, "subject_prefix", "A-Z"},
      {[](ClusterConfig& c) { c.storage = "disk"; }, "storage", "file or memory"},
      {[](ClusterConfig& c) { c.token = "t"; c.user = "u"; }, "credentials", "one of"},
      {[](ClusterConfig& c) { c.password = "p"; }, "password", "needs a user"},
      {[](ClusterConfig& c) { c.tls_cert = "c.pem"; }, "tls_key", "together"},
      {[](ClusterConfig& c) { c.stream_max_age = 0; }, "stream_max_age", "at least"},
      {[](ClusterConfig& c) { c.publish_timeout_ms = 10; }, "publish_timeout_ms", "at least"},
      {[](ClusterConfig& c) { c.takeover_timeout_ms = 0; }, "takeover_timeout_ms", "at least"},
  };
  for (const Bad& b : cases) {
    ClusterConfig c = good();
    b.change(c);
    std::string err = validate(c);
    EXPECT_TRUE(err.starts_with(std::string("[cluster] ") + b.key + ": ")) << err;
    EXPECT_NE(err.find(b.detail), std::string::npos) << err;
  }
}

TEST(ClusterConfig, EnabledOnlyWithATable) {
  EXPECT_FALSE(ClusterConfig{}.enabled());
  EXPECT_TRUE(good().enabled());
}

}  // namespace
}  // namespace musqratt::cluster
