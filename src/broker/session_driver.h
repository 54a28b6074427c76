#pragma once
// The broker's side of one client connection: the policy that sits on a protocol engine.
// protocol::ConnectionEngine decodes and checks what the specification says about any MQTT
// connection; the SessionDriver decides what the broker does with it: authentication, ACL,
// limits, sessions and takeover, routing, durable acknowledgements, delivery of queued
// messages. The transport feeds it bytes and takes its output (net::Endpoint's shape) without
// knowing MQTT.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.h"
#include "protocol/connection_engine.h"
#include "util/clock.h"

namespace musqratt::broker {

/// Thread: used only by the worker that owns the connection. Ownership: owned by the
/// transport's connection object; holds a shared reference to its session.
class SessionDriver final : private protocol::EngineEvents {
 public:
  SessionDriver(Broker& broker, Waker* waker, uint64_t token, std::string peer, util::TimePoint now);
  ~SessionDriver() override;
  SessionDriver(const SessionDriver&) = delete;
  SessionDriver& operator=(const SessionDriver&) = delete;

  /// Consumes bytes received from the client.
  void on_bytes(std::span<const uint8_t> data, util::TimePoint now);
  /// The session has queued messages, was taken over, or a parked CONNECT may go on.
  void on_wake(util::TimePoint now);
  /// Called now and then (at least every second): keep-alive and connect timeouts.
  void on_tick(util::TimePoint now);
  /// The transport wrote some output; more queued messages may now be encoded.
  void on_output_drained(util::TimePoint now);
  /// The transport authenticated the client by certificate (TLS with
  /// tls_use_identity_as_username): this name is the MQTT user name, no password needed.
  void set_certificate_username(std::string name) { rare().certificate_username = std::move(name); }
  /// The server is stopping: tell the client (5.0: DISCONNECT 0x8B) and close.
  void on_shutdown();
  /// The connection is gone (after close or on a transport error). Idempotent.
  void on_closed(util::TimePoint now);

  std::string_view pending_output() { return engine_.pending_output(); }
  size_t output_segments(std::span<std::string_view> seg) const { return engine_.output_segments(seg); }
  size_t pending_size() const { return engine_.pending_size(); }
  void consume_output(size_t n);
  /// True once the connection should be closed after pending output is written.
  bool closing() const { return engine_.closing() || state_ == State::Closed; }
  bool connected() const { return state_ == State::Connected; }
  /// The session's client id once connected (possibly assigned by the server), else empty.
  const std::string& client_id() const;
  const std::string& peer() const { return peer_; }
  std::string_view close_reason() const { return rare_ ? std::string_view(rare_->close_reason) : std::string_view(); }

  /// Output beyond which queued messages stay in the session queue instead (back-pressure).
  static constexpr size_t kOutputHighWater = 256 * 1024;
  /// Messages taken from the session per lock.
  static constexpr size_t kTakeBatch = 64;

 private:
  enum class State : uint8_t { AwaitConnect, Connected, Closed };

  // protocol::EngineEvents
  void on_connect(protocol::Connect& c) override;
  void on_publish(protocol::Publish& p) override;
  void on_ack(const protocol::Ack& a) override;
  void on_subscribe(protocol::Subscribe& s) override;
  void on_unsubscribe(protocol::Unsubscribe& u) override;
  void on_disconnect(const protocol::Disconnect& d) override;
  void on_violation(protocol::Reason reason, const char* why) override;

