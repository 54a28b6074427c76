#include "broker/client_handler.h"

#include <cinttypes>
#include <random>

#include "protocol/publish_encoder.h"
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

/// Level byte of a CONNECT body, if it can be found, so a CONNECT too broken to decode can
/// still be answered in the client's own protocol version.
std::optional<uint8_t> peek_connect_level(std::span<const uint8_t> body) {
  if (body.size() < 2) return std::nullopt;
  size_t name_len = size_t{body[0]} << 8 | body[1];
  if (body.size() < 2 + name_len + 1) return std::nullopt;
  return body[2 + name_len];
}

bool topic_within_limits(std::string_view topic, const BrokerConfig& c) {
  if (c.max_topic_length && topic.size() > c.max_topic_length) return false;
  if (c.max_topic_levels) {
    size_t levels = 1 + static_cast<size_t>(std::count(topic.begin(), topic.end(), '/'));
    if (levels > c.max_topic_levels) return false;
  }
  return true;
}

/// The application properties a PUBLISH carries on to its receivers [MQTT-3.3.2-16..20];
/// null if it carries none.
std::shared_ptr<const pr::Properties> forwarded_properties(pr::Properties&& in) {
  if (!in.payload_format_indicator && !in.content_type && !in.response_topic && !in.correlation_data &&
      in.user_properties.empty())
    return nullptr;
  auto p = std::make_shared<pr::Properties>();
  p->payload_format_indicator = in.payload_format_indicator;
  p->content_type = std::move(in.content_type);
  p->response_topic = std::move(in.response_topic);
  p->correlation_data = std::move(in.correlation_data);
  p->user_properties = std::move(in.user_properties);
  return p;
}

}  // namespace

ClientHandler::ClientHandler(Broker& broker, Waker* waker, uint64_t token, std::string peer,
                             util::TimePoint now)
    : broker_(broker), waker_(waker), token_(token), peer_(std::move(peer)), tokens_at_(now), accepted_at_(now),
      last_received_(now) {
  size_t colon = peer_.rfind(':');
  peer_ip_len_ = static_cast<uint8_t>(std::min<size_t>(colon == std::string::npos ? peer_.size() : colon, 255));
  const std::string ip(peer_ip());
  admitted_ = broker_.admit_connection(ip);
  if (!admitted_) {
    LOG_WARN("refusing connection from %s: more than %u connections from %s", peer_.c_str(),
             broker_.config().max_connections_per_ip, ip.c_str());
    set_close_reason("per-IP connection limit");
    closing_ = true;
  }
  publish_tokens_ = broker_.config().max_publish_rate;
}

ClientHandler::~ClientHandler() {
  on_closed(util::now());
  if (admitted_) broker_.release_connection(std::string(peer_ip()));
}

const std::string& ClientHandler::client_id() const {
  static const std::string none;
  return session_ ? session_->client_id() : none;
}

void ClientHandler::consume_output(size_t n) {
  out_pos_ += static_cast<uint32_t>(n);  // output is bounded by the maximum packet size (< 4 GiB)
  if (out_pos_ >= out_.size()) {
    out_.clear();
    out_pos_ = 0;
  } else if (out_pos_ > 64 * 1024 && out_pos_ * 2 > out_.size()) {
    out_.erase(0, out_pos_);
    out_pos_ = 0;
  }
}

// ---------------------------------------------------------------- input

void ClientHandler::on_bytes(std::span<const uint8_t> data, util::TimePoint now) {
  if (closing_ || state_ == State::Closed) return;
  broker_.stats().add(Counter::BytesReceived, static_cast<int64_t>(data.size()));
  process_input(data, now);
}

