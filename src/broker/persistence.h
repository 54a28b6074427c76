#pragma once
// What the broker tells durable storage, as it happens. Implemented in src/store/; the broker
// holds a null pointer when persistence is off. Calls that concern one session are made under
// that session's mutex, so the store sees them in the order they happened.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "broker/message.h"
#include "broker/waker.h"
#include "protocol/packets.h"

namespace musqratt::broker {

struct Outbound;
struct SubscriptionRecord;
struct RestoredOutbound;

/// Where an outgoing QoS 1/2 message stands (stored with each queue row).
enum class OutboundState : uint8_t { Queued = 0, AwaitPuback = 1, AwaitPubrec = 2, AwaitPubcomp = 3 };

/// Wall-clock milliseconds, the only time that means something after a restart.
int64_t wall_ms_from(util::TimePoint t);
util::TimePoint steady_from_wall_ms(int64_t wall_ms);

/// What a store says about itself, for $SYS.
struct StoreStatus {
  bool disk_full = false;        // writes fail for lack of space; see accepting_writes()
  uint64_t writes_refused = 0;   // operations a full disk held back since start, each counted once
  uint64_t writes_waiting = 0;   // of those, how many wait now
};

/// Thread: every method may be called from any thread.
class Persistence {
 public:
  virtual ~Persistence() = default;

  virtual void session_saved(const std::string& client_id, uint32_t expiry, std::optional<int64_t> disconnected_wall_ms) = 0;
  virtual void session_deleted(const std::string& client_id) = 0;
  virtual void subscription_saved(const std::string& client_id, const std::string& filter,
                                  const protocol::SubscribeOptions& options, uint32_t subscription_id) = 0;
  virtual void subscription_deleted(const std::string& client_id, const std::string& filter) = 0;
  virtual void outbound_saved(const std::string& client_id, uint64_t seq, const Outbound& out,
                              OutboundState state, uint16_t packet_id) = 0;
  virtual void outbound_deleted(const std::string& client_id, uint64_t seq) = 0;
  virtual void incoming_qos2_saved(const std::string& client_id, uint16_t packet_id) = 0;
  virtual void incoming_qos2_deleted(const std::string& client_id, uint16_t packet_id) = 0;
  virtual void retained_saved(const MessagePtr& msg) = 0;
  virtual void retained_deleted(const std::string& topic) = 0;
  virtual void held_saved(uint64_t seq, const MessagePtr& msg) = 0;
  virtual void held_deleted(uint64_t seq) = 0;
  virtual void will_saved(const std::string& client_id, const MessagePtr& msg, int64_t fire_wall_ms) = 0;
  virtual void will_deleted(const std::string& client_id) = 0;

  /// How many queued messages of one session are held in memory (0 = all). Beyond it, a
  /// persistent session's queue continues on disk only and is read back in pages as it drains,
  /// so memory stays bounded however much is stored.
  virtual uint32_t memory_queue_limit() const = 0;
  /// Reads up to `limit` queued (not in-flight) messages of `client_id` with seq >= `from_seq`,
  /// in seq order, and hands them to `done` on the store's own thread. The read comes after
  /// every operation issued before this call, so it sees all that was saved before.
  virtual void load_queued(const std::string& client_id, uint64_t from_seq, uint32_t limit,
                           std::function<void(std::vector<RestoredOutbound>)> done) = 0;

  /// Number of the last operation issued so far; everything up to it is durable once
  /// committed() reaches it.
  virtual uint64_t last_issued() const = 0;
  virtual uint64_t committed() const = 0;
  /// Wakes `link` once committed() >= seq (at once if it already is).
  virtual void notify_when_durable(uint64_t seq, Link link) = 0;

  /// False while the store cannot write for lack of disk space. What is stored is still read
  /// and delivered (and deleting it frees space), but nothing new becomes durable: committed()
  /// stops short of the first operation that could not be written, so acknowledgements that
  /// wait for it are held however they were asked for. A connection should meanwhile refuse
  /// new QoS 1/2 messages instead of accepting and holding them (5.0: PUBACK/PUBREC 0x97 Quota
  /// exceeded, the message not routed). The store retries by itself and turns this back to
  /// true once its waiting operations are written. One atomic load.
  virtual bool accepting_writes() const { return true; }
  virtual StoreStatus status() const { return {}; }
};

/// Everything a store hands back at start-up, to rebuild the broker's state.
struct RestoredOutbound {
  uint64_t seq = 0;
  MessagePtr msg;
  uint8_t qos = 1;
  bool retain = false;
  std::vector<uint32_t> subscription_ids;
  OutboundState state = OutboundState::Queued;
  uint16_t packet_id = 0;
};

struct RestoredSession {
  std::string client_id;
  uint32_t expiry = 0;
  std::optional<int64_t> disconnected_wall_ms;
  std::vector<std::pair<std::string, std::pair<protocol::SubscribeOptions, uint32_t>>> subscriptions;
  std::vector<RestoredOutbound> outbound;  // in seq order: in flight, then the first queued ones
  std::vector<uint16_t> incoming_qos2;
  // Queued messages left on disk (see Persistence::memory_queue_limit): how many, their payload
  // bytes, and the first seq of them.
  uint32_t queued_on_disk = 0;
  uint64_t queued_on_disk_bytes = 0;
  uint64_t disk_from_seq = 0;
  uint64_t max_seq = 0;  // highest seq the session has stored, in memory or not
};

struct RestoredState {
  uint64_t max_message_id = 0;  // highest id of any stored message: new ids continue after it
  std::vector<RestoredSession> sessions;
  std::vector<MessagePtr> retained;
  std::vector<std::pair<uint64_t, MessagePtr>> held;  // in seq order
  std::vector<std::pair<std::string, std::pair<MessagePtr, int64_t>>> wills;  // client, (msg, fire at)
};

}  // namespace musqratt::broker
