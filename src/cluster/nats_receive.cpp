// NatsLink's receiving side: which NATS subscriptions this node holds (one set per filter its
// sessions subscribe to, made on the first subscription and dropped after the last) and what
// happens to each message that arrives on them.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <functional>

#include "broker/session.h"
#include "cluster/envelope.h"
#include "cluster/nats_link.h"
#include "cluster/nats_link_internal.h"
#include "cluster/subject_map.h"
#include "protocol/topic.h"
#include "util/log.h"

namespace musqratt::cluster {

int64_t wall_ns_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

namespace {

constexpr int64_t kNs = 1'000'000'000;

/// The NATS name of a shared subscription ("$share/g/f"): a queue group of its own per group
/// and filter (two shared subscriptions of one group with different filters are two groups).
std::string group_token(const std::string& share_filter) {
  char buf[20];
  snprintf(buf, sizeof buf, "%016zx", std::hash<std::string>{}(share_filter));
  return buf;
}

/// $SYS topics are each node's own: never sent to NATS, so never subscribed to there.
bool node_local(std::string_view f) { return f.starts_with("$SYS/") || f == "$SYS"; }

void free_context(void* ctx) { delete static_cast<NatsLink::SubContext*>(ctx); }

}  // namespace

// ---------------------------------------------------------------- interest

void NatsLink::subscribed(const std::shared_ptr<broker::Session>& s, const std::string& filter,
                          const broker::SubscriptionRecord& rec) {
  session_changed(*s);
  if (hold_enabled_ && !node_local(filter) && !protocol::parse_shared_filter(filter) && hold_filter_overlaps(filter)) {
    std::weak_ptr<broker::Session> weak = s;
    tasks_.post([this, weak, filter, rec] { take_held(weak, filter, rec, false); });
  }
  if (node_local(filter) || !interest_.add(filter)) return;
  // Stored messages count from this moment: the consumer made for it starts here, however long
  // making it takes.
  int64_t since = wall_ns_now();
  tasks_.post([this, filter, since] { reconcile(filter, since); });
}

void NatsLink::unsubscribed(const broker::Session& s, const std::string& filter) {
  session_changed(s);
  if (!node_local(filter) && interest_.remove(filter)) tasks_.post([this, filter] { reconcile(filter, 0); });
}

void NatsLink::reconcile(const std::string& key, int64_t since) {
  if (stopping_) return;
  bool wanted = interest_.count(key) > 0;
  auto it = applied_.find(key);
  if (!wanted) {
    if (it != applied_.end()) {
      drop_interest(*it->second);
      applied_.erase(it);
      LOG_DEBUG("cluster: no more interest in '%s'", key.c_str());
    }
    return;
  }
  if (it == applied_.end()) it = applied_.emplace(key, std::make_unique<FilterSubs>()).first;
  FilterSubs& fs = *it->second;
  if (!fs.since) fs.since = since ? since : wall_ns_now();
  if (fs.complete) return;
  if (!apply_interest(key, fs)) {
    // JetStream not reachable yet: the core part is in place; the consumers come later, still
    // starting from when the subscription was made.
    tasks_.post_after(util::Millis(1000), [this, key] { reconcile(key, 0); });
  }
}

void NatsLink::drop_interest(FilterSubs& fs) {
  for (auto* list : {&fs.core, &fs.readers, &fs.shared}) {
    for (SubContext* c : *list) retire(c);
    list->clear();
  }
}

NatsLink::SubContext* NatsLink::make_core(const std::string& subject, const std::string& queue, SubKind kind,
                                         const std::string& share_filter) {
  auto* ctx = new SubContext;
  ctx->link = this;
  ctx->kind = kind;
  ctx->share_filter = share_filter;
  natsStatus st = queue.empty() ? natsConnection_Subscribe(&ctx->sub, nc_, subject.c_str(), on_message, ctx)
                                : natsConnection_QueueSubscribe(&ctx->sub, nc_, subject.c_str(), queue.c_str(), on_message, ctx);
  if (st != NATS_OK) {
    LOG_WARN("cluster: cannot subscribe to %s: %s", subject.c_str(), natsStatus_GetText(st));
    delete ctx;
    return nullptr;
  }
  natsSubscription_SetOnCompleteCB(ctx->sub, free_context, ctx);
  natsSubscription_SetPendingLimits(ctx->sub, 1 << 20, 256 << 20);
  return ctx;
}

NatsLink::SubContext* NatsLink::make_reader(const std::string& key, size_t index, const std::string& stream,
                                           const std::string& subject, SubKind kind, ReaderStart start) {
  auto* ctx = new SubContext;
  ctx->link = this;
  ctx->kind = kind;
  ctx->reader = true;
  ctx->id = next_reader_id_++;
  ctx->key = key;
  ctx->index = index;
  ctx->subject = subject;
  ctx->last_sseq = start.after_seq;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.ManualAck = true;
  so.Config.AckPolicy = js_AckNone;
  so.Config.FlowControl = true;
  so.Config.Heartbeat = 2 * kNs;  // a consumer lost with its server is noticed within seconds
  so.Config.MemoryStorage = true;
  so.Config.InactiveThreshold = 30 * kNs;  // the server forgets it if this node goes away
  if (start.after_seq) {
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = start.after_seq + 1;
  } else if (start.last_per_subject) {
    so.Config.DeliverPolicy = js_DeliverLastPerSubject;
  } else {
    so.Config.DeliverPolicy = js_DeliverByStartTime;
    so.Config.OptStartTime = start.time_ns;
  }
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsSubscription* sub = nullptr;
  // Registered before it exists, so an error callback in between finds it.
  natsStatus st = js_Subscribe(&sub, js_, subject.c_str(), on_message, ctx, nullptr, &so, &jerr);
  if (st != NATS_OK) {
    LOG_WARN("cluster: cannot read %s from %s: %s (%s, JetStream error %d); retrying", subject.c_str(), stream.c_str(),
             natsStatus_GetText(st), nats_GetLastError(nullptr), int(jerr));
    delete ctx;
    return nullptr;
  }
  ctx->sub = sub;
  natsSubscription_SetOnCompleteCB(sub, free_context, ctx);
  natsSubscription_SetPendingLimits(sub, 1 << 20, 256 << 20);
  std::lock_guard lock(readers_mu_);
  readers_[sub] = ctx;
  return ctx;
}

void NatsLink::retire(SubContext* ctx) {
  if (!ctx) return;
  ctx->broken = true;
  {
    std::lock_guard lock(readers_mu_);
    readers_.erase(ctx->sub);
  }
  natsSubscription* sub = ctx->sub;
  natsSubscription_Unsubscribe(sub);  // deletes an ephemeral consumer the library made
  natsSubscription_Destroy(sub);      // ctx is freed once its last callback returned
}

bool NatsLink::apply_interest(const std::string& key, FilterSubs& fs) {
  auto shared = protocol::parse_shared_filter(key);
  const std::string filter(shared ? shared->filter : std::string_view(key));
  const std::vector<std::string> subjects = filter_to_subjects(filter);
  const std::string queue = shared ? group_token(key) : std::string();
  const SubKind kind = shared ? SubKind::Shared : SubKind::Plain;
  // QoS 0 messages: core NATS; a queue group per shared subscription picks one node.
  for (size_t i = fs.core.size(); i < subjects.size(); ++i) {
    SubContext* c = make_core(prefix_ + "m0." + subjects[i], queue, kind, shared ? key : std::string());
    if (!c) return false;
    fs.core.push_back(c);
  }
  if (!streams_ready_ || !nats_up()) return false;
  // QoS 1/2 messages from the stream: a plain filter reads them in order with an ephemeral
  // consumer per subject, starting when the interest began; a shared subscription has one
  // durable consumer per subject for the whole cluster, delivered to a queue group.
  if (!shared) {
    fs.readers.resize(subjects.size(), nullptr);
    for (size_t i = 0; i < subjects.size(); ++i) {
      if (fs.readers[i]) continue;
      fs.readers[i] = make_reader(key, i, stream_msgs_, prefix_ + "m1." + subjects[i], SubKind::Plain,
                                  ReaderStart{0, fs.since, false});
      if (!fs.readers[i]) return false;
    }
  } else {
    for (size_t i = fs.shared.size(); i < subjects.size(); ++i) {
      std::string subject = prefix_ + "m1." + subjects[i];
      std::string durable = config_.subject_prefix + "_S_" + queue + "_" + std::to_string(i);
      std::string deliver = prefix_ + "sd." + queue + "." + std::to_string(i);
      jsConsumerConfig cc;
      jsConsumerConfig_Init(&cc);
      cc.Durable = durable.c_str();
      cc.DeliverSubject = deliver.c_str();
      cc.DeliverGroup = queue.c_str();
      cc.FilterSubject = subject.c_str();
      cc.AckPolicy = js_AckExplicit;
      cc.AckWait = 10 * kNs;
      cc.MaxAckPending = 10000;
      cc.DeliverPolicy = js_DeliverByStartTime;
      cc.OptStartTime = fs.since;
      cc.InactiveThreshold = 3600 * kNs;  // a group nobody belongs to for an hour is forgotten
      jsConsumerInfo* ci = nullptr;
      jsErrCode jerr = static_cast<jsErrCode>(0);
      natsStatus st = js_AddConsumer(&ci, js_, stream_msgs_.c_str(), &cc, nullptr, &jerr);
      if (st == NATS_OK) jsConsumerInfo_Destroy(ci);
      // Another node made it already: join it as it is.
      if (st != NATS_OK && (jerr == JSConsumerNameExistErr || jerr == JSConsumerExistingActiveErr)) st = NATS_OK;
      auto* ctx = new SubContext;
      ctx->link = this;
      ctx->kind = SubKind::Shared;
      ctx->share_filter = key;
      if (st == NATS_OK) {
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = stream_msgs_.c_str();
        so.Consumer = durable.c_str();
        so.Queue = queue.c_str();
        so.ManualAck = true;
        st = js_Subscribe(&ctx->sub, js_, subject.c_str(), on_message, ctx, nullptr, &so, &jerr);
      }
      if (st != NATS_OK) {
        LOG_WARN("cluster: cannot join shared group %s on %s: %s (%s, JetStream error %d); retrying", key.c_str(),
                 subject.c_str(), natsStatus_GetText(st), nats_GetLastError(nullptr), int(jerr));
        delete ctx;
        return false;
      }
      natsSubscription_SetOnCompleteCB(ctx->sub, free_context, ctx);
      natsSubscription_SetPendingLimits(ctx->sub, 1 << 20, 256 << 20);
      fs.shared.push_back(ctx);
    }
  }
  fs.complete = true;
  LOG_DEBUG("cluster: subscribed on NATS for '%s'", key.c_str());
  return true;
}

void NatsLink::start_retained_mirror() {
  if (retained_ || stopping_) return;
  if (!nats_up()) {
    tasks_.post_after(util::Millis(1000), [this] { start_retained_mirror(); });
    return;
  }
  retained_ = make_reader("", 0, stream_retained_, prefix_ + "r.>", SubKind::Retained, ReaderStart{0, 0, true});
  if (!retained_) tasks_.post_after(util::Millis(1000), [this] { start_retained_mirror(); });
}

void NatsLink::reader_broken(SubContext& ctx) {
  if (ctx.broken.exchange(true)) return;
  resets_++;
  std::string key = ctx.key;
  size_t index = ctx.index;
  uint64_t id = ctx.id;
  tasks_.post([this, key, index, id] { reset_reader(key, index, id); });
}

void NatsLink::reset_reader(const std::string& key, size_t index, uint64_t id) {
  if (stopping_) return;
  SubContext** slot = nullptr;
  if (key.empty()) {
    slot = &retained_;
  } else if (auto it = applied_.find(key); it != applied_.end() && index < it->second->readers.size()) {
    slot = &it->second->readers[index];
  }
  if (!slot || !*slot || (*slot)->id != id) return;  // replaced or unsubscribed meanwhile
  if (!nats_up()) {
    tasks_.post_after(util::Millis(500), [this, key, index, id] { reset_reader(key, index, id); });
    return;
  }
  SubContext* old = *slot;
  uint64_t after = old->last_sseq;
  ReaderStart start{after, 0, false};
  if (!after) {
    // Nothing taken yet: start again where the first one started.
    if (key.empty()) start.last_per_subject = true;
    else start.time_ns = applied_[key]->since;
  }
  SubContext* fresh = make_reader(key, index, key.empty() ? stream_retained_ : stream_msgs_, old->subject, old->kind, start);
  if (!fresh) {
    tasks_.post_after(util::Millis(1000), [this, key, index, id] { reset_reader(key, index, id); });
    return;
  }
  LOG_INFO("cluster: %s read again from stream sequence %" PRIu64 " after a gap", old->subject.c_str(), after + 1);
  *slot = fresh;
  retire(old);
}

// ---------------------------------------------------------------- messages in

void NatsLink::on_message(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
  auto* ctx = static_cast<SubContext*>(closure);
  ctx->link->receive(*ctx, m);
  natsMsg_Destroy(m);
}

void NatsLink::receive(SubContext& ctx, natsMsg* m) {
  if (stopping_) return;
  if (ctx.kind == SubKind::Heartbeat) {
    on_heartbeat(m);
    return;
  }
  if (ctx.kind == SubKind::Takeover || ctx.kind == SubKind::Handover) {
    on_control(ctx, m);
    return;
  }
  if (ctx.kind == SubKind::ProbeReply) {
    on_probe_reply(m);
    return;
  }
  uint64_t sseq = 0;
  if (ctx.reader) {
    if (ctx.broken) return;  // a replacement is on its way; it starts after the last one taken
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, m) != NATS_OK) return;
    uint64_t dseq = meta->Sequence.Consumer;
    sseq = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
    if (dseq != ctx.next_dseq) {
      LOG_WARN("cluster: %s: delivery %" PRIu64 " where %" PRIu64 " was due; reading again from the stream",
               ctx.subject.c_str(), dseq, ctx.next_dseq);
      reader_broken(ctx);
      return;
    }
    ++ctx.next_dseq;
  }
  // <prefix><kind>.<topic subject>
  std::string_view subject(natsMsg_GetSubject(m));
  std::optional<Decoded> d;
  if (subject.starts_with(prefix_)) {
    subject.remove_prefix(prefix_.size());
    size_t dot = subject.find('.');
    if (dot != std::string_view::npos) {
      if (auto topic = subject_to_topic(subject.substr(dot + 1))) {
        d = decode_envelope(std::move(*topic), {reinterpret_cast<const uint8_t*>(natsMsg_GetData(m)),
                                                static_cast<size_t>(natsMsg_GetDataLength(m))});
      }
    }
  }
  if (!d) {
    malformed_++;
    if (ctx.kind == SubKind::Shared) natsMsg_Ack(m, nullptr);  // never redelivered
    if (sseq) ctx.last_sseq = sseq;
    LOG_DEBUG("cluster: ignoring a message on %s that no node made", natsMsg_GetSubject(m));
    return;
  }
  switch (ctx.kind) {
    case SubKind::Plain: {
      // This node routed its own messages when they were published.
      if (d->who.instance != instance_) {
        bool first;
        {
          std::lock_guard lock(dedupe_mu_);
          first = dedupe_.first_time(d->who, util::now());
        }
        size_t receivers = 1;  // a repeat reached this node's subscribers before
        if (first) {
          in_++;
          receivers = broker_.route_remote(d->msg);
        } else {
          duplicates_++;
        }
        // A message that may have to be held asks whether anyone received it (nats_hold.cpp).
        if (const char* reply = natsMsg_GetReply(m); reply && !ctx.reader)
          natsConnection_PublishString(nc_, reply, receivers ? "1" : "0");
      }
      break;
    }
    case SubKind::Shared: {
      in_++;
      bool taken = broker_.route_shared(ctx.share_filter, d->msg);
      // From the group's consumer (QoS 1/2): acknowledged once a member here has it; if no
      // member is left here, another node gets it.
      if (taken) natsMsg_Ack(m, nullptr);
      else natsMsg_Nak(m, nullptr);
      break;
    }
    case SubKind::Retained:
      broker_.retained_remote(d->msg);
      break;
    case SubKind::Heartbeat:
    case SubKind::Takeover:
    case SubKind::Handover:
    case SubKind::ProbeReply: break;
  }
  if (sseq) ctx.last_sseq = sseq;
}

}  // namespace musqratt::cluster
