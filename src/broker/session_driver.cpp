#include "broker/session_driver.h"

#include <algorithm>
#include <cinttypes>
#include <random>

#include "protocol/forwarded_properties.h"
#include "protocol/topic.h"
#include "util/log.h"

namespace musqratt::broker {

using protocol::Reason;
using protocol::Version;
namespace pr = protocol;

namespace {

std::string random_client_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[32];
  snprintf(buf, sizeof buf, "musqratt-%016" PRIx64, rng());
  return buf;
}

const char* version_name(Version v) {
  return v == Version::V5 ? "5.0" : v == Version::V311 ? "3.1.1" : "3.1";
}

bool topic_within_limits(std::string_view topic, const BrokerConfig& c) {
  if (c.max_topic_length && topic.size() > c.max_topic_length) return false;
  if (c.max_topic_levels) {
    size_t levels = 1 + static_cast<size_t>(std::count(topic.begin(), topic.end(), '/'));
    if (levels > c.max_topic_levels) return false;
  }
  return true;
}

// The time of the event being handled, for engine callbacks (which carry none). Per thread, not
// per connection: a driver runs only on its worker, one event at a time, and every event
// sets it first.
thread_local util::TimePoint now_;

}  // namespace

SessionDriver::SessionDriver(Broker& broker, Waker* waker, uint64_t token, std::string peer, util::TimePoint now)
    : broker_(broker), waker_(waker), token_(token), peer_(std::move(peer)), tokens_at_(now) {
  now_ = now;
  size_t colon = peer_.rfind(':');
  peer_ip_len_ = static_cast<uint8_t>(std::min<size_t>(colon == std::string::npos ? peer_.size() : colon, 255));
  const BrokerConfig& cfg = broker_.config();
  engine_.set_max_incoming_packet(cfg.max_packet_size);
  engine_.set_incoming_alias_max(cfg.topic_alias_maximum);
  const std::string ip(peer_ip());
  admitted_ = broker_.admit_connection(ip);
  if (!admitted_) {
    LOG_WARN_LIMITED("connect.per_ip", "refusing connection from %s: more than %u connections from %s", peer_.c_str(),
             cfg.max_connections_per_ip, ip.c_str());
    set_close_reason("per-IP connection limit");
    engine_.close();
  }
  publish_tokens_ = cfg.max_publish_rate;
}

SessionDriver::~SessionDriver() {
  on_closed(util::now());
  release_input_charge();
  if (admitted_) broker_.release_connection(std::string(peer_ip()));
}

const std::string& SessionDriver::client_id() const {
  static const std::string none;
  return session_ ? session_->client_id() : none;
}

// ---------------------------------------------------------------- input

void SessionDriver::on_bytes(std::span<const uint8_t> data, util::TimePoint now) {
  if (closing()) return;
  broker_.stats().add(Counter::BytesReceived, static_cast<int64_t>(data.size()));
  now_ = now;
  engine_.receive(data, *this, now);
  charge_buffered_input();
  pump(now);
}

void SessionDriver::charge_buffered_input() {
  // Small remainders (a packet split by the network) are charged but never refused.
  constexpr size_t kAlwaysAllowed = 64 * 1024;
  const size_t buffered = engine_.closing() || engine_.buffered_input() == 0 ? 0 : engine_.input_capacity();
  if (buffered == input_charged_) return;
  MemoryBudget& memory = broker_.memory();
  // Packets being received may take the total an eighth past the budget: a message that
  // arrives whole is then refused by the budget's own rule (5.0: 0x97), as a message is.
  const uint64_t limit = memory.limit();
  if (buffered > input_charged_ && buffered > kAlwaysAllowed && limit &&
      memory.used_approx() + (buffered - input_charged_) > limit + limit / 8) {
    release_input_charge();
    broker_.stats().add(Counter::MemoryRefused);
    return fail(Reason::QuotaExceeded, "memory budget spent: a partly received packet is not held");
  }
  memory.adjust(static_cast<int64_t>(buffered) - static_cast<int64_t>(input_charged_));
  input_charged_ = static_cast<uint32_t>(std::min<size_t>(buffered, UINT32_MAX));
}

void SessionDriver::release_input_charge() {
  if (!input_charged_) return;
  broker_.memory().release(input_charged_);
  input_charged_ = 0;
}

