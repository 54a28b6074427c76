#include "web/websocket_layer.h"

#include <algorithm>
#include <exception>

namespace musqratt::web {
namespace {

WsDecoder::Options decoder_options(const WebSocketOptions& o) {
  WsDecoder::Options d;
  d.role = WsDecoder::Role::Server;
  d.max_frame_payload = o.max_message_size;
  d.max_message_size = o.max_message_size;
  // MQTT Control Packets travel in binary frames only; any other data frame closes the
  // connection [MQTT-6.0.0-1, 3.1.1 and 5.0].
  d.accept_text = false;
  return d;
}

}  // namespace

WebSocketLayer::WebSocketLayer(WebSocketOptions options, EndpointFactory factory, util::TimePoint now,
                               HttpHandler http_fallback)
    : opt_(std::move(options)),
      factory_(std::move(factory)),
      http_fallback_(std::move(http_fallback)),
      accepted_(now),
      now_(now),
      header_storage_(opt_.http_limits.max_headers),
      decoder_(decoder_options(opt_)) {}

WebSocketLayer::~WebSocketLayer() = default;

void WebSocketLayer::on_bytes(std::span<const uint8_t> data, util::TimePoint now) {
  now_ = now;
  if (closing_ || data.empty()) return;
  if (state_ == State::Http) {
    in_.append(reinterpret_cast<const char*>(data.data()), data.size());
    handle_http(now);
  } else if (state_ == State::Open) {
    decode(data, now);
  }
  pump(now);
}

void WebSocketLayer::http_error(uint16_t status, std::string_view why, HttpResponse r) {
  r.close = true;
  serialize_response(r, true, false, http_date(std::chrono::system_clock::now()), out_);
  finish("websocket handshake refused: " + std::to_string(status) + " " + std::string(why));
}

void WebSocketLayer::handle_http(util::TimePoint now) {
  HttpRequest req;
  const auto bytes = std::span(reinterpret_cast<const uint8_t*>(in_.data()), in_.size());
  const HttpParseResult r = parse_http_request(bytes, req, header_storage_, opt_.http_limits);
  if (r.status == HttpParseStatus::Incomplete) return;
  if (r.status == HttpParseStatus::Error) {
    http_error(r.error_status, r.error, HttpResponse::text(r.error_status, std::string(r.error) + "\n"));
    return;
  }
  // Plain requests for other paths go to the fallback (the status page, say); the WebSocket
  // path itself keeps its 426 answer.
  if (!is_ws_upgrade_request(req) && http_fallback_ && req.path != opt_.handshake.path) {
    HttpResponse resp;
    try {
      resp = http_fallback_(req);
    } catch (const std::exception& e) {
      resp = HttpResponse::text(500);
    }
    serialize_response(resp, true, req.method == "HEAD", http_date(std::chrono::system_clock::now()), out_);
    finish("http request answered");
    return;
  }
  auto up = check_ws_upgrade(req, opt_.handshake);
  if (!up) {
    std::string why = up.error().body;
    if (!why.empty() && why.back() == '\n') why.pop_back();
    http_error(up.error().status, why, std::move(up.error()));
    return;
  }
  upper_ = factory_ ? factory_(*up) : nullptr;
  if (!upper_) {
    http_error(503, "no endpoint", HttpResponse::text(503));
    return;
  }
  append_ws_accept_response(*up, out_);
  state_ = State::Open;
  if (peer_identity_) upper_->on_peer_identity(std::move(*peer_identity_));
  peer_identity_.reset();
  // A client must wait for the 101 before sending frames (RFC 6455 4.1), but bytes that
  // came early anyway are the first frames, not part of the request.
  std::string rest = in_.substr(r.head_size);
  in_.clear();
  in_.shrink_to_fit();
  header_storage_.clear();
  header_storage_.shrink_to_fit();
  if (!rest.empty()) decode(std::span(reinterpret_cast<const uint8_t*>(rest.data()), rest.size()), now);
}

void WebSocketLayer::decode(std::span<const uint8_t> data, util::TimePoint now) {
  auto r = decoder_.feed(data, *this);
  if (!r) {
    // Fail the WebSocket connection (RFC 6455 7.1.7): a Close with the reason, no waiting.
    send_close(r.error().code, r.error().reason);
    close_upper(now);
    finish(std::string("websocket: ") + r.error().reason);
  }
}

void WebSocketLayer::on_message_data(std::span<const uint8_t> data) {
  // Once the upper Endpoint closes or has been told the stream ended, what follows is dropped.
  if (upper_ && !upper_closed_ && !upper_->closing() && !close_sent_) upper_->on_bytes(data, now_);
}

void WebSocketLayer::on_control(WsOpcode op, std::span<const uint8_t> payload) {
  switch (op) {
    case WsOpcode::Ping:
      // A Pong with the Ping's payload, as soon as practical (RFC 6455 5.5.2); none after Close.
      if (!close_sent_) append_ws_frame(out_, WsOpcode::Pong, payload);
      break;
    case WsOpcode::Close: {
      // The decoder validated the payload. Answer with the same code (RFC 6455 5.5.1) unless
      // a Close was sent already; then the handshake is complete and the server closes the
      // TCP connection first (RFC 6455 7.1.1).
      auto c = WsDecoder::parse_close(payload);
      const uint16_t code = c ? c->code : static_cast<uint16_t>(WsCloseCode::NoStatus);
      if (!close_sent_) {
        if (code == static_cast<uint16_t>(WsCloseCode::NoStatus)) {
          append_ws_frame(out_, WsOpcode::Close, std::string_view{});
          close_sent_ = true;
        } else {
          send_close(static_cast<WsCloseCode>(code), {});
        }
      }
      close_upper(now_);
      finish("websocket closed by peer (" + std::to_string(code) + ")");
      break;
    }
    default:
      break;  // an unsolicited Pong needs no answer (RFC 6455 5.5.3)
  }
}

void WebSocketLayer::send_close(WsCloseCode code, std::string_view reason) {
  if (close_sent_) return;
  append_ws_close(out_, code, reason);
  close_sent_ = true;
  close_deadline_ = now_ + opt_.close_timeout;
}

void WebSocketLayer::close_upper(util::TimePoint now) {
  if (upper_ && !upper_closed_) {
    upper_closed_ = true;
    upper_->on_closed(now);
  }
}

void WebSocketLayer::finish(std::string reason) {
  if (close_reason_.empty()) close_reason_ = std::move(reason);
  state_ = State::Done;
  closing_ = true;
}

void WebSocketLayer::pump(util::TimePoint now) {
  if (state_ != State::Open || !upper_ || upper_closed_ || close_sent_) return;
  // Keep the unsent part at the front so a long-lived connection does not grow its buffer.
  if (out_pos_ > 0 && out_pos_ >= out_.size() / 2) {
    out_.erase(0, out_pos_);
    out_pos_ = 0;
  }
  // Everything the upper Endpoint has pending becomes one frame (several when over the
  // frame cap); a shutdown flushes it all regardless of the backlog.
  while (shutting_down_ || backlog() < opt_.output_backlog) {
    const std::string_view up = upper_->pending_output();
    if (up.empty()) break;
    const size_t n = std::min(up.size(), opt_.max_frame_out);
    append_ws_frame_header(out_, WsOpcode::Binary, n);
    out_.append(up.data(), n);
    upper_->consume_output(n, now);
  }
  if ((upper_->closing() || shutting_down_) && upper_->pending_output().empty()) {
    send_close(shutting_down_ ? WsCloseCode::GoingAway : WsCloseCode::Normal, {});
    // On shutdown there is no time to wait for the peer's Close.
    if (shutting_down_) finish("server shutting down");
  }
}

std::string_view WebSocketLayer::pending_output() { return std::string_view(out_).substr(out_pos_); }

void WebSocketLayer::consume_output(size_t n, util::TimePoint now) {
  now_ = now;
  out_pos_ = std::min(out_pos_ + n, out_.size());
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
  }
  pump(now);
}

