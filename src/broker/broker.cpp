#include "broker/broker.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "protocol/topic.h"
#include "util/log.h"

namespace musqratt::broker {

namespace {
bool matches_any(const std::vector<std::string>& filters, std::string_view topic) {
  return std::any_of(filters.begin(), filters.end(),
                     [&](const std::string& f) { return protocol::topic_matches(f, topic); });
}
}  // namespace

Broker::Broker(BrokerConfig config)
    : started_(util::now()), hold_(HoldLimits{config.hold_max_messages_per_topic, config.hold_max_bytes}) {
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
  {
    std::lock_guard hl(hold_mu_);
    hold_.set_limits(HoldLimits{c.hold_max_messages_per_topic, c.hold_max_bytes});
  }
  // Queues already holding more than a new, lower limit keep what they hold: new messages are
  // dropped until they drain below it.
  const QueueLimits limits{.max_messages = c.max_queued_messages,
                           .queue_qos0_offline = c.queue_qos0_offline,
                           .max_bytes = c.max_queued_bytes};
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
  hold_.set_persistence(store);
  if (!r.held.empty()) hold_possible_ = true;
  std::lock_guard lock(registry_mu_);
  const BrokerConfig& cfg = config();
  for (const RestoredSession& rs : r.sessions) {
    QueueLimits limits{.max_messages = cfg.max_queued_messages,
                       .queue_qos0_offline = cfg.queue_qos0_offline,
                       .max_bytes = cfg.max_queued_bytes};
    auto s = std::make_shared<Session>(rs.client_id, next_session_id_++, protocol::Version::V5, limits);
    s->restore(rs, now);
    s->set_persistence(store);
    for (const auto& [filter, opt] : rs.subscriptions)
      tree_.subscribe(filter, Subscriber{s, opt.first, opt.second});
    sessions_.insert(std::move(s));
  }
  for (const auto& m : r.retained) retained_.put(m);
  {
    std::lock_guard hl(hold_mu_);
    for (const auto& [seq, m] : r.held) hold_.restore(seq, m);
  }
  for (const auto& [client, w] : r.wills) pending_wills_.push_back({client, w.first, steady_from_wall_ms(w.second)});
  // Every restored message is a row of the store's message table, so its highest id covers them.
  Message::reserve_ids(r.max_message_id);
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
      if (req.clean_start) {
        // [MQTT-3.1.2-4, 5.0], [MQTT-3.1.2-6, 3.1.1]: discard the old session; its connection
        // (if any) is told to go.
        Link old = existing->revoke();
        if (old) wakes.push_back(old);
        end_session_locked(existing);
      } else {
        // Resume: the new connection becomes the owner; the old one notices on its wake-up.
        result.session = existing;
        result.session_present = true;
        if (Link old = existing->link()) wakes.push_back(old);
      }
    }
    if (!result.session) {
      const BrokerConfig& cfg = config();
      QueueLimits limits{.max_messages = cfg.max_queued_messages,
                         .queue_qos0_offline = cfg.queue_qos0_offline,
                         .max_bytes = cfg.max_queued_bytes};
      result.session = std::make_shared<Session>(req.client_id, next_session_id_++, req.version, limits);
      if (store_ && req.session_expiry > 0) result.session->set_persistence(store_);
      sessions_.insert(result.session);
    }
    result.session->set_expiry_interval(req.session_expiry);
    result.session->attach(req.link, req.version);
  }
  wake_all(wakes);
  return result;
}

