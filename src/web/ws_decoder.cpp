#include "web/ws_decoder.h"

#include <algorithm>

namespace musqratt::web {

std::expected<void, WsDecodeError> WsDecoder::fail(WsCloseCode code, const char* reason) {
  has_failed_ = true;
  failed_ = WsDecodeError{code, reason};
  return std::unexpected(failed_);
}

std::expected<WsClose, WsDecodeError> WsDecoder::parse_close(std::span<const uint8_t> payload) {
  WsClose c;
  if (payload.empty()) return c;
  if (payload.size() == 1) return std::unexpected(WsDecodeError{WsCloseCode::ProtocolError, "close payload of one byte"});
  c.code = static_cast<uint16_t>((payload[0] << 8) | payload[1]);
  if (!ws_close_code_valid_on_wire(c.code))  // RFC 6455 7.4
    return std::unexpected(WsDecodeError{WsCloseCode::ProtocolError, "invalid close code"});
  Utf8Validator v;
  auto reason = payload.subspan(2);
  if (!v.feed(reason) || !v.complete())  // RFC 6455 5.5.1, 8.1
    return std::unexpected(WsDecodeError{WsCloseCode::InvalidPayload, "close reason is not UTF-8"});
  c.reason = std::string_view(reinterpret_cast<const char*>(reason.data()), reason.size());
  return c;
}

// Checks a complete header against the state: everything RFC 6455 section 5 requires of a
// frame before its payload is read, so an oversized frame is refused before it is buffered.
std::expected<void, WsDecodeError> WsDecoder::start_frame(Handler& h) {
  const WsFrameHeader& f = frame_;
  // No extension is negotiated, so the reserved bits MUST be 0 (RFC 6455 5.2).
  if (f.rsv != 0) return fail(WsCloseCode::ProtocolError, "reserved bits set");
  switch (f.opcode) {
    case WsOpcode::Continuation: case WsOpcode::Text: case WsOpcode::Binary:
    case WsOpcode::Close: case WsOpcode::Ping: case WsOpcode::Pong:
      break;
    default:
      return fail(WsCloseCode::ProtocolError, "reserved opcode");
  }
  // A server MUST close on an unmasked client frame; a client on a masked server frame
  // (RFC 6455 5.1).
  if (opt_.role == Role::Server && !f.masked) return fail(WsCloseCode::ProtocolError, "unmasked client frame");
  if (opt_.role == Role::Client && f.masked) return fail(WsCloseCode::ProtocolError, "masked server frame");
  if (is_control(f.opcode)) {
    // Control frames carry at most 125 bytes and MUST NOT be fragmented (RFC 6455 5.5).
    if (!f.fin) return fail(WsCloseCode::ProtocolError, "fragmented control frame");
    if (f.payload_length > kWsMaxControlPayload) return fail(WsCloseCode::ProtocolError, "control frame over 125 bytes");
    return {};
  }
  if (f.opcode == WsOpcode::Continuation) {
    if (!in_message_) return fail(WsCloseCode::ProtocolError, "continuation without a message");
  } else {
    // A new message may not start inside a fragmented one (RFC 6455 5.4).
    if (in_message_) return fail(WsCloseCode::ProtocolError, "new message inside a fragmented one");
    if (f.opcode == WsOpcode::Text && !opt_.accept_text) return fail(WsCloseCode::UnsupportedData, "text message");
  }
  if (f.payload_length > opt_.max_frame_payload) return fail(WsCloseCode::TooBig, "frame too big");
  if (f.payload_length > opt_.max_message_size - message_size_) return fail(WsCloseCode::TooBig, "message too big");
  if (f.opcode != WsOpcode::Continuation) {
    in_message_ = true;
    message_type_ = f.opcode;
    message_size_ = 0;
    utf8_.reset();
    h.on_message_begin(f.opcode);
  }
  message_size_ += f.payload_length;
  return {};
}

std::expected<void, WsDecodeError> WsDecoder::data_payload(std::span<const uint8_t> in, Handler& h) {
  // Unmask through a stack buffer: the input is the caller's and read-only.
  uint8_t buf[16 * 1024];
  while (!in.empty()) {
    const size_t n = std::min(in.size(), sizeof buf);
    std::copy_n(in.data(), n, buf);
    std::span<uint8_t> chunk(buf, n);
    if (frame_.masked) ws_apply_mask(chunk, frame_.mask, frame_read_);
    if (message_type_ == WsOpcode::Text && !utf8_.feed(chunk))
      return fail(WsCloseCode::InvalidPayload, "text message is not UTF-8");
    frame_read_ += n;
    in = in.subspan(n);
    h.on_message_data(chunk);
  }
  return {};
}

std::expected<void, WsDecodeError> WsDecoder::end_of_frame(Handler& h) {
  have_header_ = false;
  header_have_ = 0;
  if (is_control(frame_.opcode)) {
    std::span<uint8_t> payload(control_.data(), frame_.payload_length);
    if (frame_.masked) ws_apply_mask(payload, frame_.mask, 0);
    if (frame_.opcode == WsOpcode::Close) {
      auto c = parse_close(payload);
      if (!c) return fail(c.error().code, c.error().reason);
      close_received_ = true;
    }
    h.on_control(frame_.opcode, payload);
    return {};
  }
  if (!frame_.fin) return {};
  if (message_type_ == WsOpcode::Text && !utf8_.complete())
    return fail(WsCloseCode::InvalidPayload, "text message ends inside a UTF-8 character");
  in_message_ = false;
  message_size_ = 0;
  h.on_message_end();
  return {};
}

std::expected<size_t, WsDecodeError> WsDecoder::feed(std::span<const uint8_t> in, Handler& h) {
  if (has_failed_) return std::unexpected(failed_);
  size_t used = 0;
  while (!close_received_ && used < in.size()) {
    if (!have_header_) {
      // Gather the header in header_buf_; it may arrive a byte at a time.
      const size_t take = std::min(in.size() - used, kWsMaxHeaderSize - header_have_);
      std::copy_n(in.data() + used, take, header_buf_.data() + header_have_);
      const WsHeaderStatus s = parse_ws_frame_header(std::span(header_buf_.data(), header_have_ + take), frame_);
      if (s == WsHeaderStatus::Incomplete) {
        header_have_ = static_cast<uint8_t>(header_have_ + take);
        used += take;
        continue;
      }
      if (s == WsHeaderStatus::Invalid) {
        auto r = fail(WsCloseCode::ProtocolError, "bad frame length");
        return std::unexpected(r.error());
      }
      used += frame_.header_size - header_have_;
      have_header_ = true;
      frame_read_ = 0;
      if (auto r = start_frame(h); !r) return std::unexpected(r.error());
    }
    const size_t avail = std::min<uint64_t>(in.size() - used, frame_.payload_length - frame_read_);
    if (is_control(frame_.opcode)) {
      std::copy_n(in.data() + used, avail, control_.data() + frame_read_);
      frame_read_ += avail;
    } else if (avail > 0) {
      if (auto r = data_payload(in.subspan(used, avail), h); !r) return std::unexpected(r.error());
    }
    used += avail;
    if (frame_read_ == frame_.payload_length)
      if (auto r = end_of_frame(h); !r) return std::unexpected(r.error());
  }
  return used;
}

}  // namespace musqratt::web
