#pragma once
// A client's session (section 4.1): subscriptions, queued and in-flight outgoing messages,
// incoming QoS 2 state. It outlives connections when the client asks for a persistent session.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "auth/acl.h"
#include "broker/access_control.h"
#include "broker/connection_info.h"
#include "broker/memory_budget.h"
#include "broker/message.h"
#include "broker/persistence.h"
#include "broker/waker.h"
#include "protocol/packets.h"
#include "util/clock.h"
#include "util/compact_mutex.h"
#include "util/guarded.h"
#include "util/ring_queue.h"
#include "util/sliding_vector.h"
#include "util/thread_checker.h"

namespace musqratt::broker {

class Session;
using SessionPtr = std::shared_ptr<Session>;

/// One message waiting for or in delivery to this session, with its per-receiver QoS and flags.
/// In the queue, an entry without a message marks where a SUBSCRIBE's retained messages are to
/// be sent (see Session::add_retained).
struct Outbound {
  MessagePtr msg;
  uint8_t qos = 0;
  bool retain = false;
  std::vector<uint32_t> subscription_ids;
  std::shared_ptr<const std::string> share_filter;  // "$share/g/f" when via a shared subscription
  uint64_t seq = 0;  // row in durable storage; 0 = not stored
};

enum class InflightState : uint8_t { AwaitPuback, AwaitPubrec, AwaitPubcomp };

struct Inflight {
  uint16_t packet_id = 0;
  InflightState state = InflightState::AwaitPuback;
  Outbound out;
};

/// What the owning connection should send next.
struct Sendable {
  enum class Kind : uint8_t { Publish, Pubrel } kind = Kind::Publish;
  uint16_t packet_id = 0;
  bool dup = false;
  Outbound out;  // empty for Pubrel
};

struct SubscriptionRecord {
  protocol::SubscribeOptions options;
  uint32_t subscription_id = 0;
};

/// What a full queue gives up: the message arriving (the broker's default) or the oldest
/// one queued (never one in flight), so the newest data gets through.
enum class QueueOverflow : uint8_t { DropNewest, DropOldest };

struct QueueLimits {  // widest field first: 16 bytes in every session
  uint64_t max_bytes = 0;  // payload bytes queued in memory (and on disk if bytes_include_disk); 0 = unlimited
  uint32_t max_messages = 0;  // 0 = unlimited
  bool queue_qos0_offline = false;
  QueueOverflow overflow = QueueOverflow::DropNewest;
  /// A bridge's buffer limits everything it holds; a client's queue limits memory only, so a
  /// persistent session's backlog on disk is bounded by max_messages alone.
  bool bytes_include_disk = false;
};

/// What the broker lends each of its sessions. Ownership: the Broker's; it outlives them.
struct SessionServices {
  /// Queued and in-flight entries are charged here (the messages themselves are charged once,
  /// by the broker, however many queues hold them).
  MemoryBudget* memory = nullptr;
  /// Checked again at delivery when the ACL was reloaded after a message was queued.
  const AccessControl* access = nullptr;
  /// Least time between two "messages are being dropped" lines for one client.
  util::Clock::duration drop_log_interval = std::chrono::seconds(10);
};

/// Thread: every method locks the session's own mutex (the state is reachable only through
/// it), so workers delivering messages and the worker that owns the current connection may call
/// it concurrently. The owner-side methods that check the connection token also assert, in
/// debug builds, that they run on the worker of the connection that attached.
/// Lock order: the session lock is taken after the hold's, the registry's and the topic tree's,
/// and while it is held only the store's queue lock is taken (Persistence calls, so the store
/// sees one session's operations in the order they happened); see docs/architecture.md.
/// Ownership: shared by the broker's registry, the owning connection and (as a raw pointer) the
/// topic tree, which the broker clears before the registry drops the session.
class Session {
 public:
  Session(std::string client_id, uint64_t id, protocol::Version version, QueueLimits limits,
          const SessionServices* services = nullptr);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::string& client_id() const { return client_id_; }
  /// New queue limits (configuration reload; a bridge's buffer has limits of its own). A queue
  /// over a lowered limit keeps what it holds.
  void set_limits(const QueueLimits& limits);
  /// Who is connected to this session, for ACL checks at delivery. Thread: any.
  std::shared_ptr<const auth::Identity> identity() const { return identity_.load(std::memory_order_acquire); }
  std::shared_ptr<const ClientIdentity> client_identity() const { return identity_.load(std::memory_order_acquire); }
  void set_identity(auth::Identity who) { set_identity(ClientIdentity{std::move(who), {}}); }
  void set_identity(ClientIdentity who) {
    identity_.store(std::make_shared<const ClientIdentity>(std::move(who)), std::memory_order_release);
  }
  /// Back to the shared anonymous identity (no allocation).
  void clear_identity() { identity_.store(anonymous_identity(), std::memory_order_release); }
  uint64_t id() const { return id_; }
  /// The current (or, while offline, the last) connection, null before the first. Set by the
  /// session driver at CONNECT. Thread: any.
  std::optional<ConnectionInfo> connection_info() const;
  void set_connection_info(const ConnectionInfo& info);

