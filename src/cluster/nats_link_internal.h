#pragma once
// What the NatsLink source files share and nothing else needs: the closure of each NATS
// subscription and the subscriptions that carry one interest key.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <nats/nats.h>

#include "cluster/nats_link.h"

namespace musqratt::cluster {

enum class SubKind : uint8_t {
  Plain,      // messages for this node's plain subscriptions (core QoS 0, stream readers QoS 1/2)
  Shared,     // one shared subscription group: this node was picked for the message
  Retained,   // the retained stream, mirrored into the local retained store
  Heartbeat,  // other nodes' heartbeats
  Takeover,   // a client connected somewhere: an older connection of it elsewhere goes
  Handover,   // another node asks this one for a session
  ProbeReply, // answers to "does anyone subscribe?" for a message that may have to be held
};

/// One NATS subscription's closure. Freed by the subscription's completion callback, after
/// its last message callback returned (natsSubscription_SetOnCompleteCB).
struct NatsLink::SubContext {
  NatsLink* link = nullptr;
  SubKind kind = SubKind::Plain;
  std::string share_filter;  // Shared: "$share/g/f"
  natsSubscription* sub = nullptr;

  // A stream reader (QoS 1/2 of a plain filter, or the retained mirror): an ephemeral push
  // consumer read strictly in order. On a gap (a delivery missing, heartbeats missed) it is
  // replaced by one that starts after the last message taken. The client library's own
  // ordered consumers cannot do this when they were started at a time (libnats 3.4 keeps the
  // start time when it recreates them, and JetStream refuses the pair).
  bool reader = false;
  uint64_t id = 0;          // identifies it in reset tasks
  std::string key;          // interest key; empty for the retained mirror
  size_t index = 0;         // which of the key's subjects
  std::string subject;      // the subject consumed
  uint64_t next_dseq = 1;   // next consumer sequence expected (delivery thread only)
  std::atomic<uint64_t> last_sseq{0};  // stream sequence of the last message taken
  std::atomic<bool> broken{false};
};

/// The NATS subscriptions made for one interest key (a filter or "$share/g/f").
struct NatsLink::FilterSubs {
  std::vector<SubContext*> core;     // QoS 0 (core NATS), one per subject
  std::vector<SubContext*> readers;  // QoS 1/2, one per subject (null until made)
  std::vector<SubContext*> shared;   // shared groups' durable consumers, one per subject
  int64_t since = 0;                 // wall-clock ns the interest began: stored messages count from it
  bool complete = false;
};

/// Wall-clock nanoseconds since the epoch (JetStream's start times and timestamps).
int64_t wall_ns_now();

}  // namespace musqratt::cluster
