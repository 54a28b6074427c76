#include "broker/session.h"

#include <algorithm>
#include <cinttypes>
#include <unordered_set>
#include <utility>

#include "util/log.h"

namespace musqratt::broker {

// Every idle client pays for its session: keep it from growing by accident (release builds;
// debug builds add a thread checker).
#if defined(NDEBUG) && defined(__GLIBCXX__)
static_assert(sizeof(Session) <= 232);
#endif

Session::Session(std::string client_id, uint64_t id, protocol::Version version, QueueLimits limits,
                 const SessionServices* services)
    : client_id_(std::move(client_id)), id_(id), limits_(limits), services_(services), state_(version) {}

Session::~Session() {
  // Nobody else can reach the state any more; give back what it still had charged.
  State& s = state_.unguarded();
  if (!services_ || !services_->memory) return;
  int64_t entries = static_cast<int64_t>(s.inflight.size());
  s.queue.for_each([&](const Outbound& o) { entries += o.msg ? 1 : 0; });
  charge_entries(-entries);
  if (s.extra) {
    s.extra->retained.for_each([&](const RetainedBatch& b) {
      services_->memory->release(b.messages.size() * sizeof(MessagePtr));
    });
  }
}

std::shared_ptr<const ClientIdentity> Session::anonymous_identity() {
  static const auto anonymous = std::make_shared<const ClientIdentity>();
  return anonymous;
}

void Session::set_limits(const QueueLimits& limits) {
  auto s = state_.lock();
  limits_ = limits;
}

bool Session::over_limits(const State& s, const Outbound& out) const {
  if (limits_.max_messages && s.queue.size() + s.on_disk() >= limits_.max_messages) return true;
  uint64_t bytes = s.queued_bytes + (limits_.bytes_include_disk && s.extra ? s.extra->disk_bytes : 0);
  if (limits_.max_bytes && bytes + out.msg->payload.size() > limits_.max_bytes) return true;
  return false;
}

bool Session::make_room(State& s, const Outbound& out) {
  // The oldest queued message is at the front of the in-memory part, then at the front of
  // the part on disk; messages in flight are never dropped (their exchange is under way), nor
  // retained messages still being streamed after a SUBSCRIBE (entries without a message).
  while (over_limits(s, out)) {
    if (!s.queue.empty()) {
      Outbound& old = s.queue.front();
      if (!old.msg) return false;
      s.queued_bytes -= old.msg->payload.size();
      if (store_ && old.seq) store_->outbound_deleted(client_id_, old.seq);
      s.queue.pop_front();
      charge_entries(-1);
    } else if (s.extra && s.extra->on_disk > 0 && !s.extra->loading) {
      // Dropped unread: the seqs on disk are consecutive from disk_from_seq (they are given
      // in order and leave only from the front), so the row is known without reading it.
      Extra& x = *s.extra;
      uint64_t size = x.disk_bytes / x.on_disk;
      if (--x.on_disk == 0) size = x.disk_bytes;
      x.disk_bytes -= size;
      store_->outbound_deleted(client_id_, x.disk_from_seq++);
    } else {
      return false;
    }
    ++s.more().dropped;
  }
  return true;
}

void Session::save_session(const State& s) {
  if (!store_) return;
  std::optional<int64_t> at;
  if (s.disconnected_at != kNever) at = wall_ms_from(s.disconnected_at);
  store_->session_saved(client_id_, s.expiry_interval, at);
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

/// A stored queue row back as a queue entry (its shared-subscription group is not stored).
Outbound outbound_from(RestoredOutbound o) {
  return Outbound{std::move(o.msg), o.qos, o.retain, std::move(o.subscription_ids), nullptr, o.seq};
}

/// Queue entries without a message mark retained batches (Session::add_retained).
bool is_marker(const Outbound& o) { return !o.msg; }
}  // namespace

void Session::restore(const RestoredSession& r, util::TimePoint now) {
  auto s = state_.lock();
  MemoryBudget* memory = services_ ? services_->memory : nullptr;
  s->expiry_interval = r.expiry;
  s->disconnected_at = r.disconnected_wall_ms ? steady_from_wall_ms(*r.disconnected_wall_ms) : now;
  if (!r.subscriptions.empty() && !s->subscriptions) s->subscriptions = std::make_unique<Subscriptions>();
  for (const auto& [filter, opt] : r.subscriptions) (*s->subscriptions)[filter] = SubscriptionRecord{opt.first, opt.second};
  uint64_t last_seq = r.max_seq;
  for (const RestoredOutbound& o : r.outbound) {
    last_seq = std::max(last_seq, o.seq);
    Outbound out = outbound_from(o);
    if (out.msg && memory) charge(*memory, *out.msg);
    switch (o.state) {
      case OutboundState::Queued:
        s->queued_bytes += out.msg ? out.msg->payload.size() : 0;
        s->queue.push_back(std::move(out));
        break;
      case OutboundState::AwaitPuback:
        s->inflight.push_back({o.packet_id, InflightState::AwaitPuback, std::move(out)});
        break;
      case OutboundState::AwaitPubrec:
        s->inflight.push_back({o.packet_id, InflightState::AwaitPubrec, std::move(out)});
        break;
      case OutboundState::AwaitPubcomp:
        out.msg.reset();
        s->inflight.push_back({o.packet_id, InflightState::AwaitPubcomp, std::move(out)});
        break;
    }
    charge_entries(1);
    s->last_packet_id = std::max(s->last_packet_id, o.packet_id);
  }
  if (!r.incoming_qos2.empty()) {
    if (!s->incoming_qos2) s->incoming_qos2 = std::make_unique<std::set<uint16_t>>();
    s->incoming_qos2->insert(r.incoming_qos2.begin(), r.incoming_qos2.end());
  }
  if (last_seq) s->more().last_seq = last_seq;
  if (r.queued_on_disk) {
    // Counted against max_queued_messages; not against max_queued_bytes, which bounds memory.
    Extra& x = s->more();
    x.on_disk = r.queued_on_disk;
    x.disk_from_seq = r.disk_from_seq;
    x.disk_bytes = r.queued_on_disk_bytes;
  }
}

void Session::page_in_if_needed(const SessionPtr& self) {
  Session& session = *self;
  if (!session.store_) return;  // set before the session is shared, never changed: no lock needed
  uint64_t from = 0;
  uint32_t count = 0;
  {
    auto s = session.state_.lock();
    if (!s->extra || s->extra->on_disk == 0 || s->extra->loading) return;
    uint32_t limit = session.store_->memory_queue_limit();
    // Refill once half the in-memory part has gone: pages are large, and one is always in hand.
    if (limit && s->queue.size() > limit / 2) return;
    uint32_t room = limit ? limit - static_cast<uint32_t>(s->queue.size()) : s->extra->on_disk;
    s->extra->loading = true;
    from = s->extra->disk_from_seq;
    count = std::min(room, s->extra->on_disk);
  }
  // Outside the lock: a store may answer at once. Rows saved meanwhile have higher seqs, so
  // the page still starts where the disk part does.
  session.store_->load_queued(session.client_id_, from, count,
                              [self, count](std::vector<RestoredOutbound> rows) { self->paged_in(std::move(rows), count); });
}

void Session::paged_in(std::vector<RestoredOutbound> rows, uint32_t asked) {
  Link wake;
  {
    auto s = state_.lock();
    MemoryBudget* memory = services_ ? services_->memory : nullptr;
    Extra& x = s->more();
    x.loading = false;
    size_t pushed = 0;
    for (RestoredOutbound& o : rows) {
      if (x.on_disk == 0) break;
      // Rows dropped from the disk's front while the page was read are skipped.
      if (o.seq < x.disk_from_seq) continue;
      x.disk_from_seq = o.seq + 1;
      --x.on_disk;
      x.disk_bytes -= std::min<uint64_t>(x.disk_bytes, o.msg ? o.msg->payload.size() : 0);
      if (o.msg) {
        if (memory) charge(*memory, *o.msg);
        s->queued_bytes += o.msg->payload.size();
      }
      s->queue.push_back(outbound_from(std::move(o)));
      ++pushed;
    }
    charge_entries(static_cast<int64_t>(pushed));
    // Read access was checked when these were queued, perhaps before a reload: check again.
    if (pushed) s->acl_generation = 0;
    if (x.on_disk == 0) x.disk_bytes = 0;
    // Fewer rows than asked means the disk holds no more (rows vanish only with the session);
    // trust the disk over the count rather than ask forever.
    if (rows.size() < asked && x.on_disk) {
      LOG_WARN("session '%s': %u queued message(s) counted on disk were not found", client_id_.c_str(), x.on_disk);
      x.on_disk = 0;
      x.disk_bytes = 0;
    }
    if (s->link && !s->wake_pending && !s->queue.empty()) {
      s->wake_pending = true;
      wake = s->link;
    }
  }
  if (wake) wake.waker->wake(wake.token);
}

bool Session::count_drop(State& s, uint64_t& total) {
  Extra& x = s.more();
  ++x.dropped;
  util::TimePoint now = util::now();
  if (now < x.next_drop_log) return false;
  x.next_drop_log = now + (services_ ? services_->drop_log_interval : util::Clock::duration(std::chrono::seconds(10)));
  total = x.dropped;
  return true;
}

void Session::log_drops(uint64_t total) const {
  LOG_WARN("outgoing messages are being dropped for client '%s': its queue is full (max_queued_messages %u, "
           "max_queued_bytes %" PRIu64 "); %" PRIu64 " dropped so far",
           client_id_.c_str(), limits_.max_messages, limits_.max_bytes, total);
}

uint64_t Session::dropped_count() const {
  auto s = state_.lock();
  return s->extra ? s->extra->dropped : 0;
}

Session::DeliverResult Session::deliver(Outbound out, Link& wake_link, uint16_t acl_generation) {
  uint64_t drops = 0;
  {
    auto s = state_.lock();
    if (s->revoked) return DeliverResult::NotQueued;
    if (!s->link && out.qos == 0 && !limits_.queue_qos0_offline) return DeliverResult::NotQueued;
    if (over_limits(*s, out) && (limits_.overflow == QueueOverflow::DropNewest || !make_room(*s, out))) {
      if (!count_drop(*s, drops)) return DeliverResult::Dropped;
    } else {
      const AccessControl* access = services_ ? services_->access : nullptr;
      if (access && access->acl_enabled() && (acl_generation == 0 || acl_generation != s->acl_generation))
        s->acl_generation = 0;  // checked against other tables than the rest: check again when taken
      if (store_ && out.qos > 0) {
        Extra& x = s->more();
        out.seq = ++x.last_seq;
        store_->outbound_saved(client_id_, out.seq, out, OutboundState::Queued, 0);
        // Past the memory limit (or behind messages already there) the queue continues on disk;
        // it is paged back in order as the connection drains it.
        uint32_t limit = store_->memory_queue_limit();
        if (x.on_disk > 0 || (limit && s->queue.size() >= limit)) {
          if (x.on_disk++ == 0) x.disk_from_seq = out.seq;
          x.disk_bytes += out.msg->payload.size();
          return DeliverResult::Queued;
        }
      }
      s->queued_bytes += out.msg->payload.size();
      s->queue.push_back(std::move(out));
      charge_entries(1);
      if (s->link && !s->wake_pending) {
        s->wake_pending = true;
        wake_link = s->link;
        return DeliverResult::QueuedWake;
      }
      return DeliverResult::Queued;
    }
  }
  log_drops(drops);  // outside the lock: a log line is a system call
  return DeliverResult::Dropped;
}

Session::DeliverResult Session::add_retained(std::vector<MessagePtr> messages, uint8_t max_qos, uint32_t subscription_id,
                                             Link& wake_link) {
  if (messages.empty()) return DeliverResult::NotQueued;
  auto s = state_.lock();
  if (s->revoked) return DeliverResult::NotQueued;
  if (!s->link && max_qos == 0 && !limits_.queue_qos0_offline) return DeliverResult::NotQueued;
  if (services_ && services_->memory) services_->memory->charge(messages.size() * sizeof(MessagePtr));
  Extra& x = s->more();
  x.retained_pending += messages.size();
  x.retained.push_back(RetainedBatch{std::move(messages), 0, subscription_id, max_qos});
  s->queue.push_back(Outbound{});  // where the batch goes in the queue's order
  if (s->link && !s->wake_pending) {
    s->wake_pending = true;
    wake_link = s->link;
    return DeliverResult::QueuedWake;
  }
  return DeliverResult::Queued;
}

bool Session::online() const { return static_cast<bool>(state_.lock()->link); }

std::optional<ConnectionInfo> Session::connection_info() const { return state_.lock()->connection.unpack(); }

void Session::set_connection_info(const ConnectionInfo& info) {
  PackedConnectionInfo packed(info);  // allocated outside the lock
  std::swap(state_.lock()->connection, packed);
}  // the previous record is freed here, outside the lock too

void Session::attach(Link link, protocol::Version version) {
  auto s = state_.lock();
  s->link = link;
  s->version = version;
  s->wake_pending = false;
  s->takeover_requested = false;
  s->deauthorized = false;
  admin_disconnect_.store(false, std::memory_order_release);
  s->owner_thread.bind_to_current_thread();
  if (s->extra) s->extra->waiter = {};
  s->disconnected_at = kNever;
  save_session(*s);
}

Link Session::request_takeover(Link waiter) {
  auto s = state_.lock();
  if (!s->link || s->revoked) return {};
  s->takeover_requested = true;
  s->more().waiter = waiter;
  return s->link;
}

bool Session::detach(uint64_t token, util::TimePoint now) {
  Link waiter;
  {
    auto s = state_.lock();
    if (!s->link || s->link.token != token) return false;
    s->link = {};
    s->disconnected_at = now;
    s->takeover_requested = false;
    s->owner_thread.unbind();
    if (s->extra && s->extra->waiter) {
      waiter = s->extra->waiter;  // the new connection may go on now (woken below, unlocked)
      s->extra->waiter = {};
    }
    save_session(*s);
    // QoS 0 messages are not kept for an offline session.
    if (!limits_.queue_qos0_offline) {
      size_t removed = s->queue.erase_if([&](const Outbound& o) {
        if (is_marker(o) || o.qos != 0) return false;
        s->queued_bytes -= o.msg->payload.size();
        return true;
      });
      charge_entries(-static_cast<int64_t>(removed));
      if (s->extra) {
        s->extra->retained.for_each([&](RetainedBatch& b) {
          auto first = b.messages.begin() + static_cast<ptrdiff_t>(b.next);
          auto kept = std::remove_if(first, b.messages.end(),
                                     [&](const MessagePtr& m) { return std::min(m->qos, b.max_qos) == 0; });
          s->extra->retained_pending -= static_cast<size_t>(b.messages.end() - kept);
          b.messages.erase(kept, b.messages.end());  // its bytes go back when the batch ends
        });
      }
    }
  }
  if (waiter) waiter.waker->wake(waiter.token);
  return true;
}

bool Session::is_owner(uint64_t token) const {
  auto s = state_.lock();
  return s->link && s->link.token == token && !s->revoked;
}

Link Session::link() const { return state_.lock()->link; }

Link Session::revoke() {
  auto s = state_.lock();
  s->revoked = true;
  Link old = s->link;
  s->link = {};
  return old;
}

bool Session::revoked() const { return state_.lock()->revoked; }

Link Session::deauthorize() {
  auto s = state_.lock();
  if (!s->link || s->revoked) return {};
  s->deauthorized = true;
  return s->link;
}

Link Session::request_admin_disconnect() {
  auto s = state_.lock();
  if (!s->link) return {};
  admin_disconnect_.store(true, std::memory_order_release);
  return s->link;
}

bool Session::deauthorized() const { return state_.lock()->deauthorized; }

Session::WakeCheck Session::wake_check(uint64_t token) const {
  auto s = state_.lock();
  return {.owner = s->link && s->link.token == token && !s->revoked,
          .takeover_requested = s->takeover_requested,
          .deauthorized = s->deauthorized};
}

void Session::resend_inflight(uint64_t token, std::vector<Sendable>& out) {
  auto s = state_.lock();
  if (!s->link || s->link.token != token) return;
  MUSQRATT_ASSERT_OWNER(s->owner_thread);
  for (const auto& f : s->inflight) {
    Sendable sendable;
    sendable.packet_id = f.packet_id;
    if (f.state == InflightState::AwaitPubcomp) {
      sendable.kind = Sendable::Kind::Pubrel;
    } else {
      sendable.dup = true;  // [MQTT-3.3.1-1, 3.1.1 and 5.0]
      sendable.out = f.out;
    }
    out.push_back(std::move(sendable));
  }
}

uint16_t Session::next_packet_id(State& s) {
  while (true) {
    if (++s.last_packet_id == 0) s.last_packet_id = 1;
    uint16_t id = s.last_packet_id;
    bool used = std::any_of(s.inflight.begin(), s.inflight.end(), [id](const Inflight& f) { return f.packet_id == id; });
    if (!used) return id;
  }
}

void Session::recheck_access(State& s) {
  AccessControl::View view = services_->access->view();
  std::shared_ptr<const ClientIdentity> who = client_identity();
  size_t removed = s.queue.erase_if([&](const Outbound& o) {
    if (is_marker(o) || view.can_receive(*who, o.msg->topic)) return false;
    s.queued_bytes -= o.msg->payload.size();
    if (store_ && o.seq) store_->outbound_deleted(client_id_, o.seq);
    return true;
  });
  charge_entries(-static_cast<int64_t>(removed));
  s.acl_generation = view.generation();
  if (removed)
    LOG_INFO("client '%s': %zu queued message(s) dropped: the reloaded ACL no longer lets it read them",
             client_id_.c_str(), removed);
}

void Session::take_sendable(uint64_t token, std::vector<Sendable>& out, size_t window, size_t max_count,
                            util::TimePoint now) {
  auto s = state_.lock();
  if (!s->link || s->link.token != token) return;
  MUSQRATT_ASSERT_OWNER(s->owner_thread);
  s->wake_pending = false;
  // Read access is checked per message when routed; after a reload, again here, so that what
  // waited in the queue is delivered under the rules in force.
  const AccessControl* access = services_ ? services_->access : nullptr;
  const bool acl = access && access->acl_enabled();
  if (acl && s->acl_generation != access->generation()) recheck_access(*s);

  size_t taken = 0;
  int64_t entries = 0;  // entering (+) or leaving (-) memory, charged once at the end
  auto send = [&](Outbound&& o) __attribute__((always_inline)) {  // per message: no call
    Sendable sendable;
    if (o.qos > 0) {
      sendable.packet_id = next_packet_id(*s);
      auto state = o.qos == 1 ? InflightState::AwaitPuback : InflightState::AwaitPubrec;
      if (store_ && o.seq) store_->outbound_saved(client_id_, o.seq, o, state_of(state), sendable.packet_id);
      s->inflight.push_back({sendable.packet_id, state, o});
    }
    sendable.out = std::move(o);
    out.push_back(std::move(sendable));
    ++taken;
  };
  while (!s->queue.empty() && taken < max_count) {
    Outbound& front = s->queue.front();
    if (!is_marker(front)) {
      if (front.qos > 0 && s->inflight.size() >= window) break;
      Outbound o = std::move(front);
      s->queue.pop_front();
      s->queued_bytes -= o.msg->payload.size();
      if (o.msg->expired(now)) {
        if (store_ && o.seq) store_->outbound_deleted(client_id_, o.seq);
        --entries;
        continue;
      }
      if (o.qos == 0) --entries;  // sent now, never in flight
      send(std::move(o));
      continue;
    }
    // Retained messages of a SUBSCRIBE, one at a time as the window allows [MQTT-3.3.1-6].
    Extra& x = *s->extra;
    RetainedBatch& b = x.retained.front();
    if (b.next >= b.messages.size()) {
      if (services_ && services_->memory) services_->memory->release(b.messages.size() * sizeof(MessagePtr));
      x.retained.pop_front();
      s->queue.pop_front();
      continue;
    }
    uint8_t qos = std::min(b.messages[b.next]->qos, b.max_qos);
    if (qos > 0 && s->inflight.size() >= window) break;
    MessagePtr m = std::move(b.messages[b.next++]);
    --x.retained_pending;
    if (m->expired(now)) continue;
    // Found by filter, never checked per topic: checked here when there is an ACL.
    if (acl && !access->view().can_receive(*client_identity(), m->topic)) continue;
    Outbound o;
    o.msg = std::move(m);
    o.qos = qos;
    o.retain = true;  // [MQTT-3.3.1-8]
    if (b.subscription_id) o.subscription_ids.push_back(b.subscription_id);
    if (qos > 0) {
      ++entries;  // it becomes an in-flight entry
      if (store_) o.seq = ++s->more().last_seq;
    }
    send(std::move(o));
  }
  charge_entries(entries);
  if (!s->queue.empty() && taken == max_count) s->wake_pending = true;  // caller resumes later
}

bool Session::on_puback(uint16_t packet_id) {
  auto s = state_.lock();
  auto it = std::find_if(s->inflight.begin(), s->inflight.end(), [&](const Inflight& f) {
    return f.packet_id == packet_id && f.state == InflightState::AwaitPuback;
  });
  if (it == s->inflight.end()) return false;
  if (store_ && it->out.seq) store_->outbound_deleted(client_id_, it->out.seq);
  s->inflight.erase(it);
  charge_entries(-1);
  return true;
}

bool Session::on_pubrec(uint16_t packet_id, bool error) {
  auto s = state_.lock();
  auto it = std::find_if(s->inflight.begin(), s->inflight.end(), [&](const Inflight& f) { return f.packet_id == packet_id; });
  if (it == s->inflight.end() || it->state == InflightState::AwaitPuback) return false;
  if (error) {
    if (store_ && it->out.seq) store_->outbound_deleted(client_id_, it->out.seq);
    s->inflight.erase(it);  // a failing PUBREC ends the exchange [MQTT-4.4.0-2, 5.0]
    charge_entries(-1);
  } else {
    it->state = InflightState::AwaitPubcomp;
    if (store_ && it->out.seq) store_->outbound_saved(client_id_, it->out.seq, it->out, OutboundState::AwaitPubcomp, packet_id);
    it->out.msg.reset();  // the payload is no longer needed
  }
  return true;
}

bool Session::on_pubcomp(uint16_t packet_id) {
  auto s = state_.lock();
  auto it = std::find_if(s->inflight.begin(), s->inflight.end(), [&](const Inflight& f) {
    return f.packet_id == packet_id && f.state == InflightState::AwaitPubcomp;
  });
  if (it == s->inflight.end()) return false;
  if (store_ && it->out.seq) store_->outbound_deleted(client_id_, it->out.seq);
  s->inflight.erase(it);
  charge_entries(-1);
  return true;
}

void Session::drop_inflight(uint16_t packet_id) {
  auto s = state_.lock();
  size_t removed = s->inflight.erase_if([&](const Inflight& f) {
    if (f.packet_id != packet_id) return false;
    if (store_ && f.out.seq) store_->outbound_deleted(client_id_, f.out.seq);
    return true;
  });
  charge_entries(-static_cast<int64_t>(removed));
}

bool Session::incoming_qos2_seen(uint16_t packet_id) const {
  auto s = state_.lock();
  return s->incoming_qos2 && s->incoming_qos2->contains(packet_id);
}
void Session::incoming_qos2_add(uint16_t packet_id) {
  auto s = state_.lock();
  if (!s->incoming_qos2) s->incoming_qos2 = std::make_unique<std::set<uint16_t>>();
  if (s->incoming_qos2->insert(packet_id).second && store_) store_->incoming_qos2_saved(client_id_, packet_id);
}
bool Session::incoming_qos2_release(uint16_t packet_id) {
  auto s = state_.lock();
  bool found = s->incoming_qos2 && s->incoming_qos2->erase(packet_id) > 0;
  if (found && store_) store_->incoming_qos2_deleted(client_id_, packet_id);
  return found;
}
size_t Session::incoming_qos2_count() const {
  auto s = state_.lock();
  return s->incoming_qos2 ? s->incoming_qos2->size() : 0;
}

bool Session::add_subscription(const std::string& filter, const SubscriptionRecord& rec) {
  auto s = state_.lock();
  if (!s->subscriptions) s->subscriptions = std::make_unique<Subscriptions>();
  auto [it, inserted] = s->subscriptions->insert_or_assign(filter, rec);
  if (store_) store_->subscription_saved(client_id_, filter, rec.options, rec.subscription_id);
  return inserted;
}
bool Session::remove_subscription(const std::string& filter) {
  auto s = state_.lock();
  bool found = s->subscriptions && s->subscriptions->erase(filter) > 0;
  if (found && store_) store_->subscription_deleted(client_id_, filter);
  return found;
}
std::vector<std::string> Session::subscription_filters() const {
  auto s = state_.lock();
  std::vector<std::string> out;
  if (!s->subscriptions) return out;
  out.reserve(s->subscriptions->size());
  for (const auto& [f, r] : *s->subscriptions) out.push_back(f);
  return out;
}
bool Session::has_subscription(const std::string& filter) const {
  auto s = state_.lock();
  return s->subscriptions && s->subscriptions->contains(filter);
}
std::vector<std::pair<std::string, SubscriptionRecord>> Session::subscriptions() const {
  auto s = state_.lock();
  if (!s->subscriptions) return {};
  return {s->subscriptions->begin(), s->subscriptions->end()};
}

size_t Session::subscription_count() const {
  auto s = state_.lock();
  return s->subscriptions ? s->subscriptions->size() : 0;
}

void Session::set_expiry_interval(uint32_t seconds) {
  auto s = state_.lock();
  s->expiry_interval = seconds;
  save_session(*s);
}
uint32_t Session::expiry_interval() const { return state_.lock()->expiry_interval; }
std::optional<util::TimePoint> Session::expires_at() const {
  auto s = state_.lock();
  if (s->link || s->disconnected_at == kNever || s->expiry_interval == 0xFFFFFFFF) return std::nullopt;
  return s->disconnected_at + util::Seconds(s->expiry_interval);
}

std::vector<Outbound> Session::drain_all() {
  auto s = state_.lock();
  std::vector<Outbound> out;
  int64_t entries = static_cast<int64_t>(s->inflight.size());
  for (auto& f : s->inflight) {
    if (f.out.msg) out.push_back(std::move(f.out));
  }
  s->queue.for_each([&](Outbound& o) {
    if (is_marker(o)) return;
    ++entries;
    out.push_back(std::move(o));
  });
  s->inflight.clear();
  s->queue.clear();
  s->queued_bytes = 0;
  charge_entries(-entries);
  if (s->extra) {
    s->extra->retained.for_each([&](const RetainedBatch& b) {
      if (services_ && services_->memory) services_->memory->release(b.messages.size() * sizeof(MessagePtr));
    });
    s->extra->retained.clear();
    s->extra->retained_pending = 0;
  }
  return out;
}

RestoredSession Session::snapshot() const {
  auto s = state_.lock();
  RestoredSession r;
  r.client_id = client_id_;
  r.expiry = s->expiry_interval;
  if (s->disconnected_at != kNever) r.disconnected_wall_ms = wall_ms_from(s->disconnected_at);
  if (s->subscriptions) {
    for (const auto& [f, rec] : *s->subscriptions) r.subscriptions.push_back({f, {rec.options, rec.subscription_id}});
  }
  auto row = [](const Outbound& o, OutboundState st, uint16_t packet_id) {
    return RestoredOutbound{0, o.msg, o.qos, o.retain, o.subscription_ids, st, packet_id};
  };
  for (const Inflight& f : s->inflight) r.outbound.push_back(row(f.out, state_of(f.state), f.packet_id));
  // Retained messages still being streamed after a SUBSCRIBE (entries without a message) stay
  // behind: the new node sends the retained messages of its own store.
  s->queue.for_each([&](const Outbound& o) {
    if (o.msg) r.outbound.push_back(row(o, OutboundState::Queued, 0));
  });
  if (s->incoming_qos2) r.incoming_qos2.assign(s->incoming_qos2->begin(), s->incoming_qos2->end());
  return r;
}

std::vector<std::pair<std::string, SubscriptionRecord>> Session::absorb(
    const RestoredSession& earlier, const std::function<uint64_t(const Message&)>& tag) {
  auto s = state_.lock();
  const int64_t entries_before = static_cast<int64_t>(s->inflight.size() + s->queue.size());
  std::unordered_set<uint64_t> tags;
  for (const RestoredOutbound& o : earlier.outbound)
    if (o.msg) tags.insert(tag(*o.msg));
  std::vector<Inflight> inflight;
  util::RingQueue<Outbound> queue;
  for (const RestoredOutbound& o : earlier.outbound) {
    Outbound out = outbound_from(o);
    switch (o.state) {
      case OutboundState::Queued: queue.push_back(std::move(out)); break;
      case OutboundState::AwaitPuback: inflight.push_back({o.packet_id, InflightState::AwaitPuback, std::move(out)}); break;
      case OutboundState::AwaitPubrec: inflight.push_back({o.packet_id, InflightState::AwaitPubrec, std::move(out)}); break;
      case OutboundState::AwaitPubcomp: inflight.push_back({o.packet_id, InflightState::AwaitPubcomp, std::move(out)}); break;
    }
  }
  for (Inflight& f : s->inflight) inflight.push_back(std::move(f));
  s->queue.for_each([&](Outbound& o) {
    if (!o.msg || !tags.contains(tag(*o.msg))) queue.push_back(std::move(o));
  });
  s->inflight = std::move(inflight);
  s->queue = std::move(queue);
  s->queued_bytes = 0;
  s->queue.for_each([&](const Outbound& o) { s->queued_bytes += o.msg ? o.msg->payload.size() : 0; });
  for (const Inflight& f : s->inflight) s->last_packet_id = std::max(s->last_packet_id, f.packet_id);
  charge_entries(static_cast<int64_t>(s->inflight.size() + s->queue.size()) - entries_before);
  if (!earlier.incoming_qos2.empty()) {
    if (!s->incoming_qos2) s->incoming_qos2 = std::make_unique<std::set<uint16_t>>();
    s->incoming_qos2->insert(earlier.incoming_qos2.begin(), earlier.incoming_qos2.end());
  }
  s->expiry_interval = earlier.expiry;
  std::vector<std::pair<std::string, SubscriptionRecord>> added;
  if (!earlier.subscriptions.empty() && !s->subscriptions) s->subscriptions = std::make_unique<Subscriptions>();
  for (const auto& [filter, opt] : earlier.subscriptions) {
    SubscriptionRecord rec{opt.first, opt.second};
    if (s->subscriptions->emplace(filter, rec).second) added.emplace_back(filter, rec);
  }
  return added;
}

size_t Session::queued_count() const {
  auto s = state_.lock();
  size_t n = s->queue.size() + s->on_disk();
  if (s->extra) n = n - s->extra->retained.size() + s->extra->retained_pending;
  return n;
}
size_t Session::inflight_count() const { return state_.lock()->inflight.size(); }

uint64_t Session::queued_bytes() const {
  auto s = state_.lock();
  return s->queued_bytes + (s->extra ? s->extra->disk_bytes : 0);
}

std::optional<util::TimePoint> Session::oldest_created() const {
  auto s = state_.lock();
  // In flight first: those were taken from the queue before anything still in it. A QoS 2
  // message past PUBREC has handed its payload on and no longer waits.
  for (const Inflight& f : s->inflight)
    if (f.out.msg) return f.out.msg->created;
  std::optional<util::TimePoint> oldest;
  s->queue.for_each([&](const Outbound& o) {
    if (!oldest && o.msg) oldest = o.msg->created;
  });
  return oldest;
}

}  // namespace musqratt::broker