  /// Durable storage for this session, or null (persistence off, or the session ends with its
  /// connection). Set before the session is shared.
  void set_persistence(Persistence* p) { store_ = p; }
  bool persistent() const { return store_ != nullptr; }
  /// Rebuilds queue, in-flight and incoming QoS 2 state from storage (start-up only).
  void restore(const RestoredSession& r, util::TimePoint now);

  // --- delivery side (any thread) ---
  /// Queued: added. QueuedWake: added, and the caller must wake the owning connection (it was
  /// idle; the caller wakes it so wake-ups can be batched). Dropped: the queue is full (counted
  /// and logged). NotQueued: not for this session now (QoS 0 while offline, or discarded).
  enum class DeliverResult { Queued, QueuedWake, Dropped, NotQueued };
  /// Queues a message for this session. `acl_generation` is the AccessControl generation the
  /// router checked read access with (0: not checked, e.g. held messages); a queue holding
  /// entries checked against older tables is checked again when taken.
  DeliverResult deliver(Outbound out, Link& wake_link, uint16_t acl_generation = 0);
  /// The retained messages matching a new subscription [MQTT-3.3.1-6]: sent after everything
  /// queued before and before anything queued after, as the receive window allows, however
  /// many (they are not subject to the queue limits; they are references to messages the
  /// retained store holds anyway). Each goes at min(its QoS, `max_qos`) with the retain flag
  /// [MQTT-3.3.1-8]. Returns like deliver(); an empty list is NotQueued.
  DeliverResult add_retained(std::vector<MessagePtr> messages, uint8_t max_qos, uint32_t subscription_id,
                             Link& wake_link);
  bool online() const;

  // --- owner side (the connection's worker) ---
  void attach(Link link, protocol::Version version);
  /// Detaches if `token` is still the owner; returns false if another connection took over.
  bool detach(uint64_t token, util::TimePoint now);
  bool is_owner(uint64_t token) const;
  Link link() const;
  /// A new connection wants to resume this session while another still holds it: the holder
  /// is asked to leave and `waiter` is woken once it has. Returns the holder's link to wake,
  /// or an empty link if the session is not held (no need to wait).
  Link request_takeover(Link waiter);
  /// Marks that the owner should be dropped (takeover with clean start); returns the old link.
  Link revoke();
  bool revoked() const;
  /// A reload withdrew the connected client's credentials: its connection must close (MQTT 5:
  /// DISCONNECT 0x87 Not authorized). Returns the link to wake, empty if offline. The flag
  /// stays until a new connection attaches.
  Link deauthorize();
  bool deauthorized() const;
  /// What the owner must act on when woken, read under one lock (the wake-up path takes the
  /// session's lock once for these instead of once per question).
  struct WakeCheck {
    bool owner = false;  // is_owner(token)
    bool takeover_requested = false;
    bool deauthorized = false;
  };
  WakeCheck wake_check(uint64_t token) const;
  /// An operator asked for the connected client to be disconnected (MQTT 5: DISCONNECT 0x98
  /// Administrative action). Returns the link to wake, empty if offline. The flag stays until
  /// a new connection attaches.
  Link request_admin_disconnect();
  /// One atomic load, no lock: the owning connection asks at every wake-up.
  bool admin_disconnect_requested() const { return admin_disconnect_.load(std::memory_order_acquire); }