void SessionDriver::on_violation(Reason reason, const char* why) {
  set_close_reason(std::string(pr::reason_name(reason)) + ": " + why);
  if (state_ == State::AwaitConnect) {
    LOG_INFO_LIMITED("connect.bad", "closing connection from %s: bad CONNECT: %s", peer_.c_str(), why);
    will_.reset();
    return;
  }
  LOG_INFO_LIMITED("client.closed", "closing client '%s' from %s: %s (%s)", client_id().c_str(), peer_.c_str(),
                   pr::reason_name(reason), why);
}

// ---------------------------------------------------------------- CONNECT

void SessionDriver::on_connect(pr::Connect& c) { handle_connect(c, now_); }

void SessionDriver::handle_connect(pr::Connect& c, util::TimePoint now) {
  const BrokerConfig& cfg = broker_.config();
  bool assigned = false;
  if (c.client_id.empty()) {
    if (c.version == Version::V31 || (c.version == Version::V311 && !c.clean_start)) {
      // [MQTT-3.1.3-8, 3.1.1]: CONNACK 0x02 and close.
      return reject_connect(Reason::ClientIdentifierNotValid, "empty client id without clean session");
    }
    c.client_id = random_client_id();
    assigned = true;
  }
  if (Broker::reserved_client_id(c.client_id))
    return reject_connect(Reason::ClientIdentifierNotValid, "client ids beginning with $bridge/ are reserved for bridges",
                          c.client_id);
  if (c.properties.authentication_method)
    return reject_connect(Reason::BadAuthenticationMethod, "enhanced authentication is not supported", c.client_id);
  if (c.will) {
    if (!pr::valid_topic_name(c.will->topic) || !topic_within_limits(c.will->topic, cfg))
      return reject_connect(Reason::TopicNameInvalid, "invalid will topic", c.client_id);  // [MQTT-3.1.3-10, 3.1.1]
    if (c.will->qos > cfg.maximum_qos)
      return reject_connect(Reason::QosNotSupported, "will QoS above maximum", c.client_id);  // [MQTT-3.2.2-12, 5.0]
    if (c.will->retain && !cfg.retain_available)
      return reject_connect(Reason::RetainNotSupported, "retained will not supported", c.client_id);  // [MQTT-3.2.2-13, 5.0]
  }
  auth::Identity identity;
  if (rare_ && rare_->certificate_username) {
    c.username = *rare_->certificate_username;
    identity = auth::Identity{*c.username, c.client_id, false};
  } else {
    // The password check is a slow key derivation: with a pool it runs there, never on this
    // worker, and the CONNECT waits parked (the engine keeps later input meanwhile).
    std::optional<bool> verified;
    if (rare_ && rare_->auth_verdict) {
      verified = rare_->auth_verdict->load(std::memory_order_acquire) == kAuthAccepted;
      rare_->auth_verdict.reset();
    } else if (broker_.verify_pool() && broker_.access().needs_password_check(c.username)) {
      park_for_password_check(c);
      return;
    }
    if (Reason r = broker_.access().authenticate(c.username, c.password, c.client_id, identity, verified); r != Reason::Success)
      return reject_connect(r, r == Reason::NotAuthorized ? "anonymous access is not allowed" : "bad user name or password",
                            c.client_id);
  }
  if (c.will && !broker_.access().can_publish(identity, c.will->topic))
    return reject_connect(Reason::NotAuthorized, "will topic not allowed by ACL", c.client_id);
  if (cfg.max_connections && broker_.stats().get(Counter::ClientsConnected) >= cfg.max_connections)
    return reject_connect(pr::reason_for(c.version, pr::PacketType::Connack, Reason::QuotaExceeded),
                          "connection limit reached", c.client_id);
  // Only a client that passed every check above may make the session's current holder leave:
  // a CONNECT with a wrong password must not disconnect anyone. (The checks run again when the
  // parked CONNECT resumes: the tables may have been reloaded meanwhile.)
  if (!c.clean_start && !takeover_waited_ && broker_.defer_for_takeover(c.client_id, Link{waker_, token_})) {
    takeover_waited_ = true;  // wait once; the holder's worker wakes us when it has left
    rare().parked_connect = std::make_unique<pr::Connect>(std::move(c));
    return;  // the engine keeps later input until the CONNECT is answered
  }

  // Session expiry: 5.0 property, 3.1.1 configurable default for clean_session=0.
  const bool is_v5 = c.version == Version::V5;
  uint32_t requested_expiry = is_v5 ? c.properties.session_expiry_interval.value_or(0)
                                    : (c.clean_start ? 0 : cfg.session_expiry_default);
  session_expiry_ = std::min(requested_expiry, cfg.max_session_expiry);

  uint16_t keep_alive = c.keep_alive;
  std::optional<uint16_t> server_keep_alive;
  if (is_v5) {
    if (cfg.server_keepalive) {
      server_keep_alive = cfg.server_keepalive;
    } else if (cfg.max_keepalive < 65535 && (keep_alive == 0 || keep_alive > cfg.max_keepalive)) {
      server_keep_alive = cfg.max_keepalive;
    }
    if (server_keep_alive) keep_alive = *server_keep_alive;  // [MQTT-3.2.2-21, 5.0]
  }

  if (c.will) {
    auto m = broker_.new_message(now);
    m->topic = std::move(c.will->topic);
    m->payload = std::move(c.will->payload);
    m->qos = c.will->qos;
    m->retain = c.will->retain;
    auto expiry = broker_.effective_message_expiry(c.will->properties.message_expiry_interval);
    uint32_t delay = c.will->properties.will_delay_interval.value_or(0);
    m->properties = pr::forwarded_properties(std::move(c.will->properties));
    // The expiry clock of a will starts when it is published; approximated from connect time
    // plus its delay, which is when a delayed will is sent at the earliest.
    if (expiry) m->expires_at = now + util::Seconds(*expiry) + util::Seconds(delay);
    will_ = std::make_unique<WillMessage>(WillMessage{std::move(m), delay});
  }

  bridge_peer_ = c.bridge && !is_v5;
  ConnectResult r = broker_.connect(
      ConnectRequest{c.client_id, c.clean_start, session_expiry_, c.version, Link{waker_, token_}}, now);
  session_ = r.session;
  broker_.set_identity(session_, identity, rare_ && rare_->certificate_username);  // for ACL and reload checks
  session_->set_connection_info({c.username.value_or(""), peer_, c.version, std::chrono::system_clock::now()});
  state_ = State::Connected;
  broker_.stats().add(Counter::ClientsConnected);
  broker_.stats().add(Counter::ClientsConnectedEver);

  pr::Connack ack;
  ack.session_present = r.session_present;  // [MQTT-3.2.2-1..3, 3.1.1], [MQTT-3.2.2-2], [MQTT-3.2.2-3], 5.0
  if (is_v5) {
    pr::Properties& p = ack.properties;
    if (cfg.receive_maximum < 65535) p.receive_maximum = cfg.receive_maximum;
    if (cfg.max_packet_size < pr::kMaxRemainingLength + 5) p.maximum_packet_size = cfg.max_packet_size;
    if (cfg.topic_alias_maximum) p.topic_alias_maximum = cfg.topic_alias_maximum;
    if (assigned) p.assigned_client_identifier = c.client_id;
    if (server_keep_alive) p.server_keep_alive = server_keep_alive;
    if (session_expiry_ != requested_expiry) p.session_expiry_interval = session_expiry_;
    if (!cfg.retain_available) p.retain_available = 0;
    if (cfg.maximum_qos < 2) p.maximum_qos = cfg.maximum_qos;
  }
  engine_.accept(c, ack, keep_alive);
  send_window_ = std::min<uint32_t>(engine_.peer_receive_maximum(), cfg.max_inflight);
  const std::string username = c.username.value_or("");
  LOG_INFO("client '%s'%s%s%s connected from %s (MQTT %s, %s, keep-alive %us, session expiry %us%s)",
           client_id().c_str(), username.empty() ? "" : " (user '", username.c_str(), username.empty() ? "" : "')",
           peer_.c_str(), version_name(c.version), c.clean_start ? "clean start" : "resume", keep_alive,
           session_expiry_, r.session_present ? ", session present" : "");

  std::vector<Sendable> resend;
  session_->resend_inflight(token_, resend);
  for (const Sendable& s : resend) {
    if (s.kind == Sendable::Kind::Pubrel) engine_.send_ack(pr::PacketType::Pubrel, s.packet_id, Reason::Success);
    else send_publish(s, now);
  }
}

