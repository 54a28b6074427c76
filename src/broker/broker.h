#pragma once
// The broker: routes messages between sessions. It owns the topic tree, the retained store,
// the hold for unsubscribed topics, the session registry, pending wills, the memory budget and
// the message ids. It knows the protocol's values but nothing of connections or sockets;
// SessionDriver drives it.
//
// Lock order (the one place it is written in code; docs/architecture.md explains it):
//
//   hold (HoldStore::lock) -> registry (registry_mu_) -> topic tree -> session -> store queue
//
// Each lock is taken only after those to its left, never before. The retained store's lock and
// the per-IP table's are leaves (nothing is locked under them). The store queue's lock is a leaf
// too: Persistence calls only append an operation under it, and the store's writer thread calls
// back into sessions (pages read from disk) and wakes connections without holding it. Wake-ups
// (Waker::wake) are made after the session lock is released.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "auth/verify_pool.h"
#include "broker/access_control.h"
#include "broker/cluster_link.h"
#include "broker/config.h"
#include "broker/hold_store.h"
#include "broker/memory_budget.h"
#include "broker/message.h"
#include "broker/retained_store.h"
#include "broker/session.h"
#include "broker/stats.h"
#include "broker/topic_tree.h"
#include "util/clock.h"
#include "util/thread_checker.h"
#include "util/throttle.h"

namespace musqratt::broker {

struct ConnectRequest {
  std::string client_id;
  bool clean_start = true;
  uint32_t session_expiry = 0;
  protocol::Version version = protocol::Version::V311;
  Link link;
};

struct ConnectResult {
  SessionPtr session;
  bool session_present = false;
};

/// A will message waiting for its connection to end (section 3.1.2.5).
struct WillMessage {
  MessagePtr msg;
  uint32_t delay = 0;  // seconds (5.0 Will Delay Interval)
};

struct RouteResult {
  size_t receivers = 0;
  bool held = false;
  /// The memory budget is spent: the message was not accepted (neither routed, retained nor
  /// held) and is counted in $SYS/broker/memory/refused. MQTT 5 publishers of QoS 1/2 are told
  /// with 0x97 Quota exceeded in their PUBACK/PUBREC.
  bool refused = false;
  /// Storage operation number that must be durable before the publish is acknowledged
  /// (0 = nothing to wait for).
  uint64_t durable_seq = 0;
  /// With a cluster: the number ClusterLink::acked() must reach before the publish is
  /// acknowledged (the cluster holds the message), 0 = nothing to wait for. See docs/cluster.md
  /// for what the connection's driver does with it.
  uint64_t cluster_seq = 0;
  /// With a cluster: other nodes may have receivers, so `receivers == 0` does not mean that
  /// nobody subscribes (no 0x10 No matching subscribers).
  bool remote = false;
};

/// Thread: every public method may be called from any worker thread.
class Broker {
 public:
  /// Throws std::runtime_error if the password or ACL file cannot be read.
  explicit Broker(BrokerConfig config);
  ~Broker();

  /// The configuration in force: one atomic load. The reference stays valid for the broker's
  /// life (replaced configurations are kept), so a caller may hold it through a call; the next
  /// call may see a newer one.
  const BrokerConfig& config() const { return *config_.load(std::memory_order_acquire); }
  /// Puts `config` in force (reload): access tables, queue limits of every session, hold
  /// limits and filters, and every value read through config(). If the password or ACL file
  /// cannot be read, returns the error and changes nothing.
  std::string replace_config(BrokerConfig config);
  /// Attaches durable storage (before any client connects) and rebuilds the state it holds.
  void attach_persistence(Persistence* store, const RestoredState& restored, util::TimePoint now);
  Persistence* persistence() const { return store_; }
  /// Where connections hand their password checks, so a slow key derivation never runs on an
  /// event loop (set by the server before any client connects; without one, checks run in
  /// place, as in unit tests). Not owned: the server stops it before its workers.
  void attach_verify_pool(auth::VerifyPool* pool) { verify_pool_ = pool; }
  auth::VerifyPool* verify_pool() const { return verify_pool_; }
  Stats& stats() { return stats_; }
  AccessControl& access() { return access_; }
  /// The broker-wide memory budget (max_memory). A connection charges its partly received
  /// packet to it (MemoryCharge) and asks has_room() before buffering a large one.
  MemoryBudget& memory() { return memory_; }
  /// Whether a PUBLISH of this QoS would be accepted now (one relaxed load): a connection may
  /// ask before reading a large packet's body.
  bool memory_available(uint8_t qos) const { return memory_.accepts(qos); }
  /// A new message with its id (unique for the life of the data directory), to be filled in
  /// and published once. Thread: any.
  /// `now`: when it was published (the caller's event time: no clock read per message).
  std::shared_ptr<Message> new_message(util::TimePoint now) {
    auto m = std::make_shared<Message>();
    m->id = message_ids_.next();
    m->created = now;
    return m;
  }
  util::TimePoint started() const { return started_; }

