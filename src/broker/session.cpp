#include "broker/session.h"

#include <algorithm>

#include "util/log.h"

namespace musqratt::broker {

Session::Session(std::string client_id, uint64_t id, protocol::Version version, QueueLimits limits)
    : client_id_(std::move(client_id)), id_(id), limits_(limits), version_(version) {}

std::shared_ptr<const auth::Identity> Session::anonymous_identity() {
  static const auto anonymous = std::make_shared<const auth::Identity>();
  return anonymous;
}

bool Session::over_limits_locked(const Outbound& out) const {
  if (limits_.max_messages && queue_.size() + on_disk_locked() >= limits_.max_messages) return true;
  if (limits_.max_bytes && queued_bytes_ + out.msg->payload.size() > limits_.max_bytes) return true;
  return false;
}

bool Session::make_room_locked(const Outbound& out) {
  // The oldest queued message is at the front of the in-memory part, then at the front of
  // the part on disk; messages in flight are never dropped (their exchange is under way).
  while (over_limits_locked(out)) {
    if (!queue_.empty()) {
      Outbound& old = queue_.front();
      queued_bytes_ -= old.msg->payload.size();
      if (store_ && old.seq) store_->outbound_deleted(client_id_, old.seq);
      queue_.pop_front();
    } else if (extra_ && extra_->on_disk > 0 && !extra_->loading) {
      // Dropped unread: the seqs on disk are consecutive from disk_from_seq (they are given
      // in order and leave only from the front), so the row is known without reading it.
      Extra& x = *extra_;
      uint64_t size = x.disk_bytes / x.on_disk;
      if (--x.on_disk == 0) size = x.disk_bytes;
      x.disk_bytes -= size;
      queued_bytes_ -= std::min(queued_bytes_, size);
      store_->outbound_deleted(client_id_, x.disk_from_seq++);
    } else {
      return false;
    }
    ++extra().dropped;
  }
  return true;
}

void Session::set_limits(const QueueLimits& limits) {
  std::lock_guard lock(mu_);
  limits_ = limits;
}

void Session::save_session_locked() {
  if (!store_) return;
  std::optional<int64_t> at;
  if (disconnected_at_ != kNever) at = wall_ms_from(disconnected_at_);
  store_->session_saved(client_id_, expiry_interval_, at);
}

namespace {
OutboundState state_of(InflightState s) {
  switch (s) {
    case InflightState::AwaitPuback: return OutboundState::AwaitPuback;
    case InflightState::AwaitPubrec: return OutboundState::AwaitPubrec;
    case InflightState::AwaitPubcomp: return OutboundState::AwaitPubcomp;
  }
  return OutboundState::Queued;
}
}  // namespace

namespace {
/// A stored queue row back as a queue entry (its shared-subscription group is not stored).
Outbound outbound_from(RestoredOutbound o) {
  return Outbound{std::move(o.msg), o.qos, o.retain, std::move(o.subscription_ids), nullptr, o.seq};
}
}  // namespace

void Session::restore(const RestoredSession& r, util::TimePoint now) {
  std::lock_guard lock(mu_);
  expiry_interval_ = r.expiry;
  disconnected_at_ = r.disconnected_wall_ms ? steady_from_wall_ms(*r.disconnected_wall_ms) : now;
  if (!r.subscriptions.empty() && !subscriptions_) subscriptions_ = std::make_unique<Subscriptions>();
  for (const auto& [filter, opt] : r.subscriptions) (*subscriptions_)[filter] = SubscriptionRecord{opt.first, opt.second};
  for (const RestoredOutbound& o : r.outbound) {
    last_seq_ = std::max(last_seq_, o.seq);
    Outbound out = outbound_from(o);
    switch (o.state) {
      case OutboundState::Queued:
        queued_bytes_ += out.msg ? out.msg->payload.size() : 0;
        queue_.push_back(std::move(out));
        break;
      case OutboundState::AwaitPuback:
        inflight_.push_back({o.packet_id, InflightState::AwaitPuback, std::move(out)});
        break;
      case OutboundState::AwaitPubrec:
        inflight_.push_back({o.packet_id, InflightState::AwaitPubrec, std::move(out)});
        break;
      case OutboundState::AwaitPubcomp:
        out.msg.reset();
        inflight_.push_back({o.packet_id, InflightState::AwaitPubcomp, std::move(out)});
        break;
    }
    last_packet_id_ = std::max(last_packet_id_, o.packet_id);
  }
  if (!r.incoming_qos2.empty()) {
    if (!incoming_qos2_) incoming_qos2_ = std::make_unique<std::set<uint16_t>>();
    incoming_qos2_->insert(r.incoming_qos2.begin(), r.incoming_qos2.end());
  }
  last_seq_ = std::max(last_seq_, r.max_seq);
  if (r.queued_on_disk) {
    Extra& x = extra();
    x.on_disk = r.queued_on_disk;
    x.disk_from_seq = r.disk_from_seq;
    x.disk_bytes = r.queued_on_disk_bytes;
    queued_bytes_ += r.queued_on_disk_bytes;
  }
}

void Session::page_in_if_needed(const SessionPtr& self) {
  Session& s = *self;
  if (!s.store_) return;  // set before the session is shared, never changed: no lock needed
  uint64_t from = 0;
  uint32_t count = 0;
  {
    std::lock_guard lock(s.mu_);
    if (!s.extra_ || s.extra_->on_disk == 0 || s.extra_->loading) return;
    uint32_t limit = s.store_->memory_queue_limit();
    // Refill once half the in-memory part has gone: pages are large, and one is always in hand.
    if (limit && s.queue_.size() > limit / 2) return;
    uint32_t room = limit ? limit - static_cast<uint32_t>(s.queue_.size()) : s.extra_->on_disk;
    s.extra_->loading = true;
    from = s.extra_->disk_from_seq;
    count = std::min(room, s.extra_->on_disk);
  }
  // Outside the lock: a store may answer at once. Rows saved meanwhile have higher seqs, so
  // the page still starts where the disk part does.
  s.store_->load_queued(s.client_id_, from, count,
                        [self, count](std::vector<RestoredOutbound> rows) { self->paged_in(std::move(rows), count); });
}

void Session::paged_in(std::vector<RestoredOutbound> rows, uint32_t asked) {
  Link wake;
  {
    std::lock_guard lock(mu_);
    Extra& x = extra();
    x.loading = false;
    for (RestoredOutbound& o : rows) {
      if (x.on_disk == 0) break;
      // Rows dropped from the disk's front while the page was read are skipped.
      if (o.seq < x.disk_from_seq) continue;
      x.disk_from_seq = o.seq + 1;
      --x.on_disk;
      x.disk_bytes -= std::min<uint64_t>(x.disk_bytes, o.msg ? o.msg->payload.size() : 0);
      queue_.push_back(outbound_from(std::move(o)));
    }
    if (x.on_disk == 0) x.disk_bytes = 0;
    // Fewer rows than asked means the disk holds no more (rows vanish only with the session);
    // trust the disk over the count rather than ask forever.
    if (rows.size() < asked && x.on_disk) {
      LOG_WARN("session '%s': %u queued message(s) counted on disk were not found", client_id_.c_str(), x.on_disk);
      x.on_disk = 0;
      x.disk_bytes = 0;
      queued_bytes_ = 0;
      queue_.for_each([&](const Outbound& o) { queued_bytes_ += o.msg->payload.size(); });
    }
    if (link_ && !wake_pending_ && !queue_.empty()) {
      wake_pending_ = true;
      wake = link_;
    }
  }
  if (wake) wake.waker->wake(wake.token);
}

Session::DeliverResult Session::deliver(Outbound out, Link& wake_link) {
  std::lock_guard lock(mu_);
  if (revoked_) return DeliverResult::Dropped;
  if (!link_ && out.qos == 0 && !limits_.queue_qos0_offline) return DeliverResult::Dropped;
  if (over_limits_locked(out) && (limits_.overflow == QueueOverflow::DropNewest || !make_room_locked(out))) {
    ++extra().dropped;
    return DeliverResult::Dropped;
  }
  queued_bytes_ += out.msg->payload.size();
  if (store_ && out.qos > 0) {
    out.seq = ++last_seq_;
    store_->outbound_saved(client_id_, out.seq, out, OutboundState::Queued, 0);
    // Past the memory limit (or behind messages already there) the queue continues on disk;
    // it is paged back in order as the connection drains it.
    uint32_t limit = store_->memory_queue_limit();
    if (on_disk_locked() > 0 || (limit && queue_.size() >= limit)) {
      Extra& x = extra();
      if (x.on_disk++ == 0) x.disk_from_seq = out.seq;
      x.disk_bytes += out.msg->payload.size();
      return DeliverResult::Queued;
    }
  }
  queue_.push_back(std::move(out));
  if (link_ && !wake_pending_) {
    wake_pending_ = true;
    wake_link = link_;
    return DeliverResult::QueuedWake;
  }
  return DeliverResult::Queued;
}

bool Session::online() const {
  std::lock_guard lock(mu_);
  return static_cast<bool>(link_);
}

void Session::attach(Link link, protocol::Version version) {
  std::lock_guard lock(mu_);
  link_ = link;
  version_ = version;
  wake_pending_ = false;
  takeover_requested_ = false;
  if (extra_) extra_->waiter = {};
  disconnected_at_ = kNever;
  save_session_locked();
}

Link Session::request_takeover(Link waiter) {
  std::lock_guard lock(mu_);
  if (!link_ || revoked_) return {};
  takeover_requested_ = true;
  extra().waiter = waiter;
  return link_;
}

bool Session::takeover_requested() const {
  std::lock_guard lock(mu_);
  return takeover_requested_;
}

bool Session::detach(uint64_t token, util::TimePoint now) {
  std::lock_guard lock(mu_);
  if (!link_ || link_.token != token) return false;
  link_ = {};
  disconnected_at_ = now;
  takeover_requested_ = false;
  if (extra_ && extra_->waiter) {
    extra_->waiter.waker->wake(extra_->waiter.token);  // the new connection may go on now
    extra_->waiter = {};
  }
  save_session_locked();
  // QoS 0 messages are not kept for an offline session.
  if (!limits_.queue_qos0_offline) {
    queue_.erase_if([&](const Outbound& o) {
      if (o.qos != 0) return false;
      queued_bytes_ -= o.msg->payload.size();
      return true;
    });
  }
  return true;
}

bool Session::is_owner(uint64_t token) const {
  std::lock_guard lock(mu_);
  return link_ && link_.token == token && !revoked_;
}

Link Session::link() const {
  std::lock_guard lock(mu_);
  return link_;
}

Link Session::revoke() {
  std::lock_guard lock(mu_);
  revoked_ = true;
  Link old = link_;
  link_ = {};
  return old;
}

bool Session::revoked() const {
  std::lock_guard lock(mu_);
  return revoked_;
}

void Session::resend_inflight(uint64_t token, std::vector<Sendable>& out) {
  std::lock_guard lock(mu_);
  if (!link_ || link_.token != token) return;
  for (const auto& f : inflight_) {
    Sendable s;
    s.packet_id = f.packet_id;
    if (f.state == InflightState::AwaitPubcomp) {
      s.kind = Sendable::Kind::Pubrel;
    } else {
      s.dup = true;  // [MQTT-3.3.1-1, 3.1.1 and 5.0]
      s.out = f.out;
    }
    out.push_back(std::move(s));
  }
}

uint16_t Session::next_packet_id_locked() {
  while (true) {
    if (++last_packet_id_ == 0) last_packet_id_ = 1;
    uint16_t id = last_packet_id_;
    bool used = std::any_of(inflight_.begin(), inflight_.end(),
                            [id](const Inflight& f) { return f.packet_id == id; });
    if (!used) return id;
  }
}

void Session::take_sendable(uint64_t token, std::vector<Sendable>& out, size_t window,
                            size_t max_count, util::TimePoint now) {
  std::lock_guard lock(mu_);
  if (!link_ || link_.token != token) return;
  wake_pending_ = false;
  size_t taken = 0;
  while (!queue_.empty() && taken < max_count) {
    Outbound& front = queue_.front();
    if (front.qos > 0 && inflight_.size() >= window) break;
    Outbound o = std::move(front);
    queue_.pop_front();
    queued_bytes_ -= o.msg->payload.size();
    if (o.msg->expired(now)) {
      if (store_ && o.seq) store_->outbound_deleted(client_id_, o.seq);
      continue;
    }
    Sendable s;
    if (o.qos > 0) {
      s.packet_id = next_packet_id_locked();
      auto state = o.qos == 1 ? InflightState::AwaitPuback : InflightState::AwaitPubrec;
      if (store_ && o.seq) store_->outbound_saved(client_id_, o.seq, o, state_of(state), s.packet_id);
      inflight_.push_back({s.packet_id, state, o});
    }
    s.out = std::move(o);
    out.push_back(std::move(s));
    ++taken;
  }
  if (!queue_.empty() && taken == max_count) wake_pending_ = true;  // caller resumes later
}

bool Session::on_puback(uint16_t packet_id) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(inflight_.begin(), inflight_.end(), [&](const Inflight& f) {
    return f.packet_id == packet_id && f.state == InflightState::AwaitPuback;
  });
  if (it == inflight_.end()) return false;
  if (store_ && it->out.seq) store_->outbound_deleted(client_id_, it->out.seq);
  inflight_.erase(it);
  return true;
}

