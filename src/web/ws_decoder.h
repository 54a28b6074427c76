#pragma once
// An incremental WebSocket frame decoder (RFC 6455 sections 5 and 7), shaped like nghttp2's
// session: bytes go in as they arrive, in any split, and events come out through a handler.
// It keeps only fixed-size state (a partial header, one control frame's payload), so what a
// peer sends can never make it allocate.
#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <string_view>

#include "web/utf8_validator.h"
#include "web/ws_frame.h"

namespace musqratt::web {

/// The status code and reason of a Close payload (RFC 6455 5.5.1).
struct WsClose {
  uint16_t code = static_cast<uint16_t>(WsCloseCode::NoStatus);  // 1005 when the payload is empty
  std::string_view reason;
};

/// Why decoding failed: the code to close with (RFC 6455 7.1.7, "Fail the WebSocket
/// Connection") and a reason for the log and the Close frame.
struct WsDecodeError {
  WsCloseCode code = WsCloseCode::ProtocolError;
  const char* reason = "";
};

/// Thread: one owner. Ownership: holds no pointer to the input or the handler.
class WsDecoder {
 public:
  /// Server: the peer is a client, whose frames MUST be masked (RFC 6455 5.1).
  /// Client: the peer is a server, whose frames MUST NOT be masked.
  enum class Role : uint8_t { Server, Client };

  struct Options {
    Role role = Role::Server;
    uint64_t max_frame_payload = 16u << 20;   // a larger frame: 1009
    uint64_t max_message_size = 16u << 20;    // a message over this, all fragments together: 1009
    bool accept_text = true;                  // false: a text message fails with 1003
  };

  class Handler {
   public:
    virtual ~Handler() = default;
    /// A text or binary message starts.
    virtual void on_message_begin(WsOpcode /*type*/) {}
    /// The next payload bytes of the current message, unmasked and in order; valid only
    /// during the call. Text has been checked to be UTF-8 so far.
    virtual void on_message_data(std::span<const uint8_t> data) = 0;
    /// The message's last fragment ended.
    virtual void on_message_end() {}
    /// A whole control frame (Ping, Pong or Close), unmasked, at most 125 bytes; valid only
    /// during the call. Control frames may come between the fragments of a message.
    virtual void on_control(WsOpcode op, std::span<const uint8_t> payload) = 0;
  };

  explicit WsDecoder(Options o) : opt_(o) {}

  /// Decodes `in`. Returns the bytes consumed: all of them, except when a Close frame was
  /// decoded, after which nothing more is read (RFC 6455 5.5.1) and feed returns 0. A protocol
  /// violation is an error, and so is every later call.
  std::expected<size_t, WsDecodeError> feed(std::span<const uint8_t> in, Handler& h);

  /// A Close frame has been decoded.
  bool close_received() const { return close_received_; }
  /// Inside a fragmented message (its first frame came, its last has not).
  bool in_message() const { return in_message_; }

  /// Validates a Close payload: empty, or a valid code (1002 if not) and a UTF-8 reason
  /// (1007 if not).
  static std::expected<WsClose, WsDecodeError> parse_close(std::span<const uint8_t> payload);

 private:
  std::expected<void, WsDecodeError> start_frame(Handler& h);
  std::expected<void, WsDecodeError> data_payload(std::span<const uint8_t> in, Handler& h);
  std::expected<void, WsDecodeError> end_of_frame(Handler& h);
  std::expected<void, WsDecodeError> fail(WsCloseCode code, const char* reason);

  Options opt_;
  // The frame being read.
  std::array<uint8_t, kWsMaxHeaderSize> header_buf_{};
  uint8_t header_have_ = 0;
  bool have_header_ = false;
  WsFrameHeader frame_{};
  uint64_t frame_read_ = 0;  // payload bytes of frame_ read so far
  std::array<uint8_t, kWsMaxControlPayload> control_{};
  // The message being read.
  bool in_message_ = false;
  WsOpcode message_type_ = WsOpcode::Binary;
  uint64_t message_size_ = 0;
  Utf8Validator utf8_;
  bool close_received_ = false;
  WsDecodeError failed_{};
  bool has_failed_ = false;
};

}  // namespace musqratt::web
