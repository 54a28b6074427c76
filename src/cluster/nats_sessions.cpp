// NatsLink: one client id, one session, cluster-wide (docs/cluster.md, "Sessions").
//  - Every connect is announced (<p>.ctl.takeover, with its time): a node holding an older
//    connection of that client id lets it go (5.0: 0x8E) and drops its session.
//  - A persistent session (expiry > 0) has a record in the session bucket: holder, expiry,
//    subscriptions, and a floor from which its undelivered messages can be read again.
//  - A connect that resumes (clean start 0) a session recorded on another node subscribes to
//    the session's filters first, then asks that node to hand the session over
//    (<p>.ctl.<node>.handover); if the node is gone, the session is rebuilt from its record and
//    the message stream. Either way what arrived meanwhile queues behind, without duplicates.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>

#include "broker/session.h"
#include "cluster/envelope.h"
#include "cluster/nats_link.h"
#include "cluster/nats_link_internal.h"
#include "cluster/session_record.h"
#include "cluster/session_transfer.h"
#include "cluster/subject_map.h"
#include "protocol/topic.h"
#include "util/log.h"

namespace musqratt::cluster {

namespace {

int64_t wall_ms_now() { return wall_ns_now() / 1'000'000; }

/// Messages stored in the stream up to this long before a session was last seen with nothing
/// undelivered may still have been on their way to it; they are read again too.
constexpr int64_t kFloorMarginMs = 5000;

std::vector<std::pair<std::string, broker::SubscriptionRecord>> record_subs(const SessionRecord& r) {
  std::vector<std::pair<std::string, broker::SubscriptionRecord>> out;
  for (const auto& s : r.subscriptions) out.emplace_back(s.filter, broker::SubscriptionRecord{s.options, s.subscription_id});
  return out;
}

}  // namespace

void NatsLink::HandoverWaker::wake(uint64_t token) {
  link_.tasks_.post([l = &link_, token] { l->handover_continue(token); });
}

std::function<uint64_t(const broker::Message&)> NatsLink::tagger() const {
  return [inst = instance_](const broker::Message& m) { return message_tag(m, inst); };
}

// ---------------------------------------------------------------- hooks (worker threads)

bool NatsLink::resume(const std::string& client_id, broker::Link waiter) {
  if (stopping_ || !kv_ready_ || !nats_up()) return false;  // NATS away: a local session only
  tasks_.post([this, client_id, waiter] { resume_task(client_id, waiter); });
  return true;
}

void NatsLink::connected(const std::shared_ptr<broker::Session>& s, bool) {
  int64_t t = wall_ns_now();
  std::string client = s->client_id();
  {
    std::lock_guard lock(held_mu_);
    Held& h = held_[client];
    h.connected_ns = t;
    // New here: nothing undelivered is older than now (one moved here got its record's floor).
    if (!h.floor_ms) h.floor_ms = t / 1'000'000;
  }
  std::weak_ptr<broker::Session> weak = s;
  tasks_.post([this, client, t, weak] {
    // Whoever held this client id before lets its connection go.
    char body[64];
    std::string msg = hex_key(client);
    snprintf(body, sizeof body, " %" PRId64 " ", t);
    msg += body;
    msg += config_.node;
    natsConnection_Publish(nc_, (prefix_ + "ctl.takeover").c_str(), msg.data(), static_cast<int>(msg.size()));
    if (auto s = weak.lock(); s && s->expiry_interval() > 0 && broker_.session(client) == s) write_record(*s);
  });
}

void NatsLink::disconnected(const std::shared_ptr<broker::Session>& s) {
  std::weak_ptr<broker::Session> weak = s;
  tasks_.post([this, weak] {
    // Not if it was handed over meanwhile (its connection left for that).
    if (auto s = weak.lock(); s && s->expiry_interval() > 0 && broker_.session(s->client_id()) == s) write_record(*s);
  });
}

void NatsLink::ended(const std::string& client_id) {
  tasks_.post([this, client_id] { drop_record(client_id); });
}

void NatsLink::session_changed(const broker::Session& s) {
  if (s.expiry_interval() == 0) return;
  bool schedule;
  {
    std::lock_guard lock(held_mu_);
    auto it = held_.find(s.client_id());
    if (it == held_.end()) return;
    it->second.dirty = true;
    schedule = !flush_scheduled_;
    flush_scheduled_ = true;
  }
  if (schedule) tasks_.post_after(util::Millis(100), [this] { checkpoint(false); });
}

// ---------------------------------------------------------------- records (task queue)

void NatsLink::write_record(const broker::Session& s) {
  if (!kv_) return;
  if (!nats_up()) {
    // Written by the next checkpoint once NATS is back.
    std::lock_guard lock(held_mu_);
    held_[s.client_id()].dirty = true;
    return;
  }
  SessionRecord r;
  r.node = config_.node;
  r.instance = instance_;
  r.expiry = s.expiry_interval();
  r.connected = s.online();
  if (!r.connected) r.disconnected_ms = wall_ms_now();
  {
    std::lock_guard lock(held_mu_);
    Held& h = held_[s.client_id()];
    r.floor_ms = h.floor_ms ? h.floor_ms : wall_ms_now();
    h.dirty = false;
  }
  for (const auto& [f, rec] : s.subscriptions()) r.subscriptions.push_back({f, rec.options, rec.subscription_id});
  std::string value = encode_record(r);
  uint64_t rev = 0;
  natsStatus st = kvStore_Put(&rev, kv_, record_key(s.client_id()).c_str(), value.data(), static_cast<int>(value.size()));
  if (st != NATS_OK) {
    LOG_WARN("cluster: session record of '%s' not written: %s", s.client_id().c_str(), natsStatus_GetText(st));
    return;
  }
  std::lock_guard lock(held_mu_);
  held_[s.client_id()].rev = rev;
}

void NatsLink::drop_record(const std::string& client_id) {
  uint64_t rev = 0;
  {
    std::lock_guard lock(held_mu_);
    auto it = held_.find(client_id);
    if (it == held_.end()) return;
    rev = it->second.rev;
    held_.erase(it);
  }
  if (!rev || !kv_) return;
  // Only if nobody wrote it since (another node may hold the session now): an empty value.
  uint64_t r = 0;
  kvStore_Update(&r, kv_, record_key(client_id).c_str(), "", 0, rev);
}

void NatsLink::checkpoint(bool periodic) {
  if (stopping_) return;
  if (!nats_up()) {
    if (periodic) tasks_.post_after(util::Millis(int64_t{config_.checkpoint_interval} * 1000), [this] { checkpoint(true); });
    return;
  }
  struct Due {
    std::string client;
    bool write;
  };
  std::vector<Due> due;
  int64_t now = wall_ms_now();
  {
    std::lock_guard lock(held_mu_);
    flush_scheduled_ = false;
    for (auto& [client, h] : held_) {
      if (!h.rev && !h.dirty) continue;  // not a persistent session
      due.push_back({client, h.dirty});
    }
  }
  for (const Due& d : due) {
    broker::SessionPtr s = broker_.session(d.client);
    if (!s || s->expiry_interval() == 0) continue;
    bool write = d.write;
    if (periodic && s->queued_count() + s->inflight_count() == 0) {
      // Nothing undelivered: a takeover after this node died need not read older messages.
      std::lock_guard lock(held_mu_);
      Held& h = held_[d.client];
      int64_t floor = now - kFloorMarginMs;
      if (floor > h.floor_ms + int64_t{config_.checkpoint_interval} * 1000) {
        h.floor_ms = floor;
        write = true;
      }
    }
    if (write) write_record(*s);
  }
  if (periodic) tasks_.post_after(util::Millis(int64_t{config_.checkpoint_interval} * 1000), [this] { checkpoint(true); });
}

std::optional<SessionRecord> NatsLink::read_record(const std::string& client_id, bool& failed) {
  failed = false;
  kvEntry* e = nullptr;
  natsStatus st = kvStore_Get(&e, kv_, record_key(client_id).c_str());
  if (st == NATS_NOT_FOUND) return std::nullopt;
  if (st != NATS_OK) {
    failed = true;
    LOG_WARN("cluster: session record of '%s' not readable: %s", client_id.c_str(), natsStatus_GetText(st));
    return std::nullopt;
  }
  auto r = decode_record(std::string_view(static_cast<const char*>(kvEntry_Value(e)), static_cast<size_t>(kvEntry_ValueLen(e))));
  kvEntry_Destroy(e);
  return r;
}

// ---------------------------------------------------------------- taking a session over

void NatsLink::resume_task(const std::string& client, broker::Link waiter) {
  bool failed = false;
  std::optional<SessionRecord> rec = stopping_ || !nats_up() ? std::nullopt : read_record(client, failed);
  if (!rec || (rec->node == config_.node && rec->instance == instance_)) {
    broker_.resume_locally(client, waiter);
    return;
  }
  // The holder's live subscriptions first (the record may lag behind them by a moment), then
  // subscribe here, then ask it to let go: from the moment this node subscribed nothing
  // published for the session is missed, whatever the other node does.
  enum class Outcome { Moved, None, Recover } outcome = Outcome::Recover;
  SessionRecord live = *rec;
  std::string subject = prefix_ + "ctl." + rec->node + ".handover";
  auto ask = [&](const char* what, std::string& answer) {
    char body[48];
    snprintf(body, sizeof body, " %016" PRIx64 " %s", rec->instance, what);
    std::string req = hex_key(client) + body;
    natsMsg* reply = nullptr;
    natsStatus st = natsConnection_Request(&reply, nc_, subject.c_str(), req.data(), static_cast<int>(req.size()),
                                           config_.takeover_timeout_ms);
    if (st != NATS_OK) {
      // No responders: that node is gone. A timeout: it is too slow to count on.
      LOG_WARN("cluster: node '%s' did not answer for session '%s' (%s)", rec->node.c_str(), client.c_str(),
               natsStatus_GetText(st));
      return false;
    }
    answer.assign(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply)));
    natsMsg_Destroy(reply);
    return true;
  };
  std::string answer;
  bool asked = rec->node != config_.node && ask("subs", answer);
  if (asked && answer == "none") outcome = Outcome::None;
  if (asked && answer.starts_with("subs"))
    if (auto r = decode_record(std::string_view(answer).substr(4))) live = *r;
  if (outcome != Outcome::None) {
    auto subs = record_subs(live);
    broker_.prepare_adoption(client, live.expiry, subs, util::now());
    for (const auto& [filter, r] : subs) reconcile(filter, 0);
    natsConnection_FlushTimeout(nc_, 1000);  // our subscriptions are at the server
  }
  const int64_t since_ms = wall_ms_now();
  if (asked && answer.starts_with("subs") && ask("move", answer)) {
    if (answer == "none") {
      outcome = Outcome::None;
    } else if (answer.starts_with("moved")) {
      auto state = decode_transfer({reinterpret_cast<const uint8_t*>(answer.data()) + 5, answer.size() - 5}, client);
      if (state) {
        outcome = Outcome::Moved;
        broker_.absorb(client, *state, tagger());
        adopted_++;
        LOG_INFO("cluster: session '%s' moved here from node '%s' (%zu message(s) queued or in flight)", client.c_str(),
                 rec->node.c_str(), state->outbound.size());
      }
    }
  }
  switch (outcome) {
    case Outcome::None:
      // Its session ended there (no expiry): the client starts afresh.
      broker_.abandon(client);
      LOG_INFO("cluster: '%s' had no session left on node '%s'", client.c_str(), rec->node.c_str());
      break;
    case Outcome::Recover:
      recover_session(client, live, since_ms);
      [[fallthrough]];
    case Outcome::Moved: {
      // What it had undelivered may be older than now: keep the floor it had.
      std::lock_guard lock(held_mu_);
      held_[client].floor_ms = live.floor_ms ? live.floor_ms : rec->floor_ms;
      break;
    }
  }
  broker_.resume_locally(client, waiter);
}