void SessionDriver::park_for_password_check(pr::Connect& c) {
  auto verdict = std::make_shared<std::atomic<int8_t>>(kAuthPending);
  Waker* waker = waker_;
  const uint64_t token = token_;
  auth::VerifyRequest request{*c.username, c.password.value_or(""), c.client_id, std::string(peer_ip())};
  // On a pool thread: record the outcome and wake this connection's worker; never touch the
  // connection itself (it may be gone; the worker ignores a wake for a token it no longer has).
  auto done = [verdict, waker, token](auth::VerifyOutcome o) {
    verdict->store(o.accepted ? kAuthAccepted : kAuthRefused, std::memory_order_release);
    waker->wake(token);
  };
  switch (broker_.verify_pool()->submit(std::move(request), std::move(done))) {
    case auth::VerifyPool::Submit::Queued:
      rare().auth_verdict = std::move(verdict);
      rare().parked_connect = std::make_unique<pr::Connect>(std::move(c));
      return;
    case auth::VerifyPool::Submit::Busy:
      return reject_connect(Reason::ServerBusy, "too many password checks waiting", c.client_id);  // 3.1.1: 0x03
    case auth::VerifyPool::Submit::Refused:
      return reject_connect(Reason::BadUserNameOrPassword, "bad user name or password (address backing off)", c.client_id);
  }
}

