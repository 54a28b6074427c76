#pragma once
// The one door between the Broker and the other nodes of a cluster (implemented in src/cluster
// over NATS; see docs/cluster.md). The Broker calls it only when one is attached
// (Broker::attach_cluster): a single node never looks here, and its publish path pays one null
// test. The link talks back through the Broker's cluster methods (route_remote, route_shared,
// retained_remote, deliver_to, hand_over, adopt, resume_locally).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "broker/message.h"
#include "broker/waker.h"

namespace musqratt::broker {

class Session;
struct SubscriptionRecord;

/// Thread: every method may be called from any worker thread, with no broker lock held, and
/// must not block (network work is queued). Ownership: owned by the app, outlives the Broker's
/// use of it (attach before clients connect, stop after the server stopped).
class ClusterLink {
 public:
  virtual ~ClusterLink() = default;

  // --- messages

  /// A message published on this node (by a client, or a will) after it was routed to this
  /// node's own plain subscriptions. `hold_if_unreceived`: its topic matches a hold filter and
  /// nobody here received it, so the cluster holds it unless another node has a receiver.
  /// Returns the number to wait for before the publisher is acknowledged (0: nothing to wait
  /// for, QoS 0): the message is held by the cluster once acked() reaches it.
  virtual uint64_t published(const MessagePtr& msg, bool hold_if_unreceived) = 0;
  /// Everything numbered up to this is held by the cluster (JetStream acknowledged it).
  virtual uint64_t acked() const = 0;
  /// Wakes `link` once acked() >= seq (at once if it already is).
  virtual void notify_when_acked(uint64_t seq, Link link) = 0;

  // --- interest: what this node's sessions subscribe to

  /// `s` subscribed to `filter` (maybe "$share/g/f") where it had no subscription to it.
  virtual void subscribed(const std::shared_ptr<Session>& s, const std::string& filter,
                          const SubscriptionRecord& rec) = 0;
  /// `s` no longer subscribes to `filter` (UNSUBSCRIBE, or its session ended or moved away).
  virtual void unsubscribed(const Session& s, const std::string& filter) = 0;

  // --- sessions: one client id, one session, cluster-wide

  /// A CONNECT resuming `client_id` (clean start 0). Returns true if the link first looks for
  /// the session on other nodes; it then calls Broker::resume_locally(client_id, waiter) when
  /// done (the connection waits for `waiter` to be woken). False: go on at once.
  virtual bool resume(const std::string& client_id, Link waiter) = 0;
  /// A connection now owns `s` on this node; with `clean_start` any copy elsewhere is discarded.
  virtual void connected(const std::shared_ptr<Session>& s, bool clean_start) = 0;
  /// The session's connection ended; the session lives on here (it has an expiry).
  virtual void disconnected(const std::shared_ptr<Session>& s) = 0;
  /// The session `client_id` ended on this node (expired, clean start, expiry 0).
  virtual void ended(const std::string& client_id) = 0;

  // --- $SYS

  /// Appends (topic, value) pairs for this node's $SYS/broker/cluster/... topics.
  virtual void sys_values(std::vector<std::pair<std::string, std::string>>& out) = 0;
};

}  // namespace musqratt::broker