void NatsLink::recover_session(const std::string& client, const SessionRecord& rec, int64_t until_ms) {
  // The node that held it is gone: its queue and in-flight messages are read again from the
  // stream, from the record's floor on, for the session's filters, in stream order.
  struct Item {
    broker::MessagePtr msg;
    uint8_t qos = 0;
    bool rap = false;
    std::vector<uint32_t> ids;
  };
  std::map<uint64_t, Item> items;  // by stream sequence: one copy however many filters match
  const int64_t from_ns = (rec.floor_ms - kFloorMarginMs) * 1'000'000;
  const int64_t until_ns = until_ms * 1'000'000;
  size_t limit = broker_.config().max_queued_messages ? broker_.config().max_queued_messages : SIZE_MAX;
  bool complete = true;
  for (const auto& sub : rec.subscriptions) {
    if (protocol::parse_shared_filter(sub.filter) || sub.filter.starts_with("$SYS")) continue;
    for (const std::string& s : filter_to_subjects(sub.filter)) {
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Stream = stream_msgs_.c_str();
      so.ManualAck = true;
      so.Config.AckPolicy = js_AckNone;
      so.Config.DeliverPolicy = js_DeliverByStartTime;
      so.Config.OptStartTime = from_ns > 0 ? from_ns : 1;
      so.Config.MemoryStorage = true;
      so.Config.InactiveThreshold = 10LL * 1'000'000'000;
      natsSubscription* rsub = nullptr;
      jsErrCode jerr = static_cast<jsErrCode>(0);
      std::string subject = prefix_ + "m1." + s;
      if (js_SubscribeSync(&rsub, js_, subject.c_str(), nullptr, &so, &jerr) != NATS_OK) {
        complete = false;
        continue;
      }
      while (items.size() < limit) {
        natsMsg* m = nullptr;
        if (natsSubscription_NextMsg(&m, rsub, 1000) != NATS_OK) break;  // nothing more
        jsMsgMetaData* meta = nullptr;
        bool last = true;
        if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
          uint64_t sseq = meta->Sequence.Stream;
          bool in_range = meta->Timestamp <= until_ns + kFloorMarginMs * 1'000'000;
          last = meta->NumPending == 0 || !in_range;
          jsMsgMetaData_Destroy(meta);
          std::string_view subj(natsMsg_GetSubject(m));
          subj.remove_prefix(std::min(subj.size(), prefix_.size() + 3));  // "m1."
          auto topic = in_range ? subject_to_topic(subj) : std::nullopt;
          auto d = topic ? decode_envelope(std::move(*topic), {reinterpret_cast<const uint8_t*>(natsMsg_GetData(m)),
                                                               static_cast<size_t>(natsMsg_GetDataLength(m))})
                         : std::nullopt;
          if (d && protocol::topic_matches(sub.filter, d->msg->topic)) {
            Item& it = items[sseq];
            if (!it.msg) it.msg = d->msg;
            it.qos = std::max<uint8_t>(it.qos, std::min(d->msg->qos, sub.options.qos));
            it.rap = it.rap || sub.options.retain_as_published;
            if (sub.subscription_id) it.ids.push_back(sub.subscription_id);
          }
        }
        natsMsg_Destroy(m);
        if (last) break;
      }
      natsSubscription_Unsubscribe(rsub);
      natsSubscription_Destroy(rsub);
    }
  }
  broker::RestoredSession state;
  state.client_id = client;
  state.expiry = rec.expiry;
  for (auto& [sseq, it] : items) {
    broker::RestoredOutbound o;
    o.msg = it.msg;
    o.qos = it.qos;
    o.retain = it.rap && it.msg->retain;
    o.subscription_ids = std::move(it.ids);
    o.state = broker::OutboundState::Queued;
    state.outbound.push_back(std::move(o));
  }
  broker_.absorb(client, state, tagger());
  recovered_++;
  LOG_INFO("cluster: session '%s' of node '%s' (gone) rebuilt here from its record: %zu subscription(s), %zu message(s) "
           "read again from the stream%s",
           client.c_str(), rec.node.c_str(), rec.subscriptions.size(), state.outbound.size(),
           complete ? "" : " (some filters could not be read)");
}