void SessionDriver::reject_connect(Reason reason, const char* why, std::string_view client_id) {
  set_close_reason(why);
  LOG_INFO_LIMITED("connect.refused", "refused connection from %s (client '%.*s'): %s (%s)", peer_.c_str(), int(client_id.size()), client_id.data(),
           pr::reason_name(reason), why);
  will_.reset();  // a will is kept only for an accepted CONNECT [MQTT-3.1.2-8, 3.1.1]
  // 3.1/3.1.1: only a refusal their CONNACK has a return code for is answered; any other is a
  // CONNECT that broke a packet rule, and the connection closes without one [MQTT-3.1.4-1, 3.1.1].
  if (v5() || pr::reason_use(reason, engine_.version(), pr::PacketType::Connack) == pr::ReasonUse::Allowed) {
    engine_.refuse(reason, why);
  } else {
    engine_.close();  // [MQTT-3.1.4-1, 3.1.1]
  }
}

void SessionDriver::fail(Reason reason, const char* why) {
  if (engine_.closing()) return;
  set_close_reason(std::string(pr::reason_name(reason)) + ": " + why);
  LOG_INFO_LIMITED("client.closed", "closing client '%s' from %s: %s (%s)", client_id().c_str(), peer_.c_str(),
                   pr::reason_name(reason), why);
  engine_.fail(reason, why);
}

// ---------------------------------------------------------------- PUBLISH in

bool SessionDriver::publish_allowed_by_rate(util::TimePoint now) {
  uint32_t rate = broker_.config().max_publish_rate;
  if (!rate) return true;
  double elapsed = std::chrono::duration<double>(now - tokens_at_).count();
  tokens_at_ = now;
  publish_tokens_ = std::min<double>(rate, publish_tokens_ + elapsed * rate);
  if (publish_tokens_ < 1) return false;
  publish_tokens_ -= 1;
  return true;
}

