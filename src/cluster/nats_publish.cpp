// NatsLink's publish path: each message published on this node goes to NATS once. QoS 0 over
// core NATS (the servers drop it where nobody subscribes); QoS 1/2 and retained messages into
// JetStream, numbered so the publisher's acknowledgement can wait until the cluster holds them,
// and sent again (same Nats-Msg-Id, so stored once) until JetStream takes them.
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cluster/envelope.h"
#include "cluster/nats_link.h"
#include "cluster/nats_link_internal.h"
#include "util/log.h"

namespace musqratt::cluster {

namespace {

uint64_t seq_of(natsMsg* m) {
  const char* id = nullptr;
  if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) != NATS_OK || !id) return 0;
  const char* dash = strchr(id, '-');
  return dash ? strtoull(dash + 1, nullptr, 10) : 0;
}

/// Errors that sending again cannot cure: the message itself is wrong for the stream. The rest
/// pass — a stream leader being elected, a cluster without quorum, a server's disk full — so
/// the message is sent again (bounded by max_pending) rather than acknowledged and dropped.
bool permanent(natsStatus s, jsErrCode code) {
  if (s == NATS_MAX_PAYLOAD || s == NATS_INVALID_SUBJECT) return true;
  return code == JSStreamMessageExceedsMaximumErr || code == JSStreamSealedErr;
}

}  // namespace

uint64_t NatsLink::published(const broker::MessagePtr& msg, bool hold_if_unreceived) {
  if (msg->topic.starts_with("$SYS/")) return 0;  // each node's own
  thread_local std::string body;
  body.clear();
  encode_envelope(body, *msg, {instance_, msg->id});
  uint64_t wait = 0;
  if (hold_if_unreceived && hold_enabled_) {
    // Nobody here received it: the same message, as a request, asks whether anyone does (see
    // nats_hold.cpp); QoS 1/2 still go into the stream as well.
    probe(*msg, body);
    if (msg->qos > 0) wait = publish_stored(subject_of("m1", msg->topic), body);
  } else if (msg->qos == 0) {
    std::string subject = subject_of("m0", msg->topic);
    natsStatus s = natsConnection_Publish(nc_, subject.c_str(), body.data(), static_cast<int>(body.size()));
    if (s != NATS_OK) {
      // The reconnect buffer is full (NATS unreachable for long) or the message is too large.
      lost_++;
      LOG_DEBUG("cluster: QoS 0 message on '%s' not sent to NATS: %s", msg->topic.c_str(), natsStatus_GetText(s));
    }
  } else {
    wait = publish_stored(subject_of("m1", msg->topic), body);
  }
  if (msg->retain) {
    // The retained stream keeps the newest message of each topic for every node.
    uint64_t r = publish_stored(subject_of("r", msg->topic), body);
    if (msg->qos > 0) wait = r;
  }
  out_++;
  // Cut off from NATS, the node acknowledges as a single broker would: local traffic keeps
  // flowing, and the message waits here (up to max_pending) for JetStream to come back. While
  // connected, the publisher waits until JetStream holds it.
  return linked() ? wait : 0;
}

uint64_t NatsLink::publish_stored(const std::string& subject, const std::string& body) {
  uint64_t seq = acks_.issue();
  natsMsg* m = nullptr;
  natsStatus s = natsMsg_Create(&m, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size()));
  char id[48];
  snprintf(id, sizeof id, "%016" PRIx64 "-%" PRIu64, instance_, seq);
  if (s == NATS_OK) s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
  if (s != NATS_OK) {
    natsMsg_Destroy(m);
    lost_++;
    settle(seq);
    return seq;
  }
  {
    // At most kInFlight messages wait for JetStream at a time; the rest queue here, in order.
    // Without that bound an overloaded JetStream lets a whole flood time out at once, and
    // sending it all again only adds to the flood.
    std::lock_guard lock(retry_mu_);
    if (!retry_.empty() || in_flight_ >= kInFlight) {
      queue_locked(m, false);
      return seq;
    }
    ++in_flight_;
  }
  send_stored(m);
  return seq;
}