  /// Runs a CONNECT through the broker's policy; false if it must wait (parked).
  void handle_connect(protocol::Connect& c, util::TimePoint now);
  /// Refuses a CONNECT: CONNACK `reason` where the version has a code for it; otherwise (a
  /// 3.1/3.1.1 CONNECT that broke a packet rule) the connection closes without one.
  void reject_connect(protocol::Reason reason, const char* why, std::string_view client_id = {});
  /// A rule or a limit of ours was broken: 5.0 gets DISCONNECT with `reason`; the will is published.
  void fail(protocol::Reason reason, const char* why);
  /// Sends the acknowledgement once storage operation `seq` is durable and, with a cluster,
  /// the cluster holds the message (ClusterLink::acked() reached `cluster_seq`); 0 = nothing
  /// to wait for. Acknowledgements keep their order.
  void ack_when_durable(protocol::PacketType type, uint16_t packet_id, protocol::Reason reason, uint64_t seq,
                        uint64_t cluster_seq = 0);
  /// Whether what an acknowledgement waits for has happened.
  bool ack_ready(uint64_t seq, uint64_t cluster_seq) const;
  void flush_deferred_acks();
  void pump(util::TimePoint now);
  /// Ends the session side of the connection at once (will, session expiry), before the
  /// socket is closed, so a client reconnecting right away finds the session already settled.
  void end_connection(util::TimePoint now);
  void send_publish(const Sendable& s, util::TimePoint now);
  bool v5() const { return engine_.v5(); }
  bool publish_allowed_by_rate(util::TimePoint now);
  /// Charges what the engine holds of a partly received packet to the broker's memory budget
  /// (max_memory), and refuses to hold a large one past it: a client sending most of a huge
  /// PUBLISH and stopping would otherwise hold that much at no cost to itself.
  void charge_buffered_input();
  void release_input_charge();

  Broker& broker_;
  Waker* waker_;
  const uint64_t token_;
  const std::string peer_;  // "address:port"; the address is its first peer_ip_len_ bytes
  std::string_view peer_ip() const { return std::string_view(peer_).substr(0, peer_ip_len_); }
  protocol::ConnectionEngine engine_{protocol::Role::Server};
  SessionPtr session_;
  std::unique_ptr<WillMessage> will_;  // most connections have none

  // Publish rate limit: a token bucket of one second's worth of publishes.
  double publish_tokens_ = 0;
  // Until CONNECT: when the connection was accepted (the connect timeout runs from it). After:
  // when the token bucket was last refilled. One field, as no PUBLISH comes before CONNECT.
  util::TimePoint tokens_at_;
  uint32_t send_window_ = 65535;  // min(client Receive Maximum, max_inflight)
  uint32_t session_expiry_ = 0;
  uint32_t input_charged_ = 0;  // bytes of a partly received packet charged to the memory budget
  uint8_t peer_ip_len_ = 0;
  State state_ = State::AwaitConnect;
  bool will_on_close_ = true;  // false after a normal DISCONNECT
  bool admitted_ = false;      // counted against max_connections_per_ip
  bool takeover_waited_ = false;
  bool bridge_peer_ = false;  // a 3.1/3.1.1 client that set the bridge bit

  struct DeferredAck {
    uint64_t seq;
    uint64_t cluster_seq;
    protocol::PacketType type;
    uint16_t packet_id;
    protocol::Reason reason;
  };
  /// State most connections never need, allocated on first use: an idle connection is the
  /// common case at the edge, and every byte here is paid once per connection.
  struct Rare {
    std::optional<std::string> certificate_username;
    std::string close_reason;
    std::vector<DeferredAck> deferred_acks;  // persistence only, and short
    // A CONNECT waiting for the previous holder of its session to leave (see
    // Broker::defer_for_takeover); the engine keeps later input until then.
    std::unique_ptr<protocol::Connect> parked_connect;
    // A password check handed to the broker's VerifyPool: kAuthPending until a pool thread
    // stores the outcome (then wakes this connection); shared, as the pool may finish after
    // the connection is gone.
    std::shared_ptr<std::atomic<int8_t>> auth_verdict;
  };
  static constexpr int8_t kAuthPending = -1, kAuthRefused = 0, kAuthAccepted = 1;
  std::unique_ptr<Rare> rare_;
  Rare& rare() {
    if (!rare_) rare_ = std::make_unique<Rare>();
    return *rare_;
  }
  bool parked() const { return rare_ && rare_->parked_connect; }
  bool auth_pending() const {
    return rare_ && rare_->auth_verdict && rare_->auth_verdict->load(std::memory_order_acquire) == kAuthPending;
  }
  /// Hands the password check of `c` to the broker's VerifyPool and parks `c`, or refuses it
  /// at once when the pool is full or the address is backing off.
  void park_for_password_check(protocol::Connect& c);
  void set_close_reason(std::string why) { rare().close_reason = std::move(why); }
};

}  // namespace musqratt::broker
