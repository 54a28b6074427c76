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

#include "broker/access_control.h"
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
  std::shared_ptr<Message> new_message() {
    auto m = std::make_shared<Message>();
    m->id = message_ids_.next();
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

  /// Counts a new network connection from `ip` against max_connections_per_ip; false if over.
  bool admit_connection(const std::string& ip);
  void release_connection(const std::string& ip);
  size_t topic_count() const { return tree_.node_count(); }
  size_t held_count() const;

 private:
  size_t route(const MessagePtr& msg);
  RouteResult publish_unacked(const MessagePtr& msg, util::TimePoint now);
  void deliver(const Match& m, const MessagePtr& msg, uint16_t acl_generation, std::vector<Link>& wakes);
  void count_delivery(Session::DeliverResult r, const Link& wake, std::vector<Link>& wakes);
  void log_refusal(const Message& msg);
  void release_memory_if_drained(util::TimePoint now);
  void end_session_locked(const SessionPtr& session);
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
};

}  // namespace musqratt::broker
