#pragma once
// A persistent session's entry in the cluster's session bucket (<P>_SESSIONS, key
// "s.<hex client id>"): which node holds it, its expiry and subscriptions, and from when its
// undelivered messages can be read again from the message stream should that node die
// (docs/cluster.md, "Sessions"). A small line-based text, readable with `nats kv get`.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/packets.h"

namespace musqratt::cluster {

struct SessionRecord {
  std::string node;
  uint64_t instance = 0;  // the holding node's process
  uint32_t expiry = 0;    // session expiry interval, seconds
  bool connected = false;
  int64_t disconnected_ms = 0;  // wall clock, when offline
  /// Wall-clock ms before which every QoS 1/2 message for this session was delivered and
  /// acknowledged by its client (or still queued at `node`): a node taking it over after that
  /// node died reads the stream again from here.
  int64_t floor_ms = 0;
  struct Sub {
    std::string filter;
    protocol::SubscribeOptions options;
    uint32_t subscription_id = 0;
    bool operator==(const Sub&) const = default;
  };
  std::vector<Sub> subscriptions;
  bool operator==(const SessionRecord&) const = default;
};

std::string encode_record(const SessionRecord& r);
/// nullopt for an empty value (no session) or one this version does not read.
std::optional<SessionRecord> decode_record(std::string_view text);

/// The bucket key of a client id.
std::string record_key(std::string_view client_id);

}  // namespace musqratt::cluster