std::string_view WebSocketLayer::close_reason() const {
  if (!close_reason_.empty()) return close_reason_;
  return upper_ ? upper_->close_reason() : std::string_view{};
}

void WebSocketLayer::on_wake(util::TimePoint now) {
  now_ = now;
  if (state_ == State::Open && upper_ && !upper_closed_) upper_->on_wake(now);
  pump(now);
}

void WebSocketLayer::on_tick(util::TimePoint now) {
  now_ = now;
  if (closing_) return;
  if (state_ == State::Http) {
    if (now - accepted_ >= opt_.handshake_timeout)
      http_error(408, "upgrade request not complete in time", HttpResponse::text(408));
    return;
  }
  if (upper_ && !upper_closed_) upper_->on_tick(now);
  pump(now);
  if (close_sent_ && now >= close_deadline_) {
    // The peer never answered our Close.
    close_upper(now);
    finish("websocket close handshake timed out");
  }
}

void WebSocketLayer::on_shutdown() {
  if (closing_) return;
  if (state_ != State::Open || !upper_ || upper_closed_) {
    finish("server shutting down");
    return;
  }
  shutting_down_ = true;
  upper_->on_shutdown();  // the upper Endpoint says goodbye (MQTT 5: DISCONNECT 0x8B) ...
  pump(now_);             // ... framed here, then Close 1001
}

void WebSocketLayer::on_closed(util::TimePoint now) {
  now_ = now;
  close_upper(now);
  state_ = State::Done;
}

void WebSocketLayer::on_peer_identity(std::string name) {
  if (upper_) {
    upper_->on_peer_identity(std::move(name));
  } else {
    peer_identity_ = std::move(name);  // TLS finishes before the upgrade: kept for the upper
  }
}

}  // namespace musqratt::web