  /// After a resumed connection: every in-flight message again, in order (PUBLISH with DUP,
  /// or PUBREL) [MQTT-4.4.0-1, 3.1.1 and 5.0].
  void resend_inflight(uint64_t token, std::vector<Sendable>& out);
  /// Moves queued messages out while the receive window allows; assigns packet ids.
  /// Expired messages are dropped here [MQTT-3.3.2-5, 5.0], and so are messages the ACL no longer
  /// lets this client read (checked again only after a reload). Does nothing unless `token`
  /// owns the session, so a connection being taken over cannot swallow messages.
  void take_sendable(uint64_t token, std::vector<Sendable>& out, size_t window, size_t max_count,
                     util::TimePoint now);
  /// PUBACK / PUBCOMP: completes the message. PUBREC: moves it on to PUBREL.
  /// Returns false if the packet id is unknown.
  bool on_puback(uint16_t packet_id);
  bool on_pubrec(uint16_t packet_id, bool error);
  bool on_pubcomp(uint16_t packet_id);
  /// A message that could not be sent (too large for the client): treat as delivered.
  void drop_inflight(uint16_t packet_id);

  // Incoming QoS 2 (packet ids awaiting PUBREL), section 4.3.3.
  bool incoming_qos2_seen(uint16_t packet_id) const;
  void incoming_qos2_add(uint16_t packet_id);
  bool incoming_qos2_release(uint16_t packet_id);
  size_t incoming_qos2_count() const;

  // Subscriptions held by this session (the topic tree holds the routing copy).
  bool add_subscription(const std::string& filter, const SubscriptionRecord& rec);  // true if new
  bool remove_subscription(const std::string& filter);
  std::vector<std::string> subscription_filters() const;
  size_t subscription_count() const;
  /// Every subscription with its options, ordered by filter (HTTP API, cluster link).
  std::vector<std::pair<std::string, SubscriptionRecord>> subscriptions() const;
  bool has_subscription(const std::string& filter) const;

  // Expiry.
  void set_expiry_interval(uint32_t seconds);
  uint32_t expiry_interval() const;
  /// When an offline session expires; nullopt while online or if it never expires.
  std::optional<util::TimePoint> expires_at() const;

  /// Reads the next page of a queue spilled to disk once the in-memory part runs low (persistent
  /// sessions only; see Persistence::memory_queue_limit). The owning connection calls it after
  /// taking messages; the page arrives asynchronously and wakes the connection.
  static void page_in_if_needed(const SessionPtr& self);

  /// Everything still undelivered in memory, for handing shared-subscription messages to other
  /// members when this session ends. Retained messages not yet sent are dropped.
  std::vector<Outbound> drain_all();
  /// The session's whole state in memory (subscriptions, in-flight in order, then the queue,
  /// incoming QoS 2 ids, expiry) in the shape restore() takes, for moving it to another node.
  /// Messages a persistent session keeps on disk only are not included.
  RestoredSession snapshot() const;
  /// Takes in an earlier state of this session from another node (a cluster moving it here):
  /// its in-flight messages and then its queue go before what this session queued meanwhile,
  /// and a message queued here that the earlier state holds too (same `tag`) is dropped here.
  /// Incoming QoS 2 ids, the expiry and subscriptions this session lacks come along; those
  /// subscriptions are returned so the broker can route them.
  std::vector<std::pair<std::string, SubscriptionRecord>> absorb(
      const RestoredSession& earlier, const std::function<uint64_t(const Message&)>& tag);
  /// Queued messages, in memory and on disk, including retained messages not yet sent.
  size_t queued_count() const;
  size_t inflight_count() const;
  /// Messages this session's limits turned away or pushed out since it was made.
  uint64_t dropped_count() const;
  /// Payload bytes queued (in memory and on disk; in-flight messages not counted).
  uint64_t queued_bytes() const;
  /// When the oldest message not yet acknowledged (in flight or queued in memory) was made;
  /// nullopt when there is none.
  std::optional<util::TimePoint> oldest_created() const;

  /// What one queued or in-flight entry is charged to the memory budget, besides its message.
  static constexpr uint64_t kEntryBytes = sizeof(Inflight);

 private:
  static constexpr util::TimePoint kNever = util::TimePoint::min();