bool Session::on_pubrec(uint16_t packet_id, bool error) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(inflight_.begin(), inflight_.end(),
                         [&](const Inflight& f) { return f.packet_id == packet_id; });
  if (it == inflight_.end() || it->state == InflightState::AwaitPuback) return false;
  if (error) {
    if (store_ && it->out.seq) store_->outbound_deleted(client_id_, it->out.seq);
    inflight_.erase(it);  // a failing PUBREC ends the exchange [MQTT-4.4.0-2, 5.0]
  } else {
    it->state = InflightState::AwaitPubcomp;
    if (store_ && it->out.seq) store_->outbound_saved(client_id_, it->out.seq, it->out, OutboundState::AwaitPubcomp, packet_id);
    it->out.msg.reset();  // the payload is no longer needed
  }
  return true;
}

bool Session::on_pubcomp(uint16_t packet_id) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(inflight_.begin(), inflight_.end(), [&](const Inflight& f) {
    return f.packet_id == packet_id && f.state == InflightState::AwaitPubcomp;
  });
  if (it == inflight_.end()) return false;
  if (store_ && it->out.seq) store_->outbound_deleted(client_id_, it->out.seq);
  inflight_.erase(it);
  return true;
}

void Session::drop_inflight(uint16_t packet_id) {
  std::lock_guard lock(mu_);
  std::erase_if(inflight_, [&](const Inflight& f) {
    if (f.packet_id != packet_id) return false;
    if (store_ && f.out.seq) store_->outbound_deleted(client_id_, f.out.seq);
    return true;
  });
}

