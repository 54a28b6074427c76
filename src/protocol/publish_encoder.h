#pragma once
// The hot-path PUBLISH encoder. A broker sends the same message to many receivers with
// different packet ids, QoS and subscription identifiers; PublishView lets it encode straight
// from the shared message without building a Publish value per receiver.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "protocol/properties.h"
#include "protocol/types.h"

namespace musqratt::protocol {

struct PublishView {
  std::string_view topic;
  std::string_view payload;
  uint8_t qos = 0;
  bool retain = false;
  bool dup = false;
  uint16_t packet_id = 0;
  const Properties* properties = nullptr;  // 5.0 only; may be null
  /// Per-receiver additions (5.0), appended after `properties`.
  std::span<const uint32_t> subscription_identifiers = {};
  std::optional<uint32_t> message_expiry_override = {};  // replaces the message's own value
  uint16_t topic_alias = 0;                              // 0 = none
  /// What keeps `payload` alive, if the caller lets the connection send the payload from
  /// where it lies (see kSendByReferenceMin) instead of copying it into the output buffer.
  std::shared_ptr<const void> payload_owner = {};
};

/// Payloads from this size on are worth sending by reference (a gathered write straight from
/// the shared message): below it a copy costs less than holding the owner (two atomic
/// reference-count updates, and a segment more in the write).
inline constexpr size_t kSendByReferenceMin = 4096;

/// Size in bytes of the encoded packet, header included.
size_t publish_size(const PublishView& p, Version v);
/// Appends the packet; returns its size.
size_t encode_publish(const PublishView& p, Version v, std::string& out);
/// Appends the packet without its payload (whose size the header counts); returns the size of
/// the whole packet. The caller sends `p.payload` right after these bytes.
size_t encode_publish_head(const PublishView& p, Version v, std::string& out);

}  // namespace musqratt::protocol
