// NatsLink: hold_unsubscribed across nodes (docs/cluster.md, "Held messages"). A message whose
// topic matches a hold filter and that no subscriber on its own node received goes out as a
// NATS request on its QoS 0 subject: nodes with a matching subscription route it and answer.
// If nobody answers yes (no responders, or only "0", within a second) it is held in the
// <P>_HOLD stream. A subscription that overlaps a hold filter takes the held messages it
// matches, in publish order, each claimed by deleting it from the stream (so one subscriber on
// one node gets it), and looks once more a second later for any held in the meantime.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "broker/session.h"
#include "cluster/envelope.h"
#include "cluster/nats_link.h"
#include "cluster/nats_link_internal.h"
#include "cluster/subject_map.h"
#include "protocol/topic.h"
#include "util/log.h"

namespace musqratt::cluster {

bool NatsLink::hold_filter_overlaps(const std::string& filter) const {
  for (const std::string& h : broker_.config().hold_unsubscribed)
    if (filters_overlap(h, filter)) return true;
  return false;
}

void NatsLink::probe(const broker::Message& msg, const std::string& body) {
  uint64_t id;
  {
    std::lock_guard lock(probes_mu_);
    id = next_probe_++;
    probes_[id] = Probe{subject_of("h", msg.topic), body, util::now() + util::Millis(1000)};
    if (!probe_sweep_scheduled_) {
      probe_sweep_scheduled_ = true;
      tasks_.post_after(util::Millis(250), [this] { sweep_probes(); });
    }
  }
  char reply[160];
  snprintf(reply, sizeof reply, "%sprobe.%s.%" PRIu64, prefix_.c_str(), config_.node.c_str(), id);
  std::string subject = subject_of("m0", msg.topic);
  if (natsConnection_PublishRequest(nc_, subject.c_str(), reply, body.data(), static_cast<int>(body.size())) != NATS_OK) {
    // NATS is away: nobody can be asked, so it is held (sent when NATS is back).
    resolve_probe(id, true);
  }
}

void NatsLink::on_probe_reply(natsMsg* m) {
  std::string_view subject(natsMsg_GetSubject(m));
  size_t dot = subject.rfind('.');
  uint64_t id = strtoull(std::string(subject.substr(dot + 1)).c_str(), nullptr, 10);
  if (natsMsg_IsNoResponders(m)) {
    resolve_probe(id, true);  // no node subscribes: hold it
    return;
  }
  std::string_view body(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
  if (body != "0") resolve_probe(id, false);  // a node routed it to a subscriber
}

void NatsLink::resolve_probe(uint64_t id, bool hold) {
  Probe p;
  {
    std::lock_guard lock(probes_mu_);
    auto it = probes_.find(id);
    if (it == probes_.end()) return;
    p = std::move(it->second);
    probes_.erase(it);
  }
  if (!hold) return;
  publish_stored(p.hold_subject, p.body);
  held_out_++;
  LOG_DEBUG("cluster: no subscriber anywhere; holding a message on %s", p.hold_subject.c_str());
}

void NatsLink::sweep_probes() {
  std::vector<uint64_t> due;
  bool more;
  {
    std::lock_guard lock(probes_mu_);
    auto now = util::now();
    for (const auto& [id, p] : probes_)
      if (p.deadline <= now) due.push_back(id);
    more = probes_.size() > due.size();
    probe_sweep_scheduled_ = more;
  }
  // Nobody said yes in time (the nodes that answered had no receiver after all): hold it.
  for (uint64_t id : due) resolve_probe(id, true);
  if (more) tasks_.post_after(util::Millis(250), [this] { sweep_probes(); });
}

void NatsLink::take_held(std::weak_ptr<broker::Session> weak, const std::string& filter,
                         const broker::SubscriptionRecord& rec, bool again) {
  auto s = weak.lock();
  if (!s || stopping_ || !s->has_subscription(filter)) return;
  if (!hold_ready_ || !nats_up()) {
    tasks_.post_after(util::Millis(1000), [this, weak, filter, rec, again] { take_held(weak, filter, rec, again); });
    return;
  }
  struct Held {
    broker::MessagePtr msg;
    int64_t stored_ns;
  };
  std::map<uint64_t, Held> found;  // by stream sequence: publish order across topics
  for (const std::string& subj : filter_to_subjects(filter)) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream_hold_.c_str();
    so.ManualAck = true;
    so.Config.AckPolicy = js_AckNone;
    so.Config.DeliverPolicy = js_DeliverAll;
    so.Config.MemoryStorage = true;
    so.Config.InactiveThreshold = 10LL * 1'000'000'000;
    natsSubscription* sub = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    std::string subject = prefix_ + "h." + subj;
    if (js_SubscribeSync(&sub, js_, subject.c_str(), nullptr, &so, &jerr) != NATS_OK) continue;
    while (true) {
      natsMsg* m = nullptr;
      if (natsSubscription_NextMsg(&m, sub, 500) != NATS_OK) break;
      jsMsgMetaData* meta = nullptr;
      bool last = true;
      if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
        uint64_t sseq = meta->Sequence.Stream;
        int64_t ts = meta->Timestamp;
        last = meta->NumPending == 0;
        jsMsgMetaData_Destroy(meta);
        std::string_view sv(natsMsg_GetSubject(m));
        sv.remove_prefix(std::min(sv.size(), prefix_.size() + 2));  // "h."
        if (auto topic = subject_to_topic(sv)) {
          auto d = decode_envelope(std::move(*topic), {reinterpret_cast<const uint8_t*>(natsMsg_GetData(m)),
                                                       static_cast<size_t>(natsMsg_GetDataLength(m))});
          if (d && protocol::topic_matches(filter, d->msg->topic)) found[sseq] = Held{d->msg, ts};
        }
      }
      natsMsg_Destroy(m);
      if (last) break;
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
  const uint32_t default_expiry = broker_.config().hold_default_expiry;
  const int64_t now_ns = wall_ns_now();
  size_t taken = 0;
  for (auto& [sseq, h] : found) {
    // Claimed by deleting it: of several subscribers (on any node) only one succeeds.
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_DeleteMsg(js_, stream_hold_.c_str(), sseq, nullptr, &jerr) != NATS_OK) continue;
    bool expired = h.msg->expired(util::now()) ||
                   (!h.msg->expires_at && default_expiry && h.stored_ns + int64_t{default_expiry} * 1'000'000'000 < now_ns);
    if (expired) continue;
    if (broker_.deliver_to(s, h.msg, rec)) ++taken;
  }
  if (taken) {
    held_in_ += taken;
    LOG_DEBUG("cluster: handing %zu held message(s) to '%s' on subscribe to '%s'", taken, s->client_id().c_str(),
              filter.c_str());
  }
  // A message held while this subscription was on its way to the other nodes: look once more.
  if (!again) tasks_.post_after(util::Millis(1000), [this, weak, filter, rec] { take_held(weak, filter, rec, true); });
}

}  // namespace musqratt::cluster