  /// Finds or creates the session for a CONNECT, taking it over from an older connection.
  ConnectResult connect(const ConnectRequest& req, util::TimePoint now);
  /// A CONNECT resuming `client_id` while another connection holds that session: asks the
  /// holder to leave and returns true; `waiter` is woken when it has, and then connects.
  /// Deciding only after the holder has processed what it already received (a DISCONNECT in
  /// flight, say) keeps "session present" true to what the client did.
  bool defer_for_takeover(const std::string& client_id, Link waiter);
  /// Remembers who is connected to `session` for the checks made after CONNECT: ACL at
  /// delivery, and reauthorize() after a reload. `by_certificate`: the user name came from a
  /// verified client certificate (no password to withdraw).
  void set_identity(const SessionPtr& session, const auth::Identity& who, bool by_certificate);
  /// After a reload of the password file: marks every connected session whose client's
  /// password is no longer valid (user removed, or password changed) and wakes its
  /// connection, which then closes (MQTT 5: DISCONNECT 0x87 Not authorized; see
  /// Session::deauthorized). Housekeeping calls it after each reload. Returns how many.
  size_t reauthorize();
  /// The connection `token` ended. Publishes or schedules `will`; ends the session if its
  /// expiry interval is 0. Safe to call after the session was taken over.
  void disconnect(const SessionPtr& session, uint64_t token, std::optional<WillMessage> will,
                  util::TimePoint now);

  /// Routes a message to every matching subscription (and stores it if retained). A message
  /// nobody receives is held when its topic matches a hold filter. Past the memory budget the
  /// message is refused instead (RouteResult::refused; see MemoryBudget for the policy).
  RouteResult publish(const MessagePtr& msg, util::TimePoint now);

  /// Adds the subscription, then queues held messages and every matching retained message (per
  /// Retain Handling; streamed as the client's window allows, see Session::add_retained) to
  /// the session. Returns true if the subscription is new.
  bool subscribe(const SessionPtr& session, const protocol::Subscription& sub,
                 uint32_t subscription_id, util::TimePoint now);
  bool unsubscribe(const SessionPtr& session, const std::string& filter);

  /// Periodic work: session expiry, delayed wills, retained/held message expiry, $SYS,
  /// reauthorization after a reload, and giving freed memory back to the system.
  /// Thread: one thread at a time, always the same (asserted in debug builds).
  void housekeeping(util::TimePoint now);

  /// $SYS topics of other parts of the server (a bridge's status): `source` is called from
  /// housekeeping every sys_interval, after the broker's own. Register before the server
  /// starts; sources stay for the broker's life.
  void add_sys_source(std::function<void(util::TimePoint)> source);
  /// Publishes one retained $SYS topic now, as the broker does its own. Thread: any.
  void publish_sys_value(const std::string& topic, std::string payload);
  /// Client ids that name a session the broker's own parts hold ("$bridge/NAME"): no network
  /// client may take them.
  static bool reserved_client_id(std::string_view client_id) { return client_id.starts_with("$bridge/"); }

  /// Applies the configured default/maximum message expiry to a publish's own interval.
  std::optional<uint32_t> effective_message_expiry(std::optional<uint32_t> requested) const;

  size_t session_count() const;
  /// Every session, online or not, in no particular order (a copy taken under the registry
  /// lock: for operators' listings, not for the data path).
  std::vector<SessionPtr> sessions() const;
  /// The session of `client_id`, or null.
  SessionPtr find_session(std::string_view client_id) const;

  enum class AdminDisconnect : uint8_t { NotFound, Disconnected, SessionDropped, NotConnected };
  /// An operator's "disconnect this client": its connection is woken and closes (MQTT 5:
  /// DISCONNECT 0x98 Administrative action; its will is published as for any connection the
  /// server closes). With `drop_session` the session is discarded too, connected or not.
  /// Returns Disconnected (was connected), SessionDropped (offline session discarded),
  /// NotConnected (offline, kept) or NotFound.
  AdminDisconnect disconnect_client(std::string_view client_id, bool drop_session, util::TimePoint now);

