#pragma once
// A session's state as one node hands it to another (a client reconnected elsewhere while its
// session lived here): subscriptions, in-flight messages with their packet ids and states, the
// queue, incoming QoS 2 ids, expiry. Each message travels as an envelope with its cluster-wide
// tag (Message::origin of a message from another node, see envelope.h), so the receiving node
// can tell it from a copy it already queued.
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "broker/persistence.h"

namespace musqratt::cluster {

/// The cluster-wide tag of a message on the node `instance`: its origin if it came from
/// another node, else the tag other nodes give it.
uint64_t message_tag(const broker::Message& m, uint64_t instance);

/// Appends the transfer form of `s` to `out`; `instance` is this node's (for message_tag).
void encode_transfer(std::string& out, const broker::RestoredSession& s, uint64_t instance);
/// The state back, every message's origin set to its tag; nullopt if `data` is not one.
std::optional<broker::RestoredSession> decode_transfer(std::span<const uint8_t> data, std::string client_id);

}  // namespace musqratt::cluster
