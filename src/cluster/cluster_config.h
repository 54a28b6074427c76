#pragma once
// The [cluster] table: how a node reaches NATS and what it creates there. Defaults are the
// documented ones (docs/cluster.md); without a table (no `nats` servers) nothing is clustered.
#include <cstdint>
#include <string>
#include <vector>

namespace musqratt::cluster {

struct ClusterConfig {
  std::vector<std::string> nats;  // server URLs: nats://HOST:PORT or tls://HOST:PORT
  std::string node;               // this node's name, unique in the cluster
  // Credentials for NATS: user + password, or a token, or a .creds file (JWT + NKey seed).
  std::string user;
  std::string password;
  std::string token;
  std::string credentials;
  // TLS towards NATS (also implied by a tls:// URL).
  bool tls = false;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  /// Replicas of every JetStream stream and bucket the cluster creates (1 or 3).
  uint32_t replicas = 1;
  /// First token of every subject and stream name, so clusters can share one NATS.
  std::string subject_prefix = "musqratt";
  std::string storage = "file";        // JetStream storage: file or memory
  uint32_t stream_max_age = 86400;     // seconds QoS 1/2 messages stay in the stream
  uint64_t stream_max_bytes = 0;      // 0 = bounded by stream_max_age only
  uint32_t publish_timeout_ms = 5000;  // wait for JetStream's acknowledgement before retrying
  uint32_t max_pending = 100'000;      // QoS 1/2 messages awaiting that acknowledgement
  uint32_t takeover_timeout_ms = 2000;  // a node asked to hand a session over must answer by then
  uint32_t checkpoint_interval = 5;     // seconds between session checkpoints (see docs)

  bool enabled() const { return !nats.empty() || !node.empty(); }
};

/// Checks the values of a [cluster] table. Returns an empty string, or an error message that
/// names the offending key ("[cluster] replicas: expected 1 or 3, got 2").
std::string validate(const ClusterConfig& c);

/// A server URL split into its parts (for validation and for logs); `ok` false if malformed.
struct NatsUrl {
  bool ok = false;
  bool tls = false;
  std::string host;
  uint16_t port = 4222;
  std::string error;
};
NatsUrl parse_nats_url(const std::string& url);

/// True if every character of `name` is one of [A-Za-z0-9_-] and it is 1..max long.
bool valid_name(const std::string& name, size_t max);

}  // namespace musqratt::cluster
