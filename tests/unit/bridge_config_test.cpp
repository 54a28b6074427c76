// [[bridge]] tables: defaults, every kind of value, and errors that name where and what.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "bridge/config_parser.h"

namespace musqratt::bridge {
namespace {

std::vector<BridgeConfig> parse(const std::string& text) {
  toml::table doc = toml::parse(std::string_view(text), std::string_view("test.toml"));
  const toml::node* n = doc.get("bridge");
  if (!n) throw std::runtime_error("no bridge key");
  return parse_bridges(*n, "test.toml", "gateway");
}

/// The error parse() throws, or "" if it does not.
std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return {};
}

TEST(BridgeConfig, DefaultsAreTheDocumentedOnes) {
  auto b = parse("[[bridge]]\nname = \"cloud\"\naddress = \"broker.example.com:1883\"\ntopics = [\"a/#\"]\n");
  ASSERT_EQ(b.size(), 1u);
  const BridgeConfig& c = b[0];
  EXPECT_EQ(c.name, "cloud");
  EXPECT_EQ(c.addresses, std::vector<std::string>{"broker.example.com:1883"});
  EXPECT_EQ(c.version, protocol::Version::V311);
  EXPECT_EQ(c.client_id, "gateway.cloud");  // <host name>.<name>, as Mosquitto
  EXPECT_FALSE(c.username);
  EXPECT_EQ(c.keepalive, 60);
  EXPECT_FALSE(c.clean_start);
  EXPECT_TRUE(c.try_private);
  EXPECT_FALSE(c.tls);
  EXPECT_TRUE(c.tls_verify_hostname);
  EXPECT_EQ(c.reconnect_min_ms, 1000u);
  EXPECT_EQ(c.reconnect_max_ms, 60000u);
  EXPECT_EQ(c.max_inflight, 100);
  EXPECT_EQ(c.buffer_max_messages, 1'000'000u);
  EXPECT_EQ(c.buffer_max_bytes, 0u);
  EXPECT_EQ(c.buffer_full, BufferFull::DropOldest);
  EXPECT_FALSE(c.forward_qos0);
  ASSERT_EQ(c.topics.size(), 1u);
  EXPECT_EQ(c.topics[0], (TopicRule{"a/#", Direction::Out, 1, "", ""}));
  EXPECT_EQ(session_client_id(c), "$bridge/cloud");
}

TEST(BridgeConfig, EveryKeyIsRead) {
  auto b = parse(R"(
[[bridge]]
name = "one"
address = ["[::1]:8883", "10.0.0.2:8883"]
protocol = "mqttv5"
client_id = "site"
username = "u"
password = "p"
keepalive = 5
clean_start = true
session_expiry = 7
try_private = false
tls_verify_hostname = false
reconnect_min_ms = 50
reconnect_max_ms = 70
connect_timeout_ms = 900
max_inflight = 9
buffer_max_messages = 11
buffer_max_bytes = 12
buffer_full = "drop_newest"
forward_qos0 = true
topics = [
  { filter = "a/#", direction = "both", qos = 2, local_prefix = "l/", remote_prefix = "r/" },
  "b/+ in 0 x/ y/",
  "c out",
]

[[bridge]]
name = "two"
address = "h:1"
topics = ["z"]
)");
  ASSERT_EQ(b.size(), 2u);
  const BridgeConfig& c = b[0];
  EXPECT_EQ(c.addresses, (std::vector<std::string>{"[::1]:8883", "10.0.0.2:8883"}));
  EXPECT_EQ(c.version, protocol::Version::V5);
  EXPECT_EQ(c.client_id, "site");
  EXPECT_EQ(c.username, "u");
  EXPECT_EQ(c.password, "p");
  EXPECT_EQ(c.keepalive, 5);
  EXPECT_TRUE(c.clean_start);
  EXPECT_EQ(c.session_expiry, 7u);
  EXPECT_FALSE(c.try_private);
  EXPECT_FALSE(c.tls_verify_hostname);
  EXPECT_EQ(c.reconnect_min_ms, 50u);
  EXPECT_EQ(c.reconnect_max_ms, 70u);
  EXPECT_EQ(c.connect_timeout_ms, 900u);
  EXPECT_EQ(c.max_inflight, 9);
  EXPECT_EQ(c.buffer_max_messages, 11u);
  EXPECT_EQ(c.buffer_max_bytes, 12u);
  EXPECT_EQ(c.buffer_full, BufferFull::DropNewest);
  EXPECT_TRUE(c.forward_qos0);
  ASSERT_EQ(c.topics.size(), 3u);
  EXPECT_EQ(c.topics[0], (TopicRule{"a/#", Direction::Both, 2, "l/", "r/"}));
  EXPECT_EQ(c.topics[1], (TopicRule{"b/+", Direction::In, 0, "x/", "y/"}));
  EXPECT_EQ(c.topics[2], (TopicRule{"c", Direction::Out, 1, "", ""}));
  EXPECT_EQ(b[1].name, "two");
}

TEST(BridgeConfig, FormattedTablesReadBackTheSame) {
  auto b = parse(R"(
[[bridge]]
name = "one"
address = ["a:1", "b:2"]
protocol = "mqttv5"
username = "u\"q\\"
buffer_full = "drop_newest"
topics = [{ filter = "a/#", direction = "both", qos = 2, local_prefix = "l/", remote_prefix = "r/" }, "c in 0"]
[[bridge]]
name = "two"
address = "h:1"
topics = ["z"]
)");
  std::string text = format_bridges(b);
  toml::table doc = toml::parse(std::string_view(text), std::string_view("again.toml"));
  auto again = parse_bridges(*doc.get("bridge"), "again.toml", "gateway");
  EXPECT_EQ(again, b) << text;
}

TEST(BridgeConfig, ErrorsNameTheFileLineTableAndKey) {
  const std::string head = "[[bridge]]\nname = \"b\"\naddress = \"h:1\"\ntopics = [\"a/#\"]\n";
  EXPECT_EQ(error_of(head + "colour = 1\n"), "test.toml:5: [[bridge]] 'b': key 'colour': unknown key (see docs/bridge.md)");
  EXPECT_EQ(error_of("[[bridge]]\nname = \"b\"\ntopics = [\"a/#\"]\n"),
            "test.toml:1: [[bridge]] 'b': key 'address': missing: give HOST:PORT or a list of them");
  EXPECT_EQ(error_of("[[bridge]]\naddress = \"h:1\"\ntopics = [\"a/#\"]\n"), "test.toml:1: [[bridge]] table 1: key 'name': missing");
  EXPECT_NE(error_of(head + "[[bridge]]\nname = 5\n").find("[[bridge]] table 2: key 'name': expected a string"), std::string::npos);
  EXPECT_NE(error_of(head + "keepalive = \"sixty\"\n").find(":5: [[bridge]] 'b': key 'keepalive': expected an integer"),
            std::string::npos);
  EXPECT_NE(error_of(head + "max_inflight = 0\n").find("key 'max_inflight': expected an integer from 1 to 65535, got 0"),
            std::string::npos);
  EXPECT_NE(error_of(head + "clean_start = 1\n").find("key 'clean_start': expected true or false"), std::string::npos);
  EXPECT_NE(error_of("[[bridge]]\nname = \"b\"\naddress = \"h:1\"\ntopics = [{ filter = \"a/#\", remote_prefix = \"+/\" }]\n")
                .find("test.toml:4: [[bridge]] 'b': topics[0]: remote_prefix '+/' contains a wildcard"),
            std::string::npos);
  EXPECT_NE(error_of("[[bridge]]\nname = \"b\"\naddress = \"h:1\"\ntopics = [{ direction = \"in\" }]\n")
                .find("topics[0]: key 'filter': missing"),
            std::string::npos);
  EXPECT_NE(error_of("[[bridge]]\nname = \"b\"\naddress = \"h:1\"\ntopics = [{ filter = \"a\", colour = 1 }]\n")
                .find("topics[0]: key 'colour': unknown key"),
            std::string::npos);
  EXPECT_NE(error_of("[[bridge]]\nname = \"b\"\naddress = \"h:1\"\ntopics = [\"a sideways\"]\n").find("direction must be out, in or both"),
            std::string::npos);
  EXPECT_NE(error_of("[[bridge]]\nname = \"b\"\naddress = \"h:1\"\ntopics = []\n").find("key 'topics': missing or empty"),
            std::string::npos);
  EXPECT_NE(error_of("[[bridge]]\nname = \"b\"\naddress = \"h:0\"\ntopics = [\"a\"]\n").find("'h:0' is not HOST:PORT"),
            std::string::npos);
  EXPECT_NE(error_of("[[bridge]]\nname = \"b\"\naddress = \"::1:80\"\ntopics = [\"a\"]\n").find("is not HOST:PORT"),
            std::string::npos);
  EXPECT_NE(error_of(head + "tls_ca = \"/nonexistent/ca.pem\"\n").find(":5: [[bridge]] 'b': key 'tls_ca': file '/nonexistent/ca.pem' does not exist"),
            std::string::npos);
  EXPECT_NE(error_of(head + "tls = false\ntls_ca = \"/etc/hostname\"\n").find("key 'tls_ca': set while tls = false"),
            std::string::npos);
  EXPECT_NE(error_of(head + head).find("another [[bridge]] has the name 'b'"), std::string::npos);
  EXPECT_NE(error_of("bridge = 1\n").find("'bridge' must be an array of tables"), std::string::npos);
}

TEST(BridgeConfig, TlsIsOnOnceACaOrACertificateIsGiven) {
  std::string path = testing::TempDir() + "/bridge-ca.pem";
  std::ofstream(path) << "not checked here, only that it exists\n";
  auto b = parse("[[bridge]]\nname = \"b\"\naddress = \"h:8883\"\ntopics = [\"a\"]\ntls_ca = \"" + path + "\"\n");
  EXPECT_TRUE(b[0].tls);
  EXPECT_EQ(b[0].tls_ca, path);
  auto plain = parse("[[bridge]]\nname = \"b\"\naddress = \"h:8883\"\ntopics = [\"a\"]\ntls = true\n");
  EXPECT_TRUE(plain[0].tls) << "the system's CA store";
  std::remove(path.c_str());
}

TEST(BridgeConfig, EveryKeyIsDescribed) {
  std::string described = describe_bridge_keys();
  std::string reference = bridge_keys_reference();
  for (const char* key : {"name", "address", "protocol", "client_id", "username", "password", "keepalive", "clean_start",
                          "session_expiry", "try_private", "tls", "tls_ca", "tls_cert", "tls_key", "tls_verify_hostname",
                          "tls_server_name", "reconnect_min_ms", "reconnect_max_ms", "connect_timeout_ms", "max_inflight",
                          "topics", "buffer_max_messages", "buffer_max_bytes", "buffer_full", "forward_qos0"}) {
    EXPECT_NE(described.find(std::string("#   ") + key + " = "), std::string::npos) << key;
    EXPECT_NE(reference.find(std::string("| `") + key + "` |"), std::string::npos) << key;
  }
}

}  // namespace
}  // namespace musqratt::bridge