  /// SUBSCRIBE's retained messages still to send (see add_retained).
  struct RetainedBatch {
    std::vector<MessagePtr> messages;
    size_t next = 0;
    uint32_t subscription_id = 0;
    uint8_t max_qos = 0;
  };
  /// State few sessions need (takeover, a queue spilled to disk, drops, retained messages
  /// being streamed), allocated on first use.
  struct Extra {
    Link waiter;  // a connection waiting for the current holder to leave
    // Queued messages stored on disk only, after the in-memory queue (persistent sessions
    // whose queue outgrew Persistence::memory_queue_limit): how many, and the first seq.
    uint32_t on_disk = 0;
    bool loading = false;  // a page-in is on its way
    uint64_t disk_from_seq = 0;
    uint64_t last_seq = 0;  // highest seq this session has stored (persistent sessions)
    // Drops because the queue was full, for the rate-limited log line.
    uint64_t dropped = 0;
    uint64_t dropped_at_last_log = 0;
    util::TimePoint next_drop_log{};
    // One batch per queue entry without a message, in queue order.
    util::RingQueue<RetainedBatch> retained;
    size_t retained_pending = 0;  // messages left in all batches
    // Payload bytes of the part on disk. Exact but for messages dropped from disk unread by
    // DropOldest, which are counted at the part's average size.
    uint64_t disk_bytes = 0;
  };
  using Subscriptions = std::map<std::string, SubscriptionRecord>;

  /// Everything that changes after construction, reachable only under the session's lock.
  /// Memory per idle session matters at the edge: pointers first, small fields last, so that
  /// the 4-byte lock fits in the tail padding (util::Guarded), and state most sessions never
  /// use (incoming QoS 2, subscriptions, Extra) is allocated on first use.
  struct State {
    explicit State(protocol::Version v) : version(v) {}
    Link link;
    std::unique_ptr<Extra> extra;
    PackedConnectionInfo connection;  // empty until the first CONNECT
    util::RingQueue<Outbound> queue;
    uint64_t queued_bytes = 0;  // payload bytes of the queue's in-memory messages
    util::SlidingVector<Inflight> inflight;  // in send order; small (bounded by the receive window)
    std::unique_ptr<std::set<uint16_t>> incoming_qos2;
    std::unique_ptr<Subscriptions> subscriptions;
    util::TimePoint disconnected_at = kNever;  // kNever while online (or never connected)
    /// The worker of the connection that attached (debug builds; empty otherwise).
    [[no_unique_address]] util::ThreadChecker owner_thread;
    uint32_t expiry_interval = 0;
    uint16_t last_packet_id = 0;
    /// AccessControl generation the queue was last checked against (0: not known to be).
    uint16_t acl_generation = 0;
    protocol::Version version;
    bool revoked : 1 = false;
    bool takeover_requested : 1 = false;
    bool wake_pending : 1 = false;
    bool deauthorized : 1 = false;

    Extra& more() {
      if (!extra) extra = std::make_unique<Extra>();
      return *extra;
    }
    uint32_t on_disk() const { return extra ? extra->on_disk : 0; }
  };
  // The lock lives in the state's tail padding: guarding the state costs an idle session nothing.
  static_assert(sizeof(util::Guarded<State, util::CompactMutex>) == sizeof(State));

  bool over_limits(const State& s, const Outbound& out) const;
  /// DropOldest: removes queued messages from the front until `out` fits; false if it
  /// cannot (everything left is in flight, or a page is being read back).
  bool make_room(State& s, const Outbound& out);
  uint16_t next_packet_id(State& s);
  void save_session(const State& s);
  /// Entries entering (n > 0) or leaving (n < 0) memory, charged to the budget.
  void charge_entries(int64_t n) const {
    if (n && services_ && services_->memory) services_->memory->adjust(n * static_cast<int64_t>(kEntryBytes));
  }
  /// Drops queued messages the current ACL does not let this client read; called when the
  /// queue was checked against older tables.
  void recheck_access(State& s);
  /// Counts a drop for a full queue; true if it is time to log (then `total` is the count).
  bool count_drop(State& s, uint64_t& total);
  void log_drops(uint64_t total) const;
  void paged_in(std::vector<RestoredOutbound> rows, uint32_t asked);

  const std::string client_id_;
  const uint64_t id_;
  // Read and replaced (set_limits) under the state's lock. The flag after it sits in its tail
  // padding (no_unique_address), which keeps an idle session at 232 bytes.
  [[no_unique_address]] QueueLimits limits_;
  std::atomic<bool> admin_disconnect_{false};  // written under the state's lock
  const SessionServices* const services_;
  // Until ACLs or reauthorization need it, every session shares one anonymous identity (no
  // allocation).
  std::atomic<std::shared_ptr<const ClientIdentity>> identity_{anonymous_identity()};
  static std::shared_ptr<const ClientIdentity> anonymous_identity();
  Persistence* store_ = nullptr;  // set before the session is shared
  util::Guarded<State, util::CompactMutex> state_;
};

}  // namespace musqratt::broker
