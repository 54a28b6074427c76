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

RouteResult Broker::publish_clustered(const MessagePtr& msg, util::TimePoint now) {
  // Shared groups are served cluster-wide (one member anywhere per message, chosen through
  // NATS), so this node's members get the message back through the link like other nodes'.
  RouteResult r;
  r.receivers = route(msg, RouteScope::Plain);
  r.remote = true;
  const BrokerConfig& cfg = config();
  bool hold = r.receivers == 0 && !cfg.hold_unsubscribed.empty() && !msg->payload.empty() &&
              !msg->expired(now) && matches_any_filter(cfg.hold_unsubscribed, msg->topic);
  r.cluster_seq = cluster_->published(msg, hold);
  return r;
}

size_t Broker::route_remote(const MessagePtr& msg) { return route(msg, RouteScope::Plain); }

bool Broker::route_shared(const std::string& share_filter, const MessagePtr& msg) {
  return route(msg, RouteScope::OneGroup, &share_filter) > 0;
}

void Broker::retained_remote(const MessagePtr& msg) {
  if (config().retain_available) retained_.put(msg);
}

bool Broker::deliver_to(const SessionPtr& s, const MessagePtr& msg, const SubscriptionRecord& rec) {
  uint16_t acl_generation = 0;
  if (access_.acl_enabled()) {
    AccessControl::View view = access_.view();
    if (!view.can_receive(*s->identity(), msg->topic)) return false;
    acl_generation = view.generation();
  }
  Outbound out;
  out.msg = msg;
  out.qos = std::min(msg->qos, rec.options.qos);
  out.retain = rec.options.retain_as_published && msg->retain;
  if (rec.subscription_id) out.subscription_ids.push_back(rec.subscription_id);
  Link wake;
  auto r = s->deliver(std::move(out), wake, acl_generation);
  if (r == Session::DeliverResult::QueuedWake) wake.waker->wake(wake.token);
  else if (r == Session::DeliverResult::Dropped) stats_.add(Counter::PublishDropped);  // the session logs it
  return r != Session::DeliverResult::Dropped;
}

SessionPtr Broker::session(const std::string& client_id) const {
  std::lock_guard lock(registry_mu_);
  auto it = sessions_.find(client_id);
  return it == sessions_.end() ? nullptr : *it;
}

void Broker::subscribe_adopted(const SessionPtr& s, const std::vector<std::pair<std::string, SubscriptionRecord>>& subs) {
  for (const auto& [filter, rec] : subs) {
    if (tree_.subscribe(filter, Subscriber{s, rec.options, rec.subscription_id}) && cluster_)
      cluster_->subscribed(s, filter, rec);
  }
}

SessionPtr Broker::prepare_adoption(const std::string& client_id, uint32_t expiry,
                                    const std::vector<std::pair<std::string, SubscriptionRecord>>& subscriptions,
                                    util::TimePoint now) {
  SessionPtr s;
  std::vector<std::pair<std::string, SubscriptionRecord>> added;
  {
    std::lock_guard lock(registry_mu_);
    auto it = sessions_.find(client_id);
    if (it != sessions_.end()) {
      s = *it;
    } else {
      s = std::make_shared<Session>(client_id, next_session_id_++, protocol::Version::V5, queue_limits(config()),
                                    &session_services_);
      // Offline from now, so it expires like any offline session if the client never comes.
      RestoredSession r;
      r.client_id = client_id;
      r.expiry = expiry;
      s->restore(r, now);
      note_offline_locked(s);
      sessions_.insert(s);
    }
  }
  for (const auto& [filter, rec] : subscriptions)
    if (s->add_subscription(filter, rec)) added.emplace_back(filter, rec);
  subscribe_adopted(s, added);
  return s;
}

bool Broker::absorb(const std::string& client_id, const RestoredSession& earlier,
                    const std::function<uint64_t(const Message&)>& tag) {
  SessionPtr s = session(client_id);
  if (!s) return false;
  subscribe_adopted(s, s->absorb(earlier, tag));
  return true;
}

std::optional<RestoredSession> Broker::hand_over(const std::string& client_id, bool keep, Link waiter, bool* waiting) {
  *waiting = false;
  std::vector<Link> wakes;
  std::optional<RestoredSession> state;
  SessionPtr moved;
  {
    std::lock_guard lock(registry_mu_);
    size_t cancelled = std::erase_if(pending_wills_, [&](const PendingWill& w) { return w.client_id == client_id; });
    if (cancelled && store_) store_->will_deleted(client_id);
    auto it = sessions_.find(client_id);
    if (it == sessions_.end()) return std::nullopt;
    SessionPtr s = *it;
    if (!keep) {
      if (Link old = s->revoke()) wakes.push_back(old);
      end_session_locked(s);
    } else if (Link holder = s->request_takeover(waiter)) {
      *waiting = true;
      wakes.push_back(holder);
    } else {
      // Revoked first: whatever is routed to it from now on is dropped here; the node taking
      // it over subscribed before asking, so it has those messages.
      s->revoke();
      state = s->snapshot();
      sessions_.erase(it);
      offline_.erase(s);
      if (s->persistent()) store_->session_deleted(client_id);
      moved = s;
    }
  }
  if (moved) {
    for (const auto& f : moved->subscription_filters()) {
      if (tree_.unsubscribe(f, moved.get()) && cluster_) cluster_->unsubscribed(*moved, f);
    }
  }
  wake_all(wakes);
  return state;
}

void Broker::abandon(const std::string& client_id) {
  std::lock_guard lock(registry_mu_);
  auto it = sessions_.find(client_id);
  if (it != sessions_.end() && !(*it)->online()) end_session_locked(*it);
}

void Broker::resume_locally(const std::string& client_id, Link waiter) {
  if (!defer_for_local_holder(client_id, waiter)) waiter.waker->wake(waiter.token);
}

}  // namespace musqratt::broker
