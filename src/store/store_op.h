#pragma once
// The storage operations the broker issues, as data: the writer thread applies them in
// order, and while the disk is full it can tell which ones touch the same rows (see Backlog).
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "broker/message.h"
#include "broker/persistence.h"

namespace musqratt::store {

namespace op {
struct SessionSave {
  std::string client;
  uint32_t expiry = 0;
  std::optional<int64_t> disconnected_at;
};
/// Every row of the client: session, subscriptions, queue, incoming QoS 2.
struct SessionDelete {
  std::string client;
};
struct SubscriptionSave {
  std::string client, filter;
  uint8_t options = 0;
  uint32_t subscription_id = 0;
};
struct SubscriptionDelete {
  std::string client, filter;
};
struct OutboundSave {
  std::string client;
  uint64_t seq = 0;
  broker::MessagePtr msg;
  uint8_t qos = 1;
  bool retain = false;
  std::string subscription_ids{};  // packed
  broker::OutboundState state = broker::OutboundState::Queued;
  uint16_t packet_id = 0;
};
struct OutboundDelete {
  std::string client;
  uint64_t seq = 0;
};
struct Qos2Save {
  std::string client;
  uint16_t packet_id = 0;
};
struct Qos2Delete {
  std::string client;
  uint16_t packet_id = 0;
};
struct RetainedSave {
  broker::MessagePtr msg;
};
struct RetainedDelete {
  std::string topic;
};
struct HeldSave {
  uint64_t seq = 0;
  broker::MessagePtr msg;
};
struct HeldDelete {
  uint64_t seq = 0;
};
struct WillSave {
  std::string client;
  broker::MessagePtr msg;
  int64_t fire_at = 0;
};
struct WillDelete {
  std::string client;
};
/// Reads a page of a session's queue (Persistence::load_queued).
struct LoadQueued {
  std::string client;
  uint64_t from_seq = 0;
  uint32_t limit = 0;
  std::function<void(std::vector<broker::RestoredOutbound>)> done;
};
}  // namespace op

using OpBody = std::variant<op::SessionSave, op::SessionDelete, op::SubscriptionSave, op::SubscriptionDelete,
                            op::OutboundSave, op::OutboundDelete, op::Qos2Save, op::Qos2Delete, op::RetainedSave,
                            op::RetainedDelete, op::HeldSave, op::HeldDelete, op::WillSave, op::WillDelete,
                            op::LoadQueued>;

struct Op {
  OpBody body;
  /// Issue order, from 1. Persistence::committed() counts in these numbers.
  uint64_t number = 0;
  /// The lowest operation number whose durability waits for this one: its own, or that of an
  /// earlier operation on the same row it replaced while waiting (see Backlog).
  uint64_t holds = 0;
  /// A read that has run (it is never run twice, even if its transaction is rolled back).
  bool done = false;
  /// A read run ahead of waiting operations: those of them that change rows of its queue, to
  /// be laid over what the database holds (see Backlog::hoistable). Empty otherwise.
  std::vector<const Op*> overlay;
};

/// What an operation touches, for ordering operations while some of them cannot be written.
struct OpTarget {
  enum class Kind : uint8_t { Write, Delete, Read } kind;
  /// 'S' session, 'B' subscription, 'Q' queue, 'I' incoming QoS 2, 'R' retained, 'H' held,
  /// 'W' will.
  char table;
  /// Client id (S, B, Q, I, W), topic (R), empty (H).
  std::string_view owner;
  /// The row within the owner's (seq, packet id; the filter goes in `detail`).
  int64_t row = 0;
  std::string_view detail;
  /// SessionDelete: every S, B, Q and I row of the owner. LoadQueued: its Q rows.
  bool whole_owner = false;
  /// Tables a SessionDelete covers.
  bool client_scoped() const { return table == 'S' || table == 'B' || table == 'Q' || table == 'I'; }
};

OpTarget target_of(const OpBody& body);
/// One string per row: equal for two operations exactly when they touch the same row.
std::string row_key(const OpTarget& t);
/// Payload and topic bytes the operation writes (0 for deletes and reads), for sizing.
size_t write_bytes(const OpBody& body);

}  // namespace musqratt::store