bool Session::incoming_qos2_seen(uint16_t packet_id) const {
  std::lock_guard lock(mu_);
  return incoming_qos2_ && incoming_qos2_->contains(packet_id);
}
void Session::incoming_qos2_add(uint16_t packet_id) {
  std::lock_guard lock(mu_);
  if (!incoming_qos2_) incoming_qos2_ = std::make_unique<std::set<uint16_t>>();
  if (incoming_qos2_->insert(packet_id).second && store_) store_->incoming_qos2_saved(client_id_, packet_id);
}
bool Session::incoming_qos2_release(uint16_t packet_id) {
  std::lock_guard lock(mu_);
  bool found = incoming_qos2_ && incoming_qos2_->erase(packet_id) > 0;
  if (found && store_) store_->incoming_qos2_deleted(client_id_, packet_id);
  return found;
}
size_t Session::incoming_qos2_count() const {
  std::lock_guard lock(mu_);
  return incoming_qos2_ ? incoming_qos2_->size() : 0;
}

bool Session::add_subscription(const std::string& filter, const SubscriptionRecord& rec) {
  std::lock_guard lock(mu_);
  if (!subscriptions_) subscriptions_ = std::make_unique<Subscriptions>();
  auto [it, inserted] = subscriptions_->insert_or_assign(filter, rec);
  if (store_) store_->subscription_saved(client_id_, filter, rec.options, rec.subscription_id);
  return inserted;
}
bool Session::remove_subscription(const std::string& filter) {
  std::lock_guard lock(mu_);
  bool found = subscriptions_ && subscriptions_->erase(filter) > 0;
  if (found && store_) store_->subscription_deleted(client_id_, filter);
  return found;
}
std::vector<std::string> Session::subscription_filters() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  if (!subscriptions_) return out;
  out.reserve(subscriptions_->size());
  for (const auto& [f, r] : *subscriptions_) out.push_back(f);
  return out;
}
bool Session::has_subscription(const std::string& filter) const {
  std::lock_guard lock(mu_);
  return subscriptions_ && subscriptions_->contains(filter);
}