void SessionDriver::on_publish(pr::Publish& p) {
  const util::TimePoint now = now_;
  const BrokerConfig& cfg = broker_.config();
  if (!publish_allowed_by_rate(now)) return fail(Reason::MessageRateTooHigh, "publish rate limit exceeded");
  if (!topic_within_limits(p.topic, cfg)) return fail(Reason::TopicNameInvalid, "topic exceeds configured limits");
  if (p.qos > cfg.maximum_qos) return fail(Reason::QosNotSupported, "QoS above maximum");  // [MQTT-3.2.2-11, 5.0]
  if (p.retain && !cfg.retain_available) return fail(Reason::RetainNotSupported, "retain not available");  // [MQTT-3.2.2-14, 5.0]
  if (p.qos == 2) {
    if (session_->incoming_qos2_seen(p.packet_id)) {
      // A resent PUBLISH of an exchange still open: acknowledge again, deliver nothing twice.
      Persistence* store = broker_.persistence();
      ack_when_durable(pr::PacketType::Pubrec, p.packet_id, Reason::Success, store ? store->last_issued() : 0);
      return;
    }
    if (session_->incoming_qos2_count() >= cfg.receive_maximum)
      return fail(Reason::ReceiveMaximumExceeded, "more QoS 2 messages in flight than Receive Maximum");  // [MQTT-3.3.4-7, 5.0]
  }

  // Without an ACL nothing is asked: the identity and the access tables are shared pointers
  // every worker would otherwise copy for every message, two cache lines bouncing between cores.
  if (broker_.access().acl_enabled() && !broker_.access().can_publish(*session_->identity(), p.topic)) {
    // Denied publishes are dropped; 5.0 says why in the acknowledgement.
    LOG_INFO_LIMITED("acl.denied", "'%s': publish to '%s' denied by ACL", client_id().c_str(), p.topic.c_str());
    Reason denied = pr::reason_for(engine_.version(), p.qos == 2 ? pr::PacketType::Pubrec : pr::PacketType::Puback,
                                   Reason::NotAuthorized);
    if (p.qos == 1) engine_.send_ack(pr::PacketType::Puback, p.packet_id, denied);
    if (p.qos == 2) engine_.send_ack(pr::PacketType::Pubrec, p.packet_id, denied);
    return;
  }
  auto m = broker_.new_message(now);
  m->topic = std::move(p.topic);
  m->payload = std::move(p.payload);
  m->qos = p.qos;
  m->retain = p.retain;
  m->origin = session_->id();
  auto expiry = broker_.effective_message_expiry(p.properties.message_expiry_interval);
  if (expiry) m->expires_at = now + util::Seconds(*expiry);
  if (v5()) m->properties = pr::forwarded_properties(std::move(p.properties));
  RouteResult r = broker_.publish(m, now);
  if (r.refused && p.qos > 0 && !v5()) {
    // 3.1/3.1.1 have no way to refuse a PUBLISH, and a PUBACK or PUBREC would tell the client
    // a message the broker did not take is safe. Close without acknowledging: the client
    // sends it again after reconnecting [MQTT-4.4.0-1, 3.1.1], when memory may be free.
    return fail(Reason::QuotaExceeded, "memory budget spent: QoS 1/2 message not accepted, not acknowledged");
  }
  Reason wanted = r.refused                       ? Reason::QuotaExceeded  // memory budget spent
                  : (r.receivers == 0 && !r.held && !r.remote) ? Reason::NoMatchingSubscribers
                                                  : Reason::Success;
  Reason reason = wanted == Reason::Success
                      ? Reason::Success
                      : pr::reason_for(engine_.version(), p.qos == 2 ? pr::PacketType::Pubrec : pr::PacketType::Puback, wanted);
  // A refused QoS 2 message ends its exchange with the error PUBREC: no state to keep.
  if (p.qos == 2 && !pr::is_error(reason)) session_->incoming_qos2_add(p.packet_id);
  // With persistence, the acknowledgement waits until everything this publish stored is
  // durable: a message acknowledged is a message that survives kill -9.
  uint64_t durable = r.durable_seq ? broker_.persistence()->last_issued() : 0;
  // With a cluster, also once JetStream holds the message (with its replicas): then the loss
  // of any one node loses no acknowledged message.
  if (p.qos == 1) ack_when_durable(pr::PacketType::Puback, p.packet_id, reason, durable, r.cluster_seq);
  else if (p.qos == 2) ack_when_durable(pr::PacketType::Pubrec, p.packet_id, reason, durable, r.cluster_seq);
}

// ---------------------------------------------------------------- acknowledgements