void NatsLink::send_stored(natsMsg* m) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = config_.publish_timeout_ms;
  natsStatus s = js_PublishMsgAsync(js_, &m, &po);
  if (s == NATS_OK) return;
  {
    std::lock_guard lock(retry_mu_);
    --in_flight_;
  }
  if (permanent(s, static_cast<jsErrCode>(0))) {
    LOG_WARN("cluster: message on '%s' refused by NATS: %s", natsMsg_GetSubject(m), natsStatus_GetText(s));
    uint64_t seq = seq_of(m);
    natsMsg_Destroy(m);
    lost_++;
    settle(seq);
    return;
  }
  retry_later(m);  // no connection: sent again from the task queue
}

void NatsLink::on_pub_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* self) {
  auto* link = static_cast<NatsLink*>(self);
  uint64_t seq = seq_of(msg);
  bool more;
  {
    std::lock_guard lock(link->retry_mu_);
    --link->in_flight_;
    more = !link->retry_.empty() && !link->retry_scheduled_;
    if (more) link->retry_scheduled_ = true;
  }
  if (more) link->tasks_.post([link] { link->retry_pending(); });
  if (pa) {
    natsMsg_Destroy(msg);
    link->settle(seq);
    return;
  }
  if (link->stopping_) {
    natsMsg_Destroy(msg);
    return;
  }
  natsStatus err = pae ? pae->Err : NATS_ERR;
  jsErrCode code = pae ? pae->ErrCode : static_cast<jsErrCode>(0);
  if (permanent(err, code)) {
    LOG_WARN("cluster: JetStream refused a message on '%s': %s (error %d)", natsMsg_GetSubject(msg),
             pae && pae->ErrText ? pae->ErrText : natsStatus_GetText(err), int(code));
    natsMsg_Destroy(msg);
    link->lost_++;
    link->settle(seq);
    return;
  }
  if (code == JSStreamNotFoundErr) {
    link->streams_ready_ = false;
    link->tasks_.post([link] { link->ensure_streams(); });
  }
  link->retries_++;
  link->retry_later(msg);
}

void NatsLink::queue_locked(natsMsg* msg, bool front) {
  natsMsg* dropped = nullptr;
  if (retry_.size() >= config_.max_pending) {
    // Bounded: the oldest is given up, counted, and nobody waits for it any longer.
    dropped = retry_.front();
    retry_.pop_front();
  }
  if (front) retry_.push_front(msg);
  else retry_.push_back(msg);
  if (!retry_scheduled_) {
    retry_scheduled_ = true;
    tasks_.post_after(util::Millis(front ? 200 : 0), [this] { retry_pending(); });
  }
  if (dropped) {
    uint64_t seq = seq_of(dropped);
    natsMsg_Destroy(dropped);
    lost_++;
    // settle() takes only the tracker's own lock.
    std::vector<broker::Link> wakes;
    acks_.settle(seq, wakes);
    for (const broker::Link& l : wakes) l.waker->wake(l.token);
  }
}

void NatsLink::retry_later(natsMsg* msg) {
  std::lock_guard lock(retry_mu_);
  queue_locked(msg, true);  // older than anything queued behind it
}

void NatsLink::retry_pending() {
  if (stopping_) return;
  std::vector<natsMsg*> batch;
  {
    std::lock_guard lock(retry_mu_);
    retry_scheduled_ = false;
    if (!nats_up()) {
      if (!retry_.empty()) {
        retry_scheduled_ = true;
        tasks_.post_after(util::Millis(200), [this] { retry_pending(); });
      }
      return;
    }
    while (!retry_.empty() && in_flight_ < kInFlight) {
      batch.push_back(retry_.front());
      retry_.pop_front();
      ++in_flight_;
    }
    // The rest goes out as acknowledgements free the window (on_pub_ack schedules it).
  }
  for (natsMsg* m : batch) send_stored(m);
}

void NatsLink::settle(uint64_t seq) {
  if (!seq) return;
  std::vector<broker::Link> wakes;
  acks_.settle(seq, wakes);
  for (const broker::Link& l : wakes) l.waker->wake(l.token);
}

void NatsLink::notify_when_acked(uint64_t seq, broker::Link link) {
  if (!acks_.wait(seq, link)) link.waker->wake(link.token);
}

}  // namespace musqratt::cluster
