#pragma once
// The JSON documents of the HTTP API (/api/v1). Field names are part of the API: they are
// listed in docs/web.md and only ever added to, never renamed.
#include <nlohmann/json.hpp>
#include <string>

#include "broker/message.h"
#include "broker/session.h"
#include "util/clock.h"

namespace musqratt::web {

/// A session and its client: client_id, connected, username, address, protocol,
/// connected_since, session_expiry_interval, subscriptions, queued, in_flight. With
/// `detail`, also subscription_list (each as subscription_json without client_id).
nlohmann::json client_json(const broker::Session& s, bool detail);
/// client_id, filter, qos, no_local, retain_as_published, retain_handling, subscription_id.
nlohmann::json subscription_json(const std::string& client_id, const std::string& filter,
                                 const broker::SubscriptionRecord& r);
/// topic, qos, payload_bytes, payload (text when valid UTF-8, else null), payload_base64,
/// expires_in (seconds, null when it never expires).
nlohmann::json retained_json(const broker::Message& m, util::TimePoint now);
/// "5.0", "3.1.1" or "3.1".
const char* protocol_name(protocol::Version v);
/// RFC 3339 UTC with milliseconds: "2026-12-01T09:44:00.123Z".
std::string rfc3339(std::chrono::system_clock::time_point t);
/// Serialises for an HTTP body; invalid UTF-8 in a string is replaced (U+FFFD), never thrown.
std::string dump(const nlohmann::json& j);

}  // namespace musqratt::web