void SessionDriver::on_ack(const pr::Ack& a) {
  switch (a.type) {
    case pr::PacketType::Puback:
      if (!session_->on_puback(a.packet_id)) LOG_DEBUG("'%s': PUBACK for unknown id %u", client_id().c_str(), a.packet_id);
      break;
    case pr::PacketType::Pubrec:
      if (pr::is_error(a.reason)) {
        session_->on_pubrec(a.packet_id, true);
      } else if (session_->on_pubrec(a.packet_id, false)) {
        engine_.send_ack(pr::PacketType::Pubrel, a.packet_id, Reason::Success);
      } else {
        engine_.send_ack(pr::PacketType::Pubrel, a.packet_id, Reason::PacketIdentifierNotFound);
      }
      break;
    case pr::PacketType::Pubrel: {
      bool known = session_->incoming_qos2_release(a.packet_id);
      engine_.send_ack(pr::PacketType::Pubcomp, a.packet_id, known ? Reason::Success : Reason::PacketIdentifierNotFound);
      break;
    }
    case pr::PacketType::Pubcomp:
      if (!session_->on_pubcomp(a.packet_id)) LOG_DEBUG("'%s': PUBCOMP for unknown id %u", client_id().c_str(), a.packet_id);
      break;
    default: break;
  }
}

// ---------------------------------------------------------------- SUBSCRIBE / UNSUBSCRIBE

void SessionDriver::on_subscribe(pr::Subscribe& s) {
  const util::TimePoint now = now_;
  const BrokerConfig& cfg = broker_.config();
  uint32_t sub_id = s.properties.subscription_identifiers.empty() ? 0 : s.properties.subscription_identifiers[0];
  pr::Suback ack;
  ack.packet_id = s.packet_id;
  std::vector<const pr::Subscription*> accepted;
  for (const auto& sub : s.subscriptions) {
    auto shared = pr::parse_shared_filter(sub.filter);
    bool valid = shared ? (!shared->group.empty() && pr::valid_topic_filter(shared->filter))
                        : pr::valid_topic_filter(sub.filter);
    if (valid && !topic_within_limits(shared ? shared->filter : std::string_view(sub.filter), cfg)) valid = false;
    if (!valid) {
      ack.reasons.push_back(Reason::TopicFilterInvalid);
      continue;
    }
    if (shared && sub.options.no_local)
      return fail(Reason::ProtocolError, "No Local on a shared subscription");  // [MQTT-3.8.3-4, 5.0]
    if (!broker_.access().can_subscribe(*session_->identity(), std::string(shared ? shared->filter : sub.filter))) {
      LOG_INFO_LIMITED("acl.denied", "'%s': subscription to '%s' denied by ACL", client_id().c_str(), sub.filter.c_str());
      ack.reasons.push_back(Reason::NotAuthorized);
      continue;
    }
    if (cfg.max_subscriptions_per_client && session_->subscription_count() >= cfg.max_subscriptions_per_client &&
        !session_->has_subscription(sub.filter)) {  // replacing one is not adding one
      ack.reasons.push_back(Reason::QuotaExceeded);
      continue;
    }
    uint8_t granted = std::min(sub.options.qos, cfg.maximum_qos);
    ack.reasons.push_back(static_cast<Reason>(granted));
    accepted.push_back(&sub);
  }
  if (bridge_peer_) {
    // A 3.1/3.1.1 bridge (level 0x83/0x84) gets what a 5.0 bridge asks for itself: its own
    // messages do not come back to it, and retained flags pass through.
    for (pr::Subscription& sub : s.subscriptions) {
      if (pr::parse_shared_filter(sub.filter)) continue;
      sub.options.no_local = true;
      sub.options.retain_as_published = true;
    }
  }
  if (v5() && std::any_of(ack.reasons.begin(), ack.reasons.end(), [](Reason r) { return pr::is_error(r); }))
    ack.properties.reason_string = "one or more subscriptions refused (see the reason codes)";
  engine_.send(ack);  // before any retained or held message
  for (const pr::Subscription* sub : accepted) {
    pr::Subscription granted = *sub;
    granted.options.qos = std::min(sub->options.qos, cfg.maximum_qos);
    broker_.subscribe(session_, granted, sub_id, now);
    LOG_DEBUG("'%s' subscribed to '%s' (QoS %u)", client_id().c_str(), granted.filter.c_str(), granted.options.qos);
  }
}

void SessionDriver::on_unsubscribe(pr::Unsubscribe& u) {
  pr::Unsuback ack;
  ack.packet_id = u.packet_id;
  for (const auto& f : u.filters) {
    bool existed = broker_.unsubscribe(session_, f);
    ack.reasons.push_back(existed ? Reason::Success : Reason::NoSubscriptionExisted);
  }
  engine_.send(ack);
}

