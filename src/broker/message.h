#pragma once
// An application message as the broker routes it: immutable once published and shared by every
// queue that holds it, so fan-out to N receivers copies a pointer, not the payload.
#include <cstdint>
#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "protocol/properties.h"
#include "util/clock.h"

namespace musqratt::broker {

struct Message {
  std::string topic;
  std::string payload;
  uint8_t qos = 0;
  bool retain = false;
  /// Properties forwarded to receivers (payload format, content type, response topic,
  /// correlation data, user properties), or null when there are none — most messages — which
  /// keeps a queued message small. Message expiry lives in `expires_at` instead, because what
  /// is forwarded is the remaining interval [MQTT-3.3.2-6, 5.0].
  std::shared_ptr<const protocol::Properties> properties;
  std::optional<util::TimePoint> expires_at;
  /// Session id of the publisher, for No Local; 0 for messages the broker makes itself.
  uint64_t origin = 0;
  /// Identity in durable storage: unique for the life of the data directory.
  uint64_t id = next_id();
  /// When this process made the message (published, or read back from storage at a
  /// restart): how long a queue has been waiting (a bridge's oldest_queued_age).
  util::TimePoint created = util::now();

  static uint64_t next_id();
  /// After a restart: ids up to `max` are taken by stored messages.
  static void reserve_ids(uint64_t max);

  bool expired(util::TimePoint now) const { return expires_at && now >= *expires_at; }
  /// Seconds left, rounded up, for the Message Expiry Interval sent to a receiver.
  std::optional<uint32_t> remaining_expiry(util::TimePoint now) const;
  size_t footprint() const { return sizeof(Message) + topic.size() + payload.size(); }
};

using MessagePtr = std::shared_ptr<const Message>;

}  // namespace musqratt::broker
