#include "web/api_json.h"

#include <ctime>

#include "web/base64.h"
#include "web/utf8_validator.h"

namespace musqratt::web {

const char* protocol_name(protocol::Version v) {
  switch (v) {
    case protocol::Version::V5: return "5.0";
    case protocol::Version::V311: return "3.1.1";
    case protocol::Version::V31: return "3.1";
  }
  return "unknown";
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

nlohmann::json subscription_json(const std::string& client_id, const std::string& filter,
                                 const broker::SubscriptionRecord& r) {
  nlohmann::json j;
  if (!client_id.empty()) j["client_id"] = client_id;
  j["filter"] = filter;
  j["qos"] = r.options.qos;
  j["no_local"] = r.options.no_local;
  j["retain_as_published"] = r.options.retain_as_published;
  j["retain_handling"] = r.options.retain_handling;
  j["subscription_id"] = r.subscription_id ? nlohmann::json(r.subscription_id) : nlohmann::json(nullptr);
  return j;
}

nlohmann::json client_json(const broker::Session& s, bool detail) {
  nlohmann::json j;
  j["client_id"] = s.client_id();
  const bool online = s.online();
  j["connected"] = online;
  auto info = s.connection_info();  // the last connection's when offline
  j["username"] = info && !info->username.empty() ? nlohmann::json(info->username) : nlohmann::json(nullptr);
  j["address"] = info ? nlohmann::json(info->peer) : nlohmann::json(nullptr);
  j["protocol"] = info ? nlohmann::json(protocol_name(info->version)) : nlohmann::json(nullptr);
  j["connected_since"] = info && online ? nlohmann::json(rfc3339(info->connected_at)) : nlohmann::json(nullptr);
  j["session_expiry_interval"] = s.expiry_interval();
  j["subscriptions"] = s.subscription_count();
  j["queued"] = s.queued_count();
  j["in_flight"] = s.inflight_count();
  if (detail) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [filter, rec] : s.subscriptions()) list.push_back(subscription_json({}, filter, rec));
    j["subscription_list"] = std::move(list);
  }
  return j;
}

nlohmann::json retained_json(const broker::Message& m, util::TimePoint now) {
  nlohmann::json j;
  j["topic"] = m.topic;
  j["qos"] = m.qos;
  j["payload_bytes"] = m.payload.size();
  Utf8Validator v;
  const auto bytes = std::span(reinterpret_cast<const uint8_t*>(m.payload.data()), m.payload.size());
  j["payload"] = v.feed(bytes) && v.complete() ? nlohmann::json(m.payload) : nlohmann::json(nullptr);
  j["payload_base64"] = base64_encode(m.payload);
  auto left = m.remaining_expiry(now);
  j["expires_in"] = left ? nlohmann::json(*left) : nlohmann::json(nullptr);
  return j;
}

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace musqratt::web