  size_t subscription_count() const { return tree_.subscription_count(); }
  size_t retained_count() const { return retained_.size(); }
  /// Retained messages whose topic matches `filter` (expired ones skipped).
  void for_each_retained(std::string_view filter, util::TimePoint now,
                         const std::function<void(const MessagePtr&)>& visit) const {
    retained_.for_each_matching(filter, now, visit);
  }
  /// Client ids of the sessions whose id begins with `prefix` (the bridges' buffers).
  std::vector<std::string> client_ids_with_prefix(std::string_view prefix) const;
  /// Ends the session of `client_id` now, with everything it holds (a bridge no longer
  /// configured). Returns false if there is none.
  bool discard_session(const std::string& client_id);

  /// Counts a new network connection from `ip` against max_connections_per_ip; false if over.
  bool admit_connection(const std::string& ip);
  void release_connection(const std::string& ip);
  size_t topic_count() const { return tree_.node_count(); }
  size_t held_count() const;

  // ---- cluster (src/cluster; the hooks are in cluster_link.h, these methods in broker_cluster.cpp)

  /// Attaches the link to the other nodes, before any client connects; it is told about the
  /// subscriptions already here (restored from storage). Without one the broker is a single node.
  void attach_cluster(ClusterLink* link);
  ClusterLink* cluster() const { return cluster_; }
  /// A message from another node, for this node's plain subscriptions (shared groups are served
  /// per group, see route_shared); it is never handed back to the link.
  size_t route_remote(const MessagePtr& msg);
  /// A message the cluster gave this node for shared subscription `share_filter`
  /// ("$share/g/f"): one member here gets it (online members first). False if none is here.
  bool route_shared(const std::string& share_filter, const MessagePtr& msg);
  /// The cluster's retained message for a topic (an empty payload removes the topic's).
  void retained_remote(const MessagePtr& msg);
  /// Queues `msg` for one session only, as its subscription `rec` gives (a held message taken
  /// for it, a message replayed for a session moved here). False if the session dropped it.
  bool deliver_to(const SessionPtr& s, const MessagePtr& msg, const SubscriptionRecord& rec);
  /// The session of `client_id` on this node, or null.
  SessionPtr session(const std::string& client_id) const;
  /// Before taking over a session another node holds: this node's session of that id, or a new
  /// offline one, with `subscriptions` routed already, so nothing published from now on is
  /// missed while the other node hands its state over.
  SessionPtr prepare_adoption(const std::string& client_id, uint32_t expiry,
                              const std::vector<std::pair<std::string, SubscriptionRecord>>& subscriptions,
                              util::TimePoint now);
  /// Merges the state another node handed over (or messages read again from the cluster) into
  /// the session of that id here, ahead of what it queued meanwhile (Session::absorb; `tag`
  /// names a message cluster-wide). False if there is no such session here.
  bool absorb(const std::string& client_id, const RestoredSession& earlier,
              const std::function<uint64_t(const Message&)>& tag);
  /// Another node takes `client_id` over. Without `keep` (clean start there, or a newer
  /// connection) the session here ends at once, its connection told to go (5.0: 0x8E). With
  /// `keep`, a connected session is first asked to let its connection go: `waiter` is woken
  /// once it has (nullopt, *waiting set); a later call returns the session's state and removes
  /// it here without publishing anything (nullopt and !*waiting: no such session here). A will
  /// still pending here is dropped either way: the client connected elsewhere [MQTT-3.1.3-9].
  std::optional<RestoredSession> hand_over(const std::string& client_id, bool keep, Link waiter, bool* waiting);
  /// Ends the session `client_id` made by prepare_adoption when the adoption did not happen.
  void abandon(const std::string& client_id);
  /// The rest of a deferred resume once the link is done: waits for a local holder of the
  /// session to leave, as defer_for_takeover does, or wakes `waiter` at once.
  void resume_locally(const std::string& client_id, Link waiter);

