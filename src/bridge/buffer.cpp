#include "bridge/buffer.h"

#include <algorithm>

#include "util/log.h"

namespace musqratt::bridge {

broker::QueueLimits buffer_limits(const BridgeConfig& config) {
  broker::QueueLimits limits;
  limits.max_messages = config.buffer_max_messages;
  limits.max_bytes = config.buffer_max_bytes;
  limits.bytes_include_disk = true;  // the whole buffer, not only its part in memory
  limits.queue_qos0_offline = config.forward_qos0;  // QoS 0 waits for the link only if asked to
  limits.overflow = config.buffer_full == BufferFull::DropOldest ? broker::QueueOverflow::DropOldest
                                                                  : broker::QueueOverflow::DropNewest;
  return limits;
}

broker::SessionPtr open_buffer(broker::Broker& broker, const BridgeConfig& config, const TopicMap& topics,
                               broker::Waker* waker, util::TimePoint now) {
  broker::Link startup{waker, 0};
  broker::ConnectResult r = broker.connect(
      broker::ConnectRequest{session_client_id(config), false, 0xFFFFFFFF, protocol::Version::V5, startup}, now);
  broker::SessionPtr session = r.session;
  session->set_limits(buffer_limits(config));  // before the subscriptions bring anything
  std::vector<RuleSubscription> wanted = topics.local_subscriptions();
  for (const std::string& f : session->subscription_filters()) {
    bool kept = std::any_of(wanted.begin(), wanted.end(), [&](const RuleSubscription& w) { return w.filter == f; });
    if (kept) continue;
    LOG_INFO("bridge '%s': '%s' is no longer an out filter: unsubscribed", config.name.c_str(), f.c_str());
    broker.unsubscribe(session, f);
  }
  for (const RuleSubscription& w : wanted) {
    protocol::Subscription s;
    s.filter = w.filter;
    s.options.qos = w.qos;
    s.options.no_local = true;             // never what came from the upstream through us
    s.options.retain_as_published = true;  // retained flags travel on
    s.options.retain_handling = 1;         // retained messages once, when the filter is new
    broker.subscribe(session, s, 0, now);
  }
  broker.disconnect(session, startup.token, std::nullopt, now);
  return session;
}

}  // namespace musqratt::bridge
