#pragma once
// The per-connection protocol engine (sans-I/O, in the manner of nghttp2's session): the
// transport feeds it received bytes, takes the bytes it produces, tells it when the connection
// has work (wake), when time passes (tick) and when the connection is gone. It enforces the
// packet ordering and every per-connection rule of the specification and drives the Broker.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/broker.h"
#include "protocol/codec.h"
#include "util/clock.h"

namespace musqratt::broker {

/// Thread: used only by the worker that owns the connection. Ownership: owned by the
/// transport's connection object; holds a shared reference to its session.
class ClientHandler {
 public:
  ClientHandler(Broker& broker, Waker* waker, uint64_t token, std::string peer, util::TimePoint now);
  ~ClientHandler();
  ClientHandler(const ClientHandler&) = delete;
  ClientHandler& operator=(const ClientHandler&) = delete;

  /// Consumes bytes received from the client.
  void on_bytes(std::span<const uint8_t> data, util::TimePoint now);
  /// The session has queued messages, or was taken over by another connection.
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

  std::string_view pending_output() const { return std::string_view(out_).substr(out_pos_); }
  void consume_output(size_t n);
  /// True once the connection should be closed after pending output is written.
  bool closing() const { return closing_; }
  bool connected() const { return state_ == State::Connected; }
  /// The session's client id once connected (possibly assigned by the server), else empty.
  const std::string& client_id() const;
  const std::string& peer() const { return peer_; }

  /// Output beyond which queued messages stay in the session queue instead (back-pressure).
  static constexpr size_t kOutputHighWater = 256 * 1024;

 private:
  enum class State : uint8_t { AwaitConnect, Connected, Closed };

  void handle_frame(const protocol::FrameHeader& h, std::span<const uint8_t> body, util::TimePoint now);
  void handle_connect(protocol::Connect& c, util::TimePoint now);
  void handle_publish(protocol::Publish& p, util::TimePoint now);
  void handle_subscribe(const protocol::Subscribe& s, util::TimePoint now);
  void handle_unsubscribe(const protocol::Unsubscribe& u);
  void handle_ack(const protocol::Ack& a, util::TimePoint now);
  void handle_disconnect(const protocol::Disconnect& d, util::TimePoint now);
  /// Decodes and handles the packets in `data` (input already counted in the statistics).
  void process_input(std::span<const uint8_t> data, util::TimePoint now);

  void reject_connect(protocol::Reason reason, const char* why, std::string_view client_id = {});
  /// Protocol violation or limit: 5.0 gets DISCONNECT with `reason`; the will is published.
  void fail(protocol::Reason reason, const char* why);
  void send(const protocol::Packet& p);
  void send_ack(protocol::PacketType type, uint16_t packet_id, protocol::Reason reason);
  /// Sends the acknowledgement once storage operation `seq` is durable (0: at once), keeping
  /// acknowledgements in order.
  void ack_when_durable(protocol::PacketType type, uint16_t packet_id, protocol::Reason reason, uint64_t seq);
  void flush_deferred_acks();
  void pump(util::TimePoint now);
  /// Ends the session side of the connection at once (will, session expiry), before the
  /// socket is closed, so a client reconnecting right away finds the session already settled.
  void end_connection(util::TimePoint now);
  void send_publish(const Sendable& s, util::TimePoint now);
  bool v5() const { return version_ == protocol::Version::V5; }

  Broker& broker_;
  Waker* waker_;
  const uint64_t token_;
  const std::string peer_;  // "address:port"; the address is its first peer_ip_len_ bytes
  std::string_view peer_ip() const { return std::string_view(peer_).substr(0, peer_ip_len_); }
  SessionPtr session_;
  std::unique_ptr<WillMessage> will_;  // most connections have none

  // Input: bytes of a packet not yet complete.
  std::string in_;
  // Output: encoded bytes not yet written, starting at out_pos_.
  std::string out_;
  uint32_t out_pos_ = 0;

  // Publish rate limit: a token bucket of one second's worth of publishes.
  double publish_tokens_ = 0;
  util::TimePoint tokens_at_;
  util::TimePoint accepted_at_;
  util::TimePoint last_received_;
  uint32_t send_window_ = 65535;             // min(client Receive Maximum, max_inflight)
  uint32_t client_max_packet_ = 0xFFFFFFFF;  // client's Maximum Packet Size
  uint32_t session_expiry_ = 0;
  uint16_t keep_alive_ = 0;
  uint16_t client_alias_max_ = 0;  // aliases we may use towards the client
  uint8_t peer_ip_len_ = 0;
  State state_ = State::AwaitConnect;
  protocol::Version version_ = protocol::Version::V311;
  bool closing_ = false;
  bool will_on_close_ = true;        // false after a normal DISCONNECT
  bool admitted_ = false;            // counted against max_connections_per_ip
  bool problem_information_ = true;  // 5.0 Request Problem Information
  bool takeover_waited_ = false;

  struct DeferredAck {
    uint64_t seq;
    protocol::PacketType type;
    uint16_t packet_id;
    protocol::Reason reason;
  };
  /// State most connections never need, allocated on first use: an idle connection is the
  /// common case at the edge, and every byte here is paid once per connection.
  struct Rare {
    std::optional<std::string> certificate_username;
    std::string close_reason;
    /// Topic aliases in use, both ways.
    std::unordered_map<uint16_t, std::string> aliases_in;
    std::unordered_map<std::string, uint16_t> aliases_out;
    std::vector<DeferredAck> deferred_acks;  // persistence only, and short
    // A CONNECT waiting for the previous holder of its session to leave (see
    // Broker::defer_for_takeover); input after it stays in in_ until then.
    std::unique_ptr<protocol::Connect> parked_connect;
  };
  std::unique_ptr<Rare> rare_;
  Rare& rare() {
    if (!rare_) rare_ = std::make_unique<Rare>();
    return *rare_;
  }
  bool parked() const { return rare_ && rare_->parked_connect; }
  void set_close_reason(std::string why) { rare().close_reason = std::move(why); }
};

}  // namespace musqratt::broker