void SessionDriver::on_disconnect(const pr::Disconnect& d) {
  if (d.properties.session_expiry_interval) {
    if (session_expiry_ == 0 && *d.properties.session_expiry_interval != 0)
      return fail(Reason::ProtocolError, "session expiry set on DISCONNECT after 0 at CONNECT");  // 5.0 section 3.14.2.2.2
    session_expiry_ = std::min(*d.properties.session_expiry_interval, broker_.config().max_session_expiry);
    session_->set_expiry_interval(session_expiry_);
  }
  // [MQTT-3.14.4-3, 3.1.1 and 5.0]: a normal DISCONNECT discards the will; 0x04 asks for it
  // to be sent.
  will_on_close_ = d.reason == Reason::DisconnectWithWill;
  set_close_reason(std::string("client sent DISCONNECT (") + pr::reason_name(d.reason) + ")");
  engine_.close();
  end_connection(now_);
}

// ---------------------------------------------------------------- output

void SessionDriver::consume_output(size_t n) {
  engine_.consume_output(n);
  // Counted as written, so every byte is counted once, whoever encoded it.
  broker_.stats().add(Counter::BytesSent, static_cast<int64_t>(n));
}

bool SessionDriver::ack_ready(uint64_t seq, uint64_t cluster_seq) const {
  Persistence* store = broker_.persistence();
  if (seq && store && store->committed() < seq) return false;
  ClusterLink* cluster = broker_.cluster();
  return !cluster_seq || !cluster || cluster->acked() >= cluster_seq;
}

void SessionDriver::ack_when_durable(pr::PacketType type, uint16_t packet_id, Reason reason, uint64_t seq,
                                     uint64_t cluster_seq) {
  if ((!rare_ || rare_->deferred_acks.empty()) && ack_ready(seq, cluster_seq)) {
    engine_.send_ack(type, packet_id, reason);
    return;
  }
  rare().deferred_acks.push_back({seq, cluster_seq, type, packet_id, reason});
  // Whichever comes last wakes this connection; flush_deferred_acks checks both.
  if (Persistence* store = broker_.persistence(); seq && store) store->notify_when_durable(seq, Link{waker_, token_});
  if (ClusterLink* cluster = broker_.cluster(); cluster_seq && cluster)
    cluster->notify_when_acked(cluster_seq, Link{waker_, token_});
}

void SessionDriver::flush_deferred_acks() {
  if (!rare_) return;
  std::vector<DeferredAck>& acks = rare_->deferred_acks;
  size_t done = 0;
  for (; done < acks.size(); ++done) {
    const DeferredAck& a = acks[done];
    if (!ack_ready(a.seq, a.cluster_seq)) break;
    engine_.send_ack(a.type, a.packet_id, a.reason);
  }
  acks.erase(acks.begin(), acks.begin() + static_cast<ptrdiff_t>(done));
}

void SessionDriver::send_publish(const Sendable& s, util::TimePoint now) {
  const Outbound& o = s.out;
  const Message& m = *o.msg;
  pr::PublishView v;
  v.topic = m.topic;
  v.payload = m.payload;
  v.qos = o.qos;
  v.retain = o.retain;
  v.dup = s.dup;
  v.packet_id = s.packet_id;
  if (m.payload.size() >= pr::kSendByReferenceMin) v.payload_owner = o.msg;  // written from the message
  if (v5()) {
    v.properties = m.properties.get();
    v.subscription_identifiers = o.subscription_ids;
    v.message_expiry_override = m.remaining_expiry(now);  // [MQTT-3.3.2-6, 5.0]
  }
  size_t size = engine_.send_publish(v);
  if (size == 0) {
    // [MQTT-3.1.2-25, 5.0]: too large for the client; discard as if delivered.
    LOG_DEBUG("'%s': dropping message on '%s': larger than the client's maximum packet size %u",
              client_id().c_str(), m.topic.c_str(), engine_.peer_max_packet());
    if (o.qos > 0) session_->drop_inflight(s.packet_id);
    return;
  }
  broker_.stats().add(Stats::sent_counter(o.qos));
}