// ---------------------------------------------------------------- handing a session over

void NatsLink::on_control(SubContext& ctx, natsMsg* m) {
  std::string body(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
  if (ctx.kind == SubKind::Takeover) {
    // "<hex client> <connect time ns> <node>"
    size_t a = body.find(' '), b = a == std::string::npos ? a : body.find(' ', a + 1);
    if (b == std::string::npos) return;
    std::string node = body.substr(b + 1);
    if (node == config_.node) return;
    auto client = unhex_key(std::string_view(body).substr(0, a));
    int64_t t = strtoll(body.c_str() + a + 1, nullptr, 10);
    if (!client) return;
    tasks_.post([this, c = *client, t, node] {
      {
        std::lock_guard lock(held_mu_);
        auto it = held_.find(c);
        if (it == held_.end() || it->second.connected_ns >= t) return;  // ours is the newer
      }
      bool waiting = false;
      broker_.hand_over(c, false, {}, &waiting);
      takeovers_++;
      LOG_INFO("cluster: client '%s' connected on node '%s': its session here is dropped", c.c_str(), node.c_str());
    });
    return;
  }
  // Handover request: "<hex client> <instance> subs|move"
  const char* reply = natsMsg_GetReply(m);
  if (!reply) return;
  size_t a = body.find(' '), b = a == std::string::npos ? a : body.find(' ', a + 1);
  if (b == std::string::npos) return;
  auto client = unhex_key(std::string_view(body).substr(0, a));
  uint64_t inst = strtoull(body.c_str() + a + 1, nullptr, 16);
  bool move = body.substr(b + 1) == "move";
  if (!client) return;
  tasks_.post([this, c = *client, inst, move, r = std::string(reply)] { handover(c, inst, move, r); });
}

void NatsLink::handover(const std::string& client, uint64_t inst, bool move, const std::string& reply) {
  auto answer = [&](std::string_view text) {
    natsConnection_Publish(nc_, reply.c_str(), text.data(), static_cast<int>(text.size()));
  };
  if (inst != instance_) {
    answer("gone");  // recorded by an earlier process of this node: read it again from the stream
    return;
  }
  if (!move) {
    // First step: what the session subscribes to right now.
    broker::SessionPtr s = broker_.session(client);
    if (!s) {
      answer("none");
      return;
    }
    SessionRecord r;
    r.node = config_.node;
    r.instance = instance_;
    r.expiry = s->expiry_interval();
    for (const auto& [f, rec] : s->subscriptions()) r.subscriptions.push_back({f, rec.options, rec.subscription_id});
    {
      std::lock_guard lock(held_mu_);
      auto it = held_.find(client);
      r.floor_ms = it != held_.end() ? it->second.floor_ms : 0;
    }
    answer("subs" + encode_record(r));
    return;
  }
  uint64_t token;
  {
    std::lock_guard lock(handovers_mu_);
    token = next_handover_++;
    handovers_[token] = {client, reply};
  }
  handover_continue(token);
}

void NatsLink::handover_continue(uint64_t token) {
  std::string client, reply;
  {
    std::lock_guard lock(handovers_mu_);
    auto it = handovers_.find(token);
    if (it == handovers_.end()) return;
    client = it->second.first;
    reply = it->second.second;
  }
  bool waiting = false;
  auto state = broker_.hand_over(client, true, broker::Link{&handover_waker_, token}, &waiting);
  if (waiting) return;  // its connection is leaving; woken when it has
  {
    std::lock_guard lock(handovers_mu_);
    handovers_.erase(token);
  }
  {
    std::lock_guard lock(held_mu_);
    held_.erase(client);
  }
  std::string out;
  if (!state) {
    out = "none";
  } else {
    out = "moved";
    encode_transfer(out, *state, instance_);
    if (out.size() + 1024 > static_cast<size_t>(natsConnection_GetMaxPayload(nc_))) {
      // Too large for one NATS message: the taker rebuilds it from the record and the stream.
      out = "gone";
    }
    handed_over_++;
    LOG_INFO("cluster: session '%s' handed over to another node (%zu message(s) queued or in flight)", client.c_str(),
             state->outbound.size());
  }
  natsConnection_Publish(nc_, reply.c_str(), out.data(), static_cast<int>(out.size()));
}

}  // namespace musqratt::cluster