bool Broker::defer_for_takeover(const std::string& client_id, Link waiter) {
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

void Broker::disconnect(const SessionPtr& session, uint64_t token, std::optional<WillMessage> will,
                        util::TimePoint now) {
  bool was_owner = session->detach(token, now);
  bool ends = false;
  if (was_owner && session->expiry_interval() == 0) {
    std::lock_guard lock(registry_mu_);
    auto it = sessions_.find(session->client_id());
    if (it != sessions_.end() && *it == session) {
      end_session_locked(session);
      ends = true;
    }
  }
  if (!will) return;
  bool revoked = session->revoked();
  // Publish now unless a delay applies to a session that lives on; a session that ends (or
  // was discarded by a clean-start takeover) sends its will at once [MQTT-3.1.2-8, 5.0].
  if (will->delay == 0 || ends || revoked) {
    publish_will(will->msg, now);
    return;
  }
  if (!was_owner) return;  // resumed by a newer connection before the delay: never sent
  std::lock_guard lock(registry_mu_);
  uint32_t delay = std::min(will->delay, session->expiry_interval());
  pending_wills_.push_back({session->client_id(), will->msg, now + util::Seconds(delay)});
  if (store_) store_->will_saved(session->client_id(), will->msg, wall_ms_from(now + util::Seconds(delay)));
}

void Broker::end_session_locked(const SessionPtr& session) {
  auto it = sessions_.find(session->client_id());
  if (it != sessions_.end() && *it == session) sessions_.erase(it);
  end_session_unlocked(session);
}

/// Removes the session's subscriptions and hands its unfinished shared-subscription messages
/// to other members of the group, so a leaving member loses nothing it had accepted.
void Broker::end_session_unlocked(const SessionPtr& session) {
  if (session->persistent()) store_->session_deleted(session->client_id());
  for (const auto& f : session->subscription_filters()) {
    tree_.unsubscribe(f, session.get());
    session->remove_subscription(f);
  }
  std::vector<Link> wakes;
  for (Outbound& o : session->drain_all()) {
    if (!o.share_filter || o.qos == 0) continue;
    Match m;
    if (tree_.pick_shared_member(*o.share_filter, session.get(), m)) {
      Outbound copy = o;
      copy.qos = std::min(o.msg->qos, m.sub.options.qos);
      Link wake;
      if (m.sub.session->deliver(std::move(copy), wake) == Session::DeliverResult::QueuedWake)
        wakes.push_back(wake);
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

void Broker::deliver(const Match& m, const MessagePtr& msg, bool retained_on_subscribe,
                     std::vector<Link>& wakes) {
  Outbound out;
  out.msg = msg;
  out.qos = std::min(msg->qos, m.sub.options.qos);
  // Retain flag: set for retained messages sent on subscribe ([MQTT-3.3.1-8, 3.1.1], 5.0 section
  // 3.3.1.3); otherwise only with Retain As Published ([MQTT-3.3.1-12], [MQTT-3.3.1-13], 5.0;
  // 3.1.1 always clears it, [MQTT-3.3.1-9, 3.1.1]).
  out.retain = retained_on_subscribe || (m.sub.options.retain_as_published && msg->retain);
  if (m.sub.subscription_id) out.subscription_ids.push_back(m.sub.subscription_id);
  out.share_filter = m.share_filter;
  Link wake;
  auto r = m.sub.session->deliver(std::move(out), wake);
  if (r == Session::DeliverResult::QueuedWake) wakes.push_back(wake);
  if (r == Session::DeliverResult::Dropped && m.sub.session->online()) stats_.add(Counter::PublishDropped);
}

size_t Broker::route(const MessagePtr& msg) {
  thread_local std::vector<Match> matches;
  thread_local std::vector<Link> wakes;
  matches.clear();
  wakes.clear();
  tree_.collect_matches(msg->topic, matches, [](const Session* s) { return s->online(); });
  if (access_.acl_enabled()) {
    // Read rules are checked per message, so a wide filter never leaks a denied topic.
    std::erase_if(matches, [&](const Match& m) { return !access_.can_receive(*m.sub.session->identity(), msg->topic); });
  }
  // No Local [MQTT-3.8.3-3, 5.0]: not to the publisher's own non-shared subscriptions.
  std::erase_if(matches, [&](const Match& m) {
    return m.sub.options.no_local && !m.share_filter && m.sub.session->id() == msg->origin;
  });
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
      deliver(m, msg, false, wakes);
    } else {
      Match merged = m;
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
      if (m.sub.session->deliver(std::move(out), wake) == Session::DeliverResult::QueuedWake)
        wakes.push_back(wake);
    }
    ++receivers;
    i = j;
  }
  matches.clear();  // release session references now, not at the next publish
  wake_all(wakes);
  return receivers;
}

RouteResult Broker::publish(const MessagePtr& msg, util::TimePoint now) {
  stats_.add(Counter::MessagesReceived);
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
  const BrokerConfig& cfg = config();
  if (cfg.hold_unsubscribed.empty() || !matches_any(cfg.hold_unsubscribed, msg->topic))
    return {route(msg), false};
  // Deciding "nobody listens" and holding must be atomic with respect to SUBSCRIBE, or a
  // message could slip between a subscriber's arrival and its draining of the hold.
  std::lock_guard lock(hold_mu_);
  size_t n = route(msg);
  if (n > 0 || msg->payload.empty() || msg->expired(now)) return {n, false};
  MessagePtr held = msg;
  if (!msg->expires_at && cfg.hold_default_expiry) {
    // Held messages without an expiry of their own get the configured one; the copy is made
    // only here, off the common path.
    auto copy = std::make_shared<Message>(*msg);
    copy->id = Message::next_id();
    copy->expires_at = now + util::Seconds(cfg.hold_default_expiry);
    held = std::move(copy);
  }
  size_t dropped = hold_.hold(held);
  if (dropped) {
    stats_.add(Counter::HoldDropped, static_cast<int64_t>(dropped));
    LOG_WARN("hold full: dropped %zu oldest held message(s) making room on '%s'", dropped, msg->topic.c_str());
  }
  return {0, true};
}

bool Broker::subscribe(const SessionPtr& session, const protocol::Subscription& sub,
                       uint32_t subscription_id, util::TimePoint now) {
  Subscriber s{session, sub.options, subscription_id};
  std::unique_lock hold_lock(hold_mu_, std::defer_lock);
  if (!config().hold_unsubscribed.empty() || hold_possible_.load(std::memory_order_relaxed)) hold_lock.lock();
  bool is_new = tree_.subscribe(sub.filter, s);
  session->add_subscription(sub.filter, SubscriptionRecord{sub.options, subscription_id});
  auto shared = protocol::parse_shared_filter(sub.filter);
  std::string_view filter = shared ? shared->filter : std::string_view(sub.filter);
  std::vector<Link> wakes;
  Match self{s, nullptr};
  // Held messages first, in publish order; they were waiting for exactly this subscriber.
  std::vector<MessagePtr> held;
  if (hold_lock.owns_lock()) {
    held = hold_.take_matching(filter, now);
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
      if (session->deliver(std::move(out), wake) == Session::DeliverResult::QueuedWake) wakes.push_back(wake);
    }
  }
  // Retained messages: not for shared subscriptions (5.0 sections 3.8.4 and 4.8.2, statements
  // without id), and per Retain Handling (0 always, 1 only for a new subscription, 2 never)
  // [MQTT-3.3.1-9..11, 5.0].
  uint8_t rh = sub.options.retain_handling;
  if (!shared && (rh == 0 || (rh == 1 && is_new))) {
    retained_.for_each_matching(filter, now, [&](const MessagePtr& m) {
      if (std::find(held.begin(), held.end(), m) != held.end()) return;
      deliver(self, m, true, wakes);
    });
  }
  if (hold_lock.owns_lock()) hold_lock.unlock();
  wake_all(wakes);
  return is_new;
}

bool Broker::unsubscribe(const SessionPtr& session, const std::string& filter) {
  bool existed = session->remove_subscription(filter);
  bool in_tree = tree_.unsubscribe(filter, session.get());
  return existed || in_tree;
}

size_t Broker::held_count() const {
  std::lock_guard lock(hold_mu_);
  return hold_.message_count();
}

// ---------------------------------------------------------------- housekeeping

void Broker::publish_will(const MessagePtr& msg, util::TimePoint now) {
  LOG_DEBUG("publishing will on '%s'", msg->topic.c_str());
  publish(msg, now);
}

void Broker::housekeeping(util::TimePoint now) {
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
    for (const SessionPtr& s : sessions_) {
      auto at = s->expires_at();
      if (at && *at <= now) expired.push_back(s);
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
  {
    std::lock_guard lock(hold_mu_);
    hold_.expire(now);
  }
  if (const uint32_t interval = config().sys_interval; interval && now >= next_sys_) {
    next_sys_ = now + util::Seconds(interval);
    publish_sys(now);
  }
}

void Broker::publish_sys(util::TimePoint now) {
  auto put = [&](const char* topic, uint64_t value) {
    auto m = std::make_shared<Message>();
    m->topic = topic;
    m->payload = std::to_string(value);
    m->retain = true;
    retained_.put(m);
    route(m);
  };
  {
    auto m = std::make_shared<Message>();
    m->topic = "$SYS/broker/version";
    m->payload = "musqratt " MUSQRATT_VERSION;
    m->retain = true;
    retained_.put(m);
    route(m);
  }
  put("$SYS/broker/uptime", std::chrono::duration_cast<util::Seconds>(now - started_).count());
  put("$SYS/broker/clients/connected", stats_.get(Counter::ClientsConnected));
  put("$SYS/broker/clients/total", session_count());
  put("$SYS/broker/messages/received", stats_.get(Counter::MessagesReceived));
  put("$SYS/broker/messages/sent", stats_.get(Counter::MessagesSent));
  put("$SYS/broker/messages/dropped", stats_.get(Counter::PublishDropped));
  put("$SYS/broker/bytes/received", stats_.get(Counter::BytesReceived));
  put("$SYS/broker/bytes/sent", stats_.get(Counter::BytesSent));
  put("$SYS/broker/connections/refused_exhausted", stats_.get(Counter::ConnectionsRefusedExhausted));
  put("$SYS/broker/subscriptions/count", tree_.subscription_count());
  put("$SYS/broker/retained/count", retained_.size());
  put("$SYS/broker/topics/count", tree_.node_count());
  put("$SYS/broker/hold/messages", held_count());
  put("$SYS/broker/hold/dropped", stats_.get(Counter::HoldDropped));
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
