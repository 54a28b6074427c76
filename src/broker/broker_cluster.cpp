// The Broker's side of a cluster: what the link (src/cluster, through cluster_link.h) calls
// to hand this node messages and sessions from other nodes. Kept apart from broker.cpp, which
// only calls the link's hooks, so a single node reads none of this.
#include <algorithm>

#include "broker/broker.h"
#include "protocol/topic.h"
#include "util/log.h"

namespace musqratt::broker {

namespace {
bool matches_any_filter(const std::vector<std::string>& filters, std::string_view topic) {
  return std::any_of(filters.begin(), filters.end(),
                     [&](const std::string& f) { return protocol::topic_matches(f, topic); });
}
}  // namespace

void Broker::attach_cluster(ClusterLink* link) {
  cluster_ = link;
  if (!link) return;
  // Subscriptions restored from storage are this node's interest too.
  for (const SessionPtr& s : sessions())
    for (const auto& [filter, rec] : s->subscriptions()) link->subscribed(s, filter, rec);
}

std::vector<SessionPtr> Broker::sessions() const {
  std::lock_guard lock(registry_mu_);
  return {sessions_.begin(), sessions_.end()};
}

RouteResult Broker::publish_clustered(const MessagePtr& msg, util::TimePoint now) {
  // Shared groups are served cluster-wide (one member anywhere per message, chosen through
  // NATS), so this node's members get the message back through the link like other nodes'.
  RouteResult r;
  r.receivers = route(msg, RouteScope::Plain);
  r.remote = true;
  bool hold = r.receivers == 0 && !config_.hold_unsubscribed.empty() && !msg->payload.empty() &&
              !msg->expired(now) && matches_any_filter(config_.hold_unsubscribed, msg->topic);
  r.cluster_seq = cluster_->published(msg, hold);
  return r;
}

size_t Broker::route_remote(const MessagePtr& msg) { return route(msg, RouteScope::Plain); }

bool Broker::route_shared(const std::string& share_filter, const MessagePtr& msg) {
  return route(msg, RouteScope::OneGroup, &share_filter) > 0;
}

void Broker::retained_remote(const MessagePtr& msg) {
  if (config_.retain_available) retained_.put(msg);
}

bool Broker::deliver_to(const SessionPtr& s, const MessagePtr& msg, const SubscriptionRecord& rec) {
  if (access_.acl_enabled() && !access_.can_receive(*s->identity(), msg->topic)) return false;
  Outbound out;
  out.msg = msg;
  out.qos = std::min(msg->qos, rec.options.qos);
  out.retain = rec.options.retain_as_published && msg->retain;
  if (rec.subscription_id) out.subscription_ids.push_back(rec.subscription_id);
  Link wake;
  auto r = s->deliver(std::move(out), wake);
  if (r == Session::DeliverResult::QueuedWake) wake.waker->wake(wake.token);
  return r != Session::DeliverResult::Dropped;
}

void Broker::resume_locally(const std::string& client_id, Link waiter) {
  if (!defer_for_local_holder(client_id, waiter)) waiter.waker->wake(waiter.token);
}

}  // namespace musqratt::broker
