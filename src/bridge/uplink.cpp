#include "bridge/uplink.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "protocol/forwarded_properties.h"
#include "protocol/reason_table.h"
#include "util/log.h"

namespace musqratt::bridge {

using protocol::Reason;
namespace pr = protocol;

namespace {

std::string describe(Reason r) {
  char code[8];
  snprintf(code, sizeof code, "0x%02X", static_cast<unsigned>(r));
  return std::string(pr::reason_name(r)) + " (" + code + ")";
}

}  // namespace

Uplink::Uplink(UplinkContext ctx, broker::Waker* waker, uint64_t token, std::string peer, util::TimePoint now)
    : ctx_(ctx), waker_(waker), token_(token), peer_(std::move(peer)), started_(now), now_(now) {
  const BridgeConfig& c = ctx_.config;
  const broker::BrokerConfig& bc = ctx_.broker.config();
  engine_.set_max_incoming_packet(bc.max_packet_size);
  pr::Connect connect;
  connect.version = c.version;
  connect.client_id = c.client_id;
  connect.clean_start = c.clean_start;
  connect.keep_alive = c.keepalive;
  connect.username = c.username;
  connect.password = c.password;
  connect.bridge = ctx_.bridge_bit && c.version != pr::Version::V5;
  if (c.version == pr::Version::V5) {
    if (c.session_expiry) connect.properties.session_expiry_interval = c.session_expiry;
    connect.properties.maximum_packet_size = bc.max_packet_size;  // [MQTT-3.1.2-24, 5.0]: larger is refused
  }
  engine_.start(connect, now);
}

Uplink::~Uplink() {
  if (attached_) ctx_.broker.disconnect(ctx_.session, token_, std::nullopt, util::now());
}

// ---------------------------------------------------------------- transport events

void Uplink::on_bytes(std::span<const uint8_t> data, util::TimePoint now) {
  now_ = now;
  engine_.receive(data, *this, now);
  pump(now);
}

void Uplink::consume_output(size_t n, util::TimePoint now) {
  engine_.consume_output(n);
  if (engine_.pending_size() == 0) pump(now);  // room for what waited in the session
}

void Uplink::on_wake(util::TimePoint now) {
  now_ = now;
  flush_deferred_acks();
  pump(now);
}

void Uplink::on_tick(util::TimePoint now) {
  now_ = now;
  if (engine_.closing()) return;
  const util::Millis timeout(ctx_.config.connect_timeout_ms);
  if (!engine_.established()) {
    // A server that accepts TCP (and TLS) but never answers the CONNECT is a stalled upstream.
    if (now - started_ > timeout) {
      if (reason_.empty()) reason_ = "no CONNACK within " + std::to_string(timeout.count()) + " ms (timeout)";
      engine_.close();
    }
    return;
  }
  if (suback_id_ != 0 && now - suback_sent_ > timeout) {
    fail(Reason::UnspecifiedError, "no SUBACK within " + std::to_string(timeout.count()) + " ms (timeout)");
    return;
  }
  engine_.tick(*this, now);  // keep-alive: PINGREQ, and a silent upstream ends the link
}

void Uplink::on_shutdown() {
  shutting_down_ = true;
  if (reason_.empty()) reason_ = "server shutting down";
  if (engine_.established() && !engine_.closing()) {
    pr::Disconnect d;  // normal disconnection: the upstream keeps the session [MQTT-3.14.4-3]
    engine_.send(d);
  }
  engine_.close();
}

void Uplink::on_transport_error(std::string_view reason) {
  if (reason_.empty()) reason_ = std::string(reason);
}

void Uplink::on_closed(util::TimePoint now) {
  if (reported_) return;
  reported_ = true;
  engine_.close();
  bool established = attached_;
  if (attached_) {
    ctx_.broker.disconnect(ctx_.session, token_, std::nullopt, now);  // the buffer waits offline
    attached_ = false;
  }
  LinkEnd end;
  end.reason = reason_.empty() ? "connection closed by the upstream" : reason_;
  end.established = established;
  end.refused = refused_;
  ctx_.host.on_link_down(end, now);
}

// ---------------------------------------------------------------- engine events

void Uplink::on_connack(const pr::Connack& c) {
  if (c.reason != Reason::Success) {
    refused_ = c.reason;
    reason_ = "refused by the upstream: " + describe(c.reason);
    if (c.properties.reason_string) reason_ += ": " + *c.properties.reason_string;
    return;  // the engine closes [MQTT-3.2.2-5, 3.1.1; MQTT-3.2.2-7, 5.0]
  }
  window_ = std::min<size_t>(ctx_.config.max_inflight, engine_.peer_receive_maximum());
  // The buffer session now belongs to this connection: messages delivered to it wake us.
  broker::ConnectResult r = ctx_.broker.connect(
      broker::ConnectRequest{session_client_id(ctx_.config), false, 0xFFFFFFFF, pr::Version::V5, broker::Link{waker_, token_}},
      now_);
  ctx_.session = r.session;
  attached_ = true;
  ctx_.host.on_link_up(c.session_present, now_);

  // What the upstream has not acknowledged goes first, in its order; DUP only where the
  // upstream kept the session and may have seen it [MQTT-3.3.1-1, 3.1.1 and 5.0]. An upstream
  // that lost it gets everything again as new messages.
  std::vector<broker::Sendable> resend;
  ctx_.session->resend_inflight(token_, resend);
  std::vector<uint16_t> used;
  for (broker::Sendable& s : resend) {
    used.push_back(s.packet_id);
    if (s.kind == broker::Sendable::Kind::Pubrel) {
      engine_.send_ack(pr::PacketType::Pubrel, s.packet_id, Reason::Success);
    } else {
      s.dup = c.session_present;
      send(s, now_);
    }
  }
  auto subs = ctx_.topics.remote_subscriptions();
  if (!subs.empty()) {
    // New messages wait for the SUBACK: their packet ids come from the session, which does
    // not know this one, so none may be in use at the same time.
    uint16_t id = 1;
    while (std::find(used.begin(), used.end(), id) != used.end()) ++id;
    pr::Subscribe sub;
    sub.packet_id = id;
    const bool v5 = engine_.v5();
    for (const RuleSubscription& rs : subs) {
      pr::Subscription s;
      s.filter = rs.filter;
      s.options.qos = rs.qos;
      // Never our own messages back [MQTT-3.8.3-3, 5.0]; retained flags as published
      // [MQTT-3.3.1-12, 5.0]; retained messages again only for a new subscription.
      s.options.no_local = v5;
      s.options.retain_as_published = v5;
      s.options.retain_handling = v5 ? 1 : 0;
      sub.subscriptions.push_back(std::move(s));
    }
    engine_.send(sub);
    suback_id_ = id;
    suback_sent_ = now_;
  }
  pump(now_);
}

void Uplink::on_suback(const pr::Suback& s) {
  if (s.packet_id != suback_id_) return;
  suback_id_ = 0;
  auto subs = ctx_.topics.remote_subscriptions();
  for (size_t i = 0; i < s.reasons.size() && i < subs.size(); ++i) {
    if (pr::is_error(s.reasons[i]))
      LOG_WARN("bridge '%s': the upstream refused the subscription to '%s': %s", ctx_.config.name.c_str(),
               subs[i].filter.c_str(), describe(s.reasons[i]).c_str());
  }
  pump(now_);
}

void Uplink::on_publish(pr::Publish& p) {
  const util::TimePoint now = now_;
  broker::Persistence* store = ctx_.broker.persistence();
  if (p.qos == 2 && ctx_.session->incoming_qos2_seen(p.packet_id)) {
    // Sent again before our PUBREC arrived: acknowledge again, publish nothing twice.
    ack_when_durable(pr::PacketType::Pubrec, p.packet_id, store ? store->last_issued() : 0);
    return;
  }
  std::optional<std::string> local = ctx_.topics.to_local(p.topic);
  if (local) {
    auto m = ctx_.broker.new_message(now);
    m->topic = std::move(*local);
    m->payload = std::move(p.payload);
    m->qos = p.qos;
    m->retain = p.retain;
    // Published as the bridge's own session: its No Local subscriptions keep the message from
    // going back upstream.
    m->origin = ctx_.session->id();
    auto expiry = ctx_.broker.effective_message_expiry(p.properties.message_expiry_interval);
    if (expiry) m->expires_at = now + util::Seconds(*expiry);
    if (engine_.v5()) m->properties = pr::forwarded_properties(std::move(p.properties));
    if (ctx_.broker.publish(m, now).refused && p.qos > 0) {
      // The broker's memory budget is spent: not acknowledged, so the upstream sends it again
      // after the link is made anew (a 5.0 upstream may also be told 0x97, but a 3.1.1 one
      // has no way to hear it).
      return fail(Reason::QuotaExceeded, "memory budget spent: a message from the upstream was not accepted");
    }
    ctx_.status.received.fetch_add(1, std::memory_order_relaxed);
  } else {
    // Subscribed by an earlier configuration (the upstream kept the session): acknowledged,
    // not published.
    LOG_DEBUG("bridge '%s': '%s' from the upstream matches no in rule; dropped", ctx_.config.name.c_str(),
              p.topic.c_str());
  }
  if (p.qos == 2) ctx_.session->incoming_qos2_add(p.packet_id);
  // Acknowledged once what this publish stored is durable, as for a local client.
  uint64_t durable = (store && p.qos > 0) ? store->last_issued() : 0;
  if (p.qos == 1) ack_when_durable(pr::PacketType::Puback, p.packet_id, durable);
  else if (p.qos == 2) ack_when_durable(pr::PacketType::Pubrec, p.packet_id, durable);
}

void Uplink::on_ack(const pr::Ack& a) {
  broker::Persistence* store = ctx_.broker.persistence();
  auto settle = [&] {
    if (store) unsettled_.push_back(store->last_issued());
  };
  broker::Session& session = *ctx_.session;
  switch (a.type) {
    case pr::PacketType::Puback:
      if (!session.on_puback(a.packet_id)) {
        LOG_DEBUG("bridge '%s': PUBACK for unknown id %u", ctx_.config.name.c_str(), a.packet_id);
        break;
      }
      settle();
      if (pr::is_error(a.reason)) note_rejected("refused by the upstream (PUBACK " + describe(a.reason) + ")", {});
      else ctx_.status.sent.fetch_add(1, std::memory_order_relaxed);
      break;
    case pr::PacketType::Pubrec:
      if (pr::is_error(a.reason)) {
        // A failing PUBREC ends the exchange [MQTT-4.4.0-2, 5.0].
        if (session.on_pubrec(a.packet_id, true)) {
          settle();
          note_rejected("refused by the upstream (PUBREC " + describe(a.reason) + ")", {});
        }
      } else if (session.on_pubrec(a.packet_id, false)) {
        engine_.send_ack(pr::PacketType::Pubrel, a.packet_id, Reason::Success);
      } else {
        engine_.send_ack(pr::PacketType::Pubrel, a.packet_id, Reason::PacketIdentifierNotFound);
      }
      break;
    case pr::PacketType::Pubcomp:
      if (session.on_pubcomp(a.packet_id)) {
        settle();
        ctx_.status.sent.fetch_add(1, std::memory_order_relaxed);
      }
      break;
    case pr::PacketType::Pubrel: {
      bool known = session.incoming_qos2_release(a.packet_id);
      // PUBCOMP once the release is durable: a packet id still marked after a crash would
      // make the upstream's next message with it look like a resend.
      ack_when_durable(pr::PacketType::Pubcomp, a.packet_id, (known && store) ? store->last_issued() : 0);
      if (!known) LOG_DEBUG("bridge '%s': PUBREL for unknown id %u", ctx_.config.name.c_str(), a.packet_id);
      break;
    }
    default: break;
  }
}

void Uplink::on_disconnect(const pr::Disconnect& d) {
  if (!reason_.empty()) return;
  reason_ = "the upstream sent DISCONNECT: " + describe(d.reason);
  if (d.properties.reason_string) reason_ += ": " + *d.properties.reason_string;
}

void Uplink::on_violation(Reason reason, const char* why) {
  if (!reason_.empty()) return;
  if (reason == Reason::KeepAliveTimeout)
    reason_ = "the upstream was silent for 1.5 x keepalive (" + std::to_string(engine_.keep_alive()) +
              " s): link considered dead (timeout)";
  else
    reason_ = "protocol violation by the upstream: " + std::string(why) + " (" + describe(reason) + ")";
}

void Uplink::fail(Reason reason, std::string why) {
  if (reason_.empty()) reason_ = why;
  engine_.fail(reason, why.c_str());
}

void Uplink::note_rejected(const std::string& why, std::string_view topic) {
  ctx_.status.rejected.fetch_add(1, std::memory_order_relaxed);
  uint64_t suppressed = 0;
  if (!ctx_.message_log.allow(now_, suppressed)) return;
  std::string more = suppressed ? " (and " + std::to_string(suppressed) + " more since the last such line)" : "";
  std::string on = topic.empty() ? "" : " on '" + std::string(topic) + "'";
  LOG_WARN("bridge '%s': message%s given up: %s%s", ctx_.config.name.c_str(), on.c_str(), why.c_str(), more.c_str());
}

// ---------------------------------------------------------------- output

size_t Uplink::window_now() {
  broker::Persistence* store = ctx_.broker.persistence();
  if (!store || unsettled_.empty()) return window_;
  uint64_t committed = store->committed();
  while (!unsettled_.empty() && unsettled_.front() <= committed) unsettled_.pop_front();
  // Messages in flight plus those acknowledged whose removal is not yet durable are what a
  // crash sends twice: together at most max_inflight. The upstream's Receive Maximum bounds
  // only the first, so a small one does not also throttle how many wait for a commit.
  const size_t limit = ctx_.config.max_inflight;
  if (unsettled_.size() >= limit) {
    // Full of acknowledged messages whose removal is not yet durable: wait for the commit.
    if (notified_seq_ != unsettled_.front()) {
      notified_seq_ = unsettled_.front();
      store->notify_when_durable(notified_seq_, broker::Link{waker_, token_});
    }
    return 0;
  }
  return std::min(window_, limit - unsettled_.size());
}

void Uplink::send(const broker::Sendable& s, util::TimePoint now) {
  const broker::Outbound& o = s.out;
  const broker::Message& m = *o.msg;
  std::optional<std::string> remote = ctx_.topics.to_remote(m.topic);
  if (!remote) {
    // Queued under an earlier configuration: no rule says where it goes now.
    if (o.qos > 0) ctx_.session->drop_inflight(s.packet_id);
    note_rejected("it matches no out rule", m.topic);
    return;
  }
  pr::PublishView v;
  v.topic = *remote;
  v.payload = m.payload;
  v.qos = o.qos;
  v.retain = o.retain;
  v.dup = s.dup;
  v.packet_id = s.packet_id;
  if (engine_.v5()) {
    v.properties = m.properties.get();
    v.message_expiry_override = m.remaining_expiry(now);  // [MQTT-3.3.2-6, 5.0]
  }
  if (engine_.send_publish(v) == 0) {
    // [MQTT-3.1.2-25, 5.0]: larger than the upstream takes.
    if (o.qos > 0) ctx_.session->drop_inflight(s.packet_id);
    note_rejected("larger than the upstream's maximum packet size", m.topic);
    return;
  }
  if (o.qos == 0) ctx_.status.sent.fetch_add(1, std::memory_order_relaxed);
}

void Uplink::pump(util::TimePoint now) {
  if (!attached_ || engine_.closing() || suback_id_ != 0) return;
  thread_local std::vector<broker::Sendable> scratch;
  while (engine_.pending_size() < kOutputHighWater) {
    scratch.clear();
    ctx_.session->take_sendable(token_, scratch, window_now(), kTakeBatch, now);
    if (scratch.empty()) break;
    for (const broker::Sendable& s : scratch) send(s, now);
    if (scratch.size() < kTakeBatch) break;  // queue empty or window full (see SessionDriver::pump)
  }
  scratch.clear();
  broker::Session::page_in_if_needed(ctx_.session);  // the part on disk is read back as it drains
}

void Uplink::ack_when_durable(pr::PacketType type, uint16_t packet_id, uint64_t seq) {
  broker::Persistence* store = ctx_.broker.persistence();
  if (deferred_acks_.empty() && (seq == 0 || !store || store->committed() >= seq)) {
    engine_.send_ack(type, packet_id, Reason::Success);
    return;
  }
  deferred_acks_.push_back({seq, type, packet_id});
  if (seq) store->notify_when_durable(seq, broker::Link{waker_, token_});
}

void Uplink::flush_deferred_acks() {
  broker::Persistence* store = ctx_.broker.persistence();
  size_t done = 0;
  for (; done < deferred_acks_.size(); ++done) {
    const DeferredAck& a = deferred_acks_[done];
    if (a.seq && store && store->committed() < a.seq) break;
    engine_.send_ack(a.type, a.packet_id, Reason::Success);
  }
  deferred_acks_.erase(deferred_acks_.begin(), deferred_acks_.begin() + static_cast<ptrdiff_t>(done));
}

}  // namespace musqratt::bridge
