#pragma once
// The per-connection MQTT protocol engine, for either end of a connection, in the manner of
// nghttp2's session: received bytes go in through receive(), decoded packets come out as
// events, packets to send go in through send*() and bytes to write come out of
// pending_output(). It knows nothing of sockets, sessions or policy. It owns what the
// specification says about one connection whatever the application: packet framing and size
// limits, packet order (CONNECT first and once; CONNACK first for a client), which packets may
// flow in which direction, keep-alive, topic aliases both ways, the peer's maximum packet size
// and receive maximum, PINGREQ/PINGRESP, and how a violation ends the connection in each
// protocol version. The broker's session driver and the bridge's outgoing client each sit on
// one, and a fuzzer drives it with nothing else around.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/codec.h"
#include "protocol/packets.h"
#include "protocol/publish_encoder.h"
#include "util/clock.h"

namespace musqratt::protocol {

enum class Role : uint8_t { Server, Client };

/// What the engine decodes, raised in order while receive() or resume() runs. Thread: the
/// caller of those. A handler may call back into the engine (send, fail, pause) from any event.
class EngineEvents {
 public:
  virtual ~EngineEvents() = default;
  /// Server role, once: a well-formed CONNECT. Answer with accept() or refuse(), now or later
  /// (the engine pauses until one of them is called).
  virtual void on_connect(Connect& c) { (void)c; }
  /// Client role, once: the CONNACK. The engine is established if it is a success.
  virtual void on_connack(const Connack& c) { (void)c; }
  /// A PUBLISH with its topic alias resolved and its topic name checked.
  virtual void on_publish(Publish& p) = 0;
  /// PUBACK, PUBREC, PUBREL or PUBCOMP.
  virtual void on_ack(const Ack& a) = 0;
  virtual void on_subscribe(Subscribe& s) { (void)s; }      // server role
  virtual void on_unsubscribe(Unsubscribe& u) { (void)u; }  // server role
  virtual void on_suback(const Suback& s) { (void)s; }      // client role
  virtual void on_unsuback(const Unsuback& u) { (void)u; }  // client role
  virtual void on_disconnect(const Disconnect& d) = 0;
  /// The peer broke a rule (or stayed silent past its keep-alive) and the engine is closing
  /// the connection; in 5.0 `reason` went to the peer where the specification allows.
  virtual void on_violation(Reason reason, const char* why) = 0;
};

/// Thread: used only by the thread that owns the connection. Ownership: held by value by the
/// application object of the connection (session driver, bridge uplink).
class ConnectionEngine {
 public:
  explicit ConnectionEngine(Role role);
  ConnectionEngine(const ConnectionEngine&) = delete;
  ConnectionEngine& operator=(const ConnectionEngine&) = delete;

  // ---- our side's limits (set before the first byte)
  /// Largest packet accepted from the peer (announced in CONNACK by a server).
  void set_max_incoming_packet(uint32_t bytes) { max_incoming_ = bytes; }
  /// Topic aliases the peer may use towards us (announced as Topic Alias Maximum).
  void set_incoming_alias_max(uint16_t n) { incoming_alias_max_ = n; }

  // ---- input
  /// Consumes received bytes, raising an event per complete packet.
  void receive(std::span<const uint8_t> data, EngineEvents& ev, util::TimePoint now);
  /// Stops raising events; later input is kept until resume().
  void pause() { paused_ = true; }
  /// Raises events for the input kept while paused.
  void resume(EngineEvents& ev, util::TimePoint now);
  bool paused() const { return paused_; }

  // ---- the connection's state
  Role role() const { return role_; }
  Version version() const { return version_; }
  bool v5() const { return version_ == Version::V5; }
  /// CONNECT accepted (server) or successful CONNACK received (client).
  bool established() const { return state_ == State::Established; }
  /// The keep-alive in force (the client's, or the server's override).
  uint16_t keep_alive() const { return keep_alive_; }
  /// The peer's Receive Maximum: QoS 1/2 publishes it takes unacknowledged (65535 if none said).
  uint16_t peer_receive_maximum() const { return peer_receive_max_; }
  /// The peer's Maximum Packet Size (0xFFFFFFFF if none said).
  uint32_t peer_max_packet() const { return peer_max_packet_; }

  /// Server role: answers the CONNECT raised by on_connect with `ack` (a success) and takes the
  /// client's limits from it. `keep_alive` is the one in force (a Server Keep Alive, if the
  /// server imposes one, must be in `ack` too [MQTT-3.2.2-21, 5.0]). Resumes input.
  void accept(const Connect& c, Connack& ack, uint16_t keep_alive);
  /// Server role: refuses the CONNECT with CONNACK `reason` and closes. In 3.1/3.1.1 a reason
  /// that has no return code of its own is sent as the nearest one.
  void refuse(Reason reason, const char* why);
  /// Client role: sends CONNECT; the peer's CONNACK is raised by on_connack.
  void start(const Connect& c, util::TimePoint now);

