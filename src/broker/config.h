#pragma once
// Everything the broker logic can be configured with. Loaded from TOML and flags by the
// server app; defaults here are the embedded defaults documented in docs/configuration.md.
#include <cstdint>
#include <string>
#include <vector>

namespace musqratt::broker {

/// What happens when a client's queue is full: the new message is dropped and counted.
struct BrokerConfig {
  // Protocol limits announced to clients.
  uint32_t max_packet_size = 16u << 20;  // bytes, incoming and announced in CONNACK
  uint16_t receive_maximum = 65535;        // incoming QoS 1/2 in flight per client
  uint16_t max_inflight = 100;             // outgoing QoS 1/2 in flight per client
  uint16_t topic_alias_maximum = 64;       // client-to-server aliases per connection
  uint8_t maximum_qos = 2;
  bool retain_available = true;
  // Queues of undelivered messages per client (online and offline).
  uint32_t max_queued_messages = 10'000;
  // Payload bytes queued in memory per client (0 = unlimited): one stuck subscriber costs at
  // most this much (plus its 256 KiB output buffer), not gigabytes.
  uint64_t max_queued_bytes = 16ull << 20;
  bool queue_qos0_offline = false;
  // Broker-wide budget for queued, in-flight, retained and held messages and partly received
  // packets, in bytes (0 = unlimited); see MemoryBudget for what happens past it. A quarter of
  // the RAM of a 1 GiB edge box.
  uint64_t max_memory = 256ull << 20;
  // Expiry (seconds; 0 = none unless said otherwise).
  uint32_t session_expiry_default = 0xFFFFFFFF;  // MQTT 3.1.1 persistent sessions; max = never
  uint32_t max_session_expiry = 0xFFFFFFFF;
  uint16_t max_keepalive = 65535;
  uint16_t server_keepalive = 0;  // 0 = accept the client's
  uint32_t connect_timeout = 10;
  uint32_t default_message_expiry = 0;
  uint32_t max_message_expiry = 0;
  // Limits against hostile clients.
  uint32_t max_connections = 0;  // 0 = unlimited
  uint32_t max_connections_per_ip = 0;
  uint32_t max_publish_rate = 0;  // PUBLISH packets per second per client; 0 = unlimited
  uint32_t max_subscriptions_per_client = 0;
  uint32_t max_topic_levels = 0;
  uint32_t max_topic_length = 65535;
  // Store-and-forward for topics nobody subscribes to yet.
  std::vector<std::string> hold_unsubscribed;
  uint32_t hold_max_messages_per_topic = 1000;
  uint64_t hold_max_bytes = 64ull << 20;
  uint32_t hold_default_expiry = 0;
  // Access control (see AccessControl).
  std::string password_file;
  std::string acl_file;
  bool allow_anonymous = true;
  // $SYS
  uint32_t sys_interval = 10;
};

}  // namespace musqratt::broker
