#include "broker/broker.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <stdexcept>
#include <unordered_set>

#include "protocol/topic.h"
#include "util/log.h"
#include "util/memory_release.h"

namespace musqratt::broker {

namespace {
bool matches_any(const std::vector<std::string>& filters, std::string_view topic) {
  return std::any_of(filters.begin(), filters.end(),
                     [&](const std::string& f) { return protocol::topic_matches(f, topic); });
}

/// Freed memory worth giving back to the system: at least this much, and at most once a second.
constexpr uint64_t kTrimAfterFreed = 8u << 20;
constexpr auto kTrimInterval = std::chrono::seconds(1);

}  // namespace

QueueLimits Broker::queue_limits(const BrokerConfig& c) {
  return QueueLimits{.max_bytes = c.max_queued_bytes,
                     .max_messages = c.max_queued_messages,
                     .queue_qos0_offline = c.queue_qos0_offline};
}

Broker::Broker(BrokerConfig config)
    : started_(util::now()),
      memory_(config.max_memory),
      session_services_{.memory = &memory_, .access = &access_},
      hold_(HoldLimits{config.hold_max_messages_per_topic, config.hold_max_bytes}) {
  std::string err = access_.load({config.password_file, config.acl_file, config.allow_anonymous});
  if (!err.empty()) throw std::runtime_error(err);
  hold_possible_ = !config.hold_unsubscribed.empty();
  configs_.push_back(std::make_unique<const BrokerConfig>(std::move(config)));
  config_.store(configs_.back().get(), std::memory_order_release);
}

std::string Broker::replace_config(BrokerConfig config) {
  std::lock_guard cl(configs_mu_);
  if (std::string err = access_.load({config.password_file, config.acl_file, config.allow_anonymous}); !err.empty())
    return err;
  if (!config.hold_unsubscribed.empty()) hold_possible_ = true;
  configs_.push_back(std::make_unique<const BrokerConfig>(std::move(config)));
  const BrokerConfig& c = *configs_.back();
  config_.store(&c, std::memory_order_release);
  hold_.lock()->set_limits(HoldLimits{c.hold_max_messages_per_topic, c.hold_max_bytes});
  // Queues already holding more than a new, lower limit keep what they hold: new messages are
  // dropped until they drain below it.
  const QueueLimits limits = queue_limits(c);
  std::lock_guard rl(registry_mu_);
  for (const SessionPtr& s : sessions_)
    if (!reserved_client_id(s->client_id())) s->set_limits(limits);  // a bridge's buffer keeps its own
  return {};
}

Broker::~Broker() {
  // Sessions and the tree reference each other; break the cycle.
  std::lock_guard lock(registry_mu_);
  for (const SessionPtr& s : sessions_) {
    for (const auto& f : s->subscription_filters()) tree_.unsubscribe(f, s.get());
  }
  offline_.clear();
  sessions_.clear();
}

void Broker::wake_all(const std::vector<Link>& wakes) {
  for (const Link& l : wakes) l.waker->wake(l.token);
}

std::optional<uint32_t> Broker::effective_message_expiry(std::optional<uint32_t> requested) const {
  const BrokerConfig& cfg = config();
  std::optional<uint32_t> e = requested;
  if (!e && cfg.default_message_expiry) e = cfg.default_message_expiry;
  if (e && cfg.max_message_expiry && *e > cfg.max_message_expiry) e = cfg.max_message_expiry;
  return e;
}

// ---------------------------------------------------------------- durable storage

void Broker::attach_persistence(Persistence* store, const RestoredState& r, util::TimePoint now) {
  store_ = store;
  // Every restored message is a row of the store's message table, so its highest id covers them.
  message_ids_.reserve(r.max_message_id);
  {
    HoldStore::Locked held = hold_.lock();
    held->set_persistence(store);
    for (const auto& [seq, m] : r.held) {
      charge(memory_, *m);
      held->restore(seq, m);
    }
  }
  if (!r.held.empty()) hold_possible_ = true;
  std::lock_guard lock(registry_mu_);
  const BrokerConfig& cfg = config();
  for (const RestoredSession& rs : r.sessions) {
    auto s = std::make_shared<Session>(rs.client_id, next_session_id_++, protocol::Version::V5, queue_limits(cfg),
                                       &session_services_);
    s->restore(rs, now);
    s->set_persistence(store);
    for (const auto& [filter, opt] : rs.subscriptions)
      tree_.subscribe(filter, Subscriber{s, opt.first, opt.second});
    note_offline_locked(s);
    sessions_.insert(std::move(s));
  }
  for (const auto& m : r.retained) {
    charge(memory_, *m);
    retained_.put(m);
  }
  for (const auto& [client, w] : r.wills) {
    charge(memory_, *w.first);
    pending_wills_.push_back({client, w.first, steady_from_wall_ms(w.second)});
  }
  size_t in_memory = 0;
  uint64_t on_disk = 0;
  for (const RestoredSession& rs : r.sessions) {
    in_memory += rs.outbound.size();
    on_disk += rs.queued_on_disk;
  }
  LOG_INFO("restored %zu session(s) with %zu queued/in-flight message(s) in memory and %llu waiting on disk, "
           "%zu retained, %zu held message(s), %zu pending will(s)",
           r.sessions.size(), in_memory, static_cast<unsigned long long>(on_disk), r.retained.size(), r.held.size(),
           r.wills.size());
}

// ---------------------------------------------------------------- sessions

ConnectResult Broker::connect(const ConnectRequest& req, util::TimePoint) {
  ConnectResult result;
  std::vector<Link> wakes;
  {
    std::lock_guard lock(registry_mu_);
    // A new connection before the will delay passed cancels the will [MQTT-3.1.3-9, 5.0].
    size_t cancelled = std::erase_if(pending_wills_, [&](const PendingWill& w) { return w.client_id == req.client_id; });
    if (cancelled && store_) store_->will_deleted(req.client_id);
    auto it = sessions_.find(req.client_id);
    if (it != sessions_.end()) {
      SessionPtr existing = *it;
      // A session whose expiry is 0 (a 3.1.1 clean session) lasts only as long as its
      // connection, and this connect ends that connection: its state must not be reused
      // [MQTT-3.1.2-6, 3.1.1] even when the new client asks to resume. The old connection's
      // DISCONNECT can still be on its way when the new CONNECT arrives.
      if (req.clean_start || existing->expiry_interval() == 0) {
        // [MQTT-3.1.2-4, 5.0], [MQTT-3.1.2-6, 3.1.1]: discard the old session; its connection
        // (if any) is told to go.
        Link old = existing->revoke();
        if (old) wakes.push_back(old);
        end_session_locked(existing);
      } else {
        // Resume: the new connection becomes the owner; the old one notices on its wake-up.
        result.session = existing;
        result.session_present = true;
        offline_.erase(existing);
        if (Link old = existing->link()) wakes.push_back(old);
      }
    }
    if (!result.session) {
      result.session = std::make_shared<Session>(req.client_id, next_session_id_++, req.version,
                                                 queue_limits(config()), &session_services_);
      if (store_ && req.session_expiry > 0) result.session->set_persistence(store_);
      sessions_.insert(result.session);
    }
    result.session->set_expiry_interval(req.session_expiry);
    result.session->attach(req.link, req.version);
  }
  wake_all(wakes);
  if (cluster_) cluster_->connected(result.session, req.clean_start);
  return result;
}

bool Broker::defer_for_takeover(const std::string& client_id, Link waiter) {
  // In a cluster the session may live on another node: the link fetches it first.
  if (cluster_ && cluster_->resume(client_id, waiter)) return true;
  return defer_for_local_holder(client_id, waiter);
}

bool Broker::defer_for_local_holder(const std::string& client_id, Link waiter) {
  Link holder;
  {
    std::lock_guard lock(registry_mu_);
    auto it = sessions_.find(client_id);
    if (it == sessions_.end()) return false;
    holder = (*it)->request_takeover(waiter);
  }
  if (!holder) return false;
  holder.waker->wake(holder.token);
  return true;
}

void Broker::set_identity(const SessionPtr& session, const auth::Identity& who, bool by_certificate) {
  Credentials c = access_.credentials_of(who, by_certificate);
  // Kept only when something checks it later, so anonymous sessions without an ACL share one
  // identity and allocate nothing.
  if (access_.acl_enabled() || c.kind == Credentials::Kind::Password) {
    session->set_identity(ClientIdentity{who, c});
  } else {
    session->clear_identity();  // a resumed session forgets its previous client
  }
}

size_t Broker::reauthorize() {
  std::vector<Link> wakes;
  {
    std::lock_guard lock(registry_mu_);
    for (const SessionPtr& s : sessions_) {
      std::shared_ptr<const ClientIdentity> who = s->client_identity();
      if (access_.still_authorized(*who, who->credentials)) continue;
      Link l = s->deauthorize();
      if (!l) continue;
      LOG_INFO("client '%s' (user '%s'): credentials withdrawn by a reload of the password file; disconnecting",
               s->client_id().c_str(), who->username.c_str());
      wakes.push_back(l);
    }
  }
  wake_all(wakes);
  return wakes.size();
}

void Broker::disconnect(const SessionPtr& session, uint64_t token, std::optional<WillMessage> will,
                        util::TimePoint now) {
  bool was_owner = session->detach(token, now);
  bool ends = false;
  if (was_owner) {
    std::lock_guard lock(registry_mu_);
    auto it = sessions_.find(session->client_id());
    if (it != sessions_.end() && *it == session) {
      if (session->expiry_interval() == 0) {
        end_session_locked(session);
        ends = true;
      } else {
        note_offline_locked(session);
      }
    }
  }
  if (cluster_ && was_owner && !ends) cluster_->disconnected(session);
  if (!will) return;
  bool revoked = session->revoked();
  // Publish now unless a delay applies to a session that lives on; a session that ends (or
  // was discarded by a clean-start takeover) sends its will at once [MQTT-3.1.2-8, 5.0].
  if (will->delay == 0 || ends || revoked) {
    publish_will(will->msg, now);
    return;
  }
  if (!was_owner) return;  // resumed by a newer connection before the delay: never sent
  MessagePtr msg = will->msg;
  if (store_ && msg->id == 0) {
    auto copy = std::make_shared<Message>(*msg);  // stored messages need an id
    copy->id = message_ids_.next();
    msg = std::move(copy);
  }
  charge(memory_, *msg);
  std::lock_guard lock(registry_mu_);
  uint32_t delay = std::min(will->delay, session->expiry_interval());
  pending_wills_.push_back({session->client_id(), msg, now + util::Seconds(delay)});
  if (store_) store_->will_saved(session->client_id(), msg, wall_ms_from(now + util::Seconds(delay)));
}

void Broker::end_session_locked(const SessionPtr& session) {
  auto it = sessions_.find(session->client_id());
  if (it != sessions_.end() && *it == session) sessions_.erase(it);
  offline_.erase(session);
  end_session_unlocked(session);
}

void Broker::note_offline_locked(const SessionPtr& session) { offline_.insert(session); }

/// Removes the session's subscriptions and hands its unfinished shared-subscription messages
/// to other members of the group, so a leaving member loses nothing it had accepted.
void Broker::end_session_unlocked(const SessionPtr& session) {
  if (session->persistent()) store_->session_deleted(session->client_id());
  for (const auto& f : session->subscription_filters()) {
    if (tree_.unsubscribe(f, session.get()) && cluster_) cluster_->unsubscribed(*session, f);
    session->remove_subscription(f);
  }
  if (cluster_) cluster_->ended(session->client_id());
  std::vector<Link> wakes;
  for (Outbound& o : session->drain_all()) {
    if (!o.share_filter || o.qos == 0) continue;
    Match m;
    if (tree_.pick_shared_member(*o.share_filter, session.get(), m)) {
      Outbound copy = o;
      copy.qos = std::min(o.msg->qos, m.sub.options.qos);
      Link wake;
      count_delivery(m.sub.session->deliver(std::move(copy), wake), wake, wakes);
    }
  }
  wake_all(wakes);
}

bool Broker::admit_connection(const std::string& ip) {
  if (!config().max_connections_per_ip) return true;
  std::lock_guard lock(per_ip_mu_);
  uint32_t& n = connections_per_ip_[ip];
  if (n >= config().max_connections_per_ip) return false;
  ++n;
  return true;
}

void Broker::release_connection(const std::string& ip) {
  if (!config().max_connections_per_ip) return;
  std::lock_guard lock(per_ip_mu_);
  auto it = connections_per_ip_.find(ip);
  if (it != connections_per_ip_.end() && --it->second == 0) connections_per_ip_.erase(it);
}

size_t Broker::session_count() const {
  std::lock_guard lock(registry_mu_);
  return sessions_.size();
}

std::vector<SessionPtr> Broker::sessions() const {
  std::lock_guard lock(registry_mu_);
  return {sessions_.begin(), sessions_.end()};
}

SessionPtr Broker::find_session(std::string_view client_id) const {
  std::lock_guard lock(registry_mu_);
  auto it = sessions_.find(client_id);
  return it == sessions_.end() ? nullptr : *it;
}

Broker::AdminDisconnect Broker::disconnect_client(std::string_view client_id, bool drop_session,
                                                  util::TimePoint now) {
  Link wake;
  AdminDisconnect result;
  std::vector<MessagePtr> due_wills;
  {
    std::lock_guard lock(registry_mu_);
    auto it = sessions_.find(client_id);
    if (it == sessions_.end()) return AdminDisconnect::NotFound;
    SessionPtr s = *it;
    wake = s->request_admin_disconnect();
    result = wake ? AdminDisconnect::Disconnected : AdminDisconnect::NotConnected;
    if (drop_session) {
      // As a clean-start takeover does: the connection (told above why it goes) no longer owns
      // the session, which ends now. A will still waiting for its delay goes out when the
      // session ends [MQTT-3.1.2-8, 5.0].
      s->revoke();
      std::erase_if(pending_wills_, [&](const PendingWill& w) {
        if (w.client_id != client_id) return false;
        due_wills.push_back(w.msg);
        if (store_) store_->will_deleted(w.client_id);
        return true;
      });
      end_session_locked(s);
      if (!wake) result = AdminDisconnect::SessionDropped;
    }
  }
  if (wake) wake.waker->wake(wake.token);
  for (const auto& w : due_wills) publish_will(w, now);
  return result;
}

std::vector<std::string> Broker::client_ids_with_prefix(std::string_view prefix) const {
  std::lock_guard lock(registry_mu_);
  std::vector<std::string> out;
  for (const SessionPtr& s : sessions_)
    if (s->client_id().starts_with(prefix)) out.push_back(s->client_id());
  return out;
}

bool Broker::discard_session(const std::string& client_id) {
  std::vector<Link> wakes;
  {
    std::lock_guard lock(registry_mu_);
    auto it = sessions_.find(client_id);
    if (it == sessions_.end()) return false;
    SessionPtr s = *it;
    if (Link old = s->revoke()) wakes.push_back(old);
    end_session_locked(s);
  }
  wake_all(wakes);
  return true;
}

// ---------------------------------------------------------------- routing

void Broker::count_delivery(Session::DeliverResult r, const Link& wake, std::vector<Link>& wakes) {
  if (r == Session::DeliverResult::QueuedWake) wakes.push_back(wake);
  else if (r == Session::DeliverResult::Dropped) stats_.add(Counter::PublishDropped);  // the session logs it
}

void Broker::deliver(const Match& m, const MessagePtr& msg, uint16_t acl_generation, std::vector<Link>& wakes) {
  Outbound out;
  out.msg = msg;
  out.qos = std::min(msg->qos, m.sub.options.qos);
  // Retain flag: only with Retain As Published ([MQTT-3.3.1-12], [MQTT-3.3.1-13], 5.0; 3.1.1
  // always clears it, [MQTT-3.3.1-9, 3.1.1]). Retained messages sent on subscribe go through
  // Session::add_retained, which sets it.
  out.retain = m.sub.options.retain_as_published && msg->retain;
  if (m.sub.subscription_id) out.subscription_ids.push_back(m.sub.subscription_id);
  out.share_filter = m.share_filter;
  Link wake;
  count_delivery(m.sub.session->deliver(std::move(out), wake, acl_generation), wake, wakes);
}

size_t Broker::route(const MessagePtr& msg, RouteScope scope, const std::string* group) {
  thread_local std::vector<Match> matches;
  thread_local std::vector<Link> wakes;
  matches.clear();
  wakes.clear();
  tree_.collect_matches(msg->topic, matches, [](const Session* s) { return s->online(); });
  uint16_t acl_generation = 0;
  if (access_.acl_enabled()) {
    // Read rules are checked per message, so a wide filter never leaks a denied topic; one
    // version of the tables for all receivers, and its generation goes with each delivery.
    AccessControl::View view = access_.view();
    acl_generation = view.generation();
    std::erase_if(matches, [&](const Match& m) { return !view.can_receive(*m.sub.session->identity(), msg->topic); });
  }
  // No Local [MQTT-3.8.3-3, 5.0]: not to the publisher's own non-shared subscriptions.
  std::erase_if(matches, [&](const Match& m) {
    return m.sub.options.no_local && !m.share_filter && m.sub.session->id() == msg->origin;
  });
  if (scope != RouteScope::All) {
    std::erase_if(matches, [&](const Match& m) {
      return scope == RouteScope::Plain ? m.share_filter != nullptr : !m.share_filter || *m.share_filter != *group;
    });
  }
  if (matches.size() > 1) {
    // Overlapping subscriptions of one session: one copy, highest QoS, every identifier
    // ([MQTT-3.3.4-2], [MQTT-3.3.4-3], 5.0; [MQTT-3.3.5-1, 3.1.1]). Shared matches stay separate
    // deliveries.
    std::sort(matches.begin(), matches.end(), [](const Match& a, const Match& b) {
      if (a.sub.session != b.sub.session) return a.sub.session < b.sub.session;
      return !a.share_filter && b.share_filter;
    });
  }
  size_t receivers = 0;
  for (size_t i = 0; i < matches.size();) {
    const Match& m = matches[i];
    size_t j = i + 1;
    if (!m.share_filter) {
      while (j < matches.size() && matches[j].sub.session == m.sub.session && !matches[j].share_filter) ++j;
    }
    if (j - i == 1) {
      deliver(m, msg, acl_generation, wakes);
    } else {
      Outbound out;
      out.msg = msg;
      bool rap = false;
      for (size_t k = i; k < j; ++k) {
        const auto& o = matches[k].sub.options;
        out.qos = std::max(out.qos, std::min(msg->qos, o.qos));
        rap = rap || o.retain_as_published;
        if (matches[k].sub.subscription_id) out.subscription_ids.push_back(matches[k].sub.subscription_id);
      }
      out.retain = rap && msg->retain;
      Link wake;
      count_delivery(m.sub.session->deliver(std::move(out), wake, acl_generation), wake, wakes);
    }
    ++receivers;
    i = j;
  }
  matches.clear();  // release session references now, not at the next publish
  wake_all(wakes);
  return receivers;
}

void Broker::log_refusal(const Message& msg) {
  uint64_t suppressed = 0;
  if (!refusal_log_.allow(util::now(), suppressed)) return;
  LOG_WARN("memory budget spent (%" PRIu64 " of max_memory %" PRIu64 " bytes in use): new %s messages are %s "
           "(this one on '%s'; %" PRIu64 " more since the last such line, %" PRIu64 " in all)",
           memory_.used_approx(), memory_.limit(), msg.qos ? "QoS 1/2" : "QoS 0",
           msg.qos ? "refused" : "dropped", msg.topic.c_str(), suppressed, stats_.get(Counter::MemoryRefused));
}

RouteResult Broker::publish(const MessagePtr& message, util::TimePoint now) {
  stats_.add(Stats::received_counter(message->qos));
  // Removing a retained message frees memory: always accepted.
  bool frees = message->retain && message->payload.empty();
  if (!frees && !memory_.accepts(message->qos)) {
    stats_.add(Counter::MemoryRefused);
    log_refusal(*message);
    return RouteResult{.refused = true};
  }
  MessagePtr with_id;
  if (store_ && message->id == 0) {
    // Stored messages are keyed by id; one made without Broker::new_message gets one here.
    auto copy = std::make_shared<Message>(*message);
    copy->id = message_ids_.next();
    with_id = std::move(copy);
  }
  const MessagePtr& msg = with_id ? with_id : message;  // no reference count traffic otherwise
  charge(memory_, *msg);
  if (msg->retain && config().retain_available) {
    retained_.put(msg);
    if (store_ && msg->topic.rfind("$SYS/", 0) != 0) {
      if (msg->payload.empty()) store_->retained_deleted(msg->topic);
      else store_->retained_saved(msg);
    }
  }
  RouteResult r = publish_unacked(msg, now);
  // Whatever this publish stored (receivers' queues, retained, hold) was issued above; an
  // acknowledgement may go out once it is durable.
  if (store_ && msg->qos > 0) r.durable_seq = store_->last_issued();
  return r;
}

RouteResult Broker::publish_unacked(const MessagePtr& msg, util::TimePoint now) {
  if (cluster_) return publish_clustered(msg, now);
  const BrokerConfig& cfg = config();
  if (cfg.hold_unsubscribed.empty() || !matches_any(cfg.hold_unsubscribed, msg->topic))
    return {route(msg), false};
  // Deciding "nobody listens" and holding must be atomic with respect to SUBSCRIBE, or a
  // message could slip between a subscriber's arrival and its draining of the hold.
  HoldStore::Locked hold = hold_.lock();
  size_t n = route(msg);
  if (n > 0 || msg->payload.empty() || msg->expired(now)) return {n, false};
  MessagePtr held = msg;
  if (!msg->expires_at && cfg.hold_default_expiry) {
    // Held messages without an expiry of their own get the configured one; the copy is made
    // only here, off the common path.
    auto copy = std::make_shared<Message>(*msg);
    copy->id = message_ids_.next();
    copy->expires_at = now + util::Seconds(cfg.hold_default_expiry);
    charge(memory_, *copy);
    held = std::move(copy);
  }
  size_t dropped = hold->hold(held);
  if (dropped) {
    stats_.add(Counter::HoldDropped, static_cast<int64_t>(dropped));
    LOG_WARN("hold full: dropped %zu oldest held message(s) making room on '%s'", dropped, msg->topic.c_str());
  }
  return {0, true};
}

bool Broker::subscribe(const SessionPtr& session, const protocol::Subscription& sub,
                       uint32_t subscription_id, util::TimePoint now) {
  Subscriber s{session, sub.options, subscription_id};
  std::optional<HoldStore::Locked> hold;
  if (!config().hold_unsubscribed.empty() || hold_possible_.load(std::memory_order_relaxed)) hold.emplace(hold_.lock());
  bool is_new = tree_.subscribe(sub.filter, s);
  session->add_subscription(sub.filter, SubscriptionRecord{sub.options, subscription_id});
  auto shared = protocol::parse_shared_filter(sub.filter);
  std::string_view filter = shared ? shared->filter : std::string_view(sub.filter);
  std::vector<Link> wakes;
  // Held messages first, in publish order; they were waiting for exactly this subscriber.
  std::vector<MessagePtr> held;
  if (hold) {
    held = (*hold)->take_matching(filter, now);
    if (!held.empty()) {
      stats_.add(Counter::HoldDelivered, static_cast<int64_t>(held.size()));
      LOG_DEBUG("handing %zu held message(s) to '%s' on subscribe to '%s'", held.size(),
                session->client_id().c_str(), sub.filter.c_str());
    }
    for (const auto& m : held) {
      Outbound out;
      out.msg = m;
      out.qos = std::min(m->qos, sub.options.qos);
      out.retain = m->retain && sub.options.retain_as_published;
      if (subscription_id) out.subscription_ids.push_back(subscription_id);
      Link wake;
      count_delivery(session->deliver(std::move(out), wake), wake, wakes);
    }
  }
  // Retained messages: not for shared subscriptions (5.0 sections 3.8.4 and 4.8.2, statements
  // without id), and per Retain Handling (0 always, 1 only for a new subscription, 2 never)
  // [MQTT-3.3.1-9..11, 5.0]. Every one of them, however many ([MQTT-3.3.1-6, 3.1.1], 5.0 section
  // 3.3.1.3): the session streams them under flow control instead of queueing copies up to its
  // queue limit.
  uint8_t rh = sub.options.retain_handling;
  if (!shared && (rh == 0 || (rh == 1 && is_new))) {
    std::vector<MessagePtr> retained;
    std::unordered_set<const Message*> just_held;
    for (const auto& m : held) just_held.insert(m.get());
    retained_.for_each_matching(filter, now, [&](const MessagePtr& m) {
      if (!just_held.contains(m.get())) retained.push_back(m);
    });
    Link wake;
    count_delivery(session->add_retained(std::move(retained), sub.options.qos, subscription_id, wake), wake, wakes);
  }
  hold.reset();
  wake_all(wakes);
  if (cluster_ && is_new) cluster_->subscribed(session, sub.filter, SubscriptionRecord{sub.options, subscription_id});
  return is_new;
}

bool Broker::unsubscribe(const SessionPtr& session, const std::string& filter) {
  bool existed = session->remove_subscription(filter);
  bool in_tree = tree_.unsubscribe(filter, session.get());
  if (cluster_ && in_tree) cluster_->unsubscribed(*session, filter);
  return existed || in_tree;
}

size_t Broker::held_count() const { return hold_.message_count(); }

// ---------------------------------------------------------------- housekeeping

void Broker::publish_will(const MessagePtr& msg, util::TimePoint now) {
  LOG_DEBUG("publishing will on '%s'", msg->topic.c_str());
  publish(msg, now);
}

void Broker::release_memory_if_drained(util::TimePoint now) {
  Housekeeping& h = housekeeping_.get();
  uint64_t used = memory_.used();
  h.memory_peak = std::max(h.memory_peak, used);
  if (h.memory_peak - used < kTrimAfterFreed || now < h.next_trim) return;
  // Queues drained (or a large packet went): hand the freed pages back, or RSS stays at the peak.
  util::release_free_memory();
  LOG_DEBUG("gave freed memory back to the system (%" PRIu64 " bytes in use, down from %" PRIu64 ")", used,
            h.memory_peak);
  h.memory_peak = used;
  h.next_trim = now + kTrimInterval;
}

void Broker::housekeeping(util::TimePoint now) {
  Housekeeping& h = housekeeping_.get();  // asserts (debug builds) it is always the same thread
  std::vector<MessagePtr> due_wills;
  {
    std::lock_guard lock(registry_mu_);
    for (auto it = pending_wills_.begin(); it != pending_wills_.end();) {
      if (it->fire_at <= now) {
        due_wills.push_back(it->msg);
        if (store_) store_->will_deleted(it->client_id);
        it = pending_wills_.erase(it);
      } else {
        ++it;
      }
    }
    std::vector<SessionPtr> expired;
    for (auto it = offline_.begin(); it != offline_.end();) {
      auto at = (*it)->expires_at();
      if (!at) {
        it = offline_.erase(it);  // back online (or never expiring): nothing to wait for
        continue;
      }
      if (*at <= now) expired.push_back(*it);
      ++it;
    }
    for (const auto& s : expired) {
      LOG_INFO("session '%s' expired", s->client_id().c_str());
      // Its will, if still pending, goes out when the session ends [MQTT-3.1.2-8, 5.0].
      for (auto it = pending_wills_.begin(); it != pending_wills_.end();) {
        if (it->client_id == s->client_id()) {
          due_wills.push_back(it->msg);
          if (store_) store_->will_deleted(it->client_id);
          it = pending_wills_.erase(it);
        } else {
          ++it;
        }
      }
      end_session_locked(s);
    }
  }
  for (const auto& w : due_wills) publish_will(w, now);
  retained_.expire(now);
  hold_.lock()->expire(now);
  if (uint16_t gen = access_.generation(); gen != h.access_generation) {
    h.access_generation = gen;  // the password file or ACL was (re)loaded
    reauthorize();
  }
  if (const uint32_t interval = config().sys_interval; interval && now >= h.next_sys) {
    h.next_sys = now + util::Seconds(interval);
    publish_sys(now);
  }
  release_memory_if_drained(now);
}

void Broker::publish_sys(util::TimePoint now) {
  auto put = [&](const char* topic, std::string payload) {
    auto m = std::make_shared<Message>();
    m->topic = topic;
    m->payload = std::move(payload);
    m->retain = true;
    charge(memory_, *m);
    retained_.put(m);
    route(m);
  };
  auto put_n = [&](const char* topic, uint64_t value) { put(topic, std::to_string(value)); };
  put("$SYS/broker/version", "musqratt " MUSQRATT_VERSION);
  put_n("$SYS/broker/uptime", std::chrono::duration_cast<util::Seconds>(now - started_).count());
  put_n("$SYS/broker/clients/connected", stats_.get(Counter::ClientsConnected));
  put_n("$SYS/broker/clients/total", session_count());
  put_n("$SYS/broker/messages/received", stats_.messages_received());
  put_n("$SYS/broker/messages/sent", stats_.messages_sent());
  put_n("$SYS/broker/messages/dropped", stats_.get(Counter::PublishDropped));
  put_n("$SYS/broker/bytes/received", stats_.get(Counter::BytesReceived));
  put_n("$SYS/broker/bytes/sent", stats_.get(Counter::BytesSent));
  put_n("$SYS/broker/connections/refused_exhausted", stats_.get(Counter::ConnectionsRefusedExhausted));
  put_n("$SYS/broker/subscriptions/count", tree_.subscription_count());
  put_n("$SYS/broker/retained/count", retained_.size());
  put_n("$SYS/broker/topics/count", tree_.node_count());
  put_n("$SYS/broker/hold/messages", held_count());
  put_n("$SYS/broker/hold/dropped", stats_.get(Counter::HoldDropped));
  put_n("$SYS/broker/memory/used", memory_.used());
  put_n("$SYS/broker/memory/limit", memory_.limit());
  put_n("$SYS/broker/memory/refused", stats_.get(Counter::MemoryRefused));
  if (store_) {
    StoreStatus st = store_->status();
    put_n("$SYS/broker/store/disk_full", st.disk_full ? 1 : 0);
    put_n("$SYS/broker/store/writes_refused", st.writes_refused);
    put_n("$SYS/broker/store/writes_waiting", st.writes_waiting);
  }
  uint64_t queued = 0;
  for (const SessionPtr& s : sessions()) queued += s->queued_count();
  put_n("$SYS/broker/messages/queued", queued);
  if (cluster_) {
    std::vector<std::pair<std::string, std::string>> values;
    cluster_->sys_values(values);
    for (auto& [topic, value] : values) {
      auto m = std::make_shared<Message>();
      m->topic = std::move(topic);
      m->payload = std::move(value);
      m->retain = true;
      retained_.put(m);
      route(m);
    }
  }
  std::vector<std::function<void(util::TimePoint)>> sources;
  {
    std::lock_guard lock(sys_sources_mu_);
    sources = sys_sources_;
  }
  for (const auto& source : sources) source(now);
}

void Broker::add_sys_source(std::function<void(util::TimePoint)> source) {
  std::lock_guard lock(sys_sources_mu_);
  sys_sources_.push_back(std::move(source));
}

void Broker::publish_sys_value(const std::string& topic, std::string payload) {
  auto m = std::make_shared<Message>();
  m->topic = topic;
  m->payload = std::move(payload);
  m->retain = true;
  retained_.put(m);
  route(m);
}

}  // namespace musqratt::broker
