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

}  // namespace

// ---------------------------------------------------------------- interest

namespace {
/// $SYS topics are each node's own: never sent to NATS, so never subscribed to there.
bool node_local(std::string_view topic_or_filter) { return topic_or_filter.starts_with("$SYS/") || topic_or_filter == "$SYS"; }
}  // namespace

void NatsLink::subscribed(const std::shared_ptr<broker::Session>&, const std::string& filter,
                          const broker::SubscriptionRecord&) {
  if (node_local(filter) || !interest_.add(filter)) return;
  // Stored messages count from this moment: the consumer made for it starts here, however long
  // making it takes.
  int64_t since = wall_ns_now();
  tasks_.post([this, filter, since] { reconcile(filter, since); });
}

void NatsLink::unsubscribed(const broker::Session&, const std::string& filter) {
  if (!node_local(filter) && interest_.remove(filter)) tasks_.post([this, filter] { reconcile(filter, 0); });
}

void NatsLink::reconcile(const std::string& key, int64_t since) {
  if (stopping_) return;
  bool wanted = interest_.count(key) > 0;
  auto it = applied_.find(key);
  if (!wanted) {
    if (it != applied_.end()) {
      it->second->destroy();
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

bool NatsLink::apply_interest(const std::string& key, FilterSubs& fs) {
  auto shared = protocol::parse_shared_filter(key);
  const std::string filter(shared ? shared->filter : std::string_view(key));
  const std::vector<std::string> subjects = filter_to_subjects(filter);
  if (!fs.ctx) {
    fs.ctx = std::make_unique<SubContext>();
    fs.ctx->link = this;
    fs.ctx->kind = shared ? SubKind::Shared : SubKind::Plain;
    if (shared) fs.ctx->share_filter = key;
  }
  const std::string queue = shared ? group_token(key) : std::string();
  if (!fs.core_done) {
    // QoS 0 messages: core NATS; a queue group per shared subscription picks one node.
    for (const std::string& s : subjects) {
      natsSubscription* sub = nullptr;
      std::string subject = prefix_ + "m0." + s;
      natsStatus st = shared ? natsConnection_QueueSubscribe(&sub, nc_, subject.c_str(), queue.c_str(), on_message, fs.ctx.get())
                             : natsConnection_Subscribe(&sub, nc_, subject.c_str(), on_message, fs.ctx.get());
      if (st != NATS_OK) {
        LOG_WARN("cluster: cannot subscribe to %s: %s", subject.c_str(), natsStatus_GetText(st));
        return false;
      }
      natsSubscription_SetPendingLimits(sub, 1 << 20, 256 << 20);
      fs.subs.push_back(sub);
    }
    fs.core_done = true;
  }
  if (!streams_ready_) return false;
  // QoS 1/2 messages: from the stream. A plain filter gets an ordered consumer per subject
  // (ephemeral, in stream order, gaps repaired by the client library); a shared subscription
  // one durable consumer per subject for the whole cluster, delivered to a queue group.
  for (size_t i = fs.stream_subs; i < subjects.size(); ++i) {
    std::string subject = prefix_ + "m1." + subjects[i];
    natsSubscription* sub = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream_msgs_.c_str();
    natsStatus st;
    if (!shared) {
      so.Ordered = true;
      so.Config.DeliverPolicy = js_DeliverByStartTime;
      so.Config.OptStartTime = fs.since;
      so.Config.Heartbeat = 2 * kNs;  // a consumer lost with its server is recreated within seconds
      st = js_Subscribe(&sub, js_, subject.c_str(), on_message, fs.ctx.get(), nullptr, &so, &jerr);
    } else {
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
      st = js_AddConsumer(&ci, js_, stream_msgs_.c_str(), &cc, nullptr, &jerr);
      if (st == NATS_OK) jsConsumerInfo_Destroy(ci);
      // Another node made it already: join it as it is.
      if (st != NATS_OK && (jerr == JSConsumerNameExistErr || jerr == JSConsumerExistingActiveErr)) st = NATS_OK;
      if (st == NATS_OK) {
        so.Consumer = durable.c_str();
        so.Queue = queue.c_str();
        so.ManualAck = true;
        st = js_Subscribe(&sub, js_, subject.c_str(), on_message, fs.ctx.get(), nullptr, &so, &jerr);
      }
    }
    if (st != NATS_OK) {
      LOG_WARN("cluster: cannot consume %s from %s: %s (%s, JetStream error %d); retrying", subject.c_str(),
               stream_msgs_.c_str(), natsStatus_GetText(st), nats_GetLastError(nullptr), int(jerr));
      return false;
    }
    natsSubscription_SetPendingLimits(sub, 1 << 20, 256 << 20);
    fs.subs.push_back(sub);
    fs.stream_subs = i + 1;
  }
  fs.complete = true;
  LOG_DEBUG("cluster: subscribed on NATS for '%s'", key.c_str());
  return true;
}

void NatsLink::start_retained_mirror() {
  if (retained_sub_ || stopping_) return;
  retained_ctx_ = std::make_unique<SubContext>();
  retained_ctx_->link = this;
  retained_ctx_->kind = SubKind::Retained;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream_retained_.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverLastPerSubject;
  so.Config.Heartbeat = 2 * kNs;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  std::string subject = prefix_ + "r.>";
  natsStatus st = js_Subscribe(&retained_sub_, js_, subject.c_str(), on_message, retained_ctx_.get(), nullptr, &so, &jerr);
  if (st != NATS_OK) {
    retained_sub_ = nullptr;
    LOG_WARN("cluster: cannot mirror retained messages: %s; retrying", natsStatus_GetText(st));
    tasks_.post_after(util::Millis(1000), [this] { start_retained_mirror(); });
    return;
  }
  natsSubscription_SetPendingLimits(retained_sub_, 1 << 20, 256 << 20);
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
    LOG_DEBUG("cluster: ignoring a message on %s that no node made", natsMsg_GetSubject(m));
    return;
  }
  switch (ctx.kind) {
    case SubKind::Plain: {
      // This node routed its own messages when they were published.
      if (d->who.instance == instance_) return;
      bool first;
      {
        std::lock_guard lock(dedupe_mu_);
        first = dedupe_.first_time(d->who, util::now());
      }
      if (!first) {
        duplicates_++;
        return;
      }
      in_++;
      broker_.route_remote(d->msg);
      return;
    }
    case SubKind::Shared: {
      in_++;
      bool taken = broker_.route_shared(ctx.share_filter, d->msg);
      // From the group's consumer (QoS 1/2): acknowledged once a member here has it; if no
      // member is left here, another node gets it.
      if (taken) natsMsg_Ack(m, nullptr);
      else natsMsg_Nak(m, nullptr);
      return;
    }
    case SubKind::Retained:
      broker_.retained_remote(d->msg);
      return;
    case SubKind::Heartbeat: return;
  }
}

}  // namespace musqratt::cluster
