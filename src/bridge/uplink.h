#pragma once
// One connection of a bridge to its upstream: the MQTT client over protocol::ConnectionEngine
// (client role), as the net::Endpoint its transport drives. It forwards what the bridge's
// buffer session holds (the session's queue order, packet ids and in-flight state, so a
// restart or a reconnect resends exactly what the upstream has not acknowledged, with DUP
// where the upstream kept the session) and publishes locally what the upstream sends for the
// `in` rules, acknowledging it only once it is as durable as a local client's publish.
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bridge/bridge_config.h"
#include "bridge/link_status.h"
#include "bridge/log_throttle.h"
#include "bridge/topic_mapping.h"
#include "broker/broker.h"
#include "net/endpoint.h"
#include "protocol/connection_engine.h"
#include "util/clock.h"

namespace musqratt::bridge {

/// How a connection ended, for the bridge's log, status and reconnect policy.
struct LinkEnd {
  std::string reason;                        // "refused: ...", "TLS: ...", "connect timeout", ...
  bool established = false;                  // a successful CONNACK had been received
  std::optional<protocol::Reason> refused;   // the CONNACK's error, when it refused us
};

/// What an Uplink reports to its bridge. Thread: the bridge's worker.
class UplinkHost {
 public:
  virtual ~UplinkHost() = default;
  /// CONNACK success: the buffer session is attached to this connection.
  virtual void on_link_up(bool session_present, util::TimePoint now) = 0;
  /// The connection is gone (called once, from on_closed).
  virtual void on_link_down(const LinkEnd& end, util::TimePoint now) = 0;
};

/// What an Uplink works with; all of it outlives the Uplink.
struct UplinkContext {
  const BridgeConfig& config;
  const TopicMap& topics;
  broker::Broker& broker;
  broker::SessionPtr session;  // the bridge's buffer ("$bridge/NAME")
  LinkStatus& status;
  UplinkHost& host;
  LogThrottle& message_log;  // per-message warnings (refused by the upstream, too large)
  bool bridge_bit = false;  // 3.1.1: announce a bridge in the protocol level this time
};

/// Thread: the bridge's worker only. Ownership: owned by its connection (or by the TLS layer
/// under which it runs); holds a shared reference to the buffer session.
class Uplink final : public net::Endpoint, private protocol::EngineEvents {
 public:
  Uplink(UplinkContext ctx, broker::Waker* waker, uint64_t token, std::string peer, util::TimePoint now);
  ~Uplink() override;
  Uplink(const Uplink&) = delete;
  Uplink& operator=(const Uplink&) = delete;

  // net::Endpoint
  void on_bytes(std::span<const uint8_t> data, util::TimePoint now) override;
  std::string_view pending_output() override { return engine_.pending_output(); }
  void consume_output(size_t n, util::TimePoint now) override;
  bool closing() const override { return engine_.closing(); }
  std::string_view close_reason() const override { return reason_; }
  void on_wake(util::TimePoint now) override;
  void on_tick(util::TimePoint now) override;
  void on_shutdown() override;
  void on_closed(util::TimePoint now) override;
  void on_transport_error(std::string_view reason) override;

  bool established() const { return engine_.established(); }

  /// Output beyond which queued messages wait in the session (back-pressure, as for clients).
  static constexpr size_t kOutputHighWater = 256 * 1024;
  static constexpr size_t kTakeBatch = 64;  // messages taken from the session per lock

 private:
  // protocol::EngineEvents
  void on_connack(const protocol::Connack& c) override;
  void on_publish(protocol::Publish& p) override;
  void on_ack(const protocol::Ack& a) override;
  void on_suback(const protocol::Suback& s) override;
  void on_disconnect(const protocol::Disconnect& d) override;
  void on_violation(protocol::Reason reason, const char* why) override;

  void pump(util::TimePoint now);
  void send(const broker::Sendable& s, util::TimePoint now);
  /// Sends the acknowledgement of an incoming publish once storage operation `seq` is
  /// durable (0: at once), keeping acknowledgements in order.
  void ack_when_durable(protocol::PacketType type, uint16_t packet_id, uint64_t seq);
  void flush_deferred_acks();
  /// QoS 1/2 messages that may be sent now: the window less the acknowledgements whose
  /// removal from storage is not yet durable (each is a message a crash would send again).
  size_t window_now();
  void fail(protocol::Reason reason, std::string why);
  void note_rejected(const std::string& why, std::string_view topic);

  UplinkContext ctx_;
  broker::Waker* waker_;
  const uint64_t token_;
  const std::string peer_;
  protocol::ConnectionEngine engine_{protocol::Role::Client};
  util::TimePoint started_;
  util::TimePoint now_;  // time of the event being handled (engine callbacks carry none)
  std::string reason_;   // why the connection ends, first cause wins
  std::optional<protocol::Reason> refused_;
  size_t window_ = 0;    // min(max_inflight, the upstream's Receive Maximum)
  uint16_t suback_id_ = 0;  // the SUBSCRIBE awaiting its SUBACK; new messages wait for it
  util::TimePoint suback_sent_{};
  uint64_t notified_seq_ = 0;  // the commit a wake-up was asked for
  bool attached_ = false;   // the buffer session is attached to this connection
  bool reported_ = false;   // on_link_down was called
  bool shutting_down_ = false;

  struct DeferredAck {
    uint64_t seq;
    protocol::PacketType type;
    uint16_t packet_id;
  };
  std::vector<DeferredAck> deferred_acks_;
  /// Storage operation numbers of acknowledged messages whose removal is not yet durable.
  std::deque<uint64_t> unsettled_;
};

}  // namespace musqratt::bridge