void ClientHandler::process_input(std::span<const uint8_t> data, util::TimePoint now) {
  if (parked()) {
    in_.append(reinterpret_cast<const char*>(data.data()), data.size());
    return;
  }
  std::span<const uint8_t> buf = data;
  if (!in_.empty()) {
    in_.append(reinterpret_cast<const char*>(data.data()), data.size());
    buf = {reinterpret_cast<const uint8_t*>(in_.data()), in_.size()};
  }
  size_t pos = 0;
  // Before CONNECT, no more than a CONNECT can need (five 64 KiB fields and change): an
  // unauthenticated peer cannot make us buffer more.
  constexpr uint32_t kMaxConnectSize = 512 * 1024;
  const uint32_t limit = state_ == State::AwaitConnect ? std::min(kMaxConnectSize, broker_.config().max_packet_size)
                                                       : broker_.config().max_packet_size;
  while (!closing_ && !parked() && pos < buf.size()) {
    pr::FrameHeader h;
    auto status = pr::read_frame_header(buf.subspan(pos), h);
    if (status == pr::FrameStatus::Malformed) {
      fail(Reason::MalformedPacket, "malformed fixed header");
      break;
    }
    if (status == pr::FrameStatus::NeedMore) break;
    // Checked on the header alone: nothing is buffered for a packet we will refuse
    // [MQTT-3.1.2-24 server side].
    if (h.total_size() > limit) {
      fail(Reason::PacketTooLarge, "packet exceeds maximum packet size");
      break;
    }
    if (state_ == State::AwaitConnect && h.type() != pr::PacketType::Connect) {
      set_close_reason("first packet was not CONNECT");
      LOG_INFO("closing connection from %s: first packet is %s, not CONNECT [MQTT-3.1.0-1]",
               peer_.c_str(), pr::packet_type_name(h.type()));
      closing_ = true;
      break;
    }
    if (buf.size() - pos < h.total_size()) break;
    handle_frame(h, buf.subspan(pos + h.header_size, h.remaining_length), now);
    pos += h.total_size();
  }
  if (closing_) {
    in_.clear();
  } else if (in_.empty()) {
    in_.assign(reinterpret_cast<const char*>(buf.data() + pos), buf.size() - pos);
  } else {
    in_.erase(0, pos);
  }
  pump(now);
}

void ClientHandler::handle_frame(const pr::FrameHeader& h, std::span<const uint8_t> body, util::TimePoint now) {
  last_received_ = now;
  auto decoded = pr::decode_packet(h.first_byte, body, version_);
  if (!decoded) {
    if (state_ == State::AwaitConnect) {
      auto level = peek_connect_level(body);
      if (decoded.error().reason == Reason::UnsupportedProtocolVersion) {
        // [MQTT-3.1.2-2]: answer in 3.1.1 form with 0x01 (5.0 clients get 0x84 the same way).
        version_ = level == 5 ? Version::V5 : Version::V311;
        reject_connect(Reason::UnsupportedProtocolVersion, decoded.error().detail);
        return;
      }
      if (level == 5) version_ = Version::V5;
      if (level == 4 || level == 5) {
        reject_connect(decoded.error().reason, decoded.error().detail);
        return;
      }
      set_close_reason(decoded.error().detail);
      LOG_INFO("closing connection from %s: bad CONNECT: %s", peer_.c_str(), decoded.error().detail);
      closing_ = true;
      return;
    }
    fail(decoded.error().reason, decoded.error().detail);
    return;
  }
  pr::Packet& packet = *decoded;
  switch (pr::packet_type(packet)) {
    case pr::PacketType::Connect:
      if (state_ != State::AwaitConnect) {
        fail(Reason::ProtocolError, "second CONNECT");  // [MQTT-3.1.0-2]
        return;
      }
      handle_connect(std::get<pr::Connect>(packet), now);
      return;
    case pr::PacketType::Publish: handle_publish(std::get<pr::Publish>(packet), now); return;
    case pr::PacketType::Puback:
    case pr::PacketType::Pubrec:
    case pr::PacketType::Pubrel:
    case pr::PacketType::Pubcomp: handle_ack(std::get<pr::Ack>(packet), now); return;
    case pr::PacketType::Subscribe: handle_subscribe(std::get<pr::Subscribe>(packet), now); return;
    case pr::PacketType::Unsubscribe: handle_unsubscribe(std::get<pr::Unsubscribe>(packet)); return;
    case pr::PacketType::Pingreq: send(pr::Pingresp{}); return;
    case pr::PacketType::Disconnect: handle_disconnect(std::get<pr::Disconnect>(packet), now); return;
    case pr::PacketType::Auth: fail(Reason::ProtocolError, "AUTH without an authentication method"); return;
    default: fail(Reason::ProtocolError, "server-to-client packet sent by a client"); return;
  }
}

