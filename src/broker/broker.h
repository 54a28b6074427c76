#pragma once
// The broker: routes messages between sessions. It owns the topic tree, the retained store,
// the hold for unsubscribed topics, the session registry and pending wills. It knows the
// protocol's values but nothing of connections or sockets; SessionDriver drives it.
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
#include "broker/message.h"
#include "broker/retained_store.h"
#include "broker/session.h"
#include "broker/stats.h"
#include "broker/topic_tree.h"
#include "util/clock.h"

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
  util::TimePoint started() const { return started_; }

  /// Finds or creates the session for a CONNECT, taking it over from an older connection.
  ConnectResult connect(const ConnectRequest& req, util::TimePoint now);
  /// A CONNECT resuming `client_id` while another connection holds that session: asks the
  /// holder to leave and returns true; `waiter` is woken when it has, and then connects.
  /// Deciding only after the holder has processed what it already received (a DISCONNECT in
  /// flight, say) keeps "session present" true to what the client did.
  bool defer_for_takeover(const std::string& client_id, Link waiter);
  /// The connection `token` ended. Publishes or schedules `will`; ends the session if its
  /// expiry interval is 0. Safe to call after the session was taken over.
  void disconnect(const SessionPtr& session, uint64_t token, std::optional<WillMessage> will,
                  util::TimePoint now);

  /// Routes a message to every matching subscription (and stores it if retained). A message
  /// nobody receives is held when its topic matches a hold filter.
  RouteResult publish(const MessagePtr& msg, util::TimePoint now);

  /// Adds the subscription, then queues retained messages (per Retain Handling) and held
  /// messages to the session. Returns true if the subscription is new.
  bool subscribe(const SessionPtr& session, const protocol::Subscription& sub,
                 uint32_t subscription_id, util::TimePoint now);
  bool unsubscribe(const SessionPtr& session, const std::string& filter);

  /// Periodic work: session expiry, delayed wills, retained/held message expiry, $SYS.
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

 private:
  size_t route(const MessagePtr& msg);
  RouteResult publish_unacked(const MessagePtr& msg, util::TimePoint now);
  void deliver(const Match& m, const MessagePtr& msg, bool retained_on_subscribe,
               std::vector<Link>& wakes);
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
  AccessControl access_;
  Persistence* store_ = nullptr;
  TopicTree tree_;
  RetainedStore retained_;

  // Hold for unsubscribed topics. Lock order: hold_mu_ before the tree and sessions.
  mutable std::mutex hold_mu_;
  HoldStore hold_;

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
  util::TimePoint next_sys_{};
  std::mutex sys_sources_mu_;
  std::vector<std::function<void(util::TimePoint)>> sys_sources_;  // guarded by sys_sources_mu_
};

}  // namespace musqratt::broker
