#pragma once
// What the NatsLink source files share and nothing else needs: the closure of each NATS
// subscription and the subscriptions that carry one interest key.
#include <memory>
#include <string>
#include <vector>

#include <nats/nats.h>

#include "cluster/nats_link.h"

namespace musqratt::cluster {

enum class SubKind : uint8_t {
  Plain,      // messages for this node's plain subscriptions (core QoS 0, ordered consumers QoS 1/2)
  Shared,     // one shared subscription group: this node was picked for the message
  Retained,   // the retained stream, mirrored into the local retained store
  Heartbeat,  // other nodes' heartbeats
};

struct NatsLink::SubContext {
  NatsLink* link = nullptr;
  SubKind kind = SubKind::Plain;
  std::string share_filter;  // Shared: "$share/g/f"
};

/// The NATS subscriptions made for one interest key (a filter or "$share/g/f").
struct NatsLink::FilterSubs {
  std::vector<natsSubscription*> subs;
  std::unique_ptr<SubContext> ctx;
  int64_t since = 0;         // wall-clock ns the interest began: stored messages count from it
  bool core_done = false;    // core subscriptions made
  size_t stream_subs = 0;    // consumers made so far (one per subject)
  bool complete = false;
  void destroy() {
    for (natsSubscription* s : subs) {
      natsSubscription_Unsubscribe(s);
      natsSubscription_Destroy(s);
    }
    subs.clear();
  }
};

/// Wall-clock nanoseconds since the epoch (JetStream's start times and timestamps).
int64_t wall_ns_now();

}  // namespace musqratt::cluster
