#pragma once
// A client's session (section 4.1): subscriptions, queued and in-flight outgoing messages,
// incoming QoS 2 state. It outlives connections when the client asks for a persistent session.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "auth/acl.h"
#include "broker/message.h"
#include "broker/persistence.h"
#include "broker/waker.h"
#include "protocol/packets.h"
#include "util/clock.h"
#include "util/compact_mutex.h"
#include "util/ring_queue.h"

namespace musqratt::broker {

class Session;
using SessionPtr = std::shared_ptr<Session>;

/// One message waiting for or in delivery to this session, with its per-receiver QoS and flags.
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

struct QueueLimits {
  uint32_t max_messages = 0;  // 0 = unlimited
  bool queue_qos0_offline = false;
  uint64_t max_bytes = 0;
  QueueOverflow overflow = QueueOverflow::DropNewest;
};

/// Thread: every method locks the session's own mutex, so workers delivering messages and the
/// worker that owns the current connection may call it concurrently. Ownership: shared by the
/// broker's registry, the owning connection and (as a raw pointer) the topic tree, which the
/// broker clears before the registry drops the session.
class Session {
 public:
  Session(std::string client_id, uint64_t id, protocol::Version version, QueueLimits limits);

  const std::string& client_id() const { return client_id_; }
  /// New queue limits (configuration reload; a bridge's buffer has limits of its own). A queue
  /// over a lowered limit keeps what it holds.
  void set_limits(const QueueLimits& limits);
  /// Who is connected to this session, for ACL checks at delivery. Thread: any.
  std::shared_ptr<const auth::Identity> identity() const { return identity_.load(std::memory_order_acquire); }
  void set_identity(auth::Identity who) {
    identity_.store(std::make_shared<const auth::Identity>(std::move(who)), std::memory_order_release);
  }
  uint64_t id() const { return id_; }

  /// Durable storage for this session, or null (persistence off, or the session ends with its
  /// connection). Set before the session is shared.
  void set_persistence(Persistence* p) { store_ = p; }
  bool persistent() const { return store_ != nullptr; }
  /// Rebuilds queue, in-flight and incoming QoS 2 state from storage (start-up only).
  void restore(const RestoredSession& r, util::TimePoint now);

  // --- delivery side (any thread) ---
  enum class DeliverResult { Queued, QueuedWake, Dropped };
  /// Queues a message for this session. Returns QueuedWake when the owning connection must
  /// be woken (it was idle); the caller wakes it, so wake-ups can be batched.
  DeliverResult deliver(Outbound out, Link& wake_link);
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
  bool takeover_requested() const;
  /// Marks that the owner should be dropped (takeover with clean start); returns the old link.
  Link revoke();
  bool revoked() const;

  /// After a resumed connection: every in-flight message again, in order (PUBLISH with DUP,
  /// or PUBREL) [MQTT-4.4.0-1, 3.1.1 and 5.0].
  void resend_inflight(uint64_t token, std::vector<Sendable>& out);
  /// Moves queued messages out while the receive window allows; assigns packet ids.
  /// Expired messages are dropped here [MQTT-3.3.2-5, 5.0]. Does nothing unless `token` owns the
  /// session, so a connection being taken over cannot swallow messages.
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
  /// members when this session ends.
  std::vector<Outbound> drain_all();
  size_t queued_count() const;
  size_t inflight_count() const;
  /// Payload bytes queued (in memory and on disk; in-flight messages not counted).
  uint64_t queued_bytes() const;
  /// Messages this session's limits turned away or pushed out since it was made.
  uint64_t dropped_count() const;
  /// When the oldest message not yet acknowledged (in flight or queued in memory) was made;
  /// nullopt when there is none.
  std::optional<util::TimePoint> oldest_created() const;

 private:
  bool over_limits_locked(const Outbound& out) const;
  /// DropOldest: removes queued messages from the front until `out` fits; false if it
  /// cannot (everything left is in flight, or a page is being read back).
  bool make_room_locked(const Outbound& out);
  uint16_t next_packet_id_locked();

  const std::string client_id_;
  const uint64_t id_;
  QueueLimits limits_;  // guarded by mu_
  // Until ACLs need it, every session shares one anonymous identity (no allocation).
  std::atomic<std::shared_ptr<const auth::Identity>> identity_{anonymous_identity()};
  static std::shared_ptr<const auth::Identity> anonymous_identity();
  // Memory per idle session matters at the edge: fields are ordered to pack, and state most
  // sessions never use (incoming QoS 2, subscriptions) is allocated on first use.
  mutable util::CompactMutex mu_;
  protocol::Version version_;
  bool revoked_ = false;
  bool takeover_requested_ = false;
  bool wake_pending_ = false;
  uint16_t last_packet_id_ = 0;
  uint32_t expiry_interval_ = 0;
  Link link_;
  /// State few sessions need (takeover, a queue spilled to disk), allocated on first use.
  struct Extra {
    Link waiter;  // a connection waiting for the current holder to leave
    // Queued messages stored on disk only, after the in-memory queue (persistent sessions
    // whose queue outgrew Persistence::memory_queue_limit): how many, and the first seq.
    uint32_t on_disk = 0;
    bool loading = false;  // a page-in is on its way
    uint64_t disk_from_seq = 0;
    // Payload bytes of the part on disk (part of queued_bytes_). Exact but for messages
    // dropped from disk unread by DropOldest, which are counted at the part's average size.
    uint64_t disk_bytes = 0;
    uint64_t dropped = 0;  // see dropped_count()
  };
  std::unique_ptr<Extra> extra_;
  Extra& extra() {
    if (!extra_) extra_ = std::make_unique<Extra>();
    return *extra_;
  }
  uint32_t on_disk_locked() const { return extra_ ? extra_->on_disk : 0; }
  void paged_in(std::vector<RestoredOutbound> rows, uint32_t asked);
  util::RingQueue<Outbound> queue_;
  uint64_t queued_bytes_ = 0;
  std::vector<Inflight> inflight_;  // in send order; small (bounded by the receive window)
  std::unique_ptr<std::set<uint16_t>> incoming_qos2_;
  using Subscriptions = std::map<std::string, SubscriptionRecord>;
  std::unique_ptr<Subscriptions> subscriptions_;
  Persistence* store_ = nullptr;
  uint64_t last_seq_ = 0;
  void save_session_locked();
  static constexpr util::TimePoint kNever = util::TimePoint::min();
  util::TimePoint disconnected_at_ = kNever;  // kNever while online (or never connected)
};

}  // namespace musqratt::broker
