#include "cluster/cluster_config.h"

#include <cstdlib>

namespace musqratt::cluster {

namespace {
std::string key_error(const char* key, const std::string& what) { return std::string("[cluster] ") + key + ": " + what; }
}  // namespace

bool valid_name(const std::string& name, size_t max) {
  if (name.empty() || name.size() > max) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

NatsUrl parse_nats_url(const std::string& url) {
  NatsUrl u;
  std::string rest = url;
  if (size_t p = rest.find("://"); p != std::string::npos) {
    std::string scheme = rest.substr(0, p);
    if (scheme == "tls") {
      u.tls = true;
    } else if (scheme != "nats") {
      u.error = "scheme must be nats:// or tls://, got '" + scheme + "://'";
      return u;
    }
    rest = rest.substr(p + 3);
  }
  if (rest.find('@') != std::string::npos) {
    u.error = "credentials belong in user/password/token/credentials, not in the URL";
    return u;
  }
  if (rest.empty()) {
    u.error = "no host";
    return u;
  }
  std::string port;
  if (rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) {
      u.error = "unterminated IPv6 address";
      return u;
    }
    u.host = rest.substr(1, close - 1);
    std::string after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        u.error = "expected :PORT after ']'";
        return u;
      }
      port = after.substr(1);
    }
  } else {
    size_t colon = rest.rfind(':');
    u.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
    if (colon != std::string::npos && port.empty()) {
      u.error = "empty port";
      return u;
    }
  }
  if (u.host.empty() || u.host.find_first_of("/ \t") != std::string::npos) {
    u.error = "bad host '" + u.host + "'";
    return u;
  }
  if (!port.empty()) {
    char* end = nullptr;
    long v = strtol(port.c_str(), &end, 10);
    if (*end != '\0' || v < 1 || v > 65535 || port[0] == '-' || port[0] == '+') {
      u.error = "port must be 1 to 65535, got '" + port + "'";
      return u;
    }
    u.port = static_cast<uint16_t>(v);
  }
  u.ok = true;
  return u;
}

std::string validate(const ClusterConfig& c) {
  if (c.nats.empty()) return key_error("nats", "at least one NATS server URL is needed (nats = [\"nats://HOST:PORT\"])");
  for (const std::string& url : c.nats) {
    NatsUrl u = parse_nats_url(url);
    if (!u.ok) return key_error("nats", "'" + url + "': " + u.error);
  }
  if (c.node.empty()) return key_error("node", "a name for this node is needed, unique in the cluster");
  if (!valid_name(c.node, 64))
    return key_error("node", "'" + c.node + "': use 1 to 64 characters from A-Z a-z 0-9 _ -");
  if (c.replicas != 1 && c.replicas != 3)
    return key_error("replicas", "expected 1 or 3, got " + std::to_string(c.replicas));
  if (!valid_name(c.subject_prefix, 32) || c.subject_prefix[0] == '-')
    return key_error("subject_prefix", "'" + c.subject_prefix + "': use 1 to 32 characters from A-Z a-z 0-9 _ -");
  if (c.storage != "file" && c.storage != "memory")
    return key_error("storage", "expected file or memory, got '" + c.storage + "'");
  int ways = (!c.user.empty() || !c.password.empty()) + !c.token.empty() + !c.credentials.empty();
  if (ways > 1) return key_error("credentials", "give one of user/password, token or credentials, not several");
  if (!c.password.empty() && c.user.empty()) return key_error("password", "a password needs a user");
  if (c.tls_cert.empty() != c.tls_key.empty())
    return key_error(c.tls_cert.empty() ? "tls_cert" : "tls_key", "tls_cert and tls_key go together");
  if (c.stream_max_age == 0) return key_error("stream_max_age", "must be at least 1 second");
  if (c.publish_timeout_ms < 100) return key_error("publish_timeout_ms", "must be at least 100");
  if (c.max_pending == 0) return key_error("max_pending", "must be at least 1");
  if (c.takeover_timeout_ms < 100) return key_error("takeover_timeout_ms", "must be at least 100");
  if (c.checkpoint_interval == 0) return key_error("checkpoint_interval", "must be at least 1 second");
  return {};
}

}  // namespace musqratt::cluster