 private:
  /// The queue limits a session gets under `c`.
  static QueueLimits queue_limits(const BrokerConfig& c);
  /// Which subscriptions a message goes to: all, plain ones only (a cluster serves shared
  /// groups cluster-wide), or one shared group.
  enum class RouteScope : uint8_t { All, Plain, OneGroup };
  size_t route(const MessagePtr& msg, RouteScope scope = RouteScope::All, const std::string* group = nullptr);
  RouteResult publish_clustered(const MessagePtr& msg, util::TimePoint now);
  bool defer_for_local_holder(const std::string& client_id, Link waiter);
  RouteResult publish_unacked(const MessagePtr& msg, util::TimePoint now);
  void deliver(const Match& m, const MessagePtr& msg, uint16_t acl_generation, std::vector<Link>& wakes);
  void count_delivery(Session::DeliverResult r, const Link& wake, std::vector<Link>& wakes);
  void log_refusal(const Message& msg);
  void release_memory_if_drained(util::TimePoint now);
  void end_session_locked(const SessionPtr& session);
  /// `session` went offline: housekeeping watches its expiry from now on. Needs registry_mu_.
  void note_offline_locked(const SessionPtr& session);
  void subscribe_adopted(const SessionPtr& s, const std::vector<std::pair<std::string, SubscriptionRecord>>& subs);
  void end_session_unlocked(const SessionPtr& session);
  void publish_will(const MessagePtr& msg, util::TimePoint now);
  void publish_sys(util::TimePoint now);
  static void wake_all(const std::vector<Link>& wakes);

  // Every configuration ever in force, the current one last: superseded ones are kept (a few
  // hundred bytes per reload) so that a reference from config() never dangles.
  std::mutex configs_mu_;
  std::vector<std::unique_ptr<const BrokerConfig>> configs_;  // guarded by configs_mu_
  std::atomic<const BrokerConfig*> config_;
  // True once any configuration had hold filters or held messages were restored: SUBSCRIBE
  // then drains the hold even after a reload removed every filter.
  std::atomic<bool> hold_possible_{false};
  const util::TimePoint started_;
  Stats stats_;
  // Declared before everything that holds messages or sessions, so it outlives them.
  MemoryBudget memory_;
  MessageIds message_ids_;
  AccessControl access_;
  const SessionServices session_services_;
  Persistence* store_ = nullptr;
  auth::VerifyPool* verify_pool_ = nullptr;
  ClusterLink* cluster_ = nullptr;
  TopicTree tree_;
  RetainedStore retained_;
  // Hold for unsubscribed topics, with its own lock (see HoldStore).
  HoldStore hold_;
  util::Throttle refusal_log_{std::chrono::seconds(10)};

  // Session registry and pending wills. Lock order: registry_mu_ before the tree.
  mutable std::mutex registry_mu_;
  // A set keyed by the session's own client id (heterogeneous lookup by string), so the id is
  // stored once and each entry is one small node: memory per idle client matters at the edge.
  struct SessionById {
    using is_transparent = void;
    size_t operator()(std::string_view id) const { return std::hash<std::string_view>{}(id); }
    size_t operator()(const SessionPtr& s) const { return (*this)(s->client_id()); }
    static std::string_view key(std::string_view id) { return id; }
    static std::string_view key(const SessionPtr& s) { return s->client_id(); }
    bool operator()(const auto& a, const auto& b) const { return key(a) == key(b); }
  };
  std::unordered_set<SessionPtr, SessionById, SessionById> sessions_;
  /// The sessions of sessions_ that may expire: offline, with a finite expiry interval. Only
  /// these are looked at by housekeeping, so its pass (and the time it holds registry_mu_) grows
  /// with the clients that went away, not with the ones connected. A session is added wherever
  /// it goes offline (disconnect, restore, adoption) and removed when it ends or moves; one
  /// that came back, or expires never, is dropped by the next pass.
  std::unordered_set<SessionPtr> offline_;
  struct PendingWill {
    std::string client_id;
    MessagePtr msg;
    util::TimePoint fire_at;
  };
  std::vector<PendingWill> pending_wills_;
  uint64_t next_session_id_ = 1;
  std::mutex per_ip_mu_;
  std::unordered_map<std::string, uint32_t> connections_per_ip_;
  /// What only housekeeping touches.
  struct Housekeeping {
    util::TimePoint next_sys{};
    uint16_t access_generation = 0;  // of the tables the connected clients were checked against
    uint64_t memory_peak = 0;        // most bytes in use since memory was last given back
    util::TimePoint next_trim{};
  };
  util::ThreadOwned<Housekeeping> housekeeping_;
  std::mutex sys_sources_mu_;
  std::vector<std::function<void(util::TimePoint)>> sys_sources_;  // guarded by sys_sources_mu_
};

}  // namespace musqratt::broker