  // ---- output
  /// Appends a packet; returns its size in bytes.
  size_t send(const Packet& p);
  /// PUBACK/PUBREC/PUBREL/PUBCOMP; a 5.0 error says why in a reason string unless the client
  /// asked for no problem information [MQTT-3.1.2-29, 5.0].
  size_t send_ack(PacketType type, uint16_t packet_id, Reason reason);
  /// Appends a PUBLISH, replacing its topic by an alias where the peer allows aliases. Returns
  /// 0 and writes nothing when the packet exceeds the peer's Maximum Packet Size
  /// [MQTT-3.1.2-25, 5.0]: the caller treats the message as delivered. A payload of at least
  /// kSendByReferenceMin bytes that comes with its owner is not copied: it is held, and
  /// output_segments() hands it to the writer where it lies.
  size_t send_publish(PublishView v);
  /// The bytes to write as one run. Held payloads are copied in first (a writer that cannot
  /// gather, such as TLS or WebSocket, pays the copy send_publish saved).
  std::string_view pending_output();
  /// The bytes to write as up to `seg.size()` runs, in order, held payloads where they lie;
  /// returns how many runs it filled (0: nothing to write). Valid until the next call that
  /// sends or consumes.
  size_t output_segments(std::span<std::string_view> seg) const;
  size_t pending_size() const { return out_.size() - out_pos_ + (rare_ ? rare_->held_bytes : 0); }
  void consume_output(size_t n);

  // ---- time
  /// Server: no packet for one and a half times the keep-alive ends the connection
  /// [MQTT-3.1.2-24, 3.1.1; MQTT-3.1.2-22, 5.0]. Client: a PINGREQ after keep-alive seconds
  /// without sending [MQTT-3.1.2-23, 3.1.1], and the connection ends when the server stays
  /// silent for one and a half times the keep-alive (a link that stalls without closing).
  void tick(EngineEvents& ev, util::TimePoint now);

  // ---- closing
  /// Ends the connection for `reason`: in 5.0, once established, a DISCONNECT carrying it
  /// (and `why`, as reason string) goes out first. Input is ignored from now on.
  void fail(Reason reason, const char* why);
  /// Stops reading; pending output is still written.
  void close() { closing_ = true; }
  bool closing() const { return closing_; }

  /// Bytes of a packet not yet complete (counted against memory budgets by the caller).
  size_t buffered_input() const { return in_.size(); }
  /// Memory the engine holds for input: what a memory budget should be charged (a buffer grows
  /// ahead of what it holds).
  size_t input_capacity() const { return in_.capacity(); }

 private:
  enum class State : uint8_t { AwaitConnect, AwaitAccept, AwaitConnack, Established };

  void process(std::span<const uint8_t> data, EngineEvents& ev, util::TimePoint now);
  /// Completes the packet kept in in_ from the front of `data` and handles it; returns the
  /// bytes of `data` not used. in_ is empty afterwards unless `data` ran out first, or the
  /// connection paused or closed.
  std::span<const uint8_t> complete_buffered(std::span<const uint8_t> data, EngineEvents& ev, util::TimePoint now);
  /// Handles the complete packets at the front of `buf`; returns the bytes they took.
  size_t take_frames(std::span<const uint8_t> buf, EngineEvents& ev, util::TimePoint now);
  void handle_frame(const FrameHeader& h, std::span<const uint8_t> body, EngineEvents& ev);
  void handle_bad_connect(const DecodeError& err, std::span<const uint8_t> body, EngineEvents& ev);
  void dispatch(Packet& packet, EngineEvents& ev);
  void dispatch_server(Packet& packet, EngineEvents& ev);
  void dispatch_client(Packet& packet, EngineEvents& ev);
  bool resolve_incoming_alias(Publish& p, EngineEvents& ev);
  /// A decoded PUBLISH on an established connection: topic alias, topic name check, event.
  void on_publish_packet(Publish& p, EngineEvents& ev);
  void violation(EngineEvents& ev, Reason reason, const char* why);
  size_t max_incoming_now() const;

  // Every connection has an engine: fields widest first and flags in bits, so that it has no
  // padding (104 bytes).
  std::string in_;   // bytes of a packet not yet complete, or input kept while paused
  std::string out_;  // encoded bytes not yet written, from out_pos_
  util::TimePoint last_received_{};
  uint32_t out_pos_ = 0;
  uint32_t max_incoming_ = kMaxRemainingLength + 5;
  uint32_t peer_max_packet_ = 0xFFFFFFFF;
  uint16_t keep_alive_ = 0;
  uint16_t peer_receive_max_ = 65535;
  uint16_t peer_alias_max_ = 0;      // aliases we may use towards the peer
  uint16_t incoming_alias_max_ = 0;  // aliases the peer may use towards us
  Role role_;
  Version version_ = Version::V311;
  State state_;
  bool closing_ : 1 = false;
  bool paused_ : 1 = false;
  bool problem_information_ : 1 = true;  // 5.0 Request Problem Information of the client

  /// Looks topics up by string_view: no allocation per PUBLISH sent.
  struct TopicHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  /// A payload sent by reference: it goes out right before out_[at], after what precedes it.
  struct HeldPayload {
    uint32_t at;
    uint32_t done;  // bytes of it written
    std::string_view bytes;
    std::shared_ptr<const void> owner;
  };
  /// State most connections never need, allocated on first use (idle connections at the edge
  /// pay for every byte here): topic aliases, the client role's ping bookkeeping, payloads
  /// held for a gathered write.
  struct Rare {
    std::unordered_map<uint16_t, std::string> aliases_in;
    std::unordered_map<std::string, uint16_t, TopicHash, std::equal_to<>> aliases_out;
    util::TimePoint last_sent{};
    std::vector<HeldPayload> held;  // in order, from held_head
    size_t held_head = 0;
    size_t held_bytes = 0;  // not yet written
  };
  bool holding() const { return rare_ && rare_->held_head < rare_->held.size(); }
  /// Copies the held payloads into out_, where they belong.
  void copy_in_held();
  /// Drops the written front of out_ (and moves the held payloads' positions with it).
  void compact_output();
  std::unique_ptr<Rare> rare_;
  Rare& rare() {
    if (!rare_) rare_ = std::make_unique<Rare>();
    return *rare_;
  }
};

}  // namespace musqratt::protocol
