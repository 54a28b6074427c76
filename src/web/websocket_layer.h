#pragma once
// The WebSocket stream layer: an Endpoint that speaks HTTP until a valid upgrade request, then
// carries the byte stream of the Endpoint above it in binary messages. Layers stack:
// socket <-> (TLS) <-> WebSocketLayer <-> MQTT session driver.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/endpoint.h"
#include "util/clock.h"
#include "web/http_request.h"
#include "web/http_response.h"
#include "web/ws_decoder.h"
#include "web/ws_handshake.h"

namespace musqratt::web {

struct WebSocketOptions {
  WsHandshakeConfig handshake;
  /// Limits on the upgrade request (its body is refused anyway).
  HttpLimits http_limits{.max_request_line = 8 * 1024, .max_header_bytes = 16 * 1024, .max_headers = 64,
                         .max_body = 0};
  /// Largest message (all fragments) and frame accepted; larger ones close with 1009. Wire it
  /// to max_packet_size: clients send an MQTT packet per message, and a stream layer passes
  /// bytes through, so this bounds policy, not memory.
  uint64_t max_message_size = 16u << 20;
  /// Largest frame payload sent; the upper Endpoint's output is cut into frames of this size.
  size_t max_frame_out = 64 * 1024;
  /// Framing of the upper Endpoint's output pauses while this much waits to be written below,
  /// so a slow reader holds its messages back in the session queue, as on plain TCP.
  size_t output_backlog = 256 * 1024;
  /// The upgrade request must arrive whole within this (slow clients are closed with 408).
  util::Millis handshake_timeout{10'000};
  /// After sending Close, how long to wait for the peer's Close before closing anyway.
  util::Millis close_timeout{5'000};
};

/// Creates the Endpoint above the layer once the handshake is accepted (with what was
/// negotiated). Returning null refuses the connection with 503.
using EndpointFactory = std::function<std::unique_ptr<net::Endpoint>(const WsUpgrade&)>;

/// Thread: the connection's worker only, as every Endpoint. Ownership: owns the Endpoint above
/// it, created by the factory after a successful handshake; until then there is none, so an
/// MQTT session starts only for a valid upgrade.
///
/// Life: HTTP (the upgrade request; an error answer closes) -> open (binary messages carry the
/// upper byte stream; pings answered; MQTT packets may span frames and a frame may hold several
/// packets, the layer only passes bytes) -> close handshake (RFC 6455 7): the upper Endpoint
/// closing, a Close from the peer, a protocol violation (Close with 1002, 1003, 1007 or 1009)
/// or shutdown (1001) -> closing().
class WebSocketLayer final : public net::Endpoint, private WsDecoder::Handler {
 public:
  /// `now`: when the connection was accepted (the handshake timeout runs from it).
  /// `http_fallback`: answers a request that asks for no WebSocket at all (say, the status
  /// page on the same port) once, then closes; without it such requests get 426.
  WebSocketLayer(WebSocketOptions options, EndpointFactory factory, util::TimePoint now,
                 HttpHandler http_fallback = {});
  ~WebSocketLayer() override;

  void on_bytes(std::span<const uint8_t> data, util::TimePoint now) override;
  std::string_view pending_output() override;
  void consume_output(size_t n, util::TimePoint now) override;
  bool closing() const override { return closing_; }
  std::string_view close_reason() const override;
  void on_wake(util::TimePoint now) override;
  void on_tick(util::TimePoint now) override;
  void on_shutdown() override;
  void on_closed(util::TimePoint now) override;
  void on_peer_identity(std::string name) override;

  /// The Endpoint above, once the handshake succeeded (null before).
  net::Endpoint* upper() const { return upper_.get(); }
  /// True once the 101 answer was queued.
  bool upgraded() const { return state_ != State::Http; }

 private:
  enum class State : uint8_t { Http, Open, Done };

  void handle_http(util::TimePoint now);
  void http_error(uint16_t status, std::string_view why, HttpResponse r);
  void decode(std::span<const uint8_t> data, util::TimePoint now);
  /// Frames the upper Endpoint's output while little waits below; sends Close when it closes.
  void pump(util::TimePoint now);
  void send_close(WsCloseCode code, std::string_view reason);
  /// The stream is over for the upper Endpoint: it hears it once.
  void close_upper(util::TimePoint now);
  void finish(std::string reason);
  size_t backlog() const { return out_.size() - out_pos_; }

  // WsDecoder::Handler
  void on_message_data(std::span<const uint8_t> data) override;
  void on_control(WsOpcode op, std::span<const uint8_t> payload) override;

  const WebSocketOptions opt_;
  EndpointFactory factory_;
  HttpHandler http_fallback_;
  const util::TimePoint accepted_;
  util::TimePoint now_;
  State state_ = State::Http;
  std::string in_;  // the upgrade request until it is complete
  std::vector<HttpHeader> header_storage_;
  WsDecoder decoder_;
  std::unique_ptr<net::Endpoint> upper_;
  bool upper_closed_ = false;
  std::optional<std::string> peer_identity_;
  std::string out_;
  size_t out_pos_ = 0;
  bool close_sent_ = false;
  bool shutting_down_ = false;
  util::TimePoint close_deadline_{};
  bool closing_ = false;
  std::string close_reason_;
};

}  // namespace musqratt::web