size_t Session::subscription_count() const {
  std::lock_guard lock(mu_);
  return subscriptions_ ? subscriptions_->size() : 0;
}

void Session::set_expiry_interval(uint32_t seconds) {
  std::lock_guard lock(mu_);
  expiry_interval_ = seconds;
  save_session_locked();
}
uint32_t Session::expiry_interval() const {
  std::lock_guard lock(mu_);
  return expiry_interval_;
}
std::optional<util::TimePoint> Session::expires_at() const {
  std::lock_guard lock(mu_);
  if (link_ || disconnected_at_ == kNever || expiry_interval_ == 0xFFFFFFFF) return std::nullopt;
  return disconnected_at_ + util::Seconds(expiry_interval_);
}

std::vector<Outbound> Session::drain_all() {
  std::lock_guard lock(mu_);
  std::vector<Outbound> out;
  for (auto& f : inflight_) {
    if (f.out.msg) out.push_back(std::move(f.out));
  }
  queue_.for_each([&](Outbound& o) { out.push_back(std::move(o)); });
  inflight_.clear();
  queue_.clear();
  queued_bytes_ = 0;
  return out;
}

size_t Session::queued_count() const {
  std::lock_guard lock(mu_);
  return queue_.size() + on_disk_locked();
}
size_t Session::inflight_count() const {
  std::lock_guard lock(mu_);
  return inflight_.size();
}

uint64_t Session::queued_bytes() const {
  std::lock_guard lock(mu_);
  return queued_bytes_;
}

uint64_t Session::dropped_count() const {
  std::lock_guard lock(mu_);
  return extra_ ? extra_->dropped : 0;
}

std::optional<util::TimePoint> Session::oldest_created() const {
  std::lock_guard lock(mu_);
  // In flight first: those were taken from the queue before anything still in it. A QoS 2
  // message past PUBREC has handed its payload on and no longer waits.
  for (const Inflight& f : inflight_)
    if (f.out.msg) return f.out.msg->created;
  if (!queue_.empty()) return queue_.front().msg->created;
  return std::nullopt;
}

}  // namespace musqratt::broker