// ---------------------------------------------------------------- CONNECT

void ClientHandler::handle_connect(pr::Connect& c, util::TimePoint now) {
  const BrokerConfig& cfg = broker_.config();
  version_ = c.version;
  bool assigned = false;
  if (c.client_id.empty()) {
    if (version_ == Version::V31 || (version_ == Version::V311 && !c.clean_start)) {
      reject_connect(Reason::ClientIdentifierNotValid, "empty client id without clean session");  // [MQTT-3.1.3-8]
      return;
    }
    c.client_id = random_client_id();
    assigned = true;
  }
  if (!c.clean_start && !takeover_waited_ && broker_.defer_for_takeover(c.client_id, Link{waker_, token_})) {
    takeover_waited_ = true;  // wait once; the holder's worker wakes us when it has left
    rare().parked_connect = std::make_unique<pr::Connect>(std::move(c));
    return;
  }
  if (c.properties.authentication_method) {
    reject_connect(Reason::BadAuthenticationMethod, "enhanced authentication is not supported", c.client_id);
    return;
  }
  if (c.will) {
    if (!pr::valid_topic_name(c.will->topic) || !topic_within_limits(c.will->topic, cfg)) {
      reject_connect(Reason::TopicNameInvalid, "invalid will topic", c.client_id);
      return;
    }
    if (c.will->qos > cfg.maximum_qos) {
      reject_connect(Reason::QosNotSupported, "will QoS above maximum", c.client_id);  // [MQTT-3.2.2-12]
      return;
    }
    if (c.will->retain && !cfg.retain_available) {
      reject_connect(Reason::RetainNotSupported, "retained will not supported", c.client_id);  // [MQTT-3.2.2-13]
      return;
    }
  }
  auth::Identity identity;
  if (rare_ && rare_->certificate_username) {
    c.username = *rare_->certificate_username;
    identity = auth::Identity{*c.username, c.client_id, false};
  } else if (Reason r = broker_.access().authenticate(c.username, c.password, c.client_id, identity); r != Reason::Success) {
    reject_connect(r, r == Reason::NotAuthorized ? "anonymous access is not allowed" : "bad user name or password", c.client_id);
    return;
  }
  if (c.will && !broker_.access().can_publish(identity, c.will->topic)) {
    reject_connect(Reason::NotAuthorized, "will topic not allowed by ACL", c.client_id);
    return;
  }
  if (cfg.max_connections && broker_.stats().get(Counter::ClientsConnected) >= cfg.max_connections) {
    reject_connect(v5() ? Reason::QuotaExceeded : Reason::ServerUnavailable, "connection limit reached", c.client_id);
    return;
  }

  // Session expiry: 5.0 property, 3.1.1 configurable default for clean_session=0.
  uint32_t requested_expiry = v5() ? c.properties.session_expiry_interval.value_or(0)
                                   : (c.clean_start ? 0 : cfg.session_expiry_default);
  session_expiry_ = std::min(requested_expiry, cfg.max_session_expiry);

  keep_alive_ = c.keep_alive;
  std::optional<uint16_t> server_keep_alive;
  if (v5()) {
    if (cfg.server_keepalive) {
      server_keep_alive = cfg.server_keepalive;
    } else if (cfg.max_keepalive < 65535 && (keep_alive_ == 0 || keep_alive_ > cfg.max_keepalive)) {
      server_keep_alive = cfg.max_keepalive;
    }
    if (server_keep_alive) keep_alive_ = *server_keep_alive;  // [MQTT-3.2.2-21]
    send_window_ = std::min<uint32_t>(c.properties.receive_maximum.value_or(65535), cfg.max_inflight);
    client_max_packet_ = c.properties.maximum_packet_size.value_or(0xFFFFFFFF);
    client_alias_max_ = c.properties.topic_alias_maximum.value_or(0);
    problem_information_ = c.properties.request_problem_information.value_or(1) != 0;
  } else {
    send_window_ = cfg.max_inflight;
  }

  if (c.will) {
    auto m = broker_.new_message();
    m->topic = std::move(c.will->topic);
    m->payload = std::move(c.will->payload);
    m->qos = c.will->qos;
    m->retain = c.will->retain;
    auto expiry = broker_.effective_message_expiry(c.will->properties.message_expiry_interval);
    uint32_t delay = c.will->properties.will_delay_interval.value_or(0);
    m->properties = forwarded_properties(std::move(c.will->properties));
    // The expiry clock of a will starts when it is published; approximated from connect time
    // plus its delay, which is when a delayed will is sent at the earliest.
    if (expiry) m->expires_at = now + util::Seconds(*expiry) + util::Seconds(delay);
    will_ = std::make_unique<WillMessage>(WillMessage{std::move(m), delay});
  }

  ConnectResult r = broker_.connect(
      ConnectRequest{c.client_id, c.clean_start, session_expiry_, version_, Link{waker_, token_}}, now);
  session_ = r.session;
  broker_.set_identity(session_, identity, rare_ && rare_->certificate_username);  // for ACL and reload checks
  const std::string username = c.username.value_or("");
  state_ = State::Connected;
  broker_.stats().add(Counter::ClientsConnected);
  broker_.stats().add(Counter::ClientsConnectedEver);

  pr::Connack ack;
  ack.session_present = r.session_present;  // [MQTT-3.2.2-2], [MQTT-3.2.2-3]
  if (v5()) {
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
  send(ack);
  LOG_INFO("client '%s'%s%s%s connected from %s (MQTT %s, %s, keep-alive %us, session expiry %us%s)",
           client_id().c_str(), username.empty() ? "" : " (user '", username.c_str(), username.empty() ? "" : "')",
           peer_.c_str(), version_name(version_),
           c.clean_start ? "clean start" : "resume", keep_alive_, session_expiry_,
           r.session_present ? ", session present" : "");

  std::vector<Sendable> resend;
  session_->resend_inflight(token_, resend);
  for (const Sendable& s : resend) {
    if (s.kind == Sendable::Kind::Pubrel) send_ack(pr::PacketType::Pubrel, s.packet_id, Reason::Success);
    else send_publish(s, now);
  }
}

void ClientHandler::reject_connect(Reason reason, const char* why, std::string_view client_id) {
  pr::Connack ack;
  ack.reason = reason;
  if (v5()) ack.properties.reason_string = why;
  send(ack);
  set_close_reason(why);
  LOG_INFO("refused connection from %s (client '%.*s'): %s (%s)", peer_.c_str(), int(client_id.size()), client_id.data(),
           pr::reason_name(reason), why);
  closing_ = true;
  will_.reset();  // no session was established, so no will [MQTT-3.2.2-?]
}

void ClientHandler::fail(Reason reason, const char* why) {
  if (closing_) return;
  if (v5() && state_ == State::Connected) {
    pr::Disconnect d;
    d.reason = reason;
    d.properties.reason_string = why;
    send(d);
  }
  set_close_reason(std::string(pr::reason_name(reason)) + ": " + why);
  LOG_INFO("closing client '%s' from %s: %s (%s)", client_id().c_str(), peer_.c_str(),
           pr::reason_name(reason), why);
  closing_ = true;
}

// ---------------------------------------------------------------- PUBLISH in

void ClientHandler::handle_publish(pr::Publish& p, util::TimePoint now) {
  const BrokerConfig& cfg = broker_.config();
  if (v5()) {
    if (!p.properties.subscription_identifiers.empty())
      return fail(Reason::ProtocolError, "subscription identifier in client PUBLISH");  // [MQTT-3.3.4-6]
    if (p.properties.topic_alias) {
      uint16_t alias = *p.properties.topic_alias;
      if (alias == 0 || alias > cfg.topic_alias_maximum)
        return fail(Reason::TopicAliasInvalid, "topic alias out of range");  // [MQTT-3.3.2-8], [MQTT-3.3.2-9]
      if (p.topic.empty()) {
        auto it = rare().aliases_in.find(alias);
        if (it == rare().aliases_in.end()) return fail(Reason::ProtocolError, "unknown topic alias");
        p.topic = it->second;
      } else {
        rare().aliases_in[alias] = p.topic;
      }
    }
  }
  if (uint32_t rate = cfg.max_publish_rate) {
    double elapsed = std::chrono::duration<double>(now - tokens_at_).count();
    tokens_at_ = now;
    publish_tokens_ = std::min<double>(rate, publish_tokens_ + elapsed * rate);
    if (publish_tokens_ < 1) return fail(Reason::MessageRateTooHigh, "publish rate limit exceeded");
    publish_tokens_ -= 1;
  }
  if (!pr::valid_topic_name(p.topic)) return fail(Reason::TopicNameInvalid, "invalid topic name");  // [MQTT-3.3.2-2]
  if (!topic_within_limits(p.topic, cfg)) return fail(Reason::TopicNameInvalid, "topic exceeds configured limits");
  if (p.qos > cfg.maximum_qos) return fail(Reason::QosNotSupported, "QoS above maximum");  // [MQTT-3.2.2-11]
  if (p.retain && !cfg.retain_available) return fail(Reason::RetainNotSupported, "retain not available");
  if (p.qos == 2) {
    if (session_->incoming_qos2_seen(p.packet_id)) {
      // A resent PUBLISH of an exchange still open: acknowledge again, deliver nothing twice.
      Persistence* store = broker_.persistence();
      ack_when_durable(pr::PacketType::Pubrec, p.packet_id, Reason::Success, store ? store->last_issued() : 0);
      return;
    }
    if (session_->incoming_qos2_count() >= cfg.receive_maximum)
      return fail(Reason::ReceiveMaximumExceeded, "more QoS 2 messages in flight than Receive Maximum");  // [MQTT-3.3.4-9]
  }

  if (!broker_.access().can_publish(*session_->identity(), p.topic)) {
    // Denied publishes are dropped; 5.0 says why in the acknowledgement.
    LOG_INFO("'%s': publish to '%s' denied by ACL", client_id().c_str(), p.topic.c_str());
    Reason denied = v5() ? Reason::NotAuthorized : Reason::Success;
    if (p.qos == 1) send_ack(pr::PacketType::Puback, p.packet_id, denied);
    if (p.qos == 2) send_ack(pr::PacketType::Pubrec, p.packet_id, denied);
    return;
  }
  auto m = broker_.new_message();
  m->topic = std::move(p.topic);
  m->payload = std::move(p.payload);
  m->qos = p.qos;
  m->retain = p.retain;
  m->origin = session_->id();
  auto expiry = broker_.effective_message_expiry(p.properties.message_expiry_interval);
  if (expiry) m->expires_at = now + util::Seconds(*expiry);
  if (v5()) m->properties = forwarded_properties(std::move(p.properties));
  RouteResult r = broker_.publish(m, now);
  Reason reason = !v5()        ? Reason::Success
                  : r.refused  ? Reason::QuotaExceeded  // memory budget spent
                  : (r.receivers == 0 && !r.held) ? Reason::NoMatchingSubscribers
                                                  : Reason::Success;
  if (p.qos == 2 && !pr::is_error(reason)) session_->incoming_qos2_add(p.packet_id);
  // With persistence, the acknowledgement waits until everything this publish stored is
  // durable: a message acknowledged is a message that survives kill -9.
  uint64_t durable = r.durable_seq ? broker_.persistence()->last_issued() : 0;
  if (p.qos == 1) ack_when_durable(pr::PacketType::Puback, p.packet_id, reason, durable);
  else if (p.qos == 2) ack_when_durable(pr::PacketType::Pubrec, p.packet_id, reason, durable);
}

// ---------------------------------------------------------------- acknowledgements

void ClientHandler::handle_ack(const pr::Ack& a, util::TimePoint now) {
  switch (a.type) {
    case pr::PacketType::Puback:
      if (!session_->on_puback(a.packet_id)) LOG_DEBUG("'%s': PUBACK for unknown id %u", client_id().c_str(), a.packet_id);
      break;
    case pr::PacketType::Pubrec:
      if (pr::is_error(a.reason)) {
        session_->on_pubrec(a.packet_id, true);
      } else if (session_->on_pubrec(a.packet_id, false)) {
        send_ack(pr::PacketType::Pubrel, a.packet_id, Reason::Success);
      } else {
        send_ack(pr::PacketType::Pubrel, a.packet_id, Reason::PacketIdentifierNotFound);
      }
      break;
    case pr::PacketType::Pubrel: {
      bool known = session_->incoming_qos2_release(a.packet_id);
      send_ack(pr::PacketType::Pubcomp, a.packet_id, known ? Reason::Success : Reason::PacketIdentifierNotFound);
      break;
    }
    case pr::PacketType::Pubcomp:
      if (!session_->on_pubcomp(a.packet_id)) LOG_DEBUG("'%s': PUBCOMP for unknown id %u", client_id().c_str(), a.packet_id);
      break;
    default: break;
  }
  pump(now);
}

// ---------------------------------------------------------------- SUBSCRIBE / UNSUBSCRIBE

void ClientHandler::handle_subscribe(const pr::Subscribe& s, util::TimePoint now) {
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
      return fail(Reason::ProtocolError, "No Local on a shared subscription");  // [MQTT-3.8.3-4]
    if (!broker_.access().can_subscribe(*session_->identity(), std::string(shared ? shared->filter : sub.filter))) {
      LOG_INFO("'%s': subscription to '%s' denied by ACL", client_id().c_str(), sub.filter.c_str());
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
  if (v5() && problem_information_ &&
      std::any_of(ack.reasons.begin(), ack.reasons.end(), [](Reason r) { return pr::is_error(r); }))
    ack.properties.reason_string = "one or more subscriptions refused (see the reason codes)";
  send(ack);  // before any retained or held message
  for (const pr::Subscription* sub : accepted) {
    pr::Subscription granted = *sub;
    granted.options.qos = std::min(sub->options.qos, cfg.maximum_qos);
    broker_.subscribe(session_, granted, sub_id, now);
    LOG_DEBUG("'%s' subscribed to '%s' (QoS %u)", client_id().c_str(), granted.filter.c_str(), granted.options.qos);
  }
}

void ClientHandler::handle_unsubscribe(const pr::Unsubscribe& u) {
  pr::Unsuback ack;
  ack.packet_id = u.packet_id;
  for (const auto& f : u.filters) {
    bool existed = broker_.unsubscribe(session_, f);
    ack.reasons.push_back(existed ? Reason::Success : Reason::NoSubscriptionExisted);
  }
  send(ack);
}

void ClientHandler::handle_disconnect(const pr::Disconnect& d, util::TimePoint now) {
  if (d.properties.session_expiry_interval) {
    if (session_expiry_ == 0 && *d.properties.session_expiry_interval != 0)
      return fail(Reason::ProtocolError, "session expiry set on DISCONNECT after 0 at CONNECT");  // [MQTT-3.14.2-2]
    session_expiry_ = std::min(*d.properties.session_expiry_interval, broker_.config().max_session_expiry);
    session_->set_expiry_interval(session_expiry_);
  }
  // [MQTT-3.14.4-3]: a normal DISCONNECT discards the will; 0x04 asks for it to be sent.
  will_on_close_ = d.reason == Reason::DisconnectWithWill;
  set_close_reason(std::string("client sent DISCONNECT (") + pr::reason_name(d.reason) + ")");
  closing_ = true;
  end_connection(now);
}

// ---------------------------------------------------------------- output

void ClientHandler::send(const pr::Packet& p) {
  size_t n = pr::encode_packet(p, version_, out_);
  broker_.stats().add(Counter::BytesSent, static_cast<int64_t>(n));
}

void ClientHandler::send_ack(pr::PacketType type, uint16_t packet_id, Reason reason) {
  pr::Ack a;
  a.type = type;
  a.packet_id = packet_id;
  a.reason = reason;
  // A negative acknowledgement says why, unless the client asked for no problem information
  // [MQTT-3.1.2-29].
  if (v5() && pr::is_error(reason) && problem_information_) a.properties.reason_string = pr::reason_name(reason);
  send(a);
}

void ClientHandler::ack_when_durable(pr::PacketType type, uint16_t packet_id, Reason reason, uint64_t seq) {
  Persistence* store = broker_.persistence();
  if ((!rare_ || rare_->deferred_acks.empty()) && (seq == 0 || !store || store->committed() >= seq)) {
    send_ack(type, packet_id, reason);
    return;
  }
  rare().deferred_acks.push_back({seq, type, packet_id, reason});
  if (seq) store->notify_when_durable(seq, Link{waker_, token_});
}

void ClientHandler::flush_deferred_acks() {
  if (!rare_) return;
  Persistence* store = broker_.persistence();
  std::vector<DeferredAck>& acks = rare_->deferred_acks;
  while (!acks.empty()) {
    const DeferredAck& a = acks.front();
    if (a.seq && store && store->committed() < a.seq) break;
    send_ack(a.type, a.packet_id, a.reason);
    acks.erase(acks.begin());
  }
}

void ClientHandler::send_publish(const Sendable& s, util::TimePoint now) {
  const Outbound& o = s.out;
  const Message& m = *o.msg;
  pr::PublishView v;
  v.topic = m.topic;
  v.payload = m.payload;
  v.qos = o.qos;
  v.retain = o.retain;
  v.dup = s.dup;
  v.packet_id = s.packet_id;
  if (v5()) {
    v.properties = m.properties.get();
    v.subscription_identifiers = o.subscription_ids;
    v.message_expiry_override = m.remaining_expiry(now);  // [MQTT-3.3.2-6]
    if (client_alias_max_ && !s.dup) {
      auto it = rare().aliases_out.find(m.topic);
      if (it != rare().aliases_out.end()) {
        v.topic_alias = it->second;
        v.topic = {};
      } else if (rare().aliases_out.size() < client_alias_max_) {
        v.topic_alias = static_cast<uint16_t>(rare().aliases_out.size() + 1);  // registered once sent
      }
    }
  }
  size_t size = pr::publish_size(v, version_);
  if (size > client_max_packet_) {
    // [MQTT-3.1.2-25]: too large for the client; discard as if delivered.
    LOG_DEBUG("'%s': dropping %zu-byte message on '%s' (client maximum %u)", client_id().c_str(), size,
              m.topic.c_str(), client_max_packet_);
    if (o.qos > 0) session_->drop_inflight(s.packet_id);
    return;
  }
  if (v.topic_alias && !v.topic.empty()) rare().aliases_out.emplace(m.topic, v.topic_alias);
  pr::encode_publish(v, version_, out_);
  broker_.stats().add(Counter::BytesSent, static_cast<int64_t>(size));
  broker_.stats().add(Counter::MessagesSent);
}

void ClientHandler::pump(util::TimePoint now) {
  if (state_ != State::Connected || closing_) return;
  thread_local std::vector<Sendable> scratch;  // one per worker, not one per connection
  while (out_.size() - out_pos_ < kOutputHighWater) {
    scratch.clear();
    session_->take_sendable(token_, scratch, send_window_, 64, now);
    if (scratch.empty()) break;
    for (const Sendable& s : scratch) send_publish(s, now);
  }
  scratch.clear();
  Session::page_in_if_needed(session_);  // a queue spilled to disk is read back as it drains
}

// ---------------------------------------------------------------- events from the transport

void ClientHandler::on_wake(util::TimePoint now) {
  if (parked() && !closing_) {
    pr::Connect c = std::move(*rare_->parked_connect);
    rare_->parked_connect.reset();
    handle_connect(c, now);
    if (!in_.empty() && !closing_) {
      // Input that arrived while the CONNECT waited: already counted when it was received.
      std::string rest = std::move(in_);
      in_.clear();
      process_input({reinterpret_cast<const uint8_t*>(rest.data()), rest.size()}, now);
    }
    return;
  }
  if (state_ != State::Connected || closing_) return;
  flush_deferred_acks();
  if (session_->deauthorized()) {
    fail(Reason::NotAuthorized, "credentials withdrawn by a reload");  // 5.0: DISCONNECT 0x87
    end_connection(now);
    return;
  }
  if (!session_->is_owner(token_) || session_->takeover_requested()) {
    // [MQTT-3.1.4-3]: another connection took the session over.
    if (v5()) {
      pr::Disconnect d;
      d.reason = Reason::SessionTakenOver;
      send(d);
    }
    set_close_reason("session taken over");
    LOG_INFO("client '%s' from %s: session taken over by a new connection", client_id().c_str(), peer_.c_str());
    closing_ = true;
    end_connection(now);  // hands the session over now, not when the socket is finally closed
    return;
  }
  pump(now);
}

void ClientHandler::on_output_drained(util::TimePoint now) { pump(now); }

void ClientHandler::on_tick(util::TimePoint now) {
  if (closing_ || state_ == State::Closed) return;
  if (state_ == State::AwaitConnect) {
    uint32_t timeout = broker_.config().connect_timeout;
    if (timeout && now - accepted_at_ > util::Seconds(timeout)) {
      set_close_reason("no CONNECT within connect timeout");
      LOG_INFO("closing connection from %s: no CONNECT within %us", peer_.c_str(), timeout);
      closing_ = true;
    }
    return;
  }
  // [MQTT-3.1.2-22]: one and a half times the keep-alive without a packet ends the connection.
  if (keep_alive_ && now - last_received_ > util::Millis(uint64_t{keep_alive_} * 1500)) {
    fail(Reason::KeepAliveTimeout, "keep alive timeout");
  }
}

void ClientHandler::on_shutdown() {
  if (closing_ || state_ != State::Connected) {
    closing_ = true;
    return;
  }
  if (v5()) {
    pr::Disconnect d;
    d.reason = Reason::ServerShuttingDown;
    send(d);
  }
  set_close_reason("server shutting down");
  will_on_close_ = false;
  closing_ = true;
}

void ClientHandler::on_closed(util::TimePoint now) { end_connection(now); }

void ClientHandler::end_connection(util::TimePoint now) {
  if (state_ == State::Closed) return;
  bool was_connected = state_ == State::Connected;
  state_ = State::Closed;
  closing_ = true;
  if (!was_connected) return;
  if (!rare_ || rare_->close_reason.empty()) set_close_reason("connection lost");
  std::optional<WillMessage> will;
  if (will_on_close_ && will_) will = std::move(*will_);
  will_.reset();
  broker_.disconnect(session_, token_, std::move(will), now);
  broker_.stats().add(Counter::ClientsConnected, -1);
  LOG_INFO("client '%s' disconnected from %s: %s", client_id().c_str(), peer_.c_str(), rare_->close_reason.c_str());
  // session_ stays: it names the client until this handler goes, moments later.
}

}  // namespace musqratt::broker