void SessionDriver::pump(util::TimePoint now) {
  if (state_ != State::Connected || engine_.closing()) return;
  thread_local std::vector<Sendable> scratch;  // one per worker, not one per connection
  while (engine_.pending_size() < kOutputHighWater) {
    scratch.clear();
    session_->take_sendable(token_, scratch, send_window_, kTakeBatch, now);
    if (scratch.empty()) break;
    for (const Sendable& s : scratch) send_publish(s, now);
    // Fewer than asked: the queue is empty or the window full, and asking again would only
    // take the lock to learn that. A message queued meanwhile wakes this connection again.
    if (scratch.size() < kTakeBatch) break;
  }
  scratch.clear();
  Session::page_in_if_needed(session_);  // a queue spilled to disk is read back as it drains
}

// ---------------------------------------------------------------- events from the transport

void SessionDriver::on_wake(util::TimePoint now) {
  now_ = now;
  if (parked() && !engine_.closing() && !auth_pending()) {
    pr::Connect c = std::move(*rare_->parked_connect);
    rare_->parked_connect.reset();
    handle_connect(c, now);
    if (!engine_.closing() && !parked()) engine_.resume(*this, now);  // input that came meanwhile
    pump(now);
    return;
  }
  if (state_ != State::Connected || engine_.closing()) return;
  flush_deferred_acks();
  const Session::WakeCheck check = session_->wake_check(token_);
  if (session_->admin_disconnect_requested() || check.deauthorized) {
    // A reload withdrew the credentials (5.0: DISCONNECT 0x87), or an operator disconnected the
    // client through the HTTP API (0x98). Either way the will is published as for any
    // connection the server closes [MQTT-3.1.2-8, 3.1.1 and 5.0].
    if (session_->admin_disconnect_requested()) fail(Reason::AdministrativeAction, "disconnected by an administrator");
    else fail(Reason::NotAuthorized, "credentials withdrawn by a reload");
    end_connection(now);
    return;
  }
  if (!check.owner || check.takeover_requested) {
    // [MQTT-3.1.4-2, 3.1.1], [MQTT-3.1.4-3, 5.0]: another connection took the session over.
    if (v5()) {
      pr::Disconnect d;
      d.reason = Reason::SessionTakenOver;
      engine_.send(d);
    }
    set_close_reason("session taken over");
    LOG_INFO("client '%s' from %s: session taken over by a new connection", client_id().c_str(), peer_.c_str());
    engine_.close();
    end_connection(now);  // hands the session over now, not when the socket is finally closed
    return;
  }
  pump(now);
}

void SessionDriver::on_output_drained(util::TimePoint now) { pump(now); }

void SessionDriver::on_tick(util::TimePoint now) {
  if (closing()) return;
  now_ = now;
  if (state_ == State::AwaitConnect) {
    uint32_t timeout = broker_.config().connect_timeout;
    if (timeout && now - tokens_at_ > util::Seconds(timeout)) {
      set_close_reason("no CONNECT within connect timeout");
      LOG_INFO_LIMITED("connect.timeout", "closing connection from %s: no CONNECT within %us", peer_.c_str(), timeout);
      engine_.close();
    }
    return;
  }
  engine_.tick(*this, now);
}

void SessionDriver::on_shutdown() {
  if (closing() || state_ != State::Connected) {
    engine_.close();
    return;
  }
  if (v5()) {
    pr::Disconnect d;
    d.reason = Reason::ServerShuttingDown;
    engine_.send(d);
  }
  set_close_reason("server shutting down");
  will_on_close_ = false;
  engine_.close();
}

void SessionDriver::on_closed(util::TimePoint now) {
  release_input_charge();
  end_connection(now);
}

void SessionDriver::end_connection(util::TimePoint now) {
  if (state_ == State::Closed) return;
  bool was_connected = state_ == State::Connected;
  state_ = State::Closed;
  engine_.close();
  if (!was_connected) return;
  if (!rare_ || rare_->close_reason.empty()) set_close_reason("connection lost");
  std::optional<WillMessage> will;
  if (will_on_close_ && will_) will = std::move(*will_);
  will_.reset();
  broker_.disconnect(session_, token_, std::move(will), now);
  broker_.stats().add(Counter::ClientsConnected, -1);
  LOG_INFO("client '%s' disconnected from %s: %s", client_id().c_str(), peer_.c_str(), rare_->close_reason.c_str());
  // session_ stays: it names the client until this driver goes, moments later.
}

}  // namespace musqratt::broker
